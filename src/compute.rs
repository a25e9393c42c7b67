//! Streaming reductions and group-by over arrays of any size.
//!
//! Everything here consumes an array as a sequence of contiguous chunks of elements in storage
//! order (the [`ChunkSource`] trait). The chunks are reduced in parallel with rayon, each to a
//! small partial result, and the partials are merged along a fixed binary tree over the chunk
//! indices. Chunk boundaries depend only on the array (its element count and
//! [`CHUNK_BYTES`]), never on the number of threads, so results are bit-identical whatever the
//! thread count. Memory stays bounded by a few chunks per thread: the memory-mapped source
//! ([`MmapChunks`]) hints sequential access to the kernel and, when the array is large against
//! the memory available, releases each chunk's pages from the process's resident set as soon
//! as the chunk is reduced.
//!
//! ```
//! use larder::{MmapArray, NpyWriter};
//! use larder::compute::{self, MmapChunks};
//! # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
//! # let path = dir.path().join("x.npy");
//! let mut w = NpyWriter::<f64>::create(&path, &[])?;
//! w.append(&[1.0, 2.0, f64::NAN, 4.0])?;
//! w.finish()?;
//!
//! let a = MmapArray::<f64>::open(&path)?;
//! let s = compute::summary(&MmapChunks::new(&a)?)?;
//! assert_eq!((s.count, s.nan_count), (3, 1));
//! assert_eq!(s.sum, compute::Number::Float(7.0));
//! # Ok::<(), larder::Error>(())
//! ```
//!
//! See `docs/compute.md` for the algorithms, the NaN rules and the memory bound.

mod axis;
mod groupby;
mod histogram;
mod kernel;
mod source;
mod stats;

pub use axis::{AxisSummary, MAX_POSITIONS, summary_axis, summary_axis_any};
pub use groupby::{Agg, AggKind, GroupBy, GroupKey, MAX_GROUPS, Manifest, ManifestColumn, groupby};
pub use histogram::{Bins, Histogram, Quantile, Stats, StatsOptions, histogram, quantiles, stats};
pub use kernel::Reduce;
pub use source::{CHUNK_BYTES, ChunkSource, MmapChunks, SliceChunks, StoreChunks};
pub use stats::{
    ComplexParts, Number, Summary, summary, summary_any, summary_basic, summary_complex,
};

use crate::error::Result;

/// Reduces chunks `lo..hi` of a source along a fixed binary tree: the two halves run in
/// parallel (rayon) and are merged left then right. The tree depends only on `lo` and `hi`, so
/// the result does not depend on the number of threads.
pub(crate) fn tree_reduce<P, L, M>(lo: usize, hi: usize, leaf: &L, merge: &M) -> Result<Option<P>>
where
    P: Send,
    L: Fn(usize) -> Result<P> + Sync,
    M: Fn(P, P) -> P + Sync,
{
    match hi.saturating_sub(lo) {
        0 => Ok(None),
        1 => leaf(lo).map(Some),
        n => {
            let mid = lo + n / 2;
            let (a, b) = rayon::join(
                || tree_reduce(lo, mid, leaf, merge),
                || tree_reduce(mid, hi, leaf, merge),
            );
            Ok(match (a?, b?) {
                (Some(a), Some(b)) => Some(merge(a, b)),
                (a, b) => a.or(b),
            })
        }
    }
}
