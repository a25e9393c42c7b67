//! What `larder stats` computes for an array at a path: [`Stats`], the summary with an optional
//! histogram and quantiles, as [`StatsOptions`] ask, in as few passes as the options allow.

use std::path::Path;

use serde::Serialize;

use super::datetime::{DateTimeSummary, TimeDeltaSummary, datetime_summary, timedelta_summary};
use super::filtered::FilteredChunks;
use super::histogram::{Bins, Histogram, histogram, summary_and_histogram};
use super::kernel::Reduce;
use super::masked::{ColumnRows, MaskedChunks, null_count};
use super::present::{Missing, Present, missing_of};
use super::quantile::{Quantile, quantiles};
use super::stats::{Summary, complex_refused, store_summary};
use crate::dtype::{DType, Time, dispatch_element};
use crate::error::{Error, Result};
use crate::open::AnyStore;
use crate::store::ChunkSource;

/// What `larder stats` reports: the [`Summary`], and optionally a histogram and quantiles.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    /// Count, sum, mean, std, min, max, NaN count.
    #[serde(flatten)]
    pub summary: Summary,
    /// Equal bins between min and max, if asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
    /// Quantiles, if asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quantiles: Vec<Quantile>,
}

/// What [`StatsOptions::compute`] adds to the [`Summary`]: a histogram and quantiles.
///
/// ```
/// # use larder::NpyWriter;
/// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
/// # let path = dir.path().join("x.npy");
/// # let mut w = NpyWriter::<f64>::create(&path, &[])?;
/// # w.append(&[0.5, 1.0, 2.5, 9.0, f64::NAN])?;
/// # w.finish()?;
/// use larder::compute::StatsOptions;
///
/// // As np.histogram(a, bins=2, range=(0, 4)), in the same pass as the summary.
/// let s = StatsOptions::new().bins(2).range(0.0, 4.0).compute(&path)?;
/// let h = s.histogram.unwrap();
/// assert_eq!((h.edges, h.counts), (vec![0.0, 2.0, 4.0], vec![2, 1]));
/// assert_eq!(s.summary.count, 4);
/// # Ok::<(), larder::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsOptions {
    bins: Option<usize>,
    range: Option<(f64, f64)>,
    quantiles: Vec<f64>,
    /// Leave out std and var (`std(false)`); a `Default` of `false` keeps them.
    without_std: bool,
}

impl StatsOptions {
    /// The summary only.
    pub fn new() -> Self {
        StatsOptions::default()
    }

    /// Also a histogram of `count` equal bins: between min and max (one more pass over the
    /// data), or over [`range`](StatsOptions::range) if given (in the summary's pass).
    pub fn bins(&mut self, count: usize) -> &mut Self {
        self.bins = Some(count);
        self
    }

    /// The histogram's range, as numpy's `np.histogram(a, bins, range=(lo, hi))`: values
    /// outside it are not counted. With a given range the histogram is computed in the same
    /// pass as the summary. Needs [`bins`](StatsOptions::bins).
    pub fn range(&mut self, lo: f64, hi: f64) -> &mut Self {
        self.range = Some((lo, hi));
        self
    }

    /// Whether the summary has the standard deviation and variance (it does by default).
    /// Without them every other statistic comes from a single read of each tile, at the speed
    /// of memory (see [`summary_basic`](super::summary_basic)).
    pub fn std(&mut self, on: bool) -> &mut Self {
        self.without_std = !on;
        self
    }

    /// Also these quantiles (each in `[0, 1]`), as `np.nanquantile`; see [`quantiles`].
    pub fn quantiles(&mut self, qs: &[f64]) -> &mut Self {
        self.quantiles = qs.to_vec();
        self
    }

    /// Statistics of the array at `path` (`.npy`, Zarr or HDF5; any element type).
    ///
    /// # Errors
    /// As [`crate::open`] and [`summary`](super::summary); [`Error::Invalid`] naming the
    /// column files for a dataset directory; [`Error::Argument`] for a histogram or
    /// quantiles of a complex array, a range without bins, bad bins or range, or an automatic
    /// range that is not finite; [`Error::Invalid`] for a `datetime64` array, whose statistics
    /// are [`describe`](StatsOptions::describe)'s.
    pub fn compute(&self, path: impl AsRef<Path>) -> Result<Stats> {
        let path = path.as_ref();
        refuse_dataset(path)?;
        if let Some((ds, i)) = self.check_column(path)? {
            refuse_datetime(crate::npy::read_header(path)?.dtype, path)?;
            return match self.describe_column(&ds, i, path)? {
                Description::Numbers(s) => Ok(s),
                Description::DateTimes(_) | Description::TimeDeltas(_) => {
                    Err(Error::internal("times past their refusal"))
                }
            };
        }
        self.compute_store(&crate::open::open(path)?, path)
    }

    /// What `larder stats` prints for the array at `path`: [`compute`](StatsOptions::compute)'s
    /// [`Stats`] for numbers, a [`DateTimeSummary`] for `datetime64` values (count, mean, min,
    /// max as times; no sum, std or var).
    ///
    /// # Errors
    /// As [`compute`](StatsOptions::compute); [`Error::Argument`] for a histogram or quantiles
    /// of datetimes.
    pub fn describe(&self, path: impl AsRef<Path>) -> Result<Description> {
        let path = path.as_ref();
        refuse_dataset(path)?;
        let Some((ds, i)) = self.check_column(path)? else {
            return self.describe_store(&crate::open::open(path)?, path);
        };
        self.describe_column(&ds, i, path)
    }

    /// [`describe`](StatsOptions::describe) of the column file `path` of a dataset, over the
    /// rows where the filter `filter` holds (see [`crate::query`]), as
    /// `df.query(filter)[column].describe()`: `null_count` counts the matching rows that are
    /// missing. The filter is evaluated a block of rows at a time, once per pass.
    ///
    /// # Errors
    /// As [`describe`](StatsOptions::describe) and [`Filter::new`](crate::query::Filter::new);
    /// [`Error::Invalid`] for a file that is not a dataset's column.
    pub fn describe_where(&self, path: impl AsRef<Path>, filter: &str) -> Result<Description> {
        let path = path.as_ref();
        refuse_dataset(path)?;
        let Some((ds, i)) = self.check_column(path)? else {
            return Err(Error::invalid(
                path,
                "is not a column file of a dataset; a filter reads the dataset's columns",
            ));
        };
        let filter = crate::query::Filter::new(&ds, filter)?;
        let column = ds.nth_column(i)?;
        let dtype = crate::npy::read_header(path)?.dtype;
        let valid_file = column.validity()?;
        let valid = valid_file.as_ref().map(crate::npy::MmapArray::as_slice).transpose()?;
        let nulls = match valid {
            Some(v) => {
                let mut n = 0u64;
                let every = 0..ds.rows();
                filter.for_each_block(std::slice::from_ref(&every), |lo, mask| {
                    let lo = usize::try_from(lo).unwrap_or(usize::MAX);
                    n += mask.iter().zip(&v[lo..]).filter(|&(&m, &ok)| m && !ok).count() as u64;
                    Ok(())
                })?;
                Some(n)
            }
            None => None,
        };
        let filter = &filter;
        if let Some(time) = self.time_of(dtype, path)? {
            let values = column.values::<i64>()?;
            let src = FilteredChunks { values: values.as_slice()?, valid, filter };
            return Ok(match time {
                Time::DateTime(unit) => {
                    let mut s = datetime_summary(&src, unit)?;
                    s.null_count = nulls;
                    Description::DateTimes(s)
                }
                Time::TimeDelta(unit) => {
                    let mut s = timedelta_summary(&src, unit)?;
                    s.null_count = nulls;
                    Description::TimeDeltas(s)
                }
            });
        }
        let mut stats = dispatch_element!(dtype.element(),
            T => {
                let values = column.values::<T>()?;
                stats_typed(&FilteredChunks { values: values.as_slice()?, valid, filter }, self)
            },
            complex _C => Err(complex_refused(path)))?;
        stats.summary.null_count = nulls;
        Ok(Description::Numbers(stats))
    }

    /// [`describe`](StatsOptions::describe) of column `i` of `ds`, whose file is `path`.
    fn describe_column(
        &self,
        ds: &crate::dataset::Dataset,
        i: usize,
        path: &Path,
    ) -> Result<Description> {
        // A dataset's column, by its file (a dataset written before repeated names were
        // renamed has several columns of one name): as many rows as its manifest says (while
        // an append commits, a file's header may count fewer).
        let column = ds.nth_column(i)?;
        let dtype = crate::npy::read_header(path)?.dtype;
        let Some(valid) = column.validity()? else {
            let store: AnyStore = dispatch_element!(dtype.element(),
                T => crate::open::IntoAny::into_any(Box::new(column.values::<T>()?)),
                complex _C => return Err(complex_refused(path)));
            return self.describe_store(&store, path);
        };
        if let Some(time) = self.time_of(dtype, path)? {
            let values = column.values::<i64>()?;
            let masked = MaskedChunks::new(&values, &valid)?;
            let nulls = Some(null_count(&valid)?);
            return Ok(match time {
                Time::DateTime(unit) => {
                    let mut s = datetime_summary(&masked, unit)?;
                    s.null_count = nulls;
                    Description::DateTimes(s)
                }
                Time::TimeDelta(unit) => {
                    let mut s = timedelta_summary(&masked, unit)?;
                    s.null_count = nulls;
                    Description::TimeDeltas(s)
                }
            });
        }
        let mut stats = dispatch_element!(dtype.element(),
            T => stats_typed(&MaskedChunks::new(&column.values::<T>()?, &valid)?, self),
            complex _C => Err(complex_refused(path)))?;
        stats.summary.null_count = Some(null_count(&valid)?);
        Ok(Description::Numbers(stats))
    }

    /// [`describe`](StatsOptions::describe) of an opened store.
    ///
    /// # Errors
    /// As [`describe`](StatsOptions::describe).
    pub fn describe_store(&self, store: &AnyStore, path: &Path) -> Result<Description> {
        if let Some(missing) = missing_of(store, path)? {
            return self.describe_present(store, &missing, path);
        }
        match (self.time_of(store.dtype(), path)?, store) {
            (Some(Time::DateTime(unit)), AnyStore::I64(s)) => {
                Ok(Description::DateTimes(datetime_summary(&*s.chunk_source()?, unit)?))
            }
            (Some(Time::TimeDelta(unit)), AnyStore::I64(s)) => {
                Ok(Description::TimeDeltas(timedelta_summary(&*s.chunk_source()?, unit)?))
            }
            (Some(_), _) => Err(Error::internal("a time type stored other than as int64")),
            (None, _) => self.compute_store(store, path).map(Description::Numbers),
        }
    }

    /// [`describe_store`](StatsOptions::describe_store) of a column whose attributes say how
    /// its missing rows are stored (a dataset group's `_FillValue` or mask): those rows are
    /// skipped and counted as `null_count`, as for the column in a dataset directory.
    fn describe_present(
        &self,
        store: &AnyStore,
        missing: &Missing,
        path: &Path,
    ) -> Result<Description> {
        if let (Some(time), AnyStore::I64(s)) = (self.time_of(store.dtype(), path)?, store) {
            let present = Present::new(&**s, missing);
            let nulls = Some(present.null_count()?);
            return Ok(match time {
                Time::DateTime(unit) => {
                    let mut d = datetime_summary(&present, unit)?;
                    d.null_count = nulls;
                    Description::DateTimes(d)
                }
                Time::TimeDelta(unit) => {
                    let mut d = timedelta_summary(&present, unit)?;
                    d.null_count = nulls;
                    Description::TimeDeltas(d)
                }
            });
        }
        let (mut stats, nulls) = crate::store_dispatch!(store,
            s => {
                let present = Present::new(&**s, missing);
                stats_typed(&present, self).and_then(|st| Ok((st, present.null_count()?)))
            },
            complex _s => Err(complex_refused(path)))?;
        stats.summary.null_count = Some(nulls);
        Ok(Description::Numbers(stats))
    }

    /// The time type of `dtype`, if it has one; an error naming `path` when histograms or
    /// quantiles are asked of it.
    fn time_of(&self, dtype: DType, path: &Path) -> Result<Option<Time>> {
        let time = dtype.time();
        if let Some(t) = time
            && (self.bins.is_some() || !self.quantiles.is_empty())
        {
            let kind = match t {
                Time::DateTime(_) => "datetime64",
                Time::TimeDelta(_) => "timedelta64",
            };
            return Err(Error::invalid(
                path,
                format!("histograms and quantiles of {kind} values are not supported"),
            ));
        }
        Ok(time)
    }

    /// Checks the options, and a dataset column's kind; the dataset and the column's index, if
    /// `path` is a dataset's column.
    fn check_column(&self, path: &Path) -> Result<Option<(crate::dataset::Dataset, usize)>> {
        if self.range.is_some() && self.bins.is_none() {
            // Before opening: the options are wrong whatever the file.
            return Err(Error::argument("a histogram range needs a number of bins"));
        }
        let Some((ds, i)) = crate::dataset::Dataset::of_column_file(path)? else { return Ok(None) };
        let column = &ds.manifest().columns[i];
        if column.dtype == crate::dataset::STR_DTYPE {
            return Err(refuse_text(path, &column.name, "a string column"));
        }
        if column.categories.is_some() || column.dictionary.is_some() {
            return Err(refuse_categorical(path, &column.name));
        }
        Ok(Some((ds, i)))
    }

    /// Statistics of whatever a [`ChunkSource`] holds: an `ndarray` view (contiguous or not),
    /// a selection or region of a store ([`SelectionChunks`](crate::store::SelectionChunks)),
    /// rows of a column ([`ColumnRows`](super::ColumnRows)), a whole store's
    /// [`chunk_source`](crate::ArrayRead::chunk_source).
    ///
    /// ```
    /// use larder::compute::StatsOptions;
    /// use ndarray::{Array2, s};
    ///
    /// let a = Array2::from_shape_fn((100, 10), |(i, j)| (i * 10 + j) as f64);
    /// // numpy: np.quantile(a[:, 7], 0.5) == 502.0, np.histogram(a[:, 7], 2, (0, 1000))
    /// let s = StatsOptions::new().quantiles(&[0.5]).bins(2).range(0.0, 1000.0)
    ///     .compute_source(&a.slice(s![.., 7]))?;
    /// assert_eq!(s.quantiles[0].value, 502.0);
    /// assert_eq!(s.histogram.unwrap().counts, vec![50, 50]);
    /// # Ok::<(), larder::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`compute`](StatsOptions::compute) and reading the source.
    pub fn compute_source<T: Reduce, S: ChunkSource<T> + ?Sized>(&self, src: &S) -> Result<Stats> {
        if self.range.is_some() && self.bins.is_none() {
            return Err(Error::argument("a histogram range needs a number of bins"));
        }
        stats_typed(src, self)
    }

    /// Statistics of the elements `selection` picks from an opened store of any element type
    /// (`path` names it in errors), one storage chunk at a time
    /// ([`SelectionChunks`](crate::store::SelectionChunks)); complex arrays get their summary.
    ///
    /// ```
    /// use larder::{Selection, compute::StatsOptions};
    /// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
    /// # let path = dir.path().join("a.npy");
    /// larder::write_npy(&path, &ndarray::Array2::from_shape_fn((100, 10), |(i, j)| (i * 10 + j) as i32))?;
    /// let store = larder::open(&path)?; // any format, any element type
    /// // numpy: a[::10, 7].sum() == 4570, np.median(a[::10, 7]) == 457.0
    /// let s = StatsOptions::new().quantiles(&[0.5]).compute_selection(&store, &Selection::parse("::10, 7")?, &path)?;
    /// assert_eq!((s.summary.sum.to_string(), s.quantiles[0].value), ("4570".into(), 457.0));
    /// # Ok::<(), larder::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`compute_store`](StatsOptions::compute_store), and
    /// [`Error::Argument`] for a selection that does not fit the store.
    pub fn compute_selection(
        &self,
        store: &AnyStore,
        selection: &crate::select::Selection,
        path: &Path,
    ) -> Result<Stats> {
        use crate::store::SelectionChunks;
        if self.range.is_some() && self.bins.is_none() {
            return Err(Error::argument("a histogram range needs a number of bins"));
        }
        refuse_datetime(store.dtype(), path)?;
        crate::store_dispatch!(store,
        s => stats_typed(&SelectionChunks::new(&**s, selection)?, self),
        complex s => {
            if self.bins.is_some() || !self.quantiles.is_empty() {
                return Err(Error::invalid(
                    path,
                    "holds complex numbers; histograms and quantiles are only defined for \
                     real arrays",
                ));
            }
            let summary = super::stats::summary_complex(&SelectionChunks::new(&**s, selection)?)?;
            Ok(Stats { summary, histogram: None, quantiles: Vec::new() })
        })
    }

    /// Statistics of rows `rows` of a dataset column (numbers or `bool`), its missing rows
    /// skipped and counted in `null_count`, as pandas' `df[name].iloc[rows]` reports them.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
    /// # let csv = dir.path().join("t.csv");
    /// # std::fs::write(&csv, "x,y\n1.5,a\n2.5,b\n,c\n4.5,d\n").map_err(|e| larder::Error::io(&csv, e))?;
    /// # let out = dir.path().join("t");
    /// # larder::convert::ConvertOptions::new().convert(&csv, &out, &mut |_| {})?;
    /// use larder::compute::StatsOptions;
    ///
    /// let ds = larder::dataset::Dataset::open(&out)?;
    /// let s = StatsOptions::new().compute_rows(&ds.column("x")?, 1..4)?;
    /// assert_eq!((s.summary.count, s.summary.mean.as_f64()), (2, 3.5));
    /// # Ok::<(), larder::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Argument`] for rows past the end; [`Error::Invalid`] for a string,
    /// categorical or datetime column (whose statistics are counts, or
    /// [`describe`](StatsOptions::describe)'s); as [`compute`](StatsOptions::compute).
    pub fn compute_rows(
        &self,
        column: &crate::dataset::Column<'_>,
        rows: std::ops::Range<usize>,
    ) -> Result<Stats> {
        let meta = column.manifest();
        let path = column.file();
        if meta.dtype == crate::dataset::STR_DTYPE {
            return Err(refuse_text(&path, &meta.name, "a string column"));
        }
        if meta.categories.is_some() || meta.dictionary.is_some() {
            return Err(refuse_categorical(&path, &meta.name));
        }
        let dtype = column.dtype()?;
        refuse_datetime(dtype, &path)?;
        let valid = column.validity()?;
        let (mut stats, nulls) = dispatch_element!(dtype.element(),
            T => {
                let values = column.values::<T>()?;
                let src = ColumnRows::new(&values, valid.as_ref(), rows)?;
                (self.compute_source(&src)?, src.null_count()?)
            },
            complex _C => return Err(complex_refused(&path)));
        if valid.is_some() {
            stats.summary.null_count = Some(nulls);
        }
        Ok(stats)
    }

    /// Statistics of an opened store (`path` names it in errors), e.g. an `.npy` seen through
    /// deltas ([`crate::open_with_deltas`]).
    ///
    /// # Errors
    /// As [`compute`](StatsOptions::compute).
    pub fn compute_store(&self, store: &AnyStore, path: &Path) -> Result<Stats> {
        if self.range.is_some() && self.bins.is_none() {
            return Err(Error::argument("a histogram range needs a number of bins"));
        }
        refuse_datetime(store.dtype(), path)?;
        if self.bins.is_none() && self.quantiles.is_empty() {
            let summary = store_summary(store, !self.without_std)?;
            return Ok(Stats { summary, histogram: None, quantiles: Vec::new() });
        }
        crate::store_dispatch!(store,
        s => stats_typed(&*s.chunk_source()?, self),
        complex _s => Err(Error::invalid(
            path,
            "holds complex numbers; histograms and quantiles are only defined for real arrays",
        )))
    }
}

/// Most columns a refusal of a dataset directory lists.
const LISTED: usize = 12;

/// The error for statistics of a dataset directory rather than of one of its columns: it
/// names the columns' files, which is how a column is named.
pub(crate) fn refuse_dataset(path: &Path) -> Result<()> {
    if !crate::dataset::Dataset::is_dataset(path) {
        return Ok(());
    }
    let ds = crate::dataset::Dataset::open(path)?;
    let mut files: Vec<String> = ds
        .columns()
        .take(LISTED)
        .map(|c| format!("{} ({:?})", c.file().display(), c.name()))
        .collect();
    let n = ds.manifest().columns.len();
    if n > LISTED {
        files.push(format!("and {} more", n - LISTED));
    }
    Err(Error::invalid(
        path,
        format!(
            "is a dataset (a directory of column files described by its manifest.json), not an \
             array; statistics are of one column: name its file, one of {}",
            files.join(", ")
        ),
    ))
}

/// The error for [`StatsOptions::compute`] of datetimes (their sum means nothing) and of
/// durations (whose `NaT` the number statistics would count as `-2^63`).
fn refuse_datetime(dtype: DType, path: &Path) -> Result<()> {
    match dtype.time() {
        Some(Time::DateTime(unit)) => Err(Error::invalid(
            path,
            format!(
                "holds datetime64[{}] values, whose sum means nothing; describe them instead \
                 (count, mean, min, max)",
                unit.as_str()
            ),
        )),
        Some(Time::TimeDelta(unit)) => Err(Error::invalid(
            path,
            format!(
                "holds timedelta64[{}] values, whose NaT is no number; describe them instead \
                 (count, sum, mean, min, max)",
                unit.as_str()
            ),
        )),
        None => Ok(()),
    }
}

/// What `larder stats` reports: statistics of numbers, or of datetimes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Description {
    /// Numbers (and `bool`): [`Stats`].
    Numbers(Stats),
    /// `datetime64` values: [`DateTimeSummary`].
    DateTimes(DateTimeSummary),
    /// `timedelta64` values: [`TimeDeltaSummary`].
    TimeDeltas(TimeDeltaSummary),
}

/// The error for a statistic of a categorical column other than counting: its values are
/// category codes, and their sum or mean means nothing.
pub(crate) fn refuse_categorical(path: &Path, column: &str) -> Error {
    Error::invalid(
        path,
        format!(
            "column {column:?} is categorical: its values are category codes, so only counts are \
             defined (larder groupby --by {column} --agg count)"
        ),
    )
}

/// The error for a statistic of a text column other than counting; `what` says which kind.
pub(crate) fn refuse_text(path: &Path, column: &str, what: &str) -> Error {
    Error::invalid(
        path,
        format!("column {column:?} is {what}: its values are text, so only counts are defined"),
    )
}

/// Statistics of the array at `path` (`.npy`, Zarr or HDF5; any element type): the
/// [`Summary`] in one pass, then, if asked, a histogram of `bins` equal bins between min and max
/// (one more pass) and the quantiles `qs` (two more passes; see [`quantiles`]).
/// [`StatsOptions`] also takes a histogram range.
///
/// # Errors
/// As [`StatsOptions::compute`].
pub fn stats(path: impl AsRef<Path>, bins: Option<usize>, qs: &[f64]) -> Result<Stats> {
    let mut options = StatsOptions::new();
    if let Some(n) = bins {
        options.bins(n);
    }
    options.quantiles(qs).compute(path)
}

fn stats_typed<T: Reduce, S: ChunkSource<T> + ?Sized>(src: &S, o: &StatsOptions) -> Result<Stats> {
    let qs = &o.quantiles[..];
    // With a given range the histogram rides along the summary's pass.
    let fused = match (o.bins, o.range) {
        (Some(count), Some((lo, hi))) => Some(Bins::Uniform { lo, hi, count }),
        _ => None,
    };
    let (summary, fused_counts) = match &fused {
        Some(b) => {
            let (s, counts) = if o.without_std {
                summary_and_histogram::<T, S, false>(src, b)?
            } else {
                summary_and_histogram::<T, S, true>(src, b)?
            };
            (s, Some(counts))
        }
        None => (super::stats::summary_with(src, !o.without_std)?, None),
    };
    let histogram = match (fused, fused_counts, o.bins, summary.min, summary.max) {
        (Some(b), Some(counts), _, _, _) => Some(Histogram { counts, edges: b.edges()? }),
        (_, _, Some(count), Some(lo), Some(hi)) => {
            let (lo, hi) = (lo.as_f64(), hi.as_f64());
            if !(lo.is_finite() && hi.is_finite()) {
                return Err(Error::argument(format!(
                    "histogram between min {lo} and max {hi}: the range must be finite \
                     (the data holds infinities; give a range)"
                )));
            }
            let b = Bins::Uniform { lo, hi, count };
            Some(Histogram { counts: histogram(src, &b)?, edges: b.edges()? })
        }
        (_, _, Some(_), _, _) => Some(Histogram { edges: Vec::new(), counts: Vec::new() }),
        (_, _, None, _, _) => None,
    };
    let quantiles = if qs.is_empty() { Vec::new() } else { quantiles(src, &summary, qs)? };
    Ok(Stats { summary, histogram, quantiles })
}
