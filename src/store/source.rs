//! [`ChunkSource`]: an array as a sequence of contiguous pieces in storage order, what the
//! reductions read; the decoding default for any store ([`StoreChunks`]) and an in-memory
//! slice ([`SliceChunks`]). The mapped `.npy` backend has its own, zero-copy one.

use std::marker::PhantomData;

use super::ArrayRead;
use crate::dtype::Element;
use crate::error::Result;
use crate::grid::ChunkGrid;

/// An array seen as a sequence of contiguous chunks of elements in storage order.
///
/// This is the one thing the reductions need from a storage backend. A memory-mapped `.npy`
/// array is cut into [`CHUNK_BYTES`](crate::npy::CHUNK_BYTES) pieces ([`MmapChunks`](crate::npy::MmapChunks)); a chunked format (Zarr, HDF5)
/// hands out its decoded chunks. Chunk `i` must always hold the same elements, so that results
/// are reproducible; chunks may be called for in any order and from several threads at once.
pub trait ChunkSource<T: Element>: Sync {
    /// Number of chunks.
    fn num_chunks(&self) -> usize;

    /// Calls `f` once with the elements of chunk `index`, in native byte order.
    ///
    /// # Errors
    /// Whatever reading or decoding the chunk can fail with.
    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()>;
}

/// An in-memory slice cut into chunks of a fixed number of elements.
#[derive(Clone, Copy, Debug)]
pub struct SliceChunks<'a, T> {
    data: &'a [T],
    chunk: usize,
}

impl<'a, T: Element> SliceChunks<'a, T> {
    /// Chunks of `chunk` elements (at least 1) over `data`.
    pub fn new(data: &'a [T], chunk: usize) -> Self {
        SliceChunks { data, chunk: chunk.max(1) }
    }
}

impl<T: Element> ChunkSource<T> for SliceChunks<'_, T> {
    fn num_chunks(&self) -> usize {
        self.data.len().div_ceil(self.chunk)
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        let start = index.saturating_mul(self.chunk).min(self.data.len());
        let end = start.saturating_add(self.chunk).min(self.data.len());
        f(&self.data[start..end]);
        Ok(())
    }
}

/// The storage chunks of any [`ArrayRead`] (Zarr, HDF5, …), each decoded when it is asked for.
///
/// Chunk `i` is the `i`-th chunk of the store's chunk grid in C order, edge chunks clipped to
/// the array. Its elements are handed out in the chunk's own C order, which the order-free
/// reductions (sums, extremes, histograms, quantiles) do not mind. Chunks are decoded on the
/// threads that ask for them, so decoding runs on all cores.
pub struct StoreChunks<'a, T: Element, S: ArrayRead<T> + ?Sized> {
    store: &'a S,
    grid: ChunkGrid,
    grid_shape: Vec<usize>,
    _t: PhantomData<fn() -> T>,
}

impl<'a, T: Element, S: ArrayRead<T> + ?Sized> StoreChunks<'a, T, S> {
    /// The chunks of `store`.
    pub fn new(store: &'a S) -> Self {
        let grid = ChunkGrid::new(store.shape(), store.chunk_shape());
        let grid_shape = grid.grid_shape();
        StoreChunks { store, grid, grid_shape, _t: PhantomData }
    }
}

impl<T: Element, S: ArrayRead<T> + ?Sized> std::fmt::Debug for StoreChunks<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreChunks").field("grid", &self.grid_shape).finish_non_exhaustive()
    }
}

impl<T: Element, S: ArrayRead<T> + ?Sized> ChunkSource<T> for StoreChunks<'_, T, S> {
    fn num_chunks(&self) -> usize {
        self.grid.count()
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        // Linear index to grid coordinates, last axis fastest.
        let mut rest = index;
        let mut at = vec![0; self.grid_shape.len()];
        for (axis, &n) in self.grid_shape.iter().enumerate().rev() {
            at[axis] = rest % n.max(1);
            rest /= n.max(1);
        }
        let data = self.store.read_region(&self.grid.region(&at))?;
        if let Some(values) = data.as_slice_memory_order() {
            f(values);
        } else {
            let values: Vec<T> = data.iter().copied().collect();
            f(&values);
        }
        Ok(())
    }
}
