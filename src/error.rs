//! The one error type of the crate.
//!
//! Every variant carries what a user needs to act on it: the file, the byte offset or line, and
//! what was expected against what was found. Messages are lowercase with no final period so they
//! compose into `anyhow` chains and one-line CLI errors.

use std::io;
use std::path::{Path, PathBuf};

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in larder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The bytes of a file do not follow its format.
    #[error("{path}: at byte {offset}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Byte offset in the file where the problem was found.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// The file holds fewer bytes than its header promises.
    #[error(
        "{path}: shape {shape:?} of {dtype} needs {needed} bytes of data, file has {available}"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The shape the header declares.
        shape: Vec<usize>,
        /// The dtype's typestr.
        dtype: String,
        /// Data bytes the shape needs.
        needed: u64,
        /// Data bytes present after the header.
        available: u64,
    },

    /// A dtype that larder does not handle (object, structured, strings, datetimes, …).
    #[error("{path}: unsupported dtype {descr}: {reason}")]
    UnsupportedDType {
        /// The file.
        path: PathBuf,
        /// The dtype description as found in the file.
        descr: String,
        /// Why it is not supported.
        reason: String,
    },

    /// The file's dtype is not the element type the caller asked for.
    #[error("{path}: file holds {found}, expected {expected}")]
    DTypeMismatch {
        /// The file.
        path: PathBuf,
        /// The typestr the caller asked for.
        expected: String,
        /// The typestr in the file.
        found: String,
    },

    /// A zero-copy view was asked of data that cannot be viewed in place.
    #[error("{path}: cannot view in place: {reason}")]
    NotViewable {
        /// The file.
        path: PathBuf,
        /// Why (byte order, alignment, invalid bool bytes).
        reason: String,
    },

    /// A write was attempted through a read-only array.
    #[error("{path}: array was opened read-only (mode {mode})")]
    ReadOnly {
        /// The file.
        path: PathBuf,
        /// The mode it was opened with.
        mode: &'static str,
    },

    /// A delta file does not belong to the base (or base and deltas) it was opened over: the
    /// base changed since the delta was saved, or it is another file.
    #[error("{delta}: does not apply to {base}: {reason}")]
    StaleBase {
        /// The delta file.
        delta: PathBuf,
        /// The file it was opened over (the `.npy`, or the delta below it).
        base: PathBuf,
        /// What differs, with the values recorded in the delta.
        reason: String,
    },

    /// A chunked-storage backend (Zarr, HDF5) reported an error: missing or invalid metadata, an
    /// unsupported codec or filter, a chunk that does not decode.
    #[error("{path}: {reason}")]
    Storage {
        /// The file or directory.
        path: PathBuf,
        /// What the backend said, naming the codec or filter where one is at fault.
        reason: String,
    },

    /// An argument (a shape, slice, chunk shape, option value) does not fit the file, array or
    /// dataset it is applied to.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file, array or dataset the argument was applied to.
        path: PathBuf,
        /// What does not fit, with the values involved.
        reason: String,
    },

    /// An argument is malformed on its own, before any file is involved (a selection or an
    /// aggregation that does not parse, an option out of its range).
    #[error("{0}")]
    Argument(String),

    /// An internal invariant of larder was broken: a bug, never a property of the input.
    #[error("internal error (a bug in larder, please report it): {0}")]
    Internal(String),

    /// A CSV record was rejected after the allowed number of rejections was reached.
    #[error("{path}:{line}: {reason} (more than {limit} rejected records)")]
    Rejected {
        /// The input file.
        path: PathBuf,
        /// Line of the record's first byte (1-based).
        line: u64,
        /// Why it was rejected, with the column.
        reason: String,
        /// The number of rejected records that was allowed.
        limit: u64,
    },

    /// Every record of a conversion (or an append) was rejected, so it converted nothing: the
    /// input does not fit the schema or is not the CSV expected.
    #[error("{path}: all {rejected} records were rejected, so nothing was converted; {first}")]
    AllRejected {
        /// The input file (the first, with several).
        path: PathBuf,
        /// The number of records, every one rejected.
        rejected: u64,
        /// The first rejections: for each, the line (and file, with several inputs), the
        /// column and the reason.
        first: String,
    },

    /// A conversion into `out` was interrupted and left its work in `path`; it is continued
    /// only when asked to resume ([`ConvertOptions::resume`](crate::convert::ConvertOptions::resume)).
    #[error(
        "{path}: an interrupted conversion into {out} is there; resume it, or delete it to start over"
    )]
    Interrupted {
        /// The interrupted conversion's temporary directory.
        path: PathBuf,
        /// The output directory it converts into.
        out: PathBuf,
    },

    /// An object-storage location (`s3://bucket/key`) that is malformed, not supported by this
    /// build, or whose request failed for good (after the retries, for a transient failure).
    #[error("{url}: {reason}")]
    Remote {
        /// The location or the object, as `scheme://bucket/key`.
        url: String,
        /// What went wrong: the server's status and message, or why the location is refused.
        reason: String,
    },

    /// The operation needs a platform feature this system lacks.
    #[error("{0}: not supported on this platform")]
    Unsupported(&'static str),

    /// The process received SIGINT or SIGTERM (once the program asked to catch them): the
    /// operation stopped and removed what it had written, as on any failure
    /// ([`crate::catch_interrupts`]).
    #[error("interrupted by {signal}")]
    Signal {
        /// The signal's name (`SIGINT`, `SIGTERM`).
        signal: &'static str,
        /// Its number, to end the process by it.
        number: i32,
    },
}

impl Error {
    /// An [`Error::Io`] on `path`.
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), source }
    }

    /// An [`Error::Format`] on `path` at byte `offset`.
    pub fn format(path: impl AsRef<Path>, offset: u64, reason: impl Into<String>) -> Self {
        Error::Format { path: path.as_ref().to_path_buf(), offset, reason: reason.into() }
    }

    /// An [`Error::Invalid`]: an argument that does not fit the file at `path`.
    pub fn invalid(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Invalid { path: path.as_ref().to_path_buf(), reason: reason.into() }
    }

    /// An [`Error::Remote`] on the object or location `url`.
    pub fn remote(url: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Remote { url: url.into(), reason: reason.into() }
    }

    /// An [`Error::Argument`] with the given message.
    pub fn argument(msg: impl Into<String>) -> Self {
        Error::Argument(msg.into())
    }

    /// An [`Error::Internal`]: a broken invariant, reported instead of a panic.
    pub(crate) fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }
}
