//! The inner loops: per-tile statistics for each element type, and how partial results merge.
//!
//! A tile is at most [`TILE`] elements (32 KiB of `f64`, so it stays in the L1 cache for the
//! second pass that computes the sum of squared deviations). Inside a tile, sums run in
//! [`LANES`] independent accumulators over blocks of [`BLOCK`] elements — the shape numpy's
//! pairwise summation uses, which the compiler turns into SIMD code — and block sums are added
//! into a compensated (Neumaier) sum. Tiles and chunks merge with Chan's formula for the
//! second moment.

use half::f16;
use wide::f64x4;

use crate::dtype::Element;

/// Elements per tile.
pub(crate) const TILE: usize = 4096;
/// Elements per plainly summed block inside a tile.
const BLOCK: usize = 128;
/// Independent accumulators in the inner loops.
const LANES: usize = 8;

/// A sum kept both as a compensated float (`hi + lo`, for float data) and as an exact integer
/// (for integer data); only one of the two is ever non-zero.
#[allow(unreachable_pub)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sum {
    pub(crate) hi: f64,
    pub(crate) lo: f64,
    pub(crate) int: i128,
}

impl Sum {
    /// Adds `x` to the compensated float sum (Neumaier's variant of Kahan summation).
    #[inline]
    pub(crate) fn add_f64(&mut self, x: f64) {
        let t = self.hi + x;
        // Knuth's TwoSum: the exact rounding error of `hi + x`, branch-free.
        let bb = t - self.hi;
        let err = (self.hi - (t - bb)) + (x - bb);
        self.hi = t;
        self.lo += err;
    }

    /// Adds another sum.
    #[inline]
    pub(crate) fn merge(&mut self, o: &Sum) {
        self.add_f64(o.hi);
        self.lo += o.lo;
        self.int = self.int.saturating_add(o.int);
    }

    /// The value as an `f64`: the compensated float sum (its error term dropped when the sum
    /// is infinite or NaN), plus the integer sum.
    pub(crate) fn value(&self) -> f64 {
        let f = if self.hi.is_finite() { self.hi + self.lo } else { self.hi };
        #[allow(clippy::cast_precision_loss)]
        let i = self.int as f64;
        f + i
    }
}

/// A bound that min/max are kept in: `f64` for float data, `i128` for integer data (wide enough
/// for every `u64` and `i64`).
// `pub` (in a private module) because `Reduce`'s hidden items name it; not reachable by users.
#[allow(unreachable_pub)]
pub trait Bound: Copy + PartialOrd + Send + Sync + std::fmt::Debug {
    const LOWEST: Self;
    const HIGHEST: Self;
}

impl Bound for f64 {
    const LOWEST: f64 = f64::NEG_INFINITY;
    const HIGHEST: f64 = f64::INFINITY;
}

impl Bound for i128 {
    const LOWEST: i128 = i128::MIN;
    const HIGHEST: i128 = i128::MAX;
}

/// Statistics of a run of elements: what every tile, chunk and subtree reduces to.
// `pub` for the same reason as `Bound`.
#[allow(unreachable_pub)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Partial<M> {
    /// Elements that are not NaN.
    pub(crate) n: u64,
    /// NaN elements.
    pub(crate) nan: u64,
    pub(crate) sum: Sum,
    /// Sum of squared deviations from the mean of the non-NaN elements.
    pub(crate) m2: f64,
    /// Smallest and largest non-NaN element (meaningless while `n == 0`).
    pub(crate) min: M,
    pub(crate) max: M,
}

impl<M: Bound> Partial<M> {
    pub(crate) fn empty() -> Self {
        Partial { n: 0, nan: 0, sum: Sum::default(), m2: 0.0, min: M::HIGHEST, max: M::LOWEST }
    }

    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn mean(&self) -> f64 {
        self.sum.value() / self.n as f64
    }

    /// Merges `o`, the partial of the elements right after these (Chan et al.'s update of the
    /// second moment). Ties in min/max keep the left value, so the result is a fixed function
    /// of the two operands.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn merge(&mut self, o: &Self) {
        if o.n > 0 {
            if self.n == 0 {
                self.m2 = o.m2;
                self.min = o.min;
                self.max = o.max;
            } else {
                let (na, nb) = (self.n as f64, o.n as f64);
                let delta = o.mean() - self.mean();
                self.m2 += o.m2 + delta * delta * (na * nb / (na + nb));
                if o.min < self.min {
                    self.min = o.min;
                }
                if o.max > self.max {
                    self.max = o.max;
                }
            }
        }
        self.n += o.n;
        self.nan += o.nan;
        self.sum.merge(&o.sum);
    }
}

/// The element types that reduce to real statistics: everything but complex numbers.
///
/// Sealed through [`Element`]. Float types (`f16`, `f32`, `f64`) are accumulated in `f64`;
/// integer types and `bool` are summed exactly (in `i128`), and their mean and variance are
/// computed in `f64`.
pub trait Reduce: Element + private::Sealed {
    #[doc(hidden)]
    type Bound: Bound;
    #[doc(hidden)]
    const IS_FLOAT: bool;
    /// The value as `f64` (exact for every type except 64-bit integers beyond 2^53).
    fn to_f64(self) -> f64;
    /// The value as `i128` (exact for integers; floats truncated toward zero).
    #[doc(hidden)]
    fn to_i128(self) -> i128;
    #[doc(hidden)]
    fn bound_to_f64(b: Self::Bound) -> f64;
    #[doc(hidden)]
    fn bound_to_i128(b: Self::Bound) -> i128;
    /// Statistics of at most [`TILE`] elements; with `FULL == false` all but the second moment.
    #[doc(hidden)]
    fn tile<const FULL: bool>(x: &[Self]) -> Partial<Self::Bound>;
}

mod private {
    pub trait Sealed {}
}

/// Statistics of a whole chunk: its tiles, merged left to right.
pub(crate) fn chunk_partial<T: Reduce, const FULL: bool>(x: &[T]) -> Partial<T::Bound> {
    let mut acc = Partial::empty();
    for tile in x.chunks(TILE) {
        acc.merge(&T::tile::<FULL>(tile));
    }
    acc
}

/// [`chunk_partial`] (the same result, bit for bit), also handing each tile to `also`: two
/// reductions for the memory traffic of one. `also` sees the tile first and reads it from
/// memory; the statistics kernel then finds it in the cache. In that order the loop that does
/// more arithmetic per element is the one that waits on memory, which hides more of the wait:
/// a histogram in the same pass cost about a fifth less than the other way round.
pub(crate) fn chunk_partial_with<T: Reduce, const FULL: bool>(
    x: &[T],
    also: &mut impl FnMut(&[T]),
) -> Partial<T::Bound> {
    // Through `chunk_partial` (one tile, merged into an empty partial: the tile's own partial),
    // so that `T::tile` keeps a single caller and stays inlined in the plain scan.
    let mut acc = Partial::empty();
    for tile in x.chunks(TILE) {
        also(tile);
        acc.merge(&chunk_partial::<T, FULL>(tile));
    }
    acc
}

#[inline]
fn tree8(s: [f64; LANES]) -> f64 {
    ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

/// Minimum of the lanes, NaN-skipping (`v < m` is false for NaN).
#[inline]
fn lanes_min(v: [f64; LANES]) -> f64 {
    v.into_iter().fold(f64::INFINITY, |a, b| if b < a { b } else { a })
}

#[inline]
fn lanes_max(v: [f64; LANES]) -> f64 {
    v.into_iter().fold(f64::NEG_INFINITY, |a, b| if b > a { b } else { a })
}

/// The float kernel, shared by `f16`, `f32` and `f64` through `conv`.
///
/// The first pass reads the tile from memory and keeps, in `LANES` lanes, the sum and the
/// hardware min and max, which cost nothing extra while the loop waits for memory.
/// It does not look for NaN: the plain sum of a tile is NaN exactly when the tile holds a NaN
/// or both infinities, and only then is the tile summed again (from L1) with NaN masked out and
/// counted, and min and max taken again with NaN skipped (`v < m` is false for NaN). With
/// `FULL`, a second pass, also from L1, sums the squared deviations from the tile's mean.
#[inline]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::many_single_char_names
)]
fn float_tile<T: Copy, const FULL: bool>(x: &[T], conv: impl Fn(T) -> f64 + Copy) -> Partial<f64> {
    let mut sum = Sum::default();
    let mut lo4 = f64x4::splat(f64::INFINITY);
    let mut hi4 = f64x4::splat(f64::NEG_INFINITY);
    // Min and max of the elements after the last whole group of `LANES` (BLOCK is a multiple
    // of LANES, so only the tile's last block has any).
    let mut lo_tail = [f64::INFINITY; LANES];
    let mut hi_tail = [f64::NEG_INFINITY; LANES];
    for block in x.chunks(BLOCK) {
        // Lanes 0..4 and 4..8 of the sum: element `k` of the block goes to lane `k % LANES`.
        let (mut a0, mut a1) = (f64x4::ZERO, f64x4::ZERO);
        let mut it = block.chunks_exact(LANES);
        for c in &mut it {
            let (v0, v1) = load8(c, conv);
            a0 += v0;
            a1 += v1;
            // `fast_min` is the hardware min: wrong only for NaN, and a tile with NaN takes the
            // slow path below, which computes min and max again.
            lo4 = v0.fast_min(v1).fast_min(lo4);
            hi4 = v0.fast_max(v1).fast_max(hi4);
        }
        let mut acc = lanes8(a0, a1);
        for (i, &c) in it.remainder().iter().enumerate() {
            let v = conv(c);
            acc[i] += v;
            lo_tail[i] = if v < lo_tail[i] { v } else { lo_tail[i] };
            hi_tail[i] = if v > hi_tail[i] { v } else { hi_tail[i] };
        }
        sum.add_f64(tree8(acc));
    }
    let mut nans = 0u64;
    if sum.hi.is_nan() {
        (sum, nans) = masked_sum(x, conv);
    }
    let n = x.len() as u64 - nans;
    let mut p = Partial { n, nan: nans, sum, m2: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY };
    if n == 0 {
        return p;
    }
    let mean = p.mean();
    let mut it = x.chunks_exact(LANES);
    let (mut q, mut lo, mut hi);
    if nans == 0 {
        q = if FULL { deviations(&mut it, conv, mean) } else { [0.0; LANES] };
        lo = lanes8(lo4, f64x4::splat(f64::INFINITY));
        hi = lanes8(hi4, f64x4::splat(f64::NEG_INFINITY));
    } else {
        (q, lo, hi) = ([0.0; LANES], [f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
        for c in &mut it {
            for i in 0..LANES {
                let v = conv(c[i]);
                if FULL {
                    let d = v - mean;
                    q[i] += if v.is_nan() { 0.0 } else { d * d };
                }
                lo[i] = if v < lo[i] { v } else { lo[i] };
                hi[i] = if v > hi[i] { v } else { hi[i] };
            }
        }
    }
    if FULL {
        for (i, &c) in it.remainder().iter().enumerate() {
            let v = conv(c);
            let d = v - mean;
            q[i] += if v.is_nan() { 0.0 } else { d * d };
        }
        p.m2 = tree8(q);
    }
    for i in 0..LANES {
        lo[i] = if lo_tail[i] < lo[i] { lo_tail[i] } else { lo[i] };
        hi[i] = if hi_tail[i] > hi[i] { hi_tail[i] } else { hi[i] };
    }
    p.min = lanes_min(lo);
    p.max = lanes_max(hi);
    p
}

/// Eight consecutive elements as two vectors (lanes 0..4 and 4..8).
#[inline]
fn load8<T: Copy>(c: &[T], conv: impl Fn(T) -> f64) -> (f64x4, f64x4) {
    (
        f64x4::new([conv(c[0]), conv(c[1]), conv(c[2]), conv(c[3])]),
        f64x4::new([conv(c[4]), conv(c[5]), conv(c[6]), conv(c[7])]),
    )
}

/// Two vectors as `LANES` lanes.
#[inline]
fn lanes8(a: f64x4, b: f64x4) -> [f64; LANES] {
    let (a, b) = (a.to_array(), b.to_array());
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
}

/// Squared deviations from `mean`, in `LANES` lanes, of NaN-free data.
#[inline]
fn deviations<T: Copy>(
    it: &mut std::slice::ChunksExact<'_, T>,
    conv: impl Fn(T) -> f64 + Copy,
    mean: f64,
) -> [f64; LANES] {
    let m = f64x4::splat(mean);
    let mut q = f64x4::ZERO;
    // One dependent update per 8 elements, and few live registers: SSE2 has 16.
    for c in it {
        let (v0, v1) = load8(c, conv);
        let (d0, d1) = (v0 - m, v1 - m);
        q += d0 * d0 + d1 * d1;
    }
    lanes8(q, f64x4::ZERO)
}

/// The sum of a tile with NaN skipped, and the number of NaN: the slow path of [`float_tile`].
#[cold]
#[inline(never)]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn masked_sum<T: Copy>(x: &[T], conv: impl Fn(T) -> f64 + Copy) -> (Sum, u64) {
    let mut sum = Sum::default();
    let mut nan = [0.0f64; LANES];
    for block in x.chunks(BLOCK) {
        let mut acc = [0.0f64; LANES];
        for (k, &c) in block.iter().enumerate() {
            let v = conv(c);
            let bad = v.is_nan();
            acc[k % LANES] += if bad { 0.0 } else { v };
            nan[k % LANES] += if bad { 1.0 } else { 0.0 };
        }
        sum.add_f64(tree8(acc));
    }
    (sum, tree8(nan) as u64)
}

macro_rules! float_reduce {
    ($($t:ty => |$v:ident| $conv:expr;)*) => {$(
        impl private::Sealed for $t {}
        impl Reduce for $t {
            type Bound = f64;
            const IS_FLOAT: bool = true;
            #[inline]
            fn to_f64(self) -> f64 { let $v = self; $conv }
            #[inline]
            #[allow(clippy::cast_possible_truncation)]
            fn to_i128(self) -> i128 { self.to_f64() as i128 }
            fn bound_to_f64(b: f64) -> f64 { b }
            #[allow(clippy::cast_possible_truncation)]
            fn bound_to_i128(b: f64) -> i128 { b as i128 }
            fn tile<const FULL: bool>(x: &[Self]) -> Partial<f64> {
                float_tile::<$t, FULL>(x, |$v| $conv)
            }
        }
    )*};
}

float_reduce! {
    f64 => |v| v;
    f32 => |v| f64::from(v);
    f16 => |v| f64::from(v);
}

/// The integer kernel: `wide` turns an element into the `i64` lane type it is summed in
/// (at most 2^32 in magnitude per element, so a tile's sum cannot overflow), `split` the
/// high part that is summed separately for 64-bit types.
macro_rules! int_reduce {
    ($($t:ty, $key:ty;)*) => {$(
        impl private::Sealed for $t {}
        impl Reduce for $t {
            type Bound = i128;
            const IS_FLOAT: bool = false;
            #[inline]
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn to_f64(self) -> f64 { key_of(self) as f64 }
            #[inline]
            fn to_i128(self) -> i128 { key_of(self).into() }
            #[allow(clippy::cast_precision_loss)]
            fn bound_to_f64(b: i128) -> f64 { b as f64 }
            fn bound_to_i128(b: i128) -> i128 { b }
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless, clippy::cast_possible_wrap)]
            fn tile<const FULL: bool>(x: &[Self]) -> Partial<i128> {
                let mut lo_sum = [0i64; LANES];
                let mut hi_sum = [0i64; LANES];
                let mut lo = [<$key>::MAX; LANES];
                let mut hi = [<$key>::MIN; LANES];
                let mut it = x.chunks_exact(LANES);
                for c in &mut it {
                    for i in 0..LANES {
                        let v = key_of(c[i]);
                        let (h, l) = split(v);
                        lo_sum[i] += l;
                        hi_sum[i] += h;
                        lo[i] = if v < lo[i] { v } else { lo[i] };
                        hi[i] = if v > hi[i] { v } else { hi[i] };
                    }
                }
                for (i, &c) in it.remainder().iter().enumerate() {
                    let v = key_of(c);
                    let (h, l) = split(v);
                    lo_sum[i] += l;
                    hi_sum[i] += h;
                    lo[i] = if v < lo[i] { v } else { lo[i] };
                    hi[i] = if v > hi[i] { v } else { hi[i] };
                }
                let l: i128 = lo_sum.iter().map(|&s| i128::from(s)).sum();
                let h: i128 = hi_sum.iter().map(|&s| i128::from(s)).sum();
                let sum = Sum { hi: 0.0, lo: 0.0, int: (h << 32) + l };
                let n = x.len() as u64;
                let mut p = Partial { n, nan: 0, sum, m2: 0.0, min: i128::MAX, max: i128::MIN };
                if n > 0 {
                    p.min = i128::from(lo.into_iter().min().unwrap_or(<$key>::MAX));
                    p.max = i128::from(hi.into_iter().max().unwrap_or(<$key>::MIN));
                }
                if FULL && n > 0 {
                    let mean = p.mean();
                    let mut q = [0.0f64; LANES];
                    let mut it = x.chunks_exact(LANES);
                    for c in &mut it {
                        for i in 0..LANES {
                            let d = key_of(c[i]) as f64 - mean;
                            q[i] += d * d;
                        }
                    }
                    for (i, &c) in it.remainder().iter().enumerate() {
                        let d = key_of(c) as f64 - mean;
                        q[i] += d * d;
                    }
                    p.m2 = tree8(q);
                }
                p
            }
        }
    )*};
}

/// The value an integer element is compared and summed as.
trait Key: Copy {
    type K: Copy + Ord + Into<i128>;
    fn key(self) -> Self::K;
}

#[inline]
fn key_of<T: Key>(v: T) -> T::K {
    v.key()
}

/// Splits a value into a high and a low part, each summable in `i64` lanes over a tile.
trait Split: Copy {
    fn split(self) -> (i64, i64);
}

#[inline]
fn split<T: Split>(v: T) -> (i64, i64) {
    v.split()
}

macro_rules! small_int {
    ($($t:ty),*) => {$(
        impl Key for $t {
            type K = $t;
            #[inline]
            fn key(self) -> $t { self }
        }
        impl Split for $t {
            #[inline]
            fn split(self) -> (i64, i64) { (0, i64::from(self)) }
        }
    )*};
}
small_int!(u8, u16, u32, i8, i16, i32);

impl Key for bool {
    type K = u8;
    #[inline]
    fn key(self) -> u8 {
        u8::from(self)
    }
}

impl Key for u64 {
    type K = u64;
    #[inline]
    fn key(self) -> u64 {
        self
    }
}

impl Key for i64 {
    type K = i64;
    #[inline]
    fn key(self) -> i64 {
        self
    }
}

impl Split for u64 {
    #[inline]
    #[allow(clippy::cast_possible_wrap)]
    fn split(self) -> (i64, i64) {
        ((self >> 32) as i64, (self & 0xffff_ffff) as i64)
    }
}

impl Split for i64 {
    #[inline]
    fn split(self) -> (i64, i64) {
        // Arithmetic shift: high part signed, low part the unsigned low 32 bits.
        (self >> 32, self & 0xffff_ffff)
    }
}

int_reduce! {
    bool, u8;
    u8, u8;
    u16, u16;
    u32, u32;
    u64, u64;
    i8, i8;
    i16, i16;
    i32, i32;
    i64, i64;
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn sixty_four_bit_integers_sum_exactly_across_the_split() {
        let x = [i64::MAX, i64::MAX, i64::MIN, -1, 5];
        let p = i64::tile::<true>(&x);
        let exact: i128 = x.iter().map(|&v| i128::from(v)).sum();
        assert_eq!(p.sum.int, exact);
        assert_eq!((p.min, p.max), (i128::from(i64::MIN), i128::from(i64::MAX)));
        let x = [u64::MAX; 17];
        assert_eq!(u64::tile::<false>(&x).sum.int, 17 * i128::from(u64::MAX));
    }

    #[test]
    fn float_tile_skips_nan_and_counts_it() {
        let mut x = vec![1.0f64; 1000];
        x[3] = f64::NAN;
        x[999] = 3.0;
        let p = f64::tile::<true>(&x);
        assert_eq!((p.n, p.nan), (999, 1));
        assert_eq!(p.sum.value(), 1001.0);
        assert_eq!((p.min, p.max), (1.0, 3.0));
    }

    #[test]
    fn opposite_infinities_sum_to_nan_and_one_infinity_survives() {
        let p = f64::tile::<true>(&[f64::INFINITY, 1.0, f64::NEG_INFINITY]);
        assert!(p.sum.value().is_nan());
        let mut a = f64::tile::<true>(&[f64::INFINITY, 1.0]);
        assert_eq!(a.sum.value(), f64::INFINITY);
        a.merge(&f64::tile::<true>(&[2.0]));
        assert_eq!(a.sum.value(), f64::INFINITY);
    }
}
