//! Chunks compressed with one general-purpose codec (gzip, zlib or zstd over the element bytes,
//! in either byte order, Zarr v2 or v3), decoded here rather than by zarrs so that the decoded
//! size is capped while decoding: zarrs' codecs read a stream to its end before the size is
//! checked, so a chunk of a few kilobytes that inflates to gigabytes would be held in memory
//! first (a decompression bomb). Here the output stops one byte past the size the metadata
//! declares for the chunk, and anything but exactly that size is an error naming the chunk.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// The compression of a chunk layout this module decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Compression {
    Gzip,
    Zlib,
    Zstd,
}

/// The compression when the metadata's chunks are element bytes (any byte order) compressed
/// by one codec and nothing else: v3 `bytes` then `gzip` or `zstd`; v2 a `gzip`, `zlib` or
/// `zstd` compressor, no filters, C order.
pub(super) fn layout(meta: &Value) -> Option<Compression> {
    let by_name = |n: &str| match n {
        "gzip" => Some(Compression::Gzip),
        "zlib" => Some(Compression::Zlib),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    };
    match meta.get("zarr_format").and_then(Value::as_u64) {
        Some(2) => {
            let filters = meta.get("filters");
            let no_filters =
                filters.is_none_or(|f| f.is_null() || f.as_array().is_some_and(Vec::is_empty));
            let c_order = meta.get("order").and_then(Value::as_str).is_none_or(|o| o == "C");
            let id = meta.get("compressor")?.get("id")?.as_str()?;
            (no_filters && c_order).then_some(())?;
            by_name(id)
        }
        Some(3) => {
            if meta
                .get("storage_transformers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
                || meta.get("chunk_grid")?.get("name")?.as_str()? != "regular"
            {
                return None;
            }
            let codecs = meta.get("codecs")?.as_array()?;
            let name = |c: &Value| c.get("name").and_then(Value::as_str).map(str::to_string);
            match codecs.as_slice() {
                [b, z] if name(b).as_deref() == Some("bytes") => {
                    by_name(name(z)?.as_str()).filter(|c| *c != Compression::Zlib)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Decodes the chunk file at `path` to exactly `expected` bytes (as stored, in the array's
/// byte order). `Ok(None)` when the file does not exist (never written).
///
/// # Errors
/// [`Error::Storage`] naming the chunk when it decodes to more or fewer bytes, or does not
/// decode; [`Error::Io`].
pub(super) fn decode(path: &Path, how: Compression, expected: usize) -> Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let file = io::BufReader::new(file);
    let bad = |e: io::Error| Error::Storage {
        path: path.to_path_buf(),
        reason: format!("zarr chunk: {how:?} stream does not decode: {e}"),
    };
    let reader: Box<dyn Read> = match how {
        Compression::Gzip => Box::new(flate2::bufread::GzDecoder::new(file)),
        Compression::Zlib => Box::new(flate2::bufread::ZlibDecoder::new(file)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(file).map_err(bad)?),
    };
    let mut out = Vec::with_capacity(expected);
    // One byte more than expected is enough to tell that the chunk is too large.
    reader.take(expected as u64 + 1).read_to_end(&mut out).map_err(bad)?;
    if out.len() != expected {
        let got = if out.len() > expected {
            format!("more than {expected}")
        } else {
            out.len().to_string()
        };
        return Err(Error::Storage {
            path: path.to_path_buf(),
            reason: format!("zarr chunk decodes to {got} bytes, expected {expected}"),
        });
    }
    Ok(Some(out))
}
