//! The fast path for regular blocks: no quote, no `\r`, no blank line, every record with the
//! expected number of fields, every value good.
//!
//! Such a block is split once into the positions of its field ends, then parsed a column at a
//! time with a loop specialised for the column's type. Anything irregular makes [`parse`]
//! answer `None`, and the block goes through the general parser, which gives every reject its
//! line, column and reason; so both paths produce exactly the same [`Parsed`] (the agreement
//! tests are in `parse.rs`). It never sees a quote, so the record rules of `record.rs` reduce
//! here to "a `\n` ends a record".

use std::cell::RefCell;

use memchr::{memchr_iter, memchr2_iter};

use crate::convert::columns::{ColumnSpec, Fill, Layout, Parsed, Values};
use crate::convert::record::{is_blank, mask2};
use crate::convert::schema::ColumnType;
use crate::convert::value::{
    Float, Int, NaTokens, is_nat, parse_bool, parse_datetime_zoned, parse_float, parse_int,
    parse_simple_decimal,
};

thread_local! {
    /// Field ends of the block being parsed, kept per thread to spare an allocation per block.
    static ENDS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Parses `block` (which holds no `"` and no `\r`) if it is regular; `None` otherwise.
pub(super) fn parse(layout: &Layout, block: &[u8]) -> Option<Parsed> {
    ENDS.with(|ends| {
        let mut ends = ends.try_borrow_mut().ok()?;
        let (rows, newlines) = field_ends(block, layout.delimiter, layout.fields, &mut ends)?;
        let mut columns = Vec::with_capacity(layout.columns.len());
        let mut zoned = vec![false; layout.columns.len()];
        for (field, slot) in layout.slots.iter().enumerate() {
            if let Some(slot) = *slot {
                let at = Field { block, ends: &ends, fields: layout.fields, index: field, rows };
                let mut missing = Vec::new();
                let spec = &layout.columns[slot];
                let values = column(spec, &layout.na, &at, &mut missing, &mut zoned[slot])?;
                columns.push((slot, values, missing));
            }
        }
        columns.sort_by_key(|(slot, _, _)| *slot);
        let (columns, missing): (Vec<Values>, Vec<Vec<u32>>) =
            columns.into_iter().map(|(_, v, m)| (v, m)).unzip();
        let ranges =
            columns.iter().map(|c| if layout.ranges { c.int_range() } else { None }).collect();
        Some(Parsed {
            columns,
            ranges,
            missing,
            rejects: Vec::new(),
            zoned,
            rows_read: rows as u64,
            newlines,
            bytes: block.len() as u64,
        })
    })
}

/// Fills `ends` with the index of the byte that ends each field (a delimiter, a `\n`, or
/// `block.len()` after a last record without terminator), and returns the number of records
/// and of `\n`; `None` unless every line is a record of exactly `fields` fields.
fn field_ends(
    block: &[u8],
    delimiter: u8,
    fields: usize,
    ends: &mut Vec<u32>,
) -> Option<(usize, u64)> {
    if block.is_empty() || fields == 0 || u32::try_from(block.len()).is_err() {
        return None;
    }
    ends.clear();
    let windows = block.chunks_exact(64);
    let tail = windows.remainder();
    let mut base = 0u32;
    for window in windows {
        let window: &[u8; 64] = window.try_into().ok()?;
        let mut m = mask2(window, delimiter, b'\n');
        ends.reserve(m.count_ones() as usize);
        while m != 0 {
            ends.push(base + m.trailing_zeros());
            m &= m - 1;
        }
        base += 64;
    }
    ends.extend(memchr2_iter(delimiter, b'\n', tail).map(|p| base + u32::try_from(p).unwrap_or(0)));
    let terminated = block.last() == Some(&b'\n');
    if !terminated {
        ends.push(u32::try_from(block.len()).ok()?);
    }
    if !ends.len().is_multiple_of(fields) {
        return None;
    }
    let rows = ends.len() / fields;
    // Every record's last field must end at a line end; with exactly as many line ends as
    // records, no other field can end at one, so all other ends are delimiters.
    let newlines = memchr_iter(b'\n', block).count();
    if newlines != rows - usize::from(!terminated) {
        return None;
    }
    let last_ok = |k: usize| {
        let e = ends[k] as usize;
        e == block.len() || block[e] == b'\n'
    };
    if !(fields - 1..ends.len()).step_by(fields).all(last_ok) {
        return None;
    }
    // A line of nothing or only blanks is a blank line (`record::is_blank`): not regular.
    if fields == 1
        && (0..ends.len()).any(|k| is_blank(field(block, ends, k), delimiter) && last_ok(k))
    {
        return None;
    }
    Some((rows, newlines as u64))
}

/// Where field `k` (counted over the whole block) starts and ends.
#[inline]
fn span(ends: &[u32], k: usize) -> (usize, usize) {
    let start = if k == 0 { 0 } else { ends[k - 1] as usize + 1 };
    (start, ends[k] as usize)
}

/// The bytes of field `k` (counted over the whole block).
#[inline]
fn field<'a>(block: &'a [u8], ends: &[u32], k: usize) -> &'a [u8] {
    let (start, end) = span(ends, k);
    &block[start..end]
}

/// One field of every record of a block: where the fields end, and which field it is.
struct Field<'a> {
    block: &'a [u8],
    ends: &'a [u32],
    fields: usize,
    index: usize,
    rows: usize,
}

/// What a missing value becomes in a column.
#[derive(Clone, Copy)]
enum OnMissing<T> {
    /// This value, as if it had been read (NaN, or the fill value).
    Value(T),
    /// This placeholder, and the row goes into the missing list for the validity file.
    Mark(T),
}

/// Runs `parse` on the span of the field of every record; a value it refuses that `na` calls
/// missing becomes what `on_missing` says; `None` at the first other refusal.
#[inline]
fn values<T: Copy>(
    at: &Field<'_>,
    na: impl Fn(&[u8]) -> bool,
    on_missing: OnMissing<T>,
    missing: &mut Vec<u32>,
    parse: impl Fn(usize, usize) -> Option<T>,
) -> Option<Vec<T>> {
    let mut out = Vec::with_capacity(at.rows);
    let mut k = at.index;
    for row in 0..at.rows {
        let (start, end) = span(at.ends, k);
        out.push(match parse(start, end) {
            Some(v) => v,
            None if na(&at.block[start..end]) => match on_missing {
                OnMissing::Value(v) => v,
                OnMissing::Mark(v) => {
                    missing.push(u32::try_from(row).ok()?);
                    v
                }
            },
            None => return None,
        });
        k += at.fields;
    }
    Some(out)
}

/// Column `spec`'s values in `at`; `zoned` is set when an ISO 8601 date-time carried an offset.
fn column(
    spec: &ColumnSpec,
    na: &NaTokens,
    at: &Field<'_>,
    missing: &mut Vec<u32>,
    zoned: &mut bool,
) -> Option<Values> {
    let block = at.block;
    let na_tokens = na;
    let na = |v: &[u8]| na_tokens.is_missing(v);
    let int_missing = |fill: Option<Fill>| match fill {
        Some(Fill::Int(f)) => Some(OnMissing::Value(f)),
        Some(Fill::Bool(_)) => None,
        None => Some(OnMissing::Mark(0)),
    };
    macro_rules! int {
        ($t:ty) => {{
            let on = match int_missing(spec.fill)? {
                OnMissing::Value(f) => OnMissing::Value(<$t>::try_from(f).ok()?),
                OnMissing::Mark(_) => OnMissing::Mark(0),
            };
            values(at, na, on, missing, |s, e| int::<$t>(block, s, e))?
        }};
    }
    Some(match spec.ty {
        ColumnType::F64 => {
            Values::F64(values(at, na, OnMissing::Value(f64::NAN), missing, |s, e| {
                float::<f64>(block, s, e)
            })?)
        }
        ColumnType::F32 => {
            Values::F32(values(at, na, OnMissing::Value(f32::NAN), missing, |s, e| {
                float::<f32>(block, s, e)
            })?)
        }
        ColumnType::I64 => Values::I64(int!(i64)),
        ColumnType::I32 => Values::I32(int!(i32)),
        ColumnType::I16 => Values::I16(int!(i16)),
        ColumnType::I8 => Values::I8(int!(i8)),
        ColumnType::U64 => Values::U64(int!(u64)),
        ColumnType::U32 => Values::U32(int!(u32)),
        ColumnType::U16 => Values::U16(int!(u16)),
        ColumnType::U8 => Values::U8(int!(u8)),
        ColumnType::Bool => {
            let on = match spec.fill {
                Some(Fill::Bool(b)) => OnMissing::Value(b),
                _ => OnMissing::Mark(false),
            };
            Values::Bool(values(at, na, on, missing, |s, e| parse_bool(&block[s..e]).ok())?)
        }
        ColumnType::Cat => categorical(block, at.ends, at.fields, at.index, at.rows)?,
        ColumnType::Str => strings(at, missing, |v| na_tokens.is_missing_text(v))?,
        ColumnType::DateTime(unit) => {
            let on = match int_missing(spec.fill)? {
                OnMissing::Value(f) => OnMissing::Value(i64::try_from(f).ok()?),
                OnMissing::Mark(_) => OnMissing::Mark(0),
            };
            let na = |v: &[u8]| na(v) || is_nat(v);
            let offset = std::cell::Cell::new(false);
            let v = Values::I64(values(at, na, on, missing, |s, e| {
                if let Some(format) = &spec.format {
                    return format.parse(&block[s..e], unit).ok();
                }
                let (x, zoned) = parse_datetime_zoned(&block[s..e], unit).ok()?;
                if zoned {
                    offset.set(true);
                }
                Some(x)
            })?);
            *zoned = offset.get();
            v
        }
    })
}

/// A float, the way [`parse_float`] reads it. Plain decimals (optional sign, up to 16 digits
/// on each side of an optional `.`) are read as digit words and go through the same exact
/// quotient as [`parse_simple_decimal`], so the result is the same correctly rounded value;
/// everything else goes to [`parse_float`].
#[inline]
fn float<T: Float>(block: &[u8], start: usize, end: usize) -> Option<T> {
    let v = &block[start..end];
    let neg = matches!(v.first(), Some(b'-'));
    let body = start + usize::from(matches!(v.first(), Some(b'-' | b'+')));
    let dot = block[body..end].iter().position(|&b| b == b'.').map_or(end, |p| body + p);
    let frac_start = (dot + 1).min(end);
    let (int_len, frac_len) = (dot - body, end - frac_start);
    if int_len + frac_len > 0 && int_len + frac_len <= 18 {
        let int_part = if int_len == 0 { Some(0) } else { plain_digits(block, body, dot) };
        let frac_part = if frac_len == 0 { Some(0) } else { plain_digits(block, frac_start, end) };
        if let (Some(i), Some(f)) = (int_part, frac_part)
            && let Some(x) = T::exact_quotient(i * POW10[frac_len] + f, frac_len)
        {
            return Some(if neg { -x } else { x });
        }
    }
    match parse_simple_decimal(v) {
        Some(x) => Some(x),
        None => parse_float(v).ok(),
    }
}

/// Powers of ten that fit a `u64`, up to the 18 digits the fast paths accept.
const POW10: [u64; 19] = {
    let mut p = [1u64; 19];
    let mut i = 1;
    while i < 19 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// The value of 8 ASCII digits, the first in the lowest byte; `None` unless all are digits.
#[inline]
fn eight_digits(w: u64) -> Option<u64> {
    const LOW: u64 = 0x0F0F_0F0F_0F0F_0F0F;
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // Each byte's high nibble must be 3 and, after adding 6, still 3: '0'..='9'. A carry out of
    // a byte that is not a digit only reaches a byte whose own test then fails or still holds.
    if (w & HIGH) | ((w.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4) != 0x3333_3333_3333_3333 {
        return None;
    }
    let v = (w & LOW).wrapping_mul(10 * 256 + 1) >> 8;
    let v = ((v & 0x00FF_00FF_00FF_00FF).wrapping_mul(100 * 65536 + 1)) >> 16;
    Some(((v & 0x0000_FFFF_0000_FFFF).wrapping_mul(10000 * (1 << 32) + 1)) >> 32)
}

/// The value of the `n` (1 to 8) ASCII digits that end at `end` in `block`, read as one
/// little-endian word of the 8 bytes before `end` (`end >= 8`).
#[inline]
fn digits_before(block: &[u8], end: usize, n: usize) -> Option<u64> {
    let bytes: [u8; 8] = block.get(end - 8..end)?.try_into().ok()?;
    let w = u64::from_le_bytes(bytes);
    if n >= 8 {
        return eight_digits(w);
    }
    // Replace the bytes before the digits with '0's.
    let pad = (1u64 << (8 * (8 - n))) - 1;
    eight_digits((w & !pad) | (0x3030_3030_3030_3030 & pad))
}

/// Plain decimal digits (1 to 16 of them) from `start` to `end` in `block`, as a number.
#[inline]
fn plain_digits(block: &[u8], start: usize, end: usize) -> Option<u64> {
    let n = end.checked_sub(start)?;
    match n {
        1..=8 if end >= 8 => digits_before(block, end, n),
        9..=16 if end >= 16 => Some(
            digits_before(block, end - 8, n - 8)? * 100_000_000 + digits_before(block, end, 8)?,
        ),
        _ => None,
    }
}

/// An integer, the way [`parse_int`] reads it (which it falls back to for anything but up to
/// 16 plain digits after an optional `-`); `None` for anything else, the empty field included.
#[inline]
fn int<T: Int>(block: &[u8], start: usize, end: usize) -> Option<T> {
    let neg = block.get(start) == Some(&b'-');
    if let Some(m) = plain_digits(block, start + usize::from(neg), end) {
        // At most 16 digits: fits an i64.
        let m = i64::try_from(m).ok()?;
        return T::try_from(if neg { -m } else { m }).ok();
    }
    parse_int::<T>(&block[start..end]).ok()
}

/// The strings of a column, copied one after another; missing ones are empty and listed in
/// `missing`. `None` for a value that is not UTF-8.
fn strings(at: &Field<'_>, missing: &mut Vec<u32>, na: impl Fn(&[u8]) -> bool) -> Option<Values> {
    let mut ends = Vec::with_capacity(at.rows);
    // The field bytes between the first and last row bound the strings' bytes.
    let first = span(at.ends, at.index).0;
    let last = span(at.ends, at.index + (at.rows.saturating_sub(1)) * at.fields).1;
    let mut data = Vec::with_capacity(last.saturating_sub(first));
    let mut k = at.index;
    for row in 0..at.rows {
        let v = field(at.block, at.ends, k);
        k += at.fields;
        if na(v) {
            missing.push(u32::try_from(row).ok()?);
        } else {
            if !v.is_ascii() {
                std::str::from_utf8(v).ok()?;
            }
            data.extend_from_slice(v);
        }
        ends.push(u32::try_from(data.len()).ok()?);
    }
    Some(Values::Str { data, ends })
}

/// A key of the categorical table: up to 16 bytes are held as two words, so most comparisons
/// touch no memory but the table.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    len: usize,
    a: u64,
    b: u64,
}

impl Key {
    #[inline]
    fn of(v: &[u8]) -> Key {
        let word = |s: &[u8]| {
            let mut w = [0u8; 8];
            w[..s.len()].copy_from_slice(s);
            u64::from_le_bytes(w)
        };
        let len = v.len();
        let (a, b) = if len >= 8 { (word(&v[..8]), word(&v[len - 8..])) } else { (word(v), 0) };
        Key { len, a, b }
    }

    #[inline]
    fn hash(self) -> u64 {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        (self.a ^ self.b.rotate_left(29) ^ self.len as u64).wrapping_mul(K)
    }
}

/// Codes a categorical column in order of first appearance, through an open-addressing table
/// that hashes each value once; new values are checked to be UTF-8 once each.
fn categorical(
    block: &[u8],
    ends: &[u32],
    fields: usize,
    field_index: usize,
    rows: usize,
) -> Option<Values> {
    const EMPTY: u32 = u32::MAX;
    let mut bits = 6u32;
    let mut table: Vec<u32> = vec![EMPTY; 1 << bits];
    let mut keys: Vec<(Key, &[u8])> = Vec::new();
    let mut codes = Vec::with_capacity(rows);
    let mut k = field_index;
    for _ in 0..rows {
        let v = field(block, ends, k);
        k += fields;
        let key = Key::of(v);
        let mask = (1usize << bits) - 1;
        let mut at = usize::try_from(key.hash() >> (64 - bits)).unwrap_or(0);
        let code = loop {
            let c = table[at];
            if c == EMPTY {
                if !v.is_ascii() {
                    std::str::from_utf8(v).ok()?;
                }
                let c = u32::try_from(keys.len()).ok()?;
                keys.push((key, v));
                table[at] = c;
                if keys.len() * 2 > table.len() {
                    bits += 1;
                    table = vec![EMPTY; 1 << bits];
                    for (n, (key, _)) in keys.iter().enumerate() {
                        let mask = (1usize << bits) - 1;
                        let mut j = usize::try_from(key.hash() >> (64 - bits)).unwrap_or(0);
                        while table[j] != EMPTY {
                            j = (j + 1) & mask;
                        }
                        table[j] = u32::try_from(n).ok()?;
                    }
                }
                break c;
            }
            let (kk, bytes) = keys[c as usize];
            if kk == key && (key.len <= 16 || bytes == v) {
                break c;
            }
            at = (at + 1) & mask;
        };
        codes.push(code);
    }
    Some(Values::Cat { codes, keys: keys.into_iter().map(|(_, v)| v).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever precedes the field, the fast path gives the standard library's value.
        #[test]
        fn float_fast_path_matches_the_standard_library(
            pre in "[0-9,.]{0,20}",
            s in "[+-]?[0-9]{0,17}\\.?[0-9]{0,17}",
        ) {
            let block = format!("{pre}{s}");
            let (b, start, end) = (block.as_bytes(), pre.len(), block.len());
            let want64 = parse_float::<f64>(s.as_bytes()).ok().map(f64::to_bits);
            let want32 = parse_float::<f32>(s.as_bytes()).ok().map(f32::to_bits);
            prop_assert_eq!(float::<f64>(b, start, end).map(f64::to_bits), want64);
            prop_assert_eq!(float::<f32>(b, start, end).map(f32::to_bits), want32);
            if let Ok(x) = s.parse::<f64>() {
                prop_assert_eq!(float::<f64>(b, start, end).map(f64::to_bits), Some(x.to_bits()));
            }
        }

        /// Whatever precedes the field in the block (the word reads look back up to 16 bytes).
        #[test]
        fn integer_fast_path_matches_parse_int(pre in "[0-9,:/]{0,20}", s in "-?[0-9/:]{1,20}") {
            let block = format!("{pre}{s}");
            let (b, start, end) = (block.as_bytes(), pre.len(), block.len());
            prop_assert_eq!(int::<i64>(b, start, end), parse_int::<i64>(s.as_bytes()).ok());
            prop_assert_eq!(int::<u32>(b, start, end), parse_int::<u32>(s.as_bytes()).ok());
            prop_assert_eq!(int::<i8>(b, start, end), parse_int::<i8>(s.as_bytes()).ok());
        }

        #[test]
        fn eight_digit_words_read_like_the_digits(x in 0u64..100_000_000, n in 1usize..=8) {
            let s = format!("{:08}", x % 10u64.pow(n as u32));
            let block = format!("12345678{}", &s[8 - n..]);
            prop_assert_eq!(digits_before(block.as_bytes(), block.len(), n), Some(x % 10u64.pow(n as u32)));
        }
    }
}
