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
//! use ndarray::s;
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
//! byte order, or misaligned, are read with [`MmapArray::read`], which converts. See the
//! [`mod@format`] module for the on-disk layout and `docs/safety.md` for what mapping a file means
//! for memory safety.
#![deny(unsafe_code)]
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
mod fsutil;
pub mod grid;
#[cfg(feature = "hdf5")]
pub mod hdf5;
pub mod limits;
pub mod npy;
mod open;
pub mod ops;
pub mod remote;
pub mod select;
pub mod store;
mod sys;
pub mod zarr;

/// Arrow export of datasets (feature `arrow`), and the arrow-rs crates it uses.
#[cfg(feature = "arrow")]
pub use dataset::arrow;
pub use dtype::{ByteOrder, DType, Element, ElementType, Scalar};
pub use error::{Error, Result};
pub use grid::{ChunkGrid, Region};
#[cfg(feature = "hdf5")]
pub use hdf5::Hdf5Array;
pub use npy::cow::{CopyMethod, DeltaReport, MaterializeReport};
pub use npy::{MmapArray, MmapChunks, Mode, NpyWriter, Order, read_header, read_npy, write_npy};
pub use open::{
    AnyStore, DynStore, Location, ObjectFacts, Place, detect_format, guess_format, object_facts,
    open, open_as, open_object, open_with_deltas, read_storage, refuse_object, storage,
};
pub use ops::copy::{CopyOptions, CopyProgress, CopyReport, copy, copy_with, copy_with_progress};
pub use ops::info::{Info, info, info_with_deltas};
pub use select::Selection;
pub use store::{
    ArrayRead, ArrayWrite, Attributes, Chunk, ChunkSource, Chunks, Format, MemStore, Overlay,
    SliceChunks, StoreChunks,
};
pub use sys::{Access, catch_interrupts, die_of, free_space, interrupted, page_size, peak_rss};
pub use zarr::{Codec, ZarrArray, ZarrOptions};

/// Re-exported so users name the same `f16` and `Complex` types larder stores.
pub use half::f16;
pub use num_complex::Complex;

#[doc = include_str!("../docs/format.md")]
pub mod format {}
