//! [`Overlay`]: a copy-on-write layer of whole chunks over any store.

use std::collections::BTreeMap;

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};

use super::{ArrayRead, ArrayWrite, Attributes, Format};
use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::grid::{ChunkGrid, Region};

/// A copy-on-write layer over another store: writes go to an overlay of whole chunks held in
/// memory (memory grows with the chunks touched, not with the array), reads see the overlay
/// first, and [`save`](Overlay::save) writes only the modified chunks back.
#[derive(Debug)]
pub struct Overlay<T: Element, S: ArrayRead<T>> {
    base: S,
    grid: ChunkGrid,
    chunks: Vec<usize>,
    modified: BTreeMap<Vec<usize>, ArrayD<T>>,
}

impl<T: Element, S: ArrayRead<T>> Overlay<T, S> {
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

    /// The base store.
    pub fn base(&self) -> &S {
        &self.base
    }

    /// Gives back the base store, dropping unsaved modifications.
    pub fn into_base(self) -> S {
        self.base
    }
}

impl<T: Element, S: ArrayWrite<T>> Overlay<T, S> {
    /// Writes the modified chunks into the base store (which must be writable) and flushes it;
    /// returns how many chunks were written. Untouched chunks are neither read nor written.
    ///
    /// # Errors
    /// As the base store's [`write_region`](ArrayWrite::write_region) and
    /// [`flush`](ArrayWrite::flush).
    pub fn save(&mut self) -> Result<usize> {
        let n = self.modified.len();
        for (index, data) in &self.modified {
            self.base.write_region(self.grid.region(index).start(), &data.view())?;
        }
        self.base.flush()?;
        self.modified.clear();
        Ok(n)
    }
}

impl<T: Element, S: ArrayRead<T>> ArrayRead<T> for Overlay<T, S> {
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

    fn read_region(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        region.check_inside(self.shape())?;
        let touched: Vec<_> = self
            .grid
            .touching(region)
            .into_iter()
            .filter(|i| self.modified.contains_key(i))
            .collect();
        let base = self.base.read_region(region)?;
        if touched.is_empty() {
            return Ok(base);
        }
        let mut out = base.into_owned();
        for index in touched {
            let (src, dst) = self.grid.region(&index).overlap(region);
            if let Some(chunk) = self.modified.get(&index) {
                out.slice_mut(dst.as_slice()).assign(&chunk.slice(src.as_slice()));
            }
        }
        Ok(CowArray::from(out))
    }
}

impl<T: Element, S: ArrayRead<T>> ArrayWrite<T> for Overlay<T, S> {
    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        let region = Region::inside(start, data.shape(), self.shape())?;
        for index in self.grid.touching(&region) {
            let chunk_region = self.grid.region(&index);
            if !self.modified.contains_key(&index) {
                let current = self.base.read_region(&chunk_region)?.into_owned();
                self.modified.insert(index.clone(), current);
            }
            let (dst, src) = chunk_region.overlap(&region);
            if let Some(chunk) = self.modified.get_mut(&index) {
                chunk.slice_mut(dst.as_slice()).assign(&data.slice(src.as_slice()));
            }
        }
        Ok(())
    }
}
