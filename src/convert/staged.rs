//! One output column's staged files while a conversion runs: its values (or categorical codes
//! and dictionary, or strings and offsets) and its validity file; appending a block to them,
//! turning a categorical column whose dictionary outgrew its bound into a string column, and
//! putting the finished files in place.
//!
//! File names, for a column whose final file is `STEM.npy`:
//!
//! ```text
//! STEM.npy.part            values or categorical codes while staged
//! STEM.npy.categories      the dictionary while staged (one JSON string per line)
//! STEM.npy.str.part        a string column's bytes while staged
//! STEM.offsets.npy.part    a string column's offsets while staged
//! STEM.valid.npy.part      the validity file while staged
//! STEM.npy                 values, codes, or a string column's bytes
//! STEM.offsets.npy         a string column's offsets
//! STEM.valid.npy           the validity file
//! STEM.categories.npy, STEM.categories.offsets.npy   a large dictionary, as strings
//! ```

use std::fs::{self, File};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::dataset::{DictionaryFiles, ManifestColumn};
use crate::dtype::ElementType;
use crate::error::{Error, Result};
use crate::npy::read_header;

use super::checkpoint::ColumnState;
use super::columns::{Keys, MISSING_CODE, Values};
use super::dictionary::{Dictionary, read_categories};
use super::faults::{self, FaultPlan, Step};
use super::plan::PlanColumn;
use super::schema::{self, ColumnType};
use super::sink::{self, Sink, StrSink};
use super::value::NaTokens;

/// Dictionaries up to this many categories, and [`LISTED_BYTES`] of text, are listed in the
/// manifest; larger ones get files of their own.
pub(crate) const LISTED_CATEGORIES: usize = 1024;

/// See [`LISTED_CATEGORIES`].
pub(crate) const LISTED_BYTES: usize = 64 << 10;

/// Where one column's values go.
enum Data {
    /// Numbers, bools, date-times: one `.npy` file.
    Values(Sink),
    /// Categorical codes and their dictionary.
    Cat { codes: Sink, dict: Dictionary },
    /// Strings and their offsets.
    Str(StrSink),
}

/// One block's values of one column, as [`StagedColumn::append`] takes them.
pub(crate) struct BlockValues<'a> {
    /// Rows of the column before the block.
    pub(crate) rows_before: u64,
    /// The block's values.
    pub(crate) values: &'a Values,
    /// The block's rows (counted from its first) whose value is missing.
    pub(crate) missing: &'a [u32],
}

/// The staged files of one output column.
pub(crate) struct StagedColumn {
    data: Data,
    /// The validity file (`true` where a value is present), made when the first missing value
    /// of a column that keeps placeholders arrives, filled with `true` for the rows before.
    valid: Option<Sink>,
    /// With many columns, each file is kept closed but while it is written, with a buffer of
    /// this many bytes (see [`StagedColumn::close_between_writes`]).
    buffer: Option<usize>,
}

fn stem(c: &PlanColumn) -> &str {
    c.file.strip_suffix(".npy").unwrap_or(&c.file)
}

pub(crate) fn part_path(dir: &Path, c: &PlanColumn) -> PathBuf {
    dir.join(format!("{}.part", c.file))
}

pub(crate) fn dict_path(dir: &Path, c: &PlanColumn) -> PathBuf {
    dir.join(format!("{}.categories", c.file))
}

fn str_part_path(dir: &Path, c: &PlanColumn) -> PathBuf {
    dir.join(format!("{}.str.part", c.file))
}

/// The final name of a string column's offsets file.
pub(crate) fn offsets_file(c: &PlanColumn) -> String {
    format!("{}.offsets.npy", stem(c))
}

fn offsets_part_path(dir: &Path, c: &PlanColumn) -> PathBuf {
    dir.join(format!("{}.part", offsets_file(c)))
}

/// The final name of column `c`'s validity file: `STEM.valid.npy` beside `STEM.npy` (column
/// file stems never end in `.valid`, so it cannot be another column's file).
pub(crate) fn valid_file(c: &PlanColumn) -> String {
    format!("{}.valid.npy", stem(c))
}

fn valid_part_path(dir: &Path, c: &PlanColumn) -> PathBuf {
    dir.join(format!("{}.part", valid_file(c)))
}

/// The final names of a large dictionary's files: its strings' bytes and offsets.
pub(crate) fn dictionary_files(c: &PlanColumn) -> DictionaryFiles {
    DictionaryFiles {
        file: format!("{}.categories.npy", stem(c)),
        offsets: format!("{}.categories.offsets.npy", stem(c)),
    }
}

/// The staged files of a column that are not used once it is a string column: the codes and
/// the dictionary of the categorical column it was.
pub(crate) fn spilled_files(dir: &Path, c: &PlanColumn) -> [PathBuf; 2] {
    [part_path(dir, c), dict_path(dir, c)]
}

impl StagedColumn {
    /// New, empty staged files for column `c`; a categorical one's dictionary starts with
    /// the categories `seed`.
    pub(crate) fn create(dir: &Path, c: &PlanColumn, seed: &[String]) -> Result<StagedColumn> {
        let data = match c.ty {
            ColumnType::Cat => Data::Cat {
                codes: Sink::create_as(&part_path(dir, c), c.ty.dtype())?,
                dict: Dictionary::create_seeded(dict_path(dir, c), seed)?,
            },
            ColumnType::Str => {
                Data::Str(StrSink::create(&str_part_path(dir, c), &offsets_part_path(dir, c))?)
            }
            _ => Data::Values(Sink::create_as(&part_path(dir, c), c.ty.dtype())?),
        };
        Ok(StagedColumn { data, valid: None, buffer: None })
    }

    /// Reopens column `c`'s staged files as a checkpoint with `rows` rows and state `s` left
    /// them.
    pub(crate) fn resume(
        dir: &Path,
        c: &PlanColumn,
        s: &ColumnState,
        rows: u64,
    ) -> Result<StagedColumn> {
        let data = match c.ty {
            ColumnType::Cat => Data::Cat {
                codes: Sink::resume(&part_path(dir, c), c.ty.element(), rows)?,
                dict: Dictionary::reopen(dict_path(dir, c), s.categories, s.categories_bytes)?,
            },
            ColumnType::Str => Data::Str(StrSink::resume(
                &str_part_path(dir, c),
                &offsets_part_path(dir, c),
                rows,
                s.str_bytes,
            )?),
            _ => Data::Values(Sink::resume(&part_path(dir, c), c.ty.element(), rows)?),
        };
        let valid = if s.valid {
            Some(Sink::resume(&valid_part_path(dir, c), ElementType::Bool, rows)?)
        } else {
            None
        };
        Ok(StagedColumn { data, valid, buffer: None })
    }

    /// From now on keeps every file of the column (those it has and those it makes later)
    /// closed but while writing to it, each buffering at most `buffer` bytes: a table of more
    /// columns than the process may keep files open converts (see
    /// [`NpyWriter::close_between_writes`](crate::NpyWriter::close_between_writes)).
    pub(crate) fn close_between_writes(&mut self, buffer: usize) -> Result<()> {
        self.buffer = Some(buffer);
        match &mut self.data {
            Data::Values(s) => s.close_between_writes(buffer)?,
            Data::Cat { codes, dict } => {
                codes.close_between_writes(buffer)?;
                dict.close_between_writes(buffer)?;
            }
            Data::Str(s) => s.close_between_writes(buffer)?,
        }
        if let Some(v) = &mut self.valid {
            v.close_between_writes(buffer)?;
        }
        Ok(())
    }

    /// Appends one block's values of column `plan` and marks its missing rows. Categorical
    /// keys go through the dictionary (a bad key names `input`); a block parsed as categorical
    /// for a column that has since become a string column is written as strings.
    pub(crate) fn append(
        &mut self,
        dir: &Path,
        plan: &PlanColumn,
        block: &BlockValues<'_>,
        na: &NaTokens,
        input: &Path,
    ) -> Result<()> {
        let &BlockValues { rows_before, values: v, missing } = block;
        let mut absent = Vec::new();
        match (&mut self.data, v) {
            (Data::Values(s), v) => s.append(v)?,
            (Data::Str(s), Values::Str { data, ends }) => s.append(data, ends)?,
            (Data::Str(s), Values::Cat { codes, keys }) => {
                let (data, ends) = cat_as_strings(codes, keys, na, &mut absent);
                s.append(&data, &ends)?;
            }
            (Data::Cat { codes: sink, dict }, Values::Cat { codes, keys }) => {
                let mut trans = Vec::with_capacity(keys.len());
                dict.translate(keys, na, &mut trans, &plan.name, input)?;
                let mut out: Vec<u32> = codes.iter().map(|&c| trans[c as usize]).collect();
                for (row, code) in out.iter_mut().enumerate() {
                    if *code == MISSING_CODE {
                        *code = 0;
                        absent.push(u32::try_from(row).unwrap_or(u32::MAX));
                    }
                }
                sink.append_codes(&out)?;
            }
            _ => return Err(Error::internal("a block's values do not match their column")),
        }
        let missing = if absent.is_empty() { missing } else { &absent };
        self.mark_missing(dir, plan, rows_before, v.len(), missing)
    }

    /// Marks the `missing` rows (of `n` rows just appended after `rows_before`) in the validity
    /// file, making it first (all `true` so far) when this is the first missing value.
    fn mark_missing(
        &mut self,
        dir: &Path,
        plan: &PlanColumn,
        rows_before: u64,
        n: usize,
        missing: &[u32],
    ) -> Result<()> {
        if self.valid.is_none() {
            if missing.is_empty() {
                return Ok(());
            }
            let mut v = Sink::create(&valid_part_path(dir, plan), ElementType::Bool)?;
            if let Some(b) = self.buffer {
                v.close_between_writes(b)?;
            }
            // At most 1 Mi rows at a time, and no more than there are: a table of many columns
            // with missing values makes many validity files, most after few rows.
            let ones = vec![true; usize::try_from(rows_before.min(1 << 20)).unwrap_or(1 << 20)];
            let mut left = rows_before;
            while left > 0 {
                let k = usize::try_from(left.min(ones.len() as u64)).unwrap_or(ones.len());
                v.append_bools(&ones[..k])?;
                left -= k as u64;
            }
            self.valid = Some(v);
        }
        let Some(v) = self.valid.as_mut() else { return Ok(()) };
        let mut present = vec![true; n];
        for &r in missing {
            if let Some(p) = present.get_mut(r as usize) {
                *p = false;
            }
        }
        v.append_bools(&present)
    }

    /// True for a categorical column whose dictionary holds more than `max` categories or
    /// `max_bytes` bytes of them.
    pub(crate) fn dictionary_outgrown(&self, max: u64, max_bytes: u64) -> bool {
        match &self.data {
            Data::Cat { dict, .. } => dict.len() as u64 > max || dict.text_bytes() > max_bytes,
            _ => false,
        }
    }

    /// Turns a categorical column into a string column: the `rows` codes written so far are
    /// re-encoded as strings, streaming, into new staged files (the codes and the dictionary
    /// stay as they are until a checkpoint records the change; see [`spilled_files`]).
    pub(crate) fn spill(&mut self, dir: &Path, plan: &PlanColumn, rows: u64) -> Result<()> {
        /// Rows re-encoded at a time, and bytes of strings gathered before they are written.
        const ROWS: usize = 1 << 16;
        const FLUSH: usize = 16 << 20;
        let Data::Cat { codes, dict } = &mut self.data else {
            return Err(Error::internal("only a categorical column becomes a string column"));
        };
        codes.sync()?;
        if let Some(v) = &mut self.valid {
            v.sync()?;
        }
        let strings = dict.by_code();
        let mut out = StrSink::create(&str_part_path(dir, plan), &offsets_part_path(dir, plan))?;
        if let Some(b) = self.buffer {
            out.close_between_writes(b)?;
        }
        let mut code_file = ColumnReader::open(&part_path(dir, plan), ElementType::U32, rows)?;
        let mut valid_file = match &self.valid {
            Some(_) => {
                Some(ColumnReader::open(&valid_part_path(dir, plan), ElementType::Bool, rows)?)
            }
            None => None,
        };
        let (mut codes_buf, mut valid_buf) = (Vec::with_capacity(ROWS), Vec::with_capacity(ROWS));
        let (mut data, mut ends) = (Vec::new(), Vec::with_capacity(ROWS));
        let mut left = rows;
        while left > 0 {
            let n = usize::try_from(left.min(ROWS as u64)).unwrap_or(ROWS);
            code_file.read_u32(n, &mut codes_buf)?;
            if let Some(f) = &mut valid_file {
                f.read_bool(n, &mut valid_buf)?;
            }
            for (row, &code) in codes_buf.iter().enumerate() {
                let present = valid_file.is_none() || valid_buf[row];
                let s: &[u8] = if present {
                    strings.get(code as usize).ok_or_else(|| {
                        Error::format(
                            part_path(dir, plan),
                            0,
                            format!("code {code} is not one of the {} categories", strings.len()),
                        )
                    })?
                } else {
                    &[]
                };
                if data.len() + s.len() > FLUSH && !ends.is_empty() {
                    out.append(&data, &ends)?;
                    data.clear();
                    ends.clear();
                }
                data.extend_from_slice(s);
                ends.push(block_offset(&data, dir, plan)?);
            }
            out.append(&data, &ends)?;
            data.clear();
            ends.clear();
            left -= n as u64;
        }
        self.data = Data::Str(out);
        Ok(())
    }

    /// Starts writing appended data to disk (see [`Sink::start_writeback`]).
    pub(crate) fn start_writeback(&mut self, at_least: u64) -> Result<()> {
        match &mut self.data {
            Data::Values(s) | Data::Cat { codes: s, .. } => s.start_writeback(at_least)?,
            Data::Str(s) => s.start_writeback(at_least)?,
        }
        if let Some(v) = &mut self.valid {
            v.start_writeback(at_least)?;
        }
        Ok(())
    }

    /// Puts every staged file's data on disk and records the column's state in `state`.
    pub(crate) fn sync(&mut self, faults: &dyn FaultPlan, state: &mut ColumnState) -> Result<()> {
        match &mut self.data {
            Data::Values(s) => {
                faults::before(faults, Step::Sync, s.path())?;
                s.sync()?;
            }
            Data::Cat { codes, dict } => {
                faults::before(faults, Step::Sync, codes.path())?;
                codes.sync()?;
                faults::before(faults, Step::Sync, dict.file().path())?;
                dict.file().sync()?;
                state.categories = dict.len() as u64;
                state.categories_bytes = dict.file().len();
            }
            Data::Str(s) => {
                for p in s.paths() {
                    faults::before(faults, Step::Sync, p)?;
                }
                s.sync()?;
                state.str_bytes = s.bytes();
            }
        }
        if let Some(v) = &mut self.valid {
            faults::before(faults, Step::Sync, v.path())?;
            v.sync()?;
        }
        state.valid = self.valid.is_some();
        Ok(())
    }

    /// Finishes every staged file; a categorical column's categories in code order (see
    /// [`Dictionary::into_text`]), which [`finish_column`] takes instead of reading them back.
    pub(crate) fn finish(self, faults: &dyn FaultPlan) -> Result<Option<(Vec<u8>, Vec<usize>)>> {
        let mut text = None;
        match self.data {
            Data::Values(s) => {
                faults::before(faults, Step::Sync, s.path())?;
                s.finish()?;
            }
            Data::Cat { codes: s, dict } => {
                faults::before(faults, Step::Sync, s.path())?;
                s.finish()?;
                text = Some(dict.into_text());
            }
            Data::Str(s) => {
                for p in s.paths() {
                    faults::before(faults, Step::Sync, p)?;
                }
                s.finish()?;
            }
        }
        if let Some(v) = self.valid {
            faults::before(faults, Step::Sync, v.path())?;
            v.finish()?;
        }
        Ok(text)
    }
}

/// The end of the last string in a buffer of strings, as a buffer-local offset.
fn block_offset(data: &[u8], dir: &Path, plan: &PlanColumn) -> Result<u32> {
    u32::try_from(data.len())
        .map_err(|_| Error::invalid(part_path(dir, plan), "a category longer than 4 GiB"))
}

/// The strings of a block parsed as categorical: each row's key (missing ones empty, their rows
/// in `absent`) one after another, and where each ends.
fn cat_as_strings(
    codes: &[u32],
    keys: &Keys,
    na: &NaTokens,
    absent: &mut Vec<u32>,
) -> (Vec<u8>, Vec<u32>) {
    let (mut data, mut ends) = (Vec::new(), Vec::with_capacity(codes.len()));
    for (row, &c) in codes.iter().enumerate() {
        let k = keys.get(c as usize);
        if na.is_missing_text(k) {
            absent.push(u32::try_from(row).unwrap_or(u32::MAX));
        } else {
            data.extend_from_slice(k);
        }
        // A block's keys fit in the block, which is shorter than 2^32 bytes.
        ends.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
    }
    (data, ends)
}

/// Reads a staged column file's values in order, a buffer at a time.
struct ColumnReader {
    path: PathBuf,
    file: BufReader<File>,
    element: ElementType,
}

impl ColumnReader {
    /// Opens the staged file at `path`, checking it holds at least `rows` values of `element`.
    fn open(path: &Path, element: ElementType, rows: u64) -> Result<ColumnReader> {
        let header = read_header(path)?;
        if header.dtype.element() != element {
            return Err(Error::internal(format!(
                "{}: not a {} file",
                path.display(),
                element.name()
            )));
        }
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let need = header.data_offset as u64 + rows * element.size() as u64;
        if len < need {
            return Err(Error::format(path, len, format!("holds fewer than {rows} values")));
        }
        file.seek(SeekFrom::Start(header.data_offset as u64)).map_err(|e| Error::io(path, e))?;
        Ok(ColumnReader { path: path.to_path_buf(), file: BufReader::new(file), element })
    }

    fn read_bytes(&mut self, n: usize, buf: &mut Vec<u8>) -> Result<()> {
        buf.resize(n * self.element.size(), 0);
        self.file.read_exact(buf).map_err(|e| Error::io(&self.path, e))
    }

    fn read_u32(&mut self, n: usize, out: &mut Vec<u32>) -> Result<()> {
        let mut bytes = Vec::new();
        self.read_bytes(n, &mut bytes)?;
        out.clear();
        // The staged codes are in the order the writer used: the machine's own.
        out.extend(bytemuck::pod_collect_to_vec::<u8, u32>(&bytes));
        Ok(())
    }

    fn read_bool(&mut self, n: usize, out: &mut Vec<bool>) -> Result<()> {
        let mut bytes = Vec::new();
        self.read_bytes(n, &mut bytes)?;
        out.clear();
        out.extend(bytes.iter().map(|&b| b != 0));
        Ok(())
    }
}

/// Puts column `c`'s final files in place (narrowed to the type they are stored as) unless an
/// interrupted finish already did, and describes the column for the manifest. `text` is a
/// categorical column's dictionary as [`StagedColumn::finish`] gave it; without it (a finish
/// resumed after an interruption), or when it does not hold the checkpointed count, the
/// dictionary is read from its staged file.
pub(crate) fn finish_column(
    dir: &Path,
    c: &PlanColumn,
    state: &ColumnState,
    range: Option<(i128, i128)>,
    shrink: bool,
    text: Option<(Vec<u8>, Vec<usize>)>,
    faults: &dyn FaultPlan,
) -> Result<ManifestColumn> {
    let valid = if state.valid {
        let file = valid_file(c);
        rename_into_place(&valid_part_path(dir, c), &dir.join(&file), faults)?;
        Some(file)
    } else {
        None
    };
    let mut column = ManifestColumn {
        name: c.name.clone(),
        header: c.header.clone(),
        file: c.file.clone(),
        dtype: String::new(),
        categories: None,
        valid,
        offsets: None,
        dictionary: None,
        format: c.format.clone(),
        fill: c.fill.clone(),
        // ISO 8601 text that carried offsets (a format says for itself whether it reads one).
        zone: (state.zoned && c.format.is_none() && matches!(c.ty, ColumnType::DateTime(_)))
            .then(|| "UTC".to_string()),
    };
    if c.ty == ColumnType::Str {
        let offsets = offsets_file(c);
        rename_into_place(&str_part_path(dir, c), &dir.join(&c.file), faults)?;
        rename_into_place(&offsets_part_path(dir, c), &dir.join(&offsets), faults)?;
        column.dtype = crate::dataset::STR_DTYPE.to_string();
        column.offsets = Some(offsets);
        return Ok(column);
    }
    let staged = c.ty.element();
    let categories = match text {
        _ if c.ty != ColumnType::Cat => None,
        Some((bytes, ends)) if ends.len() as u64 == state.categories => Some((bytes, ends)),
        _ => {
            let cats = read_categories(&dict_path(dir, c), state.categories)?;
            let mut ends = Vec::with_capacity(cats.len());
            let mut bytes = Vec::new();
            for s in &cats {
                bytes.extend_from_slice(s.as_bytes());
                ends.push(bytes.len());
            }
            Some((bytes, ends))
        }
    };
    let stored = match &categories {
        Some((_, ends)) => schema::code_element(ends.len()),
        None if shrink && c.ty.is_int() => {
            let (lo, hi) = range.unwrap_or((0, 0));
            schema::shrink_element(lo, hi)
        }
        None => staged,
    };
    let final_path = dir.join(&c.file);
    let part = part_path(dir, c);
    if part.exists() {
        if stored == staged {
            rename_into_place(&part, &final_path, faults)?;
        } else {
            let t = dir.join(format!("{}.narrow", c.file));
            faults::before(faults, Step::Sync, &t)?;
            sink::narrow(&part, staged, &t, stored)?;
            rename_into_place(&t, &final_path, faults)?;
            fs::remove_file(&part).map_err(|e| Error::io(&part, e))?;
        }
    }
    column.dtype = match c.ty {
        ColumnType::DateTime(_) => c.ty.dtype().typestr(),
        _ => schema::typestr(stored),
    };
    if let Some((bytes, ends)) = categories {
        if ends.len() <= LISTED_CATEGORIES && bytes.len() <= LISTED_BYTES {
            let path = dict_path(dir, c);
            let cats = each_category(&bytes, &ends)
                .map(|b| {
                    String::from_utf8(b.to_vec())
                        .map_err(|e| Error::format(&path, 0, format!("bad category: {e}")))
                })
                .collect::<Result<_>>()?;
            column.categories = Some(cats);
        } else {
            let files = dictionary_files(c);
            write_dictionary(dir, &files, &bytes, &ends, faults)?;
            column.dictionary = Some(files);
        }
    }
    Ok(column)
}

/// The categories of a dictionary's text (`bytes`, and where each category ends), in order.
fn each_category<'a>(bytes: &'a [u8], ends: &'a [usize]) -> impl Iterator<Item = &'a [u8]> {
    ends.iter().scan(0, move |start, &end| {
        let s = &bytes[*start..end];
        *start = end;
        Some(s)
    })
}

/// Writes a large dictionary (its categories' `text` one after another, and where each
/// `ends`) as strings, to temporary names renamed into place.
fn write_dictionary(
    dir: &Path,
    files: &DictionaryFiles,
    text: &[u8],
    text_ends: &[usize],
    faults: &dyn FaultPlan,
) -> Result<()> {
    let (data, offsets) = (dir.join(&files.file), dir.join(&files.offsets));
    let part = |p: &Path| PathBuf::from(format!("{}.part", p.display()));
    let (data_part, offsets_part) = (part(&data), part(&offsets));
    let mut out = StrSink::create(&data_part, &offsets_part)?;
    // Pieces of at most 16 MiB (offsets local to each piece, as `StrSink::append` takes them).
    let (mut start, mut ends) = (0, Vec::new());
    for (i, &end) in text_ends.iter().enumerate() {
        if end - start > (16 << 20) && !ends.is_empty() {
            let piece_end = text_ends[i - 1];
            out.append(&text[start..piece_end], &ends)?;
            start = piece_end;
            ends.clear();
        }
        ends.push(
            u32::try_from(end - start)
                .map_err(|_| Error::invalid(&data, "a category longer than 4 GiB"))?,
        );
    }
    out.append(&text[start..text_ends.last().copied().unwrap_or(start)], &ends)?;
    for p in [&data_part, &offsets_part] {
        faults::before(faults, Step::Sync, p)?;
    }
    out.finish()?;
    rename_into_place(&data_part, &data, faults)?;
    rename_into_place(&offsets_part, &offsets, faults)
}

/// Renames a finished staged file into place, unless an interrupted finish already did.
fn rename_into_place(part: &Path, final_path: &Path, faults: &dyn FaultPlan) -> Result<()> {
    if part.exists() {
        faults::before(faults, Step::Rename, final_path)?;
        fs::rename(part, final_path).map_err(|e| Error::io(final_path, e))?;
    }
    Ok(())
}
