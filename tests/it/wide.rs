//! Files wider than the open-file limit allows: each column file is then opened only to write
//! out its buffer, so any width converts (and appends, and resumes) under a small limit, to
//! the same dataset as with every file open.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use larder::dataset::Manifest;

/// `larder ARGS` under a limit of `files` open files (soft and hard, set by `setrlimit` in
/// the child before it runs larder, so larder cannot raise it).
fn under_limit(files: u64, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(env!("CARGO_BIN_EXE_larder"));
    c.args(args);
    // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing but its copy of
    // `files`.
    unsafe {
        c.pre_exec(move || {
            let lim = libc::rlimit { rlim_cur: files, rlim_max: files };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.output().unwrap()
}

/// `larder ARGS` with the limit it starts with.
fn unlimited(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_larder")).args(args).output().unwrap()
}

/// A CSV of `columns` × `rows` starting at row `from`: ints, some missing; every third column
/// text (a few values: categorical); every fifth floats; every seventh free text.
fn wide_csv(path: &Path, columns: usize, rows: std::ops::Range<usize>) {
    let mut s: String = (0..columns).map(|c| format!("c{c}")).collect::<Vec<_>>().join(",");
    s.push('\n');
    for r in rows {
        for c in 0..columns {
            if c > 0 {
                s.push(',');
            }
            match (c % 3, c % 5, c % 7, (r + c) % 17) {
                (_, _, _, 0) => {}
                (_, _, 0, k) => write!(s, "id{r}x{k}").unwrap(),
                (2, _, _, k) => write!(s, "t{k}").unwrap(),
                (_, 0, _, k) => write!(s, "{k}.25").unwrap(),
                (_, _, _, k) => write!(s, "{k}").unwrap(),
            }
        }
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// Asserts that datasets `a` and `b` hold the same manifest columns and files, byte for byte.
fn same_dataset(a: &Path, b: &Path, what: &str) {
    let (ma, mb) = (Manifest::read(a).unwrap(), Manifest::read(b).unwrap());
    assert_eq!((ma.rows, ma.rejected), (mb.rows, mb.rejected), "{what}");
    assert_eq!(
        serde_json::to_string(&ma.columns).unwrap(),
        serde_json::to_string(&mb.columns).unwrap(),
        "{what}"
    );
    let mut names: Vec<_> = std::fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| Path::new(n).extension().is_some_and(|x| x == "npy"))
        .collect();
    names.sort();
    let in_b = std::fs::read_dir(b)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "npy"))
        .count();
    assert_eq!(names.len(), in_b, "{what}: number of .npy files");
    for n in &names {
        let (x, y) = (std::fs::read(a.join(n)).unwrap(), std::fs::read(b.join(n)).unwrap());
        assert!(x == y, "{what}: {n} differs");
    }
}

#[test]
fn a_file_far_wider_than_the_open_file_limit_converts_to_what_it_converts_to_with_files_open() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("wide.csv");
    // Columns × 3 files far past each limit; and 300 columns, whose 900 files would all stay
    // open under a higher limit. `--max-categories` turns the ID columns into string columns
    // on the way (their files are made then).
    for (columns, rows, limit) in [(600, 40, 64), (300, 2500, 48)] {
        wide_csv(&csv, columns, 0..rows);
        let (limited, open) = (dir.path().join("limited"), dir.path().join("open"));
        let _ = std::fs::remove_dir_all(&limited);
        let _ = std::fs::remove_dir_all(&open);
        let r = under_limit(
            limit,
            &[
                "convert",
                "-q",
                "--max-categories",
                "20",
                csv.to_str().unwrap(),
                limited.to_str().unwrap(),
            ],
        );
        assert!(r.status.success(), "{columns}: {}", String::from_utf8_lossy(&r.stderr));
        let r = unlimited(&[
            "convert",
            "-q",
            "--max-categories",
            "20",
            csv.to_str().unwrap(),
            open.to_str().unwrap(),
        ]);
        assert!(r.status.success(), "{columns}: {}", String::from_utf8_lossy(&r.stderr));
        let m = Manifest::read(&limited).unwrap();
        assert_eq!((m.rows, m.rejected, m.columns.len()), (rows as u64, 0, columns), "{columns}");
        assert!(m.columns.iter().any(|c| c.categories.is_some()), "{columns}: categoricals");
        assert!(m.columns.iter().any(|c| c.offsets.is_some()), "{columns}: strings");
        assert!(m.columns.iter().any(|c| c.valid.is_some()), "{columns}: validity files");
        same_dataset(&limited, &open, &format!("{columns} columns under {limit} files"));
        // Nothing left beside the dataset and the input.
        let mut left: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["limited", "open", "wide.csv"], "{columns}");
    }
}

#[test]
fn a_wide_append_under_a_small_open_file_limit_matches_one_with_files_open() {
    let dir = tempfile::tempdir().unwrap();
    let (first, more) = (dir.path().join("first.csv"), dir.path().join("more.csv"));
    for (columns, rows, limit) in [(400, 30, 40), (900, 5, 64)] {
        wide_csv(&first, columns, 0..rows);
        wide_csv(&more, columns, rows..2 * rows + 3);
        let (limited, open) = (dir.path().join("limited"), dir.path().join("open"));
        for (out, limit) in [(&limited, Some(limit)), (&open, None)] {
            let _ = std::fs::remove_dir_all(out);
            let run = |args: &[&str]| match limit {
                Some(l) => under_limit(l, args),
                None => unlimited(args),
            };
            let r = run(&["convert", "-q", first.to_str().unwrap(), out.to_str().unwrap()]);
            assert!(r.status.success(), "{columns}: {}", String::from_utf8_lossy(&r.stderr));
            let r =
                run(&["convert", "-q", "--append", more.to_str().unwrap(), out.to_str().unwrap()]);
            assert!(r.status.success(), "{columns}: {}", String::from_utf8_lossy(&r.stderr));
        }
        let m = Manifest::read(&limited).unwrap();
        assert_eq!((m.rows, m.columns.len()), (2 * rows as u64 + 3, columns), "{columns}");
        same_dataset(&limited, &open, &format!("append of {columns} columns under {limit}"));
    }
}
