//! Copy-on-write clones that cost only the pages they change, in memory and on disk.
//!
//! A clone ([`MmapArray::open_cow`], [`MmapArray::cow`]) is a private mapping of the `.npy`
//! file: making one costs a system call whatever the array's size, reads of untouched pages
//! come from the page cache, and the first write to a page gives the process its own copy of
//! that page only. [`MmapArray::dirty_pages`] lists those pages and
//! [`MmapArray::private_bytes`] says what they cost.
//!
//! [`MmapArray::save_delta`] writes just those pages to a *delta file*, with an index and the
//! identity of the file below it and a checksum per page; [`MmapArray::open_with_delta`]
//! reopens base + delta after checking only the header and index: element reads look their
//! page up in the delta, and the first whole view maps the delta's pages over a fresh clone of
//! the base, so reopening costs nothing for the untouched pages. Deltas stack:
//! a clone opened with a delta saves a delta over that delta. [`MmapArray::materialize`] writes
//! a standalone `.npy` (a reflink of the base plus the changed pages where the filesystem can).
//! `docs/cow.md` explains the guarantees and limits; `docs/format.md` the delta format.
//!
//! ```
//! use larder::MmapArray;
//! # let dir = tempfile::tempdir()?;
//! # let base = dir.path().join("base.npy");
//! # let delta = dir.path().join("edit.delta");
//! # let full = dir.path().join("edited.npy");
//! let mut a = MmapArray::<f64>::create(&base, &[1_000_000])?;
//! a.view_mut()?.fill(1.0);
//! a.close()?;
//!
//! let mut clone = MmapArray::<f64>::open_cow(&base)?;
//! clone.view_mut()?[[500_000]] = 42.0; // one page becomes private
//! assert_eq!(clone.dirty_pages()?.len(), 1);
//! clone.save_delta(&delta)?; // one page of data plus a small header
//!
//! let again = MmapArray::<f64>::open_with_delta(&base, &delta)?;
//! assert_eq!(again.view()?[[500_000]], 42.0);
//! again.materialize(&full)?; // a plain .npy numpy can load
//! assert_eq!(MmapArray::<f64>::open(&base)?.view()?[[500_000]], 1.0); // base untouched
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod delta;
mod describe;

use std::fs::{self, File};
use std::hash::Hasher;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{ArrayD, IxDyn, SliceInfoElem};
use serde::Serialize;
use twox_hash::XxHash3_64;

use super::array::{MmapArray, Mode};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::fsutil::{same_file, write_atomically};
use crate::sys::{self, CloneHow, Lock, Mapping, page_size};
use delta::{DeltaHeader, FIXED, Identity, page_checksum};
pub use describe::{DeltaInfo, describe_delta, is_delta_file};

/// Most runs of consecutive pages one array maps from its delta files. Each run splits the
/// clone's mapping (up to two more kernel mapping areas), and a process may hold only so many
/// (`vm.max_map_count`, 65530 by default). An array maps at most this many runs, and at most a
/// quarter of the mappings the process has left (or 8192 where that cannot be read); beyond
/// that the delta's pages are copied in instead.
pub const MAX_MAPPED_DELTA_RUNS: usize = 16384;

/// Pages of a base `.npy` sampled into its fingerprint (evenly spaced, first and last
/// included).
const FINGERPRINT_PAGES: u64 = 64;

/// Most elements [`MmapArray::read_slice`] reads through the delta index of an array whose
/// deltas are not applied yet; a larger selection applies them first (see
/// [`MmapArray::open_with_deltas`]).
const LAZY_ELEMENTS: usize = 1 << 16;

/// A delta file mapped (or copied) over a clone.
#[derive(Debug)]
pub(crate) struct Delta {
    /// As given when opened, made absolute where possible.
    path: PathBuf,
    /// Kept open, with a shared lock, while pages of it are mapped.
    file: File,
    /// The whole delta file, read-only: checksummed and copied from without a system call per
    /// page.
    map: Mapping,
    header: DeltaHeader,
    /// The file's length and mtime when it was opened: what a delta over it records.
    len: u64,
    mtime: (i64, u32),
    /// One bit per page of the index: set once that page's data has matched its checksum.
    verified: Box<[AtomicU64]>,
}

fn no_pages_verified(n: usize) -> Box<[AtomicU64]> {
    (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
}

impl Delta {
    fn try_clone(&self) -> Result<Delta> {
        Ok(Delta {
            path: self.path.clone(),
            file: self.file.try_clone().map_err(|e| Error::io(&self.path, e))?,
            map: Mapping::read_only(&self.file, &self.path)?,
            header: self.header.clone(),
            len: self.len,
            mtime: self.mtime,
            verified: no_pages_verified(self.header.pages.len()),
        })
    }

    /// The data of the `i`-th page of the index, checked against its checksum the first time
    /// it is asked for.
    fn page(&self, i: usize) -> Result<&[u8]> {
        let ps = self.header.page_size as usize;
        let from = usize::try_from(self.header.data_offset)
            .unwrap_or(usize::MAX)
            .saturating_add(i.saturating_mul(ps));
        let data = self.map.bytes().get(from..from.saturating_add(ps)).ok_or_else(|| {
            Error::format(&self.path, from as u64, "delta shorter than its index says")
        })?;
        let (word, bit) = (&self.verified[i / 64], 1u64 << (i % 64));
        if word.load(Ordering::Relaxed) & bit == 0 {
            let stored = self.header.checksums[i];
            let computed = page_checksum(data);
            if computed != stored {
                let page = self.header.pages[i];
                return Err(Error::format(
                    &self.path,
                    from as u64,
                    format!(
                        "delta data checksum mismatch in page {i} of the delta (page {page} of \
                         the array file, its bytes from {}): stored {stored:016x}, computed \
                         {computed:016x}; the page data is corrupt",
                        page * ps as u64
                    ),
                ));
            }
            word.fetch_or(bit, Ordering::Relaxed);
        }
        Ok(data)
    }

    /// Checks every page of the delta against its checksum.
    fn verify_all(&self) -> Result<()> {
        for i in 0..self.header.pages.len() {
            self.page(i)?;
        }
        Ok(())
    }

    fn identity(&self) -> Identity {
        Identity {
            path: self.path.clone(),
            len: self.len,
            mtime_sec: self.mtime.0,
            mtime_nsec: self.mtime.1,
            fingerprint: self.header.header_checksum,
        }
    }
}

/// What [`MmapArray::save_delta`] wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeltaReport {
    /// Pages stored.
    pub pages: u64,
    /// Size of the delta file in bytes.
    pub bytes: u64,
    /// 1 for a delta over the `.npy` itself, k for a delta over a delta of depth k - 1.
    pub depth: u32,
}

/// How [`MmapArray::materialize`] copied the base file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyMethod {
    /// A reflink (`FICLONE`): the new file shares the base's blocks until they are written.
    Reflink,
    /// An in-kernel copy (`copy_file_range`).
    CopyFileRange,
    /// Read and written through a buffer.
    Stream,
}

impl CopyMethod {
    /// `reflink`, `copy_file_range` or `stream`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CopyMethod::Reflink => "reflink",
            CopyMethod::CopyFileRange => "copy_file_range",
            CopyMethod::Stream => "stream",
        }
    }
}

/// What [`MmapArray::materialize`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaterializeReport {
    /// How the base was copied.
    pub method: CopyMethod,
    /// Size of the file written.
    pub bytes: u64,
    /// Pages written over the copy (the pages that differ from the base).
    pub patched_pages: u64,
}

impl<T: Element> MmapArray<T> {
    /// A new copy-on-write clone of this array as it is stored: the same file (and the same
    /// delta files, if it was opened with some), privately mapped. Costs one mapping whatever
    /// the size (the deltas are applied to the clone when it first needs them, as for
    /// [`open_with_deltas`](MmapArray::open_with_deltas)); writes made through `self` and not
    /// saved are not part of the clone.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an array opened `r+` or `w+` (a clone would see its later
    /// writes through the page cache; flush it and use [`open_cow`](MmapArray::open_cow));
    /// [`Error::Io`] if the mapping fails.
    pub fn cow(&self) -> Result<Self> {
        if matches!(self.mode, Mode::ReadWrite | Mode::Create) {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "cannot clone an array opened {}: later writes to it would show through \
                 the clone; close it and use open_cow",
                    self.mode
                ),
            ));
        }
        // The duplicate shares the open file description, and with it the shared lock.
        let file = self.file.try_clone().map_err(|e| Error::io(&self.path, e))?;
        let mut clone = Self::from_file(&self.path, file, Mode::CopyOnWrite)?;
        clone.deltas = self.deltas.iter().map(Delta::try_clone).collect::<Result<_>>()?;
        Ok(clone)
    }

    /// Opens the copy-on-write clone of `base` that `delta` saved (see
    /// [`save_delta`](MmapArray::save_delta)). A delta saved over another delta names that
    /// one's path, which is followed down to `base`; use
    /// [`open_with_deltas`](MmapArray::open_with_deltas) when the files have moved.
    ///
    /// ```
    /// use larder::MmapArray;
    /// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
    /// # let base = dir.path().join("base.npy");
    /// # larder::write_npy(&base, &ndarray::Array1::<f64>::zeros(100_000))?;
    /// let delta = dir.path().join("run1.delta");
    /// let mut clone = MmapArray::<f64>::open_cow(&base)?;
    /// clone.view_mut()?[[500]] = 7.0;
    /// clone.save_delta(&delta)?;
    /// drop(clone);
    ///
    /// // The clone as it was saved: the base's pages, with the delta's over them.
    /// let again = MmapArray::<f64>::open_with_delta(&base, &delta)?;
    /// assert_eq!((again.get(&[500])?, again.get(&[501])?), (7.0, 0.0));
    /// # Ok::<(), larder::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`open_with_deltas`](MmapArray::open_with_deltas).
    pub fn open_with_delta(base: impl AsRef<Path>, delta: impl AsRef<Path>) -> Result<Self> {
        let mut chain = vec![delta.as_ref().to_path_buf()];
        // Each file is read (and locked) once; the deltas are built from these.
        let mut opened = Vec::new();
        let mut top = None;
        loop {
            let last = &chain[chain.len() - 1];
            let (file, header, meta) = read_delta(last)?;
            // Each parent is one level lower than its child, down to depth 1.
            let expected = *top.get_or_insert(header.depth) as usize + 1 - chain.len();
            if header.depth as usize != expected {
                return Err(Error::format(
                    last,
                    48,
                    format!(
                        "delta has depth {}, expected {expected} below {}",
                        header.depth,
                        delta.as_ref().display()
                    ),
                ));
            }
            let parent = (header.depth > 1).then(|| header.parent.path.clone());
            opened.push((file, header, meta));
            match parent {
                Some(p) => chain.push(p),
                None => break,
            }
        }
        chain.reverse();
        opened.reverse();
        Self::open_stack(base.as_ref(), &chain, opened)
    }

    /// Opens `base` copy-on-write with `deltas` applied in order (the first saved over `base`,
    /// each next one over the one before).
    ///
    /// Opening checks what costs no reading of data: each delta's header and index checksum,
    /// its length, and that the file below it is the one it was saved over (length,
    /// modification time, and a fingerprint: sampled pages of the `.npy`, or the header
    /// checksum of a delta). The pages themselves are used lazily:
    ///
    /// - [`get`](MmapArray::get) and small [`read_slice`](MmapArray::read_slice) selections
    ///   (up to 65,536 elements) look each element's page up in the deltas' indexes and read
    ///   it from the top delta that holds it, or from `base`; each delta page is checked
    ///   against its checksum the first time it is read.
    /// - Everything that needs the array's bytes in one piece ([`view`](MmapArray::view),
    ///   [`view_mut`](MmapArray::view_mut), [`as_slice`](MmapArray::as_slice),
    ///   [`data_bytes`](MmapArray::data_bytes), larger reads, [`materialize`](MmapArray::materialize))
    ///   first checks every page of every delta, then maps the deltas' pages over a private
    ///   clone of `base` (or copies them in, see [`MAX_MAPPED_DELTA_RUNS`]), once. Mapped pages load
    ///   when touched, as the untouched pages of `base` do.
    ///
    /// Either way an untouched page of `base` is never read, and no byte of a delta page is
    /// used before that page has matched its checksum.
    ///
    /// # Errors
    /// As [`open_cow`](MmapArray::open_cow) for `base`; [`Error::Format`] for a delta that is
    /// truncated, has a corrupt header or index, is not a delta file, or was written on a
    /// system with another page size; [`Error::StaleBase`] if the file below a delta is not
    /// the one it was saved over; [`Error::Invalid`] if the deltas are given out of order. A
    /// page whose data does not match its checksum is reported as [`Error::Format`] (naming
    /// the delta file, the page and its byte offset) by the first read that needs it.
    pub fn open_with_deltas<P: AsRef<Path>>(base: impl AsRef<Path>, deltas: &[P]) -> Result<Self> {
        let paths: Vec<PathBuf> = deltas.iter().map(|d| d.as_ref().to_path_buf()).collect();
        let opened = paths.iter().map(|d| read_delta(d)).collect::<Result<Vec<_>>>()?;
        Self::open_stack(base.as_ref(), &paths, opened)
    }

    /// [`open_with_deltas`](MmapArray::open_with_deltas) with the delta files at `deltas`
    /// already opened, locked and their headers parsed (`opened`, in the same order).
    fn open_stack(
        base: &Path,
        deltas: &[PathBuf],
        opened: Vec<(File, DeltaHeader, fs::Metadata)>,
    ) -> Result<Self> {
        let mut arr = Self::open_cow(base)?;
        if deltas.is_empty() {
            return Ok(arr);
        }
        let array_len = arr.map.bytes().len() as u64;
        let mut below = (base.to_path_buf(), base_identity(base, &arr.file, array_len)?);
        let mut stack = Vec::with_capacity(deltas.len());
        for (i, (d, (file, header, meta))) in deltas.iter().zip(opened).enumerate() {
            let d = d.as_path();
            check_page_size(d, &header)?;
            if header.array_len != array_len {
                return Err(Error::StaleBase {
                    delta: d.to_path_buf(),
                    base: base.to_path_buf(),
                    reason: format!(
                        "the delta is for an array file of {} bytes, {} has {array_len}",
                        header.array_len,
                        base.display()
                    ),
                });
            }
            if header.depth as usize != i + 1 {
                return Err(Error::invalid(
                    d,
                    format!(
                        "delta of depth {} (saved over {}) given as delta number {} over {}",
                        header.depth,
                        header.parent.path.display(),
                        i + 1,
                        base.display()
                    ),
                ));
            }
            check_parent(d, &header.parent, &below.0, &below.1)?;
            // The length was checked against the header, and the file is locked (shared).
            let map = Mapping::read_only(&file, d)?;
            let delta = Delta {
                path: absolute(d),
                file,
                map,
                verified: no_pages_verified(header.pages.len()),
                header,
                len: meta.len(),
                mtime: mtime(&meta),
            };
            below = (d.to_path_buf(), delta.identity());
            stack.push(delta);
        }
        arr.deltas = stack;
        Ok(arr)
    }

    /// The delta files this array was opened with, bottom first.
    pub fn deltas(&self) -> Vec<&Path> {
        self.deltas.iter().map(|l| l.path.as_path()).collect()
    }

    /// Copies the stored bytes `[offset, offset + out.len())` of the array file, as the
    /// deltas make them, into `out`, without applying the deltas: each page comes from the top
    /// delta that holds it (checked against its checksum on first use) or from the base.
    /// Reads through the applied mapping when there is one.
    pub(crate) fn stored_bytes(&self, offset: usize, out: &mut [u8]) -> Result<()> {
        let Some(end) = offset.checked_add(out.len()).filter(|&e| e <= self.map.bytes().len())
        else {
            return Err(Error::invalid(
                &self.path,
                format!("bytes {offset}..+{} lie outside the file", out.len()),
            ));
        };
        if let Some(m) = self.current_mapping() {
            out.copy_from_slice(&m.bytes()[offset..end]);
            return Ok(());
        }
        let ps = page_size();
        let mut at = offset;
        while at < end {
            let page = at / ps;
            let upto = ((page + 1) * ps).min(end);
            let dst = &mut out[at - offset..upto - offset];
            let from_delta =
                self.deltas.iter().rev().find_map(|l| {
                    l.header.pages.binary_search(&(page as u64)).ok().map(|i| (l, i))
                });
            match from_delta {
                Some((delta, i)) => {
                    let data = delta.page(i)?;
                    dst.copy_from_slice(&data[at - page * ps..upto - page * ps]);
                }
                None => dst.copy_from_slice(&self.map.bytes()[at..upto]),
            }
            at = upto;
        }
        Ok(())
    }

    /// The selection `elems` read element by element through the deltas' indexes, for an
    /// array whose deltas are not applied yet; `None` when they are (or there are none), or
    /// when the selection holds more than [`LAZY_ELEMENTS`] elements.
    pub(crate) fn read_lazily(&self, elems: &[SliceInfoElem]) -> Result<Option<ArrayD<T>>> {
        if self.current_mapping().is_some() {
            return Ok(None);
        }
        // The indexes taken along each axis of the array, and the shape of the result.
        let mut axes: Vec<Vec<usize>> = Vec::with_capacity(self.ndim());
        let mut shape = Vec::with_capacity(elems.len());
        let mut count: usize = 1;
        for e in elems {
            let taken = match *e {
                SliceInfoElem::NewAxis => {
                    shape.push(1);
                    continue;
                }
                SliceInfoElem::Index(i) => match usize::try_from(i) {
                    Ok(i) => vec![i],
                    Err(_) => return Ok(None),
                },
                SliceInfoElem::Slice { start, end, step } => {
                    let (Ok(lo), Some(Ok(hi))) = (usize::try_from(start), end.map(usize::try_from))
                    else {
                        return Ok(None);
                    };
                    let by = step.unsigned_abs().max(1);
                    let n = hi.saturating_sub(lo).div_ceil(by);
                    count = count.saturating_mul(n);
                    if count > LAZY_ELEMENTS {
                        return Ok(None);
                    }
                    // ndarray takes a negative step from the end of [lo, hi) backwards.
                    let taken: Vec<usize> = if step < 0 {
                        (0..n).map(|k| hi - 1 - k * by).collect()
                    } else {
                        (0..n).map(|k| lo + k * by).collect()
                    };
                    shape.push(n);
                    taken
                }
            };
            axes.push(taken);
        }
        if axes.len() != self.ndim() {
            return Ok(None);
        }
        let mut values = Vec::with_capacity(count);
        if count > 0 {
            let mut at = vec![0usize; axes.len()];
            let mut index = vec![0usize; axes.len()];
            loop {
                for (k, ax) in axes.iter().enumerate() {
                    index[k] = ax[at[k]];
                }
                values.push(self.get(&index)?);
                // The next index, last axis fastest (C order of the result).
                let mut k = axes.len();
                loop {
                    if k == 0 {
                        break;
                    }
                    k -= 1;
                    at[k] += 1;
                    if at[k] < axes[k].len() {
                        break;
                    }
                    at[k] = 0;
                }
                if at.iter().all(|&a| a == 0) {
                    break;
                }
            }
        }
        ArrayD::from_shape_vec(IxDyn(&shape), values)
            .map(Some)
            .map_err(|e| Error::internal(e.to_string()))
    }

    /// The pages (numbered from the start of the file, [`page_size`] bytes each) written
    /// through this clone since it was opened, sorted. Exact on Linux, where the kernel says
    /// which pages of the mapping are private copies (`/proc/self/pagemap`). Elsewhere, or
    /// when that interface does not work, the pages whose bytes differ from the stored ones
    /// (this reads the whole file; a page written with the bytes it already had is not
    /// counted). Empty for a read-only array. Pages a delta brought in are not listed unless
    /// written again, except when they had to be copied rather than mapped (see
    /// [`MAX_MAPPED_DELTA_RUNS`]). Empty for an array opened with deltas until a view of it applies
    /// them (nothing can be written before).
    ///
    /// ```
    /// use larder::{MmapArray, page_size};
    /// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
    /// # let base = dir.path().join("base.npy");
    /// # larder::write_npy(&base, &ndarray::Array1::<f64>::zeros(100_000))?;
    /// let mut clone = MmapArray::<f64>::open_cow(&base)?;
    /// assert!(clone.dirty_pages()?.is_empty());
    /// let offset = clone.header().data_offset;
    /// clone.view_mut()?[[0]] = 1.0;
    /// clone.view_mut()?[[90_000]] = 2.0;
    /// // The pages (of the file) that hold elements 0 and 90000 are now private copies.
    /// let want = vec![offset / page_size(), (offset + 90_000 * 8) / page_size()];
    /// assert_eq!(clone.dirty_pages()?, want);
    /// # Ok::<(), larder::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] for an array opened `r+` or `w+`, whose writes go to the file;
    /// [`Error::Io`] if `/proc/self/pagemap` or the file cannot be read.
    pub fn dirty_pages(&self) -> Result<Vec<usize>> {
        match self.mode {
            Mode::ReadOnly => Ok(Vec::new()),
            Mode::ReadWrite | Mode::Create => Err(Error::invalid(
                &self.path,
                format!(
                    "dirty_pages() tracks copy-on-write clones; this array is mode {} and \
                 writes to its file",
                    self.mode
                ),
            )),
            Mode::CopyOnWrite => {
                // Deltas not applied yet: nothing can have been written.
                let Some(map) = self.current_mapping() else { return Ok(Vec::new()) };
                match map.written_pages().map_err(|e| Error::io("/proc/self/pagemap", e))? {
                    Some(pages) => Ok(pages),
                    None => self.compare_pages(),
                }
            }
        }
    }

    /// The pages that differ from the base `.npy`: those of the deltas the array was opened
    /// with and those written since, sorted.
    ///
    /// # Errors
    /// As [`dirty_pages`](MmapArray::dirty_pages).
    pub fn changed_pages(&self) -> Result<Vec<usize>> {
        let mut pages = self.dirty_pages()?;
        for delta in &self.deltas {
            pages.extend(delta.header.pages.iter().map(|&p| usize::try_from(p).unwrap_or(0)));
        }
        pages.sort_unstable();
        pages.dedup();
        Ok(pages)
    }

    /// Memory this clone owns: its written pages times the page size. Everything else it
    /// shows is page cache, shared with other readers and evictable.
    ///
    /// ```
    /// use larder::{MmapArray, page_size};
    /// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
    /// # let base = dir.path().join("base.npy");
    /// # larder::write_npy(&base, &ndarray::Array1::<f64>::zeros(100_000))?;
    /// let mut clone = MmapArray::<f64>::open_cow(&base)?;
    /// clone.view_mut()?.fill(0.5); // every page written: all of it is now this process's
    /// assert_eq!(clone.private_bytes()?, (clone.dirty_pages()?.len() * page_size()) as u64);
    /// assert!(clone.private_bytes()? >= 800_000);
    /// # Ok::<(), larder::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`dirty_pages`](MmapArray::dirty_pages).
    pub fn private_bytes(&self) -> Result<u64> {
        Ok(self.dirty_pages()?.len() as u64 * page_size() as u64)
    }

    /// The fallback of [`dirty_pages`](MmapArray::dirty_pages): pages whose bytes differ from
    /// what the file and the deltas hold.
    pub(crate) fn compare_pages(&self) -> Result<Vec<usize>> {
        const CHUNK: usize = 256;
        let ps = page_size();
        let Some(map) = self.current_mapping() else { return Ok(Vec::new()) };
        let bytes = map.bytes();
        let n = bytes.len().div_ceil(ps);
        let mut buf = vec![0u8; CHUNK * ps];
        let mut out = Vec::new();
        for start in (0..n).step_by(CHUNK) {
            let end = (start + CHUNK).min(n);
            let (lo, hi) = (start * ps, (end * ps).min(bytes.len()));
            self.file.read_exact_at(&mut buf[..hi - lo], lo as u64).map_err(|e| self.io(e))?;
            for delta in &self.deltas {
                let pages = &delta.header.pages;
                let from = pages.partition_point(|&p| p < start as u64);
                let to = pages.partition_point(|&p| p < end as u64);
                for (i, &p) in pages.iter().enumerate().take(to).skip(from) {
                    let p = usize::try_from(p).unwrap_or(0);
                    let a = p * ps - lo;
                    let b = (a + ps).min(hi - lo);
                    let offset = delta.header.data_offset + (i * ps) as u64;
                    delta
                        .file
                        .read_exact_at(&mut buf[a..b], offset)
                        .map_err(|e| Error::io(&delta.path, e))?;
                }
            }
            for p in start..end {
                let a = p * ps;
                let b = (a + ps).min(bytes.len());
                if bytes[a..b] != buf[a - lo..b - lo] {
                    out.push(p);
                }
            }
        }
        Ok(out)
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::io(&self.path, e)
    }

    /// Writes the pages written through this clone since it was opened to a delta file at
    /// `path`: a header with the identity of the file below (the `.npy`, or the last delta the
    /// array was opened with), an index of page numbers, and the pages themselves, page-aligned
    /// so they can be mapped back. Its size is the written pages plus a header of
    /// `96 + 16 × pages + path` bytes rounded up to a page. The file is written beside `path`
    /// under a temporary name, synced, and renamed over `path`.
    ///
    /// Saving twice from the same clone writes every page written since it was opened both
    /// times; to keep cheap snapshots, reopen with the delta and save the next one over it.
    ///
    /// ```
    /// use larder::MmapArray;
    /// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
    /// # let base = dir.path().join("base.npy");
    /// # larder::write_npy(&base, &ndarray::Array1::<f64>::zeros(100_000))?;
    /// let mut clone = MmapArray::<f64>::open_cow(&base)?;
    /// clone.view_mut()?[[42]] = 1.0; // one page written
    /// let report = clone.save_delta(dir.path().join("run1.delta"))?;
    /// assert_eq!((report.pages, report.depth), (1, 1));
    /// // The base is unchanged; the delta holds the page and a small header.
    /// assert_eq!(MmapArray::<f64>::open(&base)?.get(&[42])?, 0.0);
    /// assert!(report.bytes < 16 * 4096 + larder::page_size() as u64);
    /// # Ok::<(), larder::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] for an array opened `r+` or `w+`, or if `path` is the array's own
    /// file or one of its deltas; as [`dirty_pages`](MmapArray::dirty_pages); [`Error::Io`]
    /// if writing fails (nothing is left at `path` then).
    pub fn save_delta(&self, path: impl AsRef<Path>) -> Result<DeltaReport> {
        let path = path.as_ref();
        self.refuse_own_files(path, "save a delta")?;
        let ps = page_size();
        let pages = self.dirty_pages()?;
        // Without an applied mapping nothing was written, and `pages` is empty.
        let bytes = self.current_mapping().unwrap_or(&self.map).bytes();
        let mut page_buf = vec![0u8; ps];
        let checksums = pages
            .iter()
            .map(|&p| {
                let (data, pad) = page_run(bytes, p, 1, ps);
                if pad == 0 {
                    return page_checksum(data);
                }
                page_buf[..data.len()].copy_from_slice(data);
                page_buf[data.len()..].fill(0);
                page_checksum(&page_buf)
            })
            .collect();
        let zeros = vec![0u8; ps];
        let (depth, parent) = match self.deltas.last() {
            Some(top) => (top.header.depth + 1, top.identity()),
            None => (1, base_identity(&self.path, &self.file, bytes.len() as u64)?),
        };
        let header = DeltaHeader::new(
            u32::try_from(ps).map_err(|_| Error::internal("page size does not fit 32 bits"))?,
            bytes.len() as u64,
            depth,
            parent,
            pages.iter().map(|&p| p as u64).collect(),
            checksums,
        );
        let written = write_atomically(path, |file| {
            let mut w = BufWriter::with_capacity(1 << 20, file);
            w.write_all(&header.to_bytes())?;
            for (_, page, count) in runs_usize(&pages) {
                let (run, pad) = page_run(bytes, page, count, ps);
                w.write_all(run)?;
                w.write_all(&zeros[..pad])?;
            }
            w.flush()
        })?;
        Ok(DeltaReport { pages: pages.len() as u64, bytes: written, depth })
    }

    /// Writes the array as it is now (base, deltas and unsaved writes) to a standalone `.npy`
    /// at `dst` that numpy and larder open without the base. The base is copied with a reflink
    /// where the filesystem supports it (btrfs, XFS, …: no data is copied), else with
    /// `copy_file_range`, else through a buffer; then the changed pages are written over the
    /// copy. The file is written beside `dst` under a temporary name, synced, and renamed.
    ///
    /// ```
    /// use larder::MmapArray;
    /// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
    /// # let base = dir.path().join("base.npy");
    /// # larder::write_npy(&base, &ndarray::Array1::<f64>::zeros(100_000))?;
    /// let mut clone = MmapArray::<f64>::open_cow(&base)?;
    /// clone.view_mut()?[[7]] = 3.5;
    /// let out = dir.path().join("final.npy");
    /// let report = clone.materialize(&out)?;
    /// assert_eq!(report.patched_pages, 1);
    /// // A plain .npy numpy opens without the base: the base and the clone's writes.
    /// let copy = larder::read_npy::<f64>(&out)?;
    /// assert_eq!((copy[[7]], copy[[8]], copy.len()), (3.5, 0.0, 100_000));
    /// # Ok::<(), larder::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Invalid`] if `dst` is the array's own file or one of its deltas; as
    /// [`changed_pages`](MmapArray::changed_pages); [`Error::Io`] if copying or writing fails
    /// (nothing is left at `dst` then).
    pub fn materialize(&self, dst: impl AsRef<Path>) -> Result<MaterializeReport> {
        let dst = dst.as_ref();
        self.refuse_own_files(dst, "materialize")?;
        let ps = page_size();
        let map = self.mapping()?;
        let bytes = map.bytes();
        let changed = if map.is_private() { self.changed_pages()? } else { Vec::new() };
        let mut method = CopyMethod::Stream;
        let written = write_atomically(dst, |out| {
            method = match sys::clone_file(&self.file, out, bytes.len() as u64)? {
                CloneHow::Reflink => CopyMethod::Reflink,
                CloneHow::CopyFileRange => CopyMethod::CopyFileRange,
                CloneHow::Stream => CopyMethod::Stream,
            };
            for (_, page, count) in runs_usize(&changed) {
                let (run, _) = page_run(bytes, page, count, ps);
                out.write_all_at(run, (page * ps) as u64)?;
            }
            Ok(())
        })?;
        Ok(MaterializeReport { method, bytes: written, patched_pages: changed.len() as u64 })
    }

    fn refuse_own_files(&self, target: &Path, what: &str) -> Result<()> {
        if matches!(self.mode, Mode::ReadWrite | Mode::Create) && what == "save a delta" {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "cannot save a delta of an array opened {}: its writes go to the file",
                    self.mode
                ),
            ));
        }
        let own = std::iter::once(self.path.as_path()).chain(self.deltas.iter().map(|l| &*l.path));
        for p in own {
            if same_file(p, target) {
                return Err(Error::invalid(
                    &self.path,
                    format!(
                        "cannot {what} to {}: it is {}, which this array is made of",
                        target.display(),
                        p.display()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The whole pages `[page, page + count)` of `bytes` as far as they exist, and how many zero
/// bytes complete the last page.
fn page_run(bytes: &[u8], page: usize, count: usize, ps: usize) -> (&[u8], usize) {
    let lo = (page * ps).min(bytes.len());
    let hi = ((page + count) * ps).min(bytes.len());
    (&bytes[lo..hi], count * ps - (hi - lo))
}

/// Runs of consecutive page numbers: `(index of the first, first page, length)`.
fn runs(pages: &[u64]) -> impl Iterator<Item = (usize, u64, usize)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let first = i;
        let start = *pages.get(i)?;
        i += 1;
        while pages.get(i).is_some_and(|&p| p == start + (i - first) as u64) {
            i += 1;
        }
        Some((first, start, i - first))
    })
}

fn runs_usize(pages: &[usize]) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let first = i;
        let start = *pages.get(i)?;
        i += 1;
        while pages.get(i).is_some_and(|&p| p == start + (i - first)) {
            i += 1;
        }
        Some((first, start, i - first))
    })
}

fn mtime(meta: &fs::Metadata) -> (i64, u32) {
    (meta.mtime(), u32::try_from(meta.mtime_nsec()).unwrap_or(0))
}

fn absolute(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The identity of a base `.npy` of `len` bytes open as `file`.
fn base_identity(path: &Path, file: &File, len: u64) -> Result<Identity> {
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    let (sec, nsec) = mtime(&meta);
    Ok(Identity {
        path: absolute(path),
        len: meta.len(),
        mtime_sec: sec,
        mtime_nsec: nsec,
        fingerprint: fingerprint(file, len).map_err(|e| Error::io(path, e))?,
    })
}

/// xxh3-64 of the file length and of [`FINGERPRINT_PAGES`] evenly spaced pages (numbers and
/// bytes), always including the first page (the `.npy` header) and the last.
fn fingerprint(file: &File, len: u64) -> std::io::Result<u64> {
    let ps = page_size() as u64;
    let n = len.div_ceil(ps);
    let mut h = XxHash3_64::new();
    h.write(&len.to_le_bytes());
    let mut buf = vec![0u8; page_size()];
    let mut last = None;
    for i in 0..FINGERPRINT_PAGES.min(n) {
        let page = if n <= FINGERPRINT_PAGES { i } else { i * (n - 1) / (FINGERPRINT_PAGES - 1) };
        if last == Some(page) {
            continue;
        }
        last = Some(page);
        let lo = page * ps;
        let m = usize::try_from((len - lo).min(ps)).unwrap_or(0);
        file.read_exact_at(&mut buf[..m], lo)?;
        h.write(&page.to_le_bytes());
        h.write(&buf[..m]);
    }
    Ok(h.finish())
}

/// Opens, locks (shared) and validates the header of the delta file at `path`.
fn read_delta(path: &Path) -> Result<(File, DeltaHeader, fs::Metadata)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    sys::lock(&file, path, Lock::Shared)?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    let len = meta.len();
    let mut head = vec![0u8; usize::try_from(len.min(FIXED as u64)).unwrap_or(FIXED)];
    file.read_exact_at(&mut head, 0).map_err(|e| Error::io(path, e))?;
    let need = DeltaHeader::needed_len(path, &head, len)?;
    head.resize(need, 0);
    file.read_exact_at(&mut head, 0).map_err(|e| Error::io(path, e))?;
    let header = DeltaHeader::parse(path, &head, len)?;
    Ok((file, header, meta))
}

fn check_page_size(path: &Path, header: &DeltaHeader) -> Result<()> {
    let ps = page_size();
    if header.page_size as usize == ps {
        return Ok(());
    }
    Err(Error::format(
        path,
        12,
        format!(
            "delta made with {}-byte pages, this system uses {ps}-byte pages; materialize it \
             on a system like the one that saved it",
            header.page_size
        ),
    ))
}

/// Checks that the file below a delta (`actual`, at `below`) is the one it was saved over.
fn check_parent(delta: &Path, recorded: &Identity, below: &Path, actual: &Identity) -> Result<()> {
    let stale = |reason: String| Error::StaleBase {
        delta: delta.to_path_buf(),
        base: below.to_path_buf(),
        reason,
    };
    let was = recorded.path.display();
    if recorded.len != actual.len {
        return Err(stale(format!(
            "it has {} bytes, the delta was saved over {was} of {} bytes",
            actual.len, recorded.len
        )));
    }
    if (recorded.mtime_sec, recorded.mtime_nsec) != (actual.mtime_sec, actual.mtime_nsec) {
        return Err(stale(format!(
            "it was modified at {}.{:09} (seconds since the epoch), the delta was saved over \
             {was} modified at {}.{:09}; if only the time changed (a copy without -p), restore it",
            actual.mtime_sec, actual.mtime_nsec, recorded.mtime_sec, recorded.mtime_nsec
        )));
    }
    if recorded.fingerprint != actual.fingerprint {
        return Err(stale(format!(
            "its content fingerprint is {:016x}, the delta was saved over {was} with {:016x}",
            actual.fingerprint, recorded.fingerprint
        )));
    }
    Ok(())
}

/// A private clone of `file` with the pages of `deltas` (bottom first) mapped over it, or
/// copied in when there are too many runs of pages for separate mappings (or the kernel
/// refuses one). Every delta page is checked against its checksum first; on any error the
/// clone is dropped, so a delta is never partly applied.
///
/// `run_limit` caps the runs mapped separately; `None` means [`MAX_MAPPED_DELTA_RUNS`], or fewer
/// when the process is near the kernel's limit on mappings.
pub(crate) fn apply_deltas(
    path: &Path,
    file: &File,
    deltas: &[Delta],
    run_limit: Option<usize>,
) -> Result<Mapping> {
    let mut map = Mapping::copy_on_write(file, path)?;
    let total: usize = deltas.iter().map(|l| runs(&l.header.pages).count()).sum();
    let limit = run_limit.unwrap_or_else(|| {
        let left = sys::mappings_left().map_or(MAX_MAPPED_DELTA_RUNS / 2, |n| n / 4);
        MAX_MAPPED_DELTA_RUNS.min(left)
    });
    if total <= limit {
        for delta in deltas {
            delta.verify_all()?;
        }
        match map_delta_pages(&mut map, deltas) {
            Ok(()) => return Ok(map),
            // Start again from a clean mapping, and copy.
            Err(_) => map = Mapping::copy_on_write(file, path)?,
        }
    }
    copy_delta_pages(&mut map, deltas)?;
    Ok(map)
}

fn map_delta_pages(map: &mut Mapping, deltas: &[Delta]) -> Result<()> {
    let ps = page_size() as u64;
    for delta in deltas {
        for (first, page, count) in runs(&delta.header.pages) {
            let offset = delta.header.data_offset + first as u64 * ps;
            let page = usize::try_from(page)
                .map_err(|_| Error::internal("delta page number overflows"))?;
            map.map_file_over(&delta.file, &delta.path, offset, page, count)?;
        }
    }
    Ok(())
}

/// Copies the deltas' pages into `map`, checking each against its checksum on the way.
fn copy_delta_pages(map: &mut Mapping, deltas: &[Delta]) -> Result<()> {
    let ps = page_size();
    let Some(bytes) = map.bytes_mut() else {
        return Err(Error::internal("copy-on-write mapping is not writable"));
    };
    let len = bytes.len();
    for delta in deltas {
        for (i, &page) in delta.header.pages.iter().enumerate() {
            let lo = usize::try_from(page).unwrap_or(usize::MAX).saturating_mul(ps).min(len);
            let hi = lo.saturating_add(ps).min(len);
            let src = delta.page(i)?;
            bytes[lo..hi].copy_from_slice(&src[..hi - lo]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_group_consecutive_pages() {
        let pages = [1u64, 2, 3, 7, 9, 10];
        let r: Vec<_> = runs(&pages).collect();
        assert_eq!(r, vec![(0, 1, 3), (3, 7, 1), (4, 9, 2)]);
        assert_eq!(runs(&[]).count(), 0);
        let r: Vec<_> = runs_usize(&[0, 1, 5]).collect();
        assert_eq!(r, vec![(0, 0, 2), (2, 5, 1)]);
    }

    #[test]
    fn page_run_pads_the_last_partial_page() {
        let bytes = vec![1u8; 10_000];
        let (run, pad) = page_run(&bytes, 1, 2, 4096);
        assert_eq!((run.len(), pad), (10_000 - 4096, 2 * 4096 - (10_000 - 4096)));
    }

    fn base(dir: &Path, n: usize) -> PathBuf {
        let p = dir.join("base.npy");
        let mut a = MmapArray::<u64>::create(&p, &[n]).unwrap();
        for (i, v) in a.view_mut().unwrap().iter_mut().enumerate() {
            *v = i as u64;
        }
        a.close().unwrap();
        p
    }

    #[test]
    fn pagemap_and_byte_comparison_agree_on_written_pages() {
        let dir = tempfile::tempdir().unwrap();
        let ps = page_size();
        let n = 40 * ps / 8;
        let p = base(dir.path(), n);
        let mut c = MmapArray::<u64>::open_cow(&p).unwrap();
        // Read everything first, so read-faulted pages are present too.
        assert_eq!(c.view().unwrap().sum(), (n as u64 - 1) * n as u64 / 2);
        let per_page = ps / 8;
        {
            let mut v = c.view_mut().unwrap();
            for page in [3usize, 4, 17, 39] {
                // The .npy header takes the first 128 bytes of page 0.
                let elem = (page * ps - 128) / 8 + 5;
                v[[elem]] += 1;
            }
            // A write of the same value still copies the page; only pagemap sees it.
            let elem = 20 * per_page;
            let same = v[[elem]];
            v[[elem]] = std::hint::black_box(same);
        }
        let exact = c.dirty_pages().unwrap();
        let compared = c.compare_pages().unwrap();
        assert_eq!(compared, vec![3, 4, 17, 39]);
        if cfg!(target_os = "linux") {
            assert_eq!(exact, vec![3, 4, 17, 20, 39]);
            assert_eq!(c.private_bytes().unwrap(), 5 * ps as u64);
        }
    }

    #[test]
    fn deltas_with_many_runs_are_copied_in_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let ps = page_size();
        let path = base(dir.path(), 30 * ps / 8);
        let d = dir.path().join("d");
        let mut c = MmapArray::<u64>::open_cow(&path).unwrap();
        let elems: Vec<usize> = (1..30).step_by(3).map(|page| (page * ps - 128) / 8).collect();
        for &e in &elems {
            c.view_mut().unwrap()[[e]] = 7;
        }
        let mut expected = c.read_all().unwrap();
        assert_eq!(c.save_delta(&d).unwrap().pages, elems.len() as u64);
        drop(c);
        // 10 runs is over a limit of 4: once a view applies the delta, the pages are copied,
        // so they count as dirty.
        let mut r = MmapArray::<u64>::open_with_delta(&path, &d).unwrap();
        r.delta_run_limit = Some(4);
        assert_eq!(r.read_all().unwrap(), expected);
        assert!(r.dirty_pages().unwrap().is_empty(), "a small read does not apply the delta");
        assert_eq!(r.view().unwrap(), expected.view());
        assert_eq!(r.dirty_pages().unwrap().len(), elems.len());
        assert_eq!(r.changed_pages().unwrap().len(), elems.len());
        r.view_mut().unwrap()[[0]] = 1;
        expected[[0]] = 1;
        let d2 = dir.path().join("d2");
        r.save_delta(&d2).unwrap();
        let m = dir.path().join("m.npy");
        r.materialize(&m).unwrap();
        assert_eq!(crate::read_npy::<u64>(&m).unwrap(), expected);
        drop(r);
        let r2 = MmapArray::<u64>::open_with_delta(&path, &d2).unwrap();
        assert_eq!(r2.read_all().unwrap(), expected);
        assert_eq!(r2.deltas().len(), 2);
    }

    #[test]
    fn fingerprint_covers_sampled_pages_and_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let ps = page_size();
        fs::write(&p, vec![0u8; 1000 * ps + 3]).unwrap();
        let f = File::open(&p).unwrap();
        let len = f.metadata().unwrap().len();
        let a = fingerprint(&f, len).unwrap();
        assert_eq!(a, fingerprint(&f, len).unwrap());
        // The last (partial) page is always sampled.
        let w = fs::OpenOptions::new().write(true).open(&p).unwrap();
        w.write_all_at(&[1], len - 1).unwrap();
        assert_ne!(a, fingerprint(&f, len).unwrap());
    }
}
