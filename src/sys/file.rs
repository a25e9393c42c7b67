//! File-level calls: advisory locks, clones (reflink, `copy_file_range`), early writeback and
//! page-cache advice.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::error::{Error, Result};

/// Bytes an unprivileged process may still write on the file system holding `path`
/// (`statvfs`: available blocks times the fragment size).
///
/// # Errors
/// [`Error::Io`] if `path` cannot be examined.
pub fn free_space(path: &Path) -> Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| Error::io(path, io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path that lives across the call, and `st` points to
    // writable memory of the size of `statvfs`, which the call fills on success.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(Error::io(path, io::Error::last_os_error()));
    }
    // SAFETY: `statvfs` returned 0, so it initialized `st`.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    Ok(u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
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
/// [`Error::Locked`] when another handle (of this process or another) holds a conflicting
/// lock.
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
        std::fs::TryLockError::WouldBlock => {
            Error::Locked { path: path.to_path_buf(), this_process: held_here(file) }
        }
        std::fs::TryLockError::Error(e) => Error::io(path, e),
    })
}

/// Whether another descriptor of this process holds a lock on `file`'s file. `false` where
/// that cannot be known.
///
/// Each descriptor of this process open on the same file (the same device and inode, as `stat`
/// through `/proc/self/fd` sees it) is asked through `/proc/self/fdinfo`, which lists the
/// locks held by that open file description (`lock:\t1: FLOCK  ADVISORY  READ …`; a waiter is
/// marked `->`). This needs neither the process id nor the device numbers that `/proc/locks`
/// prints to match this process's view: inside a pid namespace or on an overlay filesystem
/// they do not.
fn held_here(file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = file.metadata() else { return false };
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else { return false };
    fds.flatten().any(|entry| {
        let same = std::fs::metadata(entry.path())
            .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino());
        same && std::fs::read_to_string(Path::new("/proc/self/fdinfo").join(entry.file_name()))
            .is_ok_and(|info| info.lines().any(holds_lock))
    })
}

/// Whether a line of `/proc/self/fdinfo/N` records a lock held (not waited for) by that
/// descriptor.
fn holds_lock(line: &str) -> bool {
    line.strip_prefix("lock:").is_some_and(|rest| {
        let mut fields = rest.split_whitespace();
        fields.next().is_some() && fields.next() != Some("->")
    })
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

/// Marks close-on-exec every descriptor of this process that is open on the file at `path`
/// (the same device and inode), so that programs this process starts do not inherit them.
///
/// For descriptors C libraries open without `O_CLOEXEC` (libhdf5 does): an inherited
/// descriptor keeps the file, and any `flock` on it, held by the started program for as long
/// as it runs. Best effort: without `/proc` nothing is marked, and a program started between
/// the library's `open` and this call still inherits the descriptor.
#[cfg(feature = "hdf5")]
pub(crate) fn close_on_exec(path: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(want) = std::fs::metadata(path) else { return };
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else { return };
    for entry in fds.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<libc::c_int>().ok())
        else {
            continue;
        };
        // `stat` through the `/proc` link is the open file's, even if it was renamed.
        let same = std::fs::metadata(entry.path())
            .is_ok_and(|m| m.dev() == want.dev() && m.ino() == want.ino());
        if same {
            // SAFETY: F_GETFD and F_SETFD read and set the flags of a descriptor number; on a
            // number closed since the listing they fail with EBADF and change nothing.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                    libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_lock_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        File::create(&path).unwrap();
        let a = File::open(&path).unwrap();
        let b = File::open(&path).unwrap();
        lock(&a, &path, Lock::Shared).unwrap();
        let e = lock(&b, &path, Lock::Exclusive).unwrap_err();
        // The other handle is this process's own.
        assert!(matches!(e, Error::Locked { this_process: true, .. }), "{e:?}");
        assert!(e.to_string().contains("locked by this process"), "{e}");
        lock(&b, &path, Lock::Shared).unwrap();
    }

    #[test]
    fn a_lock_held_by_another_process_is_not_called_this_processs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        File::create(&path).unwrap();
        // flock(1) from util-linux holds the lock while `sleep` runs.
        let Ok(mut child) = std::process::Command::new("flock")
            .args(["-s".as_ref(), path.as_os_str(), "sleep".as_ref(), "5".as_ref()])
            .spawn()
        else {
            eprintln!("skipped: flock(1) is not installed");
            return;
        };
        let b = File::open(&path).unwrap();
        let start = std::time::Instant::now();
        let e = loop {
            if let Err(e) = lock(&b, &path, Lock::Exclusive) {
                break e;
            }
            // flock(1) has not taken its lock yet.
            b.unlock().unwrap();
            assert!(start.elapsed().as_secs() < 4, "flock(1) never took its lock");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        child.kill().ok();
        child.wait().ok();
        assert!(matches!(e, Error::Locked { this_process: false, .. }), "{e:?}");
    }

    #[test]
    fn fdinfo_lock_lines_are_read_as_held_or_waiting() {
        assert!(holds_lock("lock:\t1: FLOCK  ADVISORY  READ 28531 fe:00:10010913 0 EOF"));
        assert!(!holds_lock("lock:\t1: -> FLOCK  ADVISORY  WRITE 28531 fe:00:10010913 0 EOF"));
        assert!(!holds_lock("flags:\t02100001"));
        assert!(!holds_lock("lock:"));
    }
}
