//! What a delta file is, for `larder info`: read from its header alone, its pages untouched.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::delta::MAGIC;
use crate::error::Result;

/// A delta file, described from its (validated) header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeltaInfo {
    /// The file below it when it was saved: the base `.npy` (depth 1) or the delta it was
    /// saved over.
    pub base: PathBuf,
    /// 1 over a `.npy`, `k` over a delta of depth `k - 1`.
    pub depth: u32,
    /// Pages it holds.
    pub pages: u64,
    /// The page size it was saved with.
    pub page_size: u32,
    /// Bytes of the array file (the `.npy`) its pages belong to.
    pub array_bytes: u64,
    /// Size of the delta file.
    pub bytes: u64,
}

/// Whether the file at `path` starts as a delta file does (its magic; nothing else is checked).
/// False for anything that is not a regular file, which is never opened.
pub fn is_delta_file(path: impl AsRef<Path>) -> bool {
    let path = path.as_ref();
    if !path.is_file() {
        return false;
    }
    let mut magic = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == MAGIC
}

/// Describes the delta file at `path` from its header, which is checked (checksum included)
/// as opening it would.
///
/// # Errors
/// [`Error::Io`](crate::Error::Io) if it cannot be read; [`Error::Format`](crate::Error::Format)
/// for a file that is not a delta, or is truncated or corrupt.
pub fn describe_delta(path: impl AsRef<Path>) -> Result<DeltaInfo> {
    let path = path.as_ref();
    let (_file, header, meta) = super::read_delta(path)?;
    Ok(DeltaInfo {
        base: header.parent.path,
        depth: header.depth,
        pages: header.pages.len() as u64,
        page_size: header.page_size,
        array_bytes: header.array_len,
        bytes: meta.len(),
    })
}
