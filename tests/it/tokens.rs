//! Tokens read as pandas' `read_csv` reads them by default: blank-only strings are text,
//! `T`/`F` are text (pandas' bool words are only True/TRUE/true and the falses), and `NaT` is a
//! missing time in a date-time column (as `pd.to_datetime` reads it) and text elsewhere.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::support::{larder, python};

/// Converts `csv` (written to a temporary directory) with `args`, returning the directory and
/// `larder cat --json`'s records.
fn convert(csv: &str, args: &[&str]) -> (tempfile::TempDir, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, csv).unwrap();
    let out = dir.path().join("out");
    let o = larder()
        .args(["convert", "-q", path.to_str().unwrap(), out.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = larder().args(["cat", out.to_str().unwrap(), "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    (dir, v)
}

fn column(records: &[Value], name: &str) -> Vec<Value> {
    records.iter().map(|r| r[name].clone()).collect()
}

fn kinds(dir: &Path) -> String {
    let o = larder().arg("info").arg(dir.join("out")).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn blanks_t_f_and_nat_read_as_pandas_reads_them() {
    let csv = "ts,s,flag,sex,n\n2024-01-01T10:00:00,a,T,F,1\nNaT,   ,F,F,\n\
               2024-01-02T10:00:00,b,T,F,3\n";
    let (dir, r) = convert(csv, &[]);
    // pandas: ts (parse_dates) [Timestamp, NaT, Timestamp]; s ['a', '   ', 'b'];
    // flag ['T', 'F', 'T']; sex ['F', 'F', 'F']; n [1.0, nan, 3.0].
    assert_eq!(
        column(&r, "ts"),
        [json!("2024-01-01T10:00:00"), Value::Null, json!("2024-01-02T10:00:00")]
    );
    assert_eq!(column(&r, "s"), [json!("a"), json!("   "), json!("b")]);
    assert_eq!(column(&r, "flag"), [json!("T"), json!("F"), json!("T")]);
    assert_eq!(column(&r, "sex"), [json!("F"), json!("F"), json!("F")]);
    assert_eq!(column(&r, "n"), [json!(1), Value::Null, json!(3)]);
    let info = kinds(dir.path());
    assert!(info.lines().any(|l| l.contains(" ts ") && l.contains("datetime")), "{info}");
}

#[test]
fn the_same_rules_hold_on_the_quoted_path_and_for_other_spellings() {
    // Quotes send a block through the general parser; lowercase t/f, `nat`/`NAT`, a tab-only
    // string, a quoted blank and a quoted empty field (missing, as pandas).
    let csv = "ts,s,flag,x\n\"nat\",\"\t\",t,1.5\n2024-01-01,\" \",f,  \nNAT,\"\",t,2\n\
               2024-01-03,z,f,3\n";
    let (_dir, r) = convert(csv, &[]);
    assert_eq!(
        column(&r, "ts"),
        [Value::Null, json!("2024-01-01"), Value::Null, json!("2024-01-03")]
    );
    assert_eq!(column(&r, "s"), [json!("\t"), json!(" "), Value::Null, json!("z")]);
    assert_eq!(column(&r, "flag"), [json!("t"), json!("f"), json!("t"), json!("f")]);
    // A blank-only number is still missing (NaN), where pandas would make the column text.
    assert_eq!(column(&r, "x"), [json!(1.5), json!("NaN"), json!(2.0), json!(3.0)]);

    // NaT alone makes no date-time column, and outside one it is text, as in pandas.
    let (_dir, r) = convert("a,b\nNaT,NaT\nNaT,x\n", &[]);
    assert_eq!(column(&r, "a"), [json!("NaT"), json!("NaT")]);
    assert_eq!(column(&r, "b"), [json!("NaT"), json!("x")]);
    // Given types: bool still reads T/F and 1/0; a formatted date-time reads NaT as missing;
    // a str column keeps blanks.
    let (_dir, r) = convert(
        "flag,d,s\nT,NaT,\" \"\n0,31/12/2024,x\n",
        &["--type", "flag=bool", "--type", "d=datetime64[D]:%d/%m/%Y", "--type", "s=str"],
    );
    assert_eq!(column(&r, "flag"), [json!(true), json!(false)]);
    assert_eq!(column(&r, "d"), [Value::Null, json!("2024-12-31")]);
    assert_eq!(column(&r, "s"), [json!(" "), json!("x")]);
}

#[test]
fn random_token_columns_equal_pandas() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Mixed columns of the tokens this is about, in 30k rows (several blocks).
    let words = ["T", "F", "t", "f", " ", "   ", "\t", "NaT", "True", "false", "x", ""];
    let mut s = String::from("txt,ts,b\n");
    let mut x: u64 = 3;
    for i in 0..30_000u64 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let w = words[(x >> 40) as usize % words.len()];
        let ts = if (x >> 20).is_multiple_of(7) {
            "NaT".to_string()
        } else {
            format!("2024-01-{:02}T{:02}:00:00", 1 + i % 28, i % 24)
        };
        let b = if (x >> 30).is_multiple_of(5) {
            ""
        } else if (x >> 31).is_multiple_of(2) {
            "True"
        } else {
            "FALSE"
        };
        writeln!(s, "\"{w}\",{ts},{b}").unwrap();
    }
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, &s).unwrap();
    let out = dir.path().join("out");
    let o = larder().args(["convert", "-q"]).arg(&csv).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = larder().args(["cat", "--json"]).arg(&out).output().unwrap();
    let got: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let script = r#"
import sys, json, pandas as pd
df = pd.read_csv(sys.argv[1], parse_dates=["ts"])
rows = []
for t, ts, b in zip(df.txt, df.ts, df.b):
    rows.append({"txt": None if pd.isna(t) else t,
                 "ts": None if pd.isna(ts) else ts.strftime("%Y-%m-%dT%H:%M:%S"),
                 "b": None if pd.isna(b) else bool(b)})
print(json.dumps(rows))
"#;
    let o = std::process::Command::new(py).args(["-c", script]).arg(&csv).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        for k in ["txt", "ts", "b"] {
            assert_eq!(g[k], w[k], "row {i} column {k}");
        }
    }
}

#[test]
fn a_column_of_blanks_only_is_text_and_short_records_count_in_inference() {
    // Every value blank (of any width, spaces or tabs): text, as pandas reads it, each blank
    // kept as written; blanks among numbers stay missing values of a number column.
    let (dir, rows) = convert("a,b,c\n1, ,7\n2,\t\t,\n3,   ,9\n", &[]);
    let k = kinds(dir.path());
    let b = k.lines().find(|l| l.contains(" b ")).unwrap();
    assert!(b.contains("cat") || b.contains("str"), "{k}");
    assert_eq!(column(&rows, "b"), [json!(" "), json!("\t\t"), json!("   ")]);
    let (_, rows) = convert("a,b\n1, \n2,5\n", &[]);
    assert_eq!(column(&rows, "b"), [Value::Null, json!(5)]);
    // A short record's fields are typed as a full record's: a one-record file whose last
    // fields are missing keeps its dates, times and bools (pandas' dtypes).
    for csv in [
        "d,t,b,s,n\n2004-02-14,2008-04-24T06:38:35,False,x\n",
        "d,t,b,s,n\n2004-02-14,2008-04-24T06:38:35,true\n2004-02-15,2008-04-24T06:38:36,false,y,1\n",
    ] {
        let (dir, _) = convert(csv, &[]);
        let k = kinds(dir.path());
        for (name, want) in [(" d ", "<M8[D]"), (" t ", "<M8[s]"), (" b ", "|b1")] {
            let line = k.lines().find(|l| l.contains(name)).unwrap();
            assert!(line.contains(want), "{name}: {k}");
        }
    }
}
