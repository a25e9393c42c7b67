//! Subsets of a dataset's rows as new files: [`take`] (rows by number, as `df.iloc[rows]`)
//! and [`filter`] (the rows where a `WHERE` expression holds, as `df.query(expr)`), written
//! as a dataset in the same format (validity, categoricals with the same dictionary,
//! strings), or as the row numbers (`rows.npy`, sorted `int64`) or a mask (`mask.npy`, one
//! bool a row).
//!
//! Every output is written under a temporary name beside it and renamed into place when
//! complete; an existing output is never replaced. Memory is bounded: matches are streamed
//! to a row-number file in the staging directory, and each column is gathered
//! [`BLOCK_ROWS`] rows at a time.
//!
//! ```
//! use larder::dataset::Dataset;
//! use larder::ops::subset::{self, Output};
//! # let dir = tempfile::tempdir()?;
//! # let csv = dir.path().join("log.csv");
//! std::fs::write(&csv, "region,status\neu,200\nus,NA\neu,500\n")?;
//! # let src = dir.path().join("log");
//! # larder::convert::ConvertOptions::new().convert(&csv, &src, &mut |_| {})?;
//! let out = dir.path().join("eu");
//! let r = subset::filter(&src, "region = 'eu'", &out, Output::Dataset, None)?;
//! assert_eq!(r.rows, 2);
//! let eu = Dataset::open(&out)?;
//! assert_eq!(eu.column("status")?.values::<i64>()?.as_slice()?, &[200, 500]);
//! // Rows by number, negative from the end as in numpy.
//! subset::take(&src, &[-1, 1], &dir.path().join("t"), None)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use serde::Serialize;

use crate::dataset::{Column, ColumnKind, Dataset, MANIFEST, Manifest, Source};
use crate::dtype::{Element, dispatch_element};
use crate::error::{Error, Result};
use crate::fsutil::TempGuard;
use crate::npy::{MmapArray, NpyWriter};
use crate::query::{BLOCK_ROWS, Filter};

/// What [`filter`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// A dataset directory of the matching rows.
    Dataset,
    /// A 1-d `int64` `.npy` of the matching row numbers, ascending:
    /// `np.load(col, mmap_mode="r")[rows]` reads them.
    Rows,
    /// A 1-d bool `.npy`, one flag a row of the dataset: numpy's boolean mask.
    Mask,
}

/// What a subset wrote.
#[derive(Clone, Debug, Serialize)]
pub struct SubsetReport {
    /// Rows written (matching rows for a mask).
    pub rows: u64,
    /// Rows of the source dataset.
    pub source_rows: u64,
    /// Columns written (0 for row numbers or a mask).
    pub columns: usize,
}

/// Writes the rows of the dataset `src` where `expr` holds to `dst`, as `output` says;
/// `columns` keeps only those columns (in that order) of a dataset output.
///
/// # Errors
/// [`Error::Invalid`] if `dst` exists; as [`Filter::new`] (a bad expression) and
/// [`Dataset::open`]; [`Error::Argument`] for an unknown column; [`Error::Io`] writing.
pub fn filter(
    src: impl AsRef<Path>,
    expr: &str,
    dst: impl AsRef<Path>,
    output: Output,
    columns: Option<&[String]>,
) -> Result<SubsetReport> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let ds = Dataset::open(src)?;
    let f = Filter::new(&ds, expr)?;
    let picked = picked_columns(&ds, columns)?;
    refuse_existing(dst)?;
    let every = 0..ds.rows();
    let all = std::slice::from_ref(&every);
    let tmp = TempGuard::beside(dst);
    let report = match output {
        Output::Rows | Output::Mask => {
            let n = if output == Output::Rows {
                write_rows(&f, all, tmp.path())?
            } else {
                let mut w = NpyWriter::<bool>::create(tmp.path(), &[])?;
                let mut n = 0;
                f.for_each_block(all, |_, mask| {
                    n += mask.iter().filter(|&&m| m).count() as u64;
                    w.append(mask)
                })?;
                w.finish()?;
                n
            };
            SubsetReport { rows: n, source_rows: ds.rows(), columns: 0 }
        }
        Output::Dataset => {
            std::fs::create_dir(tmp.path()).map_err(|e| Error::io(tmp.path(), e))?;
            // The matches go to a file first: then each column is gathered in one pass.
            let rows_file = tmp.path().join(".rows.npy");
            write_rows(&f, all, &rows_file)?;
            let rows = MmapArray::<i64>::open(&rows_file)?;
            let r = write_dataset(&ds, &picked, rows.as_slice()?, tmp.path())?;
            drop(rows);
            std::fs::remove_file(&rows_file).map_err(|e| Error::io(&rows_file, e))?;
            r
        }
    };
    crate::fsutil::sync_dir(tmp.path());
    tmp.commit(dst)?;
    Ok(report)
}

/// Writes rows `rows` of the dataset `src` (in that order, repeats allowed; a negative number
/// counts from the end, as numpy's) as a new dataset `dst`; `columns` keeps only those.
///
/// # Errors
/// [`Error::Argument`] for a row out of range, naming its position in `rows`; otherwise as
/// [`filter`].
pub fn take(
    src: impl AsRef<Path>,
    rows: &[i64],
    dst: impl AsRef<Path>,
    columns: Option<&[String]>,
) -> Result<SubsetReport> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let ds = Dataset::open(src)?;
    let picked = picked_columns(&ds, columns)?;
    refuse_existing(dst)?;
    let n = i64::try_from(ds.rows()).map_err(|_| Error::invalid(src, "too many rows"))?;
    for (k, &r) in rows.iter().enumerate() {
        if r >= n || r < -n {
            return Err(Error::argument(format!(
                "row {r} (item {k} of the rows to take) is out of range: {} has {n} rows",
                src.display()
            )));
        }
    }
    let tmp = TempGuard::beside(dst);
    std::fs::create_dir(tmp.path()).map_err(|e| Error::io(tmp.path(), e))?;
    let report = write_dataset(&ds, &picked, rows, tmp.path())?;
    crate::fsutil::sync_dir(tmp.path());
    tmp.commit(dst)?;
    Ok(report)
}

fn refuse_existing(dst: &Path) -> Result<()> {
    if dst.exists() || dst.symlink_metadata().is_ok() {
        return Err(Error::invalid(dst, "already exists; remove it or choose another path"));
    }
    crate::fsutil::check_parent_exists(dst)
}

/// The indexes of the columns to write: `columns`, in that order, or all of them.
fn picked_columns(ds: &Dataset, columns: Option<&[String]>) -> Result<Vec<usize>> {
    let Some(names) = columns else { return Ok((0..ds.manifest().columns.len()).collect()) };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let i = ds.manifest().position(name)?;
        if out.contains(&i) {
            return Err(Error::argument(format!("column {name:?} is listed twice")));
        }
        out.push(i);
    }
    Ok(out)
}

/// Streams the matching row numbers of `ranges` into a new `int64` `.npy` at `path`.
fn write_rows(f: &Filter, ranges: &[std::ops::Range<u64>], path: &Path) -> Result<u64> {
    let mut w = NpyWriter::<i64>::create(path, &[])?;
    let mut n = 0u64;
    f.for_each_match(ranges, |rows| {
        n += rows.len() as u64;
        let rows: Vec<i64> = rows.iter().map(|&r| r.cast_signed()).collect();
        w.append(&rows)
    })?;
    w.finish()?;
    Ok(n)
}

/// Row `r` (negative: from the end) of `len` rows, checked by the caller.
fn row(r: i64, len: usize) -> usize {
    if r < 0 {
        len - usize::try_from(r.unsigned_abs()).unwrap_or(len)
    } else {
        usize::try_from(r).unwrap_or(0)
    }
}

/// The rows from the lowest of `part` to one past its highest.
fn span(part: &[i64], len: usize) -> (usize, usize) {
    part.iter().fold((usize::MAX, 0), |(lo, hi), &r| (lo.min(row(r, len)), hi.max(row(r, len) + 1)))
}

/// Writes rows `rows` of the columns `picked` of `ds` into the directory `dir`, with the
/// manifest last.
fn write_dataset(ds: &Dataset, picked: &[usize], rows: &[i64], dir: &Path) -> Result<SubsetReport> {
    let mut manifest: Manifest = ds.manifest().clone();
    manifest.columns = picked.iter().map(|&i| manifest.columns[i].clone()).collect();
    let len = usize::try_from(ds.rows()).map_err(|_| Error::invalid(ds.path(), "too many rows"))?;
    for &i in picked {
        write_column(&ds.nth_column(i)?, rows, len, dir)?;
    }
    let n = rows.len() as u64;
    manifest.rows = n;
    manifest.rejected = 0;
    manifest.rows_read = n;
    manifest.appends.clear();
    manifest.sources.clear();
    // Made from the dataset, not from a CSV: an append of the source's CSV is not a repeat.
    manifest.source = Source { path: ds.path().display().to_string(), ..Source::default() };
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::internal(format!("manifest to JSON: {e}")))?;
    let path = dir.join(MANIFEST);
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    Manifest::read(dir)?;
    Ok(SubsetReport { rows: n, source_rows: ds.rows(), columns: picked.len() })
}

fn write_column(c: &Column<'_>, rows: &[i64], len: usize, dir: &Path) -> Result<()> {
    let meta = c.manifest();
    if let Some(v) = c.validity()? {
        gather(&v, rows, len, &dir.join(meta.valid.as_deref().unwrap_or_default()), None)?;
    }
    if let Some(d) = &meta.dictionary {
        for f in [&d.file, &d.offsets] {
            let (from, to) = (c.file().with_file_name(f), dir.join(f));
            std::fs::copy(&from, &to).map_err(|e| Error::io(&to, e))?;
        }
    }
    if c.kind() == ColumnKind::String {
        return gather_strings(c, rows, len, dir);
    }
    let dtype = c.dtype()?;
    let to = dir.join(&meta.file);
    dispatch_element!(dtype.element(),
        T => gather::<T>(&c.values::<T>()?, rows, len, &to, Some(dtype)),
        complex C => gather::<C>(&c.values::<C>()?, rows, len, &to, Some(dtype)))
}

/// Writes `src[rows]` to a new `.npy` at `to` (of `dtype`, or `T`'s).
fn gather<T: Element>(
    src: &MmapArray<T>,
    rows: &[i64],
    len: usize,
    to: &Path,
    dtype: Option<crate::dtype::DType>,
) -> Result<()> {
    let values = src.as_slice()?;
    let mut w = NpyWriter::<T>::create_as(to, &[], dtype.unwrap_or_else(crate::DType::of::<T>))?;
    let mut block = Vec::with_capacity(BLOCK_ROWS.min(rows.len()));
    let size = std::mem::size_of::<T>();
    for part in rows.chunks(BLOCK_ROWS) {
        crate::sys::check_interrupt()?;
        block.clear();
        block.extend(part.iter().map(|&r| values[row(r, len)]));
        w.append(&block)?;
        // The pages read, dropped from the resident set: memory stays one block's.
        let (lo, hi) = span(part, len);
        src.release_range(lo * size, (hi - lo) * size)?;
    }
    w.finish()?;
    Ok(())
}

/// Writes rows `rows` of the string column `c`: its bytes and offsets files.
fn gather_strings(c: &Column<'_>, rows: &[i64], len: usize, dir: &Path) -> Result<()> {
    let meta = c.manifest();
    let strings = c.strings()?;
    let view = strings.view()?;
    let offsets_name = meta.offsets.as_deref().unwrap_or_default();
    let mut bytes = NpyWriter::<u8>::create(dir.join(&meta.file), &[])?;
    let mut offsets = NpyWriter::<i64>::create(dir.join(offsets_name), &[])?;
    let mut end = 0i64;
    offsets.append(&[0])?;
    let mut block = Vec::with_capacity(BLOCK_ROWS.min(rows.len()));
    for part in rows.chunks(BLOCK_ROWS) {
        crate::sys::check_interrupt()?;
        block.clear();
        for &r in part {
            let s = view.get(row(r, len))?;
            bytes.append(s.as_bytes())?;
            end += i64::try_from(s.len()).map_err(|_| Error::internal("a string past i64"))?;
            block.push(end);
        }
        offsets.append(&block)?;
        let (lo, hi) = span(part, len);
        strings.release(lo, hi)?;
    }
    bytes.finish()?;
    offsets.finish()?;
    Ok(())
}
