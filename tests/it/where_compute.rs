//! `stats --where` and `groupby --where`: the same results as over a dataset holding only
//! the matching rows (`larder filter`), across blocks of rows; exact values on a small case.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use larder::compute::{Agg, Description, StatsOptions, groupby, groupby_where};
use larder::ops::subset::{self, Output};

fn dataset(dir: &Path, rows: usize) -> PathBuf {
    let mut csv = String::from("k,x,y,t\n");
    for i in 0..rows {
        let k = ["a", "b", "c"][i % 3];
        let x = if i % 11 == 0 { String::new() } else { (i % 97).to_string() };
        let y = if i % 13 == 0 { String::new() } else { format!("{}.5", i % 7) };
        let t =
            if i % 17 == 0 { String::new() } else { format!("2026-01-{:02}T00:00:00", 1 + i % 28) };
        writeln!(csv, "{k},{x},{y},{t}").unwrap();
    }
    let path = dir.join("d.csv");
    std::fs::write(&path, csv).unwrap();
    let out = dir.join("d");
    larder::convert::ConvertOptions::new().convert(&path, &out, &mut |_| {}).unwrap();
    out
}

fn json(d: &Description) -> serde_json::Value {
    serde_json::to_value(d).unwrap()
}

#[test]
fn stats_where_equals_stats_of_the_filtered_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let src = dataset(dir.path(), larder::query::BLOCK_ROWS + 1000);
    for (i, expr) in ["k = 'b' AND x > 40", "y < 3 OR x IS NULL", "x > 1000"].iter().enumerate() {
        let out = dir.path().join(format!("f{i}"));
        subset::filter(&src, expr, &out, Output::Dataset, None).unwrap();
        for col in ["x", "y", "t"] {
            let o = StatsOptions::new();
            let got = o.describe_where(src.join(format!("{col}.npy")), expr).unwrap();
            let want = o.describe(out.join(format!("{col}.npy"))).unwrap();
            let (mut got, mut want) = (json(&got), json(&want));
            // The variance is summed in other pieces (blocks of rows, not pages): the last
            // bits may differ.
            for key in ["std", "var"] {
                if let (Some(a), Some(b)) = (got[key].as_f64(), want[key].as_f64()) {
                    assert!((a - b).abs() <= 1e-12 * b.abs(), "{expr}: {col}: {key} {a} {b}");
                    got[key] = serde_json::Value::Null;
                    want[key] = serde_json::Value::Null;
                }
            }
            assert_eq!(got, want, "{expr}: {col}");
        }
    }
    // Exact values: rows 0..6 of x are missing, 1, 2, 3, 4, 5; k = a b c a b c: rows 0, 2,
    // 3, 5 match, x missing, 2, 3, 5.
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let src = dataset(&small, 6);
    let s = json(&StatsOptions::new().describe_where(src.join("x.npy"), "k != 'b'").unwrap());
    assert_eq!(
        (s["count"].as_u64(), s["sum"].as_i64(), s["null_count"].as_u64()),
        (Some(3), Some(10), Some(1)),
        "{s}"
    );
    // A file outside a dataset cannot be filtered.
    let lone = dir.path().join("lone.npy");
    std::fs::copy(src.join("x.npy"), &lone).unwrap();
    let e = StatsOptions::new().describe_where(&lone, "x > 1").unwrap_err().to_string();
    assert!(e.contains("is not a column file of a dataset"), "{e}");
}

#[test]
fn groupby_where_equals_groupby_of_the_filtered_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let src = dataset(dir.path(), larder::query::BLOCK_ROWS * 2 + 77);
    let aggs = [Agg::count(), Agg::sum("x"), Agg::mean("y"), Agg::max("t"), Agg::count_of("x")];
    for (i, expr) in ["x BETWEEN 10 AND 20", "NOT k = 'a' AND t >= date '2026-01-15'", "x < 0"]
        .iter()
        .enumerate()
    {
        let out = dir.path().join(format!("g{i}"));
        subset::filter(&src, expr, &out, Output::Dataset, None).unwrap();
        let got = groupby_where(&src, "k", None, &aggs, expr).unwrap();
        let want = groupby(&out, "k", &aggs).unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(&want).unwrap(),
            "{expr}"
        );
        let every = "1d".parse().unwrap();
        let got = groupby_where(&src, "t", Some(every), &[Agg::count()], expr).unwrap();
        let want = larder::compute::groupby_every(&out, "t", every, &[Agg::count()]).unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(&want).unwrap(),
            "{expr}"
        );
    }
    let e = groupby_where(&src, "k", None, &aggs, "k = 'z'").unwrap_err().to_string();
    assert!(e.contains("no category 'z'"), "{e}");
}
