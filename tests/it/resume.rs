//! `larder convert --resume` is idempotent: resuming a conversion or an append that already
//! completed exits 0, changes nothing and says so, so a retry loop around it never fails
//! because its last try won.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_larder");

/// Rows `from..to` of a small table (a header first), one categorical and two numeric columns.
fn rows(from: usize, to: usize) -> String {
    let mut s = String::from("k,v,x\n");
    for i in from..to {
        writeln!(s, "key{},{i},{}.5", i % 37, i % 1000).unwrap();
    }
    s
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 1).unwrap()
}

/// Every file of a directory, hidden ones too, by name, with its bytes and modification time.
fn tree(dir: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    fs::read_dir(dir)
        .unwrap()
        // Files only: the zone maps in zones/ are checked by tests/it/zones.rs.
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_file()))
        .map(|e| {
            let e = e.unwrap();
            let modified = e.metadata().unwrap().modified().unwrap();
            (e.file_name().to_string_lossy().into_owned(), (fs::read(e.path()).unwrap(), modified))
        })
        .collect()
}

/// `larder convert` with small blocks and a checkpoint after each, so that a kill lands in
/// the middle of a run.
fn convert(args: &[&Path], extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(["convert", "--block-size", "2048", "--checkpoint-interval", "0"])
        .args(extra)
        .args(args);
    c
}

fn ok(o: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{what}: {err}");
    err
}

/// Three inputs of the same table: plain, gzip and zstd.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let (a, b, c) = (dir.join("a.csv"), dir.join("b.csv.gz"), dir.join("c.csv.zst"));
    fs::write(&a, rows(0, 300)).unwrap();
    fs::write(&b, gzip(rows(300, 600).as_bytes())).unwrap();
    fs::write(&c, zstd(rows(600, 900).as_bytes())).unwrap();
    vec![a, b, c]
}

#[test]
fn resuming_a_finished_conversion_exits_0_changes_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let all = inputs(dir.path());
    for (k, given) in [vec![all[0].clone()], vec![all[1].clone()], all.clone()].iter().enumerate() {
        let out = dir.path().join(format!("out{k}"));
        let mut args: Vec<&Path> = given.iter().map(PathBuf::as_path).collect();
        args.push(&out);
        ok(&convert(&args, &["-q"]).output().unwrap(), "first run");
        let before = tree(&out);
        for attempt in 0..2 {
            let what = format!("{given:?}, resume {attempt}");
            let err = ok(&convert(&args, &["--resume"]).output().unwrap(), &what);
            assert!(err.contains("already converted from these inputs"), "{what}: {err}");
            assert!(err.contains("nothing changed"), "{what}: {err}");
            let o = convert(&args, &["--resume", "--json", "-q"]).output().unwrap();
            ok(&o, &what);
            let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(j["complete_before"], true, "{what}: {j}");
            assert_eq!(j["bytes"], 0, "{what}: {j}");
            assert!(tree(&out) == before, "{what}: the dataset changed");
            assert!(!dir.path().join(format!(".out{k}.larder-tmp")).exists(), "{what}");
        }
        // Without --resume an existing output is still refused.
        let o = convert(&args, &["-q"]).output().unwrap();
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    }
}

#[test]
fn resuming_into_a_dataset_of_other_inputs_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let all = inputs(dir.path());
    let out = dir.path().join("out");
    ok(&convert(&[&all[0], &all[1], &out], &["-q"]).output().unwrap(), "first run");
    let before = tree(&out);
    // Fewer inputs, more inputs, another order.
    for given in [vec![&all[0]], vec![&all[0], &all[1], &all[2]], vec![&all[1], &all[0]]] {
        let mut args: Vec<&Path> = given.iter().map(|p| p.as_path()).collect();
        args.push(&out);
        let o = convert(&args, &["-q", "--resume"]).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{given:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("is not the finished conversion of these inputs"), "{err}");
        assert!(tree(&out) == before, "{given:?}");
    }
    // An input changed since: its size and modification time tell.
    fs::OpenOptions::new().append(true).open(&all[0]).unwrap().write_all(b"key1,1,1\n").unwrap();
    let o = convert(&[&all[0], &all[1], &out], &["-q", "--resume"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(tree(&out) == before);
}

#[test]
fn resuming_a_finished_append_exits_0_changes_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let all = inputs(dir.path());
    let (d, e) = (dir.path().join("d.csv.gz"), dir.path().join("e.csv"));
    fs::write(&d, gzip(rows(900, 1000).as_bytes())).unwrap();
    fs::write(&e, rows(1000, 1100)).unwrap();
    let ds = dir.path().join("ds");
    ok(&convert(&[&all[0], &ds], &["-q"]).output().unwrap(), "base");
    // Several compressed inputs in one append, then a plain one.
    for given in [vec![&all[1], &all[2]], vec![&e]] {
        let mut args: Vec<&Path> = given.iter().map(|p| p.as_path()).collect();
        args.push(&ds);
        ok(&convert(&args, &["-q", "--append", "--resume"]).output().unwrap(), "append");
        let before = tree(&ds);
        for attempt in 0..2 {
            let what = format!("{given:?}, resume {attempt}");
            let o = convert(&args, &["--append", "--resume"]).output().unwrap();
            let err = ok(&o, &what);
            assert!(err.contains("already appended"), "{what}: {err}");
            let o = convert(&args, &["--append", "--resume", "--json", "-q"]).output().unwrap();
            ok(&o, &what);
            let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(j["complete_before"], true, "{what}: {j}");
            assert!(j["appended"].is_null(), "{what}: {j}");
            assert!(tree(&ds) == before, "{what}: the dataset changed");
        }
    }
    let rows_now = |ds: &Path| larder::dataset::Manifest::read(ds).unwrap().rows;
    assert_eq!(rows_now(&ds), 1000);
    // A resume with a file not loaded yet appends it; a mix of loaded and new files is still
    // refused without --skip-loaded (that is not a retry of one step).
    let o = convert(&[&e, &d, &ds], &["-q", "--append", "--resume"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("was loaded into"));
    ok(&convert(&[&d, &ds], &["-q", "--append", "--resume"]).output().unwrap(), "new file");
    assert_eq!(rows_now(&ds), 1100);
}

/// Starts `cmd`, and kills it (SIGKILL) once the checkpoint in `tmp` shows it past a third of
/// the input of `len` bytes (or when it has ended).
fn kill_midway(mut cmd: Command, tmp: &Path, len: u64) {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    loop {
        let offset = fs::read(tmp.join("checkpoint.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["offset"].as_u64())
            .unwrap_or(0);
        if offset * 3 >= len
            || child.try_wait().unwrap().is_some()
            || start.elapsed().as_secs() > 60
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_conversion_and_an_append_killed_then_resumed_twice_end_as_one_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.csv.gz");
    let text = rows(0, 60_000);
    fs::write(&big, gzip(text.as_bytes())).unwrap();
    let len = text.len() as u64;
    let reference = dir.path().join("reference");
    ok(&convert(&[&big, &reference], &["-q"]).output().unwrap(), "reference");

    let out = dir.path().join("out");
    kill_midway(convert(&[&big, &out], &["-q"]), &dir.path().join(".out.larder-tmp"), len);
    // (A run that ended before the kill leaves nothing to resume from the start.)
    let finished = out.exists();
    for attempt in 0..3 {
        let o = convert(&[&big, &out], &["--resume"]).output().unwrap();
        let err = ok(&o, &format!("convert resume {attempt}"));
        assert_eq!(err.contains("already converted"), attempt > 0 || finished, "{err}");
    }
    let cols = |d: &Path| -> Vec<Vec<u8>> {
        ["k.npy", "v.npy", "x.npy"].iter().map(|f| fs::read(d.join(f)).unwrap()).collect()
    };
    assert_eq!(cols(&out), cols(&reference));

    // The same for an append of the big file onto a small dataset.
    let small = dir.path().join("small.csv");
    fs::write(&small, rows(0, 10)).unwrap();
    let (ds, ds_ref) = (dir.path().join("ds"), dir.path().join("ds_ref"));
    for d in [&ds, &ds_ref] {
        ok(&convert(&[&small, d], &["-q"]).output().unwrap(), "base");
    }
    ok(&convert(&[&big, &ds_ref], &["-q", "--append"]).output().unwrap(), "reference append");
    kill_midway(convert(&[&big, &ds], &["-q", "--append"]), &ds.join(".append.larder-tmp"), len);
    let finished = larder::dataset::Manifest::read(&ds).unwrap().rows > 10;
    for attempt in 0..3 {
        let o = convert(&[&big, &ds], &["--append", "--resume"]).output().unwrap();
        let err = ok(&o, &format!("append resume {attempt}"));
        assert_eq!(err.contains("already appended"), attempt > 0 || finished, "{attempt}: {err}");
    }
    assert_eq!(cols(&ds), cols(&ds_ref));
    let m = larder::dataset::Manifest::read(&ds).unwrap();
    assert_eq!((m.rows, m.appends.len()), (60_010, 1));
}
