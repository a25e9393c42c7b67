//! An array larger than the memory you want to spend on it: filled a block of rows at a time,
//! reopened read-only, and summarised (a block of rows, a strided column, the whole file) with
//! the process's resident memory bounded.
//!
//! ```text
//! cargo run --release --example big_array            # 32 MiB of float32 in a temp dir
//! cargo run --release --example big_array -- 2048    # 2 GiB: rows 300000..350000 as in the text
//! ```
//!
//! `NpyWriter` fills with a small buffer and the kernel's writeback, where writing through
//! `view_mut` would keep every written page mapped. A pass over a file small against the memory
//! available leaves its pages mapped (clean page cache, counted in `VmRSS`) until
//! `ArrayRead::release`; see docs/compute.md, "Memory".

// The example builds values from counters on purpose.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::many_single_char_names
)]

use std::error::Error;
use std::time::Instant;

use larder::ndarray::{Ix2, s};
use larder::{ArrayRead, MmapArray, NpyWriter, compute};

/// The process's resident memory now, in MiB (`VmRSS`; 0 where `/proc` is missing).
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status.lines().find_map(|l| l.strip_prefix("VmRSS:")?.trim().strip_suffix(" kB"));
    kib.and_then(|k| k.parse::<u64>().ok()).unwrap_or(0) / 1024
}

/// The value at row `r`, column `c`.
fn value(r: usize, c: usize) -> f32 {
    ((r * 7 + c) % 1000) as f32 * 0.017
}

fn main() -> Result<(), Box<dyn Error>> {
    let mib: usize = std::env::args().nth(1).map_or(Ok(32), |a| a.parse())?;
    let (cols, block) = (512, 8192);
    let rows = (mib << 20) / (cols * 4);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("big.npy");

    // Fill one block of rows at a time.
    let (t, mut peak) = (Instant::now(), 0);
    let mut w = NpyWriter::<f32>::create(&path, &[cols])?;
    let mut buf = Vec::with_capacity(block * cols);
    for start in (0..rows).step_by(block) {
        buf.clear();
        buf.extend(
            (start..rows.min(start + block)).flat_map(|r| (0..cols).map(move |c| value(r, c))),
        );
        w.append(&buf)?;
        peak = peak.max(rss_mib());
    }
    w.finish()?;
    println!("fill {rows} x {cols} float32 ({mib} MiB): {:?}, VmRSS <= {peak} MiB", t.elapsed());

    // Reopen read-only; rows 300000..350000 of 2^20 (the same fraction of a smaller array).
    let a = MmapArray::<f32>::open(&path)?;
    let v = a.view_as::<Ix2>()?;
    let (r0, r1) = ((300_000 * rows) >> 20, (350_000 * rows) >> 20);
    let t = Instant::now();
    let part = compute::summary(&v.slice(s![r0..r1, ..]))?;
    let t_larder = t.elapsed();
    let (mean, std) = (part.mean.as_f64(), part.std.unwrap_or(f64::NAN));

    // The same by hand: two passes in f64.
    let t = Instant::now();
    let xs = v.slice(s![r0..r1, ..]);
    let n = xs.len() as f64;
    let m = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let sd = (xs.iter().map(|&x| (f64::from(x) - m).powi(2)).sum::<f64>() / n).sqrt();
    println!(
        "rows {r0}..{r1} ({} elements): mean {mean} std {std} in {t_larder:?}; by hand {:?}, \
         |dmean| {:.1e} |dstd| {:.1e}",
        part.count,
        t.elapsed(),
        (mean - m).abs(),
        (std - sd).abs()
    );
    assert!((mean - m).abs() < 1e-9 && (std - sd).abs() < 1e-9);

    // A strided column, no copy; then the whole file, and what the pass leaves resident.
    let col = compute::summary(&v.slice(s![.., 7]))?;
    println!(
        "column 7: min {} max {} mean {}",
        col.min.ok_or("empty")?,
        col.max.ok_or("empty")?,
        col.mean
    );
    let t = Instant::now();
    let all = compute::summary(&a.chunk_source()?)?;
    println!("whole array: count {} mean {} in {:?}", all.count, all.mean, t.elapsed());
    let after = rss_mib();
    a.release()?;
    println!("VmRSS after the passes {after} MiB; after release {} MiB", rss_mib());
    assert_eq!(all.count, (rows * cols) as u64);
    assert_eq!(col.min.map(f64::from), Some(0.0)); // row 999 of column 7
    assert!(peak < 64, "the fill held {peak} MiB");
    Ok(())
}
