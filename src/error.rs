//! The one error type of the crate.
//!
//! Every variant carries what a user needs to act on it: the file, the byte offset or line, and
//! what was expected against what was found. Messages are lowercase with no final period so they
//! compose into `anyhow` chains and one-line CLI errors.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in larder.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error on a file.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// The bytes of a file do not follow its format.
    Format {
        /// The file.
        path: PathBuf,
        /// Byte offset in the file where the problem was found.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// The file holds fewer bytes than its header promises.
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
    UnsupportedDType {
        /// The file.
        path: PathBuf,
        /// The dtype description as found in the file.
        descr: String,
        /// Why it is not supported.
        reason: String,
    },

    /// The file's dtype is not the element type the caller asked for.
    DTypeMismatch {
        /// The file.
        path: PathBuf,
        /// The typestr the caller asked for.
        expected: String,
        /// The typestr in the file.
        found: String,
    },

    /// A zero-copy view was asked of data that cannot be viewed in place.
    NotViewable {
        /// The file.
        path: PathBuf,
        /// Why (byte order, alignment, invalid bool bytes).
        reason: String,
    },

    /// A write was attempted through a read-only array.
    ReadOnly {
        /// The file.
        path: PathBuf,
        /// The mode it was opened with.
        mode: &'static str,
    },

    /// The file is locked by another open handle: an array open for writing (`r+`, `w+`) is
    /// alone, and an array open for reading (`r`, `c`) keeps writers out. The lock is larder's
    /// advisory one, held by this process (another [`MmapArray`](crate::MmapArray) of the file
    /// not dropped yet) or by another.
    Locked {
        /// The file.
        path: PathBuf,
        /// Whether this process holds the lock (known on Linux, from `/proc/self/fdinfo`; `false`
        /// elsewhere).
        this_process: bool,
    },

    /// A delta file does not belong to the base (or base and deltas) it was opened over: the
    /// base changed since the delta was saved, or it is another file.
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
    Storage {
        /// The file or directory.
        path: PathBuf,
        /// What the backend said, naming the codec or filter where one is at fault.
        reason: String,
    },

    /// An argument (a shape, slice, chunk shape, option value) does not fit the file, array or
    /// dataset it is applied to.
    Invalid {
        /// The file, array or dataset the argument was applied to.
        path: PathBuf,
        /// What does not fit, with the values involved.
        reason: String,
    },

    /// An argument is malformed on its own, before any file is involved (a selection or an
    /// aggregation that does not parse, an option out of its range).
    Argument(String),

    /// An internal invariant of larder was broken: a bug, never a property of the input.
    Internal(String),

    /// A CSV record was rejected after the allowed number of rejections was reached.
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
    Interrupted {
        /// The interrupted conversion's temporary directory.
        path: PathBuf,
        /// The output directory it converts into.
        out: PathBuf,
    },

    /// An object-storage location (`s3://bucket/key`) that is malformed, not supported by this
    /// build, or whose request failed for good (after the retries, for a transient failure).
    Remote {
        /// The location or the object, as `scheme://bucket/key`.
        url: String,
        /// What went wrong: the server's status and message, or why the location is refused.
        reason: String,
    },

    /// The operation needs a platform facility this system lacks, or a cargo feature this build
    /// was made without (the text names which).
    Unsupported(&'static str),

    /// The process received SIGINT or SIGTERM (once the program asked to catch them): the
    /// operation stopped and removed what it had written, as on any failure
    /// ([`crate::catch_interrupts`]).
    Signal {
        /// The signal's name (`SIGINT`, `SIGTERM`).
        signal: &'static str,
        /// Its number, to end the process by it.
        number: i32,
    },

    /// The operation ran under a [`crate::Cancel`] token that was cancelled: it stopped and
    /// removed what it had written, as on any failure (an interrupted conversion stays
    /// resumable).
    Cancelled,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{path}: {source}", path = path.display()),
            Error::Format { path, offset, reason } => {
                write!(f, "{path}: at byte {offset}: {reason}", path = path.display())
            }
            Error::Truncated { path, shape, dtype, needed, available } => write!(
                f,
                "{path}: shape {shape:?} of {dtype} needs {needed} bytes of data, file has {available}",
                path = path.display()
            ),
            Error::UnsupportedDType { path, descr, reason } => {
                write!(f, "{path}: unsupported dtype {descr}: {reason}", path = path.display())
            }
            Error::DTypeMismatch { path, expected, found } => {
                write!(f, "{path}: file holds {found}, expected {expected}", path = path.display())
            }
            Error::NotViewable { path, reason } => {
                write!(f, "{path}: cannot view in place: {reason}", path = path.display())
            }
            Error::ReadOnly { path, mode } => {
                write!(f, "{path}: array was opened read-only (mode {mode})", path = path.display())
            }
            Error::StaleBase { delta, base, reason } => write!(
                f,
                "{delta}: does not apply to {base}: {reason}",
                delta = delta.display(),
                base = base.display()
            ),
            Error::Locked { path, this_process: true } => write!(
                f,
                "{}: file is locked by this process: another handle of it is open (for writing, \
                 or for reading while this one wants to write); drop that one first",
                path.display()
            ),
            Error::Locked { path, this_process: false } => write!(
                f,
                "{}: file is locked by another process (opened for writing, or being read while \
                 this one wants to write)",
                path.display()
            ),
            Error::Storage { path, reason } | Error::Invalid { path, reason } => {
                write!(f, "{path}: {reason}", path = path.display())
            }
            Error::Argument(v) => write!(f, "{v}"),
            Error::Internal(v) => {
                write!(f, "internal error (a bug in larder, please report it): {v}")
            }
            Error::Rejected { path, line, reason, limit } => write!(
                f,
                "{path}:{line}: {reason} (more than {limit} rejected records)",
                path = path.display()
            ),
            Error::AllRejected { path, rejected, first } => write!(
                f,
                "{path}: all {rejected} records were rejected, so nothing was converted; {first}",
                path = path.display()
            ),
            Error::Interrupted { path, out } => write!(
                f,
                "{path}: an interrupted conversion into {out} is there; resume it, or delete it to start over",
                path = path.display(),
                out = out.display()
            ),
            Error::Remote { url, reason } => write!(f, "{url}: {reason}"),
            Error::Unsupported(v) => write!(f, "{v}: not supported"),
            Error::Signal { signal, .. } => write!(f, "interrupted by {signal}"),
            Error::Cancelled => write!(f, "cancelled"),
        }
    }
}

/// Every message is whole on its own: an [`Error::Io`] already says what the operating system
/// said, so it reports no `source()` and a chain printer (`anyhow`'s `{:#}`) shows that cause
/// once. Match the variant to reach the [`io::Error`] (`Error::Io { source, .. }`).
impl std::error::Error for Error {}

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

    /// This error with the path `file` replaced by `file:inner`, for an error about the
    /// dataset `inner` of a container file (HDF5), so it names the dataset as well as the file.
    #[must_use]
    #[cfg_attr(not(feature = "hdf5"), allow(dead_code))] // only HDF5 files hold datasets yet
    pub(crate) fn in_dataset(mut self, file: &Path, inner: &str) -> Self {
        let named = PathBuf::from(format!("{}:/{}", file.display(), inner.trim_start_matches('/')));
        match &mut self {
            Error::Io { path, .. }
            | Error::Format { path, .. }
            | Error::Truncated { path, .. }
            | Error::UnsupportedDType { path, .. }
            | Error::DTypeMismatch { path, .. }
            | Error::NotViewable { path, .. }
            | Error::ReadOnly { path, .. }
            | Error::Locked { path, .. }
            | Error::Storage { path, .. }
            | Error::Invalid { path, .. }
                if path == file =>
            {
                *path = named;
            }
            _ => {}
        }
        self
    }

    /// An [`Error::Internal`]: a broken invariant, reported instead of a panic.
    pub(crate) fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }
}
