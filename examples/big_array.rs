//! An array larger than the memory you want to spend on it: filled, reopened and summarised
//! with the process's resident memory bounded.
//!
//! ```text
//! cargo run --release --example big_array            # 256 MiB of float32 in a temp dir
//! cargo run --release --example big_array -- 4096    # 4 GiB
//! ```
//!
//! The fill appends blocks of rows with `NpyWriter` (a small buffer and the kernel's writeback:
//! resident memory stays at a few MiB whatever the size), where writing through `view_mut`
//! would keep every written page mapped. The statistics read the file through its mapping, a
//! chunk at a time. A file small against the memory available keeps its pages mapped during
//! the pass (clean page cache, shared and reclaimable, but counted in `VmRSS`: 1050 MiB after
//! a pass over 1 GiB on a 23 GiB machine); `ArrayRead::release` gives them back. A file larger
//! than a quarter of that memory has its pages dropped as the pass goes, and one larger than all
//! of it is read past the page cache, so the pass stays at a few chunks per thread (see
//! docs/compute.md, "Memory").

// The example builds values from counters and checks exact values on purpose.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::float_cmp
)]

use std::error::Error;

use larder::{ArrayRead, MmapArray, NpyWriter, compute};
use ndarray::{Ix2, s};

/// The process's resident memory now, in MiB (`VmRSS`; 0 where `/proc` is missing).
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// The value at row `r`, column `c`: smooth, so the statistics are easy to check.
fn value(r: usize, c: usize) -> f32 {
    ((r % 1000) as f32) * 0.01 + c as f32
}

fn main() -> Result<(), Box<dyn Error>> {
    let mib: usize = std::env::args().nth(1).map_or(Ok(256), |a| a.parse())?;
    let cols = 512;
    let rows = (mib << 20) / (cols * 4);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("big.npy");

    // Fill: one block of rows at a time.
    let block = 8192;
    let mut w = NpyWriter::<f32>::create(&path, &[cols])?;
    let mut buf = Vec::with_capacity(block * cols);
    let mut peak_fill = 0;
    for start in (0..rows).step_by(block) {
        buf.clear();
        for r in start..(start + block).min(rows) {
            buf.extend((0..cols).map(|c| value(r, c)));
        }
        w.append(&buf)?;
        peak_fill = peak_fill.max(rss_mib());
    }
    w.finish()?;
    println!(
        "filled {rows} x {cols} float32 ({mib} MiB); VmRSS during the fill <= {peak_fill} MiB"
    );

    // Reopen read-only and summarise: the whole file, a block of rows, one column.
    let a = MmapArray::<f32>::open(&path)?;
    let all = compute::summary(&a.chunk_source()?)?;
    println!(
        "whole array: count {} mean {} std {:.6}",
        all.count,
        all.mean,
        all.std.unwrap_or(f64::NAN)
    );
    let v = a.view_as::<Ix2>()?;
    let rows_part = compute::summary(&v.slice(s![rows / 4..rows / 2, ..]))?;
    let column = compute::summary(&v.slice(s![.., 7]))?; // strided: no copy of the column
    println!("rows {}..{}: mean {}", rows / 4, rows / 2, rows_part.mean);
    println!("column 7: min {} max {}", column.min.unwrap(), column.max.unwrap());
    println!("VmRSS after the passes: {} MiB", rss_mib());
    ArrayRead::release(&a)?;
    let after = rss_mib();
    println!("VmRSS after release: {after} MiB");

    // The statistics are what they must be (column 7 holds 7 + (r % 1000) / 100).
    assert_eq!(all.count, (rows * cols) as u64);
    assert_eq!(column.min.unwrap().as_f64(), 7.0);
    assert!(peak_fill < 64, "the fill held {peak_fill} MiB");
    assert!(after < 64, "{after} MiB resident after release");
    Ok(())
}
