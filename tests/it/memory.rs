//! Memory is bounded by options, not by the input: each command family (cat, stats, copy, info)
//! on hostile metadata — a 2^31 × 2^31 array of one-element chunks, 2·10^7 one-element chunks —
//! stays under a peak RSS of 256 MiB. Each run has a time limit: a command still working on a
//! 2^62-element array when it runs out is stopped, and only its memory is judged.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::larder;

/// The bound every command keeps, in KiB.
const BOUND_KIB: u64 = 256 * 1024;

/// What a bounded run saw.
struct Run {
    /// The highest `VmHWM` read while it ran, KiB.
    peak_kib: u64,
    /// `None` when the time limit stopped it.
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `larder args` in `dir` until it exits or `secs` pass (then kills it), reading its peak
/// RSS from /proc as it goes. `None` (the test then skips, saying so) where /proc has no
/// `VmHWM`.
fn bounded(dir: &Path, args: &[&OsStr], secs: u64) -> Option<Run> {
    let out = dir.join(format!("out-{}", std::process::id()));
    let err = dir.join(format!("err-{}", std::process::id()));
    let mut child = larder()
        .args(args)
        .current_dir(dir)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let start = Instant::now();
    let mut peak = None;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        {
            peak = Some(peak.unwrap_or(0).max(kib));
        }
        if start.elapsed() > Duration::from_secs(secs) {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let Some(peak_kib) = peak else {
        eprintln!("skipped: no VmHWM in {status_file} (memory tests need Linux /proc)");
        return None;
    };
    // The head of the output is enough to check what was printed.
    let mut stdout = std::fs::read(&out).unwrap();
    stdout.truncate(1 << 16);
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = std::fs::read_to_string(&err).unwrap();
    std::fs::remove_file(out).unwrap();
    std::fs::remove_file(err).unwrap();
    Some(Run { peak_kib, status, stdout, stderr })
}

/// Asserts `larder args` kept under the bound; returns the run.
fn check(dir: &Path, args: &[&str], secs: u64) -> Option<Run> {
    let os: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let run = bounded(dir, &os, secs)?;
    assert!(
        run.peak_kib <= BOUND_KIB,
        "larder {}: peak RSS {} MiB over the bound of {} MiB",
        args.join(" "),
        run.peak_kib / 1024,
        BOUND_KIB / 1024
    );
    if let Some(s) = run.status {
        assert!(s.success(), "larder {}: {s}: {}", args.join(" "), run.stderr);
    }
    Some(run)
}

/// A v3 Zarr array with metadata only: every chunk is the fill value.
fn hostile(dir: &Path, name: &str, shape: &str, chunks: &str, fill: &str) {
    let z = dir.join(name);
    std::fs::create_dir_all(&z).unwrap();
    std::fs::write(
        z.join("zarr.json"),
        format!(
            r#"{{"zarr_format":3,"node_type":"array","shape":{shape},"data_type":"float64",
 "chunk_grid":{{"name":"regular","configuration":{{"chunk_shape":{chunks}}}}},
 "chunk_key_encoding":{{"name":"default","configuration":{{"separator":"/"}}}},
 "fill_value":{fill},"codecs":[{{"name":"bytes","configuration":{{"endian":"little"}}}}]}}"#
        ),
    )
    .unwrap();
}

fn hostile_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    hostile(dir.path(), "huge.zarr", "[2147483648,2147483648]", "[1,1]", "0.0");
    hostile(dir.path(), "tiny.zarr", "[20000000]", "[1]", "1.5");
    hostile(dir.path(), "wide.zarr", "[2,134217728]", "[1,1048576]", "1.5");
    dir
}

#[test]
fn cat_with_slices_of_hostile_metadata_streams_in_bounded_memory() {
    let dir = hostile_dir();
    let d = dir.path();
    // A row of 2^31 elements: summarized from its six printed elements.
    let Some(r) = check(d, &["cat", "huge.zarr", "--slice", "0"], 60) else { return };
    assert_eq!(r.stdout, "[0.0 0.0 0.0 ... 0.0 0.0 0.0]\n");
    // Far-apart elements: 22 × 22 of them, never their bounding box.
    let r = check(d, &["cat", "huge.zarr", "--slice", "::100000000,::100000000"], 60).unwrap();
    assert!(r.stdout.starts_with("[[0.0 0.0 0.0"), "{}", r.stdout);
    assert_eq!(r.stdout.lines().count(), 22);
    // Strided and reversed, summarized and in full.
    let r = check(d, &["cat", "wide.zarr", "--slice", ":,::-100000000"], 60).unwrap();
    assert_eq!(r.stdout, "[[1.5 1.5]\n [1.5 1.5]]\n");
    let r = check(d, &["cat", "wide.zarr", "--slice", "1,::7"], 60).unwrap();
    assert_eq!(r.stdout, "[1.5 1.5 1.5 ... 1.5 1.5 1.5]\n");
    let r = check(d, &["cat", "huge.zarr", "--slice", "7,5:2005:2", "--all"], 60).unwrap();
    assert_eq!(r.stdout.split_whitespace().count(), 1000);
    // The whole of a 2^62-element array, or of one row, in JSON: stopped by the time limit,
    // printing all the while, never holding a row.
    for args in
        [&["cat", "huge.zarr", "--json"][..], &["cat", "huge.zarr", "--slice", "3", "--json"]]
    {
        let r = check(d, args, 8).unwrap();
        // What was printed before the time limit (possibly nothing on a loaded machine).
        let head = &r.stdout[..r.stdout.len().min(10)];
        assert!("[[0.0,0.0,0.0".starts_with(head) || "[0.0,0.0,0".starts_with(head), "{args:?}");
    }
}

#[test]
fn stats_and_info_of_hostile_metadata_stay_bounded() {
    let dir = hostile_dir();
    let d = dir.path();
    let Some(r) = check(d, &["info", "huge.zarr"], 60) else { return };
    assert!(r.stdout.contains("[2147483648, 2147483648]"), "{}", r.stdout);
    check(d, &["info", "tiny.zarr"], 60).unwrap();
    // 2·10^7 and 2^62 one-element chunks: far more than a test's time; memory is judged.
    check(d, &["stats", "tiny.zarr"], 8).unwrap();
    check(d, &["stats", "huge.zarr", "--json"], 8).unwrap();
}

#[test]
fn copy_to_zarr_memory_does_not_grow_with_the_number_of_chunks() {
    let dir = hostile_dir();
    let d = dir.path();
    // One-element chunks read from a mapped file, all of them the fill value (so nothing is
    // written), 5,000 and ten times as many: the peak of the larger copy is that of the
    // smaller one (it grew by about 280 bytes a chunk, 12 MiB here, while a batch could hold
    // 32,768 blocks), and both finish under the bound.
    let mut peaks = Vec::new();
    for n in [5_000, 50_000] {
        let zeros = ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&[n]));
        let src = format!("zeros{n}.npy");
        let dst = format!("z{n}.zarr");
        larder::write_npy(d.join(&src), &zeros).unwrap();
        let Some(r) = check(d, &["copy", &src, &dst, "--chunks", "1", "-q"], 600) else {
            return;
        };
        assert!(r.status.is_some(), "the copy of {n} chunks did not finish in 10 minutes");
        let z = larder::ZarrArray::<f64>::open(d.join(&dst)).unwrap();
        assert_eq!(larder::ArrayRead::shape(&z), &[n]);
        peaks.push(r.peak_kib);
    }
    assert!(
        peaks[1] <= peaks[0] + 4 * 1024,
        "peak RSS {} KiB for 50,000 chunks, {} KiB for 5,000: memory grows with the chunk count",
        peaks[1],
        peaks[0]
    );
    // The hostile sources themselves, for as long as the test allows.
    check(d, &["copy", "tiny.zarr", "t.zarr", "-q"], 8).unwrap();
    check(d, &["copy", "huge.zarr", "h.zarr", "-q"], 8).unwrap();
}
