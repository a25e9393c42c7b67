//! Geometry: [`Region`], a box inside an array, and [`ChunkGrid`], a regular grid of blocks
//! over a shape, with their intersections. Pure arithmetic on shapes, shared by every backend and by the chunk walks.

use ndarray::SliceInfoElem;

use crate::error::{Error, Result};

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

    /// Number of blocks (1 for a 0-d array, 0 for an empty one, `usize::MAX` past it: no
    /// array whose elements can be addressed has that many).
    pub fn count(&self) -> usize {
        let grid = self.grid_shape();
        if grid.contains(&0) {
            return 0;
        }
        grid.iter().try_fold(1usize, |all, &n| all.checked_mul(n)).unwrap_or(usize::MAX)
    }

    pub(crate) fn first(&self) -> Option<Vec<usize>> {
        (self.count() > 0).then(|| vec![0; self.shape.len()])
    }

    pub(crate) fn after(&self, index: &[usize]) -> Option<Vec<usize>> {
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

    /// The (edge-clipped) region of the block at `index`.
    ///
    /// # Panics
    /// If `index` is not a block of the grid (wrong rank, or past
    /// [`grid_shape`](ChunkGrid::grid_shape) along an axis), as indexing a slice out of bounds
    /// does; [`try_region`](ChunkGrid::try_region) returns an error instead.
    pub fn region(&self, index: &[usize]) -> Region {
        match self.try_region(index) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// The (edge-clipped) region of the block at `index`.
    ///
    /// # Errors
    /// [`Error::Argument`] if `index` is not a block of the grid (wrong rank, or past
    /// [`grid_shape`](ChunkGrid::grid_shape) along an axis).
    pub fn try_region(&self, index: &[usize]) -> Result<Region> {
        let inside = index.len() == self.shape.len()
            && index
                .iter()
                .zip(&self.block)
                .zip(&self.shape)
                .all(|((&i, &b), &n)| i.checked_mul(b).is_some_and(|start| start < n));
        if !inside {
            return Err(Error::argument(format!(
                "block {index:?} is outside the grid of {:?} blocks of {:?} over shape {:?}",
                self.grid_shape(),
                self.block,
                self.shape
            )));
        }
        let start: Vec<usize> = index.iter().zip(&self.block).map(|(&i, &b)| i * b).collect();
        let shape = start
            .iter()
            .zip(&self.block)
            .zip(&self.shape)
            .map(|((&o, &b), &n)| b.min(n - o))
            .collect();
        Ok(Region { start, shape })
    }

    /// Indices of every block that intersects `region`, in C order.
    pub fn touching(&self, region: &Region) -> Vec<Vec<usize>> {
        let (start, shape) = (region.start(), region.shape());
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

/// A box of an n-d array: the coordinates of its first element and its extent along each axis
/// (zarrs' `ArraySubset`, numpy's tuple of `start:start + n` slices).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Region {
    start: Vec<usize>,
    shape: Vec<usize>,
}

impl Region {
    /// The region at `start` of extent `shape`.
    ///
    /// # Errors
    /// [`Error::Argument`] if the two differ in rank or an end overflows.
    pub fn new(start: &[usize], shape: &[usize]) -> Result<Region> {
        if start.len() != shape.len()
            || start.iter().zip(shape).any(|(s, n)| s.checked_add(*n).is_none())
        {
            return Err(Error::argument(format!(
                "region at {start:?} of shape {shape:?}: start and shape must have one \
                 coordinate per axis and end within usize"
            )));
        }
        Ok(Region { start: start.to_vec(), shape: shape.to_vec() })
    }

    /// The region at `start` of extent `shape`, checked to lie inside an array of shape
    /// `array`.
    ///
    /// # Errors
    /// As [`Region::new`] and [`Region::check_inside`].
    pub fn inside(start: &[usize], shape: &[usize], array: &[usize]) -> Result<Region> {
        let r = Region::new(start, shape)?;
        r.check_inside(array)?;
        Ok(r)
    }

    /// The whole of an array of `shape`.
    pub fn whole(shape: &[usize]) -> Region {
        Region { start: vec![0; shape.len()], shape: shape.to_vec() }
    }

    /// Coordinates of the first element.
    pub fn start(&self) -> &[usize] {
        &self.start
    }

    /// Extent along each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements (saturating at `usize::MAX`).
    pub fn len(&self) -> usize {
        self.shape.iter().try_fold(1usize, |a, &n| a.checked_mul(n)).unwrap_or(usize::MAX)
    }

    /// True when the region holds no element.
    pub fn is_empty(&self) -> bool {
        self.shape.contains(&0)
    }

    /// Checks that the region lies inside an array of shape `array`.
    ///
    /// # Errors
    /// [`Error::Argument`] naming the region and the array's shape.
    pub fn check_inside(&self, array: &[usize]) -> Result<()> {
        let fits = self.ndim() == array.len()
            && array
                .iter()
                .zip(&self.start)
                .zip(&self.shape)
                .all(|((&n, &s), &k)| s.checked_add(k).is_some_and(|end| end <= n));
        if fits {
            Ok(())
        } else {
            Err(Error::argument(format!(
                "region at {:?} of shape {:?} does not fit an array of shape {array:?}",
                self.start, self.shape
            )))
        }
    }

    /// The `ndarray` slice that cuts this region out of the array it lies in.
    pub fn slices(&self) -> Vec<SliceInfoElem> {
        slices(&self.start, &self.shape)
    }

    /// Where this region and `other` overlap, as slices relative to this region and to `other`
    /// (empty along an axis where they do not meet).
    pub fn overlap(&self, other: &Region) -> (Vec<SliceInfoElem>, Vec<SliceInfoElem>) {
        let mut ra = Vec::new();
        let mut rb = Vec::new();
        for axis in 0..self.ndim() {
            let (a, b) = (self.start[axis], other.start[axis]);
            let lo = a.max(b);
            let hi = (a + self.shape[axis]).min(b + other.shape[axis]).max(lo);
            ra.push((lo - a, hi - lo));
            rb.push((lo - b, hi - lo));
        }
        let to = |v: Vec<(usize, usize)>| {
            let (s, n): (Vec<usize>, Vec<usize>) = v.into_iter().unzip();
            slices(&s, &n)
        };
        (to(ra), to(rb))
    }
}

fn slices(start: &[usize], shape: &[usize]) -> Vec<SliceInfoElem> {
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
pub(crate) const CONTIGUOUS_BLOCK_BYTES: usize = 4 << 20;

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
    let per = (CONTIGUOUS_BLOCK_BYTES / (rest.saturating_mul(itemsize)).max(1)).max(1);
    out[axis] = shape[axis].min(per).max(1);
    out
}
