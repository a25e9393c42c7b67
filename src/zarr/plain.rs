//! Reading chunks of the most common Zarr layout without going through a codec pipeline: a
//! regular grid of chunk files holding the little-endian element bytes, either as they are or
//! compressed into one zstd frame (`bytes` → optional `zstd`, the layout zarr-python and larder
//! write by default).
//!
//! Two things are done here that the general pipeline cannot do:
//!
//! - a whole chunk is decoded straight into the caller's buffer (the destination array), with no
//!   intermediate chunk-sized allocation and copy;
//! - a byte range of a chunk is decoded without decoding the whole chunk. A zstd frame is a
//!   sequence of blocks of at most 128 KiB of output. A block made of literals only (no match
//!   sequences) depends on nothing before it but, when its literals reuse the previous Huffman
//!   table, on the block that last defined one. When the blocks that hold the range are of that
//!   kind, and their positions in the decoded chunk are known from the block headers, only those
//!   blocks (plus the table-defining block they lean on) are decoded, as a frame of their own.
//!   Data with little redundancy (random floats, for one) is stored that way. Anything else
//!   falls back to decoding the frame from its start up to the end of the range, and stops
//!   there.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Error, Result};

/// zstd frame magic number.
const MAGIC: u32 = 0xFD2F_B528;
/// Largest block output zstd produces.
const BLOCK_MAX: u64 = 128 << 10;

fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::Storage { path: path.to_path_buf(), reason: format!("zarr chunk: {}", reason.into()) }
}

thread_local! {
    /// Per-thread scratch: the compressed bytes of the chunk being decoded and a zstd context.
    static SCRATCH: RefCell<(Vec<u8>, Option<zstd::bulk::Decompressor<'static>>)> =
        const { RefCell::new((Vec::new(), None)) };
}

/// The thread's zstd decompressor, made on first use.
fn decompressor<'a>(
    ctx: &'a mut Option<zstd::bulk::Decompressor<'static>>,
) -> io::Result<&'a mut zstd::bulk::Decompressor<'static>> {
    Ok(match ctx {
        Some(d) => d,
        None => ctx.insert(zstd::bulk::Decompressor::new()?),
    })
}

/// Decodes the whole chunk file at `path` into `out`, which must be exactly the decoded size.
///
/// Returns `Ok(false)` when the file does not exist (the chunk was never written; the caller
/// fills in the fill value).
pub(super) fn decode_into(path: &Path, zstd: bool, out: &mut [u8]) -> Result<bool> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(path, e)),
    };
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if !zstd {
        if len != out.len() as u64 {
            return Err(corrupt(path, format!("{len} bytes, expected {}", out.len())));
        }
        file.read_exact(out).map_err(|e| Error::io(path, e))?;
        return Ok(true);
    }
    SCRATCH.with_borrow_mut(|(buf, ctx)| {
        buf.clear();
        buf.reserve(usize::try_from(len).unwrap_or(0));
        file.read_to_end(buf).map_err(|e| Error::io(path, e))?;
        let n = decompressor(ctx)
            .map_err(|e| Error::io(path, e))?
            .decompress_to_buffer(buf.as_slice(), out)
            .map_err(|e| corrupt(path, format!("zstd: {e} (expected {} bytes)", out.len())))?;
        if n != out.len() {
            return Err(corrupt(path, format!("decodes to {n} bytes, expected {}", out.len())));
        }
        Ok(true)
    })
}

/// Decodes bytes `lo..lo + out.len()` of the chunk file at `path`, whose whole decoded size is
/// `total`, into `out`.
///
/// Returns `Ok(false)` when the file does not exist.
pub(super) fn decode_range(
    path: &Path,
    zstd: bool,
    total: u64,
    lo: u64,
    out: &mut [u8],
) -> Result<bool> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(path, e)),
    };
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let hi = lo + out.len() as u64;
    if !zstd {
        if len != total {
            return Err(corrupt(path, format!("{len} bytes, expected {total}")));
        }
        file.read_exact_at(out, lo).map_err(|e| Error::io(path, e))?;
        return Ok(true);
    }
    if let Ok(Some(map)) = BlockMap::read(&file, len) {
        if let Some(t) = map.total.filter(|&t| t != total) {
            return Err(corrupt(path, format!("frame holds {t} bytes, expected {total}")));
        }
        if let Some(plan) = map.plan(lo, hi)
            && decode_blocks(&file, &map, &plan, lo, out).is_ok()
        {
            return Ok(true);
        }
    }
    decode_prefix(path, file, lo, out)?;
    Ok(true)
}

/// Streams the frame(s) from the start, skips `lo` bytes and fills `out`.
fn decode_prefix(path: &Path, file: File, lo: u64, out: &mut [u8]) -> Result<()> {
    let mut dec = zstd::stream::read::Decoder::new(file).map_err(|e| Error::io(path, e))?;
    let skipped = io::copy(&mut (&mut dec).take(lo), &mut io::sink())
        .map_err(|e| corrupt(path, format!("zstd: {e}")))?;
    if skipped != lo {
        return Err(corrupt(path, format!("decodes to {skipped} bytes, expected more")));
    }
    dec.read_exact(out).map_err(|e| corrupt(path, format!("zstd: {e}")))
}

/// What a block's literals do to the Huffman table state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    /// Raw or RLE block, or raw/RLE literals: the table is neither set nor used.
    None,
    /// Literals with their own Huffman table.
    Defines,
    /// Literals that reuse the previous block's table.
    Reuses,
}

#[derive(Clone, Copy, Debug)]
struct Block {
    /// File offset of the 3-byte block header.
    start: u64,
    /// File offset just past the block.
    end: u64,
    /// Decoded size, when it follows from the headers (no match sequences).
    size: Option<u64>,
    table: Table,
}

/// The blocks of a chunk file holding exactly one zstd frame, as far as their headers tell.
#[derive(Debug)]
struct BlockMap {
    blocks: Vec<Block>,
    /// Decoded offset of each block, where known (from the front or, with a content size, from
    /// the back).
    offsets: Vec<Option<u64>>,
    /// The frame's content size, if it records one.
    total: Option<u64>,
}

/// The blocks `first..=last` to decode as a frame of their own to get a byte range.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    first: usize,
    last: usize,
}

fn read_at(file: &File, buf: &mut [u8], at: u64, len: u64) -> io::Result<usize> {
    let n = usize::try_from(len.saturating_sub(at)).unwrap_or(usize::MAX).min(buf.len());
    file.read_exact_at(&mut buf[..n], at)?;
    Ok(n)
}

impl BlockMap {
    /// Reads the block headers. `Ok(None)` when the layout is not one this handles (several
    /// frames, a dictionary, a checksum, reserved bits).
    fn read(file: &File, len: u64) -> io::Result<Option<BlockMap>> {
        let mut head = [0u8; 18];
        let n = read_at(file, &mut head, 0, len)?;
        let Some((mut pos, total)) = parse_frame_header(&head[..n]) else { return Ok(None) };
        let mut blocks = Vec::new();
        loop {
            let mut b = [0u8; 8];
            let got = read_at(file, &mut b, pos, len)?;
            if got < 3 {
                return Ok(None);
            }
            let header = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
            let last = header & 1 == 1;
            let kind = (header >> 1) & 3;
            let csize = u64::from(header >> 3);
            let (end, size, table) = match kind {
                0 => (pos + 3 + csize, Some(csize), Table::None),
                1 => (pos + 4, Some(csize), Table::None),
                2 => {
                    let Some((lit_len, regenerated, table)) = parse_literals(&b[3..got]) else {
                        return Ok(None);
                    };
                    if lit_len >= csize {
                        return Ok(None);
                    }
                    let mut seq = [0u8; 1];
                    file.read_exact_at(&mut seq, pos + 3 + lit_len)?;
                    let size = (seq[0] == 0).then_some(regenerated);
                    (pos + 3 + csize, size, table)
                }
                _ => return Ok(None),
            };
            if end > len || size.is_some_and(|s| s > BLOCK_MAX) {
                return Ok(None);
            }
            blocks.push(Block { start: pos, end, size, table });
            pos = end;
            if last {
                break;
            }
        }
        if pos != len {
            return Ok(None);
        }
        let offsets = offsets(&blocks, total);
        Ok(Some(BlockMap { blocks, offsets, total }))
    }

    /// Which blocks to decode for decoded bytes `lo..hi`, if they can be decoded on their own.
    fn plan(&self, lo: u64, hi: u64) -> Option<Plan> {
        let covers = |i: usize| -> Option<(u64, u64)> {
            let start = self.offsets[i]?;
            Some((start, start + self.blocks[i].size?))
        };
        let mut first =
            (0..self.blocks.len()).find(|&i| covers(i).is_some_and(|(s, e)| s <= lo && lo < e))?;
        let mut last = first;
        while covers(last)?.1 < hi {
            last += 1;
            if last >= self.blocks.len() {
                return None;
            }
            covers(last)?;
        }
        // A block reusing a Huffman table needs the block that defined it in the same frame.
        let needs_table = self.blocks[first..=last]
            .iter()
            .take_while(|b| b.table != Table::Defines)
            .any(|b| b.table == Table::Reuses);
        if needs_table {
            first = (0..first).rev().find(|&i| self.blocks[i].table == Table::Defines)?;
            // Everything in between must be literals-only too.
            if self.blocks[first..=last].iter().any(|b| b.size.is_none()) {
                return None;
            }
        }
        Some(Plan { first, last })
    }
}

/// Decoded block offsets: forward while every earlier size is known; backward from the content
/// size while every later size is known.
fn offsets(blocks: &[Block], total: Option<u64>) -> Vec<Option<u64>> {
    let mut out = vec![None; blocks.len()];
    let mut at = Some(0u64);
    for (i, b) in blocks.iter().enumerate() {
        out[i] = at;
        at = at.zip(b.size).map(|(a, s)| a + s);
    }
    if let Some(total) = total {
        let mut end = Some(total);
        for (i, b) in blocks.iter().enumerate().rev() {
            let start = end.zip(b.size).and_then(|(e, s)| e.checked_sub(s));
            match (out[i], start) {
                (Some(f), Some(s)) if f != s => return vec![None; blocks.len()],
                (None, Some(s)) => out[i] = Some(s),
                _ => {}
            }
            end = start;
        }
    }
    out
}

/// The length of a frame header at the start of `h` and the content size it records, or `None`
/// for anything but a plain frame (no dictionary, no checksum).
fn parse_frame_header(h: &[u8]) -> Option<(u64, Option<u64>)> {
    if h.len() < 6 || u32::from_le_bytes([h[0], h[1], h[2], h[3]]) != MAGIC {
        return None;
    }
    let fhd = h[4];
    let fcs_flag = fhd >> 6;
    let single = (fhd >> 5) & 1 == 1;
    let reserved = (fhd >> 3) & 1 == 1;
    let checksum = (fhd >> 2) & 1 == 1;
    let dict = fhd & 3;
    if reserved || checksum || dict != 0 {
        return None;
    }
    let mut pos = 5 + usize::from(!single);
    let fcs_len = match (fcs_flag, single) {
        (0, true) => 1,
        (0, false) => 0,
        (1, _) => 2,
        (2, _) => 4,
        _ => 8,
    };
    let field = h.get(pos..pos + fcs_len)?;
    let mut v = 0u64;
    for (i, &byte) in field.iter().enumerate() {
        v |= u64::from(byte) << (8 * i);
    }
    let total = match fcs_len {
        0 => None,
        2 => Some(v + 256),
        _ => Some(v),
    };
    pos += fcs_len;
    Some((pos as u64, total))
}

/// The literals section at the start of a compressed block: its length in bytes, its decoded
/// size and what it does with the Huffman table.
fn parse_literals(b: &[u8]) -> Option<(u64, u64, Table)> {
    let b0 = *b.first()?;
    let byte = |i: usize| b.get(i).map(|&x| u64::from(x));
    let kind = b0 & 3;
    let format = (b0 >> 2) & 3;
    if kind < 2 {
        let (header, size) = match format {
            0 | 2 => (1, u64::from(b0 >> 3)),
            1 => (2, u64::from(b0 >> 4) + (byte(1)? << 4)),
            _ => (3, u64::from(b0 >> 4) + (byte(1)? << 4) + (byte(2)? << 12)),
        };
        let body = if kind == 0 { size } else { 1 };
        return Some((header + body, size, Table::None));
    }
    let (header, bits) = match format {
        0 | 1 => (3usize, 10),
        2 => (4, 14),
        _ => (5, 18),
    };
    let mut v = 0u64;
    for i in 0..header {
        v |= byte(i)? << (8 * i);
    }
    let mask = (1u64 << bits) - 1;
    let regenerated = (v >> 4) & mask;
    let compressed = (v >> (4 + bits)) & mask;
    let table = if kind == 2 { Table::Defines } else { Table::Reuses };
    Some((header as u64 + compressed, regenerated, table))
}

/// Decodes the blocks of `plan` as a frame of their own and copies bytes `lo..` into `out`.
fn decode_blocks(
    file: &File,
    map: &BlockMap,
    plan: &Plan,
    lo: u64,
    out: &mut [u8],
) -> io::Result<()> {
    let (first, last) = (&map.blocks[plan.first], &map.blocks[plan.last]);
    let body = usize::try_from(last.end - first.start).map_err(io::Error::other)?;
    // A frame header with no content size and a 128 KiB window (blocks are no larger), then
    // the blocks as stored, the last one marked last.
    let mut frame = vec![0u8; 6 + body];
    frame[..4].copy_from_slice(&MAGIC.to_le_bytes());
    frame[4] = 0;
    frame[5] = (17 - 10) << 3;
    file.read_exact_at(&mut frame[6..], first.start)?;
    let last_header = 6 + usize::try_from(last.start - first.start).map_err(io::Error::other)?;
    frame[last_header] |= 1;
    let base = map.offsets[plan.first].ok_or_else(|| io::Error::other("unknown offset"))?;
    let span: u64 = map.blocks[plan.first..=plan.last].iter().filter_map(|b| b.size).sum();
    let mut decoded = vec![0u8; usize::try_from(span).map_err(io::Error::other)?];
    let n = SCRATCH.with_borrow_mut(|(_, ctx)| {
        decompressor(ctx)?.decompress_to_buffer(frame.as_slice(), decoded.as_mut_slice())
    })?;
    let from = usize::try_from(lo - base).map_err(io::Error::other)?;
    if n as u64 != span || from + out.len() > n {
        return Err(io::Error::other("blocks decode to an unexpected size"));
    }
    out.copy_from_slice(&decoded[from..from + out.len()]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Values with little redundancy: zstd stores them as literal-only blocks.
    fn noisy(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .flat_map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                #[allow(clippy::cast_precision_loss)]
                let v = (x >> 11) as f64 / (1u64 << 53) as f64;
                v.to_le_bytes()
            })
            .collect()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        File::create(&p).unwrap().write_all(bytes).unwrap();
        p
    }

    fn check_ranges(path: &Path, data: &[u8]) {
        let total = data.len() as u64;
        let n = data.len();
        for (lo, len) in [(0, 8), (0, n), (n - 8, 8), (131_000, 9000), (n / 2, 8000), (n / 3, 1)] {
            let mut out = vec![0u8; len];
            assert!(decode_range(path, true, total, lo as u64, &mut out).unwrap());
            assert_eq!(out, data[lo..lo + len], "range {lo}+{len}");
        }
        let mut all = vec![0u8; n];
        assert!(decode_into(path, true, &mut all).unwrap());
        assert_eq!(all, data);
    }

    #[test]
    fn ranges_of_literal_only_frames_decode_block_by_block() {
        let dir = tempfile::tempdir().unwrap();
        let data = noisy(200_000, 7);
        let enc = zstd::bulk::compress(&data, 3).unwrap();
        let p = write(dir.path(), "c0", &enc);
        let map = BlockMap::read(&File::open(&p).unwrap(), enc.len() as u64).unwrap().unwrap();
        assert!(map.blocks.len() > 10);
        assert!(map.plan(900_000, 901_000).is_some(), "{map:?}");
        check_ranges(&p, &data);
    }

    #[test]
    fn ranges_of_frames_with_matches_fall_back_to_a_prefix_decode() {
        let dir = tempfile::tempdir().unwrap();
        // Repetitive data: every block holds match sequences.
        let data: Vec<u8> = (0..1_000_000u32).flat_map(|i| (i % 1000).to_le_bytes()).collect();
        let enc = zstd::bulk::compress(&data, 3).unwrap();
        let p = write(dir.path(), "c0", &enc);
        let map = BlockMap::read(&File::open(&p).unwrap(), enc.len() as u64).unwrap().unwrap();
        assert!(map.plan(2_000_000, 2_000_100).is_none());
        check_ranges(&p, &data);
    }

    #[test]
    fn frames_with_checksums_or_several_frames_still_decode() {
        let dir = tempfile::tempdir().unwrap();
        let data = noisy(50_000, 3);
        let mut c = zstd::bulk::Compressor::new(3).unwrap();
        c.include_checksum(true).unwrap();
        let p = write(dir.path(), "chk", &c.compress(&data).unwrap());
        check_ranges(&p, &data);
        let mut two = zstd::bulk::compress(&data[..100_000], 3).unwrap();
        two.extend(zstd::bulk::compress(&data[100_000..], 3).unwrap());
        let p = write(dir.path(), "two", &two);
        check_ranges(&p, &data);
    }

    #[test]
    fn damaged_or_short_chunks_are_errors_not_wrong_values() {
        let dir = tempfile::tempdir().unwrap();
        let data = noisy(50_000, 5);
        let enc = zstd::bulk::compress(&data, 3).unwrap();
        let p = write(dir.path(), "cut", &enc[..enc.len() / 2]);
        let mut out = vec![0u8; 100];
        assert!(decode_range(&p, true, data.len() as u64, 390_000, &mut out).is_err());
        let mut all = vec![0u8; data.len()];
        assert!(decode_into(&p, true, &mut all).is_err());
        // Wrong expected size.
        let p = write(dir.path(), "ok", &enc);
        let mut big = vec![0u8; data.len() + 8];
        assert!(decode_into(&p, true, &mut big).is_err());
        assert!(!decode_into(&dir.path().join("missing"), true, &mut all).unwrap());
    }
}
