//! `larder info`: what an array is (format, dtype, shape, order, bytes on disk and in RAM,
//! chunks, attributes), read from its metadata without reading its data.

use std::path::Path;

use serde::Serialize;

use crate::dataset::{ColumnKind, Dataset};
use crate::dtype::ElementType;
use crate::error::{Error, Result};
use crate::npy::{Order, read_header};
use crate::open::{Location, Place, detect_format, open};
use crate::store::Format;
use crate::sys::resident_under;

/// What `larder info` reports about an array.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Info {
    /// The storage format: `npy`, `zarr` or `hdf5`.
    pub format: &'static str,
    /// numpy typestr of the stored elements.
    pub dtype: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// `C` or `F` (chunked formats are always reported as `C`, their logical order).
    pub order: &'static str,
    /// Size on disk in bytes (all files of a Zarr array).
    pub bytes: u64,
    /// Bytes of the file(s) in RAM now (page cache pages, counted by `mincore`).
    pub resident_bytes: u64,
    /// Format version: `1.0`/`2.0`/`3.0` for npy, `2` or `3` for Zarr; absent for HDF5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Offset of the first data byte (npy only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_offset: Option<usize>,
    /// Chunk shape of a chunked array (with sharding: the chunks inside a shard).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<usize>>,
    /// Shard shape of a sharded Zarr array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<Vec<usize>>,
    /// The array's attributes, when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<serde_json::Value>,
    /// The delta files applied over the `.npy`, in order ([`info_with_deltas`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deltas: Option<Vec<std::path::PathBuf>>,
}

/// Describes the array at `path` (an `.npy` file, a Zarr directory, or `FILE.h5[:/name]`)
/// without reading its data.
///
/// # Errors
/// As [`read_header`] and [`crate::open`].
pub fn info(path: impl AsRef<Path>) -> Result<Info> {
    let path = path.as_ref();
    let loc = match Place::parse(path)? {
        Place::Local(loc) => loc,
        Place::Object(url) => return object_info(path, &url),
    };
    let format = detect_format(&loc.file)?;
    if format != Format::Npy {
        return chunked_info(&loc);
    }
    // The header is validated against the file's length; no data is read.
    let h = read_header(path)?;
    let bytes = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    Ok(Info {
        format: "npy",
        dtype: h.dtype.typestr(),
        shape: h.shape.clone(),
        order: if h.fortran_order { Order::F } else { Order::C }.as_str(),
        bytes,
        resident_bytes: resident_under(path),
        version: Some(format!("{}.{}", h.version.0, h.version.1)),
        data_offset: Some(h.data_offset),
        chunks: None,
        shards: None,
        attributes: None,
        deltas: None,
    })
}

/// [`info`] of the `.npy` at `base` seen through the delta files `deltas` (applied in order):
/// dtype and shape are the base's, and the deltas are listed. The stack is opened, so a delta
/// saved over another file, or out of order, is reported here.
///
/// # Errors
/// As [`info`] and [`crate::open_with_deltas`].
pub fn info_with_deltas<P: AsRef<Path>>(base: impl AsRef<Path>, deltas: &[P]) -> Result<Info> {
    let base = base.as_ref();
    let mut info = info(base)?;
    if !deltas.is_empty() {
        drop(crate::open::open_with_deltas(base, deltas)?);
        info.deltas = Some(deltas.iter().map(|d| d.as_ref().to_path_buf()).collect());
    }
    Ok(info)
}

fn chunked_info(loc: &Location) -> Result<Info> {
    let store = open(location_text(loc))?;
    let (version, inner) = if store.format() == Format::Zarr {
        let (v, inner) = crate::zarr::version_and_inner(&loc.file, loc.inner.as_deref())?;
        (Some(v.to_string()), inner)
    } else {
        (None, None)
    };
    let grid = store.chunk_shape().to_vec();
    let (chunks, shards) = match inner {
        Some(inner) => (Some(inner), Some(grid)),
        None => (Some(grid), None),
    };
    let attrs = store.attributes()?;
    Ok(Info {
        format: store.format().as_str(),
        dtype: store.dtype().typestr(),
        shape: store.shape().to_vec(),
        order: "C",
        bytes: crate::fsutil::disk_usage(&loc.file),
        resident_bytes: resident_under(&loc.file),
        version,
        data_offset: None,
        chunks,
        shards,
        attributes: (!attrs.is_empty()).then(|| serde_json::Value::Object(attrs)),
        deltas: None,
    })
}

/// [`info`] of an array in object storage: from its header or metadata, nothing resident.
fn object_info(path: &Path, url: &crate::remote::ObjectUrl) -> Result<Info> {
    let options = crate::remote::S3Options::current();
    let store = open(path)?;
    let facts = crate::open::object_facts(url, &options)?;
    let grid = store.chunk_shape().to_vec();
    let (version, chunks, shards) = match facts.zarr {
        Some((v, Some(inner))) => (Some(v.to_string()), Some(inner), Some(grid)),
        Some((v, None)) => (Some(v.to_string()), Some(grid), None),
        None => (None, None, None),
    };
    let attrs = store.attributes()?;
    Ok(Info {
        format: store.format().as_str(),
        dtype: store.dtype().typestr(),
        shape: store.shape().to_vec(),
        order: "C",
        bytes: facts.bytes,
        resident_bytes: 0,
        version,
        data_offset: None,
        chunks,
        shards,
        attributes: (!attrs.is_empty()).then(|| serde_json::Value::Object(attrs)),
        deltas: None,
    })
}

fn location_text(loc: &Location) -> std::path::PathBuf {
    match &loc.inner {
        Some(inner) => std::path::PathBuf::from(format!("{}:{inner}", loc.file.display())),
        None => loc.file.clone(),
    }
}

/// What `larder info DATASET` reports about a dataset directory: one entry per column, as
/// pandas' `df.info()` gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatasetInfo {
    /// Rows in every column.
    pub rows: u64,
    /// Records of the source that were rejected (in `rejects.csv`).
    pub rejected: u64,
    /// Bytes on disk of every column and validity file.
    pub bytes: u64,
    /// The columns, in order.
    pub columns: Vec<ColumnInfo>,
}

/// One column of a [`DatasetInfo`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ColumnInfo {
    /// The column's name.
    pub name: String,
    /// `number`, `bool`, `categorical`, `datetime` or `string`.
    pub kind: &'static str,
    /// numpy typestr of the stored values (`str` for a string column).
    pub dtype: String,
    /// Rows whose value is missing (validity file), or NaN for a float column.
    pub nulls: u64,
    /// Number of categories of a categorical column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<usize>,
    /// Bytes on disk (column file, validity file, offsets and dictionary files).
    pub bytes: u64,
}

/// Describes the dataset in `dir`: its columns, their kinds, dtypes, missing values and sizes.
/// Counting missing values reads each validity file, and each float column for its NaN.
///
/// # Errors
/// As [`Dataset::open`] and reading the files.
pub fn dataset_info(dir: impl AsRef<Path>) -> Result<DatasetInfo> {
    let ds = Dataset::open(dir)?;
    let mut columns = Vec::new();
    for c in ds.columns() {
        let dtype = c.dtype()?;
        let nulls = match (c.validity_file(), dtype.element()) {
            (Some(_), _) => c.null_count()?,
            (None, ElementType::F64) => {
                c.values::<f64>()?.as_slice()?.iter().filter(|v| v.is_nan()).count() as u64
            }
            (None, ElementType::F32) => {
                c.values::<f32>()?.as_slice()?.iter().filter(|v| v.is_nan()).count() as u64
            }
            _ => 0,
        };
        columns.push(ColumnInfo {
            name: c.name().to_string(),
            kind: c.kind().as_str(),
            dtype: if c.kind() == ColumnKind::String {
                c.manifest().dtype.clone()
            } else {
                dtype.typestr()
            },
            nulls,
            categories: c.categories()?.map(|cats| cats.len()),
            bytes: c.bytes(),
        });
    }
    Ok(DatasetInfo {
        rows: ds.rows(),
        rejected: ds.manifest().rejected,
        bytes: columns.iter().map(|c| c.bytes).sum(),
        columns,
    })
}

/// What `larder info DATASET/FILE.npy` adds for a column file of a dataset: which column it
/// is and where its missing values are recorded (the file itself holds placeholders there).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatasetColumnInfo {
    /// The column's name in the dataset.
    pub name: String,
    /// The header's text for it, when that differs from `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// `number`, `bool`, `categorical`, `datetime` or `string`.
    pub kind: &'static str,
    /// The validity file (in the same directory), for a column with missing values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<String>,
    /// Rows whose value is missing (by the validity file).
    pub nulls: u64,
}

/// The dataset column whose file is `path`, if it is one.
///
/// # Errors
/// As [`Dataset::open`], and reading the validity file.
pub fn column_info(path: impl AsRef<Path>) -> Result<Option<DatasetColumnInfo>> {
    let Some((ds, i)) = Dataset::of_column_file(path.as_ref())? else { return Ok(None) };
    let c = ds.nth_column(i)?;
    Ok(Some(DatasetColumnInfo {
        name: c.name().to_string(),
        header: c.manifest().header.clone(),
        kind: c.kind().as_str(),
        valid: c.manifest().valid.clone(),
        nulls: c.null_count()?,
    }))
}
