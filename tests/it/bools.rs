//! Bool columns print as pandas prints them: `True`/`False` for `groupby` keys, the min and max
//! of `stats` and of `groupby`, and `cat`; the JSON outputs keep JSON's `true`/`false`.

use std::path::{Path, PathBuf};

use crate::support::larder;

/// Converts `csv` into a dataset under `dir`.
fn dataset(dir: &Path, csv: &str) -> PathBuf {
    let input = dir.join("in.csv");
    std::fs::write(&input, csv).unwrap();
    let ds = dir.join("ds");
    larder::convert::ConvertOptions::new().convert(&input, &ds, &mut |_| {}).unwrap();
    ds
}

fn run(args: &[&str]) -> String {
    let o = larder().args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// `stats` text lines as `key -> value`.
fn stats_line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).filter(|r| r.starts_with(' ')).map(str::trim))
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
}

#[test]
fn stats_of_a_bool_column_print_min_and_max_as_pandas_does() {
    let dir = tempfile::tempdir().unwrap();
    // `alive` has a missing value (a validity file); `ok` is all true; `no` all false.
    let ds = dataset(
        dir.path(),
        "alive,ok,no,n\nTrue,true,false,1\n,true,false,2\nFalse,true,false,3\n",
    );
    for (col, min, max, json_min, json_max) in [
        ("alive", "False", "True", false, true),
        ("ok", "True", "True", true, true),
        ("no", "False", "False", false, false),
    ] {
        let file = ds.join(format!("{col}.npy"));
        let file = file.to_str().unwrap();
        let text = run(&["stats", file]);
        assert_eq!(stats_line(&text, "min"), min, "{col}:\n{text}");
        assert_eq!(stats_line(&text, "max"), max, "{col}:\n{text}");
        let v: serde_json::Value = serde_json::from_str(&run(&["stats", file, "--json"])).unwrap();
        assert_eq!((&v["min"], &v["max"]), (&json_min.into(), &json_max.into()), "{col}: {v}");
        // The sum and mean stay numbers, as pandas' sum and mean of bools are.
        assert!(v["sum"].is_i64() && v["mean"].is_f64(), "{col}: {v}");
    }
    // The integer column beside them is untouched.
    let text = run(&["stats", ds.join("n.npy").to_str().unwrap()]);
    assert_eq!((stats_line(&text, "min"), stats_line(&text, "max")), ("1", "3"));
}

/// The text of `stats` names the dtype as numpy does, without JSON's quotes, for every kind;
/// `--json` keeps it a JSON string.
#[test]
fn stats_text_names_the_dtype_without_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path(), "b,n,x\nTrue,1,1.5\nFalse,2,\n");
    for (col, dtype) in [("b", "bool"), ("n", "int64"), ("x", "float64")] {
        let file = ds.join(format!("{col}.npy"));
        let file = file.to_str().unwrap();
        assert_eq!(stats_line(&run(&["stats", file]), "dtype"), dtype, "{col}");
        let v: serde_json::Value = serde_json::from_str(&run(&["stats", file, "--json"])).unwrap();
        assert_eq!(v["dtype"], dtype, "{col}: {v}");
    }
}

#[test]
fn groupby_a_bool_column_prints_its_keys_as_pandas_does() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path(), "flag,x,b\ntrue,1,false\nfalse,2,false\ntrue,3,true\n,4,true\n");
    let ds = ds.to_str().unwrap();
    // pandas: df.groupby("flag").agg(...) drops the missing key; keys False, True.
    let text = run(&["groupby", ds, "--by", "flag", "--agg", "sum:x", "--agg", "min:b"]);
    assert_eq!(text, "flag\tsum:x\tmin:b\nFalse\t2\tFalse\nTrue\t4\tFalse\n");
    let v: serde_json::Value =
        serde_json::from_str(&run(&["groupby", ds, "--by", "flag", "--agg", "max:b", "--json"]))
            .unwrap();
    assert_eq!(v["keys"], serde_json::json!([false, true]));
    assert_eq!(v["aggregates"]["max:b"], serde_json::json!([false, true]));
    // Grouped by an integer column, the min and max of bools are bools, the mean a number.
    let text = run(&[
        "groupby", ds, "--by", "x", "--agg", "min:b", "--agg", "max:flag", "--agg", "mean:b",
    ]);
    assert_eq!(
        text,
        "x\tmin:b\tmax:flag\tmean:b\n1\tFalse\tTrue\t0.0\n2\tFalse\tFalse\t0.0\n3\tTrue\tTrue\t1.0\n4\tTrue\t\"NaN\"\t1.0\n"
    );
}

#[test]
fn groupby_a_bool_column_with_one_value_keeps_that_value_as_its_key() {
    let dir = tempfile::tempdir().unwrap();
    for (csv, key, json) in
        [("on,x\nTrue,1\nTrue,2\n", "True", true), ("off,x\nfalse,1\nFalse,2\n", "False", false)]
    {
        let ds = dataset(dir.path(), csv);
        let by = csv.split(',').next().unwrap();
        let ds_s = ds.to_str().unwrap();
        let text = run(&["groupby", ds_s, "--by", by, "--agg", "count"]);
        assert_eq!(text, format!("{by}\tcount\n{key}\t2\n"), "{csv:?}");
        let v: serde_json::Value =
            serde_json::from_str(&run(&["groupby", ds_s, "--by", by, "--agg", "count", "--json"]))
                .unwrap();
        assert_eq!(v["keys"], serde_json::json!([json]), "{csv:?}");
        std::fs::remove_dir_all(&ds).unwrap();
    }
}

#[test]
fn cat_prints_bools_as_pandas_and_json_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path(), "flag,x\ntrue,1\nfalse,2\n");
    let text = run(&["cat", ds.to_str().unwrap()]);
    assert!(text.contains("True") && text.contains("False"), "{text}");
    assert!(!text.contains("true") && !text.contains("false"), "{text}");
    let json = run(&["cat", ds.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v, serde_json::json!([{"flag": true, "x": 1}, {"flag": false, "x": 2}]));
}
