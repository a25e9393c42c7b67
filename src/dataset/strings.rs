//! Strings in Arrow's large-string layout: a file of UTF-8 bytes (`|u1`) and a file of
//! `len + 1` offsets into it (`<i8`), both memory-mapped; string `i` is
//! `bytes[offsets[i]..offsets[i + 1]]`, borrowed without a copy.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::npy::MmapArray;

/// Mapped strings: a string column's values, or a large categorical dictionary.
///
/// Offsets are checked when a string is read (ascending, inside the bytes) and each string is
/// checked to be UTF-8, so a damaged file gives an error naming it, never a wrong string.
#[derive(Debug)]
pub struct Strings {
    // Shared so that Arrow arrays over the mappings keep them alive (`dataset::arrow`).
    bytes: Arc<MmapArray<u8>>,
    offsets: Arc<MmapArray<i64>>,
    offsets_path: PathBuf,
}

impl Strings {
    /// Maps the bytes file and the offsets file, expecting `len` strings.
    ///
    /// # Errors
    /// As [`MmapArray::open`]; [`Error::Format`] when the offsets file does not hold `len + 1`
    /// offsets, the first 0 and the last the length of the bytes file (or, while an append
    /// commits, past the end its header counts, inside the file).
    pub fn open(bytes: &Path, offsets: &Path, len: u64) -> Result<Strings> {
        let (bytes_file, offsets_file) = (MmapArray::<u8>::open(bytes)?, MmapArray::open(offsets)?);
        if offsets_file.shape().len() != 1 || bytes_file.shape().len() != 1 {
            return Err(Error::format(offsets, 0, "string files must be 1-d"));
        }
        // The count `len` holds, whatever the headers say: an append adds rows to the files
        // before the manifest counts them, and rewrites the headers only after.
        let want = len.saturating_add(1);
        let counted = offsets_file.len() as u64;
        let offsets_file = usize::try_from(want)
            .ok()
            .filter(|_| counted <= want)
            .and_then(|n| {
                if counted == want { Some(offsets_file) } else { offsets_file.with_rows(n).ok() }
            })
            .ok_or_else(|| {
                Error::format(
                    offsets,
                    0,
                    format!("holds {counted} offsets, not the {want} of {len} strings"),
                )
            })?;
        let (first, end) = {
            let o = offsets_file.as_slice()?;
            (o.first().copied(), o.last().copied().unwrap_or(0))
        };
        let bytes_file = match (first, usize::try_from(end)) {
            (Some(0), Ok(end)) if end == bytes_file.len() => Some(bytes_file),
            (Some(0), Ok(end)) if end > bytes_file.len() => bytes_file.with_rows(end).ok(),
            _ => None,
        };
        let Some(bytes_file) = bytes_file else {
            return Err(Error::format(
                offsets,
                0,
                format!("offsets must run from 0 to the end of the bytes of {}", bytes.display()),
            ));
        };
        Ok(Strings {
            bytes: Arc::new(bytes_file),
            offsets: Arc::new(offsets_file),
            offsets_path: offsets.to_path_buf(),
        })
    }

    /// The bytes file, mapped.
    pub fn bytes_file(&self) -> &Arc<MmapArray<u8>> {
        &self.bytes
    }

    /// The offsets file, mapped (`len() + 1` offsets).
    pub fn offsets_file(&self) -> &Arc<MmapArray<i64>> {
        &self.offsets
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// String `i`, borrowed from the mapping.
    ///
    /// # Errors
    /// [`Error::Argument`] for `i >= len()`; [`Error::Format`] for offsets out of order or
    /// outside the bytes, or bytes that are not UTF-8.
    pub fn get(&self, i: usize) -> Result<&str> {
        let (o, bytes) = (self.offsets.as_slice()?, self.bytes.as_slice()?);
        self.get_in(o, bytes, i)
    }

    /// The two files' contents looked up once, for reading many strings: each lookup of
    /// [`get`](Strings::get) checks the files' views again.
    ///
    /// # Errors
    /// As [`MmapArray::as_slice`].
    pub fn view(&self) -> Result<StringsView<'_>> {
        Ok(StringsView {
            strings: self,
            offsets: self.offsets.as_slice()?,
            bytes: self.bytes.as_slice()?,
        })
    }

    /// String `i` of the offsets `o` into `bytes` (the two files' contents).
    fn get_in<'a>(&self, o: &[i64], bytes: &'a [u8], i: usize) -> Result<&'a str> {
        let (Some(&start), Some(&end)) = (o.get(i), o.get(i.wrapping_add(1))) else {
            return Err(Error::argument(format!("string {i} of {}", self.len())));
        };
        let range = usize::try_from(start).ok().zip(usize::try_from(end).ok());
        let Some(v) = range.filter(|(s, e)| s <= e).and_then(|(s, e)| bytes.get(s..e)) else {
            // The byte of the file where the offending offset is stored: the start's when it
            // is outside the bytes, else the end's.
            let start_ok = usize::try_from(start).is_ok_and(|s| s <= bytes.len());
            let entry = if start_ok { i + 1 } else { i };
            let at = self.offsets.header().data_offset as u64 + 8 * entry as u64;
            return Err(Error::format(
                &self.offsets_path,
                at,
                format!(
                    "string {i}: offsets {start}..{end} are not inside the {} bytes",
                    bytes.len()
                ),
            ));
        };
        std::str::from_utf8(v).map_err(|e| {
            // The byte of the bytes file where the bad sequence starts.
            let at = self.bytes.header().data_offset as u64
                + u64::try_from(start).unwrap_or(0)
                + e.valid_up_to() as u64;
            Error::format(self.bytes.path(), at, format!("string {i} is not UTF-8: {e}"))
        })
    }

    /// Bytes of string `i` (0 past the end or for damaged offsets), without reading it.
    pub fn byte_len(&self, i: usize) -> u64 {
        let o = self.offsets.as_slice().unwrap_or(&[]);
        match (o.get(i), o.get(i.wrapping_add(1))) {
            (Some(&s), Some(&e)) => {
                e.checked_sub(s).and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// Drops the pages of strings `lo..hi` (their offsets and bytes) from this process's
    /// resident set after they have been read, as [`MmapArray::release`] does: a streaming pass
    /// over many strings keeps a small footprint. Damaged offsets release nothing.
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel refuses.
    pub fn release(&self, lo: usize, hi: usize) -> Result<()> {
        let o = self.offsets.as_slice().unwrap_or(&[]);
        let (Some(&start), Some(&end)) = (o.get(lo), o.get(hi)) else { return Ok(()) };
        let size = std::mem::size_of::<i64>();
        self.offsets.release(lo * size, (hi + 1 - lo) * size)?;
        if let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) {
            self.bytes.release(start, end.saturating_sub(start))?;
        }
        Ok(())
    }

    /// Every string, in order.
    pub fn iter(&self) -> impl Iterator<Item = Result<&str>> {
        // The files' contents are looked up once, not per string.
        let mut files = Some(self.offsets.as_slice().and_then(|o| Ok((o, self.bytes.as_slice()?))));
        let mut i = 0;
        std::iter::from_fn(move || match files.as_ref()? {
            Ok((o, b)) => {
                let r = (i < self.len()).then(|| self.get_in(o, b, i));
                i += 1;
                r
            }
            // The error once, then nothing.
            Err(_) => files.take().and_then(Result::err).map(Err),
        })
    }
}

/// The strings of a [`Strings`] with its files' contents looked up once.
#[derive(Clone, Copy, Debug)]
pub struct StringsView<'a> {
    strings: &'a Strings,
    offsets: &'a [i64],
    bytes: &'a [u8],
}

impl<'a> StringsView<'a> {
    /// String `i`, as [`Strings::get`].
    ///
    /// # Errors
    /// As [`Strings::get`].
    pub fn get(&self, i: usize) -> Result<&'a str> {
        self.strings.get_in(self.offsets, self.bytes, i)
    }
}
