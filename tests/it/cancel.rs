//! `larder::Cancel`: long operations run under a cancelled token stop with
//! `Error::Cancelled`, leave what a failure leaves (no temporary file, no destination; a
//! conversion resumable), and the next call — with a fresh or a reset token, or none — works.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use larder::compute::{Agg, StatsOptions};
use larder::convert::ConvertOptions;
use larder::{Cancel, Error};

fn write_f64(path: &Path, n: usize) {
    let a = ndarray::Array1::from_iter((0..n).map(|i| (i % 1000) as f64 * 0.5));
    larder::write_npy(path, &a).unwrap();
}

fn csv(path: &Path, rows: usize) {
    let mut s = String::from("k,v,x\n");
    for i in 0..rows {
        writeln!(s, "key{},{i},{}.5", i % 37, i % 1000).unwrap();
    }
    std::fs::write(path, s).unwrap();
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn cancelled<T: std::fmt::Debug>(r: larder::Result<T>, what: &str) {
    match r {
        Err(Error::Cancelled) => {}
        other => panic!("{what}: expected Error::Cancelled, got {other:?}"),
    }
}

#[test]
fn a_cancelled_copy_leaves_nothing_and_the_next_copy_works() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.npy");
    write_f64(&src, 1 << 20);
    let before = names(dir.path());
    let cancel = Cancel::new();
    cancel.cancel();
    for dst in ["b.zarr", "b.npy", "b.h5"] {
        let r = cancel.run(|| larder::copy(&src, dir.path().join(dst)));
        cancelled(r, dst);
        assert_eq!(names(dir.path()), before, "{dst}: a cancelled copy leaves no file");
    }
    let err = cancel.run(|| larder::copy(&src, dir.path().join("b.zarr"))).unwrap_err();
    assert_eq!(err.to_string(), "cancelled");
    // The flag belongs to the token: without it, or reset, copies run.
    larder::copy(&src, dir.path().join("b.zarr")).unwrap();
    cancel.reset();
    cancel.run(|| larder::copy(&src, dir.path().join("c.npy"))).unwrap();
    let back = larder::read_npy::<f64>(dir.path().join("c.npy")).unwrap();
    assert_eq!(back.len(), 1 << 20);
    assert_eq!(back[[1001]], 0.5);
}

#[test]
fn a_copy_cancelled_from_another_thread_stops_early() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.npy");
    // 128 MiB: far longer to compress into Zarr than the moment the cancel comes after.
    write_f64(&src, 16 << 20);
    let before = names(dir.path());
    let cancel = Cancel::new();
    let canceller = cancel.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        canceller.cancel();
        Instant::now()
    });
    let r = cancel.run(|| larder::copy(&src, dir.path().join("big.zarr")));
    let stopped = Instant::now();
    let sent = t.join().unwrap();
    cancelled(r, "big.zarr");
    assert!(stopped.duration_since(sent) < Duration::from_secs(1), "{:?}", stopped - sent);
    assert_eq!(names(dir.path()), before);
}

#[test]
fn cancelled_stats_stop_and_fresh_ones_run() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.npy");
    write_f64(&src, 1 << 20);
    let zarr = dir.path().join("a.zarr");
    larder::copy(&src, &zarr).unwrap();
    let cancel = Cancel::new();
    cancel.cancel();
    for path in [&src, &zarr] {
        let plain = StatsOptions::new();
        cancelled(cancel.run(|| plain.describe(path)), "stats");
        let mut quantiles = StatsOptions::new();
        quantiles.quantiles(&[0.5]);
        cancelled(cancel.run(|| quantiles.describe(path)), "quantiles");
        let d = Cancel::new().run(|| StatsOptions::new().describe(path)).unwrap();
        let d = serde_json::to_value(&d).unwrap();
        assert_eq!(d["count"], 1 << 20, "{d}");
    }
}

#[test]
fn a_cancelled_groupby_stops_and_a_fresh_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    csv(&input, 50_000);
    let out = dir.path().join("ds");
    ConvertOptions::new().convert_files(&[input], &out, &mut |_| {}).unwrap();
    let aggs = ["count".parse::<Agg>().unwrap(), "sum:v".parse::<Agg>().unwrap()];
    let cancel = Cancel::new();
    cancel.cancel();
    cancelled(cancel.run(|| larder::compute::groupby(&out, "k", &aggs)), "groupby");
    let g = Cancel::new().run(|| larder::compute::groupby(&out, "k", &aggs)).unwrap();
    let g = serde_json::to_value(&g).unwrap();
    assert_eq!(g["keys"].as_array().unwrap().len(), 37, "{g}");
}

#[test]
fn a_conversion_cancelled_midway_resumes_to_the_whole_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    csv(&input, 200_000);
    let out = dir.path().join("ds");
    let cancel = Cancel::new();
    let mut opts = ConvertOptions::new();
    opts.block_size(4096).checkpoint_interval(Duration::ZERO);
    let mut reports = 0;
    // Cancelled from inside, at the third report: midway through the input.
    let r = cancel.run(|| {
        opts.convert_files(std::slice::from_ref(&input), &out, &mut |p| {
            reports += 1;
            if reports == 3 {
                assert!(p.bytes_read < p.total_bytes.unwrap());
                cancel.cancel();
            }
        })
    });
    cancelled(r, "convert");
    assert!(!out.exists(), "a cancelled conversion publishes nothing");
    opts.resume(true);
    let r = opts.convert_files(&[input], &out, &mut |_| {}).unwrap();
    assert!(r.resumed);
    assert_eq!(r.manifest.rows, 200_000);
}
