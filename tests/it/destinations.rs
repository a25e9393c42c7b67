//! Destinations of `copy`: a store is created, never the directories above it; and an error of
//! a write names the destination the user gave, never larder's temporary name beside it.

use std::path::Path;
use std::process::Output;

use crate::support::larder;

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn write_npy(path: &Path, n: usize) {
    let a = ndarray::Array1::from_iter((0..n).map(|i| i as f64)).into_dyn();
    larder::write_npy(path, &a).unwrap();
}

/// Everything under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_zarr_destination_does_not_create_missing_parent_directories() {
    let dir = tempfile::tempdir().unwrap();
    write_npy(&dir.path().join("a.npy"), 10);
    std::fs::write(dir.path().join("in.csv"), "x,y\n1,2\n3,4\n").unwrap();
    let o = larder().current_dir(dir.path()).args(["convert", "in.csv", "ds", "-q"]).output();
    assert!(o.unwrap().status.success());
    let before = tree(dir.path());
    for (src, dst, parent) in [
        ("a.npy", "no/such/x.zarr", "no/such"),
        ("a.npy", "missing/x.zarr", "missing"),
        ("ds", "nowhere/g.zarr", "nowhere"),
        ("a.npy", "gone/deeper/x.h5", "gone/deeper"),
    ] {
        let o = larder().current_dir(dir.path()).args(["copy", src, dst]).output().unwrap();
        let t = text(&o);
        assert!(!o.status.success(), "{dst}: {t}");
        assert!(t.contains(dst), "{dst}: {t}");
        if Path::new(dst).extension().is_some_and(|e| e == "zarr") {
            let want = format!("the directory {parent} does not exist");
            assert!(t.contains(&want), "{dst}: {t}");
        }
        assert!(!t.contains("larder-tmp"), "names a temporary: {t}");
        assert_eq!(tree(dir.path()), before, "{dst}: something was created");
    }
    // The store directory itself is created, in a directory that exists.
    std::fs::create_dir(dir.path().join("there")).unwrap();
    let o = larder().current_dir(dir.path()).args(["copy", "a.npy", "there/x.zarr"]).output();
    assert!(o.unwrap().status.success());
    assert!(dir.path().join("there/x.zarr/zarr.json").is_file());
}

#[cfg(feature = "hdf5")]
#[test]
fn errors_of_a_new_hdf5_file_name_the_destination_not_the_temporary() {
    let dir = tempfile::tempdir().unwrap();
    // Rank 33 is more than HDF5 allows for a chunked dataset.
    for (rank, name) in [(33usize, "x.h5"), (40, "deep.hdf5")] {
        let src = dir.path().join(format!("r{rank}.npy"));
        let a = ndarray::ArrayD::<f64>::zeros(ndarray::IxDyn(&vec![1; rank]));
        larder::write_npy(&src, &a).unwrap();
        let o = larder().current_dir(dir.path()).arg("copy").arg(&src).arg(name).output().unwrap();
        let t = text(&o);
        assert!(!o.status.success(), "{t}");
        assert!(t.contains(&format!("{name}: ")) && !t.contains("larder-tmp"), "{t}");
        assert!(!dir.path().join(name).exists());
    }
}

#[test]
fn a_destination_in_a_missing_directory_is_named_never_a_temporary() {
    let dir = tempfile::tempdir().unwrap();
    write_npy(&dir.path().join("a.npy"), 10);
    std::fs::write(dir.path().join("in.csv"), "x,y\n1,2\n").unwrap();
    let a = dir.path().join("a.npy");
    let csv = dir.path().join("in.csv");
    for dst in ["no/x.npy", "no/such/dir/y.npy", "gone/t.npy"] {
        let o = larder().arg("copy").arg(&a).arg(dir.path().join(dst)).output().unwrap();
        let t = text(&o);
        assert!(!o.status.success() && !t.contains("larder-tmp"), "{t}");
        let parent = dir.path().join(dst).parent().unwrap().display().to_string();
        assert!(t.contains(&format!("the directory {parent} does not exist")), "{t}");
    }
    for dst in ["no/out", "no/such/ds"] {
        let o = larder().arg("convert").arg(&csv).arg(dir.path().join(dst)).output().unwrap();
        let t = text(&o);
        assert!(!o.status.success() && !t.contains("larder-tmp"), "{t}");
        assert!(t.contains("does not exist"), "{t}");
    }
    // Nothing was made: no directory, no temporary.
    assert_eq!(tree(dir.path()).len(), 2, "{:?}", tree(dir.path()));
}
