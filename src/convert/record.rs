//! The CSV record rules: where a record ends, how a record splits into fields, and the byte
//! masks the fast scans use.
//!
//! **The quote rule** has its one home here, in [`Quotes`]: a `"` opens a quoted field only
//! where a field starts (first in its record or right after a delimiter); inside one, `""` is
//! one `"` and a lone `"` closes it. A `"` anywhere else is a literal character, as pandas,
//! polars and Python's `csv` read it, so a stray quote (`5'11"`) never swallows the lines
//! after it. A `\n` outside a quoted field ends a record (a `\r` before it is dropped by the
//! parsers); one inside belongs to the field.
//!
//! # Which parts must change together
//!
//! Every reader of record boundaries goes through [`Quotes`]: cutting the input into blocks
//! ([`last_boundary`], `split.rs`), finding records inside a block ([`record_end`], used by
//! `parse.rs`, the header and inference in `plan.rs`), the header and file ends of several
//! inputs (`sources.rs`) and the `\r`-only line ends (`input.rs`). Splitting a record into
//! fields ([`fields_of`] here and `Builder::quoted_record` in `parse.rs`) applies the same
//! rule field by field; change both with [`Quotes`], and keep every block starting at a record
//! boundary (the property tests in `split.rs` and below check the agreement).

use std::ops::ControlFlow;

use memchr::{memchr, memchr2, memrchr};
use wide::u8x16;

use super::value::Reason;

/// Where the quote rule stands after the bytes fed so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a field (of a record, or after a delimiter).
    FieldStart,
    /// Inside an unquoted field: `"` is a literal byte here.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a `"` inside a quoted field: the closing quote, or the first of a `""`.
    Closed,
}

/// The quote rule as a scanner over a stream of bytes that starts at a record boundary; feed
/// it consecutive pieces of the stream with [`scan`](Quotes::scan).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quotes {
    delimiter: u8,
    state: State,
}

impl Quotes {
    /// A scanner at a record boundary, for fields separated by `delimiter`.
    pub(crate) fn new(delimiter: u8) -> Quotes {
        Quotes { delimiter, state: State::FieldStart }
    }

    /// True inside a quoted field (a line end there belongs to the field).
    pub(crate) fn in_quotes(self) -> bool {
        self.state == State::Quoted
    }

    /// Scans `data`, the next bytes of the stream, calling `on_end(p)` for each `data[p]` that
    /// ends a record (a `\n` outside a quoted field) and, when `cr_ends` is true, for each `\r`
    /// outside one too. Stops early, returning the position, when `on_end` breaks.
    pub(crate) fn scan(
        &mut self,
        data: &[u8],
        cr_ends: bool,
        mut on_end: impl FnMut(usize) -> ControlFlow<()>,
    ) -> Option<usize> {
        let d = self.delimiter;
        let is_end = |b: u8| b == b'\n' || (cr_ends && b == b'\r');
        let mut i = 0;
        while i < data.len() {
            match self.state {
                State::Quoted => match memchr(b'"', &data[i..]) {
                    Some(k) => {
                        i += k + 1;
                        self.state = State::Closed;
                    }
                    None => return None,
                },
                State::Closed | State::FieldStart => {
                    let b = data[i];
                    i += 1;
                    self.state = if b == b'"' {
                        // A quote that opens a field, or the second of a `""`.
                        State::Quoted
                    } else if b == d {
                        State::FieldStart
                    } else if is_end(b) {
                        if on_end(i - 1).is_break() {
                            self.state = State::FieldStart;
                            return Some(i - 1);
                        }
                        State::FieldStart
                    } else {
                        // After a closing quote, characters the parser rejects: the record
                        // goes on as an unquoted field.
                        State::Unquoted
                    };
                }
                State::Unquoted => {
                    let rest = &data[i..];
                    let hit = if cr_ends {
                        memchr::memchr3(b'"', b'\n', b'\r', rest)
                    } else {
                        memchr2(b'"', b'\n', rest)
                    };
                    let Some(k) = hit else {
                        if rest.last() == Some(&d) {
                            self.state = State::FieldStart;
                        }
                        return None;
                    };
                    let p = i + k;
                    i = p + 1;
                    if data[p] == b'"' {
                        // A field starts after a delimiter (this scan passed over it).
                        if k > 0 && data[p - 1] == d {
                            self.state = State::Quoted;
                        }
                    } else {
                        self.state = State::FieldStart;
                        if on_end(p).is_break() {
                            return Some(p);
                        }
                    }
                }
            }
        }
        None
    }
}

/// The longest record accepted. Longer ones are almost always an unbalanced quote that swallows
/// the rest of the file; refusing them keeps memory bounded.
pub(crate) const MAX_RECORD: usize = 256 << 20;

/// The end of the record starting at `start` (a record boundary): the index of its
/// terminating `\n`, or `data.len()`. Newlines inside quoted fields do not end it ([`Quotes`]).
pub(crate) fn record_end(data: &[u8], start: usize, delimiter: u8) -> usize {
    let mut q = Quotes::new(delimiter);
    q.scan(&data[start..], false, |_| ControlFlow::Break(())).map_or(data.len(), |p| start + p)
}

/// The index just after the last record boundary in `buf` (which starts at one), if any.
pub(crate) fn last_boundary(buf: &[u8], delimiter: u8) -> Option<usize> {
    if memchr(b'"', buf).is_none() {
        return memrchr(b'\n', buf).map(|p| p + 1);
    }
    let mut last = None;
    Quotes::new(delimiter).scan(buf, false, |p| {
        last = Some(p + 1);
        ControlFlow::Continue(())
    });
    last
}

/// True for a record (without its line end) that is a blank line, not a record: empty, or only
/// spaces and tabs that are not the delimiter. pandas' tokenizer skips such lines as blank
/// (`skip_blank_lines`, its `WHITESPACE_LINE` state), so a line holding only a tab is no row.
/// The parsers (`parse.rs`, `parse/regular.rs`) and the sampling of `plan.rs` all ask here.
pub(crate) fn is_blank(rec: &[u8], delimiter: u8) -> bool {
    rec.iter().all(|&b| (b == b' ' || b == b'\t') && b != delimiter)
}

/// Splits one record (no terminator) into unquoted field contents; used for the header and for
/// type inference. The same rules as the block parser's `quoted_record` ([`Quotes`]).
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
            // A `"` inside an unquoted field is a literal character.
            let end = memchr(delimiter, rest).unwrap_or(rest.len());
            out.push(rest[..end].to_vec());
            if end == rest.len() {
                return Ok(out);
            }
            i += end + 1;
        }
    }
}

/// Bit `i` set where `bytes[i]` is `a` or `b`: 16-byte vector compares and byte masks (SSE2
/// `pcmpeqb`/`pmovmskb` on x86-64).
#[inline]
pub(crate) fn mask2(bytes: &[u8; 64], a: u8, b: u8) -> u64 {
    let (want_a, want_b) = (u8x16::splat(a), u8x16::splat(b));
    let mut mask = 0u64;
    for (i, part) in bytes.chunks_exact(16).enumerate() {
        let mut lanes = [0u8; 16];
        lanes.copy_from_slice(part);
        let lanes = u8x16::new(lanes);
        let hits = (lanes.cmp_eq(want_a) | lanes.cmp_eq(want_b)).move_mask();
        mask |= u64::from(hits.cast_unsigned() & 0xFFFF) << (16 * i);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_end_skips_quoted_newlines() {
        assert_eq!(record_end(b"a,\"x\ny\"\nb", 0, b','), 7);
        assert_eq!(record_end(b"a\nb", 2, b','), 3);
    }

    #[test]
    fn boundaries_skip_newlines_inside_quotes() {
        assert_eq!(last_boundary(b"a\nb\nc", b','), Some(4));
        assert_eq!(last_boundary(b"a\n\"b\nc", b','), Some(2));
        assert_eq!(last_boundary(b"\"a\nb", b','), None);
        assert_eq!(last_boundary(b"\"a\"\"\nb\"\nc", b','), Some(8));
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_a_literal_character() {
        // `5'11"` opens nothing: the line ends the record.
        assert_eq!(record_end(b"p7,5'11\",60\np8,170,61\n", 0, b','), 11);
        assert_eq!(last_boundary(b"p7,5'11\",60\np8,170,61\nx", b','), Some(22));
        assert_eq!(last_boundary(b"a;b\"\nc;\"d\ne\"\nf", b';'), Some(13));
        // Only after the delimiter in use does a quote open a field.
        assert_eq!(record_end(b"a,\"x\ny\"\nb", 0, b';'), 4);
        assert_eq!(fields_of(b"p7,5'11\",60", b',').unwrap(), [&b"p7"[..], b"5'11\"", b"60"]);
        assert_eq!(fields_of(b"a\"b\"c,\"d,e\"", b',').unwrap(), [&b"a\"b\"c"[..], b"d,e"]);
        assert_eq!(fields_of(b" \"x\",y", b',').unwrap(), [&b" \"x\""[..], b"y"]);
    }

    /// The rule byte by byte, as pandas' tokenizer states it; `scan` must agree.
    fn reference_ends(data: &[u8], d: u8) -> Vec<usize> {
        let (mut ends, mut quoted, mut field_start, mut closed) = (Vec::new(), false, true, false);
        for (i, &b) in data.iter().enumerate() {
            if quoted {
                if b == b'"' {
                    quoted = false;
                    closed = true;
                }
                continue;
            }
            if closed && b == b'"' {
                quoted = true;
                closed = false;
                continue;
            }
            closed = false;
            if b == b'"' && field_start {
                quoted = true;
                field_start = false;
            } else if b == d {
                field_start = true;
            } else if b == b'\n' {
                ends.push(i);
                field_start = true;
            } else {
                field_start = false;
            }
        }
        ends
    }

    proptest::proptest! {
        /// Fed whole or in any two pieces, the scanner finds the record ends of the rule.
        #[test]
        fn scanning_in_pieces_finds_the_ends_of_the_rule(
            data in "[a\",;\n]{0,80}",
            cut in 0usize..80,
        ) {
            let data = data.as_bytes();
            for d in [b',', b';'] {
                let want = reference_ends(data, d);
                let cut = cut.min(data.len());
                let mut got = Vec::new();
                let mut q = Quotes::new(d);
                q.scan(&data[..cut], false, |p| { got.push(p); ControlFlow::Continue(()) });
                q.scan(&data[cut..], false, |p| { got.push(cut + p); ControlFlow::Continue(()) });
                proptest::prop_assert_eq!(&got, &want);
                proptest::prop_assert_eq!(last_boundary(data, d), want.last().map(|p| p + 1));
                let first = want.first().copied().unwrap_or(data.len());
                proptest::prop_assert_eq!(record_end(data, 0, d), first);
            }
        }
    }

    #[test]
    fn mask2_marks_both_bytes() {
        let mut bytes = [b'x'; 64];
        bytes[0] = b',';
        bytes[17] = b'\n';
        bytes[63] = b',';
        assert_eq!(mask2(&bytes, b',', b'\n'), 1 | 1 << 17 | 1 << 63);
    }
}
