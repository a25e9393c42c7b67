//! [`MemStore`]: an array held in memory.

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};
use serde_json::Map;

use super::{ArrayRead, ArrayWrite, Attributes, Format};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::grid::Region;

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

impl<T: Element> ArrayRead<T> for MemStore<T> {
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
    fn read_region(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        region.check_inside(self.data.shape())?;
        Ok(CowArray::from(self.data.slice(region.slices().as_slice())))
    }
}

impl<T: Element> ArrayWrite<T> for MemStore<T> {
    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        let region = Region::inside(start, data.shape(), self.data.shape())?;
        self.data.slice_mut(region.slices().as_slice()).assign(data);
        Ok(())
    }
}
