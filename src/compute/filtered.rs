//! Reductions over the rows where a filter holds (`--where`): a group key that puts the other
//! rows in no group, and a [`ChunkSource`] of a column's matching, present values.

use crate::dataset::Dataset;
use crate::dtype::Element;
use crate::error::Result;
use crate::query::{BLOCK_ROWS, Filter};
use crate::store::ChunkSource;

use super::groupby::{KeyCol, NO_GROUP};

/// A group key whose rows that do not match `filter` belong to no group.
struct FilteredKey<'a> {
    key: Box<dyn KeyCol + 'a>,
    filter: Filter,
}

/// `key`, its rows that do not match the filter `filter` (if any) of `ds` in no group.
pub(super) fn key_where<'a>(
    ds: &Dataset,
    key: Box<dyn KeyCol + 'a>,
    filter: Option<&str>,
) -> Result<Box<dyn KeyCol + 'a>> {
    Ok(match filter {
        Some(f) => Box::new(FilteredKey { key, filter: Filter::new(ds, f)? }),
        None => key,
    })
}

impl KeyCol for FilteredKey<'_> {
    fn codes(&self, r0: usize, out: &mut [u32]) -> Result<()> {
        self.key.codes(r0, out)?;
        let range = r0 as u64..(r0 + out.len()) as u64;
        self.filter.for_each_block(std::slice::from_ref(&range), |lo, mask| {
            let at = usize::try_from(lo).unwrap_or(usize::MAX) - r0;
            for (o, &m) in out[at..].iter_mut().zip(mask) {
                if !m {
                    *o = NO_GROUP;
                }
            }
            Ok(())
        })
    }
}

/// The values of a column in the rows where `filter` holds and `valid` (if any) is true, a
/// chunk per block of [`BLOCK_ROWS`] rows.
pub(super) struct FilteredChunks<'a, T: Element> {
    pub(super) values: &'a [T],
    pub(super) valid: Option<&'a [bool]>,
    pub(super) filter: &'a Filter,
}

impl<T: Element> ChunkSource<T> for FilteredChunks<'_, T> {
    fn num_chunks(&self) -> usize {
        self.values.len().div_ceil(BLOCK_ROWS)
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        let lo = index.saturating_mul(BLOCK_ROWS).min(self.values.len());
        let hi = lo.saturating_add(BLOCK_ROWS).min(self.values.len());
        let range = lo as u64..hi as u64;
        let mut kept = Vec::with_capacity(hi - lo);
        self.filter.for_each_block(std::slice::from_ref(&range), |start, mask| {
            let start = usize::try_from(start).unwrap_or(usize::MAX);
            for (i, &m) in mask.iter().enumerate() {
                let r = start + i;
                if m && self.valid.is_none_or(|v| v[r]) {
                    kept.push(self.values[r]);
                }
            }
            Ok(())
        })?;
        f(&kept);
        Ok(())
    }
}
