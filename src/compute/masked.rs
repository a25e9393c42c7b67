//! A column with a validity file, as a [`ChunkSource`] of its present values only: what the
//! reductions of a nullable column read, so that missing values are skipped as pandas skips
//! them.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::npy::{MmapArray, MmapChunks};
use crate::store::ChunkSource;

/// The values of `values` whose entry in `valid` is `true`, chunk by chunk: chunk `i` holds the
/// present values among the elements of chunk `i` of `values`, so chunk boundaries (and with
/// them the results) depend only on the data.
pub(crate) struct MaskedChunks<'a, T: Element> {
    values: MmapChunks<'a, T>,
    valid: MmapChunks<'a, bool>,
}

impl<'a, T: Element> MaskedChunks<'a, T> {
    /// The present values of `values`, `valid` saying which are.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the two arrays differ in length; as [`MmapChunks::new`].
    pub(crate) fn new(values: &'a MmapArray<T>, valid: &'a MmapArray<bool>) -> Result<Self> {
        if values.len() != valid.len() {
            return Err(Error::invalid(
                valid.path(),
                format!(
                    "validity file has {} rows, its column {} has {}",
                    valid.len(),
                    values.path().display(),
                    values.len()
                ),
            ));
        }
        Ok(MaskedChunks { values: MmapChunks::new(values)?, valid: MmapChunks::new(valid)? })
    }
}

impl<T: Element> ChunkSource<T> for MaskedChunks<'_, T> {
    fn num_chunks(&self) -> usize {
        self.values.len().div_ceil(self.values.chunk_len())
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        let step = self.values.chunk_len();
        let start = index.saturating_mul(step);
        self.values.with_range(start, step, |x| {
            self.valid.with_range(start, x.len(), |present| {
                let kept: Vec<T> =
                    x.iter().zip(present).filter(|&(_, &ok)| ok).map(|(&v, _)| v).collect();
                f(&kept);
            })
        })?
    }
}

/// Rows of a validity array that are `false`.
///
/// # Errors
/// As [`MmapChunks::new`] and reading the file.
pub(crate) fn null_count(valid: &MmapArray<bool>) -> Result<u64> {
    let src = MmapChunks::new(valid)?;
    let mut nulls = 0u64;
    let mut start = 0;
    while start < src.len() {
        nulls +=
            src.with_range(start, src.chunk_len(), |m| m.iter().filter(|&&ok| !ok).count() as u64)?;
        start += src.chunk_len();
    }
    Ok(nulls)
}

/// Rows `start..end` of a column as a [`ChunkSource`] of their present values: those whose
/// entry in the validity array (if there is one) is `true`, as pandas skips missing values.
/// Chunks are pieces of the mapped files, zero-copy where no row is missing.
///
/// ```
/// use larder::compute::{self, ColumnRows};
/// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
/// # let csv = dir.path().join("t.csv");
/// # std::fs::write(&csv, "x,y\n1,a\n2,b\n,c\n4,d\n5,e\n").map_err(|e| larder::Error::io(&csv, e))?;
/// # let out = dir.path().join("t");
/// # larder::convert::ConvertOptions::new().convert(&csv, &out, &mut |_| {})?;
/// let ds = larder::dataset::Dataset::open(&out)?;
/// let column = ds.column("x")?;
/// let (values, valid) = (column.values::<i64>()?, column.validity()?);
/// // pandas: df.x.iloc[1:4].mean() == 3.0 (rows 1..4 hold 2, missing, 4)
/// let s = compute::summary(&ColumnRows::new(&values, valid.as_ref(), 1..4)?)?;
/// assert_eq!((s.count, s.mean.as_f64()), (2, 3.0));
/// # Ok::<(), larder::Error>(())
/// ```
#[derive(Debug)]
pub struct ColumnRows<'a, T: Element> {
    values: MmapChunks<'a, T>,
    valid: Option<MmapChunks<'a, bool>>,
    start: usize,
    end: usize,
}

impl<'a, T: Element> ColumnRows<'a, T> {
    /// Rows `rows` of the 1-d `values`, those where `valid` is `false` left out.
    ///
    /// # Errors
    /// [`Error::Argument`] for rows past the end or a reversed range; [`Error::Invalid`] when
    /// `values` is not 1-d or the two arrays differ in length; as [`MmapChunks::new`].
    pub fn new(
        values: &'a MmapArray<T>,
        valid: Option<&'a MmapArray<bool>>,
        rows: std::ops::Range<usize>,
    ) -> Result<Self> {
        if values.ndim() != 1 {
            return Err(Error::invalid(
                values.path(),
                format!("holds shape {:?}; a column is 1-d", values.shape()),
            ));
        }
        if rows.start > rows.end || rows.end > values.len() {
            return Err(Error::argument(format!(
                "rows {}..{} of {}: the column has {} rows",
                rows.start,
                rows.end,
                values.path().display(),
                values.len()
            )));
        }
        let valid = match valid {
            Some(v) => Some(MaskedChunks::new(values, v)?.valid),
            None => None,
        };
        Ok(ColumnRows { values: MmapChunks::new(values)?, valid, start: rows.start, end: rows.end })
    }

    /// Missing rows in the range (0 without a validity array).
    ///
    /// # Errors
    /// As reading the validity file.
    pub fn null_count(&self) -> Result<u64> {
        let Some(valid) = &self.valid else { return Ok(0) };
        let mut nulls = 0;
        let mut at = self.start;
        while at < self.end {
            let n = valid.chunk_len().min(self.end - at);
            nulls += valid.with_range(at, n, |m| m.iter().filter(|&&ok| !ok).count() as u64)?;
            at += n;
        }
        Ok(nulls)
    }
}

impl<T: Element> ChunkSource<T> for ColumnRows<'_, T> {
    fn num_chunks(&self) -> usize {
        (self.end - self.start).div_ceil(self.values.chunk_len())
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        let step = self.values.chunk_len();
        let start = self.start.saturating_add(index.saturating_mul(step)).min(self.end);
        let len = step.min(self.end - start);
        let Some(valid) = &self.valid else { return self.values.with_range(start, len, f) };
        self.values.with_range(start, len, |x| {
            valid.with_range(start, x.len(), |present| {
                let kept: Vec<T> =
                    x.iter().zip(present).filter(|&(_, &ok)| ok).map(|(&v, _)| v).collect();
                f(&kept);
            })
        })?
    }
}
