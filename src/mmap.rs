//! Memory mappings: the only module of the crate allowed `unsafe`.
//!
//! The safety model is written out in `docs/safety.md`. In short: a file mapping is sound as
//! long as no other process truncates the file or rewrites the mapped bytes while the mapping
//! lives. larder cannot enforce that against every process on the machine; it does what it can
//! (an advisory `flock` that every larder process honours, full validation of lengths at open)
//! and documents the rest, the stance numpy's `np.memmap` and ripgrep take.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::path::Path;

use memmap2::{Advice, Mmap, MmapMut, MmapOptions};

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

/// How to lock a file before mapping it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lock {
    /// Readers and copy-on-write clones: many at once, no writer.
    Shared,
    /// In-place writers: alone.
    Exclusive,
}

/// Takes an advisory lock on `file` without blocking.
///
/// # Errors
/// [`Error::Io`] with `WouldBlock` when another larder process holds a conflicting lock.
pub(crate) fn lock(file: &File, path: &Path, kind: Lock) -> Result<()> {
    let r = match kind {
        Lock::Shared => file.try_lock_shared(),
        Lock::Exclusive => file.try_lock(),
    };
    r.map_err(|e| match e {
        std::fs::TryLockError::WouldBlock => Error::io(
            path,
            io::Error::new(
                io::ErrorKind::WouldBlock,
                "file is locked by another process (opened for writing, or being read \
                 while we want to write)",
            ),
        ),
        std::fs::TryLockError::Error(e) => Error::io(path, e),
    })
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

/// Makes glibc's allocator keep freed chunk-sized buffers for reuse instead of handing them back
/// to the kernel at every `free`, once per process.
///
/// Decoding a compressed chunk allocates two chunk-sized buffers (the encoded bytes and the
/// decoded ones). With glibc's defaults each is returned to the kernel when freed, so the next
/// chunk's buffers are fresh pages: every page faults and is zeroed again, which costs more
/// than decoding. Blocks up to 32 MiB are taken from the heap, and up to 64 MiB of freed heap is
/// kept, so a loop over chunks reuses warm pages. Other C libraries are left alone.
pub(crate) fn keep_freed_chunk_buffers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets allocator tuning parameters; both are documented options
        // with in-range values, and it is called once, before this process decodes chunks.
        // A refusal (return 0) leaves the defaults in place, which is harmless.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        }
    });
}

/// Total size of the file at `path`, or of every file under the directory at `path`.
pub(crate) fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else { return 0 };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(path).map_or(0, |rd| rd.flatten().map(|e| disk_usage(&e.path())).sum())
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

/// The system's page size in bytes.
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads a configuration value; _SC_PAGESIZE is always valid.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
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

    #[test]
    fn exclusive_lock_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        File::create(&path).unwrap();
        let a = File::open(&path).unwrap();
        let b = File::open(&path).unwrap();
        lock(&a, &path, Lock::Shared).unwrap();
        let e = lock(&b, &path, Lock::Exclusive).unwrap_err();
        assert!(e.to_string().contains("locked by another process"), "{e}");
        lock(&b, &path, Lock::Shared).unwrap();
    }
}
