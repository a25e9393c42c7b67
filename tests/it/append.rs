//! `larder convert --append`: rows added to a dataset under its schema, exactly once and
//! atomically; interrupted appends, resumed or left alone.

// Short names for the columns of the sample table and the files of a test.
#![allow(clippy::many_single_char_names)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use larder::convert::{ColumnType, ConvertOptions, Step};
use larder::dataset::{Dataset, Manifest};

use crate::support::{CountSteps, FailAt};

const BIN: &str = env!("CARGO_BIN_EXE_larder");

/// Rows `from..to` of a table whose every column kind is there: a categorical column with a
/// new category every other row (past 256 of them by row 512), free text with missing values,
/// floats with NA, integers whose first missing value comes at row `first_missing_int`,
/// date-times in a strftime format, bools, and integers with a fill value.
fn table(from: usize, to: usize, first_missing_int: usize, header: bool) -> String {
    let mut s = String::new();
    if header {
        s.push_str("k,s,x,n,t,b,f\n");
    }
    for i in from..to {
        let k = format!("key{}", i / 2);
        let text = match i % 7 {
            0 => String::new(),
            3 => "\"with, comma\"".to_string(),
            _ => format!("text {i} é"),
        };
        let x = if i % 5 == 0 { "NA".to_string() } else { format!("{i}.25") };
        let n = if i >= first_missing_int && i % 3 == 0 { String::new() } else { i.to_string() };
        let day = 1 + i % 28;
        let t = format!("{day:02}/03/2024 {:02}:{:02}", i % 24, i % 60);
        let b = if i % 2 == 0 { "true" } else { "false" };
        let f = if i % 11 == 0 { String::new() } else { (i % 100).to_string() };
        writeln!(s, "{k},{text},{x},{n},{t},{b},{f}").unwrap();
    }
    s
}

fn opts() -> ConvertOptions {
    let mut o = ConvertOptions::new();
    o.column_type("k", ColumnType::Cat)
        .column_type("s", ColumnType::Str)
        .column_type("n", ColumnType::I64)
        .column_type("t", ColumnType::DateTime(larder::dtype::TimeUnit::M))
        .datetime_format("t", "%d/%m/%Y %H:%M")
        .column_type("f", ColumnType::I32)
        .fill("f", "-1")
        .block_size(2048)
        .checkpoint_interval(Duration::ZERO);
    o
}

/// Every file of a directory, by name (hidden ones too).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        // Files only: the zone maps in zones/ are checked by tests/it/zones.rs.
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_file()))
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap())
        })
        .collect()
}

fn assert_same(a: &Path, b: &Path, what: &str) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>(), "{what}: files");
    for (name, bytes) in &ta {
        assert!(*bytes == tb[name], "{what}: {name} differs");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            continue; // zones/: a copy without zone maps is a dataset all the same
        }
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// What a reader of the dataset sees, column by column: its kind and every row's value as
/// text (`None` when missing), through the library's `Dataset`.
fn contents(dir: &Path) -> Vec<(String, Vec<Option<String>>)> {
    let d = Dataset::open(dir).unwrap();
    let rows = usize::try_from(d.rows()).unwrap();
    let mut out = Vec::new();
    for c in d.columns() {
        let valid = c.validity().unwrap();
        let present = |i: usize| valid.as_ref().is_none_or(|v| v.as_slice().unwrap()[i]);
        let m = c.manifest();
        let values: Vec<Option<String>> = if m.dtype == "str" {
            let s = c.strings().unwrap();
            (0..rows).map(|i| present(i).then(|| s.get(i).unwrap().to_string())).collect()
        } else if let Some(cats) = c.categories().unwrap() {
            let codes: Vec<u64> = match m.dtype.as_str() {
                "|u1" => c
                    .values::<u8>()
                    .unwrap()
                    .as_slice()
                    .unwrap()
                    .iter()
                    .map(|&v| v.into())
                    .collect(),
                "<u2" => c
                    .values::<u16>()
                    .unwrap()
                    .as_slice()
                    .unwrap()
                    .iter()
                    .map(|&v| v.into())
                    .collect(),
                _ => c
                    .values::<u32>()
                    .unwrap()
                    .as_slice()
                    .unwrap()
                    .iter()
                    .map(|&v| v.into())
                    .collect(),
            };
            (0..rows)
                .map(|i| present(i).then(|| cats.get(codes[i] as usize).unwrap().to_string()))
                .collect()
        } else {
            match m.dtype.as_str() {
                "<f8" => {
                    let v = c.values::<f64>().unwrap();
                    v.as_slice().unwrap().iter().map(|x| Some(x.to_string())).collect()
                }
                "|b1" => {
                    let v = c.values::<bool>().unwrap();
                    let v = v.as_slice().unwrap();
                    (0..rows).map(|i| present(i).then(|| v[i].to_string())).collect()
                }
                "<i4" => {
                    let v = c.values::<i32>().unwrap();
                    let v = v.as_slice().unwrap();
                    (0..rows).map(|i| present(i).then(|| v[i].to_string())).collect()
                }
                _ => {
                    let v = c.values::<i64>().unwrap();
                    let v = v.as_slice().unwrap();
                    (0..rows).map(|i| present(i).then(|| v[i].to_string())).collect()
                }
            }
        };
        out.push((m.name.clone(), values));
    }
    out
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    day1: PathBuf,
    day2: PathBuf,
    /// The dataset made from day 1.
    base: PathBuf,
}

/// Day 1: rows 0..400 (200 categories, no missing integer); day 2: rows 400..700 (150 more
/// categories, so codes widen past 256; the integer column's first missing values).
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let day1 = root.join("day1.csv");
    let day2 = root.join("day2.csv.gz");
    fs::write(&day1, table(0, 400, 10_000, true)).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    io::Write::write_all(&mut gz, table(400, 700, 400, true).as_bytes()).unwrap();
    fs::write(&day2, gz.finish().unwrap()).unwrap();
    let base = root.join("base");
    opts().convert(&day1, &base, &mut |_| {}).unwrap();
    Setup { _dir: dir, root, day1, day2, base }
}

#[test]
fn an_append_reads_as_one_conversion_of_both_days_and_widens_codes() {
    let s = setup();
    let m0 = Manifest::read(&s.base).unwrap();
    assert_eq!(m0.columns[0].dtype, "|u1");
    assert!(m0.columns[3].valid.is_none(), "no missing integer on day 1");
    let ds = s.root.join("ds");
    copy_dir(&s.base, &ds);
    let r = opts().append_files(std::slice::from_ref(&s.day2), &ds, &mut |_| {}).unwrap();
    let load = r.load.unwrap();
    assert_eq!((load.first_row, load.rows, load.rejected), (400, 300, 0));
    assert_eq!(r.manifest.rows, 700);
    let m = Manifest::read(&ds).unwrap();
    assert_eq!(m, r.manifest);
    assert_eq!(m.columns[0].dtype, "<u2", "350 categories need 2-byte codes");
    assert_ne!(m.columns[0].file, "k.npy", "widened codes go to a file of another name");
    assert!(!ds.join("k.npy").exists(), "the narrow codes are removed");
    assert_eq!(m.columns[3].valid.as_deref(), Some("n.valid.npy"));
    assert_eq!(m.columns[6].fill.as_deref(), Some("-1"));
    assert_eq!(m.columns[4].format.as_deref(), Some("%d/%m/%Y %H:%M"));
    assert_eq!(m.appends[0].sources[0].path, s.day2.display().to_string());
    assert_eq!(m.appends[0].sources[0].xxh3.as_ref().map(String::len), Some(16));
    assert!(!ds.join(".append.larder-tmp").exists());
    // The same table converted in one go, from both files.
    let whole = s.root.join("whole");
    opts().convert_files(&[s.day1.clone(), s.day2.clone()], &whole, &mut |_| {}).unwrap();
    assert_eq!(contents(&ds), contents(&whole));
    // Readers of every column file: same bytes as the one-go conversion's.
    let w = Manifest::read(&whole).unwrap();
    for (a, b) in m.columns.iter().zip(&w.columns) {
        assert_eq!((&a.dtype, &a.categories), (&b.dtype, &b.categories), "{}", a.name);
        let files = |c: &larder::dataset::ManifestColumn| {
            [Some(c.file.clone()), c.valid.clone(), c.offsets.clone()]
        };
        for (fa, fb) in files(a).into_iter().zip(files(b)) {
            assert_eq!(fa.is_some(), fb.is_some(), "{}", a.name);
            if let (Some(fa), Some(fb)) = (fa, fb) {
                let (da, db) =
                    (fs::read(ds.join(&fa)).unwrap(), fs::read(whole.join(&fb)).unwrap());
                assert!(da == db, "{}: {fa} differs from {fb}", a.name);
            }
        }
    }
}

#[test]
fn a_dictionary_grows_into_files_and_past_65536_categories() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, from: usize, to: usize| {
        let p = dir.path().join(name);
        let mut s = String::from("id,k\n");
        for i in from..to {
            writeln!(s, "{i},c{i}").unwrap();
        }
        fs::write(&p, s).unwrap();
        p
    };
    let (a, b, c) =
        (write("a.csv", 0, 1000), write("b.csv", 1000, 70_000), write("c.csv", 70_000, 70_010));
    let ds = dir.path().join("ds");
    let mut o = ConvertOptions::new();
    o.column_type("k", ColumnType::Cat);
    o.convert(&a, &ds, &mut |_| {}).unwrap();
    assert!(Manifest::read(&ds).unwrap().columns[1].categories.is_some());
    for input in [&b, &c] {
        o.append_files(std::slice::from_ref(input), &ds, &mut |_| {}).unwrap();
    }
    let m = Manifest::read(&ds).unwrap();
    assert_eq!(m.rows, 70_010);
    assert_eq!(m.columns[1].dtype, "<u4");
    assert!(m.columns[1].dictionary.is_some() && m.columns[1].categories.is_none());
    let d = Dataset::open(&ds).unwrap();
    let k = d.column("k").unwrap();
    let cats = k.categories().unwrap().unwrap();
    let codes = k.values::<u32>().unwrap();
    for i in [0usize, 999, 1000, 65_535, 65_536, 69_999, 70_009] {
        assert_eq!(cats.get(codes.as_slice().unwrap()[i] as usize).unwrap(), format!("c{i}"));
    }
}

#[test]
fn schema_conflicts_and_files_loaded_before_are_refused_and_change_nothing() {
    let s = setup();
    let ds = s.root.join("ds");
    copy_dir(&s.base, &ds);
    let before = tree(&ds);
    let write = |name: &str, text: &str| {
        let p = s.root.join(name);
        fs::write(&p, text).unwrap();
        p
    };
    let extra = write("extra.csv", "k,s,x,n,t,b,f,new\nkey1,a,1.5,1,01/03/2024 00:00,true,3,9\n");
    let lacking = write("lacking.csv", "k,s,x,n,t,b\nkey1,a,1.5,1,01/03/2024 00:00,true\n");
    let cases: Vec<(PathBuf, ConvertOptions, &str)> = vec![
        (extra, opts(), "has columns the dataset"),
        (lacking, ConvertOptions::new(), "lacks columns of the dataset"),
        (
            s.day2.clone(),
            {
                let mut o = opts();
                o.column_type("x", ColumnType::F32);
                o
            },
            "the options ask for f32",
        ),
        (
            s.day2.clone(),
            {
                let mut o = opts();
                o.fill("n", "0");
                o
            },
            "fill value",
        ),
        (s.day1.clone(), opts(), "was loaded into"),
        (
            s.day2.clone(),
            {
                let mut o = opts();
                o.max_categories(250, 1 << 20);
                o
            },
            "cannot turn a categorical column",
        ),
    ];
    for (input, o, want) in cases {
        let e = o.append_files(std::slice::from_ref(&input), &ds, &mut |_| {}).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(want), "{want}: {msg}");
        assert!(msg.contains(&*input.to_string_lossy()), "the error names the file: {msg}");
        assert!(tree(&ds) == before, "{want}: the dataset changed");
    }
    // The same content under another name is the same file.
    let renamed = s.root.join("renamed.csv");
    fs::copy(&s.day1, &renamed).unwrap();
    let e = opts().append_files(std::slice::from_ref(&renamed), &ds, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("day1.csv"), "{e}");
    // ... and skipped when asked.
    let mut o = opts();
    o.skip_loaded(true);
    let r = o.append_files(&[renamed, s.day2.clone(), s.day2.clone()], &ds, &mut |_| {}).unwrap();
    assert_eq!(r.skipped.len(), 2, "{:?}", r.skipped);
    assert_eq!(r.load.unwrap().rows, 300);
    let after = tree(&ds);
    let r = o.append_files(std::slice::from_ref(&s.day2), &ds, &mut |_| {}).unwrap();
    assert!(r.load.is_none());
    assert!(tree(&ds) == after, "a retried step changes nothing");
}

#[test]
fn the_cli_appends_refuses_twice_and_skips_with_skip_loaded() {
    let s = setup();
    let ds = s.root.join("ds");
    copy_dir(&s.base, &ds);
    let run = |extra: &[&str]| -> Output {
        Command::new(BIN)
            .args(["convert", "--append", "-q", "--block-size", "2048"])
            .args(extra)
            .arg(&s.day2)
            .arg(&ds)
            .output()
            .unwrap()
    };
    let o = run(&["--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((j["rows"].as_u64(), j["appended"]["rows"].as_u64()), (Some(700), Some(300)));
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--skip-loaded") && err.contains("day2.csv.gz"), "{err}");
    let o = run(&["--skip-loaded", "--json"]);
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["appended"].is_null() && j["skipped"].as_array().unwrap().len() == 1, "{j}");
    let o = Command::new(BIN)
        .args(["convert", "--skip-loaded"])
        .arg(&s.day1)
        .arg(s.root.join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "--skip-loaded needs --append");
    let o = Command::new(BIN)
        .args(["convert", "--append"])
        .arg(&s.day1)
        .arg(s.root.join("nope"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a dataset directory"));
}

#[test]
fn an_append_stopped_at_each_durable_step_leaves_the_dataset_as_it_was_and_resumes_identically() {
    let s = setup();
    let reference = s.root.join("reference");
    copy_dir(&s.base, &reference);
    let counter = Arc::new(CountSteps::default());
    let mut o = opts();
    o.faults(counter.clone());
    o.append_files(std::slice::from_ref(&s.day2), &reference, &mut |_| {}).unwrap();
    let counts = counter.0.lock().unwrap().clone();
    let old = contents(&s.base);
    let mut cases = 0;
    for step in [Step::Sync, Step::Checkpoint, Step::Rename, Step::Manifest, Step::Cleanup] {
        let total = counts.get(&step).copied().unwrap_or(0);
        assert!(total > 0, "{step:?}: never taken");
        let mut ns = vec![1, 2, total / 2, total - 1, total];
        ns.retain(|&n| (1..=total).contains(&n));
        ns.sort_unstable();
        ns.dedup();
        for n in ns {
            let what = format!("{step:?} {n} of {total}");
            let ds = s.root.join(format!("{step:?}_{n}"));
            copy_dir(&s.base, &ds);
            let mut o = opts();
            o.faults(FailAt::new(step, n));
            let e =
                o.append_files(std::slice::from_ref(&s.day2), &ds, &mut |_| {}).expect_err(&what);
            assert!(e.to_string().contains("injected failure"), "{what}: {e}");
            let m = Manifest::read(&ds).unwrap();
            if m.rows == 400 {
                assert_eq!(contents(&ds), old, "{what}: readers see the dataset as it was");
                // ... and so does numpy, each column file read by its own header.
                if let Some(python) = std::env::var_os("LARDER_PYTHON") {
                    crate::support::run_interop(
                        Path::new(&python),
                        "check_dataset.py",
                        &[ds.as_os_str(), s.day1.as_os_str()],
                    );
                }
            } else {
                // Stopped after the commit (rewriting the headers, or cleaning up): readers
                // see the whole append, whatever the headers say yet.
                assert_eq!(m, Manifest::read(&reference).unwrap(), "{what}");
                assert_eq!(contents(&ds), contents(&reference), "{what}");
            }
            // An interrupted append is not started over without being asked to resume.
            let again = opts().append_files(std::slice::from_ref(&s.day2), &ds, &mut |_| {});
            if ds.join(".append.larder-tmp/checkpoint.json").exists()
                || ds.join(".append.larder-tmp/commit.json").exists()
            {
                assert!(
                    matches!(again, Err(larder::Error::Interrupted { .. })),
                    "{what}: {again:?}"
                );
            }
            let mut o = opts();
            o.resume(true).skip_loaded(true);
            o.append_files(std::slice::from_ref(&s.day2), &ds, &mut |_| {}).unwrap();
            assert_same(&ds, &reference, &what);
            cases += 1;
        }
    }
    assert!(cases >= 15, "{cases}");
}

/// The CLI with a large block count, so that a kill lands in the middle of the staging.
fn cli_append(input: &Path, ds: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(["convert", "--append", "-q", "--block-size", "2048", "--checkpoint-interval", "0"])
        .args(["--type", "k=cat", "--type", "s=str", "--type", "n=i64"])
        .args(["--type", "t=datetime64[m]:%d/%m/%Y %H:%M", "--type", "f=i32", "--fill", "f=-1"])
        .args(extra)
        .arg(input)
        .arg(ds);
    c
}

#[test]
fn kill_9_during_an_append_leaves_the_old_dataset_and_resume_finishes_it_identically() {
    let s = setup();
    let big = s.root.join("big.csv");
    fs::write(&big, table(400, 40_400, 400, true)).unwrap();
    let reference = s.root.join("reference");
    copy_dir(&s.base, &reference);
    assert!(cli_append(&big, &reference, &[]).status().unwrap().success());
    let old = contents(&s.base);
    let len = fs::metadata(&big).unwrap().len();
    for (k, fraction) in [0.0, 0.3, 0.7].into_iter().enumerate() {
        let ds = s.root.join(format!("k{k}"));
        copy_dir(&s.base, &ds);
        let tmp = ds.join(".append.larder-tmp");
        let mut child = cli_append(&big, &ds, &[]).stdout(Stdio::null()).spawn().unwrap();
        let start = Instant::now();
        loop {
            let offset = fs::read(tmp.join("checkpoint.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["offset"].as_u64())
                .unwrap_or(0);
            let past = offset as f64 >= fraction * len as f64;
            if past || child.try_wait().unwrap().is_some() || start.elapsed().as_secs() > 60 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let m = Manifest::read(&ds).unwrap();
        if m.rows == 400 {
            assert_eq!(contents(&ds), old, "kill at {fraction}: the old dataset is intact");
            if let Some(python) = std::env::var_os("LARDER_PYTHON") {
                crate::support::run_interop(
                    Path::new(&python),
                    "check_dataset.py",
                    &[ds.as_os_str(), s.day1.as_os_str()],
                );
            }
        }
        let o = cli_append(&big, &ds, &["--resume", "--skip-loaded"]).output().unwrap();
        assert!(o.status.success(), "kill at {fraction}: {}", String::from_utf8_lossy(&o.stderr));
        assert_same(&ds, &reference, &format!("kill at {fraction}"));
    }
}

/// numpy maps every column after an append, and the values are those of both CSVs read as
/// one by pandas.
#[test]
fn numpy_and_pandas_read_an_appended_dataset() {
    let Some(python) = crate::support::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut day1 = String::from("k,s,x,n,t,b\n");
    let mut day2 = String::new();
    for i in 0..900 {
        let line = format!(
            "key{},{},{},{},2024-03-{:02}T{:02}:00:00,{}\n",
            i / 3,
            if i % 7 == 0 { String::new() } else { format!("t{i}") },
            if i % 5 == 0 { "NA".to_string() } else { format!("{i}.5") },
            if i > 600 && i % 4 == 0 { String::new() } else { i.to_string() },
            1 + i % 28,
            i % 24,
            if i % 9 == 0 {
                ""
            } else if i % 2 == 0 {
                "true"
            } else {
                "false"
            }
        );
        if i < 500 { day1.push_str(&line) } else { day2.push_str(&line) }
    }
    let (a, b, both) =
        (dir.path().join("a.csv"), dir.path().join("b.csv"), dir.path().join("both.csv"));
    fs::write(&a, &day1).unwrap();
    fs::write(&b, format!("k,s,x,n,t,b\n{day2}")).unwrap();
    fs::write(&both, format!("{day1}{day2}")).unwrap();
    let ds = dir.path().join("ds");
    let mut o = ConvertOptions::new();
    o.column_type("k", ColumnType::Cat).column_type("s", ColumnType::Str);
    o.convert(&a, &ds, &mut |_| {}).unwrap();
    o.append_files(&[b], &ds, &mut |_| {}).unwrap();
    crate::support::run_interop(&python, "check_dataset.py", &[ds.as_os_str(), both.as_os_str()]);
}

/// Rewrites the row count in the header of the `.npy` at `path` (its data stays).
fn set_header_rows(path: &Path, rows: usize) {
    let bytes = fs::read(path).unwrap();
    let mut h = larder::npy::Header::parse(&bytes).unwrap();
    h.shape[0] = rows;
    let head = h.to_bytes_in(h.version, h.data_offset).unwrap();
    let mut f = fs::OpenOptions::new().write(true).open(path).unwrap();
    io::Write::write_all(&mut f, &head).unwrap();
}

#[test]
fn files_shared_with_other_names_or_counting_more_rows_are_refused_and_nothing_changes() {
    let s = setup();
    // A hard-linked snapshot (`cp -al`): appending would change the snapshot too.
    let (ds, snap) = (s.root.join("ds"), s.root.join("snap"));
    copy_dir(&s.base, &ds);
    fs::create_dir(&snap).unwrap();
    for e in fs::read_dir(&ds).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            continue; // zones/
        }
        fs::hard_link(e.path(), snap.join(e.file_name())).unwrap();
    }
    let before = tree(&snap);
    let e = opts().append_files(std::slice::from_ref(&s.day2), &ds, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("shares its data with another name"), "{e}");
    assert!(tree(&snap) == before, "the snapshot changed");
    assert!(!ds.join(".append.larder-tmp").exists(), "a refusal leaves nothing to resume");
    // A column that is a symbolic link to a file elsewhere.
    let ds2 = s.root.join("ds2");
    copy_dir(&s.base, &ds2);
    let outside = s.root.join("outside.npy");
    fs::rename(ds2.join("x.npy"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, ds2.join("x.npy")).unwrap();
    let was = fs::read(&outside).unwrap();
    let e = opts().append_files(std::slice::from_ref(&s.day2), &ds2, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    assert_eq!(fs::read(&outside).unwrap(), was);
    // A manifest that counts fewer rows than a file holds: damage, refused by readers and by
    // an append alike.
    let ds3 = s.root.join("ds3");
    copy_dir(&s.base, &ds3);
    let mut m = Manifest::read(&ds3).unwrap();
    m.rows = 300;
    m.rows_read = 300;
    fs::write(ds3.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let d = Dataset::open(&ds3).unwrap();
    let e = d.column("x").unwrap().values::<f64>().unwrap_err();
    assert!(e.to_string().contains("the manifest says 300 rows"), "{e}");
    let before = tree(&ds3);
    let e = opts().append_files(std::slice::from_ref(&s.day2), &ds3, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("the manifest says; the dataset is damaged"), "{e}");
    assert!(tree(&ds3) == before && !ds3.join(".append.larder-tmp").exists());
    let o =
        Command::new(BIN).arg("convert").arg("--append").arg(&s.day2).arg(&ds3).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "refused again, not an interrupted append");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("--resume"));
}

#[test]
fn readers_go_by_the_manifest_while_headers_still_count_the_old_rows() {
    let s = setup();
    let ds = s.root.join("ds");
    copy_dir(&s.base, &ds);
    opts().append_files(std::slice::from_ref(&s.day2), &ds, &mut |_| {}).unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(BIN).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let d = ds.to_str().unwrap();
    let (x, n) = (ds.join("x.npy"), ds.join("n.npy"));
    let queries: Vec<Vec<String>> = vec![
        vec![
            "groupby".into(),
            d.into(),
            "--by".into(),
            "k".into(),
            "--agg".into(),
            "count,mean:x,max:n".into(),
            "--json".into(),
        ],
        vec!["stats".into(), x.display().to_string(), "--json".into()],
        vec!["stats".into(), n.display().to_string(), "--json".into()],
        vec!["cat".into(), d.into()],
    ];
    let want: Vec<Vec<u8>> =
        queries.iter().map(|q| run(&q.iter().map(String::as_str).collect::<Vec<_>>())).collect();
    // As after an append stopped between its commit and the rewriting of the headers.
    let m = Manifest::read(&ds).unwrap();
    for c in &m.columns {
        for f in [Some(&c.file), c.valid.as_ref()].into_iter().flatten() {
            set_header_rows(&ds.join(f), 400);
        }
        if let Some(o) = &c.offsets {
            set_header_rows(&ds.join(o), 401);
        }
    }
    for (q, w) in queries.iter().zip(&want) {
        let got = run(&q.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            got == *w,
            "{q:?}: {} vs {}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(w)
        );
    }
}

#[test]
fn a_resume_finishes_the_interrupted_append_and_then_appends_the_inputs_it_did_not_read() {
    let s = setup();
    let day3 = s.root.join("day3.csv");
    fs::write(&day3, table(700, 800, 0, true)).unwrap();
    let reference = s.root.join("reference");
    copy_dir(&s.base, &reference);
    for input in [&s.day2, &day3] {
        opts().append_files(std::slice::from_ref(input), &reference, &mut |_| {}).unwrap();
    }
    for (k, given) in
        [vec![day3.clone()], vec![s.day2.clone(), day3.clone()]].into_iter().enumerate()
    {
        let ds = s.root.join(format!("ds{k}"));
        copy_dir(&s.base, &ds);
        let mut o = opts();
        o.faults(FailAt::new(Step::Manifest, 2));
        o.append_files(std::slice::from_ref(&s.day2), &ds, &mut |_| {}).unwrap_err();
        assert!(ds.join(".append.larder-tmp/commit.json").exists(), "stopped with its journal");
        let mut o = opts();
        o.resume(true);
        let r = o.append_files(&given, &ds, &mut |_| {}).unwrap();
        assert!(r.resumed);
        assert_eq!(r.manifest.rows, 800, "{given:?}");
        assert_eq!(contents(&ds), contents(&reference), "{given:?}");
    }
}

#[test]
fn leftovers_of_a_cleanup_cut_short_are_removed_and_pipes_are_refused() {
    let s = setup();
    let ds = s.root.join("ds");
    copy_dir(&s.base, &ds);
    let trash = ds.join(".append.larder-tmp.done");
    fs::create_dir(&trash).unwrap();
    fs::write(trash.join("t.npy"), b"left").unwrap();
    fs::write(ds.join(".manifest.json.larder-tmp-4242"), b"{").unwrap();
    opts().append_files(std::slice::from_ref(&s.day2), &ds, &mut |_| {}).unwrap();
    assert!(!trash.exists() && !ds.join(".manifest.json.larder-tmp-4242").exists());
    let fifo = s.root.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let e = opts().append_files(&[fifo], &ds, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
}
