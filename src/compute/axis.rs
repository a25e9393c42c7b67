//! Statistics along one axis of a memory-mapped array: one [`Summary`] per position of the
//! other axes, as numpy's `a.sum(axis=N)`.

use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use super::kernel::{Partial, Reduce, chunk_partial};
use super::stats::{F, Summary, complex_refused};
use super::tree_reduce;
use crate::dtype::dispatch_element;
use crate::error::{Error, Result};
use crate::grid::Region;
use crate::npy::{MmapArray, Order};
use crate::npy::{MmapChunks, read_header};
use crate::open::{Location, detect_format};
use crate::store::{ArrayRead, Format};

/// Most output positions [`summary_axis`] computes (each holds a ~100-byte accumulator).
pub const MAX_POSITIONS: usize = 1 << 24;

/// Statistics along one axis: `positions` holds one [`Summary`] per element of the reduced
/// shape, in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct AxisSummary {
    /// numpy's name for the element type.
    pub dtype: &'static str,
    /// The axis reduced.
    pub axis: usize,
    /// The array's shape without that axis.
    pub shape: Vec<usize>,
    /// One summary per position, in C order of `shape`.
    pub positions: Vec<Summary>,
}

impl Serialize for AxisSummary {
    /// `{"dtype", "axis", "shape", "count", "sum", "mean", "std", "min", "max", "nan_count"}`,
    /// each statistic a nested array of `shape` (as `np.array(...)` would read it back).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = &self.positions;
        let mut m = s.serialize_map(Some(10))?;
        m.serialize_entry("dtype", self.dtype)?;
        m.serialize_entry("axis", &self.axis)?;
        m.serialize_entry("shape", &self.shape)?;
        let shape = &self.shape;
        m.serialize_entry("count", &Nested::new(shape, p.iter().map(|x| x.count).collect()))?;
        m.serialize_entry("sum", &Nested::new(shape, p.iter().map(|x| x.sum).collect()))?;
        m.serialize_entry("mean", &Nested::new(shape, p.iter().map(|x| x.mean).collect()))?;
        m.serialize_entry(
            "std",
            &Nested::new(shape, p.iter().map(|x| F(x.std.unwrap_or(f64::NAN))).collect()),
        )?;
        m.serialize_entry("min", &Nested::new(shape, p.iter().map(|x| x.min).collect()))?;
        m.serialize_entry("max", &Nested::new(shape, p.iter().map(|x| x.max).collect()))?;
        m.serialize_entry(
            "nan_count",
            &Nested::new(shape, p.iter().map(|x| x.nan_count).collect()),
        )?;
        m.end()
    }
}

/// A flat C-order vector serialized as nested arrays of `shape`.
struct Nested<'a, V> {
    shape: &'a [usize],
    items: Vec<V>,
}

impl<'a, V: Serialize> Nested<'a, V> {
    fn new(shape: &'a [usize], items: Vec<V>) -> Self {
        Nested { shape, items }
    }
}

fn nest<S: Serializer, V: Serialize>(
    shape: &[usize],
    items: &[V],
    s: S,
) -> Result<S::Ok, S::Error> {
    let Some((&first, rest)) = shape.split_first() else {
        return match items.first() {
            Some(v) => v.serialize(s),
            None => s.serialize_none(),
        };
    };
    let step: usize = rest.iter().product();
    let mut seq = s.serialize_seq(Some(first))?;
    for i in 0..first {
        seq.serialize_element(&Sub { shape: rest, items: &items[i * step..(i + 1) * step] })?;
    }
    seq.end()
}

struct Sub<'a, V> {
    shape: &'a [usize],
    items: &'a [V],
}

impl<V: Serialize> Serialize for Sub<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        nest(self.shape, self.items, s)
    }
}

impl<V: Serialize> Serialize for Nested<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        nest(self.shape, &self.items, s)
    }
}

/// Statistics of `a` along `axis`: count, NaN count, sum, mean, std, min and max for every
/// position of the other axes, computed in one streaming pass.
///
/// The data is read in storage order, in chunks; positions are reduced in parallel over fixed
/// blocks of rows and merged in a fixed order, so the result is deterministic. Memory is a few
/// chunks plus the result (one small accumulator per output position).
///
/// # Errors
/// [`Error::Invalid`] if `axis` is not an axis of `a`, or the result would have more than
/// [`MAX_POSITIONS`] positions; as [`MmapChunks::with_range`].
pub fn summary_axis<T: Reduce>(a: &MmapArray<T>, axis: usize) -> Result<AxisSummary> {
    refuse_datetime(a.dtype(), a.path())?;
    let shape = a.shape().to_vec();
    let ndim = shape.len();
    if axis >= ndim {
        return Err(Error::invalid(
            a.path(),
            format!("axis {axis} is out of bounds for an array of {ndim} dimensions"),
        ));
    }
    let fortran = a.order() == Order::F;
    // Storage order is C order of the reversed shape for Fortran arrays.
    let (stored, sax) = if fortran {
        (shape.iter().rev().copied().collect::<Vec<_>>(), ndim - 1 - axis)
    } else {
        (shape.clone(), axis)
    };
    let product = |axes: &[usize]| axes.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let n = stored[sax];
    let (outer, inner) = (product(&stored[..sax]), product(&stored[sax + 1..]));
    let positions = outer.zip(inner).and_then(|(o, i)| o.checked_mul(i)).unwrap_or(usize::MAX);
    let mut reduced = shape.clone();
    reduced.remove(axis);
    if positions == 0 {
        // Nothing to reduce into, however long the reduced axis.
        return Ok(AxisSummary { dtype: T::TYPE.name(), axis, shape: reduced, positions: vec![] });
    }
    let (outer, inner) = (outer.unwrap_or(usize::MAX), inner.unwrap_or(usize::MAX));
    if positions > MAX_POSITIONS {
        return Err(Error::invalid(
            a.path(),
            format!(
                "reducing axis {axis} of shape {shape:?} gives {positions} positions, more than \
             the {MAX_POSITIONS} this keeps in memory"
            ),
        ));
    }
    let src = MmapChunks::new(a)?;
    let chunk = src.chunk_len();
    let mut out: Vec<Partial<T::Bound>> = Vec::with_capacity(outer * inner);

    // Reduces rows `r0..r1` of outer group `o`, one partial per inner position.
    let rows = |o: usize, r0: usize, r1: usize| -> Result<Vec<Partial<T::Bound>>> {
        src.with_range((o * n + r0) * inner, (r1 - r0) * inner, |x| columns(x, r1 - r0, inner))
    };
    let merge = |mut a: Vec<Partial<T::Bound>>, b: Vec<Partial<T::Bound>>| {
        a.iter_mut().zip(&b).for_each(|(x, y)| x.merge(y));
        a
    };

    let group = n.saturating_mul(inner);
    if group <= chunk {
        // Whole outer groups per leaf; leaves are concatenated in order.
        let per_leaf = (chunk / group.max(1)).max(1);
        let leaves = outer.div_ceil(per_leaf);
        let leaf = |l: usize| -> Result<Vec<Partial<T::Bound>>> {
            let mut v = Vec::new();
            for o in l * per_leaf..((l + 1) * per_leaf).min(outer) {
                v.extend(rows(o, 0, n)?);
            }
            Ok(v)
        };
        let cat = |mut a: Vec<Partial<T::Bound>>, b: Vec<Partial<T::Bound>>| {
            a.extend(b);
            a
        };
        out = tree_reduce(0, leaves, &leaf, &cat)?.unwrap_or_default();
    } else {
        let seg = (chunk / inner.max(1)).max(1);
        let segs = n.div_ceil(seg);
        for o in 0..outer {
            let leaf = |s: usize| rows(o, s * seg, ((s + 1) * seg).min(n));
            match tree_reduce(0, segs, &leaf, &merge)? {
                Some(v) => out.extend(v),
                None => out.extend(std::iter::repeat_n(Partial::empty(), inner)),
            }
        }
    }

    let partials = if fortran && reduced.len() > 1 {
        let srev: Vec<usize> = reduced.iter().rev().copied().collect();
        let arr = ArrayD::from_shape_vec(IxDyn(&srev), out)
            .map_err(|e| Error::internal(e.to_string()))?;
        arr.reversed_axes().iter().copied().collect()
    } else {
        out
    };
    Ok(AxisSummary {
        dtype: T::TYPE.name(),
        axis,
        shape: reduced,
        positions: partials.iter().map(|p| Summary::from_partial::<T>(p, true)).collect(),
    })
}

/// Partials of each of the `inner` columns of a `rows × inner` block.
fn columns<T: Reduce>(x: &[T], rows: usize, inner: usize) -> Vec<Partial<T::Bound>> {
    if inner == 1 {
        return vec![chunk_partial::<T, true>(x)];
    }
    let mut col: Vec<T> = Vec::with_capacity(rows);
    (0..inner)
        .map(|j| {
            col.clear();
            col.extend((0..rows).map(|r| x[r * inner + j]));
            chunk_partial::<T, true>(&col)
        })
        .collect()
}

/// [`summary_axis`] for the array at `path` in any format (`.npy`, Zarr, HDF5), whatever its
/// real element type. A `.npy` is reduced from its mapping; other stores are read in blocks of
/// whole rows along axis 0 ([`summary_axis_store`]).
///
/// # Errors
/// As [`summary_axis`] and [`crate::open`]; [`Error::Invalid`] for complex arrays.
pub fn summary_axis_any(path: impl AsRef<Path>, axis: usize) -> Result<AxisSummary> {
    let path = path.as_ref();
    super::describe::refuse_dataset(path)?;
    if crate::open::Place::parse(path)?.is_object()
        || detect_format(&Location::parse(path).file)? != Format::Npy
    {
        let store = crate::open::open(path)?;
        return crate::store_dispatch!(&store,
            s => summary_axis_store(s.as_ref(), path, axis),
            complex _c => Err(complex_refused(path)));
    }
    let element = read_header(path)?.dtype.element();
    dispatch_element!(element,
        T => summary_axis(&MmapArray::<T>::open(path)?, axis),
        complex _C => Err(complex_refused(path)))
}

/// Sums and spreads of timestamps or durations along an axis would be their 64-bit counts, with
/// `NaT` as `-2^63`: refused.
fn refuse_datetime(dtype: crate::dtype::DType, path: &Path) -> Result<()> {
    let (kind, unit) = match dtype.time() {
        Some(crate::dtype::Time::DateTime(unit)) => ("datetime64", unit),
        Some(crate::dtype::Time::TimeDelta(unit)) => ("timedelta64", unit),
        None => return Ok(()),
    };
    Err(Error::invalid(
        path,
        format!(
            "holds {kind}[{}] values; statistics along an axis are only computed for numbers",
            unit.as_str()
        ),
    ))
}

/// Bytes of rows [`summary_axis_store`] reads at a time (rounded to the store's chunks).
const ROW_BLOCK_BYTES: usize = 8 << 20;

/// [`summary_axis`] for any store (`path` names it in errors): rows along axis 0 are read a
/// block at a time through [`ArrayRead::read_region`], a whole number of the store's chunks
/// along that axis, so each chunk is decoded once. Blocks are taken in order and merged in
/// order, so the result is deterministic. Memory is one block plus the result.
///
/// # Errors
/// As [`summary_axis`]; as the store's reads.
pub fn summary_axis_store<T: Reduce>(
    a: &dyn ArrayRead<T>,
    path: &Path,
    axis: usize,
) -> Result<AxisSummary> {
    refuse_datetime(a.dtype(), path)?;
    let shape = a.shape().to_vec();
    let ndim = shape.len();
    if axis >= ndim {
        return Err(Error::invalid(
            path,
            format!("axis {axis} is out of bounds for an array of {ndim} dimensions"),
        ));
    }
    let mut reduced = shape.clone();
    reduced.remove(axis);
    let positions = reduced.iter().fold(1usize, |p, &n| p.saturating_mul(n));
    if positions > MAX_POSITIONS {
        return Err(Error::invalid(
            path,
            format!(
                "reducing axis {axis} of shape {shape:?} gives {positions} positions, more than \
                 the {MAX_POSITIONS} this keeps in memory"
            ),
        ));
    }
    let row_bytes = shape[1..].iter().product::<usize>().max(1) * std::mem::size_of::<T>();
    let chunk_rows = a.chunk_shape().first().copied().unwrap_or(1).max(1);
    let rows = (ROW_BLOCK_BYTES / row_bytes / chunk_rows).max(1) * chunk_rows;
    // Along axis 0 every block adds to every position; along another axis each block holds
    // its own positions, which follow the previous block's in C order.
    let mut out: Vec<Partial<T::Bound>> =
        if axis == 0 { vec![Partial::empty(); positions] } else { Vec::new() };
    let mut col: Vec<T> = Vec::new();
    let mut start = 0;
    while start < shape[0] {
        let n = rows.min(shape[0] - start);
        let mut origin = vec![0; ndim];
        origin[0] = start;
        let mut extent = shape.clone();
        extent[0] = n;
        let block = a.read_region(&Region::new(&origin, &extent)?)?;
        for (i, lane) in block.lanes(ndarray::Axis(axis)).into_iter().enumerate() {
            col.clear();
            col.extend(lane.iter().copied());
            let p = chunk_partial::<T, true>(&col);
            if axis == 0 {
                out[i].merge(&p);
            } else {
                out.push(p);
            }
        }
        start += n;
    }
    Ok(AxisSummary {
        dtype: T::TYPE.name(),
        axis,
        shape: reduced,
        positions: out.iter().map(|p| Summary::from_partial::<T>(p, true)).collect(),
    })
}
