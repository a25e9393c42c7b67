//! How new Zarr arrays are laid out: [`Codec`], [`ZarrOptions`] and the default chunk shape.

use std::fmt;
use std::str::FromStr;

use crate::dtype::Time;
use crate::error::{Error, Result};
use crate::store::Attributes;

/// The lowest (fastest) zstd level, as zstd's `ZSTD_minCLevel()`.
pub const ZSTD_MIN_LEVEL: i32 = -(1 << 17);

/// The compression of chunks larder writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Zstandard at the given level (default 3): 1–22, or a negative "fast" level down to
    /// [`ZSTD_MIN_LEVEL`].
    Zstd(i32),
    /// gzip at the given level, 0–9 (default 5).
    Gzip(u32),
    /// No compression.
    None,
}

impl Default for Codec {
    fn default() -> Self {
        Codec::Zstd(3)
    }
}

impl FromStr for Codec {
    type Err = Error;
    /// `zstd`, `gzip`, `none`, optionally with a level: `zstd:5`, `gzip:9`. zstd levels are
    /// 1 to 22, or negative fast levels down to [`ZSTD_MIN_LEVEL`]; gzip levels 0 to 9. A level
    /// out of range is refused here rather than written into metadata no reader accepts.
    fn from_str(s: &str) -> Result<Codec> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (s, None),
        };
        let bad = || {
            Error::argument(format!(
                "codec {s:?}: expected zstd[:LEVEL] (LEVEL 1 to 22, or negative down to \
                 {ZSTD_MIN_LEVEL}), gzip[:0-9] or none"
            ))
        };
        match (name, level) {
            ("zstd", None) => Ok(Codec::Zstd(3)),
            ("zstd", Some(l)) => match l.parse::<i32>() {
                Ok(v) if (1..=22).contains(&v) || (ZSTD_MIN_LEVEL..0).contains(&v) => {
                    Ok(Codec::Zstd(v))
                }
                _ => Err(bad()),
            },
            ("gzip", None) => Ok(Codec::Gzip(5)),
            ("gzip", Some(l)) => match l.parse() {
                Ok(v) if v <= 9 => Ok(Codec::Gzip(v)),
                _ => Err(bad()),
            },
            ("none", None) => Ok(Codec::None),
            _ => Err(bad()),
        }
    }
}

// Only the object-storage upload bounds its encoders this way.
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
impl Codec {
    /// Bytes one encoder of this codec holds while it compresses a chunk of `chunk_bytes`,
    /// besides the chunk and its output: what bounds how many chunks a writer may compress at
    /// once. zstd's is measured from a context set up as for such a chunk (its tables grow with
    /// the level, to about 20 MiB at level 19 for a 1 MiB chunk); deflate's is a constant.
    pub(crate) fn encoder_memory(self, chunk_bytes: usize) -> usize {
        match self {
            Codec::None => 0,
            Codec::Gzip(_) => 512 << 10,
            Codec::Zstd(level) => zstd_context_bytes(level, chunk_bytes),
        }
    }
}

/// The size of a zstd compression context once set up for a `chunk_bytes` input at `level`
/// (its tables are allocated by the first call that compresses); 64 MiB should zstd refuse.
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
fn zstd_context_bytes(level: i32, chunk_bytes: usize) -> usize {
    use zstd::zstd_safe::{CCtx, CParameter, InBuffer, OutBuffer};
    const UNKNOWN: usize = 64 << 20;
    let mut cctx = CCtx::create();
    if cctx.set_parameter(CParameter::CompressionLevel(level)).is_err()
        || cctx.set_pledged_src_size(Some(chunk_bytes.max(1) as u64)).is_err()
    {
        return UNKNOWN;
    }
    let mut out = [0u8; 64];
    let mut output = OutBuffer::around(&mut out[..]);
    let mut input = InBuffer::around(&[0u8; 1][..]);
    if cctx.compress_stream(&mut output, &mut input).is_err() {
        return UNKNOWN;
    }
    cctx.sizeof()
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Codec::Zstd(l) => write!(f, "zstd:{l}"),
            Codec::Gzip(l) => write!(f, "gzip:{l}"),
            Codec::None => f.write_str("none"),
        }
    }
}

/// How a new chunked array is laid out: chunk shape, compression and optional sharding.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZarrOptions {
    pub(super) chunks: Option<Vec<usize>>,
    pub(super) codec: Codec,
    pub(super) shard: Option<Vec<usize>>,
    pub(super) attributes: Attributes,
    pub(super) time: Option<Time>,
    pub(super) dimension_names: Option<Vec<String>>,
}

impl ZarrOptions {
    /// Defaults: chunks of about 2 MiB in C order, zstd level 3, no sharding.
    pub fn new() -> Self {
        ZarrOptions::default()
    }
    /// The chunk shape (with sharding: the inner chunk shape).
    pub fn chunks(&mut self, chunks: &[usize]) -> &mut Self {
        self.chunks = Some(chunks.to_vec());
        self
    }
    /// The compression.
    pub fn codec(&mut self, codec: Codec) -> &mut Self {
        self.codec = codec;
        self
    }
    /// Store chunks in shards of this shape (a multiple of the chunk shape on every axis).
    pub fn shard(&mut self, shard: &[usize]) -> &mut Self {
        self.shard = Some(shard.to_vec());
        self
    }
    /// Attributes to store with the array.
    pub fn attributes(&mut self, attributes: Attributes) -> &mut Self {
        self.attributes = attributes;
        self
    }
    /// Store `int64` elements as numpy `datetime64[unit]` or `timedelta64[unit]` values: the
    /// Zarr v3 data type `numpy.datetime64` or `numpy.timedelta64` (`{"unit": unit,
    /// "scale_factor": 1}`), which zarr-python 3 reads as numpy's, with `NaT` as the fill value.
    /// Ignored for other element types.
    pub fn time(&mut self, time: Time) -> &mut Self {
        self.time = Some(time);
        self
    }

    /// The names of the array's dimensions (Zarr v3 `dimension_names`), which xarray needs to
    /// open a group holding the array. One per axis.
    pub fn dimension_names(&mut self, names: &[String]) -> &mut Self {
        self.dimension_names = Some(names.to_vec());
        self
    }
    /// The chunk shape set, if any.
    pub fn chunk_shape(&self) -> Option<&[usize]> {
        self.chunks.as_deref()
    }
    /// The codec set.
    pub fn codec_kind(&self) -> Codec {
        self.codec
    }
    /// The shard shape set, if any.
    pub fn shard_shape(&self) -> Option<&[usize]> {
        self.shard.as_deref()
    }
}

/// Target bytes of one chunk when no chunk shape is given.
pub const DEFAULT_CHUNK_BYTES: usize = 2 << 20;

/// A C-order chunk shape of about [`DEFAULT_CHUNK_BYTES`] for an array of `shape`: trailing axes
/// are kept whole while they fit, the next axis is cut to fill the budget, leading axes get 1.
pub fn default_chunks(shape: &[usize], itemsize: usize) -> Vec<usize> {
    let budget = (DEFAULT_CHUNK_BYTES / itemsize.max(1)).max(1);
    let mut out = vec![1; shape.len()];
    let mut inner = 1usize;
    for axis in (0..shape.len()).rev() {
        let n = shape[axis].max(1);
        if inner.saturating_mul(n) <= budget {
            out[axis] = n;
            inner *= n;
        } else {
            out[axis] = (budget / inner).clamp(1, n);
            break;
        }
    }
    out
}

/// The dimension names of an array larder adds at `node` of a hierarchy, so that xarray opens
/// the group: the source's own (its xarray `_ARRAY_DIMENSIONS` attribute, one name per axis,
/// which is then taken out of `attributes`: Zarr v3 keeps them in the metadata), else
/// `NAME_dim_0`, `NAME_dim_1`, … after the array's name, which no other array's dimension of
/// another length can already be using by chance (xarray refuses a dimension with two lengths).
pub(crate) fn added_dimension_names(
    node: &str,
    ndim: usize,
    attributes: &mut Attributes,
) -> Vec<String> {
    let own: Option<Vec<String>> = attributes
        .get("_ARRAY_DIMENSIONS")
        .and_then(serde_json::Value::as_array)
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
        .filter(|names: &Vec<String>| names.len() == ndim);
    if let Some(names) = own {
        attributes.remove("_ARRAY_DIMENSIONS");
        return names;
    }
    let leaf = node.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    (0..ndim).map(|i| format!("{leaf}_dim_{i}")).collect()
}
