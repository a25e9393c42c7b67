//! [`ArrayStore`]: the one typed array API that every storage backend serves.
//!
//! A memory-mapped `.npy` file ([`MmapArray`]), a Zarr array ([`ZarrArray`](crate::ZarrArray)),
//! an HDF5 dataset (with the `hdf5` feature) and an in-memory [`MemStore`] all answer the same
//! questions (shape, dtype, chunk shape, attributes) and move data the same way: a rectangular
//! region or a numpy-style [`Selection`] in, a [`CowArray`] out. A backend whose data already sits
//! in memory in native form (the mapped `.npy`) lends a view (`CowArray::Borrowed`, zero-copy);
//! the others decode into an owned array.
//!
//! [`ArrayStore::chunks`] walks the array in chunk-aligned blocks in storage order, so an
//! out-of-core algorithm touches each stored chunk once and holds one block at a time.
//!
//! ```
//! use larder::{ArrayStore, Selection, ZarrArray, ZarrOptions};
//! use ndarray::{ArrayD, IxDyn};
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("t.zarr");
//! // A Zarr v3 array of 1000 x 10 float32 in chunks of 100 x 10 (zstd by default).
//! let mut options = ZarrOptions::new();
//! options.chunks(&[100, 10]);
//! let mut z = ZarrArray::<f32>::create(&path, None, &[1000, 10], &options)?;
//! z.write_region(&[200, 0], &ArrayD::from_elem(IxDyn(&[100, 10]), 1.5f32).view())?;
//!
//! // Open whatever is at a path; the format and element type come from the files.
//! let any = larder::open(&path)?;
//! assert_eq!((any.format().as_str(), any.shape()), ("zarr", &[1000, 10][..]));
//!
//! // Typed access: a numpy-style selection, and an out-of-core pass over the chunks.
//! let z = larder::open_as::<f32>(&path)?;
//! let row = z.read(&Selection::parse("250,::3")?)?;
//! assert_eq!(row.iter().copied().collect::<Vec<_>>(), vec![1.5; 4]);
//! let mut total = 0.0;
//! for chunk in z.chunks() {
//!     total += chunk?.data.sum();
//! }
//! assert_eq!(total, 1500.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn, SliceInfoElem};
use serde_json::{Map, Value};

use crate::array::{MmapArray, Mode};
use crate::dtype::{DType, Element, ElementType};
use crate::error::{Error, Result};
use crate::select::Selection;

/// JSON attributes of an array or group (Zarr `attributes`, HDF5 attributes).
pub type Attributes = Map<String, Value>;

/// The storage format behind an [`ArrayStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// A numpy `.npy` file, memory-mapped.
    Npy,
    /// A Zarr v2 or v3 array (a directory).
    Zarr,
    /// A dataset in an HDF5 file.
    Hdf5,
    /// Held in memory only.
    Memory,
}

impl Format {
    /// `npy`, `zarr`, `hdf5` or `memory`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Npy => "npy",
            Format::Zarr => "zarr",
            Format::Hdf5 => "hdf5",
            Format::Memory => "memory",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed n-d array in some storage: the interface every backend implements.
///
/// Backends implement the region primitives [`read_region`](ArrayStore::read_region) and
/// [`write_region`](ArrayStore::write_region); selections and chunk iteration are built on them.
/// Values always come out in native byte order.
pub trait ArrayStore<T: Element> {
    /// The storage format.
    fn format(&self) -> Format;

    /// The shape.
    fn shape(&self) -> &[usize];

    /// The stored dtype (its byte order is the one on disk; values read are native).
    fn dtype(&self) -> DType;

    /// The shape of one storage chunk: the unit that is read, decoded or written at once. For a
    /// contiguous array it is a block of whole rows (columns, for Fortran order).
    fn chunk_shape(&self) -> &[usize];

    /// The array's attributes (empty where the format has none).
    ///
    /// # Errors
    /// Backend read errors.
    fn attributes(&self) -> Result<Attributes> {
        Ok(Attributes::new())
    }

    /// The elements of the box at `start` with extent `shape`, in native byte order.
    ///
    /// # Errors
    /// [`Error::Argument`] if the box does not fit the array; backend read and decode errors.
    fn read_region(&self, start: &[usize], shape: &[usize]) -> Result<CowArray<'_, T, IxDyn>>;

    /// Writes `data` into the box that starts at `start` and has `data`'s shape.
    ///
    /// # Errors
    /// [`Error::ReadOnly`] if the array was opened read-only; [`Error::Argument`] if the box does
    /// not fit; backend write errors.
    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()>;

    /// Makes every write so far durable in storage.
    ///
    /// # Errors
    /// Backend write errors.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Lets go of memory that holds data already read or written (page-cache pages a mapping
    /// keeps resident), so a streaming pass keeps a small footprint. Data stays valid.
    ///
    /// # Errors
    /// Backend errors.
    fn release(&self) -> Result<()> {
        Ok(())
    }

    /// The elements a numpy-style selection picks, in native byte order. Only the bounding box
    /// of the selection is read from storage.
    ///
    /// # Errors
    /// [`Error::Argument`] if the selection does not fit the shape; as
    /// [`read_region`](ArrayStore::read_region).
    fn read(&self, selection: &Selection) -> Result<CowArray<'_, T, IxDyn>> {
        let (start, shape, rel) = bounding_box(selection, self.shape())?;
        let block = self.read_region(&start, &shape)?;
        Ok(slice_cow(block, &rel))
    }

    /// Writes `data` into the elements a selection picks. The selection may hold indices and
    /// step-1 slices; `data` must have the selection's result shape.
    ///
    /// # Errors
    /// [`Error::Argument`] for other selections or a shape mismatch; as
    /// [`write_region`](ArrayStore::write_region).
    fn write(&mut self, selection: &Selection, data: &ArrayViewD<'_, T>) -> Result<()> {
        let (start, shape) = write_box(selection, self.shape())?;
        let want = selection.result_shape(self.shape())?;
        if data.shape() != want.as_slice() {
            return Err(Error::argument(format!(
                "selection {selection} has shape {want:?}, data has shape {:?}",
                data.shape()
            )));
        }
        let data = data.as_standard_layout();
        let boxed = data
            .view()
            .into_shape_with_order(IxDyn(&shape))
            .map_err(|e| Error::argument(format!("data of shape {:?}: {e}", data.shape())))?;
        self.write_region(&start, &boxed)
    }

    /// The chunk-aligned blocks of the array in storage order (C order over the chunk grid),
    /// each with its position. Blocks at the array's edges are clipped to it.
    fn chunks(&self) -> Chunks<'_, T, Self>
    where
        Self: Sized,
    {
        Chunks::new(self, self.chunk_shape())
    }
}

/// A boxed store is a store, so `larder::open_as` results have every provided method.
impl<T: Element, S: ArrayStore<T> + ?Sized> ArrayStore<T> for Box<S> {
    fn format(&self) -> Format {
        (**self).format()
    }
    fn shape(&self) -> &[usize] {
        (**self).shape()
    }
    fn dtype(&self) -> DType {
        (**self).dtype()
    }
    fn chunk_shape(&self) -> &[usize] {
        (**self).chunk_shape()
    }
    fn attributes(&self) -> Result<Attributes> {
        (**self).attributes()
    }
    fn read_region(&self, start: &[usize], shape: &[usize]) -> Result<CowArray<'_, T, IxDyn>> {
        (**self).read_region(start, shape)
    }
    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        (**self).write_region(start, data)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn release(&self) -> Result<()> {
        (**self).release()
    }
    fn read(&self, selection: &Selection) -> Result<CowArray<'_, T, IxDyn>> {
        (**self).read(selection)
    }
    fn write(&mut self, selection: &Selection, data: &ArrayViewD<'_, T>) -> Result<()> {
        (**self).write(selection, data)
    }
}

/// One block of an array from [`ArrayStore::chunks`]: a contiguous, native-order array and where
/// it sits.
#[derive(Debug)]
pub struct Chunk<'a, T: Element> {
    /// Index of the chunk in the chunk grid.
    pub index: Vec<usize>,
    /// Array coordinates of the block's first element.
    pub origin: Vec<usize>,
    /// The values (borrowed from a mapping where possible).
    pub data: CowArray<'a, T, IxDyn>,
}

/// Iterator over the chunk-aligned blocks of an [`ArrayStore`]; see [`ArrayStore::chunks`].
pub struct Chunks<'a, T: Element, S: ArrayStore<T> + ?Sized> {
    store: &'a S,
    grid: ChunkGrid,
    next: Option<Vec<usize>>,
    _t: std::marker::PhantomData<T>,
}

impl<'a, T: Element, S: ArrayStore<T> + ?Sized> Chunks<'a, T, S> {
    /// Blocks of `store` of shape `block` (any block shape, not only the storage chunk shape).
    pub fn new(store: &'a S, block: &[usize]) -> Self {
        let grid = ChunkGrid::new(store.shape(), block);
        let next = grid.first();
        Chunks { store, grid, next, _t: std::marker::PhantomData }
    }

    /// Number of blocks in all.
    pub fn len(&self) -> usize {
        self.grid.count()
    }

    /// True for an array with no elements.
    pub fn is_empty(&self) -> bool {
        self.grid.count() == 0
    }
}

impl<'a, T: Element, S: ArrayStore<T> + ?Sized> Iterator for Chunks<'a, T, S> {
    type Item = Result<Chunk<'a, T>>;

    fn next(&mut self) -> Option<Self::Item> {
        let index = self.next.take()?;
        self.next = self.grid.after(&index);
        let (origin, shape) = self.grid.region(&index);
        Some(self.store.read_region(&origin, &shape).map(|data| Chunk { index, origin, data }))
    }
}

/// A regular grid of blocks over a shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkGrid {
    shape: Vec<usize>,
    block: Vec<usize>,
}

impl ChunkGrid {
    /// The grid of `block`-shaped blocks over `shape` (zero block sizes count as one).
    pub fn new(shape: &[usize], block: &[usize]) -> ChunkGrid {
        let block =
            shape.iter().zip(block.iter().chain(std::iter::repeat(&1))).map(|(_, &b)| b.max(1));
        ChunkGrid { shape: shape.to_vec(), block: block.collect() }
    }

    /// Blocks along each axis.
    pub fn grid_shape(&self) -> Vec<usize> {
        self.shape.iter().zip(&self.block).map(|(&n, &b)| n.div_ceil(b)).collect()
    }

    /// Number of blocks (1 for a 0-d array, 0 for an empty one).
    pub fn count(&self) -> usize {
        self.grid_shape().iter().product()
    }

    fn first(&self) -> Option<Vec<usize>> {
        (self.count() > 0).then(|| vec![0; self.shape.len()])
    }

    fn after(&self, index: &[usize]) -> Option<Vec<usize>> {
        let grid = self.grid_shape();
        let mut next = index.to_vec();
        for axis in (0..next.len()).rev() {
            next[axis] += 1;
            if next[axis] < grid[axis] {
                return Some(next);
            }
            next[axis] = 0;
        }
        None
    }

    /// Origin and (edge-clipped) shape of the block at `index`.
    pub fn region(&self, index: &[usize]) -> (Vec<usize>, Vec<usize>) {
        let origin: Vec<usize> = index.iter().zip(&self.block).map(|(&i, &b)| i * b).collect();
        let shape = origin
            .iter()
            .zip(&self.block)
            .zip(&self.shape)
            .map(|((&o, &b), &n)| b.min(n - o))
            .collect();
        (origin, shape)
    }

    /// Indices of every block that intersects the box `start`/`shape`, in C order.
    pub fn touching(&self, start: &[usize], shape: &[usize]) -> Vec<Vec<usize>> {
        if shape.contains(&0) {
            return Vec::new();
        }
        let lo: Vec<usize> = start.iter().zip(&self.block).map(|(&s, &b)| s / b).collect();
        let hi: Vec<usize> = start
            .iter()
            .zip(shape)
            .zip(&self.block)
            .map(|((&s, &n), &b)| (s + n - 1) / b)
            .collect();
        let mut out = Vec::new();
        let mut cur = lo.clone();
        loop {
            out.push(cur.clone());
            let mut axis = cur.len();
            loop {
                if axis == 0 {
                    return out;
                }
                axis -= 1;
                if cur[axis] < hi[axis] {
                    cur[axis] += 1;
                    break;
                }
                cur[axis] = lo[axis];
            }
        }
    }
}

/// Checks that the box `start`/`shape` lies inside `array`.
pub(crate) fn check_box(array: &[usize], start: &[usize], shape: &[usize]) -> Result<()> {
    let fits = start.len() == array.len()
        && shape.len() == array.len()
        && array
            .iter()
            .zip(start)
            .zip(shape)
            .all(|((&n, &s), &k)| s.checked_add(k).is_some_and(|end| end <= n));
    if fits {
        Ok(())
    } else {
        Err(Error::argument(format!(
            "region at {start:?} of shape {shape:?} does not fit an array of shape {array:?}"
        )))
    }
}

/// The bounding box of a selection, and the slice of that box that gives the selection.
fn bounding_box(
    selection: &Selection,
    shape: &[usize],
) -> Result<(Vec<usize>, Vec<usize>, Vec<SliceInfoElem>)> {
    let elems = selection.resolve(shape)?;
    let (mut start, mut extent, mut rel) = (Vec::new(), Vec::new(), Vec::new());
    for e in elems {
        match e {
            SliceInfoElem::Index(i) => {
                start.push(i.unsigned_abs());
                extent.push(1);
                rel.push(SliceInfoElem::Index(0));
            }
            SliceInfoElem::Slice { start: s, end, step } => {
                let (s, end) = (s.unsigned_abs(), end.unwrap_or(0).unsigned_abs());
                let n = end.saturating_sub(s);
                start.push(if n == 0 { 0 } else { s });
                extent.push(n);
                rel.push(SliceInfoElem::Slice {
                    start: 0,
                    end: Some(isize::try_from(n).unwrap_or(isize::MAX)),
                    step,
                });
            }
            SliceInfoElem::NewAxis => rel.push(SliceInfoElem::NewAxis),
        }
    }
    Ok((start, extent, rel))
}

/// The box a writable selection (indices and step-1 slices) covers.
fn write_box(selection: &Selection, shape: &[usize]) -> Result<(Vec<usize>, Vec<usize>)> {
    let (start, extent, rel) = bounding_box(selection, shape)?;
    for e in &rel {
        match e {
            SliceInfoElem::Slice { step: 1, .. } | SliceInfoElem::Index(_) => {}
            _ => {
                return Err(Error::argument(format!(
                    "selection {selection}: only indices and step-1 slices can be written"
                )));
            }
        }
    }
    Ok((start, extent))
}

fn slice_cow<'a, T: Element>(
    block: CowArray<'a, T, IxDyn>,
    rel: &[SliceInfoElem],
) -> CowArray<'a, T, IxDyn> {
    let trivial = rel.iter().zip(block.shape()).all(|(e, &n)| {
        matches!(e, SliceInfoElem::Slice { start: 0, end: Some(end), step: 1 } if end.unsigned_abs() == n)
    }) && rel.len() == block.ndim();
    if trivial {
        return block;
    }
    // Slicing a copy-on-write array keeps it borrowed when it was borrowed.
    block.slice_move(rel)
}

/// An array held in memory: a reference backend for tests and a staging area.
#[derive(Clone, Debug, PartialEq)]
pub struct MemStore<T: Element> {
    data: ArrayD<T>,
    chunks: Vec<usize>,
    attributes: Attributes,
}

impl<T: Element> MemStore<T> {
    /// Wraps `data`, reporting `chunks` as its chunk shape.
    ///
    /// # Errors
    /// [`Error::Argument`] if `chunks` has a different rank from `data`.
    pub fn new(data: ArrayD<T>, chunks: &[usize]) -> Result<Self> {
        if chunks.len() != data.ndim() {
            return Err(Error::argument(format!(
                "chunk shape {chunks:?} does not match an array of shape {:?}",
                data.shape()
            )));
        }
        let chunks = chunks.iter().map(|&c| c.max(1)).collect();
        let data =
            if data.is_standard_layout() { data } else { data.as_standard_layout().into_owned() };
        Ok(MemStore { data, chunks, attributes: Map::new() })
    }

    /// The attributes, for setting.
    pub fn attributes_mut(&mut self) -> &mut Attributes {
        &mut self.attributes
    }

    /// The data.
    pub fn data(&self) -> &ArrayD<T> {
        &self.data
    }
}

impl<T: Element> ArrayStore<T> for MemStore<T> {
    fn format(&self) -> Format {
        Format::Memory
    }
    fn shape(&self) -> &[usize] {
        self.data.shape()
    }
    fn dtype(&self) -> DType {
        DType::of::<T>()
    }
    fn chunk_shape(&self) -> &[usize] {
        &self.chunks
    }
    fn attributes(&self) -> Result<Attributes> {
        Ok(self.attributes.clone())
    }
    fn read_region(&self, start: &[usize], shape: &[usize]) -> Result<CowArray<'_, T, IxDyn>> {
        check_box(self.data.shape(), start, shape)?;
        Ok(CowArray::from(self.data.slice(box_slice(start, shape).as_slice())))
    }
    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        check_box(self.data.shape(), start, data.shape())?;
        self.data.slice_mut(box_slice(start, data.shape()).as_slice()).assign(data);
        Ok(())
    }
}

/// The `ndarray` slice of the box `start`/`shape`.
pub(crate) fn box_slice(start: &[usize], shape: &[usize]) -> Vec<SliceInfoElem> {
    start
        .iter()
        .zip(shape)
        .map(|(&s, &n)| SliceInfoElem::Slice {
            start: isize::try_from(s).unwrap_or(isize::MAX),
            end: Some(isize::try_from(s + n).unwrap_or(isize::MAX)),
            step: 1,
        })
        .collect()
}

/// Target size of one block when a contiguous array is walked in chunks.
pub(crate) const NPY_BLOCK_BYTES: usize = 4 << 20;

/// Rows per block for a C-order (or columns for F-order) array of `shape`.
pub(crate) fn contiguous_chunks(shape: &[usize], itemsize: usize, fortran: bool) -> Vec<usize> {
    let mut out = shape.to_vec();
    if shape.is_empty() {
        return out;
    }
    let axis = if fortran { shape.len() - 1 } else { 0 };
    let rest: usize = shape
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != axis)
        .map(|(_, &n)| n)
        .product::<usize>()
        .max(1);
    let per = (NPY_BLOCK_BYTES / (rest.saturating_mul(itemsize)).max(1)).max(1);
    out[axis] = shape[axis].min(per).max(1);
    out
}

impl<T: Element> ArrayStore<T> for MmapArray<T> {
    fn format(&self) -> Format {
        Format::Npy
    }
    fn shape(&self) -> &[usize] {
        MmapArray::shape(self)
    }
    fn dtype(&self) -> DType {
        MmapArray::dtype(self)
    }
    fn chunk_shape(&self) -> &[usize] {
        self.block_shape()
    }

    /// Zero-copy (`CowArray::Borrowed`) when the file is in native byte order and aligned.
    fn read_region(&self, start: &[usize], shape: &[usize]) -> Result<CowArray<'_, T, IxDyn>> {
        check_box(MmapArray::shape(self), start, shape)?;
        let sl = box_slice(start, shape);
        match self.view() {
            Ok(v) => Ok(CowArray::from(v.slice_move(sl.as_slice()))),
            Err(Error::NotViewable { .. }) => {
                let sel = Selection::new(
                    start
                        .iter()
                        .zip(shape)
                        .map(|(&s, &n)| crate::select::Item::Slice {
                            start: Some(i64::try_from(s).unwrap_or(i64::MAX)),
                            stop: Some(i64::try_from(s + n).unwrap_or(i64::MAX)),
                            step: None,
                        })
                        .collect(),
                );
                Ok(CowArray::from(self.read_slice(&sel)?))
            }
            Err(e) => Err(e),
        }
    }

    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        check_box(MmapArray::shape(self), start, data.shape())?;
        if self.mode() == Mode::ReadOnly {
            return Err(Error::ReadOnly { path: self.path().to_path_buf(), mode: "r" });
        }
        let sl = box_slice(start, data.shape());
        self.view_mut()?.slice_mut(sl.as_slice()).assign(data);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        MmapArray::flush(self)
    }

    fn release(&self) -> Result<()> {
        if self.mode() == Mode::CopyOnWrite {
            return Ok(());
        }
        MmapArray::release(self, 0, usize::MAX)
    }
}

/// A copy-on-write layer over another store: writes go to an overlay of whole chunks held in
/// memory (memory grows with the chunks touched, not with the array), reads see the overlay
/// first, and [`save`](Overlay::save) writes only the modified chunks back.
#[derive(Debug)]
pub struct Overlay<T: Element, S: ArrayStore<T>> {
    base: S,
    grid: ChunkGrid,
    chunks: Vec<usize>,
    modified: BTreeMap<Vec<usize>, ArrayD<T>>,
}

impl<T: Element, S: ArrayStore<T>> Overlay<T, S> {
    /// A copy-on-write layer over `base`, with `base`'s chunk shape as its unit.
    pub fn new(base: S) -> Self {
        let chunks = base.chunk_shape().to_vec();
        let grid = ChunkGrid::new(base.shape(), &chunks);
        Overlay { base, grid, chunks, modified: BTreeMap::new() }
    }

    /// Grid indices of the chunks written so far, in C order.
    pub fn modified_chunks(&self) -> Vec<Vec<usize>> {
        self.modified.keys().cloned().collect()
    }

    /// Bytes held by the overlay.
    pub fn overlay_bytes(&self) -> usize {
        self.modified.values().map(|a| a.len() * std::mem::size_of::<T>()).sum()
    }

    /// Throws away every modification.
    pub fn discard(&mut self) {
        self.modified.clear();
    }

    /// Writes the modified chunks into the base store (which must be writable) and flushes it;
    /// returns how many chunks were written. Untouched chunks are neither read nor written.
    ///
    /// # Errors
    /// As the base store's [`write_region`](ArrayStore::write_region) and
    /// [`flush`](ArrayStore::flush).
    pub fn save(&mut self) -> Result<usize> {
        let n = self.modified.len();
        for (index, data) in &self.modified {
            let (origin, _) = self.grid.region(index);
            self.base.write_region(&origin, &data.view())?;
        }
        self.base.flush()?;
        self.modified.clear();
        Ok(n)
    }

    /// The base store.
    pub fn base(&self) -> &S {
        &self.base
    }

    /// Gives back the base store, dropping unsaved modifications.
    pub fn into_base(self) -> S {
        self.base
    }
}

impl<T: Element, S: ArrayStore<T>> ArrayStore<T> for Overlay<T, S> {
    fn format(&self) -> Format {
        self.base.format()
    }
    fn shape(&self) -> &[usize] {
        self.base.shape()
    }
    fn dtype(&self) -> DType {
        self.base.dtype()
    }
    fn chunk_shape(&self) -> &[usize] {
        &self.chunks
    }
    fn attributes(&self) -> Result<Attributes> {
        self.base.attributes()
    }

    fn read_region(&self, start: &[usize], shape: &[usize]) -> Result<CowArray<'_, T, IxDyn>> {
        check_box(self.shape(), start, shape)?;
        let touched: Vec<_> = self
            .grid
            .touching(start, shape)
            .into_iter()
            .filter(|i| self.modified.contains_key(i))
            .collect();
        let base = self.base.read_region(start, shape)?;
        if touched.is_empty() {
            return Ok(base);
        }
        let mut out = base.into_owned();
        for index in touched {
            let (origin, cshape) = self.grid.region(&index);
            let (src, dst) = intersect(&origin, &cshape, start, shape);
            if let Some(chunk) = self.modified.get(&index) {
                out.slice_mut(dst.as_slice()).assign(&chunk.slice(src.as_slice()));
            }
        }
        Ok(CowArray::from(out))
    }

    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        check_box(self.shape(), start, data.shape())?;
        for index in self.grid.touching(start, data.shape()) {
            let (origin, cshape) = self.grid.region(&index);
            if !self.modified.contains_key(&index) {
                let current = self.base.read_region(&origin, &cshape)?.into_owned();
                self.modified.insert(index.clone(), current);
            }
            let (dst, src) = intersect(&origin, &cshape, start, data.shape());
            if let Some(chunk) = self.modified.get_mut(&index) {
                chunk.slice_mut(dst.as_slice()).assign(&data.slice(src.as_slice()));
            }
        }
        Ok(())
    }
}

/// The intersection of box A and box B as slices relative to A and to B.
pub(crate) fn intersect(
    a_start: &[usize],
    a_shape: &[usize],
    b_start: &[usize],
    b_shape: &[usize],
) -> (Vec<SliceInfoElem>, Vec<SliceInfoElem>) {
    let mut ra = Vec::new();
    let mut rb = Vec::new();
    for axis in 0..a_start.len() {
        let lo = a_start[axis].max(b_start[axis]);
        let hi = (a_start[axis] + a_shape[axis]).min(b_start[axis] + b_shape[axis]).max(lo);
        ra.push((lo - a_start[axis], hi - lo));
        rb.push((lo - b_start[axis], hi - lo));
    }
    let to = |v: Vec<(usize, usize)>| {
        let (s, n): (Vec<usize>, Vec<usize>) = v.into_iter().unzip();
        box_slice(&s, &n)
    };
    (to(ra), to(rb))
}

/// A boxed store of element type `T`, as [`open`] hands out per element type.
pub type DynStore<T> = Box<dyn ArrayStore<T> + Send + Sync>;

/// Any [`ArrayStore`] whose element type is learnt from the file at run time. Match on it (or
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

/// Applies `$body` to the typed store (`&mut Box<dyn ArrayStore<T>>` or `&…`) inside an
/// [`AnyStore`]; within `$body` the element type is available as `T` only through inference.
#[macro_export]
macro_rules! store_dispatch {
    ($any:expr, $a:ident => $body:expr) => {
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
            $crate::AnyStore::C64($a) => $body,
            $crate::AnyStore::C128($a) => $body,
        }
    };
}

/// Builds an [`AnyStore`] by calling `$make::<T>()` with the Rust type of `$element`.
macro_rules! for_element {
    ($element:expr, $make:ident ( $($arg:expr),* )) => {
        match $element {
            ElementType::Bool => AnyStore::Bool($make::<bool>($($arg),*)?),
            ElementType::U8 => AnyStore::U8($make::<u8>($($arg),*)?),
            ElementType::U16 => AnyStore::U16($make::<u16>($($arg),*)?),
            ElementType::U32 => AnyStore::U32($make::<u32>($($arg),*)?),
            ElementType::U64 => AnyStore::U64($make::<u64>($($arg),*)?),
            ElementType::I8 => AnyStore::I8($make::<i8>($($arg),*)?),
            ElementType::I16 => AnyStore::I16($make::<i16>($($arg),*)?),
            ElementType::I32 => AnyStore::I32($make::<i32>($($arg),*)?),
            ElementType::I64 => AnyStore::I64($make::<i64>($($arg),*)?),
            ElementType::F16 => AnyStore::F16($make::<half::f16>($($arg),*)?),
            ElementType::F32 => AnyStore::F32($make::<f32>($($arg),*)?),
            ElementType::F64 => AnyStore::F64($make::<f64>($($arg),*)?),
            ElementType::C64 => AnyStore::C64($make::<num_complex::Complex<f32>>($($arg),*)?),
            ElementType::C128 => AnyStore::C128($make::<num_complex::Complex<f64>>($($arg),*)?),
        }
    };
}

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
    /// As [`ArrayStore::attributes`].
    pub fn attributes(&self) -> Result<Attributes> {
        store_dispatch!(self, a => a.attributes())
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
    pub fn parse(text: &Path) -> Location {
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
pub fn guess_format(path: &Path) -> Option<Format> {
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
pub fn detect_format(path: &Path) -> Result<Format> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        let zarr = ["zarr.json", ".zarray", ".zgroup"].iter().any(|f| path.join(f).exists());
        if zarr {
            return Ok(Format::Zarr);
        }
        return Err(Error::argument(format!(
            "{}: directory holds no zarr.json, .zarray or .zgroup; not a Zarr array",
            path.display()
        )));
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

/// Opens the array at `path` read-only, detecting its format (`.npy`, Zarr v2/v3 directory, HDF5
/// file) and element type. Inside a container, name the array as `FILE:/group/name`.
///
/// # Errors
/// As the backend's `open`; [`Error::Argument`] for an unrecognised format, and
/// [`Error::Unsupported`] for HDF5 when larder was built without the `hdf5` feature.
pub fn open(path: impl AsRef<Path>) -> Result<AnyStore> {
    let loc = Location::parse(path.as_ref());
    let format = detect_format(&loc.file)?;
    let element = match format {
        Format::Npy => crate::array::read_header(&loc.file)?.dtype.element(),
        Format::Zarr => crate::zarr::element_of(&loc.file, loc.inner.as_deref())?,
        Format::Hdf5 => hdf5_element(&loc)?,
        Format::Memory => return Err(Error::argument("memory stores have no path")),
    };
    Ok(for_element!(element, open_typed(&loc, format)))
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
                return Err(Error::argument(format!(
                    "{}: an .npy file holds one array; drop the ':/…' part",
                    loc.file.display()
                )));
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

/// Opens the array at `path` read-only as element type `T`.
///
/// # Errors
/// As [`open`], and [`Error::DTypeMismatch`] when the array does not hold `T`.
pub fn open_as<T: Element>(path: impl AsRef<Path>) -> Result<DynStore<T>> {
    let loc = Location::parse(path.as_ref());
    let format = detect_format(&loc.file)?;
    open_typed::<T>(&loc, format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, s};

    fn mem() -> MemStore<i32> {
        let a =
            Array::from_shape_fn((5, 7), |(i, j)| i32::try_from(i * 10 + j).unwrap()).into_dyn();
        MemStore::new(a, &[2, 3]).unwrap()
    }

    #[test]
    fn chunks_cover_the_array_once_in_c_order() {
        let m = mem();
        let chunks: Vec<_> = m.chunks().map(Result::unwrap).collect();
        assert_eq!(chunks.len(), 9);
        assert_eq!(chunks[1].origin, vec![0, 3]);
        assert_eq!(chunks[8].data.shape(), &[1, 1]);
        let total: i32 = chunks.iter().map(|c| c.data.sum()).sum();
        assert_eq!(total, m.data().sum());
    }

    #[test]
    fn read_applies_steps_and_indices_within_the_box() {
        let m = mem();
        let got = m.read(&Selection::parse("4:0:-2,1").unwrap()).unwrap();
        assert_eq!(got.to_owned(), m.data().slice(s![1..5;-2, 1]).into_dyn().to_owned());
        let got = m.read(&Selection::parse("1:4,::3").unwrap()).unwrap();
        assert_eq!(got.to_owned(), m.data().slice(s![1..4, ..;3]).into_dyn().to_owned());
    }

    #[test]
    fn overlay_keeps_writes_per_chunk_and_saves_only_those() {
        let mut o = Overlay::new(mem());
        let patch = ArrayD::from_elem(IxDyn(&[1, 2]), -1);
        o.write_region(&[1, 2], &patch.view()).unwrap();
        assert_eq!(o.modified_chunks(), vec![vec![0, 0], vec![0, 1]]);
        assert_eq!(o.base().data()[[1, 2]], 12);
        let r = o.read_region(&[0, 0], &[5, 7]).unwrap();
        assert_eq!(r[[1, 2]], -1);
        assert_eq!(r[[1, 3]], -1);
        assert_eq!(r[[1, 4]], 14);
        assert_eq!(o.save().unwrap(), 2);
        assert_eq!(o.base().data()[[1, 3]], -1);
    }

    #[test]
    fn write_rejects_steps_and_wrong_shapes() {
        let mut m = mem();
        let d = ArrayD::from_elem(IxDyn(&[2]), 0);
        assert!(m.write(&Selection::parse("::2,0").unwrap(), &d.view()).is_err());
        assert!(m.write(&Selection::parse("0,0:3").unwrap(), &d.view()).is_err());
        m.write(&Selection::parse("0,0:2").unwrap(), &d.view()).unwrap();
        assert_eq!(m.data()[[0, 1]], 0);
    }

    #[test]
    fn touching_lists_every_intersecting_chunk() {
        let g = ChunkGrid::new(&[10, 10], &[4, 4]);
        assert_eq!(g.touching(&[3, 3], &[2, 1]), vec![vec![0, 0], vec![1, 0]]);
        assert!(g.touching(&[3, 3], &[0, 1]).is_empty());
        assert_eq!(ChunkGrid::new(&[], &[]).count(), 1);
    }

    #[allow(clippy::cast_possible_truncation)]
    mod props {
        use super::*;
        use crate::select::Item;
        use proptest::prelude::*;

        fn shape_and_chunks() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
            proptest::collection::vec((0usize..7, 1usize..4), 0..4)
                .prop_map(|v| v.into_iter().unzip())
        }

        proptest! {
            #[test]
            fn chunks_tile_the_array_exactly((shape, chunks) in shape_and_chunks()) {
                let n: usize = shape.iter().product();
                let data = ArrayD::from_shape_vec(IxDyn(&shape), (0..n as u32).collect()).unwrap();
                let m = MemStore::new(data, &chunks).unwrap();
                let mut seen = vec![0u8; n];
                for c in m.chunks() {
                    for &v in &c.unwrap().data {
                        seen[v as usize] += 1;
                    }
                }
                prop_assert!(seen.iter().all(|&k| k == 1));
            }

            #[test]
            fn touching_matches_brute_force(
                (shape, chunks) in shape_and_chunks(),
                picks in proptest::collection::vec((0usize..7, 0usize..7), 4),
            ) {
                let grid = ChunkGrid::new(&shape, &chunks);
                let (start, extent): (Vec<usize>, Vec<usize>) = shape
                    .iter()
                    .zip(&picks)
                    .map(|(&n, &(a, b))| if n == 0 { (0, 0) } else { (a % n, b % (n - a % n + 1)) })
                    .unzip();
                let mut brute = Vec::new();
                let mut idx = grid.first();
                while let Some(i) = idx {
                    let (o, s) = grid.region(&i);
                    let hit = (0..shape.len()).all(|ax| {
                        o[ax] < start[ax] + extent[ax] && start[ax] < o[ax] + s[ax]
                    });
                    if hit && !extent.contains(&0) {
                        brute.push(i.clone());
                    }
                    idx = grid.after(&i);
                }
                prop_assert_eq!(grid.touching(&start, &extent), brute);
            }

            #[test]
            fn read_matches_ndarray_slicing(
                (shape, chunks) in shape_and_chunks(),
                items in proptest::collection::vec((-8i64..8, -8i64..8, prop_oneof![Just(1i64), Just(2), Just(-1), Just(-3)]), 0..4),
            ) {
                let n: usize = shape.iter().product();
                let data = ArrayD::from_shape_vec(IxDyn(&shape), (0..n as u32).collect()).unwrap();
                let m = MemStore::new(data.clone(), &chunks).unwrap();
                let sel = Selection::new(
                    items
                        .iter()
                        .take(shape.len())
                        .map(|&(a, b, step)| Item::Slice { start: Some(a), stop: Some(b), step: Some(step) })
                        .collect(),
                );
                let want = data.slice(sel.resolve(&shape).unwrap().as_slice()).to_owned();
                let got = m.read(&sel).unwrap().into_owned();
                prop_assert_eq!(got, want);
            }
        }
    }
}
