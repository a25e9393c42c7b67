//! [`ChunkSource`]: an array as a sequence of contiguous pieces in storage order, what the
//! reductions read; the decoding default for any store ([`StoreChunks`]) and an in-memory
//! slice ([`SliceChunks`]). The mapped `.npy` backend has its own, zero-copy one.

use std::marker::PhantomData;

use super::ArrayRead;
use crate::dtype::Element;
use crate::error::Result;
use crate::grid::ChunkGrid;

/// An array seen as a sequence of contiguous chunks of elements in storage order.
///
/// This is the one thing the reductions need from a storage backend. A memory-mapped `.npy`
/// array is cut into [`CHUNK_BYTES`](crate::npy::CHUNK_BYTES) pieces ([`MmapChunks`](crate::npy::MmapChunks)); a chunked format (Zarr, HDF5)
/// hands out its decoded chunks. Chunk `i` must always hold the same elements, so that results
/// are reproducible; chunks may be called for in any order and from several threads at once.
pub trait ChunkSource<T: Element>: Sync {
    /// Number of chunks.
    fn num_chunks(&self) -> usize;

    /// Calls `f` once with the elements of chunk `index`, in native byte order.
    ///
    /// # Errors
    /// Whatever reading or decoding the chunk can fail with.
    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()>;
}

/// An in-memory slice cut into chunks of a fixed number of elements.
#[derive(Clone, Copy, Debug)]
pub struct SliceChunks<'a, T> {
    data: &'a [T],
    chunk: usize,
}

impl<'a, T: Element> SliceChunks<'a, T> {
    /// Chunks of `chunk` elements (at least 1) over `data`.
    pub fn new(data: &'a [T], chunk: usize) -> Self {
        SliceChunks { data, chunk: chunk.max(1) }
    }
}

impl<T: Element> ChunkSource<T> for SliceChunks<'_, T> {
    fn num_chunks(&self) -> usize {
        self.data.len().div_ceil(self.chunk)
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        let start = index.saturating_mul(self.chunk).min(self.data.len());
        let end = start.saturating_add(self.chunk).min(self.data.len());
        f(&self.data[start..end]);
        Ok(())
    }
}

/// The storage chunks of any [`ArrayRead`] (Zarr, HDF5, …), each decoded when it is asked for.
///
/// Chunk `i` is the `i`-th chunk of the store's chunk grid in C order, edge chunks clipped to
/// the array. Its elements are handed out in the chunk's own C order, which the order-free
/// reductions (sums, extremes, histograms, quantiles) do not mind. Chunks are decoded on the
/// threads that ask for them, so decoding runs on all cores.
pub struct StoreChunks<'a, T: Element, S: ArrayRead<T> + ?Sized> {
    store: &'a S,
    grid: ChunkGrid,
    grid_shape: Vec<usize>,
    _t: PhantomData<fn() -> T>,
}

impl<'a, T: Element, S: ArrayRead<T> + ?Sized> StoreChunks<'a, T, S> {
    /// The chunks of `store`.
    pub fn new(store: &'a S) -> Self {
        let grid = ChunkGrid::new(store.shape(), store.chunk_shape());
        let grid_shape = grid.grid_shape();
        StoreChunks { store, grid, grid_shape, _t: PhantomData }
    }
}

impl<T: Element, S: ArrayRead<T> + ?Sized> std::fmt::Debug for StoreChunks<'_, T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreChunks").field("grid", &self.grid_shape).finish_non_exhaustive()
    }
}

impl<T: Element, S: ArrayRead<T> + ?Sized> ChunkSource<T> for StoreChunks<'_, T, S> {
    fn num_chunks(&self) -> usize {
        self.grid.count()
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        // Linear index to grid coordinates, last axis fastest.
        let mut rest = index;
        let mut at = vec![0; self.grid_shape.len()];
        for (axis, &n) in self.grid_shape.iter().enumerate().rev() {
            at[axis] = rest % n.max(1);
            rest /= n.max(1);
        }
        let data = self.store.read_region(&self.grid.region(&at))?;
        if let Some(values) = data.as_slice_memory_order() {
            f(values);
        } else {
            let values: Vec<T> = data.iter().copied().collect();
            f(&values);
        }
        Ok(())
    }
}

/// A boxed source is a source, so `compute::summary(&store.chunk_source()?)` needs no `&*`.
impl<T: Element, S: ChunkSource<T> + ?Sized> ChunkSource<T> for Box<S> {
    fn num_chunks(&self) -> usize {
        (**self).num_chunks()
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        (**self).with_chunk(index, f)
    }
}

/// A borrowed source is a source.
impl<T: Element, S: ChunkSource<T> + ?Sized> ChunkSource<T> for &S {
    fn num_chunks(&self) -> usize {
        (**self).num_chunks()
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        (**self).with_chunk(index, f)
    }
}

/// Bytes of elements one chunk of an in-memory view holds at most (as the mapped `.npy`
/// source's `CHUNK_BYTES`, which this layer cannot name).
const VIEW_CHUNK_BYTES: usize = 4 << 20;

/// Any `ndarray` array or view is a source: `compute::summary(&view.slice(s![.., 7]))`.
///
/// A view whose elements are contiguous in memory (in any order) is cut into pieces of a fixed
/// number of elements and lent as it is, zero-copy. Any other view (a column, a strided or
/// transposed slice) is cut along its outer axes into blocks of at most
/// `4 MiB / size_of::<T>()` elements, each copied into a buffer of that size when it is read,
/// so memory stays bounded whatever the view's size. Chunk boundaries depend only on the
/// view's shape and layout.
impl<A, S, D> ChunkSource<A> for ndarray::ArrayBase<S, D>
where
    A: Element,
    S: ndarray::Data<Elem = A>,
    D: ndarray::Dimension,
    ndarray::ArrayBase<S, D>: Sync,
{
    fn num_chunks(&self) -> usize {
        ViewCut::of(self).num_chunks()
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[A])) -> Result<()> {
        let cut = ViewCut::of(self);
        if let Some(all) = self.as_slice_memory_order() {
            let start = index.saturating_mul(cut.per_chunk).min(all.len());
            let end = start.saturating_add(cut.per_chunk).min(all.len());
            f(&all[start..end]);
            return Ok(());
        }
        let block = self.view().into_dyn();
        let block = block.slice(cut.block(index).as_slice());
        if let Some(values) = block.as_slice_memory_order() {
            f(values);
        } else {
            let values: Vec<A> = block.iter().copied().collect();
            f(&values);
        }
        Ok(())
    }
}

/// How a view is cut into chunks: contiguous views into runs of `per_chunk` elements; others
/// into blocks of whole trailing sub-arrays along `axis`, `rows` indices of it per block.
#[derive(Debug)]
struct ViewCut {
    shape: Vec<usize>,
    contiguous: bool,
    len: usize,
    per_chunk: usize,
    axis: usize,
    rows: usize,
}

impl ViewCut {
    fn of<S: ndarray::Data, D: ndarray::Dimension>(a: &ndarray::ArrayBase<S, D>) -> ViewCut
    where
        S::Elem: Element,
    {
        let per_chunk = (VIEW_CHUNK_BYTES / std::mem::size_of::<S::Elem>().max(1)).max(1);
        let shape = a.shape().to_vec();
        let len = a.len();
        let contiguous = a.as_slice_memory_order().is_some();
        // The outermost axis whose trailing sub-arrays hold at most `per_chunk` elements
        // together with the axes after it: blocks are runs along the axis before it.
        let mut inner = 1usize;
        let mut axis = shape.len();
        while axis > 0 {
            match inner.checked_mul(shape[axis - 1]) {
                Some(n) if n <= per_chunk => {
                    inner = n;
                    axis -= 1;
                }
                _ => break,
            }
        }
        // `axis` = first axis of the trailing part that fits; blocks run along `axis - 1`.
        let rows = (per_chunk / inner.max(1)).max(1);
        ViewCut { shape, contiguous, len, per_chunk, axis, rows }
    }

    fn num_chunks(&self) -> usize {
        if self.len == 0 {
            return 0;
        }
        if self.contiguous {
            return self.len.div_ceil(self.per_chunk);
        }
        if self.axis == 0 {
            return 1;
        }
        let along = self.axis - 1;
        let outer: usize = self.shape[..along].iter().product();
        outer * self.shape[along].div_ceil(self.rows)
    }

    /// The slice of the view that is chunk `index` (of a view that is not contiguous).
    fn block(&self, index: usize) -> Vec<ndarray::SliceInfoElem> {
        let full = |_| ndarray::SliceInfoElem::Slice { start: 0, end: None, step: 1 };
        if self.axis == 0 {
            return (0..self.shape.len()).map(full).collect();
        }
        let along = self.axis - 1;
        let per_axis = self.shape[along].div_ceil(self.rows).max(1);
        let (mut outer, block) = (index / per_axis, index % per_axis);
        let mut elems: Vec<ndarray::SliceInfoElem> = (0..self.shape.len()).map(full).collect();
        for axis in (0..along).rev() {
            let n = self.shape[axis].max(1);
            elems[axis] = ndarray::SliceInfoElem::Index(isize::try_from(outer % n).unwrap_or(0));
            outer /= n;
        }
        let start = (block * self.rows).min(self.shape[along]);
        let end = (start + self.rows).min(self.shape[along]);
        elems[along] = ndarray::SliceInfoElem::Slice {
            start: isize::try_from(start).unwrap_or(isize::MAX),
            end: Some(isize::try_from(end).unwrap_or(isize::MAX)),
            step: 1,
        };
        elems
    }
}
