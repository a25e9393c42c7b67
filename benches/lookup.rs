//! A point lookup through a sorted index, warm: `Filter::new(&ds, "k = v")` (parse, bind, open
//! the zone maps and the sorted index, plan the probe) and its matches, on a dataset whose
//! `k` is random (the zone maps rule nothing out; the index finds the row). The target is at
//! most 1 ms. For comparison, the same filter forced to a full scan.
//!
//! `LARDER_BENCH_ROWS` sets the rows (default 10,000,000: an 80 MB column).
#![allow(missing_docs, clippy::many_single_char_names)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use larder::query::{Access, Filter, PlanChoice};
use larder::{Dataset, NpyWriter};

fn bench(c: &mut Criterion) {
    let rows: usize =
        std::env::var("LARDER_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    // A one-column dataset through convert (so the manifest is the real one), then the column
    // rewritten with random keys of the same size and the indexes built over it.
    let csv = dir.path().join("k.csv");
    std::fs::write(&csv, "k\n0\n").expect("csv");
    let ds = dir.path().join("d");
    larder::ConvertOptions::new().convert(&csv, &ds, &mut |_| {}).expect("convert");
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let keys: Vec<i64> = (0..rows)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 2).cast_signed()
        })
        .collect();
    let mut w = NpyWriter::<i64>::create(ds.join("k.npy"), &[]).expect("create");
    w.append(&keys).expect("write");
    w.finish().expect("finish");
    let manifest = ds.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).expect("read")).expect("json");
    m["rows"] = rows.into();
    m["rows_read"] = rows.into();
    std::fs::write(&manifest, serde_json::to_vec(&m).expect("json")).expect("write");
    larder::zones::build(&ds).expect("zone maps");
    larder::ops::sort::build_sorted_index(&ds, "k", 256 << 20).expect("sorted index");
    let dataset = Dataset::open(&ds).expect("open");
    let expr = format!("k = {}", keys[rows / 3]);
    let f = Filter::new(&dataset, &expr).expect("filter");
    assert_eq!(f.plan().access, Access::IndexProbe, "{}", f.plan());
    assert_eq!(f.matches(0..rows as u64).expect("matches"), [(rows / 3) as u64]);

    let mut g = c.benchmark_group("lookup");
    g.bench_function(BenchmarkId::new("sorted_index_point", rows), |b| {
        b.iter(|| {
            let f = Filter::new(&dataset, &expr).expect("filter");
            f.matches(0..rows as u64).expect("matches")
        });
    });
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("full_scan_point", rows), |b| {
        b.iter(|| {
            let f = Filter::with_plan(&dataset, &expr, PlanChoice::FullScan).expect("filter");
            f.matches(0..rows as u64).expect("matches")
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
