//! File mappings (`memmap2`): read-only, shared read-write and private (copy-on-write), page
//! advice, release of pages already read, residency, and the `MAP_FIXED` overlay of delta
//! pages over a clone.

use std::fs::File;
use std::io;
use std::path::Path;

use memmap2::{Advice, Mmap, MmapMut, MmapOptions};

use super::page_size;
use super::pagemap;
use crate::error::{Error, Result};

/// How the pages of a mapping are expected to be read, passed to the kernel as `madvise`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No particular pattern (the default).
    Normal,
    /// Front to back: the kernel reads ahead aggressively and may drop pages behind.
    Sequential,
    /// Scattered: read-ahead is turned off.
    Random,
    /// The whole range will be needed soon: start reading it in now.
    WillNeed,
}

impl From<Access> for Advice {
    fn from(a: Access) -> Advice {
        match a {
            Access::Normal => Advice::Normal,
            Access::Sequential => Advice::Sequential,
            Access::Random => Advice::Random,
            Access::WillNeed => Advice::WillNeed,
        }
    }
}

/// The three kinds of mapping larder makes.
#[derive(Debug)]
enum Inner {
    /// `PROT_READ`, `MAP_SHARED`.
    ReadOnly(Mmap),
    /// `PROT_READ|PROT_WRITE`, `MAP_SHARED`: writes reach the file.
    Shared(MmapMut),
    /// `PROT_READ|PROT_WRITE`, `MAP_PRIVATE`: writes stay in this process.
    Private(MmapMut),
}

/// A mapping of a whole file.
#[derive(Debug)]
pub(crate) struct Mapping {
    inner: Inner,
}

impl Mapping {
    /// Maps all of `file` read-only.
    pub(crate) fn read_only(file: &File, path: &Path) -> Result<Mapping> {
        // SAFETY: the mapping is sound while no process truncates or rewrites the file. larder
        // holds at least a shared advisory lock on `file` for the mapping's life, so no larder
        // writer can touch it; other processes are the documented hazard of docs/safety.md. The
        // caller validated the length it will read against the file's length at open.
        let map = unsafe { MmapOptions::new().map(file) }.map_err(|e| Error::io(path, e))?;
        Ok(Mapping { inner: Inner::ReadOnly(map) })
    }

    /// Maps all of `file` read-write, shared: writes go to the file.
    pub(crate) fn read_write(file: &File, path: &Path) -> Result<Mapping> {
        // SAFETY: as for `read_only`; here larder holds the exclusive lock, so no other larder
        // process reads or writes the file while it is mapped.
        let map = unsafe { MmapOptions::new().map_mut(file) }.map_err(|e| Error::io(path, e))?;
        Ok(Mapping { inner: Inner::Shared(map) })
    }

    /// Maps all of `file` copy-on-write: writes stay private to this process.
    pub(crate) fn copy_on_write(file: &File, path: &Path) -> Result<Mapping> {
        // SAFETY: as for `read_only` (shared lock held). Pages this process writes become
        // private copies and no longer follow the file; pages it has not written do, which is
        // why the lock keeps larder writers away from a file that has clones.
        let map = unsafe { MmapOptions::new().map_copy(file) }.map_err(|e| Error::io(path, e))?;
        Ok(Mapping { inner: Inner::Private(map) })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.inner {
            Inner::ReadOnly(m) => m,
            Inner::Shared(m) | Inner::Private(m) => m,
        }
    }

    /// The mapped bytes, writable; `None` for a read-only mapping.
    pub(crate) fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        match &mut self.inner {
            Inner::ReadOnly(_) => None,
            Inner::Shared(m) | Inner::Private(m) => Some(m),
        }
    }

    /// Writes dirty pages of a shared mapping back to the file (`msync`); a no-op otherwise.
    pub(crate) fn flush(&self) -> io::Result<()> {
        match &self.inner {
            Inner::Shared(m) => m.flush(),
            Inner::ReadOnly(_) | Inner::Private(_) => Ok(()),
        }
    }

    /// Passes an access-pattern hint for `len` bytes from `offset` to the kernel.
    pub(crate) fn advise(&self, access: Access, offset: usize, len: usize) -> io::Result<()> {
        let (offset, len) = page_align(offset, len, self.bytes().len());
        if len == 0 {
            return Ok(());
        }
        match &self.inner {
            Inner::ReadOnly(m) => m.advise_range(access.into(), offset, len),
            Inner::Shared(m) | Inner::Private(m) => m.advise_range(access.into(), offset, len),
        }
    }

    /// Lets the kernel drop this process's page-table entries for `len` bytes from `offset`
    /// (`MADV_DONTNEED`), so that pages already read stop counting towards its resident set. A
    /// no-op for copy-on-write mappings, whose pages may hold private changes.
    pub(crate) fn release(&self, offset: usize, len: usize) -> io::Result<()> {
        let (offset, len) = page_align(offset, len, self.bytes().len());
        if len == 0 {
            return Ok(());
        }
        let advice = memmap2::UncheckedAdvice::DontNeed;
        match &self.inner {
            // SAFETY: for a shared file mapping, MADV_DONTNEED only unmaps pages; their contents
            // (clean, or dirty in the page cache) stay with the file, and the next access maps
            // the same bytes again. No reference into the mapping sees a different value.
            Inner::ReadOnly(m) => unsafe { m.unchecked_advise_range(advice, offset, len) },
            // SAFETY: as above; a shared writable mapping's dirty pages live in the page cache
            // and reach the file as usual.
            Inner::Shared(m) => unsafe { m.unchecked_advise_range(advice, offset, len) },
            Inner::Private(_) => Ok(()),
        }
    }

    /// Bytes of the mapping that are in RAM right now (`mincore`), counted in whole pages and
    /// clipped to the mapping's length.
    pub(crate) fn resident_bytes(&self) -> io::Result<u64> {
        let bytes = self.bytes();
        let page = page_size();
        let pages = bytes.len().div_ceil(page);
        if pages == 0 {
            return Ok(0);
        }
        let mut vec = vec![0u8; pages];
        // SAFETY: `bytes` is a live mapping whose start is page-aligned (mmap returns page
        // addresses); `vec` has one byte for each page of `bytes.len()` rounded up, which is
        // what mincore writes.
        let rc = unsafe {
            libc::mincore(bytes.as_ptr() as *mut libc::c_void, bytes.len(), vec.as_mut_ptr())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let resident = vec.iter().filter(|&&b| b & 1 == 1).count() as u64;
        Ok((resident * page as u64).min(bytes.len() as u64))
    }
}

impl Mapping {
    /// True for a copy-on-write (`MAP_PRIVATE`) mapping.
    pub(crate) fn is_private(&self) -> bool {
        matches!(self.inner, Inner::Private(_))
    }

    /// Replaces pages `[page, page + pages)` of this copy-on-write mapping by a private mapping
    /// of `file` from byte `file_offset` (`mmap` with `MAP_FIXED`): afterwards those pages show
    /// the bytes of `file`, are loaded from it on first touch, and stay evictable until written.
    ///
    /// The caller keeps `file` open and locked (shared) for the life of the mapping, and has
    /// checked that `file` holds `pages` whole pages from `file_offset`.
    ///
    /// # Errors
    /// [`Error::Internal`] if the mapping is not copy-on-write, the range does not lie inside it
    /// or `file_offset` is not page-aligned; [`Error::Io`] if the kernel refuses (for example
    /// when the process has too many mappings).
    #[cfg(unix)]
    pub(crate) fn map_file_over(
        &mut self,
        file: &File,
        path: &Path,
        file_offset: u64,
        page: usize,
        pages: usize,
    ) -> Result<()> {
        use std::os::fd::AsRawFd;
        let ps = page_size();
        let Inner::Private(m) = &mut self.inner else {
            return Err(Error::internal(
                "mapping file pages over others needs a copy-on-write mapping",
            ));
        };
        let mapped = m.len().div_ceil(ps) * ps;
        let start = page.checked_mul(ps);
        let len = pages.checked_mul(ps);
        let (Some(start), Some(len)) = (start, len) else {
            return Err(Error::internal("overlay range overflows"));
        };
        if pages == 0 || start.checked_add(len).is_none_or(|end| end > mapped) {
            return Err(Error::internal(format!(
                "overlay of pages {page}..{} does not fit a mapping of {mapped} bytes",
                page.saturating_add(pages)
            )));
        }
        if !file_offset.is_multiple_of(ps as u64) {
            return Err(Error::internal(format!(
                "overlay offset {file_offset} is not page-aligned"
            )));
        }
        let offset = libc::off_t::try_from(file_offset)
            .map_err(|_| Error::internal(format!("overlay offset {file_offset} is too large")))?;
        let addr = m.as_mut_ptr().wrapping_add(start);
        // SAFETY: `[addr, addr + len)` lies inside the mapping `m` owns (checked above against
        // its page-rounded length), so MAP_FIXED replaces only our own pages and nothing else
        // of the address space. `&mut self` guarantees that no reference into those bytes is
        // alive while they change. The new pages are a private mapping of `file`, which the
        // caller keeps open and locked and has checked to be long enough, so touching them
        // cannot fault past its end. When `m` is dropped, its `munmap` of the whole range also
        // removes these pages. If the call fails, the range may be left unmapped; the caller
        // then drops this mapping without handing out any reference into it.
        let r = unsafe {
            libc::mmap(
                addr.cast(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                file.as_raw_fd(),
                offset,
            )
        };
        if r == libc::MAP_FAILED {
            return Err(Error::io(path, io::Error::last_os_error()));
        }
        if r.cast::<u8>() != addr {
            return Err(Error::internal("the kernel placed an overlay at another address"));
        }
        Ok(())
    }

    /// Pages of a copy-on-write mapping that this process has written, as page numbers from the
    /// start of the mapping, read from `/proc/self/pagemap`. `Ok(None)` where that interface is
    /// missing or does not work (non-Linux systems, some sandboxes). Always empty for shared
    /// and read-only mappings, whose pages all belong to the file.
    ///
    /// # Errors
    /// An I/O error while reading `/proc/self/pagemap`.
    pub(crate) fn written_pages(&self) -> io::Result<Option<Vec<usize>>> {
        if !self.is_private() {
            return Ok(Some(Vec::new()));
        }
        pagemap::written_pages(self.bytes())
    }
}

/// Page-cache bytes of the file at `path`, or of every file under the directory at `path`, in
/// RAM now. Files that cannot be opened or mapped count as 0: this is a report, not a check.
pub(crate) fn resident_under(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else { return 0 };
    if meta.is_dir() {
        return std::fs::read_dir(path)
            .map_or(0, |rd| rd.flatten().map(|e| resident_under(&e.path())).sum());
    }
    if meta.len() == 0 {
        return 0;
    }
    // Only `mincore` looks at the mapping; no byte of it is ever read, so a file that shrinks
    // meanwhile cannot fault.
    File::open(path)
        .ok()
        .and_then(|f| Mapping::read_only(&f, path).ok())
        .and_then(|m| m.resident_bytes().ok())
        .unwrap_or(0)
}

/// Widens `[offset, offset+len)` to whole pages inside a mapping of `total` bytes.
fn page_align(offset: usize, len: usize, total: usize) -> (usize, usize) {
    let page = page_size();
    let start = (offset.min(total) / page) * page;
    let end = offset.saturating_add(len).min(total);
    (start, end.saturating_sub(start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn residency_counts_touched_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = File::create(&path).unwrap();
        f.write_all(&vec![7u8; 16 * page_size()]).unwrap();
        drop(f);
        let file = File::open(&path).unwrap();
        let m = Mapping::read_only(&file, &path).unwrap();
        // A freshly written file is in the page cache, so everything is resident.
        assert_eq!(m.resident_bytes().unwrap(), (16 * page_size()) as u64);
        assert_eq!(m.bytes()[5 * page_size()], 7);
        m.advise(Access::Sequential, 0, 100).unwrap();
        m.advise(Access::WillNeed, 10, 1 << 40).unwrap();
    }

    #[test]
    fn page_align_clips() {
        let p = page_size();
        assert_eq!(page_align(p + 3, 10, 10 * p), (p, 13));
        assert_eq!(page_align(0, usize::MAX, 3 * p), (0, 3 * p));
        assert_eq!(page_align(5 * p, 10, 3 * p), (3 * p, 0));
    }
}
