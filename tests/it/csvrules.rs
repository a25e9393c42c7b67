//! The CSV record and value rules of `larder convert` measured against pandas: stray quotes,
//! R's row names and short rows, widening instead of rejecting, all-rejected conversions,
//! integers past `i64`, and very wide files.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use larder::convert::ConvertOptions;
use larder::dataset::Manifest;
use serde_json::Value;

use crate::support::{larder, python};

/// Converts `text` (written to `dir/NAME.csv`) with `opts` into `dir/NAME`; the manifest.
fn convert(dir: &Path, name: &str, text: &str, opts: &ConvertOptions) -> Manifest {
    let csv = dir.join(format!("{name}.csv"));
    fs::write(&csv, text).unwrap();
    let out = dir.join(name);
    opts.convert(&csv, &out, &mut |_| {}).unwrap();
    Manifest::read(&out).unwrap()
}

/// The dataset at `dir` as `larder cat DATASET --json` prints it: one object per row.
fn rows(dir: &Path) -> Vec<Value> {
    let out = larder().arg("cat").arg(dir).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Array(v) => v,
        other => panic!("{other}"),
    }
}

/// What pandas reads from `csv` (`pd.read_csv(csv, **kwargs)` with `kwargs` a Python
/// literal), as JSON records after `reset_index()` when `reset` (for an inferred index);
/// `None` when the tests run without python.
fn pandas(csv: &Path, kwargs: &str, reset: bool) -> Option<Vec<Value>> {
    let py = python()?;
    let script = format!(
        "import sys, pandas as pd\n\
         df = pd.read_csv(sys.argv[1], **{kwargs})\n\
         df = df.reset_index() if {reset} else df\n\
         print(df.to_json(orient='records'))",
        reset = if reset { "True" } else { "False" }
    );
    let out = Command::new(py).arg("-c").arg(script).arg(csv).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Array(v) => Some(v),
        other => panic!("{other}"),
    }
}

/// People's heights in feet and inches, `5'11"`, every hundredth row: the quote is part of
/// the value, in the middle or at the end of an unquoted field.
fn inches_csv(rows: usize, delimiter: char) -> String {
    let mut s = format!("name{delimiter}height{delimiter}weight\n");
    for i in 0..rows {
        let h = match i % 100 {
            7 => "5'11\"".to_string(),
            57 => "6'\"2".to_string(),
            _ => (150 + i % 40).to_string(),
        };
        writeln!(s, "p{i}{delimiter}{h}{delimiter}{}", 60 + i % 30).unwrap();
    }
    s
}

#[test]
fn a_quote_inside_an_unquoted_field_is_a_literal_character_as_pandas_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    for (name, delimiter, block) in [("comma", ',', 1 << 20), ("semi", ';', 97)] {
        let text = inches_csv(1000, delimiter);
        let mut opts = ConvertOptions::new();
        opts.delimiter(delimiter as u8).block_size(block);
        let m = convert(dir.path(), name, &text, &opts);
        assert_eq!((m.rows, m.rejected), (1000, 0), "{name}");
        let got = rows(&dir.path().join(name));
        assert_eq!(got[7]["height"], "5'11\"", "{name}");
        assert_eq!(got[57]["height"], "6'\"2", "{name}");
        assert_eq!(got[8]["height"], "158", "{name}: the line after is a record of its own");
        assert_eq!(got[999]["weight"], 69, "{name}");
        let csv = dir.path().join(format!("{name}.csv"));
        if let Some(want) = pandas(&csv, &format!("dict(sep={delimiter:?}, dtype=str)"), false) {
            assert_eq!(want.len(), got.len(), "{name}");
            for (w, g) in want.iter().zip(&got) {
                assert_eq!(w["height"], g["height"], "{name}");
            }
        }
    }
    // A quote that starts a field still quotes it, line breaks and delimiters included.
    let m = convert(
        dir.path(),
        "mixed",
        "a,b\nx\"y,\"p,\nq\"\n\"r\"\"s\",t\"\n",
        ConvertOptions::new().column_type("a", larder::convert::ColumnType::Str),
    );
    assert_eq!((m.rows, m.rejected), (2, 0));
    let got = rows(&dir.path().join("mixed"));
    assert_eq!((got[0]["a"].as_str(), got[0]["b"].as_str()), (Some("x\"y"), Some("p,\nq")));
    assert_eq!((got[1]["a"].as_str(), got[1]["b"].as_str()), (Some("r\"s"), Some("t\"")));
}

#[test]
fn a_stray_quote_in_a_lone_cr_file_or_among_several_inputs_ends_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cr = dir.path().join("cr.csv");
    fs::write(&cr, "h,w\r5'11\",60\r6',70\r").unwrap();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    fs::write(&a, "h,w\n5'11\",60\n").unwrap();
    fs::write(&b, "h,w\n6',70\n").unwrap();
    for (name, inputs) in [("o1", vec![cr]), ("o2", vec![a, b])] {
        let out = dir.path().join(name);
        ConvertOptions::new().convert_files(&inputs, &out, &mut |_| {}).unwrap();
        let m = Manifest::read(&out).unwrap();
        assert_eq!((m.rows, m.rejected), (2, 0), "{name}");
        let got = rows(&out);
        assert_eq!((got[0]["h"].as_str(), got[1]["h"].as_str()), (Some("5'11\""), Some("6'")));
    }
}

#[test]
fn a_conversion_that_rejects_every_record_fails_naming_the_first_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("all.csv");
    fs::write(&csv, "id,x\n1,a\n2,b\n3,c\n4,d\n").unwrap();
    let out = dir.path().join("all");
    let run = larder().arg("convert").arg(&csv).arg(&out).args(["--type", "x=i64"]).output();
    let run = run.unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{err}");
    assert!(err.contains("all 4 records were rejected"), "{err}");
    assert!(err.contains("line 2: column \"x\": not an integer; line 3: column \"x\""), "{err}");
    assert!(err.contains('…') && !err.contains("line 5"), "only the first three: {err}");
    assert!(!out.exists() && !dir.path().join(".all.larder-tmp").exists(), "nothing left behind");
    // The library says the same, for record-level reasons too, and naming the file of several.
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    fs::write(&a, "k,v\n1,2,3,4\n").unwrap();
    fs::write(&b, "k,v\n1,2,3\n").unwrap();
    let err = ConvertOptions::new()
        .convert_files(&[a.clone(), b.clone()], dir.path().join("ab"), &mut |_| {})
        .unwrap_err();
    match &err {
        larder::Error::AllRejected { rejected: 2, first, .. } => {
            let want = format!(
                "{}:2: expected 2 fields, found 4; {}:2: expected 2 fields, found 3",
                a.display(),
                b.display()
            );
            assert!(first.contains(&want), "{first}");
        }
        other => panic!("{other:?}"),
    }
    // One record converted, or none to convert: not an error.
    fs::write(&csv, "id,x\n1,a\n2,5\n").unwrap();
    let m = ConvertOptions::new()
        .column_type("x", larder::convert::ColumnType::I64)
        .convert(&csv, dir.path().join("one"), &mut |_| {})
        .unwrap();
    assert_eq!((m.manifest.rows, m.manifest.rejected), (1, 1));
    fs::write(&csv, "id,x\n").unwrap();
    assert_eq!(convert(dir.path(), "none", "id,x\n", &ConvertOptions::new()).rows, 0);
}

#[test]
fn an_append_that_rejects_every_record_fails_and_leaves_the_dataset_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let m = convert(dir.path(), "d", "id,x\n1,2\n", &ConvertOptions::new());
    assert_eq!(m.rows, 1);
    let more = dir.path().join("more.csv");
    fs::write(&more, "id,x\n3,oops\n4,\"no\"\n").unwrap();
    let ds = dir.path().join("d");
    let before = fs::read(ds.join("manifest.json")).unwrap();
    let e = ConvertOptions::new().append_files(&[more], &ds, &mut |_| {}).unwrap_err();
    match &e {
        larder::Error::AllRejected { rejected: 2, first, .. } => {
            assert!(first.contains("line 2: column \"x\": not an integer"), "{first}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read(ds.join("manifest.json")).unwrap(), before);
    assert!(!ds.join(".append.larder-tmp").exists());
}

#[test]
fn integers_past_i64_are_inferred_as_uint64_and_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let text = "id,h\n1,18446744073709551615\n2,9223372036854775808\n3,\n4,0\n";
    let m = convert(dir.path(), "u", text, &ConvertOptions::new());
    assert_eq!((m.rows, m.rejected), (4, 0));
    assert_eq!(m.columns[1].dtype, "<u8");
    let h = larder::read_npy::<u64>(dir.path().join("u").join(&m.columns[1].file)).unwrap();
    assert_eq!(h.as_slice().unwrap(), [u64::MAX, 1 << 63, 0, 0]);
    assert!(m.columns[1].valid.is_some(), "the missing value is marked");
    if let Some(want) = pandas(&dir.path().join("u.csv"), "dict(nrows=2)", false) {
        assert_eq!(want[0]["h"].as_u64(), Some(u64::MAX), "pandas reads it as uint64");
    }
    // Another width: one value just past i64::MAX among small ones, with --shrink.
    let text = "x\n5\n9223372036854775808\n7\n";
    let m = convert(dir.path(), "v", text, ConvertOptions::new().shrink(true));
    assert_eq!(m.columns[0].dtype, "<u8");
    // Negative values beside them fit no integer type: f64, and a note says so.
    let csv = dir.path().join("mixed.csv");
    fs::write(&csv, "x,y\n-1,a\n9223372036854775808,b\n").unwrap();
    let r = ConvertOptions::new().convert(&csv, dir.path().join("mixed"), &mut |_| {}).unwrap();
    assert_eq!(r.manifest.columns[0].dtype, "<f8");
    assert!(
        r.notes.iter().any(|n| n.contains(
            "column \"x\" holds negative integers and integers \
                                           above 9223372036854775807"
        ) && n.contains("--type x=str")),
        "{:?}",
        r.notes
    );
}

/// `rows` records whose values past row `late` no longer fit the types the first rows suggest:
/// `x` takes a decimal, then text; `u` a value past `i64::MAX`; `t` a time of day after dates;
/// `b` a word after bools; `k` always fits.
fn late_csv(rows: usize, late: usize) -> String {
    let mut out = String::from("k,x,u,t,b\n");
    for i in 0..rows {
        let x = match i {
            _ if i == late => "1.5".to_string(),
            _ if i == late + 37 => "n.a.".to_string(),
            _ => i.to_string(),
        };
        let u = if i == late + 11 { "18446744073709551615".to_string() } else { i.to_string() };
        let t = if i == late + 5 { "2024-01-02T10:30:00".to_string() } else { "2024-01-02".into() };
        let b = if i == late + 60 {
            "maybe"
        } else if i % 2 == 0 {
            "true"
        } else {
            "false"
        };
        writeln!(out, "{i},{x},{u},{t},{b}").unwrap();
    }
    out
}

#[test]
fn a_value_past_the_inference_sample_widens_its_column_and_every_row_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    for (name, block) in [("one_block", 1 << 20), ("small_blocks", 211)] {
        let text = late_csv(300, 150);
        let mut opts = ConvertOptions::new();
        opts.infer_rows(100).block_size(block);
        let csv = dir.path().join(format!("{name}.csv"));
        fs::write(&csv, &text).unwrap();
        let r = opts.convert(&csv, dir.path().join(name), &mut |_| {}).unwrap();
        let m = &r.manifest;
        assert_eq!((m.rows, m.rejected), (300, 0), "{name}");
        let dtypes: Vec<&str> = m.columns.iter().map(|c| c.dtype.as_str()).collect();
        assert_eq!(dtypes, ["<i8", "str", "<u8", "<M8[s]", "str"], "{name}");
        let notes = r.notes.join("\n");
        assert!(
            notes.contains("column \"x\" is f64 rather than the i64")
                && notes.contains("\"1.5\" at line 152 is not an integer")
                && notes.contains("--type x=i64"),
            "{name}: {notes}"
        );
        assert!(notes.contains("column \"x\" is str rather than the f64"), "{notes}");
        assert!(notes.contains("\"n.a.\" at line 189") && notes.contains("--na"), "{notes}");
        assert!(notes.contains("column \"u\" is u64 rather than the i64"), "{notes}");
        assert!(notes.contains("column \"t\" is datetime64[s] rather than"), "{notes}");
        assert!(notes.contains("column \"b\" is str rather than the bool"), "{notes}");
        let u = larder::read_npy::<u64>(dir.path().join(name).join(&m.columns[2].file)).unwrap();
        assert_eq!((u[0], u[161], u[299]), (0, u64::MAX, 299), "{name}: exact");
        let got = rows(&dir.path().join(name));
        assert_eq!((got[150]["x"].as_str(), got[151]["x"].as_str()), (Some("1.5"), Some("151")));
        assert_eq!(got[155]["t"], "2024-01-02T10:30:00");
        assert_eq!(got[0]["t"], "2024-01-02T00:00:00");
        if let Some(want) = pandas(&csv, "dict(dtype={'x': str, 'b': str})", false) {
            for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                assert_eq!(w["x"].as_str(), g["x"].as_str(), "{name} row {i}");
                assert_eq!(w["u"].as_u64(), g["u"].as_u64(), "{name} row {i}");
                assert_eq!(w["b"].as_str().map(str::to_lowercase), g["b"].as_str().map(Into::into));
            }
        }
    }
}

#[test]
fn a_type_given_or_fixed_by_the_dataset_still_rejects_what_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let text = late_csv(300, 150);
    let mut opts = ConvertOptions::new();
    opts.infer_rows(100).column_type("x", larder::convert::ColumnType::I64);
    let m = convert(dir.path(), "given", &text, &opts);
    assert_eq!((m.rows, m.rejected), (298, 2), "x's two rows are rejected, the others widen");
    assert_eq!(m.columns[1].dtype, "<i8");
    // An append uses the dataset's types: nothing widens.
    let m = convert(dir.path(), "d", "k,x\n1,2\n", &ConvertOptions::new());
    assert_eq!(m.columns[1].dtype, "<i8");
    let more = dir.path().join("more.csv");
    fs::write(&more, "k,x\n2,3\n3,1.5\n").unwrap();
    let ds = dir.path().join("d");
    let r = ConvertOptions::new().append_files(&[more], &ds, &mut |_| {}).unwrap();
    assert_eq!((r.manifest.rows, r.manifest.rejected), (2, 1));
    assert_eq!(Manifest::read(&ds).unwrap().columns[1].dtype, "<i8");
}

#[test]
fn a_widening_run_interrupted_at_any_durable_step_resumes_to_the_same_bytes() {
    use crate::support::{CountSteps, FailAt};
    use larder::convert::Step;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, late_csv(300, 150)).unwrap();
    let opts = || {
        let mut o = ConvertOptions::new();
        o.infer_rows(100).block_size(700).checkpoint_interval(std::time::Duration::ZERO);
        o
    };
    let counter = Arc::new(CountSteps::default());
    let reference = dir.path().join("ref");
    opts().faults(counter.clone()).convert(&csv, &reference, &mut |_| {}).unwrap();
    let syncs = counter.0.lock().unwrap().get(&Step::Checkpoint).copied().unwrap_or(0);
    assert!(syncs > 4, "{syncs}");
    for n in [1, 2, 3, syncs / 2, syncs - 1] {
        let out = dir.path().join(format!("o{n}"));
        let e = opts().faults(FailAt::new(Step::Checkpoint, n)).convert(&csv, &out, &mut |_| {});
        assert!(e.unwrap_err().to_string().contains("injected failure"), "{n}");
        let r = opts().resume(true).convert(&csv, &out, &mut |_| {}).unwrap();
        assert_eq!(r.manifest.rows, 300, "{n}");
        for f in fs::read_dir(&reference).unwrap() {
            let f = f.unwrap().file_name();
            if f == "manifest.json" {
                continue;
            }
            assert!(fs::read(reference.join(&f)).unwrap() == fs::read(out.join(&f)).unwrap());
        }
    }
}

#[test]
fn r_row_names_become_a_leading_column_as_pandas_reset_index_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("r", "\"x\",\"y\"\n\"1\",1.5,a\n\"2\",2.5,b\n", &["index", "x", "y"][..]),
        ("two", "a,b\n1,2,3,4\n5,6,7,8\n", &["level_0", "level_1", "a", "b"]),
        ("taken", "index,b\n1,2,3\n5,6,7\n", &["level_0", "index", "b"]),
    ];
    for (name, text, names) in cases {
        let csv = dir.path().join(format!("{name}.csv"));
        fs::write(&csv, text).unwrap();
        let r = ConvertOptions::new().convert(&csv, dir.path().join(name), &mut |_| {}).unwrap();
        let m = &r.manifest;
        assert_eq!((m.rows, m.rejected), (2, 0), "{name}");
        let got: Vec<&str> = m.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(got, names, "{name}");
        assert!(r.notes.iter().any(|n| n.contains("more field")), "{name}: {:?}", r.notes);
        let rows = rows(&dir.path().join(name));
        if let Some(want) = pandas(&csv, "dict()", true) {
            assert_eq!(want.len(), rows.len());
            for (w, g) in want.iter().zip(&rows) {
                for n in names {
                    let (w, g) = (w[n].to_string(), g[n].to_string());
                    assert_eq!(w.trim_matches('"'), g.trim_matches('"'), "{name}");
                }
            }
        }
    }
    // Only the whole-file pattern: a longer record among records as long as the header is
    // still rejected.
    let m = convert(dir.path(), "long", "a,b\n1,2\n3,4,5\n6,7\n", &ConvertOptions::new());
    assert_eq!((m.rows, m.rejected, m.columns.len()), (2, 1, 2));
}

#[test]
fn r_row_names_with_short_rows_keep_every_row_as_pandas_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    // R's row names (one or two leading fields) among records that lack their last fields:
    // pandas takes the first record's width, pads the short ones with NaN.
    let cases = [
        (
            "one",
            "\"x\",\"y\",\"z\"\n\"1\",1.5,a,7\n\"2\",2.5\n\"3\",3.5,c,9\n\"4\"\n\"5\",5.5,e,11\n",
            &["index", "x", "y", "z"][..],
            5,
        ),
        ("two", "a,b\nr,1,2,3\ns,4,5\nt,6,7,8\nu,9,10,11\n", &["level_0", "level_1", "a", "b"], 4),
        // A short row among many full ones, however far down the sample it is.
        ("late", &format!("v,w\n{}9,1\n", "7,8,x\n".repeat(40)), &["index", "v", "w"], 41),
    ];
    for (name, text, names, n) in cases {
        let csv = dir.path().join(format!("{name}.csv"));
        fs::write(&csv, text).unwrap();
        let r = ConvertOptions::new().convert(&csv, dir.path().join(name), &mut |_| {}).unwrap();
        let m = &r.manifest;
        assert_eq!((m.rows, m.rejected), (n, 0), "{name}");
        let got: Vec<&str> = m.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(got, names, "{name}");
        assert!(r.notes.iter().any(|n| n.contains("more field")), "{name}: {:?}", r.notes);
        let rows = rows(&dir.path().join(name));
        let last = names.last().unwrap();
        assert!(rows.iter().any(|r| r[last].is_null()), "{name}: a short row's last field");
        if let Some(want) = pandas(&csv, "dict()", true) {
            assert_eq!(want.len(), rows.len(), "{name}");
            for (w, g) in want.iter().zip(&rows) {
                for n in names {
                    // pandas pads with NaN (null in its JSON, a float column); larder's
                    // integer columns mark the value missing, its float ones hold NaN.
                    match (&w[n], &g[n]) {
                        (Value::Null, g) => assert!(g.is_null() || g == "NaN", "{name}: {n}"),
                        (Value::Number(a), Value::Number(b)) => {
                            assert_eq!(a.as_f64(), b.as_f64(), "{name}: {n}");
                        }
                        (w, g) => assert_eq!(w, g, "{name}: {n}"),
                    }
                }
            }
        }
    }
    // A short first record does not hide the pattern either (pandas refuses this file:
    // "Expected 3 fields in line 3, saw 4").
    let m =
        convert(dir.path(), "first", "x,y,z\nr1,1\nr2,2,3,4\nr3,5,6,7\n", &ConvertOptions::new());
    assert_eq!((m.rows, m.rejected, m.columns.len()), (3, 0, 4));
    // Records longer than the row-named ones are still rejected.
    let m = convert(
        dir.path(),
        "longer",
        "x,y\nr1,1,2\nr2,3,4,5\nr3,6,7\nr4,8\nr5,9,10\n",
        &ConvertOptions::new(),
    );
    assert_eq!((m.rows, m.rejected, m.columns.len()), (4, 1, 3));
    // Not a pattern: one long record (first or not) among records as long as the header, or
    // long records that are not most of them: those are rejected, nothing shifts.
    for (name, text, rejected) in [
        ("long_first", "a,b\n1,2,3\n4,5\n6,7\n", 1),
        ("few_long", "a,b\n1,2,3\n4,5\n6,7,8\n9,10\n11,12\n", 2),
    ] {
        let m = convert(dir.path(), name, text, &ConvertOptions::new());
        assert_eq!((m.rejected, m.columns.len()), (rejected, 2), "{name}");
    }
}

#[test]
fn a_record_shorter_than_the_header_has_missing_values_as_pandas_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = "a,b,c,d\n1,2.5,x,true\n4,5.5\n7\n8,9.5,y,false\n";
    let m = convert(dir.path(), "short", text, &ConvertOptions::new());
    assert_eq!((m.rows, m.rejected), (4, 0));
    let got = rows(&dir.path().join("short"));
    assert_eq!(got[1]["b"], 5.5);
    assert!(got[1]["c"].is_null() && got[1]["d"].is_null(), "{:?}", got[1]);
    assert!(got[2]["b"].is_null() || got[2]["b"] == "NaN", "{:?}", got[2]);
    if let Some(want) = pandas(&dir.path().join("short.csv"), "dict()", false) {
        assert_eq!(want.len(), 4);
        assert!(want[2]["b"].is_null() && want[2]["c"].is_null());
        assert_eq!(want[3]["a"], got[3]["a"]);
    }
}

#[test]
fn a_header_without_records_converts_whatever_its_width_and_the_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..3000).map(|i| format!("c{i}")).collect();
    let header = names.join(",");
    let (empty, one) = (dir.path().join("empty.csv"), dir.path().join("one.csv"));
    fs::write(&empty, format!("{header}\n")).unwrap();
    let row: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    fs::write(&one, format!("{header}\n{}\n", row.join(","))).unwrap();
    // Under a limit of 512 open files (soft and hard), which 3000 column files pass.
    let run = |csv: &Path, out: &str| {
        let script = format!(
            "ulimit -n 512 && exec \"$0\" convert -q {} {}",
            csv.display(),
            dir.path().join(out).display()
        );
        let bin = env!("CARGO_BIN_EXE_larder");
        Command::new("sh").arg("-c").arg(script).arg(bin).output().unwrap()
    };
    let r = run(&empty, "empty");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let m = Manifest::read(dir.path().join("empty")).unwrap();
    assert_eq!((m.rows, m.columns.len()), (0, 3000));
    assert_eq!(m.columns[2999].name, "c2999");
    let a = larder::read_npy::<f64>(dir.path().join("empty").join(&m.columns[2999].file));
    assert_eq!(a.unwrap().len(), 0);
    // With a record too: each column file is opened only to be written.
    let r = run(&one, "one");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let m = Manifest::read(dir.path().join("one")).unwrap();
    assert_eq!((m.rows, m.columns.len()), (1, 3000));
    for c in [0, 1234, 2999] {
        let a = larder::read_npy::<i64>(dir.path().join("one").join(&m.columns[c].file));
        assert_eq!(a.unwrap().into_raw_vec_and_offset().0, [c as i64], "c{c}");
    }
}
