//! Statistics of what a user holds: `ndarray` views (contiguous or strided, any rank), a
//! selection or region of any store, rows of a dataset column; sources taken by reference or
//! boxed; `Number` printed as numpy prints it.
#![allow(clippy::needless_pass_by_value, clippy::many_single_char_names)]

use std::process::Command;

use larder::compute::{self, ColumnRows, Number, StatsOptions, Summary};
use larder::store::SelectionChunks;
use larder::{ArrayRead, ChunkSource, Error, MemStore, MmapArray, Region, Selection};
use ndarray::{Array, Array2, ArrayView, Axis, Dimension, IxDyn, s};

use crate::support::python;

/// count, sum, min and max of an integer view by a naive walk, as the summary types them.
fn naive_ints<D: Dimension>(v: &ArrayView<'_, i64, D>) -> (u64, i128, Option<i128>, Option<i128>) {
    let it = v.iter().map(|&x| i128::from(x));
    (v.len() as u64, it.clone().sum(), it.clone().min(), it.max())
}

fn ints(s: &Summary) -> (u64, i128, Option<i128>, Option<i128>) {
    let int = |n: Number| match n {
        Number::Int(i) => i,
        other => panic!("not an integer: {other:?}"),
    };
    (s.count, int(s.sum), s.min.map(int), s.max.map(int))
}

/// Every chunk a source hands out, checked to be at most `limit` elements.
fn chunk_lens<T: larder::Element, S: ChunkSource<T> + ?Sized>(src: &S, limit: usize) -> Vec<usize> {
    (0..src.num_chunks())
        .map(|i| {
            let mut n = 0;
            src.with_chunk(i, &mut |c| n = c.len()).unwrap();
            assert!(n <= limit, "chunk {i} holds {n} elements, more than {limit}");
            n
        })
        .collect()
}

#[test]
fn summaries_of_strided_views_of_any_rank_equal_a_naive_walk() {
    // 3000 x 700 int64 (16.8 MB): views of it are cut into several 4 MiB chunks.
    let a = Array2::from_shape_fn((3000, 700), |(i, j)| {
        (i as i64 * 700 + j as i64) * if j % 3 == 0 { -1 } else { 1 }
    });
    let per_chunk = (4 << 20) / 8;
    let views = [
        ("a", a.view()),
        ("a[:, 7]", a.slice(s![.., 7..8])),
        ("a[::2, 1::3]", a.slice(s![..;2, 1..;3])),
        ("a[::-1, ::-5]", a.slice(s![..;-1, ..;-5])),
        ("a.T", a.t()),
        ("a[2999:, :]", a.slice(s![2999.., ..])),
        ("a[5:5, :]", a.slice(s![5..5, ..])),
    ];
    for (name, v) in views {
        let s = compute::summary(&v).unwrap();
        assert_eq!(ints(&s), naive_ints(&v), "{name}");
        let lens = chunk_lens(&v, per_chunk);
        assert_eq!(lens.iter().sum::<usize>(), v.len(), "{name}");
    }
    // A 1-d column, a 3-d strided view and a 0-d view.
    let col = a.column(7);
    assert_eq!(ints(&compute::summary(&col).unwrap()), naive_ints(&col));
    let cube = a.view().into_shape_with_order((30, 100, 700)).unwrap();
    let cube = cube.slice(s![1..;4, ..;-7, 3..600;2]);
    assert_eq!(ints(&compute::summary(&cube).unwrap()), naive_ints(&cube));
    let zero = a.index_axis(Axis(0), 4);
    let zero = zero.index_axis(Axis(0), 5);
    assert_eq!(ints(&compute::summary(&zero).unwrap()).0, 1);
    // An owned array is a source too, and so is a long 1-d strided view (2.5 M int32, every
    // second one: more than one chunk).
    let long = Array::from_shape_fn(2_500_000, |i| (i % 1000) as i32 - 500);
    let odd = long.slice(s![1..;2]);
    assert!(chunk_lens(&odd, (4 << 20) / 4).len() > 1);
    let s = compute::summary(&odd).unwrap();
    let want: i128 = odd.iter().map(|&x| i128::from(x)).sum();
    assert_eq!((s.count, s.sum), (1_250_000, Number::Int(want)));
    assert_eq!(compute::summary(&long).unwrap().count, 2_500_000);
}

#[test]
fn boxed_and_borrowed_sources_need_no_deref() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    larder::write_npy(&path, &Array::from_shape_fn((40, 5), |(i, j)| (i * 5 + j) as f64)).unwrap();
    let a = MmapArray::<f64>::open(&path).unwrap();
    let whole = compute::summary(&a.chunk_source().unwrap()).unwrap();
    assert_eq!((whole.count, whole.sum), (200, Number::Float(19900.0)));
    let src = a.chunk_source().unwrap();
    let by_ref: &dyn ChunkSource<f64> = &*src;
    assert_eq!(compute::summary(&by_ref).unwrap(), whole);
    let view = a.view().unwrap();
    assert_eq!(compute::summary(&&view).unwrap(), whole);
}

/// A 100 x 30 int64 store in chunks of 16 x 8, values mixing signs.
fn store() -> MemStore<i64> {
    let a = Array::from_shape_fn(IxDyn(&[100, 30]), |i| {
        let v = (i[0] * 30 + i[1]) as i64;
        if (i[0] + i[1]) % 4 == 0 { -v } else { v }
    });
    MemStore::new(a, &[16, 8]).unwrap()
}

#[test]
fn a_selection_of_a_store_sums_as_the_elements_it_reads() {
    let zstore = store();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("z.zarr");
    let mut options = larder::ZarrOptions::new();
    options.chunks(&[7, 11]);
    let mut z = larder::ZarrArray::<i64>::create(&path, None, &[100, 30], &options).unwrap();
    larder::ArrayWrite::write_region(
        &mut z,
        &[0, 0],
        &zstore.read(&Selection::all()).unwrap().view(),
    )
    .unwrap();
    let npy = dir.path().join("a.npy");
    larder::write_npy(&npy, &zstore.read(&Selection::all()).unwrap().to_owned()).unwrap();
    let mapped = MmapArray::<i64>::open(&npy).unwrap();
    let stores: [(&str, &dyn ArrayRead<i64>); 3] =
        [("mem", &zstore), ("zarr", &z), ("npy", &mapped)];
    for text in [
        "10:20, 7",
        "::-3, 5:29:7",
        "-1",
        "..., 2",
        "50:10:-4, ::9",
        "3:3",
        "None, 5:6, 1:30:14",
        "::40",
        "1::17, ::-1",
        "",
    ] {
        let sel = Selection::parse(text).unwrap();
        for (name, st) in stores {
            let src = SelectionChunks::new(st, &sel).unwrap();
            let read = st.read(&sel).unwrap();
            let want = naive_ints(&read.view());
            assert_eq!(ints(&compute::summary(&src).unwrap()), want, "{name} [{text}]");
        }
    }
    // A region, and the storage chunks a step longer than a chunk skips are not visited.
    let r = Region::new(&[17, 3], &[40, 20]).unwrap();
    let src = SelectionChunks::region(&zstore, &r).unwrap();
    let want = naive_ints(&zstore.read_region(&r).unwrap().view());
    assert_eq!(ints(&compute::summary(&src).unwrap()), want);
    let sparse = SelectionChunks::new(&zstore, &Selection::parse("::40, 0").unwrap()).unwrap();
    assert_eq!(sparse.num_chunks(), 3); // rows 0, 40, 80 lie in chunks 0, 2 and 5 of 7
    // Out of bounds: the selection's own error.
    let e = SelectionChunks::new(&zstore, &Selection::parse("100, 0").unwrap()).unwrap_err();
    assert!(
        matches!(e, Error::Argument(ref m) if m.contains("index 100 is out of bounds for axis 0")),
        "{e}"
    );
    let e =
        SelectionChunks::region(&zstore, &Region::new(&[90, 0], &[20, 1]).unwrap()).unwrap_err();
    assert!(matches!(e, Error::Argument(ref m) if m.contains("does not fit")), "{e}");
}

/// A dataset from CSV text.
fn dataset(dir: &std::path::Path, csv: &str) -> larder::dataset::Dataset {
    let input = dir.join("t.csv");
    std::fs::write(&input, csv).unwrap();
    let out = dir.join("t");
    larder::convert::ConvertOptions::new().convert(&input, &out, &mut |_| {}).unwrap();
    larder::dataset::Dataset::open(&out).unwrap()
}

#[test]
fn rows_of_a_dataset_column_skip_and_count_their_missing_values() {
    let dir = tempfile::tempdir().unwrap();
    // n: 1, 2, -, 4, 5, -, 7, 8; x: floats with a NaN; s: text; c: categorical.
    let ds = dataset(
        dir.path(),
        "n,x,s,when\n1,0.5,a,2024-01-01\n2,1.5,b,2024-01-02\n,nan,a,2024-01-03\n4,3.5,b,2024-01-04\n\
         5,4.5,a,2024-01-05\n,5.5,b,2024-01-06\n7,6.5,a,2024-01-07\n8,7.5,b,2024-01-08\n",
    );
    let n = ds.column("n").unwrap();
    let o = StatsOptions::new();
    for (rows, count, sum, nulls) in
        [(0..8, 6, 27, 2), (1..4, 2, 6, 1), (2..3, 0, 0, 1), (6..8, 2, 15, 0), (3..3, 0, 0, 0)]
    {
        let s = o.compute_rows(&n, rows.clone()).unwrap().summary;
        assert_eq!(
            (s.count, s.sum, s.null_count),
            (count, Number::Int(sum), Some(nulls)),
            "{rows:?}"
        );
    }
    // The typed source, with quantiles and a histogram over the same rows.
    let (values, valid) = (n.values::<i64>().unwrap(), n.validity().unwrap());
    let src = ColumnRows::new(&values, valid.as_ref(), 0..5).unwrap();
    assert_eq!(src.null_count().unwrap(), 1);
    let st = StatsOptions::new().quantiles(&[0.5]).bins(2).compute_source(&src).unwrap();
    assert_eq!(st.quantiles[0].value, 3.0); // pandas: df.n.iloc[0:5].median() == 3.0
    assert_eq!(st.histogram.unwrap().counts, vec![2, 2]);
    // Floats: NaN is counted apart, not null.
    let x = ds.column("x").unwrap();
    let s = o.compute_rows(&x, 1..5).unwrap().summary;
    assert_eq!((s.count, s.nan_count, s.mean), (3, 1, Number::Float(9.5 / 3.0)));
    // Refusals name the file and say why.
    let e = o.compute_rows(&n, 5..9).unwrap_err();
    assert!(
        matches!(e, Error::Argument(ref m) if m.contains("rows 5..9") && m.contains("has 8 rows")),
        "{e}"
    );
    let e = o.compute_rows(&ds.column("s").unwrap(), 0..2).unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }) && e.to_string().contains("categorical"), "{e}");
    let e = o.compute_rows(&ds.column("when").unwrap(), 0..2).unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }) && e.to_string().contains("datetime64"), "{e}");
}

#[test]
fn numbers_print_as_numpy_prints_them() {
    let cases: [(Number, &str); 24] = [
        (Number::Float(0.0), "0.0"),
        (Number::Float(-0.0), "-0.0"),
        (Number::Float(1.0), "1.0"),
        (Number::Float(1234.5), "1234.5"),
        (Number::Float(1e16), "1e+16"),
        (Number::Float(1.5e16), "1.5e+16"),
        (Number::Float(1e15), "1000000000000000.0"),
        (Number::Float(1e-4), "0.0001"),
        (Number::Float(1e-5), "1e-05"),
        (Number::Float(1.25e-7), "1.25e-07"),
        (Number::Float(-2.5e300), "-2.5e+300"),
        (Number::Float(5e-324), "5e-324"),
        (Number::Float(f64::NAN), "nan"),
        (Number::Float(f64::NEG_INFINITY), "-inf"),
        (Number::Float(0.1 + 0.2), "0.30000000000000004"),
        (
            Number::Int(-170_141_183_460_469_231_731_687_303_715_884_105_728),
            "-170141183460469231731687303715884105728",
        ),
        (Number::Complex(larder::Complex::new(1.0, 2.0)), "(1+2j)"),
        (Number::Complex(larder::Complex::new(1.5, -0.5)), "(1.5-0.5j)"),
        (Number::Complex(larder::Complex::new(0.0, 2.0)), "2j"),
        (Number::Complex(larder::Complex::new(-0.0, -2.0)), "(-0-2j)"),
        (Number::Complex(larder::Complex::new(f64::NAN, 1.0)), "(nan+1j)"),
        (Number::Complex(larder::Complex::new(1e20, 1.0)), "(1e+20+1j)"),
        (Number::DateTime(19_753, larder::dtype::TimeUnit::D), "2024-01-31"),
        (Number::DateTime(i64::MIN, larder::dtype::TimeUnit::S), "NaT"),
    ];
    for (n, want) in cases {
        assert_eq!(n.to_string(), want, "{n:?}");
    }
    assert_eq!(f64::from(Number::Int(7)), 7.0);
    assert_eq!(f64::from(Number::Float(2.5)), 2.5);
}

#[test]
fn number_display_and_strided_statistics_match_numpy() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    // numpy writes the array and prints, per slice, what it computes of it.
    let script = r#"
import sys, json, numpy as np
rng = np.random.default_rng(7)
a = rng.normal(5, 3, (3000, 50)) * 10.0 ** rng.integers(-6, 20, (3000, 50))
a[rng.random((3000, 50)) < 0.01] = np.nan
np.save(sys.argv[1], a)
out = {}
for name, v in [("col7", a[:, 7]), ("strided", a[100:2000:3, 5:40:4]), ("rev", a[::-1, 2]), ("t3", a.T[3]), ("f32", a[:, 9].astype(np.float32))]:
    f = v[~np.isnan(v)]
    out[name] = dict(count=int(f.size), nan=int(np.isnan(v).sum()), sum=float(f.sum(dtype=np.float64)), mean=float(f.mean(dtype=np.float64)),
        std=float(f.std(dtype=np.float64)), min=str(f.min()), max=str(f.max()), q=[float(np.nanquantile(v, q)) for q in (0.1, 0.5, 0.9)])
rng2 = np.random.default_rng(3)
xs = np.concatenate([rng2.normal(0, 1, 200) * 10.0 ** rng2.integers(-30, 30, 200), [1e16, 1e-5, 123.0, 0.1]])
out["display"] = [[float(x), str(np.float64(x))] for x in xs]
print(json.dumps(out))
"#;
    let o = Command::new(py).args(["-c", script]).arg(&path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for pair in want["display"].as_array().unwrap() {
        let x = pair[0].as_f64().unwrap();
        assert_eq!(Number::Float(x).to_string(), pair[1].as_str().unwrap(), "{x:e}");
    }
    let a = MmapArray::<f64>::open(&path).unwrap();
    let v = a.view_as::<ndarray::Ix2>().unwrap();
    let f32col = v.column(9).mapv(|x| x as f32);
    let qs = [0.1, 0.5, 0.9];
    let o = StatsOptions::new().quantiles(&qs).clone();
    let got = [
        ("col7", o.compute_source(&v.slice(s![.., 7])).unwrap()),
        ("strided", o.compute_source(&v.slice(s![100..2000;3, 5..40;4])).unwrap()),
        ("rev", o.compute_source(&v.slice(s![..;-1, 2])).unwrap()),
        ("t3", o.compute_source(&v.t().row(3)).unwrap()),
        ("f32", o.compute_source(&f32col).unwrap()),
    ];
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
    for (name, st) in got {
        let w = &want[name];
        let s = &st.summary;
        assert_eq!(s.count, w["count"].as_u64().unwrap(), "{name}");
        assert_eq!(s.nan_count, w["nan"].as_u64().unwrap(), "{name}");
        for (what, g, e) in [
            ("sum", s.sum.as_f64(), &w["sum"]),
            ("mean", s.mean.as_f64(), &w["mean"]),
            ("std", s.std.unwrap(), &w["std"]),
        ] {
            assert!(close(g, e.as_f64().unwrap()), "{name} {what}: {g} against numpy {e}");
        }
        // Extremes print exactly as numpy prints them (f32 ones widened to f64 print their
        // f64 digits; compare those by value).
        if name == "f32" {
            assert_eq!(
                s.min.unwrap().as_f64() as f32,
                w["min"].as_str().unwrap().parse::<f32>().unwrap()
            );
        } else {
            assert_eq!(s.min.unwrap().to_string(), w["min"].as_str().unwrap(), "{name}");
            assert_eq!(s.max.unwrap().to_string(), w["max"].as_str().unwrap(), "{name}");
        }
        // numpy interpolates float32 quantiles in float32; larder in f64.
        let tol = if name == "f32" { 1e-6 } else { 1e-12 };
        for (q, e) in st.quantiles.iter().zip(w["q"].as_array().unwrap()) {
            let e = e.as_f64().unwrap();
            let ok = (q.value - e).abs() <= tol * q.value.abs().max(e.abs());
            assert!(ok, "{name} q{}: {} against numpy {e}", q.q, q.value);
        }
    }
}

#[test]
fn a_selection_of_a_store_of_any_element_type_has_its_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.zarr");
    let mut options = larder::ZarrOptions::new();
    options.chunks(&[9, 4]);
    let data = Array::from_shape_fn(IxDyn(&[50, 12]), |i| {
        if (i[0] * 12 + i[1]) % 17 == 0 {
            f32::NAN
        } else {
            (i[0] as f32 - 20.0) * 0.25 + i[1] as f32
        }
    });
    let mut z = larder::ZarrArray::<f32>::create(&path, None, &[50, 12], &options).unwrap();
    larder::ArrayWrite::write_region(&mut z, &[0, 0], &data.view()).unwrap();
    drop(z);
    let store = larder::open(&path).unwrap();
    let o = StatsOptions::new().quantiles(&[0.0, 0.3, 1.0]).bins(4).clone();
    for text in ["::3, 5", "40:5:-2, 1::5", "7", "..., -1", "10:10"] {
        let sel = Selection::parse(text).unwrap();
        let got = o.compute_selection(&store, &sel, &path).unwrap();
        let picked = data.slice(sel.resolve(data.shape()).unwrap().as_slice()).to_owned();
        let want = o.compute_source(&picked).unwrap();
        let s = (&got.summary, &want.summary);
        assert_eq!(
            (s.0.count, s.0.nan_count, s.0.min, s.0.max),
            (s.1.count, s.1.nan_count, s.1.min, s.1.max),
            "[{text}]"
        );
        let (a, b) = (s.0.mean.as_f64(), s.1.mean.as_f64());
        assert!(
            a == b || (a - b).abs() <= 1e-12 * a.abs().max(1.0) || (a.is_nan() && b.is_nan()),
            "[{text}] {a} {b}"
        );
        // (By their printed form: an empty selection's quantiles are NaN.)
        assert_eq!(format!("{:?}", got.quantiles), format!("{:?}", want.quantiles), "[{text}]");
        assert_eq!(got.histogram, want.histogram, "[{text}]");
    }
    // Complex numbers: the summary; quantiles are refused, naming the array.
    let cpath = dir.path().join("c.npy");
    let c = Array::from_shape_fn((6, 4), |(i, j)| larder::Complex::new(i as f64, j as f64));
    larder::write_npy(&cpath, &c).unwrap();
    let cstore = larder::open(&cpath).unwrap();
    let sel = Selection::parse("2:4, 1").unwrap();
    let s = StatsOptions::new().compute_selection(&cstore, &sel, &cpath).unwrap().summary;
    assert_eq!((s.count, s.sum.to_string()), (2, "(5+2j)".to_string()));
    let e = o.compute_selection(&cstore, &sel, &cpath).unwrap_err();
    assert!(
        matches!(e, Error::Invalid { ref path, .. } if *path == cpath)
            && e.to_string().contains("complex"),
        "{e}"
    );
    let e = o.compute_selection(&store, &Selection::parse("60").unwrap(), &path).unwrap_err();
    assert!(matches!(e, Error::Argument(ref m) if m.contains("out of bounds")), "{e}");
}
