//! `larder stats` on a column of a dataset group reads it as the dataset directory does: its
//! missing rows (a CF `_FillValue` or the mask `ancillary_variables` names) are skipped and
//! counted, and CF time attributes make it a datetime column.

use std::path::Path;

use larder::compute::{Description, StatsOptions};

use crate::support::larder;

fn describe(path: &Path) -> serde_json::Value {
    let d = StatsOptions::new().describe(path).unwrap();
    serde_json::to_value(&d).unwrap()
}

/// Converts `csv` (with `types`) and copies the dataset to a group; returns (dataset, group).
fn dataset_and_group(
    dir: &Path,
    csv: &str,
    types: &[(&str, &str)],
) -> (std::path::PathBuf, String) {
    let input = dir.join("in.csv");
    std::fs::write(&input, csv).unwrap();
    let ds = dir.join("ds");
    let mut o = larder::convert::ConvertOptions::new();
    for (name, t) in types {
        o.column_type(*name, t.parse().unwrap());
    }
    o.convert(&input, &ds, &mut |_| {}).unwrap();
    let group = dir.join("ds.zarr");
    let out = larder().arg("copy").arg(&ds).arg(&group).arg("-q").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (ds, group.to_str().unwrap().to_string())
}

#[test]
fn group_columns_skip_fill_values_and_decode_cf_times_as_the_dataset_does() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "n,ts,f\n1,2024-01-01T00:00:00,1.5\n,2024-01-02T00:00:00,\n3,,2.5\n";
    let (ds, group) = dataset_and_group(dir.path(), csv, &[]);
    for column in ["n", "ts", "f"] {
        let from_dir = describe(&ds.join(format!("{column}.npy")));
        let from_group = describe(Path::new(&format!("{group}:/{column}")));
        assert_eq!(from_group, from_dir, "{column}");
    }
    let n = describe(Path::new(&format!("{group}:/n")));
    assert_eq!(
        (n["count"].as_u64(), n["null_count"].as_u64(), n["mean"].as_f64()),
        (Some(2), Some(1), Some(2.0))
    );
    let ts = describe(Path::new(&format!("{group}:/ts")));
    assert_eq!(ts["dtype"], "datetime64[s]");
    assert_eq!(ts["max"], "2024-01-02T00:00:00");
    // The CLI prints the same.
    let out = larder().args(["stats", &format!("{group}:/n"), "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, n);
}

#[test]
fn group_columns_with_a_mask_and_other_types_match_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    // A uint8 column holding 255 cannot take 255 as its fill value: its validity is a mask.
    let csv = "u,b,d\n255,True,2024-03-01\n,False,\n7,,2024-03-05\n1,True,2024-03-02\n";
    let (ds, group) = dataset_and_group(dir.path(), csv, &[("u", "u8")]);
    for column in ["u", "b", "d"] {
        let from_dir = describe(&ds.join(format!("{column}.npy")));
        let from_group = describe(Path::new(&format!("{group}:/{column}")));
        assert_eq!(from_group, from_dir, "{column}");
    }
    let u = describe(Path::new(&format!("{group}:/u")));
    assert_eq!(
        (u["count"].as_u64(), u["null_count"].as_u64(), u["max"].as_u64()),
        (Some(3), Some(1), Some(255))
    );
    let d = StatsOptions::new().describe(format!("{group}:/d")).unwrap();
    let Description::DateTimes(d) = d else { panic!("datetimes expected: {d:?}") };
    assert_eq!((d.count, d.null_count, d.dtype.as_str()), (3, Some(1), "datetime64[D]"));
}

#[test]
fn an_int64_zarr_array_with_cf_time_attributes_reads_as_datetimes() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("t.zarr");
    std::fs::create_dir_all(z.join("c")).unwrap();
    std::fs::write(
        z.join("zarr.json"),
        r#"{"zarr_format":3,"node_type":"array","shape":[3],"data_type":"int64",
 "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[3]}},
 "chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},
 "fill_value":0,"codecs":[{"name":"bytes","configuration":{"endian":"little"}}],
 "attributes":{"units":"hours since 1970-01-01","calendar":"proleptic_gregorian","long_name":"t"}}"#,
    )
    .unwrap();
    let values: Vec<u8> = [0i64, 25, i64::MIN].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(z.join("c").join("0"), values).unwrap();
    let out = larder().arg("cat").arg(&z).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        // As numpy prints it: an hour without minutes.
        "['1970-01-01T00' '1970-01-02T01'           'NaT']\n"
    );
    let info = larder::info(&z).unwrap();
    assert_eq!(info.dtype, "<M8[h]");
    // The decoding attributes are part of the dtype; the others stay.
    let attrs = info.attributes.clone().unwrap_or_default();
    assert!(attrs.get("units").is_none() && attrs["long_name"] == "t", "{attrs}");
    // Another epoch (xarray's choice) is decoded too, the values moved to 1970's.
    let meta =
        std::fs::read_to_string(z.join("zarr.json")).unwrap().replace("1970-01-01", "2024-03-01");
    std::fs::write(z.join("zarr.json"), &meta).unwrap();
    assert_eq!(larder::info(&z).unwrap().dtype, "<M8[h]");
    let out = larder().arg("cat").arg(&z).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "['2024-03-01T00' '2024-03-02T01'           'NaT']\n"
    );
    // An epoch between two hours cannot be: the integers stay integers.
    std::fs::write(z.join("zarr.json"), meta.replace("2024-03-01", "2024-03-01 00:30")).unwrap();
    assert_eq!(larder::info(&z).unwrap().dtype, "<i8");
}
