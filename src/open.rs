//! Opening what is at a location: [`Place`] (a local path or `s3://bucket/key`, told apart
//! once), [`Location`] (`FILE` or `FILE:/inner/path`), format detection from the contents, and
//! [`AnyStore`], the one enum over element types, with
//! [`store_dispatch!`](crate::store_dispatch). This is the only module that lists the backends.

use std::fmt;
use std::path::Path;

use crate::dtype::{DType, Element, ElementType};
use crate::error::{Error, Result};
use crate::npy::MmapArray;
use crate::remote::{ObjectUrl, S3Options, scheme_of};
use crate::store::{ArrayRead, Attributes, Format};

/// A boxed store of element type `T`, as [`open`] hands out per element type.
pub type DynStore<T> = Box<dyn ArrayRead<T> + Send + Sync>;

/// Any [`ArrayRead`] whose element type is learnt from the file at run time. Match on it (or
/// use [`store_dispatch!`](crate::store_dispatch)) to get the typed store.
#[allow(missing_docs)]
pub enum AnyStore {
    Bool(DynStore<bool>),
    U8(DynStore<u8>),
    U16(DynStore<u16>),
    U32(DynStore<u32>),
    U64(DynStore<u64>),
    I8(DynStore<i8>),
    I16(DynStore<i16>),
    I32(DynStore<i32>),
    I64(DynStore<i64>),
    F16(DynStore<half::f16>),
    F32(DynStore<f32>),
    F64(DynStore<f64>),
    C64(DynStore<num_complex::Complex<f32>>),
    C128(DynStore<num_complex::Complex<f64>>),
}

impl fmt::Debug for AnyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyStore")
            .field("format", &self.format())
            .field("dtype", &self.dtype().typestr())
            .field("shape", &self.shape())
            .finish()
    }
}

/// Applies `$body` to the typed store (`&mut Box<dyn ArrayRead<T>>` or `&…`) inside an
/// [`AnyStore`]; within `$body` the element type is available as `T` only through inference.
/// `store_dispatch!(any, s => body, complex s => other)` runs `other` for the two complex
/// types, for generic code that needs real numbers.
#[macro_export]
macro_rules! store_dispatch {
    ($any:expr, $a:ident => $body:expr) => {
        $crate::store_dispatch!($any, $a => $body, complex $a => $body)
    };
    ($any:expr, $a:ident => $body:expr, complex $c:ident => $complex:expr) => {
        match $any {
            $crate::AnyStore::Bool($a) => $body,
            $crate::AnyStore::U8($a) => $body,
            $crate::AnyStore::U16($a) => $body,
            $crate::AnyStore::U32($a) => $body,
            $crate::AnyStore::U64($a) => $body,
            $crate::AnyStore::I8($a) => $body,
            $crate::AnyStore::I16($a) => $body,
            $crate::AnyStore::I32($a) => $body,
            $crate::AnyStore::I64($a) => $body,
            $crate::AnyStore::F16($a) => $body,
            $crate::AnyStore::F32($a) => $body,
            $crate::AnyStore::F64($a) => $body,
            $crate::AnyStore::C64($c) => $complex,
            $crate::AnyStore::C128($c) => $complex,
        }
    };
}

#[cfg(feature = "s3")]
#[path = "open/object.rs"]
mod object;
#[cfg(not(feature = "s3"))]
#[path = "open/no_object.rs"]
mod object;

/// The [`AnyStore`] variant that holds stores of `Self`.
pub(crate) trait IntoAny: Element {
    fn into_any(store: DynStore<Self>) -> AnyStore;
}

macro_rules! into_any {
    ($($variant:ident $t:ty),*) => {$(
        impl IntoAny for $t {
            fn into_any(store: DynStore<Self>) -> AnyStore {
                AnyStore::$variant(store)
            }
        }
    )*};
}
into_any!(Bool bool, U8 u8, U16 u16, U32 u32, U64 u64, I8 i8, I16 i16, I32 i32, I64 i64,
    F16 half::f16, F32 f32, F64 f64, C64 num_complex::Complex<f32>, C128 num_complex::Complex<f64>);

impl AnyStore {
    /// The storage format.
    pub fn format(&self) -> Format {
        store_dispatch!(self, a => a.format())
    }
    /// The stored dtype.
    pub fn dtype(&self) -> DType {
        store_dispatch!(self, a => a.dtype())
    }
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        store_dispatch!(self, a => a.shape())
    }
    /// The chunk shape.
    pub fn chunk_shape(&self) -> &[usize] {
        store_dispatch!(self, a => a.chunk_shape())
    }
    /// The attributes.
    ///
    /// # Errors
    /// As [`ArrayRead::attributes`].
    pub fn attributes(&self) -> Result<Attributes> {
        store_dispatch!(self, a => a.attributes())
    }
}

/// Where an array lives: on the local file system, or in object storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A local file or directory.
    Local(Location),
    /// An object or prefix in object storage (`s3://bucket/key`).
    Object(ObjectUrl),
}

impl Place {
    /// The one place where a location's text is told apart: a text with a scheme (`name://`)
    /// is object storage and never a local path; anything else is a [`Location`].
    ///
    /// # Errors
    /// [`Error::Remote`] naming the text for an unknown scheme or a malformed `s3://` location.
    pub fn parse(text: &Path) -> Result<Place> {
        let s = text.to_string_lossy();
        if let Some(e) = crate::remote::near_miss(&s) {
            return Err(e);
        }
        if scheme_of(&s).is_some() {
            return ObjectUrl::parse(&s).map(Place::Object);
        }
        Ok(Place::Local(Location::parse(text)))
    }

    /// True for object storage.
    pub fn is_object(&self) -> bool {
        matches!(self, Place::Object(_))
    }
}

/// Where an array lives: a file or directory and, for container formats, the path of the array
/// inside it (`data.h5:/group/name`, `store.zarr:/group/name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file (npy, hdf5) or directory (zarr).
    pub file: std::path::PathBuf,
    /// The path inside the container, `None` for the whole file or the root array.
    pub inner: Option<String>,
}

impl Location {
    /// Splits `FILE:/inner` when `FILE` exists (or, for a new array, when it names an `.h5`,
    /// `.hdf5` or `.zarr` path); any other text is a plain path.
    pub fn parse(text: impl AsRef<Path>) -> Location {
        let text = text.as_ref();
        let s = text.to_string_lossy();
        if !text.exists()
            && let Some(pos) = s.rfind(":/")
        {
            let (file, inner) = (&s[..pos], &s[pos + 1..]);
            let fp = Path::new(file);
            if fp.exists() || guess_format(fp).is_some() {
                return Location { file: fp.to_path_buf(), inner: Some(inner.to_string()) };
            }
        }
        Location { file: text.to_path_buf(), inner: None }
    }
}

/// The format a new file at `path` gets, from its extension: `.npy`, `.zarr`, `.h5`/`.hdf5`.
pub fn guess_format(path: impl AsRef<Path>) -> Option<Format> {
    let path = path.as_ref();
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "npy" => Some(Format::Npy),
        "zarr" => Some(Format::Zarr),
        "h5" | "hdf5" | "he5" | "nc" => Some(Format::Hdf5),
        _ => None,
    }
}

/// The format of the existing file or directory at `path`, from its contents.
///
/// # Errors
/// [`Error::Io`] if it cannot be read; [`Error::Argument`] if it is none of npy, Zarr, HDF5.
pub fn detect_format(path: impl AsRef<Path>) -> Result<Format> {
    use std::io::Read;
    let path = path.as_ref();
    refuse_object(path)?;
    crate::fsutil::refuse_special_file(path)?;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        let zarr = ["zarr.json", ".zarray", ".zgroup"].iter().any(|f| path.join(f).exists());
        if zarr {
            return Ok(Format::Zarr);
        }
        return Err(Error::invalid(
            path,
            "directory holds no zarr.json, .zarray or .zgroup; not a Zarr array",
        ));
    }
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let n = f.read(&mut head).map_err(|e| Error::io(path, e))?;
    if head[..n].starts_with(b"\x93NUMPY") {
        Ok(Format::Npy)
    } else if head[..n].starts_with(b"\x89HDF\r\n\x1a\n") {
        Ok(Format::Hdf5)
    } else {
        Err(Error::format(path, 0, "not an .npy file, Zarr array or HDF5 file (unknown magic)"))
    }
}

/// Refuses a location with a scheme where only a local path will do.
///
/// # Errors
/// [`Error::Remote`] naming `path` when it has a scheme.
pub(crate) fn refuse_object(path: &Path) -> Result<()> {
    let s = path.to_string_lossy();
    if let Some(e) = crate::remote::near_miss(&s) {
        return Err(e);
    }
    match scheme_of(&s) {
        Some(_) => {
            ObjectUrl::parse(&s)?;
            Err(Error::remote(s, "an object-storage location, where a local path is needed"))
        }
        None => Ok(()),
    }
}

/// Opens the array at `path` read-only, detecting its format (`.npy`, Zarr v2/v3 directory, HDF5
/// file) and element type. Inside a container, name the array as `FILE:/group/name`. An
/// `s3://bucket/key` location is opened with [`S3Options::current`] (see [`open_object`]).
///
/// ```
/// use larder::{AnyStore, ArrayRead, Selection};
/// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
/// # let path = dir.path().join("t.npy");
/// larder::write_npy(&path, &ndarray::arr2(&[[1i32, 2, 3], [4, 5, 6]]))?;
/// let any = larder::open(&path)?;
/// assert_eq!((any.format().as_str(), any.shape(), any.dtype().typestr()), ("npy", &[2, 3][..], "<i4".to_string()));
/// // The element type is known at run time: match it (or use `larder::store_dispatch!`).
/// let AnyStore::I32(a) = any else { panic!("not int32") };
/// assert_eq!(a.read(&Selection::parse("1, ::2")?)?.to_owned().into_raw_vec_and_offset().0, [4, 6]);
/// # Ok::<(), larder::Error>(())
/// ```
///
/// # Errors
/// As the backend's `open`; [`Error::Argument`] for an unrecognised format, and
/// [`Error::Unsupported`] for HDF5 when larder was built without the `hdf5` feature;
/// [`Error::Remote`] for object storage (see [`open_object`]).
pub fn open(path: impl AsRef<Path>) -> Result<AnyStore> {
    let loc = match Place::parse(path.as_ref())? {
        Place::Local(loc) => loc,
        Place::Object(url) => return open_object(&url, &S3Options::current()),
    };
    let format = detect_format(&loc.file)?;
    let element = match format {
        Format::Npy => crate::npy::read_header(&loc.file)?.dtype.element(),
        Format::Zarr => crate::zarr::element_of(&loc.file, loc.inner.as_deref())?,
        Format::Hdf5 => hdf5_element(&loc)?,
        Format::Memory => return Err(Error::internal("format detection found a memory store")),
    };
    crate::dtype::dispatch_element!(element, T => Ok(T::into_any(open_typed::<T>(&loc, format)?)))
}

/// Opens the array at an object-storage location read-only: an `.npy` object (read with
/// ranged requests) or a Zarr hierarchy under the prefix (`s3://bucket/a.zarr[:/group/x]`).
///
/// # Errors
/// [`Error::Remote`] naming the location when larder was built without the `s3` feature, when
/// nothing is there, or when a request fails for good; as the backends' `open`.
pub fn open_object(url: &ObjectUrl, options: &S3Options) -> Result<AnyStore> {
    let element = object::element_of(url, options)?;
    crate::dtype::dispatch_element!(element, T => {
        Ok(T::into_any(object::open_typed::<T>(url, options)?))
    })
}

/// Facts of an object-storage location that its store does not give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectFacts {
    /// Bytes stored: the object, or every object under the prefix.
    pub bytes: u64,
    /// For Zarr: the format version and, when sharded, the inner chunk shape.
    pub zarr: Option<(u8, Option<Vec<usize>>)>,
}

/// [`ObjectFacts`] of `url`.
///
/// # Errors
/// As [`open_object`].
pub(crate) fn object_facts(url: &ObjectUrl, options: &S3Options) -> Result<ObjectFacts> {
    object::facts(url, options)
}

/// A read-only zarrs storage handle for the Zarr hierarchy at `path`: a local directory, or
/// an `s3://bucket/prefix` (what [`crate::ops::group::describe_group`] and
/// [`crate::ops::group::group_to_dataset`] take).
///
/// # Errors
/// [`Error::Storage`] for a local directory zarrs cannot use; [`Error::Remote`] for an
/// unknown scheme or a build without the `s3` feature.
pub fn read_storage(path: impl AsRef<Path>) -> Result<crate::zarr::group::ReadStorage> {
    match Place::parse(path.as_ref())? {
        Place::Local(loc) => {
            let store = zarrs::filesystem::FilesystemStore::new(&loc.file)
                .map_err(|e| Error::Storage { path: loc.file.clone(), reason: e.to_string() })?;
            Ok(std::sync::Arc::new(store))
        }
        Place::Object(url) => object::read_storage(&url, &S3Options::current()),
    }
}

#[cfg(feature = "hdf5")]
fn hdf5_element(loc: &Location) -> Result<ElementType> {
    crate::hdf5::element_of(&loc.file, loc.inner.as_deref())
}

#[cfg(not(feature = "hdf5"))]
fn hdf5_element(_loc: &Location) -> Result<ElementType> {
    Err(Error::Unsupported("HDF5 (larder was built without the `hdf5` feature)"))
}

fn open_typed<T: Element>(loc: &Location, format: Format) -> Result<DynStore<T>> {
    Ok(match format {
        Format::Npy => {
            if loc.inner.is_some() {
                return Err(Error::invalid(
                    &loc.file,
                    "an .npy file holds one array; drop the ':/…' part",
                ));
            }
            Box::new(MmapArray::<T>::open(&loc.file)?)
        }
        Format::Zarr => {
            Box::new(crate::zarr::ZarrArray::<T>::open_at(&loc.file, loc.inner.as_deref())?)
        }
        #[cfg(feature = "hdf5")]
        Format::Hdf5 => {
            Box::new(crate::hdf5::Hdf5Array::<T>::open_at(&loc.file, loc.inner.as_deref())?)
        }
        _ => return Err(Error::Unsupported("HDF5 (larder was built without the `hdf5` feature)")),
    })
}

/// Opens the `.npy` at `base` with the delta files `deltas` applied in order (each saved over
/// the one before it, the first over `base`), as [`MmapArray::open_with_deltas`], whatever its
/// element type. With no deltas, as [`open`] of an `.npy`.
///
/// # Errors
/// As [`MmapArray::open_with_deltas`]; [`Error::Invalid`] if `base` is not an `.npy` file.
pub fn open_with_deltas<P: AsRef<Path>>(base: impl AsRef<Path>, deltas: &[P]) -> Result<AnyStore> {
    let base = base.as_ref();
    if detect_format(base)? != Format::Npy {
        return Err(Error::invalid(base, "deltas apply to .npy files only"));
    }
    let element = crate::npy::read_header(base)?.dtype.element();
    crate::dtype::dispatch_element!(element, T => {
        let a: DynStore<T> = Box::new(MmapArray::<T>::open_with_deltas(base, deltas)?);
        Ok(T::into_any(a))
    })
}

/// Opens the array at `path` read-only as element type `T`.
///
/// ```
/// use larder::{ArrayRead, ArrayWrite, Selection, ZarrArray, ZarrOptions, compute};
/// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
/// # let path = dir.path().join("t.zarr");
/// let mut options = ZarrOptions::new();
/// options.chunks(&[10, 10]);
/// let mut z = ZarrArray::<f32>::create(&path, None, &[40, 10], &options)?;
/// z.write_region(&[0, 0], &ndarray::ArrayD::from_elem(ndarray::IxDyn(&[40, 10]), 0.5f32).view())?;
///
/// let a = larder::open_as::<f32>(&path)?; // any format; the element type must be f32
/// assert_eq!(a.read(&Selection::parse("10:13, 5:8")?)?.sum(), 4.5);
/// assert_eq!(compute::summary(&a.chunk_source()?)?.count, 400);
/// let wrong = larder::open_as::<f64>(&path).err().unwrap();
/// assert!(matches!(wrong, larder::Error::DTypeMismatch { .. }));
/// # Ok::<(), larder::Error>(())
/// ```
///
/// # Errors
/// As [`open`], and [`Error::DTypeMismatch`] when the array does not hold `T`.
pub fn open_as<T: Element>(path: impl AsRef<Path>) -> Result<DynStore<T>> {
    let loc = match Place::parse(path.as_ref())? {
        Place::Local(loc) => loc,
        Place::Object(url) => return object::open_typed::<T>(&url, &S3Options::current()),
    };
    let format = detect_format(&loc.file)?;
    open_typed::<T>(&loc, format)
}
