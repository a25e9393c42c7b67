//! `larder cat DATASET` streams: `--json`, `--all` and a long `--slice` print millions of rows
//! with a peak resident set that does not grow with them; the footer of a `--slice` states the
//! rows it selected and the dataset's.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The most a `cat` of the dataset below may hold resident beyond what a `cat` of its first
/// row holds (the program's own floor, about 40 MiB for a debug build), in KiB.
const GROWTH_KIB: u64 = 32 << 10;

/// A dataset of `rows` rows written directly (a conversion of millions of rows would take the
/// test's time): an integer column with missing values, a float column, a categorical column
/// and a string column. Its files hold about 19 bytes a row.
fn dataset(dir: &Path, rows: usize) {
    let ids: Vec<i64> = (0..rows as i64).map(|i| i * 3).collect();
    let valid: Vec<bool> = (0..rows).map(|i| i % 10 != 3).collect();
    let score: Vec<f64> = (0..rows).map(|i| (i % 1000) as f64 / 8.0).collect();
    let codes: Vec<u8> = (0..rows).map(|i| (i % 3) as u8).collect();
    let mut bytes = Vec::new();
    let mut offsets = vec![0i64];
    for i in 0..rows {
        bytes.extend_from_slice(format!("s{}", i % 997).as_bytes());
        offsets.push(bytes.len() as i64);
    }
    fs::create_dir(dir).unwrap();
    npy(&dir.join("id.npy"), ids);
    npy(&dir.join("id.valid.npy"), valid);
    npy(&dir.join("score.npy"), score);
    npy(&dir.join("region.npy"), codes);
    npy(&dir.join("name.npy"), bytes);
    npy(&dir.join("name.offsets.npy"), offsets);
    let manifest = serde_json::json!({
        "columns": [
            {"name": "id", "file": "id.npy", "dtype": "<i8", "valid": "id.valid.npy"},
            {"name": "score", "file": "score.npy", "dtype": "<f8"},
            {"name": "region", "file": "region.npy", "dtype": "|u1",
             "categories": ["eu", "us", "ap"]},
            {"name": "name", "file": "name.npy", "dtype": "str", "offsets": "name.offsets.npy"},
        ],
        "rows": rows,
        "version": 1,
    });
    fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
}

fn npy<T: larder::Element>(path: &Path, v: Vec<T>) {
    let a = ndarray::Array::from_shape_vec(ndarray::IxDyn(&[v.len()]), v).unwrap();
    larder::write_npy(path, &a).unwrap();
}

/// Runs `larder cat` with `args`: its peak resident set (KiB, `VmHWM` read while it runs), the
/// bytes and lines it printed, and its output's last 200 bytes.
fn cat(args: &[&str]) -> (u64, u64, u64, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_larder"))
        .arg("cat")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut bytes, mut lines, mut tail) = (0u64, 0u64, Vec::new());
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = stdout.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            bytes += n as u64;
            lines += memchr_count(&buf[..n]);
            tail.extend_from_slice(&buf[..n]);
            let cut = tail.len().saturating_sub(200);
            tail.drain(..cut);
        }
        (bytes, lines, String::from_utf8_lossy(&tail).into_owned())
    });
    let mut peak = 0;
    let status = loop {
        // Until `exec`, the pid is a fork of this test process, whose resident set (the
        // dataset it just wrote among it) is not larder's: read only once it is larder.
        let hwm = fs::read_to_string(&status_file).ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Name:"))?
                .split_whitespace()
                .nth(1)
                .filter(|name| *name == "larder")?;
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        peak = peak.max(hwm.unwrap_or(0));
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "cat {args:?}: {err}");
    let (bytes, lines, tail) = reader.join().unwrap();
    (peak, bytes, lines, tail)
}

fn memchr_count(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

#[test]
fn cat_json_all_and_long_slices_of_millions_of_rows_stay_under_64_mib() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let rows = 1_000_000;
    dataset(&ds, rows);
    let d = ds.to_str().unwrap();
    let floor = cat(&[d, "--slice", ":1"]).0;
    let limit = floor + GROWTH_KIB;
    let (peak, bytes, lines, tail) = cat(&[d, "--json"]);
    assert!(peak < limit, "--json: peak {peak} KiB, floor {floor} KiB");
    assert_eq!(lines, 1);
    assert!(bytes > 100 * rows as u64 / 2, "{bytes}");
    let last = rows - 1;
    let region = ["eu", "us", "ap"][last % 3];
    let (id, name, score) = (last * 3, last % 997, (last % 1000) as f64 / 8.0);
    let want = format!(r#"{{"id":{id},"score":{score},"region":"{region}","name":"s{name}"}}]"#);
    assert!(tail.trim_end().ends_with(&want), "{tail} vs {want}");
    let (peak, _, lines, tail) = cat(&[d, "--all"]);
    assert!(peak < limit, "--all: peak {peak} KiB, floor {floor} KiB");
    assert_eq!(lines, rows as u64 + 3, "header, rows, blank line, footer");
    assert!(tail.ends_with(&format!("\n[{rows} rows x 4 columns]\n")), "{tail}");
    // A long slice walking backwards, every other row: the footer counts what it selected.
    let (peak, _, lines, tail) = cat(&[d, "--slice", "::-2"]);
    assert!(peak < limit, "--slice ::-2: peak {peak} KiB, floor {floor} KiB");
    let selected = rows / 2;
    assert_eq!(lines, selected as u64 + 3);
    assert!(tail.ends_with(&format!("\n[{selected} of {rows} rows x 4 columns]\n")), "{tail}");
    // The rows come in the order asked for: the last one printed is row 1.
    let width = (rows - 1).to_string().len();
    assert!(tail.contains(&format!("\n{:>width$}  ", 1)), "{tail}");
}

#[test]
fn the_footer_of_a_slice_states_the_selected_rows_and_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    dataset(&ds, 100);
    let d = ds.to_str().unwrap();
    for (slice, shown) in [
        ("5:17:3", "4 of 100"),
        ("-1", "1 of 100"),
        ("50:10", "0 of 100"),
        ("::-7", "15 of 100"),
        (":", "100 of 100"),
    ] {
        let (_, _, _, tail) = cat(&[d, "--slice", slice]);
        assert!(tail.ends_with(&format!("\n[{shown} rows x 4 columns]\n")), "{slice}: {tail}");
    }
    // Without a selection the footer is pandas' own: the dataset's rows.
    for extra in [&[][..], &["--all"]] {
        let mut args = vec![d];
        args.extend_from_slice(extra);
        let (_, _, _, tail) = cat(&args);
        assert!(tail.ends_with("\n[100 rows x 4 columns]\n"), "{extra:?}: {tail}");
    }
}
