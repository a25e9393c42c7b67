//! Whole-array statistics: count, NaN count, sum, mean, variance, min and max.

use std::path::Path;

use num_complex::Complex;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

use super::kernel::{Partial, Reduce, Sum, TILE, chunk_partial};
use super::tree_reduce;
use crate::dtype::{Element, ElementType, TimeUnit, format_datetime};
use crate::error::Result;
use crate::store::ChunkSource;

/// The error for a complex array given to a reduction defined only for real numbers.
pub(crate) fn complex_refused(path: &Path) -> crate::error::Error {
    crate::error::Error::invalid(
        path,
        "holds complex numbers; this is only defined for real arrays",
    )
}

/// A statistic's value, typed as the statistic is: exact integers for sums and extremes of
/// integer data, floats for float data and for every mean, complex numbers for complex data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// An exact integer (sums of integer arrays never overflow or round).
    Int(i128),
    /// A float; NaN and infinities included.
    Float(f64),
    /// A complex number.
    Complex(Complex<f64>),
    /// A `datetime64` value in its unit: the min, max or mean of datetimes (printed in ISO
    /// 8601).
    DateTime(i64, TimeUnit),
    /// A `bool`: the min or max of bools (JSON `true`/`false`; pandas prints `True`/`False`).
    Bool(bool),
}

impl Number {
    /// The value as `f64` (the real part for a complex number; rounded for a huge integer).
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(&self) -> f64 {
        match *self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
            Number::Complex(c) => c.re,
            Number::DateTime(i64::MIN, _) => f64::NAN, // NaT
            Number::DateTime(v, _) => v as f64,
            Number::Bool(b) => f64::from(u8::from(b)),
        }
    }
}

/// The value as `f64`, as [`Number::as_f64`].
impl From<Number> for f64 {
    fn from(n: Number) -> f64 {
        n.as_f64()
    }
}

/// As numpy prints the scalar (`str(np.float64(x))`, Python's `repr` of a float): the shortest
/// digits that read back to the same value, positional from `1e-4` up to `1e16` (`0.5`,
/// `1.0`, `1234.5`) and scientific outside (`1e-05`, `1.5e+16`); `nan`, `inf`, `-inf`;
/// integers exactly; bools as `True`/`False`; complex numbers as `(1+2j)`; datetimes in ISO 8601
/// (`2024-01-31`, `NaT`).
impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Number::Bool(b) => f.write_str(if b { "True" } else { "False" }),
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => f.write_str(&numpy_float(x)),
            Number::Complex(c) => {
                // Python's complex repr: parts without a trailing `.0`, the real part left out
                // when it is +0.
                let part = |x: f64| {
                    let s = numpy_float(x);
                    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
                };
                let im = part(c.im);
                if c.re == 0.0 && c.re.is_sign_positive() {
                    return write!(f, "{im}j");
                }
                let sign = if im.starts_with('-') { "" } else { "+" };
                write!(f, "({}{sign}{im}j)", part(c.re))
            }
            Number::DateTime(v, u) => f.write_str(&format_datetime(v, u)),
        }
    }
}

/// `x` as numpy (and Python's `repr`) prints a float64.
fn numpy_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Rust's `{:?}` gives the shortest round-trip digits, and switches to scientific notation
    // at the same bounds as Python (exponent below -4 or from 16); only the exponent's form
    // differs (`1e16` against `1e+16`, `1e-5` against `1e-05`).
    let s = format!("{x:?}");
    let Some((mantissa, exp)) = s.split_once('e') else { return s };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

fn ser_f64<S: Serializer>(v: f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if v.is_infinite() {
        s.serialize_str(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        s.serialize_f64(v)
    }
}

impl Serialize for Number {
    /// JSON numbers; NaN and infinities as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`
    /// (as `larder cat --json` prints them); complex numbers as `[re, im]`; datetimes as ISO
    /// 8601 strings.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Number::Int(i) => s.serialize_i128(i),
            Number::Float(f) => ser_f64(f, s),
            Number::Complex(c) => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element(&F(c.re))?;
                seq.serialize_element(&F(c.im))?;
                seq.end()
            }
            Number::DateTime(v, u) => s.serialize_str(&format_datetime(v, u)),
            Number::Bool(b) => s.serialize_bool(b),
        }
    }
}

/// An `f64` serialized with NaN and infinities as strings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct F(pub(crate) f64);

impl Serialize for F {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ser_f64(self.0, s)
    }
}

/// Statistics of a whole array, NaN skipped as pandas and polars skip it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// numpy's name for the element type.
    pub dtype: &'static str,
    /// Elements that are not NaN.
    pub count: u64,
    /// Sum of the non-NaN elements: exact for integers and `bool`; for floats, accumulated in
    /// `f64` with compensation. `+inf` and `-inf` together give NaN.
    pub sum: Number,
    /// `sum / count` (NaN when `count` is 0).
    pub mean: Number,
    /// Population standard deviation (numpy's default `ddof=0`) of the non-NaN elements; for
    /// complex data, the square root of the mean of `|x - mean|²`, as numpy. `None` when the
    /// summary was made without it ([`summary_basic`]); left out of the JSON then.
    #[serde(serialize_with = "ser_opt_f64_field", skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    /// Population variance, `std²`; `None` with `std`.
    #[serde(serialize_with = "ser_opt_f64_field", skip_serializing_if = "Option::is_none")]
    pub var: Option<f64>,
    /// Smallest non-NaN element; `None` with no elements, and for complex data.
    pub min: Option<Number>,
    /// Largest non-NaN element; `None` with no elements, and for complex data.
    pub max: Option<Number>,
    /// NaN elements (for complex data: elements with a NaN part).
    pub nan_count: u64,
    /// Missing elements of a dataset column with a validity file, which every other statistic
    /// skips (as pandas skips them); `None` (and left out of the JSON) for an array without
    /// one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub null_count: Option<u64>,
}

#[allow(clippy::trivially_copy_pass_by_ref, clippy::ref_option)]
fn ser_opt_f64_field<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => ser_f64(*v, s),
        None => s.serialize_none(),
    }
}

impl Summary {
    #[allow(clippy::cast_precision_loss)]
    /// The summary of `p`; with `spread`, `p.m2` holds the second moment and gives std and var.
    pub(crate) fn from_partial<T: Reduce>(p: &Partial<T::Bound>, spread: bool) -> Summary {
        let bound = |b: T::Bound| {
            if T::IS_FLOAT {
                Number::Float(T::bound_to_f64(b))
            } else if T::TYPE == ElementType::Bool {
                Number::Bool(T::bound_to_i128(b) != 0)
            } else {
                Number::Int(T::bound_to_i128(b))
            }
        };
        let sum = if T::IS_FLOAT { Number::Float(p.sum.value()) } else { Number::Int(p.sum.int) };
        let var = if p.n == 0 { f64::NAN } else { p.m2 / p.n as f64 };
        let some = |b| (p.n > 0).then(|| bound(b));
        Summary {
            dtype: T::TYPE.name(),
            count: p.n,
            sum,
            mean: Number::Float(p.mean()),
            std: spread.then(|| var.sqrt()),
            var: spread.then_some(var),
            min: some(p.min),
            max: some(p.max),
            nan_count: p.nan,
            null_count: None,
        }
    }
}

fn reduce<T: Reduce, S: ChunkSource<T> + ?Sized, const FULL: bool>(
    src: &S,
) -> Result<Partial<T::Bound>> {
    let leaf = |i: usize| {
        let mut p = Partial::empty();
        src.with_chunk(i, &mut |x: &[T]| p = chunk_partial::<T, FULL>(x))?;
        Ok(p)
    };
    let merge = |mut a: Partial<T::Bound>, b: Partial<T::Bound>| {
        a.merge(&b);
        a
    };
    Ok(tree_reduce(0, src.num_chunks(), &leaf, &merge)?.unwrap_or_else(Partial::empty))
}

/// Count, NaN count, sum, mean, standard deviation, min and max of all elements, in one pass
/// over the data (each tile is read from memory once, and once more from the L1 cache for the
/// squared deviations from its mean).
///
/// `src` is anything that is a [`ChunkSource`]: a whole store's
/// [`chunk_source`](crate::ArrayRead::chunk_source), any `ndarray` view (contiguous or not),
/// a selection of a store ([`SelectionChunks`](crate::store::SelectionChunks)), rows of a
/// column ([`ColumnRows`](super::ColumnRows)).
///
/// ```
/// use larder::{ArrayRead, MmapArray, compute};
/// use ndarray::{Array2, s};
/// # let dir = tempfile::tempdir().map_err(|e| larder::Error::io("tmp", e))?;
/// # let path = dir.path().join("a.npy");
/// larder::write_npy(&path, &Array2::from_shape_fn((1000, 8), |(i, j)| (i * 8 + j) as f64))?;
/// let a = MmapArray::<f64>::open(&path)?;
///
/// // The whole file, chunk by chunk through its mapping.
/// let all = compute::summary(&a.chunk_source()?)?;
/// assert_eq!((all.count, all.mean.as_f64()), (8000, 3999.5));
///
/// // What you hold: rows 300..350, and column 7 (strided), of the mapped view.
/// let v = a.view()?;
/// let rows = compute::summary(&v.slice(s![300..350, ..]))?;
/// assert_eq!(rows.mean.to_string(), "2599.5"); // as numpy prints a[300:350].mean()
/// let col = compute::summary(&v.slice(s![.., 7]))?;
/// assert_eq!((col.min.unwrap().to_string(), col.max.unwrap().to_string()), ("7.0".into(), "7999.0".into()));
/// assert_eq!(f64::from(col.mean), 4003.0);
/// assert!((col.std.unwrap() - 2309.399922057676).abs() < 1e-9); // np.std(a[:, 7])
/// # Ok::<(), larder::Error>(())
/// ```
///
/// A pass over a mapped file may leave the file's pages in the process's resident set when the
/// file is small against the memory available (under a quarter of it): they are clean page
/// cache, shared and reclaimable, but count in `VmRSS`. See `docs/compute.md` ("Memory").
///
/// # Errors
/// Whatever the source fails with while reading a chunk.
pub fn summary<T: Reduce, S: ChunkSource<T> + ?Sized>(src: &S) -> Result<Summary> {
    Ok(Summary::from_partial::<T>(&reduce::<T, S, true>(src)?, true))
}

/// Everything [`summary`] computes except the standard deviation and variance (`None` here):
/// count, NaN count, sum, mean, min and max. Each tile is read once, so this runs at the
/// speed of memory where [`summary`] also spends the arithmetic of the second moment.
///
/// # Errors
/// Whatever the source fails with while reading a chunk.
pub fn summary_basic<T: Reduce, S: ChunkSource<T> + ?Sized>(src: &S) -> Result<Summary> {
    Ok(Summary::from_partial::<T>(&reduce::<T, S, false>(src)?, false))
}

/// [`summary`] (`spread`) or [`summary_basic`].
pub(crate) fn summary_with<T: Reduce, S: ChunkSource<T> + ?Sized>(
    src: &S,
    spread: bool,
) -> Result<Summary> {
    if spread { summary(src) } else { summary_basic(src) }
}

/// Statistics of a complex array: count, NaN count, sum, mean and standard deviation (min and
/// max are not defined for complex numbers and are `None`). An element with a NaN real or
/// imaginary part counts as NaN and is skipped.
///
/// # Errors
/// Whatever the source fails with while reading a chunk.
pub fn summary_complex<T, S>(src: &S) -> Result<Summary>
where
    T: Element + ComplexParts,
    S: ChunkSource<T> + ?Sized,
{
    let leaf = |i: usize| {
        let mut p = CPartial::default();
        src.with_chunk(i, &mut |x: &[T]| {
            for tile in x.chunks(TILE) {
                p.merge(&complex_tile(tile));
            }
        })?;
        Ok(p)
    };
    let merge = |mut a: CPartial, b: CPartial| {
        a.merge(&b);
        a
    };
    let p = tree_reduce(0, src.num_chunks(), &leaf, &merge)?.unwrap_or_default();
    #[allow(clippy::cast_precision_loss)]
    let var = if p.n == 0 { f64::NAN } else { p.m2 / p.n as f64 };
    Ok(Summary {
        dtype: T::TYPE.name(),
        count: p.n,
        sum: Number::Complex(Complex::new(p.re.value(), p.im.value())),
        mean: Number::Complex(p.mean()),
        std: Some(var.sqrt()),
        var: Some(var),
        min: None,
        max: None,
        nan_count: p.nan,
        null_count: None,
    })
}

/// The parts of a complex element, as `f64`.
pub trait ComplexParts: Copy {
    /// `(re, im)`.
    fn parts(self) -> (f64, f64);
}

impl ComplexParts for Complex<f32> {
    fn parts(self) -> (f64, f64) {
        (f64::from(self.re), f64::from(self.im))
    }
}

impl ComplexParts for Complex<f64> {
    fn parts(self) -> (f64, f64) {
        (self.re, self.im)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct CPartial {
    n: u64,
    nan: u64,
    re: Sum,
    im: Sum,
    m2: f64,
}

impl CPartial {
    #[allow(clippy::cast_precision_loss)]
    fn mean(&self) -> Complex<f64> {
        Complex::new(self.re.value(), self.im.value()) / self.n as f64
    }

    #[allow(clippy::cast_precision_loss)]
    fn merge(&mut self, o: &CPartial) {
        if o.n > 0 {
            if self.n == 0 {
                self.m2 = o.m2;
            } else {
                let (na, nb) = (self.n as f64, o.n as f64);
                let d = o.mean() - self.mean();
                self.m2 += o.m2 + d.norm_sqr() * (na * nb / (na + nb));
            }
        }
        self.n += o.n;
        self.nan += o.nan;
        self.re.merge(&o.re);
        self.im.merge(&o.im);
    }
}

fn complex_tile<T: ComplexParts>(x: &[T]) -> CPartial {
    let mut p = CPartial::default();
    for &v in x {
        let (re, im) = v.parts();
        if re.is_nan() || im.is_nan() {
            p.nan += 1;
        } else {
            p.n += 1;
            p.re.add_f64(re);
            p.im.add_f64(im);
        }
    }
    if p.n > 0 {
        let m = p.mean();
        for &v in x {
            let (re, im) = v.parts();
            if !(re.is_nan() || im.is_nan()) {
                p.m2 += (Complex::new(re, im) - m).norm_sqr();
            }
        }
    }
    p
}

/// Statistics of the array at `path` (`.npy`, Zarr or HDF5), whatever its element type.
///
/// # Errors
/// As [`crate::open`] and [`summary`].
pub fn summary_any(path: impl AsRef<Path>) -> Result<Summary> {
    store_summary(&crate::open::open(path)?, true)
}

/// [`summary`] (`spread`) or [`summary_basic`] over the store's
/// [`chunk_source`](crate::ArrayRead::chunk_source): the mapping's own pages for a `.npy`
/// (sequential hints, pages released as the pass goes), decoded chunks otherwise. Complex data
/// always gets its standard deviation: its pass has no cheaper form.
pub(crate) fn store_summary(store: &crate::AnyStore, spread: bool) -> Result<Summary> {
    crate::store_dispatch!(store,
        s => summary_with(&*s.chunk_source()?, spread),
        complex s => summary_complex(&*s.chunk_source()?))
}
