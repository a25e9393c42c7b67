//! Streaming reductions and group-by over arrays of any size.
//!
//! Everything here consumes an array as a sequence of contiguous chunks of elements in storage
//! order (the [`ChunkSource`] trait, which every store hands out through
//! [`ArrayRead::chunk_source`](crate::ArrayRead::chunk_source)). The chunks are reduced in parallel with rayon, each to a
//! small partial result, and the partials are merged along a fixed binary tree over the chunk
//! indices. Chunk boundaries depend only on the array (its element count and
//! [`CHUNK_BYTES`](crate::npy::CHUNK_BYTES)), never on the number of threads, so results are bit-identical whatever the
//! thread count. Memory stays bounded by a few chunks per thread: the memory-mapped source
//! ([`MmapChunks`](crate::MmapChunks)) hints sequential access to the kernel and, when the array is large against
//! the memory available, releases each chunk's pages from the process's resident set as soon
//! as the chunk is reduced, or for a file larger than that memory reads it past the page cache.
//!
//! ```
//! use larder::compute;
//! use larder::{ArrayRead, MmapArray, NpyWriter};
//! # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
//! # let path = dir.path().join("x.npy");
//! let mut w = NpyWriter::<f64>::create(&path, &[])?;
//! w.append(&[1.0, 2.0, f64::NAN, 4.0])?;
//! w.finish()?;
//!
//! let a = MmapArray::<f64>::open(&path)?;
//! let s = compute::summary(&a.chunk_source()?)?; // the mapping's own pages, zero-copy
//! assert_eq!((s.count, s.nan_count), (3, 1));
//! assert_eq!(s.sum, compute::Number::Float(7.0));
//!
//! // Or of a part: any ndarray view, a selection of any store, rows of a dataset column.
//! let head = compute::summary(&a.view()?.slice(ndarray::s![..2]))?;
//! assert_eq!(head.mean.to_string(), "1.5");
//! # Ok::<(), larder::Error>(())
//! ```
//!
//! See `docs/compute.md` for the algorithms, the NaN rules and the memory bound.

mod axis;
mod buckets;
mod datetime;
mod describe;
mod filtered;
mod groupby;
mod histogram;
mod kernel;
mod masked;
mod present;
mod quantile;
mod stats;

pub use crate::store::{ChunkSource, SelectionChunks, SliceChunks};
pub use axis::{AxisSummary, MAX_POSITIONS, summary_axis, summary_axis_any, summary_axis_store};
pub use buckets::Every;
pub use datetime::{DateTimeSummary, TimeDeltaSummary, datetime_summary, timedelta_summary};
pub use describe::{Description, Stats, StatsOptions, stats};
pub use groupby::{
    Agg, AggKind, GroupBy, GroupKey, MAX_GROUPS, groupby, groupby_every, groupby_where,
};
pub use histogram::{Bins, Histogram, histogram};
pub use kernel::Reduce;
pub use masked::ColumnRows;
pub use quantile::{Quantile, quantiles};
pub use stats::{
    ComplexParts, Number, Summary, summary, summary_any, summary_basic, summary_complex,
};

use crate::error::Result;

/// Reduces chunks `lo..hi` of a source along a fixed binary tree: each node splits its range
/// at the middle and merges its left half with its right half. The tree depends only on `lo`
/// and `hi`, so the result does not depend on the number of threads.
///
/// The leaves are not computed in tree order but handed out in ascending order to every thread
/// of the pool (a shared counter), so that all threads together read the data front to back:
/// one sequential stream for the disk and the kernel's read-ahead, instead of one per subtree.
/// A finished node waits in a small table until its sibling is done; since leaves finish about
/// in order, the table holds a few nodes per tree level.
pub(crate) fn tree_reduce<P, L, M>(lo: usize, hi: usize, leaf: &L, merge: &M) -> Result<Option<P>>
where
    P: Send,
    L: Fn(usize) -> Result<P> + Sync,
    M: Fn(P, P) -> P + Sync,
{
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    if hi <= lo {
        return Ok(None);
    }
    let next = AtomicUsize::new(lo);
    // Finished nodes, keyed by their range, waiting for their sibling; the root ends up here.
    let done: Mutex<HashMap<(usize, usize), P>> = Mutex::new(HashMap::new());
    let failed: Mutex<Option<crate::Error>> = Mutex::new(None);
    // Every leaf checks for a signal or the caller's cancellation (the workers run on other
    // threads than the caller's `Cancel::run`).
    let interrupt = crate::sys::Interrupt::here();
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= hi {
                return;
            }
            let value = match interrupt.check().and_then(|()| leaf(i)) {
                Ok(v) => v,
                Err(e) => {
                    // Stop handing out leaves; the first error is the one reported.
                    next.store(hi, Ordering::Relaxed);
                    failed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get_or_insert(e);
                    return;
                }
            };
            climb(lo, hi, i, value, &done, merge);
        }
    };
    let threads = rayon::current_num_threads().clamp(1, hi - lo);
    rayon::scope(|s| {
        for _ in 1..threads {
            s.spawn(|_| work());
        }
        work();
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(e);
    }
    let mut done = done.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(done.remove(&(lo, hi)))
}

/// Files the finished leaf `i` of the tree over `lo..hi` and merges upwards as far as the
/// siblings on its path are finished too.
fn climb<P, M>(
    lo: usize,
    hi: usize,
    i: usize,
    value: P,
    done: &std::sync::Mutex<std::collections::HashMap<(usize, usize), P>>,
    merge: &M,
) where
    M: Fn(P, P) -> P,
{
    // The path from the root to the leaf: each node's range and which half holds the leaf.
    let mut path = Vec::new();
    let (mut a, mut b) = (lo, hi);
    while b - a > 1 {
        let mid = a + (b - a) / 2;
        path.push((a, mid, b));
        if i < mid {
            b = mid;
        } else {
            a = mid;
        }
    }
    let mut value = value;
    let mut node = (i, i + 1);
    for &(a, mid, b) in path.iter().rev() {
        let sibling = if node.0 == a { (mid, b) } else { (a, mid) };
        let other = {
            let mut table = done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(v) = table.remove(&sibling) else {
                table.insert(node, value);
                return;
            };
            v
        };
        value = if node.0 == a { merge(value, other) } else { merge(other, value) };
        node = (a, b);
    }
    done.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(node, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree by recursion, as a string that shows its shape.
    fn shape(lo: usize, hi: usize) -> String {
        if hi - lo == 1 {
            return lo.to_string();
        }
        let mid = lo + (hi - lo) / 2;
        format!("({} {})", shape(lo, mid), shape(mid, hi))
    }

    #[test]
    fn leaves_in_any_order_merge_along_the_same_tree() {
        let leaf = |i: usize| Ok(i.to_string());
        let merge = |a: String, b: String| format!("({a} {b})");
        for threads in [1, 2, 3, 8] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            for (lo, hi) in [(0, 1), (0, 2), (0, 7), (3, 20), (0, 100)] {
                let got = pool.install(|| tree_reduce(lo, hi, &leaf, &merge)).unwrap();
                assert_eq!(got, Some(shape(lo, hi)), "{threads} threads, {lo}..{hi}");
            }
            assert_eq!(pool.install(|| tree_reduce(5, 5, &leaf, &merge)).unwrap(), None);
        }
    }

    #[test]
    fn the_first_failing_leaf_is_reported() {
        let leaf = |i: usize| {
            if i == 13 { Err(crate::Error::argument("leaf 13")) } else { Ok(i) }
        };
        let err = tree_reduce(0, 50, &leaf, &|a, b| a + b).unwrap_err();
        assert!(err.to_string().contains("leaf 13"), "{err}");
    }
}
