//! Group-by over a column dataset: direct-indexed tables, no hashing.
//!
//! A dataset is a directory of one-dimensional `.npy` columns of equal length described by a
//! `manifest.json`, as `larder convert` writes it:
//!
//! ```text
//! {"columns": [{"name": "product", "file": "product.npy", "dtype": "|u1",
//!               "categories": ["apple", "pear"]},
//!              {"name": "bytes", "file": "bytes.npy", "dtype": "<i8"}],
//!  "rows": 2, "rejected": 0, "source": {...}}
//! ```
//!
//! The grouping column is categorical (integer codes into `categories`), a small-range integer
//! column, or a `datetime64` column cut into fixed-width time buckets (`buckets.rs`); either way
//! a row's group is an index into flat tables, one slot per group.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::buckets::{Buckets, Every, buckets};
use super::kernel::{Reduce, Sum};
use super::masked::MaskedChunks;
use super::stats::{Number, complex_refused, summary_basic};
use super::tree_reduce;
use crate::dataset::{Categories, ColumnKind, Dataset};
use crate::dtype::{ElementType, TimeUnit, dispatch_element, format_datetime};
use crate::error::{Error, Result};
use crate::npy::{MmapArray, MmapChunks, read_header};

/// Rows per parallel work item.
pub(super) const ROWS: usize = 1 << 18;
/// Most groups a grouping column may have (the size of the direct-indexed tables).
pub const MAX_GROUPS: usize = 1 << 20;

/// What an aggregate computes per group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggKind {
    /// Rows in the group (`count`), or non-NaN values of a column (`count:COL`).
    Count,
    /// Sum of the non-NaN values; exact for integer columns.
    Sum,
    /// Mean of the non-NaN values.
    Mean,
    /// Smallest non-NaN value.
    Min,
    /// Largest non-NaN value.
    Max,
}

/// One aggregate: `count`, or `KIND:COLUMN` with KIND one of count, sum, mean, min, max;
/// COLUMN is everything after the first `:` (a column's name, or its header text).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Agg {
    /// What is computed.
    pub kind: AggKind,
    /// Over which column; `None` only for the group size `count`.
    pub column: Option<String>,
}

/// Aggregates named in code rather than parsed from text (`"mean:latency".parse()`), the same
/// values: `[Agg::count(), Agg::sum("status"), Agg::mean("latency")]`.
impl Agg {
    /// `count`: rows in the group.
    pub fn count() -> Agg {
        Agg { kind: AggKind::Count, column: None }
    }

    /// `KIND:COLUMN`, e.g. `Agg::of(AggKind::Max, "bytes")`.
    pub fn of(kind: AggKind, column: impl Into<String>) -> Agg {
        Agg { kind, column: Some(column.into()) }
    }

    /// `count:COLUMN`: the column's values that are neither missing nor NaN.
    pub fn count_of(column: impl Into<String>) -> Agg {
        Agg::of(AggKind::Count, column)
    }

    /// `sum:COLUMN`.
    pub fn sum(column: impl Into<String>) -> Agg {
        Agg::of(AggKind::Sum, column)
    }

    /// `mean:COLUMN`.
    pub fn mean(column: impl Into<String>) -> Agg {
        Agg::of(AggKind::Mean, column)
    }

    /// `min:COLUMN`.
    pub fn min(column: impl Into<String>) -> Agg {
        Agg::of(AggKind::Min, column)
    }

    /// `max:COLUMN`.
    pub fn max(column: impl Into<String>) -> Agg {
        Agg::of(AggKind::Max, column)
    }
}

impl FromStr for Agg {
    type Err = Error;
    fn from_str(s: &str) -> Result<Agg> {
        // Everything after the first `:` is the column's name, `:` and all; an empty one is
        // the column whose header name is empty (pandas' `Unnamed: N`).
        let (kind, column) = match s.split_once(':') {
            Some((k, c)) => (k, Some(c.to_string())),
            None => (s, None),
        };
        let kind = match kind {
            "count" => AggKind::Count,
            "sum" => AggKind::Sum,
            "mean" => AggKind::Mean,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            _ => {
                return Err(Error::argument(format!(
                    "aggregate {s:?}: unknown kind {kind:?} (count, sum, mean, min, max)"
                )));
            }
        };
        if column.is_none() && kind != AggKind::Count {
            return Err(Error::argument(format!("aggregate {s:?} needs a column: {s}:COLUMN")));
        }
        Ok(Agg { kind, column })
    }
}

impl fmt::Display for Agg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            AggKind::Count => "count",
            AggKind::Sum => "sum",
            AggKind::Mean => "mean",
            AggKind::Min => "min",
            AggKind::Max => "max",
        };
        match &self.column {
            Some(c) => write!(f, "{k}:{c}"),
            None => f.write_str(k),
        }
    }
}

/// A group's key: a category label, an integer value of the grouping column, or the start of a
/// time bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupKey {
    /// A categorical column's label.
    Label(String),
    /// An integer column's value.
    Int(i128),
    /// The start of a time bucket of a `datetime64` column, in the column's unit.
    DateTime(i64, TimeUnit),
    /// A `bool` column's value.
    Bool(bool),
}

impl Serialize for GroupKey {
    /// A label as a string, an integer as a number, a bucket start as an ISO 8601 string, a
    /// bool as `true`/`false`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            GroupKey::Label(l) => s.serialize_str(l),
            GroupKey::Int(i) => s.serialize_i128(*i),
            GroupKey::DateTime(v, u) => s.serialize_str(&format_datetime(*v, *u)),
            GroupKey::Bool(b) => s.serialize_bool(*b),
        }
    }
}

/// As pandas prints the key: the label, the integer, the bucket start in ISO 8601
/// (`2024-03-01T10`), `True`/`False`.
impl std::fmt::Display for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupKey::Label(l) => f.write_str(l),
            GroupKey::Int(i) => write!(f, "{i}"),
            GroupKey::DateTime(v, u) => f.write_str(&format_datetime(*v, *u)),
            GroupKey::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
        }
    }
}

/// The result of [`groupby`]: one row per non-empty group, in order of code (categorical) or
/// value (integer column).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupBy {
    /// The grouping column.
    pub by: String,
    /// The group keys.
    pub keys: Vec<GroupKey>,
    /// For each aggregate, in the order asked, its name (`sum:duration`) and one value per group.
    pub columns: Vec<(String, Vec<Number>)>,
}

impl Serialize for GroupBy {
    /// `{"by": ..., "keys": [...], "aggregates": {"count": [...], "sum:duration": [...]}}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Cols<'a>(&'a [(String, Vec<Number>)]);
        impl Serialize for Cols<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("by", &self.by)?;
        m.serialize_entry("keys", &self.keys)?;
        m.serialize_entry("aggregates", &Cols(&self.columns))?;
        m.end()
    }
}

/// Group sizes and one table per value column.
type Tables = (Vec<u64>, Vec<Table>);

/// Per-group accumulators of one value column.
#[derive(Clone, Debug)]
struct Table {
    n: Vec<u64>,
    sum: Vec<Sum>,
    fmin: Vec<f64>,
    fmax: Vec<f64>,
    imin: Vec<i128>,
    imax: Vec<i128>,
}

impl Table {
    fn new(groups: usize, float: bool) -> Table {
        let (f, i) = if float { (groups, 0) } else { (0, groups) };
        Table {
            n: vec![0; groups],
            sum: vec![Sum::default(); groups],
            fmin: vec![f64::INFINITY; f],
            fmax: vec![f64::NEG_INFINITY; f],
            imin: vec![i128::MAX; i],
            imax: vec![i128::MIN; i],
        }
    }

    /// Merges `o` (rows after these) in place.
    fn merge(&mut self, o: &Table) {
        for g in 0..self.n.len() {
            self.n[g] += o.n[g];
            self.sum[g].merge(&o.sum[g]);
        }
        for (a, &b) in self.fmin.iter_mut().zip(&o.fmin) {
            *a = if b < *a { b } else { *a };
        }
        for (a, &b) in self.fmax.iter_mut().zip(&o.fmax) {
            *a = if b > *a { b } else { *a };
        }
        for (a, &b) in self.imin.iter_mut().zip(&o.imin) {
            *a = (*a).min(b);
        }
        for (a, &b) in self.imax.iter_mut().zip(&o.imax) {
            *a = (*a).max(b);
        }
    }
}

/// A value column, its type erased.
trait ValueCol: Sync {
    fn is_float(&self) -> bool;
    fn fold(&self, r0: usize, codes: &[u32], t: &mut Table, extremes: bool) -> Result<()>;
}

/// The group code of a row whose key is missing: such rows belong to no group (pandas'
/// `dropna=True`).
pub(super) const NO_GROUP: u32 = u32::MAX;

pub(super) struct Typed<'a, T: Reduce> {
    pub(super) array: &'a MmapArray<T>,
    pub(super) data: &'a [T],
    /// The validity file's rows, for a column with missing values.
    valid: Option<&'a [bool]>,
    /// A `datetime64` column: its `NaT` values (`i64::MIN`) are missing too.
    nat: bool,
}

fn typed<'a, T: Reduce>(
    a: &'a MmapArray<T>,
    rows: usize,
    valid: Option<&'a MmapArray<bool>>,
) -> Result<Typed<'a, T>> {
    let check = |p: &Path, shape: &[usize]| {
        if shape == [rows] {
            Ok(())
        } else {
            Err(Error::invalid(p, format!("has shape {shape:?}, the manifest says {rows} rows")))
        }
    };
    check(a.path(), a.shape())?;
    let data = a.as_slice()?;
    a.advise(crate::sys::Access::Sequential)?;
    let valid = match valid {
        Some(v) => {
            check(v.path(), v.shape())?;
            Some(v.as_slice()?)
        }
        None => None,
    };
    Ok(Typed { array: a, data, valid, nat: false })
}

impl<T: Reduce> Typed<'_, T> {
    /// True unless row `r` is marked missing.
    #[inline]
    pub(super) fn present(&self, r: usize) -> bool {
        self.valid.is_none_or(|v| v[r])
    }
}

impl<T: Reduce> Typed<'_, T> {
    pub(super) fn release(&self, r0: usize, len: usize) -> Result<()> {
        let size = std::mem::size_of::<T>();
        self.array.release_range(r0 * size, len * size)
    }
}

impl<T: Reduce> ValueCol for Typed<'_, T> {
    fn is_float(&self) -> bool {
        T::IS_FLOAT
    }

    fn fold(&self, r0: usize, codes: &[u32], t: &mut Table, extremes: bool) -> Result<()> {
        let x = &self.data[r0..r0 + codes.len()];
        if T::IS_FLOAT {
            for (i, (&g, &v)) in codes.iter().zip(x).enumerate() {
                if g == NO_GROUP || !self.present(r0 + i) {
                    continue;
                }
                let (g, v) = (g as usize, v.to_f64());
                if !v.is_nan() {
                    t.n[g] += 1;
                    t.sum[g].add_f64(v);
                    if extremes {
                        t.fmin[g] = if v < t.fmin[g] { v } else { t.fmin[g] };
                        t.fmax[g] = if v > t.fmax[g] { v } else { t.fmax[g] };
                    }
                }
            }
        } else {
            for (i, (&g, &v)) in codes.iter().zip(x).enumerate() {
                if g == NO_GROUP || !self.present(r0 + i) {
                    continue;
                }
                let (g, v) = (g as usize, v.to_i128());
                if self.nat && v == i128::from(i64::MIN) {
                    continue;
                }
                t.n[g] += 1;
                t.sum[g].int += v;
                if extremes {
                    t.imin[g] = t.imin[g].min(v);
                    t.imax[g] = t.imax[g].max(v);
                }
            }
        }
        self.release(r0, codes.len())
    }
}

/// A column counted by presence alone (`count:COL` of a string column): a row counts unless
/// its validity file marks it missing.
struct Presence<'a> {
    valid: Option<&'a [bool]>,
}

fn presence<'a>(rows: usize, valid: Option<&'a MmapArray<bool>>) -> Result<Box<dyn ValueCol + 'a>> {
    let valid = match valid {
        Some(v) if v.shape() != [rows] => {
            return Err(Error::invalid(
                v.path(),
                format!("has shape {:?}, the manifest says {rows} rows", v.shape()),
            ));
        }
        Some(v) => Some(v.as_slice()?),
        None => None,
    };
    Ok(Box::new(Presence { valid }))
}

impl ValueCol for Presence<'_> {
    fn is_float(&self) -> bool {
        false
    }

    fn fold(&self, r0: usize, codes: &[u32], t: &mut Table, _extremes: bool) -> Result<()> {
        for (i, &g) in codes.iter().enumerate() {
            if g != NO_GROUP && self.valid.is_none_or(|v| v[r0 + i]) {
                t.n[g as usize] += 1;
            }
        }
        Ok(())
    }
}

/// The grouping column, its type erased.
pub(super) trait KeyCol: Sync {
    /// Writes the group index of rows `r0..r0 + out.len()`.
    fn codes(&self, r0: usize, out: &mut [u32]) -> Result<()>;
}

struct KeyTyped<'a, T: Reduce> {
    col: Typed<'a, T>,
    offset: i128,
    groups: usize,
}

impl<T: Reduce> KeyCol for KeyTyped<'_, T> {
    fn codes(&self, r0: usize, out: &mut [u32]) -> Result<()> {
        let x = &self.col.data[r0..r0 + out.len()];
        for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            if !self.col.present(r0 + i) {
                *o = NO_GROUP;
                continue;
            }
            let c = v.to_i128() - self.offset;
            match u32::try_from(c) {
                Ok(c) if (c as usize) < self.groups => *o = c,
                _ => {
                    return Err(Error::invalid(
                        self.col.array.path(),
                        format!(
                            "row {}: code {} is not one of the {} categories",
                            r0 + i,
                            c + self.offset,
                            self.groups
                        ),
                    ));
                }
            }
        }
        self.col.release(r0, out.len())
    }
}

fn key_col<'a, T: Reduce>(
    a: &'a MmapArray<T>,
    rows: usize,
    categories: Option<usize>,
    valid: Option<&'a MmapArray<bool>>,
) -> Result<KeyParts<'a>> {
    if T::IS_FLOAT {
        return Err(Error::invalid(
            a.path(),
            "cannot group by a float column; use a categorical or integer column",
        ));
    }
    let col = typed(a, rows, valid)?;
    let (offset, groups) = if let Some(n) = categories {
        (0, n)
    } else {
        {
            // The range of the values present: a missing value's placeholder is no group.
            let s = match valid {
                Some(v) => summary_basic(&MaskedChunks::new(a, v)?)?,
                None => summary_basic(&MmapChunks::new(a)?)?,
            };
            let int = |n| match n {
                Some(Number::Int(i)) => Some(i),
                Some(Number::Bool(b)) => Some(i128::from(b)),
                _ => None,
            };
            match (int(s.min), int(s.max)) {
                (Some(lo), Some(hi)) => {
                    let span = usize::try_from(hi - lo + 1).unwrap_or(usize::MAX);
                    if span > MAX_GROUPS {
                        return Err(Error::invalid(
                            a.path(),
                            format!(
                                "values span {lo}..={hi}, more than {MAX_GROUPS} groups; \
                             group by a categorical column instead"
                            ),
                        ));
                    }
                    (lo, span)
                }
                _ => (0, 0),
            }
        }
    };
    Ok((Box::new(KeyTyped { col, offset, groups }), offset, groups))
}

/// A mapped column of a real element type learnt from its file, able to lend itself as a key
/// or value column of a group-by.
trait Column: Sync {
    fn path(&self) -> &Path;
    fn element(&self) -> ElementType;
    /// `nat`: the column holds `datetime64` values, whose `NaT` is missing.
    fn values<'a>(
        &'a self,
        rows: usize,
        valid: Option<&'a MmapArray<bool>>,
        nat: bool,
    ) -> Result<Box<dyn ValueCol + 'a>>;
    fn key<'a>(
        &'a self,
        rows: usize,
        categories: Option<usize>,
        valid: Option<&'a MmapArray<bool>>,
    ) -> Result<KeyParts<'a>>;
    /// The column's `datetime64` values cut into buckets `width` units wide.
    fn buckets<'a>(
        &'a self,
        rows: usize,
        valid: Option<&'a MmapArray<bool>>,
        width: i64,
        label: &str,
    ) -> Result<Buckets<'a>>;
}

/// A key column, the value of its group 0, and the number of groups.
type KeyParts<'a> = (Box<dyn KeyCol + 'a>, i128, usize);

impl dyn Column {
    /// Maps the dataset column `c` with the element type its header declares, as many rows as
    /// the manifest says ([`crate::dataset::Column::values`]).
    fn open(c: &crate::dataset::Column<'_>) -> Result<Box<dyn Column>> {
        let path = c.file();
        let element = read_header(&path)?.dtype.element();
        dispatch_element!(element,
            T => Ok(Box::new(c.values::<T>()?) as Box<dyn Column>),
            complex _C => Err(complex_refused(&path)))
    }
}

impl<T: Reduce> Column for MmapArray<T> {
    fn path(&self) -> &Path {
        MmapArray::path(self)
    }
    fn element(&self) -> ElementType {
        T::TYPE
    }
    fn values<'a>(
        &'a self,
        rows: usize,
        valid: Option<&'a MmapArray<bool>>,
        nat: bool,
    ) -> Result<Box<dyn ValueCol + 'a>> {
        Ok(Box::new(Typed { nat, ..typed(self, rows, valid)? }))
    }
    fn key<'a>(
        &'a self,
        rows: usize,
        categories: Option<usize>,
        valid: Option<&'a MmapArray<bool>>,
    ) -> Result<KeyParts<'a>> {
        key_col(self, rows, categories, valid)
    }
    fn buckets<'a>(
        &'a self,
        rows: usize,
        valid: Option<&'a MmapArray<bool>>,
        width: i64,
        label: &str,
    ) -> Result<Buckets<'a>> {
        buckets(typed(self, rows, valid)?, width, label)
    }
}

/// Groups the rows of the dataset in `dir` by column `by` and computes `aggs` per group.
///
/// Rows are processed in parallel in fixed blocks, each into its own direct-indexed tables
/// (one slot per group); the tables merge along a fixed tree, so the result is deterministic.
/// Float sums are compensated (Kahan–Neumaier), integer sums exact; NaN values are skipped, as
/// pandas and polars skip them. Memory: a block of rows per thread plus a few tables.
///
/// ```
/// use larder::compute::{self, Agg, GroupKey, Number};
/// use larder::convert::ConvertOptions;
/// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
/// # let csv = dir.path().join("t.csv");
/// # std::fs::write(&csv, "region,latency\neu,10\nus,20\neu,30\n,40\n").map_err(|e| larder::Error::io(&csv, e))?;
/// let out = dir.path().join("t");
/// ConvertOptions::new().convert(&csv, &out, &mut |_| {})?;
///
/// // pandas: df.groupby("region").agg(n=("latency", "size"), mean=("latency", "mean"))
/// let aggs: Vec<Agg> = vec!["count".parse()?, "mean:latency".parse()?];
/// let g = compute::groupby(&out, "region", &aggs)?;
/// let eu = g.keys.iter().position(|k| *k == GroupKey::Label("eu".into())).unwrap();
/// assert_eq!(g.columns[0].1[eu], Number::Int(2));
/// assert_eq!(g.columns[1].1[eu].to_string(), "20.0");
/// assert_eq!(g.keys.len(), 2); // the row with no region is in no group, as in pandas
/// # Ok::<(), larder::Error>(())
/// ```
///
/// # Errors
/// [`Error::Io`]/[`Error::Format`] for a missing or bad manifest; [`Error::Invalid`] (naming the file) for an
/// unknown column, a float or complex column as key or value, a key column whose values span
/// more than [`MAX_GROUPS`], a categorical code outside its categories (naming the row), or a
/// column whose length differs from the manifest's row count; as [`MmapArray::open`].
///
/// A `datetime64` key column groups by exact value, i.e. in buckets one unit of the column
/// wide (see [`groupby_every`]).
pub fn groupby(dir: impl AsRef<Path>, by: &str, aggs: &[Agg]) -> Result<GroupBy> {
    group(dir.as_ref(), by, None, aggs, None)
}

/// [`groupby`] (or with `every`, [`groupby_every`]) over the rows where the filter `filter`
/// holds (see [`crate::query`]): the other rows belong to no group, and a group none of whose
/// rows match is left out, as `df.query(filter).groupby(by)` gives.
///
/// # Errors
/// As [`groupby`] and [`Filter::new`](crate::query::Filter::new).
pub fn groupby_where(
    dir: impl AsRef<Path>,
    by: &str,
    every: Option<Every>,
    aggs: &[Agg],
    filter: &str,
) -> Result<GroupBy> {
    group(dir.as_ref(), by, every, aggs, Some(filter))
}

/// Groups the rows of the dataset in `dir` into fixed-width time buckets of its `datetime64`
/// column `by` (bucket = `(t - t0) / every`, aligned to the Unix epoch as pandas'
/// `dt.floor(every)`) and computes `aggs` per bucket, as [`groupby`] does per group. Keys are
/// the bucket starts ([`GroupKey::DateTime`]); buckets without rows are left out; missing
/// timestamps and `NaT` belong to no bucket.
///
/// # Errors
/// As [`groupby`]; [`Error::Invalid`] for a key column that is not `datetime64`, a width that
/// is not a whole number of the column's unit, or timestamps spanning more than
/// [`MAX_TIME_BUCKETS`](crate::limits::MAX_TIME_BUCKETS) buckets.
pub fn groupby_every(
    dir: impl AsRef<Path>,
    by: &str,
    every: Every,
    aggs: &[Agg],
) -> Result<GroupBy> {
    group(dir.as_ref(), by, Some(every), aggs, None)
}

// The checks of the key and value columns, then the fold: one read from top to bottom.
#[allow(clippy::too_many_lines)]
fn group(
    dir: &Path,
    by: &str,
    every: Option<Every>,
    aggs: &[Agg],
    filter: Option<&str>,
) -> Result<GroupBy> {
    let ds = Dataset::open(dir)?;
    let rows = usize::try_from(ds.rows()).map_err(|_| Error::invalid(dir, "too many rows"))?;
    let kc = ds.column(by)?;
    if kc.kind() == ColumnKind::String {
        return Err(Error::invalid(
            kc.file(),
            format!(
                "column {by:?} is a string column; group by a categorical column instead \
                 (convert it with its type set to cat)"
            ),
        ));
    }
    let time = time_unit(&kc)?;
    if let (Some(e), None) = (every, time) {
        return Err(Error::invalid(
            kc.file(),
            format!(
                "column {by:?} is a {} column, not datetime64: buckets of {e} need timestamps",
                kc.kind().as_str()
            ),
        ));
    }
    let labels = kc.categories()?;
    let key_column = open_key(&kc)?;
    let key_valid = kc.validity()?;
    let (key, offset, step, groups) = if let Some(unit) = time {
        let (width, label) = match every {
            Some(e) => (e.in_units(unit).map_err(|m| Error::invalid(kc.file(), m))?, e.to_string()),
            None => (1, format!("1{}", unit.as_str())),
        };
        key_column.buckets(rows, key_valid.as_ref(), width, &label)?
    } else {
        let (k, offset, groups) =
            key_column.key(rows, labels.as_ref().map(Categories::len), key_valid.as_ref())?;
        (k, offset, 1, groups)
    };

    // Value columns, each opened once.
    let names = value_columns(aggs);
    check_values(&ds, aggs)?;
    let mut columns: Vec<Option<Box<dyn Column>>> = Vec::new();
    let mut valids = Vec::new();
    let mut units = Vec::new();
    for n in &names {
        let c = ds.column(n)?;
        units.push(time_unit(&c)?);
        // A string column's file holds bytes, not a value a row: only its presence is counted.
        let values = c.kind() != ColumnKind::String;
        columns.push(if values { Some(<dyn Column>::open(&c)?) } else { None });
        valids.push(c.validity()?);
    }
    let cols: Vec<Box<dyn ValueCol + '_>> = columns
        .iter()
        .zip(&valids)
        .zip(&units)
        .map(|((c, v), u)| match c {
            Some(c) => c.values(rows, v.as_ref(), u.is_some()),
            None => presence(rows, v.as_ref()),
        })
        .collect::<Result<_>>()?;
    let extremes: Vec<bool> = names
        .iter()
        .map(|n| {
            aggs.iter().any(|a| {
                a.column.as_deref() == Some(*n) && matches!(a.kind, AggKind::Min | AggKind::Max)
            })
        })
        .collect();
    // The rows a filter leaves out are in no group.
    let key = super::filtered::key_where(&ds, key, filter)?;
    let (size, tables) = fold_rows(rows, groups, key.as_ref(), &cols, &extremes)?;

    // Non-empty groups, in code order.
    let present: Vec<usize> = (0..groups).filter(|&g| size[g] > 0).collect();
    let keys = present
        .iter()
        .map(|&g| match (&labels, time) {
            (Some(labels), _) => Ok(GroupKey::Label(labels.get(g)?.to_string())),
            (None, Some(unit)) => i64::try_from(offset + g as i128 * step)
                .map(|t| GroupKey::DateTime(t, unit))
                .map_err(|_| {
                    Error::invalid(kc.file(), "a bucket starts before the datetime64 range")
                }),
            (None, None) => Ok(int_key(key_column.element(), offset + g as i128)),
        })
        .collect::<Result<_>>()?;
    let columns = aggs
        .iter()
        .map(|a| {
            let values = match &a.column {
                None => present.iter().map(|&g| Number::Int(i128::from(size[g]))).collect(),
                Some(name) => {
                    let i = names.iter().position(|n| n == name).unwrap_or(0);
                    let (t, float, c) = (&tables[i], cols[i].is_float(), columns[i].as_deref());
                    present
                        .iter()
                        .map(|&g| match units[i] {
                            Some(u) => time_value(a.kind, t, g, u),
                            None => bool_extreme(a.kind, value(a.kind, t, g, float), c),
                        })
                        .collect()
                }
            };
            (a.to_string(), values)
        })
        .collect();
    Ok(GroupBy { by: by.to_string(), keys, columns })
}

/// Refuses aggregates that mean nothing for their column: any but counts of categorical and
/// string columns, and sums of datetimes.
fn check_values(ds: &Dataset, aggs: &[Agg]) -> Result<()> {
    for a in aggs {
        if let Some(name) = &a.column
            && a.kind != AggKind::Count
        {
            let c = ds.column(name)?;
            match c.kind() {
                ColumnKind::DateTime if a.kind == AggKind::Sum => {
                    return Err(Error::invalid(
                        c.file(),
                        format!("column {name:?} holds datetimes, whose sum means nothing"),
                    ));
                }
                ColumnKind::Categorical => {
                    return Err(super::describe::refuse_categorical(&c.file(), name));
                }
                ColumnKind::String => {
                    return Err(super::describe::refuse_text(&c.file(), name, "a string column"));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The unit of a `datetime64` column; `None` for every other kind.
fn time_unit(c: &crate::dataset::Column<'_>) -> Result<Option<TimeUnit>> {
    Ok(match c.kind() {
        ColumnKind::DateTime => c.dtype()?.time().map(crate::dtype::Time::unit),
        _ => None,
    })
}

/// Opens the key column; a categorical one must hold unsigned codes.
fn open_key(kc: &crate::dataset::Column<'_>) -> Result<Box<dyn Column>> {
    let key_column = <dyn Column>::open(kc)?;
    if kc.kind() == ColumnKind::Categorical
        && !matches!(key_column.element(), ElementType::U8 | ElementType::U16 | ElementType::U32)
    {
        return Err(Error::invalid(
            key_column.path(),
            format!(
                "categorical column {:?} holds {}, expected uint8/16/32 codes",
                kc.name(),
                key_column.element().name()
            ),
        ));
    }
    Ok(key_column)
}

/// The distinct columns the aggregates read, in the order they are first named.
fn value_columns(aggs: &[Agg]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for a in aggs {
        if let Some(c) = &a.column
            && !names.contains(&c.as_str())
        {
            names.push(c);
        }
    }
    names
}

/// Group sizes and one table per value column, folded over fixed blocks of rows in parallel
/// and merged along a fixed tree.
fn fold_rows(
    rows: usize,
    groups: usize,
    key: &dyn KeyCol,
    cols: &[Box<dyn ValueCol + '_>],
    extremes: &[bool],
) -> Result<Tables> {
    let leaf = |b: usize| -> Result<Tables> {
        let r0 = b * ROWS;
        let mut codes = vec![0u32; ROWS.min(rows - r0)];
        key.codes(r0, &mut codes)?;
        let mut size = vec![0u64; groups];
        for &c in &codes {
            if c != NO_GROUP {
                size[c as usize] += 1;
            }
        }
        let mut tables = Vec::with_capacity(cols.len());
        for (c, &ext) in cols.iter().zip(extremes) {
            let mut t = Table::new(groups, c.is_float());
            c.fold(r0, &codes, &mut t, ext)?;
            tables.push(t);
        }
        Ok((size, tables))
    };
    let merge = |mut a: Tables, b: Tables| {
        a.0.iter_mut().zip(&b.0).for_each(|(x, y)| *x += y);
        a.1.iter_mut().zip(&b.1).for_each(|(x, y)| x.merge(y));
        a
    };
    Ok(tree_reduce(0, rows.div_ceil(ROWS), &leaf, &merge)?.unwrap_or_else(|| {
        (vec![0; groups], cols.iter().map(|c| Table::new(groups, c.is_float())).collect())
    }))
}

/// An aggregate of a `datetime64` value column: the min and max are values of the column; the
/// mean is the exact mean truncated toward zero to the column's unit (for days, to the second),
/// as pandas truncates it; a group without a time gets `NaT`, as in pandas; a count stays a
/// count. (A sum is refused before.)
fn time_value(kind: AggKind, t: &Table, g: usize, unit: TimeUnit) -> Number {
    let n = t.n[g];
    let v = match kind {
        AggKind::Count | AggKind::Sum => return value(kind, t, g, false),
        _ if n == 0 => return Number::DateTime(i64::MIN, unit),
        AggKind::Mean => return super::datetime::mean_time(t.sum[g].int, n, unit),
        AggKind::Min => t.imin[g],
        AggKind::Max => t.imax[g],
    };
    // The mean of values of a 64-bit column lies between them.
    i64::try_from(v).map_or(Number::Int(v), |v| Number::DateTime(v, unit))
}

/// The key of value `v` of an integer or bool column of element type `e`.
fn int_key(e: ElementType, v: i128) -> GroupKey {
    if e == ElementType::Bool { GroupKey::Bool(v != 0) } else { GroupKey::Int(v) }
}

/// The min and max of a bool column are bools, as in pandas.
fn bool_extreme(kind: AggKind, v: Number, column: Option<&dyn Column>) -> Number {
    let bools = column.is_some_and(|c| c.element() == ElementType::Bool);
    match v {
        Number::Int(i) if bools && matches!(kind, AggKind::Min | AggKind::Max) => {
            Number::Bool(i != 0)
        }
        v => v,
    }
}

#[allow(clippy::cast_precision_loss)]
fn value(kind: AggKind, t: &Table, g: usize, float: bool) -> Number {
    let n = t.n[g];
    let none = || Number::Float(f64::NAN);
    match kind {
        AggKind::Count => Number::Int(i128::from(n)),
        AggKind::Sum if float => Number::Float(t.sum[g].value()),
        AggKind::Sum => Number::Int(t.sum[g].int),
        AggKind::Mean => Number::Float(t.sum[g].value() / n as f64),
        AggKind::Min | AggKind::Max if n == 0 => none(),
        AggKind::Min if float => Number::Float(t.fmin[g]),
        AggKind::Max if float => Number::Float(t.fmax[g]),
        AggKind::Min => Number::Int(t.imin[g]),
        AggKind::Max => Number::Int(t.imax[g]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_named_in_code_equal_the_parsed_ones() {
        let built = [
            Agg::count(),
            Agg::count_of("x"),
            Agg::sum("duration"),
            Agg::mean("a:b"),
            Agg::min(""),
            Agg::max("bytes"),
            Agg::of(AggKind::Sum, "y"),
        ];
        let text = ["count", "count:x", "sum:duration", "mean:a:b", "min:", "max:bytes", "sum:y"];
        for (agg, text) in built.iter().zip(text) {
            assert_eq!(agg, &text.parse::<Agg>().unwrap(), "{text}");
            assert_eq!(agg.to_string(), text);
        }
    }

    #[test]
    fn aggregates_parse_and_print_back() {
        for s in ["count", "sum:duration", "mean:x", "min:a:b", "max:bytes", "count:x", "sum:"] {
            assert_eq!(s.parse::<Agg>().unwrap().to_string(), s);
        }
        // An empty column name is the column whose header name is empty.
        assert_eq!("sum:".parse::<Agg>().unwrap().column.as_deref(), Some(""));
        for bad in ["sum", "median:x", ""] {
            assert!(bad.parse::<Agg>().is_err(), "{bad}");
        }
    }
}
