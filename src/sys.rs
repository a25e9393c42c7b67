//! The system layer: the only module of the crate allowed `unsafe`, and so the home of every
//! call the compiler cannot check — memory mappings (`map`), file locks, clones and page-cache
//! advice (`file`), memory and CPU facts (`mem`), `/proc/self/pagemap` (`pagemap`), running a
//! kernel compiled for AVX2 or AVX-512 (`simd`), and Arrow buffers over mappings (`arrow`).
//!
//! The safety model is written out in `docs/safety.md`. In short: a file mapping is sound as
//! long as no other process truncates the file or rewrites the mapped bytes while the mapping
//! lives. larder cannot enforce that against every process on the machine; it does what it can
//! (an advisory `flock` that every larder process honours, full validation of lengths at open)
//! and documents the rest, the stance numpy's `np.memmap` and ripgrep take.
#![allow(unsafe_code)]

#[cfg(feature = "arrow")]
mod arrow;
mod file;
mod map;
mod mem;
mod pagemap;
mod signal;
mod simd;

#[cfg(feature = "arrow")]
pub(crate) use arrow::{MapOwner, StringDamage, large_strings, mapped_buffer};
#[cfg(feature = "hdf5")]
pub(crate) use file::close_on_exec;
pub use file::free_space;
pub(crate) use file::{
    CloneHow, FileAdvice, Lock, advise_file, clone_file, create_locked, lock, start_writeback,
};
pub use map::Access;
pub(crate) use map::{Mapping, resident_under};
pub(crate) use mem::{
    advise_huge_pages, keep_freed_chunk_buffers, mappings_left, memory_budget, raise_open_files,
};
pub use mem::{page_size, peak_rss};
pub use signal::{Cancel, catch_interrupts, die_of, interrupted};
pub(crate) use signal::{Interrupt, check_interrupt};
pub(crate) use simd::{Kernel, Simd, prefetch, run_simd};
