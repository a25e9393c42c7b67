//! larder's errors as Python exceptions: the classes live in `larder/errors.py` (so they can
//! inherit from both `LarderError` and the built-in a Python user catches, e.g.
//! `FileNotFoundError`); this picks the class and keeps the CLI's message text.

use std::error::Error as _;
use std::io::ErrorKind;

use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;

/// The Python exception for `e`, with the message the command line prints.
pub(crate) fn to_py(e: larder::Error) -> PyErr {
    let message = one_line(&e);
    // A call stopped by Ctrl-C. (`Interrupted` is another thing: a conversion stopped
    // earlier, whose work waits for `resume=True`.)
    if matches!(e, larder::Error::Signal { .. } | larder::Error::Cancelled) {
        return PyKeyboardInterrupt::new_err(message);
    }
    named(class_of(&e), message)
}

/// The exception `class` of `larder.errors` with `message`.
pub(crate) fn named(class: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let made = py
            .import("larder.errors")
            .and_then(|m| m.getattr(class))
            .and_then(|c| c.call1((message.clone(),)));
        match made {
            Ok(exc) => PyErr::from_value(exc),
            Err(err) => PyRuntimeError::new_err(format!("{message} (and {err})")),
        }
    })
}

/// The name of the class in `larder.errors` for `e`.
fn class_of(e: &larder::Error) -> &'static str {
    use larder::Error as E;
    match e {
        E::Io { source, .. } => match source.kind() {
            ErrorKind::NotFound => "LarderFileNotFoundError",
            ErrorKind::PermissionDenied => "LarderPermissionError",
            ErrorKind::IsADirectory => "LarderIsADirectoryError",
            ErrorKind::NotADirectory => "LarderNotADirectoryError",
            ErrorKind::UnexpectedEof => "FormatError",
            _ => "LarderIOError",
        },
        E::Format { .. } | E::Truncated { .. } | E::UnsupportedDType { .. } | E::Invalid { .. } => {
            "FormatError"
        }
        E::DTypeMismatch { .. } => "DTypeError",
        E::Locked { .. } => "LockedError",
        E::NotViewable { .. } => "NotViewableError",
        E::ReadOnly { .. } => "ReadOnlyError",
        E::StaleBase { .. } => "DeltaError",
        E::Storage { .. } => "StorageError",
        E::Argument(_) => "ArgumentError",
        E::Rejected { .. } | E::AllRejected { .. } | E::Interrupted { .. } => "ConversionError",
        E::Remote { .. } => "RemoteError",
        E::Unsupported(_) => "UnsupportedError",
        _ => "LarderError",
    }
}

/// The error and its causes on one line, each cause once, as `larder` prints it.
fn one_line(e: &larder::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line.replace('\n', " ")
}

/// `larder::Result` into `PyResult`.
pub(crate) trait IntoPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for larder::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
