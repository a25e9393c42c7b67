//! Arrays: a memory-mapped `.npy` lent to numpy through `__array_interface__` (the mapping's
//! address; numpy keeps this object as the view's `base`, so the mapping lives as long as any
//! view of it), and any other store (Zarr, HDF5, object storage) read region by region.
//!
//! Why `__array_interface__` and not rust-numpy: it needs no numpy C API at build time, so one
//! abi3 wheel serves every numpy from 1.26 on, and numpy itself enforces the read-only flag
//! (a read-only view cannot be made writable: its base offers no writable buffer).

use std::path::{Path, PathBuf};

use larder::ndarray::SliceInfoElem;
use larder::npy::Header;
use larder::select::Item;
use larder::{AnyStore, ArrayRead, DeltaReport, Element, MaterializeReport, MmapArray};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyDict, PyTuple};

use crate::errors::IntoPy;

/// What the binding needs of a mapped `.npy`, whatever its element type.
trait Npy: Send + Sync {
    fn header(&self) -> &Header;
    fn data(&self) -> larder::Result<&[u8]>;
    fn writable_address(&mut self) -> larder::Result<usize>;
    fn resident_bytes(&self) -> larder::Result<u64>;
    fn private_bytes(&self) -> larder::Result<u64>;
    fn save_delta(&self, path: &Path) -> larder::Result<DeltaReport>;
    fn materialize(&self, path: &Path) -> larder::Result<MaterializeReport>;
    fn flush(&self) -> larder::Result<()>;
}

impl<T: Element> Npy for MmapArray<T> {
    fn header(&self) -> &Header {
        MmapArray::header(self)
    }
    fn data(&self) -> larder::Result<&[u8]> {
        self.data_bytes()
    }
    fn writable_address(&mut self) -> larder::Result<usize> {
        Ok(self.view_mut()?.as_mut_ptr() as usize)
    }
    fn resident_bytes(&self) -> larder::Result<u64> {
        MmapArray::resident_bytes(self)
    }
    fn private_bytes(&self) -> larder::Result<u64> {
        MmapArray::private_bytes(self)
    }
    fn save_delta(&self, path: &Path) -> larder::Result<DeltaReport> {
        MmapArray::save_delta(self, path)
    }
    fn materialize(&self, path: &Path) -> larder::Result<MaterializeReport> {
        MmapArray::materialize(self, path)
    }
    fn flush(&self) -> larder::Result<()> {
        MmapArray::flush(self)
    }
}

fn open_typed<T: Element>(
    path: &Path,
    mode: &str,
    deltas: &[PathBuf],
) -> larder::Result<Box<dyn Npy>> {
    let a = match (mode, deltas.is_empty()) {
        ("r", true) => MmapArray::<T>::open(path)?,
        ("r+", true) => MmapArray::<T>::open_mut(path)?,
        ("c", true) => MmapArray::<T>::open_cow(path)?,
        ("r" | "c", false) => MmapArray::<T>::open_with_deltas(path, deltas)?,
        _ => {
            return Err(larder::Error::Argument(format!(
                "mode {mode:?} with deltas: deltas open read-only (\"r\") or copy-on-write (\"c\")"
            )));
        }
    };
    Ok(Box::new(a))
}

/// Runs `$body` with `$T` the Rust type of the element type `$element`.
macro_rules! by_element {
    ($element:expr, $T:ident => $body:expr) => {{
        use larder::ElementType as E;
        match $element {
            E::Bool => {
                type $T = bool;
                $body
            }
            E::U8 => {
                type $T = u8;
                $body
            }
            E::U16 => {
                type $T = u16;
                $body
            }
            E::U32 => {
                type $T = u32;
                $body
            }
            E::U64 => {
                type $T = u64;
                $body
            }
            E::I8 => {
                type $T = i8;
                $body
            }
            E::I16 => {
                type $T = i16;
                $body
            }
            E::I32 => {
                type $T = i32;
                $body
            }
            E::I64 => {
                type $T = i64;
                $body
            }
            E::F16 => {
                type $T = larder::f16;
                $body
            }
            E::F32 => {
                type $T = f32;
                $body
            }
            E::F64 => {
                type $T = f64;
                $body
            }
            E::C64 => {
                type $T = larder::Complex<f32>;
                $body
            }
            E::C128 => {
                type $T = larder::Complex<f64>;
                $body
            }
        }
    }};
}

fn open_npy(path: &Path, mode: &str, deltas: &[PathBuf]) -> larder::Result<Box<dyn Npy>> {
    let element = larder::read_header(path)?.dtype.element();
    by_element!(element, T => open_typed::<T>(path, mode, deltas))
}

/// A dataset column's values (not for string columns) and validity, mapped read-only with the
/// manifest's row count, as larder's `Column::values` and `Column::validity` check them.
#[pyfunction]
pub(crate) fn open_column(
    py: Python<'_>,
    path: PathBuf,
    name: &str,
) -> PyResult<(Option<RawArray>, Option<RawArray>)> {
    let raw = |array: Box<dyn Npy>, file: PathBuf| RawArray {
        backing: Backing::Npy { array, writable: None },
        path: file.to_string_lossy().into_owned(),
        mode: "r".to_string(),
    };
    py.detach(|| {
        let ds = larder::dataset::Dataset::open(&path)?;
        let column = ds.column(name)?;
        let values = if column.kind() == larder::dataset::ColumnKind::String {
            None
        } else {
            let element = column.element()?;
            let array: Box<dyn Npy> = by_element!(element, T => Box::new(column.values::<T>()?));
            Some(raw(array, column.file()))
        };
        let validity = match (column.validity()?, column.validity_file()) {
            (Some(v), Some(file)) => Some(raw(Box::new(v), file)),
            _ => None,
        };
        Ok((values, validity))
    })
    .py_err()
}

enum Backing {
    /// A mapped `.npy`, with the address numpy may write through (modes `r+` and `c`) or the
    /// reason it may not (data in the other byte order or misaligned).
    Npy { array: Box<dyn Npy>, writable: Option<Result<usize, String>> },
    /// Any other store, read region by region.
    Store(AnyStore),
}

/// An opened array (the Python `larder.Array` wraps it).
#[pyclass(frozen, module = "larder._larder")]
pub(crate) struct RawArray {
    backing: Backing,
    #[pyo3(get)]
    path: String,
    #[pyo3(get)]
    mode: String,
}

fn native_typestr(dtype: larder::DType) -> String {
    let t = dtype.typestr();
    let native = if cfg!(target_endian = "little") { '<' } else { '>' };
    match t.chars().next() {
        Some('<' | '>') => format!("{native}{}", &t[1..]),
        _ => t,
    }
}

/// `open_array(path, mode, deltas)`: a mapped `.npy` in mode `r`, `r+` or `c` (with delta
/// files applied), or any other array larder opens, read-only.
#[pyfunction]
#[pyo3(signature = (path, mode = "r", deltas = Vec::new()))]
pub(crate) fn open_array(
    py: Python<'_>,
    path: PathBuf,
    mode: &str,
    deltas: Vec<PathBuf>,
) -> PyResult<RawArray> {
    if !matches!(mode, "r" | "r+" | "c") {
        return Err(PyValueError::new_err(format!(
            "mode {mode:?}: use \"r\" (read-only), \"r+\" (in place) or \"c\" (copy-on-write)"
        )));
    }
    let text = path.to_string_lossy().into_owned();
    let backing = py
        .detach(|| -> larder::Result<Backing> {
            let local_npy = match larder::Place::parse(&path)? {
                larder::Place::Local(loc) => {
                    loc.inner.is_none() && larder::detect_format(&loc.file)? == larder::Format::Npy
                }
                larder::Place::Object(_) => false,
            };
            if local_npy {
                let mut array = open_npy(&path, mode, &deltas)?;
                let writable =
                    (mode != "r").then(|| array.writable_address().map_err(|e| e.to_string()));
                return Ok(Backing::Npy { array, writable });
            }
            if mode != "r" || !deltas.is_empty() {
                return Err(larder::Error::Argument(format!(
                    "{text}: modes \"r+\" and \"c\" and deltas are for mapped .npy files; \
                     other arrays open read-only (mode \"r\")"
                )));
            }
            Ok(Backing::Store(larder::open(&path)?))
        })
        .py_err()?;
    Ok(RawArray { backing, path: text, mode: mode.to_string() })
}

/// `materialize(base, deltas, out)`: the base with its deltas applied, as a plain `.npy`.
#[pyfunction]
pub(crate) fn materialize<'py>(
    py: Python<'py>,
    base: PathBuf,
    deltas: Vec<PathBuf>,
    out: PathBuf,
) -> PyResult<Bound<'py, PyDict>> {
    let r = py.detach(|| open_npy(&base, "r", &deltas)?.materialize(&out)).py_err()?;
    let d = PyDict::new(py);
    d.set_item("method", r.method.as_str())?;
    d.set_item("bytes", r.bytes)?;
    d.set_item("patched_pages", r.patched_pages)?;
    Ok(d)
}

fn not_npy(what: &str) -> PyErr {
    PyTypeError::new_err(format!("{what} is for memory-mapped .npy arrays"))
}

#[pymethods]
impl RawArray {
    /// `npy`, `zarr` or `hdf5`.
    #[getter]
    fn format(&self) -> &'static str {
        match &self.backing {
            Backing::Npy { .. } => "npy",
            Backing::Store(s) => s.format().as_str(),
        }
    }

    /// The shape.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        match &self.backing {
            Backing::Npy { array, .. } => PyTuple::new(py, &array.header().shape),
            Backing::Store(s) => PyTuple::new(py, s.shape()),
        }
    }

    /// The numpy typestr of the values as numpy sees them (the file's byte order for a mapped
    /// `.npy`, native for the others, which are decoded).
    #[getter]
    fn typestr(&self) -> String {
        match &self.backing {
            Backing::Npy { array, .. } => array.header().dtype.typestr(),
            Backing::Store(s) => native_typestr(s.dtype()),
        }
    }

    /// The storage chunk shape.
    #[getter]
    fn chunks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        match &self.backing {
            Backing::Npy { array, .. } => {
                // One chunk: the file is mapped whole.
                PyTuple::new(py, &array.header().shape)
            }
            Backing::Store(s) => PyTuple::new(py, s.chunk_shape()),
        }
    }

    /// True when the mapped file is stored in Fortran (column-major) order.
    #[getter]
    fn fortran_order(&self) -> bool {
        matches!(&self.backing, Backing::Npy { array, .. } if array.header().fortran_order)
    }

    /// Bytes of the mapping that are in RAM now (0 for stores that decode).
    fn resident_bytes(&self) -> PyResult<u64> {
        match &self.backing {
            Backing::Npy { array, .. } => array.resident_bytes().py_err(),
            Backing::Store(_) => Ok(0),
        }
    }

    /// Bytes a copy-on-write array owns: the pages written since it was opened.
    fn dirty_bytes(&self) -> PyResult<u64> {
        match &self.backing {
            Backing::Npy { array, .. } if self.mode == "c" => array.private_bytes().py_err(),
            Backing::Npy { .. } => Ok(0),
            Backing::Store(_) => Err(not_npy("dirty_bytes")),
        }
    }

    /// Saves the pages written to a copy-on-write array as a delta file.
    fn save_delta<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let Backing::Npy { array, .. } = &self.backing else {
            return Err(not_npy("save_delta"));
        };
        let r = py.detach(|| array.save_delta(&path)).py_err()?;
        let d = PyDict::new(py);
        d.set_item("pages", r.pages)?;
        d.set_item("bytes", r.bytes)?;
        d.set_item("depth", r.depth)?;
        Ok(d)
    }

    /// Writes the array (with its deltas and, for copy-on-write, its unsaved writes' pages as
    /// stored) to a plain `.npy`.
    fn materialize<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let Backing::Npy { array, .. } = &self.backing else {
            return Err(not_npy("materialize"));
        };
        let r = py.detach(|| array.materialize(&path)).py_err()?;
        let d = PyDict::new(py);
        d.set_item("method", r.method.as_str())?;
        d.set_item("bytes", r.bytes)?;
        d.set_item("patched_pages", r.patched_pages)?;
        Ok(d)
    }

    /// Writes the changes of an `r+` array back to the file.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        match &self.backing {
            Backing::Npy { array, .. } => py.detach(|| array.flush()).py_err(),
            Backing::Store(_) => Ok(()),
        }
    }

    /// `(address, length)` of the mapped data, for checks that a view lies inside it.
    fn address_range(&self, py: Python<'_>) -> PyResult<(usize, usize)> {
        let Backing::Npy { array, .. } = &self.backing else {
            return Err(not_npy("address_range"));
        };
        let data = py.detach(|| array.data().map(|d| (d.as_ptr() as usize, d.len()))).py_err()?;
        Ok(data)
    }

    /// numpy's array interface over the mapping: the view numpy makes keeps this object alive.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let Backing::Npy { array, writable } = &self.backing else {
            return Err(not_npy("a zero-copy view"));
        };
        let header = array.header();
        let (address, readonly) = match writable {
            None => (py.detach(|| array.data().map(|d| d.as_ptr() as usize)).py_err()?, true),
            Some(Ok(address)) => (*address, false),
            Some(Err(reason)) => {
                return Err(crate::errors::named(
                    "NotViewableError",
                    format!(
                        "{reason} (from Python: mode \"r\" lends it read-only in place, numpy \
                         reads either byte order)"
                    ),
                ));
            }
        };
        let d = PyDict::new(py);
        d.set_item("version", 3)?;
        d.set_item("shape", PyTuple::new(py, &header.shape)?)?;
        d.set_item("typestr", header.dtype.typestr())?;
        d.set_item("data", (address, readonly))?;
        if header.fortran_order && header.shape.len() > 1 {
            let mut strides = Vec::with_capacity(header.shape.len());
            let mut step = header.dtype.itemsize();
            for &n in &header.shape {
                strides.push(step);
                step = step.saturating_mul(n);
            }
            d.set_item("strides", PyTuple::new(py, strides)?)?;
        } else {
            d.set_item("strides", py.None())?;
        }
        Ok(d)
    }

    /// Reads a selection (a list of items: an int, a `(start, stop, step)` tuple of
    /// ints or Nones, `...` or None for a new axis) into `(bytearray, typestr, shape)`;
    /// chunked stores read only the chunks under it.
    fn read<'py>(
        &self,
        py: Python<'py>,
        items: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyByteArray>, String, Vec<usize>)> {
        let selection = larder::Selection::new(items.iter().map(to_item).collect::<PyResult<_>>()?);
        let Backing::Store(store) = &self.backing else {
            return Err(not_npy("read") /* numpy indexes mapped arrays itself */);
        };
        let read = || larder::store_dispatch!(store, s => read_bytes(s.as_ref(), &selection));
        // A large read runs off this thread, so that Ctrl-C stops it between its pieces; a
        // small one (most indexing) is not worth a worker thread and a pool.
        let elements = selection
            .result_shape(store.shape())
            .map_or(usize::MAX, |s| s.iter().fold(1usize, |n, &d| n.saturating_mul(d)));
        let (bytes, shape) = if elements.saturating_mul(store.dtype().itemsize()) > PIECE_BYTES {
            crate::cancel::run_quiet(py, read)?
        } else {
            py.detach(read).py_err()?
        };
        Ok((PyByteArray::new(py, &bytes), native_typestr(store.dtype()), shape))
    }
}

fn to_item(o: &Bound<'_, PyAny>) -> PyResult<Item> {
    if o.is_none() {
        return Ok(Item::NewAxis);
    }
    if o.is(o.py().Ellipsis()) {
        return Ok(Item::Ellipsis);
    }
    if let Ok((start, stop, step)) = o.extract::<(Option<i64>, Option<i64>, Option<i64>)>() {
        return Ok(Item::Slice { start, stop, step });
    }
    if let Ok(i) = o.extract::<i64>() {
        return Ok(Item::Index(i));
    }
    Err(PyTypeError::new_err(format!(
        "larder selections take ints, slices, ... and None, not {}",
        o.get_type().name()?
    )))
}

/// The bytes a large selection is read in at a time (about; whole rows of its first array
/// axis, as many storage chunks as fit), so that a cancellation stops it between pieces.
const PIECE_BYTES: usize = 16 << 20;

/// The selection's elements in C order as native bytes, with their shape: read in pieces of
/// about [`PIECE_BYTES`] along the first array axis when it is a forward slice, checking for
/// cancellation between pieces.
fn read_bytes<T: Element>(
    store: &(dyn ArrayRead<T> + Send + Sync),
    selection: &larder::Selection,
) -> larder::Result<(Vec<u8>, Vec<usize>)> {
    let shape = store.shape();
    let elems = selection.resolve(shape)?;
    // The result axis of the first array axis: after the new axes (of length 1) before it, so
    // the pieces' bytes, one after the other, are the whole selection's in C order.
    let Some(k) = elems.iter().position(|e| !matches!(e, SliceInfoElem::NewAxis)) else {
        return read_piece(store, selection);
    };
    let SliceInfoElem::Slice { start, end: Some(end), step } = elems[k] else {
        return read_piece(store, selection);
    };
    let (Ok(start), Ok(end), Ok(step)) =
        (usize::try_from(start), usize::try_from(end), usize::try_from(step))
    else {
        return read_piece(store, selection);
    };
    if step == 0 || end <= start {
        return read_piece(store, selection);
    }
    let row_bytes = shape.iter().skip(1).product::<usize>().max(1) * size_of::<T>();
    let rows = (end - start).div_ceil(step);
    if rows.saturating_mul(row_bytes) <= 2 * PIECE_BYTES {
        return read_piece(store, selection);
    }
    // Pieces of selected rows; with step 1 they end on chunk boundaries (no chunk is decoded
    // twice).
    let per_piece = (PIECE_BYTES / row_bytes).max(1);
    let mut pieces = Vec::new();
    if step == 1 {
        let chunk = store.chunk_shape().first().copied().unwrap_or(1).max(1);
        let span = per_piece.div_ceil(chunk) * chunk;
        let mut r = start;
        while r < end {
            let next = ((r / span + 1) * span).min(end);
            pieces.push((r, next));
            r = next;
        }
    } else {
        let mut j = 0;
        while j < rows {
            let j1 = (j + per_piece).min(rows);
            pieces.push((start + j * step, start + (j1 - 1) * step + 1));
            j = j1;
        }
    }
    let mut bytes = Vec::with_capacity(rows * row_bytes);
    let mut out_shape = Vec::new();
    for (lo, hi) in pieces {
        larder::Cancel::check_current()?;
        let mut items: Vec<Item> = elems.iter().map(|&e| Item::from(e)).collect();
        let as_i64 = |v: usize| {
            i64::try_from(v).map_err(|_| larder::Error::Internal("a row past i64".into()))
        };
        items[k] = Item::Slice {
            start: Some(as_i64(lo)?),
            stop: Some(as_i64(hi)?),
            step: Some(as_i64(step)?),
        };
        let (b, s) = read_piece(store, &larder::Selection::new(items))?;
        bytes.extend_from_slice(&b);
        if out_shape.is_empty() {
            out_shape = s;
        } else if let (Some(total), Some(n)) = (out_shape.get_mut(k), s.get(k)) {
            *total += n;
        }
    }
    Ok((bytes, out_shape))
}

/// One selection read at once.
fn read_piece<T: Element>(
    store: &(dyn ArrayRead<T> + Send + Sync),
    selection: &larder::Selection,
) -> larder::Result<(Vec<u8>, Vec<usize>)> {
    let block = store.read(selection)?;
    let shape = block.shape().to_vec();
    let standard = block.as_standard_layout();
    let values = standard
        .as_slice()
        .ok_or_else(|| larder::Error::Internal("a standard-layout array has no slice".into()))?;
    Ok((bytemuck::cast_slice::<T, u8>(values).to_vec(), shape))
}
