//! Zarr and HDF5 through `larder::open`: arrays written by zarr-python and h5py (Zarr v3 and v2
//! with zstd, an array inside a group, HDF5 gzip-chunked, contiguous and int32 datasets of one
//! file) and the same written from Rust, each read at `[10:13, 5:8]`; then a copy
//! `.npy` → Zarr → HDF5.
//!
//! ```text
//! cargo run --features hdf5 --example open_stores                  # arrays written from Rust
//! python examples/open_stores.py /tmp/py && cargo run --features hdf5 --example open_stores -- /tmp/py
//! ```

#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]

use std::error::Error;
use std::path::{Path, PathBuf};

use larder::ndarray::{Array2, s};
use larder::{
    AnyStore, ArrayRead, ArrayWrite, CopyOptions, Hdf5Array, Selection, ZarrArray, ZarrOptions,
};

/// The 20 x 10 float32 array of every file: `i * 100 + j + 0.5`, as `open_stores.py` writes it.
fn grid() -> Array2<f32> {
    Array2::from_shape_fn((20, 10), |(i, j)| (i * 100 + j) as f32 + 0.5)
}

/// Writes Zarr (zstd, the default codec; alone and inside a group) and HDF5 from Rust.
fn write_here(dir: &Path) -> Result<(), Box<dyn Error>> {
    let (data, ints) = (grid().into_dyn(), grid().mapv(|x| x as i32).into_dyn());
    let options = ZarrOptions::new().chunks(&[8, 8]).clone();
    for (root, inner) in [("v3.zarr", None), ("group.zarr", Some("/g/x"))] {
        ZarrArray::<f32>::create(dir.join(root), inner, &[20, 10], &options)?
            .write(&Selection::all(), &data.view())?;
    }
    for (name, gzip) in [("/gzip", Some(4)), ("/plain", None)] {
        Hdf5Array::<f32>::create(dir.join("t.h5"), Some(name), &[20, 10], &[8, 8], gzip)?
            .write_region(&[0, 0], &data.view())?;
    }
    Hdf5Array::<i32>::create(dir.join("t.h5"), Some("/i32"), &[20, 10], &[20, 10], None)?
        .write_region(&[0, 0], &ints.view())?;
    Ok(())
}

/// Opens each of `names` in `dir` and reads `[10:13, 5:8]` as numpy's text and as `s![]`.
fn check(dir: &Path, names: &[&str]) -> Result<(), Box<dyn Error>> {
    for name in names {
        let a = larder::open_as::<f32>(dir.join(name))?;
        let block = a.read(&Selection::parse("10:13, 5:8")?)?;
        assert_eq!(block, a.read(&s![10..13, 5..8].into())?);
        assert_eq!(block, grid().slice(s![10..13, 5..8]).into_dyn());
        let (f, d, shape, chunks) = (a.format(), a.dtype(), a.shape(), a.chunk_shape());
        println!(
            "{name}: {f} {d} {shape:?} chunks {chunks:?}: [10:13, 5:8] = {}",
            block.to_string().replace('\n', "")
        );
    }
    // Untyped: the element type is known at run time.
    let AnyStore::I32(ints) = larder::open(dir.join("t.h5:/i32"))? else {
        return Err("t.h5:/i32 is not int32".into());
    };
    assert_eq!(ints.read(&s![10, 5].into())?.first(), Some(&1005));
    let Err(e @ larder::Error::Invalid { .. }) = larder::open(dir.join("t.h5")) else {
        return Err("t.h5 alone: expected Error::Invalid".into());
    };
    println!("t.h5 alone: {e}");
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let tmp = tempfile::tempdir()?;
    write_here(tmp.path())?;
    check(tmp.path(), &["v3.zarr", "group.zarr:/g/x", "t.h5:/gzip", "t.h5:/plain"])?;
    if let Some(py) = std::env::args().nth(1).map(PathBuf::from) {
        check(&py, &["v3.zarr", "v2.zarr", "group.zarr:/g/x", "t.h5:/gzip", "t.h5:/contig"])?;
    }

    // .npy -> Zarr (chunks of 5 x 5, zstd) -> a new dataset of an HDF5 file, streamed by chunk.
    let p = |name: &str| tmp.path().join(name);
    larder::write_npy(p("a.npy"), &grid())?;
    larder::copy_with(p("a.npy"), p("c.zarr"), CopyOptions::new().chunks(&[5, 5]))?;
    let report = larder::copy_with(p("c.zarr"), p("c.h5:/copy"), &CopyOptions::new())?;
    let back = larder::open_as::<f32>(p("c.h5:/copy"))?;
    assert_eq!(back.read(&Selection::all())?, grid().into_dyn());
    println!("copied .npy -> c.zarr (chunks of 5 x 5) -> c.h5:/copy: {report:?}");
    Ok(())
}
