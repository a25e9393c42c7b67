//! Arrow buffers over file mappings, and Arrow string arrays over file bytes checked first
//! (feature `arrow`). The two calls here that the compiler cannot check are arrow-rs's
//! `Buffer::from_custom_allocation` (a pointer whose memory someone else keeps alive) and
//! `LargeStringArray::new_unchecked` (offsets and bytes that must be what Arrow requires).

use std::panic::AssertUnwindSafe;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow_array::LargeStringArray;
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};

use super::Mapping;
use crate::error::{Error, Result};

/// A value that holds a file mapping for its whole life: the one an Arrow buffer over the
/// mapping's bytes keeps alive.
///
/// Contract (relied on by [`mapped_buffer`]): `mapping` returns the same mapping on every call,
/// and that mapping is unmapped only when `self` is dropped. larder implements it for
/// `MmapArray` only, whose mappings are its own fields (the file's mapping, and the clone with
/// deltas applied, which is stored once and replaced only through `&mut`).
pub(crate) trait MapOwner: Send + Sync + 'static {
    /// The mapping whose bytes are handed out.
    ///
    /// # Errors
    /// Whatever making the mapping costs (applying deltas, for an array that has them).
    fn mapping(&self) -> Result<&Mapping>;
}

/// An Arrow buffer over bytes `offset..offset + len` of the mapping `owner` holds, without a
/// copy; the buffer (and every array made of it, in this process or through the C data
/// interface) keeps `owner` alive.
///
/// # Errors
/// [`Error::Internal`] if the range is not inside the mapping; as [`MapOwner::mapping`].
pub(crate) fn mapped_buffer<O: MapOwner>(
    owner: Arc<O>,
    offset: usize,
    len: usize,
) -> Result<Buffer> {
    let bytes = owner.mapping()?.bytes();
    let Some(slice) = offset.checked_add(len).and_then(|end| bytes.get(offset..end)) else {
        return Err(Error::internal(format!(
            "bytes {offset}..{} are not inside a mapping of {} bytes",
            offset.saturating_add(len),
            bytes.len()
        )));
    };
    let ptr = NonNull::from(slice).cast::<u8>();
    // arrow-buffer wants its owner `RefUnwindSafe`: nothing in it is left half-changed by a
    // panic, since the buffer only ever reads through `ptr`.
    let keep: Arc<dyn arrow_buffer::alloc::Allocation> = Arc::new(AssertUnwindSafe(owner));
    // SAFETY: `ptr` points at `len` readable bytes of a mapping (checked above to lie inside it).
    // `keep` holds an `Arc` of its owner, so the owner is not dropped while the buffer lives, and
    // by `MapOwner`'s contract the mapping is unmapped only when the owner is dropped: the bytes
    // stay mapped at the same address. Nothing in this process changes them meanwhile: a
    // `Mapping`'s bytes change only through `&mut Mapping`, and no `&mut` of the owner can exist
    // while the `Arc` is shared. Another process rewriting or truncating the file is the hazard
    // docs/safety.md documents for every view of a mapping.
    Ok(unsafe { Buffer::from_custom_allocation(ptr, len, keep) })
}

/// What makes offsets and bytes not a valid Arrow large-string array: the first problem found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StringDamage {
    /// Offset `index` (of the offsets given) is negative, smaller than the one before, or past
    /// the end of the bytes (`len`).
    Offset { index: usize, value: i64, reason: &'static str },
    /// The bytes are not UTF-8 from byte `at` of the bytes given, or a string starts or ends
    /// inside a character there.
    Utf8 { at: usize, reason: String },
    /// The validity does not have one flag per string.
    Nulls { nulls: usize, strings: usize },
}

/// A large-string array (`LargeUtf8`) of the strings `offsets` delimit in `values`, after checking
/// what Arrow requires of them: at least one offset, none negative, never decreasing, the last
/// inside `values`; the bytes from the first offset to the last UTF-8, and every offset on a
/// character boundary; `nulls`, if any, one flag per string. Only the bytes the offsets span are
/// read, so a batch of a column costs its own bytes, not the column's.
///
/// # Errors
/// The first [`StringDamage`] found.
pub(crate) fn large_strings(
    offsets: ScalarBuffer<i64>,
    values: Buffer,
    nulls: Option<NullBuffer>,
) -> std::result::Result<LargeStringArray, StringDamage> {
    let o: &[i64] = &offsets;
    let Some((&first, _)) = o.split_first() else {
        return Err(StringDamage::Offset { index: 0, value: 0, reason: "no offsets" });
    };
    let mut prev = 0i64;
    for (index, &value) in o.iter().enumerate() {
        let reason = if value < 0 {
            "is negative"
        } else if value < prev {
            "is smaller than the one before"
        } else if usize::try_from(value).map_or(true, |v| v > values.len()) {
            "is past the end of the bytes"
        } else {
            prev = value;
            continue;
        };
        return Err(StringDamage::Offset { index, value, reason });
    }
    // Every offset is now a position inside `values`, and they are ordered.
    let at = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);
    let (start, end) = (at(first), at(prev));
    let span = &values.as_slice()[start..end];
    if let Err(e) = std::str::from_utf8(span) {
        return Err(StringDamage::Utf8 { at: start + e.valid_up_to(), reason: e.to_string() });
    }
    // Inside a valid UTF-8 span, a byte starts a character unless it is a continuation byte.
    if let Some(pos) = o.iter().map(|&v| at(v)).find(|&p| p < end && span[p - start] & 0xC0 == 0x80)
    {
        return Err(StringDamage::Utf8 {
            at: pos,
            reason: "a string starts inside a character".to_string(),
        });
    }
    let strings = o.len() - 1;
    if let Some(n) = nulls.as_ref().filter(|n| n.len() != strings) {
        return Err(StringDamage::Nulls { nulls: n.len(), strings });
    }
    // SAFETY: checked above: the offsets are not empty, none is negative and they never
    // decrease, which is all `OffsetBuffer` requires.
    let offsets = unsafe { OffsetBuffer::new_unchecked(offsets) };
    // SAFETY: checked above: the last offset is inside `values`, every byte from the first offset
    // to the last is UTF-8 and every offset falls on a character boundary, so each string is a
    // valid `str`; the null buffer has one flag per string. That is everything `try_new` checks,
    // except that it validates all of `values` and not only the bytes the offsets span.
    Ok(unsafe { LargeStringArray::new_unchecked(offsets, values, nulls) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(o: &[i64], v: &[u8]) -> std::result::Result<LargeStringArray, StringDamage> {
        large_strings(ScalarBuffer::from(o.to_vec()), Buffer::from(v.to_vec()), None)
    }

    #[test]
    fn large_strings_accepts_a_span_of_the_bytes() {
        // Offsets that start past 0 and stop before the end, as a batch of a column has them;
        // the bytes outside the span are never looked at (here not UTF-8).
        let a = strings(&[1, 3, 3, 7], b"\xffabcd\xc3\xa9\xff").unwrap();
        assert_eq!(a.iter().collect::<Vec<_>>(), [Some("ab"), Some(""), Some("cdé")]);
    }

    #[test]
    fn large_strings_names_the_first_damage() {
        let off = |index, value, reason| Err(StringDamage::Offset { index, value, reason });
        assert_eq!(strings(&[], b""), off(0, 0, "no offsets"));
        assert_eq!(strings(&[0, -1], b"ab"), off(1, -1, "is negative"));
        assert_eq!(strings(&[0, 2, 1], b"ab"), off(2, 1, "is smaller than the one before"));
        assert_eq!(strings(&[0, 3], b"ab"), off(1, 3, "is past the end of the bytes"));
        assert!(matches!(strings(&[0, 2], b"a\xff"), Err(StringDamage::Utf8 { at: 1, .. })));
        // "é" is two bytes: an offset between them splits it.
        assert!(matches!(strings(&[0, 1, 2], b"\xc3\xa9"), Err(StringDamage::Utf8 { at: 1, .. })));
        let nulls = Some(NullBuffer::new_valid(3));
        let r =
            large_strings(ScalarBuffer::from(vec![0i64, 1]), Buffer::from(b"a".to_vec()), nulls);
        assert_eq!(r.err(), Some(StringDamage::Nulls { nulls: 3, strings: 1 }));
    }
}
