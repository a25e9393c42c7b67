//! Zarr v3 groups of 1-d arrays that share one axis, written and read over any zarrs storage
//! handle (a local directory today; any store implementing zarrs' storage traits, such as an
//! object store, plugs in the same way).
//!
//! [`GroupWriter`] stores chunks first and all metadata last: the arrays' `zarr.json`, then
//! every intermediate group's, then the group's own with the consolidated metadata of every
//! node below it. A copy that stops half-way leaves chunks that no metadata points at, never
//! metadata that points at chunks that were not written. [`GroupReader`] opens such a group
//! (or any Zarr v3 group) and hands out its arrays' chunks one at a time, so memory stays at a
//! chunk whatever the arrays' lengths.
//!
//! This module knows nothing of datasets; `ops::group` maps a dataset onto it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use zarrs::array::{Array, ArrayBuilder, ArrayBytes, ArrayMetadataOptions};
use zarrs::group::{Group, GroupBuilder};
use zarrs::storage::{
    ReadableListableStorageTraits, ReadableWritableListableStorage, StorageHandle,
};

use super::meta::{data_type_of, describe};
use super::{compression, store_at, zerr};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::store::Attributes;
use crate::zarr::Codec;

/// A zarrs storage handle that can be read, written and listed: what a group is written to.
pub type Storage = ReadableWritableListableStorage;

/// A zarrs storage handle that can be read and listed: what a group is read from.
pub type ReadStorage = Arc<dyn ReadableListableStorageTraits>;

/// The element type of an array in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupType {
    /// Fixed-size elements (numbers, booleans, numpy times), native byte order in memory.
    Fixed(DType),
    /// UTF-8 strings: Zarr v3's `string` data type, stored with the `vlen-utf8` codec.
    String,
}

/// How one array of a group is laid out.
#[derive(Clone, Debug)]
pub struct GroupArraySpec {
    /// Its path inside the group: a name, or `sub/name` for an array in a subgroup.
    pub name: String,
    /// Its element type.
    pub dtype: GroupType,
    /// Its length.
    pub len: u64,
    /// Elements per chunk (with sharding: per inner chunk).
    pub chunk: u64,
    /// Elements per shard, a multiple of `chunk`; `None` for no sharding.
    pub shard: Option<u64>,
    /// The compression.
    pub codec: Codec,
    /// The fill value: native-order element bytes (ignored for strings, whose fill is `""`).
    pub fill: Vec<u8>,
    /// The array's attributes.
    pub attributes: Attributes,
    /// The name of its one dimension (`dimension_names`).
    pub dimension: String,
}

impl GroupArraySpec {
    /// Elements per stored unit: the shard when sharded, else the chunk.
    pub fn grid(&self) -> u64 {
        self.shard.unwrap_or(self.chunk)
    }

    /// Number of stored units (chunks, or shards) along the array.
    pub fn units(&self) -> u64 {
        self.len.div_ceil(self.grid().max(1))
    }
}

/// The storage of a local directory, created if missing (its parent must exist).
///
/// # Errors
/// [`Error::Io`] if the directory cannot be made; [`Error::Storage`] if it cannot be opened.
pub fn local_storage(dir: impl AsRef<Path>) -> Result<Storage> {
    let dir = dir.as_ref();
    crate::fsutil::create_store_dir(dir)?;
    Ok(store_at(dir)?)
}

/// The storage of an existing local directory, for reading.
///
/// # Errors
/// [`Error::Storage`] if it cannot be opened.
pub fn local_read_storage(dir: impl AsRef<Path>) -> Result<ReadStorage> {
    let dir = dir.as_ref();
    Ok(store_at(dir)?)
}

/// The node path of `name` under the group at `node` (`/` for the root).
fn child_path(node: &str, name: &str) -> String {
    if node == "/" { format!("/{name}") } else { format!("{node}/{name}") }
}

/// `node` (`/`, `/a/b`), normalised.
fn node_of(node: &str) -> String {
    let t = node.trim_matches('/');
    if t.is_empty() { "/".to_string() } else { format!("/{t}") }
}

/// Writes a new group of 1-d arrays: chunks first, metadata last (see the module docs).
pub struct GroupWriter {
    storage: Storage,
    node: String,
    label: PathBuf,
    arrays: Vec<(GroupArraySpec, Array<dyn zarrs::storage::ReadableWritableListableStorageTraits>)>,
    /// Keys of units already stored (by an interrupted copy being resumed): not stored again.
    stored: std::collections::HashSet<String>,
}

impl std::fmt::Debug for GroupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter")
            .field("label", &self.label)
            .field("node", &self.node)
            .field("arrays", &self.arrays.len())
            .finish_non_exhaustive()
    }
}

impl GroupWriter {
    /// Starts a group at `node` (`/`: the store's root) of `storage`; `label` names the
    /// location in errors (a path or a URL). Nothing is written yet.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the group would replace or hide a node the store holds (at
    /// `node`, below it, or an array above it: the rules of `zarr::hierarchy`);
    /// [`Error::Storage`] when the store cannot be read.
    pub fn new(storage: Storage, node: &str, label: impl Into<PathBuf>) -> Result<GroupWriter> {
        let label = label.into();
        let node = node_of(node);
        super::hierarchy::check_new_node(&*storage, &label, &node)?;
        Ok(GroupWriter {
            storage,
            node,
            label,
            arrays: Vec::new(),
            stored: std::collections::HashSet::new(),
        })
    }

    /// The location errors name.
    pub fn label(&self) -> &Path {
        &self.label
    }

    /// The number of arrays added.
    pub fn arrays_len(&self) -> usize {
        self.arrays.len()
    }

    /// Refuses `name` for an array of this group unless it is a valid node name: so a dataset
    /// can check every name before it stores anything.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the location and the path.
    pub fn check_name(&self, name: &str) -> Result<()> {
        super::hierarchy::check_node_path(&self.label, &child_path(&self.node, name))
    }

    /// Units whose storage keys are in `keys` (what an interrupted copy being resumed stored:
    /// an object is there whole or not at all) are taken as stored and not written again.
    pub fn skip_stored(&mut self, keys: std::collections::HashSet<String>) {
        self.stored = keys;
    }

    fn is_stored(
        &self,
        array: &Array<dyn zarrs::storage::ReadableWritableListableStorageTraits>,
        index: u64,
    ) -> bool {
        !self.stored.is_empty() && self.stored.contains(array.chunk_key(&[index]).as_str())
    }

    /// Adds an array; returns its id for [`GroupWriter::store_fixed`] and
    /// [`GroupWriter::store_strings`]. Nothing is written yet.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a chunk or shard length that does not fit, a name that is not a
    /// valid node name, or a chunk larger than the limits allow.
    pub fn add_array(&mut self, spec: GroupArraySpec) -> Result<usize> {
        let bad = |reason: String| Error::invalid(&self.label, format!("{}: {reason}", spec.name));
        super::hierarchy::check_node_path(&self.label, &child_path(&self.node, &spec.name))?;
        if let Some((other, _)) = self.arrays.iter().find(|(o, _)| nested(&o.name, &spec.name)) {
            return Err(bad(format!(
                "collides with the array {}: an array holds no other nodes",
                other.name
            )));
        }
        if spec.chunk == 0 || spec.shard.is_some_and(|s| s == 0 || !s.is_multiple_of(spec.chunk)) {
            return Err(bad(match spec.shard {
                _ if spec.chunk == 0 => "chunks of 0 elements: a chunk holds at least one".into(),
                Some(shard) => format!(
                    "a shard of {shard} elements is not a whole number of chunks of {}",
                    spec.chunk
                ),
                None => format!("chunks of {} elements do not fit", spec.chunk),
            }));
        }
        let itemsize = match spec.dtype {
            GroupType::Fixed(d) => d.itemsize(),
            GroupType::String => 1,
        };
        let grid = usize::try_from(spec.grid()).map_err(|_| bad("chunk too long".into()))?;
        crate::limits::check_chunk_bytes(&[grid], itemsize).map_err(bad)?;
        let (data_type, fill) = match spec.dtype {
            GroupType::Fixed(d) => {
                let dt = match d.time() {
                    Some(t) => super::meta::time_type(t),
                    None => data_type_of(d.element()),
                };
                if spec.fill.len() != d.itemsize() {
                    return Err(Error::internal("fill value of the wrong size"));
                }
                (dt, zarrs::array::FillValue::new(spec.fill.clone()))
            }
            GroupType::String => {
                (zarrs::array::data_type::string(), zarrs::array::FillValue::new(Vec::new()))
            }
        };
        let mut builder = ArrayBuilder::new(vec![spec.len], vec![spec.grid()], data_type, fill);
        if spec.shard.is_some() {
            builder.subchunk_shape(vec![spec.chunk]);
        }
        builder.bytes_to_bytes_codecs(compression(&self.label, spec.codec)?);
        builder.attributes(spec.attributes.clone());
        builder.dimension_names(Some([Some(spec.dimension.clone())]));
        let path = child_path(&self.node, &spec.name);
        let array = builder.build(self.storage.clone(), &path).map_err(|e| bad(e.to_string()))?;
        self.arrays.push((spec, array));
        Ok(self.arrays.len() - 1)
    }

    /// Stores unit `index` (a chunk, or a shard) of fixed-size array `id`: `bytes` holds its
    /// elements in native order, as many as the unit covers inside the array (fewer for the
    /// last); the rest of the unit is filled with the fill value.
    ///
    /// # Errors
    /// [`Error::Internal`] for a wrong length; [`Error::Storage`] for a write that fails.
    pub fn store_fixed(&self, id: usize, index: u64, bytes: &[u8]) -> Result<()> {
        let (spec, array) = self.array(id)?;
        if self.is_stored(array, index) {
            return Ok(());
        }
        let GroupType::Fixed(d) = spec.dtype else {
            return Err(Error::internal("fixed-size chunk for a string array"));
        };
        let rows = unit_rows(spec, index);
        if bytes.len() as u64 != rows * d.itemsize() as u64 {
            return Err(Error::internal("chunk bytes do not match its rows"));
        }
        let full = usize::try_from(spec.grid()).map_err(|_| Error::internal("chunk size"))?;
        let data = if rows == spec.grid() {
            ArrayBytes::new_flen(bytes)
        } else {
            let mut padded = Vec::with_capacity(full * d.itemsize());
            padded.extend_from_slice(bytes);
            while padded.len() < full * d.itemsize() {
                padded.extend_from_slice(&spec.fill);
            }
            ArrayBytes::new_flen(padded)
        };
        array.store_chunk(&[index], data).map_err(|e| self.chunk_error(spec, index, &e))
    }

    /// Stores unit `index` of string array `id`: `bytes` the strings' UTF-8 one after another,
    /// `offsets` where each starts and ends (one more than the strings, the first 0). A last
    /// unit that sticks out of the array is padded with empty strings.
    ///
    /// # Errors
    /// As [`GroupWriter::store_fixed`].
    pub fn store_strings(
        &self,
        id: usize,
        index: u64,
        bytes: &[u8],
        offsets: &[usize],
    ) -> Result<()> {
        let (spec, array) = self.array(id)?;
        if self.is_stored(array, index) {
            return Ok(());
        }
        if spec.dtype != GroupType::String || offsets.len() as u64 != unit_rows(spec, index) + 1 {
            return Err(Error::internal("string chunk does not match its array"));
        }
        let full = usize::try_from(spec.grid()).map_err(|_| Error::internal("chunk size"))?;
        let mut offsets = offsets.to_vec();
        let last = offsets.last().copied().unwrap_or(0);
        offsets.resize(full + 1, last);
        let offsets = zarrs::array::ArrayBytesOffsets::new(offsets)
            .map_err(|e| Error::internal(format!("string offsets: {e}")))?;
        let data = ArrayBytes::new_vlen(bytes, offsets)
            .map_err(|e| Error::internal(format!("string offsets: {e}")))?;
        array.store_chunk(&[index], data).map_err(|e| self.chunk_error(spec, index, &e))
    }

    fn array(
        &self,
        id: usize,
    ) -> Result<&(GroupArraySpec, Array<dyn zarrs::storage::ReadableWritableListableStorageTraits>)>
    {
        self.arrays.get(id).ok_or_else(|| Error::internal("no such array in the group"))
    }

    fn chunk_error(&self, spec: &GroupArraySpec, index: u64, e: &impl std::fmt::Display) -> Error {
        zerr(&self.label, format!("{}: chunk {index}: {e}", spec.name))
    }

    /// Writes the metadata: every array's, then every intermediate group's, then the group's
    /// own with `attributes` and the consolidated metadata of everything below it.
    ///
    /// # Errors
    /// [`Error::Storage`] for a write that fails.
    pub fn finish(self, attributes: Attributes) -> Result<()> {
        let options = ArrayMetadataOptions::default().with_include_zarrs_metadata(false);
        let mut consolidated =
            zarrs::metadata_ext::group::consolidated_metadata::ConsolidatedMetadata::default();
        let mut subgroups: Vec<String> = Vec::new();
        for (spec, array) in &self.arrays {
            array.store_metadata_opt(&options).map_err(|e| zerr(&self.label, e))?;
            consolidated.metadata.insert(
                spec.name.clone(),
                zarrs::metadata::NodeMetadata::Array(array.metadata_opt(&options)),
            );
            let mut parts: Vec<&str> = spec.name.split('/').collect();
            parts.pop();
            for i in 1..=parts.len() {
                let sub = parts[..i].join("/");
                if !subgroups.contains(&sub) {
                    subgroups.push(sub);
                }
            }
        }
        for sub in &subgroups {
            let g = GroupBuilder::new()
                .build(self.storage.clone(), &child_path(&self.node, sub))
                .map_err(|e| zerr(&self.label, e))?;
            g.store_metadata().map_err(|e| zerr(&self.label, e))?;
            consolidated
                .metadata
                .insert(sub.clone(), zarrs::metadata::NodeMetadata::Group(g.metadata().clone()));
        }
        let mut group = GroupBuilder::new()
            .attributes(attributes)
            .build(self.storage.clone(), &self.node)
            .map_err(|e| zerr(&self.label, e))?;
        group.set_consolidated_metadata(Some(consolidated));
        group.store_metadata().map_err(|e| zerr(&self.label, e))
    }
}

/// True when arrays named `a` and `b` in one group cannot both exist: the same name, or one
/// inside the other (`x` and `x/y`).
fn nested(a: &str, b: &str) -> bool {
    let inside = |outer: &str, inner: &str| {
        inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with('/'))
    };
    a == b || inside(a, b) || inside(b, a)
}

/// Elements of unit `index` that lie inside the array.
fn unit_rows(spec: &GroupArraySpec, index: u64) -> u64 {
    let start = index.saturating_mul(spec.grid());
    spec.grid().min(spec.len.saturating_sub(start))
}

/// One array of a group being read.
#[derive(Clone, Debug)]
pub struct GroupArrayInfo {
    /// Its name in the group.
    pub name: String,
    /// Its element type.
    pub dtype: GroupType,
    /// Its shape.
    pub shape: Vec<u64>,
    /// Elements per stored unit along the first axis (the shard, when sharded).
    pub grid: u64,
    /// Its `dimension_names`, where it has them.
    pub dimension_names: Option<Vec<Option<String>>>,
    /// Its attributes.
    pub attributes: Attributes,
}

impl GroupArrayInfo {
    /// Number of stored units along the first axis of a 1-d array.
    pub fn units(&self) -> u64 {
        self.shape.first().map_or(0, |&n| n.div_ceil(self.grid.max(1)))
    }
}

/// A chunk read from a group: fixed-size elements or strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkData {
    /// Native-order element bytes.
    Fixed(Vec<u8>),
    /// UTF-8 bytes and one more offset than there are strings, the first 0.
    Strings(Vec<u8>, Vec<usize>),
}

/// A Zarr v3 group opened for reading its 1-d arrays chunk by chunk.
pub struct GroupReader {
    label: PathBuf,
    attributes: Attributes,
    arrays: Vec<(GroupArrayInfo, Array<dyn ReadableListableStorageTraits>)>,
    groups: Vec<String>,
    nested: Vec<String>,
}

/// Collects the arrays below the group node `group` into `out`, as paths relative to `base`.
fn nested_arrays(group: &zarrs::node::Node, base: &str, out: &mut Vec<String>) {
    for child in group.children() {
        match child.metadata() {
            zarrs::node::NodeMetadata::Group(_) => nested_arrays(child, base, out),
            zarrs::node::NodeMetadata::Array(_) => {
                let path = child.path().as_str();
                let rel = path.strip_prefix(base).unwrap_or(path).trim_start_matches('/');
                out.push(rel.to_string());
            }
        }
    }
}

impl std::fmt::Debug for GroupReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupReader")
            .field("label", &self.label)
            .field("arrays", &self.arrays.iter().map(|a| &a.0.name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl GroupReader {
    /// Opens the group at `node` of `storage`, with the arrays and groups directly in it;
    /// `label` names the location in errors.
    ///
    /// # Errors
    /// [`Error::Storage`] when there is no group there or its metadata does not parse;
    /// [`Error::UnsupportedDType`] for an array of a type larder does not read.
    pub fn open(storage: ReadStorage, node: &str, label: impl Into<PathBuf>) -> Result<Self> {
        let label = label.into();
        let node = node_of(node);
        let handle: Arc<StorageHandle<dyn ReadableListableStorageTraits>> =
            Arc::new(StorageHandle::new(storage));
        let group = Group::open(handle.clone(), &node).map_err(|e| zerr(&label, e))?;
        let meta = serde_json::to_value(group.metadata()).map_err(|e| zerr(&label, e))?;
        if meta.get("zarr_format").and_then(Value::as_u64) != Some(3) {
            return Err(Error::invalid(&label, "is a Zarr v2 group; larder reads Zarr v3 groups"));
        }
        let attributes =
            meta.get("attributes").and_then(Value::as_object).cloned().unwrap_or_default();
        let mut arrays = Vec::new();
        let mut groups = Vec::new();
        let mut nested = Vec::new();
        let children = group.children(true).map_err(|e| zerr(&label, e))?;
        for child in children {
            let name = child.path().as_str().rsplit('/').next().unwrap_or_default().to_string();
            match child.metadata() {
                zarrs::node::NodeMetadata::Group(_) => {
                    groups.push(name);
                    nested_arrays(&child, &node, &mut nested);
                }
                zarrs::node::NodeMetadata::Array(_) => {
                    let storage: ReadStorage = handle.clone();
                    let array = Array::open(storage, child.path().as_str())
                        .map_err(|e| zerr(&label, format!("{name}: {e}")))?;
                    arrays.push((describe_array(&label, &name, &array)?, array));
                }
            }
        }
        arrays.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        groups.sort();
        nested.sort();
        Ok(GroupReader { label, attributes, arrays, groups, nested })
    }

    /// The paths (relative to this group, `sub/b`) of the arrays inside its subgroups.
    pub fn nested_arrays(&self) -> &[String] {
        &self.nested
    }

    /// The location errors name.
    pub fn label(&self) -> &Path {
        &self.label
    }

    /// The group's attributes.
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    /// Its arrays, by name.
    pub fn arrays(&self) -> impl Iterator<Item = &GroupArrayInfo> {
        self.arrays.iter().map(|a| &a.0)
    }

    /// The names of the groups directly inside it.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The array called `name`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when there is none.
    pub fn array(&self, name: &str) -> Result<&GroupArrayInfo> {
        self.find(name).map(|a| &a.0)
    }

    fn find(
        &self,
        name: &str,
    ) -> Result<&(GroupArrayInfo, Array<dyn ReadableListableStorageTraits>)> {
        self.arrays
            .iter()
            .find(|a| a.0.name == name)
            .ok_or_else(|| Error::invalid(&self.label, format!("holds no array {name:?}")))
    }

    /// Unit `index` (chunk or shard) of the 1-d array `name`, cut to the elements inside the
    /// array.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an array that is not 1-d or a unit past its end;
    /// [`Error::Storage`] for a chunk that does not decode.
    pub fn read_unit(&self, name: &str, index: u64) -> Result<ChunkData> {
        let (info, array) = self.find(name)?;
        let [len] = info.shape[..] else {
            return Err(Error::invalid(&self.label, format!("{name}: not a 1-d array")));
        };
        let start = index.saturating_mul(info.grid);
        if start >= len && !(len == 0 && index == 0) {
            return Err(Error::invalid(&self.label, format!("{name}: no chunk {index}")));
        }
        let rows = usize::try_from(info.grid.min(len - start.min(len)))
            .map_err(|_| Error::internal("chunk length"))?;
        let bytes: ArrayBytes<'static> = array
            .retrieve_chunk(&[index])
            .map_err(|e| zerr(&self.label, format!("{name}: chunk {index}: {e}")))?;
        let damaged = || zerr(&self.label, format!("{name}: chunk {index} does not decode"));
        match info.dtype {
            GroupType::Fixed(d) => {
                let mut v = bytes.into_fixed().map_err(|_| damaged())?.into_owned();
                if v.len() < rows * d.itemsize() {
                    return Err(damaged());
                }
                v.truncate(rows * d.itemsize());
                Ok(ChunkData::Fixed(v))
            }
            GroupType::String => {
                let (data, offsets) = bytes.into_variable().map_err(|_| damaged())?.into_parts();
                let offsets: Vec<usize> = offsets.iter().copied().take(rows + 1).collect();
                if offsets.len() != rows + 1 {
                    return Err(damaged());
                }
                let end = offsets[rows];
                let mut data = data.into_owned();
                data.truncate(end);
                Ok(ChunkData::Strings(data, offsets))
            }
        }
    }
}

fn describe_array<S: ?Sized + zarrs::storage::ReadableStorageTraits + 'static>(
    label: &Path,
    name: &str,
    array: &Array<S>,
) -> Result<GroupArrayInfo> {
    let meta = serde_json::to_value(array.metadata()).map_err(|e| zerr(label, e))?;
    let shape: Vec<u64> = array.shape().to_vec();
    let dt = meta.get("data_type");
    let dt_name = dt.and_then(|d| d.as_str().or_else(|| d.get("name").and_then(Value::as_str)));
    let dtype = if dt_name == Some("string") {
        GroupType::String
    } else {
        let at = label.join(name);
        GroupType::Fixed(describe(&at, array)?.dtype.to_native())
    };
    let grid = meta
        .get("chunk_grid")
        .and_then(|g| g.get("configuration"))
        .and_then(|c| c.get("chunk_shape"))
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);
    let dimension_names = meta
        .get("dimension_names")
        .and_then(Value::as_array)
        .map(|names| names.iter().map(|n| n.as_str().map(str::to_string)).collect::<Vec<_>>());
    let attributes = meta.get("attributes").and_then(Value::as_object).cloned().unwrap_or_default();
    Ok(GroupArrayInfo { name: name.to_string(), dtype, shape, grid, dimension_names, attributes })
}
