//! Which lines are records and how wide they are, against pandas: R's row names found from the
//! records at least as long as the header (short rows do not vote), and lines of only blanks,
//! which pandas skips as blank lines.

use std::fs;
use std::path::Path;
use std::process::Command;

use larder::convert::ConvertOptions;
use serde_json::Value;

use crate::support::{larder, python};

/// Converts `text` into `dir/NAME`: rows written, rows rejected and the column names.
fn convert(dir: &Path, name: &str, text: &str) -> (u64, u64, Vec<String>) {
    let csv = dir.join(format!("{name}.csv"));
    fs::write(&csv, text).unwrap();
    let r = ConvertOptions::new().convert(&csv, dir.join(name), &mut |_| {}).unwrap();
    let m = r.manifest;
    (m.rows, m.rejected, m.columns.iter().map(|c| c.name.clone()).collect())
}

/// `larder cat DATASET --json` of `dir/NAME`.
fn rows(dir: &Path, name: &str) -> Vec<Value> {
    let out = larder().arg("cat").arg(dir.join(name)).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Array(v) => v,
        other => panic!("{other}"),
    }
}

/// pandas' row count and column names (after `reset_index()`, so an inferred index is the
/// first column) of `dir/NAME.csv`; `None` without python.
fn pandas(dir: &Path, name: &str) -> Option<(u64, Vec<String>)> {
    let py = python()?;
    let script = "import sys, json, pandas as pd\n\
                  df = pd.read_csv(sys.argv[1])\n\
                  df = df if df.index.equals(pd.RangeIndex(len(df))) else df.reset_index()\n\
                  print(json.dumps([len(df), [str(c) for c in df.columns]]))";
    let csv = dir.join(format!("{name}.csv"));
    let out = Command::new(py).arg("-c").arg(script).arg(&csv).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (n, names): (u64, Vec<String>) = serde_json::from_slice(&out.stdout).unwrap();
    Some((n, names))
}

#[test]
fn row_names_are_found_among_short_rows_however_few_the_records() {
    let dir = tempfile::tempdir().unwrap();
    // Two records, a full one with row names and a short one: no width is held by more than
    // half of all records, but short rows take no part; pandas takes the first record's width.
    let cases = [
        ("two", "a,b,c\n\"1\",x,2,3.5\n\"2\",y\n", &["index", "a", "b", "c"][..], 2),
        ("crlf", "k,v,w,z\r\nr1,7,NaT,8,9\r\nr2,-4\r\n", &["index", "k", "v", "w", "z"], 2),
        // Two leading fields, the short row first: the full ones still decide.
        ("level", "p,q\nr,s,1,2\nt,u,3,4\nv\n", &["level_0", "level_1", "p", "q"], 3),
    ];
    for (name, text, names, n) in cases {
        let (rows_written, rejected, got) = convert(dir.path(), name, text);
        assert_eq!((rows_written, rejected), (n, 0), "{name}");
        assert_eq!(got, names, "{name}");
        if let Some((pn, pnames)) = pandas(dir.path(), name) {
            assert_eq!(pn, n, "{name}: pandas");
            assert_eq!(pnames, names, "{name}: pandas");
        }
    }
    // The short row's missing fields are missing values.
    let r = rows(dir.path(), "two");
    assert_eq!(r[1]["index"], 2);
    assert_eq!(r[1]["a"], "y");
    assert!(r[1]["b"].is_null() && r[1]["c"] == "NaN", "{:?}", r[1]);
    // As many records of the header's width as long ones is no pattern, whichever comes first:
    // the long one is rejected (pandas takes row names from a long first record, and refuses
    // the file when a header-wide one comes first: "Expected 2 fields in line 3, saw 3").
    for (name, text) in [("tie", "a,b\nr,1,2\n3,4\n"), ("tie_late", "a,b\n3,4\nr,1,2\n")] {
        let (rows_written, rejected, got) = convert(dir.path(), name, text);
        assert_eq!((rows_written, rejected), (1, 1), "{name}");
        assert_eq!(got, ["a", "b"], "{name}");
    }
}

#[test]
fn lines_of_only_blanks_are_blank_lines_as_pandas_skips_them() {
    let dir = tempfile::tempdir().unwrap();
    // A tab, spaces, both; LF and CRLF; with quotes elsewhere in the file (the general parser)
    // and without (the plain and regular paths); one column (every line one field) or more.
    let cases = [
        ("tab_crlf", "a,b\r\n1,x\r\n\t\r\n2,y\r\n", 2),
        ("spaces", "a,b\n1,x\n   \n2,y\n \t \n", 2),
        ("quoted", "a,b\n\"1\",\"x, y\"\n\t\n2,\"z\"\n", 2),
        ("one_column", "name\nann\n\t\nbob\n  \ncy\n", 3),
        ("one_column_crlf", "name\r\nann\r\n \r\nbob\r\n", 2),
        // Blanks with anything else are a value (pandas keeps `  x`).
        ("not_blank", "name\n  x\n\t\nb\n", 2),
    ];
    for (name, text, n) in cases {
        let (rows_written, rejected, _) = convert(dir.path(), name, text);
        assert_eq!((rows_written, rejected), (n, 0), "{name}");
        if let Some((pn, _)) = pandas(dir.path(), name) {
            assert_eq!(pn, n, "{name}: pandas");
        }
    }
    let r = rows(dir.path(), "not_blank");
    assert_eq!((r[0]["name"].as_str(), r[1]["name"].as_str()), (Some("  x"), Some("b")));
    // Where the blank is the delimiter, the line is a record of empty fields, as pandas reads
    // it: a tab-separated line of one tab is two missing values.
    let csv = dir.path().join("tsv.csv");
    fs::write(&csv, "a\tb\n1\t2\n\t\n3\t4\n").unwrap();
    let mut o = ConvertOptions::new();
    o.delimiter(b'\t');
    let m = o.convert(&csv, dir.path().join("tsv"), &mut |_| {}).unwrap().manifest;
    assert_eq!((m.rows, m.rejected), (3, 0));
    let r = rows(dir.path(), "tsv");
    assert!(r[1]["a"].is_null() && r[1]["b"].is_null(), "{:?}", r[1]);
}
