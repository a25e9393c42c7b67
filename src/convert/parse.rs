//! Parsing one block of input records into typed column vectors.
//!
//! A block is a run of whole records (see `split.rs`). Parsing runs on many blocks at once, so
//! it only reads its block and the shared, read-only [`Layout`]; everything it produces is owned
//! by the returned [`Parsed`], which the staging writes in input order.
//!
//! [`parse_block`] tries the regular fast path (`parse/regular.rs`) first and falls back to
//! [`parse_block_general`], which takes any input record by record.
//!
//! # Which parts must change together
//!
//! - **Record boundaries.** Where a record ends is decided in one place, `record.rs`
//!   ([`Quotes`](super::record::Quotes), the quote rule): block cutting (`split.rs`), this
//!   parser, the header and inference reader (`plan.rs`), several inputs (`sources.rs`) and
//!   `\r` line ends (`input.rs`) all go through it. A change to quoting or line ends goes
//!   there, and must keep every block starting at a record boundary.
//! - **Field splitting.** `Builder::quoted_record` here and
//!   [`fields_of`](super::record::fields_of) apply the same quote rule field by field (header
//!   and inference see the fields the parser sees); change both.
//! - **The fast path.** `regular.rs` must produce exactly the [`Parsed`] this parser would, or
//!   decline. Its value loops (`int`, `float`, `categorical`) re-implement `value.rs`'s
//!   `parse_int`, `parse_float` and the categorical coding in `code` below; any change to what a
//!   value means changes both, and the agreement tests at the bottom of this file check them.
//! - **Line counting.** `Parsed::newlines` and `Reject::line` count `\n` bytes, so the staging
//!   can number reject lines across blocks; both parsers and `split.rs` count the same bytes.

use memchr::{memchr, memchr_iter, memchr2, memchr2_iter};

mod regular;

use super::columns::{CatMap, CatRef, ColumnSpec, Fill, Layout, Parsed, Reject, Values};
use super::record::{is_blank, mask2, record_end};
use super::schema::ColumnType;
use super::value::{
    Float, Reason, is_nat, parse_bool, parse_datetime_zoned, parse_float, parse_int,
};
use crate::dtype::TimeUnit;

/// A datetime value, in the column's format or else as ISO 8601, and whether it is ISO 8601
/// text that carried an offset.
fn parse_time(spec: &ColumnSpec, v: &[u8], unit: TimeUnit) -> Result<(i64, bool), Reason> {
    match &spec.format {
        Some(format) => format.parse(v, unit).map(|x| (x, false)),
        None => parse_datetime_zoned(v, unit),
    }
}

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
    /// Per column, the kept rows whose value is missing (see [`Parsed::missing`]).
    missing: Vec<Vec<u32>>,
    /// Per column, a kept row held ISO 8601 text with an offset (see [`Parsed::zoned`]).
    zoned: Vec<bool>,
    /// The columns whose value in the current record carried an offset, kept if it is.
    zoned_here: Vec<usize>,
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
        let row = u32::try_from(self.rows_ok).unwrap_or(u32::MAX);
        let missing = &mut self.missing[slot];
        // A value that does not parse may be a missing-value token: then the fill value, or a
        // placeholder the validity file marks. (Checked after the parse fails, so good values
        // pay nothing for it; no token parses as a number or a bool.)
        macro_rules! int {
            ($vec:expr, $t:ty) => {{
                let x = match parse_int::<$t>(v) {
                    Ok(x) => x,
                    Err(r) if layout.na.is_missing(v) || r == Reason::Missing => match fill() {
                        Some(Fill::Int(f)) => <$t>::try_from(f).map_err(|_| Reason::Missing)?,
                        _ => {
                            missing.push(row);
                            0
                        }
                    },
                    Err(r) => return Err(r),
                };
                $vec.push(x);
            }};
        }
        macro_rules! float {
            ($vec:expr) => {{
                match parse_float(v) {
                    Ok(x) => $vec.push(x),
                    Err(_) if layout.na.is_missing(v) => $vec.push(Float::NAN),
                    Err(r) => return Err(r),
                }
            }};
        }
        if let ColumnType::DateTime(unit) = layout.columns[slot].ty {
            return self.push_time(slot, v, unit, row);
        }
        match &mut self.columns[slot] {
            Values::F64(c) => float!(c),
            Values::F32(c) => float!(c),
            Values::I64(c) => int!(c, i64),
            Values::I32(c) => int!(c, i32),
            Values::I16(c) => int!(c, i16),
            Values::I8(c) => int!(c, i8),
            Values::U64(c) => int!(c, u64),
            Values::U32(c) => int!(c, u32),
            Values::U16(c) => int!(c, u16),
            Values::U8(c) => int!(c, u8),
            Values::Bool(c) => c.push(match parse_bool(v) {
                Ok(b) => b,
                Err(r) if layout.na.is_missing(v) || r == Reason::Missing => {
                    if let Some(Fill::Bool(b)) = fill() {
                        b
                    } else {
                        missing.push(row);
                        false
                    }
                }
                Err(r) => return Err(r),
            }),
            Values::CatRefs(c) => {
                if !v.is_ascii() {
                    std::str::from_utf8(v).map_err(|_| Reason::BadUtf8)?;
                }
                let len = u32::try_from(v.len()).map_err(|_| Reason::Quote("value too long"))?;
                if in_block {
                    let start = v.as_ptr() as usize - self.block.as_ptr() as usize;
                    c.push(CatRef::in_block(u32::try_from(start).unwrap_or(0), len));
                } else {
                    let start = u32::try_from(self.arena.len()).unwrap_or(0);
                    self.arena.extend_from_slice(v);
                    c.push(CatRef::in_arena(start, len));
                }
            }
            Values::Str { data, ends } => {
                if layout.na.is_missing_text(v) {
                    missing.push(row);
                } else {
                    if !v.is_ascii() {
                        std::str::from_utf8(v).map_err(|_| Reason::BadUtf8)?;
                    }
                    data.extend_from_slice(v);
                }
                // A block, and so its strings, is shorter than 2^32 bytes (`split::MAX_RECORD`).
                ends.push(u32::try_from(data.len()).map_err(|_| Reason::Quote("value too long"))?);
            }
            Values::Cat { .. } => unreachable!("codes are made after parsing"),
        }
        Ok(())
    }

    /// A date-time value; a value with an offset marks its column zoned if its record is kept.
    fn push_time(&mut self, slot: usize, v: &[u8], unit: TimeUnit, row: u32) -> Result<(), Reason> {
        let layout = self.layout;
        let spec = &layout.columns[slot];
        let Values::I64(c) = &mut self.columns[slot] else {
            unreachable!("date-time columns are parsed into i64 values")
        };
        let x = match parse_time(spec, v, unit) {
            Ok((x, zoned)) => {
                if zoned && !self.zoned[slot] {
                    self.zoned_here.push(slot);
                }
                x
            }
            Err(r) if layout.na.is_missing(v) || r == Reason::Missing || is_nat(v) => {
                if let Some(Fill::Int(f)) = spec.fill {
                    i64::try_from(f).map_err(|_| Reason::Missing)?
                } else {
                    self.missing[slot].push(row);
                    0
                }
            }
            Err(r) => return Err(r),
        };
        c.push(x);
        Ok(())
    }

    /// Ends a record: `raw` is its bytes without terminator, `line` its first line.
    fn end(&mut self, raw: &[u8], line: u64) {
        self.rows_read += 1;
        // A record shorter than the header has missing values in the fields it lacks, as
        // pandas reads it. (A malformed one counts as whole: see `fail`.)
        while self.field < self.layout.fields {
            self.field(b"", false);
        }
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
            let row = u32::try_from(self.rows_ok).unwrap_or(u32::MAX);
            for m in &mut self.missing {
                if m.last() == Some(&row) {
                    m.pop();
                }
            }
            self.rejects.push(Reject { line, column, reason, raw: raw.to_vec() });
            self.zoned_here.clear();
        } else {
            self.rows_ok += 1;
            for slot in self.zoned_here.drain(..) {
                self.zoned[slot] = true;
            }
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

    /// Splits a record that holds quotes by the quote rule of `record.rs`: a field that starts
    /// with `"` runs to the next lone `"`, `""` inside it is one `"`, and only a delimiter or
    /// the end of the record may follow it; a `"` inside an unquoted field is a literal
    /// character.
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
                // A `"` inside an unquoted field is a literal character.
                self.field(&rest[..end], true);
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
        missing: vec![Vec::new(); layout.columns.len()],
        zoned: vec![false; layout.columns.len()],
        zoned_here: Vec::new(),
    };
    if memchr(b'"', block).is_none() {
        let newlines = plain_block(&mut b, block);
        return b.into_parsed(block, newlines);
    }
    let mut scratch = Vec::new();
    let mut line = 0u64;
    let mut pos = 0;
    while pos < block.len() {
        let end = record_end(block, pos, layout.delimiter);
        let mut rec = &block[pos..end];
        if let [head @ .., b'\r'] = rec {
            rec = head;
        }
        let record_line = line;
        let blank = is_blank(rec, layout.delimiter);
        if blank {
            // A blank line: not a record.
        } else if memchr(b'"', rec).is_some() {
            line += memchr_iter(b'\n', rec).count() as u64;
            b.quoted_record(rec, &mut scratch);
        } else {
            b.plain_record(rec);
        }
        if !blank {
            b.end(rec, record_line);
        }
        if end < block.len() {
            line += 1;
        }
        pos = end + 1;
    }
    b.into_parsed(block, line)
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
        if end > rec_start && !(field_start == rec_start && is_blank(&block[rec_start..end], d)) {
            b.field(&block[field_start..end], true);
            b.end(&block[rec_start..end], line);
        }
        line += 1;
        rec_start = p + 1;
        field_start = p + 1;
    };
    let windows = block.chunks_exact(64);
    let tail = windows.remainder();
    let mut base = 0;
    for window in windows {
        let window: &[u8; 64] = window.try_into().unwrap_or(&[0; 64]);
        let mut m = mask2(window, d, b'\n');
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
    if end > rec_start && !(field_start == rec_start && is_blank(&block[rec_start..end], d)) {
        b.field(&block[field_start..end], true);
        b.end(&block[rec_start..end], line);
    }
    line
}

impl Builder<'_> {
    fn into_parsed(self, block: &[u8], newlines: u64) -> Parsed {
        let Builder { mut columns, arena, rejects, rows_read, layout, missing, zoned, .. } = self;
        for c in &mut columns {
            if let Values::CatRefs(refs) = c {
                *c = code(block, &arena, refs);
            }
        }
        let ranges =
            columns.iter().map(|c| if layout.ranges { c.int_range() } else { None }).collect();
        let bytes = block.len() as u64;
        Parsed { columns, ranges, missing, rejects, zoned, rows_read, newlines, bytes }
    }
}

/// Turns categorical values into block-local codes, in order of first appearance.
fn code(block: &[u8], arena: &[u8], refs: &[CatRef]) -> Values {
    let mut map: CatMap<&[u8], u32> = CatMap::default();
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut codes = Vec::with_capacity(refs.len());
    for &r in refs {
        let v = r.bytes(block, arena);
        let next = u32::try_from(keys.len()).unwrap_or(u32::MAX);
        let c = *map.entry(v).or_insert_with(|| {
            keys.push(v);
            next
        });
        codes.push(c);
    }
    Values::Cat { codes, keys: keys.into_iter().collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::columns::ColumnSpec;
    use crate::convert::schema::ColumnType;

    fn layout(fields: usize, types: &[ColumnType]) -> Layout {
        Layout {
            delimiter: b',',
            fields,
            slots: (0..fields).map(|i| (i < types.len()).then_some(i)).collect(),
            columns: types.iter().map(|&ty| ColumnSpec { ty, fill: None, format: None }).collect(),
            ranges: false,
            na: crate::convert::value::NaTokens::new(crate::convert::DEFAULT_NA),
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
        assert_eq!(keys.get(1), b"x\"\ny");
        let Values::I32(v) = &p.columns[1] else { panic!() };
        assert_eq!(v, &[1, 2, 3]);
        assert_eq!(p.newlines, 3);
    }

    #[test]
    fn bad_records_are_rejected_with_their_line_and_nothing_half_written() {
        let l = layout(2, &[ColumnType::Cat, ColumnType::U8]);
        let p = parse_block(&l, b"a,1\nb,300\n\nc,1,2\n\"d\"x,1\ne,2\n\n");
        assert_eq!(p.rows_read, 5);
        let lines: Vec<_> = p.rejects.iter().map(|r| (r.line, r.reason.to_string())).collect();
        assert_eq!(
            lines,
            [
                (1, "out of range for uint8".to_string()),
                (3, "expected 2 fields, found 3".to_string()),
                (4, "characters after a closing quote".to_string())
            ]
        );
        let Values::Cat { codes, keys } = &p.columns[0] else { panic!() };
        assert_eq!(codes, &[0, 1]);
        assert_eq!(keys.len(), 2, "rejected rows add no category");
    }

    #[test]
    fn a_short_record_has_missing_values_in_the_fields_it_lacks() {
        let l = layout(3, &[ColumnType::I64, ColumnType::F64, ColumnType::Cat]);
        let p = parse_block(&l, b"1,2.5,x\n2\n3,4\n\"4\",\"5\"\n");
        assert!(p.rejects.is_empty(), "{:?}", p.rejects);
        let Values::I64(v) = &p.columns[0] else { panic!() };
        assert_eq!(v, &[1, 2, 3, 4]);
        let Values::F64(f) = &p.columns[1] else { panic!() };
        assert!(f[0] == 2.5 && f[1].is_nan() && f[2] == 4.0 && f[3] == 5.0);
        let Values::Cat { codes, keys } = &p.columns[2] else { panic!() };
        assert_eq!((codes.len(), keys.len()), (4, 2), "x, and the empty missing value");
        assert_eq!(p.missing[0], Vec::<u32>::new());
    }

    #[test]
    fn blank_lines_are_skipped_even_before_an_integer_column() {
        let l = layout(1, &[ColumnType::I64]);
        let p = parse_block(&l, b"1\n\n\r\n2\n");
        assert!(p.rejects.is_empty(), "{:?}", p.rejects);
        assert_eq!((p.rows_read, p.newlines), (2, 4));
    }
}

/// The regular fast path agrees with the general parser whenever it answers.
#[cfg(test)]
mod fast_path_agreement {
    use super::regular::parse;
    use super::*;
    use crate::convert::columns::ColumnSpec;
    use crate::convert::schema::ColumnType;
    use proptest::prelude::*;

    fn layout(types: &[ColumnType], fields: usize, fill: Option<Fill>) -> Layout {
        Layout {
            delimiter: b',',
            fields,
            slots: (0..fields).map(|i| (i < types.len()).then(|| types.len() - 1 - i)).collect(),
            columns: types.iter().rev().map(|&ty| ColumnSpec { ty, fill, format: None }).collect(),
            ranges: true,
            na: crate::convert::value::NaTokens::new(crate::convert::DEFAULT_NA),
        }
    }

    /// Both paths agree whenever the fast path answers.
    fn same(l: &Layout, block: &[u8]) -> bool {
        let Some(fast) = parse(l, block) else { return false };
        let slow = parse_block_general(l, block);
        assert_eq!(
            format!("{fast:?}"),
            format!("{slow:?}"),
            "{:?}",
            String::from_utf8_lossy(block)
        );
        true
    }

    #[test]
    fn regular_blocks_parse_like_the_general_parser() {
        let l = layout(&[ColumnType::I64, ColumnType::Cat, ColumnType::F64], 3, None);
        assert!(same(&l, b"1,a,0.5\n-2,bb,1e3\n+3,a,\n"));
        assert!(same(&l, b"1,a,0.5\n-2,\xc3\xa9,inf"));
        assert!(same(&l, b" 7 ,a, 2.5 \n"));
        let l = layout(&[ColumnType::U8, ColumnType::Bool], 3, Some(Fill::Int(9)));
        assert!(same(&l, b"1,true,x\n,1,y\n"));
    }

    #[test]
    fn irregular_blocks_go_to_the_general_parser() {
        let l = layout(&[ColumnType::I64, ColumnType::Cat], 2, None);
        for block in [
            &b"1,a\n\n2,b\n"[..],
            b"1,a\n2\n",
            b"1,a,3\n",
            b"1,a\n2,b,c\n3\n",
            b"x,a\n",
            b"1,\xff\n",
            b"99999999999999999999,a\n",
        ] {
            assert!(parse(&l, block).is_none(), "{:?}", String::from_utf8_lossy(block));
        }
        let l = layout(&[ColumnType::I8], 1, None);
        assert!(parse(&l, b"1\n\n2\n").is_none());
        assert!(parse(&l, b"\n").is_none());
        assert!(parse(&l, b"128\n").is_none());
        assert!(same(&l, b"-128\n127"));
    }

    #[test]
    fn categorical_table_grows_and_keeps_first_appearance_order() {
        let l = layout(&[ColumnType::Cat], 1, None);
        let mut block = Vec::new();
        for i in 0..1000 {
            block.extend_from_slice(format!("value-number-{}\n{}\n", i % 300, i % 7).as_bytes());
        }
        assert!(same(&l, &block));
    }

    proptest! {
        /// On any quote-free input, the fast path either declines or agrees with the general
        /// parser exactly (values, codes, keys, ranges, counts).
        #[test]
        fn fast_path_agrees_with_the_general_parser(
            block in "([-+ 0-9.e,a-c\\n]|é){0,120}",
            fill in proptest::option::of(-3i128..300),
        ) {
            let fill = fill.map(Fill::Int);
            for types in [
                &[ColumnType::I64, ColumnType::F64][..],
                &[ColumnType::U8, ColumnType::Cat, ColumnType::F32],
                &[ColumnType::Cat],
                &[ColumnType::I16, ColumnType::Cat],
            ] {
                for fields in [types.len(), types.len() + 1] {
                    let l = layout(types, fields, fill);
                    same(&l, block.as_bytes());
                }
            }
        }

        /// Generated regular blocks take the fast path, and it agrees with the general parser.
        #[test]
        fn generated_regular_blocks_take_the_fast_path(
            rows in proptest::collection::vec(
                ("-?[0-9]{1,18}", "[a-d]{0,3}|[a-z]{9,20}|é", "-?[0-9]{1,9}\\.[0-9]{0,9}|-?[0-9]{1,19}"),
                1..60,
            ),
            terminated in any::<bool>(),
        ) {
            let mut block = String::new();
            for (i, c, f) in &rows {
                block.extend([i.as_str(), ",", c, ",", f, "\n"]);
            }
            if !terminated {
                block.pop();
            }
            let l = layout(&[ColumnType::I64, ColumnType::Cat, ColumnType::F64], 3, None);
            let fits = rows.iter().all(|(i, _, _)| i.parse::<i64>().is_ok());
            prop_assert_eq!(same(&l, block.as_bytes()), fits);
        }
    }
}
