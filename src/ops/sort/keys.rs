//! Sort keys as bytes: each row's key columns encoded so that comparing the bytes orders the
//! rows as pandas' `sort_values(kind="stable", na_position="last")` does, then the row
//! number, so that equal keys keep their order and every key is unique.
//!
//! Per key column: a flag byte, 0 for a value and 1 for a missing one (NaN included), so
//! missing values come last whichever the direction; then the value, its bytes inverted for
//! a descending key: integers (and bools, datetimes, categorical label ranks) as 16 big-endian
//! bytes with the sign bit flipped; floats as the 8 bytes of their IEEE order (-0.0 as 0.0);
//! strings as their bytes with 0 escaped as `0 255` and `0 0` at the end.

use crate::dataset::{Column, ColumnKind, Strings, StringsView};
use crate::dtype::ElementType;
use crate::error::{Error, Result};
use crate::npy::MmapArray;

/// A value of a key column as it is encoded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum KeyValue<'a> {
    Null,
    Int(i128),
    Float(f64),
    Bytes(&'a [u8]),
}

/// Appends the encoding of `v` to `out`.
pub(crate) fn encode(v: KeyValue<'_>, descending: bool, out: &mut Vec<u8>) {
    let start = out.len() + 1;
    match v {
        KeyValue::Null => {
            out.push(1);
            return;
        }
        KeyValue::Float(f) if f.is_nan() => {
            out.push(1);
            return;
        }
        KeyValue::Int(i) => {
            out.push(0);
            out.extend_from_slice(&(i.cast_unsigned() ^ (1 << 127)).to_be_bytes());
        }
        KeyValue::Float(f) => {
            out.push(0);
            let bits = if f == 0.0 { 0.0f64 } else { f }.to_bits();
            let ordered = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
            out.extend_from_slice(&ordered.to_be_bytes());
        }
        KeyValue::Bytes(b) => {
            out.push(0);
            for &c in b {
                out.push(c);
                if c == 0 {
                    out.push(255);
                }
            }
            out.extend_from_slice(&[0, 0]);
        }
    }
    if descending {
        for b in &mut out[start..] {
            *b = !*b;
        }
    }
}

/// Values of one column, read by row.
enum Values {
    Bool(MmapArray<bool>),
    I8(MmapArray<i8>),
    I16(MmapArray<i16>),
    I32(MmapArray<i32>),
    I64(MmapArray<i64>),
    U8(MmapArray<u8>),
    U16(MmapArray<u16>),
    U32(MmapArray<u32>),
    U64(MmapArray<u64>),
    F32(MmapArray<f32>),
    F64(MmapArray<f64>),
    Str(Box<Strings>),
}

/// One key column: its values, validity, direction and, for a categorical, each code's rank
/// among the labels sorted.
pub(crate) struct KeyColumn {
    values: Values,
    valid: Option<MmapArray<bool>>,
    pub(crate) descending: bool,
    ranks: Option<Vec<u32>>,
}

impl KeyColumn {
    /// The key column `c`.
    pub(crate) fn open(c: &Column<'_>, descending: bool) -> Result<KeyColumn> {
        let values = if c.kind() == ColumnKind::String {
            Values::Str(Box::new(c.strings()?))
        } else {
            match c.element()? {
                ElementType::Bool => Values::Bool(c.values()?),
                ElementType::I8 => Values::I8(c.values()?),
                ElementType::I16 => Values::I16(c.values()?),
                ElementType::I32 => Values::I32(c.values()?),
                ElementType::I64 => Values::I64(c.values()?),
                ElementType::U8 => Values::U8(c.values()?),
                ElementType::U16 => Values::U16(c.values()?),
                ElementType::U32 => Values::U32(c.values()?),
                ElementType::U64 => Values::U64(c.values()?),
                ElementType::F32 => Values::F32(c.values()?),
                ElementType::F64 => Values::F64(c.values()?),
                other => {
                    return Err(Error::argument(format!(
                        "column {:?}: cannot sort by {} values",
                        c.name(),
                        other.name()
                    )));
                }
            }
        };
        let ranks = match c.categories()? {
            Some(cats) => {
                let labels = cats.to_vec()?;
                let mut order: Vec<usize> = (0..labels.len()).collect();
                order.sort_by(|&a, &b| labels[a].as_bytes().cmp(labels[b].as_bytes()));
                let mut ranks = vec![0u32; labels.len()];
                for (rank, code) in order.into_iter().enumerate() {
                    ranks[code] =
                        u32::try_from(rank).map_err(|e| Error::internal(e.to_string()))?;
                }
                Some(ranks)
            }
            None => None,
        };
        Ok(KeyColumn { values, valid: c.validity()?, descending, ranks })
    }

    /// The column's data as slices, taken once (taking one checks the whole array).
    pub(crate) fn view(&self) -> Result<KeyView<'_>> {
        let values = match &self.values {
            Values::Bool(a) => Slice::Bool(a.data_bytes()?),
            Values::I8(a) => Slice::I8(a.as_slice()?),
            Values::I16(a) => Slice::I16(a.as_slice()?),
            Values::I32(a) => Slice::I32(a.as_slice()?),
            Values::I64(a) => Slice::I64(a.as_slice()?),
            Values::U8(a) => Slice::U8(a.as_slice()?),
            Values::U16(a) => Slice::U16(a.as_slice()?),
            Values::U32(a) => Slice::U32(a.as_slice()?),
            Values::U64(a) => Slice::U64(a.as_slice()?),
            Values::F32(a) => Slice::F32(a.as_slice()?),
            Values::F64(a) => Slice::F64(a.as_slice()?),
            Values::Str(s) => Slice::Str(s.view()?),
        };
        Ok(KeyView {
            values,
            valid: self.valid.as_ref().map(MmapArray::data_bytes).transpose()?,
            descending: self.descending,
            ranks: self.ranks.as_deref(),
        })
    }
}

/// The values of a key column as slices.
enum Slice<'a> {
    /// Bools as their bytes.
    Bool(&'a [u8]),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Str(StringsView<'a>),
}

/// A [`KeyColumn`]'s data, ready to encode rows.
pub(crate) struct KeyView<'a> {
    values: Slice<'a>,
    valid: Option<&'a [u8]>,
    descending: bool,
    ranks: Option<&'a [u32]>,
}

impl KeyView<'_> {
    /// Appends the encoding of row `row` to `out`.
    pub(crate) fn encode_row(&self, row: usize, out: &mut Vec<u8>) -> Result<()> {
        let past = || Error::internal(format!("row {row} past the column"));
        if let Some(v) = self.valid
            && *v.get(row).ok_or_else(past)? == 0
        {
            encode(KeyValue::Null, self.descending, out);
            return Ok(());
        }
        let int = |i: i128| -> Result<KeyValue<'_>> {
            match self.ranks {
                Some(r) => usize::try_from(i)
                    .ok()
                    .and_then(|k| r.get(k))
                    .map(|&rank| KeyValue::Int(i128::from(rank)))
                    .ok_or_else(|| Error::argument(format!("row {row}: code {i} has no category"))),
                None => Ok(KeyValue::Int(i)),
            }
        };
        macro_rules! at {
            ($a:expr) => {
                *$a.get(row).ok_or_else(past)?
            };
        }
        let v = match &self.values {
            Slice::Bool(a) => int(i128::from(at!(a) != 0))?,
            Slice::I8(a) => int(i128::from(at!(a)))?,
            Slice::I16(a) => int(i128::from(at!(a)))?,
            Slice::I32(a) => int(i128::from(at!(a)))?,
            Slice::I64(a) => int(i128::from(at!(a)))?,
            Slice::U8(a) => int(i128::from(at!(a)))?,
            Slice::U16(a) => int(i128::from(at!(a)))?,
            Slice::U32(a) => int(i128::from(at!(a)))?,
            Slice::U64(a) => int(i128::from(at!(a)))?,
            Slice::F32(a) => KeyValue::Float(f64::from(at!(a))),
            Slice::F64(a) => KeyValue::Float(at!(a)),
            Slice::Str(s) => KeyValue::Bytes(s.get(row)?.as_bytes()),
        };
        encode(v, self.descending, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: KeyValue<'_>, desc: bool) -> Vec<u8> {
        let mut out = Vec::new();
        encode(v, desc, &mut out);
        out
    }

    #[test]
    fn encodings_order_as_values_with_missing_last() {
        let floats = [f64::NEG_INFINITY, -2.5, -0.0, 0.0, 1e-300, 3.0, f64::INFINITY];
        for w in floats.windows(2) {
            let (a, b) = (key(KeyValue::Float(w[0]), false), key(KeyValue::Float(w[1]), false));
            assert!(a <= b, "{w:?}");
            let (a, b) = (key(KeyValue::Float(w[0]), true), key(KeyValue::Float(w[1]), true));
            assert!(a >= b, "{w:?}");
        }
        assert_eq!(key(KeyValue::Float(-0.0), false), key(KeyValue::Float(0.0), false));
        for desc in [false, true] {
            let big =
                key(KeyValue::Float(f64::INFINITY), desc).max(key(KeyValue::Float(-1.0), desc));
            assert!(key(KeyValue::Float(f64::NAN), desc) > big);
            assert!(key(KeyValue::Null, desc) > key(KeyValue::Int(i128::from(i64::MAX)), desc));
        }
        let ints = [i128::from(i64::MIN), -1, 0, 1, i128::from(u64::MAX)];
        for w in ints.windows(2) {
            assert!(key(KeyValue::Int(w[0]), false) < key(KeyValue::Int(w[1]), false));
            assert!(key(KeyValue::Int(w[0]), true) > key(KeyValue::Int(w[1]), true));
        }
        let strs: [&[u8]; 5] = [b"", b"\0", b"\0a", b"a", b"ab"];
        for w in strs.windows(2) {
            assert!(key(KeyValue::Bytes(w[0]), false) < key(KeyValue::Bytes(w[1]), false));
            assert!(key(KeyValue::Bytes(w[0]), true) > key(KeyValue::Bytes(w[1]), true));
        }
        // A shorter string first even with more keys after it.
        let mut a = key(KeyValue::Bytes(b"a"), false);
        a.extend(key(KeyValue::Int(9), false));
        let mut b = key(KeyValue::Bytes(b"a\x01"), false);
        b.extend(key(KeyValue::Int(0), false));
        assert!(a < b);
    }
}
