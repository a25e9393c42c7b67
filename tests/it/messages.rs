//! Messages that say what is wrong: object-storage options and settings, no Rust `Debug` text,
//! suggestions that name a user's array, HDF5 external storage, and `bench cow --keep`, which
//! never overwrites files it did not make.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{larder, python};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `larder` with nothing from the caller's AWS environment.
fn clean() -> Command {
    let mut c = larder();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn object_storage_option_values_that_cannot_work_are_usage_errors() {
    for (flag, value, needle) in [
        ("--request-timeout", "0", "expected seconds > 0"),
        ("--request-timeout", "-1", "expected seconds >= 0"),
        ("--backoff", "1e308", "more than larder waits"),
        ("--backoff", "nan", "expected seconds >= 0"),
        ("--backoff-max", "inf", "expected seconds >= 0"),
        ("--retry-timeout", "soon", "expected seconds"),
    ] {
        let o =
            clean().args(["info", "s3://b/a.npy", &format!("{flag}={value}")]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {}", text(&o));
        assert!(text(&o).contains(flag) && text(&o).contains(needle), "{}", text(&o));
    }
}

#[test]
fn an_http_endpoint_without_allow_http_says_so() {
    for endpoint in ["http://127.0.0.1:1", "HTTP://localhost:1"] {
        let o = clean()
            .env("AWS_ACCESS_KEY_ID", "k")
            .env("AWS_SECRET_ACCESS_KEY", "s")
            .env("AWS_ENDPOINT_URL", endpoint)
            .args(["info", "s3://bkt/a.npy", "--retries", "0"])
            .output()
            .unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains("s3://bkt/a.npy") && t.contains("AWS_ALLOW_HTTP=true"), "{t}");
        assert!(t.contains(endpoint), "{t}");
    }
}

#[test]
fn missing_credentials_are_told_as_such() {
    // No key in the environment: object_store asks the instance metadata service, here a
    // port where nothing listens (as off an AWS machine).
    for service in ["http://127.0.0.1:1", "http://127.0.0.1:9"] {
        let o = clean()
            .env("AWS_METADATA_ENDPOINT", service)
            .args(["info", "s3://bkt/a.npy", "--endpoint", "http://127.0.0.1:2", "--retries", "0"])
            .args(["--retry-timeout", "1", "--request-timeout", "2"])
            .output()
            .unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains("no AWS credentials found") && t.contains("AWS_ACCESS_KEY_ID"), "{t}");
    }
}

#[test]
fn group_layout_errors_carry_numbers_not_debug_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("in.csv"), "a\n1\n2\n").unwrap();
    let o = larder().current_dir(d).args(["convert", "in.csv", "ds", "-q"]).output().unwrap();
    assert!(o.status.success());
    for (args, needle) in [
        (&["--chunks", "0"][..], "chunks of 0 rows"),
        (&["--chunks", "2", "--shard", "3"], "shards of 3 rows are not a whole number of 2-row"),
        (&["--chunks", "4", "--shard", "6"], "shards of 6 rows"),
    ] {
        let o = larder().current_dir(d).args(["copy", "ds", "x.zarr"]).args(args).output();
        let t = text(&o.unwrap());
        assert!(t.contains(needle) && !t.contains("Some(") && !t.contains("None"), "{t}");
    }
}

/// `cat` of a dataset group prints the dataset's table (`tests/it/remote_compute.rs` checks it
/// for every column kind), never larder's internal arrays.
#[test]
fn cat_of_a_dataset_group_prints_its_table_not_larders_internals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("in.csv"), "zeta,alpha\n1,x\n2,y\n").unwrap();
    for args in [&["convert", "in.csv", "ds", "-q"][..], &["copy", "ds", "ds.zarr", "-q"]] {
        assert!(larder().current_dir(d).args(args).output().unwrap().status.success());
    }
    let o = larder().current_dir(d).args(["cat", "ds.zarr"]).output().unwrap();
    let t = text(&o);
    let of_ds = larder().current_dir(d).args(["cat", "ds"]).output().unwrap();
    assert!(o.status.success() && t == text(&of_ds) && t.contains("alpha"), "{t}");
    assert!(!t.contains("_larder"), "{t}");
}

#[test]
fn hdf5_external_storage_is_refused_plainly() {
    if !cfg!(feature = "hdf5") {
        return;
    }
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = Command::new(&py)
        .current_dir(d)
        .arg("-c")
        .arg(
            "import h5py, numpy as np\n\
             open('raw.bin','wb').write(np.arange(20.).tobytes())\n\
             with h5py.File('e.h5','w') as f:\n\
             \x20   f.create_dataset('ext', shape=(20,), dtype='<f8', external=[('raw.bin', 0, 160)])\n\
             \x20   f.create_dataset('g/ext2', shape=(4,), dtype='<i4', external=[('raw.bin', 0, 16)])",
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    for (node, args) in [
        ("/ext", &["info", "e.h5:/ext"][..]),
        ("/ext", &["cat", "e.h5:/ext"]),
        ("/g/ext2", &["copy", "e.h5:/g/ext2", "o.npy"]),
    ] {
        let o = larder().current_dir(d).args(args).output().unwrap();
        let t = text(&o);
        let want = format!("dataset {node} uses external storage, which larder does not read");
        assert!(!o.status.success() && t.contains(&want), "{args:?}: {t}");
    }
    assert!(!d.join("o.npy").exists());
}

#[test]
fn bench_cow_keep_never_overwrites_files_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("keep");
    std::fs::create_dir(&keep).unwrap();
    for name in ["base.npy", "full.npy", "clone-0.5.delta", "materialized-0.5.npy"] {
        let mine = keep.join(name);
        std::fs::write(&mine, "my notes").unwrap();
        let o = larder()
            .args(["bench", "cow", "--size", "64K", "--fractions", "0.5", "--keep"])
            .arg(&keep)
            .output()
            .unwrap();
        let t = text(&o);
        assert!(!o.status.success() && t.contains(name) && t.contains("already holds"), "{t}");
        assert_eq!(std::fs::read(&mine).unwrap(), b"my notes", "{name} was overwritten");
        std::fs::remove_file(&mine).unwrap();
        let left: Vec<_> = std::fs::read_dir(&keep).unwrap().collect();
        assert!(left.is_empty(), "{name}: the refused run wrote files");
    }
    // A new directory, and one that holds only other files, are fine.
    std::fs::write(keep.join("notes.txt"), "mine").unwrap();
    let o = larder()
        .args(["bench", "cow", "--size", "64K", "--fractions", "0.5", "--keep"])
        .arg(&keep)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(Path::new(&keep.join("base.npy")).is_file());
}
