//! Where reductions get their data: a sequence of contiguous chunks in storage order.

use crate::array::MmapArray;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::mmap::Access;
use crate::store::{ArrayStore, ChunkGrid};

/// Bytes of data per chunk of a memory-mapped array. Chunk boundaries, and so the order in which
/// partial results are merged, follow from this constant and the array's length alone.
pub const CHUNK_BYTES: usize = 4 << 20;

/// Pages of a mapped array sampled to decide whether it is already in the page cache.
const WARM_SAMPLES: usize = 256;

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
/// chunks per thread. A smaller read-only array that is already in the page cache (256 pages
/// sampled with `mincore`) is read with `pread` into a per-thread buffer that stays in the CPU
/// cache, without touching the mapping; other smaller arrays are read through the mapping and
/// their pages stay mapped: they are page cache, reclaimable at any time, and releasing them
/// would cost a TLB shootdown on every thread per chunk. Data in the other byte order, or not
/// aligned for `T`, is converted chunk by chunk into a per-thread buffer.
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
    /// Where the data starts in the file, when chunks are read with `pread` (see `new`).
    pread: Option<u64>,
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
        // A read-only array whose file is (almost) entirely in the page cache is read with `pread` into
        // a per-thread buffer that stays in the CPU cache, instead of through the mapping: no
        // page faults to map 4 KiB at a time, no page tables to tear down at the end, and the
        // kernel's copy is the only pass over main memory (about a quarter faster for a warm
        // 4 GiB scan, same results). A cold file keeps the mapping, whose readahead is better
        // than two threads' interleaved reads, and a large one keeps releasing its pages.
        let warm = || array.map.resident_sample(WARM_SAMPLES).is_ok_and(|r| r == WARM_SAMPLES);
        let pread = (!release
            && array.mode() == crate::array::Mode::ReadOnly
            && array.layers.is_empty()
            && warm())
        .then_some(array.header.data_offset as u64);
        Ok(MmapChunks { array, aligned, swapped, chunk, len: array.len(), release, pread })
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
        if let Some(offset) = self.pread {
            return self.pread_range(offset, start, end, f);
        }
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

impl<T: Element> MmapChunks<'_, T> {
    fn pread_range<R>(
        &self,
        offset: u64,
        start: usize,
        end: usize,
        f: impl FnOnce(&[T]) -> R,
    ) -> Result<R> {
        use std::os::unix::fs::FileExt;
        thread_local! {
            static BUF: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
        }
        let size = std::mem::size_of::<T>();
        let nbytes = (end - start) * size;
        let mut buf = BUF.take();
        if buf.len() < nbytes.div_ceil(8) {
            buf.resize(nbytes.div_ceil(8), 0);
        }
        let dst = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut buf)[..nbytes];
        let at = offset + (start * size) as u64;
        self.array.file.read_exact_at(dst, at).map_err(|e| Error::io(self.array.path(), e))?;
        let values: &[T] =
            bytemuck::checked::try_cast_slice(dst).map_err(|_| Error::NotViewable {
                path: self.array.path().to_path_buf(),
                reason: format!("invalid {} value in elements {start}..{end}", T::TYPE.name()),
            })?;
        let out = if self.swapped {
            let v: Vec<T> = values.iter().map(|x| x.swap_bytes()).collect();
            f(&v)
        } else {
            f(values)
        };
        BUF.set(buf);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NpyWriter;

    /// A file just written is in the page cache, so its chunks are read with `pread`; they must
    /// hold exactly what the mapping shows, edge chunk included, and a file cut short after
    /// opening must give an error naming it, not a short chunk.
    #[test]
    fn warm_chunks_read_with_pread_match_the_mapping_and_a_shortened_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let n = CHUNK_BYTES / 8 * 2 + 12_345;
        let values: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
        let mut w = NpyWriter::<f64>::create(&path, &[]).unwrap();
        w.append(&values).unwrap();
        w.finish().unwrap();
        let a = MmapArray::<f64>::open(&path).unwrap();
        let src = MmapChunks::new(&a).unwrap();
        assert!(src.pread.is_some(), "a file just written should count as warm");
        let mut seen = Vec::new();
        for i in 0..src.num_chunks() {
            src.with_chunk(i, &mut |c| seen.extend_from_slice(c)).unwrap();
        }
        assert_eq!(bytemuck::cast_slice::<f64, u8>(&seen), a.data_bytes().unwrap());

        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(1024).unwrap();
        let err = src.with_chunk(1, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("x.npy"), "{err}");
    }
}
