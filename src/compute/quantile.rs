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
/// 1. a histogram of 65 536 equal bins between min and max locates, for each `q`, the bins that
///    hold the two order statistics the answer interpolates between;
/// 2. the values in those bins are collected and sorted, and the answer is exact.
///
/// If those bins hold more than 2^20 values (data piled on few distinct values over a huge
/// range), step 2 is skipped and the result is an estimate, interpolated within the bin, with
/// `exact: false` and an error bound of one bin width.
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
    #[allow(clippy::float_cmp)] // equal ends, exactly as numpy compares them
    if !(min.is_finite() && max.is_finite()) || min == max {
        return Ok(between_ends(min, max, qs));
    }
    let bins = Bins::Uniform { lo: min, hi: max, count: QBINS };
    let binner = Binner::new(&bins)?;
    let ranks = Ranks::locate(histogram(src, &bins)?, summary.count, qs);
    if ranks.to_collect() > COLLECT_LIMIT {
        return Ok(ranks.estimates(&binner, qs));
    }
    let values = collect_wanted(src, &binner, &ranks.wanted)?;
    ranks.exact(&values, qs)
}

/// Quantiles when the ends are not finite (numpy's interpolation gives the extremes or NaN) or
/// equal (every value is the same).
#[allow(clippy::float_cmp)]
fn between_ends(min: f64, max: f64, qs: &[f64]) -> Vec<Quantile> {
    let equal = min == max;
    qs.iter()
        .map(|&q| Quantile {
            q,
            value: if equal { min } else { lerp(min, max, q) },
            exact: equal,
            error: if equal { 0.0 } else { f64::INFINITY },
        })
        .collect()
}

/// Where the order statistics of each quantile lie in the narrowing histogram.
struct Ranks {
    counts: Vec<u64>,
    /// `cum[b]`: values in the bins before `b`.
    cum: Vec<u64>,
    /// Per quantile: the interpolation weight, ranks `k0 <= k1`, and the bins holding them.
    plans: Vec<(f64, u64, u64, usize, usize)>,
    /// The bins whose values the exact answer needs.
    wanted: Vec<bool>,
}

impl Ranks {
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn locate(counts: Vec<u64>, n: u64, qs: &[f64]) -> Ranks {
        let mut cum = Vec::with_capacity(counts.len() + 1);
        cum.push(0u64);
        for c in &counts {
            cum.push(cum.last().copied().unwrap_or(0) + c);
        }
        let bin_of_rank = |k: u64| cum.partition_point(|&c| c <= k) - 1;
        let plans: Vec<_> = qs
            .iter()
            .map(|&q| {
                let h = q * (n - 1) as f64;
                let k0 = (h.floor() as u64).min(n - 1);
                let k1 = (k0 + 1).min(n - 1);
                (h - k0 as f64, k0, k1, bin_of_rank(k0), bin_of_rank(k1))
            })
            .collect();
        let mut wanted = vec![false; counts.len()];
        for p in &plans {
            wanted[p.3..=p.4].iter_mut().for_each(|w| *w = true);
        }
        Ranks { counts, cum, plans, wanted }
    }

    /// How many values the wanted bins hold.
    fn to_collect(&self) -> u64 {
        self.counts.iter().zip(&self.wanted).filter(|&(_, &w)| w).map(|(&c, _)| c).sum()
    }

    /// Estimates interpolated within the bin of each quantile's lower rank.
    #[allow(clippy::cast_precision_loss)]
    fn estimates(&self, binner: &Binner, qs: &[f64]) -> Vec<Quantile> {
        let edges = &binner.edges;
        let width = edges[1] - edges[0];
        self.plans
            .iter()
            .zip(qs)
            .map(|(&(t, k0, _, b0, _), &q)| {
                let within = (k0 - self.cum[b0]) as f64 + t;
                let frac = within / self.counts[b0].max(1) as f64;
                let value = edges[b0] + frac * (edges[b0 + 1] - edges[b0]);
                Quantile { q, value, exact: false, error: 2.0 * width }
            })
            .collect()
    }

    /// Exact quantiles from the sorted values of the wanted bins (`got`, bin by bin).
    #[allow(clippy::cast_possible_truncation)]
    fn exact(&self, got: &[(usize, f64)], qs: &[f64]) -> Result<Vec<Quantile>> {
        // Position in `got` of the first value of each wanted bin.
        let mut start = vec![0usize; self.counts.len()];
        let mut at = 0usize;
        for (b, s) in start.iter_mut().enumerate() {
            *s = at;
            if self.wanted[b] {
                at += self.counts[b] as usize;
            }
        }
        let value_at =
            |k: u64, b: usize| got.get(start[b] + (k - self.cum[b]) as usize).map(|g| g.1);
        self.plans
            .iter()
            .zip(qs)
            .map(|(&(t, k0, k1, b0, b1), &q)| {
                let (Some(a), Some(b)) = (value_at(k0, b0), value_at(k1, b1)) else {
                    return Err(Error::argument("the data changed while quantiles were computed"));
                };
                Ok(Quantile { q, value: lerp(a, b, t), exact: true, error: 0.0 })
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

/// numpy's `_lerp`: `a + (b - a) * t`, computed from the nearer end for `t >= 0.5`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 { b - d * (1.0 - t) } else { a + d * t }
}
