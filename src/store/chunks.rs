//! Walking a store block by block: [`Chunks`] yields each [`Chunk`] of a regular grid in C order.

use ndarray::{CowArray, IxDyn};

use super::ArrayRead;
use crate::dtype::Element;
use crate::error::Result;
use crate::grid::ChunkGrid;

/// One block of an array from [`ArrayRead::chunks`]: a contiguous, native-order array and where
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

/// Iterator over the chunk-aligned blocks of an [`ArrayRead`]; see [`ArrayRead::chunks`].
pub struct Chunks<'a, T: Element, S: ArrayRead<T> + ?Sized> {
    store: &'a S,
    grid: ChunkGrid,
    next: Option<Vec<usize>>,
    _t: std::marker::PhantomData<T>,
}

impl<'a, T: Element, S: ArrayRead<T> + ?Sized> Chunks<'a, T, S> {
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

impl<'a, T: Element, S: ArrayRead<T> + ?Sized> Iterator for Chunks<'a, T, S> {
    type Item = Result<Chunk<'a, T>>;

    fn next(&mut self) -> Option<Self::Item> {
        let index = self.next.take()?;
        if let Err(e) = crate::sys::check_interrupt() {
            return Some(Err(e));
        }
        self.next = self.grid.after(&index);
        let region = self.grid.region(&index);
        Some(self.store.read_region(&region).map(|data| Chunk {
            index,
            origin: region.start().to_vec(),
            data,
        }))
    }
}
