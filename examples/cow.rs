//! A copy-on-write experiment: clone a large array for free, change 1% of its rows, see what
//! that costs in memory, keep the change as a small delta file, reopen it, check it, and write
//! the result out as a standalone `.npy`.
//!
//! ```text
//! cargo run --release --example cow            # 64 MiB base in a temp dir
//! cargo run --release --example cow -- 2048    # 2 GiB
//! ```

// The example builds values from counters and checks exact values on purpose.
#![allow(clippy::cast_precision_loss, clippy::float_cmp)]

use std::error::Error;
use std::time::Instant;

use larder::ndarray::s;
use larder::{MmapArray, NpyWriter, page_size};

/// The process's resident memory now, in MiB (`VmRSS`; 0 where `/proc` is missing).
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status.lines().find_map(|l| l.strip_prefix("VmRSS:")?.trim().strip_suffix(" kB"));
    kib.and_then(|k| k.parse::<u64>().ok()).unwrap_or(0) / 1024
}

/// Row `r` of the clone: every 100th row is -1, the others hold their row number.
fn expected(r: usize) -> f64 {
    if r.is_multiple_of(100) { -1.0 } else { r as f64 }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mib: usize = std::env::args().nth(1).map_or(Ok(64), |a| a.parse())?;
    let cols = 256; // rows of 2 KiB of float64
    let rows = (mib << 20) / (cols * 8);
    let dir = tempfile::tempdir()?;
    let (base, delta, out) =
        (dir.path().join("base.npy"), dir.path().join("run1.delta"), dir.path().join("final.npy"));
    let mut w = NpyWriter::<f64>::create(&base, &[cols])?;
    for r in 0..rows {
        w.append(&vec![r as f64; cols])?;
    }
    w.finish()?;

    // A private clone: nothing is copied until a page is written.
    let t = Instant::now();
    let mut clone = MmapArray::<f64>::open_cow(&base)?;
    println!("open_cow of {rows} x {cols} float64: {:?}, VmRSS {} MiB", t.elapsed(), rss_mib());
    let t = Instant::now();
    clone.view_mut()?.slice_mut(s![..;100, ..]).fill(-1.0);
    println!("changed {} rows in {:?}: VmRSS {} MiB", rows.div_ceil(100), t.elapsed(), rss_mib());
    let dirty = clone.dirty_pages()?;
    println!(
        "private: {} bytes, {} dirty pages of {}",
        clone.private_bytes()?,
        dirty.len(),
        page_size()
    );

    // Keep the change: only the written pages go to the delta.
    let t = Instant::now();
    let report = clone.save_delta(&delta)?;
    println!(
        "save_delta: {:?} in {:?} (base {} bytes)",
        report,
        t.elapsed(),
        std::fs::metadata(&base)?.len()
    );
    drop(clone);

    // Reopen base + delta: the clone as it was saved.
    let t = Instant::now();
    let again = MmapArray::<f64>::open_with_delta(&base, &delta)?;
    println!("open_with_delta: {:?}", t.elapsed());
    let t = Instant::now();
    assert_eq!((again.get(&[100, 3])?, again.get(&[101, 3])?), (-1.0, 101.0));
    println!("get x2: {:?}", t.elapsed());
    let t = Instant::now();
    let v = again.view()?;
    println!("first view: {:?}", t.elapsed());
    let bad = (0..rows).filter(|&r| v[[r, 0]] != expected(r) || v[[r, cols - 1]] != expected(r));
    let (bad, changed) = (bad.count(), again.changed_pages()?.len());
    println!("mismatches {bad}; changed pages {changed}, private bytes {}", again.private_bytes()?);
    assert_eq!((bad, changed, report.pages), (0, dirty.len(), dirty.len() as u64));

    // A standalone copy numpy can open without the base; the base never changed.
    let t = Instant::now();
    let m = again.materialize(&out)?;
    println!("materialize: {:?} in {:?}, {} patched pages", m.method, t.elapsed(), m.patched_pages);
    let (copy, base) = (MmapArray::<f64>::open(&out)?, MmapArray::<f64>::open(&base)?);
    let (copy, base) = (copy.view()?, base.view()?);
    assert!((0..rows).all(|r| copy[[r, 5]] == expected(r) && base[[r, 5]] == r as f64));
    Ok(())
}
