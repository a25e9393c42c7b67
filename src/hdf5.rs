//! [`Hdf5Array`]: a dataset in an HDF5 file, through the system libhdf5 (cargo feature `hdf5`).
//!
//! Contiguous, compact and chunked datasets are read, with the filters libhdf5 itself provides
//! (gzip, shuffle, fletcher32, …); unwritten chunks read as the dataset's fill value. A filter
//! that needs a plugin (LZF, blosc, bitshuffle, …) is refused by name before any data is read.
//! New datasets are chunked, optionally gzip-compressed.

use crate::dtype::cf;

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use hdf5::H5Type;
use hdf5::types::{FloatSize, IntSize, TypeDescriptor, VarLenAscii, VarLenUnicode};
use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};
use serde_json::Value;

use crate::dtype::{ByteOrder, DType, Element, ElementType, Time};
use crate::error::{Error, Result};
use crate::grid::{Region, contiguous_chunks};
use crate::store::{ArrayRead, ArrayWrite, Attributes, Format};

fn herr(path: &Path, e: impl fmt::Display) -> Error {
    Error::Storage { path: path.to_path_buf(), reason: format!("hdf5: {e}") }
}

/// Calls `$f::<X, T>(args)` with `X` the HDF5-capable Rust type of the element type of `T`.
macro_rules! h5_typed {
    ($t:ty, $f:ident ( $($a:expr),* )) => {
        match <$t as Element>::TYPE {
            ElementType::Bool => $f::<bool, $t>($($a),*),
            ElementType::U8 => $f::<u8, $t>($($a),*),
            ElementType::U16 => $f::<u16, $t>($($a),*),
            ElementType::U32 => $f::<u32, $t>($($a),*),
            ElementType::U64 => $f::<u64, $t>($($a),*),
            ElementType::I8 => $f::<i8, $t>($($a),*),
            ElementType::I16 => $f::<i16, $t>($($a),*),
            ElementType::I32 => $f::<i32, $t>($($a),*),
            ElementType::I64 => $f::<i64, $t>($($a),*),
            ElementType::F16 => $f::<half::f16, $t>($($a),*),
            ElementType::F32 => $f::<f32, $t>($($a),*),
            ElementType::F64 => $f::<f64, $t>($($a),*),
            ElementType::C64 => $f::<num_complex::Complex<f32>, $t>($($a),*),
            ElementType::C128 => $f::<num_complex::Complex<f64>, $t>($($a),*),
        }
    };
}

mod staged;
pub use staged::StagedDataset;

/// A typed n-d array stored as a dataset in an HDF5 file.
///
/// ```
/// use larder::{ArrayRead, ArrayWrite, Hdf5Array, Selection};
/// use ndarray::{ArrayD, IxDyn};
/// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
/// # let path = dir.path().join("t.h5");
/// // h5py: f.create_dataset("/obs/temp", shape=(8, 4), chunks=(4, 4), compression="gzip")
/// let mut h = Hdf5Array::<f32>::create(&path, Some("/obs/temp"), &[8, 4], &[4, 4], Some(4))?;
/// h.write_region(&[2, 0], &ArrayD::from_elem(IxDyn(&[1, 4]), 1.5f32).view())?;
/// h.flush()?;
/// drop(h);
///
/// let h = Hdf5Array::<f32>::open_at(&path, Some("/obs/temp"))?;
/// assert_eq!(h.read(&Selection::parse("2, 1:3")?)?.sum(), 3.0);
/// // Through `larder::open`, inner datasets are named `FILE:/group/name`; errors name them so.
/// let named = format!("{}:/obs/temp", path.display());
/// assert_eq!(larder::open(&named)?.shape(), &[8, 4]);
/// let e = larder::open_as::<f64>(&named).err().unwrap();
/// assert!(e.to_string().starts_with(&format!("{named}: file holds <f4")));
/// # Ok::<(), larder::Error>(())
/// ```
pub struct Hdf5Array<T: Element> {
    path: PathBuf,
    file: hdf5::File,
    ds: hdf5::Dataset,
    name: String,
    shape: Vec<usize>,
    chunks: Vec<usize>,
    dtype: DType,
    writable: bool,
    /// Added to every value read: a CF time whose epoch is not 1970's (see `dtype::cf`).
    epoch_shift: i64,
    _t: PhantomData<T>,
}

impl<T: Element> fmt::Debug for Hdf5Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hdf5Array")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("dtype", &self.dtype.typestr())
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

/// How [`open_file`] opens an HDF5 file.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Open {
    Read,
    Write,
    /// For writing, created if missing.
    Append,
    Create,
}

/// Opens the HDF5 file at `path`, its descriptor not inherited by programs this process
/// starts: libhdf5 opens without close-on-exec, and a started program would hold the file
/// and libhdf5's lock on it while it runs, so that the next open for writing failed.
///
/// # Errors
/// [`Error::Storage`] if libhdf5 cannot open or create it.
pub(crate) fn open_file(path: &Path, how: Open) -> Result<hdf5::File> {
    let file = match how {
        Open::Read => hdf5::File::open(path),
        Open::Write => hdf5::File::open_rw(path),
        Open::Append => hdf5::File::append(path),
        Open::Create => hdf5::File::create(path),
    }
    .map_err(|e| herr(path, e))?;
    crate::sys::close_on_exec(path);
    Ok(file)
}

/// Paths of every dataset in the HDF5 file at `path`, sorted.
///
/// # Errors
/// [`Error::Storage`] if the file cannot be read.
pub fn list_datasets(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let file = open_file(path, Open::Read)?;
    let mut out = Vec::new();
    walk(path, &file, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(path: &Path, group: &hdf5::Group, out: &mut Vec<String>) -> Result<()> {
    for ds in group.datasets().map_err(|e| herr(path, e))? {
        // A copy's staging dataset is not (yet, or ever) one of the file's datasets.
        if !is_staging(&ds.name()) {
            out.push(ds.name());
        }
    }
    for g in group.groups().map_err(|e| herr(path, e))? {
        walk(path, &g, out)?;
    }
    Ok(())
}

/// The dataset `inner` of `file`, or its only one; a copy's staging dataset only for a
/// writer (`staging`).
fn resolve(
    path: &Path,
    file: &hdf5::File,
    inner: Option<&str>,
    staging: bool,
) -> Result<hdf5::Dataset> {
    #[allow(clippy::single_match_else)]
    let name = match inner {
        Some(n) => n.to_string(),
        None => {
            let mut all = Vec::new();
            walk(path, file, &mut all)?;
            all.sort();
            match all.as_slice() {
                [one] => one.clone(),
                [] => return Err(herr(path, "the file holds no dataset")),
                many => {
                    return Err(Error::invalid(
                        path,
                        format!(
                            "holds {} datasets; name one as {}:{}",
                            many.len(),
                            path.display(),
                            many[0]
                        ),
                    ));
                }
            }
        }
    };
    if !staging && is_staging(&name) {
        return Err(Error::invalid(
            path,
            format!(
                "{name} is where a copy into this file writes a dataset before it gets its \
                 name (a copy under way, or one that was killed); it is not a dataset to read"
            ),
        ));
    }
    file.dataset(&name).map_err(|e| herr(path, format!("no dataset {name}: {e}")))
}

/// Whether the dataset `name` (`/.x.larder-tmp-123`) is the staging link a copy into an
/// existing file writes under (see `hdf5/staged.rs`): `.NAME.larder-tmp-PID` in the root group.
fn is_staging(name: &str) -> bool {
    let Some(leaf) = name.strip_prefix("/.") else { return false };
    !leaf.contains('/')
        && leaf.rsplit_once(".larder-tmp-").is_some_and(|(n, pid)| {
            !n.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The element type and byte order a dataset stores.
fn dataset_dtype(path: &Path, ds: &hdf5::Dataset) -> Result<DType> {
    let dt = ds.dtype().map_err(|e| herr(path, e))?;
    let desc = dt.to_descriptor().map_err(|e| herr(path, e))?;
    let order = match dt.byte_order() {
        hdf5::datatype::ByteOrder::BigEndian => ByteOrder::Big,
        _ => ByteOrder::Little,
    };
    let bad = |reason: &str| Error::UnsupportedDType {
        path: path.to_path_buf(),
        descr: desc.to_string(),
        reason: reason.to_string(),
    };
    let int = |s: IntSize, signed: bool| match (s, signed) {
        (IntSize::U1, true) => ElementType::I8,
        (IntSize::U2, true) => ElementType::I16,
        (IntSize::U4, true) => ElementType::I32,
        (IntSize::U8, true) => ElementType::I64,
        (IntSize::U1, false) => ElementType::U8,
        (IntSize::U2, false) => ElementType::U16,
        (IntSize::U4, false) => ElementType::U32,
        (IntSize::U8, false) => ElementType::U64,
    };
    let element = match &desc {
        TypeDescriptor::Integer(s) => int(*s, true),
        TypeDescriptor::Unsigned(s) => int(*s, false),
        TypeDescriptor::Float(FloatSize::U4) => ElementType::F32,
        TypeDescriptor::Float(FloatSize::U8) => ElementType::F64,
        TypeDescriptor::Float(FloatSize::U2) => ElementType::F16,
        TypeDescriptor::Boolean => ElementType::Bool,
        TypeDescriptor::Compound(c)
            if c.fields.len() == 2 && c.fields[0].name == "r" && c.fields[1].name == "i" =>
        {
            match (&c.fields[0].ty, &c.fields[1].ty) {
                (TypeDescriptor::Float(FloatSize::U4), TypeDescriptor::Float(FloatSize::U4)) => {
                    ElementType::C64
                }
                (TypeDescriptor::Float(FloatSize::U8), TypeDescriptor::Float(FloatSize::U8)) => {
                    ElementType::C128
                }
                _ => return Err(bad("complex parts must both be float32 or float64")),
            }
        }
        _ => return Err(bad("not a numeric type larder stores")),
    };
    let dtype = DType::with_order(element, order);
    if element == ElementType::I64
        && let Some(cf) = cf_time(path, ds)?
    {
        return Ok(dtype.with_time(cf.time).unwrap_or(dtype));
    }
    Ok(dtype)
}

/// The time type of an `int64` dataset whose CF attributes (`cf.rs`) mark it as `datetime64`
/// or `timedelta64`, with the shift from its epoch to numpy's (`hours since 2000-01-01`, as
/// xarray and netCDF tools write, reads as the instants xarray decodes).
fn cf_time(path: &Path, ds: &hdf5::Dataset) -> Result<Option<cf::CfTime>> {
    let text = |name: &str| -> Result<Option<String>> {
        if !ds.attr_names().map_err(|e| herr(path, e))?.iter().any(|n| n == name) {
            return Ok(None);
        }
        let a = ds.attr(name).map_err(|e| herr(path, e))?;
        Ok(attr_json(path, &a)?.as_str().map(str::to_string))
    };
    let Some(units) = text(cf::UNITS)? else { return Ok(None) };
    Ok(cf::parse(&units, text(cf::CALENDAR)?.as_deref()))
}

/// Refuses a dataset whose stored data cannot hold what its shape and type declare, before
/// libhdf5 reads it: libhdf5 1.10 copies a compact dataset's declared size out of a buffer
/// that a damaged header left empty, and crashes (found by the fuzz suite). A compact dataset
/// must hold exactly `needed` bytes; a contiguous one, once allocated, must too, and lie inside
/// the file. Chunked datasets are read chunk by chunk through their index and not checked here.
fn check_storage(path: &Path, ds: &hdf5::Dataset, needed: u64) -> Result<()> {
    use hdf5::dataset::Layout;
    // Data in other files (h5py's `external=`): libhdf5 would open whatever files the
    // dataset names, so larder does not follow them, and says so.
    if ds.dcpl().is_ok_and(|p| !p.external().is_empty()) {
        return Err(herr(
            path,
            format!("dataset {} uses external storage, which larder does not read", ds.name()),
        ));
    }
    let stored = ds.storage_size();
    let bad = |what: String| {
        herr(path, format!("dataset {}: {what}, its shape and type need {needed}", ds.name()))
    };
    match ds.layout() {
        Layout::Compact if stored != needed => Err(bad(format!("compact data of {stored} bytes"))),
        Layout::Contiguous => match ds.offset() {
            // Not allocated yet: every element is the fill value.
            None if stored == 0 => Ok(()),
            None => Err(bad(format!("{stored} bytes of contiguous data at no address"))),
            Some(offset) => {
                let file_len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
                if stored != needed || offset.checked_add(needed).is_none_or(|end| end > file_len) {
                    Err(bad(format!(
                        "contiguous data of {stored} bytes at byte {offset} of a {file_len}-byte \
                         file"
                    )))
                } else {
                    Ok(())
                }
            }
        },
        _ => Ok(()),
    }
}

/// Refuses filters libhdf5 cannot apply without a plugin, naming them.
fn check_filters(path: &Path, ds: &hdf5::Dataset) -> Result<()> {
    for f in ds.filters() {
        if let hdf5::filters::Filter::User(id, _) = f {
            let name = match id {
                32000 => "LZF",
                32001 => "blosc",
                32004 => "LZ4",
                32008 => "bitshuffle",
                32013 => "zfp",
                32015 => "zstd",
                _ => "unknown",
            };
            return Err(herr(
                path,
                format!(
                    "dataset {} uses the {name} filter (id {id}), which larder does not support; \
                     rewrite it with gzip or no compression",
                    ds.name()
                ),
            ));
        }
    }
    Ok(())
}

/// The element type of the dataset at `inner` in the HDF5 file at `path`.
pub(crate) fn element_of(path: &Path, inner: Option<&str>) -> Result<ElementType> {
    let file = open_file(path, Open::Read)?;
    let ds = resolve(path, &file, inner, false)?;
    Ok(dataset_dtype(path, &ds)?.element())
}

fn hyperslab(start: &[usize], shape: &[usize]) -> hdf5::Selection {
    let items: Vec<hdf5::SliceOrIndex> = start
        .iter()
        .zip(shape)
        .map(|(&s, &n)| hdf5::SliceOrIndex::SliceCount { start: s, step: 1, count: n, block: 1 })
        .collect();
    hdf5::Selection::from(hdf5::Hyperslab::from(items))
}

fn read_as<X: H5Type + Element, T: Element>(
    ds: &hdf5::Dataset,
    start: &[usize],
    shape: &[usize],
) -> hdf5::Result<ArrayD<T>> {
    let whole = start.iter().all(|&s| s == 0) && shape == ds.shape().as_slice();
    let arr: ArrayD<X> = if shape.is_empty() || whole {
        // The whole dataset: libhdf5's H5S_ALL path, cheaper than an equal hyperslab.
        ds.read_dyn::<X>()?
    } else {
        ds.read_slice::<X, _, IxDyn>(hyperslab(start, shape))?
    };
    // X and T are the same type (both picked from T::TYPE); `Any` proves it without a copy.
    let boxed: Box<dyn Any> = Box::new(arr);
    boxed.downcast::<ArrayD<T>>().map(|b| *b).map_err(|_| "element type mismatch".into())
}

fn write_as<X: H5Type + Element, T: Element>(
    ds: &hdf5::Dataset,
    start: &[usize],
    data: &ArrayViewD<'_, T>,
) -> hdf5::Result<()> {
    let data = data.as_standard_layout();
    let values = data.as_slice().ok_or("data is not contiguous")?;
    let bytes: &[u8] = bytemuck::cast_slice(values);
    let same: &[X] =
        bytemuck::checked::try_cast_slice(bytes).map_err(|_| "element type mismatch")?;
    let view = ndarray::ArrayView::from_shape(IxDyn(data.shape()), same)
        .map_err(|e| hdf5::Error::from(e.to_string().as_str()))?;
    if data.ndim() == 0 {
        return ds.write(&view);
    }
    ds.write_slice(&view, hyperslab(start, data.shape()))
}

#[allow(clippy::extra_unused_type_parameters)] // T picks X in `h5_typed!`
fn create_as<X: H5Type + Element, T: Element>(
    group: &hdf5::Group,
    name: &str,
    shape: &[usize],
    chunks: &[usize],
    gzip: Option<u8>,
    fill: bool,
) -> hdf5::Result<hdf5::Dataset> {
    let mut b = group.new_dataset::<X>();
    if !shape.is_empty() {
        b = b.chunk(chunks.to_vec());
        if let Some(level) = gzip {
            b = b.deflate(level);
        }
        if !fill {
            b = b.fill_time(hdf5::dataset::FillTime::Never);
        }
    }
    b.shape(shape.to_vec()).create(name)
}

/// The file at `path` held open for writing while the handle lives: a copy from one dataset
/// of a file to another of the same file takes it first, because libhdf5 refuses to open
/// for writing a file this process already has open read-only, but opens read-only one it has
/// open for writing (sharing that open file).
#[derive(Debug)]
pub struct WriteHold(#[allow(dead_code)] hdf5::File);

/// Holds the existing HDF5 file at `path` open for writing (see [`WriteHold`]).
///
/// # Errors
/// [`Error::Storage`] if libhdf5 cannot open it for writing.
pub fn hold_for_writing(path: &Path) -> Result<WriteHold> {
    open_file(path, Open::Write).map(WriteHold)
}

impl<T: Element> Hdf5Array<T> {
    /// Opens the dataset `inner` (e.g. `/group/name`) of the HDF5 file at `path` read-only; a
    /// file with one dataset may omit `inner`.
    ///
    /// # Errors
    /// [`Error::Storage`] if the file or dataset cannot be opened or uses an unsupported filter;
    /// [`Error::UnsupportedDType`]; [`Error::DTypeMismatch`] if it does not hold `T`.
    pub fn open_at(path: impl AsRef<Path>, inner: Option<&str>) -> Result<Self> {
        let path = path.as_ref();
        let file = open_file(path, Open::Read)?;
        Self::from_file(path, file, inner, false)
    }

    /// Opens the dataset for reading and writing.
    ///
    /// # Errors
    /// As [`open_at`](Hdf5Array::open_at).
    pub fn open_mut(path: impl AsRef<Path>, inner: Option<&str>) -> Result<Self> {
        let path = path.as_ref();
        let file = open_file(path, Open::Write)?;
        Self::from_file(path, file, inner, true)
    }

    fn from_file(
        path: &Path,
        file: hdf5::File,
        inner: Option<&str>,
        writable: bool,
    ) -> Result<Self> {
        // The staging dataset of a copy is written (and only written) through here.
        let ds = resolve(path, &file, inner, writable)?;
        let name = ds.name();
        Self::from_dataset(path, file, ds, writable).map_err(|e| e.in_dataset(path, &name))
    }

    fn from_dataset(
        path: &Path,
        file: hdf5::File,
        ds: hdf5::Dataset,
        writable: bool,
    ) -> Result<Self> {
        check_filters(path, &ds)?;
        let dtype = dataset_dtype(path, &ds)?;
        if dtype.element() != T::TYPE {
            return Err(Error::DTypeMismatch {
                path: path.to_path_buf(),
                expected: DType::of::<T>().typestr(),
                found: dtype.typestr(),
            });
        }
        let shape = ds.shape();
        let limit = |reason: String| Error::Storage { path: path.to_path_buf(), reason };
        crate::limits::check_ndim(shape.len()).map_err(limit)?;
        crate::limits::element_count_usize(&shape).map_err(limit)?;
        check_storage(
            path,
            &ds,
            crate::limits::byte_size(&shape, dtype.itemsize()).map_err(limit)?,
        )?;
        let chunks = ds.chunk().filter(|c| c.len() == shape.len()).map_or_else(
            || contiguous_chunks(&shape, dtype.itemsize(), false),
            |c| crate::limits::clip_chunk(&c, &shape),
        );
        let epoch_shift = match dtype.time() {
            Some(_) => cf_time(path, &ds)?.map_or(0, |c| c.shift),
            None => 0,
        };
        Ok(Hdf5Array {
            path: path.to_path_buf(),
            name: ds.name(),
            file,
            ds,
            shape,
            chunks,
            dtype,
            writable,
            epoch_shift,
            _t: PhantomData,
        })
    }

    /// Creates dataset `inner` (default `/data`) of `shape` in the HDF5 file at `path` (created
    /// if missing), chunked by `chunks` and gzip-compressed at `gzip` if given. Missing parent
    /// groups are created.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the dataset exists; [`Error::Storage`] if it cannot be created.
    pub fn create(
        path: impl AsRef<Path>,
        inner: Option<&str>,
        shape: &[usize],
        chunks: &[usize],
        gzip: Option<u8>,
    ) -> Result<Self> {
        let path = path.as_ref();
        Self::create_filled(path, inner, shape, chunks, gzip, true)
    }

    /// As [`create`](Hdf5Array::create), for a caller that will write every chunk in full: an
    /// unfiltered dataset is then created without fill-on-allocation, so that libhdf5 writes
    /// each chunk straight from the caller's buffer instead of first filling a chunk buffer
    /// with the fill value and copying the data into it. (A filtered dataset goes through a
    /// chunk buffer anyway and keeps its fill, so that no stray bytes get compressed.)
    pub(crate) fn create_for_overwrite(
        path: &Path,
        inner: Option<&str>,
        shape: &[usize],
        chunks: &[usize],
        gzip: Option<u8>,
    ) -> Result<Self> {
        Self::create_filled(path, inner, shape, chunks, gzip, gzip.is_some())
    }

    fn create_filled(
        path: &Path,
        inner: Option<&str>,
        shape: &[usize],
        chunks: &[usize],
        gzip: Option<u8>,
        fill_chunks: bool,
    ) -> Result<Self> {
        let file = open_file(path, if path.exists() { Open::Append } else { Open::Create })?;
        let name = inner.unwrap_or("/data").trim_matches('/').to_string();
        let mut group = file.as_group().map_err(|e| herr(path, e))?;
        let parts: Vec<&str> = name.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            group = match group.group(part) {
                Ok(g) => g,
                Err(_) => group.create_group(part).map_err(|e| herr(path, e))?,
            };
        }
        let leaf = parts[parts.len() - 1];
        // libhdf5 reports an existing name only as "unknown library error".
        if group.link_exists(leaf) {
            return Err(Error::invalid(
                path,
                format!("/{name} already exists in the file; choose another dataset name"),
            ));
        }
        if chunks.len() != shape.len() {
            return Err(Error::argument(format!(
                "chunk shape {chunks:?} does not fit an array of shape {shape:?}"
            )));
        }
        // HDF5 wants chunks no larger than a fixed dimension.
        let chunks: Vec<usize> =
            chunks.iter().zip(shape).map(|(&c, &n)| c.min(n.max(1)).max(1)).collect();
        h5_typed!(T, create_as(&group, leaf, shape, &chunks, gzip, fill_chunks))
            .map_err(|e| herr(path, e))?;
        drop(group);
        Self::from_file(path, file, Some(&format!("/{name}")), true)
    }

    /// Marks the dataset's `int64` values as numpy `datetime64[unit]` times, or
    /// `timedelta64[unit]` durations, with the CF attributes: `units = "seconds since
    /// 1970-01-01T00:00:00"` (the unit's name) and `calendar = "proleptic_gregorian"` for
    /// times, `units = "seconds"` for durations. larder reads them back as `<M8[unit]` or
    /// `<m8[unit]`, and xarray decodes them as times and durations. (h5py's own convention, an
    /// opaque type tagged `NUMPY:<M8[unit]`, cannot be made through hdf5-metno.)
    ///
    /// # Errors
    /// [`Error::Invalid`] for a dataset that is not `int64`; [`Error::Storage`] if the
    /// attributes cannot be written.
    pub fn mark_time(&mut self, time: Time) -> Result<()> {
        let Some(dtype) = self.dtype.with_time(time) else {
            return Err(Error::invalid(&self.path, "only an int64 dataset can hold times"));
        };
        let mut attrs = vec![(cf::UNITS, cf::units(time))];
        if let Time::DateTime(_) = time {
            attrs.push((cf::CALENDAR, cf::PROLEPTIC.into()));
        }
        for (name, value) in attrs {
            let v: VarLenUnicode = value.parse().map_err(|e| herr(&self.path, format!("{e}")))?;
            self.ds
                .new_attr::<VarLenUnicode>()
                .create(name)
                .and_then(|a| a.write_scalar(&v))
                .map_err(|e| herr(&self.path, e))?;
        }
        self.dtype = dtype;
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The dataset's full name in the file, e.g. `/group/name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The filters of the dataset, as libhdf5 names them.
    pub fn filters(&self) -> Vec<String> {
        self.ds.filters().iter().map(|f| format!("{f:?}")).collect()
    }
}

fn attr_json(path: &Path, a: &hdf5::Attribute) -> Result<Value> {
    let desc = a.dtype().and_then(|d| d.to_descriptor()).map_err(|e| herr(path, e))?;
    let scalar = a.is_scalar();
    let nums = |v: Vec<Value>| if scalar && v.len() == 1 { v[0].clone() } else { Value::from(v) };
    let r = |e: hdf5::Error| herr(path, e);
    Ok(match desc {
        TypeDescriptor::Integer(_) => {
            nums(a.read_raw::<i64>().map_err(r)?.into_iter().map(Value::from).collect())
        }
        TypeDescriptor::Unsigned(_) => {
            nums(a.read_raw::<u64>().map_err(r)?.into_iter().map(Value::from).collect())
        }
        TypeDescriptor::Float(_) => nums(
            a.read_raw::<f64>()
                .map_err(r)?
                .into_iter()
                .map(|x| crate::dtype::Scalar::F64(x).to_json())
                .collect(),
        ),
        TypeDescriptor::Boolean => {
            nums(a.read_raw::<bool>().map_err(r)?.into_iter().map(Value::from).collect())
        }
        TypeDescriptor::VarLenUnicode => nums(
            a.read_raw::<VarLenUnicode>()
                .map_err(r)?
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect(),
        ),
        TypeDescriptor::VarLenAscii => nums(
            a.read_raw::<VarLenAscii>()
                .map_err(r)?
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect(),
        ),
        other => Value::from(format!("<unsupported attribute type {other}>")),
    })
}

impl<T: Element> ArrayRead<T> for Hdf5Array<T> {
    fn format(&self) -> Format {
        Format::Hdf5
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
        let mut out = Attributes::new();
        for name in self.ds.attr_names().map_err(|e| herr(&self.path, e))? {
            // For times, the CF attributes are the dtype, not the user's attributes.
            if self.dtype.time().is_some() && [cf::UNITS, cf::CALENDAR].contains(&name.as_str()) {
                continue;
            }
            let a = self.ds.attr(&name).map_err(|e| herr(&self.path, e))?;
            out.insert(name, attr_json(&self.path, &a)?);
        }
        Ok(out)
    }

    fn read_region(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        self.read_box(region)
            .and_then(|v| cf::shift_epoch(v, self.epoch_shift, &self.path))
            .map_err(|e| e.in_dataset(&self.path, &self.name))
    }
}

impl<T: Element> Hdf5Array<T> {
    /// [`ArrayRead::read_region`], its errors naming the file only.
    fn read_box(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        region.check_inside(&self.shape)?;
        let (start, shape) = (region.start(), region.shape());
        if shape.contains(&0) {
            return ArrayD::from_shape_vec(IxDyn(shape), Vec::new())
                .map(CowArray::from)
                .map_err(|e| Error::internal(e.to_string()));
        }
        let arr = h5_typed!(T, read_as(&self.ds, start, shape)).map_err(|e| herr(&self.path, e))?;
        Ok(CowArray::from(arr))
    }
}

impl<T: Element> ArrayWrite<T> for Hdf5Array<T> {
    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        let named = |e: Error| e.in_dataset(&self.path, &self.name);
        if !self.writable {
            return Err(named(Error::ReadOnly { path: self.path.clone(), mode: "r" }));
        }
        if self.epoch_shift != 0 {
            // Values are read moved to 1970; written back as they are, they would move again.
            return Err(named(Error::invalid(
                &self.path,
                "its CF times count from an epoch other than 1970-01-01; larder writes times \
                 only to datasets that count from 1970",
            )));
        }
        Region::inside(start, data.shape(), &self.shape)?;
        if data.is_empty() {
            return Ok(());
        }
        h5_typed!(T, write_as(&self.ds, start, data)).map_err(|e| named(herr(&self.path, e)))
    }

    fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|e| herr(&self.path, e))
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;
    use crate::select::Selection;

    #[test]
    fn create_write_read_round_trip_in_a_group() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.h5");
        let mut h = Hdf5Array::<i32>::create(&p, Some("/g/x"), &[5, 7], &[2, 3], Some(4)).unwrap();
        let data =
            ArrayD::from_shape_fn(IxDyn(&[2, 2]), |i| i32::try_from(i[0] * 2 + i[1]).unwrap());
        h.write_region(&[3, 5], &data.view()).unwrap();
        h.flush().unwrap();
        drop(h);
        let h = Hdf5Array::<i32>::open_at(&p, None).unwrap();
        assert_eq!(h.name(), "/g/x");
        assert_eq!(h.chunk_shape(), &[2, 3]);
        let got = h.read(&Selection::parse("3:,5:").unwrap()).unwrap();
        assert_eq!(got.to_owned(), data);
        assert_eq!(h.read(&Selection::all()).unwrap()[[0, 0]], 0);
    }

    #[test]
    fn staging_names_are_told_from_datasets() {
        assert!(is_staging("/.new.larder-tmp-123"));
        assert!(is_staging("/.a.b.larder-tmp-7"));
        for name in [
            "/new",
            "/.hidden",
            "/.new.larder-tmp-",
            "/.new.larder-tmp-12x",
            "/g/.new.larder-tmp-1",
            "/..larder-tmp-1",
        ] {
            assert!(!is_staging(name), "{name}");
        }
    }
}
