//! The index of a shard, checked before zarrs reads it: zarrs adds each entry's offset and
//! length unchecked and slices the shard with the sum, so an entry that overflows or points
//! past the end of the shard file panics inside its sharding codec. Every entry must be the
//! "empty" marker (both `u64::MAX`) or lie inside the file.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// Where a shard's index is and how it is written, for a layout this module can check.
#[derive(Clone, Copy, Debug)]
pub(super) struct ShardIndex {
    entries: usize,
    /// Bytes of the index in the file (16 per entry, plus 4 for a crc32c).
    len: usize,
    big_endian: bool,
    at_end: bool,
}

/// The shard index of an array whose only codec is `sharding_indexed` with shards of
/// `shard` elements. `Ok(None)` for an array that is not sharded that way, or whose index
/// codecs are not `bytes` with an optional `crc32c` (not checked here).
///
/// # Errors
/// The reason when a shard holds more inner chunks than [`crate::limits::MAX_SHARD_CHUNKS`].
pub(super) fn layout(meta: &Value, shard: &[usize]) -> Result<Option<ShardIndex>, String> {
    let Some([codec]) = meta.get("codecs").and_then(Value::as_array).map(Vec::as_slice) else {
        return Ok(None);
    };
    if codec.get("name").and_then(Value::as_str) != Some("sharding_indexed") {
        return Ok(None);
    }
    let Some(config) = codec.get("configuration") else { return Ok(None) };
    let inner: Option<Vec<usize>> = config
        .get("chunk_shape")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok())).collect());
    let Some(inner) = inner.filter(|i| i.len() == shard.len() && !i.contains(&0)) else {
        return Ok(None);
    };
    let per_axis: Vec<usize> = shard.iter().zip(&inner).map(|(&s, &i)| s.div_ceil(i)).collect();
    let entries = crate::limits::check_shard_chunks(&per_axis)?;
    let name = |c: &Value| c.get("name").and_then(Value::as_str).map(str::to_string);
    let Some(index_codecs) = config.get("index_codecs").and_then(Value::as_array) else {
        return Ok(None);
    };
    let (bytes, crc) = match index_codecs.as_slice() {
        [b] => (b, false),
        [b, c] if name(c).as_deref() == Some("crc32c") => (b, true),
        _ => return Ok(None),
    };
    if name(bytes).as_deref() != Some("bytes") {
        return Ok(None);
    }
    let endian = bytes.get("configuration").and_then(|c| c.get("endian")).and_then(Value::as_str);
    let at_end = config.get("index_location").and_then(Value::as_str) != Some("start");
    Ok(Some(ShardIndex {
        entries,
        len: entries * 16 + if crc { 4 } else { 0 },
        big_endian: endian == Some("big"),
        at_end,
    }))
}

impl ShardIndex {
    /// Checks every entry of the index of the shard file at `path` (a missing file is a shard
    /// never written, and fine).
    ///
    /// # Errors
    /// [`Error::Storage`] naming the shard and the entry; [`Error::Io`].
    pub(super) fn check(&self, path: &Path) -> Result<()> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(path, e)),
        };
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let bad = |reason: String| Error::Storage {
            path: path.to_path_buf(),
            reason: format!("zarr shard index: {reason}"),
        };
        if size < self.len as u64 {
            return Err(bad(format!("shard is {size} bytes, its index alone needs {}", self.len)));
        }
        let mut index = vec![0u8; self.entries * 16];
        let at = if self.at_end { size - self.len as u64 } else { 0 };
        file.read_exact_at(&mut index, at).map_err(|e| Error::io(path, e))?;
        for (i, pair) in index.chunks_exact(16).enumerate() {
            let word = |b: &[u8]| {
                let b: [u8; 8] = b.try_into().unwrap_or_default();
                if self.big_endian { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) }
            };
            let (offset, len) = (word(&pair[..8]), word(&pair[8..]));
            if offset == u64::MAX && len == u64::MAX {
                continue;
            }
            if offset.checked_add(len).is_none_or(|end| end > size) {
                return Err(bad(format!(
                    "inner chunk {i} at offset {offset} of {len} bytes lies outside the \
                     {size}-byte shard"
                )));
            }
        }
        Ok(())
    }
}
