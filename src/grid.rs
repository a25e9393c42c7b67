//! Geometry: a regular grid of blocks over a shape, boxes inside arrays, and their
//! intersections. Pure arithmetic on shapes, shared by every backend and by the chunk walks.

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

    /// Number of blocks (1 for a 0-d array, 0 for an empty one).
    pub fn count(&self) -> usize {
        self.grid_shape().iter().product()
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
