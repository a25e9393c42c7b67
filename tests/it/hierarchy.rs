//! The hierarchy rules of a copy into a Zarr store, the same locally and in object storage:
//! nothing that exists is replaced or reinterpreted, an invalid node path is refused before
//! anything is written, and dataset columns named like larder's own nodes or like Zarr
//! metadata files round-trip under names that cannot collide.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{larder, python};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn fails(c: &mut Command, needles: &[&str]) -> String {
    let o = c.output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{:?}: {t}", c.get_args().collect::<Vec<_>>());
    for n in needles {
        assert!(t.contains(n), "{:?}: expected {n:?} in {t}", c.get_args().collect::<Vec<_>>());
    }
    t
}

fn ok(c: &mut Command) -> Output {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{:?}: {}", c.get_args().collect::<Vec<_>>(), text(&o));
    o
}

/// Every file under `dir` with its bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(d: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

fn write_f64(path: &Path, n: usize) {
    let a =
        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[n]), (0..n).map(|i| i as f64).collect())
            .unwrap();
    larder::write_npy(path, &a).unwrap();
}

#[test]
fn invalid_node_paths_are_refused_before_anything_is_written_into_a_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.npy");
    write_f64(&a, 10);
    let store = dir.path().join("g.zarr");
    ok(larder().arg("copy").arg(&a).arg(format!("{}:/keep", store.display())).arg("-q"));
    let before = snapshot(&store);
    for node in ["/p//q", "/m/n/../o", "/x/./y", "/a/__b/c", "/__x"] {
        fails(
            larder().arg("copy").arg(&a).arg(format!("{}:{node}", store.display())),
            &["g.zarr", "invalid node path"],
        );
        assert_eq!(snapshot(&store), before, "{node} changed the store");
    }
}

#[test]
fn an_array_never_holds_another_node_and_an_existing_node_is_never_replaced_locally() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.npy");
    write_f64(&a, 10);
    let store = dir.path().join("g.zarr");
    let at = |node: &str| format!("{}:{node}", store.display());
    ok(larder().arg("copy").arg(&a).arg(at("/x/y")).arg("-q"));
    let before = snapshot(&store);
    fails(larder().arg("copy").arg(&a).arg(at("/x/y/w")), &["/x/y is an array", "/x/y/w"]);
    fails(larder().arg("copy").arg(&a).arg(at("/x/y/u/v")), &["/x/y is an array", "/x/y/u/v"]);
    fails(larder().arg("copy").arg(&a).arg(at("/x/y")), &["/x/y already exists"]);
    fails(larder().arg("copy").arg(&a).arg(at("/x")), &["/x already exists"]);
    assert_eq!(snapshot(&store), before);
    // A sibling is fine, and the missing group on the way is created.
    ok(larder().arg("copy").arg(&a).arg(at("/x/z/w")).arg("-q"));
    assert!(store.join("x/z/zarr.json").is_file());
}

/// The copy of a dataset with columns named `_larder`, `zarr.json`, `.zarray`, `.zattrs` (and
/// a column named like the renamed one), as `copy ds ds.zarr` and back: the group holds an
/// array per column, xarray sees them all, and the copy back is byte for byte.
#[test]
fn columns_named_like_larder_nodes_or_metadata_files_round_trip_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (i, header) in [
        "_larder,b",
        "_larder,zarr.json,.zarray,.zattrs,_larder_1,b",
        "zarr.json,.zgroup,.zmetadata,b",
    ]
    .iter()
    .enumerate()
    {
        let csv = dir.path().join(format!("in{i}.csv"));
        let ncols = header.split(',').count();
        let row = |r: usize| (0..ncols).map(|c| (r * 10 + c).to_string()).collect::<Vec<_>>();
        let body = format!(
            "{header}\n{}\n{}\n{}\n",
            row(1).join(","),
            // A missing value in the last column: a validity file, stored as a fill value.
            row(2)[..ncols - 1].join(",") + ",",
            row(3).join(",")
        );
        std::fs::write(&csv, body).unwrap();
        let ds = dir.path().join(format!("ds{i}"));
        let group = dir.path().join(format!("ds{i}.zarr"));
        let back = dir.path().join(format!("back{i}"));
        ok(larder().arg("convert").arg(&csv).arg(&ds).arg("-q"));
        ok(larder().arg("copy").arg(&ds).arg(&group).arg("-q"));
        let names: Vec<String> = std::fs::read_dir(&group)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "zarr.json" && n != "_larder")
            .collect();
        assert_eq!(names.len(), ncols, "{header}: {names:?}");
        let info = ok(larder().arg("info").arg(&group));
        assert!(text(&info).contains("3 rows"), "{}", text(&info));
        ok(larder().arg("copy").arg(&group).arg(&back).arg("-q"));
        assert_eq!(
            snapshot(&ds)
                .into_iter()
                .map(|(p, b)| (p.file_name().unwrap().to_owned(), b))
                .collect::<Vec<_>>(),
            snapshot(&back)
                .into_iter()
                .map(|(p, b)| (p.file_name().unwrap().to_owned(), b))
                .collect::<Vec<_>>(),
            "{header}"
        );
        if let Some(py) = python() {
            let code = format!(
                "import xarray as xr, sys; d = xr.open_zarr(sys.argv[1]); \
                 print(sorted(d.data_vars)); assert len(d.data_vars) == {ncols}, list(d.data_vars)"
            );
            let o = Command::new(&py).args(["-c", &code]).arg(&group).output().unwrap();
            assert!(o.status.success(), "{header}: {}", text(&o));
        }
    }
}

#[cfg(feature = "s3")]
mod object_storage {
    use super::*;
    use crate::s3::s3_larder;
    use crate::s3::server::Moto;

    const BUCKET: &str = "larder-hier";

    fn s3(key: &str) -> String {
        format!("s3://{BUCKET}/{key}")
    }

    /// Finding 1 and 15 in object storage, with the same rules and messages as locally: an
    /// array is never turned into a group nor made to hold another node, a dataset group never
    /// adopts arrays under its prefix, and invalid node paths write nothing.
    #[test]
    fn object_storage_keeps_the_hierarchy_rules_of_a_local_store() {
        let Some(py) = python() else { return };
        let moto = Moto::start(&py, BUCKET);
        let ep = moto.endpoint();
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.npy");
        write_f64(&a, 100);
        ok(s3_larder(&ep).arg("copy").arg(&a).arg(s3("g.zarr:/x/y")).arg("-q"));
        ok(s3_larder(&ep).arg("copy").arg(&a).arg(s3("r.zarr")).arg("-q"));
        let before = (moto.keys(BUCKET, "g.zarr"), moto.keys(BUCKET, "r.zarr"));
        let refused = [
            ("g.zarr:/x/y/w", "/x/y is an array, which cannot hold /x/y/w"),
            ("g.zarr:/x/y/deep/er", "/x/y is an array, which cannot hold /x/y/deep/er"),
            ("r.zarr:/sub", "/ is an array, which cannot hold /sub"),
            ("g.zarr:/x/y", "/x/y already exists"),
            ("g.zarr:/p//q", "invalid node path /p//q"),
            ("g.zarr:/m/n/../o", "invalid node path /m/n/../o"),
        ];
        for (dst, needle) in refused {
            fails(s3_larder(&ep).arg("copy").arg(&a).arg(s3(dst)), &[needle]);
        }
        assert_eq!((moto.keys(BUCKET, "g.zarr"), moto.keys(BUCKET, "r.zarr")), before);
        // The array is still an array, with its values.
        let back = dir.path().join("back.npy");
        ok(s3_larder(&ep).args(["copy", &s3("g.zarr:/x/y")]).arg(&back).arg("-q"));
        assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&a).unwrap());

        // A prefix holding an array but no root metadata (as another tool may leave it): a
        // dataset group or a root array there is refused, naming the node.
        let csv = dir.path().join("in.csv");
        std::fs::write(&csv, "i,b\n1,2\n3,4\n").unwrap();
        let ds = dir.path().join("ds");
        ok(larder().arg("convert").arg(&csv).arg(&ds).arg("-q"));
        for (prefix, node) in [("P.zarr", "/i"), ("Q.zarr", "/deep/down/b")] {
            ok(s3_larder(&ep).arg("copy").arg(&a).arg(s3(&format!("{prefix}:{node}"))).arg("-q"));
            moto_delete(&py, &moto, &format!("{prefix}/zarr.json"));
            let keys = moto.keys(BUCKET, prefix);
            fails(
                s3_larder(&ep).arg("copy").arg(&ds).arg(s3(prefix)),
                &[&format!("already holds a Zarr node at {node}")],
            );
            fails(
                s3_larder(&ep).arg("copy").arg(&a).arg(s3(prefix)),
                &[&format!("already holds a Zarr node at {node}")],
            );
            assert_eq!(moto.keys(BUCKET, prefix), keys);
        }
    }

    /// Deletes `key` through boto3 (the server wants signed deletes).
    fn moto_delete(py: &Path, moto: &Moto, key: &str) {
        let code = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}', aws_access_key_id='test', \
             aws_secret_access_key='test', region_name='us-east-1')\
             .delete_object(Bucket='{BUCKET}', Key='{key}')",
            moto.endpoint()
        );
        ok(Command::new(py).args(["-c", &code]));
    }
}
