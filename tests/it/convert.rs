//! `larder convert`: fixtures with expected values and rejects, crash/resume, full disk,
//! standard input, and numpy reading the result.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{CountSteps, FailAt};
use larder::Selection;
use larder::convert::{ConvertOptions, Step};
use larder::dataset::Manifest;
use larder::ops::cat::{TextFormat, cat};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_larder");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/csv")
}

fn larder(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// The values `path` holds as stored: a dataset column's missing rows hold placeholders, so a
/// copy outside the dataset is printed (`cat` of the column itself shows them as null).
fn values(path: &Path) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("stored.npy");
    fs::copy(path, &copy).unwrap();
    let mut out = Vec::new();
    cat(&copy, &Selection::all(), TextFormat::Json, &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// Asserts two dataset directories hold the same files with the same bytes.
fn assert_same(a: &Path, b: &Path, what: &str) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>(), "{what}: files");
    for (name, bytes) in &ta {
        assert!(*bytes == tb[name], "{what}: {name} differs");
    }
}

/// Every file of a dataset directory, by name.
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

fn check_case(name: &str, spec: &Value) {
    let csv = fixtures().join(format!("{name}.csv"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut args = vec!["convert", csv.to_str().unwrap(), out.to_str().unwrap(), "-q"];
    let extra: Vec<String> =
        spec["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    args.extend(extra.iter().map(String::as_str));
    let o = larder(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    if let Some(err) = spec.get("error") {
        assert!(!o.status.success(), "{name}: expected failure");
        assert!(stderr.contains(err.as_str().unwrap()), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: no output after an error");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert!(leftovers.is_empty(), "{name}: temporary directory left behind");
        return;
    }
    assert!(o.status.success(), "{name}: {stderr}");
    let m = Manifest::read(&out).unwrap();
    assert_eq!(m.rows, spec["rows"].as_u64().unwrap(), "{name}: rows");
    assert_eq!(m.rejected, spec["rejected"].as_u64().unwrap(), "{name}: rejected");
    assert_eq!(m.rows_read, m.rows + m.rejected, "{name}: rows read = written + rejected");
    let cols = spec["columns"].as_array().unwrap();
    assert_eq!(m.columns.len(), cols.len(), "{name}: column count");
    for (c, want) in m.columns.iter().zip(cols) {
        assert_eq!(c.name, want["name"].as_str().unwrap(), "{name}");
        assert_eq!(c.header.as_deref(), want.get("header").and_then(Value::as_str), "{name}");
        assert_eq!(c.file, want["file"].as_str().unwrap(), "{name}: {}", c.name);
        assert_eq!(c.dtype, want["dtype"].as_str().unwrap(), "{name}: {}", c.name);
        let cats = want.get("categories").map(|v| {
            v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
        });
        assert_eq!(c.categories, cats, "{name}: {} categories", c.name);
        assert_eq!(values(&out.join(&c.file)), want["values"], "{name}: {} values", c.name);
        match want.get("valid") {
            Some(v) => {
                let stem = c.file.strip_suffix(".npy").unwrap();
                assert_eq!(c.valid.as_deref(), Some(format!("{stem}.valid.npy").as_str()));
                let file = out.join(c.valid.as_ref().unwrap());
                assert_eq!(&values(&file), v, "{name}: {} validity", c.name);
            }
            None => assert_eq!(c.valid, None, "{name}: {} has no validity file", c.name),
        }
    }
    // rejects.csv: header + one record per rejected row.
    let text = String::from_utf8_lossy(&fs::read(out.join("rejects.csv")).unwrap()).into_owned();
    let rows = parse_csv(&text);
    assert_eq!(rows[0], ["line", "column", "reason", "record"], "{name}");
    let want: Vec<Vec<String>> = spec["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let r = r.as_array().unwrap();
            vec![
                r[0].as_u64().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
                r[2].as_str().unwrap().to_string(),
                r[3].as_str().unwrap().to_string(),
            ]
        })
        .collect();
    assert_eq!(rows[1..], want[..], "{name}: rejects");
}

/// A small RFC 4180 reader for checking rejects.csv (independent of the converter's parser).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (_, c) => field.push(c),
        }
    }
    rows
}

#[test]
fn fixtures_convert_to_the_expected_columns_and_rejects() {
    let mut n = 0;
    let mut names: Vec<_> = fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "json")
                .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    for name in names {
        let spec: Value =
            serde_json::from_slice(&fs::read(fixtures().join(format!("{name}.json"))).unwrap())
                .unwrap();
        check_case(&name, &spec);
        n += 1;
    }
    assert!(n >= 25, "only {n} fixtures found");
}

/// A CSV of `rows` rows with quotes, newlines in quotes, bad rows, a categorical column, a
/// free-text column (quotes, delimiters, newlines, multi-byte UTF-8, missing values), a
/// categorical column with more categories than [`opts`] allows, which becomes a string column
/// during the run, and a date-time column (UTC, offsets, missing values, impossible dates).
fn sample_csv(rows: usize) -> Vec<u8> {
    let mut s = b"id,name,score,flag,note,tag,when\n".to_vec();
    let mut x: u64 = 7;
    for i in 0..rows {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let r = (x >> 33) % 1000;
        // Some missing names and flags, first seen after the first blocks: their validity
        // files are made mid-run and must survive a resume.
        let name = match r % 7 {
            _ if i > 300 && r % 61 == 2 => "NA".to_string(),
            0 => "\"a,\"\"quoted\"\"\nname\"".to_string(),
            1 => format!("n{}", r % 50),
            _ => format!("m{}", r % 300),
        };
        let score =
            if r.is_multiple_of(97) { "oops".to_string() } else { format!("{}.{}", r, i % 10) };
        let line = if r.is_multiple_of(211) {
            format!("{i},{name}\r\n")
        } else {
            let flag = if i > 500 && r % 53 == 7 {
                ""
            } else if r.is_multiple_of(2) {
                "true"
            } else {
                "false"
            };
            let note = match (x >> 20) % 6 {
                0 => String::new(),
                1 => "\"multi\nline, with \"\"quotes\"\"\"".to_string(),
                2 => format!("naïve café ☕ {i}"),
                3 if i > 200 => "NA".to_string(),
                _ => format!("free text {i}"),
            };
            let tag = format!("t{}", (x >> 40) % 400);
            let (day, ms) = (1 + (x >> 45) % 28, (x >> 7) % 86_400_000);
            let (hour, min, sec, frac) =
                (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
            let when = match (x >> 50) % 9 {
                0 if i > 400 => String::new(),
                1 => format!("2024-02-{day:02} {hour:02}:{min:02}:{sec:02}+05:30"),
                2 if r.is_multiple_of(89) => "2024-02-30T00:00:00Z".to_string(),
                _ => format!("2024-02-{day:02}T{hour:02}:{min:02}:{sec:02}.{frac:03}Z"),
            };
            format!("{i},{name},{score},{flag},{note},{tag},{when}\r\n")
        };
        s.extend_from_slice(line.as_bytes());
    }
    s
}

fn opts(block: usize) -> ConvertOptions {
    let mut o = ConvertOptions::new();
    o.block_size(block)
        .column_type("id", larder::convert::ColumnType::U32)
        .column_type("name", larder::convert::ColumnType::Cat)
        .column_type("score", larder::convert::ColumnType::F64)
        .column_type("flag", larder::convert::ColumnType::Bool)
        .column_type("note", larder::convert::ColumnType::Str)
        .column_type("tag", larder::convert::ColumnType::Cat)
        .column_type("when", larder::convert::ColumnType::DateTime(larder::dtype::TimeUnit::Ms))
        // Below the ~350 names, above the 400 tags: the tags become a string column.
        .max_categories(380, 1 << 20);
    o
}

#[test]
fn output_does_not_depend_on_block_size() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, sample_csv(3000)).unwrap();
    let reference = dir.path().join("ref");
    opts(1 << 20).convert(&csv, &reference, &mut |_| {}).unwrap();
    let m = Manifest::read(&reference).unwrap();
    assert!(m.rejected > 0 && m.rows > 2000, "{m:?}");
    assert_eq!(m.columns[1].dtype, "<u2", "more than 256 names need u16 codes");
    for block in [1, 7, 64, 1000, 4096] {
        let out = dir.path().join(format!("b{block}"));
        opts(block).convert(&csv, &out, &mut |_| {}).unwrap();
        assert_same(&out, &reference, &format!("block size {block}"));
    }
}

fn cli_convert(csv: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(["convert", csv.to_str().unwrap(), out.to_str().unwrap(), "-q"])
        .args(["--type", "id=u32", "--type", "name=cat", "--type", "score=f64"])
        .args(["--type", "flag=bool", "--type", "note=str", "--type", "tag=cat"])
        .args(["--type", "when=datetime64[ms]"])
        .args(["--max-categories", "380", "--max-category-bytes", "1M"])
        .args(["--block-size", "4096", "--checkpoint-interval", "0"])
        .args(extra);
    c
}

/// The library's equivalent of [`cli_convert`]'s options.
fn crash_opts() -> ConvertOptions {
    let mut o = opts(4096);
    o.checkpoint_interval(Duration::ZERO);
    o
}

#[test]
fn resume_after_a_failure_at_each_durable_step_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, sample_csv(2000)).unwrap();
    let reference = dir.path().join("ref");
    assert!(cli_convert(&csv, &reference, &[]).status().unwrap().success());
    for v in ["name.valid.npy", "flag.valid.npy", "note.valid.npy", "when.valid.npy"] {
        assert!(reference.join(v).exists(), "the sample has missing values: {v}");
    }
    let m = Manifest::read(&reference).unwrap();
    assert_eq!(m.columns[5].dtype, "str", "tag outgrew its dictionary during the run");
    let counter = Arc::new(CountSteps::default());
    let uninterrupted = dir.path().join("uninterrupted");
    crash_opts().faults(counter.clone()).convert(&csv, &uninterrupted, &mut |_| {}).unwrap();
    assert_same(&uninterrupted, &reference, "library and CLI");
    let counts = counter.0.lock().unwrap().clone();
    let mut cases = 0;
    for step in [Step::Sync, Step::Checkpoint, Step::Rename, Step::Manifest, Step::Cleanup] {
        let total = counts.get(&step).copied().unwrap_or(0);
        assert!(total > 0, "{step:?}: never taken");
        let mut ns = vec![1, 2, 3, total / 2, total - 1, total];
        ns.retain(|&n| (1..=total).contains(&n));
        ns.sort_unstable();
        ns.dedup();
        for n in ns {
            let what = format!("{step:?} {n} of {total}");
            let name = format!("{step:?}_{n}");
            let (out, tmp) =
                (dir.path().join(&name), dir.path().join(format!(".{name}.larder-tmp")));
            let e = crash_opts()
                .faults(FailAt::new(step, n))
                .convert(&csv, &out, &mut |_| {})
                .expect_err(&what);
            assert!(matches!(&e, larder::Error::Io { .. }), "{what}: {e}");
            assert!(e.to_string().contains("injected failure"), "{what}: {e}");
            assert!(!out.exists(), "{what}: output must not appear before it is complete");
            assert!(tmp.exists(), "{what}: a failure must leave the work for a resume");
            if tmp.join("checkpoint.json").exists() {
                let again = cli_convert(&csv, &out, &[]).output().unwrap();
                assert!(!again.status.success(), "{what}: an interrupted run needs --resume");
                let stderr = String::from_utf8_lossy(&again.stderr);
                assert!(stderr.contains("--resume"), "{what}: {stderr}");
            }
            // Alternate resuming through the library and through the binary.
            if cases % 2 == 0 {
                let r = crash_opts().resume(true).convert(&csv, &out, &mut |_| {}).unwrap();
                assert!(r.resumed || !tmp.join("checkpoint.json").exists(), "{what}");
            } else {
                let o = cli_convert(&csv, &out, &["--resume"]).output().unwrap();
                assert!(o.status.success(), "{what}: {}", String::from_utf8_lossy(&o.stderr));
            }
            assert!(!tmp.exists(), "{what}: the temporary directory is gone after the resume");
            assert_same(&out, &reference, &what);
            cases += 1;
        }
    }
    assert!(cases >= 15, "{cases}");
}

#[test]
fn resume_after_kill_9_at_several_points_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, sample_csv(10_000)).unwrap();
    let reference = dir.path().join("ref");
    assert!(cli_convert(&csv, &reference, &[]).status().unwrap().success());
    let len = fs::metadata(&csv).unwrap().len();
    for (k, fraction) in [0.0, 0.2, 0.5, 0.8].into_iter().enumerate() {
        let out = dir.path().join(format!("k{k}"));
        let tmp = dir.path().join(format!(".k{k}.larder-tmp"));
        let mut child = cli_convert(&csv, &out, &[]).stdout(Stdio::null()).spawn().unwrap();
        // Kill once the checkpoint shows the run is past `fraction` of the input.
        let start = Instant::now();
        loop {
            let offset = fs::read(tmp.join("checkpoint.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| v["offset"].as_u64())
                .unwrap_or(0);
            #[allow(clippy::cast_precision_loss)]
            let past = offset as f64 >= fraction * len as f64;
            if past || child.try_wait().unwrap().is_some() || start.elapsed().as_secs() > 60 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let o = cli_convert(&csv, &out, &["--resume"]).output().unwrap();
        assert!(o.status.success(), "kill at {fraction}: {}", String::from_utf8_lossy(&o.stderr));
        assert_same(&out, &reference, &format!("kill at {fraction}"));
    }
}

#[test]
fn resume_refuses_other_options_and_changed_input() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, sample_csv(2000)).unwrap();
    let out = dir.path().join("out");
    let interrupted =
        crash_opts().faults(FailAt::new(Step::Checkpoint, 2)).convert(&csv, &out, &mut |_| {});
    assert!(matches!(interrupted, Err(larder::Error::Io { .. })), "{interrupted:?}");
    let o = cli_convert(&csv, &out, &["--resume", "--shrink"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("other options"), "{o:?}");
    fs::OpenOptions::new().append(true).open(&csv).unwrap().write_all(b"1,x,1,true\n").unwrap();
    let o = cli_convert(&csv, &out, &["--resume"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("changed"), "{o:?}");
    assert!(!out.exists());
}

#[test]
fn existing_output_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, "a\n1\n").unwrap();
    fs::create_dir(dir.path().join("out")).unwrap();
    let o = larder(&["convert", csv.to_str().unwrap(), dir.path().join("out").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
}

#[test]
fn standard_input_converts_and_cannot_be_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(BIN)
        .args(["convert", "-", out.to_str().unwrap(), "-q", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a,b\n1,x\n2,y\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["rows"], 2);
    let m = Manifest::read(&out).unwrap();
    assert_eq!((m.source.path.as_str(), m.source.bytes), ("-", 12));
    let o = larder(&["convert", "-", dir.path().join("o2").to_str().unwrap(), "--resume"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot resume from standard input"));
}

#[test]
fn summary_reports_rows_rejects_throughput_and_peak_memory() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, "a\n1\nx\n").unwrap();
    let o = larder(&[
        "convert",
        csv.to_str().unwrap(),
        dir.path().join("o").to_str().unwrap(),
        "--type",
        "a=i64",
    ]);
    let s = String::from_utf8_lossy(&o.stderr);
    for part in ["1 rows written", "1 rejected", "MB/s", "peak memory", " MiB"] {
        assert!(s.contains(part), "{part}: {s}");
    }
    let o =
        larder(&["convert", csv.to_str().unwrap(), dir.path().join("q").to_str().unwrap(), "-q"]);
    assert!(o.stderr.is_empty() && o.stdout.is_empty());
}

/// Full disk: needs a small tmpfs, which only root in a permissive environment can mount.
#[test]
fn full_disk_is_a_clear_error_and_the_run_resumes_once_space_is_free() {
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, sample_csv(60_000)).unwrap();
    let reference = dir.path().join("ref");
    assert!(cli_convert(&csv, &reference, &[]).status().unwrap().success());
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt.to_str().unwrap()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs root and mount permission)");
        return;
    }
    let _guard = Unmount(mnt.clone());
    let out = mnt.join("out");
    let o = cli_convert(&csv, &out, &[]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "the small disk should fill up");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("--resume"), "{err}");
    assert!(!out.exists());
    let grown = Command::new("mount")
        .args(["-o", "remount,size=64m", mnt.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(grown.success());
    let o = cli_convert(&csv, &out, &["--resume"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_same(&out, &reference, "full disk");
}

/// numpy opens every column with `mmap_mode="r"` and sees the manifest's dtype, rows and values.
#[test]
fn numpy_reads_the_converted_dataset() {
    let Some(python) = std::env::var_os("LARDER_PYTHON") else {
        assert!(
            std::env::var("LARDER_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "LARDER_REQUIRE_PYTHON=1 but LARDER_PYTHON is not set"
        );
        eprintln!("skipped: LARDER_PYTHON not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, sample_csv(3000)).unwrap();
    let out = dir.path().join("out");
    assert!(cli_convert(&csv, &out, &["--shrink"]).status().unwrap().success());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_dataset.py");
    let o = Command::new(python).arg(script).arg(&out).arg(&csv).output().unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CSV of the shape R writes (`write.csv`): a quoted header whose first name is empty, a
/// quoted row-number column, quoted strings, and `NA` in numeric columns. Returns the file
/// and, per row, (carrier, origin, `dep_delay`, `air_time`) with `None` for NA.
#[allow(clippy::type_complexity, clippy::many_single_char_names)]
fn r_written_flights(
    dir: &Path,
    rows: usize,
) -> (PathBuf, Vec<(usize, usize, Option<i64>, Option<i64>)>) {
    use std::fmt::Write as _;
    const CARRIERS: [&str; 4] = ["UA", "AA", "B6", "DL"];
    const ORIGINS: [&str; 3] = ["EWR", "LGA", "JFK"];
    let mut s =
        String::from("\"\",\"carrier\",\"origin\",\"dep_delay\",\"air_time\",\"tailnum\"\n");
    let mut truth = Vec::new();
    let mut x: u64 = 12345;
    for i in 0..rows {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let r = x >> 20;
        let (c, o) = ((r % 4) as usize, ((r >> 3) % 3) as usize);
        let delay = (!r.is_multiple_of(7)).then(|| ((r >> 8) % 300) as i64 - 40);
        let air = (!r.is_multiple_of(11)).then(|| ((r >> 16) % 650) as i64 + 20);
        let show = |v: Option<i64>| v.map_or("NA".to_string(), |v| v.to_string());
        let tail =
            if r.is_multiple_of(13) { "NA".to_string() } else { format!("\"N{}\"", r % 500) };
        writeln!(
            s,
            "\"{}\",\"{}\",\"{}\",{},{},{tail}",
            i + 1,
            CARRIERS[c],
            ORIGINS[o],
            show(delay),
            show(air)
        )
        .unwrap();
        truth.push((c, o, delay, air));
    }
    let csv = dir.join("flights.csv");
    fs::write(&csv, s).unwrap();
    (csv, truth)
}

#[test]
#[allow(clippy::many_single_char_names)]
fn r_written_flights_keep_numeric_columns_and_groupby_skips_missing_values() {
    use larder::compute::{self, GroupKey, Number};
    let dir = tempfile::tempdir().unwrap();
    let (csv, truth) = r_written_flights(dir.path(), 50_000);
    let out = dir.path().join("flights");
    let o = larder(&["convert", csv.to_str().unwrap(), out.to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = Manifest::read(&out).unwrap();
    assert_eq!((m.rows, m.rejected), (50_000, 0), "no record is lost to a missing value");
    let col = |n: &str| m.column(n).unwrap().clone();
    assert_eq!(col("dep_delay").dtype, "<i8", "NA does not make a number column a string");
    assert!(col("dep_delay").categories.is_none() && col("dep_delay").valid.is_some());
    assert!(col("tailnum").categories.is_some() && col("tailnum").valid.is_some());
    assert_eq!(col("Unnamed: 0").file, "Unnamed__0.npy", "named as pandas names it");
    assert_eq!(col("").header.as_deref(), Some(""), "the header text is kept");

    // Means and maxima per group, computed here from the generated values.
    let aggs = ["count", "mean:dep_delay", "count:dep_delay", "max:air_time"];
    let aggs: Vec<_> = aggs.iter().map(|a| a.parse().unwrap()).collect();
    let g = compute::groupby(&out, "carrier", &aggs).unwrap();
    let carriers = ["UA", "AA", "B6", "DL"];
    for (gi, key) in g.keys.iter().enumerate() {
        let GroupKey::Label(label) = key else { panic!("{key:?}") };
        let c = carriers.iter().position(|x| x == label).unwrap();
        let rows: Vec<_> = truth.iter().filter(|t| t.0 == c).collect();
        let delays: Vec<i64> = rows.iter().filter_map(|t| t.2).collect();
        let mean = delays.iter().sum::<i64>() as f64 / delays.len() as f64;
        let value = |name: &str| g.columns.iter().find(|(n, _)| n == name).unwrap().1[gi];
        assert_eq!(value("count"), Number::Int(rows.len() as i128), "{label}");
        assert_eq!(value("count:dep_delay"), Number::Int(delays.len() as i128), "{label}");
        assert!((value("mean:dep_delay").as_f64() - mean).abs() < 1e-9, "{label}");
        let max = rows.iter().filter_map(|t| t.3).max().unwrap();
        assert_eq!(value("max:air_time"), Number::Int(i128::from(max)), "{label}");
    }

    // Statistics of a nullable column skip its missing values and count them.
    let s = compute::StatsOptions::new().compute(out.join("dep_delay.npy")).unwrap().summary;
    let delays: Vec<i64> = truth.iter().filter_map(|t| t.2).collect();
    assert_eq!(s.count, delays.len() as u64);
    assert_eq!(s.null_count, Some((truth.len() - delays.len()) as u64));
    assert_eq!(s.min, Some(Number::Int(i128::from(*delays.iter().min().unwrap()))));

    // Aggregates of category codes mean nothing: refused, naming the column.
    let e = compute::groupby(&out, "origin", &["mean:carrier".parse().unwrap()]).unwrap_err();
    assert!(matches!(e, larder::Error::Invalid { .. }), "{e}");
    assert!(e.to_string().contains("\"carrier\" is categorical"), "{e}");
    let e = compute::StatsOptions::new().compute(out.join("carrier.npy")).unwrap_err();
    assert!(e.to_string().contains("categorical"), "{e}");
    let o = larder(&["stats", out.join("origin.npy").to_str().unwrap()]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("categorical"));
}

#[test]
fn info_and_cat_of_a_dataset_show_its_columns_and_rows_as_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    fs::write(&csv, "name,status,score\nx,200,1.5\ny,NA,\nx,404,2.5\n").unwrap();
    let out = dir.path().join("t");
    assert!(
        larder(&["convert", csv.to_str().unwrap(), out.to_str().unwrap(), "-q"]).status.success()
    );
    let o = larder(&["info", out.to_str().unwrap(), "--json"]);
    let info: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["rows"], 3);
    let kinds: Vec<_> = info["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["nulls"].as_u64().unwrap()))
        .collect();
    assert_eq!(kinds, [("categorical", 0), ("number", 1), ("number", 1)]);
    let o = larder(&["cat", out.to_str().unwrap()]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["name", "status", "score"]);
    assert_eq!(lines[2].split_whitespace().collect::<Vec<_>>(), ["1", "y", "<NA>", "NaN"]);
    let o = larder(&["cat", out.to_str().unwrap(), "--slice", "::-2", "--json"]);
    let rows: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {"name": "x", "status": 404, "score": 2.5},
            {"name": "x", "status": 200, "score": 1.5}
        ])
    );
    let o = larder(&["cat", out.to_str().unwrap(), "--slice", "0,1"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("one axis"));
}

#[test]
fn a_write_a_crash_left_half_done_is_not_part_of_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, sample_csv(500)).unwrap();
    let out = dir.path().join("out");
    let e = crash_opts()
        .faults(FailAt::new(Step::Checkpoint, 2))
        .convert(&csv, &out, &mut |_| {})
        .unwrap_err();
    assert!(matches!(e, larder::Error::Io { .. }), "{e}");
    // What a kill -9 inside an atomic write leaves: a temporary named after the dead process.
    let work = dir.path().join(".out.larder-tmp");
    fs::write(work.join(".checkpoint.json.larder-tmp-999999"), b"{\"half").unwrap();
    crash_opts().resume(true).convert(&csv, &out, &mut |_| {}).unwrap();
    let left: Vec<_> = tree(&out).into_keys().filter(|n| n.contains("larder-tmp")).collect();
    assert!(left.is_empty(), "{left:?}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The files of a dataset but its manifest's record of the source (which names the input).
fn columns_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut t = tree(dir);
    let mut m: Value = serde_json::from_slice(&t.remove("manifest.json").unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("source");
    t.insert("manifest.json".into(), serde_json::to_vec(&m).unwrap());
    t
}

#[test]
fn gzip_multi_member_gzip_and_zstd_inputs_convert_to_the_columns_of_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_csv(3000);
    let plain = dir.path().join("in.csv");
    fs::write(&plain, &data).unwrap();
    let reference = dir.path().join("ref");
    assert!(cli_convert(&plain, &reference, &[]).status().unwrap().success());
    let (a, b) = data.split_at(data.len() / 3);
    let inputs: [(&str, Vec<u8>); 3] = [
        ("in.csv.gz", gzip(&data)),
        // Named like a plain file: the first bytes decide, not the name.
        ("members.csv", [gzip(a), gzip(b)].concat()),
        ("in.csv.zst", zstd::stream::encode_all(&data[..], 3).unwrap()),
    ];
    for (name, bytes) in inputs {
        let src = dir.path().join(name);
        fs::write(&src, bytes).unwrap();
        let out = dir.path().join(format!("{name}.out"));
        let o = cli_convert(&src, &out, &[]).output().unwrap();
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(columns_of(&out), columns_of(&reference), "{name}");
    }
    // And from standard input.
    let out = dir.path().join("stdin.out");
    let mut child = Command::new(BIN)
        .args(["convert", "-", out.to_str().unwrap(), "-q", "--type", "id=u32", "--type"])
        .args(["name=cat", "--type", "score=f64", "--type", "flag=bool", "--type", "note=str"])
        .args(["--type", "tag=cat", "--type", "when=datetime64[ms]", "--max-categories", "380"])
        .args(["--max-category-bytes", "1M", "--block-size", "4096"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&zstd::stream::encode_all(&data[..], 1).unwrap())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let (mut x, mut y) = (columns_of(&out), columns_of(&reference));
    // `--checkpoint-interval` is recorded nowhere; the rest of the manifest must agree.
    x.remove("manifest.json");
    y.remove("manifest.json");
    assert_eq!(x, y, "zstd on standard input");
}

#[test]
fn a_cut_short_or_damaged_compressed_input_is_an_error_naming_the_file_and_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_csv(20_000);
    let whole = [gzip(&data), zstd::stream::encode_all(&data[..], 3).unwrap()];
    for (k, packed) in whole.iter().enumerate() {
        let mut damaged = packed.clone();
        let mid = damaged.len() / 2;
        damaged[mid..mid + 32].fill(0x5A);
        for (what, bytes) in [("cut", &packed[..packed.len() * 2 / 3]), ("damaged", &damaged[..])] {
            let src = dir.path().join(format!("{k}-{what}.csv.z"));
            fs::write(&src, bytes).unwrap();
            let out = dir.path().join(format!("{k}-{what}"));
            let o = cli_convert(&src, &out, &[]).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{what}: {err}");
            assert!(err.contains(src.to_str().unwrap()) && err.contains("at byte"), "{err}");
            assert!(err.contains("damaged or cut short"), "{err}");
            assert!(!out.exists(), "{what}: no output");
            let tmp = dir.path().join(format!(".{k}-{what}.larder-tmp"));
            assert!(!tmp.exists(), "{what}: the same input would stop the same way: no resume");
        }
    }
}

/// Fails a conversion of `inputs` at a few of its checkpoints, resumes each (through the
/// binary when `cli`), and checks the result is the uninterrupted one's, byte for byte.
fn assert_resumes_at_checkpoints(dir: &Path, inputs: &[PathBuf], cli: bool) {
    let counter = Arc::new(CountSteps::default());
    let reference = dir.join("ref");
    crash_opts().faults(counter.clone()).convert_files(inputs, &reference, &mut |_| {}).unwrap();
    let total = counter.0.lock().unwrap()[&Step::Checkpoint];
    let mut ns = vec![2, total / 2, total - 1];
    ns.retain(|&n| (1..total).contains(&n));
    ns.sort_unstable();
    ns.dedup();
    assert!(!ns.is_empty(), "{total} checkpoints");
    for n in ns {
        let out = dir.join(format!("c{n}"));
        let e = crash_opts()
            .faults(FailAt::new(Step::Checkpoint, n))
            .convert_files(inputs, &out, &mut |_| {})
            .expect_err("injected");
        assert!(e.to_string().contains("injected failure"), "{e}");
        if cli {
            let o = cli_convert(&inputs[0], &out, &["--resume"]).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        } else {
            crash_opts().resume(true).convert_files(inputs, &out, &mut |_| {}).unwrap();
        }
        assert_same(&out, &reference, &format!("checkpoint {n} of {total}"));
    }
}

#[test]
fn resume_of_a_compressed_input_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("in.csv.gz");
    fs::write(&gz, gzip(&sample_csv(4000))).unwrap();
    assert_resumes_at_checkpoints(dir.path(), &[gz], true);
}

#[test]
fn several_inputs_convert_as_one_table_and_rejects_name_their_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_csv(3000);
    let whole = dir.path().join("whole.csv");
    fs::write(&whole, &data).unwrap();
    let reference = dir.path().join("ref");
    assert!(cli_convert(&whole, &reference, &[]).status().unwrap().success());
    // Split at record boundaries (after a CRLF), each part with the header; the last part has
    // no final line break, and the parts are plain, gzip and zstd.
    let text = String::from_utf8(data.clone()).unwrap();
    let (head, body) = text.split_once('\n').unwrap();
    let cuts: Vec<usize> = [body.len() / 3, 2 * body.len() / 3]
        .iter()
        .map(|&c| c + body[c..].find("\r\n").unwrap() + 2)
        .collect();
    let parts = [&body[..cuts[0]], &body[cuts[0]..cuts[1]], body[cuts[1]..].trim_end()];
    let part = |i: usize| format!("{head}\n{}", parts[i]).into_bytes();
    fs::write(dir.path().join("log-1.csv"), part(0)).unwrap();
    fs::write(dir.path().join("log-2.csv.gz"), gzip(&part(1))).unwrap();
    fs::write(dir.path().join("log-3.csv.zst"), zstd::stream::encode_all(&part(2)[..], 3).unwrap())
        .unwrap();
    let out = dir.path().join("out");
    let pattern = dir.path().join("log-?.csv*");
    let run = Command::new(BIN)
        .args(["convert", pattern.to_str().unwrap(), out.to_str().unwrap(), "-q"])
        .args(["--type", "id=u32", "--type", "name=cat", "--type", "score=f64"])
        .args(["--type", "flag=bool", "--type", "note=str", "--type", "tag=cat"])
        .args(["--type", "when=datetime64[ms]", "--max-categories", "380"])
        .args(["--max-category-bytes", "1M", "--block-size", "4096"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let (mut a, mut b) = (columns_of(&out), columns_of(&reference));
    let (ra, rb) = (a.remove("rejects.csv").unwrap(), b.remove("rejects.csv").unwrap());
    let (ma, mb) = (a.remove("manifest.json").unwrap(), b.remove("manifest.json").unwrap());
    assert_eq!(a, b, "the columns of three files are those of the one they were cut from");
    let (ma, mb): (Value, Value) =
        (serde_json::from_slice(&ma).unwrap(), serde_json::from_slice(&mb).unwrap());
    assert_eq!(ma["columns"], mb["columns"]);
    assert_eq!((&ma["rows"], &ma["rejected"]), (&mb["rows"], &mb["rejected"]));
    let manifest = Manifest::read(&out).unwrap();
    let names: Vec<_> =
        manifest.sources.iter().map(|s| s.path.rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["log-1.csv", "log-2.csv.gz", "log-3.csv.zst"]);
    // Each rejected record names its file and its line there: the same record as in the whole
    // file, whose line is its line in the part plus the lines of the parts before.
    let lines_before = |i: usize| -> u64 {
        parts[..i].iter().map(|p| p.matches('\n').count() as u64).sum::<u64>()
    };
    let (ra, rb) = (String::from_utf8_lossy(&ra).into_owned(), String::from_utf8_lossy(&rb));
    assert!(ra.starts_with("file,line,column,reason,record\n"));
    let mut checked = [0; 3];
    for (x, y) in
        ra.lines().skip(1).filter(|l| l.starts_with('"')).zip(
            rb.lines().skip(1).filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit())),
        )
    {
        let (file, rest) = x[1..].split_once("\",").unwrap();
        let i = ["log-1.csv", "log-2.csv.gz", "log-3.csv.zst"]
            .iter()
            .position(|n| file.ends_with(n))
            .unwrap();
        let (line, tail) = rest.split_once(',').unwrap();
        let (whole_line, whole_tail) = y.split_once(',').unwrap();
        let line: u64 = line.parse().unwrap();
        assert_eq!(line + lines_before(i), whole_line.parse::<u64>().unwrap(), "{x}");
        assert_eq!(tail, whole_tail);
        checked[i] += 1;
    }
    assert!(checked.iter().all(|&n| n > 0), "rejects in every file: {checked:?}");
}

#[test]
fn several_inputs_must_share_the_header_and_balance_their_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    let c = dir.path().join("c.csv");
    fs::write(&a, "x,y\n1,2\n").unwrap();
    fs::write(&b, "x,z\n3,4\n").unwrap();
    fs::write(&c, "x,y\n5,\"six\n").unwrap();
    for (inputs, want) in [
        ([&a, &b], format!("{}: at byte 0: its header", b.display())),
        ([&c, &a], format!("{}: at byte 11: the file ends inside a quoted field", c.display())),
    ] {
        let out = dir.path().join("out");
        let o = Command::new(BIN).arg("convert").args(inputs).arg(&out).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(&want), "{err}");
        assert!(!out.exists() && !dir.path().join(".out.larder-tmp").exists());
    }
    let o = Command::new(BIN)
        .args(["convert", dir.path().join("nothing-*.csv").to_str().unwrap(), "x"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("no file matches"));
}

#[test]
fn resume_of_several_inputs_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_csv(4000);
    let text = String::from_utf8(data).unwrap();
    let (head, body) = text.split_once('\n').unwrap();
    let cut = body.len() / 2 + body[body.len() / 2..].find("\r\n").unwrap() + 2;
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv.gz");
    fs::write(&a, format!("{head}\n{}", &body[..cut])).unwrap();
    fs::write(&b, gzip(format!("{head}\n{}", &body[cut..]).as_bytes())).unwrap();
    assert_resumes_at_checkpoints(dir.path(), &[a, b], false);
}

#[test]
fn lone_cr_line_ends_convert_as_pandas_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let (cr, lf) = (dir.path().join("cr.csv"), dir.path().join("lf.csv"));
    fs::write(&cr, "a,b\r1,x\r2,\"y\"\r3,z").unwrap();
    fs::write(&lf, "a,b\n1,x\n2,\"y\"\n3,z").unwrap();
    let (o1, o2) = (dir.path().join("o1"), dir.path().join("o2"));
    assert!(
        larder(&["convert", cr.to_str().unwrap(), o1.to_str().unwrap(), "-q"]).status.success()
    );
    assert!(
        larder(&["convert", lf.to_str().unwrap(), o2.to_str().unwrap(), "-q"]).status.success()
    );
    let m = Manifest::read(&o1).unwrap();
    assert_eq!((m.rows, m.rejected, m.columns.len()), (3, 0, 2));
    let (mut a, mut b) = (columns_of(&o1), columns_of(&o2));
    a.remove("manifest.json");
    b.remove("manifest.json");
    assert_eq!(a, b);
}

#[test]
fn a_first_record_longer_than_a_block_still_leaves_rows_to_infer_types_from() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    let mut s = format!("a,b\n1,\"{}\"\n", "x".repeat(1_100_000));
    for i in 2..50 {
        writeln!(s, "{i},y{i}").unwrap();
    }
    fs::write(&csv, s).unwrap();
    let out = dir.path().join("out");
    assert!(
        larder(&["convert", csv.to_str().unwrap(), out.to_str().unwrap(), "-q"]).status.success()
    );
    let m = Manifest::read(&out).unwrap();
    assert_eq!((m.rows, m.rejected), (49, 0));
    // 49 distinct texts: few enough to be categorical.
    assert_eq!((m.columns[0].dtype.as_str(), m.columns[1].dtype.as_str()), ("<i8", "|u1"));
    // And a table of it prints, long cells cut as pandas cuts them.
    let o = larder(&["cat", out.to_str().unwrap(), "--slice", "0:2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("{}...", "x".repeat(47))) && text.len() < 400, "{text}");
}

#[test]
fn an_input_of_blank_lines_only_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    fs::write(&csv, "\n\r\n\n").unwrap();
    let o = larder(&["convert", csv.to_str().unwrap(), dir.path().join("o").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("only blank lines"), "{err}");
    // Blank lines before the header are skipped, and counted in line numbers.
    fs::write(&csv, "\n\na,b\n1,2\nx,3\n").unwrap();
    let out = dir.path().join("p");
    assert!(cli_ok(&[
        "convert",
        csv.to_str().unwrap(),
        out.to_str().unwrap(),
        "-q",
        "--type",
        "a=i64"
    ]));
    let rejects = fs::read_to_string(out.join("rejects.csv")).unwrap();
    assert!(rejects.lines().nth(1).unwrap().starts_with("5,\"a\""), "{rejects}");
}

fn cli_ok(args: &[&str]) -> bool {
    let o = larder(args);
    o.status.success() || panic!("{}", String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_wide_file_raises_the_open_file_limit_or_keeps_its_files_closed_between_writes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("wide.csv");
    let names: Vec<String> = (0..200).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    fs::write(&csv, format!("{}\n{}\n{}\n", names.join(","), row.join(","), row.join(",")))
        .unwrap();
    let run = |limit: &str, out: &str| {
        let script = format!("ulimit {limit} 128 && exec \"$0\" convert \"$1\" \"$2\" -q");
        Command::new("sh")
            .args([
                "-c",
                &script,
                BIN,
                csv.to_str().unwrap(),
                dir.path().join(out).to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    // A soft limit below what 200 columns need is raised.
    let o = run("-Sn", "soft");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(Manifest::read(dir.path().join("soft")).unwrap().rows, 2);
    // A hard one cannot be: each column file is then opened only to be written, and the
    // dataset is the same.
    let o = run("-n", "hard");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (soft, hard) = (dir.path().join("soft"), dir.path().join("hard"));
    assert_eq!(Manifest::read(&hard).unwrap().rows, 2);
    for c in [0, 117, 199] {
        let f = format!("c{c}.npy");
        assert_eq!(fs::read(soft.join(&f)).unwrap(), fs::read(hard.join(&f)).unwrap(), "{f}");
    }
    assert!(!dir.path().join(".hard.larder-tmp").exists());
}

#[test]
fn errors_about_several_inputs_name_the_file_at_fault_and_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    fs::write(p("a.csv"), "a,b\n1,x\n2,y\n").unwrap();
    fs::write(p("b.csv"), "\n\na,b\n5,z\nbad,w\n").unwrap();
    let s = |name: &str| p(name).to_str().unwrap().to_string();
    // --strict stops at the first reject: named by its file and its line there (blank lines
    // before the second file's header are skipped, and counted).
    let o = larder(&[
        "convert",
        &s("a.csv"),
        &s("b.csv"),
        &s("o1"),
        "-q",
        "--strict",
        "--type",
        "a=i64",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{}:5: column \"a\"", s("b.csv"))), "{err}");
    // Options may stand between the paths.
    let o = larder(&["convert", &s("a.csv"), "-q", &s("b.csv"), "--type", "a=cat", &s("o2")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(Manifest::read(p("o2")).unwrap().rows, 4, "the second header is no row");
    // A resume names the input that changed.
    let tmp = p(".o3.larder-tmp");
    let small = || {
        let mut o = ConvertOptions::new();
        o.block_size(4).checkpoint_interval(Duration::ZERO);
        o
    };
    let inputs = [p("a.csv"), p("b.csv")];
    let e = small()
        .faults(FailAt::new(Step::Checkpoint, 2))
        .convert_files(&inputs, p("o3"), &mut |_| {})
        .expect_err("injected");
    assert!(tmp.exists(), "{e}");
    fs::write(p("b.csv"), "a,b\n5,z\n").unwrap();
    let e = small().resume(true).convert_files(&inputs, p("o3"), &mut |_| {}).unwrap_err();
    assert!(e.to_string().starts_with(&format!("{}: changed", s("b.csv"))), "{e}");
    let e = small().resume(true).convert_files(&inputs[..1], p("o3"), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("read 2 inputs, not 1"), "{e}");
}

#[test]
fn globs_take_links_to_files_and_zstd_may_start_with_a_skippable_frame() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).unwrap();
    fs::write(logs.join("1.csv"), "a,b\n1,x\n").unwrap();
    fs::write(dir.path().join("target.csv"), "a,b\n2,y\n").unwrap();
    std::os::unix::fs::symlink("../target.csv", logs.join("2.csv")).unwrap();
    // A skippable frame (magic 0x184D2A50, 4 bytes of payload), then the data.
    let mut z = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, b'a', b'b', b'c', b'd'];
    z.extend(zstd::stream::encode_all(&b"a,b\n3,z\n"[..], 1).unwrap());
    fs::write(logs.join("3.csv"), z).unwrap();
    fs::create_dir(logs.join("4.csv")).unwrap(); // a directory is not an input
    let out = dir.path().join("out");
    let o = larder(&["convert", logs.join("*.csv").to_str().unwrap(), out.to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(Manifest::read(&out).unwrap().sources.len(), 3);
    assert_eq!(values(&out.join("a.npy")), serde_json::json!([1, 2, 3]));
}

#[test]
fn glob_inputs_are_recorded_as_the_paths_they_name() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("in")).unwrap();
    for (name, v) in [("day1.csv", 1), ("day2.csv", 2), ("in/day3.csv", 3), ("in/day4.csv", 4)] {
        fs::write(dir.path().join(name), format!("a\n{v}\n")).unwrap();
    }
    // A pattern without a directory: the names as typed (`day1.csv`, not `./day1.csv`); with
    // one, below it.
    for (pattern, out, want) in [
        ("day*.csv", "o1", ["day1.csv", "day2.csv"]),
        ("in/day?.csv", "o2", ["in/day3.csv", "in/day4.csv"]),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_larder"))
            .current_dir(dir.path())
            .args(["convert", "-q", pattern, out])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m = Manifest::read(dir.path().join(out)).unwrap();
        let paths: Vec<String> = m.sources.iter().map(|s| s.path.clone()).collect();
        assert_eq!(paths, want);
    }
}
