//! The `.npy` backend: numpy's own format, memory-mapped.
//!
//! - [`header`](Header): the header, parsed and written on byte slices (no files);
//! - [`MmapArray`]: a typed n-d array over a mapping of the file, in numpy's four `mmap_mode`s;
//! - [`NpyWriter`]: rows streamed into a file with bounded memory, durable checkpoints, resume;
//! - `store`: `MmapArray` as an [`ArrayRead`](crate::ArrayRead) / [`ArrayWrite`](crate::ArrayWrite);
//! - [`MmapChunks`]: the data as contiguous pieces for reductions, zero-copy, read past the page
//!   cache when the file is larger than memory;
//! - [`cow`]: copy-on-write clones, delta files and materializing.

mod array;
pub mod cow;
mod header;
mod pages;
#[cfg(feature = "s3")]
mod remote;
mod store;
mod writer;

pub use array::{MmapArray, Mode, Order, read_header, read_npy};
pub use header::{ALIGN, Header, HeaderError, MAGIC};
pub use pages::{CHUNK_BYTES, MmapChunks};
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use remote::{RemoteNpy, read_remote_header};
pub(crate) use writer::write_npy_as;
pub use writer::{NpyWriter, write_npy};
