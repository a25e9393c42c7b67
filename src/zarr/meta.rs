//! Reading Zarr metadata: the hierarchy's arrays and groups, what an array's metadata says of
//! its elements and chunking, and whether its chunks are plain enough to read directly.

use std::path::Path;

use serde_json::Value;
use zarrs::array::Array;

use super::{node_path, store_at, zerr};
use crate::dtype::{ByteOrder, DType, Element, ElementType, Time, TimeUnit};
use crate::error::{Error, Result};
use crate::store::Attributes;

/// Paths of every array in the Zarr hierarchy at `root` (`/` for a root array).
///
/// # Errors
/// [`Error::Storage`] when the hierarchy cannot be read.
pub fn list_arrays(root: impl AsRef<Path>) -> Result<Vec<String>> {
    let root = root.as_ref();
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
pub fn group_attributes(root: impl AsRef<Path>, inner: Option<&str>) -> Result<Attributes> {
    let root = root.as_ref();
    let store = store_at(root)?;
    let group = zarrs::group::Group::open(store, &node_path(inner)).map_err(|e| zerr(root, e))?;
    let meta = serde_json::to_value(group.metadata()).map_err(|e| zerr(root, e))?;
    Ok(meta.get("attributes").and_then(Value::as_object).cloned().unwrap_or_default())
}

/// The array to show as an example of naming one: the first that no `_`-prefixed node holds
/// (not larder's own `/_larder/rejects.csv` in a dataset group, nor another tool's internals).
fn example_array(arrays: &[String]) -> &str {
    let public = |p: &&String| !p.split('/').any(|s| s.starts_with('_'));
    arrays.iter().find(public).or(arrays.first()).map_or("/", String::as_str)
}

/// Resolves the array path: the given one, or the only array of the hierarchy.
pub(super) fn resolve_inner(root: &Path, inner: Option<&str>) -> Result<String> {
    if inner.is_some() {
        return Ok(node_path(inner));
    }
    let arrays = list_arrays(root)?;
    match arrays.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(zerr(root, "the hierarchy holds no array")),
        many => Err(Error::invalid(
            root,
            format!(
                "holds {} arrays; name one as {}:PATH, e.g. {}:{}",
                many.len(),
                root.display(),
                root.display(),
                example_array(many)
            ),
        )),
    }
}

/// What the metadata says about the stored elements, chunking and format version.
pub(super) struct Described {
    pub(super) dtype: DType,
    pub(super) chunks: Vec<usize>,
    pub(super) inner_chunks: Option<Vec<usize>>,
    pub(super) version: u8,
}

pub(super) fn describe<S: ?Sized>(path: &Path, array: &Array<S>) -> Result<Described> {
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
        "numpy.datetime64" | "numpy.timedelta64" => {
            let config = dt.and_then(|d| d.get("configuration"));
            let unit = config.and_then(|c| c.get("unit")).and_then(Value::as_str);
            let scale = config.and_then(|c| c.get("scale_factor")).and_then(Value::as_u64);
            let (Some(unit), Some(1) | None) = (unit.and_then(TimeUnit::parse), scale) else {
                return Err(unsupported(
                    dt.map(ToString::to_string).unwrap_or_default(),
                    "a time unit larder does not read (D, h, m, s, ms, us, ns with scale factor \
                     1)",
                ));
            };
            let order = byte_order(meta.get("codecs"));
            let dtype = DType::with_order(ElementType::I64, order)
                .with_time(if name == "numpy.datetime64" {
                    Time::DateTime(unit)
                } else {
                    Time::TimeDelta(unit)
                })
                .ok_or_else(|| Error::internal("an int64 dtype takes a time"))?;
            return Ok(Described { dtype, ..grid(&meta) });
        }
        other => {
            return Err(unsupported(other.to_string(), "not a numeric type larder stores"));
        }
    };
    let order = byte_order(meta.get("codecs"));
    Ok(Described { dtype: DType::with_order(element, order), ..grid(&meta) })
}

/// The byte order the `bytes` codec of a v3 codec list declares.
fn byte_order(codecs: Option<&Value>) -> ByteOrder {
    match find_codec(codecs, "bytes")
        .and_then(|c| c.get("configuration")?.get("endian")?.as_str().map(str::to_string))
        .as_deref()
    {
        Some("big") => ByteOrder::Big,
        _ => ByteOrder::Little,
    }
}

/// The chunking of v3 metadata, its dtype left as `int8` for the caller to set.
fn grid(meta: &Value) -> Described {
    let to_usizes = |v: Option<&Value>| -> Option<Vec<usize>> {
        v?.as_array()?.iter().map(|x| x.as_u64().and_then(|n| usize::try_from(n).ok())).collect()
    };
    let chunks = to_usizes(
        meta.get("chunk_grid")
            .and_then(|g| g.get("configuration"))
            .and_then(|c| c.get("chunk_shape")),
    )
    .unwrap_or_default();
    let inner_chunks = find_codec(meta.get("codecs"), "sharding_indexed")
        .and_then(|c| to_usizes(c.get("configuration")?.get("chunk_shape")));
    Described { dtype: DType::native(ElementType::I8), chunks, inner_chunks, version: 3 }
}

/// The Zarr v3 data type of numpy's `datetime64[unit]` or `timedelta64[unit]`, as zarr-python
/// 3 writes it: `{"name": "numpy.datetime64", "configuration": {"unit": unit, "scale_factor":
/// 1}}` (`numpy.timedelta64` alike).
pub(super) fn time_type(time: Time) -> zarrs::array::DataType {
    use zarrs::array::data_type::{NumpyTimeUnit as N, numpy_datetime64, numpy_timedelta64};
    let u = match time.unit() {
        TimeUnit::D => N::Day,
        TimeUnit::H => N::Hour,
        TimeUnit::M => N::Minute,
        TimeUnit::S => N::Second,
        TimeUnit::Ms => N::Millisecond,
        TimeUnit::Us => N::Microsecond,
        TimeUnit::Ns => N::Nanosecond,
    };
    match time {
        Time::DateTime(_) => numpy_datetime64(u, std::num::NonZeroU32::MIN),
        Time::TimeDelta(_) => numpy_timedelta64(u, std::num::NonZeroU32::MIN),
    }
}

/// The first codec named `name` in a v3 codec list, looking inside sharding codecs.
pub(super) fn find_codec<'a>(codecs: Option<&'a Value>, name: &str) -> Option<&'a Value> {
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

pub(super) fn data_type_of(element: ElementType) -> zarrs::array::DataType {
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

/// `Some(zstd)` when the array's chunks are files of plain little-endian element bytes (on a
/// little-endian machine), raw or in zstd frames without checksums, on a regular grid and with
/// no storage transformer: the layout [`plain`] reads without zarrs' codec pipeline.
pub(super) fn plain_layout<T: Element>(meta: &Value) -> Option<bool> {
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
