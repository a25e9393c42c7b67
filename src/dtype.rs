//! Element types and numpy typestrs.
//!
//! [`DType`] is the run-time description of an element (its type and byte order), spelled as
//! numpy spells it in a `.npy` header: `<f8`, `>i4`, `|b1`, `<c16`, `<f2`. [`Element`] is the
//! sealed compile-time side: the Rust types an array can hold.

use std::fmt;
use std::str::FromStr;

use half::f16;
use num_complex::Complex;

use crate::error::{Error, Result};

pub(crate) mod cf;
mod duration;

pub(crate) use duration::UNITS as DURATION_UNITS;
pub use duration::parse_duration;

/// Byte order of the elements in storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Least significant byte first (`<`).
    Little,
    /// Most significant byte first (`>`).
    Big,
    /// Single-byte elements, where order does not apply (`|`).
    NotApplicable,
}

impl ByteOrder {
    /// The byte order of this machine.
    pub const NATIVE: ByteOrder =
        if cfg!(target_endian = "little") { ByteOrder::Little } else { ByteOrder::Big };

    fn symbol(self) -> char {
        match self {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
            ByteOrder::NotApplicable => '|',
        }
    }
}

/// The element types larder stores, independent of byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the names are the documentation
pub enum ElementType {
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F16,
    F32,
    F64,
    /// `Complex<f32>`, numpy's `complex64` (`c8`).
    C64,
    /// `Complex<f64>`, numpy's `complex128` (`c16`).
    C128,
}

impl ElementType {
    /// Every element type, in typestr order.
    pub const ALL: [ElementType; 14] = [
        ElementType::Bool,
        ElementType::U8,
        ElementType::U16,
        ElementType::U32,
        ElementType::U64,
        ElementType::I8,
        ElementType::I16,
        ElementType::I32,
        ElementType::I64,
        ElementType::F16,
        ElementType::F32,
        ElementType::F64,
        ElementType::C64,
        ElementType::C128,
    ];

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            ElementType::Bool | ElementType::U8 | ElementType::I8 => 1,
            ElementType::U16 | ElementType::I16 | ElementType::F16 => 2,
            ElementType::U32 | ElementType::I32 | ElementType::F32 => 4,
            ElementType::U64 | ElementType::I64 | ElementType::F64 | ElementType::C64 => 8,
            ElementType::C128 => 16,
        }
    }

    /// numpy's kind character: `b`, `u`, `i`, `f` or `c`.
    pub const fn kind(self) -> char {
        match self {
            ElementType::Bool => 'b',
            ElementType::U8 | ElementType::U16 | ElementType::U32 | ElementType::U64 => 'u',
            ElementType::I8 | ElementType::I16 | ElementType::I32 | ElementType::I64 => 'i',
            ElementType::F16 | ElementType::F32 | ElementType::F64 => 'f',
            ElementType::C64 | ElementType::C128 => 'c',
        }
    }

    /// Size of the unit whose bytes are swapped for a byte-order change: the element, or one
    /// component of a complex number.
    pub const fn swap_unit(self) -> usize {
        match self {
            ElementType::C64 | ElementType::C128 => self.size() / 2,
            _ => self.size(),
        }
    }

    /// numpy's name for the type (`float64`, `complex64`, `bool`, …).
    pub const fn name(self) -> &'static str {
        match self {
            ElementType::Bool => "bool",
            ElementType::U8 => "uint8",
            ElementType::U16 => "uint16",
            ElementType::U32 => "uint32",
            ElementType::U64 => "uint64",
            ElementType::I8 => "int8",
            ElementType::I16 => "int16",
            ElementType::I32 => "int32",
            ElementType::I64 => "int64",
            ElementType::F16 => "float16",
            ElementType::F32 => "float32",
            ElementType::F64 => "float64",
            ElementType::C64 => "complex64",
            ElementType::C128 => "complex128",
        }
    }

    fn from_kind_size(kind: char, size: usize) -> Option<ElementType> {
        ElementType::ALL.into_iter().find(|e| e.kind() == kind && e.size() == size)
    }
}

/// The unit of a `datetime64` or `timedelta64` value, as numpy names it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)] // the names are the documentation
pub enum TimeUnit {
    D,
    H,
    M,
    S,
    Ms,
    Us,
    Ns,
}

impl TimeUnit {
    /// Every unit, longest first.
    pub const ALL: [TimeUnit; 7] = [
        TimeUnit::D,
        TimeUnit::H,
        TimeUnit::M,
        TimeUnit::S,
        TimeUnit::Ms,
        TimeUnit::Us,
        TimeUnit::Ns,
    ];

    /// numpy's spelling: `D`, `h`, `m`, `s`, `ms`, `us`, `ns`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeUnit::D => "D",
            TimeUnit::H => "h",
            TimeUnit::M => "m",
            TimeUnit::S => "s",
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
            TimeUnit::Ns => "ns",
        }
    }

    /// The word numpy prints after a `timedelta64` count: `days`, `hours`, `minutes`,
    /// `seconds`, `milliseconds`, `microseconds`, `nanoseconds` (plural even for 1, as numpy).
    pub const fn numpy_plural(self) -> &'static str {
        match self {
            TimeUnit::D => "days",
            TimeUnit::H => "hours",
            TimeUnit::M => "minutes",
            TimeUnit::S => "seconds",
            TimeUnit::Ms => "milliseconds",
            TimeUnit::Us => "microseconds",
            TimeUnit::Ns => "nanoseconds",
        }
    }

    /// Parses numpy's spelling.
    pub fn parse(s: &str) -> Option<TimeUnit> {
        TimeUnit::ALL.into_iter().find(|u| u.as_str() == s)
    }

    /// Nanoseconds in one unit.
    pub const fn nanos(self) -> i64 {
        match self {
            TimeUnit::D => 86_400_000_000_000,
            TimeUnit::H => 3_600_000_000_000,
            TimeUnit::M => 60_000_000_000,
            TimeUnit::S => 1_000_000_000,
            TimeUnit::Ms => 1_000_000,
            TimeUnit::Us => 1_000,
            TimeUnit::Ns => 1,
        }
    }
}

/// What a 64-bit integer element means, for numpy's time types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Time {
    /// `datetime64[unit]`: units since `1970-01-01T00:00:00` UTC; `i64::MIN` is `NaT`.
    DateTime(TimeUnit),
    /// `timedelta64[unit]`: a signed number of units; `i64::MIN` is `NaT`.
    TimeDelta(TimeUnit),
}

impl Time {
    /// The unit.
    pub const fn unit(self) -> TimeUnit {
        match self {
            Time::DateTime(u) | Time::TimeDelta(u) => u,
        }
    }
}

/// A `datetime64` value in ISO 8601, as numpy prints it (`2013-01-01T10:00:00`, fractions to
/// the unit, a date alone for days; `NaT` for `i64::MIN`).
pub fn format_datetime(v: i64, unit: TimeUnit) -> String {
    if v == i64::MIN {
        return "NaT".to_string();
    }
    let per_day = 86_400_000_000_000 / unit.nanos();
    let (days, rest) = (v.div_euclid(per_day), v.rem_euclid(per_day));
    let (y, m, d) = civil_from_days(days);
    if unit == TimeUnit::D {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    let nanos = i128::from(rest) * i128::from(unit.nanos());
    let secs = nanos / 1_000_000_000;
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let frac = nanos % 1_000_000_000;
    let date = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}");
    match unit {
        // numpy prints an hour without minutes: `2013-01-01T10`.
        TimeUnit::H => format!("{y:04}-{m:02}-{d:02}T{hh:02}"),
        TimeUnit::M => date,
        TimeUnit::S => format!("{date}:{ss:02}"),
        TimeUnit::Ms => format!("{date}:{ss:02}.{:03}", frac / 1_000_000),
        TimeUnit::Us => format!("{date}:{ss:02}.{:06}", frac / 1_000),
        TimeUnit::Ns | TimeUnit::D => format!("{date}:{ss:02}.{frac:09}"),
    }
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm),
/// computed in `i128` so that every `i64` day count has its date (`i64::MAX` days is
/// 25252734927768524-07-27, as numpy prints it).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = i128::from(z) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = if m <= 2 { y + 1 } else { y };
    // |y| <= |z| / 365 + 1, so it fits.
    (i64::try_from(y).unwrap_or(i64::MAX), m, d)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A run-time element description: type plus byte order, as in a numpy typestr, and for the
/// time types (`datetime64`, `timedelta64`: 64-bit integers) what the integers mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DType {
    element: ElementType,
    order: ByteOrder,
    time: Option<Time>,
}

impl DType {
    /// The dtype of `element` in this machine's byte order.
    pub const fn native(element: ElementType) -> DType {
        DType::with_order(element, ByteOrder::NATIVE)
    }

    /// The dtype of `element` in `order` (ignored for single-byte types).
    pub const fn with_order(element: ElementType, order: ByteOrder) -> DType {
        let order = if element.size() == 1 { ByteOrder::NotApplicable } else { order };
        DType { element, order, time: None }
    }

    /// `datetime64[unit]` (`<M8[unit]`) in this machine's byte order.
    pub const fn datetime(unit: TimeUnit) -> DType {
        DType {
            element: ElementType::I64,
            order: ByteOrder::NATIVE,
            time: Some(Time::DateTime(unit)),
        }
    }

    /// What the integers of a time type mean; `None` for every other dtype.
    pub const fn time(&self) -> Option<Time> {
        self.time
    }

    /// The dtype of the Rust element type `T`, native byte order.
    pub const fn of<T: Element>() -> DType {
        DType::native(T::TYPE)
    }

    /// Parses a numpy typestr such as `<f8`, `>i4`, `|b1` or `<c16`.
    ///
    /// `=` and a missing order character mean native order. Object, string, void, datetime and
    /// timedelta types are refused with the reason in the message.
    ///
    /// # Errors
    /// [`Error::Argument`] when `s` is not a typestr larder supports.
    pub fn parse(s: &str) -> Result<DType> {
        DType::parse_or_reason(s).map_err(|why| Error::argument(format!("dtype {s:?}: {why}")))
    }

    /// [`parse`](DType::parse), with the reason alone as the error, for callers whose message
    /// names the typestr already (an `.npy` header's `UnsupportedDType`).
    pub(crate) fn parse_or_reason(s: &str) -> Result<DType, &'static str> {
        let bad = |why: &'static str| why;
        let (order, rest) = match s.chars().next() {
            Some('<') => (ByteOrder::Little, &s[1..]),
            Some('>') => (ByteOrder::Big, &s[1..]),
            Some('|') => (ByteOrder::NotApplicable, &s[1..]),
            Some('=') => (ByteOrder::NATIVE, &s[1..]),
            _ => (ByteOrder::NATIVE, s),
        };
        let mut chars = rest.chars();
        let kind = chars.next().ok_or_else(|| bad("empty typestr"))?;
        let digits = chars.as_str();
        match kind {
            'b' | 'u' | 'i' | 'f' | 'c' => {}
            'O' => return Err(bad("object arrays hold Python objects, not numbers")),
            'U' | 'S' | 'a' => return Err(bad("string arrays are not numeric")),
            'V' => return Err(bad("void/structured records are not supported")),
            'M' | 'm' => {
                let unit = digits
                    .strip_prefix("8[")
                    .and_then(|u| u.strip_suffix(']'))
                    .ok_or_else(|| bad("a time type must be 8 bytes with a unit, e.g. M8[ms]"))?;
                let unit = TimeUnit::parse(unit)
                    .ok_or_else(|| bad("time unit must be one of D, h, m, s, ms, us, ns"))?;
                if order == ByteOrder::NotApplicable {
                    return Err(bad("'|' (no byte order) on a multi-byte type"));
                }
                let time = if kind == 'M' { Time::DateTime(unit) } else { Time::TimeDelta(unit) };
                return Ok(DType { element: ElementType::I64, order, time: Some(time) });
            }
            _ => return Err(bad("unknown kind")),
        }
        let size: usize = digits.parse().map_err(|_| bad("item size is not a number"))?;
        let element =
            ElementType::from_kind_size(kind, size).ok_or_else(|| bad("unsupported item size"))?;
        if element.size() > 1 && order == ByteOrder::NotApplicable {
            return Err(bad("'|' (no byte order) on a multi-byte type"));
        }
        Ok(DType::with_order(element, order))
    }

    /// The numpy typestr, e.g. `<f8`.
    pub fn typestr(&self) -> String {
        match self.time {
            Some(Time::DateTime(u)) => format!("{}M8[{}]", self.order.symbol(), u.as_str()),
            Some(Time::TimeDelta(u)) => format!("{}m8[{}]", self.order.symbol(), u.as_str()),
            None => {
                format!("{}{}{}", self.order.symbol(), self.element.kind(), self.element.size())
            }
        }
    }

    /// The element type.
    pub const fn element(&self) -> ElementType {
        self.element
    }

    /// The byte order.
    pub const fn order(&self) -> ByteOrder {
        self.order
    }

    /// Bytes per element.
    pub const fn itemsize(&self) -> usize {
        self.element.size()
    }

    /// True when values can be used in place on this machine (no byte swap needed).
    pub fn is_native(&self) -> bool {
        self.order != opposite(ByteOrder::NATIVE)
    }

    /// This `int64` dtype (in its byte order) with its integers meaning `time`: how a backend
    /// whose metadata marks times (a Zarr `numpy.datetime64` data type, HDF5 attributes) says
    /// so. `None` for any other element type.
    #[must_use]
    pub const fn with_time(self, time: Time) -> Option<DType> {
        match self.element {
            ElementType::I64 => Some(DType { time: Some(time), ..self }),
            _ => None,
        }
    }

    /// The same element type in this machine's byte order.
    #[must_use]
    pub const fn to_native(self) -> DType {
        DType { order: DType::native(self.element).order, ..self }
    }

    /// Reverses the bytes of every element (each component, for complex) in `bytes`.
    ///
    /// This converts between little- and big-endian storage; it is its own inverse.
    ///
    /// # Errors
    /// [`Error::Argument`] if `bytes` is not a whole number of elements.
    pub fn swap_bytes(&self, bytes: &mut [u8]) -> Result<()> {
        let unit = self.element.swap_unit();
        if !bytes.len().is_multiple_of(self.itemsize()) {
            return Err(Error::argument(format!(
                "{} bytes is not a whole number of {}-byte elements",
                bytes.len(),
                self.itemsize()
            )));
        }
        if unit > 1 {
            bytes.chunks_exact_mut(unit).for_each(<[u8]>::reverse);
        }
        Ok(())
    }
}

const fn opposite(order: ByteOrder) -> ByteOrder {
    match order {
        ByteOrder::Little => ByteOrder::Big,
        ByteOrder::Big => ByteOrder::Little,
        ByteOrder::NotApplicable => ByteOrder::NotApplicable,
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.typestr())
    }
}

impl FromStr for DType {
    type Err = Error;
    fn from_str(s: &str) -> Result<DType> {
        DType::parse(s)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that larder can store: `bool`, `u8`…`u64`, `i8`…`i64`, [`struct@f16`], `f32`, `f64`,
/// `Complex<f32>` and `Complex<f64>`.
///
/// Sealed: the set matches numpy's numeric dtypes and cannot be extended. Every type but `bool`
/// is [`bytemuck::Pod`]; `bool` is checked (a byte other than 0 or 1 is an error on read, never
/// undefined behaviour).
pub trait Element:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + PartialEq
    + fmt::Debug
    + Default
    + bytemuck::CheckedBitPattern
    + bytemuck::NoUninit
    + 'static
{
    /// The element type tag.
    const TYPE: ElementType;

    /// Wraps a value into the dtype-erased [`Scalar`].
    fn to_scalar(self) -> Scalar;

    /// The value with its bytes reversed (each component's, for complex): what a value read
    /// in the wrong byte order must go through.
    #[must_use]
    fn swap_bytes(self) -> Self;
}

macro_rules! element {
    ($($t:ty => $e:ident, |$v:ident| $swap:expr;)*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const TYPE: ElementType = ElementType::$e;
            fn to_scalar(self) -> Scalar { Scalar::$e(self) }
            fn swap_bytes(self) -> Self { let $v = self; $swap }
        }
    )*};
}

element! {
    bool => Bool, |v| v;
    u8 => U8, |v| v;
    u16 => U16, |v| v.swap_bytes();
    u32 => U32, |v| v.swap_bytes();
    u64 => U64, |v| v.swap_bytes();
    i8 => I8, |v| v;
    i16 => I16, |v| v.swap_bytes();
    i32 => I32, |v| v.swap_bytes();
    i64 => I64, |v| v.swap_bytes();
    f16 => F16, |v| f16::from_bits(v.to_bits().swap_bytes());
    f32 => F32, |v| f32::from_bits(v.to_bits().swap_bytes());
    f64 => F64, |v| f64::from_bits(v.to_bits().swap_bytes());
    Complex<f32> => C64, |v| Complex::new(v.re.swap_bytes(), v.im.swap_bytes());
    Complex<f64> => C128, |v| Complex::new(v.re.swap_bytes(), v.im.swap_bytes());
}

/// One value of any element type, for code that learns the dtype at run time.
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Scalar {
    Bool(bool),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    F16(f16),
    F32(f32),
    F64(f64),
    C64(Complex<f32>),
    C128(Complex<f64>),
}

impl fmt::Display for Scalar {
    /// numpy-like text: `True`/`False`, integers, shortest round-trip floats with `nan`/`inf`,
    /// complex as `(re+imj)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Scalar::Bool(v) => f.write_str(if v { "True" } else { "False" }),
            Scalar::U8(v) => write!(f, "{v}"),
            Scalar::U16(v) => write!(f, "{v}"),
            Scalar::U32(v) => write!(f, "{v}"),
            Scalar::U64(v) => write!(f, "{v}"),
            Scalar::I8(v) => write!(f, "{v}"),
            Scalar::I16(v) => write!(f, "{v}"),
            Scalar::I32(v) => write!(f, "{v}"),
            Scalar::I64(v) => write!(f, "{v}"),
            Scalar::F16(v) => write_float(f, f64::from(v), &format!("{v:?}")),
            Scalar::F32(v) => write_float(f, f64::from(v), &format!("{v:?}")),
            Scalar::F64(v) => write_float(f, v, &format!("{v:?}")),
            Scalar::C64(c) => write_complex(f, f64::from(c.re), f64::from(c.im)),
            Scalar::C128(c) => write_complex(f, c.re, c.im),
        }
    }
}

fn write_float(f: &mut fmt::Formatter<'_>, v: f64, shortest: &str) -> fmt::Result {
    if v.is_nan() {
        f.write_str("nan")
    } else if v.is_infinite() {
        f.write_str(if v > 0.0 { "inf" } else { "-inf" })
    } else {
        f.write_str(shortest)
    }
}

fn write_complex(f: &mut fmt::Formatter<'_>, re: f64, im: f64) -> fmt::Result {
    f.write_str("(")?;
    write_float(f, re, &format!("{re:?}"))?;
    if !(im.is_sign_negative() || im.is_nan()) {
        f.write_str("+")?;
    }
    write_float(f, im, &format!("{im:?}"))?;
    f.write_str("j)")
}

impl Scalar {
    /// The value as JSON: numbers for ints and finite floats, `true`/`false` for bools,
    /// `[re, im]` for complex; NaN and infinities, which JSON cannot spell, as the strings
    /// `"NaN"`, `"Infinity"` and `"-Infinity"`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        fn float(v: f64) -> Value {
            if v.is_nan() {
                Value::from("NaN")
            } else if v.is_infinite() {
                Value::from(if v > 0.0 { "Infinity" } else { "-Infinity" })
            } else {
                Value::from(v)
            }
        }
        match *self {
            Scalar::Bool(v) => Value::from(v),
            Scalar::U8(v) => Value::from(v),
            Scalar::U16(v) => Value::from(v),
            Scalar::U32(v) => Value::from(v),
            Scalar::U64(v) => Value::from(v),
            Scalar::I8(v) => Value::from(v),
            Scalar::I16(v) => Value::from(v),
            Scalar::I32(v) => Value::from(v),
            Scalar::I64(v) => Value::from(v),
            Scalar::F16(v) => float(f64::from(v)),
            Scalar::F32(v) => float(f64::from(v)),
            Scalar::F64(v) => float(v),
            Scalar::C64(c) => Value::from(vec![float(f64::from(c.re)), float(f64::from(c.im))]),
            Scalar::C128(c) => Value::from(vec![float(c.re), float(c.im)]),
        }
    }
}

/// Runs `$body` with the type name `$T` standing for the Rust type of the [`ElementType`]
/// `$element`: the one dispatch from an element type learnt at run time to generic code.
///
/// `dispatch_element!(e, T => body)` runs `body` for every type;
/// `dispatch_element!(e, T => body, complex C => other)` runs `other` for the two complex types
/// (with `C` naming them), for generic code that needs real numbers.
macro_rules! dispatch_element {
    ($element:expr, $T:ident => $body:expr) => {
        $crate::dtype::dispatch_element!($element, $T => $body, complex $T => $body)
    };
    ($element:expr, $T:ident => $body:expr, complex $C:ident => $complex:expr) => {{
        use $crate::dtype::ElementType as E;
        match $element {
            E::Bool => { type $T = bool; $body }
            E::U8 => { type $T = u8; $body }
            E::U16 => { type $T = u16; $body }
            E::U32 => { type $T = u32; $body }
            E::U64 => { type $T = u64; $body }
            E::I8 => { type $T = i8; $body }
            E::I16 => { type $T = i16; $body }
            E::I32 => { type $T = i32; $body }
            E::I64 => { type $T = i64; $body }
            E::F16 => { type $T = half::f16; $body }
            E::F32 => { type $T = f32; $body }
            E::F64 => { type $T = f64; $body }
            E::C64 => {
                #[allow(dead_code)]
                type $C = num_complex::Complex<f32>;
                $complex
            }
            E::C128 => {
                #[allow(dead_code)]
                type $C = num_complex::Complex<f64>;
                $complex
            }
        }
    }};
}
pub(crate) use dispatch_element;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typestrs_round_trip() {
        for e in ElementType::ALL {
            for order in [ByteOrder::Little, ByteOrder::Big] {
                let d = DType::with_order(e, order);
                assert_eq!(DType::parse(&d.typestr()).unwrap(), d);
            }
        }
        assert_eq!(DType::parse("<f8").unwrap().typestr(), "<f8");
        assert_eq!(DType::parse(">c16").unwrap().typestr(), ">c16");
        assert_eq!(DType::parse("|b1").unwrap().typestr(), "|b1");
        assert_eq!(DType::parse("<u1").unwrap().typestr(), "|u1");
        assert_eq!(DType::parse("<f2").unwrap().element(), ElementType::F16);
    }

    #[test]
    fn unsupported_typestrs_name_the_reason() {
        for (s, why) in [
            ("|O", "object"),
            ("<U5", "string"),
            ("|S3", "string"),
            ("|V8", "void"),
            ("<M8", "unit"),
            ("<M8[ps]", "unit must be one of"),
            ("|M8[s]", "byte order"),
            ("<f3", "item size"),
            ("|f8", "byte order"),
            ("", "empty"),
        ] {
            let e = DType::parse(s).unwrap_err().to_string();
            assert!(e.contains(why), "{s}: {e}");
        }
    }

    #[test]
    fn time_typestrs_parse_and_print_as_numpy_spells_them() {
        for t in ["<M8[ns]", ">M8[D]", "<m8[s]", "<M8[ms]"] {
            let d = DType::parse(t).unwrap();
            assert_eq!(d.typestr(), t);
            assert_eq!(d.element(), ElementType::I64);
        }
        assert_eq!(DType::parse("<M8[ms]").unwrap().time(), Some(Time::DateTime(TimeUnit::Ms)));
        assert_eq!(format_datetime(-1, TimeUnit::S), "1969-12-31T23:59:59");
        assert_eq!(format_datetime(1, TimeUnit::Us), "1970-01-01T00:00:00.000001");
        assert_eq!(format_datetime(i64::MIN, TimeUnit::Ns), "NaT");
        assert_eq!(format_datetime(19_782, TimeUnit::D), "2024-02-29");
    }

    #[test]
    fn swap_bytes_swaps_complex_components_separately() {
        let d = DType::parse("<c8").unwrap();
        let mut b = [1, 2, 3, 4, 5, 6, 7, 8];
        d.swap_bytes(&mut b).unwrap();
        assert_eq!(b, [4, 3, 2, 1, 8, 7, 6, 5]);
        assert!(d.swap_bytes(&mut b[..3]).is_err());
    }

    #[test]
    fn scalars_print_like_numpy() {
        assert_eq!(Scalar::Bool(true).to_string(), "True");
        assert_eq!(Scalar::F64(f64::NAN).to_string(), "nan");
        assert_eq!(Scalar::F64(-f64::INFINITY).to_string(), "-inf");
        assert_eq!(Scalar::F64(0.1).to_string(), "0.1");
        assert_eq!(Scalar::C128(Complex::new(1.0, -2.5)).to_string(), "(1.0-2.5j)");
        assert_eq!(Scalar::F64(f64::NAN).to_json(), serde_json::json!("NaN"));
    }
}
