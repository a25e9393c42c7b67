//! Sorted indexes: for a column, the permutation that sorts it (`int64` row numbers) and its
//! values in that order, as two ordinary `.npy` files in the dataset's `zones/` directory,
//! listed in `zones/sorted.json` (see `docs/format.md`). `larder index --sorted COL` builds
//! them ([`crate::ops::sort::build_sorted_index`]); a filter with a narrow range or a point
//! on the column finds its rows by binary search, and `sort` by the column reads the order.
//!
//! An index is tied to the column's files as zone maps are (size, modification and change
//! times, inode) and to its own two files the same way: a value edited, an append, a file
//! truncated or rewritten makes [`SortedIndex::open`] fail with the reason, and the index is
//! then ignored, never trusted. Rows found through an index are evaluated against the whole
//! filter again, so even an index damaged behind larder's back cannot add a row that does
//! not match.

use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::files::{Tie, column_files, tie_of};
use super::prune::literal;
use super::{Num, ZONES_DIR};
use crate::dataset::{Column, ColumnKind, Dataset};
use crate::dtype::{ElementType, Time};
use crate::error::{Error, Result};
use crate::expr::{BinaryOp, Expr, Literal};
use crate::npy::MmapArray;

/// The file in the zones directory that lists the sorted indexes.
pub const SORTED_LIST: &str = "sorted.json";

/// Layout version of `zones/sorted.json`.
pub(crate) const VERSION: u32 = 1;

/// `zones/sorted.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SortedList {
    pub(crate) version: u32,
    pub(crate) indexes: Vec<SortedEntry>,
}

/// One sorted index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SortedEntry {
    pub(crate) column: String,
    /// The column's dtype in the manifest.
    pub(crate) dtype: String,
    /// The dataset's rows when it was built.
    pub(crate) rows: u64,
    /// Rows holding a value (neither missing nor NaN): the first `values` entries, in
    /// ascending order of value; the missing ones follow, in row order.
    pub(crate) values: u64,
    /// The column files, as they were.
    pub(crate) tie: Vec<Tie>,
    /// The row-number file, in the zones directory, as written.
    pub(crate) rows_file: Tie,
    /// The sorted-values file, in the zones directory, as written.
    pub(crate) keys_file: Tie,
}

/// The names of the two files of the sorted index of a column whose file is `file`.
pub(crate) fn file_names(file: &str) -> (String, String) {
    let stem = file.strip_suffix(".npy").unwrap_or(file);
    (format!("{stem}.sorted-rows.npy"), format!("{stem}.sorted-keys.npy"))
}

/// Whether column `c` can have a sorted index: numbers, bools and datetimes.
///
/// # Errors
/// [`Error::Argument`] naming the column and its kind otherwise.
pub(crate) fn check_indexable(c: &Column<'_>) -> Result<()> {
    let ok = match c.kind() {
        ColumnKind::Bool | ColumnKind::DateTime => true,
        ColumnKind::Number => matches!(c.element()?.kind(), 'i' | 'u' | 'f'),
        ColumnKind::String | ColumnKind::Categorical => false,
    };
    if ok {
        return Ok(());
    }
    Err(Error::argument(format!(
        "column {:?} is {}: a sorted index is made for number, bool and datetime columns \
         (filters on strings and categoricals use the zone maps)",
        c.name(),
        match c.kind() {
            ColumnKind::String => "a string column",
            _ => "categorical",
        }
    )))
}

/// The ties of the column files of `c` as they are now.
pub(crate) fn column_tie(ds: &Dataset, c: &Column<'_>) -> Result<Vec<Tie>> {
    column_files(c).iter().map(|f| tie_of(ds.path(), f)).collect()
}

/// The tie of the file `name` in the zones directory of the dataset in `dir`.
pub(crate) fn zone_file_tie(dir: &Path, name: &str) -> Result<Tie> {
    tie_of(&dir.join(ZONES_DIR), name)
}

/// The list of `ds`, empty when it has none.
///
/// # Errors
/// [`Error::Invalid`] for a list that does not read.
pub(crate) fn read_list(dir: &Path) -> Result<SortedList> {
    let path = dir.join(ZONES_DIR).join(SORTED_LIST);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(SortedList { version: VERSION, indexes: Vec::new() });
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    let list: SortedList = serde_json::from_slice(&text)
        .map_err(|e| Error::invalid(&path, format!("not a sorted-index list: {e}")))?;
    if list.version != VERSION {
        return Err(Error::invalid(
            &path,
            format!(
                "sorted indexes of layout {}; this larder reads layout {VERSION}",
                list.version
            ),
        ));
    }
    Ok(list)
}

/// Writes `list` as the dataset's list (atomically: a reader sees the old list or the new).
/// As for zone maps, the list is rewritten until the file system's clock has moved past every
/// tied file's change time, so that a later write to one of them always shows.
///
/// # Errors
/// [`Error::Io`] writing.
pub(crate) fn write_list(dir: &Path, list: &SortedList) -> Result<()> {
    let zdir = dir.join(ZONES_DIR);
    let path = zdir.join(SORTED_LIST);
    let text = serde_json::to_vec_pretty(list).map_err(|e| Error::internal(e.to_string()))?;
    let write = || -> Result<()> {
        let tmp = crate::fsutil::temp_sibling(&path);
        let done = std::fs::write(&tmp, &text).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(&path, e));
        }
        Ok(())
    };
    write()?;
    let newest = list
        .indexes
        .iter()
        .flat_map(|e| e.tie.iter().chain([&e.rows_file, &e.keys_file]))
        .map(|t| t.ctime_ns)
        .max();
    for _ in 0..500 {
        let now = tie_of(&zdir, SORTED_LIST)?.mtime_ns;
        if newest.is_none_or(|n| now > n) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        write()?;
    }
    Ok(())
}

/// The names of the columns `ds` lists a sorted index for (current or not).
pub fn indexed_columns(ds: &Dataset) -> Vec<String> {
    read_list(ds.path())
        .map(|l| l.indexes.into_iter().map(|e| e.column).collect())
        .unwrap_or_default()
}

/// The sorted values of an index, mapped.
#[derive(Debug)]
enum Keys {
    Bool(MmapArray<bool>),
    I8(MmapArray<i8>),
    I16(MmapArray<i16>),
    I32(MmapArray<i32>),
    I64(MmapArray<i64>),
    U8(MmapArray<u8>),
    U16(MmapArray<u16>),
    U32(MmapArray<u32>),
    U64(MmapArray<u64>),
    F32(MmapArray<f32>),
    F64(MmapArray<f64>),
}

/// Calls `$f` with the keys as a slice and a function from a key to a [`Num`].
macro_rules! with_keys {
    ($keys:expr, $scale:expr, |$s:ident, $num:ident| $body:expr) => {{
        let scale: i128 = $scale;
        match $keys {
            Keys::Bool(a) => {
                let $s = a.as_slice()?;
                let $num = |v: &bool| Num::I(i128::from(*v));
                $body
            }
            Keys::I8(a) => with_keys!(@int a, scale, $s, $num, $body),
            Keys::I16(a) => with_keys!(@int a, scale, $s, $num, $body),
            Keys::I32(a) => with_keys!(@int a, scale, $s, $num, $body),
            Keys::I64(a) => with_keys!(@int a, scale, $s, $num, $body),
            Keys::U8(a) => with_keys!(@int a, scale, $s, $num, $body),
            Keys::U16(a) => with_keys!(@int a, scale, $s, $num, $body),
            Keys::U32(a) => with_keys!(@int a, scale, $s, $num, $body),
            Keys::U64(a) => with_keys!(@int a, scale, $s, $num, $body),
            Keys::F32(a) => {
                let $s = a.as_slice()?;
                let $num = |v: &f32| Num::F(f64::from(*v));
                $body
            }
            Keys::F64(a) => {
                let $s = a.as_slice()?;
                let $num = |v: &f64| Num::F(*v);
                $body
            }
        }
    }};
    (@int $a:ident, $scale:ident, $s:ident, $num:ident, $body:expr) => {{
        let $s = $a.as_slice()?;
        let $num = |v: &_| Num::I(i128::from(*v) * $scale);
        $body
    }};
}

/// A current sorted index of one column, mapped.
#[derive(Debug)]
pub struct SortedIndex {
    column: String,
    rows: u64,
    values: u64,
    perm: MmapArray<i64>,
    keys: Keys,
    /// Nanoseconds per stored unit of a datetime column (1 for the others).
    scale: i128,
    /// A datetime column.
    time: bool,
}

impl SortedIndex {
    /// The sorted index of `column` of `ds`, checked against the column's files and its own.
    ///
    /// # Errors
    /// Whenever the index may not be used, with the reason: [`Error::Invalid`] for a dataset
    /// without one for that column, or one that is stale (the column's files changed: a value
    /// edited, an append) or damaged (its files changed, truncated, or not of the column's
    /// dtype and row count); [`Error::Io`] when its files cannot be read. Callers then do
    /// without it.
    pub fn open(ds: &Dataset, column: &str) -> Result<SortedIndex> {
        let c = ds.column(column)?;
        let list_path = ds.path().join(ZONES_DIR).join(SORTED_LIST);
        let list = read_list(ds.path())?;
        let Some(e) = list.indexes.iter().find(|e| e.column == column) else {
            return Err(Error::invalid(
                &list_path,
                format!(
                    "no sorted index of column {column:?} (`larder index --sorted` builds one)"
                ),
            ));
        };
        let refuse = |why: String| Error::invalid(&list_path, format!("column {column:?}: {why}"));
        if e.dtype != c.manifest().dtype {
            return Err(refuse(format!(
                "its dtype is now {}, was {}",
                c.manifest().dtype,
                e.dtype
            )));
        }
        if e.rows != ds.rows() || e.values > e.rows {
            return Err(refuse(format!(
                "the sorted index describes {} rows, the dataset has {} (changed since it was \
                 built)",
                e.rows,
                ds.rows()
            )));
        }
        let now = column_tie(ds, &c)?;
        if now != e.tie {
            return Err(refuse("its files changed since the sorted index was built".into()));
        }
        let zdir = ds.path().join(ZONES_DIR);
        let (rows_name, keys_name) = file_names(&c.manifest().file);
        for (t, name) in [(&e.rows_file, &rows_name), (&e.keys_file, &keys_name)] {
            if t.file != *name {
                return Err(refuse(format!("the index names {:?}, expected {name:?}", t.file)));
            }
            let now = tie_of(&zdir, name)?;
            if now != *t {
                return Err(refuse(format!(
                    "{} changed since the sorted index was built ({} bytes, was {})",
                    name, now.len, t.len
                )));
            }
        }
        let rows = usize::try_from(e.rows).map_err(|e| Error::internal(e.to_string()))?;
        let perm = MmapArray::<i64>::open(zdir.join(&rows_name))?;
        let one_per_row = |shape: &[usize], path: &Path| {
            if shape == [rows] {
                Ok(())
            } else {
                Err(Error::invalid(path, format!("holds shape {shape:?}, expected [{rows}]")))
            }
        };
        one_per_row(perm.shape(), perm.path())?;
        let keys_path = zdir.join(&keys_name);
        let keys = match c.element()? {
            ElementType::Bool => Keys::Bool(MmapArray::open(&keys_path)?),
            ElementType::I8 => Keys::I8(MmapArray::open(&keys_path)?),
            ElementType::I16 => Keys::I16(MmapArray::open(&keys_path)?),
            ElementType::I32 => Keys::I32(MmapArray::open(&keys_path)?),
            ElementType::I64 => Keys::I64(MmapArray::open(&keys_path)?),
            ElementType::U8 => Keys::U8(MmapArray::open(&keys_path)?),
            ElementType::U16 => Keys::U16(MmapArray::open(&keys_path)?),
            ElementType::U32 => Keys::U32(MmapArray::open(&keys_path)?),
            ElementType::U64 => Keys::U64(MmapArray::open(&keys_path)?),
            ElementType::F32 => Keys::F32(MmapArray::open(&keys_path)?),
            ElementType::F64 => Keys::F64(MmapArray::open(&keys_path)?),
            other => {
                return Err(refuse(format!("{} values have no sorted index", other.name())));
            }
        };
        let shape = match &keys {
            Keys::Bool(a) => a.shape().to_vec(),
            Keys::I8(a) => a.shape().to_vec(),
            Keys::I16(a) => a.shape().to_vec(),
            Keys::I32(a) => a.shape().to_vec(),
            Keys::I64(a) => a.shape().to_vec(),
            Keys::U8(a) => a.shape().to_vec(),
            Keys::U16(a) => a.shape().to_vec(),
            Keys::U32(a) => a.shape().to_vec(),
            Keys::U64(a) => a.shape().to_vec(),
            Keys::F32(a) => a.shape().to_vec(),
            Keys::F64(a) => a.shape().to_vec(),
        };
        one_per_row(&shape, &keys_path)?;
        let (scale, time) = match c.dtype()?.time() {
            Some(Time::DateTime(u)) => (i128::from(u.nanos()), true),
            _ => (1, false),
        };
        Ok(SortedIndex {
            column: column.to_string(),
            rows: e.rows,
            values: e.values,
            perm,
            keys,
            scale,
            time,
        })
    }

    /// The column indexed.
    pub fn column(&self) -> &str {
        &self.column
    }

    /// Rows in the dataset.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows holding a value: positions `0..values()` of the order, ascending; the missing
    /// values and NaN come after, in row order.
    pub fn values(&self) -> u64 {
        self.values
    }

    /// The first position of the order whose value is not below `bound` (`after_equal`:
    /// above it), among the positions holding a value. Datetimes compare in nanoseconds.
    ///
    /// # Errors
    /// Errors reading the mapped keys.
    pub(crate) fn position(&self, bound: Num, after_equal: bool) -> Result<u64> {
        let n = usize::try_from(self.values).map_err(|e| Error::internal(e.to_string()))?;
        let p = with_keys!(&self.keys, self.scale, |s, num| {
            let s = s.get(..n).ok_or_else(|| Error::internal("keys shorter than the index"))?;
            s.partition_point(|v| match super::prune::cmp(num(v), bound) {
                Some(std::cmp::Ordering::Less) => true,
                Some(std::cmp::Ordering::Equal) => after_equal,
                _ => false,
            })
        });
        Ok(p as u64)
    }

    /// The value at position `i` of the order (in nanoseconds for a datetime).
    ///
    /// # Errors
    /// [`Error::Argument`] for a position past the rows.
    pub(crate) fn key(&self, i: u64) -> Result<Num> {
        let i = usize::try_from(i).map_err(|e| Error::internal(e.to_string()))?;
        with_keys!(&self.keys, self.scale, |s, num| s
            .get(i)
            .map(num)
            .ok_or_else(|| Error::argument(format!("position {i} past the sorted index"))))
    }

    /// The row numbers at positions `at` of the order, as they are stored.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the row-number file for an entry that is not a row of the
    /// dataset (a damaged index); [`Error::Argument`] for positions past the rows.
    pub fn rows_at(&self, at: Range<u64>) -> Result<Vec<u64>> {
        let s = self.perm.as_slice()?;
        let (a, b) = (
            usize::try_from(at.start).map_err(|e| Error::internal(e.to_string()))?,
            usize::try_from(at.end).map_err(|e| Error::internal(e.to_string()))?,
        );
        let part = s.get(a..b).ok_or_else(|| {
            Error::argument(format!("positions {a}..{b} past the sorted index of {} rows", s.len()))
        })?;
        part.iter()
            .enumerate()
            .map(|(k, &r)| {
                u64::try_from(r).ok().filter(|&r| r < self.rows).ok_or_else(|| {
                    Error::invalid(
                        self.perm.path(),
                        format!("entry {} is row {r}, not a row of the {} rows", a + k, self.rows),
                    )
                })
            })
            .collect()
    }
}

/// A bound of a probe: the value, and whether it is included.
type Bound = Option<(Num, bool)>;

impl SortedIndex {
    /// The positions of the order that hold every row for which `expr` may be true, when its
    /// top-level `AND` terms bound the indexed column (`=`, `<`, `<=`, `>`, `>=` against a
    /// value, `BETWEEN`); `None` when they do not (the index cannot narrow the rows). Rows
    /// outside these positions are certain not to match; those inside still need evaluating.
    ///
    /// # Errors
    /// Errors reading the mapped keys.
    pub fn probe(&self, expr: &Expr) -> Result<Option<Range<u64>>> {
        let (mut lo, mut hi): (Bound, Bound) = (None, None);
        let mut terms = vec![expr];
        let mut bounded = false;
        while let Some(e) = terms.pop() {
            match e {
                Expr::Binary { op: BinaryOp::And, left, right } => {
                    terms.push(left);
                    terms.push(right);
                }
                Expr::Binary { op, left, right } if op.is_comparison() => {
                    let (op, v) = match (self.is_column(left), literal(right), literal(left)) {
                        (true, Some(v), _) => (*op, v),
                        (false, _, Some(v)) if self.is_column(right) => (op.flipped(), v),
                        _ => continue,
                    };
                    let Some(v) = self.num(&v) else { continue };
                    let (l, h) = match op {
                        BinaryOp::Eq => (Some((v, true)), Some((v, true))),
                        BinaryOp::Lt => (None, Some((v, false))),
                        BinaryOp::Le => (None, Some((v, true))),
                        BinaryOp::Gt => (Some((v, false)), None),
                        BinaryOp::Ge => (Some((v, true)), None),
                        _ => continue,
                    };
                    bounded = true;
                    lo = tighter(lo, l, true);
                    hi = tighter(hi, h, false);
                }
                Expr::Between { expr, low, high, negated: false } if self.is_column(expr) => {
                    let (Some(l), Some(h)) = (
                        literal(low).and_then(|v| self.num(&v)),
                        literal(high).and_then(|v| self.num(&v)),
                    ) else {
                        continue;
                    };
                    bounded = true;
                    lo = tighter(lo, Some((l, true)), true);
                    hi = tighter(hi, Some((h, true)), false);
                }
                _ => {}
            }
        }
        if !bounded {
            return Ok(None);
        }
        let start = match lo {
            Some((v, incl)) => self.position(v, !incl)?,
            None => 0,
        };
        let end = match hi {
            Some((v, incl)) => self.position(v, incl)?,
            None => self.values,
        };
        Ok(Some(start..end.max(start)))
    }

    fn is_column(&self, e: &Expr) -> bool {
        matches!(e, Expr::Column { name, .. } if *name == self.column)
    }

    /// `v` as the keys compare, `None` for a value of another kind, NULL or NaN (left to the
    /// evaluation).
    fn num(&self, v: &Literal) -> Option<Num> {
        let time = self.time;
        match v {
            Literal::Time(ns) if time => Some(Num::I(i128::from(*ns))),
            Literal::Int(i) if !time => Some(Num::I(i128::from(*i))),
            Literal::UInt(u) if !time => Some(Num::I(i128::from(*u))),
            Literal::Float(f) if !time && !f.is_nan() => Some(Num::F(*f)),
            Literal::Bool(b) if matches!(self.keys, Keys::Bool(_)) => Some(Num::I(i128::from(*b))),
            _ => None,
        }
    }
}

/// The tighter of two bounds: the larger lower bound (`lower`) or the smaller upper one; an
/// excluded bound is tighter than the same value included.
fn tighter(a: Bound, b: Bound, lower: bool) -> Bound {
    use std::cmp::Ordering::{Greater, Less};
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some((x, xi)), Some((y, yi))) => match super::prune::cmp(x, y) {
            Some(Less) => Some(if lower { (y, yi) } else { (x, xi) }),
            Some(Greater) => Some(if lower { (x, xi) } else { (y, yi) }),
            _ => Some((x, xi && yi)),
        },
    }
}
