//! Parsing one block of CSV records into typed column vectors.
//!
//! A block is a run of whole records (see `split.rs`). Parsing runs on many blocks at once, so
//! it only reads its block and the shared, read-only [`Layout`]; everything it produces is owned
//! by the returned [`Parsed`], which the writer consumes in input order.
//!
//! Records end at the first `\n` that has an even number of `"` before it since the record's
//! start (so newlines inside quoted fields belong to the field); a `\r` before that `\n` is
//! dropped. The same rule splits the input into blocks, so both always agree.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use memchr::{memchr, memchr_iter, memchr2, memchr2_iter};

mod regular;

use wide::u8x16;

use crate::dtype::ElementType;

use super::schema::ColumnType;

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

/// Parses a bool: `true`/`false`, `True`/`False`, `TRUE`/`FALSE`, `1`/`0`, `t`/`f`, `T`/`F`.
pub(crate) fn parse_bool(v: &[u8]) -> Result<bool, Reason> {
    match trim(v) {
        b"true" | b"True" | b"TRUE" | b"1" | b"t" | b"T" => Ok(true),
        b"false" | b"False" | b"FALSE" | b"0" | b"f" | b"F" => Ok(false),
        b"" => Err(Reason::Missing),
        _ => Err(Reason::NotBool),
    }
}

/// An integer as sign and magnitude, or the reason it is not one. Never wraps.
fn parse_magnitude(v: &[u8]) -> Result<(bool, u64), Reason> {
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
        keys: Vec<Box<[u8]>>,
    },
}

macro_rules! each_values {
    ($v:expr, $x:ident => $body:expr, cat $c:ident => $cat:expr) => {
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
        }
    };
}

impl Values {
    fn new(t: ColumnType, n: usize) -> Values {
        match t {
            ColumnType::Bool => Values::Bool(Vec::with_capacity(n)),
            ColumnType::I8 => Values::I8(Vec::with_capacity(n)),
            ColumnType::I16 => Values::I16(Vec::with_capacity(n)),
            ColumnType::I32 => Values::I32(Vec::with_capacity(n)),
            ColumnType::I64 => Values::I64(Vec::with_capacity(n)),
            ColumnType::U8 => Values::U8(Vec::with_capacity(n)),
            ColumnType::U16 => Values::U16(Vec::with_capacity(n)),
            ColumnType::U32 => Values::U32(Vec::with_capacity(n)),
            ColumnType::U64 => Values::U64(Vec::with_capacity(n)),
            ColumnType::F32 => Values::F32(Vec::with_capacity(n)),
            ColumnType::F64 => Values::F64(Vec::with_capacity(n)),
            ColumnType::Cat => Values::CatRefs(Vec::with_capacity(n)),
        }
    }

    fn truncate(&mut self, n: usize) {
        each_values!(self, v => v.truncate(n), cat c => c.truncate(n));
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
    /// Compute integer ranges (for `--shrink`).
    pub(crate) ranges: bool,
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
    pub(crate) rejects: Vec<Reject>,
    /// Records read (blank lines are not records).
    pub(crate) rows_read: u64,
    /// `\n` bytes in the block, i.e. lines it ends.
    pub(crate) newlines: u64,
    /// Bytes of input the block covers.
    pub(crate) bytes: u64,
}

/// A small fast hasher (`FxHash`) for the categorical dictionaries; inputs are not adversarial
/// in a way that matters (a bad input costs time, not correctness).
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }
    fn write_usize(&mut self, i: usize) {
        self.write(&(i as u64).to_le_bytes());
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

struct Builder<'a> {
    layout: &'a Layout,
    block: &'a [u8],
    columns: Vec<Values>,
    arena: Vec<u8>,
    /// Field index within the current record.
    field: usize,
    error: Option<(Option<usize>, Reason)>,
    rows_ok: usize,
    rows_read: u64,
    rejects: Vec<Reject>,
}

impl Builder<'_> {
    /// One field's content. `in_block` is false when `v` is an unquoted copy, not a slice of
    /// the block.
    #[inline]
    fn field(&mut self, v: &[u8], in_block: bool) {
        let i = self.field;
        self.field += 1;
        if self.error.is_some() {
            return;
        }
        let Some(&Some(slot)) = self.layout.slots.get(i) else { return };
        if let Err(r) = self.push(slot, v, in_block) {
            self.error = Some((Some(slot), r));
        }
    }

    #[inline]
    fn push(&mut self, slot: usize, v: &[u8], in_block: bool) -> Result<(), Reason> {
        let layout = self.layout;
        let fill = || layout.columns[slot].fill;
        macro_rules! int {
            ($vec:expr, $t:ty) => {{
                let x = match parse_int::<$t>(v) {
                    Err(Reason::Missing) => match fill() {
                        Some(Fill::Int(f)) => <$t>::try_from(f).map_err(|_| Reason::Missing)?,
                        _ => return Err(Reason::Missing),
                    },
                    r => r?,
                };
                $vec.push(x);
            }};
        }
        match &mut self.columns[slot] {
            Values::F64(c) => c.push(parse_float(v)?),
            Values::F32(c) => c.push(parse_float(v)?),
            Values::I64(c) => int!(c, i64),
            Values::I32(c) => int!(c, i32),
            Values::I16(c) => int!(c, i16),
            Values::I8(c) => int!(c, i8),
            Values::U64(c) => int!(c, u64),
            Values::U32(c) => int!(c, u32),
            Values::U16(c) => int!(c, u16),
            Values::U8(c) => int!(c, u8),
            Values::Bool(c) => c.push(match parse_bool(v) {
                Err(Reason::Missing) => match fill() {
                    Some(Fill::Bool(b)) => b,
                    _ => return Err(Reason::Missing),
                },
                r => r?,
            }),
            Values::CatRefs(c) => {
                if !v.is_ascii() {
                    std::str::from_utf8(v).map_err(|_| Reason::BadUtf8)?;
                }
                let len = u32::try_from(v.len()).map_err(|_| Reason::Quote("value too long"))?;
                if in_block {
                    let start = v.as_ptr() as usize - self.block.as_ptr() as usize;
                    c.push(CatRef { start: u32::try_from(start).unwrap_or(0), len });
                } else {
                    let start = u32::try_from(self.arena.len()).unwrap_or(0);
                    self.arena.extend_from_slice(v);
                    c.push(CatRef { start, len: len | ARENA_BIT });
                }
            }
            Values::Cat { .. } => unreachable!("codes are made after parsing"),
        }
        Ok(())
    }

    /// Ends a record: `raw` is its bytes without terminator, `line` its first line.
    fn end(&mut self, raw: &[u8], line: u64) {
        self.rows_read += 1;
        if self.field != self.layout.fields {
            self.error = Some((
                None,
                Reason::FieldCount { expected: self.layout.fields, found: self.field },
            ));
        }
        if let Some((column, reason)) = self.error.take() {
            for c in &mut self.columns {
                c.truncate(self.rows_ok);
            }
            self.rejects.push(Reject { line, column, reason, raw: raw.to_vec() });
        } else {
            self.rows_ok += 1;
        }
        self.field = 0;
    }

    /// Splits a record that holds no quote: fields are plain slices between delimiters.
    #[inline]
    fn plain_record(&mut self, rec: &[u8]) {
        let d = self.layout.delimiter;
        let mut start = 0;
        for p in memchr_iter(d, rec) {
            self.field(&rec[start..p], true);
            start = p + 1;
        }
        self.field(&rec[start..], true);
    }

    /// Splits a record that holds quotes, following RFC 4180: a field that starts with `"`
    /// runs to the next lone `"`, `""` inside it is one `"`, and only a delimiter or the end of
    /// the record may follow it. A `"` anywhere else is an error.
    fn quoted_record(&mut self, rec: &[u8], scratch: &mut Vec<u8>) {
        let d = self.layout.delimiter;
        let mut i = 0;
        loop {
            if rec.get(i) == Some(&b'"') {
                scratch.clear();
                i += 1;
                let mut closed = false;
                while let Some(k) = memchr(b'"', &rec[i..]) {
                    scratch.extend_from_slice(&rec[i..i + k]);
                    i += k + 1;
                    if rec.get(i) == Some(&b'"') {
                        scratch.push(b'"');
                        i += 1;
                    } else {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    self.fail(Reason::Quote("unterminated quoted field"));
                    return;
                }
                self.field(scratch, false);
                match rec.get(i) {
                    None => return,
                    Some(&b) if b == d => i += 1,
                    Some(_) => {
                        self.fail(Reason::Quote("characters after a closing quote"));
                        return;
                    }
                }
            } else {
                let rest = &rec[i..];
                let end = memchr(d, rest).unwrap_or(rest.len());
                let v = &rest[..end];
                if memchr(b'"', v).is_some() {
                    self.fail(Reason::Quote("quote inside an unquoted field"));
                    return;
                }
                self.field(v, true);
                if end == rest.len() {
                    return;
                }
                i += end + 1;
            }
        }
    }

    fn fail(&mut self, reason: Reason) {
        if self.error.is_none() {
            self.error = Some((None, reason));
        }
        // Count the record as malformed whatever its field count.
        self.field = self.layout.fields;
    }
}

/// The end of the record starting at `start`: the index of its terminating `\n`, or
/// `data.len()`. Newlines inside quotes (an odd number of `"` since `start`) do not end it.
pub(crate) fn record_end(data: &[u8], start: usize) -> usize {
    let mut in_quotes = false;
    for p in memchr2_iter(b'"', b'\n', &data[start..]) {
        if data[start + p] == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            return start + p;
        }
    }
    data.len()
}

/// Splits one record (no terminator) into unquoted field contents; used for the header and for
/// type inference. Same rules as block parsing.
pub(crate) fn fields_of(rec: &[u8], delimiter: u8) -> Result<Vec<Vec<u8>>, Reason> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        if rec.get(i) == Some(&b'"') {
            let mut v = Vec::new();
            i += 1;
            loop {
                let k =
                    memchr(b'"', &rec[i..]).ok_or(Reason::Quote("unterminated quoted field"))?;
                v.extend_from_slice(&rec[i..i + k]);
                i += k + 1;
                if rec.get(i) == Some(&b'"') {
                    v.push(b'"');
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(v);
            match rec.get(i) {
                None => return Ok(out),
                Some(&b) if b == delimiter => i += 1,
                Some(_) => return Err(Reason::Quote("characters after a closing quote")),
            }
        } else {
            let rest = &rec[i..];
            let end = memchr(delimiter, rest).unwrap_or(rest.len());
            if memchr(b'"', &rest[..end]).is_some() {
                return Err(Reason::Quote("quote inside an unquoted field"));
            }
            out.push(rest[..end].to_vec());
            if end == rest.len() {
                return Ok(out);
            }
            i += end + 1;
        }
    }
}

/// Parses the records of `block`.
pub(crate) fn parse_block(layout: &Layout, block: &[u8]) -> Parsed {
    if memchr2(b'"', b'\r', block).is_none()
        && let Some(p) = regular::parse(layout, block)
    {
        return p;
    }
    parse_block_general(layout, block)
}

/// Parses the records of `block`, whatever they hold, record by record.
pub(crate) fn parse_block_general(layout: &Layout, block: &[u8]) -> Parsed {
    // Lines bound the records, so one count sizes every column without regrowing.
    let lines = memchr_iter(b'\n', block).count() + 1;
    let mut b = Builder {
        layout,
        block,
        columns: layout.columns.iter().map(|c| Values::new(c.ty, lines)).collect(),
        arena: Vec::new(),
        field: 0,
        error: None,
        rows_ok: 0,
        rows_read: 0,
        rejects: Vec::new(),
    };
    let quoted_block = memchr(b'"', block).is_some();
    if !quoted_block {
        let newlines = plain_block(&mut b, block);
        return b.into_parsed(block, newlines);
    }
    let mut scratch = Vec::new();
    let mut line = 0u64;
    let mut pos = 0;
    while pos < block.len() {
        let (end, next) = if quoted_block {
            let e = record_end(block, pos);
            (e, e + 1)
        } else {
            match memchr(b'\n', &block[pos..]) {
                Some(k) => (pos + k, pos + k + 1),
                None => (block.len(), block.len() + 1),
            }
        };
        let mut rec = &block[pos..end];
        if let [head @ .., b'\r'] = rec {
            rec = head;
        }
        let record_line = line;
        if rec.is_empty() {
            // A blank line: not a record.
        } else if quoted_block && memchr(b'"', rec).is_some() {
            line += memchr_iter(b'\n', rec).count() as u64;
            b.quoted_record(rec, &mut scratch);
        } else {
            b.plain_record(rec);
        }
        if !rec.is_empty() {
            b.end(rec, record_line);
        }
        if end < block.len() {
            line += 1;
        }
        pos = next;
    }
    b.into_parsed(block, line)
}

/// Bit `i` set where `chunk[i]` is `a` or `b`: 16-byte vector compares and byte masks (SSE2
/// `pcmpeqb`/`pmovmskb` on x86-64).
#[inline]
pub(crate) fn mask2(chunk: &[u8; 64], a: u8, b: u8) -> u64 {
    let (want_a, want_b) = (u8x16::splat(a), u8x16::splat(b));
    let mut mask = 0u64;
    for (i, part) in chunk.chunks_exact(16).enumerate() {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(part);
        let lanes = u8x16::new(bytes);
        let hits = (lanes.cmp_eq(want_a) | lanes.cmp_eq(want_b)).move_mask();
        mask |= u64::from(hits.cast_unsigned() & 0xFFFF) << (16 * i);
    }
    mask
}

/// Parses a block that holds no quote in one pass over its delimiters and line ends, found 64
/// bytes at a time as bit masks; returns the number of line ends.
fn plain_block(b: &mut Builder<'_>, block: &[u8]) -> u64 {
    let d = b.layout.delimiter;
    let (mut rec_start, mut field_start, mut line) = (0, 0, 0u64);
    let mut at = |p: usize, b: &mut Builder<'_>| {
        if block[p] == d {
            b.field(&block[field_start..p], true);
            field_start = p + 1;
            return;
        }
        let mut end = p;
        if end > field_start && block[end - 1] == b'\r' {
            end -= 1;
        }
        if end > rec_start {
            b.field(&block[field_start..end], true);
            b.end(&block[rec_start..end], line);
        }
        line += 1;
        rec_start = p + 1;
        field_start = p + 1;
    };
    let chunks = block.chunks_exact(64);
    let tail = chunks.remainder();
    let mut base = 0;
    for chunk in chunks {
        let chunk: &[u8; 64] = chunk.try_into().unwrap_or(&[0; 64]);
        let mut m = mask2(chunk, d, b'\n');
        while m != 0 {
            at(base + m.trailing_zeros() as usize, b);
            m &= m - 1;
        }
        base += 64;
    }
    for p in memchr2_iter(d, b'\n', tail) {
        at(base + p, b);
    }
    let mut end = block.len();
    if end > field_start && block[end - 1] == b'\r' {
        end -= 1;
    }
    if end > rec_start {
        b.field(&block[field_start..end], true);
        b.end(&block[rec_start..end], line);
    }
    line
}

impl Builder<'_> {
    fn into_parsed(self, block: &[u8], newlines: u64) -> Parsed {
        let Builder { mut columns, arena, rejects, rows_read, layout, .. } = self;
        for c in &mut columns {
            if let Values::CatRefs(refs) = c {
                *c = code(block, &arena, refs);
            }
        }
        let ranges =
            columns.iter().map(|c| if layout.ranges { c.int_range() } else { None }).collect();
        Parsed { columns, ranges, rejects, rows_read, newlines, bytes: block.len() as u64 }
    }
}

/// Turns categorical values into block-local codes, in order of first appearance.
fn code(block: &[u8], arena: &[u8], refs: &[CatRef]) -> Values {
    let mut map: FxMap<&[u8], u32> = FxMap::default();
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut codes = Vec::with_capacity(refs.len());
    for r in refs {
        let v = if r.len & ARENA_BIT == 0 {
            &block[r.start as usize..(r.start + r.len) as usize]
        } else {
            &arena[r.start as usize..(r.start + (r.len & !ARENA_BIT)) as usize]
        };
        let next = u32::try_from(keys.len()).unwrap_or(u32::MAX);
        let c = *map.entry(v).or_insert_with(|| {
            keys.push(v);
            next
        });
        codes.push(c);
    }
    Values::Cat { codes, keys: keys.into_iter().map(Box::from).collect() }
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

    fn layout(fields: usize, types: &[ColumnType]) -> Layout {
        Layout {
            delimiter: b',',
            fields,
            slots: (0..fields).map(|i| (i < types.len()).then_some(i)).collect(),
            columns: types.iter().map(|&ty| ColumnSpec { ty, fill: None }).collect(),
            ranges: false,
        }
    }

    #[test]
    fn quoted_fields_keep_delimiters_newlines_and_doubled_quotes() {
        let l = layout(2, &[ColumnType::Cat, ColumnType::I32]);
        let p = parse_block(&l, b"\"a,b\",1\r\n\"x\"\"\ny\",2\nplain,3");
        assert_eq!(p.rows_read, 3);
        assert!(p.rejects.is_empty(), "{:?}", p.rejects);
        let Values::Cat { codes, keys } = &p.columns[0] else { panic!() };
        assert_eq!(codes, &[0, 1, 2]);
        assert_eq!(keys[1].as_ref(), b"x\"\ny");
        let Values::I32(v) = &p.columns[1] else { panic!() };
        assert_eq!(v, &[1, 2, 3]);
        assert_eq!(p.newlines, 3);
    }

    #[test]
    fn bad_records_are_rejected_with_their_line_and_nothing_half_written() {
        let l = layout(2, &[ColumnType::Cat, ColumnType::U8]);
        let p = parse_block(&l, b"a,1\nb,300\n\nc\n\"d\"x,1\ne,2\n\n");
        assert_eq!(p.rows_read, 5);
        let lines: Vec<_> = p.rejects.iter().map(|r| (r.line, r.reason.to_string())).collect();
        assert_eq!(
            lines,
            [
                (1, "out of range for uint8".to_string()),
                (3, "expected 2 fields, found 1".to_string()),
                (4, "characters after a closing quote".to_string())
            ]
        );
        let Values::Cat { codes, keys } = &p.columns[0] else { panic!() };
        assert_eq!(codes, &[0, 1]);
        assert_eq!(keys.len(), 2, "rejected rows add no category");
    }

    #[test]
    fn blank_lines_are_skipped_even_before_an_integer_column() {
        let l = layout(1, &[ColumnType::I64]);
        let p = parse_block(&l, b"1\n\n\r\n2\n");
        assert!(p.rejects.is_empty(), "{:?}", p.rejects);
        assert_eq!((p.rows_read, p.newlines), (2, 4));
    }

    #[test]
    fn record_end_skips_quoted_newlines() {
        assert_eq!(record_end(b"a,\"x\ny\"\nb", 0), 7);
        assert_eq!(record_end(b"a\nb", 2), 3);
    }
}
