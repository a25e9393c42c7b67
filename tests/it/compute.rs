//! Streaming reductions, histograms, quantiles, axis statistics and group-by, checked against
//! exact or naive references.
// Exact float comparisons are the point of several checks; test data mixes integer and float.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::float_cmp,
    clippy::many_single_char_names,
    clippy::needless_pass_by_value,
    clippy::semicolon_if_nothing_returned
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{AnyNpy, Rng};
use larder::compute::{self, Agg, Bins, GroupKey, Number, Reduce, StatsOptions, Summary};
use larder::{Complex, MmapArray, NpyWriter, f16};
use larder::{MmapChunks, SliceChunks};
use proptest::prelude::*;

fn rel(a: f64, b: f64) -> f64 {
    if a == b { 0.0 } else { (a - b).abs() / b.abs().max(f64::MIN_POSITIVE) }
}

/// Data `x = k / 2^30` with integer `k`, so that sums and squared deviations are exact in
/// `i128`: the exact reference needs no big floats.
fn exact_case(n: usize, offset: i64, bits: u32, seed: u64) -> (Vec<f64>, f64, f64, f64) {
    let mut rng = Rng(seed);
    let ks: Vec<i64> = (0..n).map(|_| offset + rng.int(bits)).collect();
    let scale = 2f64.powi(-30);
    let x: Vec<f64> = ks.iter().map(|&k| k as f64 * scale).collect();
    let s: i128 = ks.iter().map(|&k| i128::from(k)).sum();
    // Deviations from the mean, exactly: n*Σk² - S² = Σ_i Σ_j (k_i - k_j)² / 2, computed as
    // Σ (n*k - S)² / n, with every term an exact i128.
    let nn = n as i128;
    let num: i128 = ks.iter().map(|&k| (nn * i128::from(k) - s).pow(2) / nn).sum();
    let sum = s as f64 * scale;
    let mean = (s as f64 / n as f64) * scale;
    let var = (num as f64 / (nn * nn) as f64) * scale * scale;
    (x, sum, mean, var.sqrt())
}

#[test]
fn sum_mean_std_are_within_1e12_of_an_exact_reference() {
    // Offsets make the variance ill-conditioned (mean ≫ spread); small chunks force many merges.
    for (n, offset, bits, chunk) in [
        (100_000, 0, 40, 4096),
        (100_000, 1 << 40, 31, 1000),
        (250_001, -(1 << 45), 36, 65_537),
        (10_007, 3 << 30, 20, 7),
    ] {
        let (x, sum, mean, std) = exact_case(n, offset, bits, n as u64);
        let s = compute::summary(&SliceChunks::new(&x, chunk)).unwrap();
        let Number::Float(got_sum) = s.sum else { panic!("float sum expected") };
        let Number::Float(got_mean) = s.mean else { panic!("float mean expected") };
        assert!(rel(got_sum, sum) <= 1e-12, "sum {got_sum} vs {sum} (n {n}, offset {offset})");
        assert!(rel(got_mean, mean) <= 1e-12, "mean {got_mean} vs {mean}");
        assert!(
            rel(s.std.expect("std"), std) <= 1e-12,
            "std {} vs {std} (n {n}, offset {offset})",
            s.std.expect("std")
        );
        assert_eq!((s.count, s.nan_count), (n as u64, 0));
    }
}

#[test]
fn results_are_bit_identical_whatever_the_thread_count() {
    let (x, ..) = exact_case(300_000, 12_345, 44, 7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    // Three mmap chunks: 1.5M f64 is 12 MiB.
    let big: Vec<f64> = x.iter().cycle().take(1_500_000).map(|v| v * 1.000_000_1).collect();
    write(&path, &big);
    let a = MmapArray::<f64>::open(&path).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let s1 = compute::summary(&SliceChunks::new(&x, 999)).unwrap();
            let s2 = compute::summary(&MmapChunks::new(&a).unwrap()).unwrap();
            let h = compute::histogram(
                &MmapChunks::new(&a).unwrap(),
                &Bins::Uniform { lo: -10.0, hi: 10.0, count: 33 },
            )
            .unwrap();
            (bits(&s1), bits(&s2), h)
        })
    };
    let one = run(1);
    for t in [2, 3, 8] {
        assert_eq!(run(t), one, "{t} threads");
    }
}

fn bits(s: &Summary) -> Vec<u64> {
    vec![
        s.sum.as_f64().to_bits(),
        s.mean.as_f64().to_bits(),
        s.std.expect("std").to_bits(),
        s.count,
    ]
}

/// `summary_basic` must be `summary` without std and var, bit for bit: the same lanes and merge
/// order give the same sum, and min and max are taken in its single read (also of the elements
/// after the last whole group of eight, and with NaN and infinities present).
fn basic_matches_full<T: Reduce>(x: &[T], what: &str) {
    for chunk in [1, 3, 1000, 3 * 4096 + 5] {
        let full = compute::summary(&SliceChunks::new(x, chunk)).unwrap();
        let basic = compute::summary_basic(&SliceChunks::new(x, chunk)).unwrap();
        assert_eq!((basic.std, basic.var), (None, None), "{what}");
        let without = Summary { std: None, var: None, ..full };
        assert_eq!(
            serde_json::to_string(&basic).unwrap(),
            serde_json::to_string(&without).unwrap(),
            "{what}, chunk {chunk}"
        );
        let naive_min = x.iter().map(|v| v.to_f64()).filter(|v| !v.is_nan()).reduce(f64::min);
        assert_eq!(basic.min.map(|m| m.as_f64()), naive_min, "{what}, chunk {chunk}");
    }
}

#[test]
fn the_one_read_summary_is_the_full_summary_without_std() {
    let mut rng = Rng(0x5eed);
    for len in [0usize, 1, 7, 8, 9, 127, 128, 129, 4095, 4096, 4097, 10_003] {
        let base: Vec<f64> = (0..len).map(|_| rng.int(40) as f64 / 1e3).collect();
        // The smallest and largest values last: in the tail after the last group of eight.
        let mut tail = base.clone();
        if let Some(last) = tail.last_mut() {
            *last = -1e300;
        }
        if len > 1 {
            tail[len - 2] = 1e300;
        }
        let mut nan = base.clone();
        for i in (0..len).step_by(997) {
            nan[i] = f64::NAN;
        }
        let mut inf = base.clone();
        if len > 2 {
            inf[1] = f64::INFINITY;
            inf[len / 2] = f64::NEG_INFINITY;
        }
        for (name, x) in [("plain", &base), ("tail", &tail), ("nan", &nan), ("inf", &inf)] {
            basic_matches_full(x, &format!("f64 {name} len {len}"));
            let f: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            basic_matches_full(&f, &format!("f32 {name} len {len}"));
        }
        let ints: Vec<i64> = (0..len).map(|_| rng.next() as i64).collect();
        basic_matches_full(&ints, &format!("i64 len {len}"));
        let small: Vec<u8> = ints.iter().map(|&v| v as u8).collect();
        basic_matches_full(&small, &format!("u8 len {len}"));
    }
}

fn write<T: larder::Element>(path: &Path, values: &[T]) {
    let mut w = NpyWriter::<T>::create(path, &[]).unwrap();
    w.append(values).unwrap();
    w.finish().unwrap();
}

#[test]
fn nan_is_skipped_and_counted_and_opposite_infinities_give_nan() {
    let x = [1.0, f64::NAN, 2.0, f64::NAN, 4.0];
    let s = compute::summary(&SliceChunks::new(&x, 2)).unwrap();
    assert_eq!(
        (s.count, s.nan_count, s.sum, s.mean),
        (3, 2, Number::Float(7.0), Number::Float(7.0 / 3.0))
    );
    assert_eq!((s.min, s.max), (Some(Number::Float(1.0)), Some(Number::Float(4.0))));
    let s =
        compute::summary(&SliceChunks::new(&[f64::INFINITY, 1.0, f64::NEG_INFINITY], 1)).unwrap();
    assert!(s.sum.as_f64().is_nan() && s.std.expect("std").is_nan());
    assert_eq!(s.nan_count, 0);
    let s = compute::summary(&SliceChunks::new(&[f64::INFINITY, 1.0], 1)).unwrap();
    assert_eq!(s.sum, Number::Float(f64::INFINITY));
    let s = compute::summary(&SliceChunks::new(&[f64::NAN; 5], 2)).unwrap();
    assert_eq!((s.count, s.nan_count, s.min, s.max), (0, 5, None, None));
    assert!(s.mean.as_f64().is_nan());
    let empty: [f32; 0] = [];
    let s = compute::summary(&SliceChunks::new(&empty, 2)).unwrap();
    assert_eq!((s.count, s.sum), (0, Number::Float(0.0)));
}

#[test]
fn integer_sums_are_exact_beyond_the_element_type() {
    let x = vec![i64::MAX; 1000];
    let s = compute::summary(&SliceChunks::new(&x, 77)).unwrap();
    assert_eq!(s.sum, Number::Int(1000 * i128::from(i64::MAX)));
    assert_eq!(s.std.expect("std"), 0.0);
    let x: Vec<u64> = (0..5000).map(|i| u64::MAX - i).collect();
    let s = compute::summary(&SliceChunks::new(&x, 1000)).unwrap();
    let exact: i128 = x.iter().map(|&v| i128::from(v)).sum();
    assert_eq!(s.sum, Number::Int(exact));
    assert_eq!(s.min, Some(Number::Int(i128::from(u64::MAX - 4999))));
    let b = [true, false, true, true];
    let s = compute::summary(&SliceChunks::new(&b, 3)).unwrap();
    // The sum of bools is a count; their min and max are bools (as pandas has them).
    assert_eq!(
        (s.sum, s.max, s.min),
        (Number::Int(3), Some(Number::Bool(true)), Some(Number::Bool(false)))
    );
}

/// A naive reference summary of owned values.
fn reference<T: Reduce>(v: &[T]) -> (u64, u64, f64, i128, f64, Option<f64>, Option<f64>) {
    let vals: Vec<f64> = v.iter().map(|x| x.to_f64()).filter(|x| !x.is_nan()).collect();
    let n = vals.len();
    let sum: f64 = vals.iter().sum();
    let isum: i128 = if T::IS_FLOAT { 0 } else { v.iter().map(|x| x.to_i128()).sum() };
    let mean = sum / n as f64;
    let var = vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
    let min = vals.iter().copied().reduce(f64::min);
    let max = vals.iter().copied().reduce(f64::max);
    (n as u64, (v.len() - n) as u64, sum, isum, var.sqrt(), min, max)
}

fn check_real<T: Reduce>(a: &MmapArray<T>, s: &Summary) {
    let v = a.read_all().unwrap();
    let v: Vec<T> = v.iter().copied().collect();
    let (n, nan, sum, isum, std, min, max) = reference(&v);
    let what = a.path().display().to_string();
    assert_eq!((s.count, s.nan_count), (n, nan), "{what}");
    let scale: f64 = v.iter().map(|x| x.to_f64().abs()).filter(|x| x.is_finite()).sum::<f64>();
    match s.sum {
        Number::Int(i) => assert_eq!(i, isum, "{what}"),
        Number::Float(f) => {
            assert!(
                f == sum || (f - sum).abs() <= 1e-12 * scale || (f.is_nan() && sum.is_nan()),
                "{what}: {f} vs {sum}"
            )
        }
        Number::Complex(_) | Number::DateTime(..) | Number::Bool(_) => {
            panic!("{what}: a complex, datetime or bool sum")
        }
    }
    assert!(
        s.std.expect("std") == std
            || (s.std.expect("std") - std).abs() <= 1e-9 * (std.abs() + 1e-300)
            || (s.std.expect("std").is_nan() && std.is_nan()),
        "{what}: std {} vs {std}",
        s.std.expect("std")
    );
    assert_eq!(s.min.map(|m| m.as_f64()), min, "{what}");
    assert_eq!(s.max.map(|m| m.as_f64()), max, "{what}");
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/npy");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "npy"))
        .collect();
    v.sort();
    v
}

#[test]
fn summaries_of_every_numpy_fixture_match_a_naive_reference() {
    let mut checked = 0;
    for path in fixtures() {
        let Ok(any) = AnyNpy::open(&path) else { continue };
        let s = match compute::summary_any(&path) {
            Ok(s) => s,
            // Files that cannot be read at all (invalid bool bytes) are not summarized either.
            Err(e)
                if AnyNpy::open(&path)
                    .is_ok_and(|a| matches!(a, AnyNpy::Bool(ref b) if b.read_all().is_err())) =>
            {
                let _ = e;
                continue;
            }
            Err(e) => panic!("{}: {e}", path.display()),
        };
        match &any {
            AnyNpy::Bool(a) => check_real(a, &s),
            AnyNpy::U8(a) => check_real(a, &s),
            AnyNpy::U16(a) => check_real(a, &s),
            AnyNpy::U32(a) => check_real(a, &s),
            AnyNpy::U64(a) => check_real(a, &s),
            AnyNpy::I8(a) => check_real(a, &s),
            AnyNpy::I16(a) => check_real(a, &s),
            AnyNpy::I32(a) => check_real(a, &s),
            AnyNpy::I64(a) => check_real(a, &s),
            AnyNpy::F16(a) => check_real(a, &s),
            AnyNpy::F32(a) => check_real(a, &s),
            AnyNpy::F64(a) => check_real(a, &s),
            AnyNpy::C64(a) => check_complex(
                a.read_all()
                    .unwrap()
                    .iter()
                    .map(|c| Complex::new(f64::from(c.re), f64::from(c.im)))
                    .collect(),
                &s,
            ),
            AnyNpy::C128(a) => check_complex(a.read_all().unwrap().iter().copied().collect(), &s),
        }
        checked += 1;
    }
    assert!(checked > 20, "only {checked} fixtures checked");
}

fn check_complex(v: Vec<Complex<f64>>, s: &Summary) {
    let ok: Vec<Complex<f64>> =
        v.iter().copied().filter(|c| !(c.re.is_nan() || c.im.is_nan())).collect();
    assert_eq!((s.count, s.nan_count), (ok.len() as u64, (v.len() - ok.len()) as u64));
    let sum: Complex<f64> = ok.iter().sum();
    let Number::Complex(got) = s.sum else { panic!("complex sum expected") };
    let close = |a: f64, b: f64| {
        a == b || (a - b).abs() <= 1e-9 * b.abs().max(1.0) || (a.is_nan() && b.is_nan())
    };
    assert!(close(got.re, sum.re) && close(got.im, sum.im), "{got} vs {sum}");
    assert_eq!((s.min, s.max), (None, None));
}

#[test]
fn every_float_width_reduces_in_f64() {
    let h: Vec<f16> = [1.5f32, -2.0, 65504.0].iter().map(|&v| f16::from_f32(v)).collect();
    let s = compute::summary(&SliceChunks::new(&h, 2)).unwrap();
    assert_eq!(s.sum, Number::Float(65503.5));
    assert_eq!(s.max, Some(Number::Float(65504.0)));
    let f: Vec<f32> = vec![0.1; 10_000];
    let s = compute::summary(&SliceChunks::new(&f, 333)).unwrap();
    assert!(rel(s.sum.as_f64(), 10_000.0 * f64::from(0.1f32)) < 1e-14);
}

/// numpy's histogram rule, by definition: bin i holds edges[i] <= x < edges[i+1], the last bin
/// also its right edge.
fn naive_histogram(x: &[f64], edges: &[f64]) -> Vec<u64> {
    let n = edges.len() - 1;
    let mut c = vec![0; n];
    for &v in x {
        if v >= edges[0] && v <= edges[n] {
            let i = (0..n).rev().find(|&i| edges[i] <= v).unwrap();
            c[i.min(n - 1)] += 1;
        }
    }
    c
}

#[test]
fn histogram_bins_like_numpy_including_values_on_edges() {
    let mut rng = Rng(3);
    let mut x: Vec<f64> = (0..50_000).map(|_| rng.int(30) as f64 / 1e7).collect();
    let bins = Bins::Uniform { lo: -50.0, hi: 50.0, count: 37 };
    let edges = bins.edges().unwrap();
    // Values exactly on every edge, just below and above, outside, and NaN.
    for &e in &edges {
        x.extend([e, e.next_down(), e.next_up()]);
    }
    x.extend([f64::NAN, -1e9, 1e9, f64::INFINITY]);
    let got = compute::histogram(&SliceChunks::new(&x, 1000), &bins).unwrap();
    assert_eq!(got, naive_histogram(&x, &edges));
    let edges = vec![-100.0, -1.0, 0.0, 0.5, 3.0, 100.0];
    let got = compute::histogram(&SliceChunks::new(&x, 1000), &Bins::Edges(edges.clone())).unwrap();
    assert_eq!(got, naive_histogram(&x, &edges));
    let ints: Vec<i32> = (0..1000).collect();
    let got = compute::histogram(
        &SliceChunks::new(&ints, 100),
        &Bins::Uniform { lo: 0.0, hi: 999.0, count: 10 },
    )
    .unwrap();
    assert_eq!(got.iter().sum::<u64>(), 1000);
}

#[test]
fn histogram_over_a_given_range_rides_the_summary_pass_with_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    let mut rng = Rng(11);
    // Several 4 MiB chunks, values on and beside the edges, outside the range, and NaN.
    let mut x: Vec<f64> = (0..1_300_000).map(|_| rng.int(21) as f64 / 4096.0 - 40.0).collect();
    let bins = Bins::Uniform { lo: -30.0, hi: 170.0, count: 100 };
    let edges = bins.edges().unwrap();
    for &e in &edges {
        x.extend([e, e.next_down(), e.next_up()]);
    }
    x.extend([f64::NAN, f64::INFINITY, -1e300]);
    write(&path, &x);
    let fused = StatsOptions::new().bins(100).range(-30.0, 170.0).compute(&path).unwrap();
    let plain = StatsOptions::new().compute(&path).unwrap();
    assert_eq!(bits(&fused.summary), bits(&plain.summary));
    // The same without std: the one-read kernel, with the histogram in its pass.
    let fused_basic =
        StatsOptions::new().bins(100).range(-30.0, 170.0).std(false).compute(&path).unwrap();
    let plain_basic = StatsOptions::new().std(false).compute(&path).unwrap();
    // `Debug` prints each float so that it reads back to the same bits (NaN as "NaN").
    assert_eq!(format!("{:?}", fused_basic.summary), format!("{:?}", plain_basic.summary));
    assert_eq!(fused_basic.histogram, fused.histogram);
    let h = fused.histogram.unwrap();
    assert_eq!(h.edges, edges);
    assert_eq!(h.counts, naive_histogram(&x, &edges));
    let a = MmapArray::<f64>::open(&path).unwrap();
    assert_eq!(h.counts, compute::histogram(&MmapChunks::new(&a).unwrap(), &bins).unwrap());
    // As numpy: a range with no data in it counts nothing; a range needs bins and lo <= hi.
    let empty = StatsOptions::new().bins(3).range(1e9, 2e9).compute(&path).unwrap();
    assert_eq!(empty.histogram.unwrap().counts, vec![0, 0, 0]);
    assert!(StatsOptions::new().range(0.0, 1.0).compute(&path).is_err());
    assert!(StatsOptions::new().bins(3).range(1.0, 0.0).compute(&path).is_err());
}

/// numpy's `quantile(method="linear")` on sorted values.
fn naive_quantile(sorted: &[f64], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let k = h.floor() as usize;
    let t = h - k as f64;
    let (a, b) = (sorted[k], sorted[(k + 1).min(sorted.len() - 1)]);
    let d = b - a;
    if t >= 0.5 { b - d * (1.0 - t) } else { a + d * t }
}

#[test]
fn quantiles_are_exact_like_numpy_nanquantile() {
    let mut rng = Rng(11);
    let mut x: Vec<f64> = (0..200_001).map(|_| (rng.int(40) as f64).powi(3) / 1e30).collect();
    x.extend([f64::NAN; 7]);
    x.extend([5.0; 1000]);
    let src = SliceChunks::new(&x, 4096);
    let s = compute::summary(&src).unwrap();
    let qs = [0.0, 0.001, 0.25, 0.5, 0.7, 0.999, 1.0];
    let got = compute::quantiles(&src, &s, &qs).unwrap();
    let mut sorted: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    for (g, &q) in got.iter().zip(&qs) {
        assert!(g.exact, "q {q}");
        assert_eq!(g.value, naive_quantile(&sorted, q), "q {q}");
    }
    assert!(compute::quantiles(&src, &s, &[1.5]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunking_never_changes_counts_extremes_or_integer_sums(
        v in proptest::collection::vec(any::<i32>(), 0..3000),
        chunk in 1usize..500,
    ) {
        let a = compute::summary(&SliceChunks::new(&v, chunk)).unwrap();
        let b = compute::summary(&SliceChunks::new(&v, v.len().max(1))).unwrap();
        prop_assert_eq!(a.sum, b.sum);
        prop_assert_eq!((a.count, a.min, a.max), (b.count, b.min, b.max));
        prop_assert_eq!(a.sum, Number::Int(v.iter().map(|&x| i128::from(x)).sum()));
        if !v.is_empty() {
            prop_assert!((a.std.expect("std") - b.std.expect("std")).abs() <= 1e-9 * b.std.expect("std").max(1.0));
        }
    }

    #[test]
    fn float_sums_match_a_compensated_reference(
        v in proptest::collection::vec(-1e6f64..1e6, 1..5000),
        chunk in 1usize..700,
    ) {
        let s = compute::summary(&SliceChunks::new(&v, chunk)).unwrap();
        let mut sorted = v.clone();
        sorted.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
        // Neumaier over values sorted by magnitude.
        let (mut hi, mut lo) = (0.0f64, 0.0f64);
        for x in sorted {
            let t = hi + x;
            lo += if hi.abs() >= x.abs() { (hi - t) + x } else { (x - t) + hi };
            hi = t;
        }
        let abs: f64 = v.iter().map(|x| x.abs()).sum();
        prop_assert!((s.sum.as_f64() - (hi + lo)).abs() <= 4.0 * f64::EPSILON * abs);
    }
}

#[test]
fn axis_statistics_match_numpy_style_reductions_in_c_and_fortran_order() {
    for path in fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("f8_") || name.starts_with("i4_") || name.starts_with("f4_")) {
            continue;
        }
        let any = AnyNpy::open(&path).unwrap();
        let ndim = any.shape().len();
        for axis in 0..ndim {
            let r = match compute::summary_axis_any(&path, axis) {
                Ok(r) => r,
                // 0 x 3e9 along axis 0: 3e9 results, refused rather than allocated.
                Err(e) if name.contains("3000000000") => {
                    assert!(e.to_string().contains("positions"), "{e}");
                    continue;
                }
                Err(e) => panic!("{name}: {e}"),
            };
            let full = match &any {
                AnyNpy::F64(a) => a.read_all().unwrap().mapv(|v| v),
                AnyNpy::F32(a) => a.read_all().unwrap().mapv(f64::from),
                AnyNpy::I32(a) => a.read_all().unwrap().mapv(f64::from),
                _ => continue,
            };
            let sums = full.map_axis(ndarray::Axis(axis), |lane| {
                lane.iter().filter(|v| !v.is_nan()).sum::<f64>()
            });
            assert_eq!(r.shape, sums.shape(), "{name} axis {axis}");
            for (p, want) in r.positions.iter().zip(sums.iter()) {
                let got = p.sum.as_f64();
                assert!(
                    got == *want
                        || (got - want).abs() <= 1e-6 * want.abs().max(1.0)
                        || (got.is_nan() && want.is_nan()),
                    "{name} axis {axis}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn axis_reduction_of_a_multi_chunk_array_matches_per_column_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.npy");
    let (rows, cols) = (300_000, 3);
    let mut w = NpyWriter::<f64>::create(&path, &[cols]).unwrap();
    let mut rng = Rng(5);
    let data: Vec<f64> = (0..rows * cols).map(|_| rng.int(20) as f64 / 7.0).collect();
    w.append(&data).unwrap();
    w.finish().unwrap();
    let a = MmapArray::<f64>::open(&path).unwrap();
    let r0 = compute::summary_axis(&a, 0).unwrap();
    assert_eq!(r0.shape, vec![cols]);
    for c in 0..cols {
        let col: Vec<f64> = data.iter().skip(c).step_by(cols).copied().collect();
        let s = compute::summary(&SliceChunks::new(&col, 1 << 19)).unwrap();
        assert!(rel(r0.positions[c].sum.as_f64(), s.sum.as_f64()) < 1e-12);
        assert!(rel(r0.positions[c].std.expect("std"), s.std.expect("std")) < 1e-12);
        assert_eq!((r0.positions[c].min, r0.positions[c].max), (s.min, s.max));
    }
    let r1 = compute::summary_axis(&a, 1).unwrap();
    assert_eq!(r1.shape, vec![rows]);
    for r in [0, 1, rows / 2, rows - 1] {
        let want: f64 = data[r * cols..(r + 1) * cols].iter().sum();
        assert!(rel(r1.positions[r].sum.as_f64(), want) < 1e-12);
    }
    assert!(compute::summary_axis(&a, 2).is_err());
}

/// Writes a dataset directory as `larder convert` does: .npy columns and a manifest.
fn dataset(dir: &Path, rows: usize) -> (Vec<u8>, Vec<i64>, Vec<f64>, Vec<i16>) {
    let mut rng = Rng(99);
    let product: Vec<u8> = (0..rows).map(|_| (rng.next() % 12) as u8).collect();
    let bytes: Vec<i64> = (0..rows).map(|_| rng.int(50)).collect();
    let duration: Vec<f64> =
        (0..rows).map(|i| if i % 97 == 0 { f64::NAN } else { rng.int(30) as f64 / 1e3 }).collect();
    let region: Vec<i16> = (0..rows).map(|_| (rng.next() % 5) as i16 - 2).collect();
    write(&dir.join("product.npy"), &product);
    write(&dir.join("bytes.npy"), &bytes);
    write(&dir.join("duration.npy"), &duration);
    write(&dir.join("region.npy"), &region);
    let cats: Vec<String> = (0..12).map(|i| format!("p{i:02}")).collect();
    let manifest = serde_json::json!({
        "columns": [
            {"name": "product", "file": "product.npy", "dtype": "|u1", "categories": cats},
            {"name": "bytes", "file": "bytes.npy", "dtype": "<i8"},
            {"name": "duration", "file": "duration.npy", "dtype": "<f8"},
            {"name": "region", "file": "region.npy", "dtype": "<i2"},
        ],
        "rows": rows, "rejected": 0, "source": {"path": "x.csv"}
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    (product, bytes, duration, region)
}

#[test]
fn groupby_matches_a_naive_loop_and_skips_nan() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 600_000; // several row blocks
    let (product, bytes, duration, _) = dataset(dir.path(), rows);
    let aggs: Vec<Agg> = [
        "count",
        "sum:duration",
        "mean:duration",
        "max:bytes",
        "sum:bytes",
        "min:duration",
        "count:duration",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    let g = compute::groupby(dir.path(), "product", &aggs).unwrap();
    assert_eq!(g.keys.len(), 12);
    for (gi, key) in g.keys.iter().enumerate() {
        let GroupKey::Label(label) = key else { panic!("label expected") };
        let code: u8 = label[1..].parse().unwrap();
        let idx: Vec<usize> = (0..rows).filter(|&i| product[i] == code).collect();
        let d: Vec<f64> = idx.iter().map(|&i| duration[i]).filter(|v| !v.is_nan()).collect();
        let col = |name: &str| &g.columns.iter().find(|c| c.0 == name).unwrap().1[gi];
        assert_eq!(*col("count"), Number::Int(idx.len() as i128));
        assert_eq!(*col("count:duration"), Number::Int(d.len() as i128));
        let sum: f64 = d.iter().sum();
        assert!(rel(col("sum:duration").as_f64(), sum) < 1e-12);
        assert!(rel(col("mean:duration").as_f64(), sum / d.len() as f64) < 1e-12);
        assert_eq!(
            *col("max:bytes"),
            Number::Int(idx.iter().map(|&i| i128::from(bytes[i])).max().unwrap())
        );
        assert_eq!(*col("sum:bytes"), Number::Int(idx.iter().map(|&i| i128::from(bytes[i])).sum()));
        assert_eq!(col("min:duration").as_f64(), d.iter().copied().fold(f64::INFINITY, f64::min));
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    assert_eq!(pool.install(|| compute::groupby(dir.path(), "product", &aggs).unwrap()), g);
}

#[test]
fn groupby_on_a_small_range_integer_column_keys_by_value() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes, _, region) = dataset(dir.path(), 10_000);
    let g = compute::groupby(dir.path(), "region", &["sum:bytes".parse().unwrap()]).unwrap();
    assert_eq!(g.keys, (-2..=2).map(GroupKey::Int).collect::<Vec<_>>());
    let want: i128 = (0..10_000).filter(|&i| region[i] == -2).map(|i| i128::from(bytes[i])).sum();
    assert_eq!(g.columns[0].1[0], Number::Int(want));
}

#[test]
fn groupby_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path(), 100);
    let e = compute::groupby(dir.path(), "nope", &[]).unwrap_err().to_string();
    assert!(e.contains("no column \"nope\""), "{e}");
    let e = compute::groupby(dir.path(), "duration", &[]).unwrap_err().to_string();
    assert!(e.contains("float column"), "{e}");
    let e = compute::groupby(dir.path(), "bytes", &[]).unwrap_err().to_string();
    assert!(e.contains("groups"), "{e}");
    // A code past the categories: name the row.
    let mut p = vec![0u8; 100];
    p[42] = 200;
    write(&dir.path().join("product.npy"), &p);
    let e = compute::groupby(dir.path(), "product", &[]).unwrap_err().to_string();
    assert!(e.contains("row 42") && e.contains("200"), "{e}");
    std::fs::write(dir.path().join("manifest.json"), "{\"columns\": 3}").unwrap();
    let e = compute::groupby(dir.path(), "product", &[]).unwrap_err().to_string();
    assert!(e.contains("manifest.json"), "{e}");
}

fn larder(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_larder")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_stats_prints_json_with_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    write(&path, &[1.0f64, f64::NAN, 3.0]);
    let (ok, out, err) = larder(&["stats", path.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for k in ["count", "sum", "mean", "std", "min", "max", "nan_count"] {
        assert!(v.get(k).is_some(), "{k} missing in {out}");
    }
    assert_eq!(
        (v["count"].as_u64(), v["sum"].as_f64(), v["nan_count"].as_u64()),
        (Some(2), Some(4.0), Some(1))
    );
    let (ok, out, err) =
        larder(&["stats", path.to_str().unwrap(), "--json", "--bins", "2", "--quantile", "0.5"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["histogram"]["counts"], serde_json::json!([1, 1]));
    assert_eq!(v["quantiles"][0]["value"].as_f64(), Some(2.0));
}

#[test]
fn cli_stats_no_std_leaves_out_std_and_var_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    write(&path, &[1.0f64, f64::NAN, 3.0, -7.5]);
    let p = path.to_str().unwrap();
    let (ok, full, err) = larder(&["stats", p, "--json"]);
    assert!(ok, "{err}");
    let (ok, basic, err) = larder(&["stats", p, "--json", "--no-std"]);
    assert!(ok, "{err}");
    let mut full: serde_json::Value = serde_json::from_str(&full).unwrap();
    let basic: serde_json::Value = serde_json::from_str(&basic).unwrap();
    let obj = full.as_object_mut().unwrap();
    assert!(obj.remove("std").is_some() && obj.remove("var").is_some());
    assert_eq!(basic, full);
    // With a histogram (its bins between min and max) and in text.
    let (ok, out, err) = larder(&["stats", p, "--json", "--no-std", "--bins", "2"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["histogram"]["counts"].clone(), v.get("std")), (serde_json::json!([1, 2]), None));
    let (ok, out, err) = larder(&["stats", p, "--no-std"]);
    assert!(ok && out.contains("min") && !out.contains("std"), "{out}{err}");
    let (ok, _, err) = larder(&["stats", p, "--no-std", "--axis", "0"]);
    assert!(!ok && err.contains("--axis"), "{err}");
}

#[test]
fn cli_stats_histogram_takes_a_range_like_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    write(&path, &[-2.0f64, -1.0, 0.0, 0.5, 1.0, 3.0, f64::NAN]);
    let p = path.to_str().unwrap();
    // np.histogram(a, bins=2, range=(-1, 1)): [-1, 0) and [0, 1]; -2, 3 and NaN not counted.
    let (ok, out, err) = larder(&["stats", p, "--json", "--bins", "2", "--range", "-1,1"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["histogram"]["counts"], serde_json::json!([1, 3]));
    assert_eq!(v["histogram"]["edges"], serde_json::json!([-1.0, 0.0, 1.0]));
    assert_eq!(v["count"].as_u64(), Some(6));
    for bad in [
        &["--range", "0,1"][..],
        &["--bins", "2", "--range", "1"],
        &["--bins", "2", "--range", "1,0"],
    ] {
        let (ok, _, err) = larder(&[&["stats", p][..], bad].concat());
        assert!(!ok && !err.is_empty(), "{bad:?} accepted");
    }
}

#[test]
fn cli_stats_along_an_axis_prints_nested_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.npy");
    let mut w = NpyWriter::<i32>::create(&path, &[2, 3]).unwrap();
    w.append(&(0..12).collect::<Vec<i32>>()).unwrap();
    w.finish().unwrap();
    // Shape (2, 2, 3); along axis 1 the result is (2, 3).
    let (ok, out, err) = larder(&["stats", path.to_str().unwrap(), "--axis", "1", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["shape"], serde_json::json!([2, 3]));
    assert_eq!(v["sum"], serde_json::json!([[3, 5, 7], [15, 17, 19]]));
    assert_eq!(v["max"], serde_json::json!([[3, 4, 5], [9, 10, 11]]));
    let (ok, _, err) = larder(&["stats", path.to_str().unwrap(), "--axis", "3"]);
    assert!(!ok && err.contains("axis 3"), "{err}");
    let (ok, _, err) = larder(&["stats", dir.path().join("missing.npy").to_str().unwrap()]);
    assert!(!ok && err.contains("missing.npy"), "{err}");
}

#[test]
fn cli_groupby_prints_one_value_per_group() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path(), 1000);
    let d = dir.path().to_str().unwrap();
    let (ok, out, err) = larder(&[
        "groupby",
        d,
        "--by",
        "product",
        "--agg",
        "count,sum:duration,max:bytes",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["keys"].as_array().unwrap().len(), 12);
    let counts: u64 =
        v["aggregates"]["count"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum();
    assert_eq!(counts, 1000);
    let (ok, _, err) = larder(&["groupby", d, "--by", "product", "--agg", "median:bytes"]);
    assert!(!ok && err.contains("median"), "{err}");
}

#[test]
fn byte_swapped_files_give_the_same_bits_as_their_native_values() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/npy");
    let mut seen = 0;
    for path in fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("f8_be") {
            continue;
        }
        let a = MmapArray::<f64>::open(dir.join(&name)).unwrap();
        let native: Vec<f64> = a.read_all().unwrap().iter().copied().collect();
        let from_file = compute::summary(&MmapChunks::new(&a).unwrap()).unwrap();
        let chunk = larder::npy::CHUNK_BYTES / 8;
        let from_memory = compute::summary(&SliceChunks::new(&native, chunk)).unwrap();
        assert_eq!(bits(&from_file), bits(&from_memory), "{name}");
        seen += 1;
    }
    assert!(seen > 0);
}

#[test]
fn an_invalid_bool_byte_is_an_error_naming_the_elements_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.npy");
    write(&path, &[true, false, true, true]);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 2] = 7;
    std::fs::write(&path, bytes).unwrap();
    let e = compute::summary_any(&path).unwrap_err().to_string();
    assert!(e.contains("b.npy") && e.contains("elements 0..4"), "{e}");
}

/// Compares `larder stats --json` with numpy on generated arrays of several dtypes, NaN, both
/// byte orders and both memory orders (`tests/interop/check_stats.py`).
#[test]
fn stats_agree_with_numpy() {
    let Some(py) = std::env::var_os("LARDER_PYTHON") else {
        assert!(
            std::env::var_os("LARDER_REQUIRE_PYTHON").is_none_or(|v| v != "1"),
            "LARDER_REQUIRE_PYTHON=1 but LARDER_PYTHON is not set"
        );
        eprintln!("skipped: LARDER_PYTHON not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_stats.py");
    let out = Command::new(py)
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_larder"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `tests/larger_than_ram.sh` (a 512 MiB array under a 128 MiB cgroup) when
/// `LARDER_CGROUP_TEST=1`; it needs root, cgroup v1 and `LARDER_PYTHON`, and takes a few
/// seconds, so it is opt-in. The script itself skips where cgroups are unavailable.
#[test]
fn stats_finish_under_a_memory_cap_smaller_than_the_array() {
    if std::env::var_os("LARDER_CGROUP_TEST").is_none_or(|v| v != "1") {
        eprintln!("skipped: LARDER_CGROUP_TEST=1 not set");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/larger_than_ram.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(["--larder", env!("CARGO_BIN_EXE_larder"), "--size-mib", "512", "--cap-mib", "128"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("\"passed\": true") || stdout.starts_with("skipped:"), "{stdout}");
}

/// `larder stats` on Zarr and HDF5 arrays written by zarr-python and h5py: the same count, NaN
/// count, sum, min and max as the manifest's values, chunk by chunk through the store.
#[test]
fn stats_of_zarr_and_hdf5_fixtures_match_their_values() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("fixtures/chunked_manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for e in manifest["arrays"].as_array().unwrap() {
        let dtype = e["dtype"].as_str().unwrap();
        if dtype.contains('c')
            || dtype.contains('b')
            || (e["format"] == "hdf5" && !cfg!(feature = "hdf5"))
        {
            continue; // complex and bool stats are covered elsewhere; HDF5 needs the feature
        }
        let file = root.join("fixtures").join(e["path"].as_str().unwrap());
        let path = match e["inner"].as_str() {
            Some(inner) => PathBuf::from(format!("{}:{inner}", file.display())),
            None => file,
        };
        let values: Vec<f64> = match &e["values"] {
            serde_json::Value::Array(v) => {
                v.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
            }
            x => vec![x.as_f64().unwrap_or(f64::NAN)],
        };
        let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        let s =
            compute::summary_any(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let name = path.display();
        assert_eq!(s.count, finite.len() as u64, "{name}");
        assert_eq!(s.nan_count, (values.len() - finite.len()) as u64, "{name}");
        let sum: f64 = finite.iter().sum();
        assert!((s.sum.as_f64() - sum).abs() <= 1e-12 * sum.abs().max(1.0), "{name}");
        if let Some(min) = finite.iter().copied().reduce(f64::min) {
            assert_eq!(s.min.unwrap().as_f64(), min, "{name}");
            assert_eq!(
                s.max.unwrap().as_f64(),
                finite.iter().copied().reduce(f64::max).unwrap(),
                "{name}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} fixtures checked");
}
