//! Committing a staged append to its dataset, through a journal.
//!
//! The staged rows (a finished conversion in the append's working directory, under the
//! dataset's file names) are added in three steps, each safe to repeat:
//!
//! 1. [`prepare`]: check every dataset file can take its rows; build in the working directory
//!    the files that must be made whole (a validity file for a column that had none, codes
//!    widened past 256 or 65,536 categories); then write the journal, `commit.json`: the
//!    manifest after the append, and for each file the length it had before.
//! 2. [`apply`]: rename the built files into the dataset (under names the old manifest does not
//!    use, or for a large dictionary over a file whose categories they start with); cut each
//!    appended-to file back to its old length and append its new rows after the data its header
//!    counts, and sync it; then write the new manifest, atomically. That write is the commit: a
//!    reader of the dataset goes by the manifest's row count (`Dataset` reads a column file's
//!    rows past its header's count when the manifest counts them), so until then it sees the
//!    dataset as it was, and after it the whole append. Then each header gets its new row
//!    count, so that numpy, reading one column file by its header, sees the old rows until the
//!    commit too.
//! 3. Remove what the old manifest used and the new one does not, and the working directory.
//!
//! A crash anywhere leaves the journal, and a resume runs [`apply`] again.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dataset::{Load, MANIFEST, Manifest, ManifestColumn, REJECTS};
use crate::dtype::{DType, ElementType};
use crate::error::{Error, Result};
use crate::npy::{Header, read_header};

use super::faults::{self, FaultPlan, Step};

/// The journal's name in the working directory.
pub(crate) const JOURNAL: &str = "commit.json";

/// Bytes moved at a time.
const BUF: usize = 1 << 20;

/// What an append does to its dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Journal {
    /// The manifest after the append.
    pub(crate) after: Manifest,
    /// Files of the working directory renamed into the dataset.
    create: Vec<Create>,
    /// Dataset files that get rows at their end.
    extend: Vec<Extend>,
    /// Dataset files the new manifest no longer uses, removed once it is written.
    remove: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Create {
    /// In the working directory.
    from: String,
    /// In the dataset.
    to: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Extend {
    /// The dataset file.
    file: String,
    /// Its length before the append: header and old rows.
    len_before: u64,
    /// Its rows after.
    rows_after: u64,
    /// Bytes per element.
    itemsize: usize,
    /// What is appended.
    tail: Tail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Tail {
    /// The data of a staged file as it is.
    Raw { file: String },
    /// A staged string column's offsets after the first (which is 0), each plus `shift`.
    Offsets { file: String, shift: i64 },
    /// A staged file's categorical codes, widened to the element size.
    Codes { file: String },
    /// `rows` flags `true`: the validity of new rows that all hold a value.
    Present { rows: u64 },
}

impl Journal {
    /// Writes the journal into `dir` atomically and durably.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec(self)
            .map_err(|e| Error::internal(format!("the append journal as JSON: {e}")))?;
        crate::fsutil::write_bytes_atomically(&dir.join(JOURNAL), &bytes).map(drop)
    }

    /// Reads the journal in `dir`, if there is one.
    pub(crate) fn read(dir: &Path) -> Result<Option<Journal>> {
        let path = dir.join(JOURNAL);
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::format(&path, 0, format!("bad append journal: {e}"))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }
}

/// Plans the commit of the rows staged in `staging` (its manifest `delta`, whose columns are
/// the dataset's in order) onto the dataset in `dataset` (its manifest `before`), builds the
/// files to be made whole, and writes the journal.
///
/// # Errors
/// [`Error::Invalid`] naming a dataset file that does not hold the rows its manifest says or
/// whose header cannot grow (one not written by larder); [`Error::Io`] on read or write errors.
pub(crate) fn prepare(
    dataset: &Path,
    staging: &Path,
    before: &Manifest,
    delta: &Manifest,
    faults: &dyn FaultPlan,
) -> Result<Journal> {
    let mut after = before.clone();
    after.rows += delta.rows;
    after.rejected += delta.rejected;
    after.rows_read += delta.rows_read;
    let mut j = Journal { after, create: Vec::new(), extend: Vec::new(), remove: Vec::new() };
    if before.columns.len() != delta.columns.len() {
        return Err(Error::internal("the staged append has other columns than its dataset"));
    }
    let mut plan = Planner {
        dataset,
        staging,
        rows: (before.rows, delta.rows),
        used: files_of(before).collect(),
        faults,
    };
    for (i, (old, new)) in before.columns.iter().zip(&delta.columns).enumerate() {
        if old.name != new.name || old.file != new.file {
            return Err(Error::internal("the staged append has other columns than its dataset"));
        }
        let mut col = j.after.columns[i].clone();
        // Appended text with offsets makes the column's instants zoned (they were UTC already).
        col.zone = col.zone.or_else(|| new.zone.clone());
        plan.column(old, new, &mut col, &mut j)?;
        plan.validity(old, new, &mut col, &mut j)?;
        j.after.columns[i] = col;
    }
    let rejects = if delta.rejected > 0 {
        let want = format!("rejects.{}.csv", before.appends.len() + 2);
        let name = free_name(dataset, &plan.used, &want);
        j.create.push(Create { from: REJECTS.to_string(), to: name.clone() });
        Some(name)
    } else {
        None
    };
    j.after.appends.push(Load {
        first_row: before.rows,
        rows: delta.rows,
        rejected: delta.rejected,
        rows_read: delta.rows_read,
        rejects,
        sources: delta.loaded().cloned().collect(),
    });
    faults::before(faults, Step::Checkpoint, &staging.join(JOURNAL))?;
    j.write(staging)?;
    Ok(j)
}

/// What planning the commit of one append needs to know.
struct Planner<'a> {
    dataset: &'a Path,
    staging: &'a Path,
    /// Rows of the dataset before, and rows the append adds.
    rows: (u64, u64),
    /// File names the dataset's manifest uses, or the commit will.
    used: HashSet<String>,
    faults: &'a dyn FaultPlan,
}

impl Planner<'_> {
    /// Plans column `old` of the dataset (`new` staged), noting in `col` (its entry in the
    /// manifest after) what changes.
    fn column(
        &mut self,
        old: &ManifestColumn,
        new: &ManifestColumn,
        col: &mut ManifestColumn,
        j: &mut Journal,
    ) -> Result<()> {
        let (before, added) = self.rows;
        if let Some(offsets) = &old.offsets {
            let staged = new.offsets.as_ref().ok_or_else(|| Error::internal("no offsets"))?;
            let old_bytes = last_offset(&self.dataset.join(offsets), before)?;
            let new_bytes = rows_of(self.staging, &new.file)?;
            let data = Tail::Raw { file: new.file.clone() };
            j.extend.push(extend(self.dataset, &old.file, old_bytes, old_bytes + new_bytes, data)?);
            let shift = i64::try_from(old_bytes).map_err(|_| Error::internal("string bytes"))?;
            let tail = Tail::Offsets { file: staged.clone(), shift };
            j.extend.push(extend(self.dataset, offsets, before + 1, before + added + 1, tail)?);
        } else if old.categories.is_some() || old.dictionary.is_some() {
            self.codes(old, new, col, j)?;
            if let Some(dict) = &new.dictionary {
                for f in [&dict.file, &dict.offsets] {
                    j.create.push(Create { from: f.clone(), to: f.clone() });
                }
            }
            if let (Some(was), Some(is)) = (&old.dictionary, &new.dictionary)
                && was != is
            {
                j.remove.extend([was.file.clone(), was.offsets.clone()]);
            }
            col.categories.clone_from(&new.categories);
            col.dictionary.clone_from(&new.dictionary);
            if col.file != old.file {
                j.remove.push(old.file.clone());
            }
        } else {
            if old.dtype != new.dtype {
                return Err(Error::internal(format!(
                    "column {:?}: staged as {}, stored as {}",
                    old.name, new.dtype, old.dtype
                )));
            }
            let tail = Tail::Raw { file: new.file.clone() };
            j.extend.push(extend(self.dataset, &old.file, before, before + added, tail)?);
        }
        Ok(())
    }

    /// Plans the validity file of column `old` (`new` staged).
    fn validity(
        &mut self,
        old: &ManifestColumn,
        new: &ManifestColumn,
        col: &mut ManifestColumn,
        j: &mut Journal,
    ) -> Result<()> {
        let (before, added) = self.rows;
        match (&old.valid, &new.valid) {
            (Some(v), Some(staged)) => {
                let tail = Tail::Raw { file: staged.clone() };
                j.extend.push(extend(self.dataset, v, before, before + added, tail)?);
            }
            (Some(v), None) => {
                let tail = Tail::Present { rows: added };
                j.extend.push(extend(self.dataset, v, before, before + added, tail)?);
            }
            (None, Some(staged)) => {
                // The column's first missing value: its validity file is made whole, `true`
                // for every row before.
                let name = free_name(self.dataset, &self.used, staged);
                let built = format!("{name}.full");
                faults::before(self.faults, Step::Sync, &self.staging.join(&built))?;
                build_validity(&self.staging.join(&built), before, &self.staging.join(staged))?;
                self.used.insert(name.clone());
                j.create.push(Create { from: built, to: name.clone() });
                col.valid = Some(name);
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Plans the codes of a categorical column: appended at their width, or, when the
    /// dictionary now needs wider codes than the column has, the whole column rewritten wider
    /// into a new file.
    fn codes(
        &mut self,
        old: &ManifestColumn,
        new: &ManifestColumn,
        col: &mut ManifestColumn,
        j: &mut Journal,
    ) -> Result<()> {
        let (before, added) = self.rows;
        let width = |c: &ManifestColumn, dir: &Path| -> Result<ElementType> {
            let dtype = DType::parse(&c.dtype)
                .map_err(|e| Error::format(dir.join(MANIFEST), 0, e.to_string()))?;
            Ok(dtype.element())
        };
        let (have, need) = (width(old, self.dataset)?, width(new, self.staging)?);
        if need.size() <= have.size() {
            let tail = Tail::Codes { file: new.file.clone() };
            j.extend.push(extend(self.dataset, &old.file, before, before + added, tail)?);
            return Ok(());
        }
        // Every old code is rewritten: the one step of an append whose cost grows with the
        // dataset, taken once per widening (at most twice in a column's life).
        let name = free_name(self.dataset, &self.used, &old.file);
        let built = format!("{name}.full");
        let out = self.staging.join(&built);
        faults::before(self.faults, Step::Sync, &out)?;
        let dtype = DType::native(need);
        let file = File::create(&out).map_err(|e| Error::io(&out, e))?;
        let mut writer = BufWriter::with_capacity(BUF, file);
        let rows =
            usize::try_from(before + added).map_err(|_| Error::invalid(&out, "too many rows"))?;
        let header = Header::new(dtype, &[rows], false).to_bytes();
        writer.write_all(&header).map_err(|e| Error::io(&out, e))?;
        copy_codes(&self.dataset.join(&old.file), need.size(), &mut writer, &out)?;
        copy_codes(&self.staging.join(&new.file), need.size(), &mut writer, &out)?;
        let file = writer.into_inner().map_err(|e| Error::io(&out, e.into_error()))?;
        file.sync_data().map_err(|e| Error::io(&out, e))?;
        self.used.insert(name.clone());
        j.create.push(Create { from: built, to: name.clone() });
        col.file = name;
        col.dtype = dtype.typestr();
        Ok(())
    }
}

/// Every file `m` names.
fn files_of(m: &Manifest) -> impl Iterator<Item = String> + '_ {
    m.columns
        .iter()
        .flat_map(|c| {
            let dict = c.dictionary.iter().flat_map(|d| [d.file.clone(), d.offsets.clone()]);
            std::iter::once(c.file.clone())
                .chain(c.valid.clone())
                .chain(c.offsets.clone())
                .chain(dict)
        })
        .chain(m.appends.iter().filter_map(|l| l.rejects.clone()))
        .chain(std::iter::once(REJECTS.to_string()))
}

/// `want`, or `STEM.2.EXT`, `STEM.3.EXT`, … : the first that neither the manifest uses nor the
/// dataset directory holds.
fn free_name(dataset: &Path, used: &HashSet<String>, want: &str) -> String {
    let (stem, ext) = want.rsplit_once('.').unwrap_or((want, ""));
    // `k.2.npy` widened again becomes `k.3.npy`, not `k.2.2.npy`.
    let stem = match stem.rsplit_once('.') {
        Some((base, n)) if n.parse::<u32>().is_ok_and(|n| n >= 2) => base,
        _ => stem,
    };
    let free = |n: &str| !used.contains(n) && !dataset.join(n).exists();
    if free(want) {
        return want.to_string();
    }
    (2..u32::MAX)
        .map(|k| if ext.is_empty() { format!("{stem}.{k}") } else { format!("{stem}.{k}.{ext}") })
        .find(|n| free(n))
        .unwrap_or_else(|| want.to_string())
}

/// The rows of the 1-d `.npy` `file` in `dir` as its header counts them.
fn rows_of(dir: &Path, file: &str) -> Result<u64> {
    let path = dir.join(file);
    let h = read_header(&path)?;
    match h.shape[..] {
        [n] if !h.fortran_order => Ok(n as u64),
        _ => Err(Error::invalid(&path, format!("is not 1-d (shape {:?})", h.shape))),
    }
}

/// The header of the 1-d `.npy` at `path`, checked to hold the data of `rows` rows, and to be
/// a file of its own. Its header may count fewer rows (an append committed but stopped before
/// it rewrote the headers), never more: rows the manifest does not count are damage, not
/// something an append may overwrite.
fn holding(path: &Path, rows: u64) -> Result<Header> {
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.file_type().is_file() {
        return Err(Error::invalid(
            path,
            "is not a regular file (a symbolic link?); an append writes only the dataset's own \
             files",
        ));
    }
    if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
        return Err(Error::invalid(
            path,
            "shares its data with another name (a hard link, as `cp -al` makes); an append would \
             change that file too: copy the dataset without links first",
        ));
    }
    let h = header_of(path)?;
    if h.shape.len() != 1 {
        return Err(Error::invalid(path, format!("is not 1-d (shape {:?})", h.shape)));
    }
    if h.shape[0] as u64 > rows {
        return Err(Error::invalid(
            path,
            format!(
                "holds {} rows, more than the {rows} the manifest says; the dataset is damaged",
                h.shape[0]
            ),
        ));
    }
    let need = h.data_offset as u64 + rows * h.dtype.itemsize() as u64;
    if meta.len() < need {
        return Err(Error::invalid(
            path,
            format!(
                "is {} bytes, too short for the {rows} rows the manifest says; the dataset is \
                 damaged",
                meta.len()
            ),
        ));
    }
    Ok(h)
}

/// The header of the `.npy` at `path`, whatever the length of its data.
fn header_of(path: &Path) -> Result<Header> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut head = Vec::with_capacity(4096);
    (&mut f).take(1 << 16).read_to_end(&mut head).map_err(|e| Error::io(path, e))?;
    Header::parse(&head).map_err(|e| e.at(path))
}

/// Offset `i` of a string column's offsets file: where its strings' bytes end after `i` rows.
fn last_offset(path: &Path, i: u64) -> Result<u64> {
    let h = holding(path, i + 1)?;
    if h.dtype.itemsize() != 8 {
        return Err(Error::invalid(path, "is not an offsets file (8-byte offsets)"));
    }
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    f.seek(SeekFrom::Start(h.data_offset as u64 + 8 * i)).map_err(|e| Error::io(path, e))?;
    let mut b = [0u8; 8];
    f.read_exact(&mut b).map_err(|e| Error::io(path, e))?;
    u64::try_from(i64::from_le_bytes(b)).map_err(|_| {
        Error::invalid(path, format!("offset {i} is negative; the dataset is damaged"))
    })
}

/// Plans appending to the dataset file `file`, which must hold `rows_before` rows now and be
/// able to say `rows_after` in its header.
fn extend(
    dataset: &Path,
    file: &str,
    rows_before: u64,
    rows_after: u64,
    tail: Tail,
) -> Result<Extend> {
    let path = dataset.join(file);
    let mut h = holding(&path, rows_before)?;
    if !matches!(
        h.dtype.order(),
        crate::dtype::ByteOrder::Little | crate::dtype::ByteOrder::NotApplicable
    ) {
        return Err(Error::invalid(&path, "is big-endian; an append writes little-endian rows"));
    }
    let itemsize = h.dtype.itemsize();
    let len_before = h.data_offset as u64 + rows_before * itemsize as u64;
    h.shape[0] = usize::try_from(rows_after).map_err(|_| Error::invalid(&path, "too many rows"))?;
    if h.to_bytes_in(h.version, h.data_offset).is_none() {
        return Err(Error::invalid(
            &path,
            "has no room in its header for the new row count (it was not written by larder); \
             convert the table into a new dataset instead",
        ));
    }
    Ok(Extend { file: file.to_string(), len_before, rows_after, itemsize, tail })
}

/// Carries out the journal `j` of the append staged in `staging` onto `dataset`, then removes
/// what is left over; safe to repeat.
///
/// # Errors
/// [`Error::Io`] on read or write errors (the journal stays for a resume); [`Error::Format`]
/// for a journal whose files are gone.
pub(crate) fn apply(
    dataset: &Path,
    staging: &Path,
    j: &Journal,
    faults: &dyn FaultPlan,
) -> Result<()> {
    if Manifest::read(dataset)? != j.after {
        for c in &j.create {
            let (from, to) = (staging.join(&c.from), dataset.join(&c.to));
            if from.exists() {
                faults::before(faults, Step::Rename, &to)?;
                fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
            } else if !to.exists() {
                return Err(Error::format(
                    staging.join(JOURNAL),
                    0,
                    format!("{} is gone from both {} and the dataset", c.from, staging.display()),
                ));
            }
        }
        crate::fsutil::sync_dir(&dataset.join(MANIFEST));
        for e in &j.extend {
            let path = dataset.join(&e.file);
            faults::before(faults, Step::Sync, &path)?;
            append_rows(&path, staging, e)?;
        }
        let path = dataset.join(MANIFEST);
        let mut text = serde_json::to_vec_pretty(&j.after)
            .map_err(|e| Error::internal(format!("the manifest as JSON: {e}")))?;
        text.push(b'\n');
        faults::before(faults, Step::Manifest, &path)?;
        crate::fsutil::write_bytes_atomically(&path, &text)?;
    }
    // Committed. The headers say the new row counts last, so that a program reading a column
    // file on its own (numpy) sees the old rows until the append is committed.
    for e in &j.extend {
        let path = dataset.join(&e.file);
        faults::before(faults, Step::Sync, &path)?;
        set_rows(&path, e.rows_after)?;
    }
    faults::before(faults, Step::Cleanup, &staging.join(JOURNAL))?;
    for f in &j.remove {
        let p = dataset.join(f);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(&p, e)),
            _ => {}
        }
    }
    // Renamed first, at once, so that a removal cut short leaves no half working directory
    // that would stop the next append (`remove_leftovers` finishes it).
    let trash = trash_dir(staging);
    fs::rename(staging, &trash).map_err(|e| Error::io(staging, e))?;
    crate::fsutil::sync_dir(staging);
    remove_leftovers(staging)
}

/// Where a finished append's working directory goes to be removed.
fn trash_dir(staging: &Path) -> std::path::PathBuf {
    let mut name = staging.as_os_str().to_owned();
    name.push(".done");
    std::path::PathBuf::from(name)
}

/// Removes what a finished append left to be removed, if anything: its working directory
/// (once renamed) and the temporary file of a manifest write a crash cut short.
///
/// # Errors
/// [`Error::Io`] naming what cannot be removed.
pub(crate) fn remove_leftovers(staging: &Path) -> Result<()> {
    let trash = trash_dir(staging);
    match fs::remove_dir_all(&trash) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(&trash, e)),
        _ => {}
    }
    let Some(dataset) = staging.parent() else { return Ok(()) };
    let prefix = format!(".{MANIFEST}.larder-tmp-");
    for entry in fs::read_dir(dataset).map_err(|e| Error::io(dataset, e))? {
        let entry = entry.map_err(|e| Error::io(dataset, e))?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let p = entry.path();
            match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(&p, e)),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Cuts the dataset file at `path` back to its length before the append, appends the rows
/// `e` says, rewrites its header's row count and syncs it.
fn append_rows(path: &Path, staging: &Path, step: &Extend) -> Result<()> {
    let io_err = |err| Error::io(path, err);
    let file = OpenOptions::new().read(true).write(true).open(path).map_err(io_err)?;
    file.set_len(step.len_before).map_err(io_err)?;
    let mut out = BufWriter::with_capacity(BUF, file);
    out.seek(SeekFrom::End(0)).map_err(io_err)?;
    match &step.tail {
        Tail::Raw { file } => {
            let src = staging.join(file);
            let (mut reader, len) = staged_data(&src)?;
            let copied = io::copy(&mut (&mut reader).take(len), &mut out).map_err(io_err)?;
            if copied != len {
                return Err(Error::format(&src, copied, "ends before its rows"));
            }
        }
        Tail::Offsets { file, shift } => {
            let src = staging.join(file);
            let (mut reader, len) = staged_data(&src)?;
            let mut first = [0u8; 8];
            reader.read_exact(&mut first).map_err(|err| Error::io(&src, err))?;
            let mut left = len.saturating_sub(8);
            let mut buf = vec![0u8; BUF];
            while left > 0 {
                let n = usize::try_from(left.min(BUF as u64)).unwrap_or(BUF);
                reader.read_exact(&mut buf[..n]).map_err(|err| Error::io(&src, err))?;
                for v in buf[..n].chunks_exact_mut(8) {
                    let x = i64::from_le_bytes(v.try_into().unwrap_or_default()) + shift;
                    v.copy_from_slice(&x.to_le_bytes());
                }
                out.write_all(&buf[..n]).map_err(io_err)?;
                left -= n as u64;
            }
        }
        Tail::Codes { file } => copy_codes(&staging.join(file), step.itemsize, &mut out, path)?,
        Tail::Present { rows } => {
            let ones = vec![1u8; BUF];
            let mut left = *rows;
            while left > 0 {
                let n = usize::try_from(left.min(BUF as u64)).unwrap_or(BUF);
                out.write_all(&ones[..n]).map_err(io_err)?;
                left -= n as u64;
            }
        }
    }
    let file = out.into_inner().map_err(|err| io_err(err.into_error()))?;
    file.sync_data().map_err(io_err)
}

/// Rewrites the row count in the header of the `.npy` at `path` (whose data holds them) and
/// syncs it.
fn set_rows(path: &Path, rows: u64) -> Result<()> {
    let io_err = |err| Error::io(path, err);
    let mut header = header_of(path)?;
    header.shape[0] = usize::try_from(rows).map_err(|_| Error::invalid(path, "too many rows"))?;
    let bytes = header
        .to_bytes_in(header.version, header.data_offset)
        .ok_or_else(|| Error::invalid(path, "header cannot hold the row count"))?;
    let mut file = OpenOptions::new().write(true).open(path).map_err(io_err)?;
    file.write_all(&bytes).map_err(io_err)?;
    file.sync_data().map_err(io_err)
}

/// A staged `.npy` opened at its first data byte, and its data's length.
fn staged_data(path: &Path) -> Result<(BufReader<File>, u64)> {
    let h = read_header(path)?;
    let len = h.data_len().ok_or_else(|| Error::invalid(path, "too large"))?;
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    f.seek(SeekFrom::Start(h.data_offset as u64)).map_err(|e| Error::io(path, e))?;
    Ok((BufReader::with_capacity(BUF, f), len))
}

/// Writes the little-endian unsigned codes of the `.npy` at `src`, each as `size` bytes.
fn copy_codes(src: &Path, size: usize, w: &mut impl Write, out: &Path) -> Result<()> {
    let from = read_header(src)?.dtype.itemsize();
    let (mut r, len) = staged_data(src)?;
    let mut left = len;
    let (mut buf, mut wide) = (vec![0u8; BUF], Vec::with_capacity(BUF * 4));
    while left > 0 {
        let n = usize::try_from(left.min(BUF as u64)).unwrap_or(BUF) / from * from;
        if n == 0 {
            return Err(Error::format(src, len - left, "ends inside a code"));
        }
        r.read_exact(&mut buf[..n]).map_err(|e| Error::io(src, e))?;
        wide.clear();
        for c in buf[..n].chunks_exact(from) {
            let mut v = [0u8; 8];
            v[..from].copy_from_slice(c);
            let code = u64::from_le_bytes(v);
            if size < 8 && code >> (8 * size) != 0 {
                return Err(Error::internal(format!("code {code} does not fit {size} bytes")));
            }
            wide.extend_from_slice(&code.to_le_bytes()[..size]);
        }
        w.write_all(&wide).map_err(|e| Error::io(out, e))?;
        left -= n as u64;
    }
    Ok(())
}

/// Writes at `out` a validity file of `old` rows all `true` followed by the staged validity
/// file `staged`, and syncs it.
fn build_validity(out: &Path, old: u64, staged: &Path) -> Result<()> {
    let (mut r, len) = staged_data(staged)?;
    let rows = usize::try_from(old + len).map_err(|_| Error::invalid(out, "too many rows"))?;
    let mut w = BufWriter::with_capacity(BUF, File::create(out).map_err(|e| Error::io(out, e))?);
    let header = Header::new(DType::native(ElementType::Bool), &[rows], false);
    w.write_all(&header.to_bytes()).map_err(|e| Error::io(out, e))?;
    let ones = vec![1u8; BUF];
    let mut left = old;
    while left > 0 {
        let n = usize::try_from(left.min(BUF as u64)).unwrap_or(BUF);
        w.write_all(&ones[..n]).map_err(|e| Error::io(out, e))?;
        left -= n as u64;
    }
    io::copy(&mut (&mut r).take(len), &mut w).map_err(|e| Error::io(out, e))?;
    let f = w.into_inner().map_err(|e| Error::io(out, e.into_error()))?;
    f.sync_data().map_err(|e| Error::io(out, e))
}
/// What the append staged in `tmp` comes to: the journal of its commit, or the inputs whose
/// CSV was loaded before (indexes among its sources, and as what), its staged rows discarded.
pub(crate) enum Prepared {
    Journal(Box<Journal>),
    Loaded(Vec<(usize, String)>),
}

/// Plans the commit of the append staged in `tmp` (see [`prepare`]), once no input's CSV
/// turns out to have been loaded before. A dataset that cannot take the rows (damaged files,
/// files with other names) stops it for good: the staged rows are discarded, since a resume
/// would stop the same way; so are rows of a CSV loaded before.
pub(crate) fn prepare_or_discard(
    dataset: &Path,
    tmp: &Path,
    before: &Manifest,
    faults: &dyn FaultPlan,
) -> Result<Prepared> {
    let delta = Manifest::read(tmp)?;
    let loaded = super::append::csv_loaded_before(before, &delta);
    if !loaded.is_empty() {
        fs::remove_dir_all(tmp).map_err(|err| Error::io(tmp, err))?;
        return Ok(Prepared::Loaded(loaded));
    }
    match prepare(dataset, tmp, before, &delta, faults) {
        Err(e @ (Error::Invalid { .. } | Error::Format { .. })) => {
            fs::remove_dir_all(tmp).map_err(|err| Error::io(tmp, err))?;
            Err(e)
        }
        other => other.map(|j| Prepared::Journal(Box::new(j))),
    }
}
