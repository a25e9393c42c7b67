//! Errors as the documentation names them: the variant each refusal returns, a lock held by
//! this process or another, an I/O cause printed once along a chain, directories, HDF5
//! datasets named inside their file, and the edges where integer arithmetic used to overflow.

use std::error::Error as _;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use larder::dtype::{TimeUnit, format_datetime};
use larder::{ChunkGrid, Error, MmapArray, NpyWriter};

use crate::support::python;

/// The error and its sources joined by ": ", as anyhow's `{:#}` prints a chain.
fn chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn npy(dir: &Path, name: &str, shape: &[usize]) -> std::path::PathBuf {
    let path = dir.join(name);
    let a = MmapArray::<f32>::create(&path, shape).unwrap();
    a.flush().unwrap();
    drop(a);
    path
}

fn is_invalid_of(e: &Error, file: &Path, words: &str) -> bool {
    matches!(e, Error::Invalid { path, reason } if path == file && reason.contains(words))
}

#[test]
fn refusals_that_depend_on_the_array_are_invalid_and_name_it() {
    let dir = tempfile::tempdir().unwrap();
    for shape in [&[4usize, 3][..], &[10][..], &[2, 2, 2][..]] {
        let p = npy(dir.path(), &format!("a{}.npy", shape.len()), shape);
        let a = MmapArray::<f32>::open(&p).unwrap();
        let past: Vec<usize> = shape.to_vec();
        for index in [&past[..], &past[1..], &[0; 4][..]] {
            let e = a.get(index).unwrap_err();
            assert!(is_invalid_of(&e, &p, "out of bounds"), "{index:?}: {e:?}");
        }
        let e = a.view_as::<ndarray::Ix5>().unwrap_err();
        assert!(is_invalid_of(&e, &p, "dimensions"), "{e:?}");
        drop(a);
        // Copy-on-write operations of an array whose writes go to the file.
        for create in [false, true] {
            let w = if create {
                MmapArray::<f32>::create(&p, shape).unwrap()
            } else {
                MmapArray::<f32>::open_mut(&p).unwrap()
            };
            assert!(is_invalid_of(&w.cow().unwrap_err(), &p, "cannot clone"));
            assert!(is_invalid_of(&w.dirty_pages().unwrap_err(), &p, ""));
            let e = w.save_delta(dir.path().join("d")).unwrap_err();
            assert!(is_invalid_of(&e, &p, "cannot save a delta"), "{e:?}");
        }
        // Saving or materializing over the array's own file.
        let c = MmapArray::<f32>::open_cow(&p).unwrap();
        assert!(is_invalid_of(&c.save_delta(&p).unwrap_err(), &p, "which this array is made of"));
        assert!(is_invalid_of(&c.materialize(&p).unwrap_err(), &p, "which this array is made of"));
    }
    // NpyWriter: rows of another shape, a row left half-written.
    let p = dir.path().join("w.npy");
    let mut w = NpyWriter::<f32>::create(&p, &[3]).unwrap();
    let e = w.append_rows(&ndarray::Array2::<f32>::zeros((2, 4))).unwrap_err();
    assert!(is_invalid_of(&e, &p, "do not fit"), "{e:?}");
    w.append(&[1.0, 2.0]).unwrap();
    assert!(is_invalid_of(&w.finish().unwrap_err(), &p, "not a whole row"));
}

#[test]
fn a_lock_says_whether_this_process_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = npy(dir.path(), "a.npy", &[8]);
    let reader = MmapArray::<f32>::open(&p).unwrap();
    for e in [
        MmapArray::<f32>::open_mut(&p).unwrap_err(),
        MmapArray::<f32>::create(&p, &[8]).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Locked { ref path, this_process: true } if *path == p), "{e:?}");
        assert!(e.to_string().contains("locked by this process"), "{e}");
    }
    drop(reader);
    let writer = MmapArray::<f32>::open_mut(&p).unwrap();
    let e = MmapArray::<f32>::open(&p).unwrap_err();
    assert!(matches!(e, Error::Locked { this_process: true, .. }), "{e:?}");
    let e = NpyWriter::<f32>::create(&p, &[]).unwrap_err();
    assert!(matches!(e, Error::Locked { this_process: true, .. }), "{e:?}");
    drop(writer);
    // Another process holds an exclusive flock (as a larder writer there would).
    let mut holder = Command::new("flock")
        .arg("-x")
        .arg(&p)
        .args(["sleep", "30"])
        .spawn()
        .expect("flock(1) from util-linux");
    let e = loop {
        match MmapArray::<f32>::open(&p) {
            Err(e) => break e,
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(matches!(e, Error::Locked { this_process: false, .. }), "{e:?}");
    assert!(e.to_string().ends_with("locked by another process (opened for writing, or being read while this one wants to write)"), "{e}");
}

#[test]
fn an_io_error_prints_its_cause_once_along_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["nope.npy", "missing/inside.npy"] {
        let p = dir.path().join(name);
        let e = MmapArray::<f32>::open(&p).unwrap_err();
        assert!(
            matches!(e, Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        assert_eq!(chain(&e), format!("{}: No such file or directory (os error 2)", p.display()));
        assert_eq!(e.to_string(), chain(&e));
    }
}

#[test]
fn opening_a_directory_says_it_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("data.npy");
    std::fs::create_dir(&sub).unwrap();
    let errors = [
        MmapArray::<f32>::open(&sub).unwrap_err(),
        MmapArray::<f64>::open_mut(&sub).unwrap_err(),
        MmapArray::<u8>::open_cow(&sub).unwrap_err(),
        MmapArray::<f32>::create(&sub, &[3]).unwrap_err(),
        larder::read_header(&sub).unwrap_err(),
        larder::read_npy::<i32>(&sub).unwrap_err(),
        NpyWriter::<f32>::create(&sub, &[]).unwrap_err(),
    ];
    for e in errors {
        assert!(
            matches!(e, Error::Io { ref path, ref source } if *path == sub && source.kind() == std::io::ErrorKind::IsADirectory),
            "{e:?}"
        );
        assert!(e.to_string().to_lowercase().contains("is a directory"), "{e}");
    }
}

#[cfg(feature = "hdf5")]
#[test]
fn hdf5_errors_name_the_dataset_inside_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.h5");
    for inner in ["/obs/temp", "/x"] {
        larder::Hdf5Array::<f32>::create(&file, Some(inner), &[4], &[2], None).unwrap();
        let e = larder::Hdf5Array::<f64>::open_at(&file, Some(inner)).unwrap_err();
        let named = format!("{}:{inner}", file.display());
        assert!(
            matches!(e, Error::DTypeMismatch { ref path, .. } if path.to_str() == Some(&named)),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with(&format!("{named}: file holds <f4, expected <f8")),
            "{e}"
        );
        let Err(e) = larder::open_as::<i32>(&named) else { panic!("{named} opened as i32") };
        assert!(e.to_string().starts_with(&named), "{e}");
        let mut h = larder::Hdf5Array::<f32>::open_at(&file, Some(inner)).unwrap();
        let data = ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&[1]));
        let e = larder::ArrayWrite::write_region(&mut h, &[0], &data.view()).unwrap_err();
        assert!(
            matches!(e, Error::ReadOnly { ref path, .. } if path.to_str() == Some(&named)),
            "{e:?}"
        );
    }
}

#[test]
fn datetimes_of_every_i64_print_as_numpy_prints_them() {
    for (v, unit, want) in [
        (i64::MAX, TimeUnit::D, "25252734927768524-07-27"),
        (1 << 62, TimeUnit::D, "12626367463885247-04-15"),
        (-1_000_000, TimeUnit::D, "-768-02-04"),
        (-721_354, TimeUnit::D, "-005-01-01"),
        (-1, TimeUnit::D, "1969-12-31"),
        (i64::MAX, TimeUnit::S, "292277026596-12-04T15:30:07"),
        (i64::MAX, TimeUnit::M, "17536621479585-08-30T18:07"),
        (i64::MIN + 1, TimeUnit::H, "-1052197288654970-03-24T17"),
        (i64::MIN, TimeUnit::D, "NaT"),
    ] {
        assert_eq!(format_datetime(v, unit), want, "{v} {unit:?}");
    }
    // Every unit at both ends of i64 and around: no overflow, and what numpy prints.
    let Some(py) = python() else { return };
    let units = [
        TimeUnit::D,
        TimeUnit::H,
        TimeUnit::M,
        TimeUnit::S,
        TimeUnit::Ms,
        TimeUnit::Us,
        TimeUnit::Ns,
    ];
    let values = [
        i64::MAX,
        i64::MAX - 86_399,
        i64::MIN + 1,
        i64::MIN + 1_000_003,
        1 << 61,
        -(1 << 59) - 7,
        0,
    ];
    let mut script = String::from("import numpy as np\n");
    for u in units {
        for v in values {
            writeln!(script, "print(str(np.datetime64({v}, '{}')))", u.as_str()).unwrap();
        }
    }
    let o = Command::new(py).args(["-c", &script]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let mut lines = stdout.lines();
    for u in units {
        for v in values {
            let want = lines.next().unwrap();
            // numpy's own day arithmetic wraps for the most negative day counts (it prints
            // a positive year for i64::MIN + 1 days); larder gives the proleptic date.
            if u == TimeUnit::D && v < -(1 << 60) {
                continue;
            }
            assert_eq!(format_datetime(v, u), want, "{v} [{}]", u.as_str());
        }
    }
}

#[test]
fn a_block_outside_the_grid_is_an_error_not_a_region_outside_the_array() {
    let g = ChunkGrid::new(&[10], &[4]);
    assert_eq!(g.try_region(&[2]).unwrap().shape(), &[2]);
    for index in [&[3usize][..], &[5][..], &[usize::MAX][..], &[0, 0][..], &[][..]] {
        let e = g.try_region(index).unwrap_err();
        assert!(
            matches!(e, Error::Argument(ref m) if m.contains("outside the grid")),
            "{index:?}: {e}"
        );
    }
    let g = ChunkGrid::new(&[7, 9], &[3, 4]);
    assert_eq!(g.try_region(&[2, 2]).unwrap().shape(), &[1, 1]);
    assert!(g.try_region(&[3, 0]).is_err());
    assert!(g.try_region(&[0, 3]).is_err());
}

#[test]
#[should_panic(expected = "block [5] is outside the grid")]
fn region_of_a_block_outside_the_grid_panics_with_its_reason() {
    let _ = ChunkGrid::new(&[10], &[4]).region(&[5]);
}

/// The test build catches integer overflow (the `test` profile keeps `overflow-checks`), so an
/// overflow anywhere in the suite is a failure rather than a wrong answer.
#[test]
fn the_test_build_checks_integer_overflow() {
    let x: u8 = std::hint::black_box(255);
    let r = std::panic::catch_unwind(|| x + std::hint::black_box(1));
    assert!(r.is_err(), "overflow checks are off in this build");
}
