//! `larder convert` throughput on generated CSV (fixed seed), whole conversions into a
//! temporary directory. Whole-process comparisons with other tools: `benches/convert.sh`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use larder::convert::{ColumnType, ConvertOptions};

/// `timestamp,machine,region,status,duration,bytes` rows from a small LCG.
fn wide_csv(rows: usize) -> String {
    const REGIONS: [&str; 4] = ["eu-west", "us-east", "ap-south", "sa-east"];
    let mut s = String::from("timestamp,machine,region,status,duration,bytes\n");
    let mut x: u64 = 42;
    for i in 0..rows {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let r = x >> 33;
        let region = REGIONS[usize::try_from(r % 4).unwrap_or(0)];
        let _ = writeln!(
            s,
            "{},m{},{region},{},{}.{:04},{}",
            1_700_000_000 + i / 16,
            r % 100,
            [200, 404, 500][usize::try_from(r % 3).unwrap_or(0)],
            r % 10,
            r % 10_000,
            r % 100_000_000
        );
    }
    s
}

fn convert(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("convert_wide");
    group.sample_size(10);
    for rows in [20_000usize, 100_000] {
        let csv = dir.path().join(format!("wide-{rows}.csv"));
        let text = wide_csv(rows);
        std::fs::write(&csv, &text).unwrap();
        group.throughput(Throughput::Bytes(text.len() as u64));
        let mut n = 0;
        group.bench_with_input(BenchmarkId::from_parameter(rows), &csv, |b, csv| {
            b.iter(|| {
                n += 1;
                let out = dir.path().join(format!("out-{n}"));
                let mut o = ConvertOptions::new();
                o.column_type("machine", ColumnType::Cat).column_type("region", ColumnType::Cat);
                let r = o.convert(csv, &out, &mut |_| {}).unwrap();
                std::fs::remove_dir_all(&out).unwrap();
                black_box(r.manifest.rows)
            });
        });
    }
    group.finish();
}

/// One column of `n` distinct 8-byte IDs (`S0000000`, `S0000001`, …) and a count: keys that
/// differ only in their last bytes, which a weak hash puts in one bucket chain.
fn ids_csv(n: usize) -> String {
    let mut s = String::from("sku,qty\n");
    for i in 0..n {
        let _ = writeln!(s, "S{i:07},{}", i % 7);
    }
    s
}

/// The same ID column as `cat` (a dictionary of 1M categories) and as `str`: the dictionary
/// should cost little more than storing the strings (target: within 1.5x).
fn convert_ids(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("convert_ids");
    group.sample_size(10);
    let keys = 1_000_000usize;
    let csv = dir.path().join("ids.csv");
    let text = ids_csv(keys);
    std::fs::write(&csv, &text).unwrap();
    group.throughput(Throughput::Bytes(text.len() as u64));
    let mut run = 0;
    for (name, ty) in [("cat", ColumnType::Cat), ("str", ColumnType::Str)] {
        group.bench_with_input(BenchmarkId::new(name, keys), &csv, |bencher, csv| {
            bencher.iter(|| {
                run += 1;
                let out = dir.path().join(format!("ids-{run}"));
                let mut o = ConvertOptions::new();
                o.column_type("sku", ty).max_categories(2 * keys as u64, 1 << 30);
                let r = o.convert(csv, &out, &mut |_| {}).unwrap();
                std::fs::remove_dir_all(&out).unwrap();
                black_box(r.manifest.rows)
            });
        });
    }
    floors(&mut group, keys);
    group.finish();
}

/// The floors of the two conversions above, measured in the same run: what storing the keys
/// alone costs (`floor_copy`: the bytes into one buffer and their end offsets, what a `str`
/// column must do at least) and what coding them alone costs (`floor_hash_insert`: each key
/// inserted with its code into a `HashMap<&[u8], u32>` hashed by foldhash, larder's dictionary
/// hasher: the least any hash dictionary does per distinct key). `cat` cannot come
/// closer to `str` than these two come to each other, whatever else it removes.
fn floors(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    keys: usize,
) {
    use std::collections::HashMap;

    let ids: Vec<String> = (0..keys).map(|i| format!("S{i:07}")).collect();
    group.bench_function(BenchmarkId::new("floor_copy", keys), |bencher| {
        bencher.iter(|| {
            let mut bytes = Vec::new();
            let mut ends = Vec::new();
            for id in &ids {
                bytes.extend_from_slice(black_box(id.as_bytes()));
                ends.push(bytes.len() as u64);
            }
            black_box((bytes.len(), ends.len()))
        });
    });
    group.bench_function(BenchmarkId::new("floor_hash_insert", keys), |bencher| {
        bencher.iter(|| {
            let mut codes: HashMap<&[u8], u32, foldhash::fast::RandomState> = HashMap::default();
            for (code, id) in ids.iter().enumerate() {
                codes.insert(black_box(id.as_bytes()), u32::try_from(code).unwrap_or(u32::MAX));
            }
            black_box(codes.len())
        });
    });
}

criterion_group!(benches, convert, convert_ids);
criterion_main!(benches);
