//! Quantiles as `np.nanquantile` gives them, in two passes over the data after its summary: a
//! fine histogram locates the order statistics, then the values of the few bins that hold them
//! are collected and sorted.

use serde::Serialize;

use super::histogram::{Binner, Bins, histogram};
use super::kernel::Reduce;
use super::stats::{F, Summary};
use super::tree_reduce;
use crate::error::{Error, Result};
use crate::store::ChunkSource;

/// A quantile of the non-NaN elements.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Quantile {
    /// The quantile asked for, in `[0, 1]`.
    #[serde(serialize_with = "ser")]
    pub q: f64,
    /// The value.
    #[serde(serialize_with = "ser")]
    pub value: f64,
    /// True when `value` is exactly `np.nanquantile(a, q)` (numpy's default `linear` method);
    /// false when it is an estimate within `error` of it.
    pub exact: bool,
    /// Bound on `|value - exact quantile|` (0 when exact).
    #[serde(serialize_with = "ser")]
    pub error: f64,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn ser<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    F(*v).serialize(s)
}

/// Bins of the first, narrowing histogram.
const QBINS: usize = 1 << 16;
/// Values a quantile pass may collect in memory to finish exactly (8 MiB of `f64`).
const COLLECT_LIMIT: u64 = 1 << 20;

/// Quantiles of the non-NaN elements, as `np.nanquantile(a, qs)` with the default `linear`
/// method, in two more passes over the data given its [`Summary`]:
///
/// 1. a histogram of 65 536 equal bins between the finite min and max locates, for each `q`,
///    the bins that hold the two order statistics the answer interpolates between;
/// 2. the values in those bins are collected and sorted, and the answer is exact.
///
/// Infinities are values too: `-inf` sorts first and `+inf` last, as in numpy's sort, so when
/// the data holds any, one pass counts them (and finds the finite min and max) first, and the
/// order statistics that fall on them are infinities. Interpolating between them follows
/// numpy's formula, so `inf - inf` gives NaN where numpy's does.
///
/// If those bins hold more than 2^20 values (data piled on few distinct values), each order
/// statistic is narrowed down instead: a pass counts the values of its current range in 4096
/// bins, noting each bin's smallest and largest value, and the range becomes the extremes of
/// the bin that holds the rank, until that bin holds a single distinct value or at most 2^20
/// values (collected and sorted). Either way the answer is exact. Only if 16 such passes do not
/// get there (values spread over hundreds of binary orders of magnitude) is the answer an
/// estimate, `exact: false`, with `error` bounding its distance from the exact one.
///
/// # Errors
/// [`Error::Argument`] for `q` outside `[0, 1]`; whatever the source fails with.
pub fn quantiles<T: Reduce, S: ChunkSource<T> + ?Sized>(
    src: &S,
    summary: &Summary,
    qs: &[f64],
) -> Result<Vec<Quantile>> {
    if let Some(q) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
        return Err(Error::argument(format!("quantile {q} is not between 0 and 1")));
    }
    let (Some(min), Some(max)) = (summary.min, summary.max) else {
        let nan = |q| Quantile { q, value: f64::NAN, exact: true, error: 0.0 };
        return Ok(qs.iter().map(|&q| nan(q)).collect());
    };
    let (min, max) = (min.as_f64(), max.as_f64());
    let n = summary.count;
    let finite = if min.is_finite() && max.is_finite() {
        Finite { below: 0, count: n, min, max }
    } else {
        count_infinities(src)?
    };
    let plans: Vec<_> = qs.iter().map(|&q| plan(n, q)).collect();
    // The finite order statistics the answers need, by rank among the finite values.
    let ranks: Vec<u64> = plans
        .iter()
        .flat_map(|&(_, k0, k1)| [k0, k1])
        .filter_map(|k| k.checked_sub(finite.below).filter(|&r| r < finite.count))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let found = finite_order_statistics(src, &finite, &ranks)?;
    let value_of = |k: u64| match k.checked_sub(finite.below) {
        None => (f64::NEG_INFINITY, f64::NEG_INFINITY),
        Some(r) if r >= finite.count => (f64::INFINITY, f64::INFINITY),
        Some(r) => found[&r],
    };
    Ok(plans
        .iter()
        .zip(qs)
        .map(|(&(t, k0, k1), &q)| {
            let ((a0, a1), (b0, b1)) = (value_of(k0), value_of(k1));
            #[allow(clippy::float_cmp)]
            let exact = a0 == a1 && b0 == b1;
            #[allow(clippy::float_cmp)]
            let mid = |lo: f64, hi: f64| if lo == hi { lo } else { lo / 2.0 + hi / 2.0 };
            let value = lerp(mid(a0, a1), mid(b0, b1), t);
            let error = if exact { 0.0 } else { (a1 - a0).max(b1 - b0) };
            Quantile { q, value, exact, error }
        })
        .collect())
}

/// numpy's plan for quantile `q` of `n > 0` sorted values: the weight `t` and the ranks
/// `k0 <= k1` it interpolates between.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn plan(n: u64, q: f64) -> (f64, u64, u64) {
    let h = q * (n - 1) as f64;
    let k0 = (h.floor() as u64).min(n - 1);
    let k1 = (k0 + 1).min(n - 1);
    (h - k0 as f64, k0, k1)
}

/// The finite values among the non-NaN ones: `below` are `-inf` (they sort before), `count`
/// are finite, between `min` and `max` (the rest are `+inf`).
struct Finite {
    below: u64,
    count: u64,
    min: f64,
    max: f64,
}

/// One pass counting the infinities and finding the finite min and max.
fn count_infinities<T: Reduce, S: ChunkSource<T> + ?Sized>(src: &S) -> Result<Finite> {
    let empty = || Finite { below: 0, count: 0, min: f64::INFINITY, max: f64::NEG_INFINITY };
    let leaf = |i: usize| {
        let mut f = empty();
        src.with_chunk(i, &mut |x: &[T]| {
            for &v in x {
                let v = v.to_f64();
                if v.is_finite() {
                    f.count += 1;
                    f.min = f.min.min(v);
                    f.max = f.max.max(v);
                } else if v == f64::NEG_INFINITY {
                    f.below += 1;
                }
            }
        })?;
        Ok(f)
    };
    let merge = |a: Finite, b: Finite| Finite {
        below: a.below + b.below,
        count: a.count + b.count,
        min: a.min.min(b.min),
        max: a.max.max(b.max),
    };
    Ok(tree_reduce(0, src.num_chunks(), &leaf, &merge)?.unwrap_or_else(empty))
}

/// The `ranks`-th smallest finite values (0-based, sorted), each as a range `(lo, hi)` that is
/// one value when found exactly.
fn finite_order_statistics<T: Reduce, S: ChunkSource<T> + ?Sized>(
    src: &S,
    finite: &Finite,
    ranks: &[u64],
) -> Result<std::collections::BTreeMap<u64, (f64, f64)>> {
    let (min, max) = (finite.min, finite.max);
    #[allow(clippy::float_cmp)] // equal ends, exactly as numpy compares them
    if ranks.is_empty() || min == max {
        return Ok(ranks.iter().map(|&r| (r, (min, min))).collect());
    }
    let bins = Bins::Uniform { lo: min, hi: max, count: QBINS };
    let binner = Binner::new(&bins)?;
    let ranks = Ranks::locate(histogram(src, &bins)?, ranks);
    if ranks.to_collect() > COLLECT_LIMIT {
        let mut found = std::collections::BTreeMap::new();
        for &(k, _) in &ranks.plans {
            found.insert(k, order_statistic(src, k, min, max)?);
        }
        return Ok(found);
    }
    let values = collect_wanted(src, &binner, &ranks.wanted)?;
    ranks.exact(&values)
}

/// Where the wanted order statistics lie in the narrowing histogram.
struct Ranks {
    counts: Vec<u64>,
    /// `cum[b]`: values in the bins before `b`.
    cum: Vec<u64>,
    /// Per order statistic: its rank and the bin holding it.
    plans: Vec<(u64, usize)>,
    /// The bins whose values the exact answer needs.
    wanted: Vec<bool>,
}

impl Ranks {
    fn locate(counts: Vec<u64>, ranks: &[u64]) -> Ranks {
        let mut cum = Vec::with_capacity(counts.len() + 1);
        cum.push(0u64);
        for c in &counts {
            cum.push(cum.last().copied().unwrap_or(0) + c);
        }
        let bin_of_rank = |k: u64| cum.partition_point(|&c| c <= k).saturating_sub(1);
        let plans: Vec<_> = ranks.iter().map(|&k| (k, bin_of_rank(k))).collect();
        let mut wanted = vec![false; counts.len()];
        for p in &plans {
            if let Some(w) = wanted.get_mut(p.1) {
                *w = true;
            }
        }
        Ranks { counts, cum, plans, wanted }
    }

    /// How many values the wanted bins hold.
    fn to_collect(&self) -> u64 {
        self.counts.iter().zip(&self.wanted).filter(|&(_, &w)| w).map(|(&c, _)| c).sum()
    }

    /// The order statistics from the sorted values of the wanted bins (`got`, bin by bin).
    #[allow(clippy::cast_possible_truncation)]
    fn exact(&self, got: &[(usize, f64)]) -> Result<std::collections::BTreeMap<u64, (f64, f64)>> {
        // Position in `got` of the first value of each wanted bin.
        let mut start = vec![0usize; self.counts.len()];
        let mut at = 0usize;
        for (b, s) in start.iter_mut().enumerate() {
            *s = at;
            if self.wanted[b] {
                at += self.counts[b] as usize;
            }
        }
        self.plans
            .iter()
            .map(|&(k, b)| {
                let v = start
                    .get(b)
                    .and_then(|&s| k.checked_sub(self.cum[b]).map(|d| s + d as usize))
                    .and_then(|i| got.get(i))
                    .filter(|g| g.0 == b)
                    .ok_or_else(|| {
                        Error::argument("the data changed while quantiles were computed")
                    })?;
                Ok((k, (v.1, v.1)))
            })
            .collect()
    }
}

/// The values of the `wanted` bins with their bin, sorted by bin then value; the chunks are
/// read in parallel and merged in a fixed order.
fn collect_wanted<T: Reduce, S: ChunkSource<T> + ?Sized>(
    src: &S,
    binner: &Binner,
    wanted: &[bool],
) -> Result<Vec<(usize, f64)>> {
    let leaf = |i: usize| {
        let mut got: Vec<(usize, f64)> = Vec::new();
        src.with_chunk(i, &mut |x: &[T]| {
            for &v in x {
                let v = v.to_f64();
                if let Some(b) = binner.bin(v)
                    && wanted[b]
                {
                    got.push((b, v));
                }
            }
        })?;
        Ok(got)
    };
    let merge = |mut a: Vec<(usize, f64)>, b: Vec<(usize, f64)>| {
        a.extend(b);
        a
    };
    let mut got = tree_reduce(0, src.num_chunks(), &leaf, &merge)?.unwrap_or_default();
    got.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    Ok(got)
}

/// Bins of each narrowing pass after the first.
const NARROW_BINS: usize = 4096;
/// Narrowing passes per order statistic before settling for an estimate.
const NARROW_PASSES: usize = 16;

/// The range `(lo, hi)` that holds the `k`-th smallest non-NaN value (0-based), `lo == hi`
/// when it is found exactly. Each pass narrows `lo..=hi` to the extremes of the bin that holds
/// the rank.
#[allow(clippy::float_cmp)]
fn order_statistic<T: Reduce, S: ChunkSource<T> + ?Sized>(
    src: &S,
    k: u64,
    min: f64,
    max: f64,
) -> Result<(f64, f64)> {
    let changed = || Error::argument("the data changed while quantiles were computed");
    let (mut lo, mut hi, mut below) = (min, max, 0u64);
    for _ in 0..NARROW_PASSES {
        if lo == hi {
            break;
        }
        let table = narrow_pass(src, lo, hi)?;
        let mut cum = below;
        let mut hit = None;
        for &(count, bmin, bmax) in &table {
            if k < cum + count {
                hit = Some((count, bmin, bmax));
                break;
            }
            cum += count;
        }
        let (count, bmin, bmax) = hit.ok_or_else(changed)?;
        (lo, hi, below) = (bmin, bmax, cum);
        if bmin != bmax && count <= COLLECT_LIMIT {
            let mut got = Vec::new();
            for_each_value(src, &mut |v| {
                if (bmin..=bmax).contains(&v) {
                    got.push(v);
                }
            })?;
            got.sort_by(f64::total_cmp);
            let v = usize::try_from(k - cum).ok().and_then(|i| got.get(i)).ok_or_else(changed)?;
            return Ok((*v, *v));
        }
    }
    Ok((lo, hi))
}

/// The bin of `v` among [`NARROW_BINS`] equal bins over `lo..=hi`; monotonic in `v`. Halves
/// keep the differences finite whatever the range.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
fn narrow_bin(v: f64, lo: f64, hi: f64) -> usize {
    let f = (v / 2.0 - lo / 2.0) / (hi / 2.0 - lo / 2.0) * NARROW_BINS as f64;
    (f as usize).min(NARROW_BINS - 1)
}

/// Per bin of `lo..=hi`: how many values it holds, and the smallest and largest of them.
fn narrow_pass<T: Reduce, S: ChunkSource<T> + ?Sized>(
    src: &S,
    lo: f64,
    hi: f64,
) -> Result<Vec<(u64, f64, f64)>> {
    let empty = || vec![(0u64, f64::INFINITY, f64::NEG_INFINITY); NARROW_BINS];
    let leaf = |i: usize| {
        let mut t = empty();
        src.with_chunk(i, &mut |x: &[T]| {
            for &v in x {
                let v = v.to_f64();
                if (lo..=hi).contains(&v) {
                    let b = &mut t[narrow_bin(v, lo, hi)];
                    *b = (b.0 + 1, b.1.min(v), b.2.max(v));
                }
            }
        })?;
        Ok(t)
    };
    let merge = |mut a: Vec<(u64, f64, f64)>, b: Vec<(u64, f64, f64)>| {
        for (x, y) in a.iter_mut().zip(b) {
            *x = (x.0 + y.0, x.1.min(y.1), x.2.max(y.2));
        }
        a
    };
    Ok(tree_reduce(0, src.num_chunks(), &leaf, &merge)?.unwrap_or_else(empty))
}

/// Calls `f` on every element as `f64`, chunk by chunk in order.
fn for_each_value<T: Reduce, S: ChunkSource<T> + ?Sized>(
    src: &S,
    f: &mut dyn FnMut(f64),
) -> Result<()> {
    for i in 0..src.num_chunks() {
        crate::sys::check_interrupt()?;
        src.with_chunk(i, &mut |x: &[T]| x.iter().for_each(|&v| f(v.to_f64())))?;
    }
    Ok(())
}

/// numpy's `_lerp`: `a + (b - a) * t`, computed from the nearer end for `t >= 0.5`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 { b - d * (1.0 - t) } else { a + d * t }
}
