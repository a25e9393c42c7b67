//! Files wider than the open-file limit allows: refused before anything is written, with an
//! error naming the limit and the fix; a selection of columns that fits converts.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use larder::dataset::Manifest;

/// `larder ARGS` under a limit of `files` open files (soft and hard).
fn under_limit(files: u32, args: &[&str]) -> Output {
    let script = format!("ulimit -n {files} && exec \"$0\" \"$@\"");
    let bin = env!("CARGO_BIN_EXE_larder");
    Command::new("sh").arg("-c").arg(script).arg(bin).args(args).output().unwrap()
}

/// A CSV of `columns` × `rows`: ints, some missing; every third column text.
fn wide_csv(path: &Path, columns: usize, rows: usize) {
    let mut s: String = (0..columns).map(|c| format!("c{c}")).collect::<Vec<_>>().join(",");
    s.push('\n');
    for r in 0..rows {
        for c in 0..columns {
            if c > 0 {
                s.push(',');
            }
            match (c % 3, (r + c) % 17) {
                (_, 0) => {}
                (2, k) => write!(s, "t{k}").unwrap(),
                (_, k) => write!(s, "{k}").unwrap(),
            }
        }
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn a_file_wider_than_the_open_file_limit_is_refused_up_front_naming_the_limit_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("wide.csv");
    for (columns, limit, want, fit) in [(1000, 256, 3064, 64), (300, 200, 964, 45)] {
        wide_csv(&csv, columns, 3000);
        let out = dir.path().join("out");
        let r =
            under_limit(limit, &["convert", "-q", csv.to_str().unwrap(), out.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{columns}: {err}");
        for part in [
            format!("wide.csv: {columns} columns to convert"),
            format!("need up to {want} open at once"),
            format!("may open only {limit} files"),
            format!("raise that limit to {want} or more"),
            format!("convert at most {fit} columns at a time"),
        ] {
            assert!(err.contains(&part), "{columns}: {part:?} not in {err}");
        }
        // Nothing written: neither the dataset nor its working directory.
        let left: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["wide.csv"], "{columns}");
    }
}

#[test]
fn as_many_columns_as_the_limit_allows_convert_and_so_does_a_selection_of_a_wide_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("wide.csv");
    wide_csv(&csv, 1000, 2000);
    // The error's fix: at most 64 columns at a time under 256 open files.
    let names: Vec<String> = (0..64).map(|c| format!("c{}", c * 15)).collect();
    let out = dir.path().join("part");
    let r = under_limit(
        256,
        &[
            "convert",
            "-q",
            csv.to_str().unwrap(),
            out.to_str().unwrap(),
            "--columns",
            &names.join(","),
        ],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let m = Manifest::read(&out).unwrap();
    assert_eq!((m.rows, m.rejected, m.columns.len()), (2000, 0, 64));
    assert_eq!(m.columns[63].name, "c945");
    // One column more than fits is refused.
    let names: Vec<String> = (0..65).map(|c| format!("c{c}")).collect();
    let r = under_limit(
        256,
        &[
            "convert",
            "-q",
            csv.to_str().unwrap(),
            dir.path().join("more").to_str().unwrap(),
            "--columns",
            &names.join(","),
        ],
    );
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("65 columns to convert") && err.contains("may open only 256 files"),
        "{err}"
    );
}
