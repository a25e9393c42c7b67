//! The CSV record rules: where a record ends, how a record splits into fields, and the byte
//! masks the fast scans use.
//!
//! **The quote-parity rule** has its one home here, in [`ends_record`]: a `\n` ends a record
//! when an even number of `"` lies between the record's start and it, so a newline inside a
//! quoted field belongs to the field; a `\r` before that `\n` is dropped. Cutting the input into
//! blocks ([`last_boundary`], used by `split.rs`), finding records inside a block
//! ([`record_end`], used by `parse.rs`, the header and inference) both go through it, so blocks
//! always start where the parser says a record starts.

use memchr::{memchr, memchr_iter, memchr2_iter, memrchr};
use wide::u8x16;

use super::value::Reason;

/// The quote-parity rule: a `\n` with `quotes_before` `"` bytes between the start of its record
/// (or of any run of whole records) and itself ends a record exactly when the count is even.
#[inline]
pub(crate) fn ends_record(quotes_before: usize) -> bool {
    quotes_before.is_multiple_of(2)
}

/// The longest record accepted. Longer ones are almost always an unbalanced quote that swallows
/// the rest of the file; refusing them keeps memory bounded.
pub(crate) const MAX_RECORD: usize = 256 << 20;

/// The end of the record starting at `start`: the index of its terminating `\n`, or
/// `data.len()`. Newlines inside quotes do not end it ([`ends_record`]).
pub(crate) fn record_end(data: &[u8], start: usize) -> usize {
    let mut quotes = 0;
    for p in memchr2_iter(b'"', b'\n', &data[start..]) {
        if data[start + p] == b'"' {
            quotes += 1;
        } else if ends_record(quotes) {
            return start + p;
        }
    }
    data.len()
}

/// The index just after the last record boundary in `buf` (which starts at one), if any.
///
/// Counted from the start of `buf` rather than of each record: every earlier boundary has an
/// even count before it, so the parity since `buf`'s start is the parity since the record's.
pub(crate) fn last_boundary(buf: &[u8]) -> Option<usize> {
    if memchr(b'"', buf).is_none() {
        return memrchr(b'\n', buf).map(|p| p + 1);
    }
    let mut quotes_before = memchr_iter(b'"', buf).count();
    let mut end = buf.len();
    while let Some(p) = memrchr(b'\n', &buf[..end]) {
        quotes_before -= memchr_iter(b'"', &buf[p..end]).count();
        if ends_record(quotes_before) {
            return Some(p + 1);
        }
        end = p;
    }
    None
}

/// Splits one record (no terminator) into unquoted field contents; used for the header and for
/// type inference. The same RFC 4180 rules as the block parser's `quoted_record`.
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
        assert_eq!(record_end(b"a,\"x\ny\"\nb", 0), 7);
        assert_eq!(record_end(b"a\nb", 2), 3);
    }

    #[test]
    fn boundaries_skip_newlines_inside_quotes() {
        assert_eq!(last_boundary(b"a\nb\nc"), Some(4));
        assert_eq!(last_boundary(b"a\n\"b\nc"), Some(2));
        assert_eq!(last_boundary(b"\"a\nb"), None);
        assert_eq!(last_boundary(b"\"a\"\"\nb\"\nc"), Some(8));
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
