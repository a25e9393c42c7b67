//! The `larder` binary: info, cat and copy on numpy-written fixtures.

use std::process::Output;

use larder::{DType, read_npy};
use serde_json::Value;

use crate::support::{fixture, larder};

fn run(args: &[&str]) -> Output {
    larder().args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn fx(name: &str) -> String {
    fixture(&format!("npy/{name}")).to_string_lossy().into_owned()
}

#[test]
fn info_json_has_the_documented_keys() {
    let o = run(&["info", &fx("f8_be_3d_2x3x4_f.npy"), "--json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["format"], "npy");
    assert_eq!(v["dtype"], ">f8");
    assert_eq!(v["shape"], serde_json::json!([2, 3, 4]));
    assert_eq!(v["order"], "F");
    let bytes = std::fs::metadata(fx("f8_be_3d_2x3x4_f.npy")).unwrap().len();
    assert_eq!(v["bytes"], bytes);
    assert!(v["resident_bytes"].as_u64().unwrap() <= bytes.div_ceil(4096) * 4096);
}

#[test]
fn info_text_names_dtype_and_shape() {
    let out = stdout(&run(&["info", &fx("i4_le_empty_3x0.npy")]));
    assert!(out.contains("dtype:     <i4"), "{out}");
    assert!(out.contains("shape:     [3, 0]"), "{out}");
}

#[test]
fn cat_prints_numpy_layout_and_slices() {
    // i4_be_2d_3x4_c holds a 3x4 int32 array stored big-endian; print the converted values.
    let all = stdout(&run(&["cat", &fx("i4_be_2d_3x4_c.npy"), "--json"]));
    let full: Vec<Vec<i64>> = serde_json::from_str(&all).unwrap();
    let sliced = stdout(&run(&["cat", &fx("i4_be_2d_3x4_c.npy"), "--slice", "1:,::-2", "--json"]));
    let part: Vec<Vec<i64>> = serde_json::from_str(&sliced).unwrap();
    let want: Vec<Vec<i64>> =
        full[1..].iter().map(|r| r.iter().rev().step_by(2).copied().collect()).collect();
    assert_eq!(part, want);
    let text = stdout(&run(&["cat", &fx("i4_be_2d_3x4_c.npy"), "--slice", "-1"]));
    let expect: Vec<String> = full[2].iter().map(ToString::to_string).collect();
    let got: Vec<&str> = text.trim().trim_matches(['[', ']']).split_whitespace().collect();
    assert_eq!(got, expect);
}

#[test]
fn cat_summarizes_large_arrays_like_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.npy");
    larder::write_npy(&p, &ndarray::Array1::from_iter(0..5000u32)).unwrap();
    let p = p.to_string_lossy().into_owned();
    assert_eq!(stdout(&run(&["cat", &p])), "[   0    1    2 ... 4997 4998 4999]\n");
    assert_eq!(
        stdout(&run(&["cat", &p, "--all"]))
            .split(|c: char| !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .count(),
        5000
    );
}

#[test]
fn cat_bad_slice_is_a_one_line_error() {
    let o = run(&["cat", &fx("f8_le_2d_3x4_c.npy"), "--slice", "7"]);
    assert!(!o.status.success());
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("index 7 is out of bounds for axis 0 with size 3"), "{err}");
}

#[test]
fn copy_rewrites_big_endian_fortran_as_native_c() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("out.npy");
    let src = fx("f8_be_3d_2x3x4_f.npy");
    let o = run(&["copy", &src, dst.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = larder::read_header(&dst).unwrap();
    assert_eq!(h.dtype, DType::parse("<f8").unwrap());
    assert!(!h.fortran_order);
    assert_eq!(read_npy::<f64>(&dst).unwrap(), read_npy::<f64>(&src).unwrap());
    assert_eq!(h.data_offset % 64, 0);
}

#[test]
fn copy_onto_itself_is_refused_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.npy");
    std::fs::copy(fx("f8_le_2d_3x4_c.npy"), &p).unwrap();
    let before = std::fs::read(&p).unwrap();
    let o = run(&["copy", p.to_str().unwrap(), p.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("same file"));
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

#[test]
fn failed_copy_leaves_no_partial_destination() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.npy");
    let good = std::fs::read(fx("f8_le_2d_3x4_c.npy")).unwrap();
    std::fs::write(&bad, &good[..good.len() - 8]).unwrap();
    let dst = dir.path().join("dst.npy");
    std::fs::write(&dst, b"precious").unwrap();
    let o = run(&["copy", bad.to_str().unwrap(), dst.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.npy") && err.contains("needs 96 bytes"), "{err}");
    assert_eq!(std::fs::read(&dst).unwrap(), b"precious");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temp file left behind");
}

#[test]
fn errors_exit_nonzero_with_one_line_naming_the_file() {
    for args in [
        vec!["info", "/nonexistent/a.npy"],
        vec!["cat", "/nonexistent/a.npy"],
        vec!["info", fixture("npy/unsupported_object.npy").to_str().unwrap()],
    ] {
        let o = larder().args(&args).output().unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("larder: ") && err.contains(args[1]), "{err}");
    }
}

#[test]
fn bench_read_sums_the_whole_array_and_the_slices_at_the_offsets_of_a_zarr_copy() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.npy");
    let a = ndarray::Array1::from_shape_fn(10_000, |i| i as f64 * 0.5).into_dyn();
    larder::write_npy(&src, &a).unwrap();
    let zs = dir.path().join("a.zarr").to_string_lossy().into_owned();
    stdout(&run(&["copy", &src.to_string_lossy(), &zs, "--chunks", "1000"]));

    let v: Value = serde_json::from_str(&stdout(&run(&["bench", "read", &zs, "--json"]))).unwrap();
    assert_eq!(v["count"], 10_000);
    assert_eq!(v["sum"].as_f64(), Some(a.sum()));
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);

    let offs = dir.path().join("offs.npy");
    larder::write_npy(&offs, &ndarray::arr1(&[0i64, 999, 9990]).into_dyn()).unwrap();
    let o = run(&["bench", "read", &zs, "--offsets", &offs.to_string_lossy(), "--len", "10"]);
    let text = stdout(&o);
    assert!(text.contains("reads") && text.contains("elements"), "{text}");
    let json =
        run(&["bench", "read", &zs, "--offsets", &offs.to_string_lossy(), "--len", "10", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&json)).unwrap();
    let want: f64 = [0usize, 999, 9990].iter().flat_map(|&s| s..s + 10).map(|i| a[[i]]).sum();
    assert_eq!((v["reads"].as_u64(), v["elements"].as_u64()), (Some(3), Some(30)));
    assert_eq!(v["sum"].as_f64(), Some(want));

    // --offsets without --len is a usage error; an offset past the end names itself.
    assert!(!run(&["bench", "read", &zs, "--offsets", &offs.to_string_lossy()]).status.success());
    let o = run(&["bench", "read", &zs, "--offsets", &offs.to_string_lossy(), "--len", "11"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("offset 9990 (index 2)"));
}
