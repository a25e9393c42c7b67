//! Where reductions get their data: a sequence of contiguous chunks in storage order.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::array::MmapArray;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::mmap::Access;
use crate::store::{ArrayStore, ChunkGrid};

/// Bytes of data per chunk of a memory-mapped array. Chunk boundaries, and so the order in which
/// partial results are merged, follow from this constant and the array's length alone.
pub const CHUNK_BYTES: usize = 4 << 20;

/// An array seen as a sequence of contiguous chunks of elements in storage order.
///
/// This is the one thing the reductions need from a storage backend. A memory-mapped `.npy`
/// array is cut into [`CHUNK_BYTES`] pieces ([`MmapChunks`]); a chunked format (Zarr, HDF5)
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

    /// Tells the source, before a pass over its chunks, whether another pass will follow. A
    /// memory-mapped source then keeps the pages it maps for the next pass instead of dropping
    /// them (when the array fits comfortably in memory). The default does nothing.
    fn another_pass_follows(&self, _follows: bool) {}
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

/// The data of a memory-mapped array as [`CHUNK_BYTES`] chunks in storage order.
///
/// Creating it tells the kernel the file will be read sequentially. Each chunk's pages are
/// released from the resident set once used ([`MmapArray::release`]), so a pass over a file
/// larger than RAM keeps a footprint of a few chunks per thread, and the page tables are torn
/// down by all worker threads during the pass rather than by one thread when the mapping is
/// dropped. Before a pass that another pass will follow
/// ([`ChunkSource::another_pass_follows`]), pages stay mapped instead, if the array is at most a
/// quarter of the memory the process may use (`MemAvailable`, or its cgroup's limit if lower),
/// so the next pass does not fault them in again. Data in the other byte order, or not aligned
/// for `T`, is converted chunk by chunk into a per-thread buffer.
#[derive(Debug)]
pub struct MmapChunks<'a, T: Element> {
    array: &'a MmapArray<T>,
    /// The stored data bytes, when they are aligned for `T` and can be cast in place.
    aligned: bool,
    swapped: bool,
    chunk: usize,
    len: usize,
    /// Whether the array fits in memory comfortably enough to keep its pages between passes.
    fits: bool,
    /// Whether chunks keep their pages mapped once reduced (see `new`).
    keep: AtomicBool,
}

impl<'a, T: Element> MmapChunks<'a, T> {
    /// Chunks over all of `array`'s data, in its storage order (C or Fortran, as stored).
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel refuses the access hint.
    pub fn new(array: &'a MmapArray<T>) -> Result<Self> {
        // Chunks are cast (and, for `bool`, validated) one at a time as they are used, so that
        // opening does not read the whole file.
        let aligned = array.data_bytes().as_ptr().align_offset(std::mem::align_of::<T>()) == 0;
        let swapped = !array.dtype().is_native();
        array.advise(Access::Sequential)?;
        let chunk = (CHUNK_BYTES / std::mem::size_of::<T>().max(1)).max(1);
        // Dropping pages after use keeps the resident set small, and spreads the cost of tearing
        // down the page tables over the worker threads (one `munmap` at the end would be a long
        // serial step). Between two passes, pages of an array that fits comfortably are kept.
        let bytes = array.data_bytes().len() as u64;
        let fits = crate::mmap::memory_budget().is_some_and(|budget| bytes <= budget / 4);
        let keep = AtomicBool::new(false);
        Ok(MmapChunks { array, aligned, swapped, chunk, len: array.len(), fits, keep })
    }

    /// The array.
    pub fn array(&self) -> &'a MmapArray<T> {
        self.array
    }

    /// Elements per chunk.
    pub fn chunk_len(&self) -> usize {
        self.chunk
    }

    /// Total number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `f` with the elements `start..start + len` in storage order (clipped to the array),
    /// converted to native order if needed, then releases their pages (unless they are kept
    /// for another pass: [`ChunkSource::another_pass_follows`]).
    ///
    /// # Errors
    /// [`Error::NotViewable`] for a `bool` byte other than 0 or 1 in a misaligned file;
    /// [`Error::Io`] if releasing the pages fails.
    pub fn with_range<R>(&self, start: usize, len: usize, f: impl FnOnce(&[T]) -> R) -> Result<R> {
        let start = start.min(self.len);
        let end = start.saturating_add(len).min(self.len);
        let size = std::mem::size_of::<T>();
        let bytes = &self.array.data_bytes()[start * size..end * size];
        let invalid = || Error::NotViewable {
            path: self.array.path().to_path_buf(),
            reason: format!(
                "invalid {} value in elements {start}..{end} (a bool byte other than 0 or 1)",
                T::TYPE.name()
            ),
        };
        let out = if self.aligned {
            let values: &[T] = if bytes.is_empty() {
                &[]
            } else {
                bytemuck::checked::try_cast_slice(bytes).map_err(|_| invalid())?
            };
            if self.swapped {
                let v: Vec<T> = values.iter().map(|x| x.swap_bytes()).collect();
                f(&v)
            } else {
                f(values)
            }
        } else {
            f(&decode(bytes, self.swapped).ok_or_else(invalid)?)
        };
        if !self.keep.load(Ordering::Relaxed) {
            self.array.release(start * size, (end - start) * size)?;
        }
        Ok(out)
    }
}

/// Decodes possibly misaligned bytes into native values; `None` for an invalid bit pattern.
fn decode<T: Element>(bytes: &[u8], swapped: bool) -> Option<Vec<T>> {
    bytes
        .chunks_exact(std::mem::size_of::<T>())
        .map(|c| {
            bytemuck::checked::try_pod_read_unaligned::<T>(c)
                .ok()
                .map(|v| if swapped { v.swap_bytes() } else { v })
        })
        .collect()
}

impl<T: Element> ChunkSource<T> for MmapChunks<'_, T> {
    fn num_chunks(&self) -> usize {
        self.len.div_ceil(self.chunk)
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        self.with_range(index.saturating_mul(self.chunk), self.chunk, f)
    }

    fn another_pass_follows(&self, follows: bool) {
        self.keep.store(follows && self.fits, Ordering::Relaxed);
    }
}

/// The storage chunks of any [`ArrayStore`] (Zarr, HDF5, …), each decoded when it is asked for.
///
/// Chunk `i` is the `i`-th chunk of the store's chunk grid in C order, edge chunks clipped to
/// the array. Its elements are handed out in the chunk's own C order, which the order-free
/// reductions (sums, extremes, histograms, quantiles) do not mind. Chunks are decoded on the
/// threads that ask for them, so decoding runs on all cores.
pub struct StoreChunks<'a, T: Element> {
    store: &'a (dyn ArrayStore<T> + Send + Sync),
    grid: ChunkGrid,
    grid_shape: Vec<usize>,
}

impl<'a, T: Element> StoreChunks<'a, T> {
    /// The chunks of `store`.
    pub fn new(store: &'a (dyn ArrayStore<T> + Send + Sync)) -> Self {
        let grid = ChunkGrid::new(store.shape(), store.chunk_shape());
        let grid_shape = grid.grid_shape();
        StoreChunks { store, grid, grid_shape }
    }
}

impl<T: Element> std::fmt::Debug for StoreChunks<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreChunks").field("grid", &self.grid_shape).finish_non_exhaustive()
    }
}

impl<T: Element> ChunkSource<T> for StoreChunks<'_, T> {
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
        let (start, shape) = self.grid.region(&at);
        let data = self.store.read_region(&start, &shape)?;
        if let Some(values) = data.as_slice_memory_order() {
            f(values);
        } else {
            let values: Vec<T> = data.iter().copied().collect();
            f(&values);
        }
        Ok(())
    }
}
