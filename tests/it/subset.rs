//! `larder filter`, `larder take` and `--where` on `info` and `cat`: outputs in the same
//! format as the source, row for row; existing outputs kept; clear errors.

use std::fmt::Write as _;
use std::path::Path;

use larder::dataset::{ColumnData, Dataset};
use larder::ops::subset::{self, Output};
use larder::query::Filter;

use crate::support::larder;

const CSV: &str = "region,status,latency,msg,when,ok\n\
eu,200,1.5,hello,2026-01-01T10:00:00,true\n\
us,NA,2.5,world,2026-01-01T11:00:00,false\n\
eu,500,,\"a,b\",,\n\
ap,404,0.5,,2026-01-02T00:00:00,true\n\
eu,201,nan,héllo,2026-01-03T00:00:00,false\n";

fn dataset(dir: &Path, csv: &str) -> std::path::PathBuf {
    let path = dir.join("log.csv");
    std::fs::write(&path, csv).unwrap();
    let out = dir.join("log");
    let mut o = larder::convert::ConvertOptions::new();
    o.column_type("msg", larder::convert::ColumnType::Str);
    o.convert(&path, &out, &mut |_| {}).unwrap();
    out
}

/// Every row of column `name` as text, `None` where missing (NaN as "NaN").
fn cells(ds: &Dataset, name: &str) -> Vec<Option<String>> {
    match ds.column_data(name).unwrap() {
        ColumnData::Number(n) => {
            n.iter_f64().unwrap().map(|v| v.map(|x| format!("{x:?}"))).collect()
        }
        ColumnData::Bool(b) => b.iter().unwrap().map(|v| v.map(|x| x.to_string())).collect(),
        ColumnData::Categorical(c) => c.labels().unwrap().map(|v| v.map(str::to_string)).collect(),
        ColumnData::DateTime(d) => {
            d.counts().iter().unwrap().map(|v| v.map(|x| x.to_string())).collect()
        }
        ColumnData::String(s) => {
            s.iter().unwrap().map(|v| v.unwrap().map(str::to_string)).collect()
        }
        _ => unreachable!(),
    }
}

/// `out` holds rows `rows` of `src`, column for column, kinds, dtypes and dictionaries kept.
fn assert_rows_of(src: &Dataset, out: &Dataset, rows: &[usize], columns: &[&str]) {
    assert_eq!(out.rows(), rows.len() as u64);
    let names: Vec<&str> = out.columns().map(|c| c.name()).collect();
    assert_eq!(names, columns);
    for name in columns {
        let (a, b) = (src.column(name).unwrap(), out.column(name).unwrap());
        assert_eq!(a.manifest().dtype, b.manifest().dtype, "{name}");
        assert_eq!(a.manifest().categories, b.manifest().categories, "{name}");
        let (all, got) = (cells(src, name), cells(out, name));
        let want: Vec<_> = rows.iter().map(|&r| all[r].clone()).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn filter_writes_the_matching_rows_in_the_same_format() {
    let dir = tempfile::tempdir().unwrap();
    let src_path = dataset(dir.path(), CSV);
    let src = Dataset::open(&src_path).unwrap();
    let all = ["region", "status", "latency", "msg", "when", "ok"];
    for (expr, rows) in [
        ("region = 'eu'", vec![0, 2, 4]),
        ("status >= 300 OR latency IS NULL", vec![2, 3, 4]),
        ("msg LIKE 'h%llo' AND ok", vec![0]),
        ("NOT ok", vec![1, 4]),
        ("status > 1000", vec![]),
        ("region IS NOT NULL", vec![0, 1, 2, 3, 4]),
    ] {
        let out = dir.path().join(format!("out{}", rows.len()));
        let _ = std::fs::remove_dir_all(&out);
        let r = subset::filter(&src_path, expr, &out, Output::Dataset, None).unwrap();
        assert_eq!((r.rows, r.source_rows, r.columns), (rows.len() as u64, 5, 6), "{expr}");
        assert_rows_of(&src, &Dataset::open(&out).unwrap(), &rows, &all);
        // The same rows as the filter itself gives.
        let m = Filter::new(&src, expr).unwrap().matches(0..5).unwrap();
        assert_eq!(m, rows.iter().map(|&r| r as u64).collect::<Vec<_>>());
    }
    // Some columns, in the order given.
    let out = dir.path().join("some");
    let cols = ["msg".to_string(), "region".to_string()];
    subset::filter(&src_path, "ok", &out, Output::Dataset, Some(&cols)).unwrap();
    assert_rows_of(&src, &Dataset::open(&out).unwrap(), &[0, 3], &["msg", "region"]);
    // No temporaries left beside the outputs.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn filter_writes_row_numbers_and_masks_numpy_reads() {
    let dir = tempfile::tempdir().unwrap();
    let src = dataset(dir.path(), CSV);
    let rows = dir.path().join("rows.npy");
    let mask = dir.path().join("mask.npy");
    subset::filter(&src, "region = 'eu'", &rows, Output::Rows, None).unwrap();
    subset::filter(&src, "region = 'eu'", &mask, Output::Mask, None).unwrap();
    let numbers = larder::MmapArray::<i64>::open(&rows).unwrap();
    assert_eq!(numbers.as_slice().unwrap(), &[0, 2, 4]);
    let flags = larder::MmapArray::<bool>::open(&mask).unwrap();
    assert_eq!(flags.as_slice().unwrap(), &[true, false, true, false, true]);
    // Take by that file: the same rows.
    let o = larder()
        .arg("take")
        .arg(&src)
        .arg(dir.path().join("t"))
        .arg("--rows")
        .arg(&rows)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (a, b) = (Dataset::open(&src).unwrap(), Dataset::open(dir.path().join("t")).unwrap());
    assert_rows_of(&a, &b, &[0, 2, 4], &["region", "status", "latency", "msg", "when", "ok"]);
}

#[test]
fn take_takes_lists_and_python_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let src = dataset(dir.path(), CSV);
    let ds = Dataset::open(&src).unwrap();
    for (i, (arg, rows)) in [
        ("3,1,-1", vec![3, 1, 4]),
        ("1:3", vec![1, 2]),
        ("::-2", vec![4, 2, 0]),
        ("-2:", vec![3, 4]),
        ("2", vec![2]),
        ("0,0", vec![0, 0]),
        ("10:20", vec![]),
    ]
    .into_iter()
    .enumerate()
    {
        let out = dir.path().join(format!("t{i}"));
        let o = larder()
            .args(["take", "--columns", "status,msg"])
            .arg(&src)
            .arg(&out)
            .arg(format!("--rows={arg}"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{arg}: {}", String::from_utf8_lossy(&o.stderr));
        assert_rows_of(&ds, &Dataset::open(&out).unwrap(), &rows, &["status", "msg"]);
    }
    let o = larder()
        .arg("take")
        .arg(&src)
        .arg(dir.path().join("bad"))
        .arg("--rows=1,5")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("row 5 (item 1 of the rows to take) is out of range")
            && e.contains("has 5 rows"),
        "{e}"
    );
    assert!(!dir.path().join("bad").exists());
    // A rows file must be 1-d int64.
    let two = dir.path().join("two.npy");
    larder::write_npy(&two, &larder::ndarray::arr2(&[[0i64, 1], [2, 3]])).unwrap();
    let floats = dir.path().join("floats.npy");
    larder::write_npy(&floats, &larder::ndarray::arr1(&[0.0f64, 1.0])).unwrap();
    for (file, why) in [(&two, "holds shape [2, 2]; row numbers are 1-d"), (&floats, "<i8")] {
        let o = larder()
            .arg("take")
            .arg(&src)
            .arg(dir.path().join("bad"))
            .arg("--rows")
            .arg(file)
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains(why), "{e}");
    }
    assert!(!dir.path().join("bad").exists());
}

#[test]
fn an_existing_output_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let src = dataset(dir.path(), CSV);
    for (i, output) in [Output::Dataset, Output::Rows, Output::Mask].into_iter().enumerate() {
        let dst = dir.path().join(format!("keep{i}"));
        std::fs::write(&dst, "precious").unwrap();
        let e = subset::filter(&src, "ok", &dst, output, None).unwrap_err();
        assert!(matches!(e, larder::Error::Invalid { .. }), "{e:?}");
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&dst).unwrap(), "precious");
    }
    let e = subset::take(&src, &[0], &src, None).unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
    assert!(Dataset::open(&src).unwrap().rows() == 5);
    // A bad expression or column writes nothing.
    let dst = dir.path().join("none");
    let e = subset::filter(&src, "nope > 1", &dst, Output::Dataset, None).unwrap_err().to_string();
    assert!(e.contains("no column \"nope\""), "{e}");
    let cols = ["nope".to_string()];
    assert!(subset::filter(&src, "ok", &dst, Output::Dataset, Some(&cols)).is_err());
    assert!(!dst.exists());
}

#[test]
fn where_on_info_and_cat_counts_and_prints_the_matches() {
    let dir = tempfile::tempdir().unwrap();
    let src = dataset(dir.path(), CSV);
    let o = larder().arg("info").arg(&src).args(["--where", "region = 'eu'"]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("matching rows: 3 of 5"), "{text}");
    let o = larder().arg("info").arg(&src).args(["--json", "--where", "ok"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["matching_rows"].as_u64(), v["rows"].as_u64()), (Some(2), Some(5)));
    let o = larder()
        .arg("cat")
        .arg(&src)
        .args(["--where", "status >= 300 OR NOT ok"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let first: Vec<&str> =
        text.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(&first[..3], ["1", "2", "3"], "{text}");
    assert!(text.contains("[4 of 5 rows x 6 columns]"), "{text}");
    // --slice picks among the matches, as df.query(e).iloc[s].
    let o = larder()
        .arg("cat")
        .arg(&src)
        .args(["--json", "--slice", "-1", "--where", "region = 'eu'"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["msg"], "héllo", "{v}");
    // An array is not a dataset: a clear error.
    let col =
        src.join(Dataset::open(&src).unwrap().column("status").unwrap().manifest().file.clone());
    let o = larder().arg("cat").arg(&col).args(["--where", "status > 1"]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("--where filters the rows of a dataset"), "{e}");
    // A bad expression is marked.
    let o = larder().arg("cat").arg(&src).args(["--where", "region = 'mars'"]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("no category 'mars'") && e.contains("(at character 10)"), "{e}");
}

#[test]
fn cat_where_shows_the_first_and_last_five_of_many_matches() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("n\n");
    for i in 0..1000 {
        writeln!(csv, "{i}").unwrap();
    }
    let src = dataset_plain(dir.path(), &csv);
    let o = larder().arg("cat").arg(&src).args(["--where", "n % 7 = 0"]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let index: Vec<&str> =
        text.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(
        &index[..11],
        ["0", "7", "14", "21", "28", "...", "966", "973", "980", "987", "994"],
        "{text}"
    );
    assert!(text.contains("[143 of 1000 rows x 1 columns]"), "{text}");
}

fn dataset_plain(dir: &Path, csv: &str) -> std::path::PathBuf {
    let path = dir.join("n.csv");
    std::fs::write(&path, csv).unwrap();
    let out = dir.join("n");
    larder::convert::ConvertOptions::new().convert(&path, &out, &mut |_| {}).unwrap();
    out
}

#[test]
fn copy_where_writes_a_group_of_the_matching_rows() {
    let dir = tempfile::tempdir().unwrap();
    let src = dataset(dir.path(), CSV);
    let ds = Dataset::open(&src).unwrap();
    let all = ["region", "status", "latency", "msg", "when", "ok"];
    for (i, (expr, rows)) in
        [("region = 'eu'", vec![0, 2, 4]), ("status < 300", vec![0, 4])].iter().enumerate()
    {
        let (group, back) =
            (dir.path().join(format!("g{i}.zarr")), dir.path().join(format!("b{i}")));
        let mut o = larder::CopyOptions::new();
        o.filter(expr);
        larder::copy_with(&src, &group, &o).unwrap();
        larder::copy(&group, &back).unwrap();
        assert_rows_of(&ds, &Dataset::open(&back).unwrap(), rows, &all);
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "staging left behind: {names:?}");
    // Only a dataset to a local group.
    let mut o = larder::CopyOptions::new();
    o.filter("status > 1");
    let col = src.join(ds.column("status").unwrap().manifest().file.clone());
    let e = larder::copy_with(&col, dir.path().join("s.zarr"), &o).unwrap_err().to_string();
    assert!(e.contains("only a dataset directory copied to a local Zarr group"), "{e}");
    let e = larder::copy_with(&src, dir.path().join("g0.zarr"), &o).unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
}

#[test]
fn a_large_dictionary_is_kept_with_its_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.csv");
    let mut csv = String::from("k,v\n");
    for i in 0..3000 {
        writeln!(csv, "label{},{i}", (i * 7) % 1500).unwrap();
    }
    std::fs::write(&path, csv).unwrap();
    let src = dir.path().join("k");
    let mut o = larder::convert::ConvertOptions::new();
    o.column_type("k", larder::convert::ColumnType::Cat);
    o.convert(&path, &src, &mut |_| {}).unwrap();
    let ds = Dataset::open(&src).unwrap();
    assert!(ds.column("k").unwrap().manifest().dictionary.is_some(), "a dictionary in files");
    let out = dir.path().join("out");
    subset::filter(&src, "k LIKE 'label14%' AND v < 2000", &out, Output::Dataset, None).unwrap();
    let rows: Vec<usize> =
        (0..3000).filter(|&i| ((i * 7) % 1500).to_string().starts_with("14") && i < 2000).collect();
    let f = Dataset::open(&out).unwrap();
    assert!(f.column("k").unwrap().manifest().dictionary.is_some());
    assert_rows_of(&ds, &f, &rows, &["k", "v"]);
    // Equality against a label of the stored dictionary.
    assert_eq!(Filter::new(&ds, "k = 'label1499'").unwrap().count().unwrap(), 2);
    assert!(Filter::new(&ds, "k = 'label1500'").unwrap_err().to_string().contains("(1500 in all)"));
}
