//! [`ZarrArray`]: a Zarr v2 or v3 array in a directory, through the `zarrs` crate.
//!
//! Reading handles both format versions with every codec compiled in (bytes in either byte
//! order, zstd, gzip, zlib, blosc, crc32c, transpose, sharding); chunks that were never written
//! read as the fill value. Writing always produces Zarr v3 metadata.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{ArrayD, ArrayView, ArrayViewD, CowArray, IxDyn};
use serde_json::Value;
use zarrs::array::{Array, ArrayBuilder, ArrayBytes, ArraySubset};
use zarrs::filesystem::FilesystemStore;

use crate::dtype::{DType, Element, ElementType};
use crate::error::{Error, Result};
use crate::grid::{ChunkGrid, Region};
use crate::store::{ArrayRead, ArrayWrite, Attributes, Format};

mod bounded;
mod consolidated;
pub mod group;
mod handle;
mod hierarchy;
mod meta;
mod options;
mod plain;
mod shard;
mod staged;
mod storage;

use meta::{data_type_of, describe, plain_layout, resolve_inner, time_type};
pub(crate) use meta::{element_of, version_and_inner};
pub use meta::{group_attributes, list_arrays};
pub(crate) use options::added_dimension_names;
pub use options::{Codec, DEFAULT_CHUNK_BYTES, ZSTD_MIN_LEVEL, ZarrOptions, default_chunks};
pub use staged::StagedArray;
pub use storage::{Storage, StorageArray};

/// A typed array stored in Zarr format (v2 or v3) in a directory.
///
/// ```
/// use larder::{ArrayRead, ArrayWrite, Codec, Selection, ZarrArray, ZarrOptions};
/// use ndarray::{Array2, s};
/// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
/// # let path = dir.path().join("t.zarr");
/// // zarr.create_array(path, shape=(100, 20), chunks=(25, 20), dtype="f8", compressors=gzip)
/// let mut options = ZarrOptions::new();
/// options.chunks(&[25, 20]).codec(Codec::Gzip(5));
/// let mut z = ZarrArray::<f64>::create(&path, None, &[100, 20], &options)?;
/// let block = Array2::from_shape_fn((25, 20), |(i, j)| (i * 20 + j) as f64).into_dyn();
/// z.write_region(&[25, 0], &block.view())?; // one whole chunk
/// drop(z);
///
/// let z = ZarrArray::<f64>::open(&path)?;
/// assert_eq!((z.shape(), z.chunk_shape()), (&[100, 20][..], &[25, 20][..]));
/// let got = z.read(&Selection::parse("26, 3:6")?)?; // a[26, 3:6]
/// assert_eq!(got.iter().copied().collect::<Vec<_>>(), [23.0, 24.0, 25.0]);
/// assert_eq!(z.read(&Selection::parse("0, 0")?)?.sum(), 0.0); // unwritten chunks read as 0
/// # let _ = s![..];
/// # Ok::<(), larder::Error>(())
/// ```
pub struct ZarrArray<T: Element> {
    path: PathBuf,
    array: handle::Handle,
    shape: Vec<usize>,
    /// The chunk shape the metadata declares (what `chunk_shape` reports).
    chunks: Vec<usize>,
    /// The declared chunk clipped to the array: the grid every read walks and sizes by.
    clipped: Vec<usize>,
    inner_chunks: Option<Vec<usize>>,
    dtype: DType,
    version: u8,
    writable: bool,
    /// Chunks stored as plain element bytes, zstd-compressed (`Some(true)`) or not
    /// (`Some(false)`), which larder reads from the chunk files itself (see `plain`).
    plain: Option<bool>,
    /// Chunks compressed by one codec that larder decodes itself with the size capped (see
    /// `bounded`), when they are not `plain`.
    bounded: Option<bounded::Compression>,
    /// The shard index layout, checked before zarrs reads a shard (see `shard`).
    shard_index: Option<shard::ShardIndex>,
    /// Bytes a stored chunk holds at least: the 4 of a `crc32c` checksum when the codecs end
    /// with one (zarrs' partial decoder subtracts them without checking).
    min_chunk_bytes: u64,
    /// Added to every value read: a CF time whose epoch is not 1970's (see `dtype::cf`).
    epoch_shift: i64,
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
    pub fn open_at(root: impl AsRef<Path>, inner: Option<&str>) -> Result<Self> {
        let root = root.as_ref();
        Self::open_mode(root, inner, false)
    }

    /// Opens an existing array for reading and writing.
    ///
    /// # Errors
    /// As [`open`](ZarrArray::open).
    pub fn open_mut(root: impl AsRef<Path>, inner: Option<&str>) -> Result<Self> {
        let root = root.as_ref();
        Self::open_mode(root, inner, true)
    }

    fn open_mode(root: &Path, inner: Option<&str>, writable: bool) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::io(root, std::io::Error::from(std::io::ErrorKind::NotFound)));
        }
        let node = resolve_inner(root, inner)?;
        if writable {
            let dir = root.join(node.trim_start_matches('/'));
            let mut at = root.to_path_buf();
            for part in node.trim_matches('/').split('/').filter(|p| !p.is_empty()) {
                at.push(part);
                refuse_link(root, &at)?;
            }
            refuse_links_below(root, &dir)?;
        }
        let array = Array::open(store_at(root)?, &node).map_err(|e| zerr(root, e))?;
        Self::from_array(root, array, writable)
    }

    fn from_array(root: &Path, array: Array<FilesystemStore>, writable: bool) -> Result<Self> {
        crate::sys::keep_freed_chunk_buffers();
        let mut d = describe(root, &array)?;
        // CF-encoded times (larder's dataset groups; xarray's, whatever their epoch) read as
        // numpy's time types, values moved to its 1970 epoch.
        let text = |k: &str| array.attributes().get(k).and_then(serde_json::Value::as_str);
        let epoch_shift;
        (d.dtype, epoch_shift) =
            crate::dtype::cf::decoded(d.dtype, text(cf_units()), text(cf_calendar()));
        if d.dtype.element() != T::TYPE {
            return Err(Error::DTypeMismatch {
                path: root.to_path_buf(),
                expected: DType::of::<T>().typestr(),
                found: d.dtype.typestr(),
            });
        }
        crate::limits::check_ndim(array.shape().len()).map_err(|e| zerr(root, e))?;
        crate::limits::element_count(array.shape()).map_err(|e| zerr(root, e))?;
        let shape = array
            .shape()
            .iter()
            .map(|&n| usize::try_from(n).map_err(|_| zerr(root, "shape does not fit in memory")))
            .collect::<Result<Vec<_>>>()?;
        let declared = if d.chunks.len() == shape.len() { d.chunks } else { shape.clone() };
        // A chunk larger than the array is cut to it: every buffer is sized by the clipped
        // chunk, and chunks are read through the region they cover.
        let clipped = crate::limits::clip_chunk(&declared, &shape);
        let meta = serde_json::to_value(array.metadata()).unwrap_or_default();
        let itemsize = d.dtype.itemsize();
        let oversized = crate::limits::check_chunk_bytes(&declared, itemsize);
        if let Err(reason) = &oversized
            && (!decodes_in_part(&meta) || crate::limits::byte_size(&declared, itemsize).is_err())
        {
            // Its codecs would decode the whole declared chunk, whatever region is read, or its
            // size cannot even be counted (zarrs would overflow working it out).
            return Err(zerr(root, reason));
        }
        crate::limits::check_chunk_bytes(&clipped, itemsize).map_err(|e| zerr(root, e))?;
        // The direct reads assume chunk files of the declared shape; a clipped chunk goes
        // through zarrs' partial decoding instead.
        let plain = if clipped == declared { plain_layout::<T>(&meta) } else { None };
        let bounded = if plain.is_none() { bounded::layout(&meta) } else { None };
        let shard_index = shard::layout(&meta, &declared).map_err(|e| zerr(root, e))?;
        Ok(ZarrArray {
            path: root.to_path_buf(),
            array: handle::Handle::new(array, root.to_path_buf(), writable),
            shape,
            chunks: declared,
            clipped,
            inner_chunks: d.inner_chunks,
            dtype: d.dtype,
            version: d.version,
            writable,
            plain,
            bounded,
            shard_index,
            min_chunk_bytes: checksum_bytes(&meta),
            epoch_shift,
            _t: PhantomData,
        })
    }

    /// Creates a new Zarr v3 array of `shape` in directory `root` (at `inner` in its
    /// hierarchy, `None` for a root array), filled with zeros until written.
    ///
    /// Nothing is written when the new array would damage what is there: `root` is refused if
    /// it exists and `inner` is `None`; an existing `inner` is refused, and so is one below an
    /// existing array (an array holds no other nodes), in a Zarr v2 hierarchy (larder writes v3
    /// metadata, which would shadow the v2 files), or reached through a symbolic link inside the
    /// store.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `root` for the cases above; [`Error::Argument`] if the chunk
    /// and shard shapes do not fit; [`Error::Io`]/[`Error::Storage`] for write errors.
    pub fn create(
        root: impl AsRef<Path>,
        inner: Option<&str>,
        shape: &[usize],
        options: &ZarrOptions,
    ) -> Result<Self> {
        let root = root.as_ref();
        let node = node_path(inner);
        hierarchy::check_node_path(root, &node)?;
        if node == "/" && root.exists() {
            return Err(Error::invalid(root, "already exists; remove it or choose another path"));
        }
        check_new_node(root, &node)?;
        let builder = array_builder::<T>(root, shape, options)?;
        crate::fsutil::create_store_dir(root)?;
        let store = store_at(root)?;
        hierarchy::create_parent_groups(&*store, root, &node)?;
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
        serde_json::to_value(self.array.get().metadata()).unwrap_or(Value::Null)
    }
}

impl<T: Element> ZarrArray<T> {
    /// Checks the chunk file at `index` before zarrs reads it: the index of a shard (see
    /// `shard`), and that a file is not shorter than the checksum its codecs end with.
    fn check_shard(&self, index: &[usize]) -> Result<()> {
        if self.min_chunk_bytes > 0 {
            let file = self.chunk_file(index);
            if let Ok(meta) = std::fs::metadata(&file)
                && meta.len() < self.min_chunk_bytes
            {
                return Err(zerr(
                    &file,
                    format!(
                        "chunk file of {} bytes is shorter than its {}-byte crc32c checksum",
                        meta.len(),
                        self.min_chunk_bytes
                    ),
                ));
            }
        }
        match &self.shard_index {
            Some(layout) => layout.check(&self.chunk_file(index)),
            None => Ok(()),
        }
    }

    /// Runs a zarrs decode, turning a panic inside it into an error. The last line of
    /// defence only: what is known to panic there (shard indices) is checked beforehand.
    fn guarded<R, E: fmt::Display>(&self, f: impl FnOnce() -> Result<R, E>) -> Result<R> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(r) => r.map_err(|e| zerr(&self.path, e)),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(ToString::to_string)
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(zerr(&self.path, format!("malformed data stopped the decoder: {what}")))
            }
        }
    }

    /// The (clipped) chunk grid.
    fn grid(&self) -> ChunkGrid {
        ChunkGrid::new(&self.shape, &self.clipped)
    }

    /// Reads a region that spans several chunks one whole chunk at a time, copying each
    /// decoded chunk straight into the output. The decode buffers are chunk-sized and reused, so
    /// only the output's pages are fresh (zarrs' own multi-chunk read fills a region-sized byte
    /// buffer that would then be copied again).
    fn read_chunkwise(
        &self,
        grid: &ChunkGrid,
        touched: &[Vec<usize>],
        region: &Region,
    ) -> Result<ArrayD<T>> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let shape = region.shape();
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
                let (in_chunk, in_out) = grid.region(index).overlap(region);
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
    /// A chunk declared larger than the array is decoded only over the array (its clipped
    /// shape), so the bytes decoded never exceed what the array holds.
    fn decode_chunk(&self, index: &[usize]) -> Result<(Vec<usize>, Cow<'static, [u8]>)> {
        if let Some(how) = self.bounded {
            let expected = crate::limits::byte_size(&self.chunks, self.dtype.itemsize())
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| zerr(&self.path, format!("chunk {index:?} is too large")))?;
            if let Some(mut raw) = bounded::decode(&self.chunk_file(index), how, expected)? {
                if !self.dtype.is_native() {
                    raw.chunks_exact_mut(T::TYPE.swap_unit()).for_each(<[u8]>::reverse);
                }
                return Ok((self.chunks.clone(), Cow::Owned(raw)));
            }
        }
        self.check_shard(index)?;
        let index64 = u64s(index);
        let stored: Vec<usize> = self
            .array
            .get()
            .chunk_shape(&index64)
            .map_err(|e| zerr(&self.path, e))?
            .iter()
            .map(|n| usize::try_from(n.get()).unwrap_or(usize::MAX))
            .collect();
        if stored.iter().zip(&self.shape).all(|(&c, &n)| c <= n) {
            let bytes: ArrayBytes<'static> =
                self.guarded(|| self.array.for_read().retrieve_chunk(&index64))?;
            let raw = bytes.into_fixed().map_err(|e| zerr(&self.path, e))?;
            return Ok((stored, raw));
        }
        let clipped = self.grid().region(index);
        let subset = ArraySubset::new_with_shape(u64s(clipped.shape()));
        let bytes: ArrayBytes<'static> =
            self.guarded(|| self.array.for_read().retrieve_chunk_subset(&index64, &subset))?;
        let stored = clipped.shape().to_vec();
        let raw = bytes.into_fixed().map_err(|e| zerr(&self.path, e))?;
        Ok((stored, raw))
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
        let key = self.array.get().chunk_key(&u64s(index));
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
        region: &Region,
    ) -> Result<ArrayD<T>> {
        let (start, shape) = (region.start(), region.shape());
        let chunk_region = grid.region(index);
        let origin = chunk_region.start();
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
            let (in_chunk, _) = Region::new(origin, &stored)?.overlap(region);
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
        region: &Region,
    ) -> Result<ArrayD<T>> {
        use rayon::prelude::*;
        let (start, shape) = (region.start(), region.shape());
        let size = std::mem::size_of::<T>();
        let stored = &self.chunks;
        let chunk_elems: usize = stored.iter().product();
        let row: usize = shape[1..].iter().product();
        let rows_whole = (1..shape.len()).all(|k| stored[k] == shape[k]);
        let mut direct = Vec::new();
        let mut edges = Vec::new();
        for index in touched {
            let chunk_region = grid.region(index);
            let (origin, clipped) = (chunk_region.start(), chunk_region.shape());
            let inside = clipped == stored.as_slice()
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
                let (in_chunk, in_out) = grid.region(index).overlap(region);
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

/// The grid a new array is stored in: its shards when sharded (each a multiple of the chunk
/// shape), else its chunks.
///
/// Returns the chunk shape and the grid's block shape, both clipped to the array (a shard to
/// the smallest multiple of the chunk that covers it), so no chunk is larger than the array.
fn storage_grid(
    shape: &[usize],
    chunks: &[usize],
    shard: Option<&[usize]>,
) -> Result<(Vec<usize>, Vec<usize>)> {
    check_chunks(shape, chunks, "chunk")?;
    let clipped = crate::limits::clip_chunk(chunks, shape);
    let Some(shard) = shard else { return Ok((clipped.clone(), clipped)) };
    check_chunks(shape, shard, "shard")?;
    if shard.iter().zip(chunks).any(|(&s, &c)| !s.is_multiple_of(c)) {
        return Err(Error::argument(format!(
            "shard shape {shard:?} is not a multiple of chunk shape {chunks:?}"
        )));
    }
    let shard = shard
        .iter()
        .zip(&clipped)
        .zip(shape)
        .map(|((&s, &c), &n)| s.min(n.div_ceil(c).max(1) * c))
        .collect();
    Ok((clipped, shard))
}

/// Brings the consolidated metadata of every group above `node` of the local hierarchy at
/// `root` up to date after the node was added (see `zarr/consolidated.rs`).
///
/// # Errors
/// [`Error::Io`] or [`Error::Storage`] naming the group's `zarr.json`.
pub(crate) fn refresh_consolidated(root: &Path, node: &str) -> Result<()> {
    consolidated::refresh(
        root,
        node,
        &mut |key| match std::fs::read(root.join(key)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(root.join(key), e)),
        },
        &mut |key, bytes| crate::fsutil::write_bytes_atomically(&root.join(key), &bytes).map(drop),
    )
}

/// [`refresh_consolidated`] for a hierarchy whose metadata documents are read and written
/// through `read` and `write` (an object-storage prefix); `label` names it in errors.
///
/// # Errors
/// What `read` and `write` return; [`Error::Storage`] for a document that is not JSON.
#[cfg(feature = "s3")]
pub(crate) fn refresh_consolidated_with(
    label: &Path,
    node: &str,
    read: &mut dyn FnMut(&str) -> Result<Option<Vec<u8>>>,
    write: &mut dyn FnMut(&str, Vec<u8>) -> Result<()>,
) -> Result<()> {
    consolidated::refresh(label, node, read, write)
}

/// The zarrs builder of a new array of `T` and `shape` laid out as `options` say (the same
/// metadata whatever the storage). `root` names the store in errors.
pub(crate) fn array_builder<T: Element>(
    root: &Path,
    shape: &[usize],
    options: &ZarrOptions,
) -> Result<ArrayBuilder> {
    let chunks =
        options.chunks.clone().unwrap_or_else(|| default_chunks(shape, std::mem::size_of::<T>()));
    let (chunks, grid) = storage_grid(shape, &chunks, options.shard.as_deref())?;
    for block in [&chunks, &grid] {
        crate::limits::check_chunk_bytes(block, std::mem::size_of::<T>())
            .map_err(|e| Error::invalid(root, e))?;
    }
    let (data_type, fill) = match options.time {
        // numpy's time types keep their 64-bit counts; unwritten chunks read as NaT. zarrs
        // holds a fill value as an element in memory (native order).
        Some(time) if T::TYPE == ElementType::I64 => {
            (time_type(time), bytemuck::bytes_of(&i64::MIN).to_vec())
        }
        _ => (data_type_of(T::TYPE), vec![0u8; std::mem::size_of::<T>()]),
    };
    let mut builder =
        ArrayBuilder::new(u64s(shape), u64s(&grid), data_type, zarrs::array::FillValue::new(fill));
    if options.shard.is_some() {
        builder.subchunk_shape(u64s(&chunks));
    }
    builder.bytes_to_bytes_codecs(compression(root, options.codec)?);
    builder.attributes(options.attributes.clone());
    if let Some(names) = &options.dimension_names {
        if names.len() != shape.len() {
            return Err(Error::invalid(
                root,
                format!("{} dimension names for an array of {} axes", names.len(), shape.len()),
            ));
        }
        builder.dimension_names(Some(names.iter().map(|n| Some(n.clone()))));
    }
    Ok(builder)
}

/// Refuses a new node at `node` (`/a/b`) in the store at `root` that would replace or hide
/// existing data (see [`ZarrArray::create`] and `hierarchy`), or that would be written through a
/// symbolic link, before anything is written.
fn check_new_node(root: &Path, node: &str) -> Result<()> {
    if !root.exists() || node == "/" {
        return Ok(());
    }
    let mut dir = root.to_path_buf();
    for part in node.trim_matches('/').split('/') {
        dir.push(part);
        refuse_link(root, &dir)?;
    }
    refuse_links_below(root, &dir)?;
    hierarchy::check_new_node(&*store_at(root)?, root, node)
}

fn refuse_link(root: &Path, path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::invalid(
            root,
            format!(
                "{} is a symbolic link inside the store; larder does not write through it",
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// Refuses any symbolic link under the existing directory `dir` of the store at `root`: chunk
/// files written there would land wherever it points.
fn refuse_links_below(root: &Path, dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let t = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if t.is_symlink() {
            refuse_link(root, &entry.path())?;
        } else if t.is_dir() {
            refuse_links_below(root, &entry.path())?;
        }
    }
    Ok(())
}

/// The bytes-to-bytes codecs of `codec`.
fn compression(
    root: &Path,
    codec: Codec,
) -> Result<Vec<Arc<dyn zarrs::array::codec::api::BytesToBytesCodecTraits>>> {
    Ok(match codec {
        Codec::Zstd(level) => vec![Arc::new(zarrs::array::codec::ZstdCodec::new(level, false))],
        Codec::Gzip(level) => {
            vec![Arc::new(zarrs::array::codec::GzipCodec::new(level).map_err(|e| zerr(root, e))?)]
        }
        Codec::None => Vec::new(),
    })
}

/// The bytes of the checksum a v3 codec chain ends with (`crc32c`: 4), or 0.
fn checksum_bytes(meta: &Value) -> u64 {
    // zarrs writes a codec without configuration as its bare name.
    fn named(c: &Value) -> Option<&str> {
        c.as_str().or_else(|| c.get("name").and_then(Value::as_str))
    }
    let codecs = meta.get("codecs").and_then(Value::as_array);
    let crc = codecs.is_some_and(|c| c.iter().any(|c| named(c) == Some("crc32c")));
    if crc { 4 } else { 0 }
}

/// True when the codecs of `meta` can decode part of a chunk without decoding all of it
/// (a v3 chain of `bytes` alone, or sharding, whose index locates the inner chunks).
fn decodes_in_part(meta: &Value) -> bool {
    let Some(codecs) = meta.get("codecs").and_then(Value::as_array) else { return false };
    let name = |c: &Value| c.get("name").and_then(Value::as_str).map(str::to_string);
    matches!(codecs.as_slice(), [c] if matches!(name(c).as_deref(), Some("bytes" | "sharding_indexed")))
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
        let array = self.array.get();
        let mut attrs = array.attributes().clone();
        // Provenance zarrs adds on its own; not the user's.
        attrs.remove("_zarrs");
        // CF time attributes read as the dtype are part of it, as for HDF5.
        let stored = describe(&self.path, &array)?.dtype;
        if stored.time() != self.dtype.time() {
            attrs.remove(cf_units());
            attrs.remove(cf_calendar());
        }
        Ok(attrs)
    }

    /// For a writable array: lets go of the lock zarrs' filesystem store keeps for every chunk
    /// key written (they would grow with the number of chunks). Call it with no write in flight,
    /// as `larder copy` does between batches. A read-only array does this on its own.
    fn release(&self) -> Result<()> {
        if self.writable {
            self.array.renew_now();
        }
        Ok(())
    }

    fn read_region(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        crate::dtype::cf::shift_epoch(self.read_stored(region)?, self.epoch_shift, &self.path)
    }
}

impl<T: Element> ZarrArray<T> {
    /// The values of `region` as stored (before any CF epoch shift).
    fn read_stored(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        region.check_inside(&self.shape)?;
        let (start, shape) = (region.start(), region.shape());
        if shape.contains(&0) {
            return Ok(CowArray::from(
                ArrayD::from_shape_vec(IxDyn(shape), Vec::new())
                    .map_err(|e| Error::internal(e.to_string()))?,
            ));
        }
        let grid = self.grid();
        let touched = grid.touching(region);
        if let Some(zstd) = self.plain {
            return match touched.as_slice() {
                [index] => self.read_in_chunk(&grid, index, zstd, region),
                _ => self.read_plain_chunks(&grid, &touched, zstd, region),
            }
            .map(CowArray::from);
        }
        if touched.len() > 1 || self.bounded.is_some() {
            return self.read_chunkwise(&grid, &touched, region).map(CowArray::from);
        }
        let ranges: Vec<std::ops::Range<u64>> =
            start.iter().zip(shape).map(|(&s, &n)| s as u64..(s + n) as u64).collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        for index in &touched {
            self.check_shard(index)?;
        }
        let bytes: ArrayBytes<'static> =
            self.guarded(|| self.array.for_read().retrieve_array_subset(&subset))?;
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

/// The CF attribute names of times (one home: `dtype::cf`).
fn cf_units() -> &'static str {
    crate::dtype::cf::UNITS
}

fn cf_calendar() -> &'static str {
    crate::dtype::cf::CALENDAR
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
        Region::inside(start, data.shape(), &self.shape)?;
        storage::store_subset(&*self.array.get(), &self.path, start, data)
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
    fn codec_levels_out_of_range_are_refused_when_parsed() {
        assert_eq!("zstd:22".parse::<Codec>().unwrap(), Codec::Zstd(22));
        assert_eq!("zstd:-5".parse::<Codec>().unwrap(), Codec::Zstd(-5));
        assert_eq!("gzip:0".parse::<Codec>().unwrap(), Codec::Gzip(0));
        for bad in ["zstd:99", "zstd:23", "zstd:0", "zstd:-131073", "gzip:10", "gzip:-1", "zstd:x"]
        {
            assert!(matches!(bad.parse::<Codec>(), Err(Error::Argument(_))), "{bad}");
        }
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
