//! # larder
//!
//! Numeric arrays kept on disk; only the slices a program touches come into memory.
//!
//! An [`MmapArray`] is a typed n-d array backed by a memory-mapped `.npy` file — numpy's own
//! format, so `np.load(path, mmap_mode="r")` opens what larder writes and larder opens what numpy
//! writes. Opening validates the header and the file's length and maps the file; nothing is read
//! until it is used, and [`MmapArray::view`] hands out a zero-copy [`ndarray::ArrayViewD`].
//!
//! ```
//! use larder::{MmapArray, NpyWriter};
//! use larder::ndarray::s;
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("prices.npy");
//!
//! // Stream rows into a file with bounded memory.
//! let mut w = NpyWriter::<f64>::create(&path, &[2])?;
//! for day in 0..10_000 {
//!     w.append(&[day as f64, 100.0 + day as f64 * 0.01])?;
//! }
//! w.finish()?;
//!
//! // Map it and look at one slice; only the pages under that slice are read.
//! let prices = MmapArray::<f64>::open(&path)?;
//! assert_eq!(prices.shape(), &[10_000, 2]);
//! let week = prices.view()?.slice(s![7..14, 1]).to_owned();
//! assert!((week.sum() - 700.7).abs() < 1e-9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The modes follow numpy's `mmap_mode`: [`MmapArray::open`] (`r`), [`MmapArray::open_mut`]
//! (`r+`), [`MmapArray::create`] (`w+`) and [`MmapArray::open_cow`] (`c`). Files in the other
//! byte order, or misaligned, are read with [`MmapArray::read_all`], which converts. See the
//! [`mod@format`] module for the on-disk layout and `docs/safety.md` for what mapping a file means
//! for memory safety.
//!
//! Selections are numpy's text (`Selection::parse("10:13, 5:8")`) or `ndarray`'s
//! [`s!`](ndarray::s!) macro, checked by the compiler: `store.read(&s![10..13, 5..8].into())`.
//! larder re-exports the [`ndarray`] it is built with, so `larder::ndarray` is always the
//! version its views are of.
//!
//! # Where things are
//!
//! At the crate root: the array types and traits ([`MmapArray`], [`NpyWriter`], [`ZarrArray`],
//! [`ArrayRead`], [`ArrayWrite`], [`Selection`]), [`open`]/[`open_as`] for any format, [`copy`]
//! and [`copy_with`], [`info`], [`Dataset`] and [`ConvertOptions`], and [`Error`]. Reductions,
//! histograms, quantiles and group-by are in [`compute`]; CSV conversion in [`convert`]; the
//! dataset format in [`dataset`]; object storage in [`remote`]; row filters (the SQL `WHERE`
//! subset of `--where`), parsed, in [`expr`].
//!
//! # Cargo features
//!
//! The default build is lean: arrays (`.npy`, Zarr, in memory), datasets, [`convert`] and
//! [`compute`], with no async runtime, HTTP or TLS stack and no command-line crates.
//!
//! | feature | gives | pulls in |
//! |---|---|---|
//! | *(default)* | everything above | `ndarray`, `zarrs` (zstd, gzip, blosc), `memmap2`, `rayon`, `serde_json`, `jiff` |
//! | `s3` | `s3://bucket/key` locations for [`open`], [`copy_with_progress`], [`remote`] | `object_store`, `reqwest`, `hyper`, `rustls` over `ring`, `tokio` |
//! | `hdf5` | `Hdf5Array`, `larder::hdf5`, `.h5` in [`open`] and [`copy`] | `hdf5-metno`, linking the system libhdf5 (Debian: `libhdf5-dev`) |
//! | `cli` | the `larder` binary (`required-features`) | `clap`, `anyhow` |
//! | `arrow` | `larder::arrow`: a dataset or column as Arrow arrays over the mapped files, a record-batch reader, the Arrow C stream | `arrow-array`, `arrow-buffer`, `arrow-data`, `arrow-schema` |
//!
//! Without `s3`, an `s3://` location is an [`Error::Remote`] that names the missing feature;
//! without `hdf5`, an HDF5 file is an [`Error::Unsupported`] that does. `scripts/measure-deps`
//! counts the crates each feature adds and times a cold build of a crate depending on larder.
#![deny(unsafe_code)]
// docs.rs builds with `--cfg docsrs` (Cargo.toml) on nightly: feature-gated items say which
// feature they need.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]
// Tests build small arrays from loop counters and compare exact float values on purpose; the
// library itself is linted without these exceptions (clippy checks it in both configurations).
#![cfg_attr(
    test,
    allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        clippy::float_cmp
    )
)]

pub mod compute;
pub mod convert;
pub mod dataset;
pub mod dtype;
mod error;
pub mod expr;
mod fsutil;
pub mod grid;
#[cfg(feature = "hdf5")]
#[cfg_attr(docsrs, doc(cfg(feature = "hdf5")))]
pub mod hdf5;
pub mod limits;
pub mod npy;
mod open;
pub mod ops;
pub mod query;
pub mod remote;
pub mod select;
pub mod store;
mod sys;
pub mod zarr;
pub mod zones;

pub use convert::{ConvertOptions, ConvertReport};
pub use dataset::Dataset;
/// Arrow export of datasets (feature `arrow`), and the arrow-rs crates it uses.
#[cfg(feature = "arrow")]
#[cfg_attr(docsrs, doc(cfg(feature = "arrow")))]
pub use dataset::arrow;
pub use dtype::{ByteOrder, DType, Element, ElementType, Scalar};
pub use error::{Error, Result};
pub use grid::{ChunkGrid, Region};
#[cfg(feature = "hdf5")]
#[cfg_attr(docsrs, doc(cfg(feature = "hdf5")))]
pub use hdf5::Hdf5Array;
pub use npy::cow::{CopyMethod, DeltaReport, MaterializeReport};
pub use npy::{MmapArray, MmapChunks, Mode, NpyWriter, Order, read_header, read_npy, write_npy};
pub use open::{
    AnyStore, DynStore, Location, detect_format, guess_format, open, open_as, open_object,
    open_with_deltas,
};
// Used by the `larder` binary (`read_storage`) and the location fuzz tests (`Place`), not part of
// the library's API.
#[doc(hidden)]
pub use open::{Place, read_storage};
pub use ops::copy::{CopyOptions, CopyProgress, CopyReport, copy, copy_with, copy_with_progress};
pub use ops::info::{Info, info, info_with_deltas};
pub use select::Selection;
pub use store::{
    ArrayRead, ArrayWrite, Attributes, Chunk, ChunkSource, Chunks, Format, MemStore, Overlay,
    SliceChunks, StoreChunks,
};
pub use sys::{Access, Cancel, catch_interrupts, die_of, interrupted, page_size, peak_rss};
// Used by the `larder` binary's `bench cow`, not part of the library's API.
#[doc(hidden)]
pub use sys::free_space;
pub use zarr::{Codec, ZarrArray, ZarrOptions};

/// Re-exported so users name the same `ndarray` larder hands out views and arrays of (and its
/// `s![…]` macro, which [`Selection`] accepts) without keeping a second version in step.
pub use ndarray;

/// Re-exported so users name the same `f16` and `Complex` types larder stores.
pub use half::f16;
pub use num_complex::Complex;

#[doc = include_str!("../docs/format.md")]
pub mod format {}
