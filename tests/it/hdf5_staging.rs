//! The staging dataset of a copy into an existing HDF5 file (`/.NAME.larder-tmp-PID`, there
//! while the copy runs, or after a `kill -9` until the next copy of that name) is not one of
//! the file's datasets to larder: not listed, not picked as "the one dataset", and refused by
//! name (see docs/safety.md for what h5py users see).

#![cfg(feature = "hdf5")]

use std::process::{Command, Output};

use crate::support::{larder, python};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_staging_dataset_is_neither_listed_nor_read() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // As a killed copy leaves them: a staging dataset beside the real ones (one file with a
    // single real dataset, one with two and a dot-named real one).
    let o = Command::new(&py)
        .current_dir(d)
        .args([
            "-c",
            "import h5py, numpy as np\n\
             with h5py.File('one.h5', 'w') as f:\n\
             \x20   f['keep'] = np.arange(3)\n\
             \x20   f['.new.larder-tmp-4194304'] = np.zeros(5)\n\
             with h5py.File('two.h5', 'w') as f:\n\
             \x20   f['g/a'] = np.arange(2)\n\
             \x20   f['.hidden'] = np.arange(4)\n\
             \x20   f['.a.larder-tmp-99999999'] = np.zeros(2)\n",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // The one real dataset is the file's dataset.
    let o = larder().current_dir(d).args(["cat", "one.h5"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[0 1 2]");
    // Listed: the real ones only, the dot-named real one included.
    let o = larder().current_dir(d).args(["cat", "two.h5"]).output().unwrap();
    let t = text(&o);
    assert!(!o.status.success() && t.contains("holds 2 datasets"), "{t}");
    // Named: refused, saying what it is.
    for (file, name) in
        [("one.h5", "/.new.larder-tmp-4194304"), ("two.h5", "/.a.larder-tmp-99999999")]
    {
        let o =
            larder().current_dir(d).args(["stats", &format!("{file}:{name}")]).output().unwrap();
        let t = text(&o);
        assert!(!o.status.success(), "{t}");
        assert!(t.contains(name) && t.contains("not a dataset to read"), "{t}");
    }
    let o = larder().current_dir(d).args(["cat", "two.h5:/.hidden"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[0 1 2 3]", "{}", text(&o));
}

/// libhdf5 opens files without close-on-exec: a program started while larder had an HDF5
/// file open inherited the descriptor, and with it libhdf5's lock on the file, for as long
/// as it ran, so the next open for writing in this process failed ("unable to lock file").
/// Every HDF5 file larder opens is closed in the programs it starts; checked for files
/// created, opened for reading and opened for writing.
#[test]
fn programs_started_while_an_hdf5_file_is_open_do_not_inherit_it() {
    use larder::Hdf5Array;
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("f.h5");
    let held_by = |child: &std::process::Child| {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", child.id())).unwrap();
        fds.filter_map(|e| std::fs::read_link(e.unwrap().path()).ok()).any(|t| t == h)
    };
    for how in ["create", "read", "write"] {
        let a = match how {
            "create" => Hdf5Array::<f64>::create(&h, Some("/a"), &[4], &[2], None).unwrap(),
            "read" => Hdf5Array::<f64>::open_at(&h, Some("/a")).unwrap(),
            _ => Hdf5Array::<f64>::open_mut(&h, Some("/a")).unwrap(),
        };
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        // The descriptors a started program holds are there once it runs `sleep`.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let inherited = held_by(&child);
        drop(a);
        // While the program still runs, this process can write the file again.
        let w = Hdf5Array::<f64>::open_mut(&h, Some("/a"));
        let _ = child.kill();
        let _ = child.wait();
        assert!(!inherited, "{how}: a started program holds {}", h.display());
        w.unwrap_or_else(|e| panic!("{how}: {e}"));
    }
}
