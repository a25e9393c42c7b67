//! The library as a user meets it: `copy` picks the destination format, `ArrayRead` methods are
//! reachable on every store, `s![…]` selections, `impl AsRef<Path>` parameters, and the names the
//! crate root exports.

use std::fs;
use std::path::{Path, PathBuf};

use larder::ndarray::{ArrayD, IxDyn, NewAxis, s};
use larder::{ArrayRead, ArrayWrite, Error, Format, MmapArray, Selection, ZarrArray, ZarrOptions};

/// A `rows x cols` float array of `row * 100 + col`, written as `.npy` at `path`.
fn grid(path: &Path, rows: usize, cols: usize) -> ArrayD<f64> {
    let a = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |i| (i[0] * 100 + i[1]) as f64);
    larder::write_npy(path, &a).unwrap();
    a
}

fn magic(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap().into_iter().take(6).collect()
}

#[test]
fn copy_writes_zarr_for_a_zarr_destination_and_npy_for_an_npy_one() {
    let dir = tempfile::tempdir().unwrap();
    for (rows, cols, zname) in [(7, 5, "b.zarr"), (130, 3, "UPPER.ZARR")] {
        let src = dir.path().join(format!("a{rows}.npy"));
        let a = grid(&src, rows, cols);
        let z = dir.path().join(zname);
        let report = larder::copy(&src, &z).unwrap();
        assert_eq!(report.elements, (rows * cols) as u64);
        assert!(z.is_dir() && z.join("zarr.json").is_file(), "{zname} is a Zarr array");
        let back = larder::open_as::<f64>(&z).unwrap();
        assert_eq!(back.format(), Format::Zarr);
        assert_eq!(back.read(&Selection::all()).unwrap(), a);

        // And back: a Zarr source, an .npy destination.
        let npy = dir.path().join(format!("back{rows}.npy"));
        larder::copy(&z, &npy).unwrap();
        assert_eq!(magic(&npy), b"\x93NUMPY");
        assert_eq!(larder::read_npy::<f64>(&npy).unwrap(), a);
    }
}

#[test]
fn copy_refuses_a_destination_whose_format_it_cannot_tell() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.npy");
    grid(&src, 4, 4);
    for name in ["b.zar", "b", "b.npy.part"] {
        let dst = dir.path().join(name);
        match larder::copy(&src, &dst) {
            Err(Error::Invalid { path, reason }) => {
                assert_eq!(path, dst, "{name}");
                assert!(reason.contains("cannot tell the destination format"), "{name}: {reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(!dst.exists(), "{name}: nothing is written");
    }
}

#[cfg(feature = "hdf5")]
#[test]
fn copy_writes_hdf5_for_an_h5_destination() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.npy");
    let a = grid(&src, 6, 2);
    for name in ["b.h5", "c.hdf5"] {
        let dst = dir.path().join(name);
        larder::copy(&src, &dst).unwrap();
        assert_eq!(magic(&dst), b"\x89HDF\r\n");
        let h = larder::open_as::<f64>(&dst).unwrap();
        assert_eq!(
            (h.format(), h.read(&Selection::all()).unwrap()),
            (Format::Hdf5, a.clone().into())
        );
    }
}

#[test]
fn array_read_methods_are_reachable_on_a_mapped_array() {
    let dir = tempfile::tempdir().unwrap();
    for (rows, cols) in [(20, 10), (3, 40)] {
        let path = dir.path().join(format!("m{rows}.npy"));
        let a = grid(&path, rows, cols);
        let m = MmapArray::<f64>::open(&path).unwrap();
        // The trait's read(&selection) and release(), not inherent methods of the same name.
        let got = m.read(&Selection::parse("1:3, ::4").unwrap()).unwrap();
        assert_eq!(got, a.slice(s![1..3, ..;4]).into_dyn());
        m.release().unwrap();
        // The whole array and a byte range, under their own names.
        assert_eq!(m.read_all().unwrap(), a);
        m.release_range(0, 8 * cols).unwrap();
        assert_eq!(m.get(&[rows - 1, cols - 1]).unwrap(), ((rows - 1) * 100 + cols - 1) as f64);
    }
}

#[test]
fn s_macro_selections_read_what_their_text_reads() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("a.npy");
    let a = grid(&npy, 20, 12);
    let zpath = dir.path().join("a.zarr");
    let mut options = ZarrOptions::new();
    options.chunks(&[6, 5]);
    let mut z = ZarrArray::<f64>::create(&zpath, None, &[20, 12], &options).unwrap();
    z.write_region(&[0, 0], &a.view()).unwrap();
    let m = MmapArray::<f64>::open(&npy).unwrap();
    let cases: Vec<(Selection, &str)> = vec![
        (s![10..13, 5..8].into(), "10:13,5:8"),
        (s![-1, ..;3].into(), "-1,::3"),
        (s![..;-2, 4].into(), "::-2,4"),
        (s![3..9;-2, -4..].into(), "8:2:-2,-4:"),
        (s![NewAxis, 2, ..].into(), "None,2,:"),
    ];
    for (sel, text) in &cases {
        let want = a.slice(Selection::parse(text).unwrap().resolve(a.shape()).unwrap().as_slice());
        assert_eq!(m.read(sel).unwrap(), want, "npy {text}");
        assert_eq!(z.read(sel).unwrap(), want, "zarr {text}");
        assert_eq!(m.read_slice(sel).unwrap(), want, "read_slice {text}");
    }
    // Writing through a selection built by s![…].
    let ones = ArrayD::from_elem(IxDyn(&[2, 3]), 1.0);
    z.write(&s![4..6, 0..3].into(), &ones.view()).unwrap();
    assert_eq!(z.read(&Selection::parse("4:6,0:3").unwrap()).unwrap(), ones);
    // Out of bounds is an error naming the index, not a panic as in ndarray.
    match m.read(&s![20, ..].into()) {
        Err(Error::Argument(msg)) => {
            assert!(msg.contains("index 20 is out of bounds for axis 0 with size 20"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

/// Every path parameter takes what `MmapArray::open` takes: `&str`, `String`, `&Path`, `PathBuf`.
#[test]
fn path_parameters_take_anything_path_like() {
    let dir = tempfile::tempdir().unwrap();
    let zpath: PathBuf = dir.path().join("g.zarr");
    let text: String = zpath.to_str().unwrap().to_string();
    let mut options = ZarrOptions::new();
    options.chunks(&[2]);
    ZarrArray::<i32>::create(&text, Some("/x"), &[4], &options).unwrap();
    assert_eq!(ZarrArray::<i32>::open_at(text.as_str(), Some("/x")).unwrap().shape(), &[4]);
    assert_eq!(ZarrArray::<i32>::open_at(zpath.clone(), Some("/x")).unwrap().shape(), &[4]);
    assert_eq!(
        larder::zarr::list_arrays(&text).unwrap(),
        larder::zarr::list_arrays(&zpath).unwrap()
    );
    assert_eq!(larder::detect_format(&text).unwrap(), Format::Zarr);
    assert_eq!(larder::guess_format("a.npy"), Some(Format::Npy));
    assert!(!larder::Dataset::is_dataset(&text));
    assert!(!larder::Dataset::is_dataset(zpath.as_path()));
}

#[cfg(feature = "hdf5")]
#[test]
fn hdf5_path_parameters_take_anything_path_like() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.h5");
    let text = path.to_str().unwrap().to_string();
    let h = larder::Hdf5Array::<u8>::create(&text, Some("/g/d"), &[3], &[3], None).unwrap();
    assert_eq!(h.shape(), &[3]);
    drop(h);
    assert_eq!(
        larder::Hdf5Array::<u8>::open_at(text.as_str(), Some("/g/d")).unwrap().shape(),
        &[3]
    );
    assert_eq!(larder::hdf5::list_datasets(&text).unwrap(), vec!["/g/d".to_string()]);
}

/// What a user of the library names comes from the crate root; the binary's internals do not.
#[test]
fn the_crate_root_exports_what_users_name() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    fs::write(&csv, "a,b\n1,x\n2,y\n").unwrap();
    let out = dir.path().join("t");
    let report: larder::ConvertReport =
        larder::ConvertOptions::new().convert(&csv, &out, &mut |_| {}).unwrap();
    assert_eq!(report.out_dir, out);
    let ds = larder::Dataset::open(&out).unwrap();
    assert_eq!((ds.rows(), ds.columns().count()), (2, 2));
    // The same ndarray larder hands out.
    let v: larder::ndarray::ArrayViewD<'_, f64> =
        larder::ndarray::ArrayView::from(&[1.0][..]).into_dyn();
    assert_eq!(v.len(), 1);
}
