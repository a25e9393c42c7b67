//! [`MmapArray`] as a store: regions are views of the mapping (zero-copy when the file is in
//! native byte order and aligned), chunks are blocks of whole rows of about 4 MiB.

use ndarray::{ArrayViewD, CowArray, IxDyn};

use super::array::{MmapArray, Mode};
use super::pages::MmapChunks;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::grid::Region;
use crate::select::Selection;
use crate::store::{ArrayRead, ArrayWrite, ChunkSource, Format};

impl<T: Element> ArrayRead<T> for MmapArray<T> {
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
    /// Through deltas not applied yet, a region of at most `LAZY_ELEMENTS` elements is read
    /// page by page instead (see [`MmapArray::open_with_deltas`]).
    fn read_region(&self, region: &Region) -> Result<CowArray<'_, T, IxDyn>> {
        region.check_inside(MmapArray::shape(self))?;
        // The view is read right after; a file cut since it was mapped is an error, not a fault.
        self.check_not_shrunk(0, self.len() * self.dtype().itemsize())?;
        let sl = region.slices();
        // Through deltas not applied yet, a small region reads only its own pages (each delta
        // page checked on first use), so a damaged page elsewhere does not stop it.
        if let Some(small) = self.read_lazily(&sl)? {
            return Ok(CowArray::from(small));
        }
        match self.view() {
            Ok(v) => Ok(CowArray::from(v.slice_move(sl.as_slice()))),
            Err(Error::NotViewable { .. }) => {
                let sel = Selection::new(
                    region
                        .start()
                        .iter()
                        .zip(region.shape())
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

    fn release(&self) -> Result<()> {
        if self.mode() == Mode::CopyOnWrite {
            return Ok(());
        }
        MmapArray::release_range(self, 0, usize::MAX)
    }

    /// The mapping's own pages ([`MmapChunks`]): zero-copy where the bytes allow.
    fn chunk_source(&self) -> Result<Box<dyn ChunkSource<T> + '_>> {
        Ok(Box::new(MmapChunks::new(self)?))
    }
}

impl<T: Element> ArrayWrite<T> for MmapArray<T> {
    fn write_region(&mut self, start: &[usize], data: &ArrayViewD<'_, T>) -> Result<()> {
        let region = Region::inside(start, data.shape(), MmapArray::shape(self))?;
        if self.mode() == Mode::ReadOnly {
            return Err(Error::ReadOnly { path: self.path().to_path_buf(), mode: "r" });
        }
        let sl = region.slices();
        self.view_mut()?.slice_mut(sl.as_slice()).assign(data);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        MmapArray::flush(self)
    }
}
