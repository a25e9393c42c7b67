//! Histograms with given bins: numpy's edges and bin assignment, counted with SIMD copies of
//! the binning loop, alone or fused into the summary's pass.

use serde::Serialize;

use super::kernel::{Partial, Reduce, chunk_partial_with};
use super::stats::Summary;
use super::tree_reduce;
use crate::error::{Error, Result};
use crate::store::ChunkSource;
use crate::sys::Simd;

/// Bin edges of a histogram, with numpy's conventions: bin `i` holds `edges[i] <= x <
/// edges[i + 1]`, the last bin also holds its right edge, and values outside the edges and NaN
/// are not counted.
#[derive(Clone, Debug, PartialEq)]
pub enum Bins {
    /// `count` equal bins from `lo` to `hi`, as `np.histogram(a, bins=count, range=(lo, hi))`:
    /// the same edges (`np.linspace`) and the same assignment of values near an edge.
    Uniform {
        /// Left edge of the first bin.
        lo: f64,
        /// Right edge of the last bin.
        hi: f64,
        /// Number of bins.
        count: usize,
    },
    /// Explicit edges, increasing; `n + 1` edges make `n` bins.
    Edges(Vec<f64>),
}

impl Bins {
    /// The bin edges, as numpy computes them (`np.linspace` for uniform bins).
    ///
    /// # Errors
    /// [`Error::Argument`] for bins that are not finite, not increasing, or zero in number.
    pub fn edges(&self) -> Result<Vec<f64>> {
        Ok(Binner::new(self)?.edges)
    }
}

/// A histogram: `counts[i]` values fell in `edges[i]..edges[i + 1]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Histogram {
    /// The `n + 1` bin edges.
    pub edges: Vec<f64>,
    /// The `n` counts.
    pub counts: Vec<u64>,
}

/// The [`Summary`] and a histogram, in one pass: each group of tiles is binned while it is
/// still in cache after the summary kernel has read it.
pub(super) fn summary_and_histogram<T: Reduce, S: ChunkSource<T> + ?Sized, const FULL: bool>(
    src: &S,
    bins: &Bins,
) -> Result<(Summary, Vec<u64>)> {
    let binner = Binner::new(bins)?;
    let n = binner.bins();
    let leaf = |i: usize| {
        let mut p = Partial::empty();
        let mut tally = Tally::new(&binner);
        src.with_chunk(i, &mut |x: &[T]| {
            p = chunk_partial_with::<T, FULL>(x, &mut |g: &[T]| {
                count_into(&binner, g, &mut tally);
            });
        })?;
        Ok((p, tally.finish()))
    };
    let merge = |(mut a, mut ca): (Partial<T::Bound>, Vec<u64>),
                 (b, cb): (Partial<T::Bound>, Vec<u64>)| {
        a.merge(&b);
        ca.iter_mut().zip(&cb).for_each(|(x, y)| *x += y);
        (a, ca)
    };
    let (p, counts) = tree_reduce(0, src.num_chunks(), &leaf, &merge)?
        .unwrap_or_else(|| (Partial::empty(), vec![0; n]));
    Ok((Summary::from_partial::<T>(&p, FULL), counts))
}

/// Bins checked and ready for use on every element.
#[derive(Clone, Debug)]
pub(super) struct Binner {
    pub(super) edges: Vec<f64>,
    uniform: bool,
    lo: f64,
    hi: f64,
}

impl Binner {
    #[allow(clippy::float_cmp)]
    pub(super) fn new(bins: &Bins) -> Result<Binner> {
        match *bins {
            Bins::Uniform { lo, hi, count } => {
                crate::limits::check_bins(count)?;
                if count == 0
                    || count >= u32::MAX as usize
                    || !(lo.is_finite() && hi.is_finite())
                    || lo > hi
                {
                    return Err(Error::argument(format!(
                        "histogram range {lo}..{hi} with {count} bins: need finite lo <= hi and \
                         at least one bin"
                    )));
                }
                // As numpy: a zero-width range is widened by 0.5 each side.
                let (lo, hi) = if lo == hi { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
                #[allow(clippy::cast_precision_loss)]
                let step = (hi - lo) / count as f64;
                #[allow(clippy::cast_precision_loss)]
                let mut edges: Vec<f64> = (0..=count).map(|i| i as f64 * step + lo).collect();
                edges[count] = hi;
                Ok(Binner { edges, uniform: true, lo, hi })
            }
            Bins::Edges(ref e) => {
                crate::limits::check_bins(e.len().saturating_sub(1))?;
                if e.len() < 2
                    || e.iter().any(|v| !v.is_finite())
                    || e.windows(2).any(|w| w[0] > w[1])
                {
                    return Err(Error::argument(
                        "histogram edges must be at least two finite, non-decreasing values",
                    ));
                }
                Ok(Binner { edges: e.clone(), uniform: false, lo: e[0], hi: e[e.len() - 1] })
            }
        }
    }

    fn bins(&self) -> usize {
        self.edges.len() - 1
    }

    /// The bin of `x`, or `None` outside the edges (NaN included).
    #[inline]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    pub(super) fn bin(&self, x: f64) -> Option<usize> {
        if !(x >= self.lo && x <= self.hi) {
            return None;
        }
        let n = self.bins();
        if self.uniform {
            // numpy's `_histogram` fast path, step for step.
            let f = ((x - self.lo) / (self.hi - self.lo)) * n as f64;
            let mut i = (f as usize).min(n - 1);
            if x < self.edges[i] {
                i = i.saturating_sub(1);
            } else if i != n - 1 && x >= self.edges[i + 1] {
                i += 1;
            }
            Some(i)
        } else {
            let i = self.edges.partition_point(|&e| e <= x);
            Some(i.saturating_sub(1).min(n - 1))
        }
    }
}

/// Counter tables the single-slot loop spreads increments over.
const TABLES: usize = 4;

/// Largest slot-pair table (in `u32` counters, 256 KiB) [`Tally`] uses: pairs are counted for
/// up to 254 bins.
const MAX_PAIR_SLOTS: usize = 1 << 16;

/// Counts being gathered for `n` bins.
///
/// Each value has a slot: 0 for values below the bins (and NaN), `1..=n` for the bins, `n + 1`
/// for values above them; slots 0 and `n + 1` are discarded at the end. Slots are counted in
/// [`TABLES`] tables used in turn, so that runs of equal slots do not wait on each other. With
/// few bins, values are also counted two at a time: the pair of slots `(s, t)` adds one to
/// counter `s * (n + 2) + t` of a pair table, half the increments of counting them one by one.
/// The pair table is folded into the slot tables (its row and column sums) at the end, and
/// before any of its `u32` counters could overflow.
struct Tally {
    n: usize,
    /// [`TABLES`] tables of [`table_len`] slots.
    singles: Vec<u64>,
    /// `(n + 2)^2` pair counters, padded to a power of two; empty with too many bins, or with
    /// explicit edges.
    pairs: Vec<u32>,
    /// Pairs counted since `pairs` was last folded.
    pending: u64,
}

/// Slots per single-slot table for `n` bins, `n + 2` rounded up to a power of two.
fn table_len(n: usize) -> usize {
    (n + 2).next_power_of_two()
}

impl Tally {
    /// Counts for the bins of `b`; a pair table only where the uniform-bins loop will use it.
    fn new(b: &Binner) -> Tally {
        let n = b.bins();
        let w = n + 2;
        let pairs = if b.uniform && w * w <= MAX_PAIR_SLOTS {
            vec![0; (w * w).next_power_of_two()]
        } else {
            vec![]
        };
        Tally { n, singles: vec![0; TABLES * table_len(n)], pairs, pending: 0 }
    }

    /// Adds the pair table's counts to the first slot table, and clears it.
    fn fold_pairs(&mut self) {
        if self.pending == 0 {
            return;
        }
        let w = self.n + 2;
        let singles = &mut self.singles[..w];
        for (s, row) in self.pairs.chunks_exact(w).take(w).enumerate() {
            let mut total = 0u64;
            for (t, &c) in row.iter().enumerate() {
                total += u64::from(c);
                singles[t] += u64::from(c);
            }
            singles[s] += total;
        }
        self.pairs.fill(0);
        self.pending = 0;
    }

    /// The `n` bin counts.
    fn finish(mut self) -> Vec<u64> {
        self.fold_pairs();
        let n = self.n;
        let mut out = vec![0u64; n];
        for table in self.singles.chunks_exact(table_len(n)) {
            out.iter_mut().zip(&table[1..=n]).for_each(|(o, c)| *o += c);
        }
        out
    }
}

/// 2^52: adding it to a float in `[0, 2^52)` rounds that float to an integer.
const MAGIC: f64 = 4_503_599_627_370_496.0;

/// Counts the bins of `x` into `tally`.
#[allow(clippy::cast_possible_truncation)]
fn count_into<T: Reduce>(b: &Binner, x: &[T], tally: &mut Tally) {
    let slot = |v: f64| b.bin(v).map_or(0, |i| i as u32 + 1);
    if !b.uniform {
        for &v in x {
            tally.singles[slot(v.to_f64()) as usize] += 1;
        }
        return;
    }
    // A guess by multiplication; where it could be off, the exact rule (numpy's comparison
    // with the edges) instead.
    //
    // With `f = (v - lo) * scale` the exact position in bins, `a = v * scale - c` is
    // `f + 0.5` up to rounding. Clamped to `[0, n + 1]` and rounded (adding 2^52 leaves the
    // rounded value in the low mantissa bits, no float-to-integer instruction needed), it is
    // the slot: `floor(f) + 1` inside the bins, 0 below, `n + 1` above. The guess is certain
    // unless the clamped `a` is within rounding of a half-integer, that is unless `v` is
    // within rounding of an edge: `|round(a) - a| < 0.5 - margin` rules that out. NaN clamps
    // to slot 0: `if a > 0 { a } else { 0 }` is false for NaN.
    // The same code compiled for the widest vectors the CPU has: 8 lanes per instruction with
    // AVX-512, 4 with AVX2, 2 with the baseline SSE2.
    count_uniform_at(Simd::best(), &Guess::new(b), x, tally, &slot);
}

/// [`count_uniform`] compiled for `level`. Both wide sets come with fused multiply-add, which
/// the baseline lacks.
fn count_uniform_at<T: Reduce>(
    level: Simd,
    g: &Guess,
    x: &[T],
    tally: &mut Tally,
    slot: &impl Fn(f64) -> u32,
) {
    if level == Simd::Baseline {
        crate::sys::run_simd(level, CountUniform::<T, _, false> { g, x, tally, slot });
    } else {
        crate::sys::run_simd(level, CountUniform::<T, _, true> { g, x, tally, slot });
    }
}

/// The arguments of [`count_uniform`], as a kernel [`crate::sys::run_simd`] can run; `FMA`
/// only where the CPU has fused multiply-add.
struct CountUniform<'a, T, F, const FMA: bool> {
    g: &'a Guess,
    x: &'a [T],
    tally: &'a mut Tally,
    slot: &'a F,
}

impl<T: Reduce, F: Fn(f64) -> u32, const FMA: bool> crate::sys::Kernel
    for CountUniform<'_, T, F, FMA>
{
    type Output = ();

    #[inline(always)]
    #[allow(clippy::inline_always)]
    fn run(self) {
        count_uniform::<T, FMA>(self.g, self.x, self.tally, self.slot);
    }
}

/// The constants of [`count_into`]'s bin guess.
struct Guess {
    scale: f64,
    c: f64,
    /// `n + 1`, the slot above the bins.
    top: f64,
    /// Below this distance from a half-integer, the guess is certain.
    sure: f64,
}

impl Guess {
    /// The constants for the uniform bins of `b`.
    #[allow(clippy::cast_precision_loss)]
    fn new(b: &Binner) -> Guess {
        let n = b.bins();
        let scale = n as f64 / (b.hi - b.lo);
        // How far (in bins) rounding can move `a` or an edge.
        let big = b.lo.abs().max(b.hi.abs());
        let margin = 16.0 * f64::EPSILON * (2.0 * big * scale + n as f64 + 2.0);
        Guess { scale, c: b.lo * scale - 0.5, top: (n + 1) as f64, sure: 0.5 - margin }
    }

    /// `(round(a), round(a) + 2^52, |round(a) - a|)` for the clamped `a` of `v`: the slot as a
    /// float, the slot in the low bits of a float, and how far the guess is from uncertain.
    /// `FMA` computes `a` with one rounding instead of two, well inside the margin.
    #[inline(always)]
    #[allow(clippy::inline_always)]
    fn lane<const FMA: bool>(&self, v: f64) -> (f64, f64, f64) {
        let a = if FMA { v.mul_add(self.scale, -self.c) } else { v * self.scale - self.c };
        // `if a > 0 { a } else { 0 }` is the hardware max, and sends NaN to slot 0.
        let a = if a > 0.0 { a } else { 0.0 };
        let a = if a < self.top { a } else { self.top };
        let t = a + MAGIC;
        let r = t - MAGIC;
        (r, t, (r - a).abs())
    }
}

/// Elements per block of [`count_uniform`]: one certainty test covers a block.
const GUESS_BLOCK: usize = 64;
/// Vector lanes the certainty test keeps apart (a whole AVX-512 register of `f64`).
const GUESS_LANES: usize = 8;

/// The uniform-bins part of [`count_into`], written as plain loops over fixed-size blocks so
/// that the compiler vectorizes them with whatever vector width the caller is compiled for.
#[inline(always)]
#[allow(clippy::inline_always)]
fn count_uniform<T: Reduce, const FMA: bool>(
    g: &Guess,
    x: &[T],
    tally: &mut Tally,
    slot: &impl Fn(f64) -> u32,
) {
    let mut blocks = x.chunks_exact(GUESS_BLOCK);
    if tally.pairs.is_empty() {
        count_singles::<T, FMA>(g, &mut blocks, tally, slot);
    } else {
        count_pairs::<T, FMA>(g, &mut blocks, tally, slot);
    }
    for &e in blocks.remainder() {
        tally.singles[slot(e.to_f64()) as usize] += 1;
    }
}

/// How far ahead of the block being binned its data is prefetched.
const PREFETCH_BYTES: usize = 2048;

/// Prefetches the cache lines of the block that comes [`PREFETCH_BYTES`] after `block`.
///
/// The binning loop does too much arithmetic per cache line for the CPU's out-of-order window
/// to reach the next lines by itself, and the hardware prefetcher alone does not keep up:
/// without this the loop ran at half the memory bandwidth.
#[inline(always)]
#[allow(clippy::inline_always)]
fn prefetch_ahead<T>(block: &[T]) {
    let p = block.as_ptr().cast::<u8>().wrapping_add(PREFETCH_BYTES);
    for line in (0..std::mem::size_of_val(block)).step_by(64) {
        crate::sys::prefetch(p.wrapping_add(line));
    }
}

/// Counts whole blocks one slot at a time.
#[inline(always)]
#[allow(clippy::cast_possible_truncation, clippy::inline_always)]
fn count_singles<T: Reduce, const FMA: bool>(
    g: &Guess,
    blocks: &mut std::slice::ChunksExact<'_, T>,
    tally: &mut Tally,
    slot: &impl Fn(f64) -> u32,
) {
    let len = table_len(tally.n);
    let (c0, rest) = tally.singles.split_at_mut(len);
    let (c1, rest) = rest.split_at_mut(len);
    let (c2, c3) = rest.split_at_mut(len);
    let mask = len - 1;
    let mut idx = [0u32; GUESS_BLOCK];
    for block in blocks {
        prefetch_ahead(block);
        let mut worst = [0.0f64; GUESS_LANES];
        for (i, e) in idx.chunks_exact_mut(GUESS_LANES).zip(block.chunks_exact(GUESS_LANES)) {
            for l in 0..GUESS_LANES {
                let (_, t, d) = g.lane::<FMA>(e[l].to_f64());
                worst[l] = if worst[l] > d { worst[l] } else { d };
                // The low 32 bits of 2^52 are zero: those of `t` are the slot.
                i[l] = t.to_bits() as u32;
            }
        }
        if worst.iter().any(|&d| d >= g.sure) {
            for (i, &e) in idx.iter_mut().zip(block) {
                *i = slot(e.to_f64());
            }
        }
        // Slots are below `len` (a power of two); the mask lets the compiler see it.
        for q in idx.chunks_exact(4) {
            c0[q[0] as usize & mask] += 1;
            c1[q[1] as usize & mask] += 1;
            c2[q[2] as usize & mask] += 1;
            c3[q[3] as usize & mask] += 1;
        }
    }
}

/// Counts whole blocks two slots at a time: element `j` of a block with element
/// `j + GUESS_BLOCK / 2`.
#[inline(always)]
#[allow(clippy::cast_possible_truncation, clippy::inline_always)]
fn count_pairs<T: Reduce, const FMA: bool>(
    g: &Guess,
    blocks: &mut std::slice::ChunksExact<'_, T>,
    tally: &mut Tally,
    slot: &impl Fn(f64) -> u32,
) {
    const HALF: usize = GUESS_BLOCK / 2;
    // The row length of the pair table, the number of slots.
    let width = tally.n as u32 + 2;
    let width_f = f64::from(width);
    let mask = tally.pairs.len() - 1;
    let mut idx = [0u32; HALF];
    for block in blocks {
        prefetch_ahead(block);
        let (first, second) = block.split_at(HALF);
        let mut worst = [0.0f64; GUESS_LANES];
        for ((i, e0), e1) in idx
            .chunks_exact_mut(GUESS_LANES)
            .zip(first.chunks_exact(GUESS_LANES))
            .zip(second.chunks_exact(GUESS_LANES))
        {
            for l in 0..GUESS_LANES {
                let (r, _, d0) = g.lane::<FMA>(e0[l].to_f64());
                let (_, t, d1) = g.lane::<FMA>(e1[l].to_f64());
                let d = if d0 > d1 { d0 } else { d1 };
                worst[l] = if worst[l] > d { worst[l] } else { d };
                // `r * width + t` is `2^52 + r * width + s` exactly (every term an integer
                // below 2^53): its low 32 bits are the pair's counter.
                i[l] = (r * width_f + t).to_bits() as u32;
            }
        }
        if worst.iter().any(|&d| d >= g.sure) {
            for ((i, &e0), &e1) in idx.iter_mut().zip(first).zip(second) {
                *i = slot(e0.to_f64()) * width + slot(e1.to_f64());
            }
        }
        // Counters are below the table's length, a power of two: with the slice cut to
        // `..=mask`, the compiler sees that `i & mask` is in bounds.
        let pairs = &mut tally.pairs[..=mask];
        for &i in &idx {
            pairs[i as usize & mask] += 1;
        }
        tally.pending += HALF as u64;
        if tally.pending > u64::from(u32::MAX) - HALF as u64 {
            tally.fold_pairs();
        }
    }
}

/// Counts of the elements in each bin (NaN and values outside the edges not counted).
///
/// Integer data is binned by its `f64` value.
///
/// # Errors
/// [`Error::Argument`] for bad bins; whatever the source fails with while reading a chunk.
pub fn histogram<T: Reduce, S: ChunkSource<T> + ?Sized>(src: &S, bins: &Bins) -> Result<Vec<u64>> {
    let binner = Binner::new(bins)?;
    let n = binner.bins();
    let leaf = |i: usize| {
        let mut tally = Tally::new(&binner);
        src.with_chunk(i, &mut |x: &[T]| count_into(&binner, x, &mut tally))?;
        Ok(tally.finish())
    };
    let merge = |mut a: Vec<u64>, b: Vec<u64>| {
        a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
        a
    };
    Ok(tree_reduce(0, src.num_chunks(), &leaf, &merge)?.unwrap_or_else(|| vec![0; n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts of `x` in the bins of `b` by the kernel compiled for `level`, counting pairs of
    /// slots or (with `pairs` false) only single slots; `pending` starts the pair count there,
    /// to reach the fold that keeps `u32` counters from overflowing.
    fn count_at(level: Simd, b: &Binner, x: &[f64], pairs: bool, pending: u64) -> Vec<u64> {
        let mut tally = Tally::new(b);
        if !pairs {
            tally.pairs.clear();
        }
        tally.pending = pending;
        #[allow(clippy::cast_possible_truncation)]
        let slot = |v: f64| b.bin(v).map_or(0, |i| i as u32 + 1);
        count_uniform_at(level, &Guess::new(b), x, &mut tally, &slot);
        tally.finish()
    }

    /// Every compiled copy of the uniform loop this CPU can run (SSE2, AVX2, AVX-512), counting
    /// by pairs or by single slots, gives the counts of the exact rule value by value.
    #[test]
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    fn every_copy_of_the_uniform_loop_counts_like_the_exact_rule() {
        let mut x: Vec<f64> =
            (0..10_000).map(|i| f64::from((i * 7919) % 10_007) / 997.0 - 2.0).collect();
        x.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -2.0, 8.0, 0.3, 1e300]);
        let levels: Vec<Simd> = [Simd::Baseline, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|s| s.available())
            .collect();
        for (lo, hi, count) in
            [(-1.0, 7.0, 10), (0.0, 1.0, 10), (-2.0, 8.0, 100), (3.0, 3.0, 1), (-2.0, 8.0, 254)]
        {
            let b = Binner::new(&Bins::Uniform { lo, hi, count }).unwrap();
            let mut exact = vec![0u64; b.bins()];
            for &v in &x {
                if let Some(i) = b.bin(v) {
                    exact[i] += 1;
                }
            }
            let mut dispatched = Tally::new(&b);
            assert!(!dispatched.pairs.is_empty(), "{count} bins are counted by pairs");
            count_into(&b, &x, &mut dispatched);
            assert_eq!(dispatched.finish(), exact, "{lo}..{hi} / {count}");
            for &level in &levels {
                for pairs in [true, false] {
                    // Close enough to the fold that it happens within the first blocks.
                    for pending in [0, u64::from(u32::MAX) - 100] {
                        assert_eq!(
                            count_at(level, &b, &x, pairs, pending),
                            exact,
                            "{lo}..{hi} / {count}, {level:?}, pairs {pairs}, pending {pending}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn uniform_bins_put_edges_where_numpy_does() {
        let b = Binner::new(&Bins::Uniform { lo: 0.0, hi: 1.0, count: 10 }).unwrap();
        assert_eq!(b.bin(0.0), Some(0));
        assert_eq!(b.bin(0.1), Some(1));
        // The edge is 3 * 0.1 = 0.30000000000000004, so 0.3 falls in bin 2, as in numpy.
        assert_eq!(b.bin(0.3), Some(2));
        assert_eq!(b.bin(1.0), Some(9));
        assert_eq!(b.bin(1.000_000_1), None);
        assert_eq!(b.bin(f64::NAN), None);
        let e = Binner::new(&Bins::Edges(vec![0.0, 1.0, 10.0])).unwrap();
        assert_eq!(
            (e.bin(0.5), e.bin(1.0), e.bin(10.0), e.bin(-1.0)),
            (Some(0), Some(1), Some(1), None)
        );
        // Explicit edges are counted one value at a time: no pair table to zero per chunk.
        assert!(Tally::new(&e).pairs.is_empty());
    }

    /// Values on, next to and between the edges of `b`, outside them, and NaN/infinities.
    fn tricky_values(b: &Binner, seed: u64) -> Vec<f64> {
        let mut x = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, b.lo, b.hi];
        for &e in &b.edges {
            for d in [-2i64, -1, 0, 1, 2] {
                x.push(f64::from_bits(e.to_bits().wrapping_add_signed(d)));
            }
        }
        let width = b.hi - b.lo;
        let mut state = seed;
        for _ in 0..5000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            #[allow(clippy::cast_precision_loss)]
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            x.push(b.lo - 0.1 * width + 1.2 * width * u);
        }
        x
    }

    #[test]
    fn vector_binning_matches_the_scalar_numpy_rule() {
        let cases = [
            (0.0, 1.0, 10),
            (-50.0, 50.0, 37),
            (0.0, 1.0, 1),
            (1e10, 1e10 + 3.0, 7),
            (-3.5e-300, 2.0e-300, 100),
            (-1.0, 1e6, 65_536),
            (2.0, 2.0, 3),
        ];
        for (k, &(lo, hi, count)) in cases.iter().enumerate() {
            let b = Binner::new(&Bins::Uniform { lo, hi, count }).unwrap();
            let x = tricky_values(&b, k as u64);
            let mut want = vec![0u64; b.bins()];
            for &v in &x {
                if let Some(i) = b.bin(v) {
                    want[i] += 1;
                }
            }
            // Every alignment of the 4-wide and 64-element blocks.
            for skip in 0..5 {
                let mut tally = Tally::new(&b);
                count_into(&b, &x[skip..], &mut tally);
                let mut want = want.clone();
                for &v in &x[..skip] {
                    if let Some(i) = b.bin(v) {
                        want[i] -= 1;
                    }
                }
                assert_eq!(tally.finish(), want, "{lo}..{hi} / {count}, skip {skip}");
            }
        }
    }

    #[test]
    fn bad_bins_are_refused() {
        assert!(Binner::new(&Bins::Uniform { lo: 0.0, hi: f64::NAN, count: 3 }).is_err());
        assert!(Binner::new(&Bins::Uniform { lo: 0.0, hi: 1.0, count: 0 }).is_err());
        assert!(Binner::new(&Bins::Edges(vec![1.0, 0.0])).is_err());
    }
}
