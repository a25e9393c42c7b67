//! Column types, their names on the command line, and inference from sample values.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::dtype::{DType, ElementType, TimeUnit};
use crate::error::{Error, Result};

use super::value::{
    NaTokens, datetime_unit, is_bool_word, is_nat, parse_float, parse_int, parse_int_i64,
    parse_magnitude,
};

/// The type a CSV column is converted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)] // the names are the documentation
pub enum ColumnType {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    /// Categorical: each distinct string gets an unsigned integer code, in order of first
    /// appearance; the strings are listed in the manifest, or in a file of their own when
    /// there are many.
    Cat,
    /// Free text: UTF-8 strings in Arrow's large-string layout (the bytes, and `rows + 1`
    /// offsets into them).
    Str,
    /// ISO 8601 dates and date-times (or another layout, given a strftime format with
    /// `ConvertOptions::datetime_format`) as numpy's `datetime64[unit]`: 64-bit counts of the
    /// unit since 1970-01-01T00:00:00 UTC.
    #[serde(rename = "datetime64")]
    DateTime(TimeUnit),
}

impl ColumnType {
    /// Every type, in the order they are listed in help texts.
    pub const ALL: [ColumnType; 13] = [
        ColumnType::Bool,
        ColumnType::I8,
        ColumnType::I16,
        ColumnType::I32,
        ColumnType::I64,
        ColumnType::U8,
        ColumnType::U16,
        ColumnType::U32,
        ColumnType::U64,
        ColumnType::F32,
        ColumnType::F64,
        ColumnType::Cat,
        ColumnType::Str,
    ];

    /// The name used on the command line and in schema files: `bool`, `i8` … `u64`, `f32`,
    /// `f64`, `cat`, `str`, `datetime64[UNIT]`.
    pub const fn name(self) -> &'static str {
        match self {
            ColumnType::Bool => "bool",
            ColumnType::I8 => "i8",
            ColumnType::I16 => "i16",
            ColumnType::I32 => "i32",
            ColumnType::I64 => "i64",
            ColumnType::U8 => "u8",
            ColumnType::U16 => "u16",
            ColumnType::U32 => "u32",
            ColumnType::U64 => "u64",
            ColumnType::F32 => "f32",
            ColumnType::F64 => "f64",
            ColumnType::Cat => "cat",
            ColumnType::Str => "str",
            ColumnType::DateTime(u) => match u {
                TimeUnit::D => "datetime64[D]",
                TimeUnit::H => "datetime64[h]",
                TimeUnit::M => "datetime64[m]",
                TimeUnit::S => "datetime64[s]",
                TimeUnit::Ms => "datetime64[ms]",
                TimeUnit::Us => "datetime64[us]",
                TimeUnit::Ns => "datetime64[ns]",
            },
        }
    }

    /// The dtype the column is stored as, before any narrowing (`<M8[unit]` for date-times).
    pub const fn dtype(self) -> DType {
        match self {
            ColumnType::DateTime(u) => DType::datetime(u),
            other => DType::native(other.element()),
        }
    }

    /// The element type values are parsed into (`u32` codes for categoricals; the stored code
    /// type is narrowed when the dictionary is known; the bytes, `u8`, of strings).
    pub const fn element(self) -> ElementType {
        match self {
            ColumnType::Bool => ElementType::Bool,
            ColumnType::I8 => ElementType::I8,
            ColumnType::I16 => ElementType::I16,
            ColumnType::I32 => ElementType::I32,
            ColumnType::I64 | ColumnType::DateTime(_) => ElementType::I64,
            ColumnType::U8 | ColumnType::Str => ElementType::U8,
            ColumnType::U16 => ElementType::U16,
            ColumnType::U32 | ColumnType::Cat => ElementType::U32,
            ColumnType::U64 => ElementType::U64,
            ColumnType::F32 => ElementType::F32,
            ColumnType::F64 => ElementType::F64,
        }
    }

    /// True for the integer types.
    pub const fn is_int(self) -> bool {
        matches!(
            self,
            ColumnType::I8
                | ColumnType::I16
                | ColumnType::I32
                | ColumnType::I64
                | ColumnType::U8
                | ColumnType::U16
                | ColumnType::U32
                | ColumnType::U64
        )
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ColumnType {
    type Err = Error;
    /// larder's short names (`i8` is int8), their numpy spellings (`int8`, `float64`, …), and
    /// numpy typestrs with a byte-order character (`<i4`, `|u1`, `<f8`, `=i8`: there `i8` is
    /// numpy's int64, 8 bytes).
    fn from_str(s: &str) -> Result<ColumnType> {
        if s.trim().starts_with(['<', '>', '|', '=']) {
            return from_typestr(s.trim());
        }
        let t = s.trim().to_ascii_lowercase();
        let alias = match t.as_str() {
            "int8" => "i8",
            "int16" => "i16",
            "int32" => "i32",
            "int64" | "int" => "i64",
            "uint8" => "u8",
            "uint16" => "u16",
            "uint32" => "u32",
            "uint64" => "u64",
            "float32" => "f32",
            "float64" | "float" => "f64",
            "category" | "categorical" => "cat",
            "string" | "utf8" | "text" => "str",
            other => other,
        };
        if let Some(unit) = alias.strip_prefix("datetime64[").and_then(|u| u.strip_suffix(']')) {
            // The unit keeps numpy's case (`D`, `ms`): match it in the original text.
            let unit = s.trim().get(11..s.trim().len() - 1).unwrap_or(unit);
            return TimeUnit::parse(unit).map(ColumnType::DateTime).ok_or_else(|| {
                Error::argument(format!(
                    "column type {s:?}: the unit must be one of D, h, m, s, ms, us, ns"
                ))
            });
        }
        ColumnType::ALL.into_iter().find(|c| c.name() == alias).ok_or_else(|| {
            Error::argument(format!(
                "unknown column type {s:?}; expected one of bool, i8, i16, i32, i64, u8, u16, \
                 u32, u64, f32, f64, cat, str, datetime64[UNIT] (UNIT: D, h, m, s, ms, us, ns)"
            ))
        })
    }
}

/// A type with a datetime format, `datetime64[s]:%d/%m/%Y`, split at the first colon (no type
/// name has one; the format may): the type, and the format if there is one. A format given to
/// a type other than `datetime64` is refused when the conversion is planned, naming both.
pub fn split_format(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once(':') {
        Some((t, format)) => (t, Some(format)),
        None => (spec, None),
    }
}

/// The column type of a numpy typestr (`<i4`): columns are stored in native byte order, so a
/// typestr of the other order is refused rather than silently changed.
fn from_typestr(s: &str) -> Result<ColumnType> {
    let d = DType::parse(s)?;
    if !d.is_native() {
        return Err(Error::argument(format!(
            "column type {s:?}: columns are stored in native byte order; use {:?}",
            DType::native(d.element()).typestr()
        )));
    }
    ColumnType::ALL
        .into_iter()
        .find(|c| !matches!(c, ColumnType::Cat | ColumnType::Str) && c.element() == d.element())
        .ok_or_else(|| {
            Error::argument(format!("column type {s:?}: columns cannot be stored as {s}"))
        })
}

/// The narrowest unsigned code type for a dictionary of `n` categories.
pub(crate) fn code_element(n: usize) -> ElementType {
    match n {
        0..=0x100 => ElementType::U8,
        0x101..=0x1_0000 => ElementType::U16,
        _ => ElementType::U32,
    }
}

/// The narrowest integer type holding `min..=max`: unsigned when `min >= 0`, signed otherwise.
pub(crate) fn shrink_element(min: i128, max: i128) -> ElementType {
    let fits = |lo: i128, hi: i128| min >= lo && max <= hi;
    if min >= 0 {
        if fits(0, i128::from(u8::MAX)) {
            ElementType::U8
        } else if fits(0, i128::from(u16::MAX)) {
            ElementType::U16
        } else if fits(0, i128::from(u32::MAX)) {
            ElementType::U32
        } else {
            ElementType::U64
        }
    } else if fits(i128::from(i8::MIN), i128::from(i8::MAX)) {
        ElementType::I8
    } else if fits(i128::from(i16::MIN), i128::from(i16::MAX)) {
        ElementType::I16
    } else if fits(i128::from(i32::MIN), i128::from(i32::MAX)) {
        ElementType::I32
    } else {
        ElementType::I64
    }
}

/// The numpy typestr for an element type in native order.
pub(crate) fn typestr(e: ElementType) -> String {
    DType::native(e).typestr()
}

/// Sampled string columns with at most this many distinct values are categorical whatever
/// their share of distinct values (a small sample says little about it).
pub(crate) const CAT_ALWAYS: usize = 64;

/// Infers a column's type from sample values (field contents, unquoted).
///
/// Missing values (the empty field and the tokens of `na`) never decide the type: they are
/// skipped. Of the others, integers that all fit `i64` give `i64`, and those that all fit
/// `u64` (some above `i64::MAX`, none negative) `u64`, as pandas reads them; pandas' bool words
/// (`True`/`TRUE`/`true` and the three `false`s, not `T`/`F`) give `bool`; numbers give `f64`;
/// ISO 8601 dates and date-times, with `NaT` among them, give `datetime64` in the finest unit
/// seen. Anything else is text: `cat` when it repeats — at most [`CAT_ALWAYS`]
/// distinct values, or at most half as many distinct values as values (the share at which
/// pandas' documentation advises its `category` dtype) — and `str` otherwise. A column with no
/// value present in the sample is `f64`. Missing integers, bools, categories, strings and
/// date-times are marked in a validity file when the column is written; missing floats are NaN.
pub(crate) fn infer<'a>(values: impl IntoIterator<Item = &'a [u8]>, na: &NaTokens) -> ColumnType {
    let (mut ints, mut uints, mut bools, mut floats, mut present) = (true, true, true, true, 0);
    // The finest unit the values asked for while all were ISO 8601 date-times (or `NaT`, which
    // a date-time column reads as missing, but which alone makes no date-time column).
    let mut times = Some(TimeUnit::D);
    let mut any_time = false;
    let mut distinct: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
    // Blank-only values (`"   "`): missing in a number or date-time column, text in a text
    // column; a column of nothing else is text, as pandas reads it.
    let mut blanks = false;
    for v in values {
        if na.is_missing(v) {
            blanks = blanks || (!v.is_empty() && v.iter().all(u8::is_ascii_whitespace));
            continue;
        }
        present += 1;
        distinct.insert(v);
        if ints || bools || floats || times.is_some() {
            if !is_nat(v) {
                times = times.and_then(|t| datetime_unit(v).map(|u| t.max(u)));
                any_time = true;
            }
            ints = ints && parse_int_i64(v).is_ok();
            uints = uints && parse_int::<u64>(v).is_ok();
            bools = bools && is_bool_word(v);
            floats = floats && parse_float::<f64>(v).is_ok();
        }
    }
    if present == 0 && blanks {
        ColumnType::Cat
    } else if present == 0 {
        ColumnType::F64
    } else if ints {
        ColumnType::I64
    } else if uints {
        ColumnType::U64
    } else if bools {
        ColumnType::Bool
    } else if floats {
        ColumnType::F64
    } else if let Some(unit) = times.filter(|_| any_time) {
        ColumnType::DateTime(unit)
    } else if distinct.len() <= CAT_ALWAYS || distinct.len() * 2 <= present {
        ColumnType::Cat
    } else {
        ColumnType::Str
    }
}

/// True when `values` (missing ones aside) are all integers that no integer type holds
/// together: some negative, some above `i64::MAX`. [`infer`] makes such a column `f64`.
pub(crate) fn ints_past_every_type<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
    na: &NaTokens,
) -> bool {
    let (mut negative, mut big) = (false, false);
    for v in values {
        if na.is_missing(v) {
            continue;
        }
        match parse_magnitude(v) {
            Ok((neg, m)) => {
                negative |= neg && m > 0;
                big |= !neg && i64::try_from(m).is_err();
            }
            Err(_) => return false,
        }
    }
    negative && big
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_accept_numpy_typestrs_beside_the_short_names() {
        let t = |s: &str| s.parse::<ColumnType>();
        assert_eq!(t("i8").unwrap(), ColumnType::I8, "the short name i8 is int8");
        assert_eq!(t("<i8").unwrap(), ColumnType::I64, "the typestr <i8 is numpy's int64");
        assert_eq!(t("<i4").unwrap(), ColumnType::I32);
        assert_eq!(t("|u1").unwrap(), ColumnType::U8);
        assert_eq!(t("<f8").unwrap(), ColumnType::F64);
        assert_eq!(t("=f4").unwrap(), ColumnType::F32);
        assert_eq!(t("|b1").unwrap(), ColumnType::Bool);
        for bad in [">i4", "<f2", "<c8", "<U4", "|i4"] {
            assert!(matches!(t(bad), Err(Error::Argument(_))), "{bad}");
        }
    }

    #[test]
    fn inference_picks_the_narrowest_kind_that_fits_every_sample() {
        let na = NaTokens::new(super::super::value::DEFAULT_NA);
        let t = |v: &[&str]| infer(v.iter().map(|s| s.as_bytes()), &na);
        assert_eq!(t(&["1", "-2", "+3"]), ColumnType::I64);
        // Missing values never decide the type.
        assert_eq!(t(&["1", "", "3"]), ColumnType::I64);
        assert_eq!(t(&["1", "NA", "-3", "N/A", "#N/A"]), ColumnType::I64);
        assert_eq!(t(&["1", "2.5", "nan"]), ColumnType::F64);
        assert_eq!(t(&["true", "False"]), ColumnType::Bool);
        assert_eq!(t(&["true", "", "NULL"]), ColumnType::Bool);
        assert_eq!(t(&["NA", "NA"]), ColumnType::F64);
        // Without the tokens, "NA" is a string.
        let none = NaTokens::new([]);
        assert_eq!(infer(["1", "NA"].iter().map(|s| s.as_bytes()), &none), ColumnType::Cat);
        assert_eq!(infer(["1", ""].iter().map(|s| s.as_bytes()), &none), ColumnType::I64);
        assert_eq!(t(&["eu", "us"]), ColumnType::Cat);
        // Text that repeats is categorical; text that mostly does not is a string column.
        let urls: Vec<String> = (0..1000).map(|i| format!("/item/{}", i % 700)).collect();
        assert_eq!(t(&urls.iter().map(String::as_str).collect::<Vec<_>>()), ColumnType::Str);
        let codes: Vec<String> = (0..1000).map(|i| format!("c{}", i % 500)).collect();
        assert_eq!(t(&codes.iter().map(String::as_str).collect::<Vec<_>>()), ColumnType::Cat);
        let few: Vec<String> = (0..64).map(|i| format!("name {i}")).collect();
        assert_eq!(t(&few.iter().map(String::as_str).collect::<Vec<_>>()), ColumnType::Cat);
        let more: Vec<String> = (0..65).map(|i| format!("name {i}")).collect();
        assert_eq!(t(&more.iter().map(String::as_str).collect::<Vec<_>>()), ColumnType::Str);
        assert_eq!(t(&["", ""]), ColumnType::F64);
        assert_eq!(t(&["99999999999999999999"]), ColumnType::F64);
        // Past i64::MAX, unsigned integers are u64 (as pandas reads them), exactly.
        assert_eq!(t(&["1", "18446744073709551615", ""]), ColumnType::U64);
        assert_eq!(t(&["9223372036854775808"]), ColumnType::U64);
        assert_eq!(t(&["9223372036854775807", "0"]), ColumnType::I64);
        // With a negative value no integer type holds them all.
        let mixed = ["-1", "9223372036854775808", "NA"];
        assert_eq!(t(&mixed), ColumnType::F64);
        assert!(ints_past_every_type(mixed.iter().map(|s| s.as_bytes()), &na));
        let fits = ["-1", "9223372036854775807"];
        assert!(!ints_past_every_type(fits.iter().map(|s| s.as_bytes()), &na));
        let text = ["-1", "9223372036854775808", "x"];
        assert!(!ints_past_every_type(text.iter().map(|s| s.as_bytes()), &na));
    }

    #[test]
    fn type_names_parse_with_numpy_aliases() {
        for t in ColumnType::ALL {
            assert_eq!(t.name().parse::<ColumnType>().unwrap(), t);
        }
        assert_eq!("float32".parse::<ColumnType>().unwrap(), ColumnType::F32);
        assert!("f16".parse::<ColumnType>().unwrap_err().to_string().contains("expected one of"));
    }

    #[test]
    fn shrink_and_code_types_are_the_narrowest_that_fit() {
        assert_eq!(shrink_element(0, 255), ElementType::U8);
        assert_eq!(shrink_element(0, 256), ElementType::U16);
        assert_eq!(shrink_element(-1, 127), ElementType::I8);
        assert_eq!(shrink_element(-129, 0), ElementType::I16);
        assert_eq!(shrink_element(i128::from(i64::MIN), 0), ElementType::I64);
        assert_eq!(shrink_element(0, i128::from(u64::MAX)), ElementType::U64);
        assert_eq!(code_element(0), ElementType::U8);
        assert_eq!(code_element(256), ElementType::U8);
        assert_eq!(code_element(257), ElementType::U16);
        assert_eq!(code_element(70_000), ElementType::U32);
    }
}
