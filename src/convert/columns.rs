//! The data a parsed block of input records produces: one [`Values`] vector per output
//! column, the [`Reject`]s, and the shared, read-only [`Layout`] that says how to parse.

use std::collections::HashMap;

use super::schema::ColumnType;
use super::timefmt::TimeFormat;
use super::value::{Int, NaTokens, Reason};

/// A fill value for empty fields of an integer or bool column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Fill {
    Bool(bool),
    Int(i128),
}

/// Where a categorical value's bytes are: a range of the block, or of the block's arena
/// (values that had quotes removed).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CatRef {
    start: u32,
    /// Length; the top bit set means "in the arena".
    len: u32,
}

const ARENA_BIT: u32 = 1 << 31;

impl CatRef {
    /// `len` bytes at `start` in the block (`len` < 2^31: values are shorter than a block).
    pub(crate) fn in_block(start: u32, len: u32) -> CatRef {
        CatRef { start, len }
    }

    /// `len` bytes at `start` in the arena.
    pub(crate) fn in_arena(start: u32, len: u32) -> CatRef {
        CatRef { start, len: len | ARENA_BIT }
    }

    /// The value's bytes.
    pub(crate) fn bytes<'a>(self, block: &'a [u8], arena: &'a [u8]) -> &'a [u8] {
        if self.len & ARENA_BIT == 0 {
            &block[self.start as usize..(self.start + self.len) as usize]
        } else {
            &arena[self.start as usize..(self.start + (self.len & !ARENA_BIT)) as usize]
        }
    }
}

/// A block's distinct categorical values in order of first appearance: their bytes one after
/// another and where each ends, one buffer for the block rather than an allocation per value
/// (a block of distinct IDs has as many values as rows).
#[derive(Debug, Default)]
pub(crate) struct Keys {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Keys {
    /// Adds `key` as the next value.
    pub(crate) fn push(&mut self, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Value `i` (`i < len()`).
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// The values in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.get(i))
    }
}

impl<'a> FromIterator<&'a [u8]> for Keys {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Keys {
        let mut k = Keys::default();
        for v in iter {
            k.push(v);
        }
        k
    }
}

/// The block-level code of a missing categorical value (a key that is a missing-value token);
/// stored as code 0 and marked in the validity file.
pub(crate) const MISSING_CODE: u32 = u32::MAX;

/// Values of one column, as parsed from one block.
#[derive(Debug)]
#[allow(missing_docs)]
pub(crate) enum Values {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// Categorical values before dictionary coding.
    CatRefs(Vec<CatRef>),
    /// Categorical codes into `keys`, which lists this block's distinct values in order of
    /// first appearance.
    Cat {
        codes: Vec<u32>,
        keys: Keys,
    },
    /// Strings: their bytes one after another, and where each ends in `data` (missing ones are
    /// empty).
    Str {
        data: Vec<u8>,
        ends: Vec<u32>,
    },
}

macro_rules! each_values {
    ($v:expr, $x:ident => $body:expr, cat $c:ident => $cat:expr, str $e:ident => $str:expr) => {
        match $v {
            Values::Bool($x) => $body,
            Values::I8($x) => $body,
            Values::I16($x) => $body,
            Values::I32($x) => $body,
            Values::I64($x) => $body,
            Values::U8($x) => $body,
            Values::U16($x) => $body,
            Values::U32($x) => $body,
            Values::U64($x) => $body,
            Values::F32($x) => $body,
            Values::F64($x) => $body,
            Values::CatRefs($x) => $body,
            Values::Cat { codes: $c, .. } => $cat,
            Values::Str { ends: $e, .. } => $str,
        }
    };
}

impl Values {
    /// An empty vector for `n` values of type `t`.
    pub(crate) fn new(t: ColumnType, n: usize) -> Values {
        match t {
            ColumnType::Bool => Values::Bool(Vec::with_capacity(n)),
            ColumnType::I8 => Values::I8(Vec::with_capacity(n)),
            ColumnType::I16 => Values::I16(Vec::with_capacity(n)),
            ColumnType::I32 => Values::I32(Vec::with_capacity(n)),
            ColumnType::I64 | ColumnType::DateTime(_) => Values::I64(Vec::with_capacity(n)),
            ColumnType::U8 => Values::U8(Vec::with_capacity(n)),
            ColumnType::U16 => Values::U16(Vec::with_capacity(n)),
            ColumnType::U32 => Values::U32(Vec::with_capacity(n)),
            ColumnType::U64 => Values::U64(Vec::with_capacity(n)),
            ColumnType::F32 => Values::F32(Vec::with_capacity(n)),
            ColumnType::F64 => Values::F64(Vec::with_capacity(n)),
            ColumnType::Cat => Values::CatRefs(Vec::with_capacity(n)),
            ColumnType::Str => Values::Str { data: Vec::new(), ends: Vec::with_capacity(n) },
        }
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        each_values!(self, v => v.len(), cat c => c.len(), str e => e.len())
    }

    /// Keeps the first `n` values.
    pub(crate) fn truncate(&mut self, n: usize) {
        if let Values::Str { data, ends } = self {
            ends.truncate(n);
            data.truncate(ends.last().map_or(0, |&e| e as usize));
            return;
        }
        each_values!(self, v => v.truncate(n), cat c => c.truncate(n), str e => e.truncate(n));
    }

    /// Smallest and largest value of an integer column.
    pub(crate) fn int_range(&self) -> Option<(i128, i128)> {
        fn mm<T: Int>(v: &[T]) -> Option<(i128, i128)> {
            v.iter().fold(None, |acc, &x| {
                let x: i128 = x.into();
                Some(acc.map_or((x, x), |(lo, hi): (i128, i128)| (lo.min(x), hi.max(x))))
            })
        }
        match self {
            Values::I8(v) => mm(v),
            Values::I16(v) => mm(v),
            Values::I32(v) => mm(v),
            Values::I64(v) => mm(v),
            Values::U8(v) => mm(v),
            Values::U16(v) => mm(v),
            Values::U32(v) => mm(v),
            Values::U64(v) => mm(v),
            _ => None,
        }
    }
}

/// How to read one output column.
#[derive(Clone, Debug)]
pub(crate) struct ColumnSpec {
    pub(crate) ty: ColumnType,
    pub(crate) fill: Option<Fill>,
    /// The layout of a datetime column's values, when they are not ISO 8601.
    pub(crate) format: Option<TimeFormat>,
}

/// What parsing needs to know, shared read-only by all blocks.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub(crate) delimiter: u8,
    /// Fields every record must have.
    pub(crate) fields: usize,
    /// For each field index, the output column it feeds, if any.
    pub(crate) slots: Vec<Option<usize>>,
    pub(crate) columns: Vec<ColumnSpec>,
    /// Compute integer ranges (to store integer columns in the narrowest type).
    pub(crate) ranges: bool,
    /// The field contents that mean a missing value.
    pub(crate) na: NaTokens,
}

/// A rejected record.
#[derive(Clone, Debug)]
pub(crate) struct Reject {
    /// Line of the record's first byte, counted from the block's first line (0-based).
    pub(crate) line: u64,
    /// Output column of the bad value; `None` for record-level problems.
    pub(crate) column: Option<usize>,
    pub(crate) reason: Reason,
    /// The record as it was in the input, without its line terminator.
    pub(crate) raw: Vec<u8>,
}

/// One parsed block.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) columns: Vec<Values>,
    /// Integer ranges per column (when asked for and the column is integer and non-empty).
    pub(crate) ranges: Vec<Option<(i128, i128)>>,
    /// Per column, the rows (of those kept, in order) whose value was missing and holds a
    /// placeholder (0, `false`, the empty string) for a validity file to mark. Empty for float
    /// columns, whose missing values are NaN, for columns with a fill value, and for
    /// categoricals, whose missing values are found by their keys when the block is coded.
    pub(crate) missing: Vec<Vec<u32>>,
    pub(crate) rejects: Vec<Reject>,
    /// Per column: a kept row's value was ISO 8601 text with an offset or `Z` (date-time
    /// columns without a format; the manifest then records the zone).
    pub(crate) zoned: Vec<bool>,
    /// Records read (blank lines are not records).
    pub(crate) rows_read: u64,
    /// `\n` bytes in the block, i.e. lines it ends.
    pub(crate) newlines: u64,
    /// Bytes of input the block covers.
    pub(crate) bytes: u64,
}

/// The map of the categorical dictionaries (block-local and column-wide), from a category's
/// bytes. `foldhash` (already built for `serde_json` and `hashbrown`) with a per-process seed:
/// its final multiply folds every input byte into the low bits hashbrown takes its bucket from.
/// The hand-written `FxHash` this replaces returned its raw state, so 8-byte keys that differ
/// only in their last bytes (`S0000123`) shared one bucket chain and 400k of them took 24 s.
pub(crate) type CatMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
