//! Benchmarks of the `.npy` layer: open + view latency (which must not depend on the file's
//! size) and a sequential sum over a mapped array against reading the file into a `Vec` first.

#![allow(missing_docs, clippy::cast_precision_loss)] // criterion_main! generates an undocumented main

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use larder::{Access, MmapArray, NpyWriter};

/// Writes `n` pseudo-random f64 values (fixed seed, xorshift) to `path` in 1 MiB appends.
fn make_file(path: &Path, n: usize) {
    let mut w = NpyWriter::<f64>::create(path, &[]).unwrap();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut buf = Vec::with_capacity(1 << 17);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf.push((x >> 11) as f64 / (1u64 << 53) as f64);
        if buf.len() == buf.capacity() {
            w.append(&buf).unwrap();
            buf.clear();
        }
    }
    w.append(&buf).unwrap();
    w.finish().unwrap();
}

fn files(dir: &Path, sizes_mib: &[usize]) -> Vec<(usize, PathBuf)> {
    sizes_mib
        .iter()
        .map(|&mib| {
            let p = dir.join(format!("{mib}mib.npy"));
            make_file(&p, mib << 17);
            (mib, p)
        })
        .collect()
}

fn open_and_view(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("open_view");
    for (mib, path) in files(dir.path(), &[1, 64, 512]) {
        g.bench_with_input(BenchmarkId::from_parameter(format!("{mib}MiB")), &path, |b, p| {
            b.iter(|| {
                let a = MmapArray::<f64>::open(p).unwrap();
                let v = a.view().unwrap();
                black_box(v[[v.len() / 2]])
            });
        });
    }
    g.finish();
}

fn sequential_sum(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("sum");
    g.sample_size(20);
    for (mib, path) in files(dir.path(), &[256]) {
        g.throughput(Throughput::Bytes((mib as u64) << 20));
        g.bench_with_input(BenchmarkId::new("mmap", format!("{mib}MiB")), &path, |b, p| {
            b.iter(|| {
                let a = MmapArray::<f64>::open(p).unwrap();
                a.advise(Access::Sequential).unwrap();
                black_box(a.as_slice().unwrap().iter().sum::<f64>())
            });
        });
        g.bench_with_input(BenchmarkId::new("read_to_vec", format!("{mib}MiB")), &path, |b, p| {
            b.iter(|| {
                let bytes = std::fs::read(p).unwrap();
                let h = larder::npy::Header::parse(&bytes).unwrap();
                // A Vec<u8> is not 8-aligned in general: decode the values as a reader would.
                let sum: f64 = bytes[h.data_offset..]
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                    .sum();
                black_box(sum)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, open_and_view, sequential_sum);
criterion_main!(benches);
