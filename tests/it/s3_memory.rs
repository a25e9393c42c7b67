//! Uploads into Zarr in object storage keep within the documented memory at every codec level
//! and `--concurrency`: a zstd-19 compression context is about 20 MiB for a 1 MiB chunk, so
//! compressing one chunk per request in flight (16 by default) once took 350–630 MB. The peak
//! RSS of the binary stays under 256 MiB, and the array reads back byte for byte.

#![cfg(feature = "s3")]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::s3::s3_larder;
use crate::s3::server::Moto;
use crate::support::python;

const BUCKET: &str = "larder-mem";

/// The bound, KiB.
const BOUND_KIB: u64 = 256 * 1024;

/// Runs `larder copy args` against `endpoint` in `dir`, reading its `VmHWM` as it goes; the
/// peak in KiB, `None` where /proc has none. Fails the test when the copy fails.
fn peak_of_copy(endpoint: &str, dir: &Path, args: &[&str]) -> Option<u64> {
    let mut child = s3_larder(endpoint)
        .arg("copy")
        .args(args)
        .arg("-q")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let start = Instant::now();
    let mut peak = None;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        {
            peak = Some(peak.unwrap_or(0).max(kib));
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(start.elapsed() < Duration::from_mins(10), "copy {args:?} ran past 10 minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "copy {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    if peak.is_none() {
        eprintln!("skipped: no VmHWM in {status_file} (memory tests need Linux /proc)");
    }
    peak
}

/// Writes an incompressible `.npy` of `shape` and dtype `descr` (`<f8`, `<i4`) with numpy.
fn write_npy(py: &Path, path: &Path, descr: &str, shape: &[usize]) {
    let shape: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let code = format!(
        "import numpy as np, sys\n\
         g = np.random.default_rng(3)\n\
         a = g.integers(-2**31, 2**31, size=({},), dtype='<i8').astype('{descr}') \
         if '{descr}' != '<f8' else g.standard_normal(({},))\n\
         np.save(sys.argv[1], a)",
        shape.join(","),
        shape.join(",")
    );
    let o = std::process::Command::new(py).args(["-c", &code]).arg(path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Checks that `s3://BUCKET/key` reads back as the bytes of `src`.
fn reads_back(endpoint: &str, dir: &Path, key: &str, src: &Path) {
    let back = dir.join("back.npy");
    let o = s3_larder(endpoint)
        .args(["copy", &format!("s3://{BUCKET}/{key}")])
        .arg(&back)
        .arg("-q")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&back).unwrap() == std::fs::read(src).unwrap(), "{key} differs");
    std::fs::remove_file(back).unwrap();
}

#[test]
fn uploads_at_zstd_19_and_gzip_9_stay_under_256_mib_at_any_concurrency() {
    let Some(py) = python() else { return };
    let moto = Moto::start(&py, BUCKET);
    let ep = moto.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let f8 = dir.path().join("f8.npy");
    write_npy(&py, &f8, "<f8", &[2_000_000]); // 16 MB, 16 chunks of 1 MiB
    let i4 = dir.path().join("i4.npy");
    write_npy(&py, &i4, "<i4", &[3000, 1500]); // 18 MB, 2-d chunks of 1 MiB
    let cases: [(&str, &Path, &[&str]); 4] = [
        ("zstd19.zarr", &f8, &["--chunks", "131072", "--codec", "zstd:19"]),
        (
            "zstd19-c64.zarr",
            &i4,
            &["--chunks", "256,1024", "--codec", "zstd:19", "--concurrency", "64"],
        ),
        (
            "zstd13-c48.zarr",
            &f8,
            &["--chunks", "262144", "--codec", "zstd:13", "--concurrency", "48"],
        ),
        (
            "gzip9-c64.zarr",
            &i4,
            &["--chunks", "512,512", "--codec", "gzip:9", "--concurrency", "64"],
        ),
    ];
    for (key, src, options) in cases {
        let url = format!("s3://{BUCKET}/{key}");
        let mut args = vec![src.to_str().unwrap(), url.as_str()];
        args.extend_from_slice(options);
        let Some(peak) = peak_of_copy(&ep, dir.path(), &args) else { return };
        eprintln!("{key}: peak RSS {} MiB", peak / 1024);
        assert!(peak < BOUND_KIB, "{key}: peak RSS {peak} KiB, over {BOUND_KIB} KiB");
        reads_back(&ep, dir.path(), key, src);
    }
}
