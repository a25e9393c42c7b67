//! Datasets as Zarr v3 groups: `larder copy DATASET out.zarr` and back.

use std::fmt::Write;
use std::path::Path;

use crate::support::{larder, python, run_interop};

/// Every file under `dir`, by name, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        // Files only: the zone maps in zones/ are checked by tests/it/zones.rs.
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_file()))
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn ok(args: &[&std::ffi::OsStr]) -> String {
    let o = larder().args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A CSV with every column kind, missing values in each, a large dictionary and a rejected
/// record, converted.
fn dataset(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("city,temp,n,when,note,flag,code,tiny\n");
    for i in 0..3000u32 {
        let city = ["New York", "Paris", "", "Oslo"][(i % 4) as usize];
        let temp = if i % 9 == 0 { "NA".to_string() } else { format!("{}.5", i % 40) };
        let n = if i % 7 == 0 { String::new() } else { (i * 31 % 1000).to_string() };
        let when = if i % 5 == 0 {
            String::new()
        } else {
            format!("2024-01-{:02}T00:00:0{}", 1 + i % 28, i % 10)
        };
        let note = if i % 6 == 0 { String::new() } else { format!("\"free, text {i}\"") };
        let flag = ["true", "false", ""][(i % 3) as usize];
        // 255 values of a u8 column with missing rows: its fill must avoid them.
        let tiny = if i % 8 == 0 { String::new() } else { (i % 255).to_string() };
        writeln!(csv, "{city},{temp},{n},{when},{note},{flag},c{i},{tiny}").unwrap();
        if i == 1500 {
            csv.push_str("Paris,not a number,1,,,true,x,1\n");
        }
    }
    let src = dir.join("in.csv");
    std::fs::write(&src, csv).unwrap();
    let ds = dir.join("ds");
    ok(&[
        "convert".as_ref(),
        src.as_os_str(),
        ds.as_os_str(),
        "--type".as_ref(),
        "note=str".as_ref(),
        "--type".as_ref(),
        "code=cat".as_ref(),
        "--type".as_ref(),
        "tiny=u8".as_ref(),
        "--type".as_ref(),
        "temp=f64".as_ref(),
        "--max-categories".as_ref(),
        "100000".as_ref(),
    ]);
    ds
}

#[test]
fn dataset_copied_to_a_group_and_back_is_identical_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path());
    let manifest = std::fs::read_to_string(ds.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"dictionary\"") && manifest.contains("\"dtype\": \"str\""));
    assert!(std::fs::metadata(ds.join("rejects.csv")).unwrap().len() > 40);
    for (chunks, shard) in [("1000", None), ("256", Some("1024"))] {
        let group = dir.path().join(format!("g{chunks}.zarr"));
        let back = dir.path().join(format!("back{chunks}"));
        let mut args = vec![
            "copy".as_ref(),
            ds.as_os_str(),
            group.as_os_str(),
            "--chunks".as_ref(),
            chunks.as_ref(),
        ];
        if let Some(s) = shard {
            args.extend::<[&std::ffi::OsStr; 2]>(["--shard".as_ref(), s.as_ref()]);
        }
        ok(&args);
        ok(&["copy".as_ref(), group.as_os_str(), back.as_os_str()]);
        assert_eq!(files(&ds), files(&back), "chunks {chunks}, shard {shard:?}");
        let info = ok(&["info".as_ref(), group.as_os_str()]);
        assert!(info.contains("3000 rows") && info.contains("tiny"), "{info}");
    }
}

#[test]
fn group_metadata_is_written_after_the_chunks_and_consolidated() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path());
    let group = dir.path().join("g.zarr");
    ok(&["copy".as_ref(), ds.as_os_str(), group.as_os_str()]);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(group.join("zarr.json")).unwrap()).unwrap();
    let nodes = meta["consolidated_metadata"]["metadata"].as_object().unwrap();
    for name in
        ["city", "temp", "n", "when", "note", "note.valid", "flag", "flag.valid", "code", "tiny"]
    {
        let a = &nodes[name];
        assert_eq!(a["dimension_names"], serde_json::json!(["row"]), "{name}");
        // Every array's own metadata is on disk too, and is not older than its chunks.
        let own = group.join(name).join("zarr.json");
        let chunk = group.join(name).join("c").join("0");
        let (m, c) = (std::fs::metadata(own).unwrap(), std::fs::metadata(chunk).unwrap());
        assert!(m.modified().unwrap() >= c.modified().unwrap(), "{name}");
    }
    assert_eq!(nodes["note"]["data_type"], "string");
    assert_eq!(nodes["when"]["attributes"]["units"], "seconds since 1970-01-01");
    assert_eq!(nodes["n"]["attributes"]["_FillValue"], i64::MIN);
    // 255 distinct values of u8 leave 255 itself free.
    assert_eq!(nodes["tiny"]["attributes"]["_FillValue"], 255);
    assert_eq!(meta["attributes"]["rows"], 3000);
}

#[test]
fn copy_refuses_an_existing_destination_and_extra_files() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path());
    let group = dir.path().join("g.zarr");
    ok(&["copy".as_ref(), ds.as_os_str(), group.as_os_str()]);
    let o = larder().args(["copy".as_ref(), ds.as_os_str(), group.as_os_str()]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("already exists"), "{err}");
    let o = larder().args(["copy".as_ref(), group.as_os_str(), ds.as_os_str()]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("already exists"), "{err}");
    std::fs::write(ds.join("notes.txt"), "mine").unwrap();
    let other = dir.path().join("h.zarr");
    let o = larder().args(["copy".as_ref(), ds.as_os_str(), other.as_os_str()]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("notes.txt") && err.contains("not named"), "{err}");
    assert!(!other.exists());
}

#[test]
fn a_group_larder_did_not_write_becomes_a_dataset_or_a_clear_error() {
    use larder::zarr::group::{GroupArraySpec, GroupType, GroupWriter, local_storage};
    let dir = tempfile::tempdir().unwrap();
    let spec = |name: &str, dtype, len| GroupArraySpec {
        name: name.into(),
        dtype,
        len,
        chunk: 2,
        shard: None,
        codec: larder::Codec::None,
        fill: match dtype {
            GroupType::Fixed(d) => vec![0; d.itemsize()],
            GroupType::String => Vec::new(),
        },
        attributes: serde_json::Map::new(),
        dimension: "time".into(),
    };
    let f8 = GroupType::Fixed(larder::DType::native(larder::ElementType::F64));
    let path = dir.path().join("foreign.zarr");
    let mut writer = GroupWriter::new(local_storage(&path).unwrap(), "/", &path).unwrap();
    let xs = writer.add_array(spec("x", f8, 3)).unwrap();
    let refused = writer.add_array(spec("label/../", GroupType::String, 3));
    assert!(refused.is_err(), "a name with a path in it is refused");
    let labels = writer.add_array(spec("label", GroupType::String, 3)).unwrap();
    writer.store_fixed(xs, 0, bytemuck::cast_slice(&[1.5f64, 2.5])).unwrap();
    writer.store_fixed(xs, 1, bytemuck::cast_slice(&[f64::NAN])).unwrap();
    writer.store_strings(labels, 0, b"abcd", &[0, 1, 4]).unwrap();
    writer.store_strings(labels, 1, "é".as_bytes(), &[0, 2]).unwrap();
    writer.finish(serde_json::Map::new()).unwrap();
    let out = dir.path().join("out");
    ok(&["copy".as_ref(), path.as_os_str(), out.as_os_str()]);
    let restored = larder::dataset::Dataset::open(&out).unwrap();
    assert_eq!(restored.rows(), 3);
    let xv = restored.column("x").unwrap().values::<f64>().unwrap();
    assert_eq!(&xv.as_slice().unwrap()[..2], &[1.5, 2.5]);
    assert!(xv.as_slice().unwrap()[2].is_nan());
    let label = restored.column("label").unwrap().strings().unwrap();
    assert_eq!(
        (label.get(0).unwrap(), label.get(1).unwrap(), label.get(2).unwrap()),
        ("a", "bcd", "é")
    );

    // Arrays of different lengths cannot be one table.
    let bad = dir.path().join("bad.zarr");
    let mut writer = GroupWriter::new(local_storage(&bad).unwrap(), "/", &bad).unwrap();
    let first = writer.add_array(spec("a", f8, 2)).unwrap();
    let second = writer.add_array(spec("b", f8, 1)).unwrap();
    writer.store_fixed(first, 0, bytemuck::cast_slice(&[1.0f64, 2.0])).unwrap();
    writer.store_fixed(second, 0, bytemuck::cast_slice(&[1.0f64])).unwrap();
    writer.finish(serde_json::Map::new()).unwrap();
    let o = larder()
        .args(["copy".as_ref(), bad.as_os_str(), dir.path().join("o2").as_os_str()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("\"b\"") && err.contains("runs along"), "{err}");
    assert!(!dir.path().join("o2").exists());
}

/// xarray opens the group with the values and missing rows pandas reads from the CSV, and a
/// two-process dask cluster computes the same count and mean per category as `larder groupby`
/// (`tests/interop/check_zarr_group.py`).
#[test]
fn dataset_group_opens_in_xarray_and_a_dask_cluster_agrees_with_groupby() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let larder = env!("CARGO_BIN_EXE_larder");
    run_interop(&py, "check_zarr_group.py", &[larder.as_ref(), dir.path().as_os_str()]);
}
