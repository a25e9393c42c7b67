//! The requests a read sends to object storage, counted at a proxy in front of the local S3
//! server: one GET per chunk (never a HEAD first), neighbouring ranges of one object in one
//! GET, and nothing sent again for what the chunk cache holds; every read's values checked
//! against the source.

use std::path::PathBuf;

use crate::s3::server::{Moto, Proxy, Request};
use crate::s3::{s3_larder, text, write_f64};
use crate::support::python;

const BUCKET: &str = "larder-requests";

/// A server with one 1-d float64 array copied to it as `plain.zarr` (chunks of 1000),
/// `sharded.zarr` (shards of 8000 holding chunks of 1000) and `a.npy`, and a counting proxy.
struct Fixture {
    _moto: Moto,
    proxy: Proxy,
    dir: tempfile::TempDir,
    values: Vec<f64>,
}

const N: usize = 40_000;

fn fixture() -> Option<Fixture> {
    let py = python()?;
    let moto = Moto::start(&py, BUCKET);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.npy");
    write_f64(&src, &[N], 28);
    for (name, layout) in [
        ("plain.zarr", &["--chunks", "1000", "--codec", "zstd:3"][..]),
        ("sharded.zarr", &["--chunks", "1000", "--shard", "8000", "--codec", "zstd:3"]),
        ("a.npy", &[]),
    ] {
        let o = s3_larder(&moto.endpoint())
            .arg("copy")
            .arg(&src)
            .arg(format!("s3://{BUCKET}/{name}"))
            .args(layout)
            .arg("-q")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let values = larder::read_npy::<f64>(&src).unwrap().into_raw_vec_and_offset().0;
    let proxy = Proxy::start(moto.port, crate::s3::server::Faults::default());
    Some(Fixture { _moto: moto, proxy, dir, values })
}

impl Fixture {
    /// `larder bench read` of `len` elements at each of `starts` from `name`, through the
    /// proxy: the sum it prints, checked against the source's, and the requests it sent.
    fn reads(&self, name: &str, starts: &[usize], len: usize, extra: &[&str]) -> Vec<Request> {
        let offsets = self.offsets(starts);
        self.proxy.take_requests();
        let o = s3_larder(&self.proxy.endpoint())
            .args(["bench", "read", &format!("s3://{BUCKET}/{name}"), "--json", "--len"])
            .arg(len.to_string())
            .arg("--offsets")
            .arg(&offsets)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let out: serde_json::Value =
            serde_json::from_slice(o.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
        let want: f64 = starts.iter().map(|&s| self.values[s..s + len].iter().sum::<f64>()).sum();
        let got = out["sum"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{name}: sum {got}, want {want}");
        assert_eq!(out["reads"].as_u64(), Some(starts.len() as u64));
        self.proxy.take_requests()
    }

    fn offsets(&self, starts: &[usize]) -> PathBuf {
        let path = self.dir.path().join("offsets.npy");
        let v: Vec<i64> = starts.iter().map(|&s| i64::try_from(s).unwrap()).collect();
        larder::write_npy(&path, &ndarray::Array1::from(v)).unwrap();
        path
    }
}

/// The requests for chunk (or shard) objects of `name`: `(method, range)`.
fn chunk_requests(log: &[Request], name: &str) -> Vec<(String, Option<String>)> {
    let prefix = format!("/{BUCKET}/{name}/c/");
    log.iter()
        .filter(|r| r.path.starts_with(&prefix))
        .map(|r| (r.method.clone(), r.range.clone()))
        .collect()
}

fn count(log: &[(String, Option<String>)], method: &str) -> usize {
    log.iter().filter(|(m, _)| m == method).count()
}

fn heads(log: &[Request]) -> Vec<&Request> {
    log.iter().filter(|r| r.method == "HEAD").collect()
}

/// Starts of reads of `len` elements inside one chunk of 1000 each, in chunks picked
/// pseudo-randomly (one after another, no chunk read twice in a row).
fn inside_chunks(count: usize, len: usize, seed: usize) -> Vec<usize> {
    (0..count)
        .map(|i| ((i * 7 + seed) % (N / 1000)) * 1000 + (i * 37 + seed) % (1000 - len))
        .collect()
}

#[test]
fn each_random_read_of_a_zarr_chunk_is_one_get_and_no_head() {
    let Some(f) = fixture() else { return };
    let starts = inside_chunks(25, 100, 3);
    let log = f.reads("plain.zarr", &starts, 100, &[]);
    let chunks = chunk_requests(&log, "plain.zarr");
    assert_eq!(count(&chunks, "GET"), 25, "{chunks:?}");
    assert_eq!(chunks.len(), 25, "{chunks:?}");
    // Opening the array (its metadata) is a few requests, once.
    assert!(log.len() <= 25 + 4, "{log:#?}");
    // Variant: other lengths, reads that cross a chunk boundary cost a GET per chunk.
    let starts: Vec<usize> = (0..12).map(|i| (i * 3 % 39) * 1000 + 950).collect();
    let log = f.reads("plain.zarr", &starts, 120, &[]);
    let chunks = chunk_requests(&log, "plain.zarr");
    assert_eq!((count(&chunks, "GET"), chunks.len()), (24, 24), "{chunks:?}");
    assert!(heads(&log).iter().all(|r| !r.path.contains("/c/")), "{log:#?}");
}

#[test]
fn a_read_inside_a_shard_is_one_get_once_its_index_is_known_and_no_head() {
    let Some(f) = fixture() else { return };
    let starts = inside_chunks(10, 300, 5);
    let shards: std::collections::BTreeSet<usize> = starts.iter().map(|s| s / 8000).collect();
    let log = f.reads("sharded.zarr", &starts, 300, &[]);
    let chunks = chunk_requests(&log, "sharded.zarr");
    // Each shard's index once (a suffix range), then one bounded range per read.
    let suffixes = chunks.iter().filter(|(_, r)| r.as_deref().is_some_and(|r| r.contains("=-")));
    assert_eq!(suffixes.count(), shards.len(), "{chunks:?}");
    assert_eq!((count(&chunks, "GET"), chunks.len()), (10 + shards.len(), 10 + shards.len()));
    assert!(heads(&log).is_empty(), "{log:#?}");
    // Variant: every read twice; with a cache the second reads send nothing.
    let twice: Vec<usize> = starts.iter().chain(&starts).copied().collect();
    let log = f.reads("sharded.zarr", &twice, 300, &[]);
    assert_eq!(chunk_requests(&log, "sharded.zarr").len(), 20 + shards.len(), "{log:#?}");
    let log = f.reads("sharded.zarr", &twice, 300, &["--cache", "1M"]);
    assert_eq!(chunk_requests(&log, "sharded.zarr").len(), 10 + shards.len(), "{log:#?}");
}

#[test]
fn neighbouring_chunks_of_a_shard_come_in_one_get_unless_coalescing_is_off() {
    let Some(f) = fixture() else { return };
    // Inner chunks 1..=5 of shard 2 (elements 17_500..21_500... within 16_000..24_000).
    let starts = [17_200usize];
    let log = f.reads("sharded.zarr", &starts, 4_500, &[]);
    let chunks = chunk_requests(&log, "sharded.zarr");
    assert_eq!(chunks.len(), 2, "the index and one GET for 5 chunks: {chunks:?}");
    let log = f.reads("sharded.zarr", &starts, 4_500, &["--coalesce", "0"]);
    let chunks = chunk_requests(&log, "sharded.zarr");
    assert_eq!(chunks.len(), 1 + 5, "the index and a GET per chunk: {chunks:?}");
    // Variant: two shards, other lengths.
    // Variant: two shards, other lengths: each shard's index and one GET for its chunks.
    let log = f.reads("sharded.zarr", &[6_100, 30_000], 1_500, &[]);
    assert_eq!(chunk_requests(&log, "sharded.zarr").len(), 2 + 2, "{log:#?}");
}

#[test]
fn the_chunk_cache_answers_repeated_reads_within_its_budget() {
    let Some(f) = fixture() else { return };
    let starts: Vec<usize> = (0..10).map(|i| 3_000 + i * 50).collect();
    let log = f.reads("plain.zarr", &starts, 40, &["--cache", "64M"]);
    assert_eq!(chunk_requests(&log, "plain.zarr").len(), 1, "{log:#?}");
    // A budget smaller than one chunk (8 kB, incompressible) holds nothing.
    let log = f.reads("plain.zarr", &starts, 40, &["--cache", "4K"]);
    assert_eq!(chunk_requests(&log, "plain.zarr").len(), 10, "{log:#?}");
    // Room for two chunks: reads cycling over three evict each other (least recently used).
    let cycle: Vec<usize> = (0..9).map(|i| (i % 3) * 1000 + 10).collect();
    let log = f.reads("plain.zarr", &cycle, 40, &["--cache", "17K"]);
    assert_eq!(chunk_requests(&log, "plain.zarr").len(), 9, "{log:#?}");
    let log = f.reads("plain.zarr", &cycle, 40, &["--cache", "25K"]);
    assert_eq!(chunk_requests(&log, "plain.zarr").len(), 3, "{log:#?}");
    // The default is no cache.
    let log = f.reads("plain.zarr", &starts, 40, &[]);
    assert_eq!(chunk_requests(&log, "plain.zarr").len(), 10, "{log:#?}");
}

#[test]
fn random_reads_of_an_npy_object_are_one_get_each_and_no_head() {
    let Some(f) = fixture() else { return };
    let starts = inside_chunks(30, 64, 11);
    let log = f.reads("a.npy", &starts, 64, &[]);
    assert!(heads(&log).is_empty(), "{log:#?}");
    let gets = log.iter().filter(|r| r.path == format!("/{BUCKET}/a.npy")).count();
    // Opening reads the header: at most two requests.
    assert!((30..=32).contains(&gets), "{log:#?}");
    assert_eq!(log.len(), gets, "{log:#?}");
}
