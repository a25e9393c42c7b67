//! File-system helpers shared by every writer: durable atomic replacement of a file, durable
//! renames, temporary names beside a destination, file identity and disk usage.
//!
//! "Durable" here means what survives a power cut: the file's data is synced before the
//! rename, and the directory that holds the new name is synced after it, so a finished rename
//! is not lost with the directory's unsynced state.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes a file through `fill` under a temporary name beside `path`, syncs it, renames it over
/// `path` and syncs the directory; removes the temporary file on failure, so `path` is either
/// the old file or the whole new one. Returns the new file's size.
///
/// # Errors
/// [`Error::Io`] naming `path` for any failure, including one returned by `fill`.
pub(crate) fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<u64> {
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut out =
            OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp)?;
        fill(&mut out)?;
        out.sync_all()?;
        let len = out.metadata()?.len();
        fs::rename(&tmp, path)?;
        Ok(len)
    })();
    match result {
        Ok(len) => {
            sync_dir(path);
            Ok(len)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(Error::io(path, e))
        }
    }
}

/// Writes `bytes` as the whole content of `path`, atomically and durably
/// ([`write_atomically`]).
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub(crate) fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<u64> {
    write_atomically(path, |f| io::Write::write_all(f, bytes))
}

/// Renames `from` to `to` (a file or a directory whose contents are already synced) and syncs
/// the directory that holds `to`, so the new name survives a crash.
///
/// # Errors
/// [`Error::Io`] naming `to`.
pub(crate) fn rename_durably(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| Error::io(to, e))?;
    sync_dir(to);
    Ok(())
}

/// A temporary file or directory a writer is filling, removed when the guard is dropped unless
/// it was [committed](TempGuard::commit) or [kept](TempGuard::keep): so an error anywhere,
/// the final rename's included, and a panic (the guard is dropped as the stack unwinds) leave
/// nothing behind, as a failed write promises.
#[derive(Debug)]
pub(crate) struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl TempGuard {
    /// Guards `path`, which the caller is about to create (or has just created).
    pub(crate) fn new(path: PathBuf) -> TempGuard {
        TempGuard { path, armed: true }
    }

    /// Guards a fresh [`temp_sibling`] of `dst`, first removing the temporaries of `dst` that
    /// killed writers left ([`remove_stale_temps`]).
    pub(crate) fn beside(dst: &Path) -> TempGuard {
        remove_stale_temps(dst);
        TempGuard::new(temp_sibling(dst))
    }

    /// The guarded path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the temporary over `dst` durably ([`rename_durably`]); if that fails the
    /// temporary is removed.
    ///
    /// # Errors
    /// [`Error::Io`] naming `dst`.
    pub(crate) fn commit(mut self, dst: &Path) -> Result<()> {
        rename_durably(&self.path, dst)?;
        self.armed = false;
        Ok(())
    }

    /// Leaves the temporary where it is (for a later resume).
    pub(crate) fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // `symlink_metadata`: a symbolic link is removed itself, never followed.
        match fs::symlink_metadata(&self.path) {
            Ok(m) if m.is_dir() => drop(fs::remove_dir_all(&self.path)),
            Ok(_) => drop(fs::remove_file(&self.path)),
            Err(_) => {}
        }
    }
}

/// Renames `tmp` over `dst` durably when `r` is `Ok`; removes `tmp` when it is not, or when the
/// rename fails.
///
/// # Errors
/// `r`'s error, or [`Error::Io`] from the rename.
pub(crate) fn commit_or_remove(r: Result<()>, tmp: TempGuard, dst: &Path) -> Result<()> {
    r.map_err(|e| at_destination(e, tmp.path(), dst))?;
    tmp.commit(dst)
}

/// The error `e` of a write into the temporary `tmp` told as the write into `dst` it is: every
/// path at or below `tmp` (in the error's path and in its text) is named as the same path
/// below `dst`. A user never sees larder's temporary names, only the destination they gave.
/// The one place that maps a temporary to its destination; every writer that writes beside
/// its destination passes its errors through here.
pub(crate) fn at_destination(e: Error, tmp: &Path, dst: &Path) -> Error {
    let swap_path = |p: PathBuf| match p.strip_prefix(tmp) {
        Ok(rest) if rest.as_os_str().is_empty() => dst.to_path_buf(),
        Ok(rest) => dst.join(rest),
        Err(_) => p,
    };
    let (t, d) = (tmp.to_string_lossy(), dst.to_string_lossy());
    let t_name = tmp.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let d_name = dst.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let swap_text = |s: String| {
        let s = if t.is_empty() { s } else { s.replace(t.as_ref(), d.as_ref()) };
        if t_name.is_empty() { s } else { s.replace(&t_name, &d_name) }
    };
    match e {
        Error::Io { path, source } => Error::Io { path: swap_path(path), source },
        Error::Format { path, offset, reason } => {
            Error::Format { path: swap_path(path), offset, reason: swap_text(reason) }
        }
        Error::Storage { path, reason } => {
            Error::Storage { path: swap_path(path), reason: swap_text(reason) }
        }
        Error::Invalid { path, reason } => {
            Error::Invalid { path: swap_path(path), reason: swap_text(reason) }
        }
        Error::Truncated { path, shape, dtype, needed, available } => {
            Error::Truncated { path: swap_path(path), shape, dtype, needed, available }
        }
        Error::UnsupportedDType { path, descr, reason } => {
            Error::UnsupportedDType { path: swap_path(path), descr, reason: swap_text(reason) }
        }
        Error::DTypeMismatch { path, expected, found } => {
            Error::DTypeMismatch { path: swap_path(path), expected, found }
        }
        Error::NotViewable { path, reason } => {
            Error::NotViewable { path: swap_path(path), reason: swap_text(reason) }
        }
        Error::ReadOnly { path, mode } => Error::ReadOnly { path: swap_path(path), mode },
        other => other,
    }
}

/// Creates the directory `dir` of a new store (a Zarr hierarchy), or accepts it when it is
/// already a directory; never its missing parents, so a typo in the parent (`s3:/b/x.zarr`,
/// `no/such/x.zarr`) is an error rather than a tree of new directories.
///
/// # Errors
/// [`Error::Invalid`] naming `dir` when its parent directory does not exist; [`Error::Io`]
/// for any other failure.
pub(crate) fn create_store_dir(dir: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(missing_parent(dir)),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Checks that the directory that is to hold `dst` exists, before a temporary is made beside
/// `dst`: a missing one is told as the destination's, never through a temporary's name.
///
/// # Errors
/// [`Error::Invalid`] naming `dst` when its parent directory does not exist.
pub(crate) fn check_parent_exists(dst: &Path) -> Result<()> {
    let parent = dst.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if parent.is_dir() { Ok(()) } else { Err(missing_parent(dst)) }
}

/// The error for `dst` whose parent directory does not exist: larder creates the destination
/// itself, never the directories above it.
fn missing_parent(dst: &Path) -> Error {
    let parent = dst.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = parent.unwrap_or(Path::new(".")).display().to_string();
    Error::invalid(
        dst,
        format!(
            "the directory {parent} does not exist; larder creates the destination, not the \
             directories above it"
        ),
    )
}

/// Syncs the directory holding `path` so a rename into it survives a crash; best effort (not
/// every filesystem lets a directory be opened and synced).
pub(crate) fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Refuses what is not a regular file (a FIFO, socket or device) before it is opened: opening a
/// FIFO for reading blocks until a writer comes, and none of them holds an array. A missing path
/// is left for the open that follows to report.
///
/// # Errors
/// [`Error::Invalid`] naming `path` and what it is.
pub(crate) fn refuse_special_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = fs::metadata(path) else { return Ok(()) };
    let t = meta.file_type();
    let kind = if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        return Ok(());
    };
    Err(Error::invalid(path, format!("is {kind}, not a regular file; arrays are read from files")))
}

/// Refuses a directory where a file is wanted, with an [`Error::Io`] of kind
/// [`io::ErrorKind::IsADirectory`] whose message says so and where directories are opened
/// (mapping one would fail with the kernel's misleading `ENODEV`).
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub(crate) fn refuse_directory(path: &Path) -> Result<()> {
    if fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory, not a .npy file (a Zarr array or group opens with larder::open, \
                 a converted dataset with Dataset::open)",
            ),
        ));
    }
    Ok(())
}

/// Whether `a` and `b` name the same existing file (same device and inode).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// `dir/.name.larder-tmp-PID`: beside `path`, so the final rename stays on one filesystem.
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.larder-tmp-{}", std::process::id()))
}

/// The process id in a temporary name `.NAME.larder-tmp-PID` of `dst` (see [`temp_sibling`]).
pub(crate) fn temp_owner(dst_name: &str, entry: &str) -> Option<u32> {
    let pid = entry.strip_prefix(&format!(".{dst_name}.larder-tmp-"))?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` may still be running: `/proc/PID` exists, or `/proc` cannot tell
/// (not mounted), in which case nothing counts as dead.
pub(crate) fn process_may_live(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes the temporaries of `dst` (`.NAME.larder-tmp-PID`, file or directory) that a writer
/// killed before it could clean up left beside it: those whose process is gone. Best effort;
/// a temporary of a live process (another copy under way) is left alone.
pub(crate) fn remove_stale_temps(dst: &Path) {
    let Some(name) = dst.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let dir = match dst.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_owner(&name, &entry_name) else { continue };
        if pid == std::process::id() || process_may_live(pid) {
            continue;
        }
        drop(TempGuard::new(entry.path()));
    }
}

/// Total size of the file at `path`, or of every file under the directory at `path`.
pub(crate) fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = fs::metadata(path) else { return 0 };
    if meta.is_file() {
        return meta.len();
    }
    fs::read_dir(path).map_or(0, |rd| rd.flatten().map(|e| disk_usage(&e.path())).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomically_replaces_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"old").unwrap();
        let e = write_atomically(&p, |f| {
            io::Write::write_all(f, b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(matches!(e, Err(Error::Io { .. })));
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert!(!temp_sibling(&p).exists(), "the temporary file is removed on failure");
        assert_eq!(write_bytes_atomically(&p, b"new!").unwrap(), 4);
        assert_eq!(fs::read(&p).unwrap(), b"new!");
    }

    #[test]
    fn errors_in_a_temporary_are_told_at_the_destination() {
        let dst = Path::new("out/x.zarr");
        let tmp = temp_sibling(dst);
        let e = at_destination(
            Error::Storage {
                path: tmp.join("c/0"),
                reason: format!("zarr: {} is bad", tmp.join("zarr.json").display()),
            },
            &tmp,
            dst,
        );
        assert_eq!(e.to_string(), "out/x.zarr/c/0: zarr: out/x.zarr/zarr.json is bad");
        let io = at_destination(Error::io(&tmp, io::Error::other("no")), &tmp, dst);
        assert_eq!(io.to_string(), "out/x.zarr: no");
        // Paths elsewhere are left alone.
        let other = at_destination(Error::invalid("src.npy", "bad"), &tmp, dst);
        assert_eq!(other.to_string(), "src.npy: bad");
    }

    #[test]
    fn a_store_directory_is_made_without_its_parents() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.zarr");
        create_store_dir(&store).unwrap();
        create_store_dir(&store).unwrap();
        let deep = dir.path().join("no/such/s.zarr");
        let e = create_store_dir(&deep).unwrap_err().to_string();
        assert!(e.contains("does not exist") && e.contains("no/such"), "{e}");
        assert!(!dir.path().join("no").exists());
    }

    #[test]
    fn temp_guard_removes_what_was_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out");
        let g = TempGuard::beside(&dst);
        fs::create_dir(g.path()).unwrap();
        fs::write(g.path().join("f"), b"x").unwrap();
        let tmp = g.path().to_path_buf();
        drop(g);
        assert!(!tmp.exists(), "a dropped guard removes its directory");
        // A failed rename (over a non-empty directory) removes the temporary too.
        fs::create_dir(&dst).unwrap();
        fs::write(dst.join("keep"), b"y").unwrap();
        let g = TempGuard::beside(&dst);
        fs::write(g.path(), b"data").unwrap();
        let tmp = g.path().to_path_buf();
        assert!(matches!(g.commit(&dst), Err(Error::Io { .. })));
        assert!(!tmp.exists());
        let g = TempGuard::beside(&dir.path().join("kept"));
        fs::write(g.path(), b"z").unwrap();
        let tmp = g.path().to_path_buf();
        g.keep();
        assert!(tmp.exists());
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let g = TempGuard::beside(&dir.path().join("p"));
            fs::write(g.path(), b"z").unwrap();
            panic!("boom");
        }));
        assert!(unwound.is_err());
        assert!(!temp_sibling(&dir.path().join("p")).exists(), "removed while unwinding");
    }

    #[test]
    fn special_files_are_refused_before_they_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(matches!(refuse_special_file(&fifo), Err(Error::Invalid { .. })));
        assert!(refuse_special_file(dir.path()).is_ok());
        assert!(refuse_special_file(&dir.path().join("missing")).is_ok());
    }

    #[test]
    fn same_file_sees_through_other_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"x").unwrap();
        assert!(same_file(&p, &dir.path().join(".").join("f")));
        assert!(!same_file(&p, &dir.path().join("missing")));
    }

    #[test]
    fn disk_usage_sums_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/b"), [0u8; 5]).unwrap();
        assert_eq!(disk_usage(dir.path()), 15);
    }
}
