//! Nodes of Zarr groups and HDF5 files a copy adds or reads: nothing is dropped without a word.
//! A group copied to a dataset refuses arrays it cannot place, by name; an array added to a
//! dataset group appears in its consolidated metadata (what xarray and zarr-python open); and
//! a copy from one node of a store or file to another node of the same one works.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{larder, python};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn run(dir: &Path, args: &[&str]) -> Output {
    larder().current_dir(dir).args(args).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> Output {
    let o = run(dir, args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    o
}

fn py(py: &Path, dir: &Path, script: &str) -> String {
    let o = Command::new(py).current_dir(dir).arg("-c").arg(script).output().unwrap();
    assert!(o.status.success(), "{script}\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn a_group_with_arrays_in_subgroups_is_refused_naming_them() {
    let Some(p) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    py(
        &p,
        dir.path(),
        "import zarr, numpy as np\n\
         g=zarr.open_group('g.zarr', mode='w', zarr_format=3)\n\
         g.create_array('a', shape=(5,), dtype='i8', dimension_names=['row'])[...]=np.arange(5)\n\
         g.create_array('sub/b', shape=(5,), dtype='f4', dimension_names=['row'])[...]=1\n\
         h=zarr.open_group('h.zarr', mode='w', zarr_format=3)\n\
         h.create_array('a', shape=(3,), dtype='i8', dimension_names=['row'])[...]=1\n\
         h.create_array('x/y/deep', shape=(3,), dtype='i8', dimension_names=['row'])[...]=2\n\
         h.create_array('x/other', shape=(7,), dtype='i8', dimension_names=['n'])[...]=3\n\
         k=zarr.open_group('k.zarr', mode='w', zarr_format=3)\n\
         k.create_array('a', shape=(3,), dtype='i8', dimension_names=['row'])[...]=1\n\
         k.create_array('b', shape=(4,), dtype='i8', dimension_names=['row'])[...]=1",
    );
    for (src, names) in [
        ("g.zarr", &["\"sub/b\""][..]),
        ("h.zarr", &["\"x/other\"", "\"x/y/deep\""][..]),
        ("k.zarr", &["\"b\"", "runs along"][..]),
    ] {
        let o = run(dir.path(), &["copy", src, "back"]);
        let t = text(&o);
        assert!(!o.status.success(), "{src}: {t}");
        for n in names {
            assert!(t.contains(n), "{src}: {t}");
        }
        assert!(!dir.path().join("back").exists(), "{src}: a partial dataset was left");
    }
}

#[test]
fn an_array_added_to_a_dataset_group_is_in_its_consolidated_metadata() {
    let Some(p) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("in.csv"), "n,s\n1,a\n2,b\n3,c\n").unwrap();
    ok(d, &["convert", "in.csv", "ds", "-q"]);
    ok(d, &["copy", "ds", "ds.zarr", "-q"]);
    py(
        &p,
        d,
        "import numpy as np; np.save('x.npy', np.arange(3.)*2); np.save('y.npy', np.ones(4))",
    );
    ok(d, &["copy", "x.npy", "ds.zarr:/extra", "-q"]);
    ok(d, &["copy", "y.npy", "ds.zarr:/more/deep", "-q"]);
    // In the group's zarr.json, and read from it by zarr-python, which with consolidated
    // metadata looks nodes up there only.
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("ds.zarr/zarr.json")).unwrap()).unwrap();
    let entries = root["consolidated_metadata"]["metadata"].as_object().unwrap();
    for name in ["extra", "more", "more/deep", "n", "s"] {
        assert!(entries.contains_key(name), "{name}: {:?}", entries.keys().collect::<Vec<_>>());
    }
    assert_eq!(entries["more/deep"]["shape"], serde_json::json!([4]));
    assert_eq!(entries["more"]["node_type"], "group");
    let seen = py(
        &p,
        d,
        "import zarr\n\
         g=zarr.open_group('ds.zarr', mode='r', use_consolidated=True)\n\
         print([float(v) for v in g['extra'][:]], [float(v) for v in g['more/deep'][:]])",
    );
    assert_eq!(seen, "[0.0, 2.0, 4.0] [1.0, 1.0, 1.0, 1.0]");
    // Copied back to a dataset, the added arrays are not left out silently.
    let o = run(d, &["copy", "ds.zarr", "back"]);
    let t = text(&o);
    assert!(!o.status.success() && t.contains("\"extra\"") && t.contains("\"more/deep\""), "{t}");
    assert!(!d.join("back").exists());
}

#[test]
fn a_copy_between_nodes_of_one_store_or_file_works() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = ndarray::Array2::from_shape_fn((7, 3), |(i, j)| (i * 10 + j) as f64).into_dyn();
    larder::write_npy(d.join("a.npy"), &a).unwrap();
    ok(d, &["copy", "a.npy", "g.zarr:/x", "-q"]);
    ok(d, &["copy", "g.zarr:/x", "g.zarr:/y", "-q"]);
    ok(d, &["copy", "g.zarr:/y", "g.zarr:/sub/z", "--chunks", "2,3", "-q"]);
    for node in ["y", "sub/z"] {
        ok(d, &["copy", &format!("g.zarr:/{node}"), &format!("{}.npy", node.replace('/', "_"))]);
    }
    assert_eq!(std::fs::read(d.join("y.npy")).unwrap(), std::fs::read(d.join("a.npy")).unwrap());
    assert_eq!(
        std::fs::read(d.join("sub_z.npy")).unwrap(),
        std::fs::read(d.join("a.npy")).unwrap()
    );
    // The same node, or the whole file onto itself, is still refused.
    for (src, dst) in [("g.zarr:/x", "g.zarr:/x"), ("g.zarr:/x", "g.zarr:x"), ("a.npy", "a.npy")] {
        let o = run(d, &["copy", src, dst]);
        assert!(!o.status.success(), "{src} -> {dst}");
    }
    let o = run(d, &["copy", "g.zarr:/x", "g.zarr:/x"]);
    assert!(text(&o).contains("is the same file as"), "{}", text(&o));
    if cfg!(feature = "hdf5") {
        ok(d, &["copy", "a.npy", "f.h5:/data", "-q"]);
        ok(d, &["copy", "f.h5:/data", "f.h5:/data2", "-q"]);
        ok(d, &["copy", "f.h5:/data2", "f.h5:/grp/data3", "-q"]);
        for node in ["data2", "grp/data3"] {
            let out = format!("h_{}.npy", node.replace('/', "_"));
            ok(d, &["copy", &format!("f.h5:/{node}"), &out]);
            assert_eq!(
                std::fs::read(d.join(&out)).unwrap(),
                std::fs::read(d.join("a.npy")).unwrap()
            );
        }
        let o = run(d, &["copy", "f.h5:/data", "f.h5:/data"]);
        assert!(!o.status.success() && text(&o).contains("is the same file as"), "{}", text(&o));
    }
}

#[test]
fn a_zarr_v2_group_as_a_dataset_source_is_named_as_the_problem() {
    let Some(p) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    py(
        &p,
        d,
        "import zarr\n\
         g=zarr.open_group('v2g.zarr', mode='w', zarr_format=2)\n\
         g.create_array('a', shape=(3,), dtype='i8')[...]=[1,2,3]\n\
         h=zarr.open_group('v2h', mode='w', zarr_format=2)\n\
         h.create_array('b', shape=(2,), dtype='f4')[...]=[1,2]",
    );
    for src in ["v2g.zarr", "v2h"] {
        let o = run(d, &["copy", src, "back"]);
        let t = text(&o);
        assert!(!o.status.success() && t.contains(&format!("{src}: is a Zarr v2 group")), "{t}");
        assert!(!t.contains("cannot tell the destination format"), "{t}");
    }
    // One of its arrays still copies on its own.
    ok(d, &["copy", "v2g.zarr:/a", "a.npy", "-q"]);
}
