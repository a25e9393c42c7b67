//! The working directory of a conversion: the hidden sibling that holds the output until it is
//! complete, the checks before it is used or deleted, its lock, and what identifies each input
//! file so that a resume refuses a changed one.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::error::{Error, Result};
use crate::sys::{self, Lock};

use super::checkpoint::{self, SourceId};
use super::input;

/// Files a conversion keeps open per output column at most (values or codes, a dictionary or
/// a string column's offsets, a validity file), and besides them.
const FILES_PER_COLUMN: u64 = 3;
const FILES_BESIDES: u64 = 64;

/// Makes sure this process may keep open the files of `columns` output columns, raising its
/// soft limit within the hard one if need be.
pub(crate) fn ensure_open_files(columns: usize, input: &Path) -> Result<()> {
    let want = columns as u64 * FILES_PER_COLUMN + FILES_BESIDES;
    match sys::raise_open_files(want) {
        Some(limit) if limit < want => {
            let fit = limit.saturating_sub(FILES_BESIDES) / FILES_PER_COLUMN;
            Err(Error::invalid(
                input,
                format!(
                    "{columns} columns to convert, whose files need up to {want} open at once; \
                     this process may open only {limit} files (its hard limit, `ulimit -Hn`): raise \
                     that limit to {want} or more (as root, or in /etc/security/limits.conf), or \
                     convert at most {fit} columns at a time (a selection of columns)"
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// The file that marks a temporary directory as made by a conversion, written first of all.
/// An append's journal (`commit.rs`), which its working directory may hold.
const COMMIT_JOURNAL: &str = "commit.json";

pub(crate) const MARKER: &str = "larder-convert";
pub(crate) const MARKER_TEXT: &str =
    "a larder convert working directory; larder removes it when done\n";

/// The hidden sibling that holds the output until it is complete.
pub(crate) fn temp_dir(out: &Path) -> Result<PathBuf> {
    // `sub/.` would be converted beside `sub` and then fail to be renamed onto `sub/.`.
    let raw = out.as_os_str().as_encoded_bytes();
    if raw == b"." || raw == b".." || raw.ends_with(b"/.") || raw.ends_with(b"/..") {
        return Err(Error::invalid(out, "name the output directory itself, not '.' or '..'"));
    }
    let name = out.file_name().ok_or_else(|| Error::invalid(out, "not a directory name"))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut t = std::ffi::OsString::from(".");
    t.push(name);
    t.push(".larder-tmp");
    Ok(parent.join(t))
}

/// Looks at what is at `tmp` before a run: nothing (`None`), or a directory a conversion made,
/// locked for this process (`Some`: the lock). Refuses a symbolic link, another kind of file, a
/// directory larder did not make or that holds files a conversion does not write (it is not
/// larder's to delete), and one another conversion holds locked.
pub(crate) fn check_temp_dir(tmp: &Path, out: &Path) -> Result<Option<File>> {
    let meta = match fs::symlink_metadata(tmp) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(tmp, e)),
    };
    let not_ours = |what: &str| {
        Err(Error::invalid(
            tmp,
            format!(
                "{what}; larder keeps the unfinished output of {} there and will not use or \
                 delete it: move it away",
                out.display()
            ),
        ))
    };
    if meta.file_type().is_symlink() {
        return not_ours("is a symbolic link");
    }
    if !meta.is_dir() {
        return not_ours("exists and is not a directory");
    }
    let (mut marked, mut checkpointed, mut unexpected) = (false, false, None);
    for entry in fs::read_dir(tmp).map_err(|e| Error::io(tmp, e))? {
        let entry = entry.map_err(|e| Error::io(tmp, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        marked |= is_file && (name == MARKER || name == crate::dataset::MANIFEST);
        checkpointed |= is_file && name == checkpoint::CHECKPOINT;
        let expected =
            ["lock", MARKER, checkpoint::CHECKPOINT, crate::dataset::MANIFEST, COMMIT_JOURNAL]
                .contains(&name.as_str())
                || [".part", ".categories", ".narrow", ".npy", ".csv", ".full"]
                    .iter()
                    .any(|x| name.ends_with(x))
                || (name.starts_with('.') && name.contains(".larder-tmp-"));
        if !is_file || !expected {
            unexpected = Some(name);
        }
    }
    // Without a checkpoint the caller deletes the directory and starts over: only a directory
    // larder made (its marker, or the manifest of a finished run) holding only what a conversion
    // writes. With one, it is resumed (directories from before the marker existed included).
    if !checkpointed {
        if let Some(name) = unexpected {
            return not_ours(&format!("holds {name:?}, which a conversion does not write"));
        }
        if !marked {
            return not_ours("was not made by larder");
        }
    }
    let path = tmp.join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match sys::lock(&f, &path, Lock::Exclusive) {
        Err(Error::Locked { .. }) => Err(Error::io(
            tmp,
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "another conversion into {} is running (it holds this directory \
                         locked); wait for it to finish",
                    out.display()
                ),
            ),
        )),
        Err(e) => Err(e),
        Ok(()) => Ok(Some(f)),
    }
}

/// Whether a checkpoint's input is the file now given: same size and modification time, and
/// the same path or another spelling of it (`./big.csv`, `big.csv`, a link).
pub(crate) fn same_source(recorded: &SourceId, now: &SourceId) -> bool {
    recorded.bytes == now.bytes
        && recorded.modified == now.modified
        && (recorded.path == now.path
            || crate::fsutil::same_file(Path::new(&recorded.path), Path::new(&now.path)))
}

/// The manifest of the dataset in `out` if it is the finished conversion of `inputs`: its
/// sources (those of the conversion, not of later appends) are these files, in this order, with
/// the sizes and modification times they have now, by the rule of [`same_source`]. A resume
/// that finds it has nothing left to do.
///
/// # Errors
/// As [`Manifest::read`](crate::dataset::Manifest::read) for a manifest that cannot be read.
pub(crate) fn converted_from(
    out: &Path,
    inputs: &[PathBuf],
) -> Result<Option<crate::dataset::Manifest>> {
    use crate::dataset::{MANIFEST, Manifest};
    if !out.join(MANIFEST).is_file() || inputs.iter().any(|p| p.as_os_str() == "-") {
        return Ok(None);
    }
    let m = Manifest::read(out)?;
    let recorded = if m.sources.is_empty() { std::slice::from_ref(&m.source) } else { &m.sources };
    if recorded.len() != inputs.len() {
        return Ok(None);
    }
    for (r, p) in recorded.iter().zip(inputs) {
        let Ok(now) = source_id(p) else { return Ok(None) };
        let same = r.bytes == now.bytes
            && r.modified.is_some()
            && r.modified == modified_text(now.modified)
            && (r.path == now.path || crate::fsutil::same_file(Path::new(&r.path), p));
        if !same {
            return Ok(None);
        }
    }
    Ok(Some(m))
}

pub(crate) fn lock_dir(tmp: &Path) -> Result<File> {
    let path = tmp.join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    sys::lock(&f, &path, Lock::Exclusive)?;
    Ok(f)
}

/// Opens the input (`-`: standard input), plain or compressed, and says what it is.
pub(crate) fn open_input(input: &Path, delimiter: u8) -> Result<(input::Input, SourceId)> {
    if input.as_os_str() == "-" {
        return Ok((
            input::open(Box::new(io::stdin()), input, delimiter)?,
            SourceId { path: "-".into(), bytes: 0, modified: None },
        ));
    }
    let f = File::open(input).map_err(|e| Error::io(input, e))?;
    let id = source_id_of(input, &f)?;
    Ok((input::open(Box::new(input::Retrying::new(f, input::RETRY)), input, delimiter)?, id))
}

/// What identifies the input file at `path` (size and modification time).
pub(crate) fn source_id(path: &Path) -> Result<SourceId> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    source_id_of(path, &f)
}

pub(crate) fn source_id_of(path: &Path, f: &File) -> Result<SourceId> {
    let meta = f.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::invalid(path, "is a directory, not a CSV file"));
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| (d.as_secs(), d.subsec_nanos()));
    Ok(SourceId { path: path.display().to_string(), bytes: meta.len(), modified })
}

/// The content fingerprint of the file at `path`: XXH3-64 of its bytes, as 16 hex digits.
///
/// # Errors
/// [`Error::Io`] naming the file on a read error (transient ones retried as the conversion's
/// own reads are).
pub(crate) fn fingerprint(path: &Path) -> Result<String> {
    use std::hash::Hasher;
    use std::io::Read;
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut f = input::Retrying::new(f, input::RETRY);
    let mut hasher = twox_hash::XxHash3_64::with_seed(0);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.write(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(format!("{:016x}", hasher.finish()))
}

/// The content of each input (see [`input::ContentSlot`]): what its slot says, or for a
/// compressed file whose slot is empty (a resume that had nothing left to read), what reading
/// it once more says; `None` for a plain file and for standard input.
///
/// # Errors
/// As [`input::content_of`].
pub(crate) fn contents(
    inputs: &[PathBuf],
    slots: &[input::ContentSlot],
) -> Result<Vec<Option<(u64, String)>>> {
    let mut out = Vec::with_capacity(inputs.len());
    for (i, path) in inputs.iter().enumerate() {
        let known = slots.get(i).and_then(|s| s.get().cloned());
        out.push(match known {
            Some(c) => Some(c),
            None if path.as_os_str() == "-" => None,
            None if input::is_compressed(path)? => input::content_of(path)?,
            None => None,
        });
    }
    Ok(out)
}

/// Fingerprints of input files, computed on a thread of their own while the conversion reads
/// them (the second read of each file finds it in the page cache; the hashing costs about a
/// tenth of a second of one core per GB).
pub(crate) enum Fingerprints {
    Running(std::thread::JoinHandle<Result<Vec<Option<String>>>>),
    Ready(Vec<Option<String>>),
}

impl Fingerprints {
    /// Starts fingerprinting `paths` in order. Only regular files get one: standard input (`-`)
    /// and pipes can be read only once, by the conversion.
    pub(crate) fn start(paths: &[PathBuf]) -> Fingerprints {
        let paths: Vec<(PathBuf, bool)> = paths
            .iter()
            .map(|p| {
                (p.clone(), p.as_os_str() != "-" && fs::metadata(p).is_ok_and(|m| m.is_file()))
            })
            .collect();
        Fingerprints::Running(std::thread::spawn(move || {
            paths
                .iter()
                .map(|(p, regular)| if *regular { fingerprint(p).map(Some) } else { Ok(None) })
                .collect()
        }))
    }

    /// Fingerprints already known.
    pub(crate) fn ready(v: Vec<Option<String>>) -> Fingerprints {
        Fingerprints::Ready(v)
    }

    /// Waits for the fingerprints, one per path.
    ///
    /// # Errors
    /// As [`fingerprint`].
    pub(crate) fn wait(self) -> Result<Vec<Option<String>>> {
        match self {
            Fingerprints::Running(h) => {
                h.join().map_err(|_| Error::internal("the fingerprinting thread panicked"))?
            }
            Fingerprints::Ready(v) => Ok(v),
        }
    }
}

/// A modification time recorded as (seconds, nanoseconds) since the epoch, as RFC 3339 (UTC).
pub(crate) fn modified_text(modified: Option<(u64, u32)>) -> Option<String> {
    let (s, ns) = modified?;
    let t = jiff::Timestamp::new(i64::try_from(s).ok()?, i32::try_from(ns).ok()?).ok()?;
    Some(t.to_string())
}
/// Empties the working directory `tmp` of a conversion attempt whose types must widen, but for
/// its marker and lock. The checkpoint goes first: a crash on the way leaves a directory that
/// the next run clears as one killed before its first checkpoint.
pub(crate) fn clear_attempt(tmp: &Path) -> Result<()> {
    let remove = |p: &Path| match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(p, e)),
        _ => Ok(()),
    };
    remove(&tmp.join(super::checkpoint::CHECKPOINT))?;
    for entry in fs::read_dir(tmp).map_err(|e| Error::io(tmp, e))? {
        let entry = entry.map_err(|e| Error::io(tmp, e))?;
        let name = entry.file_name();
        if name != MARKER && name != "lock" {
            remove(&entry.path())?;
        }
    }
    Ok(())
}
