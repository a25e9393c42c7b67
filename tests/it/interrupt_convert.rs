//! A conversion or an append stopped by SIGINT or SIGTERM stops between blocks as a failure
//! does: it says `interrupted by SIGINT`, ends by the signal, leaves no temporary file of a
//! write in progress, leaves the dataset as it was, and `--resume` (or a plain rerun, when it
//! was stopped before its first checkpoint) ends as one uninterrupted run.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::larder;

fn rows(from: usize, to: usize) -> String {
    let mut s = String::from("k,v,x\n");
    for i in from..to {
        writeln!(s, "key{},{i},{}.5", i % 37, i % 1000).unwrap();
    }
    s
}

fn convert(args: &[&Path], extra: &[&str]) -> Command {
    let mut c = larder();
    c.args(["convert", "--block-size", "2048", "--checkpoint-interval", "0"])
        .args(extra)
        .args(args);
    c
}

fn ok(o: &Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", String::from_utf8_lossy(&o.stderr));
}

/// Names under `dir` (recursively) of files a write in progress leaves: `.larder-tmp-PID`
/// temporaries.
fn write_temporaries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().contains(".larder-tmp-") {
            out.push(p.display().to_string());
        }
        if p.is_dir() {
            out.extend(write_temporaries(&p));
        }
    }
    out
}

/// Starts `cmd`, sends `signal` (`-INT`, `-TERM`) once the checkpoint in `tmp` shows `share`
/// of the `len` input bytes done, and returns the stderr when it died of that signal, `None`
/// when it had finished first.
fn signal_at(mut cmd: Command, signal: &str, tmp: &Path, len: u64, share: f64) -> Option<String> {
    let err = tmp.with_extension("stderr");
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let offset = fs::read(tmp.join("checkpoint.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["offset"].as_u64())
            .unwrap_or(0);
        if offset as f64 >= share * len as f64 || child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(start.elapsed() < Duration::from_mins(2), "no progress");
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = Command::new("kill").args([signal, &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    let stderr = fs::read_to_string(&err).unwrap();
    fs::remove_file(err).unwrap();
    if status.success() {
        return None;
    }
    let number = if signal == "-INT" { 2 } else { 15 };
    assert_eq!(status.signal(), Some(number), "{signal}: {status:?}: {stderr}");
    Some(stderr)
}

fn columns(d: &Path) -> Vec<Vec<u8>> {
    ["k.npy", "v.npy", "x.npy"].iter().map(|f| fs::read(d.join(f)).unwrap()).collect()
}

#[test]
fn a_conversion_stopped_by_sigint_or_sigterm_says_so_leaves_no_temporary_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.csv");
    let text = rows(0, 120_000);
    fs::write(&big, &text).unwrap();
    let len = text.len() as u64;
    let reference = dir.path().join("reference");
    ok(&convert(&[&big, &reference], &["-q"]).output().unwrap(), "reference");
    for (signal, share, name) in [("-INT", 0.3, "SIGINT"), ("-TERM", 0.6, "SIGTERM")] {
        let out = dir.path().join(format!("out{name}"));
        let tmp = dir.path().join(format!(".out{name}.larder-tmp"));
        let Some(stderr) = signal_at(convert(&[&big, &out], &["-q"]), signal, &tmp, len, share)
        else {
            eprintln!("{name}: the conversion ended before the signal");
            continue;
        };
        assert!(stderr.contains(&format!("interrupted by {name}")), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: a stopped conversion made {}", out.display());
        assert_eq!(write_temporaries(dir.path()), Vec::<String>::new(), "{name}");
        assert!(tmp.join("checkpoint.json").exists(), "{name}: nothing left to resume");
        ok(&convert(&[&big, &out], &["-q", "--resume"]).output().unwrap(), "resume");
        assert_eq!(columns(&out), columns(&reference), "{name}");
        assert!(!tmp.exists());
    }
}

#[test]
fn an_append_stopped_by_sigterm_or_sigint_leaves_the_dataset_as_it_was_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.csv");
    fs::write(&small, rows(0, 10)).unwrap();
    // A gzip input this time: read through the decompressing reader.
    let big = dir.path().join("more.csv.gz");
    let text = rows(0, 120_000);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    fs::write(&big, e.finish().unwrap()).unwrap();
    let len = text.len() as u64;
    let reference = dir.path().join("reference");
    ok(&convert(&[&small, &reference], &["-q"]).output().unwrap(), "base");
    ok(&convert(&[&big, &reference], &["-q", "--append"]).output().unwrap(), "reference append");
    for (signal, share, name) in [("-TERM", 0.25, "SIGTERM"), ("-INT", 0.7, "SIGINT")] {
        let ds = dir.path().join(format!("ds{name}"));
        ok(&convert(&[&small, &ds], &["-q"]).output().unwrap(), "base");
        let before: Vec<_> = fs::read_dir(&ds)
            .unwrap()
            // Files only: the zone maps in zones/ are checked by tests/it/zones.rs.
            .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_file()))
            .map(|e| {
                let p = e.unwrap().path();
                (p.clone(), fs::read(&p).unwrap())
            })
            .collect();
        let tmp = ds.join(".append.larder-tmp");
        let cmd = convert(&[&big, &ds], &["-q", "--append"]);
        let Some(stderr) = signal_at(cmd, signal, &tmp, len, share) else {
            eprintln!("{name}: the append ended before the signal");
            continue;
        };
        assert!(stderr.contains(&format!("interrupted by {name}")), "{name}: {stderr}");
        for (p, bytes) in &before {
            assert!(fs::read(p).unwrap() == *bytes, "{name}: {} changed", p.display());
        }
        assert_eq!(write_temporaries(dir.path()), Vec::<String>::new(), "{name}");
        let o = convert(&[&big, &ds], &["-q", "--append", "--resume"]).output().unwrap();
        ok(&o, "append resume");
        assert_eq!(columns(&ds), columns(&reference), "{name}");
    }
}
