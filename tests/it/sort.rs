//! `larder sort`: the order of pandas' stable `sort_values` with missing values last, in
//! bounded memory (sorted runs merged), top-k through zone maps, and a dataset like the source.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use larder::Dataset;
use larder::convert::{ColumnType, ConvertOptions};
use larder::dtype::TimeUnit;
use larder::ops::sort::{SortKey, SortOptions};

use crate::support::larder;

/// A CSV with every kind of column, ties, missing values and NaN; `id` is the row number.
#[allow(clippy::many_single_char_names)] // one letter per CSV column, as its header names them
fn write_csv(path: &Path, rows: u64, seed: u64) {
    let mut s = String::from("id,i,f,c,s,t,b\n");
    let mut x = seed;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for r in 0..rows {
        let i = if next(20) == 0 { String::new() } else { (next(50) as i64 - 25).to_string() };
        let f = match next(25) {
            0 => String::new(),
            1 => "NaN".into(),
            2 => "-0.0".into(),
            3 => "0.0".into(),
            _ => format!("{}", (next(200) as f64 - 100.0) / 8.0),
        };
        let c = if next(15) == 0 {
            ""
        } else {
            ["pear", "apple", "fig", "Zed", "é"][next(5) as usize]
        };
        let st = if next(15) == 0 { String::new() } else { format!("s{}", next(30)) };
        let t = if next(30) == 0 {
            String::new()
        } else {
            jiff::Timestamp::from_second(1_700_000_000 + next(40) as i64 * 3600)
                .unwrap()
                .strftime("%Y-%m-%dT%H:%M:%S")
                .to_string()
        };
        let b = ["true", "false", ""][next(3) as usize];
        writeln!(s, "{r},{i},{f},{c},{st},{t},{b}").unwrap();
    }
    std::fs::write(path, s).unwrap();
}

fn convert(dir: &Path, rows: u64, seed: u64) -> (PathBuf, PathBuf) {
    let csv = dir.join(format!("in{seed}.csv"));
    write_csv(&csv, rows, seed);
    let out = dir.join(format!("d{seed}"));
    let mut o = ConvertOptions::new();
    o.column_type("i", ColumnType::I64)
        .column_type("f", ColumnType::F64)
        .column_type("c", ColumnType::Cat)
        .column_type("s", ColumnType::Str)
        .column_type("t", ColumnType::DateTime(TimeUnit::S))
        .column_type("b", ColumnType::Bool);
    o.convert(&csv, &out, &mut |_| {}).unwrap();
    (csv, out)
}

fn ids(out: &Path) -> Vec<i64> {
    let ds = Dataset::open(out).unwrap();
    ds.column("id").unwrap().values::<i64>().unwrap().as_slice().unwrap().to_vec()
}

#[test]
fn sort_orders_rows_as_pandas_stable_sort_values() {
    let Some(python) = crate::support::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (csv, ds) = convert(dir.path(), 30_000, 11);
    let cases: [(&str, Option<u64>, &str); 6] = [
        ("f", None, "1M"),
        ("-f", None, "64K"),
        ("c,-i", None, "64K"),
        ("-t,s,b", None, "256M"),
        ("-i,f", Some(25), "256M"),
        ("s,-c,f", Some(1000), "256M"),
    ];
    for (n, (by, limit, memory)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("out{n}"));
        let mut cmd = larder();
        cmd.arg("sort").arg(&ds).arg(&out).args(["--by", by, "--memory", memory]);
        if let Some(k) = limit {
            cmd.args(["--limit", &k.to_string()]);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{by}: {}", String::from_utf8_lossy(&o.stderr));
        let got: Vec<String> = ids(&out).iter().map(ToString::to_string).collect();
        let script = r#"
import sys
import pandas as pd
csv, by, limit = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
df = pd.read_csv(csv, keep_default_na=True, parse_dates=["t"])
df["c"] = df["c"].astype(object)
cols = [b.lstrip("-") for b in by]
asc = [not b.startswith("-") for b in by]
s = df.sort_values(cols, ascending=asc, kind="stable", na_position="last")
if limit >= 0:
    s = s.head(limit)
print(" ".join(str(v) for v in s["id"]))
"#;
        let limit = limit.map_or(-1, |k| k as i64).to_string();
        let p = std::process::Command::new(&python)
            .arg("-c")
            .arg(script)
            .arg(&csv)
            .arg(by)
            .arg(&limit)
            .output()
            .unwrap();
        assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
        let want: Vec<String> =
            String::from_utf8_lossy(&p.stdout).split_whitespace().map(str::to_string).collect();
        let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
        assert!(
            got == want,
            "--by {by} --limit {limit}: {} rows vs pandas' {}, first difference at {first_diff:?}",
            got.len(),
            want.len()
        );
    }
}

#[test]
fn sorted_runs_merge_to_the_in_memory_order_and_keep_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let (_, ds) = convert(dir.path(), 20_000, 5);
    let keys = SortKey::parse_list("c,-f,s").unwrap();
    let (small, big) = (dir.path().join("small"), dir.path().join("big"));
    let r = SortOptions::new(keys.clone()).memory(64 << 10).sort(&ds, &small).unwrap();
    assert!(r.runs > 5, "{r:?}");
    let r = SortOptions::new(keys).sort(&ds, &big).unwrap();
    assert_eq!((r.runs, r.rows), (0, 20_000));
    assert_eq!(ids(&small), ids(&big));
    // Every column follows its rows: values, validity, categories, strings.
    let (src, out) = (Dataset::open(&ds).unwrap(), Dataset::open(&small).unwrap());
    let order = ids(&small);
    for name in ["i", "c", "s", "t", "b"] {
        let valid = |d: &Dataset| {
            d.column(name).unwrap().validity().unwrap().unwrap().as_slice().unwrap().to_vec()
        };
        let (a, b) = (valid(&src), valid(&out));
        assert!(order.iter().enumerate().all(|(k, &row)| b[k] == a[row as usize]), "{name}");
    }
    let s_src = src.column("s").unwrap().strings().unwrap();
    let s_out = out.column("s").unwrap().strings().unwrap();
    let c_src = src.column("c").unwrap().values::<u8>().unwrap();
    let c_out = out.column("c").unwrap().values::<u8>().unwrap();
    let v_src = src.column("f").unwrap().values::<f64>().unwrap();
    let v_out = out.column("f").unwrap().values::<f64>().unwrap();
    for (k, &row) in order.iter().enumerate() {
        let row = row as usize;
        assert_eq!(s_out.get(k).unwrap(), s_src.get(row).unwrap());
        assert_eq!(c_out.as_slice().unwrap()[k], c_src.as_slice().unwrap()[row]);
        assert_eq!(
            v_out.as_slice().unwrap()[k].to_bits(),
            v_src.as_slice().unwrap()[row].to_bits()
        );
    }
    assert_eq!(
        out.column("c").unwrap().categories().unwrap().unwrap().to_vec().unwrap(),
        src.column("c").unwrap().categories().unwrap().unwrap().to_vec().unwrap()
    );
    assert_eq!(
        out.column("i").unwrap().null_count().unwrap(),
        src.column("i").unwrap().null_count().unwrap()
    );
}

#[test]
fn top_k_skips_zones_that_cannot_beat_the_kth() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("k,v\n");
    for r in 0..100_000u64 {
        writeln!(text, "{},{}", r / 3, r % 7).unwrap();
    }
    let csv = dir.path().join("k.csv");
    std::fs::write(&csv, text).unwrap();
    let ds = dir.path().join("k");
    ConvertOptions::new().convert(&csv, &ds, &mut |_| {}).unwrap();
    larder::zones::build(&ds).unwrap();
    for (by, k, first) in [("-k", 10u64, 33_333i64), ("k", 4, 0), ("-k,v", 100, 33_333)] {
        let out = dir.path().join(format!("top{by}{k}"));
        let r = SortOptions::new(SortKey::parse_list(by).unwrap())
            .limit(Some(k))
            .sort(&ds, &out)
            .unwrap();
        assert_eq!(r.rows, k);
        assert_eq!(r.zones_skipped, 12, "{by}: 13 zones, the best one holds the top {k}");
        let got = Dataset::open(&out)
            .unwrap()
            .column("k")
            .unwrap()
            .values::<i64>()
            .unwrap()
            .as_slice()
            .unwrap()
            .to_vec();
        assert_eq!(got[0], first);
        // The same rows as the full sort's first k.
        let full = dir.path().join(format!("full{by}{k}"));
        SortOptions::new(SortKey::parse_list(by).unwrap()).sort(&ds, &full).unwrap();
        let all = Dataset::open(&full)
            .unwrap()
            .column("k")
            .unwrap()
            .values::<i64>()
            .unwrap()
            .as_slice()
            .unwrap()
            .to_vec();
        assert_eq!(got, all[..k as usize]);
    }
}

#[test]
fn sort_refuses_what_it_cannot_do_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, ds) = convert(dir.path(), 100, 3);
    let out = dir.path().join("o");
    let e = SortOptions::new(SortKey::parse_list("nope").unwrap()).sort(&ds, &out).unwrap_err();
    assert!(e.to_string().contains("no column \"nope\""), "{e}");
    assert!(!out.exists());
    assert!(SortKey::parse_list("a,,b").unwrap_err().to_string().contains("empty column name"));
    std::fs::create_dir(&out).unwrap();
    let e = SortOptions::new(SortKey::parse_list("i").unwrap()).sort(&ds, &out).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("larder-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
