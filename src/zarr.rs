//! [`ZarrArray`]: a Zarr v2 or v3 array in a directory, through the `zarrs` crate.
//!
//! Reading handles both format versions with every codec compiled in (bytes in either byte
//! order, zstd, gzip, zlib, blosc, crc32c, transpose, sharding); chunks that were never written
//! read as the fill value. Writing always produces Zarr v3 metadata.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use ndarray::{ArrayD, ArrayView, ArrayViewD, CowArray, IxDyn};
use serde_json::Value;
use zarrs::array::{Array, ArrayBuilder, ArrayBytes, ArraySubset};
use zarrs::filesystem::FilesystemStore;

use crate::dtype::{ByteOrder, DType, Element, ElementType};
use crate::error::{Error, Result};
use crate::grid::{ChunkGrid, check_box, intersect};
use crate::store::{ArrayRead, ArrayWrite, Attributes, Format};

mod plain;

/// The compression of chunks larder writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Zstandard at the given level (default 3).
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
    /// `zstd`, `gzip`, `none`, optionally with a level: `zstd:5`, `gzip:9`.
    fn from_str(s: &str) -> Result<Codec> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (s, None),
        };
        let bad =
            || Error::argument(format!("codec {s:?}: expected zstd[:LEVEL], gzip[:0-9] or none"));
        match (name, level) {
            ("zstd", None) => Ok(Codec::Zstd(3)),
            ("zstd", Some(l)) => l.parse().map(Codec::Zstd).map_err(|_| bad()),
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
    chunks: Option<Vec<usize>>,
    codec: Codec,
    shard: Option<Vec<usize>>,
    attributes: Attributes,
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

/// A typed array stored in Zarr format (v2 or v3) in a directory.
pub struct ZarrArray<T: Element> {
    path: PathBuf,
    array: Array<FilesystemStore>,
    shape: Vec<usize>,
    chunks: Vec<usize>,
    inner_chunks: Option<Vec<usize>>,
    dtype: DType,
    version: u8,
    writable: bool,
    /// Chunks stored as plain element bytes, zstd-compressed (`Some(true)`) or not
    /// (`Some(false)`), which larder reads from the chunk files itself (see `plain`).
    plain: Option<bool>,
    _t: PhantomData<T>,
}

impl<T: Element> fmt::Debug for ZarrArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZarrArray")
            .field("path", &self.path)
            .field("dtype", &self.dtype.typestr())
            .field("shape", &self.shape)
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

fn zerr(path: &Path, e: impl fmt::Display) -> Error {
    Error::Storage { path: path.to_path_buf(), reason: format!("zarr: {e}") }
}

fn store_at(root: &Path) -> Result<Arc<FilesystemStore>> {
    Ok(Arc::new(FilesystemStore::new(root).map_err(|e| zerr(root, e))?))
}

fn node_path(inner: Option<&str>) -> String {
    match inner {
        None | Some("" | "/") => "/".to_string(),
        Some(p) => format!("/{}", p.trim_matches('/')),
    }
}

/// Paths of every array in the Zarr hierarchy at `root` (`/` for a root array).
///
/// # Errors
/// [`Error::Storage`] when the hierarchy cannot be read.
pub fn list_arrays(root: &Path) -> Result<Vec<String>> {
    let store = store_at(root)?;
    let node = zarrs::node::Node::open(&store, "/").map_err(|e| zerr(root, e))?;
    if matches!(node.metadata(), zarrs::node::NodeMetadata::Array(_)) {
        return Ok(vec!["/".to_string()]);
    }
    let group = zarrs::group::Group::open(store, "/").map_err(|e| zerr(root, e))?;
    let mut out: Vec<String> = group
        .traverse()
        .map_err(|e| zerr(root, e))?
        .into_iter()
        .filter(|(_, m)| matches!(m, zarrs::node::NodeMetadata::Array(_)))
        .map(|(p, _)| p.as_str().to_string())
        .collect();
    out.sort();
    Ok(out)
}

/// The attributes of the group at `inner` (`None`: the root) of the Zarr hierarchy at `root`.
///
/// # Errors
/// [`Error::Storage`] when there is no such group.
pub fn group_attributes(root: &Path, inner: Option<&str>) -> Result<Attributes> {
    let store = store_at(root)?;
    let group = zarrs::group::Group::open(store, &node_path(inner)).map_err(|e| zerr(root, e))?;
    let meta = serde_json::to_value(group.metadata()).map_err(|e| zerr(root, e))?;
    Ok(meta.get("attributes").and_then(Value::as_object).cloned().unwrap_or_default())
}

/// Resolves the array path: the given one, or the only array of the hierarchy.
fn resolve_inner(root: &Path, inner: Option<&str>) -> Result<String> {
    if inner.is_some() {
        return Ok(node_path(inner));
    }
    let arrays = list_arrays(root)?;
    match arrays.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(zerr(root, "the hierarchy holds no array")),
        many => Err(Error::argument(format!(
            "{}: holds {} arrays; name one as {}:PATH, e.g. {}:{}",
            root.display(),
            many.len(),
            root.display(),
            root.display(),
            many[0]
        ))),
    }
}

/// What the metadata says about the stored elements, chunking and format version.
struct Described {
    dtype: DType,
    chunks: Vec<usize>,
    inner_chunks: Option<Vec<usize>>,
    version: u8,
}

fn describe(path: &Path, array: &Array<FilesystemStore>) -> Result<Described> {
    let meta = serde_json::to_value(array.metadata()).map_err(|e| zerr(path, e))?;
    let version = meta.get("zarr_format").and_then(Value::as_u64).unwrap_or(3);
    let unsupported = |descr: String, reason: &str| Error::UnsupportedDType {
        path: path.to_path_buf(),
        descr,
        reason: reason.to_string(),
    };
    let to_usizes = |v: Option<&Value>| -> Option<Vec<usize>> {
        v?.as_array()?.iter().map(|x| x.as_u64().and_then(|n| usize::try_from(n).ok())).collect()
    };
    if version == 2 {
        let descr = meta.get("dtype").map(ToString::to_string).unwrap_or_default();
        let typestr = meta.get("dtype").and_then(Value::as_str).unwrap_or_default();
        let dtype = DType::parse(typestr).map_err(|e| unsupported(descr, &e.to_string()))?;
        let chunks = to_usizes(meta.get("chunks")).unwrap_or_default();
        return Ok(Described { dtype, chunks, inner_chunks: None, version: 2 });
    }
    let dt = meta.get("data_type");
    let name = dt
        .and_then(|d| d.as_str().or_else(|| d.get("name").and_then(Value::as_str)))
        .unwrap_or_default();
    let element = match name {
        "bool" => ElementType::Bool,
        "uint8" => ElementType::U8,
        "uint16" => ElementType::U16,
        "uint32" => ElementType::U32,
        "uint64" => ElementType::U64,
        "int8" => ElementType::I8,
        "int16" => ElementType::I16,
        "int32" => ElementType::I32,
        "int64" => ElementType::I64,
        "float16" => ElementType::F16,
        "float32" => ElementType::F32,
        "float64" => ElementType::F64,
        "complex64" | "complex_float32" => ElementType::C64,
        "complex128" | "complex_float64" => ElementType::C128,
        other => {
            return Err(unsupported(other.to_string(), "not a numeric type larder stores"));
        }
    };
    let codecs = meta.get("codecs");
    let order = match find_codec(codecs, "bytes")
        .and_then(|c| c.get("configuration")?.get("endian")?.as_str().map(str::to_string))
        .as_deref()
    {
        Some("big") => ByteOrder::Big,
        _ => ByteOrder::Little,
    };
    let chunks = to_usizes(
        meta.get("chunk_grid")
            .and_then(|g| g.get("configuration"))
            .and_then(|c| c.get("chunk_shape")),
    )
    .unwrap_or_default();
    let inner_chunks = find_codec(codecs, "sharding_indexed")
        .and_then(|c| to_usizes(c.get("configuration")?.get("chunk_shape")));
    Ok(Described { dtype: DType::with_order(element, order), chunks, inner_chunks, version: 3 })
}

/// The first codec named `name` in a v3 codec list, looking inside sharding codecs.
fn find_codec<'a>(codecs: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    for c in codecs?.as_array()? {
        if c.get("name").and_then(Value::as_str) == Some(name) {
            return Some(c);
        }
        if let Some(found) = find_codec(c.get("configuration").and_then(|k| k.get("codecs")), name)
        {
            return Some(found);
        }
    }
    None
}

/// The element type of the Zarr array at `root` (`inner`: its path in the hierarchy).
pub(crate) fn element_of(root: &Path, inner: Option<&str>) -> Result<ElementType> {
    let node = resolve_inner(root, inner)?;
    let array = Array::open(store_at(root)?, &node).map_err(|e| zerr(root, e))?;
    Ok(describe(root, &array)?.dtype.element())
}

/// The Zarr format version and, for a sharded array, the inner chunk shape.
pub(crate) fn version_and_inner(
    root: &Path,
    inner: Option<&str>,
) -> Result<(u8, Option<Vec<usize>>)> {
    let node = resolve_inner(root, inner)?;
    let array = Array::open(store_at(root)?, &node).map_err(|e| zerr(root, e))?;
    let d = describe(root, &array)?;
    Ok((d.version, d.inner_chunks))
}

fn data_type_of(element: ElementType) -> zarrs::array::DataType {
    use zarrs::array::data_type as dt;
    match element {
        ElementType::Bool => dt::bool(),
        ElementType::U8 => dt::uint8(),
        ElementType::U16 => dt::uint16(),
        ElementType::U32 => dt::uint32(),
        ElementType::U64 => dt::uint64(),
        ElementType::I8 => dt::int8(),
        ElementType::I16 => dt::int16(),
        ElementType::I32 => dt::int32(),
        ElementType::I64 => dt::int64(),
        ElementType::F16 => dt::float16(),
        ElementType::F32 => dt::float32(),
        ElementType::F64 => dt::float64(),
        ElementType::C64 => dt::complex64(),
        ElementType::C128 => dt::complex128(),
    }
}

fn u64s(v: &[usize]) -> Vec<u64> {
    v.iter().map(|&x| x as u64).collect()
}

/// Decodes native-order element bytes into values, checking `bool` bytes.
pub(crate) fn bytes_to_vec<T: Element>(path: &Path, bytes: &[u8]) -> Result<Vec<T>> {
    use bytemuck::checked::{CheckedCastError, try_cast_slice, try_pod_read_unaligned};
    let bad_bool = || Error::Storage {
        path: path.to_path_buf(),
        reason: "bool element is not 0 or 1".to_string(),
    };
    match try_cast_slice::<u8, T>(bytes) {
        Ok(s) => Ok(s.to_vec()),
        Err(CheckedCastError::InvalidBitPattern) => Err(bad_bool()),
        Err(CheckedCastError::PodCastError(_)) => {
            let size = std::mem::size_of::<T>();
            if !bytes.len().is_multiple_of(size) {
                return Err(Error::Storage {
                    path: path.to_path_buf(),
                    reason: format!("{} bytes is not a whole number of elements", bytes.len()),
                });
            }
            bytes
                .chunks_exact(size)
                .map(|c| try_pod_read_unaligned(c).map_err(|_| bad_bool()))
                .collect()
        }
    }
}

impl<T: Element> ZarrArray<T> {
    /// Opens the Zarr array in directory `path` read-only. If `path` is a group, it must hold
    /// exactly one array; otherwise use [`open_at`](ZarrArray::open_at).
    ///
    /// # Errors
    /// [`Error::Storage`] for missing or invalid metadata, or an unsupported codec;
    /// [`Error::UnsupportedDType`]; [`Error::DTypeMismatch`] if it does not hold `T`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_at(path.as_ref(), None)
    }

    /// Opens the array at `inner` (e.g. `/group/name`) in the Zarr hierarchy at `root`.
    ///
    /// # Errors
    /// As [`open`](ZarrArray::open).
    pub fn open_at(root: &Path, inner: Option<&str>) -> Result<Self> {
        Self::open_mode(root, inner, false)
    }

    /// Opens an existing array for reading and writing.
    ///
    /// # Errors
    /// As [`open`](ZarrArray::open).
    pub fn open_mut(root: &Path, inner: Option<&str>) -> Result<Self> {
        Self::open_mode(root, inner, true)
    }

    fn open_mode(root: &Path, inner: Option<&str>, writable: bool) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::io(root, std::io::Error::from(std::io::ErrorKind::NotFound)));
        }
        let node = resolve_inner(root, inner)?;
        let array = Array::open(store_at(root)?, &node).map_err(|e| zerr(root, e))?;
        Self::from_array(root, array, writable)
    }

    fn from_array(root: &Path, array: Array<FilesystemStore>, writable: bool) -> Result<Self> {
        crate::sys::keep_freed_chunk_buffers();
        let d = describe(root, &array)?;
        if d.dtype.element() != T::TYPE {
            return Err(Error::DTypeMismatch {
                path: root.to_path_buf(),
                expected: DType::of::<T>().typestr(),
                found: d.dtype.typestr(),
            });
        }
        let shape = array
            .shape()
            .iter()
            .map(|&n| usize::try_from(n).map_err(|_| zerr(root, "shape does not fit in memory")))
            .collect::<Result<Vec<_>>>()?;
        let chunks = if d.chunks.len() == shape.len() { d.chunks } else { shape.clone() };
        let plain = plain_layout::<T>(&serde_json::to_value(array.metadata()).unwrap_or_default());
        Ok(ZarrArray {
            path: root.to_path_buf(),
            array,
            shape,
            chunks,
            inner_chunks: d.inner_chunks,
            dtype: d.dtype,
            version: d.version,
            writable,
            plain,
            _t: PhantomData,
        })
    }

    /// Creates a new Zarr v3 array of `shape` in directory `root` (at `inner` in its
    /// hierarchy, `None` for a root array), filled with zeros until written.
    ///
    /// # Errors
    /// [`Error::Argument`] if `root` already exists or the chunk and shard shapes do not fit;
    /// [`Error::Io`]/[`Error::Storage`] for write errors.
    pub fn create(
        root: &Path,
        inner: Option<&str>,
        shape: &[usize],
        options: &ZarrOptions,
    ) -> Result<Self> {
        let node = node_path(inner);
        if node == "/" && root.exists() {
            return Err(Error::argument(format!(
                "{} already exists; remove it or choose another path",
                root.display()
            )));
        }
        let node_dir = root.join(node.trim_start_matches('/'));
        if node != "/" && [".zarray", "zarr.json"].iter().any(|m| node_dir.join(m).exists()) {
            return Err(Error::argument(format!(
                "{}:{node} already exists; choose another path",
                root.display()
            )));
        }
        let chunks = options
            .chunks
            .clone()
            .unwrap_or_else(|| default_chunks(shape, std::mem::size_of::<T>()));
        check_chunks(shape, &chunks, "chunk")?;
        let grid = match &options.shard {
            Some(shard) => {
                check_chunks(shape, shard, "shard")?;
                if shard.iter().zip(&chunks).any(|(&s, &c)| !s.is_multiple_of(c)) {
                    return Err(Error::argument(format!(
                        "shard shape {shard:?} is not a multiple of chunk shape {chunks:?}"
                    )));
                }
                shard.clone()
            }
            None => chunks.clone(),
        };
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let store = store_at(root)?;
        if node != "/" {
            // Make every parent a group, so other tools can walk down to the array.
            let mut parent = String::new();
            let parts: Vec<&str> = node.trim_matches('/').split('/').collect();
            for (i, part) in std::iter::once(&"").chain(&parts[..parts.len() - 1]).enumerate() {
                if i > 0 {
                    parent.push('/');
                    parent.push_str(part);
                }
                let p = if parent.is_empty() { "/" } else { parent.as_str() };
                if zarrs::group::Group::open(store.clone(), p).is_err() {
                    zarrs::group::GroupBuilder::new()
                        .build(store.clone(), p)
                        .and_then(|g| g.store_metadata().map_err(Into::into))
                        .map_err(|e| zerr(root, e))?;
                }
            }
        }
        let mut builder = ArrayBuilder::new(
            u64s(shape),
            u64s(&grid),
            data_type_of(T::TYPE),
            zarrs::array::FillValue::new(vec![0u8; std::mem::size_of::<T>()]),
        );
        if options.shard.is_some() {
            builder.subchunk_shape(u64s(&chunks));
        }
        let codec: Vec<Arc<dyn zarrs::array::codec::api::BytesToBytesCodecTraits>> =
            match options.codec {
                Codec::Zstd(level) => {
                    vec![Arc::new(zarrs::array::codec::ZstdCodec::new(level, false))]
                }
                Codec::Gzip(level) => vec![Arc::new(
                    zarrs::array::codec::GzipCodec::new(level).map_err(|e| zerr(root, e))?,
                )],
                Codec::None => Vec::new(),
            };
        builder.bytes_to_bytes_codecs(codec);
        builder.attributes(options.attributes.clone());
        let array = builder.build(store, &node).map_err(|e| zerr(root, e))?;
        let meta_options =
            zarrs::array::ArrayMetadataOptions::default().with_include_zarrs_metadata(false);
        array.store_metadata_opt(&meta_options).map_err(|e| zerr(root, e))?;
        Self::from_array(root, array, true)
    }

    /// The directory of the Zarr hierarchy.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Zarr format version: 2 or 3.
    pub fn zarr_format(&self) -> u8 {
        self.version
    }

    /// With sharding, the shape of the chunks inside each shard.
    pub fn inner_chunk_shape(&self) -> Option<&[usize]> {
        self.inner_chunks.as_deref()
    }

    /// The Zarr metadata as JSON.
    pub fn metadata_json(&self) -> Value {
        serde_json::to_value(self.array.metadata()).unwrap_or(Value::Null)
    }
}

impl<T: Element> ZarrArray<T> {
    /// Reads a region that spans several chunks one whole chunk at a time, copying each
    /// decoded chunk straight into the output. The decode buffers are chunk-sized and reused, so
    /// only the output's pages are fresh (zarrs' own multi-chunk read fills a region-sized byte
    /// buffer that would then be copied again).
    fn read_chunkwise(
        &self,
        grid: &ChunkGrid,
        touched: &[Vec<usize>],
        start: &[usize],
        shape: &[usize],
    ) -> Result<ArrayD<T>> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let mut out = ArrayD::<T>::from_elem(IxDyn(shape), T::default());
        // Decoding dominates: worker threads decode chunks in any order while this thread
        // copies each into place. The bounded channel keeps a few chunks in flight at most.
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .clamp(1, 4)
            .min(touched.len());
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(workers);
            for _ in 0..workers {
                let (tx, next) = (tx.clone(), &next);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(index) = touched.get(i) else { break };
                        if tx.send((i, self.decode_chunk(index))).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            for (i, decoded) in rx {
                let (stored, raw) = decoded?;
                let index = &touched[i];
                let (origin, clipped) = grid.region(index);
                let (in_chunk, in_out) = intersect(&origin, &clipped, start, shape);
                let bad = |e: ndarray::ShapeError| {
                    zerr(&self.path, format!("chunk {index:?} has the wrong size: {e}"))
                };
                if let Ok(values) = bytemuck::checked::try_cast_slice::<u8, T>(&raw) {
                    let chunk = ArrayView::from_shape(IxDyn(&stored), values).map_err(bad)?;
                    out.slice_mut(in_out.as_slice()).assign(&chunk.slice(in_chunk.as_slice()));
                } else {
                    let values = bytes_to_vec::<T>(&self.path, &raw)?;
                    let chunk = ArrayD::from_shape_vec(IxDyn(&stored), values).map_err(bad)?;
                    out.slice_mut(in_out.as_slice()).assign(&chunk.slice(in_chunk.as_slice()));
                }
            }
            Ok::<(), Error>(())
        })?;
        Ok(out)
    }

    /// The stored shape and decoded native-order bytes of the whole chunk at `index`.
    fn decode_chunk(&self, index: &[usize]) -> Result<(Vec<usize>, Cow<'static, [u8]>)> {
        let index64 = u64s(index);
        let stored: Vec<usize> = self
            .array
            .chunk_shape(&index64)
            .map_err(|e| zerr(&self.path, e))?
            .iter()
            .map(|n| usize::try_from(n.get()).unwrap_or(usize::MAX))
            .collect();
        let bytes: ArrayBytes<'static> =
            self.array.retrieve_chunk(&index64).map_err(|e| zerr(&self.path, e))?;
        let raw = bytes.into_fixed().map_err(|e| zerr(&self.path, e))?;
        Ok((stored, raw))
    }
}

/// `Some(zstd)` when the array's chunks are files of plain little-endian element bytes (on a
/// little-endian machine), raw or in zstd frames without checksums, on a regular grid and with
/// no storage transformer: the layout [`plain`] reads without zarrs' codec pipeline.
fn plain_layout<T: Element>(meta: &Value) -> Option<bool> {
    if !cfg!(target_endian = "little") || T::TYPE == ElementType::Bool {
        return None;
    }
    if meta.get("zarr_format").and_then(Value::as_u64) != Some(3)
        || meta.get("storage_transformers").and_then(Value::as_array).is_some_and(|a| !a.is_empty())
        || meta.get("chunk_grid")?.get("name")?.as_str()? != "regular"
    {
        return None;
    }
    let name = |c: &Value| c.get("name").and_then(Value::as_str).map(str::to_string);
    let config = |c: &'_ Value, key: &str| c.get("configuration").and_then(|k| k.get(key)).cloned();
    let (bytes, rest) = meta.get("codecs")?.as_array()?.split_first()?;
    let endian = config(bytes, "endian");
    let native = match endian.as_ref().and_then(Value::as_str) {
        Some("little") => true,
        None => std::mem::size_of::<T>() == 1,
        Some(_) => false,
    };
    if name(bytes).as_deref() != Some("bytes") || !native {
        return None;
    }
    match rest {
        [] => Some(false),
        [z] if name(z).as_deref() == Some("zstd") => {
            let checksum = config(z, "checksum").and_then(|v| v.as_bool()).unwrap_or(false);
            (!checksum).then_some(true)
        }
        _ => None,
    }
}

/// The bytes of `values`, for every element type but `bool` (whose bytes must stay 0 or 1).
#[allow(clippy::ptr_arg)] // a `Vec`: `Any` downcasts only sized types
fn bytes_mut<T: Element>(values: &mut Vec<T>) -> Option<&mut [u8]> {
    use std::any::{Any, TypeId};
    macro_rules! pod {
        ($($t:ty),*) => {$(
            if TypeId::of::<T>() == TypeId::of::<$t>() {
                return (values as &mut dyn Any)
                    .downcast_mut::<Vec<$t>>()
                    .map(|v| bytemuck::cast_slice_mut(v.as_mut_slice()));
            }
        )*};
    }
    pod!(u8, u16, u32, u64, i8, i16, i32, i64, half::f16, f32, f64);
    pod!(num_complex::Complex<f32>, num_complex::Complex<f64>);
    None
}

/// Element strides of a C-order block of `shape`.
fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * shape[k + 1];
    }
    strides
}

impl<T: Element> ZarrArray<T> {
    /// The file of the chunk at `index`.
    fn chunk_file(&self, index: &[usize]) -> PathBuf {
        let key = self.array.chunk_key(&u64s(index));
        self.path.join(key.as_str().trim_start_matches('/'))
    }

    /// Decodes the whole chunk at `index` of a plain-layout array into `out`.
    fn decode_plain_into(&self, index: &[usize], zstd: bool, out: &mut [u8]) -> Result<()> {
        if plain::decode_into(&self.chunk_file(index), zstd, out)? {
            return Ok(());
        }
        // Never written: zarrs supplies the fill value.
        let (_, raw) = self.decode_chunk(index)?;
        if raw.len() != out.len() {
            return Err(zerr(&self.path, format!("chunk {index:?} has the wrong size")));
        }
        out.copy_from_slice(&raw);
        Ok(())
    }

    /// A region inside the one chunk at `index` of a plain-layout array: only the bytes from
    /// the region's first element to its last are decoded.
    fn read_in_chunk(
        &self,
        grid: &ChunkGrid,
        index: &[usize],
        zstd: bool,
        start: &[usize],
        shape: &[usize],
    ) -> Result<ArrayD<T>> {
        let (origin, _) = grid.region(index);
        let stored = &self.chunks;
        let strides = c_strides(stored);
        let at = |k: usize, i: usize| (i - origin[k]) * strides[k];
        let first: usize = (0..shape.len()).map(|k| at(k, start[k])).sum();
        let last: usize = (0..shape.len()).map(|k| at(k, start[k] + shape[k] - 1)).sum();
        let chunk_elems: usize = stored.iter().product();
        let size = std::mem::size_of::<T>();
        let mut part = vec![T::default(); last - first + 1];
        let whole = part.len() == chunk_elems;
        let bytes = bytes_mut(&mut part).ok_or_else(|| zerr(&self.path, "not a plain type"))?;
        let found = if whole {
            self.decode_plain_into(index, zstd, bytes)?;
            true
        } else {
            let total = (chunk_elems * size) as u64;
            plain::decode_range(&self.chunk_file(index), zstd, total, (first * size) as u64, bytes)?
        };
        if !found {
            // Never written: the fill value.
            let (stored, raw) = self.decode_chunk(index)?;
            let values = bytes_to_vec::<T>(&self.path, &raw)?;
            let chunk = ArrayD::from_shape_vec(IxDyn(&stored), values)
                .map_err(|e| zerr(&self.path, format!("chunk {index:?}: {e}")))?;
            let (in_chunk, _) = intersect(&origin, &stored, start, shape);
            return Ok(chunk.slice(in_chunk.as_slice()).to_owned());
        }
        let count: usize = shape.iter().product();
        let bad = |e: ndarray::ShapeError| zerr(&self.path, format!("chunk {index:?}: {e}"));
        if part.len() == count {
            return ArrayD::from_shape_vec(IxDyn(shape), part).map_err(bad);
        }
        let view = ArrayView::from_shape(
            ndarray::ShapeBuilder::strides(IxDyn(shape), IxDyn(&strides)),
            &part,
        )
        .map_err(bad)?;
        Ok(view.to_owned())
    }

    /// A region over several chunks of a plain-layout array, decoded in parallel. Chunks that
    /// lie wholly inside the region and span its trailing axes are contiguous in the output and
    /// are decoded straight into it; the others (at the region's edges) go through a
    /// chunk-sized buffer.
    fn read_plain_chunks(
        &self,
        grid: &ChunkGrid,
        touched: &[Vec<usize>],
        zstd: bool,
        start: &[usize],
        shape: &[usize],
    ) -> Result<ArrayD<T>> {
        use rayon::prelude::*;
        let size = std::mem::size_of::<T>();
        let stored = &self.chunks;
        let chunk_elems: usize = stored.iter().product();
        let row: usize = shape[1..].iter().product();
        let rows_whole = (1..shape.len()).all(|k| stored[k] == shape[k]);
        let mut direct = Vec::new();
        let mut edges = Vec::new();
        for index in touched {
            let (origin, clipped) = grid.region(index);
            let inside = clipped == *stored
                && (0..shape.len())
                    .all(|k| origin[k] >= start[k] && origin[k] + stored[k] <= start[k] + shape[k]);
            if inside && rows_whole {
                direct.push((index, (origin[0] - start[0]) * row));
            } else {
                edges.push(index);
            }
        }
        direct.sort_by_key(|d| d.1);
        let mut values = vec![T::default(); shape.iter().product()];
        crate::sys::advise_huge_pages(&mut values);
        let bytes = bytes_mut(&mut values).ok_or_else(|| zerr(&self.path, "not a plain type"))?;
        let mut pieces = Vec::with_capacity(direct.len());
        let mut rest = bytes;
        let mut at = 0;
        for &(index, offset) in &direct {
            let skip = offset
                .checked_sub(at)
                .ok_or_else(|| zerr(&self.path, format!("chunk {index:?} overlaps another")))?;
            let tail = std::mem::take(&mut rest).split_at_mut(skip * size).1;
            let (piece, tail) = tail.split_at_mut(chunk_elems * size);
            pieces.push((index, piece));
            rest = tail;
            at = offset + chunk_elems;
        }
        pieces
            .into_par_iter()
            .try_for_each(|(index, piece)| self.decode_plain_into(index, zstd, piece))?;
        let mut out = ArrayD::from_shape_vec(IxDyn(shape), values)
            .map_err(|e| zerr(&self.path, format!("region: {e}")))?;
        for batch in edges.chunks(2 * rayon::current_num_threads()) {
            let decoded: Vec<Result<Vec<T>>> = batch
                .par_iter()
                .map(|index| {
                    let mut v = vec![T::default(); chunk_elems];
                    let b =
                        bytes_mut(&mut v).ok_or_else(|| zerr(&self.path, "not a plain type"))?;
                    self.decode_plain_into(index, zstd, b)?;
                    Ok(v)
                })
                .collect();
            for (index, values) in batch.iter().zip(decoded) {
                let (origin, clipped) = grid.region(index);
                let (in_chunk, in_out) = intersect(&origin, &clipped, start, shape);
                let chunk = ArrayView::from_shape(IxDyn(stored), &values?)
                    .map_err(|e| zerr(&self.path, format!("chunk {index:?}: {e}")))?
                    .slice(in_chunk.as_slice())
                    .to_owned();
                out.slice_mut(in_out.as_slice()).assign(&chunk);
            }
        }
        Ok(out)
    }
}

fn check_chunks(shape: &[usize], chunks: &[usize], what: &str) -> Result<()> {
    if chunks.len() != shape.len() || chunks.contains(&0) {
        return Err(Error::argument(format!(
            "{what} shape {chunks:?} does not fit an array of shape {shape:?} (one positive size \
             per axis)"
        )));
    }
    Ok(())
}

impl<T: Element> ArrayRead<T> for ZarrArray<T> {
    fn format(&self) -> Format {
        Format::Zarr
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn chunk_shape(&self) -> &[usize] {
        &self.chunks
    }
    fn attributes(&self) -> Result<Attributes> {
        let mut attrs = self.array.attributes().clone();
        // Provenance zarrs adds on its own; not the user's.
        attrs.remove("_zarrs");
        Ok(attrs)
    }

    fn read_region(&self, start: &[usize], shape: &[usize]) -> Result<CowArray<'_, T, IxDyn>> {
        check_box(&self.shape, start, shape)?;
        if shape.contains(&0) {
            return Ok(CowArray::from(
                ArrayD::from_shape_vec(IxDyn(shape), Vec::new())
                    .map_err(|e| Error::argument(e.to_string()))?,
            ));
        }
        let grid = ChunkGrid::new(&self.shape, &self.chunks);
        let touched = grid.touching(start, shape);
        if let Some(zstd) = self.plain {
            return match touched.as_slice() {
                [index] => self.read_in_chunk(&grid, index, zstd, start, shape),
                _ => self.read_plain_chunks(&grid, &touched, zstd, start, shape),
            }
            .map(CowArray::from);
        }
        if touched.len() > 1 {
            return self.read_chunkwise(&grid, &touched, start, shape).map(CowArray::from);
        }
        let ranges: Vec<std::ops::Range<u64>> =
            start.iter().zip(shape).map(|(&s, &n)| s as u64..(s + n) as u64).collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        let bytes: ArrayBytes<'static> =
            self.array.retrieve_array_subset(&subset).map_err(|e| zerr(&self.path, e))?;
        let raw = bytes.into_fixed().map_err(|e| zerr(&self.path, e))?;
        let values = bytes_to_vec::<T>(&self.path, &raw)?;
        let arr = ArrayD::from_shape_vec(IxDyn(shape), values)
            .map_err(|e| zerr(&self.path, format!("decoded region has the wrong size: {e}")))?;
        Ok(CowArray::from(arr))
    }
}

impl<T: Element> ArrayWrite<T> for ZarrArray<T> {
    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        self.store_block(start, data)
    }
}

impl<T: Element> ZarrArray<T> {
    /// Writes `data` at `start` through a shared reference, so that several threads can store
    /// disjoint chunks at once (`larder copy` encodes chunks in parallel). Blocks that do not
    /// cover whole chunks must not overlap a chunk another thread writes.
    ///
    /// # Errors
    /// [`Error::ReadOnly`]; [`Error::Argument`] for a box outside the array; [`Error::Storage`]
    /// for encoding or write errors.
    pub fn store_block(&self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        if !self.writable {
            return Err(Error::ReadOnly { path: self.path.clone(), mode: "r" });
        }
        check_box(&self.shape, start, data.shape())?;
        if data.is_empty() {
            return Ok(());
        }
        let data = data.as_standard_layout();
        let values = data.as_slice().ok_or_else(|| Error::argument("data is not contiguous"))?;
        let bytes: &[u8] = bytemuck::cast_slice(values);
        let ranges: Vec<std::ops::Range<u64>> =
            start.iter().zip(data.shape()).map(|(&s, &n)| s as u64..(s + n) as u64).collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        self.array
            .store_array_subset(&subset, ArrayBytes::new_flen(Cow::Borrowed(bytes)))
            .map_err(|e| zerr(&self.path, e))
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::cast_precision_loss)]
mod tests {
    use super::*;
    use crate::select::Selection;

    #[test]
    fn default_chunks_fill_about_two_mib() {
        assert_eq!(default_chunks(&[10_000_000], 8), vec![262_144]);
        assert_eq!(default_chunks(&[1000, 1000], 8), vec![262, 1000]);
        assert_eq!(default_chunks(&[3, 4], 8), vec![3, 4]);
        assert_eq!(default_chunks(&[], 8), Vec::<usize>::new());
        assert_eq!(default_chunks(&[0, 5], 8), vec![1, 5]);
    }

    #[test]
    fn codecs_parse_with_levels() {
        assert_eq!("zstd".parse::<Codec>().unwrap(), Codec::Zstd(3));
        assert_eq!("gzip:9".parse::<Codec>().unwrap(), Codec::Gzip(9));
        assert_eq!("none".parse::<Codec>().unwrap(), Codec::None);
        assert!("lz4".parse::<Codec>().is_err());
        assert!("gzip:10".parse::<Codec>().is_err());
    }

    #[test]
    fn create_write_read_round_trip_with_sharding() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.zarr");
        let mut opts = ZarrOptions::new();
        opts.chunks(&[2, 3]).shard(&[4, 6]).codec(Codec::Gzip(1));
        let mut z = ZarrArray::<f64>::create(&p, None, &[5, 7], &opts).unwrap();
        let data = ArrayD::from_shape_fn(IxDyn(&[3, 3]), |i| (i[0] * 3 + i[1]) as f64);
        z.write_region(&[1, 2], &data.view()).unwrap();
        let z = ZarrArray::<f64>::open(&p).unwrap();
        assert_eq!(z.chunk_shape(), &[4, 6]);
        assert_eq!(z.inner_chunk_shape(), Some(&[2, 3][..]));
        let all = z.read(&Selection::all()).unwrap();
        assert_eq!(all[[1, 2]], 0.0);
        assert_eq!(all[[3, 4]], 8.0);
        assert_eq!(all[[0, 0]], 0.0);
        assert!(matches!(ZarrArray::<f32>::open(&p), Err(Error::DTypeMismatch { .. })));
    }
}
