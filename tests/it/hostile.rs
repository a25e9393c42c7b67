//! Hostile input and broken recovery: what must never lose data, leave temporaries behind, give
//! a wrong answer or a vague error.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use larder::convert::{ColumnType, ConvertOptions, Step};
use larder::{
    ArrayRead, CopyOptions, Error, MmapArray, ZarrArray, ZarrOptions, read_npy, write_npy,
};
use ndarray::{ArrayD, IxDyn};

use crate::support::FailAt;
use crate::support::larder;

fn run(args: &[&str]) -> Output {
    larder().args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts the run failed with exit status 1 and a one-line message holding each of `words`.
fn assert_fails(o: &Output, words: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    for w in words {
        assert!(err.contains(w), "{w:?} not in {err:?}");
    }
    err
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

fn small_npy(dir: &Path) -> PathBuf {
    let p = dir.join("a.npy");
    write_npy(&p, &ndarray::Array1::from_iter(0..100i32)).unwrap();
    p
}

// ---------------------------------------------------------------------------------------------
// Zarr: a new array never replaces or hides what a store holds.

#[test]
fn zarr_create_below_an_existing_array_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = small_npy(dir.path());
    let store = dir.path().join("s.zarr");
    larder::copy_with(&a, &store, &CopyOptions::new()).unwrap();
    let before = tree(&store);
    let e = larder::copy_with(&a, format!("{}:/x", store.display()), &CopyOptions::new());
    assert!(matches!(e, Err(Error::Invalid { .. })), "{e:?}");
    assert_eq!(tree(&store), before, "the root array is untouched");
    assert_eq!(ZarrArray::<i32>::open(&store).unwrap().shape(), &[100]);

    let t = dir.path().join("t.zarr");
    let o = ZarrOptions::new();
    drop(ZarrArray::<i32>::create(&t, Some("/g/arr"), &[4], &o).unwrap());
    let before = tree(&t);
    let e = ZarrArray::<i32>::create(&t, Some("/g/arr/sub"), &[4], &o);
    assert!(matches!(e, Err(Error::Invalid { .. })), "{e:?}");
    assert_eq!(tree(&t), before);

    // The CLI says which node is in the way.
    let o = run(&["copy", s(&a), &format!("{}:/g/arr/sub", t.display())]);
    assert_fails(&o, &["t.zarr", "/g/arr is an array"]);
    assert_eq!(tree(&t), before);
}

#[test]
fn zarr_create_in_a_v2_store_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = small_npy(dir.path());
    let v2 = dir.path().join("old.zarr");
    fs::create_dir(&v2).unwrap();
    fs::write(v2.join(".zgroup"), br#"{"zarr_format": 2}"#).unwrap();
    let e = ZarrArray::<i32>::create(&v2, Some("/x"), &[4], &ZarrOptions::new());
    assert!(matches!(e, Err(Error::Invalid { .. })), "{e:?}");
    assert_eq!(names_in(&v2), [".zgroup"]);
    let o = run(&["copy", s(&a), &format!("{}:/x", v2.display())]);
    assert_fails(&o, &["old.zarr", "Zarr v2"]);
    assert_eq!(names_in(&v2), [".zgroup"]);
}

#[test]
fn zarr_writes_never_follow_a_symlink_inside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let store = dir.path().join("s.zarr");
    drop(ZarrArray::<i32>::create(&store, Some("/g/keep"), &[4], &ZarrOptions::new()).unwrap());
    std::os::unix::fs::symlink(&outside, store.join("g/link")).unwrap();
    let e = ZarrArray::<i32>::create(&store, Some("/g/link/arr"), &[4], &ZarrOptions::new());
    assert!(matches!(e, Err(Error::Invalid { ref reason, .. }) if reason.contains("symbolic")));
    assert!(names_in(&outside).is_empty(), "nothing written through the link");

    // A link inside an existing array's directory: opening it for writing is refused.
    std::os::unix::fs::symlink(&outside, store.join("g/keep/c")).unwrap();
    let e = ZarrArray::<i32>::open_mut(&store, Some("/g/keep"));
    assert!(matches!(e, Err(Error::Invalid { ref reason, .. }) if reason.contains("symbolic")));
    assert!(names_in(&outside).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Copies: shapes kept, no temporaries left.

#[test]
fn copy_keeps_the_shape_of_empty_arrays() {
    let dir = tempfile::tempdir().unwrap();
    for shape in [&[2usize, 0, 3][..], &[5, 0], &[0], &[0, 4]] {
        let src = dir.path().join("empty.npy");
        // Big-endian int64, as numpy writes `>i8`.
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let dict = format!(
            "{{'descr': '>i8', 'fortran_order': False, 'shape': ({}), }}",
            shape.iter().map(|n| n.to_string() + ",").collect::<String>()
        );
        let mut text = dict.into_bytes();
        text.resize(128 - 10 - 1, b' ');
        text.push(b'\n');
        bytes.extend_from_slice(&u16::try_from(text.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(&text);
        fs::write(&src, &bytes).unwrap();
        let dst = dir.path().join("copy.npy");
        larder::copy(&src, &dst).unwrap();
        assert_eq!(read_npy::<i64>(&dst).unwrap().shape(), shape, "npy to npy");
        // Through the store path (a chunked destination and back).
        let z = dir.path().join(format!("e{}.zarr", shape.len() * 10 + shape[0]));
        larder::copy_with(&src, &z, &CopyOptions::new()).unwrap();
        assert_eq!(ZarrArray::<i64>::open(&z).unwrap().shape(), shape);
        let back = dir.path().join("back.npy");
        larder::copy_with(&z, &back, &CopyOptions::new()).unwrap();
        assert_eq!(read_npy::<i64>(&back).unwrap().shape(), shape, "zarr to npy");
        let mut opts = CopyOptions::new();
        opts.chunks(&vec![1; shape.len()]);
        let e = larder::copy_with(&src, dir.path().join("x.npy"), &opts);
        assert!(matches!(e, Err(Error::Invalid { .. })), "npy has no chunks");
    }
}

/// Files whose names say they are larder temporaries.
fn temporaries(dir: &Path) -> Vec<String> {
    names_in(dir).into_iter().filter(|n| n.contains("larder-tmp")).collect()
}

#[test]
fn failed_copy_onto_a_directory_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let a = small_npy(dir.path());
    let target = dir.path().join("target.npy");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("mine"), b"keep").unwrap();
    let e = larder::copy(&a, &target);
    assert!(matches!(e, Err(Error::Io { .. })), "{e:?}");
    assert!(temporaries(dir.path()).is_empty(), "{:?}", temporaries(dir.path()));
    for dst in ["target.npy", "target.h5"] {
        let d = dir.path().join(dst);
        if Path::new(dst).extension().is_some_and(|x| x == "h5") {
            fs::create_dir(&d).unwrap();
        }
        let o = run(&["copy", s(&a), s(&d)]);
        assert_fails(&o, &[dst]);
        assert!(temporaries(dir.path()).is_empty(), "{dst}: {:?}", temporaries(dir.path()));
    }
    assert_eq!(fs::read(target.join("mine")).unwrap(), b"keep");
    // A rerun fails the same way, and still leaves nothing.
    assert!(larder::copy(&a, &target).is_err());
    assert!(temporaries(dir.path()).is_empty());
}

#[test]
fn copy_onto_a_dangling_symlink_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let a = small_npy(dir.path());
    for name in ["link.npy", "link.zarr", "link.h5"] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(dir.path().join("missing/x"), &link).unwrap();
        let o = run(&["copy", s(&a), s(&link)]);
        if !o.status.success() {
            assert_fails(&o, &[name]);
        }
        assert!(temporaries(dir.path()).is_empty(), "{name}: {:?}", temporaries(dir.path()));
    }
}

#[test]
fn copy_with_an_out_of_range_codec_level_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let a = small_npy(dir.path());
    let z = dir.path().join("z.zarr");
    let o = run(&["copy", s(&a), s(&z), "--codec", "zstd:99"]);
    assert_eq!(o.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&o.stderr).contains("zstd:99"));
    assert!(!z.exists());
    let o = run(&["copy", s(&a), s(&z), "--codec", "zstd:-3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[cfg(feature = "hdf5")]
#[test]
fn copy_into_an_h5_that_has_the_dataset_says_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let a = small_npy(dir.path());
    let h = dir.path().join("f.h5");
    larder::copy_with(&a, &h, &CopyOptions::new()).unwrap();
    let e = larder::copy_with(&a, &h, &CopyOptions::new());
    assert!(
        matches!(e, Err(Error::Invalid { ref reason, .. }) if reason.contains("/data")),
        "{e:?}"
    );
    let o = run(&["copy", s(&a), s(&h)]);
    let err = assert_fails(&o, &["f.h5", "/data already exists"]);
    assert!(!err.contains("unknown library error"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Reading: special files, selections, per-axis statistics on every store.

#[test]
fn info_on_a_fifo_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.npy");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let e = larder::info(&fifo);
    assert!(matches!(e, Err(Error::Invalid { ref reason, .. }) if reason.contains("FIFO")));
    let e = MmapArray::<f64>::open(&fifo);
    assert!(matches!(e, Err(Error::Invalid { .. })));
    let mut child = larder().args(["info", s(&fifo)]).stderr(std::process::Stdio::piped()).spawn();
    let child = child.as_mut().unwrap();
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = child.try_wait().unwrap() else {
        child.kill().unwrap();
        panic!("larder info on a FIFO hangs");
    };
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("pipe.npy") && err.contains("FIFO"), "{err}");
}

#[test]
fn cat_selection_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = small_npy(dir.path());
    let o = run(&["cat", s(&a), "--slice", "500"]);
    assert_fails(&o, &["a.npy", "out of bounds"]);
    let e = larder::ops::cat::cat(
        &a,
        &"500".parse().unwrap(),
        larder::ops::cat::TextFormat::Json,
        &mut Vec::new(),
    );
    assert!(matches!(e, Err(Error::Invalid { ref path, .. }) if path == &a), "{e:?}");
    // numpy accepts a trailing comma: `a[5,]` is `a[5]`.
    let o = run(&["cat", s(&a), "--slice", "5,"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "5");
}

#[test]
fn stats_axis_works_on_zarr_as_on_npy() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("m.npy");
    let data = ArrayD::from_shape_fn(IxDyn(&[7, 5, 3]), |i| (i[0] * 15 + i[1] * 3 + i[2]) as f64);
    write_npy(&a, &data).unwrap();
    let z = dir.path().join("m.zarr");
    let mut opts = CopyOptions::new();
    opts.chunks(&[2, 2, 3]);
    larder::copy_with(&a, &z, &opts).unwrap();
    for axis in 0..3 {
        let want = larder::compute::summary_axis_any(&a, axis).unwrap();
        let got = larder::compute::summary_axis_any(&z, axis).unwrap();
        assert_eq!(got.shape, want.shape, "axis {axis}");
        let (w, g) = (serde_json::to_value(&want).unwrap(), serde_json::to_value(&got).unwrap());
        for key in ["count", "sum", "min", "max", "nan_count", "mean"] {
            assert_eq!(g[key], w[key], "axis {axis}: {key}");
        }
    }
    let o = run(&["stats", s(&z), "--axis", "1", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e = larder::compute::summary_axis_any(&z, 3);
    assert!(matches!(e, Err(Error::Invalid { .. })));
}

#[test]
fn usage_errors_exit_2_and_other_errors_exit_1() {
    let o = run(&["info"]);
    assert_eq!(o.status.code(), Some(2), "missing argument");
    let o = run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2), "unknown command");
    let o = run(&["info", "/nonexistent/x.npy"]);
    assert_fails(&o, &["/nonexistent/x.npy"]);
}

// ---------------------------------------------------------------------------------------------
// Convert: the temporary directory, resumes.

fn csv(dir: &Path, rows: usize) -> PathBuf {
    let mut text = String::from("id,name,score\n");
    for i in 0..rows {
        let row = format!("{i},n{},{}.5\n", i % 13, i % 101);
        text.push_str(&row);
    }
    let p = dir.join("in.csv");
    fs::write(&p, text).unwrap();
    p
}

fn convert_opts() -> ConvertOptions {
    let mut o = ConvertOptions::new();
    o.block_size(512)
        .checkpoint_interval(Duration::ZERO)
        .column_type("id", ColumnType::U32)
        .column_type("name", ColumnType::Cat)
        .column_type("score", ColumnType::F64);
    o
}

fn tmp_of(out: &Path) -> PathBuf {
    out.with_file_name(format!(".{}.larder-tmp", out.file_name().unwrap().to_string_lossy()))
}

#[test]
fn convert_never_deletes_a_temporary_directory_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv(dir.path(), 50);
    let out = dir.path().join("out");
    let tmp = tmp_of(&out);
    fs::create_dir(&tmp).unwrap();
    fs::write(tmp.join("thesis.tex"), b"years of work").unwrap();
    let e = convert_opts().convert(&input, &out, &mut |_| {});
    assert!(matches!(e, Err(Error::Invalid { ref path, .. }) if path == &tmp), "{e:?}");
    assert_eq!(fs::read(tmp.join("thesis.tex")).unwrap(), b"years of work");
    assert_eq!(names_in(&tmp), ["thesis.tex"], "nothing written into it either");
    let o = run(&["convert", s(&input), s(&out), "-q"]);
    assert_fails(&o, &[".out.larder-tmp", "which a conversion does not write"]);
    assert_eq!(names_in(&tmp), ["thesis.tex"]);
    // Even when it also holds files a conversion writes.
    fs::write(tmp.join("lock"), b"").unwrap();
    fs::write(tmp.join("larder-convert"), b"").unwrap();
    let e = convert_opts().convert(&input, &out, &mut |_| {});
    assert!(matches!(e, Err(Error::Invalid { ref reason, .. }) if reason.contains("thesis.tex")));
    assert!(tmp.join("thesis.tex").exists());
}

#[test]
fn convert_refuses_a_symlinked_temporary_directory() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv(dir.path(), 50);
    let out = dir.path().join("out");
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, tmp_of(&out)).unwrap();
    let e = convert_opts().convert(&input, &out, &mut |_| {});
    assert!(matches!(e, Err(Error::Invalid { ref reason, .. }) if reason.contains("symbolic")));
    assert!(names_in(&elsewhere).is_empty(), "nothing written through the link");
    let o = run(&["convert", s(&input), s(&out), "-q"]);
    assert_fails(&o, &[".out.larder-tmp", "symbolic link"]);
    assert!(names_in(&elsewhere).is_empty());
}

#[test]
fn convert_still_restarts_after_a_kill_before_its_first_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv(dir.path(), 300);
    let reference = dir.path().join("reference");
    convert_opts().convert(&input, &reference, &mut |_| {}).unwrap();
    let out = dir.path().join("out");
    let e =
        convert_opts().faults(FailAt::new(Step::Checkpoint, 1)).convert(&input, &out, &mut |_| {});
    assert!(matches!(e, Err(Error::Io { .. })));
    assert!(tmp_of(&out).exists(), "kept, as a crash would leave it");
    convert_opts().convert(&input, &out, &mut |_| {}).unwrap();
    assert_eq!(tree(&out), tree(&reference));
    assert!(!tmp_of(&out).exists());
}

#[test]
fn resume_after_a_failure_anywhere_in_the_first_checkpoint_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv(dir.path(), 300);
    let reference = dir.path().join("reference");
    convert_opts().convert(&input, &reference, &mut |_| {}).unwrap();
    // The first checkpoint syncs rejects.csv, the three columns and the dictionary, then
    // writes checkpoint.json.
    let mut cases: Vec<(Step, u64)> = (1..=5).map(|n| (Step::Sync, n)).collect();
    cases.push((Step::Checkpoint, 1));
    for (step, n) in cases {
        let out = dir.path().join(format!("out-{step:?}-{n}"));
        let e = convert_opts().faults(FailAt::new(step, n)).convert(&input, &out, &mut |_| {});
        assert!(matches!(e, Err(Error::Io { .. })), "{step:?} {n}: {e:?}");
        let r = convert_opts().resume(true).convert(&input, &out, &mut |_| {});
        assert!(r.is_ok(), "{step:?} {n}: {r:?}");
        assert_eq!(tree(&out), tree(&reference), "{step:?} {n}");
    }
}

#[test]
fn resume_recreates_column_files_that_have_no_header_yet() {
    // What a crash left when the first checkpoint reached the disk before the column files'
    // headers did: a checkpoint of zero rows, and empty files.
    let dir = tempfile::tempdir().unwrap();
    let input = csv(dir.path(), 300);
    let reference = dir.path().join("reference");
    convert_opts().convert(&input, &reference, &mut |_| {}).unwrap();
    let out = dir.path().join("out");
    let e =
        convert_opts().faults(FailAt::new(Step::Checkpoint, 2)).convert(&input, &out, &mut |_| {});
    assert!(matches!(e, Err(Error::Io { .. })));
    let tmp = tmp_of(&out);
    for name in names_in(&tmp) {
        if Path::new(&name).extension().is_some_and(|x| x == "part") || name == "rejects.csv" {
            fs::File::create(tmp.join(&name)).unwrap();
        }
    }
    let o = run(&[
        "convert",
        s(&input),
        s(&out),
        "-q",
        "--resume",
        "--block-size",
        "512",
        "--checkpoint-interval",
        "0",
        "--type",
        "id=u32",
        "--type",
        "name=cat",
        "--type",
        "score=f64",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(tree(&out), tree(&reference));
}

#[test]
fn resume_accepts_another_spelling_of_the_input_path() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv(dir.path(), 300);
    let out = dir.path().join("out");
    let e =
        convert_opts().faults(FailAt::new(Step::Checkpoint, 3)).convert(&input, &out, &mut |_| {});
    assert!(matches!(e, Err(Error::Io { .. })));
    let other = dir.path().join(".").join("in.csv");
    let r = convert_opts().resume(true).convert(&other, &out, &mut |_| {}).unwrap();
    assert!(r.resumed);
}

#[test]
fn a_second_convert_into_the_same_output_says_another_is_running() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv(dir.path(), 300);
    let out = dir.path().join("out");
    let e =
        convert_opts().faults(FailAt::new(Step::Checkpoint, 3)).convert(&input, &out, &mut |_| {});
    assert!(matches!(e, Err(Error::Io { .. })));
    // Hold the lock as a running conversion does.
    let lock = fs::OpenOptions::new().write(true).open(tmp_of(&out).join("lock")).unwrap();
    lock.try_lock().unwrap();
    let e = convert_opts().convert(&input, &out, &mut |_| {});
    assert!(
        matches!(e, Err(Error::Io { ref source, .. }) if source.kind() == io::ErrorKind::WouldBlock),
        "{e:?}"
    );
    let o = run(&["convert", s(&input), s(&out), "-q", "--resume"]);
    let err = assert_fails(&o, &[".out.larder-tmp", "another conversion"]);
    assert!(!err.contains("interrupted"), "{err}");
    drop(lock);
}

#[test]
fn convert_into_a_dot_path_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv(dir.path(), 20);
    let out = dir.path().join("sub/.");
    let e = convert_opts().convert(&input, &out, &mut |_| {});
    assert!(matches!(e, Err(Error::Invalid { .. })), "{e:?}");
    assert_eq!(names_in(dir.path()), ["in.csv"]);
}

#[test]
fn convert_accepts_numpy_typestrs_in_schema_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = csv(dir.path(), 20);
    let schema = dir.path().join("schema.json");
    fs::write(&schema, br#"{"id": "<i4", "name": "cat", "score": "<f4"}"#).unwrap();
    let out = dir.path().join("out");
    let r = ConvertOptions::new().schema_file(&schema).convert(&input, &out, &mut |_| {}).unwrap();
    let types: Vec<String> = r.manifest.columns.iter().map(|c| c.dtype.clone()).collect();
    assert_eq!(types[0], "<i4");
    assert_eq!(types[2], "<f4");
}

// ---------------------------------------------------------------------------------------------
// Delta files from the command line.

/// A 1-d `u32` base of three pages of `0..n`, a delta setting element 100 to 7, and a second
/// delta over it setting element 0 to 1.
fn base_and_two_deltas(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let n = 3 * larder::page_size() / 4;
    let base = dir.join("base.npy");
    write_npy(&base, &ndarray::Array1::from_iter(0..n as u32)).unwrap();
    let mut c = MmapArray::<u32>::open_cow(&base).unwrap();
    c.view_mut().unwrap()[[100]] = 7;
    let d1 = dir.join("one.delta");
    c.save_delta(&d1).unwrap();
    drop(c);
    let mut c = MmapArray::<u32>::open_with_delta(&base, &d1).unwrap();
    c.view_mut().unwrap()[[0]] = 1;
    let d2 = dir.join("two.delta");
    c.save_delta(&d2).unwrap();
    (base, d1, d2)
}

#[test]
fn info_cat_stats_and_copy_read_through_deltas() {
    let dir = tempfile::tempdir().unwrap();
    let (base, d1, d2) = base_and_two_deltas(dir.path());
    let with = ["--delta", s(&d1), "--delta", s(&d2)];
    let out = |o: Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let cat = out(larder()
        .args(["cat", s(&base), "--slice", "0:2", "--json"])
        .args(with)
        .output()
        .unwrap());
    assert_eq!(cat.trim(), "[1,1]");
    let cat = out(larder().args(["cat", s(&base), "--slice", "100,"]).args(with).output().unwrap());
    assert_eq!(cat.trim(), "7");
    let plain = out(run(&["cat", s(&base), "--slice", "0:2", "--json"]));
    assert_eq!(plain.trim(), "[0,1]", "the base is unchanged");

    let n = 3 * larder::page_size() as u64 / 4;
    let want_sum = n * (n - 1) / 2 - 100 + 7 + 1;
    let stats = out(larder().args(["stats", s(&base), "--json"]).args(with).output().unwrap());
    let v: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(v["sum"], want_sum, "{v}");
    let axis = out(larder()
        .args(["stats", s(&base), "--axis", "0", "--json"])
        .args(with)
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_str(&axis).unwrap();
    assert_eq!(v["sum"], want_sum, "{v}");

    let info = out(larder().args(["info", s(&base), "--json"]).args(with).output().unwrap());
    let v: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(v["deltas"].as_array().unwrap().len(), 2, "{v}");

    let copy = dir.path().join("copy.npy");
    let o = larder().args(["copy", s(&base), s(&copy)]).args(with).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c = read_npy::<u32>(&copy).unwrap();
    assert_eq!((c[[0]], c[[1]], c[[100]]), (1, 1, 7));

    // Out of order: refused, naming the delta.
    let o = larder().args(["cat", s(&base), "--delta", s(&d2)]).output().unwrap();
    assert_fails(&o, &["two.delta"]);
}

#[test]
fn info_on_a_delta_file_describes_its_base_depth_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _, d2) = base_and_two_deltas(dir.path());
    let d = larder::npy::cow::describe_delta(&d2).unwrap();
    assert_eq!((d.depth, d.pages), (2, 1));
    assert!(d.base.ends_with("one.delta"), "{d:?}");
    let o = run(&["info", s(&d2), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "delta");
    assert_eq!(v["delta"]["depth"], 2);
    assert_eq!(v["delta"]["pages"], 1);
    let text = String::from_utf8(run(&["info", s(&d2)]).stdout).unwrap();
    assert!(text.contains("depth:     2") && text.contains("one.delta"), "{text}");
    let e = larder::npy::cow::describe_delta(&base);
    assert!(matches!(e, Err(Error::Format { .. })), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// A mapped file cut short by another program (docs/safety.md, "Truncation while mapped").

/// A 12 MiB `f64` array (three 4 MiB chunks) of `0..n`, opened read-only, then cut by another
/// writer (`set_len`, as `truncate(1)` would) to `keep` data bytes.
fn mapped_then_cut(dir: &Path, keep: u64) -> (PathBuf, MmapArray<f64>) {
    let p = dir.join("cut.npy");
    let n = 3 * (larder::npy::CHUNK_BYTES / 8);
    write_npy(&p, &ArrayD::from_shape_fn(IxDyn(&[n]), |i| i[0] as f64)).unwrap();
    let a = MmapArray::<f64>::open(&p).unwrap();
    let offset = fs::metadata(&p).unwrap().len() - 8 * n as u64;
    // The lock is advisory: a program that ignores it can cut the file.
    fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(offset + keep).unwrap();
    (p, a)
}

fn assert_cut_error(e: &Error, path: &Path) {
    let text = e.to_string();
    assert!(matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::UnexpectedEof));
    assert!(text.contains(&*path.to_string_lossy()) && text.contains("was cut to"), "{text}");
}

#[test]
fn reductions_over_a_mapping_whose_file_was_cut_get_an_error_not_sigbus() {
    let dir = tempfile::tempdir().unwrap();
    let (path, a) = mapped_then_cut(dir.path(), 5 << 20);
    let source = a.chunk_source().unwrap();
    // The first chunk is still in the file; the second is cut in its middle, the third gone.
    let mut sum = 0.0;
    source.with_chunk(0, &mut |v| sum += v.iter().sum::<f64>()).unwrap();
    assert!(sum > 0.0);
    for chunk in [1, 2] {
        let e = source.with_chunk(chunk, &mut |_| {}).unwrap_err();
        assert_cut_error(&e, &path);
    }
}

#[test]
fn region_reads_of_a_mapping_whose_file_was_cut_get_an_error_not_sigbus() {
    let dir = tempfile::tempdir().unwrap();
    let (path, a) = mapped_then_cut(dir.path(), 0);
    let e = a.read_region(&larder::Region::new(&[0], &[8]).unwrap()).unwrap_err();
    assert_cut_error(&e, &path);
}

// ---------------------------------------------------------------------------------------------
// A full disk.

/// A 256 KiB tmpfs, unmounted on drop; `None` (after saying why) where mounting is not
/// permitted (it needs root and a permissive container).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path) -> Option<SmallDisk> {
        fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs", s(at)])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|st| st.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root and mount permission)");
        }
        ok.then(|| SmallDisk(at.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn copy_onto_a_full_disk_is_a_clear_error_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.npy");
    // 1 MiB of data that does not compress: four times the disk.
    let noise = |i: usize| (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    write_npy(&src, &ArrayD::from_shape_fn(IxDyn(&[1 << 17]), |i| noise(i[0]))).unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("mnt")) else { return };
    for dst in ["out.npy", "out.zarr"] {
        let d = disk.0.join(dst);
        let o = run(&["copy", s(&src), s(&d)]);
        let err = assert_fails(&o, &[dst]);
        assert!(err.contains("No space left on device"), "{dst}: {err}");
        assert!(names_in(&disk.0).is_empty(), "{dst}: {:?}", names_in(&disk.0));
    }
}

/// Asking quantiles or a histogram of a `datetime64` array names the file (found by the fuzz
/// suite: the refusal said only what was not supported).
#[test]
fn stats_quantiles_of_datetime64_values_are_refused_naming_the_file() {
    let p = crate::support::fixture("fuzz/npy/datetime64_quantiles_refused/a.npy");
    for extra in ["--quantile=0.5", "--bins=10"] {
        let o = run(&["stats", s(&p), extra]);
        assert_fails(&o, &["datetime64_quantiles_refused/a.npy", "not supported"]);
    }
}
