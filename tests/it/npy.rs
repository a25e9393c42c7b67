//! Reading numpy-written fixtures and refusing broken files.

use std::path::Path;

use larder::{Error, MmapArray, Order, read_header};
use serde_json::Value;

use crate::support::{AnyNpy, bits_of, fixture};

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixture("npy/manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn expected_bits(entry: &Value) -> Vec<Vec<u64>> {
    entry["bits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| match b {
            Value::Array(parts) => parts.iter().map(|p| p.as_u64().unwrap()).collect(),
            v => vec![v.as_u64().unwrap()],
        })
        .collect()
}

fn check_values<T: larder::Element>(a: &MmapArray<T>, entry: &Value) {
    let name = entry["file"].as_str().unwrap();
    let want = expected_bits(entry);
    // read() converts any byte order; its logical iteration order is C order.
    let owned = a.read_all().unwrap();
    let got: Vec<Vec<u64>> = owned.iter().map(|&v| bits_of(v)).collect();
    assert_eq!(got, want, "{name}: values");
    if a.dtype().is_native() {
        let view = a.view().unwrap();
        let got: Vec<Vec<u64>> = view.iter().map(|&v| bits_of(v)).collect();
        assert_eq!(got, want, "{name}: zero-copy view");
    } else {
        let e = a.view().unwrap_err();
        assert!(matches!(e, Error::NotViewable { .. }), "{name}: {e}");
        // The converting reads it names are the ones `MmapArray` has.
        assert!(e.to_string().contains("read_all() or read_slice()"), "{e}");
    }
}

#[test]
fn every_numpy_fixture_reads_with_exact_values() {
    let m = manifest();
    let arrays = m["arrays"].as_array().unwrap();
    assert!(arrays.len() > 80);
    for entry in arrays {
        let name = entry["file"].as_str().unwrap();
        let path = fixture(&format!("npy/{name}"));
        let any = AnyNpy::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(any.dtype().typestr(), entry["descr"].as_str().unwrap(), "{name}");
        let shape: Vec<usize> = entry["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(any.shape(), shape.as_slice(), "{name}");
        let fortran = entry["fortran_order"].as_bool().unwrap();
        assert_eq!(any.order() == Order::F, fortran, "{name}");
        let v = entry["version"].as_array().unwrap();
        assert_eq!(
            (u64::from(any.header().version.0), u64::from(any.header().version.1)),
            (v[0].as_u64().unwrap(), v[1].as_u64().unwrap()),
            "{name}"
        );
        match &any {
            AnyNpy::Bool(a) => check_values(a, entry),
            AnyNpy::U8(a) => check_values(a, entry),
            AnyNpy::U16(a) => check_values(a, entry),
            AnyNpy::U32(a) => check_values(a, entry),
            AnyNpy::U64(a) => check_values(a, entry),
            AnyNpy::I8(a) => check_values(a, entry),
            AnyNpy::I16(a) => check_values(a, entry),
            AnyNpy::I32(a) => check_values(a, entry),
            AnyNpy::I64(a) => check_values(a, entry),
            AnyNpy::F16(a) => check_values(a, entry),
            AnyNpy::F32(a) => check_values(a, entry),
            AnyNpy::F64(a) => check_values(a, entry),
            AnyNpy::C64(a) => check_values(a, entry),
            AnyNpy::C128(a) => check_values(a, entry),
        }
    }
}

#[test]
fn fortran_order_is_viewed_with_fortran_strides() {
    let a = MmapArray::<f64>::open(fixture("npy/f8_le_2d_3x4_f.npy")).unwrap();
    let v = a.view().unwrap();
    assert_eq!(v.shape(), &[3, 4]);
    assert_eq!(v.strides(), &[1, 3]);
    // Zero-copy: the view points into the mapping, not a copy.
    assert_eq!(v.as_ptr().cast::<u8>(), a.data_bytes().unwrap().as_ptr());
}

#[test]
fn numpy_unsupported_dtypes_are_named() {
    let m = manifest();
    for entry in m["unsupported"].as_array().unwrap() {
        let name = entry["file"].as_str().unwrap();
        let what = entry["what"].as_str().unwrap();
        if matches!(what, "datetime" | "timedelta") {
            // numpy's time types are 64-bit integers with a unit: read as i64, dtype kept.
            let a = MmapArray::<i64>::open(fixture(&format!("npy/{name}"))).unwrap();
            assert_eq!(a.dtype().typestr(), entry["descr"].as_str().unwrap(), "{name}");
            continue;
        }
        let e = AnyNpy::open(fixture(&format!("npy/{name}"))).unwrap_err();
        assert!(matches!(e, Error::UnsupportedDType { .. }), "{name}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains(name), "{msg}");
        // The dtype is named once: `unsupported dtype |O: object arrays hold …` (a structured
        // dtype's list is named `structured`).
        let descr = entry["descr"].as_str().unwrap();
        let named = if descr.starts_with('[') { "structured" } else { descr };
        let text = msg.split_once(".npy: ").map_or(msg.as_str(), |(_, text)| text);
        assert_eq!(text.matches(named).count(), 1, "{name}: {msg}");
        let word = match what {
            "unicode" | "bytes" => "string",
            "void" => "void",
            w => w,
        };
        assert!(msg.contains(word), "{name}: {msg}");
    }
}

/// A minimal valid file: f8, shape (3,), data 1.0, 2.0, 3.0.
fn good_file() -> Vec<u8> {
    let mut v = Vec::new();
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    let total = (10 + dict.len() + 1).div_ceil(64) * 64;
    v.extend_from_slice(b"\x93NUMPY\x01\x00");
    v.extend_from_slice(&u16::try_from(total - 10).unwrap().to_le_bytes());
    v.extend_from_slice(dict.as_bytes());
    v.resize(total - 1, b' ');
    v.push(b'\n');
    for x in [1.0f64, 2.0, 3.0] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

fn with_header(dict: &str, data: usize) -> Vec<u8> {
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&u16::try_from(dict.len()).unwrap().to_le_bytes());
    v.extend_from_slice(dict.as_bytes());
    v.extend(std::iter::repeat_n(0u8, data));
    v
}

fn open_err(bytes: &[u8]) -> (Error, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.npy");
    std::fs::write(&p, bytes).unwrap();
    let e = MmapArray::<f64>::open(&p).unwrap_err();
    let any = AnyNpy::open(&p).unwrap_err().to_string();
    let header = read_header(&p).unwrap_err().to_string();
    let msg = e.to_string();
    assert!(msg.contains("bad.npy"), "message must name the file: {msg}");
    assert_eq!(any, msg, "an open by the header's element type and MmapArray agree");
    assert_eq!(header, msg, "read_header agrees");
    (e, msg)
}

#[test]
fn the_good_file_is_good() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ok.npy");
    std::fs::write(&p, good_file()).unwrap();
    assert_eq!(MmapArray::<f64>::open(&p).unwrap().view().unwrap().sum(), 6.0);
}

#[test]
fn invalid_files_are_errors_not_panics() {
    let good = good_file();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..good.len() - 3].to_vec(), "needs 24 bytes of data, file has 21"),
        (good[..40].to_vec(), "runs past the end"),
        (good[..9].to_vec(), "header length"),
        (Vec::new(), "empty file"),
        (b"PK\x03\x04 not npy at all".to_vec(), "bad magic"),
        ([b"\x93NUMPY\x09\x00".as_slice(), &good[8..]].concat(), "unknown .npy format version 9.0"),
        (with_header("'just a string'", 0), "not a Python dict"),
        (with_header("{'descr': '<f8', 'shape': (3,)}", 24), "fortran_order"),
        (
            with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 0}", 24),
            "unexpected key",
        ),
        (
            with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}", 24),
            "negative dimension -3",
        ),
        (
            with_header(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
                0,
            ),
            "more bytes than a 64-bit size",
        ),
        (
            with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,)}", 16),
            "needs 8000000000000 bytes of data, file has 16",
        ),
        (with_header("{'descr': '|O', 'fortran_order': False, 'shape': (3,)}", 24), "object"),
        (
            with_header("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,)}", 24),
            "structured",
        ),
        (with_header("{'descr': '<U3', 'fortran_order': False, 'shape': (3,)}", 36), "string"),
        (with_header("{'descr': '<M8[ps]', 'fortran_order': False, 'shape': (3,)}", 24), "unit"),
    ];
    for (bytes, want) in cases {
        let (_, msg) = open_err(&bytes);
        assert!(msg.contains(want), "want {want:?} in {msg:?}");
    }
}

#[test]
fn header_errors_give_the_byte_offset() {
    let (e, _) =
        open_err(&with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}", 24));
    match e {
        Error::Format { offset, .. } => assert_eq!(offset, 10 + 50),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_element_type_is_a_clear_error() {
    let e = MmapArray::<i32>::open(fixture("npy/f8_le_edges.npy")).unwrap_err().to_string();
    assert!(e.contains("file holds <f8, expected <i4"), "{e}");
}

#[test]
fn bool_bytes_other_than_0_or_1_are_refused_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.npy");
    let mut bytes = with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (4,)}", 0);
    bytes.extend_from_slice(&[0, 1, 2, 1]);
    std::fs::write(&p, bytes).unwrap();
    let a = MmapArray::<bool>::open(&p).unwrap();
    for e in [a.view().unwrap_err(), a.read_all().unwrap_err()] {
        assert!(e.to_string().contains("bool element 2"), "{e}");
    }
}

#[test]
fn misaligned_data_is_read_by_copy_not_viewed() {
    // numpy never writes this (it pads to 64), but other writers may: data at offset 10+13.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.npy");
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}";
    let mut bytes = with_header(&format!("{dict}{}", " ".repeat(3)), 0);
    assert_ne!(bytes.len() % 8, 0);
    bytes.extend_from_slice(&1.5f64.to_le_bytes());
    bytes.extend_from_slice(&(-2.0f64).to_le_bytes());
    std::fs::write(&p, bytes).unwrap();
    let a = MmapArray::<f64>::open(&p).unwrap();
    let e = a.view().unwrap_err().to_string();
    assert!(e.contains("not aligned"), "{e}");
    assert_eq!(a.read_all().unwrap().into_raw_vec_and_offset().0, vec![1.5, -2.0]);
}

#[test]
fn missing_file_names_the_path() {
    let e = AnyNpy::open(Path::new("/nonexistent/x.npy")).unwrap_err().to_string();
    assert!(e.starts_with("/nonexistent/x.npy: "), "{e}");
}
