//! The identity of a copy's source, recorded when an upload starts and compared when it is
//! resumed, so that `--resume` continues only the same copy: the source's path, size,
//! modification time and an XXH3-64 of its content (as `larder convert` fingerprints its
//! inputs), over every file of a directory source (a Zarr store) and every delta file. The
//! path is recorded for messages, not compared: the same content moved is the same source.

use std::hash::Hasher;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::open::Place;

/// What identifies `src` (and the `deltas` applied to it) as a copy's source.
///
/// # Errors
/// [`Error::Io`] naming a file that cannot be read; [`Error::Signal`] when interrupted.
pub(super) fn source_identity(src: &Path, deltas: &[PathBuf]) -> Result<Value> {
    let mut parts = vec![one(src)?];
    for d in deltas {
        parts.push(one(d)?);
    }
    Ok(Value::Array(parts))
}

fn one(src: &Path) -> Result<Value> {
    let file = match Place::parse(src)? {
        // Object sources are named only: their content is not read twice.
        Place::Object(url) => return Ok(json!({ "location": url.to_string() })),
        Place::Local(loc) => loc.file,
    };
    let abs = std::path::absolute(&file).unwrap_or_else(|_| file.clone());
    let mut files = Vec::new();
    walk(&file, &mut files)?;
    files.sort();
    let (mut bytes, mut newest) = (0u64, 0i128);
    let mut hasher = twox_hash::XxHash3_64::with_seed(0);
    let mut buf = vec![0u8; 1 << 20];
    for f in &files {
        let meta = std::fs::metadata(f).map_err(|e| Error::io(f, e))?;
        let modified = modified_ns(&meta);
        bytes += meta.len();
        newest = newest.max(modified);
        let rel = f.strip_prefix(&file).unwrap_or(f);
        hasher.write(rel.as_os_str().as_encoded_bytes());
        hasher.write(&meta.len().to_le_bytes());
        let mut r = std::fs::File::open(f).map_err(|e| Error::io(f, e))?;
        loop {
            crate::sys::check_interrupt()?;
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.write(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(f, e)),
            }
        }
    }
    Ok(json!({
        "path": abs.display().to_string(),
        "files": files.len(),
        "bytes": bytes,
        "modified_ns": newest.to_string(),
        "xxh3": format!("{:016x}", hasher.finish()),
    }))
}

/// Every regular file at or under `path`.
fn walk(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
    } else if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
            walk(&entry.map_err(|e| Error::io(path, e))?.path(), out)?;
        }
    }
    Ok(())
}

fn modified_ns(meta: &std::fs::Metadata) -> i128 {
    use std::os::unix::fs::MetadataExt;
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

/// How `found` (recorded by the interrupted copy) and `now` differ, for the message that
/// refuses the resume; `None` when they are the same source.
pub(super) fn difference(found: Option<&Value>, now: &Value) -> Option<String> {
    let Some(found) = found else {
        return Some("the interrupted copy recorded no source to compare with".into());
    };
    // The same content under another path (a moved or `cp -p` copy) is the same source.
    let without_path = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(parts) = v.as_array_mut() {
            for p in parts.iter_mut().filter_map(Value::as_object_mut) {
                p.remove("path");
            }
        }
        v
    };
    if without_path(found) == without_path(now) {
        return None;
    }
    let (f, n) = (found.get(0).unwrap_or(&Value::Null), now.get(0).unwrap_or(&Value::Null));
    let field = |v: &Value, k: &str| v.get(k).map(ToString::to_string).unwrap_or_default();
    let what = if field(f, "location") != field(n, "location") {
        format!("it copied {}", field(f, "location"))
    } else if field(f, "bytes") != field(n, "bytes") {
        format!(
            "it copied {} of {} bytes, this one has {}",
            field(f, "path"),
            field(f, "bytes"),
            field(n, "bytes")
        )
    } else if field(f, "xxh3") != field(n, "xxh3") {
        format!("it copied {} with other content", field(f, "path"))
    } else if field(f, "modified_ns") != field(n, "modified_ns") {
        format!("it copied {}, modified at another time", field(f, "path"))
    } else {
        "the delta files differ".to_string()
    };
    Some(what)
}
