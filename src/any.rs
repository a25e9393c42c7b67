//! [`AnyArray`]: an [`MmapArray`] whose element type is learnt from the file at run time.

use std::path::Path;

use half::f16;
use num_complex::Complex;
use serde::Serialize;

use crate::array::{MmapArray, Order, read_header};
use crate::dtype::{DType, ElementType};
use crate::error::{Error, Result};
use crate::npy::Header;

/// A memory-mapped `.npy` array of any element type, for code that learns the dtype at run time
/// (the CLI, generic tools). Match on it to get the typed [`MmapArray`].
#[derive(Debug)]
#[allow(missing_docs)]
pub enum AnyArray {
    Bool(MmapArray<bool>),
    U8(MmapArray<u8>),
    U16(MmapArray<u16>),
    U32(MmapArray<u32>),
    U64(MmapArray<u64>),
    I8(MmapArray<i8>),
    I16(MmapArray<i16>),
    I32(MmapArray<i32>),
    I64(MmapArray<i64>),
    F16(MmapArray<f16>),
    F32(MmapArray<f32>),
    F64(MmapArray<f64>),
    C64(MmapArray<Complex<f32>>),
    C128(MmapArray<Complex<f64>>),
}

/// Applies `$body` to the typed array inside an [`AnyArray`].
macro_rules! any_dispatch {
    ($any:expr, $a:ident => $body:expr) => {
        match $any {
            AnyArray::Bool($a) => $body,
            AnyArray::U8($a) => $body,
            AnyArray::U16($a) => $body,
            AnyArray::U32($a) => $body,
            AnyArray::U64($a) => $body,
            AnyArray::I8($a) => $body,
            AnyArray::I16($a) => $body,
            AnyArray::I32($a) => $body,
            AnyArray::I64($a) => $body,
            AnyArray::F16($a) => $body,
            AnyArray::F32($a) => $body,
            AnyArray::F64($a) => $body,
            AnyArray::C64($a) => $body,
            AnyArray::C128($a) => $body,
        }
    };
}
pub(crate) use any_dispatch;

impl AnyArray {
    /// Opens `path` read-only, with the element type the file declares.
    ///
    /// # Errors
    /// As [`MmapArray::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<AnyArray> {
        let path = path.as_ref();
        let header = read_header(path)?;
        Ok(match header.dtype.element() {
            ElementType::Bool => AnyArray::Bool(MmapArray::open(path)?),
            ElementType::U8 => AnyArray::U8(MmapArray::open(path)?),
            ElementType::U16 => AnyArray::U16(MmapArray::open(path)?),
            ElementType::U32 => AnyArray::U32(MmapArray::open(path)?),
            ElementType::U64 => AnyArray::U64(MmapArray::open(path)?),
            ElementType::I8 => AnyArray::I8(MmapArray::open(path)?),
            ElementType::I16 => AnyArray::I16(MmapArray::open(path)?),
            ElementType::I32 => AnyArray::I32(MmapArray::open(path)?),
            ElementType::I64 => AnyArray::I64(MmapArray::open(path)?),
            ElementType::F16 => AnyArray::F16(MmapArray::open(path)?),
            ElementType::F32 => AnyArray::F32(MmapArray::open(path)?),
            ElementType::F64 => AnyArray::F64(MmapArray::open(path)?),
            ElementType::C64 => AnyArray::C64(MmapArray::open(path)?),
            ElementType::C128 => AnyArray::C128(MmapArray::open(path)?),
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        any_dispatch!(self, a => a.header())
    }

    /// The stored dtype.
    pub fn dtype(&self) -> DType {
        self.header().dtype
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.header().shape
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        any_dispatch!(self, a => a.path())
    }

    /// Memory order of the stored data.
    pub fn order(&self) -> Order {
        any_dispatch!(self, a => a.order())
    }

    /// Bytes of the file in RAM right now.
    ///
    /// # Errors
    /// As [`MmapArray::resident_bytes`].
    pub fn resident_bytes(&self) -> Result<u64> {
        any_dispatch!(self, a => a.resident_bytes())
    }
}

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
}

/// Describes the array at `path` (an `.npy` file, a Zarr directory, or `FILE.h5[:/name]`)
/// without reading its data.
///
/// # Errors
/// As [`MmapArray::open`] and the other backends' `open`.
pub fn info(path: impl AsRef<Path>) -> Result<Info> {
    let path = path.as_ref();
    let loc = crate::store::Location::parse(path);
    let format = crate::store::detect_format(&loc.file)?;
    if format != crate::store::Format::Npy {
        return chunked_info(&loc);
    }
    let a = AnyArray::open(path)?;
    let bytes = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    let h = a.header();
    Ok(Info {
        format: "npy",
        dtype: h.dtype.typestr(),
        shape: h.shape.clone(),
        order: a.order().as_str(),
        bytes,
        resident_bytes: a.resident_bytes()?,
        version: Some(format!("{}.{}", h.version.0, h.version.1)),
        data_offset: Some(h.data_offset),
        chunks: None,
        shards: None,
        attributes: None,
    })
}

fn chunked_info(loc: &crate::store::Location) -> Result<Info> {
    let store = crate::store::open(location_text(loc))?;
    let (version, inner) = if store.format() == crate::store::Format::Zarr {
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
        resident_bytes: crate::sys::resident_under(&loc.file),
        version,
        data_offset: None,
        chunks,
        shards,
        attributes: (!attrs.is_empty()).then(|| serde_json::Value::Object(attrs)),
    })
}

fn location_text(loc: &crate::store::Location) -> std::path::PathBuf {
    match &loc.inner {
        Some(inner) => std::path::PathBuf::from(format!("{}:{inner}", loc.file.display())),
        None => loc.file.clone(),
    }
}
