//! [`SelectionChunks`]: the part of a store a numpy-style selection or a region picks, as a
//! [`ChunkSource`], so the reductions run over a slice of any store, one storage chunk at a
//! time.

use std::marker::PhantomData;

use ndarray::SliceInfoElem;

use super::{ArrayRead, ChunkSource};
use crate::dtype::Element;
use crate::error::Result;
use crate::grid::Region;
use crate::select::Selection;

/// The elements a [`Selection`] (or a [`Region`]) picks from a store, storage chunk by storage
/// chunk: chunk `i` holds the picked elements of the `i`-th storage chunk the selection meets
/// (C order over the chunk grid), read with [`ArrayRead::read_region`] and clipped to the
/// selection. Memory stays at one storage chunk per thread; storage chunks the selection skips
/// (a step longer than a chunk) are not read. A mapped `.npy` lends its pages (zero-copy)
/// wherever the picked elements are contiguous. The order within a chunk is storage order, not
/// the selection's (a negative step walks backwards), which the reductions do not mind.
///
/// ```
/// use larder::{MemStore, Selection, compute, store::SelectionChunks};
/// use ndarray::{Array, IxDyn};
///
/// let a = Array::from_shape_fn(IxDyn(&[100, 8]), |i| (i[0] * 8 + i[1]) as f64);
/// let store = MemStore::new(a, &[16, 8])?;
/// // numpy: a[10:20, 7].mean() == 123.0
/// let s = compute::summary(&SelectionChunks::new(&store, &Selection::parse("10:20, 7")?)?)?;
/// assert_eq!((s.count, s.mean.as_f64()), (10, 123.0));
/// # Ok::<(), larder::Error>(())
/// ```
pub struct SelectionChunks<'a, T: Element, S: ArrayRead<T> + ?Sized> {
    store: &'a S,
    /// Per store axis, the storage chunks the selection meets along it.
    axes: Vec<Vec<Piece>>,
    _t: PhantomData<fn() -> T>,
}

/// The picked indices of one axis inside one storage chunk: `count` of them, from `first`,
/// `step` apart.
#[derive(Clone, Copy, Debug)]
struct Piece {
    first: usize,
    count: usize,
    step: usize,
}

impl<'a, T: Element, S: ArrayRead<T> + ?Sized> SelectionChunks<'a, T, S> {
    /// The elements `selection` picks from `store`.
    ///
    /// # Errors
    /// [`Error::Argument`](crate::Error::Argument) if the selection does not fit the store's
    /// shape.
    pub fn new(store: &'a S, selection: &Selection) -> Result<Self> {
        let mut picks = Vec::new();
        for e in selection.resolve(store.shape())? {
            match e {
                SliceInfoElem::Index(i) => picks.push((i.unsigned_abs(), 1, 1)),
                SliceInfoElem::Slice { start, end, step } => {
                    let (lo, hi) = (start.unsigned_abs(), end.unwrap_or(0).unsigned_abs());
                    let stride = step.unsigned_abs().max(1);
                    let count = hi.saturating_sub(lo).div_ceil(stride);
                    // A negative step walks [lo, hi) backwards from hi - 1: the same indices
                    // as walking forwards from the last of them.
                    let first =
                        if step < 0 && count > 0 { lo + (hi - 1 - lo) % stride } else { lo };
                    picks.push((first, count, stride));
                }
                SliceInfoElem::NewAxis => {}
            }
        }
        Ok(Self::from_picks(store, &picks))
    }

    /// The elements of `region` of `store`.
    ///
    /// # Errors
    /// [`Error::Argument`](crate::Error::Argument) if the region does not fit the store.
    pub fn region(store: &'a S, region: &Region) -> Result<Self> {
        region.check_inside(store.shape())?;
        let picks: Vec<(usize, usize, usize)> =
            region.start().iter().zip(region.shape()).map(|(&s, &n)| (s, n, 1)).collect();
        Ok(Self::from_picks(store, &picks))
    }

    /// `picks` holds, per axis, the first picked index, how many and their step.
    fn from_picks(store: &'a S, picks: &[(usize, usize, usize)]) -> Self {
        let chunk = store.chunk_shape();
        let axes = picks
            .iter()
            .enumerate()
            .map(|(axis, &(first, count, step))| {
                let block = chunk.get(axis).copied().unwrap_or(1).max(1);
                pieces(first, count, step, block)
            })
            .collect();
        SelectionChunks { store, axes, _t: PhantomData }
    }
}

/// The picked indices `first + k * step` (`k < count`) grouped by the block of `block`
/// indices they fall in, blocks without any left out.
fn pieces(first: usize, count: usize, step: usize, block: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < count {
        let at = first + k * step;
        let end = (at / block + 1) * block; // one past the block holding `at`
        // Picked indices below `end`: k..k_end.
        let k_end = ((end - first).div_ceil(step)).min(count);
        out.push(Piece { first: at, count: k_end - k, step });
        k = k_end;
    }
    out
}

impl<T: Element, S: ArrayRead<T> + ?Sized> std::fmt::Debug for SelectionChunks<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let chunks: Vec<usize> = self.axes.iter().map(Vec::len).collect();
        f.debug_struct("SelectionChunks").field("chunks", &chunks).finish_non_exhaustive()
    }
}

impl<T: Element, S: ArrayRead<T> + ?Sized> ChunkSource<T> for SelectionChunks<'_, T, S> {
    fn num_chunks(&self) -> usize {
        self.axes.iter().map(Vec::len).product()
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        let mut rest = index;
        let mut start = vec![0; self.axes.len()];
        let mut shape = vec![0; self.axes.len()];
        let mut steps = Vec::with_capacity(self.axes.len());
        for (axis, pieces) in self.axes.iter().enumerate().rev() {
            let n = pieces.len().max(1);
            let p = pieces[rest % n];
            rest /= n;
            start[axis] = p.first;
            shape[axis] = (p.count - 1) * p.step + 1;
            steps.push(SliceInfoElem::Slice {
                start: 0,
                end: None,
                step: isize::try_from(p.step).unwrap_or(isize::MAX),
            });
        }
        steps.reverse();
        let data = self.store.read_region(&Region::new(&start, &shape)?)?;
        let picked = data.slice(steps.as_slice());
        if let Some(values) = picked.as_slice_memory_order() {
            f(values);
        } else {
            let values: Vec<T> = picked.iter().copied().collect();
            f(&values);
        }
        Ok(())
    }
}
