//! Files larder writes open in numpy with identical values (needs `LARDER_PYTHON`).

use std::path::Path;

use larder::{MmapArray, NpyWriter, write_npy};
use ndarray::{Array2, ArrayD, IxDyn};
use serde_json::{Value, json};

use crate::support::{AnyNpy, bits_of, fixture, python};

fn entry<T: larder::Element>(file: &str, a: &ArrayD<T>) -> Value {
    let bits: Vec<Value> = a
        .iter()
        .map(|&v| {
            let b = bits_of(v);
            if b.len() == 1 { json!(b[0]) } else { json!(b) }
        })
        .collect();
    json!({
        "file": file,
        "descr": larder::DType::of::<T>().typestr(),
        "shape": a.shape(),
        "fortran_order": false,
        "version": [1, 0],
        "bits": bits,
    })
}

fn copy_all_fixtures(dir: &Path, entries: &mut Vec<Value>) {
    let text = std::fs::read_to_string(fixture("npy/manifest.json")).unwrap();
    let m: Value = serde_json::from_str(&text).unwrap();
    for e in m["arrays"].as_array().unwrap() {
        let name = e["file"].as_str().unwrap();
        let out = format!("copy_{name}");
        larder::copy(fixture(&format!("npy/{name}")), dir.join(&out)).unwrap();
        let any = AnyNpy::open(dir.join(&out)).unwrap();
        let v = match &any {
            AnyNpy::Bool(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::U8(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::U16(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::U32(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::U64(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::I8(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::I16(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::I32(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::I64(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::F16(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::F32(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::F64(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::C64(a) => entry(&out, &a.read_all().unwrap()),
            AnyNpy::C128(a) => entry(&out, &a.read_all().unwrap()),
        };
        // The copy must hold exactly the fixture's values, which numpy then re-checks.
        assert_eq!(v["bits"], e["bits"], "{name}");
        entries.push(v);
    }
}

#[test]
fn numpy_opens_what_larder_writes() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut entries = Vec::new();
    copy_all_fixtures(dir.path(), &mut entries);

    // Created in place, then written through a mutable view.
    let mut m = MmapArray::<f32>::create(dir.path().join("created.npy"), &[4, 3]).unwrap();
    m.view_mut().unwrap().iter_mut().enumerate().for_each(|(i, v)| *v = i as f32 / 4.0);
    let owned = m.read_all().unwrap();
    m.close().unwrap();
    entries.push(entry("created.npy", &owned));

    // Grown by appends past the width of the first header's row count.
    let mut w = NpyWriter::<i16>::create(dir.path().join("grown.npy"), &[2]).unwrap();
    let rows = Array2::from_shape_fn((12_345, 2), |(i, j)| (i * 2 + j) as i16);
    w.append_rows(&rows).unwrap();
    w.finish().unwrap();
    entries.push(entry("grown.npy", &rows.into_dyn()));

    let big = ArrayD::from_shape_fn(IxDyn(&[2, 3, 2, 2, 2]), |i| (i[0] + i[1] + i[4]) % 2 == 0);
    write_npy(dir.path().join("rank5.npy"), &big).unwrap();
    entries.push(entry("rank5.npy", &big));

    std::fs::write(
        dir.path().join("manifest.json"),
        serde_json::to_string(&json!({ "arrays": entries })).unwrap(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_npy.py");
    let out = std::process::Command::new(py).arg(script).arg(dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("{} passed, 0 failed", entries.len())), "{text}");
}
