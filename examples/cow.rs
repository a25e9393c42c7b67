//! A copy-on-write experiment: clone a large array for free, change 1% of its rows, see what
//! that costs in memory, keep the change as a small delta file, reopen it, and write the result
//! out as a standalone `.npy`.
//!
//! ```text
//! cargo run --release --example cow            # 64 MiB base in a temp dir
//! cargo run --release --example cow -- 1024    # 1 GiB
//! ```

// The example builds values from counters and checks exact values on purpose.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::float_cmp
)]

use std::error::Error;

use larder::{MmapArray, NpyWriter, compute, page_size};

fn main() -> Result<(), Box<dyn Error>> {
    let mib: usize = std::env::args().nth(1).map_or(Ok(64), |a| a.parse())?;
    let cols = 256; // rows of 2 KiB of float64
    let rows = (mib << 20) / (cols * 8);
    let dir = tempfile::tempdir()?;
    let base = dir.path().join("base.npy");
    let mut w = NpyWriter::<f64>::create(&base, &[cols])?;
    for r in 0..rows {
        w.append(&vec![r as f64; cols])?;
    }
    w.finish()?;

    // A private clone: nothing is copied until a page is written.
    let mut clone = MmapArray::<f64>::open_cow(&base)?;
    println!("clone of {rows} x {cols} float64: {} bytes private", clone.private_bytes()?);
    {
        let mut v = clone.view_mut()?;
        for r in (0..rows).step_by(100) {
            v.slice_mut(ndarray::s![r, ..]).fill(-1.0);
        }
    }
    let changed = rows.div_ceil(100);
    let dirty = clone.dirty_pages()?;
    println!(
        "changed {changed} rows: {} pages of {} bytes are private ({} bytes)",
        dirty.len(),
        page_size(),
        clone.private_bytes()?
    );

    // Keep the change: only the written pages go to the delta.
    let delta = dir.path().join("run1.delta");
    let report = clone.save_delta(&delta)?;
    println!(
        "delta: {} pages, {} bytes (base: {} bytes)",
        report.pages,
        report.bytes,
        std::fs::metadata(&base)?.len()
    );
    drop(clone);

    // Reopen base + delta: the clone as it was saved; the base never changed.
    let again = MmapArray::<f64>::open_with_delta(&base, &delta)?;
    assert_eq!(again.get(&[100, 3])?, -1.0);
    assert_eq!(again.get(&[101, 3])?, 101.0);
    assert_eq!(MmapArray::<f64>::open(&base)?.get(&[100, 3])?, 100.0);
    let s = compute::summary(&again.view()?.slice(ndarray::s![.., 0]))?;
    println!(
        "column 0 through the delta: min {} max {} mean {}",
        s.min.unwrap(),
        s.max.unwrap(),
        s.mean
    );

    // A standalone copy numpy can open without the base.
    let out = dir.path().join("final.npy");
    let m = again.materialize(&out)?;
    println!(
        "materialized with {:?}: {} bytes, {} patched pages",
        m.method, m.bytes, m.patched_pages
    );
    let copy = MmapArray::<f64>::open(&out)?;
    assert_eq!(copy.get(&[200, 0])?, -1.0);
    assert_eq!(copy.get(&[201, 0])?, 201.0);
    assert_eq!(report.pages as usize, dirty.len());
    Ok(())
}
