//! Column names: repeated and empty header names get pandas' unique names (`a`, `a.1`,
//! `Unnamed: N`), every command addresses the column the user named, and datasets written
//! before the renaming keep working.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use larder::dataset::{Dataset, Manifest};

use crate::support::larder;

/// Runs larder; (success, stdout, stderr).
fn run<S: AsRef<OsStr>>(args: &[S]) -> (bool, String, String) {
    let o = larder().args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (o.status.success(), text(&o.stdout), text(&o.stderr))
}

fn ok<S: AsRef<OsStr>>(args: &[S]) -> String {
    let (success, out, err) = run(args);
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
    assert!(success, "{shown:?}: {err}");
    out
}

/// `csv` written to `dir/NAME.csv` and converted to `dir/NAME` with `extra` options.
fn convert(dir: &Path, name: &str, csv: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.csv"));
    std::fs::write(&src, csv).unwrap();
    let out = dir.join(name);
    let mut args = vec!["convert", "-q", src.to_str().unwrap(), out.to_str().unwrap()];
    args.extend(extra);
    ok(&args);
    out
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// (name, header, file) of each column.
fn columns(ds: &Path) -> Vec<(String, Option<String>, String)> {
    let m = Manifest::read(ds).unwrap();
    m.columns.into_iter().map(|c| (c.name, c.header, c.file)).collect()
}

fn col(name: &str, header: Option<&str>, file: &str) -> (String, Option<String>, String) {
    (name.to_string(), header.map(str::to_string), file.to_string())
}

fn stats_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(&["stats", p(path), "--json"])).unwrap()
}

/// Rewrites the manifest of `ds` as larder wrote it before it renamed columns: each column
/// named by its header text, no `header` field, the files given.
fn as_old_dataset(ds: &Path, files: &[&str]) {
    let path = ds.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for (c, f) in m["columns"].as_array_mut().unwrap().iter_mut().zip(files) {
        let o = c.as_object_mut().unwrap();
        if let Some(h) = o.remove("header") {
            o.insert("name".into(), h);
        }
        let old = o["file"].as_str().unwrap().to_string();
        std::fs::rename(ds.join(&old), ds.join(f)).unwrap();
        o.insert("file".into(), (*f).into());
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

#[test]
fn repeated_and_empty_header_names_become_pandas_names_and_keep_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let ds = convert(dir.path(), "dup", "a,a\n1,10\n2,20\n3,30\n", &[]);
    assert_eq!(columns(&ds), [col("a", None, "a.npy"), col("a.1", Some("a"), "a.1.npy")]);
    // Three repeats, `a.1` in the header itself, an empty name in the middle, a numeric name.
    let csv = "a,a,,a.1,a,-3,-3\n1,2,3,4,5,6,7\n";
    let ds = convert(dir.path(), "mixed", csv, &[]);
    assert_eq!(
        columns(&ds),
        [
            col("a", None, "a.npy"),
            col("a.2", Some("a"), "a.2.npy"),
            col("Unnamed: 2", Some(""), "Unnamed__2.npy"),
            col("a.1", None, "a.1.npy"),
            col("a.3", Some("a"), "a.3.npy"),
            col("-3", None, "-3.npy"),
            col("-3.1", Some("-3"), "-3.1.npy"),
        ]
    );
    // The conversion says which columns it renamed; one that renamed none says nothing.
    let src = dir.path().join("mixed.csv");
    let out = dir.path().join("again");
    let report: serde_json::Value =
        serde_json::from_str(&ok(&["convert", "-q", "--json", p(&src), p(&out)])).unwrap();
    let notes = report["notes"].to_string();
    assert!(notes.contains(r#"\"\" as \"Unnamed: 2\""#), "{notes}");
    assert!(notes.contains(r#"\"-3\" as \"-3.1\""#), "{notes}");
    let src = dir.path().join("twelve.csv");
    std::fs::write(&src, format!("{}\n{}\n", ["a"; 12].join(","), ["1"; 12].join(","))).unwrap();
    let out = dir.path().join("twelve");
    let report = ok(&["convert", "-q", "--json", p(&src), p(&out)]);
    assert!(report.contains(r#"\"a\" as \"a.8\" and 3 more"#), "{report}");
    let plain = convert(dir.path(), "plain", "a,b\n1,2\n", &[]);
    let (_, _, err) =
        run(&["convert", p(&dir.path().join("plain.csv")), p(&plain.with_extension("x"))]);
    assert!(!err.contains("note:"), "{err}");
    // The names pandas gives the same header.
    let json = ok(&["cat", p(&ds), "--json"]);
    assert_eq!(json.trim(), r#"[{"a":1,"a.2":2,"Unnamed: 2":3,"a.1":4,"a.3":5,"-3":6,"-3.1":7}]"#);
}

#[test]
fn stats_of_a_column_file_is_that_column_even_where_names_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let ds = convert(dir.path(), "dup", "a,a\n1,10\n2,20\n3,30\n", &[]);
    assert_eq!(stats_json(&ds.join("a.1.npy"))["sum"], 60);
    assert_eq!(stats_json(&ds.join("a.npy"))["sum"], 6);
    // Other dtypes, three repeats, a missing value only in the last one.
    let ds = convert(dir.path(), "three", "x,x,x\n1.5,10,7\n2.5,20,\n", &[]);
    assert_eq!(stats_json(&ds.join("x.npy"))["dtype"], "float64");
    let s = stats_json(&ds.join("x.1.npy"));
    assert_eq!((s["dtype"].as_str(), s["sum"].as_i64()), (Some("int64"), Some(30)));
    let s = stats_json(&ds.join("x.2.npy"));
    assert_eq!(
        (s["count"].as_i64(), s["null_count"].as_i64(), s["sum"].as_i64()),
        (Some(1), Some(1), Some(7))
    );

    // A dataset written before columns were renamed: two columns called `a`, files `a.npy`
    // and `a_2.npy`. Each file's statistics are its own.
    let ds = convert(dir.path(), "old", "a,a,k\n1,10,x\n2,,y\n", &[]);
    as_old_dataset(&ds, &["a.npy", "a_2.npy", "k.npy"]);
    let s = stats_json(&ds.join("a_2.npy"));
    assert_eq!((s["sum"].as_i64(), s["null_count"].as_i64()), (Some(10), Some(1)));
    assert_eq!(stats_json(&ds.join("a.npy"))["sum"], 3);
}

#[test]
fn old_manifests_with_repeated_or_empty_names_read_with_unique_names() {
    let dir = tempfile::tempdir().unwrap();
    let ds = convert(dir.path(), "old", ",a,a,a,k\n0,1,10,100,x\n1,2,20,200,y\n", &[]);
    as_old_dataset(&ds, &["column.npy", "a.npy", "a_2.npy", "a_3.npy", "k.npy"]);
    let text = std::fs::read_to_string(ds.join("manifest.json")).unwrap();
    assert!(!text.contains("header") && text.contains(r#""name": """#), "{text}");
    assert_eq!(
        columns(&ds),
        [
            col("Unnamed: 0", Some(""), "column.npy"),
            col("a", None, "a.npy"),
            col("a.1", Some("a"), "a_2.npy"),
            col("a.2", Some("a"), "a_3.npy"),
            col("k", None, "k.npy"),
        ]
    );
    let d = Dataset::open(&ds).unwrap();
    assert_eq!(d.column("a.2").unwrap().values::<i64>().unwrap().as_slice().unwrap(), [100, 200]);
    assert_eq!(d.column("").unwrap().name(), "Unnamed: 0", "the header text finds a lone column");
    let e = d.column("nope").unwrap_err();
    assert!(matches!(e, larder::Error::Argument(_)), "{e}");
    let json = ok(&["cat", p(&ds), "--json"]);
    assert!(json.contains(r#""a":1,"a.1":10,"a.2":100"#), "{json}");
    let g = ok(&["groupby", p(&ds), "--by", "k", "--agg", "sum:a.1,sum:a.2", "--json"]);
    assert!(g.contains(r#""sum:a.1":[10,20],"sum:a.2":[100,200]"#), "{g}");
}

#[test]
fn header_text_shared_by_columns_without_one_named_so_is_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let ds = convert(dir.path(), "two", ",g,\n1,a,2\n3,b,4\n", &[]);
    let e = Dataset::open(&ds).unwrap().column("").unwrap_err();
    assert!(matches!(e, larder::Error::Argument(_)), "{e}");
    assert!(e.to_string().contains(r#"["Unnamed: 0", "Unnamed: 2"]"#), "{e}");
    let (success, _, err) = run(&["groupby", p(&ds), "--by", "g", "--agg", "sum:"]);
    assert!(!success && err.contains("2 columns have the header name \"\""), "{err}");
}

#[test]
fn groupby_and_cat_json_address_the_named_column() {
    let dir = tempfile::tempdir().unwrap();
    let ds = convert(dir.path(), "dupj", "a,a,k\n1,10,x\n2,20,y\n3,30,x\n", &[]);
    let json = ok(&["cat", p(&ds), "--json"]);
    assert_eq!(
        json.trim(),
        r#"[{"a":1,"a.1":10,"k":"x"},{"a":2,"a.1":20,"k":"y"},{"a":3,"a.1":30,"k":"x"}]"#
    );
    let g = ok(&["groupby", p(&ds), "--by", "k", "--agg", "sum:a,sum:a.1", "--json"]);
    assert!(g.contains(r#""sum:a":[4,2],"sum:a.1":[40,20]"#), "{g}");

    // An empty name (`sum:` and `Unnamed: 0`), a numeric name as --by, names with `:` and `,`.
    let csv = ",-3,t:1,\"x,y\",v\n1,7,5,100,2.5\n2,7,6,200,3.5\n3,8,7,300,4.5\n";
    let ds = convert(dir.path(), "odd", csv, &[]);
    let g = ok(&[
        "groupby",
        p(&ds),
        "--by",
        "-3",
        "--agg",
        "sum:,sum:Unnamed: 0,max:t:1,sum:\"x,y\"",
        "--agg",
        "count",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&g).unwrap();
    assert_eq!(v["keys"], serde_json::json!([7, 8]));
    let a = &v["aggregates"];
    assert_eq!(a["sum:"], serde_json::json!([3, 3]));
    assert_eq!(a["sum:Unnamed: 0"], serde_json::json!([3, 3]));
    assert_eq!(a["max:t:1"], serde_json::json!([6, 7]));
    assert_eq!(a["sum:x,y"], serde_json::json!([300, 300]));
    assert_eq!(a["count"], serde_json::json!([2, 1]));
    let (success, _, err) = run(&["groupby", p(&ds), "--by", "-3", "--agg", "sum:\"x,y"]);
    assert!(!success && err.contains("a quote is not closed"), "{err}");
}

#[test]
fn convert_options_name_columns_by_unique_name_header_text_or_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "a,a,\"x,y\",\n1,2,3,4\n5,6,7,8\n";
    let ds = convert(
        dir.path(),
        "sel",
        csv,
        &["--columns", "a.1,\"x,y\",", "--type", "a.1=f32", "--type", "=u8", "--type", "x,y=i16"],
    );
    let m = Manifest::read(&ds).unwrap();
    let got: Vec<_> = m.columns.iter().map(|c| (c.name.as_str(), c.dtype.as_str())).collect();
    assert_eq!(got, [("a.1", "<f4"), ("x,y", "<i2"), ("Unnamed: 3", "|u1")]);
    // Numeric names that start with `-`, given without `=`.
    let ds = convert(
        dir.path(),
        "neg",
        "-3,-3,k\n1,,x\n2,5,y\n",
        &["--type", "-3.1=i16", "--fill", "-3.1=-1", "--columns", "-3.1,-3"],
    );
    let m = Manifest::read(&ds).unwrap();
    let got: Vec<_> = m.columns.iter().map(|c| (c.name.as_str(), c.dtype.as_str())).collect();
    assert_eq!(got, [("-3.1", "<i2"), ("-3", "<i8")]);
    assert_eq!(ok(&["cat", p(&ds.join("-3.1.npy"))]), "[-1  5]\n");
    // A header text two columns share names the first, as pandas' `a` does; the second by
    // its unique name only.
    let ds = convert(dir.path(), "first", "a,a\n1,2\n", &["--type", "a=i8"]);
    let m = Manifest::read(&ds).unwrap();
    assert_eq!((m.columns[0].dtype.as_str(), m.columns[1].dtype.as_str()), ("|i1", "<i8"));
    // Two empty names: "" is ambiguous, and the error says what to use instead.
    let src = dir.path().join("two.csv");
    std::fs::write(&src, ",,v\n1,2,3\n").unwrap();
    let out = dir.path().join("two");
    let (success, _, err) = run(&["convert", "-q", p(&src), p(&out), "--type", "=u8"]);
    assert!(!success, "{err}");
    assert!(err.contains("is in the header 2 times") && err.contains("\"Unnamed: 1\""), "{err}");
}

#[test]
fn appends_match_columns_by_unique_name_and_old_datasets_with_repeated_names_still_append() {
    let dir = tempfile::tempdir().unwrap();
    let ds = convert(dir.path(), "dup", "a,a,,k\n1,10,100,x\n", &[]);
    let day2 = dir.path().join("day2.csv");
    std::fs::write(&day2, "a,a,,k\n2,20,200,y\n").unwrap();
    ok(&["convert", "-q", "--append", p(&day2), p(&ds)]);
    let json = ok(&["cat", p(&ds), "--json"]);
    assert_eq!(
        json.trim(),
        r#"[{"a":1,"a.1":10,"Unnamed: 2":100,"k":"x"},{"a":2,"a.1":20,"Unnamed: 2":200,"k":"y"}]"#
    );

    // Written before the renaming: names `a`, `a`, `` and files of the old scheme.
    let old = convert(dir.path(), "old", "a,a,,k\n1,10,100,x\n", &[]);
    as_old_dataset(&old, &["a.npy", "a_2.npy", "column.npy", "k.npy"]);
    // Columns in another order, the empty one named by its unique name in the header.
    let day2 = dir.path().join("day2b.csv");
    std::fs::write(&day2, "k,a,Unnamed: 2,a\ny,2,200,20\n").unwrap();
    ok(&["convert", "-q", "--append", p(&day2), p(&old)]);
    let json = ok(&["cat", p(&old), "--json"]);
    assert_eq!(
        json.trim(),
        r#"[{"a":1,"a.1":10,"Unnamed: 2":100,"k":"x"},{"a":2,"a.1":20,"Unnamed: 2":200,"k":"y"}]"#
    );
    let m = Manifest::read(&old).unwrap();
    assert_eq!(m.columns[1].file, "a_2.npy", "an append keeps the files");
    let s = stats_json(&old.join("a_2.npy"));
    assert_eq!(s["sum"], 30);
}

#[test]
fn cat_and_info_of_a_column_file_show_its_missing_values() {
    let dir = tempfile::tempdir().unwrap();
    let ds = convert(dir.path(), "nul", "x,y\n5,a\n,b\n7,c\n", &[]);
    assert_eq!(ok(&["cat", p(&ds.join("x.npy"))]), "[   5 <NA>    7]\n");
    assert_eq!(ok(&["cat", p(&ds.join("x.npy")), "--json"]), "[5,null,7]\n");
    assert_eq!(ok(&["cat", p(&ds.join("x.npy")), "--slice", "1:"]), "[<NA>    7]\n");
    let info = ok(&["info", p(&ds.join("x.npy"))]);
    assert!(info.contains("validity:  x.valid.npy (1 missing"), "{info}");
    let info: serde_json::Value =
        serde_json::from_str(&ok(&["info", p(&ds.join("x.npy")), "--json"])).unwrap();
    assert_eq!(info["column"]["nulls"], 1);
    assert_eq!(info["column"]["valid"], "x.valid.npy");
    // Bool and datetime columns, two missing; a column without missing values prints as before.
    let csv = "b,t,n\ntrue,2024-01-01T00:00:00,1\n,,2\nfalse,,3\n";
    let ds = convert(dir.path(), "kinds", csv, &[]);
    assert_eq!(ok(&["cat", p(&ds.join("b.npy"))]), "[ True  <NA> False]\n");
    assert_eq!(
        ok(&["cat", p(&ds.join("t.npy")), "--json"]),
        "[\"2024-01-01T00:00:00\",null,null]\n"
    );
    assert_eq!(ok(&["cat", p(&ds.join("n.npy"))]), "[1 2 3]\n");
    let info = ok(&["info", p(&ds.join("n.npy"))]);
    assert!(info.contains("validity:  none"), "{info}");
}

#[test]
fn stats_of_a_dataset_directory_says_it_is_one_and_names_its_column_files() {
    let dir = tempfile::tempdir().unwrap();
    let ds = convert(dir.path(), "m1", "a,a,k\n1,2,x\n", &[]);
    for extra in [&[][..], &["--axis", "0"][..]] {
        let mut args = vec!["stats", p(&ds)];
        args.extend(extra);
        let (success, _, err) = run(&args);
        assert!(!success, "{err}");
        assert!(err.contains("is a dataset"), "{err}");
        let a1 = ds.join("a.1.npy");
        assert!(err.contains(&format!("{} (\"a.1\")", a1.display())), "{err}");
    }
    let e = larder::compute::StatsOptions::new().compute(&ds).unwrap_err();
    assert!(matches!(e, larder::Error::Invalid { .. }), "{e}");
    // Many columns: a dozen listed, the rest counted.
    let header: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    let ds =
        convert(dir.path(), "wide", &format!("{}\n{}\n", header.join(","), row.join(",")), &[]);
    let e = larder::compute::StatsOptions::new().compute(&ds).unwrap_err().to_string();
    assert!(e.contains("c11.npy") && !e.contains("c12.npy") && e.contains("and 8 more"), "{e}");
}

#[test]
fn a_dataset_with_repeated_names_round_trips_through_a_zarr_group() {
    let dir = tempfile::tempdir().unwrap();
    let ds = convert(dir.path(), "dup", "a,a,,a.1,k\n1,10,,4,x\n2,20,200,5,y\n", &[]);
    let group = dir.path().join("g.zarr");
    let back = dir.path().join("back");
    ok(&["copy", p(&ds), p(&group)]);
    for array in ["a", "a.2", "Unnamed__2", "a.1"] {
        assert!(group.join(array).join("zarr.json").is_file(), "{array}");
    }
    let info = ok(&["info", p(&group)]);
    assert!(info.contains("a.2") && info.contains("Unnamed: 2"), "{info}");
    ok(&["copy", p(&group), p(&back)]);
    assert_eq!(Manifest::read(&back).unwrap().columns, Manifest::read(&ds).unwrap().columns);
    assert_eq!(ok(&["cat", p(&back), "--json"]), ok(&["cat", p(&ds), "--json"]));
    assert_eq!(stats_json(&back.join("a.2.npy"))["sum"], 30);
}
