//! Where reductions get their data: a sequence of contiguous chunks in storage order.

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
/// Creating it tells the kernel the file will be read sequentially. When the array is larger
/// than a quarter of the memory the process may use (`MemAvailable`, or its cgroup's limit if
/// lower), each chunk's pages are released from the resident set once used
/// ([`MmapArray::release`]), so a pass over a file larger than RAM keeps a footprint of a few
/// chunks per thread. A smaller array's pages stay mapped: they are page cache, reclaimable at
/// any time, and releasing them would cost a TLB shootdown on every thread per chunk. Data in the other byte
/// order, or not aligned for `T`, is converted chunk by chunk into a per-thread buffer.
#[derive(Debug)]
pub struct MmapChunks<'a, T: Element> {
    array: &'a MmapArray<T>,
    /// The stored data bytes, when they are aligned for `T` and can be cast in place.
    aligned: bool,
    swapped: bool,
    chunk: usize,
    len: usize,
    /// Whether chunks drop their pages from the resident set once reduced (see `new`).
    release: bool,
}

impl<'a, T: Element> MmapChunks<'a, T> {
    /// Chunks over all of `array`'s data, in its storage order (C or Fortran, as stored).
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel refuses the access hint.
    pub fn new(array: &'a MmapArray<T>) -> Result<Self> {
        // Chunks are cast (and, for `bool`, validated) one at a time as they are used, so that
        // opening does not read the whole file.
        let aligned = array.data_bytes()?.as_ptr().align_offset(std::mem::align_of::<T>()) == 0;
        let swapped = !array.dtype().is_native();
        array.advise(Access::Sequential)?;
        let chunk = (CHUNK_BYTES / std::mem::size_of::<T>().max(1)).max(1);
        // Dropping pages after use keeps the resident set small when the data could crowd out
        // memory, but each drop is a TLB shootdown across every thread of the process: where
        // the whole array fits comfortably, the pages are left to the page cache instead.
        let bytes = array.data_bytes()?.len() as u64;
        let release = crate::mmap::memory_budget().is_none_or(|budget| bytes > budget / 4);
        Ok(MmapChunks { array, aligned, swapped, chunk, len: array.len(), release })
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
    /// converted to native order if needed, then releases their pages.
    ///
    /// # Errors
    /// [`Error::NotViewable`] for a `bool` byte other than 0 or 1 in a misaligned file;
    /// [`Error::Io`] if releasing the pages fails.
    pub fn with_range<R>(&self, start: usize, len: usize, f: impl FnOnce(&[T]) -> R) -> Result<R> {
        let start = start.min(self.len);
        let end = start.saturating_add(len).min(self.len);
        let size = std::mem::size_of::<T>();
        let bytes = &self.array.data_bytes()?[start * size..end * size];
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
        if self.release {
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
