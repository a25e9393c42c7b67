//! The delta file format (`docs/format.md`, section "Delta files"): encoding and validation on
//! byte slices, knowing nothing of mappings.
//!
//! ```text
//! offset  size  field
//!      0     8  magic b"LARDELTA"
//!      8     4  format version (2)
//!     12     4  page size P
//!     16     8  length of the array file (the .npy) in bytes
//!     24     8  number of pages n
//!     32     8  data offset D (a multiple of P)
//!     40     8  reserved, zero (version 1: a checksum of all the data)
//!     48     4  depth: 1 over a .npy, k over a delta of depth k - 1
//!     52     4  length L of the parent's path
//!     56     8  parent length in bytes
//!     64     8  parent mtime, seconds since the epoch (signed)
//!     72     4  parent mtime, nanoseconds
//!     76     4  reserved, zero
//!     80     8  parent fingerprint
//!     88     L  parent path (bytes)
//!   88+L   16n  index: for each page, its number (strictly increasing) and the xxh3-64
//!               of its P data bytes
//! 88+L+16n   8  header checksum: xxh3-64 of bytes [0, 88 + L + 16n)
//!         zero padding up to D
//!      D  n*P  the pages, in index order
//! ```
//! All integers are little-endian. The per-page checksums let a reader check only the pages it
//! uses, when it first uses them.

use std::path::{Path, PathBuf};

use twox_hash::XxHash3_64;

use crate::error::{Error, Result};

/// The first eight bytes of every delta file.
pub(crate) const MAGIC: &[u8; 8] = b"LARDELTA";
/// The format version this code writes and reads.
pub(crate) const VERSION: u32 = 2;
/// Bytes of one index entry: a page number and the checksum of its data.
pub(crate) const ENTRY: usize = 16;
/// Bytes before the parent's path.
pub(crate) const FIXED: usize = 88;

/// What a delta records about the file below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    /// Its path when the delta was saved (absolute where it could be resolved).
    pub(crate) path: PathBuf,
    /// Its length in bytes.
    pub(crate) len: u64,
    /// Modification time, seconds.
    pub(crate) mtime_sec: i64,
    /// Modification time, nanoseconds.
    pub(crate) mtime_nsec: u32,
    /// A `.npy` parent: xxh3 of sampled pages; a delta parent: its header checksum.
    pub(crate) fingerprint: u64,
}

/// Everything of a delta file before its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeltaHeader {
    pub(crate) page_size: u32,
    pub(crate) array_len: u64,
    pub(crate) depth: u32,
    pub(crate) parent: Identity,
    pub(crate) pages: Vec<u64>,
    /// xxh3-64 of each page's data, in index order.
    pub(crate) checksums: Vec<u64>,
    pub(crate) data_offset: u64,
    pub(crate) header_checksum: u64,
}

/// The checksum a delta stores for one page of data (xxh3-64, seed 0).
pub(crate) fn page_checksum(page: &[u8]) -> u64 {
    XxHash3_64::oneshot(page)
}

fn path_bytes(p: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes()
}

fn path_from(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl DeltaHeader {
    /// A header for `pages` (sorted, distinct) of an array file of `array_len` bytes whose
    /// data have the given `checksums` (one per page); the data offset is the first page
    /// boundary after the header and the header checksum is filled in.
    pub(crate) fn new(
        page_size: u32,
        array_len: u64,
        depth: u32,
        parent: Identity,
        pages: Vec<u64>,
        checksums: Vec<u64>,
    ) -> DeltaHeader {
        debug_assert_eq!(pages.len(), checksums.len());
        let mut h = DeltaHeader {
            page_size,
            array_len,
            depth,
            parent,
            pages,
            checksums,
            data_offset: 0,
            header_checksum: 0,
        };
        let head = h.checked_len() as u64;
        h.data_offset = head.div_ceil(u64::from(page_size)) * u64::from(page_size);
        h.header_checksum = XxHash3_64::oneshot(&h.body());
        h
    }

    /// Bytes of the header up to and including the header checksum.
    fn checked_len(&self) -> usize {
        FIXED + path_bytes(&self.parent.path).len() + ENTRY * self.pages.len() + 8
    }

    /// The bytes the header checksum covers.
    fn body(&self) -> Vec<u8> {
        let path = path_bytes(&self.parent.path);
        let mut b = Vec::with_capacity(self.checked_len());
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&self.page_size.to_le_bytes());
        b.extend_from_slice(&self.array_len.to_le_bytes());
        b.extend_from_slice(&(self.pages.len() as u64).to_le_bytes());
        b.extend_from_slice(&self.data_offset.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&self.depth.to_le_bytes());
        b.extend_from_slice(&u32::try_from(path.len()).unwrap_or(u32::MAX).to_le_bytes());
        b.extend_from_slice(&self.parent.len.to_le_bytes());
        b.extend_from_slice(&self.parent.mtime_sec.to_le_bytes());
        b.extend_from_slice(&self.parent.mtime_nsec.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&self.parent.fingerprint.to_le_bytes());
        b.extend_from_slice(path);
        for (p, c) in self.pages.iter().zip(&self.checksums) {
            b.extend_from_slice(&p.to_le_bytes());
            b.extend_from_slice(&c.to_le_bytes());
        }
        b
    }

    /// The header as written: body, checksum and zero padding up to the data offset.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.body();
        b.extend_from_slice(&self.header_checksum.to_le_bytes());
        b.resize(usize::try_from(self.data_offset).unwrap_or(b.len()), 0);
        b
    }

    /// How many bytes from the start of the file [`parse`](DeltaHeader::parse) needs, read
    /// from the first [`FIXED`] bytes; checks the magic and version on the way.
    pub(crate) fn needed_len(path: &Path, prefix: &[u8], file_len: u64) -> Result<usize> {
        if prefix.len() < FIXED {
            return Err(Error::format(
                path,
                prefix.len() as u64,
                format!("delta file truncated: {file_len} bytes, its header alone needs {FIXED}"),
            ));
        }
        if &prefix[..8] != MAGIC {
            return Err(Error::format(path, 0, "not a larder delta file (bad magic)"));
        }
        let version = u32_at(prefix, 8);
        if version != VERSION {
            let hint = if version < VERSION {
                "; open it with the larder that saved it and save or materialize it again"
            } else {
                ""
            };
            return Err(Error::format(
                path,
                8,
                format!(
                    "delta format version {version}, this larder reads version {VERSION}{hint}"
                ),
            ));
        }
        let n = u64_at(prefix, 24);
        let path_len = u64::from(u32_at(prefix, 52));
        let need = n
            .checked_mul(ENTRY as u64)
            .and_then(|x| x.checked_add(FIXED as u64 + 8 + path_len))
            .filter(|&x| x <= file_len)
            .ok_or_else(|| {
                Error::format(
                    path,
                    24,
                    format!(
                        "delta file truncated or corrupt: index of {n} pages and a {path_len}-byte \
                         path do not fit in {file_len} bytes"
                    ),
                )
            })?;
        usize::try_from(need).map_err(|_| Error::format(path, 24, "delta index too large"))
    }

    /// Parses and validates a header from `bytes` (at least [`needed_len`] bytes of a file of
    /// `file_len` bytes).
    ///
    /// [`needed_len`]: DeltaHeader::needed_len
    pub(crate) fn parse(path: &Path, bytes: &[u8], file_len: u64) -> Result<DeltaHeader> {
        let need = Self::needed_len(path, bytes, file_len)?;
        if bytes.len() < need {
            return Err(Error::format(path, bytes.len() as u64, "delta header cut short"));
        }
        let bad = |at: usize, reason: String| Error::format(path, at as u64, reason);
        let stored = u64_at(bytes, need - 8);
        let computed = XxHash3_64::oneshot(&bytes[..need - 8]);
        if stored != computed {
            return Err(bad(
                need - 8,
                format!(
                    "delta header checksum mismatch (stored {stored:016x}, computed \
                     {computed:016x}): the header or index is corrupt"
                ),
            ));
        }
        let page_size = u32_at(bytes, 12);
        if !page_size.is_power_of_two() || page_size < 512 {
            return Err(bad(12, format!("page size {page_size} is not a power of two ≥ 512")));
        }
        let array_len = u64_at(bytes, 16);
        let n = u64_at(bytes, 24);
        let data_offset = u64_at(bytes, 32);
        if !data_offset.is_multiple_of(u64::from(page_size)) || data_offset < need as u64 {
            return Err(bad(
                32,
                format!("data offset {data_offset} is not a page boundary after the header"),
            ));
        }
        let expected = n
            .checked_mul(u64::from(page_size))
            .and_then(|d| d.checked_add(data_offset))
            .ok_or_else(|| bad(24, format!("{n} pages overflow the file size")))?;
        if file_len != expected {
            let what = if file_len < expected { "truncated" } else { "too long" };
            return Err(bad(
                usize::try_from(file_len.min(expected)).unwrap_or(usize::MAX),
                format!(
                    "delta file {what}: {n} pages of {page_size} bytes from byte {data_offset} \
                     need {expected} bytes, the file has {file_len}"
                ),
            ));
        }
        if u64_at(bytes, 40) != 0 {
            return Err(bad(40, "reserved field is not zero".into()));
        }
        let depth = u32_at(bytes, 48);
        if depth == 0 {
            return Err(bad(48, "depth 0".into()));
        }
        let path_len = u32_at(bytes, 52) as usize;
        let parent = Identity {
            path: path_from(&bytes[FIXED..FIXED + path_len]),
            len: u64_at(bytes, 56),
            mtime_sec: i64::from_le_bytes(bytes[64..72].try_into().unwrap_or([0; 8])),
            mtime_nsec: u32_at(bytes, 72),
            fingerprint: u64_at(bytes, 80),
        };
        let array_pages = array_len.div_ceil(u64::from(page_size));
        let index = FIXED + path_len;
        let n = usize::try_from(n).unwrap_or(0);
        let mut pages = Vec::with_capacity(n);
        let mut checksums = Vec::with_capacity(n);
        for i in 0..n {
            let p = u64_at(bytes, index + ENTRY * i);
            checksums.push(u64_at(bytes, index + ENTRY * i + 8));
            if p >= array_pages || pages.last().is_some_and(|&last| p <= last) {
                return Err(bad(
                    index + ENTRY * i,
                    format!(
                        "page number {p} at index {i} is out of order or beyond the array's \
                         {array_pages} pages"
                    ),
                ));
            }
            pages.push(p);
        }
        Ok(DeltaHeader {
            page_size,
            array_len,
            depth,
            parent,
            pages,
            checksums,
            data_offset,
            header_checksum: stored,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(pages: Vec<u64>) -> DeltaHeader {
        let parent = Identity {
            path: PathBuf::from("/data/base.npy"),
            len: 100_000,
            mtime_sec: -5,
            mtime_nsec: 999,
            fingerprint: 0xdead_beef,
        };
        let checksums = pages.iter().map(|p| p * 3 + 1).collect();
        DeltaHeader::new(4096, 100_000, 1, parent, pages, checksums)
    }

    fn file(h: &DeltaHeader) -> Vec<u8> {
        let mut b = h.to_bytes();
        b.resize(b.len() + h.pages.len() * 4096, 7);
        b
    }

    #[test]
    fn header_round_trips_and_data_is_page_aligned() {
        let h = sample(vec![0, 3, 24]);
        let b = file(&h);
        assert_eq!(h.data_offset % 4096, 0);
        let p = Path::new("d");
        let back = DeltaHeader::parse(p, &b, b.len() as u64).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn truncated_and_extended_files_are_refused() {
        let h = sample(vec![1, 2]);
        let b = file(&h);
        let p = Path::new("d");
        let e = DeltaHeader::parse(p, &b, b.len() as u64 - 1).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let e = DeltaHeader::parse(p, &b, b.len() as u64 + 4096).unwrap_err().to_string();
        assert!(e.contains("too long"), "{e}");
        let e = DeltaHeader::parse(p, &b[..40], 40).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn pages_beyond_the_array_are_refused_even_with_a_valid_checksum() {
        let h = sample(vec![25]); // 100_000 bytes are 25 pages: 0..=24
        let b = file(&h);
        let e = DeltaHeader::parse(Path::new("d"), &b, b.len() as u64).unwrap_err().to_string();
        assert!(e.contains("beyond"), "{e}");
    }

    proptest! {
        #[test]
        fn any_flipped_header_byte_is_refused(at in 0usize..(FIXED + 14 + 3 * ENTRY + 8), bit in 0u8..8) {
            let h = sample(vec![0, 5, 9]);
            let mut b = file(&h);
            b[at] ^= 1 << bit;
            prop_assert!(DeltaHeader::parse(Path::new("d"), &b, b.len() as u64).is_err());
        }
    }
}
