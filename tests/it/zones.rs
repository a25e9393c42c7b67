//! Zone maps: what convert, append and `larder index` write, how stale or damaged ones are
//! ignored, and that pruning never drops a row a filter matches.

// Expected row ranges are written as the one-range lists `prune` returns.
#![allow(clippy::single_range_in_vec_init, clippy::many_single_char_names)]

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use larder::convert::{ColumnType, ConvertOptions};
use larder::dtype::TimeUnit;
use larder::expr::{BinaryOp, Expr, Literal};
use larder::zones::{ZONE_ROWS, ZoneMaps};
use larder::{Dataset, MmapArray, NpyWriter};

use crate::support::{Rng, larder};

fn options() -> ConvertOptions {
    let mut o = ConvertOptions::new();
    o.column_type("c", ColumnType::Cat)
        .column_type("i", ColumnType::I64)
        .column_type("f", ColumnType::F64)
        .column_type("t", ColumnType::DateTime(TimeUnit::S));
    o
}

/// A CSV of `rows` rows: `i` mostly rising, `f` with NaN, `c` in runs, `t` rising; each
/// missing with probability `missing`.
fn csv(rng: &mut Rng, rows: u64, missing: f64) -> String {
    let mut s = String::from("i,f,c,t\n");
    let mut label = 0;
    for r in 0..rows {
        let miss = |rng: &mut Rng| rng.chance(missing);
        let i = r as i64 - 500 + rng.below(300) as i64;
        let f = if rng.chance(0.02) {
            "NaN".to_string()
        } else {
            format!("{}", (r % 977) as f64 / 4.0)
        };
        if rng.chance(0.001) {
            label = rng.below(5);
        }
        let c = ["a", "b", "c", "d", "e"][label as usize];
        let t = 1_767_225_600 + r as i64 * 7; // 2026-01-01 on
        let t = jiff::Timestamp::from_second(t).unwrap().strftime("%Y-%m-%dT%H:%M:%S").to_string();
        let cell = |v: String, rng: &mut Rng| if miss(rng) { String::new() } else { v };
        let (i, f, c, t) =
            (cell(i.to_string(), rng), cell(f, rng), cell(c.into(), rng), cell(t, rng));
        writeln!(s, "{i},{f},{c},{t}").unwrap();
    }
    s
}

fn convert(dir: &Path, name: &str, text: &str) -> PathBuf {
    let input = dir.join(format!("{name}.csv"));
    std::fs::write(&input, text).unwrap();
    let out = dir.join(name);
    options().convert(&input, &out, &mut |_| {}).unwrap();
    larder::zones::build(&out).unwrap();
    out
}

/// A row's value of a column, as the brute-force evaluator compares it.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Null,
    I(i128),
    F(f64),
    S(String),
}

/// The columns of a test dataset, row by row.
struct Rows {
    cols: Vec<(String, Vec<V>)>,
}

fn rows_of(ds: &Dataset) -> Rows {
    let mut cols = Vec::new();
    for c in ds.columns() {
        let valid: Vec<bool> = match c.validity().unwrap() {
            Some(v) => v.as_slice().unwrap().to_vec(),
            None => vec![true; ds.rows() as usize],
        };
        let vals: Vec<V> = match c.name() {
            "i" => c
                .values::<i64>()
                .unwrap()
                .as_slice()
                .unwrap()
                .iter()
                .map(|&v| V::I(v.into()))
                .collect(),
            "t" => c
                .values::<i64>()
                .unwrap()
                .as_slice()
                .unwrap()
                .iter()
                .map(|&v| V::I(i128::from(v) * 1_000_000_000))
                .collect(),
            "f" => {
                c.values::<f64>().unwrap().as_slice().unwrap().iter().map(|&v| V::F(v)).collect()
            }
            _ => {
                let cats = c.categories().unwrap().unwrap().to_vec().unwrap();
                c.values::<u8>()
                    .unwrap()
                    .as_slice()
                    .unwrap()
                    .iter()
                    .map(|&k| V::S(cats[k as usize].clone()))
                    .collect()
            }
        };
        let vals =
            vals.into_iter().zip(valid).map(|(v, ok)| if ok { v } else { V::Null }).collect();
        cols.push((c.name().to_string(), vals));
    }
    Rows { cols }
}

/// How NaN behaves: as a missing value (pandas), as numpy compares it, or as `DuckDB` orders it.
#[derive(Clone, Copy, Debug)]
enum Nan {
    Missing,
    Numpy,
    Largest,
}

fn lit(v: &Literal) -> V {
    match v {
        Literal::Null => V::Null,
        Literal::Int(i) => V::I((*i).into()),
        Literal::UInt(u) => V::I((*u).into()),
        Literal::Float(f) => V::F(*f),
        Literal::Str(s) => V::S(s.clone()),
        Literal::Time(ns) => V::I((*ns).into()),
        other => panic!("{other:?}"),
    }
}

fn value(rows: &Rows, e: &Expr, row: usize) -> V {
    match e {
        Expr::Column { name, .. } => {
            rows.cols.iter().find(|c| c.0 == *name).unwrap().1[row].clone()
        }
        Expr::Literal { value, .. } => lit(value),
        Expr::Negate(inner) => match value(rows, inner, row) {
            V::I(i) => V::I(-i),
            V::F(f) => V::F(-f),
            other => panic!("{other:?}"),
        },
        other => panic!("{other}"),
    }
}

fn as_f(v: &V) -> f64 {
    match v {
        V::I(i) => *i as f64,
        V::F(f) => *f,
        other => panic!("{other:?}"),
    }
}

/// `a op b` under SQL's three-valued logic, NaN as `nan` says.
fn cmp(a: &V, op: BinaryOp, b: &V, nan: Nan) -> Option<bool> {
    use std::cmp::Ordering;
    let is_nan = |v: &V| matches!(v, V::F(f) if f.is_nan());
    if *a == V::Null || *b == V::Null || (matches!(nan, Nan::Missing) && (is_nan(a) || is_nan(b))) {
        return None;
    }
    let ord = match (a, b) {
        (V::S(x), V::S(y)) => x.cmp(y),
        (V::I(x), V::I(y)) => x.cmp(y),
        _ => {
            let (x, y) = (as_f(a), as_f(b));
            match (x.is_nan(), y.is_nan(), nan) {
                (false, false, _) => x.partial_cmp(&y).unwrap(),
                (_, _, Nan::Numpy) => return Some(op == BinaryOp::Ne),
                (true, true, _) => Ordering::Equal,
                (true, false, _) => Ordering::Greater,
                (false, true, _) => Ordering::Less,
            }
        }
    };
    Some(match op {
        BinaryOp::Eq => ord.is_eq(),
        BinaryOp::Ne => ord.is_ne(),
        BinaryOp::Lt => ord.is_lt(),
        BinaryOp::Le => ord.is_le(),
        BinaryOp::Gt => ord.is_gt(),
        BinaryOp::Ge => ord.is_ge(),
        _ => unreachable!(),
    })
}

fn not(v: Option<bool>) -> Option<bool> {
    v.map(|b| !b)
}

fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    not(and(not(a), not(b)))
}

/// The brute-force evaluation of `e` on one row.
fn eval(rows: &Rows, e: &Expr, row: usize, nan: Nan) -> Option<bool> {
    match e {
        Expr::Not(e) => not(eval(rows, e, row, nan)),
        Expr::Binary { op: BinaryOp::And, left, right } => {
            and(eval(rows, left, row, nan), eval(rows, right, row, nan))
        }
        Expr::Binary { op: BinaryOp::Or, left, right } => {
            or(eval(rows, left, row, nan), eval(rows, right, row, nan))
        }
        Expr::Binary { op, left, right } => {
            cmp(&value(rows, left, row), *op, &value(rows, right, row), nan)
        }
        Expr::Between { expr, low, high, negated } => {
            let x = value(rows, expr, row);
            let r = and(
                cmp(&x, BinaryOp::Ge, &value(rows, low, row), nan),
                cmp(&x, BinaryOp::Le, &value(rows, high, row), nan),
            );
            if *negated { not(r) } else { r }
        }
        Expr::In { expr, list, negated } => {
            let x = value(rows, expr, row);
            let hits: Vec<Option<bool>> =
                list.iter().map(|(v, _)| cmp(&x, BinaryOp::Eq, &lit(v), nan)).collect();
            let r = hits.into_iter().fold(Some(false), or);
            if *negated { not(r) } else { r }
        }
        Expr::IsNull { expr, negated } => {
            let x = value(rows, expr, row);
            let null =
                x == V::Null || (matches!(nan, Nan::Missing) && matches!(x, V::F(f) if f.is_nan()));
            Some(null != *negated)
        }
        other => panic!("{other}"),
    }
}

/// A random filter over the test columns.
fn random_expr(rng: &mut Rng, depth: u32) -> String {
    if depth > 0 && rng.chance(0.45) {
        let (a, b) = (random_expr(rng, depth - 1), random_expr(rng, depth - 1));
        return match rng.below(3) {
            0 => format!("({a}) AND ({b})"),
            1 => format!("({a}) OR ({b})"),
            _ => format!("NOT ({a})"),
        };
    }
    let ops = ["=", "!=", "<", "<=", ">", ">="];
    let op = ops[rng.below(6) as usize];
    let n = rng.below(40_000) as i64 - 1000;
    let label = ["'a'", "'b'", "'c'", "'d'", "'e'", "'zz'"][rng.below(6) as usize];
    let ts = |rng: &mut Rng| {
        let s = 1_767_225_600 + rng.below(40_000 * 7) as i64;
        format!("timestamp '{}'", jiff::Timestamp::from_second(s).unwrap())
    };
    match rng.below(14) {
        0 => format!("i {op} {n}"),
        1 => format!("{n} {op} i"),
        2 => format!("i {op} {n}.5"),
        3 => format!("f {op} {}", rng.below(250)),
        4 => format!("f {op} NaN"),
        5 => format!("f IS {}NULL", if rng.chance(0.5) { "NOT " } else { "" }),
        6 => format!(
            "i {}BETWEEN {n} AND {}",
            if rng.chance(0.3) { "NOT " } else { "" },
            n + rng.below(9000) as i64
        ),
        7 => format!("c {} {label}", if rng.chance(0.5) { "=" } else { "!=" }),
        8 => format!(
            "c {}IN ({label}, 'b'{})",
            if rng.chance(0.3) { "NOT " } else { "" },
            if rng.chance(0.3) { ", NULL" } else { "" }
        ),
        9 => format!("c IS {}NULL", if rng.chance(0.5) { "NOT " } else { "" }),
        10 => format!("t {op} {}", ts(rng)),
        11 => format!("t BETWEEN {} AND {}", ts(rng), ts(rng)),
        12 => format!("i {}IN ({n}, {}, -3)", if rng.chance(0.3) { "NOT " } else { "" }, n + 1),
        _ => format!("i IS {}NULL", if rng.chance(0.5) { "NOT " } else { "" }),
    }
}

fn inside(ranges: &[Range<u64>], row: u64) -> bool {
    ranges.iter().any(|r| r.contains(&row))
}

#[test]
fn pruning_keeps_every_row_that_matches() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_2026);
    let (mut kept, mut total) = (0u64, 0u64);
    for case in 0..12 {
        let rows = 1 + rng.below(40_000);
        let missing = [0.0, 0.05, 0.5, 0.97][case % 4];
        let out = convert(dir.path(), &format!("d{case}"), &csv(&mut rng, rows, missing));
        let ds = Dataset::open(&out).unwrap();
        let maps = ZoneMaps::open(&ds).unwrap();
        assert_eq!(maps.ignored(), [], "case {case}");
        let data = rows_of(&ds);
        for _ in 0..40 {
            let text = random_expr(&mut rng, 2);
            let e = larder::expr::parse(&text).unwrap();
            let ranges = maps.prune(&e);
            kept += ranges.iter().map(|r| r.end - r.start).sum::<u64>();
            total += rows;
            for nan in [Nan::Missing, Nan::Numpy, Nan::Largest] {
                for row in 0..rows {
                    if eval(&data, &e, row as usize, nan) == Some(true) {
                        assert!(
                            inside(&ranges, row),
                            "case {case} ({rows} rows, missing {missing}): row {row} matches \
                             {text} (NaN {nan:?}) but pruning kept only {ranges:?}"
                        );
                    }
                }
            }
        }
    }
    // The filters are selective on mostly sorted columns: pruning must skip a good share.
    assert!(kept * 10 < total * 8, "kept {kept} of {total} rows");
}

#[test]
fn pruning_skips_zones_of_sorted_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("k,g\n");
    for r in 0..100_000u64 {
        writeln!(text, "{},{}", r * 3, ["x", "y", "w"][(r / 30_000) as usize % 3]).unwrap();
    }
    let input = dir.path().join("s.csv");
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("s");
    let mut o = ConvertOptions::new();
    o.column_type("g", ColumnType::Cat);
    o.convert(&input, &out, &mut |_| {}).unwrap();
    larder::zones::build(&out).unwrap();
    let maps = ZoneMaps::open(&Dataset::open(&out).unwrap()).unwrap();
    let z = ZONE_ROWS;
    let parse = |s: &str| larder::expr::parse(s).unwrap();
    assert_eq!(maps.zones(), 13);
    assert_eq!(maps.prune(&parse("k >= 270000")), [(90_000 / z) * z..100_000]);
    assert_eq!(maps.prune(&parse("k < 3")), [0..z]);
    assert_eq!(maps.prune(&parse("k = 3 * 1")), [0..100_000], "arithmetic is not pruned");
    assert_eq!(maps.prune(&parse("k BETWEEN 3 * 8192 AND 3 * 8192")), [0..100_000]);
    assert_eq!(maps.prune(&parse("k BETWEEN 24576 AND 24579")), [z..2 * z]);
    assert_eq!(maps.prune(&parse("NOT k < 270000")), [(90_000 / z) * z..100_000]);
    assert_eq!(maps.prune(&parse("k < 0 OR k > 299990")), [(99_996 / z) * z..100_000]);
    assert_eq!(maps.prune(&parse("k IS NULL")), []);
    // Categoricals by label, through the code bitmaps: "w" is rows 60,000 to 89,999.
    assert_eq!(maps.prune(&parse("g = 'w'")), [(60_000 / z) * z..(90_000_u64).div_ceil(z) * z]);
    assert_eq!(maps.prune(&parse("g IN ('nope')")), []);
    // The last zone, rows 90,112 on, holds only "x".
    assert_eq!(maps.prune(&parse("g != 'x'")), [(30_000 / z) * z..(90_000 / z + 1) * z]);
    assert_eq!(maps.kept_zones(&parse("g = 'y'")).iter().filter(|k| **k).count(), 5);
}

#[test]
fn zone_files_are_what_numpy_computes() {
    let Some(python) = crate::support::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    let out = convert(dir.path(), "d", &csv(&mut rng, 20_000, 0.1));
    let script = r#"
import json, sys
import numpy as np
d = sys.argv[1]
m = json.load(open(f"{d}/manifest.json"))
z = json.load(open(f"{d}/zones/index.json"))
assert z["zone_rows"] == 8192 and z["rows"] == m["rows"], z
for c in m["columns"]:
    v = np.load(f"{d}/{c['file']}")
    ok = np.load(f"{d}/{c['valid']}") if c.get("valid") else np.ones(len(v), bool)
    stem = c["file"][:-4]
    mm = np.load(f"{d}/zones/{stem}.min-max.npy")
    counts = np.load(f"{d}/zones/{stem}.counts.npy")
    assert mm.dtype == v.dtype and counts.dtype == np.uint32, (mm.dtype, counts.dtype)
    for k, s in enumerate(range(0, len(v), 8192)):
        zv, zok = v[s:s + 8192], ok[s:s + 8192]
        vals = zv[zok]
        nan = np.isnan(vals) if vals.dtype.kind == "f" else np.zeros(len(vals), bool)
        assert counts[k, 0] == (~zok).sum() and counts[k, 1] == nan.sum(), (c["name"], k)
        vals = vals[~nan]
        if len(vals):
            assert mm[k, 0] == vals.min() and mm[k, 1] == vals.max(), (c["name"], k, mm[k])
        if c.get("categories"):
            bits = np.unpackbits(np.load(f"{d}/zones/{stem}.codes.npy"), axis=1, bitorder="little")
            present = np.zeros(bits.shape[1], np.uint8)
            present[np.unique(vals)] = 1
            assert (bits[k] == present).all(), (k, bits[k], present)
print("ok")
"#;
    let o = std::process::Command::new(python).arg("-c").arg(script).arg(&out).output().unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The reason `column`'s zone maps are ignored, if they are.
fn ignored(out: &Path, column: &str) -> Option<String> {
    let maps = ZoneMaps::open(&Dataset::open(out).unwrap()).unwrap();
    maps.ignored().iter().find(|(n, _)| n == column).map(|(_, why)| why.clone())
}

/// Rows `x` from 0, in a dataset of one i64 column.
fn sorted_dataset(dir: &Path, name: &str, rows: u64) -> PathBuf {
    let text: String =
        std::iter::once("x\n".to_string()).chain((0..rows).map(|r| format!("{r}\n"))).collect();
    let input = dir.join(format!("{name}.csv"));
    std::fs::write(&input, text).unwrap();
    let out = dir.join(name);
    ConvertOptions::new().convert(&input, &out, &mut |_| {}).unwrap();
    larder::zones::build(&out).unwrap();
    out
}

#[test]
fn rows_appended_without_the_zone_maps_make_them_stale() {
    let dir = tempfile::tempdir().unwrap();
    for (name, rows, added) in [("a", 10_000u64, 5u64), ("b", 8192, 9000)] {
        let out = sorted_dataset(dir.path(), name, rows);
        assert_eq!(ignored(&out, "x"), None);
        // What a larder that knows nothing of zone maps does: rows onto the column file, then
        // the manifest that counts them.
        let mut w = NpyWriter::<i64>::resume(out.join("x.npy"), rows).unwrap();
        w.append(&(0..added as i64).map(|v| -v - 1).collect::<Vec<_>>()).unwrap();
        w.finish().unwrap();
        let path = out.join("manifest.json");
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        m["rows"] = (rows + added).into();
        std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
        let why = ignored(&out, "x").expect("stale zone maps must be ignored");
        assert!(
            why.contains(&format!("describe {rows} rows, the dataset has {}", rows + added)),
            "{why}"
        );
        // Pruning then keeps every row: the new negative values match.
        let maps = ZoneMaps::open(&Dataset::open(&out).unwrap()).unwrap();
        assert_eq!(maps.prune(&larder::expr::parse("x < 0").unwrap()), [0..rows + added]);
        // `larder index` makes them current again.
        let o = larder().arg("index").arg(&out).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(ignored(&out, "x"), None);
        let maps = ZoneMaps::open(&Dataset::open(&out).unwrap()).unwrap();
        let last = (rows / ZONE_ROWS) * ZONE_ROWS;
        assert_eq!(maps.prune(&larder::expr::parse("x < 0").unwrap()), [last..rows + added]);
    }
}

#[test]
fn a_value_edited_under_the_zone_maps_makes_them_stale() {
    let dir = tempfile::tempdir().unwrap();
    let out = sorted_dataset(dir.path(), "e", 20_000);
    // Same size, same manifest: only the file's times tell.
    let mut a = MmapArray::<i64>::open_mut(out.join("x.npy")).unwrap();
    a.view_mut().unwrap()[[19_999]] = -7;
    a.flush().unwrap();
    drop(a);
    let why = ignored(&out, "x").expect("edited column must not be pruned by old zone maps");
    assert!(why.contains("x.npy was written to since"), "{why}");
    let maps = ZoneMaps::open(&Dataset::open(&out).unwrap()).unwrap();
    assert_eq!(maps.prune(&larder::expr::parse("x = -7").unwrap()), [0..20_000]);
}

#[test]
fn damaged_zone_files_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let out = sorted_dataset(dir.path(), "z", 30_000);
    let mm = out.join("zones/x.min-max.npy");
    let good = std::fs::read(&mm).unwrap();
    // Truncated.
    std::fs::write(&mm, &good[..good.len() - 8]).unwrap();
    let why = ignored(&out, "x").unwrap();
    assert!(why.contains("x.min-max.npy") && why.contains("the index says"), "{why}");
    // A value edited, same size: the largest of zone 0 made smaller.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 4 * 16 + 8] ^= 0x40;
    std::fs::write(&mm, &bad).unwrap();
    let why = ignored(&out, "x").unwrap();
    assert!(why.contains("does not match its hash"), "{why}");
    // The counts file too, and a damaged index.
    std::fs::write(&mm, &good).unwrap();
    assert_eq!(ignored(&out, "x"), None);
    let counts = out.join("zones/x.counts.npy");
    let c = std::fs::read(&counts).unwrap();
    std::fs::write(&counts, &c[..c.len() / 2]).unwrap();
    assert!(ignored(&out, "x").unwrap().contains("x.counts.npy"));
    std::fs::write(out.join("zones/index.json"), b"{\"version\": 1,").unwrap();
    assert!(ignored(&out, "x").unwrap().contains("not a zone-map index"));
    let maps = ZoneMaps::open(&Dataset::open(&out).unwrap()).unwrap();
    assert_eq!(maps.prune(&larder::expr::parse("x > 29000").unwrap()), [0..30_000]);
}

#[test]
fn append_extends_the_zone_maps() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(99);
    let out = convert(dir.path(), "p", &csv(&mut rng, 9_000, 0.1));
    let zone_files = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(d.join("zones"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "npy"))
            .map(|p| {
                (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
            })
            .collect();
        v.sort();
        v
    };
    for (k, rows) in [(1, 20_000u64), (2, 3), (3, 16_384)] {
        // A new label on the second append: the bitmaps widen? (five labels fit one byte.)
        let text = csv(&mut rng, rows, 0.2);
        let input = dir.path().join(format!("more{k}.csv"));
        std::fs::write(&input, text).unwrap();
        options().append_files(&[input], &out, &mut |_| {}).unwrap();
        let ds = Dataset::open(&out).unwrap();
        assert_eq!(ZoneMaps::open(&ds).unwrap().ignored(), [], "append {k}");
        // Extended zone maps are those a build from scratch makes.
        let extended = zone_files(&out);
        larder::zones::build(&out).unwrap();
        assert_eq!(zone_files(&out), extended, "append {k}");
    }
}

#[test]
fn index_explains_what_a_filter_prunes() {
    let dir = tempfile::tempdir().unwrap();
    let out = sorted_dataset(dir.path(), "x", 50_000);
    let o = larder().arg("index").arg(&out).args(["--explain", "x >= 45000"]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("zones: 2 of 7 kept, 5 skipped"), "{text}");
    assert!(text.contains("rows: 9040 of 50000 in 1 ranges"), "{text}");
    let o =
        larder().arg("index").arg(&out).args(["--explain", "x < 5", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ranges"], serde_json::json!([[0, 8192]]));
    assert_eq!(v["skipped"], 6);
    // A data page of 8-byte values: 8192 rows are 16 pages of 4 KiB, and one the header shares.
    let page = larder::page_size() as u64;
    let touched = v["columns"][0]["pages_touched"].as_u64().unwrap();
    assert_eq!(touched, (128 + 8192 * 8_u64).div_ceil(page));
    // An unknown column is an error naming it; a bad expression marks where.
    let o = larder().arg("index").arg(&out).args(["--explain", "y > 1"]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no column \"y\""));
    let o = larder().arg("index").arg(&out).args(["--explain", "x >"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("at character"));
}

#[test]
fn an_indexed_dataset_copies_to_a_group_and_back_without_its_zone_maps() {
    let dir = tempfile::tempdir().unwrap();
    let out = sorted_dataset(dir.path(), "g", 9000);
    let group = dir.path().join("g.zarr");
    let o = larder().arg("copy").arg(&out).arg(&group).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let back = dir.path().join("back");
    let o = larder().arg("copy").arg(&group).arg(&back).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Derived data: the copy back has none until indexed again.
    assert!(ignored(&back, "x").unwrap().contains("no zone maps"));
    larder::zones::build(&back).unwrap();
    assert_eq!(ignored(&back, "x"), None);
}

/// A filter on a dataset with zone maps reads only the zones they keep, and answers exactly
/// what it answers on the same dataset without them.
#[test]
fn filters_skip_the_zones_pruning_rules_out_and_answer_the_same() {
    use larder::query::Filter;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0xf1_17e5);
    let (mut bound, mut skipped) = (0, 0);
    for case in 0..6 {
        let rows = 20_000 + rng.below(120_000);
        let out = convert(dir.path(), &format!("d{case}"), &csv(&mut rng, rows, 0.1));
        let bare = dir.path().join(format!("bare{case}"));
        std::fs::create_dir(&bare).unwrap();
        for entry in std::fs::read_dir(&out).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), bare.join(entry.file_name())).unwrap();
            }
        }
        let (ds, plain) = (Dataset::open(&out).unwrap(), Dataset::open(&bare).unwrap());
        let maps = ZoneMaps::open(&ds).unwrap();
        for _ in 0..30 {
            let text = random_expr(&mut rng, 2);
            let (Ok(f), Ok(g)) = (Filter::new(&ds, &text), Filter::new(&plain, &text)) else {
                continue;
            };
            bound += 1;
            assert_eq!(f.kept(), maps.prune(&larder::expr::parse(&text).unwrap()), "{text}");
            assert_eq!(g.kept(), [0..rows], "no zone maps keep every row");
            if f.kept().iter().map(|r| r.end - r.start).sum::<u64>() < rows {
                skipped += 1;
            }
            // Ranges that start and end inside zones and blocks.
            let ranges = [0..rows / 3, rows / 3 + 5_000..rows - 7];
            assert_eq!(f.count_in(&ranges).unwrap(), g.count_in(&ranges).unwrap(), "{text}");
            assert_eq!(f.matches(0..rows).unwrap(), g.matches(0..rows).unwrap(), "{text}");
            let mask = |f: &Filter| {
                let mut all = Vec::new();
                f.for_each_block(&ranges, |lo, m| {
                    all.push((lo, m.to_vec()));
                    Ok(())
                })
                .unwrap();
                all
            };
            assert_eq!(mask(&f), mask(&g), "{text}");
        }
    }
    assert!(bound >= 60, "only {bound} random filters bound");
    assert!(skipped * 3 >= bound, "pruning skipped rows for only {skipped} of {bound} filters");
}

#[test]
fn convert_zones_builds_the_zone_maps_and_append_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    for (name, rows) in [("z1", 100u64), ("z2", 20_000)] {
        let input = dir.path().join(format!("{name}.csv"));
        let text: String =
            std::iter::once("x\n".to_string()).chain((0..rows).map(|i| format!("{i}\n"))).collect();
        std::fs::write(&input, text).unwrap();
        let out = dir.path().join(name);
        let o = larder().arg("convert").arg(&input).arg(&out).arg("--zones").output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(ignored(&out, "x"), None, "{name}");
        let maps = ZoneMaps::open(&Dataset::open(&out).unwrap()).unwrap();
        assert_eq!(maps.zones(), rows.div_ceil(ZONE_ROWS));
        let more = dir.path().join(format!("{name}-more.csv"));
        std::fs::write(&more, "x\n-5\n").unwrap();
        let o = larder().arg("convert").arg("--append").arg(&more).arg(&out).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(ignored(&out, "x"), None, "{name}: append keeps them current");
        let maps = ZoneMaps::open(&Dataset::open(&out).unwrap()).unwrap();
        let last = (rows / ZONE_ROWS) * ZONE_ROWS;
        assert_eq!(maps.prune(&larder::expr::parse("x < 0").unwrap()), [last..rows + 1]);
    }
    // Without --zones there are none.
    let input = dir.path().join("plain.csv");
    std::fs::write(&input, "x\n1\n").unwrap();
    let out = dir.path().join("plain");
    let o = larder().arg("convert").arg(&input).arg(&out).output().unwrap();
    assert!(o.status.success());
    assert!(ignored(&out, "x").unwrap().contains("has no zone maps"));
}
