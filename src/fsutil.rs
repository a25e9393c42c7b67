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

/// Renames `tmp` over `dst` durably when `r` is `Ok`; removes `tmp` (a file) when it is not.
///
/// # Errors
/// `r`'s error, or [`Error::Io`] from the rename.
pub(crate) fn commit_or_remove(r: Result<()>, tmp: &Path, dst: &Path) -> Result<()> {
    match r {
        Ok(()) => rename_durably(tmp, dst),
        Err(e) => {
            let _ = fs::remove_file(tmp);
            Err(e)
        }
    }
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
