//! Sorted indexes (`larder index --sorted`), the planner that probes them or scans, its
//! `--explain`, and `sort` through an index.

#![allow(clippy::many_single_char_names)] // a, b the two outputs compared; k, x the columns

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use larder::convert::{ColumnType, ConvertOptions};
use larder::ops::sort::{SortKey, SortOptions, build_sorted_index, drop_sorted_index};
use larder::query::{Access, Filter, PlanChoice};
use larder::zones::SortedIndex;
use larder::{Dataset, MmapArray, NpyWriter};

use crate::support::{Rng, larder};

/// A value of `k` (an integer, maybe missing) and `x` (a float, maybe missing or NaN) per row.
type Row = (Option<i64>, Option<f64>);

/// Converts rows `(k, x)` with `t` rising by a second a row, builds zone maps and the sorted
/// indexes of `k` and `x`.
fn dataset(dir: &Path, name: &str, rows: &[Row]) -> PathBuf {
    let mut s = String::from("t,k,x\n");
    for (r, (k, x)) in rows.iter().enumerate() {
        let t = jiff::Timestamp::from_second(1_767_225_600 + r as i64).unwrap();
        let k = k.map_or(String::new(), |k| k.to_string());
        let x = match x {
            None => String::new(),
            Some(f) if f.is_nan() => "NaN".into(),
            Some(f) => f.to_string(),
        };
        writeln!(s, "{},{k},{x}", t.strftime("%Y-%m-%dT%H:%M:%S")).unwrap();
    }
    let input = dir.join(format!("{name}.csv"));
    std::fs::write(&input, s).unwrap();
    let out = dir.join(name);
    let mut o = ConvertOptions::new();
    o.column_type("k", ColumnType::I64)
        .column_type("x", ColumnType::F64)
        .column_type("t", ColumnType::DateTime(larder::dtype::TimeUnit::S));
    o.convert(&input, &out, &mut |_| {}).unwrap();
    larder::zones::build(&out).unwrap();
    for c in ["k", "x", "t"] {
        build_sorted_index(&out, c, 64 << 10).unwrap();
    }
    out
}

fn random_rows(rng: &mut Rng, n: usize, spread: u64) -> Vec<Row> {
    (0..n)
        .map(|_| {
            let k = (rng.below(20) != 0).then(|| rng.below(spread) as i64 - 50);
            let x = match rng.below(25) {
                0 => None,
                1 => Some(f64::NAN),
                _ => Some(rng.below(1000) as f64 / 8.0 - 20.0),
            };
            (k, x)
        })
        .collect()
}

/// Row order of `sort --by k` (`-k` when `desc`) as pandas' stable sort, missing last.
fn expected_order(rows: &[Row], desc: bool, key: impl Fn(&Row) -> Option<f64>) -> Vec<u64> {
    let mut present: Vec<(f64, u64)> =
        (0..rows.len()).filter_map(|r| key(&rows[r]).map(|v| (v, r as u64))).collect();
    present.sort_by(|a, b| {
        let o = a.0.partial_cmp(&b.0).unwrap();
        if desc { o.reverse() } else { o }
    });
    let mut out: Vec<u64> = present.into_iter().map(|(_, r)| r).collect();
    out.extend((0..rows.len() as u64).filter(|&r| key(&rows[r as usize]).is_none()));
    out
}

fn k_of(r: &Row) -> Option<f64> {
    r.0.map(|k| k as f64)
}

fn x_of(r: &Row) -> Option<f64> {
    r.1.filter(|f| !f.is_nan())
}

#[test]
fn sorted_index_holds_the_stable_order_with_missing_and_nan_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    for (name, n, spread) in [("a", 3000, 40), ("b", 20_000, 1_000_000)] {
        let rows = random_rows(&mut rng, n, spread);
        let out = dataset(dir.path(), name, &rows);
        for (col, key) in [("k", k_of as fn(&Row) -> Option<f64>), ("x", x_of)] {
            let perm =
                MmapArray::<i64>::open(out.join(format!("zones/{col}.sorted-rows.npy"))).unwrap();
            let perm: Vec<u64> = perm.as_slice().unwrap().iter().map(|&r| r as u64).collect();
            assert_eq!(perm, expected_order(&rows, false, key), "{name} {col}");
            let idx = SortedIndex::open(&Dataset::open(&out).unwrap(), col).unwrap();
            let missing = rows.iter().filter(|r| key(r).is_none()).count() as u64;
            assert_eq!(idx.values(), n as u64 - missing, "{name} {col}");
        }
        let keys = MmapArray::<f64>::open(out.join("zones/x.sorted-keys.npy")).unwrap();
        let keys = keys.as_slice().unwrap();
        assert!(
            keys[..rows.iter().filter(|r| x_of(r).is_some()).count()]
                .windows(2)
                .all(|w| w[0] <= w[1])
        );
    }
}

#[test]
fn sorted_index_refuses_strings_and_categoricals_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("s.csv");
    std::fs::write(&input, "name,region\nann,eu\nbob,us\n").unwrap();
    let out = dir.path().join("s");
    let mut o = ConvertOptions::new();
    o.column_type("name", ColumnType::Str).column_type("region", ColumnType::Cat);
    o.convert(&input, &out, &mut |_| {}).unwrap();
    for (col, what) in [("name", "a string column"), ("region", "categorical")] {
        let e = build_sorted_index(&out, col, 1 << 20).unwrap_err();
        assert!(matches!(e, larder::Error::Argument(_)), "{e:?}");
        let e = e.to_string();
        assert!(e.contains(&format!("column {col:?} is {what}")), "{e}");
    }
    let e = build_sorted_index(&out, "nope", 1 << 20).unwrap_err().to_string();
    assert!(e.contains("nope"), "{e}");
}

/// Why the sorted index of `col` is not used, if it is not.
fn unusable(out: &Path, col: &str) -> Option<String> {
    SortedIndex::open(&Dataset::open(out).unwrap(), col).err().map(|e| e.to_string())
}

/// The plan of `expr` chosen over `out`, and the rows it matches.
fn planned(out: &Path, expr: &str) -> (Access, Vec<u64>) {
    let ds = Dataset::open(out).unwrap();
    let f = Filter::new(&ds, expr).unwrap();
    (f.plan().access, f.matches(0..ds.rows()).unwrap())
}

#[test]
fn a_value_edited_under_the_index_makes_it_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Row> = (0..10_000).map(|r| (Some((r * 7919) % 10_000), Some(1.0))).collect();
    let out = dataset(dir.path(), "e", &rows);
    assert_eq!(unusable(&out, "k"), None);
    let at = rows.iter().position(|r| r.0 == Some(123)).unwrap() as u64;
    assert_eq!(planned(&out, "k = 123"), (Access::IndexProbe, vec![at]));
    for (row, value) in [(17usize, 123i64), (9_999, 124)] {
        let mut a = MmapArray::<i64>::open_mut(out.join("k.npy")).unwrap();
        a.view_mut().unwrap()[[row]] = value;
        a.flush().unwrap();
        drop(a);
        let why = unusable(&out, "k").expect("an edited column's index must not be used");
        assert!(why.contains("its files changed since the sorted index was built"), "{why}");
        // The filter scans and finds the edited row too.
        let (access, found) = planned(&out, &format!("k = {value}"));
        assert_ne!(access, Access::IndexProbe);
        assert!(found.contains(&(row as u64)), "{found:?}");
        build_sorted_index(&out, "k", 1 << 20).unwrap();
        assert_eq!(unusable(&out, "k"), None);
    }
}

#[test]
fn appended_rows_and_damaged_index_files_make_it_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Row> = (0..5000).map(|r| (Some(r), Some(r as f64))).collect();
    let out = dataset(dir.path(), "a", &rows);
    // Rows appended by a larder that does not know sorted indexes: file, then manifest.
    let mut w = NpyWriter::<i64>::resume(out.join("k.npy"), 5000).unwrap();
    w.append(&[-1, -2]).unwrap();
    w.finish().unwrap();
    let path = out.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["rows"] = 5002.into();
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let why = unusable(&out, "k").unwrap();
    assert!(why.contains("describes 5000 rows, the dataset has 5002"), "{why}");

    // Damage to the index files: a truncated row-number file, an edited keys file.
    let out = dataset(dir.path(), "d", &rows);
    let f =
        std::fs::OpenOptions::new().write(true).open(out.join("zones/x.sorted-rows.npy")).unwrap();
    f.set_len(1000).unwrap();
    drop(f);
    let why = unusable(&out, "x").unwrap();
    assert!(why.contains("x.sorted-rows.npy changed since the sorted index was built"), "{why}");
    let mut a = MmapArray::<i64>::open_mut(out.join("zones/k.sorted-keys.npy")).unwrap();
    a.view_mut().unwrap()[[10]] = 99_999;
    a.flush().unwrap();
    drop(a);
    let why = unusable(&out, "k").unwrap();
    assert!(why.contains("k.sorted-keys.npy changed"), "{why}");
    assert_eq!(planned(&out, "k = 10").1, [10]);
    assert_eq!(planned(&out, "x = 10").1, [10]);
    // --drop removes an index: its files and its entry.
    assert!(drop_sorted_index(&out, "k").unwrap());
    assert!(!out.join("zones/k.sorted-keys.npy").exists());
    assert!(unusable(&out, "k").unwrap().contains("no sorted index of column \"k\""));
    assert!(!drop_sorted_index(&out, "k").unwrap());
    assert_eq!(unusable(&out, "t"), None, "the other indexes stay");
}

/// The rows where `pred` holds, by brute force.
fn brute(rows: &[Row], pred: impl Fn(&Row) -> bool) -> Vec<u64> {
    (0..rows.len()).filter(|&r| pred(&rows[r])).map(|r| r as u64).collect()
}

#[test]
fn every_plan_finds_the_rows_brute_force_finds() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(99);
    for case in 0..6 {
        let n = [100, 9000, 20_000][case % 3];
        let spread = [30, 2000, 10_000_000][case % 3];
        let rows = random_rows(&mut rng, n, spread);
        let out = dataset(dir.path(), &format!("p{case}"), &rows);
        let ds = Dataset::open(&out).unwrap();
        for _ in 0..25 {
            let a = rng.below(spread) as i64 - 50;
            let b = a + rng.below(spread / 10 + 2) as i64;
            let f = rng.below(1000) as f64 / 8.0 - 20.0;
            let (text, want): (String, Vec<u64>) = match rng.below(6) {
                0 => (format!("k = {a}"), brute(&rows, |r| r.0 == Some(a))),
                1 => (
                    format!("k BETWEEN {a} AND {b}"),
                    brute(&rows, |r| r.0.is_some_and(|k| a <= k && k <= b)),
                ),
                2 => (
                    format!("k > {a} AND k < {b} AND x >= {f}"),
                    brute(&rows, |r| {
                        r.0.is_some_and(|k| a < k && k < b) && r.1.is_some_and(|x| x >= f)
                    }),
                ),
                3 => (
                    format!("x <= {f} AND x > {}", f - 3.0),
                    brute(&rows, |r| r.1.is_some_and(|x| x <= f && x > f - 3.0)),
                ),
                4 => (
                    format!("k = {a} OR x = {f}"),
                    brute(&rows, |r| r.0 == Some(a) || r.1 == Some(f)),
                ),
                _ => (
                    // NaN is missing to IS NULL, as in pandas (docs/compute.md).
                    format!("{a} >= k AND NOT x IS NULL"),
                    brute(&rows, |r| r.0.is_some_and(|k| k <= a) && x_of(r).is_some()),
                ),
            };
            for choice in [
                PlanChoice::Auto,
                PlanChoice::FullScan,
                PlanChoice::PrunedScan,
                PlanChoice::IndexProbe,
            ] {
                let fl = Filter::with_plan(&ds, &text, choice).unwrap();
                let got = fl.matches(0..ds.rows()).unwrap();
                assert_eq!(got, want, "{text} with {choice:?}: {}", fl.plan());
                assert_eq!(fl.count().unwrap(), want.len() as u64, "{text} {choice:?}");
            }
        }
    }
}

#[test]
fn the_planner_probes_narrow_ranges_and_scans_unselective_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(5);
    // `t` rises (a log sorted by time), `k` is random, `x` is random.
    let rows = random_rows(&mut rng, 60_000, 1_000_000_000);
    let out = dataset(dir.path(), "plan", &rows);
    let ds = Dataset::open(&out).unwrap();
    let plan = |e: &str| Filter::new(&ds, e).unwrap().plan().clone();
    // A narrow time range: the zone maps keep one zone of eight; no probe needed.
    let p = plan("t BETWEEN timestamp '2026-01-01 01:00' AND timestamp '2026-01-01 01:01'");
    assert!(matches!(p.access, Access::PrunedScan | Access::IndexProbe), "{p}");
    assert_eq!(p.zones, 8);
    assert!(p.zones_skipped >= 6, "{p}");
    // A point on a random column: the zone maps keep everything, the index finds one row.
    let k = rows.iter().find_map(|r| r.0).unwrap();
    let p = plan(&format!("k = {k}"));
    assert_eq!(p.access, Access::IndexProbe, "{p}");
    assert!(p.rows_read <= 100, "{p}");
    assert_eq!(p.index.as_ref().unwrap().column, "k");
    // Half the rows of a random column: a full scan, whatever the index says.
    let p = plan("x < 42");
    assert_eq!(p.access, Access::FullScan, "{p}");
    assert_eq!(p.rows_read, 60_000);
    let p = plan("k < 450000000");
    assert_eq!(p.access, Access::FullScan, "{p}");
    // Half the rows of the time column: the zone maps rule out half the zones, no probe.
    let p = plan("t < timestamp '2026-01-01 08:20'");
    assert_eq!(p.access, Access::PrunedScan, "{p}");
    assert!(p.zones_skipped >= 3 && p.zones_skipped <= 5, "{p}");
}

#[test]
fn explain_prints_the_plan_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(11);
    let rows = random_rows(&mut rng, 30_000, 1_000_000_000);
    let out = dataset(dir.path(), "x", &rows);
    let k = rows.iter().find_map(|r| r.0).unwrap();
    let dst = dir.path().join("never");
    let o = larder()
        .args(["filter", out.to_str().unwrap(), dst.to_str().unwrap()])
        .args(["--where", &format!("k = {k}"), "--explain", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["access"], "index_probe", "{v}");
    assert_eq!(v["index"]["column"], "k", "{v}");
    assert!(v["columns"][0]["pages_touched"].as_u64().unwrap() <= 2, "{v}");
    assert!(!dst.exists(), "--explain must write nothing");
    let w = "x < 40";
    for args in [
        vec!["info", out.to_str().unwrap(), "--where", w, "--explain"],
        vec!["groupby", out.to_str().unwrap(), "--by", "k", "--agg", "count", "--where", w],
        vec!["cat", out.to_str().unwrap(), "--where", w, "--explain"],
        vec!["stats", out.join("x.npy").to_str().unwrap(), "--where", w, "--explain"],
    ] {
        let mut args = args;
        if args[0] == "groupby" {
            args.push("--explain");
        }
        let o = larder().args(&args).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(text.starts_with("plan: full scan ("), "{args:?}: {text}");
        assert!(text.contains("zones: 0 of 4 kept") || text.contains("zones: 4 of 4 kept"));
        assert!(text.contains("column \"x\": 59 of 59 pages touched"), "{args:?}: {text}");
    }
}

#[test]
fn sort_through_the_index_equals_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(3);
    let rows = random_rows(&mut rng, 12_000, 50);
    let out = dataset(dir.path(), "s", &rows);
    for by in ["k", "-k", "x", "-x", "t", "-t"] {
        for limit in [None, Some(0), Some(1), Some(777), Some(20_000)] {
            let name = format!("{by}-{limit:?}");
            let (a, b) = (dir.path().join(format!("i{name}")), dir.path().join(format!("n{name}")));
            let mut o = SortOptions::new(SortKey::parse_list(by).unwrap());
            o.limit(limit);
            let via = o.sort(&out, &a).unwrap();
            assert!(via.via_index, "{name}");
            let plain = o.use_index(false).sort(&out, &b).unwrap();
            assert!(!plain.via_index, "{name}");
            assert_eq!(via.rows, plain.rows, "{name}");
            let mut files = 0;
            for e in std::fs::read_dir(&b).unwrap() {
                let f = e.unwrap().file_name();
                if f == "manifest.json" {
                    continue;
                }
                files += 1;
                let (x, y) =
                    (std::fs::read(a.join(&f)).unwrap(), std::fs::read(b.join(&f)).unwrap());
                assert!(x == y, "{name} {f:?} differs");
            }
            assert!(files >= 4, "{name}: {files} files");
        }
    }
    // The order itself, against pandas' rule.
    let sorted = dir.path().join("i-x-None");
    let a = MmapArray::<f64>::open(sorted.join("x.npy")).unwrap();
    let want: Vec<Option<f64>> =
        expected_order(&rows, true, x_of).iter().map(|&r| x_of(&rows[r as usize])).collect();
    let got: Vec<Option<f64>> = a.as_slice().unwrap().iter().map(|&v| Some(v)).collect();
    let n = want.iter().filter(|v| v.is_some()).count();
    assert_eq!(got[..n], want[..n]);
}

#[test]
fn index_sorted_and_drop_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Row> =
        (0..300).map(|r| (Some(300 - r), (r % 7 != 0).then_some(r as f64))).collect();
    let out = dataset(dir.path(), "cli", &rows);
    drop_sorted_index(&out, "k").unwrap();
    let o = larder().arg("index").arg(&out).args(["--sorted", "k,x", "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sorted"][0]["column"], "k");
    assert_eq!(v["sorted"][1]["values"], 300 - 43, "{v}");
    let o = larder().arg("index").arg(&out).args(["--drop", "x"]).output().unwrap();
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("{}: sorted index of \"x\" dropped", out.display())
    );
    assert!(unusable(&out, "x").is_some());
    assert_eq!(unusable(&out, "k"), None);
    let o = larder().arg("index").arg(&out).args(["--sorted", "nope"]).output().unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("building the sorted index of \"nope\"") && e.contains("nope"), "{e}");
    // sort through it says so.
    let sorted = dir.path().join("by-k");
    let o = larder().arg("sort").arg(&out).arg(&sorted).args(["--by=-k"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("in the order of the sorted index of \"k\"")
    );
    let k = MmapArray::<i64>::open(sorted.join("k.npy")).unwrap();
    assert_eq!(k.as_slice().unwrap()[..3], [300, 299, 298]);
}

#[test]
fn convert_append_leaves_the_index_ignored_and_lookups_right() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Row> = (0..20_000).map(|r| (Some(r * 3), Some(r as f64))).collect();
    let out = dataset(dir.path(), "ap", &rows);
    assert_eq!(planned(&out, "k = 30000").0, Access::IndexProbe);
    let more = dir.path().join("more.csv");
    std::fs::write(&more, "t,k,x\n2026-02-01T00:00:00,30000,1.5\n").unwrap();
    let o = larder().arg("convert").arg("--append").arg(&more).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let why = unusable(&out, "k").unwrap();
    assert!(why.contains("describes 20000 rows, the dataset has 20001"), "{why}");
    let (access, found) = planned(&out, "k = 30000");
    assert_ne!(access, Access::IndexProbe);
    assert_eq!(found, [10_000, 20_000]);
    build_sorted_index(&out, "k", 1 << 20).unwrap();
    assert_eq!(planned(&out, "k = 30000"), (Access::IndexProbe, vec![10_000, 20_000]));
}
