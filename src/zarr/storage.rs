//! [`StorageArray`]: a Zarr v3 array on any zarrs storage handle (object storage, through
//! `zarrs_object_store`), for what is not a local directory.
//!
//! Unlike [`ZarrArray`](super::ZarrArray) it reads every chunk through zarrs and knows no
//! files. A new array writes nothing until [`StorageArray::commit`]: chunks go first and the
//! metadata last, so a reader never finds metadata that points at chunks not yet written.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};
use serde_json::Value;
use zarrs::array::{
    Array, ArrayBytes, ArrayMetadataOptions, ArrayShardedReadableExt, ArrayShardedReadableExtCache,
    ArraySubset,
};
use zarrs::storage::byte_range::ByteRange;
use zarrs::storage::{ReadableStorageTraits, ReadableWritableListableStorageTraits};

use super::meta::describe;
use super::{ZarrOptions, array_builder, bytes_to_vec, node_path, u64s, zerr};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::grid::{ChunkGrid, Region};
use crate::store::{ArrayRead, ArrayWrite, Attributes, Format};

/// The storage a [`StorageArray`] lives on: a zarrs handle that reads, writes and lists.
pub type Storage = Arc<dyn ReadableWritableListableStorageTraits>;

/// A typed Zarr array on a zarrs storage handle.
pub struct StorageArray<T: Element> {
    /// Names the store in errors (`s3://bucket/prefix`).
    label: PathBuf,
    array: Array<dyn ReadableWritableListableStorageTraits>,
    shape: Vec<usize>,
    chunks: Vec<usize>,
    inner_chunks: Option<Vec<usize>>,
    dtype: DType,
    writable: bool,
    /// Chunks a read of several chunks fetches at once.
    concurrency: usize,
    /// Added to every value read: a CF time whose epoch is not 1970's (see `dtype::cf`).
    epoch_shift: i64,
    /// For a sharded array, the index of each shard read so far (16 bytes per chunk inside
    /// it), so that reading a chunk again is one request.
    shard_indexes: Option<ArrayShardedReadableExtCache>,
    _t: PhantomData<T>,
}

impl<T: Element> std::fmt::Debug for StorageArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageArray")
            .field("label", &self.label)
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

/// The array's node: `inner`, or the root when the root is an array.
fn resolve(storage: &Storage, label: &Path, inner: Option<&str>) -> Result<String> {
    let node = node_path(inner);
    if inner.is_some() {
        return Ok(node);
    }
    match zarrs::node::Node::open(storage, "/") {
        Ok(n) if matches!(n.metadata(), zarrs::node::NodeMetadata::Array(_)) => Ok(node),
        Ok(_) => Err(Error::invalid(
            label,
            "is a Zarr group; name one of its arrays as LOCATION:/path/in/group",
        )),
        Err(e) => Err(zerr(label, e)),
    }
}

impl<T: Element> StorageArray<T> {
    /// Opens the array at `inner` (`None`: the root array) of the hierarchy on `storage`,
    /// read-only. `label` names the store in errors.
    ///
    /// # Errors
    /// [`Error::Storage`] naming `label` for missing or invalid metadata;
    /// [`Error::UnsupportedDType`]; [`Error::DTypeMismatch`] if it does not hold `T`.
    pub fn open(storage: Storage, inner: Option<&str>, label: &str) -> Result<Self> {
        let label = PathBuf::from(label);
        let node = resolve(&storage, &label, inner)?;
        let array = Array::open(storage, &node).map_err(|e| zerr(&label, e))?;
        Self::from_array(label, array, false)
    }

    /// The element type of the array at `inner` on `storage`.
    ///
    /// # Errors
    /// As [`open`](StorageArray::open).
    pub fn element_of(
        storage: &Storage,
        inner: Option<&str>,
        label: &str,
    ) -> Result<crate::dtype::ElementType> {
        let label = PathBuf::from(label);
        let node = resolve(storage, &label, inner)?;
        let array = Array::open(storage.clone(), &node).map_err(|e| zerr(&label, e))?;
        Ok(describe(&label, &array)?.dtype.element())
    }

    /// The Zarr format version and, for a sharded array, the inner chunk shape of the array at
    /// `inner` on `storage`.
    ///
    /// # Errors
    /// As [`open`](StorageArray::open).
    pub fn version_and_inner(
        storage: &Storage,
        inner: Option<&str>,
        label: &str,
    ) -> Result<(u8, Option<Vec<usize>>)> {
        let label = PathBuf::from(label);
        let node = resolve(storage, &label, inner)?;
        let array = Array::open(storage.clone(), &node).map_err(|e| zerr(&label, e))?;
        let d = describe(&label, &array)?;
        Ok((d.version, d.inner_chunks))
    }

    /// A new array of `shape` at `inner` on `storage`, laid out as `options` say. Nothing is
    /// written until chunks are stored; the metadata only by [`commit`](StorageArray::commit).
    ///
    /// # Errors
    /// [`Error::Argument`]/[`Error::Invalid`] when the chunk or shard shapes do not fit.
    pub fn create(
        storage: Storage,
        inner: Option<&str>,
        shape: &[usize],
        options: &ZarrOptions,
        label: &str,
    ) -> Result<Self> {
        let label = PathBuf::from(label);
        let node = node_path(inner);
        super::hierarchy::check_node_path(&label, &node)?;
        let builder = array_builder::<T>(&label, shape, options)?;
        let array = builder.build(storage, &node).map_err(|e| zerr(&label, e))?;
        Self::from_array(label, array, true)
    }

    fn from_array(
        label: PathBuf,
        array: Array<dyn ReadableWritableListableStorageTraits>,
        writable: bool,
    ) -> Result<Self> {
        let mut d = describe(&label, &array)?;
        // CF-encoded times read as numpy's time types, as from a local store.
        let text = |k: &str| array.attributes().get(k).and_then(Value::as_str);
        let epoch_shift;
        (d.dtype, epoch_shift) = crate::dtype::cf::decoded(
            d.dtype,
            text(crate::dtype::cf::UNITS),
            text(crate::dtype::cf::CALENDAR),
        );
        if d.dtype.element() != T::TYPE {
            return Err(Error::DTypeMismatch {
                path: label,
                expected: DType::of::<T>().typestr(),
                found: d.dtype.typestr(),
            });
        }
        crate::limits::check_ndim(array.shape().len()).map_err(|e| zerr(&label, e))?;
        crate::limits::element_count(array.shape()).map_err(|e| zerr(&label, e))?;
        let shape = array
            .shape()
            .iter()
            .map(|&n| usize::try_from(n).map_err(|_| zerr(&label, "shape does not fit in memory")))
            .collect::<Result<Vec<_>>>()?;
        let declared = if d.chunks.len() == shape.len() { d.chunks } else { shape.clone() };
        let chunks = crate::limits::clip_chunk(&declared, &shape);
        crate::limits::check_chunk_bytes(&chunks, d.dtype.itemsize())
            .map_err(|e| zerr(&label, e))?;
        let shard_indexes = d
            .inner_chunks
            .as_ref()
            .map(|_| ArrayShardedReadableExtCache::new(&array))
            .filter(ArrayShardedReadableExtCache::array_is_exclusively_sharded);
        Ok(StorageArray {
            label,
            array,
            shape,
            chunks,
            inner_chunks: d.inner_chunks,
            dtype: d.dtype,
            writable,
            concurrency: 1,
            epoch_shift,
            shard_indexes,
            _t: PhantomData,
        })
    }

    /// Reads that span several chunks fetch and decode up to `n` of them at once, each on a
    /// thread of its own (default 1: zarrs' own parallelism). For storage whose requests wait
    /// on a network, more requests in flight hide the latency.
    pub fn concurrency(&mut self, n: usize) -> &mut Self {
        self.concurrency = n.max(1);
        self
    }

    /// The chunk grid (shards, when sharded).
    pub fn grid(&self) -> ChunkGrid {
        ChunkGrid::new(&self.shape, &self.chunks)
    }

    /// The storage key of the chunk (or shard) at grid `index`, relative to the store's root.
    pub fn chunk_key(&self, index: &[usize]) -> String {
        self.array.chunk_key(&u64s(index)).as_str().to_string()
    }

    /// The key of the array's metadata (`zarr.json` for a root array).
    pub fn metadata_key(&self) -> String {
        let node = self.array.path().as_str().trim_matches('/');
        if node.is_empty() { "zarr.json".to_string() } else { format!("{node}/zarr.json") }
    }

    /// With sharding, the shape of the chunks inside each shard.
    pub fn inner_chunk_shape(&self) -> Option<&[usize]> {
        self.inner_chunks.as_deref()
    }

    /// The Zarr metadata as JSON, as [`commit`](StorageArray::commit) writes it.
    pub fn metadata_json(&self) -> Value {
        serde_json::to_value(self.array.metadata_opt(&Self::meta_options())).unwrap_or(Value::Null)
    }

    fn meta_options() -> ArrayMetadataOptions {
        ArrayMetadataOptions::default().with_include_zarrs_metadata(false)
    }

    /// Refuses to write the new array when it would replace or reinterpret a node the storage
    /// holds (the rules of `zarr::hierarchy`, the same as for a local store): call before
    /// storing anything.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the store for each rule broken; [`Error::Storage`] when the
    /// storage cannot be read.
    pub fn check_new(&self) -> Result<()> {
        let storage = self.array.storage();
        super::hierarchy::check_new_node(&*storage, &self.label, self.array.path().as_str())
    }

    /// Writes the metadata (and that of any missing parent group, never over a node): the last
    /// step of writing a new array, after its chunks.
    ///
    /// # Errors
    /// [`Error::ReadOnly`]; [`Error::Storage`] naming the store when the write fails.
    pub fn commit(&self) -> Result<()> {
        if !self.writable {
            return Err(Error::ReadOnly { path: self.label.clone(), mode: "r" });
        }
        let storage = self.array.storage();
        super::hierarchy::create_parent_groups(&*storage, &self.label, self.array.path().as_str())?;
        self.array.store_metadata_opt(&Self::meta_options()).map_err(|e| zerr(&self.label, e))
    }

    /// Encodes and stores `data` at `start`, through a shared reference so that several threads
    /// can store disjoint chunks at once. Blocks should cover whole chunks.
    ///
    /// # Errors
    /// [`Error::ReadOnly`]; [`Error::Argument`] for a box outside the array; [`Error::Storage`]
    /// naming the store for encoding or write errors (after the storage's own retries).
    pub fn store_block(&self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        if !self.writable {
            return Err(Error::ReadOnly { path: self.label.clone(), mode: "r" });
        }
        Region::inside(start, data.shape(), &self.shape)?;
        store_subset(&self.array, &self.label, start, data)
    }

    /// Encodes the chunk (or shard) at grid `index` from `data`, its whole region (clipped at
    /// the array's edge; the rest of an edge chunk is fill value): the CPU-bound half of
    /// [`store_block`](StorageArray::store_block), so that a writer can encode on a few threads
    /// and store on many. `None` for a chunk of fill value only, which is not stored.
    ///
    /// # Errors
    /// [`Error::ReadOnly`]; [`Error::Argument`] when `data` is not the chunk's region;
    /// [`Error::Storage`] naming the store for encoding errors.
    pub fn encode_chunk(
        &self,
        index: &[usize],
        data: &ArrayViewD<'_, T>,
    ) -> Result<Option<zarrs::storage::Bytes>> {
        use zarrs::array::ArrayToBytesCodecTraits;
        if !self.writable {
            return Err(Error::ReadOnly { path: self.label.clone(), mode: "r" });
        }
        let region = self.grid().region(index);
        if data.shape() != region.shape() {
            return Err(Error::argument(format!(
                "a block of shape {:?} is not chunk {index:?} of shape {:?}",
                data.shape(),
                region.shape()
            )));
        }
        let index64 = u64s(index);
        let shape = self.array.chunk_shape(&index64).map_err(|e| zerr(&self.label, e))?;
        let full: Vec<usize> =
            shape.iter().map(|n| usize::try_from(n.get()).unwrap_or(usize::MAX)).collect();
        let padded;
        let data = if full == data.shape() {
            data.as_standard_layout()
        } else {
            let fill_value = bytemuck::checked::try_pod_read_unaligned::<T>(
                self.array.fill_value().as_ne_bytes(),
            )
            .map_err(|e| zerr(&self.label, format!("fill value: {e}")))?;
            let mut whole = ArrayD::<T>::from_elem(IxDyn(&full), fill_value);
            let inside: Vec<ndarray::SliceInfoElem> =
                data.shape().iter().map(|&n| ndarray::SliceInfoElem::from(0..n)).collect();
            whole.slice_mut(inside.as_slice()).assign(data);
            padded = whole;
            CowArray::from(padded.view())
        };
        let values = data
            .as_slice()
            .ok_or_else(|| Error::internal("standard-layout data is not contiguous"))?;
        let bytes = ArrayBytes::new_flen(Cow::Borrowed(bytemuck::cast_slice::<T, u8>(values)));
        if bytes.is_fill_value(self.array.fill_value()) {
            return Ok(None);
        }
        let encoded = self
            .array
            .codecs()
            .encode(
                bytes,
                &shape,
                self.array.data_type(),
                self.array.fill_value(),
                &zarrs::array::CodecOptions::default(),
            )
            .map_err(|e| zerr(&self.label, e))?;
        Ok(Some(zarrs::storage::Bytes::from(encoded.into_owned())))
    }

    /// Stores the chunk at grid `index` as [`encode_chunk`](StorageArray::encode_chunk) encoded
    /// it (`None`: removes any stored chunk there, as for a chunk of fill value).
    ///
    /// # Errors
    /// [`Error::ReadOnly`]; [`Error::Storage`] naming the store when the write fails (after the
    /// storage's own retries).
    pub fn store_encoded(
        &self,
        index: &[usize],
        encoded: Option<zarrs::storage::Bytes>,
    ) -> Result<()> {
        use zarrs::storage::WritableStorageTraits;
        if !self.writable {
            return Err(Error::ReadOnly { path: self.label.clone(), mode: "r" });
        }
        let key = self.array.chunk_key(&u64s(index));
        let storage = self.array.storage();
        match encoded {
            Some(bytes) => storage.set(&key, bytes),
            None => storage.erase(&key),
        }
        .map_err(|e| zerr(&self.label, e))
    }
}

impl<T: Element> ArrayRead<T> for StorageArray<T> {
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
        attrs.remove("_zarrs");
        // CF time attributes read as the dtype are part of it.
        if describe(&self.label, &self.array)?.dtype.time() != self.dtype.time() {
            attrs.remove(crate::dtype::cf::UNITS);
            attrs.remove(crate::dtype::cf::CALENDAR);
        }
        Ok(attrs)
    }
    fn read_region(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        crate::dtype::cf::shift_epoch(self.read_stored(region)?, self.epoch_shift, &self.label)
    }
}

impl<T: Element> StorageArray<T> {
    /// The values of `region` as stored (before any CF epoch shift).
    fn read_stored(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        region.check_inside(&self.shape)?;
        let shape = region.shape();
        let len: usize = shape.iter().product();
        if len == 0 {
            let empty = ArrayD::from_shape_vec(IxDyn(shape), Vec::new())
                .map_err(|e| Error::internal(e.to_string()))?;
            return Ok(CowArray::from(empty));
        }
        let touched = self.grid().touching(region);
        if self.concurrency > 1 && touched.len() > 1 {
            return self.read_chunkwise(region, &touched).map(CowArray::from);
        }
        self.read_subset(region.start(), shape).map(CowArray::from)
    }
}

impl<T: Element> StorageArray<T> {
    /// The box (`start`, `shape`) read through zarrs.
    fn read_subset(&self, start: &[usize], shape: &[usize]) -> Result<ArrayD<T>> {
        let ranges: Vec<std::ops::Range<u64>> =
            start.iter().zip(shape).map(|(&s, &n)| s as u64..(s + n) as u64).collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        let bytes: ArrayBytes<'static> = match &self.shard_indexes {
            Some(indexes) => {
                self.read_ahead(indexes, start, shape)?;
                self.array.retrieve_array_subset_sharded_opt(
                    indexes,
                    &subset,
                    &zarrs::array::CodecOptions::default(),
                )
            }
            None => self.array.retrieve_array_subset(&subset),
        }
        .map_err(|e| zerr(&self.label, e))?;
        let raw = bytes.into_fixed().map_err(|e| zerr(&self.label, e))?;
        let values = bytes_to_vec::<T>(&self.label, &raw)?;
        ArrayD::from_shape_vec(IxDyn(shape), values)
            .map_err(|e| zerr(&self.label, format!("a region decoded to the wrong size: {e}")))
    }

    /// Asks the storage, in one call per shard, for every chunk of the box (`start`, `shape`)
    /// in a shard that holds more than one of them: object storage fetches neighbouring ones
    /// in one request and holds them until zarrs asks for each (`remote::zarr_store`).
    fn read_ahead(
        &self,
        indexes: &ArrayShardedReadableExtCache,
        start: &[usize],
        shape: &[usize],
    ) -> Result<()> {
        let Some(inner) = &self.inner_chunks else { return Ok(()) };
        let region = Region::new(start, shape)?;
        let mut by_shard: std::collections::BTreeMap<Vec<usize>, Vec<ByteRange>> =
            std::collections::BTreeMap::new();
        for index in ChunkGrid::new(&self.shape, inner).touching(&region) {
            let shard: Vec<usize> =
                index.iter().zip(inner).zip(&self.chunks).map(|((&i, &n), &s)| i * n / s).collect();
            let range = self
                .array
                .subchunk_byte_range(indexes, &u64s(&index))
                .map_err(|e| zerr(&self.label, e))?;
            if let Some(range) = range {
                by_shard.entry(shard).or_default().push(range);
            }
        }
        let storage = self.array.storage();
        for (shard, ranges) in by_shard.into_iter().filter(|(_, r)| r.len() > 1) {
            let key = self.array.chunk_key(&u64s(&shard));
            let fetched = storage
                .get_partial_many(&key, Box::new(ranges.into_iter()))
                .map_err(|e| zerr(&self.label, e))?;
            if let Some(parts) = fetched {
                for part in parts {
                    part.map_err(|e| zerr(&self.label, e))?;
                }
            }
        }
        Ok(())
    }

    /// A region over several chunks: worker threads read the part of each chunk inside it,
    /// [`concurrency`](StorageArray::concurrency) at once, and this thread copies each into
    /// place. A bounded channel keeps a few parts in flight.
    fn read_chunkwise(&self, region: &Region, touched: &[Vec<usize>]) -> Result<ArrayD<T>> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let grid = self.grid();
        let mut out = ArrayD::<T>::from_elem(IxDyn(region.shape()), T::default());
        let workers = self.concurrency.min(touched.len());
        let next = AtomicUsize::new(0);
        // The part of chunk `index` inside the region: its start and shape in the array.
        let part = |index: &[usize]| -> (Vec<usize>, Vec<usize>) {
            let c = grid.region(index);
            let lo: Vec<usize> =
                c.start().iter().zip(region.start()).map(|(&a, &b)| a.max(b)).collect();
            let hi: Vec<usize> = (0..lo.len())
                .map(|k| (c.start()[k] + c.shape()[k]).min(region.start()[k] + region.shape()[k]))
                .collect();
            let shape = lo.iter().zip(&hi).map(|(&l, &h)| h.saturating_sub(l)).collect();
            (lo, shape)
        };
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(workers);
            for _ in 0..workers {
                let (tx, next, part) = (tx.clone(), &next, &part);
                scope.spawn(move || {
                    while let Some(index) = touched.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (lo, shape) = part(index);
                        if tx.send((lo.clone(), self.read_subset(&lo, &shape))).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            for (lo, values) in rx {
                let values = values?;
                let at = region.start();
                let mut dst = out.slice_each_axis_mut(|ax| {
                    let k = ax.axis.index();
                    let s = lo[k] - at[k];
                    ndarray::Slice::from(s..s + values.shape()[k])
                });
                dst.assign(&values);
            }
            Ok::<(), Error>(())
        })?;
        Ok(out)
    }
}

impl<T: Element> ArrayWrite<T> for StorageArray<T> {
    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        self.store_block(start, data)
    }
}

/// Encodes and stores `data` at `start` of `array` (`label` names it in errors): the one way
/// larder writes a box of a Zarr array, whatever its storage.
pub(super) fn store_subset<T: Element, S>(
    array: &Array<S>,
    label: &Path,
    start: &[usize],
    data: &ArrayViewD<'_, T>,
) -> Result<()>
where
    S: ?Sized + zarrs::storage::ReadableWritableStorageTraits + 'static,
{
    if data.is_empty() {
        return Ok(());
    }
    let data = data.as_standard_layout();
    let values =
        data.as_slice().ok_or_else(|| Error::internal("standard-layout data is not contiguous"))?;
    let bytes: &[u8] = bytemuck::cast_slice(values);
    let ranges: Vec<std::ops::Range<u64>> =
        start.iter().zip(data.shape()).map(|(&s, &n)| s as u64..(s + n) as u64).collect();
    let subset = ArraySubset::new_with_ranges(&ranges);
    array
        .store_array_subset(&subset, ArrayBytes::new_flen(Cow::Borrowed(bytes)))
        .map_err(|e| zerr(label, e))
}
