//! Field values: the bytes of one field to a typed value, or the [`Reason`] they are not one.
//!
//! These rules are shared by the general parser, the regular fast path (which must agree with
//! them exactly), type inference and fill values.

use std::fmt;

use crate::dtype::{ElementType, TimeUnit, days_from_civil};

/// Why a value or record was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// An empty field in an integer or bool column without a fill value.
    Missing,
    NotBool,
    NotInt,
    OutOfRange(ElementType),
    NotFloat,
    BadUtf8,
    FieldCount {
        expected: usize,
        found: usize,
    },
    NotDateTime,
    /// A value that does not match the column's datetime format (given).
    NotInFormat(String),
    /// A date-time outside what `datetime64[unit]` holds in 64 bits.
    TimeOutOfRange(TimeUnit),
    /// A date-time more precise than the column's unit (it would be truncated).
    FinerThanUnit(TimeUnit),
    /// A local time its time zone cannot turn into one instant, or an unknown zone (the why).
    TimeZone(String),
    Quote(&'static str),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Missing => f.write_str("missing value"),
            Reason::NotBool => f.write_str("not a bool"),
            Reason::NotInt => f.write_str("not an integer"),
            Reason::OutOfRange(e) => write!(f, "out of range for {}", e.name()),
            Reason::NotFloat => f.write_str("not a number"),
            Reason::BadUtf8 => f.write_str("invalid utf-8"),
            Reason::FieldCount { expected, found } => {
                write!(f, "expected {expected} fields, found {found}")
            }
            Reason::Quote(why) => f.write_str(why),
            Reason::NotDateTime => f.write_str("not an ISO 8601 date or date-time"),
            Reason::NotInFormat(format) => {
                write!(f, "does not match the datetime format {format:?}")
            }
            Reason::TimeOutOfRange(u) => write!(f, "out of range for datetime64[{}]", u.as_str()),
            Reason::FinerThanUnit(u) => {
                write!(f, "more precise than the column's unit, datetime64[{}]", u.as_str())
            }
            Reason::TimeZone(why) => f.write_str(why),
        }
    }
}

#[inline]
fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Whether `v` is one of the words pandas reads as a bool by default (`true_values` /
/// `false_values`: `True`, `TRUE`, `true`, `False`, `FALSE`, `false`): the only values that
/// make type inference choose `bool`. `T`/`F`, `t`/`f` stay text there, as in pandas.
pub(crate) fn is_bool_word(v: &[u8]) -> bool {
    matches!(trim(v), b"true" | b"True" | b"TRUE" | b"false" | b"False" | b"FALSE")
}

/// Whether `v` is the "not a time" of a date-time column: `NaT`, `nat` or `NAT` (the strings
/// `pd.to_datetime` reads as `NaT`). A missing value there, and only there.
pub(crate) fn is_nat(v: &[u8]) -> bool {
    matches!(trim(v), b"NaT" | b"nat" | b"NAT")
}

/// Parses a bool: `true`/`false`, `True`/`False`, `TRUE`/`FALSE`, `1`/`0`, `t`/`f`, `T`/`F`.
/// (A column given the type `bool` reads them all; inference needs [`is_bool_word`].)
pub(crate) fn parse_bool(v: &[u8]) -> Result<bool, Reason> {
    match trim(v) {
        b"true" | b"True" | b"TRUE" | b"1" | b"t" | b"T" => Ok(true),
        b"false" | b"False" | b"FALSE" | b"0" | b"f" | b"F" => Ok(false),
        b"" => Err(Reason::Missing),
        _ => Err(Reason::NotBool),
    }
}

/// An integer as sign and magnitude, or the reason it is not one. Never wraps.
pub(crate) fn parse_magnitude(v: &[u8]) -> Result<(bool, u64), Reason> {
    let v = trim(v);
    let (neg, digits) = match v.first() {
        None => return Err(Reason::Missing),
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        Some(_) => (false, v),
    };
    if digits.is_empty() {
        return Err(Reason::NotInt);
    }
    let mut m: u64 = 0;
    if digits.len() <= 19 {
        // 19 digits cannot overflow a u64.
        for &b in digits {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return Err(Reason::NotInt);
            }
            m = m * 10 + u64::from(d);
        }
        return Ok((neg, m));
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(Reason::NotInt);
    }
    for &b in digits {
        m = match m.checked_mul(10).and_then(|m| m.checked_add(u64::from(b - b'0'))) {
            Some(m) => m,
            None => return Err(Reason::OutOfRange(ElementType::U64)),
        };
    }
    Ok((neg, m))
}

/// An integer type values can be parsed into.
pub(crate) trait Int:
    Copy + Send + TryFrom<i128> + TryFrom<i64> + Into<i128> + 'static
{
    const ELEMENT: ElementType;
}

macro_rules! int {
    ($($t:ty => $e:ident),*) => {$(impl Int for $t { const ELEMENT: ElementType = ElementType::$e; })*};
}
int!(i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16, u32 => U32, u64 => U64);

/// Parses an integer of type `T`: optional sign, decimal digits, surrounding blanks allowed.
/// Out of range is an error, never a wrapped or saturated value.
pub(crate) fn parse_int<T: Int>(v: &[u8]) -> Result<T, Reason> {
    let (neg, m) = parse_magnitude(v).map_err(|r| match r {
        Reason::OutOfRange(_) => Reason::OutOfRange(T::ELEMENT),
        r => r,
    })?;
    let x = if neg { -i128::from(m) } else { i128::from(m) };
    T::try_from(x).map_err(|_| Reason::OutOfRange(T::ELEMENT))
}

/// [`parse_int`] for `i64`, used by inference.
pub(crate) fn parse_int_i64(v: &[u8]) -> Result<i64, Reason> {
    parse_int::<i64>(v)
}

/// A float type values can be parsed into.
pub(crate) trait Float:
    Copy + Send + std::str::FromStr + std::ops::Neg<Output = Self> + 'static
{
    const NAN: Self;
    /// `m / 10^frac` when that is exactly the correctly rounded value (both operands exact,
    /// one IEEE division), else `None`.
    fn exact_quotient(m: u64, frac: usize) -> Option<Self>;
}

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Powers of ten that are exact in an `f32`.
const POW10_F32: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

impl Float for f32 {
    const NAN: f32 = f32::NAN;
    #[allow(clippy::cast_precision_loss)] // m < 2^24: exact
    fn exact_quotient(m: u64, frac: usize) -> Option<f32> {
        (m <= 1 << 24).then_some(())?;
        Some(m as f32 / *POW10_F32.get(frac)?)
    }
}

impl Float for f64 {
    const NAN: f64 = f64::NAN;
    #[allow(clippy::cast_precision_loss)] // m < 2^53: exact
    fn exact_quotient(m: u64, frac: usize) -> Option<f64> {
        (m <= 1 << 53).then_some(())?;
        Some(m as f64 / *POW10.get(frac)?)
    }
}

/// The fast path for plain decimals (`-12.345`): exact when it answers (Clinger's fast path).
#[inline]
pub(crate) fn parse_simple_decimal<T: Float>(v: &[u8]) -> Option<T> {
    let (neg, rest) = match v.first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    let (mut m, mut digits, mut frac, mut dot) = (0u64, 0usize, 0usize, false);
    for &b in rest {
        if b.is_ascii_digit() {
            m = m * 10 + u64::from(b - b'0');
            digits += 1;
            frac += usize::from(dot);
            if digits > 18 {
                return None;
            }
        } else if b == b'.' && !dot {
            dot = true;
        } else {
            return None;
        }
    }
    if digits == 0 {
        return None;
    }
    let x = T::exact_quotient(m, frac)?;
    Some(if neg { -x } else { x })
}

/// Parses a float exactly (correctly rounded): decimal or exponent form, `NaN`, `inf`, `-inf`,
/// `infinity` (any case), a leading `+`; empty is NaN. Plain decimals with few digits take an
/// exact fast path; everything else goes to the standard library's parser.
pub(crate) fn parse_float<T: Float>(v: &[u8]) -> Result<T, Reason> {
    if let Some(x) = parse_simple_decimal(v) {
        return Ok(x);
    }
    let v = trim(v);
    if v.is_empty() {
        return Ok(T::NAN);
    }
    let s = std::str::from_utf8(v).map_err(|_| Reason::NotFloat)?;
    s.parse::<T>().map_err(|_| Reason::NotFloat)
}

/// An ISO 8601 date or date-time, read: nanoseconds since 1970-01-01T00:00:00 UTC (as an
/// `i128`, so no year overflows), the coarsest unit that holds it exactly, and whether it
/// carried an offset or `Z`.
#[allow(clippy::many_single_char_names)] // y, m, d, and the digits of an offset
fn parse_iso(v: &[u8]) -> Option<(i128, TimeUnit, bool)> {
    let v = trim(v);
    let num = |b: &[u8]| -> Option<u32> {
        b.iter().try_fold(0u32, |a, &c| c.is_ascii_digit().then(|| a * 10 + u32::from(c - b'0')))
    };
    if v.len() < 10 || v[4] != b'-' || v[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&v[..4])?, num(&v[5..7])?, num(&v[8..10])?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d == 0 || d > days_in[(m - 1) as usize] {
        return None;
    }
    let days = i128::from(days_from_civil(i64::from(y), m, d));
    let mut rest = &v[10..];
    if rest.is_empty() {
        return Some((days * 86_400_000_000_000, TimeUnit::D, false));
    }
    if !matches!(rest[0], b'T' | b't' | b' ') || rest.len() < 6 || rest[3] != b':' {
        return None;
    }
    let (hh, mm) = (num(&rest[1..3])?, num(&rest[4..6])?);
    rest = &rest[6..];
    let (mut ss, mut frac, mut digits) = (0u32, 0u64, 0usize);
    if let [b':', a, b, tail @ ..] = rest {
        ss = num(&[*a, *b])?;
        rest = tail;
        if let [b'.' | b',', tail @ ..] = rest {
            let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return None;
            }
            frac = u64::from(num(&tail[..n])?);
            digits = n;
            rest = &tail[n..];
        }
    }
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let zoned = !rest.is_empty();
    let offset_secs: i64 = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (oh, om) = match tail {
                [a, b] => (num(&[*a, *b])?, 0),
                [a, b, c, d] | [a, b, b':', c, d] => (num(&[*a, *b])?, num(&[*c, *d])?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let secs = days * 86_400 + i128::from(hh * 3600 + mm * 60 + ss) - i128::from(offset_secs);
    let frac_nanos = i128::from(frac) * 10i128.pow(u32::try_from(9 - digits).unwrap_or(0));
    let unit = match digits {
        0 => TimeUnit::S,
        1..=3 if frac_nanos % 1_000_000 == 0 => TimeUnit::Ms,
        1..=6 if frac_nanos % 1_000 == 0 => TimeUnit::Us,
        _ => TimeUnit::Ns,
    };
    // Precision is what was written: `.500` asks for milliseconds even though `.5` would do.
    let unit = match digits {
        0 => TimeUnit::S,
        1..=3 => unit.max(TimeUnit::Ms),
        4..=6 => unit.max(TimeUnit::Us),
        _ => TimeUnit::Ns,
    };
    Some((secs * 1_000_000_000 + frac_nanos, unit, zoned))
}

/// The unit an ISO 8601 value asks for (`D` for a date, else at least `s`), or `None` when it
/// is not one: type inference takes the finest unit of a column's values.
pub(crate) fn datetime_unit(v: &[u8]) -> Option<TimeUnit> {
    parse_iso(v).map(|(_, u, _)| u)
}

/// Parses an ISO 8601 date or date-time (`2013-01-01`, `T` or space before the time, seconds
/// optional, a fraction of up to nine digits, `Z` or a `±hh:mm` / `±hhmm` / `±hh` offset,
/// converted to UTC) into units of `unit` since 1970-01-01T00:00:00 UTC.
pub(crate) fn parse_datetime(v: &[u8], unit: TimeUnit) -> Result<i64, Reason> {
    parse_datetime_zoned(v, unit).map(|(x, _)| x)
}

/// [`parse_datetime`], and whether the value carried an offset or `Z` (its column is then
/// zoned: `ManifestColumn::zone`).
pub(crate) fn parse_datetime_zoned(v: &[u8], unit: TimeUnit) -> Result<(i64, bool), Reason> {
    if trim(v).is_empty() {
        return Err(Reason::Missing);
    }
    let (nanos, needs, zoned) = parse_iso(v).ok_or(Reason::NotDateTime)?;
    if needs > unit {
        return Err(Reason::FinerThanUnit(unit));
    }
    let n = i128::from(unit.nanos());
    // Exact: the value is a whole number of units (checked just above).
    let units = nanos.div_euclid(n);
    let units =
        i64::try_from(units).ok().filter(|&u| u != i64::MIN).ok_or(Reason::TimeOutOfRange(unit))?;
    Ok((units, zoned))
}

/// pandas' default missing-value tokens (`pandas.read_csv`'s `na_values` default), which
/// larder recognises too unless told otherwise. The empty field is missing whatever the set.
pub const DEFAULT_NA: [&str; 18] = [
    "NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None", "<NA>", "#N/A",
    "#N/A N/A", "#NA", "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN",
];

/// The field contents that mean "missing": the empty field (or only spaces and tabs), and a
/// set of tokens matched exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NaTokens {
    tokens: Vec<Box<[u8]>>,
    /// Length of the longest token: longer fields are never missing.
    max_len: usize,
    /// Bit `b` set when some token starts with byte `b`.
    first: [u64; 4],
}

impl NaTokens {
    /// The empty field and `tokens`.
    pub(crate) fn new<'a>(tokens: impl IntoIterator<Item = &'a str>) -> NaTokens {
        let mut na = NaTokens::default();
        for t in tokens {
            let t = t.as_bytes();
            if t.is_empty() {
                continue;
            }
            na.max_len = na.max_len.max(t.len());
            na.first[usize::from(t[0] >> 6)] |= 1 << (t[0] & 63);
            na.tokens.push(t.into());
        }
        na
    }

    /// True when `v` (a field's contents, unquoted) means a missing value in a column of
    /// numbers, bools or date-times: empty, only blanks, or a token.
    #[inline]
    pub(crate) fn is_missing(&self, v: &[u8]) -> bool {
        trim(v).is_empty() || self.is_token(v)
    }

    /// True when `v` means a missing value in a text column (`cat`, `str`): empty or a token.
    /// Blanks are text there (`"   "` is a value), as pandas keeps them.
    #[inline]
    pub(crate) fn is_missing_text(&self, v: &[u8]) -> bool {
        v.is_empty() || self.is_token(v)
    }

    #[inline]
    fn is_token(&self, v: &[u8]) -> bool {
        if v.is_empty() {
            return false;
        }
        let b = v[0];
        v.len() <= self.max_len
            && self.first[usize::from(b >> 6)] & (1 << (b & 63)) != 0
            && self.tokens.iter().any(|t| **t == *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers_never_wrap_or_saturate() {
        assert_eq!(parse_int::<i8>(b"-128"), Ok(-128));
        assert_eq!(parse_int::<i8>(b"128"), Err(Reason::OutOfRange(ElementType::I8)));
        assert_eq!(parse_int::<u8>(b"-1"), Err(Reason::OutOfRange(ElementType::U8)));
        assert_eq!(parse_int::<u8>(b"-0"), Ok(0));
        assert_eq!(parse_int::<u64>(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_int::<u64>(b"18446744073709551616"),
            Err(Reason::OutOfRange(ElementType::U64))
        );
        assert_eq!(parse_int::<i64>(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_int::<i64>(b"9223372036854775808"),
            Err(Reason::OutOfRange(ElementType::I64))
        );
        assert_eq!(parse_int::<i32>(b" +42 "), Ok(42));
        assert_eq!(parse_int::<i32>(b""), Err(Reason::Missing));
        for bad in [&b"1.0"[..], b"1e3", b"--1", b"+", b"0x10", b"1 2"] {
            assert_eq!(parse_int::<i32>(bad), Err(Reason::NotInt), "{bad:?}");
        }
    }

    #[test]
    fn floats_accept_special_forms_and_empty_is_nan() {
        assert_eq!(parse_float::<f64>(b"+1.5e3"), Ok(1500.0));
        assert_eq!(parse_float::<f64>(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_float::<f64>(b"inf"), Ok(f64::INFINITY));
        assert!(parse_float::<f64>(b"NaN").unwrap().is_nan());
        assert!(parse_float::<f64>(b"").unwrap().is_nan());
        assert_eq!(parse_float::<f64>(b"0.1"), Ok(0.1));
        assert_eq!(parse_float::<f32>(b"16777217"), Ok(16_777_216.0));
        assert_eq!(parse_float::<f64>(b"1,5"), Err(Reason::NotFloat));
    }

    #[test]
    fn iso_dates_and_times_read_as_numpy_reads_them() {
        let s = |v: &str| parse_datetime(v.as_bytes(), TimeUnit::S);
        assert_eq!(s("1970-01-01"), Ok(0));
        assert_eq!(s("2013-01-01T10:00:00Z"), Ok(1_357_034_400));
        assert_eq!(s("2013-01-01 05:00:00-05:00"), Ok(1_357_034_400));
        assert_eq!(s("2013-01-01T15:30+0530"), Ok(1_357_034_400));
        assert_eq!(s("2013-01-01T11+01"), Err(Reason::NotDateTime), "minutes are required");
        // Whether a value carried an offset: `Z`, `±hh:mm`, `±hhmm`, `±hh`; not a date alone,
        // a time without one, or the spaces around a value.
        let zoned = |v: &str| parse_datetime_zoned(v.as_bytes(), TimeUnit::Ms).map(|(_, z)| z);
        for v in ["2013-01-01T10:00:00Z", "2013-01-01 10:00:00.5-05:00", "2013-01-01T10:00+0530"] {
            assert_eq!(zoned(v), Ok(true), "{v}");
        }
        assert_eq!(zoned(" 2013-01-01T10:00:00.25+01 "), Ok(true));
        for v in
            ["2013-01-01", "2013-01-01T10:00:00", " 2013-01-01 10:00 ", "2013-01-01T10:00:00.125"]
        {
            assert_eq!(zoned(v), Ok(false), "{v}");
        }
        assert_eq!(s("1969-12-31T23:59:59"), Ok(-1));
        assert_eq!(s("2000-02-29"), Ok(951_782_400));
        for bad in ["2001-02-29", "2013-13-01", "2013-1-01", "20130101", "2013-01-01T", "x"] {
            assert_eq!(s(bad), Err(Reason::NotDateTime), "{bad}");
        }
        assert_eq!(s("2013-01-01T00:00:00.5"), Err(Reason::FinerThanUnit(TimeUnit::S)));
        let ns = parse_datetime(b"2013-01-01T00:00:00.123456789", TimeUnit::Ns);
        assert_eq!(ns, Ok(1_356_998_400_123_456_789));
        assert_eq!(datetime_unit(b"2013-01-01"), Some(TimeUnit::D));
        assert_eq!(datetime_unit(b"2013-01-01T10:00"), Some(TimeUnit::S));
        assert_eq!(datetime_unit(b"2013-01-01T10:00:00.100"), Some(TimeUnit::Ms));
        assert_eq!(datetime_unit(b"2013-01-01T10:00:00.1234"), Some(TimeUnit::Us));
        assert_eq!(parse_datetime(b"", TimeUnit::S), Err(Reason::Missing));
    }

    proptest! {
        #[test]
        fn printed_datetimes_read_back(secs in -62_135_596_800i64..253_402_300_799, ms in 0i64..1000) {
            let v = secs * 1000 + ms;
            let text = crate::dtype::format_datetime(v, TimeUnit::Ms);
            prop_assert_eq!(parse_datetime(text.as_bytes(), TimeUnit::Ms), Ok(v));
            let day = crate::dtype::format_datetime(secs.div_euclid(86_400), TimeUnit::D);
            prop_assert_eq!(parse_datetime(day.as_bytes(), TimeUnit::D), Ok(secs.div_euclid(86_400)));
        }
    }

    proptest! {
        #[test]
        fn float_parsing_round_trips_exactly(x in any::<f64>()) {
            let s = format!("{x:e}");
            let y: f64 = parse_float(s.as_bytes()).unwrap();
            prop_assert!(y.to_bits() == x.to_bits() || (x.is_nan() && y.is_nan()));
        }

        #[test]
        fn decimal_fast_path_matches_the_standard_library(s in "[+-]?[0-9]{0,12}\\.?[0-9]{0,12}") {
            let std64 = s.parse::<f64>().ok();
            let std32 = s.parse::<f32>().ok();
            if let Some(x) = std64 {
                prop_assert_eq!(parse_float::<f64>(s.as_bytes()).unwrap().to_bits(), x.to_bits());
            }
            if let Some(x) = std32 {
                prop_assert_eq!(parse_float::<f32>(s.as_bytes()).unwrap().to_bits(), x.to_bits());
            }
        }

        #[test]
        fn int_parsing_matches_the_standard_library(s in "[+-]?[0-9]{1,22}") {
            prop_assert_eq!(parse_int::<i64>(s.as_bytes()).ok(), s.parse::<i64>().ok());
            // Unlike the standard library, "-0" is accepted as 0 for unsigned types.
            let negative_zero = s.starts_with('-') && s[1..].bytes().all(|b| b == b'0');
            let want = if negative_zero { Some(0) } else { s.parse::<u16>().ok() };
            prop_assert_eq!(parse_int::<u16>(s.as_bytes()).ok(), want);
        }
    }
}
