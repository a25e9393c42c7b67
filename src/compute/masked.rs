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
