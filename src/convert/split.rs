//! Reading the input in blocks of whole records.
//!
//! A block ends just after a record boundary ([`last_boundary`], by the quote rule of
//! `record.rs`), so every block starts at a record boundary, and the parser (`parse.rs`) applies
//! the same rule inside a block.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

use super::input::read_error;
use super::record::last_boundary;
use super::sources::FileMap;

pub(crate) use super::record::MAX_RECORD;

/// A run of whole records and where it starts in the input.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) data: Vec<u8>,
    /// Byte offset of `data[0]` in the input.
    pub(crate) offset: u64,
}

/// Cuts an input stream into [`Block`]s of about `block_size` bytes.
pub(crate) struct BlockReader<R> {
    input: R,
    path: PathBuf,
    delimiter: u8,
    carry: Vec<u8>,
    offset: u64,
    block_size: usize,
    eof: bool,
    /// Buffers of parsed blocks, reused to spare allocations and page faults.
    spare: Vec<Vec<u8>>,
    /// For compressed input: bytes of the compressed source consumed so far.
    consumed: Option<Arc<AtomicU64>>,
    /// Blocks read ahead and given back, handed out before any new one.
    unread: std::collections::VecDeque<Block>,
    /// With several inputs: the files the stream is made of, to name them in errors.
    files: Option<FileMap>,
}

impl<R: Read> BlockReader<R> {
    /// Reads `input` (named `path` in errors, fields separated by `delimiter`), whose first
    /// byte, at `offset`, starts a record.
    pub(crate) fn new(
        input: R,
        path: &Path,
        delimiter: u8,
        offset: u64,
        block_size: usize,
    ) -> Self {
        BlockReader {
            input,
            path: path.to_path_buf(),
            delimiter,
            carry: Vec::new(),
            offset,
            block_size: block_size.max(1),
            eof: false,
            spare: Vec::new(),
            consumed: None,
            unread: std::collections::VecDeque::new(),
            files: None,
        }
    }

    /// Names, in errors, the file of a stream of several (and the offset in it).
    pub(crate) fn naming(mut self, files: Option<FileMap>) -> Self {
        self.files = files;
        self
    }

    /// Gives back `blocks`, read ahead in order: the next calls of
    /// [`next_block`](BlockReader::next_block) return them first.
    pub(crate) fn unread(&mut self, blocks: Vec<Block>) {
        self.unread.extend(blocks);
    }

    /// Reports, with [`BlockReader::consumed`], how much of a compressed source the input has
    /// consumed, as counted by `counter`.
    pub(crate) fn counting(mut self, counter: Option<Arc<AtomicU64>>) -> Self {
        self.consumed = counter;
        self
    }

    /// Bytes of the compressed source consumed so far; `None` for plain input.
    pub(crate) fn consumed(&self) -> Option<u64> {
        self.consumed.as_ref().map(|c| c.load(Ordering::Relaxed))
    }

    /// Gives back block buffers for reuse (a few are kept).
    pub(crate) fn recycle(&mut self, bufs: impl IntoIterator<Item = Vec<u8>>) {
        for b in bufs {
            if self.spare.len() < 16 && b.capacity() <= 2 * self.block_size {
                self.spare.push(b);
            }
        }
    }

    /// The next block, or `None` at the end of the input.
    pub(crate) fn next_block(&mut self) -> Result<Option<Block>> {
        // SIGINT or SIGTERM: stop between blocks, as a failure does (see `sys::signal`).
        crate::sys::check_interrupt()?;
        if let Some(b) = self.unread.pop_front() {
            return Ok(Some(b));
        }
        if self.eof && self.carry.is_empty() {
            return Ok(None);
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(&self.carry);
        self.carry.clear();
        let mut target = self.block_size.max(buf.len());
        loop {
            buf.reserve_exact(target.saturating_sub(buf.len()));
            if buf.len() < target && !self.eof {
                // `read_to_end` fills the spare capacity without zeroing it first, and retries
                // interrupted reads; it stops short of the limit only at the end of the input.
                let want = (target - buf.len()) as u64;
                let n = (&mut self.input)
                    .take(want)
                    .read_to_end(&mut buf)
                    .map_err(|e| read_error(&self.path, e))?;
                if (n as u64) < want {
                    self.eof = true;
                }
            }
            if self.eof {
                break;
            }
            if let Some(cut) = last_boundary(&buf, self.delimiter) {
                self.carry.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                break;
            }
            if target >= MAX_RECORD {
                let (path, offset) = match &self.files {
                    Some(map) => map.locate_byte(self.offset),
                    None => (self.path.clone(), self.offset),
                };
                return Err(Error::format(
                    &path,
                    offset,
                    format!(
                        "a record longer than {} MiB starts here (an unbalanced quote?)",
                        MAX_RECORD >> 20
                    ),
                ));
            }
            target = (target * 2).min(MAX_RECORD);
        }
        let block = Block { offset: self.offset, data: buf };
        self.offset += block.data.len() as u64;
        if block.data.is_empty() { Ok(None) } else { Ok(Some(block)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::record::record_end;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the block size, blocks concatenate to the input and each ends where the
        /// parser's record rule says a record ends.
        #[test]
        fn blocks_are_whole_records(data in "[a\",\n]{0,200}", size in 1usize..40) {
            let mut r = BlockReader::new(data.as_bytes(), Path::new("x"), b',', 0, size);
            let mut all = Vec::new();
            while let Some(b) = r.next_block().unwrap() {
                prop_assert_eq!(b.offset, all.len() as u64);
                let mut pos = 0;
                while pos < b.data.len() {
                    pos = record_end(&b.data, pos, b',') + 1;
                }
                prop_assert!(pos == b.data.len() || pos == b.data.len() + 1);
                all.extend_from_slice(&b.data);
            }
            prop_assert_eq!(all, data.as_bytes());
        }
    }
}
