//! Streaming reductions over a memory-mapped `f64` array: the one-read summary (count, sum,
//! mean, min, max, NaN count), the full summary (adding std), a 100-bin histogram, and the
//! one-read summary with a 100-bin histogram of given range in the same pass; the same kernels over an in-memory slice
//! show what is kernel time and what is page-fault time.
//!
//! `LARDER_BENCH_MB` sets the array size in MiB (default 64).
#![allow(missing_docs, clippy::many_single_char_names)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use larder::compute::{self, Bins};
use larder::{MmapArray, NpyWriter};
use larder::{MmapChunks, SliceChunks};

fn data(n: usize) -> Vec<f64> {
    // A fixed-seed xorshift: values in [-1, 1) plus an offset, no NaN.
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            #[allow(clippy::cast_precision_loss)]
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            2.0 * u - 1.0 + 3.0
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mb: usize =
        std::env::var("LARDER_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let n = mb * (1 << 20) / 8;
    let values = data(n);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("x.npy");
    let mut w = NpyWriter::<f64>::create(&path, &[]).expect("create");
    w.append(&values).expect("write");
    w.finish().expect("finish");
    let a = MmapArray::<f64>::open(&path).expect("open");
    let bins = Bins::Uniform { lo: 2.0, hi: 4.0, count: 100 };

    let mut g = c.benchmark_group("compute");
    g.throughput(Throughput::Bytes((n * 8) as u64));
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("basic_mmap", mb), |b| {
        b.iter(|| compute::summary_basic(&MmapChunks::new(&a).expect("chunks")).expect("basic"));
    });
    g.bench_function(BenchmarkId::new("summary_mmap", mb), |b| {
        b.iter(|| compute::summary(&MmapChunks::new(&a).expect("chunks")).expect("summary"));
    });
    g.bench_function(BenchmarkId::new("histogram_mmap", mb), |b| {
        b.iter(|| compute::histogram(&MmapChunks::new(&a).expect("chunks"), &bins).expect("hist"));
    });
    // The histogram in the one-read summary's pass: given bins, no std.
    let mut fused = compute::StatsOptions::new();
    fused.bins(100).range(2.0, 4.0).std(false);
    g.bench_function(BenchmarkId::new("basic_histogram_mmap", mb), |b| {
        b.iter(|| fused.compute(&path).expect("fused"));
    });
    let chunk = larder::npy::CHUNK_BYTES / 8;
    g.bench_function(BenchmarkId::new("basic_memory", mb), |b| {
        b.iter(|| compute::summary_basic(&SliceChunks::new(&values, chunk)).expect("basic"));
    });
    g.bench_function(BenchmarkId::new("summary_memory", mb), |b| {
        b.iter(|| compute::summary(&SliceChunks::new(&values, chunk)).expect("summary"));
    });
    g.bench_function(BenchmarkId::new("histogram_memory", mb), |b| {
        b.iter(|| compute::histogram(&SliceChunks::new(&values, chunk), &bins).expect("hist"));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
