//! Memory mappings: the only module of the crate allowed `unsafe`, and so also the home of the
//! few other calls the compiler cannot check (`madvise`, `flock`, memory counters, running a
//! kernel compiled for AVX2).
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

/// Takes an advisory lock on `file`, waiting at most about a quarter of a second.
///
/// The short wait is for locks that outlive their owner for a moment: a lock belongs to the
/// open file description, and a child process spawned by another thread holds a duplicate of
/// every descriptor from `fork` until its `exec` closes them, so a file just closed by this
/// process can still be locked for a few milliseconds. A lock held for real is reported.
///
/// # Errors
/// [`Error::Io`] with `WouldBlock` when another larder process holds a conflicting lock.
pub(crate) fn lock(file: &File, path: &Path, kind: Lock) -> Result<()> {
    let attempt = || match kind {
        Lock::Shared => file.try_lock_shared(),
        Lock::Exclusive => file.try_lock(),
    };
    let mut r = attempt();
    let mut waited = 0;
    while matches!(r, Err(std::fs::TryLockError::WouldBlock)) && waited < 250 {
        let pause = (1u64 << (waited / 16).min(5)).min(32);
        std::thread::sleep(std::time::Duration::from_millis(pause));
        waited += pause;
        r = attempt();
    }
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

/// Bytes of memory this process can use without pushing other data out: the smaller of the
/// system's `MemAvailable` and the limit of its cgroup (v1 or v2), where they can be read.
pub(crate) fn memory_budget() -> Option<u64> {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        let line = t.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    });
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok().and_then(|t| {
        t.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let file = if controllers.split(',').any(|c| c == "memory") {
                format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
            } else if controllers.is_empty() {
                format!("/sys/fs/cgroup{path}/memory.max")
            } else {
                return None;
            };
            std::fs::read_to_string(file).ok()?.trim().parse::<u64>().ok()
        })
    });
    match (available, cgroup) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

/// Opens `path` for writing, creating it if needed, takes the exclusive lock and only then
/// empties it: truncating a file that another larder process has mapped would make that
/// process fault, and the lock is what keeps them apart.
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened or emptied, or another larder process uses it.
pub(crate) fn create_locked(path: &Path) -> Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    lock(&file, path, Lock::Exclusive)?;
    file.set_len(0).map_err(|e| Error::io(path, e))?;
    Ok(file)
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
    /// [`Error::Argument`] if the mapping is not copy-on-write, the range does not lie inside it
    /// or `file_offset` is not page-aligned; [`Error::Io`] if the kernel refuses (for example
    /// when the process has too many mappings).
    #[cfg(unix)]
    pub(crate) fn overlay(
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
            return Err(Error::argument("overlay needs a copy-on-write mapping"));
        };
        let mapped = m.len().div_ceil(ps) * ps;
        let start = page.checked_mul(ps);
        let len = pages.checked_mul(ps);
        let (Some(start), Some(len)) = (start, len) else {
            return Err(Error::argument("overlay range overflows"));
        };
        if pages == 0 || start.checked_add(len).is_none_or(|end| end > mapped) {
            return Err(Error::argument(format!(
                "overlay of pages {page}..{} does not fit a mapping of {mapped} bytes",
                page.saturating_add(pages)
            )));
        }
        if !file_offset.is_multiple_of(ps as u64) {
            return Err(Error::argument(format!(
                "overlay offset {file_offset} is not page-aligned"
            )));
        }
        let offset = libc::off_t::try_from(file_offset)
            .map_err(|_| Error::argument(format!("overlay offset {file_offset} is too large")))?;
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
            return Err(Error::argument("the kernel placed an overlay at another address"));
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

/// Reading `/proc/self/pagemap` (Linux): one little-endian `u64` per virtual page.
///
/// A page of a private file mapping that has only been read maps the file's page-cache page:
/// pagemap reports it present with bit 61 ("file page or shared anonymous") set. The first
/// write replaces it with an anonymous copy owned by this process: present, bit 61 clear; and
/// if that copy is later swapped out, bit 62 ("swapped") is set. So a page is written exactly
/// when it is (present and not a file page) or swapped. Bit 56 ("exclusively mapped") is no
/// help: a page-cache page read by one process only is exclusively mapped too.
mod pagemap {
    use std::io;

    /// Bit 63: the page is in RAM.
    const PRESENT: u64 = 1 << 63;
    /// Bit 62: the page is swapped out (only anonymous pages are).
    const SWAPPED: u64 = 1 << 62;
    /// Bit 61: a file page or a shared anonymous page.
    const FILE: u64 = 1 << 61;

    /// A pagemap entry: the kernel writes them in the machine's byte order.
    #[cfg(target_os = "linux")]
    #[allow(clippy::host_endian_bytes)] // a kernel interface, not a file format
    fn host_u64(e: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&e[..8]);
        u64::from_ne_bytes(b)
    }

    /// True if the pagemap entry `e` of a private file mapping is a page this process wrote.
    pub(super) fn is_written(e: u64) -> bool {
        (e & PRESENT != 0 && e & FILE == 0) || e & SWAPPED != 0
    }

    #[cfg(target_os = "linux")]
    pub(super) fn written_pages(bytes: &[u8]) -> io::Result<Option<Vec<usize>>> {
        use std::fs::File;
        use std::os::unix::fs::FileExt;
        use std::sync::OnceLock;

        static WORKS: OnceLock<bool> = OnceLock::new();
        if !*WORKS.get_or_init(probe) {
            return Ok(None);
        }
        let ps = super::page_size();
        let pages = bytes.len().div_ceil(ps);
        let first = bytes.as_ptr() as usize / ps;
        let Ok(file) = File::open("/proc/self/pagemap") else { return Ok(None) };
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8 * 8192];
        let mut done = 0;
        while done < pages {
            let n = (pages - done).min(8192);
            let offset = ((first + done) as u64) * 8;
            file.read_exact_at(&mut buf[..8 * n], offset)?;
            for (i, e) in buf[..8 * n].chunks_exact(8).enumerate() {
                if is_written(host_u64(e)) {
                    out.push(done + i);
                }
            }
            done += n;
        }
        Ok(Some(out))
    }

    /// Checks once that pagemap reports a freshly written heap page as present and anonymous;
    /// where it does not (an emulated `/proc`), the callers fall back to comparing bytes.
    #[cfg(target_os = "linux")]
    fn probe() -> bool {
        use std::fs::File;
        use std::os::unix::fs::FileExt;
        let ps = super::page_size();
        let mut block = vec![0u8; 2 * ps];
        let addr = block.as_mut_ptr() as usize;
        let inside = addr.div_ceil(ps) * ps;
        let i = inside - addr;
        block[i] = 1;
        std::hint::black_box(&mut block);
        let Ok(file) = File::open("/proc/self/pagemap") else { return false };
        let mut e = [0u8; 8];
        if file.read_exact_at(&mut e, (inside / ps) as u64 * 8).is_err() {
            return false;
        }
        let ok = is_written(host_u64(&e));
        drop(block);
        ok
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn written_pages(_bytes: &[u8]) -> io::Result<Option<Vec<usize>>> {
        Ok(None)
    }
}

/// How many more mappings this process may make before reaching the kernel's limit
/// (`vm.max_map_count` less the lines of `/proc/self/maps`); `None` where that cannot be read.
pub(crate) fn mappings_left() -> Option<usize> {
    let max: usize =
        std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?.trim().parse().ok()?;
    let used = std::fs::read_to_string("/proc/self/maps").ok()?.lines().count();
    Some(max.saturating_sub(used))
}

/// How [`clone_file`] made its copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloneHow {
    /// The destination shares the source's blocks (`FICLONE`).
    Reflink,
    /// The kernel copied the bytes (`copy_file_range`).
    CopyFileRange,
    /// Read and written through a buffer.
    Stream,
}

/// Asks the kernel to start writing the dirty pages of `file` in `offset..offset + len` to disk,
/// without waiting for them (`sync_file_range(SYNC_FILE_RANGE_WRITE)` on Linux; nothing
/// elsewhere). This promises no durability: it only makes a later `fsync` find less to wait for.
///
/// # Errors
/// The system call's error (a bad descriptor, or an I/O error already known for the range).
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let off = libc::off64_t::try_from(offset).map_err(io::Error::other)?;
        let n = libc::off64_t::try_from(len).map_err(io::Error::other)?;
        // SAFETY: sync_file_range takes a descriptor, open for the duration of the call, and
        // plain integers; it reads or writes no memory of ours.
        let rc =
            unsafe { libc::sync_file_range(file.as_raw_fd(), off, n, libc::SYNC_FILE_RANGE_WRITE) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            // Filesystems without support for it: the later fsync does all the work.
            if !matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EOPNOTSUPP | libc::ESPIPE)) {
                return Err(e);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
    Ok(())
}

/// How a range of a file is going to be used, told to the kernel's page cache
/// ([`advise_file`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileAdvice {
    /// Read from start to end: read ahead further (`POSIX_FADV_SEQUENTIAL`).
    Sequential,
    /// Done with: drop its clean cached pages now (`POSIX_FADV_DONTNEED`).
    DontNeed,
}

/// Tells the kernel how `file`'s bytes `offset..offset + len` will be used (`posix_fadvise`;
/// nothing off Linux). Advice only: it never changes what a read returns.
///
/// # Errors
/// The system call's error (a bad descriptor or range).
pub(crate) fn advise_file(
    file: &File,
    offset: u64,
    len: u64,
    advice: FileAdvice,
) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let off = libc::off64_t::try_from(offset).map_err(io::Error::other)?;
        let n = libc::off64_t::try_from(len).map_err(io::Error::other)?;
        let advice = match advice {
            FileAdvice::Sequential => libc::POSIX_FADV_SEQUENTIAL,
            FileAdvice::DontNeed => libc::POSIX_FADV_DONTNEED,
        };
        // SAFETY: posix_fadvise takes a descriptor, open for the duration of the call, and
        // plain integers; it reads or writes no memory of ours, and only steers the page cache.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), off, n, advice) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len, advice);
    Ok(())
}

/// Makes `dst` (empty, open for writing) a copy of the first `len` bytes of `src`: a reflink
/// where the filesystem supports one, else `copy_file_range`, else a streamed copy.
///
/// # Errors
/// The I/O error of the last method tried.
pub(crate) fn clone_file(src: &File, dst: &File, len: u64) -> io::Result<CloneHow> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let src_len = src.metadata()?.len();
        if src_len == len {
            // SAFETY: FICLONE takes the source descriptor as its argument and reads nothing
            // from our memory; both descriptors are open for the duration of the call.
            let rc = unsafe { libc::ioctl(dst.as_raw_fd(), libc::FICLONE, src.as_raw_fd()) };
            if rc == 0 {
                return Ok(CloneHow::Reflink);
            }
        }
        match copy_range(src, dst, len) {
            Ok(()) => return Ok(CloneHow::CopyFileRange),
            Err(e) if is_unsupported(&e) => dst.set_len(0)?,
            Err(e) => return Err(e),
        }
    }
    stream_copy(src, dst, len)?;
    Ok(CloneHow::Stream)
}

#[cfg(target_os = "linux")]
fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::EXDEV | libc::EOPNOTSUPP | libc::EINVAL | libc::EPERM)
    )
}

/// `copy_file_range` of `len` bytes from offset 0 to offset 0.
#[cfg(target_os = "linux")]
fn copy_range(src: &File, dst: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut done: u64 = 0;
    while done < len {
        let mut off_in = libc::loff_t::try_from(done).map_err(io::Error::other)?;
        let mut off_out = off_in;
        let chunk = usize::try_from((len - done).min(1 << 30)).unwrap_or(1 << 30);
        // SAFETY: the two offsets are local variables the kernel reads and updates; the
        // descriptors are open for the duration of the call; no user memory is passed.
        let n = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                &raw mut off_in,
                dst.as_raw_fd(),
                &raw mut off_out,
                chunk,
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("source ended at byte {done}, expected {len}"),
            ));
        }
        done += n.unsigned_abs() as u64;
    }
    Ok(())
}

fn stream_copy(src: &File, dst: &File, len: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 1 << 20];
    let mut done: u64 = 0;
    while done < len {
        let n = usize::try_from((len - done).min(buf.len() as u64)).unwrap_or(buf.len());
        src.read_exact_at(&mut buf[..n], done)?;
        dst.write_all_at(&buf[..n], done)?;
        done += n as u64;
    }
    Ok(())
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

/// Asks the kernel to back the pages of `buf` with transparent huge pages, where the system
/// enables them on request (`/sys/kernel/mm/transparent_hugepage/enabled` set to `madvise`).
///
/// Meant for a large buffer that was just allocated and not yet written: filling it then takes
/// one page fault per 2 MiB rather than per 4 KiB. numpy gives its large arrays the same advice.
/// Advice only: a refusal changes nothing.
pub(crate) fn advise_huge_pages<T>(buf: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        let page = page_size();
        let start = buf.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(buf);
        let first = start.next_multiple_of(page);
        let len = end.saturating_sub(first) / page * page;
        if len == 0 {
            return;
        }
        // SAFETY: the range is whole pages inside `buf`, which is borrowed mutably, so it is
        // mapped memory this process owns. MADV_HUGEPAGE only changes how the kernel backs
        // the range, never its contents; an error return is ignored on purpose.
        unsafe {
            libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
}

/// Asks the CPU to start loading the cache line holding `p` into its caches.
///
/// A hint only: it reads nothing into the program and never faults, whatever `p` is (an
/// address past the end of a slice or of a mapping included), so the caller need not know
/// that `p` is valid; `p` should come from `wrapping_add` rather than `add` for that reason.
#[inline(always)]
#[allow(clippy::inline_always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint that loads no value into a register and raises no fault
    // for any address (Intel SDM, "PREFETCHh"; AMD APM vol. 3, "PREFETCHlevel"); SSE, which
    // has it, is part of the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Code that [`run_simd`] can run compiled for wider vectors. `run` must be
/// `#[inline(always)]`, and so must what it calls, for the feature to reach the loops: only
/// code inlined into the function that enables a feature is compiled with it. (A closure does
/// not do: its body is inlined or not as the optimizer sees fit, and when it is not, it runs
/// with the baseline SSE2.)
pub(crate) trait Kernel {
    type Output;
    fn run(self) -> Self::Output;
}

/// Instruction sets [`run_simd`] can compile a [`Kernel`] for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Simd {
    /// What the build targets (SSE2 on x86-64).
    Baseline,
    /// AVX2 and FMA: 256-bit vectors, fused multiply-add.
    Avx2,
    /// AVX-512 (F, VL, DQ, BW) with AVX2 and FMA: 512-bit vectors and mask registers.
    Avx512,
}

impl Simd {
    /// Whether this CPU can run code compiled for `self`.
    pub(crate) fn available(self) -> bool {
        match self {
            Simd::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => {
                Simd::Avx2.available()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The widest instruction set this CPU has.
    pub(crate) fn best() -> Simd {
        [Simd::Avx512, Simd::Avx2].into_iter().find(|s| s.available()).unwrap_or(Simd::Baseline)
    }
}

/// Runs `k` compiled for `level`, or for the baseline where the CPU lacks `level`.
#[inline]
pub(crate) fn run_simd<K: Kernel>(level: Simd, k: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<K: Kernel>(k: K) -> K::Output {
            k.run()
        }
        #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512dq,avx512bw")]
        fn avx512<K: Kernel>(k: K) -> K::Output {
            k.run()
        }
        match level {
            // SAFETY: the only precondition of calling a `target_feature` function is that the
            // CPU has the features, which `available` checks.
            Simd::Avx512 if level.available() => return unsafe { avx512(k) },
            // SAFETY: as above.
            Simd::Avx2 if level.available() => return unsafe { avx2(k) },
            _ => {}
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    k.run()
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

/// The peak resident memory of this process so far, in bytes (`getrusage`'s `ru_maxrss`), or
/// `None` where the system does not report it.
pub fn peak_rss() -> Option<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given, which points to memory
    // of that type and size that we own; RUSAGE_SELF is always a valid `who`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: the memory was zeroed (a valid `rusage`: plain integers) and getrusage filled it.
    let usage = unsafe { usage.assume_init() };
    let max = u64::try_from(usage.ru_maxrss).ok().filter(|&m| m > 0)?;
    // Linux and the BSDs report KiB; macOS reports bytes.
    Some(if cfg!(target_os = "macos") { max } else { max * 1024 })
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
