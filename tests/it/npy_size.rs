//! numpy's size rule for `.npy` files: larder neither writes nor reads an array numpy refuses
//! to load ("array is too big": the itemsize times the product of the non-zero axes must fit
//! 2^63-1), even an empty one.

use std::process::Command;

use crate::support::{larder, python};

/// A `.npy` v1.0 file of `descr` and `shape` (a Python tuple's text), no data.
fn npy_header(descr: &str, shape: &str) -> Vec<u8> {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let mut h = dict.into_bytes();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(&h);
    out
}

#[test]
fn npy_files_numpy_refuses_are_neither_read_nor_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big = (1u64 << 63) - 1;
    for (descr, shape) in [
        ("<f8", format!("(0, {big})")),
        ("<i2", format!("({big}, 0)")),
        ("|u1", format!("(0, 2, {})", 1u64 << 62)),
    ] {
        std::fs::write(d.join("bad.npy"), npy_header(descr, &shape)).unwrap();
        for args in [&["info", "bad.npy"][..], &["copy", "bad.npy", "out.npy"], &["cat", "bad.npy"]]
        {
            let o = larder().current_dir(d).args(args).output().unwrap();
            let t = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success() && t.contains("numpy refuses"), "{shape} {args:?}: {t}");
        }
        assert!(!d.join("out.npy").exists());
    }
    // What numpy does load is read and written: (0, 2^59) of <f8, 2^62 bytes of non-empty axes.
    std::fs::write(d.join("ok.npy"), npy_header("<f8", &format!("(0, {})", 1u64 << 59))).unwrap();
    let o = larder().current_dir(d).args(["copy", "ok.npy", "ok2.npy"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Through the library: a writer for such rows is refused before any file exists.
    let e = larder::NpyWriter::<f64>::create(d.join("w.npy"), &[big as usize]).unwrap_err();
    assert!(e.to_string().contains("numpy refuses"), "{e}");
    assert!(!d.join("w.npy").exists());
    let Some(py) = python() else { return };
    let o = Command::new(py)
        .current_dir(d)
        .args(["-c", "import numpy as np; a=np.load('ok2.npy'); print(a.shape)"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), format!("(0, {})", 1u64 << 59));
}
