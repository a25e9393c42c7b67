//! Quantiles and histograms of data holding `±inf`: quantiles equal `np.nanquantile` (linear)
//! bit for bit, and histograms treat infinities as numpy does.

use std::path::Path;

use larder::SliceChunks;
use larder::compute::{self, StatsOptions};
use larder::npy::NpyWriter;

use crate::support::{larder, python};

/// numpy's `nanquantile(method="linear")` on sorted values, `inf - inf` and all.
#[allow(clippy::many_single_char_names)] // numpy's own names
fn numpy_quantile(sorted: &[f64], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let k = h.floor() as usize;
    let t = h - k as f64;
    let (a, b) = (sorted[k], sorted[(k + 1).min(sorted.len() - 1)]);
    let d = b - a;
    if t >= 0.5 { b - d * (1.0 - t) } else { a + d * t }
}

fn quantiles(x: &[f64], chunk: usize, qs: &[f64]) -> Vec<f64> {
    let src = SliceChunks::new(x, chunk);
    let s = compute::summary(&src).unwrap();
    let got = compute::quantiles(&src, &s, qs).unwrap();
    assert!(got.iter().all(|g| g.exact && g.error == 0.0), "{got:?}");
    got.iter().map(|g| g.value).collect()
}

/// Equal as numpy compares results in tests: NaN equals NaN.
fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || x.is_nan() && y.is_nan())
}

const QS: [f64; 9] = [0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, 1.0];

#[test]
fn quantiles_with_infinities_equal_numpy_nanquantile() {
    let (inf, nan) = (f64::INFINITY, f64::NAN);
    // np.nanquantile([1, 2, inf, 3, -inf], [0, .1, .25, .5, .75, .9, 1]) (numpy 2.3 and 2.4)
    let got = quantiles(&[1.0, 2.0, inf, 3.0, -inf], 2, &[0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]);
    assert!(same(&got, &[nan, nan, 1.0, 2.0, nan, nan, nan]), "{got:?}");
    // np.nanquantile(np.r_[np.arange(10.), np.full(1000, np.inf)], [0, .001, .5, 1]).tolist()
    let mut x: Vec<f64> = (0..10).map(f64::from).collect();
    x.extend([inf; 1000]);
    let got = quantiles(&x, 64, &[0.0, 0.001, 0.5, 1.0]);
    assert!(same(&got, &[0.0, 1.009_000_000_000_000_1, nan, nan]), "{got:?}");
    // All infinite: numpy gives NaN throughout (inf - inf), even for a lone value, with float
    // q (integer q, `np.nanquantile([-inf], [0, 1])`, takes the values without interpolating).
    let got = quantiles(&[inf, inf, -inf, f64::NAN], 3, &[0.0, 0.5, 1.0]);
    assert!(got.iter().all(|v| v.is_nan()), "{got:?}");
    assert!(quantiles(&[-inf], 1, &[0.0, 1.0]).iter().all(|v| v.is_nan()));
    // np.nanquantile([-inf, 0.], [0., .5, 1.]) == [nan, -inf, 0.]
    let got = quantiles(&[-inf, 0.0], 1, &[0.0, 0.5, 1.0]);
    assert!(same(&got, &[f64::NAN, -inf, 0.0]), "{got:?}");
    // Only -inf below finite values: the low quantiles are what numpy's formula gives.
    let mut y = vec![-inf; 3];
    y.extend((0..97).map(f64::from));
    let got = quantiles(&y, 10, &[0.0, 0.01, 0.02, 0.021, 0.026, 0.5]);
    let mut sorted = y.clone();
    sorted.sort_by(f64::total_cmp);
    let want: Vec<f64> =
        [0.0, 0.01, 0.02, 0.021, 0.026, 0.5].iter().map(|&q| numpy_quantile(&sorted, q)).collect();
    assert!(same(&got, &want), "{got:?} {want:?}");
    // -inf with -inf is NaN; -inf with 0 is -inf from the nearer end (t >= 0.5), NaN otherwise.
    assert!(got[..4].iter().all(|v| v.is_nan()) && got[4] == -inf && got[5] == 46.5, "{got:?}");
}

#[test]
fn quantiles_of_random_data_with_infinities_match_the_sorted_reference() {
    let mut seed = 5u64;
    let mut next = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    for case in 0..40 {
        let n = 1 + (next() % 5000) as usize;
        let x: Vec<f64> = (0..n)
            .map(|_| match next() % 20 {
                0 => f64::INFINITY,
                1 if case % 2 == 0 => f64::NEG_INFINITY,
                2 => f64::NAN,
                _ => (next() % 1000) as f64 / 8.0 - 60.0,
            })
            .collect();
        let mut sorted: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
        if sorted.is_empty() {
            continue;
        }
        sorted.sort_by(f64::total_cmp);
        let want: Vec<f64> = QS.iter().map(|&q| numpy_quantile(&sorted, q)).collect();
        let got = quantiles(&x, 1 + (next() % 700) as usize, &QS);
        assert!(same(&got, &want), "case {case}: {got:?} {want:?}");
    }
}

#[test]
fn piled_up_data_with_infinities_is_still_exact() {
    // More than 2^20 values in the bins of the answers: the narrowing passes find them.
    let mut v: Vec<f64> =
        (0..3_000_000u32).map(|i| [0.0, 1e-300, 1e300][(i % 3) as usize]).collect();
    v.extend(std::iter::repeat_n(f64::INFINITY, 500_000));
    v.extend(std::iter::repeat_n(f64::NEG_INFINITY, 250_000));
    let got = quantiles(&v, 1 << 16, &[0.0, 0.05, 0.3, 0.5, 0.9, 1.0]);
    // Sorted: 250k -inf, 1M 0, 1M 1e-300, 1M 1e300, 500k inf.
    let nan = f64::NAN;
    // q = 0 interpolates -inf and -inf: NaN, as numpy.
    assert!(same(&got, &[nan, nan, 0.0, 1e-300, nan, nan]), "{got:?}");
    let mut sorted = v.clone();
    sorted.sort_by(f64::total_cmp);
    let want: Vec<f64> =
        [0.0, 0.05, 0.3, 0.5, 0.9, 1.0].iter().map(|&q| numpy_quantile(&sorted, q)).collect();
    assert!(same(&got, &want), "{got:?} {want:?}");
}

fn write(path: &Path, x: &[f64]) {
    let mut w = NpyWriter::<f64>::create(path, &[]).unwrap();
    w.append(x).unwrap();
    w.finish().unwrap();
}

#[test]
fn stats_quantiles_of_random_arrays_with_infinities_equal_numpy() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import sys, json, numpy as np
rng = np.random.default_rng(int(sys.argv[2]))
n = int(rng.integers(1, 20000))
a = rng.normal(size=n) * 10.0 ** rng.integers(-3, 6)
for v, p in [(np.inf, rng.random() * 0.3), (-np.inf, rng.random() * 0.3), (np.nan, 0.05)]:
    a[rng.random(n) < p] = v
np.save(sys.argv[1], a)
qs = [0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, 1]
with np.errstate(invalid="ignore"):
    print(json.dumps([None if np.isnan(v) else float(v) for v in np.nanquantile(a, qs)] if np.isfinite(a).any() or (~np.isnan(a)).any() else []))
"#;
    for seed in 0..12 {
        let p = dir.path().join(format!("r{seed}.npy"));
        let o = std::process::Command::new(&py)
            .args(["-c", script])
            .arg(&p)
            .arg(seed.to_string())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let want: Vec<Option<f64>> = serde_json::from_slice(&o.stdout).unwrap();
        let o = larder()
            .args(["stats", p.to_str().unwrap(), "--json", "--quantile"])
            .arg("0,0.001,0.1,0.25,0.5,0.75,0.9,0.999,1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let got: Vec<Option<f64>> = v["quantiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| match &q["value"] {
                serde_json::Value::String(s) if s == "NaN" => None,
                serde_json::Value::String(s) if s == "Infinity" => Some(f64::INFINITY),
                serde_json::Value::String(s) if s == "-Infinity" => Some(f64::NEG_INFINITY),
                x => Some(x.as_f64().unwrap()),
            })
            .collect();
        // JSON has no infinities: Python's json writes Infinity, which serde reads as null.
        let want: Vec<Option<f64>> = want.into_iter().collect();
        assert_eq!(got.len(), want.len(), "seed {seed}");
        for (g, w) in got.iter().zip(&want) {
            assert!(
                g == w || g.is_some_and(f64::is_infinite) && w.is_none(),
                "seed {seed}: {got:?} {want:?}"
            );
        }
        assert!(
            v["quantiles"].as_array().unwrap().iter().all(|q| q["exact"] == true),
            "seed {seed}"
        );
    }
}

#[test]
fn histograms_of_infinite_data_need_a_range_and_leave_infinities_out_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("inf.npy");
    let inf = f64::INFINITY;
    write(&p, &[1.0, 2.0, inf, 3.0, -inf, 2.5, f64::NAN]);
    // numpy: np.histogram(a, 3) raises "autodetected range of [-inf, inf] is not finite".
    let o = larder().args(["stats", p.to_str().unwrap(), "--bins", "3"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("the data holds infinities; give a range"),
        "{err}"
    );
    // np.histogram(a, bins=2, range=(1, 3)) == [1, 3]: infinities and NaN are outside the range.
    let s = StatsOptions::new().bins(2).range(1.0, 3.0).compute(&p).unwrap();
    assert_eq!(s.histogram.unwrap().counts, [1, 3]);
    let s = StatsOptions::new().bins(4).range(-10.0, 10.0).compute(&p).unwrap();
    assert_eq!(s.histogram.unwrap().counts, [0, 0, 4, 0]);
}
