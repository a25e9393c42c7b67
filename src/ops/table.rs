//! Printing the rows of a dataset as a table, as `print(df)` shows a pandas frame: category
//! labels for categorical columns, `<NA>` for missing values, columns aligned. Only the rows
//! printed are read.
//!
//! Rows are printed in blocks of 16,384, and the pages of each block's rows are dropped from
//! the resident set once printed, so memory stays bounded however many rows are printed: JSON
//! records are written one by one, and the aligned table takes two passes over the mapped
//! columns, the first for the columns' widths, the second to print.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};

use crate::dataset::{Categories, Column, ColumnKind, Dataset, Strings, StringsView};
use std::borrow::Cow;

use crate::dtype::{Element, Scalar, Time, TimeUnit, dispatch_element, format_datetime};
use crate::error::{Error, Result};
use crate::npy::MmapArray;
use crate::query::Filter;
use crate::select::Selection;

use super::cat::TextFormat;

/// Rows shown at each end when a dataset is printed without a selection and has more than
/// [`MAX_ROWS`] rows (pandas' `display.max_rows` is 60, with 5 at each end).
const EDGE_ROWS: usize = 5;
/// More rows than this are printed as their first and last [`EDGE_ROWS`].
const MAX_ROWS: usize = 60;

/// Rows printed between releases of their pages.
const BLOCK: usize = 1 << 14;

/// One column, ready to print any row.
trait Cells {
    /// The text of row `r` (`<NA>` when missing).
    fn text(&self, r: usize) -> String;
    /// The JSON value of row `r` (`null` when missing).
    fn json(&self, r: usize) -> Value;
    /// Drops the pages of rows `lo..hi` from the resident set (they were printed).
    fn release(&self, lo: usize, hi: usize) -> Result<()>;
}

struct Typed<'a, T: Element> {
    values: &'a [T],
    valid: Option<&'a [bool]>,
    /// The files behind `values` and `valid`, whose pages are released once printed.
    files: (&'a MmapArray<T>, Option<&'a MmapArray<bool>>),
    categories: Option<&'a Categories<'a>>,
    /// The unit of a date-time column, whose values print in ISO 8601.
    time: Option<TimeUnit>,
}

/// Releases rows `lo..hi` of a validity file.
fn release_valid(valid: Option<&MmapArray<bool>>, lo: usize, hi: usize) -> Result<()> {
    valid.map_or(Ok(()), |v| v.release_range(lo, hi - lo))
}

impl<T: Element> Typed<'_, T> {
    fn label(&self, r: usize) -> Option<Result<Cow<'_, str>, T>> {
        if self.valid.is_some_and(|v| !v[r]) {
            return None;
        }
        let v = self.values[r];
        if let (Some(unit), Scalar::I64(x)) = (self.time, v.to_scalar()) {
            return Some(Ok(Cow::Owned(format_datetime(x, unit))));
        }
        Some(match self.categories {
            Some(cats) => {
                let code = v.to_scalar().to_json().as_u64().unwrap_or(u64::MAX);
                usize::try_from(code)
                    .ok()
                    .and_then(|c| cats.get(c).ok())
                    .map(Cow::Borrowed)
                    .ok_or(v)
            }
            None => Err(v),
        })
    }
}

impl<T: Element> Cells for Typed<'_, T> {
    fn text(&self, r: usize) -> String {
        match self.label(r) {
            None => "<NA>".to_string(),
            Some(Ok(s)) => s.to_string(),
            // numpy prints `nan`; a table prints NaN as pandas does.
            Some(Err(v)) => match v.to_scalar().to_string() {
                s if s == "nan" => "NaN".to_string(),
                s => s,
            },
        }
    }

    fn json(&self, r: usize) -> Value {
        match self.label(r) {
            None => Value::Null,
            Some(Ok(s)) => Value::String(s.to_string()),
            Some(Err(v)) => v.to_scalar().to_json(),
        }
    }

    fn release(&self, lo: usize, hi: usize) -> Result<()> {
        let size = std::mem::size_of::<T>();
        self.files.0.release_range(lo * size, (hi - lo) * size)?;
        release_valid(self.files.1, lo, hi)
    }
}

/// The cells of a string column; a string that cannot be read prints as the reason.
struct Text<'a> {
    strings: &'a Strings,
    view: StringsView<'a>,
    valid: Option<&'a [bool]>,
    valid_file: Option<&'a MmapArray<bool>>,
}

impl Text<'_> {
    fn get(&self, r: usize) -> Option<Cow<'_, str>> {
        if self.valid.is_some_and(|v| !v[r]) {
            return None;
        }
        Some(match self.view.get(r) {
            Ok(s) => Cow::Borrowed(s),
            Err(e) => Cow::Owned(format!("<{e}>")),
        })
    }
}

impl Cells for Text<'_> {
    fn text(&self, r: usize) -> String {
        self.get(r).map_or_else(|| "<NA>".to_string(), Cow::into_owned)
    }

    fn json(&self, r: usize) -> Value {
        self.get(r).map_or(Value::Null, |s| Value::String(s.into_owned()))
    }

    fn release(&self, lo: usize, hi: usize) -> Result<()> {
        self.strings.release(lo, hi)?;
        release_valid(self.valid_file, lo, hi)
    }
}

/// A column's mapped files, kept alive while its cells are printed.
struct Mapped<'a, T: Element> {
    values: MmapArray<T>,
    valid: Option<MmapArray<bool>>,
    categories: Option<Categories<'a>>,
}

/// A string column's mapped files.
struct MappedText {
    strings: Strings,
    valid: Option<MmapArray<bool>>,
}

/// Maps column `c` with the element type its manifest declares.
fn mapped<'a>(c: &Column<'a>) -> Result<Box<dyn Lend + 'a>> {
    let valid = c.validity()?;
    if c.kind() == ColumnKind::String {
        return Ok(Box::new(MappedText { strings: c.strings()?, valid }));
    }
    let categories = c.categories()?;
    let element = c.element()?;
    dispatch_element!(element, T => Ok(Box::new((Mapped::<T> { values: c.values()?, valid, categories }, *c))))
}

impl Lend for MappedText {
    fn cells(&self) -> Result<Box<dyn Cells + '_>> {
        let valid = match &self.valid {
            Some(v) => Some(v.as_slice()?),
            None => None,
        };
        let view = self.strings.view()?;
        let valid_file = self.valid.as_ref();
        Ok(Box::new(Text { strings: &self.strings, view, valid, valid_file }))
    }
}

/// Lends the [`Cells`] of a mapped column.
trait Lend {
    fn cells(&self) -> Result<Box<dyn Cells + '_>>;
}

impl<T: Element> Lend for (Mapped<'_, T>, Column<'_>) {
    fn cells(&self) -> Result<Box<dyn Cells + '_>> {
        let (m, c) = self;
        let valid = match &m.valid {
            Some(v) => Some(v.as_slice()?),
            None => None,
        };
        let time = match c.dtype()?.time() {
            Some(Time::DateTime(u)) => Some(u),
            _ => None,
        };
        let values = m.values.as_slice()?;
        let files = (&m.values, m.valid.as_ref());
        Ok(Box::new(Typed { values, valid, files, categories: m.categories.as_ref(), time }))
    }
}

/// The longest cell shown in a table, in characters, as pandas' `display.max_colwidth`: a
/// longer value is cut to this many, ending in `...`.
const MAX_CELL: usize = 50;

/// `t` on one line, cut to [`MAX_CELL`] characters: tab, CR and LF shown as `\t`, `\r`, `\n`,
/// as pandas prints them in a frame, and other control characters as `\xNN` (pandas prints
/// those raw; an escape sequence would drive the terminal).
fn shorten(t: String) -> String {
    let t = if t.chars().any(char::is_control) {
        let mut e = String::with_capacity(t.len() + 8);
        for c in t.chars() {
            match c {
                '\t' => e.push_str("\\t"),
                '\r' => e.push_str("\\r"),
                '\n' => e.push_str("\\n"),
                c if c.is_control() => {
                    let _ = write!(e, "\\x{:02x}", u32::from(c));
                }
                c => e.push(c),
            }
        }
        e
    } else {
        t
    };
    if t.chars().count() <= MAX_CELL {
        return t;
    }
    let mut s: String = t.chars().take(MAX_CELL - 3).collect();
    s.push_str("...");
    s
}

/// The width of a line of text a table is wrapped to when no other is given: pandas'
/// `display.width`.
pub const LINE_WIDTH: usize = 80;

/// Prints the rows `selection` picks (numpy syntax on the one row axis; all rows when it is
/// empty: the first and last five of a long dataset) of the dataset in `dir`; a table wider
/// than [`LINE_WIDTH`] is wrapped (see [`cat_dataset_wrapped`]).
///
/// # Errors
/// As [`Dataset::open`] and [`Selection::resolve`]; [`Error::Invalid`] for a selection of more
/// than one axis; [`Error::Io`] if `out` fails.
pub fn cat_dataset(
    dir: impl AsRef<Path>,
    selection: &Selection,
    format: TextFormat,
    out: &mut dyn Write,
) -> Result<()> {
    cat_dataset_wrapped(dir, selection, format, LINE_WIDTH, out)
}

/// As [`cat_dataset`], with a table wider than `line_width` characters printed in blocks of
/// columns, one after another, as pandas prints a wide `DataFrame` (`display.width`,
/// `expand_frame_repr`): each block repeats the index, every block but the last ends its header
/// line in ` \`, and blocks are separated by an empty line. JSON is not wrapped.
///
/// # Errors
/// As [`cat_dataset`].
pub fn cat_dataset_wrapped(
    dir: impl AsRef<Path>,
    selection: &Selection,
    format: TextFormat,
    line_width: usize,
    out: &mut dyn Write,
) -> Result<()> {
    cat_dataset_where(dir, None, selection, format, line_width, out)
}

/// As [`cat_dataset_wrapped`], printing only the rows where the filter `filter` (see
/// [`crate::query`]) holds, as `df.query(filter)` prints: `selection` then picks among the
/// matching rows (`df.query(filter).iloc[selection]`), and the index shows each row's number
/// in the dataset. Without a selection only the first and last five matches are held; with one
/// (or with JSON or every row), the matching row numbers are (8 bytes a match).
///
/// # Errors
/// As [`cat_dataset_wrapped`] and [`Filter::new`].
pub fn cat_dataset_where(
    dir: impl AsRef<Path>,
    filter: Option<&str>,
    selection: &Selection,
    format: TextFormat,
    line_width: usize,
    out: &mut dyn Write,
) -> Result<()> {
    let dir = dir.as_ref();
    let ds = Dataset::open(dir)?;
    let filter = filter.map(|f| Filter::new(&ds, f)).transpose()?;
    let rows = usize::try_from(ds.rows()).map_err(|_| Error::invalid(dir, "too many rows"))?;
    // The columns first: opening them checks that each holds the manifest's row count, which
    // the rows picked below are sized by (a damaged manifest claimed 2^54 rows).
    let maps: Vec<Box<dyn Lend>> = ds.columns().map(|c| mapped(&c)).collect::<Result<_>>()?;
    if maps.is_empty() && rows > 0 {
        return Err(Error::invalid(dir, format!("manifest lists {rows} rows and no columns")));
    }
    let (picked, matching) = match &filter {
        Some(f) => picked_matches(dir, f, selection, format)?,
        None => (picked_rows(dir, selection, rows, format)?, rows),
    };
    let cells: Vec<Box<dyn Cells>> = maps.iter().map(|m| m.cells()).collect::<Result<_>>()?;
    let names: Vec<&str> = ds.columns().map(|c| c.name()).collect();
    let io = |e| Error::io("<stdout>", e);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    if format == TextFormat::Json {
        // As `serde_json::to_writer` writes the list of every record, one record at a time.
        out.write_all(b"[").map_err(io)?;
        let mut first = true;
        in_blocks(&picked, &cells, |block| {
            for &r in block.iter().flatten() {
                if !std::mem::take(&mut first) {
                    out.write_all(b",").map_err(io)?;
                }
                let row: Map<String, Value> =
                    names.iter().zip(&cells).map(|(n, c)| ((*n).to_string(), c.json(r))).collect();
                serde_json::to_writer(&mut out, &Value::Object(row))
                    .map_err(|e| Error::io("<stdout>", e.into()))?;
            }
            Ok(())
        })?;
        out.write_all(b"]\n").map_err(io)?;
        return out.flush().map_err(io);
    }
    // Aligned columns: the width of each is that of its longest printed cell, found by a first
    // pass over the rows.
    let row_texts = |r: usize| {
        std::iter::once(r.to_string()).chain(cells.iter().map(move |c| shorten(c.text(r))))
    };
    let header: Vec<String> =
        std::iter::once(String::new()).chain(names.iter().map(|n| (*n).to_string())).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    in_blocks(&picked, &cells, |block| {
        for &r in block.iter().flatten() {
            for (w, t) in widths.iter_mut().zip(row_texts(r)) {
                *w = (*w).max(t.chars().count());
            }
        }
        Ok(())
    })?;
    // The columns of each block of the wrapped table (the index column, 0, is in every one).
    let bins = column_blocks(widths[0], &widths[1..], line_width);
    let line = |out: &mut dyn Write, texts: &[String], cols: &[usize], end: &str| {
        for (i, &c) in cols.iter().enumerate() {
            let (t, w) = (&texts[c], widths[c]);
            // By hand: `format!`'s width stops at 65 535, and names may be longer.
            let pad = w.saturating_sub(t.chars().count());
            if i > 0 {
                out.write_all(b"  ").map_err(io)?;
            }
            for _ in 0..pad {
                out.write_all(b" ").map_err(io)?;
            }
            out.write_all(t.as_bytes()).map_err(io)?;
        }
        writeln!(out, "{end}").map_err(io)
    };
    for (b, range) in bins.iter().enumerate() {
        let cols: Vec<usize> = std::iter::once(0).chain(range.start + 1..=range.end).collect();
        // pandas' continuation column: ` \` on the header of every block but the last, blanks
        // on every other line of a wrapped table.
        let (head_end, row_end) = match (bins.len(), b + 1 == bins.len()) {
            (1, _) => ("", ""),
            (_, false) => ("  \\", "   "),
            (_, true) => ("  ", "  "),
        };
        if b > 0 {
            writeln!(out).map_err(io)?;
        }
        line(&mut out, &header, &cols, head_end)?;
        in_blocks(&picked, &cells, |block| {
            for row in block {
                match row {
                    Some(r) => {
                        let texts: Vec<String> = row_texts(*r).collect();
                        line(&mut out, &texts, &cols, row_end)?;
                    }
                    None => writeln!(out, "...").map_err(io)?,
                }
            }
            Ok(())
        })?;
    }
    let shown = match (selection.items().is_empty(), filter.is_some()) {
        (true, false) => rows.to_string(),
        (true, true) => format!("{matching} of {rows}"),
        (false, _) => format!("{} of {matching}", picked.len()),
    };
    writeln!(out, "\n[{shown} rows x {} columns]", names.len()).map_err(io)?;
    out.flush().map_err(io)
}

/// The columns (indexes into `widths`, the printed widths of the columns after the index, whose
/// width is `index`) of each block of a table wrapped to `line_width` characters, as pandas'
/// `_binify` cuts them: a column goes to the next block when it would take the line past the
/// width (less room for the ` \` that ends a block), except the first, so a column wider than
/// the line has a block of its own. In pandas' terms every column is one wider (the blank
/// before its cells) and joined by one blank.
fn column_blocks(index: usize, widths: &[usize], line_width: usize) -> Vec<std::ops::Range<usize>> {
    let room = line_width.saturating_sub(index + 1);
    let mut blocks = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, &w) in widths.iter().enumerate() {
        let joined = w + 2;
        used += joined;
        let reserve = if i + 1 == widths.len() { 1 } else { 2 };
        if i > 0 && used + reserve > room {
            blocks.push(start..i);
            start = i;
            used = joined;
        }
    }
    blocks.push(start..widths.len());
    blocks
}

/// Calls `f` with the rows of `picked` in blocks of at most [`BLOCK`] (`None` for the line of
/// rows left out), releasing each block's rows of every column once `f` is done with them.
fn in_blocks(
    picked: &Picked,
    cells: &[Box<dyn Cells + '_>],
    mut f: impl FnMut(&[Option<usize>]) -> Result<()>,
) -> Result<()> {
    let mut rows = picked.iter();
    let mut block = Vec::with_capacity(BLOCK.min(picked.len() + 1));
    loop {
        block.clear();
        block.extend(rows.by_ref().take(BLOCK));
        if block.is_empty() {
            return Ok(());
        }
        f(&block)?;
        let (lo, hi) =
            block.iter().flatten().fold((usize::MAX, 0), |(lo, hi), &r| (lo.min(r), hi.max(r + 1)));
        if lo < hi {
            for c in cells {
                c.release(lo, hi)?;
            }
        }
    }
}

/// The rows to print, in order: the first and last [`EDGE_ROWS`] of `rows` around a line for
/// those left out, or every `step`-th row of `lo..hi` (from its end for a negative step). A
/// description, not a list: a selection may pick billions of rows.
enum Picked {
    Edges(usize),
    Walk {
        lo: usize,
        hi: usize,
        step: isize,
    },
    /// Rows by number, `None` for the rows left out (the matches of a filter).
    List(Vec<Option<usize>>),
}

impl Picked {
    /// The rows it prints.
    fn len(&self) -> usize {
        match *self {
            Picked::Edges(_) => 2 * EDGE_ROWS,
            Picked::Walk { lo, hi, step } => (hi - lo).div_ceil(step.unsigned_abs().max(1)),
            Picked::List(ref rows) => rows.iter().flatten().count(),
        }
    }

    /// The rows in order; `None` stands for the rows left out of a long listing.
    fn iter(&self) -> Box<dyn Iterator<Item = Option<usize>> + '_> {
        match *self {
            Picked::List(ref rows) => Box::new(rows.iter().copied()),
            Picked::Edges(rows) => {
                let head = (0..EDGE_ROWS).map(Some);
                let tail = (rows - EDGE_ROWS..rows).map(Some);
                Box::new(head.chain(std::iter::once(None)).chain(tail))
            }
            Picked::Walk { lo, hi, step } if step > 0 => {
                Box::new((lo..hi).step_by(step.unsigned_abs()).map(Some))
            }
            Picked::Walk { lo, hi, step } => {
                Box::new((lo..hi).rev().step_by(step.unsigned_abs().max(1)).map(Some))
            }
        }
    }
}

/// The rows `selection` picks of `rows` (see [`Picked`]).
fn picked_rows(
    dir: &Path,
    selection: &Selection,
    rows: usize,
    format: TextFormat,
) -> Result<Picked> {
    if selection.items().is_empty() {
        if rows > MAX_ROWS && format == TextFormat::Text {
            return Ok(Picked::Edges(rows));
        }
        return Ok(Picked::Walk { lo: 0, hi: rows, step: 1 });
    }
    let one_axis = |why: String| {
        Error::invalid(dir, format!("selection {selection}: a dataset has one axis, its rows{why}"))
    };
    let elems = selection.resolve(&[rows]).map_err(|e| one_axis(format!(" ({e})")))?;
    match elems.as_slice() {
        [ndarray::SliceInfoElem::Index(i)] => {
            let i = i.unsigned_abs();
            Ok(Picked::Walk { lo: i, hi: i + 1, step: 1 })
        }
        &[ndarray::SliceInfoElem::Slice { start, end, step }] => {
            // In bounds (Python's slice rules); a negative step walks the range from its end.
            let (lo, hi) = (start.unsigned_abs(), end.unwrap_or(0).unsigned_abs());
            Ok(Picked::Walk { lo, hi: hi.max(lo), step })
        }
        _ => Err(one_axis(String::new())),
    }
}

/// The matches of `filter` to print, and how many there are: as [`picked_rows`] picks among
/// all rows, `selection` picks among the matches (by their position in the list of matches).
fn picked_matches(
    dir: &Path,
    filter: &Filter,
    selection: &Selection,
    format: TextFormat,
) -> Result<(Picked, usize)> {
    let to_usize = |r: u64| usize::try_from(r).map_err(|_| Error::invalid(dir, "too many rows"));
    let every = 0..filter.rows();
    let all = std::slice::from_ref(&every);
    if selection.items().is_empty() && format == TextFormat::Text {
        // The first MAX_ROWS + 1 matches and the last EDGE_ROWS: all a listing shows.
        let (mut first, mut last, mut n) = (Vec::new(), std::collections::VecDeque::new(), 0);
        filter.for_each_match(all, |rows| {
            for &r in rows {
                let r = to_usize(r)?;
                n += 1;
                if first.len() <= MAX_ROWS {
                    first.push(Some(r));
                }
                last.push_back(Some(r));
                if last.len() > EDGE_ROWS {
                    last.pop_front();
                }
            }
            Ok(())
        })?;
        if n > MAX_ROWS {
            first.truncate(EDGE_ROWS);
            first.push(None);
            first.extend(last);
        }
        return Ok((Picked::List(first), n));
    }
    let mut matches = Vec::new();
    filter.for_each_match(all, |rows| {
        for &r in rows {
            matches.push(Some(to_usize(r)?));
        }
        Ok(())
    })?;
    let n = matches.len();
    if selection.items().is_empty() {
        return Ok((Picked::List(matches), n));
    }
    let positions = picked_rows(dir, selection, n, format)?;
    let rows = positions.iter().map(|p| p.and_then(|p| matches[p])).collect();
    Ok((Picked::List(rows), n))
}
