//! [`ArrayRead`] and [`ArrayWrite`]: the one typed array API that every storage backend serves.
//!
//! A memory-mapped `.npy` file ([`MmapArray`](crate::MmapArray)), a Zarr array ([`ZarrArray`](crate::ZarrArray)),
//! an HDF5 dataset (with the `hdf5` feature) and an in-memory [`MemStore`] all answer the same
//! questions (shape, dtype, chunk shape, attributes) and move data the same way: a rectangular
//! region or a numpy-style [`Selection`] in, a [`CowArray`] out. A backend whose data already sits
//! in memory in native form (the mapped `.npy`) lends a view (`CowArray::Borrowed`, zero-copy);
//! the others decode into an owned array.
//!
//! [`ArrayRead::chunks`] walks the array in chunk-aligned blocks in storage order, so an
//! out-of-core algorithm touches each stored chunk once and holds one block at a time.
//!
//! ```
//! use larder::{ArrayRead, ArrayWrite, Selection, ZarrArray, ZarrOptions};
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

mod chunks;
mod mem;
mod overlay;
mod selected;
mod source;

use std::fmt;

use ndarray::{ArrayViewD, CowArray, IxDyn, SliceInfoElem};
use serde_json::{Map, Value};

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::grid::Region;
use crate::select::Selection;

pub use chunks::{Chunk, Chunks};
pub use mem::MemStore;
pub use overlay::Overlay;
pub use selected::SelectionChunks;
pub use source::{ChunkSource, SliceChunks, StoreChunks};

/// JSON attributes of an array or group (Zarr `attributes`, HDF5 attributes).
pub type Attributes = Map<String, Value>;

/// The storage format behind an [`ArrayRead`].
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

/// A typed n-d array in some storage that can be read: the interface every backend implements.
///
/// Backends implement the region primitive [`read_region`](ArrayRead::read_region); selections,
/// chunk iteration and the reductions' [`chunk_source`](ArrayRead::chunk_source) are built on it,
/// and a backend whose bytes sit in memory (the mapped `.npy`) overrides `chunk_source` with a
/// zero-copy one. Values always come out in native byte order. Writing is the separate
/// [`ArrayWrite`]: the stores [`open`](crate::open) hands out are read-only by type.
pub trait ArrayRead<T: Element>: Sync {
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
    fn read_region(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>>;

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
    /// [`read_region`](ArrayRead::read_region).
    fn read(&self, selection: &Selection) -> Result<CowArray<'_, T, IxDyn>> {
        let (start, shape, rel) = bounding_box(selection, self.shape())?;
        let block = self.read_region(&Region::new(&start, &shape)?)?;
        Ok(slice_cow(block, &rel))
    }

    /// The chunk-aligned blocks of the array in storage order (C order over the chunk grid),
    /// each with its position. Blocks at the array's edges are clipped to it.
    fn chunks(&self) -> Chunks<'_, T, Self>
    where
        Self: Sized,
    {
        Chunks::new(self, self.chunk_shape())
    }

    /// The array's data as a sequence of contiguous pieces in storage order, for the
    /// reductions of [`compute`](crate::compute). The default decodes the storage chunks one at
    /// a time ([`StoreChunks`]); the mapped `.npy` backend lends its pages instead.
    ///
    /// # Errors
    /// Backend errors (for a mapping, the access hint being refused).
    fn chunk_source(&self) -> Result<Box<dyn ChunkSource<T> + '_>> {
        Ok(Box::new(StoreChunks::new(self)))
    }
}

/// A typed n-d array in some storage that can also be written.
pub trait ArrayWrite<T: Element>: ArrayRead<T> {
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

    /// Writes `data` into the elements a selection picks. The selection may hold indices and
    /// step-1 slices; `data` must have the selection's result shape.
    ///
    /// # Errors
    /// [`Error::Argument`] for other selections or a shape mismatch; as
    /// [`write_region`](ArrayWrite::write_region).
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
}

/// A boxed store is a store, so `larder::open_as` results have every provided method.
impl<T: Element, S: ArrayRead<T> + ?Sized> ArrayRead<T> for Box<S> {
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
    fn read_region(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        (**self).read_region(region)
    }
    fn release(&self) -> Result<()> {
        (**self).release()
    }
    fn chunk_source(&self) -> Result<Box<dyn ChunkSource<T> + '_>> {
        // The boxed store's own source (zero-copy for a mapping), not the decoding default.
        (**self).chunk_source()
    }
    fn read(&self, selection: &Selection) -> Result<CowArray<'_, T, IxDyn>> {
        (**self).read(selection)
    }
}

/// A boxed writable store is a writable store.
impl<T: Element, S: ArrayWrite<T> + ?Sized> ArrayWrite<T> for Box<S> {
    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        (**self).write_region(start, data)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn write(&mut self, selection: &Selection, data: &ArrayViewD<'_, T>) -> Result<()> {
        (**self).write(selection, data)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::ChunkGrid;
    use ndarray::ArrayD;
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
        let r = o.read_region(&Region::whole(&[5, 7])).unwrap();
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
        assert_eq!(
            g.touching(&Region::new(&[3, 3], &[2, 1]).unwrap()),
            vec![vec![0, 0], vec![1, 0]]
        );
        assert!(g.touching(&Region::new(&[3, 3], &[0, 1]).unwrap()).is_empty());
        assert_eq!(ChunkGrid::new(&[], &[]).count(), 1);
    }

    #[test]
    fn grid_counts_of_absurd_shapes_do_not_overflow() {
        let big = 1usize << 40;
        // An empty axis anywhere makes no blocks, even after axes whose product overflows.
        assert_eq!(ChunkGrid::new(&[big, big, 0], &[1, 1, 1]).count(), 0);
        assert_eq!(ChunkGrid::new(&[0, big, big], &[1, 1, 1]).count(), 0);
        assert_eq!(ChunkGrid::new(&[big, big], &[1, 1]).count(), usize::MAX);
        assert_eq!(ChunkGrid::new(&[big, big], &[big, 1 << 20]).count(), 1 << 20);
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
                    let r = grid.region(&i);
                    let (o, s) = (r.start(), r.shape());
                    let hit = (0..shape.len()).all(|ax| {
                        o[ax] < start[ax] + extent[ax] && start[ax] < o[ax] + s[ax]
                    });
                    if hit && !extent.contains(&0) {
                        brute.push(i.clone());
                    }
                    idx = grid.after(&i);
                }
                prop_assert_eq!(grid.touching(&Region::new(&start, &extent).unwrap()), brute);
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
