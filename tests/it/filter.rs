//! Row filters (`larder::query::Filter`): every expression against a brute-force evaluation
//! row by row (property test), against pandas' nullable dtypes, across block boundaries; type
//! errors and hostile expressions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use larder::convert::{ColumnType, ConvertOptions};
use larder::dataset::Dataset;
use larder::dtype::TimeUnit;
use larder::query::{BLOCK_ROWS, Filter};
use proptest::prelude::*;

const LABELS: [&str; 3] = ["eu", "us", "ap"];
const WORDS: [&str; 5] = ["apple", "apricot", "banana", "b_x", "Äpfel"];
const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z, in seconds

/// One row of the test dataset, as the brute force reads it.
#[derive(Clone, Debug)]
struct Row {
    i: Option<i64>,
    f: f64, // NaN where missing, as larder stores a missing float
    c: Option<&'static str>,
    s: Option<&'static str>,
    b: Option<bool>,
    t: Option<i64>, // seconds
}

fn rows(n: usize, seed: u64) -> Vec<Row> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move |m: u64| {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % m
    };
    (0..n)
        .map(|_| Row {
            i: (next(6) != 0).then(|| next(21) as i64 - 10),
            f: if next(7) == 0 { f64::NAN } else { (next(41) as f64 - 20.0) / 4.0 },
            c: (next(5) != 0).then(|| LABELS[next(3) as usize]),
            s: (next(5) != 0).then(|| WORDS[next(5) as usize]),
            b: (next(4) != 0).then(|| next(2) == 1),
            t: (next(6) != 0).then(|| T0 + next(100) as i64 * 3600),
        })
        .collect()
}

fn write_dataset(dir: &Path, rows: &[Row]) -> PathBuf {
    let mut csv = String::from("i,f,c,s,b,t\n");
    for r in rows {
        let o = |v: Option<String>| v.unwrap_or_default();
        let t = r.t.map(|t| {
            let ts = jiff::Timestamp::from_second(t).unwrap();
            ts.strftime("%Y-%m-%dT%H:%M:%S").to_string()
        });
        let f = if r.f.is_nan() { String::new() } else { r.f.to_string() };
        writeln!(
            csv,
            "{},{f},{},{},{},{}",
            o(r.i.map(|v| v.to_string())),
            o(r.c.map(str::to_string)),
            o(r.s.map(str::to_string)),
            o(r.b.map(|b| b.to_string())),
            o(t)
        )
        .unwrap();
    }
    let path = dir.join("d.csv");
    std::fs::write(&path, csv).unwrap();
    let out = dir.join("d");
    let mut o = ConvertOptions::new();
    o.column_type("i", ColumnType::I64)
        .column_type("f", ColumnType::F64)
        .column_type("c", ColumnType::Cat)
        .column_type("s", ColumnType::Str)
        .column_type("b", ColumnType::Bool)
        .column_type("t", ColumnType::DateTime(TimeUnit::S));
    o.convert(&path, &out, &mut |_| {}).unwrap();
    out
}

/// A generated condition: printed as an expression, evaluated row by row in SQL's logic.
#[derive(Clone, Debug)]
enum Gen {
    CmpI(&'static str, i64),
    CmpF(&'static str, f64),
    /// `i + k op f`: an integer and a float compared.
    Sum(i64, &'static str),
    /// `f / i > k`: division by zero is NULL.
    Div(f64),
    /// `i % m = r`, Python's modulo.
    Rem(i64, i64),
    CatEq(&'static str, bool),
    CatIn(Vec<&'static str>, bool),
    StrCmp(&'static str, &'static str),
    Like(&'static str, bool),
    IsNull(&'static str, bool),
    Bool,
    Between(i64, i64, bool),
    TimeGe(i64),
    InNull(i64),
    Not(Box<Gen>),
    And(Box<Gen>, Box<Gen>),
    Or(Box<Gen>, Box<Gen>),
}

fn op_holds(op: &str, o: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (op, o) {
        ("!=", None) => true,
        (_, None) => false,
        ("=", Some(o)) => o == Equal,
        ("!=", Some(o)) => o != Equal,
        ("<", Some(o)) => o == Less,
        ("<=", Some(o)) => o != Greater,
        (">", Some(o)) => o == Greater,
        (_, Some(o)) => o != Less,
    }
}

fn like(p: &str, s: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('%') => (0..=s.len()).any(|k| go(&p[1..], &s[k..])),
            Some('_') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    let (p, s): (Vec<char>, Vec<char>) = (p.chars().collect(), s.chars().collect());
    go(&p, &s)
}

impl Gen {
    fn text(&self) -> String {
        match self {
            Gen::CmpI(op, k) => format!("i {op} {k}"),
            Gen::CmpF(op, k) => format!("f {op} {k:?}"),
            Gen::Sum(k, op) => format!("i + {k} {op} f"),
            Gen::Div(k) => format!("f / i > {k:?}"),
            Gen::Rem(m, r) => format!("i % {m} = {r}"),
            Gen::CatEq(l, neg) => format!("c {} '{l}'", if *neg { "<>" } else { "=" }),
            Gen::CatIn(ls, neg) => {
                let list: Vec<String> = ls.iter().map(|l| format!("'{l}'")).collect();
                format!("c {}IN ({})", if *neg { "NOT " } else { "" }, list.join(", "))
            }
            Gen::StrCmp(op, w) => format!("s {op} '{w}'"),
            Gen::Like(p, neg) => format!("s {}LIKE '{p}'", if *neg { "NOT " } else { "" }),
            Gen::IsNull(col, neg) => format!("{col} IS {}NULL", if *neg { "NOT " } else { "" }),
            Gen::Bool => "b".into(),
            Gen::Between(lo, hi, neg) => {
                format!("i {}BETWEEN {lo} AND {hi}", if *neg { "NOT " } else { "" })
            }
            Gen::TimeGe(h) => format!("t >= timestamp '2026-01-01 00:00' + {h}h"),
            Gen::InNull(k) => format!("i NOT IN ({k}, NULL)"),
            Gen::Not(g) => format!("NOT ({})", g.text()),
            Gen::And(a, b) => format!("({}) AND ({})", a.text(), b.text()),
            Gen::Or(a, b) => format!("({}) OR ({})", a.text(), b.text()),
        }
    }

    /// `None` is NULL.
    fn eval(&self, r: &Row) -> Option<bool> {
        let fcmp = |a: f64, b: f64| a.partial_cmp(&b);
        Some(match self {
            Gen::CmpI(op, k) => op_holds(op, Some(r.i?.cmp(k))),
            Gen::CmpF(op, k) => op_holds(op, fcmp(r.f, *k)),
            Gen::Sum(k, op) => op_holds(op, fcmp((r.i? + k) as f64, r.f)),
            Gen::Div(k) => {
                let i = r.i?;
                if i == 0 {
                    return None;
                }
                op_holds(">", fcmp(r.f / i as f64, *k))
            }
            Gen::Rem(m, want) => r.i?.rem_euclid(*m) == *want, // m > 0: floored = euclid
            Gen::CatEq(l, neg) => (r.c? == *l) != *neg,
            Gen::CatIn(ls, neg) => ls.contains(&r.c?) != *neg,
            Gen::StrCmp(op, w) => op_holds(op, Some(r.s?.cmp(w))),
            Gen::Like(p, neg) => like(p, r.s?) != *neg,
            Gen::IsNull(col, neg) => {
                let null = match *col {
                    "i" => r.i.is_none(),
                    "f" => r.f.is_nan(),
                    "c" => r.c.is_none(),
                    "s" => r.s.is_none(),
                    "b" => r.b.is_none(),
                    _ => r.t.is_none(),
                };
                null != *neg
            }
            Gen::Bool => r.b?,
            Gen::Between(lo, hi, neg) => {
                let i = r.i?;
                (*lo <= i && i <= *hi) != *neg
            }
            Gen::TimeGe(h) => r.t? >= T0 + h * 3600,
            Gen::InNull(k) => {
                if r.i? == *k {
                    false
                } else {
                    return None;
                }
            }
            Gen::Not(g) => !g.eval(r)?,
            Gen::And(a, b) => match (a.eval(r), b.eval(r)) {
                (Some(false), _) | (_, Some(false)) => false,
                (Some(true), Some(true)) => true,
                _ => return None,
            },
            Gen::Or(a, b) => match (a.eval(r), b.eval(r)) {
                (Some(true), _) | (_, Some(true)) => true,
                (Some(false), Some(false)) => false,
                _ => return None,
            },
        })
    }
}

fn gen_leaf() -> impl Strategy<Value = Gen> {
    let op = prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="]);
    let label = prop::sample::select(LABELS.to_vec());
    let word = prop::sample::select(WORDS.to_vec());
    let pat =
        prop::sample::select(vec!["ap%", "%an%", "b\\_x", "_pple", "%", "b_x", "Ä%l", "a%i%t"]);
    let col = prop::sample::select(vec!["i", "f", "c", "s", "b", "t"]);
    prop_oneof![
        (op.clone(), -12i64..12).prop_map(|(o, k)| Gen::CmpI(o, k)),
        (op.clone(), -24i64..24).prop_map(|(o, k)| Gen::CmpF(o, k as f64 / 4.0)),
        (-3i64..3, op.clone()).prop_map(|(k, o)| Gen::Sum(k, o)),
        (-8i64..8).prop_map(|k| Gen::Div(k as f64 / 2.0)),
        (2i64..5).prop_flat_map(|m| (Just(m), 0..m)).prop_map(|(m, r)| Gen::Rem(m, r)),
        (label.clone(), any::<bool>()).prop_map(|(l, n)| Gen::CatEq(l, n)),
        (prop::collection::vec(label, 1..3), any::<bool>()).prop_map(|(l, n)| Gen::CatIn(l, n)),
        (op, word).prop_map(|(o, w)| Gen::StrCmp(o, w)),
        (pat, any::<bool>()).prop_map(|(p, n)| Gen::Like(p, n)),
        (col, any::<bool>()).prop_map(|(c, n)| Gen::IsNull(c, n)),
        Just(Gen::Bool),
        (-10i64..10, -10i64..10, any::<bool>()).prop_map(|(a, b, n)| Gen::Between(a, b, n)),
        (0i64..100).prop_map(Gen::TimeGe),
        (-10i64..10).prop_map(Gen::InNull),
    ]
}

fn condition() -> impl Strategy<Value = Gen> {
    gen_leaf().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|g| Gen::Not(Box::new(g))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Gen::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Gen::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn expected(rows: &[Row], g: &Gen) -> Vec<u64> {
    (0..rows.len() as u64).filter(|&i| g.eval(&rows[i as usize]) == Some(true)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn filters_equal_a_row_by_row_evaluation(g in condition()) {
        thread_local! {
            static DATA: (tempfile::TempDir, Vec<Row>, PathBuf) = {
                let dir = tempfile::tempdir().unwrap();
                let rows = rows(300, 7);
                let out = write_dataset(dir.path(), &rows);
                (dir, rows, out)
            };
        }
        DATA.with(|(_, rows, out)| {
            let ds = Dataset::open(out).unwrap();
            let text = g.text();
            let f = Filter::new(&ds, &text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let want = expected(rows, &g);
            prop_assert_eq!(f.matches(0..ds.rows()).unwrap(), want.clone(), "{}", text);
            prop_assert_eq!(f.count().unwrap(), want.len() as u64);
            Ok(())
        })?;
    }
}

#[test]
#[allow(clippy::many_single_char_names)]
fn filters_cross_block_boundaries_and_take_row_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(BLOCK_ROWS * 2 + 37, 11);
    let ds = Dataset::open(write_dataset(dir.path(), &rows)).unwrap();
    let g = Gen::Or(
        Box::new(Gen::And(Box::new(Gen::CatEq("eu", false)), Box::new(Gen::CmpF(">", 1.0)))),
        Box::new(Gen::Like("%an%", false)),
    );
    let want = expected(&rows, &g);
    let f = Filter::new(&ds, &g.text()).unwrap();
    assert_eq!(f.matches(0..ds.rows()).unwrap(), want);
    // Only the given ranges, each split into blocks of its own.
    let (a, b) = (BLOCK_ROWS as u64 - 3, BLOCK_ROWS as u64 * 2 + 5);
    let ranges = [0..10, a..b, b + 10..ds.rows()];
    let mut got = Vec::new();
    f.for_each_match(&ranges, |r| {
        got.extend_from_slice(r);
        Ok(())
    })
    .unwrap();
    let inside: Vec<u64> =
        want.iter().copied().filter(|r| ranges.iter().any(|x| x.contains(r))).collect();
    assert_eq!(got, inside);
    assert_eq!(f.count_in(&ranges).unwrap(), inside.len() as u64);
    // Empty and all-matching results.
    assert_eq!(Filter::new(&ds, "i > 100").unwrap().count().unwrap(), 0);
    assert_eq!(Filter::new(&ds, "i IS NULL OR i IS NOT NULL").unwrap().count().unwrap(), ds.rows());
    let e = f.count_in(std::slice::from_ref(&(0..ds.rows() + 1))).unwrap_err().to_string();
    assert!(e.contains(&format!("the dataset has {} rows", ds.rows())), "{e}");
}

fn error(ds: &Dataset, text: &str) -> String {
    match Filter::new(ds, text) {
        Ok(_) => panic!("{text}: no error"),
        Err(e) => {
            assert!(matches!(e, larder::Error::Argument(_)), "{text}: {e:?}");
            e.to_string()
        }
    }
}

#[test]
fn type_errors_name_the_problem_and_mark_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dataset::open(write_dataset(dir.path(), &rows(20, 3))).unwrap();
    for (text, reason, at) in [
        ("i = 'x'", "cannot compare an integer with a string", 5),
        ("s > 3", "cannot compare a string with an integer", 5),
        ("nope = 1", "nope", 1),
        ("i = 1 AND c = 'mars'", "no category 'mars' in column \"c\" (its categories: 'eu'", 15),
        ("c IN ('eu', 'moon')", "no category 'moon'", 13),
        ("i + 1", "this is an integer, not a condition", 1),
        ("i AND b", "AND takes conditions, and this is an integer", 1),
        ("s LIKE 'a%' OR f LIKE 'x'", "LIKE matches strings, and this is a float", 16),
        ("t > 'yesterday'", "'yesterday': not a date and time", 5),
        ("t + 1 > t", "cannot apply + to a date-time and an integer", 5),
        ("-s = 'a'", "cannot negate a string", 2),
        ("i IN (1, 'a')", "IN list of an integer: this is a string", 10),
        ("b = 1", "cannot compare a bool with an integer", 5),
    ] {
        let e = error(&ds, text);
        assert!(e.contains(reason), "{text}: {e}");
        assert!(e.contains(&format!("(at character {at})")), "{text}: {e}");
    }
    // Variants that are fine: a label compared by order need not exist; strings read as times.
    for ok in ["c < 'mars'", "t > '2026-01-02'", "c LIKE 'm%'", "i = NULL", "NULL"] {
        Filter::new(&ds, ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    assert_eq!(Filter::new(&ds, "i = NULL OR NULL").unwrap().count().unwrap(), 0);
}

#[test]
fn arithmetic_overflow_is_an_error_and_division_by_zero_null() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("n.csv");
    std::fs::write(&csv, "a,z\n9223372036854775807,0\n3,0\n").unwrap();
    let out = dir.path().join("n");
    ConvertOptions::new().convert(&csv, &out, &mut |_| {}).unwrap();
    let ds = Dataset::open(&out).unwrap();
    // Exact in 128 bits: i64::MAX + 1 is not wrapped.
    assert_eq!(Filter::new(&ds, "a + 1 > a").unwrap().count().unwrap(), 2);
    let f = Filter::new(&ds, "a * a * a * a * a > 0").unwrap();
    let e = f.count().unwrap_err().to_string();
    assert!(e.contains("integer overflow in *") && e.contains("(at character"), "{e}");
    for (text, n) in
        [("a / z IS NULL", 2), ("a % z IS NULL", 2), ("a / 2 = 1.5", 1), ("-7 % 3 = 2", 2)]
    {
        assert_eq!(Filter::new(&ds, text).unwrap().count().unwrap(), n, "{text}");
    }
}

#[test]
fn hostile_expressions_get_errors_or_bounded_work() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(50, 5);
    let ds = Dataset::open(write_dataset(dir.path(), &rows)).unwrap();
    // 10,000-term IN: a hash set, not a scan per row.
    let list: Vec<String> = (0..10_000).map(|k| (k - 5000).to_string()).collect();
    let f = Filter::new(&ds, &format!("i IN ({})", list.join(", "))).unwrap();
    assert_eq!(f.count().unwrap(), rows.iter().filter(|r| r.i.is_some()).count() as u64);
    // A long flat chain is a list, not nesting.
    let chain = vec!["i = 1"; 10_000].join(" OR ");
    let n1 = rows.iter().filter(|r| r.i == Some(1)).count() as u64;
    assert_eq!(Filter::new(&ds, &chain).unwrap().count().unwrap(), n1);
    // A long arithmetic chain is refused at a bound, not a stack overflow.
    let sum = format!("{} > 0", vec!["i"; 2_000].join(" + "));
    assert!(error(&ds, &sum).contains("nested more than 64 operators deep"));
    // The deepest allowed binds and evaluates on a small stack (a quarter of a thread's).
    let deepest = format!("{} > 0", vec!["i"; 63].join(" + "));
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let out = write_dataset(&small, &rows[..3]);
    let t = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(move || Filter::new(&Dataset::open(out)?, &deepest)?.count())
        .unwrap();
    t.join().unwrap().unwrap();
    // Huge literals.
    assert_eq!(
        Filter::new(&ds, "i < 1e308 * 10").unwrap().count().unwrap(),
        rows.iter().filter(|r| r.i.is_some()).count() as u64
    );
    assert_eq!(Filter::new(&ds, "i > 18446744073709551615").unwrap().count().unwrap(), 0);
    let long = format!("s = '{}'", "y".repeat(100_000));
    assert_eq!(Filter::new(&ds, &long).unwrap().count().unwrap(), 0);
}

#[test]
fn filters_equal_pandas_nullable_masks() {
    let Some(python) = crate::support::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Past one block, so that the second block's rows are compared too.
    let rows = rows(BLOCK_ROWS + 500, 23);
    let ds = Dataset::open(write_dataset(dir.path(), &rows)).unwrap();
    let cases = [
        ("i > 3", "df.i > 3"),
        ("NOT i > 3", "~(df.i > 3)"),
        ("f <= 1.25", "df.f <= 1.25"),
        ("f != 0.5", "df.f != 0.5"),
        ("NOT f = 0.5", "~(df.f == 0.5)"),
        ("f IS NULL", "df.f.isna()"),
        ("i IS NOT NULL AND f IS NULL", "df.i.notna() & df.f.isna()"),
        ("c = 'eu' OR i < -5", "(df.c == 'eu') | (df.i < -5)"),
        ("c NOT IN ('eu', 'ap')", "~df.c.isin(['eu', 'ap']).astype('boolean').mask(df.c.isna())"),
        ("s LIKE 'ap%'", "df.s.str.startswith('ap')"),
        ("s LIKE '%an%' AND NOT b", "df.s.str.contains('an', regex=False) & ~df.b"),
        ("s >= 'b'", "df.s >= 'b'"),
        ("i % 3 = 1", "df.i % 3 == 1"),
        ("i * 2 + 1 > f", "(df.i * 2 + 1).astype('Float64') > pd.array(df.f, dtype='Float64')"),
        ("f / i < -1", "(df.f / df.i.where(df.i != 0)) < -1"),
        ("i BETWEEN -2 AND 2", "df.i.between(-2, 2)"),
        (
            "t >= timestamp '2026-01-02' AND t < date '2026-01-03'",
            "(df.t >= '2026-01-02') & (df.t < '2026-01-03')",
        ),
        (
            "t > '2026-01-03 12:00' - 90min",
            "df.t > pd.Timestamp('2026-01-03 12:00') - pd.Timedelta('90min')",
        ),
        ("i > 100", "df.i > 100"),
        ("i IS NULL OR i IS NOT NULL", "df.i.isna() | df.i.notna()"),
    ];
    let masks = dir.path().join("masks.json");
    let list: Vec<String> = cases.iter().map(|(_, p)| format!("{p:?}")).collect();
    std::fs::write(&masks, format!("[{}]", list.join(","))).unwrap();
    let o = std::process::Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_filter.py"))
        .arg(dir.path().join("d.csv"))
        .arg(&masks)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<Vec<u64>> = serde_json::from_slice(&o.stdout).unwrap();
    for ((expr, pandas), want) in cases.iter().zip(want) {
        let got = Filter::new(&ds, expr).unwrap().matches(0..ds.rows()).unwrap();
        assert_eq!(got.len(), want.len(), "{expr} vs {pandas}");
        assert_eq!(got, want, "{expr} vs {pandas}");
    }
}
