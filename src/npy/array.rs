//! [`MmapArray`]: a typed n-d array backed by a memory-mapped `.npy` file.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ndarray::{ArrayD, ArrayView, ArrayViewD, ArrayViewMutD, Dimension, IxDyn, ShapeBuilder};

use super::header::Header;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::select::Selection;
use crate::sys::{self, Access, Lock, Mapping};

/// How an array's file is opened; numpy's `mmap_mode` letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `r`: read-only.
    ReadOnly,
    /// `r+`: read and write in place; writes reach the file.
    ReadWrite,
    /// `w+`: a new zero-filled file of a given shape, read-write.
    Create,
    /// `c`: copy-on-write; writes stay in memory and the file never changes.
    CopyOnWrite,
}

impl Mode {
    /// numpy's letter for the mode: `r`, `r+`, `w+` or `c`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::ReadOnly => "r",
            Mode::ReadWrite => "r+",
            Mode::Create => "w+",
            Mode::CopyOnWrite => "c",
        }
    }

    /// True when the array's elements may be written.
    pub const fn is_writable(self) -> bool {
        !matches!(self, Mode::ReadOnly)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Memory order of the elements, as numpy's `order=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Row-major, last index fastest (`C`).
    #[default]
    C,
    /// Column-major, first index fastest (`F`, Fortran).
    F,
}

impl Order {
    /// `"C"` or `"F"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Order::C => "C",
            Order::F => "F",
        }
    }
}

/// A typed n-d array backed by a memory-mapped `.npy` file.
///
/// Opening validates the whole header and the file's length and maps the file; no data is read
/// until it is touched. [`view`](MmapArray::view) hands out a zero-copy [`ArrayViewD`] (slice it
/// with `ndarray::s!`), [`view_mut`](MmapArray::view_mut) a mutable one in the writable modes.
///
/// # Example
/// ```
/// use larder::MmapArray;
/// use ndarray::s;
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("a.npy");
/// let mut a = MmapArray::<f64>::create(&path, &[1000, 3])?; // zero-filled, sparse on disk
/// a.view_mut()?.slice_mut(s![10, ..]).fill(1.5);
/// a.close()?;
///
/// let a = MmapArray::<f64>::open(&path)?;
/// assert_eq!(a.shape(), &[1000, 3]);
/// assert_eq!(a.view()?.slice(s![10, 1]).into_scalar(), &1.5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MmapArray<T: Element> {
    pub(crate) path: PathBuf,
    // Kept open for the advisory lock, released when it is closed.
    pub(crate) file: File,
    pub(crate) map: Mapping,
    pub(crate) header: Header,
    pub(crate) mode: Mode,
    // Delta files over a copy-on-write array, bottom first (see `cow`). While they are not
    // applied, `map` shows the base alone and is never written or handed out whole.
    pub(crate) deltas: Vec<super::cow::Delta>,
    // The private clone with the deltas applied, made the first time the array's bytes are
    // needed in one piece (see `mapping`). Built whole before it is stored here, so no
    // reference into it exists while its pages are being replaced.
    pub(crate) applied: OnceLock<Mapping>,
    // How many runs of delta pages may be mapped separately before they are copied in
    // instead; `None`: the default of `cow::apply_deltas`.
    pub(crate) delta_run_limit: Option<usize>,
    // Rows (columns for Fortran order) per block of `ArrayRead::chunks`.
    blocks: Vec<usize>,
    _element: PhantomData<T>,
}

impl<T: Element> fmt::Debug for MmapArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MmapArray")
            .field("path", &self.path)
            .field("dtype", &self.header.dtype.typestr())
            .field("shape", &self.header.shape)
            .field("order", &self.order())
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl<T: Element> MmapArray<T> {
    /// Opens `path` read-only (numpy's `mmap_mode="r"`).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be opened (kind `NotFound` for a missing file,
    /// `IsADirectory` for a directory); [`Error::Locked`] if another handle has it open for
    /// writing; [`Error::Format`] and [`Error::UnsupportedDType`] for a bad header;
    /// [`Error::Truncated`] if the file is shorter than its shape needs; [`Error::Invalid`] for a
    /// FIFO, socket or device;
    /// [`Error::DTypeMismatch`] if the file does not hold `T`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_mode(path.as_ref(), Mode::ReadOnly)
    }

    /// Opens `path` for reading and writing in place (numpy's `mmap_mode="r+"`).
    ///
    /// # Errors
    /// As [`open`](MmapArray::open); the file must also be writable, and [`Error::Locked`] if
    /// any other handle has it open.
    pub fn open_mut(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_mode(path.as_ref(), Mode::ReadWrite)
    }

    /// Opens `path` copy-on-write (numpy's `mmap_mode="c"`): a private clone that costs nothing
    /// up front; writes stay in this process's memory and the file never changes.
    ///
    /// ```
    /// use larder::MmapArray;
    /// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
    /// # let base = dir.path().join("base.npy");
    /// # larder::write_npy(&base, &ndarray::Array1::<f64>::zeros(100_000))?;
    /// let mut clone = MmapArray::<f64>::open_cow(&base)?; // instant, whatever the size
    /// clone.view_mut()?[[3]] = 9.0; // the page holding it becomes private to this process
    /// assert_eq!(clone.get(&[3])?, 9.0);
    /// assert_eq!(MmapArray::<f64>::open(&base)?.get(&[3])?, 0.0); // the file never changes
    /// // Keep the writes: save_delta (a small file of pages), or materialize (a whole .npy).
    /// # Ok::<(), larder::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`open`](MmapArray::open).
    pub fn open_cow(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_mode(path.as_ref(), Mode::CopyOnWrite)
    }

    /// Creates (or overwrites, as numpy's `mode="w+"`) a zero-filled C-order array of `shape` at
    /// `path`. The data is a sparse hole until written, so creating a huge array is instant.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be created or sized; [`Error::Locked`] if another
    /// handle has it open; [`Error::Invalid`] if the shape's byte size overflows.
    pub fn create(path: impl AsRef<Path>, shape: &[usize]) -> Result<Self> {
        Self::create_with_order(path, shape, Order::C)
    }

    /// As [`create`](MmapArray::create), in the given memory order.
    ///
    /// # Errors
    /// As [`create`](MmapArray::create).
    pub fn create_with_order(
        path: impl AsRef<Path>,
        shape: &[usize],
        order: Order,
    ) -> Result<Self> {
        Self::create_header(path.as_ref(), DType::of::<T>(), shape, order)
    }

    /// As [`create`](MmapArray::create), the header declaring `dtype`: `T`'s element type in
    /// native order, saying more than `T` does (`<M8[ms]` for `i64` date-times).
    ///
    /// # Errors
    /// As [`create`](MmapArray::create); [`Error::DTypeMismatch`] if `dtype` is not `T`'s
    /// element type in native order.
    pub fn create_as(path: impl AsRef<Path>, shape: &[usize], dtype: DType) -> Result<Self> {
        let path = path.as_ref();
        if dtype.element() != T::TYPE || !dtype.is_native() {
            return Err(Error::DTypeMismatch {
                path: path.to_path_buf(),
                expected: DType::of::<T>().typestr(),
                found: dtype.typestr(),
            });
        }
        Self::create_header(path, dtype, shape, Order::C)
    }

    fn create_header(path: &Path, dtype: DType, shape: &[usize], order: Order) -> Result<Self> {
        crate::limits::check_numpy_size(shape, dtype.itemsize())
            .map_err(|e| Error::invalid(path, e))?;
        let header = Header::new(dtype, shape, order == Order::F);
        let data_len = header.data_len().ok_or_else(|| {
            Error::invalid(path, format!("shape {shape:?} is too large to store"))
        })?;
        let bytes = header.to_bytes();
        let file = sys::create_locked(path)?;
        let io = |e| Error::io(path, e);
        (&file).write_all(&bytes).map_err(io)?;
        file.set_len(bytes.len() as u64 + data_len).map_err(io)?;
        Self::from_file(path, file, Mode::Create)
    }

    fn open_mode(path: &Path, mode: Mode) -> Result<Self> {
        crate::fsutil::refuse_special_file(path)?;
        crate::fsutil::refuse_directory(path)?;
        let file = match mode {
            Mode::ReadWrite | Mode::Create => OpenOptions::new().read(true).write(true).open(path),
            Mode::ReadOnly | Mode::CopyOnWrite => File::open(path),
        }
        .map_err(|e| Error::io(path, e))?;
        let kind = if matches!(mode, Mode::ReadWrite | Mode::Create) {
            Lock::Exclusive
        } else {
            Lock::Shared
        };
        sys::lock(&file, path, kind)?;
        Self::from_file(path, file, mode)
    }

    pub(crate) fn from_file(path: &Path, file: File, mode: Mode) -> Result<Self> {
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            return Err(Error::format(path, 0, "empty file, not a .npy file"));
        }
        let map = match mode {
            Mode::ReadOnly => Mapping::read_only(&file, path)?,
            Mode::ReadWrite | Mode::Create => Mapping::read_write(&file, path)?,
            Mode::CopyOnWrite => Mapping::copy_on_write(&file, path)?,
        };
        let header = validate(path, map.bytes())?;
        if header.dtype.element() != T::TYPE {
            return Err(Error::DTypeMismatch {
                path: path.to_path_buf(),
                expected: DType::of::<T>().typestr(),
                found: header.dtype.typestr(),
            });
        }
        let blocks = crate::grid::contiguous_chunks(
            &header.shape,
            header.dtype.itemsize(),
            header.fortran_order,
        );
        Ok(MmapArray {
            path: path.to_path_buf(),
            file,
            map,
            header,
            mode,
            deltas: Vec::new(),
            applied: OnceLock::new(),
            delta_run_limit: None,
            blocks,
            _element: PhantomData,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mode it was opened with.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The stored dtype (its byte order may differ from the machine's).
    pub fn dtype(&self) -> DType {
        self.header.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.header.shape
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.header.shape.len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.header.shape.iter().product()
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Memory order of the stored data.
    pub fn order(&self) -> Order {
        if self.header.fortran_order { Order::F } else { Order::C }
    }

    /// The block shape [`ArrayRead::chunks`](crate::ArrayRead::chunks) walks the file in:
    /// whole rows (whole columns for Fortran order), about 4 MiB per block.
    pub fn block_shape(&self) -> &[usize] {
        &self.blocks
    }

    /// The data bytes as stored (header excluded), with the deltas the array was opened with
    /// applied.
    ///
    /// The 1-d array as `rows` elements long, whatever its header says, when its file holds
    /// them: what a reader told the row count by something other than the header (a dataset's
    /// manifest) sees while rows are appended to the file (after the data the header counts,
    /// which the header counts only once they are committed).
    ///
    /// # Errors
    /// [`Error::Invalid`] for an array that is not 1-d, has deltas, or whose file is too short.
    pub(crate) fn with_rows(mut self, rows: usize) -> Result<Self> {
        let need = rows
            .checked_mul(self.header.dtype.itemsize())
            .and_then(|n| n.checked_add(self.header.data_offset));
        let fits = need.is_some_and(|n| n <= self.map.bytes().len());
        if self.header.shape.len() != 1 || !self.deltas.is_empty() || !fits {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "holds shape {:?} in {} bytes, not {rows} rows",
                    self.header.shape,
                    self.map.bytes().len()
                ),
            ));
        }
        self.header.shape[0] = rows;
        self.blocks = crate::grid::contiguous_chunks(
            &self.header.shape,
            self.header.dtype.itemsize(),
            self.header.fortran_order,
        );
        Ok(self)
    }

    /// # Errors
    /// For an array opened with deltas, the errors of applying them (see
    /// [`open_with_deltas`](MmapArray::open_with_deltas)): [`Error::Format`] for a corrupt
    /// delta page, [`Error::Io`] if a mapping fails.
    pub fn data_bytes(&self) -> Result<&[u8]> {
        let start = self.header.data_offset;
        Ok(&self.mapping()?.bytes()[start..start + self.data_len()])
    }

    /// The mapping that shows the array: the file's own, or for an array opened with deltas
    /// the clone with them applied, made (every delta page checked first) on first use.
    pub(crate) fn mapping(&self) -> Result<&Mapping> {
        if self.deltas.is_empty() {
            return Ok(&self.map);
        }
        if let Some(m) = self.applied.get() {
            return Ok(m);
        }
        let m =
            super::cow::apply_deltas(&self.path, &self.file, &self.deltas, self.delta_run_limit)?;
        // If another thread stored one first, that one is kept and `m` is dropped unseen.
        let _ = self.applied.set(m);
        self.applied
            .get()
            .ok_or_else(|| Error::internal("applied mapping missing after it was stored"))
    }

    /// The mapping that shows the array if it exists already: `None` for an array whose
    /// deltas are not applied yet.
    pub(crate) fn current_mapping(&self) -> Option<&Mapping> {
        if self.deltas.is_empty() { Some(&self.map) } else { self.applied.get() }
    }

    fn mapping_mut(&mut self) -> Result<&mut Mapping> {
        self.mapping()?;
        if self.deltas.is_empty() {
            return Ok(&mut self.map);
        }
        self.applied
            .get_mut()
            .ok_or_else(|| Error::internal("applied mapping missing after it was stored"))
    }

    fn data_len(&self) -> usize {
        self.len() * self.header.dtype.itemsize()
    }

    /// Checks that the file still holds the data bytes `start..end` (offsets into the data)
    /// that it held when it was mapped. Another program may have cut it short since, and
    /// touching mapped pages past its new end raises `SIGBUS`; readers call this before
    /// touching each chunk, so a file cut before or between chunks is an error. It narrows the
    /// hazard to a cut during one chunk's read; it cannot close it (`docs/safety.md`).
    ///
    /// # Errors
    /// [`Error::Io`] (`UnexpectedEof`) naming the file, its length now and the bytes gone.
    pub(crate) fn check_not_shrunk(&self, start: usize, end: usize) -> Result<()> {
        if start >= end {
            return Ok(());
        }
        let need = (self.header.data_offset + end) as u64;
        let len = self.file.metadata().map_err(|e| Error::io(&self.path, e))?.len();
        if len >= need {
            return Ok(());
        }
        let from = (self.header.data_offset + start) as u64;
        Err(Error::io(
            &self.path,
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "file was cut to {len} bytes while mapped (another program truncated it); \
                     bytes {from}..{need} are gone"
                ),
            ),
        ))
    }

    fn shape_ix(&self) -> ndarray::StrideShape<IxDyn> {
        IxDyn(&self.header.shape).set_f(self.header.fortran_order).into()
    }

    fn check_native(&self) -> Result<()> {
        if self.header.dtype.is_native() {
            return Ok(());
        }
        Err(Error::NotViewable {
            path: self.path.clone(),
            reason: format!(
                "data is stored as {} but this machine is {}; use read_all() or read_slice() for \
                 a converted copy, or `larder copy` to rewrite the file",
                self.header.dtype.typestr(),
                self.header.dtype.to_native().typestr(),
            ),
        })
    }

    /// The elements in storage order, as stored (values are byte-swapped if the file's byte
    /// order is not native). Checks alignment, and for `bool` that every byte is 0 or 1.
    fn raw(&self) -> Result<&[T]> {
        let bytes = self.data_bytes()?;
        if bytes.is_empty() {
            return Ok(&[]);
        }
        bytemuck::checked::try_cast_slice(bytes).map_err(|e| self.cast_error(bytes, e))
    }

    fn cast_error(&self, bytes: &[u8], e: bytemuck::checked::CheckedCastError) -> Error {
        use bytemuck::checked::CheckedCastError;
        let reason = match e {
            CheckedCastError::InvalidBitPattern => {
                let at = bytes.iter().position(|&b| b > 1).unwrap_or(0);
                format!(
                    "bool element {at} (byte {}) is {}, not 0 or 1",
                    self.header.data_offset + at,
                    bytes[at]
                )
            }
            CheckedCastError::PodCastError(_) => format!(
                "data at byte offset {} is not aligned for {} ({}-byte alignment); read() copies it",
                self.header.data_offset,
                T::TYPE.name(),
                std::mem::align_of::<T>()
            ),
        };
        Error::NotViewable { path: self.path.clone(), reason }
    }

    /// A zero-copy view of the whole array, in its logical shape (Fortran-order files get
    /// Fortran strides).
    ///
    /// # Errors
    /// [`Error::NotViewable`] if the data is not in native byte order, not aligned for `T`, or
    /// (for `bool`) holds a byte other than 0 or 1. [`read_all`](MmapArray::read_all) handles the first
    /// two by copying.
    pub fn view(&self) -> Result<ArrayViewD<'_, T>> {
        self.check_native()?;
        let raw = self.raw()?;
        ArrayView::from_shape(self.shape_ix(), raw).map_err(|e| Error::internal(e.to_string()))
    }

    /// A zero-copy view with a fixed number of dimensions, e.g. `view_as::<Ix2>()`.
    ///
    /// # Errors
    /// As [`view`](MmapArray::view), and [`Error::Invalid`] if the rank differs.
    pub fn view_as<D: Dimension>(&self) -> Result<ArrayView<'_, T, D>> {
        let ndim = self.ndim();
        self.view()?
            .into_dimensionality::<D>()
            .map_err(|_| Error::invalid(&self.path, format!("array has {ndim} dimensions")))
    }

    /// A mutable zero-copy view. In mode `r+`/`w+` writes reach the file (after
    /// [`flush`](MmapArray::flush) or [`close`](MmapArray::close), or whenever the kernel writes
    /// them back); in mode `c` they stay private.
    ///
    /// **Memory.** Every page written through the view stays mapped in the process until the
    /// array is dropped: in mode `w+`/`r+` as dirty, then clean, page cache counted in its
    /// resident set (filling a 2 GiB array this way took `VmRSS` to 2 GiB), in mode `c` as
    /// private memory. To fill an array larger than memory, append rows with
    /// [`NpyWriter`](crate::NpyWriter)
    /// (bounded: its buffer and the kernel's writeback), or [`flush`](MmapArray::flush) and
    /// then release each filled block of the mapping as you go.
    ///
    /// ```
    /// use larder::{MmapArray, NpyWriter};
    /// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
    /// # let path = dir.path().join("big.npy");
    /// // Bounded memory, whatever the size: a block of rows at a time.
    /// let (rows, cols, block) = (100_000, 64, 8_192);
    /// let mut w = NpyWriter::<f32>::create(&path, &[cols])?;
    /// let mut buf = Vec::with_capacity(block * cols);
    /// for start in (0..rows).step_by(block) {
    ///     buf.clear();
    ///     for r in start..(start + block).min(rows) {
    ///         buf.extend((0..cols).map(|c| (r * cols + c) as f32));
    ///     }
    ///     w.append(&buf)?;
    /// }
    /// w.finish()?;
    ///
    /// // Small in-place edits are what `view_mut` is for.
    /// let mut a = MmapArray::<f32>::open_mut(&path)?;
    /// a.view_mut()?[[0, 0]] = -1.0;
    /// a.close()?; // flushes and reports a write-back error, where a drop could not
    /// assert_eq!(MmapArray::<f32>::open(&path)?.get(&[99_999, 63])?, 6_399_999.0);
    /// # Ok::<(), larder::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ReadOnly`] in mode `r`; otherwise as [`view`](MmapArray::view).
    pub fn view_mut(&mut self) -> Result<ArrayViewMutD<'_, T>> {
        if !self.mode.is_writable() {
            return Err(Error::ReadOnly { path: self.path.clone(), mode: self.mode.as_str() });
        }
        self.check_native()?;
        // Alignment and bool validity, with an error that points at the bad byte.
        self.raw()?;
        let shape = self.shape_ix();
        let (start, len) = (self.header.data_offset, self.data_len());
        let mode = self.mode.as_str();
        let path = self.path.clone();
        let Some(bytes) = self.mapping_mut()?.bytes_mut() else {
            return Err(Error::ReadOnly { path, mode });
        };
        let bytes = &mut bytes[start..start + len];
        let raw: &mut [T] = if bytes.is_empty() {
            &mut []
        } else {
            bytemuck::checked::try_cast_slice_mut(bytes)
                .map_err(|e| Error::invalid(&path, format!("{e}")))?
        };
        ArrayViewMutD::from_shape(shape, raw).map_err(|e| Error::internal(e.to_string()))
    }

    /// The elements in storage order as one slice (C or F order, as the file says).
    ///
    /// # Errors
    /// As [`view`](MmapArray::view).
    pub fn as_slice(&self) -> Result<&[T]> {
        self.check_native()?;
        self.raw()
    }

    /// A view of the stored elements without the byte-order check: `(view, swapped)` where
    /// `swapped` says every value must go through [`Element::swap_bytes`] to be correct.
    pub(crate) fn raw_view(&self) -> Result<(ArrayViewD<'_, T>, bool)> {
        let raw = self.raw()?;
        let view = ArrayView::from_shape(self.shape_ix(), raw)
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok((view, !self.header.dtype.is_native()))
    }

    /// An owned copy of the whole array in native byte order, whatever the file's byte order or
    /// alignment.
    ///
    /// # Errors
    /// [`Error::NotViewable`] for a `bool` byte other than 0 or 1.
    pub fn read_all(&self) -> Result<ArrayD<T>> {
        self.read_slice(&Selection::all())
    }

    /// An owned, native-order copy of the selected elements only (the rest is never touched).
    /// For an array opened with deltas that are not applied yet, a selection of up to 65,536
    /// elements is read element by element through the deltas' indexes, without applying them
    /// (see [`open_with_deltas`](MmapArray::open_with_deltas)).
    ///
    /// # Errors
    /// [`Error::Argument`] if the selection does not fit the shape; otherwise as
    /// [`read_all`](MmapArray::read_all).
    pub fn read_slice(&self, selection: &Selection) -> Result<ArrayD<T>> {
        let elems = selection.resolve(self.shape())?;
        if let Some(out) = self.read_lazily(&elems)? {
            return Ok(out);
        }
        match self.raw_view() {
            Ok((view, swapped)) => {
                let mut out = view.slice(elems.as_slice()).to_owned();
                if swapped {
                    out.mapv_inplace(Element::swap_bytes);
                }
                Ok(out)
            }
            Err(Error::NotViewable { .. }) if T::TYPE != crate::ElementType::Bool => {
                // Misaligned: decode element by element into aligned memory.
                let all = decode_unaligned::<T>(self.data_bytes()?, self.header.dtype);
                let arr = ArrayD::from_shape_vec(self.shape_ix(), all)
                    .map_err(|e| Error::internal(e.to_string()))?;
                Ok(arr.slice(elems.as_slice()).to_owned())
            }
            Err(e) => Err(e),
        }
    }

    /// One element, in native byte order. It is read on its own: only its page is touched,
    /// and for an array opened with deltas that are not applied yet the page is looked up in
    /// their indexes rather than applying them (see
    /// [`open_with_deltas`](MmapArray::open_with_deltas)).
    ///
    /// # Errors
    /// [`Error::Invalid`] if `index` does not have one in-bounds entry per dimension;
    /// [`Error::NotViewable`] for a `bool` byte other than 0 or 1; [`Error::Format`] if the
    /// element's page comes from a delta and does not match its checksum.
    pub fn get(&self, index: &[usize]) -> Result<T> {
        let shape = self.shape();
        if index.len() != shape.len() || index.iter().zip(shape).any(|(&i, &n)| i >= n) {
            return Err(Error::invalid(
                &self.path,
                format!("index {index:?} is out of bounds for shape {shape:?}"),
            ));
        }
        // Linear position in storage order: last axis fastest for C, first for Fortran.
        let mut linear = 0usize;
        let mut fold = |(&i, &n): (&usize, &usize)| linear = linear * n + i;
        if self.header.fortran_order {
            index.iter().zip(shape).rev().for_each(&mut fold);
        } else {
            index.iter().zip(shape).for_each(&mut fold);
        }
        let size = self.header.dtype.itemsize();
        let mut buf = [0u8; 32];
        let buf =
            buf.get_mut(..size).ok_or_else(|| Error::internal("element larger than its buffer"))?;
        self.stored_bytes(self.header.data_offset + linear * size, buf)?;
        let v: T =
            bytemuck::checked::try_pod_read_unaligned(buf).map_err(|_| Error::NotViewable {
                path: self.path.clone(),
                reason: format!(
                    "element {index:?} (byte {}) is {}, not a valid {}",
                    self.header.data_offset + linear * size,
                    buf[0],
                    T::TYPE.name()
                ),
            })?;
        Ok(if self.header.dtype.is_native() { v } else { v.swap_bytes() })
    }

    /// Hints the kernel how the data will be read (`madvise`).
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel refuses the hint.
    pub fn advise(&self, access: Access) -> Result<()> {
        let (start, len) = (self.header.data_offset, self.data_len());
        for m in std::iter::once(&self.map).chain(self.applied.get()) {
            m.advise(access, start, len).map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Bytes of the file that are in RAM right now (`mincore` over the mapping).
    ///
    /// # Errors
    /// [`Error::Io`] if `mincore` fails.
    pub fn resident_bytes(&self) -> Result<u64> {
        let map = self.current_mapping().unwrap_or(&self.map);
        map.resident_bytes().map_err(|e| Error::io(&self.path, e))
    }

    /// Drops this process's mapping of the data bytes `[offset, offset + len)` from its resident
    /// set (`MADV_DONTNEED`) after they have been read, so a streaming pass over a file larger
    /// than RAM keeps a small footprint. The data stays valid: it is read again if touched. A
    /// no-op for copy-on-write arrays, whose modified pages must not be discarded.
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel refuses.
    pub fn release_range(&self, offset: usize, len: usize) -> Result<()> {
        let start = self.header.data_offset + offset.min(self.data_len());
        let len = len.min(self.data_len() - offset.min(self.data_len()));
        self.map.release(start, len).map_err(|e| Error::io(&self.path, e))
    }

    /// Writes modified pages back to the file and waits for it (`msync`). A no-op in modes
    /// `r` and `c`.
    ///
    /// # Errors
    /// [`Error::Io`] if the write-back fails (e.g. the disk is full for a sparse file).
    pub fn flush(&self) -> Result<()> {
        self.map.flush().map_err(|e| Error::io(&self.path, e))
    }

    /// Flushes, unmaps and releases the file's lock, reporting any write-back error (dropping
    /// the array does the same but cannot report errors).
    ///
    /// # Errors
    /// As [`flush`](MmapArray::flush).
    pub fn close(self) -> Result<()> {
        self.flush()
    }
}

/// Validates the header and the data length of a whole `.npy` file in `bytes`.
pub(crate) fn validate(path: &Path, bytes: &[u8]) -> Result<Header> {
    let header = Header::parse(bytes).map_err(|e| e.at(path))?;
    check_length(path, header, bytes.len() as u64)
}

/// Checks that a file of `file_len` bytes holds all the data `header` promises.
fn check_length(path: &Path, header: Header, file_len: u64) -> Result<Header> {
    let needed = header.data_len().unwrap_or(u64::MAX);
    let available = file_len - header.data_offset as u64;
    if available < needed {
        return Err(Error::Truncated {
            path: path.to_path_buf(),
            shape: header.shape,
            dtype: header.dtype.typestr(),
            needed,
            available,
        });
    }
    Ok(header)
}

/// Decodes `bytes` of `dtype` into native values one element at a time, for data that is not
/// aligned for `T`. `T` must not be `bool` (single bytes are always aligned).
fn decode_unaligned<T: Element>(bytes: &[u8], dtype: DType) -> Vec<T> {
    let size = dtype.itemsize();
    bytes
        .chunks_exact(size)
        .map(|c| {
            let v: T = bytemuck::checked::try_pod_read_unaligned(c).unwrap_or_default();
            if dtype.is_native() { v } else { v.swap_bytes() }
        })
        .collect()
}

/// Reads and validates the header of the `.npy` file at `path` without mapping it.
///
/// # Errors
/// As [`MmapArray::open`], except that the element type is not checked.
pub fn read_header(path: impl AsRef<Path>) -> Result<Header> {
    use std::io::Read;
    let path = path.as_ref();
    crate::fsutil::refuse_special_file(path)?;
    crate::fsutil::refuse_directory(path)?;
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut head = vec![0u8; usize::try_from(len.min(12)).unwrap_or(12)];
    file.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
    // The header's own length field tells how much more to read; parse reports short reads.
    let total = match (head.get(6), head.len()) {
        (Some(1), 12) => 10 + usize::from(u16::from_le_bytes([head[8], head[9]])),
        (Some(2 | 3), 12) => {
            12 + u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize
        }
        _ => head.len(),
    };
    let total = total.min(usize::try_from(len).unwrap_or(usize::MAX));
    if total > head.len() {
        head.resize(total, 0);
        file.read_exact(&mut head[12..]).map_err(|e| Error::io(path, e))?;
    }
    let header = Header::parse(&head).map_err(|e| e.at(path))?;
    check_length(path, header, len)
}

/// Reads a whole `.npy` file into an owned array in native byte order.
///
/// # Errors
/// As [`MmapArray::open`] and [`MmapArray::read_all`].
pub fn read_npy<T: Element>(path: impl AsRef<Path>) -> Result<ArrayD<T>> {
    MmapArray::<T>::open(path)?.read_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Ix2, s};

    #[test]
    fn create_write_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let mut a = MmapArray::<i32>::create(&p, &[4, 5]).unwrap();
        a.view_mut().unwrap().slice_mut(s![1, ..]).assign(&ndarray::arr1(&[1, 2, 3, 4, 5]));
        a.close().unwrap();
        let a = MmapArray::<i32>::open(&p).unwrap();
        let v = a.view_as::<Ix2>().unwrap();
        assert_eq!(v.row(1).to_vec(), vec![1, 2, 3, 4, 5]);
        assert_eq!(v.row(0).sum(), 0);
        assert!(matches!(MmapArray::<f32>::open(&p), Err(Error::DTypeMismatch { .. })));
    }

    #[test]
    fn read_only_refuses_writes_and_writers_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        MmapArray::<u8>::create(&p, &[3]).unwrap().close().unwrap();
        let mut r = MmapArray::<u8>::open(&p).unwrap();
        assert!(matches!(r.view_mut(), Err(Error::ReadOnly { .. })));
        assert!(MmapArray::<u8>::open_mut(&p).is_err());
        drop(r);
        let _w = MmapArray::<u8>::open_mut(&p).unwrap();
        assert!(MmapArray::<u8>::open(&p).is_err());
    }

    #[test]
    fn cow_writes_do_not_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        MmapArray::<f64>::create(&p, &[10]).unwrap().close().unwrap();
        let mut c = MmapArray::<f64>::open_cow(&p).unwrap();
        c.view_mut().unwrap()[[3]] = 9.0;
        assert_eq!(c.view().unwrap()[[3]], 9.0);
        c.close().unwrap();
        assert_eq!(read_npy::<f64>(&p).unwrap()[[3]], 0.0);
    }
}
