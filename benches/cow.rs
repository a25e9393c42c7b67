//! Copy-on-write clones: clone cost against size, the dirty-page scan, saving and reopening a
//! 1% delta. Whole-cycle comparisons with numpy are `larder bench cow` and
//! `benches/peers/cow_numpy.py`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
#[path = "../src/bench/pattern.rs"]
#[allow(dead_code, unreachable_pub)] // shared with `larder bench cow`, which uses the rest
mod pattern;

use larder::{MmapArray, page_size};
use pattern::{Pattern, element_in_page, select_pages};

/// A zero-filled `<f8` base of `bytes` bytes of data (sparse on disk).
fn base(dir: &Path, bytes: usize) -> PathBuf {
    let p = dir.join(format!("base-{bytes}.npy"));
    MmapArray::<f64>::create(&p, &[bytes / 8]).unwrap().close().unwrap();
    p
}

/// A clone of `base` with one element written in 1% of its pages (strided).
fn clone_with_writes(base: &Path) -> MmapArray<f64> {
    let mut c = MmapArray::<f64>::open_cow(base).unwrap();
    let offset = c.header().data_offset;
    let pages = std::fs::metadata(base).unwrap().len().div_ceil(page_size() as u64);
    let chosen = select_pages(usize::try_from(pages).unwrap(), 0.01, Pattern::Strided, 42);
    let mut v = c.view_mut().unwrap();
    let data = v.as_slice_mut().unwrap();
    for p in chosen {
        data[element_in_page(p, offset, page_size())] = 1.0;
    }
    drop(v);
    c
}

fn clone(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("cow/clone");
    for mib in [1usize, 64] {
        let p = base(dir.path(), mib << 20);
        g.bench_with_input(BenchmarkId::from_parameter(format!("{mib}MiB")), &p, |b, p| {
            b.iter(|| black_box(MmapArray::<f64>::open_cow(p).unwrap()));
        });
    }
    g.finish();
}

fn dirty_scan(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let p = base(dir.path(), 64 << 20);
    let clone = clone_with_writes(&p);
    c.bench_function("cow/dirty_pages/64MiB-1%", |b| {
        b.iter(|| black_box(clone.dirty_pages().unwrap()));
    });
}

fn save_and_reopen(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let p = base(dir.path(), 64 << 20);
    let clone = clone_with_writes(&p);
    let d = dir.path().join("d.delta");
    c.bench_function("cow/save_delta/64MiB-1%", |b| {
        b.iter(|| black_box(clone.save_delta(&d).unwrap()));
    });
    drop(clone);
    // Reading one element looks its page up in the delta's index; a whole view applies the
    // delta (checks every page, maps each run of pages).
    c.bench_function("cow/open_with_delta_get/64MiB-1%", |b| {
        b.iter(|| {
            let a = MmapArray::<f64>::open_with_delta(&p, &d).unwrap();
            black_box(a.get(&[0]).unwrap())
        });
    });
    c.bench_function("cow/open_with_delta/64MiB-1%", |b| {
        b.iter(|| {
            let a = MmapArray::<f64>::open_with_delta(&p, &d).unwrap();
            black_box(a.view().unwrap()[[0]])
        });
    });
}

criterion_group!(benches, clone, dirty_scan, save_and_reopen);
criterion_main!(benches);
