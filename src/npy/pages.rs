//! [`MmapChunks`]: a mapped array's data as contiguous pieces for the reductions, lent from the
//! mapping (zero-copy) or, for a file larger than memory, read past the page cache.

use super::array::{MmapArray, Mode};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::store::ChunkSource;
use crate::sys::{Access, FileAdvice};

/// Bytes of data per chunk of a memory-mapped array. Chunk boundaries, and so the order in which
/// partial results are merged, follow from this constant and the array's length alone.
pub const CHUNK_BYTES: usize = 4 << 20;

/// The data of a memory-mapped array as [`CHUNK_BYTES`] chunks in storage order.
///
/// Creating it tells the kernel the file will be read sequentially. How a chunk's pages are
/// handled depends on the array's size against the memory the process may use (its budget:
/// `MemAvailable`, or its cgroup's limit if lower):
///
/// - up to a quarter of the budget, chunks are the mapping's own pages, left mapped: they are
///   page cache, reclaimable at any time, and dropping them would cost a TLB shootdown on every
///   thread per chunk;
/// - up to the whole budget, each chunk's pages are also released from the resident set once
///   used ([`MmapArray::release_range`]), so the footprint stays at a few chunks per thread;
/// - beyond it (a file larger than the memory there is, opened read-only), chunks are read
///   with `pread` into a per-thread buffer and their cached pages dropped right after
///   (`POSIX_FADV_DONTNEED`). Such a file cannot stay cached anyway; left to the page cache,
///   each new page would first have to push an old one out, and under a cgroup limit that
///   means a reclaim for nearly every page read. Reading past the cache keeps the pass at the
///   disk's speed.
///
/// Data in the other byte order, or not aligned for `T`, is converted chunk by chunk into a
/// per-thread buffer.
#[derive(Debug)]
pub struct MmapChunks<'a, T: Element> {
    array: &'a MmapArray<T>,
    /// The stored data bytes, when they are aligned for `T` and can be cast in place.
    aligned: bool,
    swapped: bool,
    chunk: usize,
    len: usize,
    /// What happens to a chunk's pages (see the type's documentation).
    pages: Pages,
}

/// How [`MmapChunks`] treats the pages of a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pages {
    /// Mapped, left in place.
    Keep,
    /// Mapped, released from the resident set after use.
    Release,
    /// Read from the file past the mapping, cached pages dropped after use.
    Read,
}

impl<'a, T: Element> MmapChunks<'a, T> {
    /// Chunks over all of `array`'s data, in its storage order (C or Fortran, as stored).
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel refuses the access hint.
    pub fn new(array: &'a MmapArray<T>) -> Result<Self> {
        let bytes = array.data_bytes()?.len() as u64;
        // Only a read-only array's mapping is nothing but the file: a writable or copy-on-write
        // one may hold changes that a read of the file would not see.
        let plain = array.mode == Mode::ReadOnly && array.deltas.is_empty();
        let pages = match crate::sys::memory_budget() {
            Some(budget) if bytes <= budget / 4 => Pages::Keep,
            Some(budget) if bytes > budget && plain => Pages::Read,
            _ => Pages::Release,
        };
        Self::with_pages(array, pages)
    }

    /// Chunks over all of `array`'s data whose pages are treated as `pages` says.
    fn with_pages(array: &'a MmapArray<T>, pages: Pages) -> Result<Self> {
        // Chunks are cast (and, for `bool`, validated) one at a time as they are used, so that
        // opening does not read the whole file.
        let aligned = array.data_bytes()?.as_ptr().align_offset(std::mem::align_of::<T>()) == 0;
        let swapped = !array.dtype().is_native();
        if pages == Pages::Read {
            // Read-ahead advice for the descriptor the chunks are read through; the mapping
            // itself is not touched.
            crate::sys::advise_file(&array.file, 0, 0, FileAdvice::Sequential)
                .map_err(|e| Error::io(&array.path, e))?;
        } else {
            array.advise(Access::Sequential)?;
        }
        let chunk = (CHUNK_BYTES / std::mem::size_of::<T>().max(1)).max(1);
        Ok(MmapChunks { array, aligned, swapped, chunk, len: array.len(), pages })
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
    /// converted to native order if needed, then releases their pages (see the type's
    /// documentation).
    ///
    /// # Errors
    /// [`Error::NotViewable`] for a `bool` byte other than 0 or 1; [`Error::Io`] if reading the
    /// chunk from the file or releasing its pages fails.
    pub fn with_range<R>(&self, start: usize, len: usize, f: impl FnOnce(&[T]) -> R) -> Result<R> {
        let start = start.min(self.len);
        let end = start.saturating_add(len).min(self.len);
        let size = std::mem::size_of::<T>();
        if self.pages == Pages::Read {
            return self.read_range(start, end, f);
        }
        // A file cut short by another program since it was mapped is an error here rather than
        // a fault while `f` reads the chunk (a cut during the read can still fault).
        self.array.check_not_shrunk(start * size, end * size)?;
        let bytes = &self.array.data_bytes()?[start * size..end * size];
        let out = self.convert(bytes, self.aligned, start, end, f)?;
        if self.pages == Pages::Release {
            self.array.release_range(start * size, (end - start) * size)?;
        }
        Ok(out)
    }

    /// Calls `f` with the stored bytes of elements `start..end` as native values: cast in place
    /// where `aligned` and in native order, else converted into a new buffer.
    fn convert<R>(
        &self,
        bytes: &[u8],
        aligned: bool,
        start: usize,
        end: usize,
        f: impl FnOnce(&[T]) -> R,
    ) -> Result<R> {
        let invalid = || Error::NotViewable {
            path: self.array.path().to_path_buf(),
            reason: format!(
                "invalid {} value in elements {start}..{end} (a bool byte other than 0 or 1)",
                T::TYPE.name()
            ),
        };
        Ok(if aligned {
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
        })
    }

    /// [`Self::with_range`] for [`Pages::Read`]: elements `start..end` read from the file into
    /// this thread's buffer, their cached pages dropped once read.
    fn read_range<R>(&self, start: usize, end: usize, f: impl FnOnce(&[T]) -> R) -> Result<R> {
        thread_local! {
            // 8-byte words, so that the bytes can be seen as any element type in place.
            static BUFFER: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
        }
        let size = std::mem::size_of::<T>();
        let len = (end - start) * size;
        let offset = (self.array.header.data_offset + start * size) as u64;
        let path = &self.array.path;
        // Taken out of the cell while in use: nothing can borrow it twice.
        let mut words = BUFFER.take();
        // Zeroed once per thread, not per chunk: every byte handed on is read first.
        if words.len() < len.div_ceil(8) {
            words.resize(len.div_ceil(8), 0);
        }
        let bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..len];
        std::os::unix::fs::FileExt::read_exact_at(&self.array.file, bytes, offset).map_err(
            |e| {
                Error::io(
                    path,
                    std::io::Error::new(
                        e.kind(),
                        format!("reading bytes {offset}..{} of the file: {e}", offset + len as u64),
                    ),
                )
            },
        )?;
        crate::sys::advise_file(&self.array.file, offset, len as u64, FileAdvice::DontNeed)
            .map_err(|e| Error::io(path, e))?;
        // The buffer is aligned for any element type (8-byte words).
        let out = self.convert(bytes, true, start, end, f)?;
        BUFFER.set(words);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The elements of `a`, `step` at a time, as the chunks treated as `pages` hand them out.
    fn elements<T: Element>(a: &MmapArray<T>, pages: Pages, step: usize) -> Vec<T> {
        let src = MmapChunks::with_pages(a, pages).unwrap();
        let mut out = Vec::new();
        for start in (0..src.len()).step_by(step.max(1)) {
            src.with_range(start, step, |x| out.extend_from_slice(x)).unwrap();
        }
        out
    }

    fn same_both_ways<T: Element>(path: &Path) {
        let a = MmapArray::<T>::open(path).unwrap();
        let want = elements(&a, Pages::Keep, 5);
        assert_eq!(want.len(), a.len(), "{}", path.display());
        for pages in [Pages::Release, Pages::Read] {
            for step in [1, 5, a.len()] {
                let got = elements(&a, pages, step);
                // Bytes, so that NaN compares equal to itself.
                let (w, g): (&[u8], &[u8]) =
                    (bytemuck::cast_slice(&want), bytemuck::cast_slice(&got));
                assert_eq!(w, g, "{} {pages:?} in steps of {step}", path.display());
            }
        }
    }

    #[test]
    fn reading_past_the_mapping_gives_the_mapped_elements() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/npy");
        // Both byte orders, both layouts, header versions 1 to 3, special values, and every
        // element width.
        same_both_ways::<f64>(&dir.join("f8_le_1d_200.npy"));
        same_both_ways::<f64>(&dir.join("f8_be_3d_2x3x4_f.npy"));
        same_both_ways::<f64>(&dir.join("f8_le_edges.npy"));
        same_both_ways::<f32>(&dir.join("f4_le_2d_3x2_c_v3.npy"));
        same_both_ways::<i16>(&dir.join("i2_be_2d_17x13_f.npy"));
        same_both_ways::<bool>(&dir.join("b1_edges.npy"));
        same_both_ways::<u64>(&dir.join("u8_be_edges.npy"));
        same_both_ways::<num_complex::Complex<f64>>(&dir.join("c16_be_edges.npy"));
        same_both_ways::<half::f16>(&dir.join("f2_le_edges.npy"));
    }

    #[test]
    fn a_bool_byte_other_than_0_or_1_is_an_error_when_read_past_the_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.npy");
        let header =
            crate::npy::Header::new(crate::DType::native(crate::ElementType::Bool), &[3], false);
        let mut bytes = header.to_bytes();
        bytes.extend_from_slice(&[0, 1, 7]);
        std::fs::write(&path, bytes).unwrap();
        let a = MmapArray::<bool>::open(&path).unwrap();
        let src = MmapChunks::with_pages(&a, Pages::Read).unwrap();
        let e = src.with_range(0, 3, |_| ()).unwrap_err().to_string();
        assert!(e.contains("b.npy") && e.contains("elements 0..3"), "{e}");
    }

    #[test]
    fn a_file_cut_short_after_opening_is_an_error_naming_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let mut w = crate::NpyWriter::<f64>::create(&path, &[]).unwrap();
        w.append(&[1.0; 1000]).unwrap();
        w.finish().unwrap();
        let a = MmapArray::<f64>::open(&path).unwrap();
        let src = MmapChunks::with_pages(&a, Pages::Read).unwrap();
        let data = a.header.data_offset;
        // Another process cuts the file (the advisory lock does not stop a program that ignores
        // it); a read past the mapping reports it rather than faulting.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(data as u64 + 800)
            .unwrap();
        let e = src.with_range(0, 1000, |_| ()).unwrap_err().to_string();
        assert!(e.contains("x.npy"), "{e}");
        assert!(e.contains(&format!("bytes {data}..{}", data + 8000)), "{e}");
    }
}
