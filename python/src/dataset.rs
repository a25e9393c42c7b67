//! Datasets: the manifest, checked by larder, with each column's kind as larder tells it; the
//! Python side maps each column's files as arrays.

use std::path::PathBuf;

use std::ffi::CString;

use larder::arrow::ArrowOptions;
use larder::dataset::Dataset;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors::IntoPy;

/// The manifest of the dataset at `path` as JSON text, after larder has checked it, with
/// `kind` (`number`, `bool`, `categorical`, `datetime`, `string`) and the absolute `path` of
/// each file added to every column.
#[pyfunction]
pub(crate) fn dataset_manifest(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    py.detach(|| {
        let ds = larder::dataset::Dataset::open(&path)?;
        let json = |e: serde_json::Error| larder::Error::Internal(format!("manifest as JSON: {e}"));
        let mut value = serde_json::to_value(ds.manifest()).map_err(json)?;
        if let Some(columns) = value.get_mut("columns").and_then(|c| c.as_array_mut()) {
            for (entry, column) in columns.iter_mut().zip(ds.columns()) {
                if let Some(map) = entry.as_object_mut() {
                    map.insert("kind".into(), column.kind().as_str().into());
                    let file = column.file().to_string_lossy().into_owned();
                    map.insert("path".into(), file.into());
                }
            }
        }
        serde_json::to_string(&value).map_err(json)
    })
    .py_err()
}

/// Checks a pair of string files (bytes, offsets) for `rows` strings as larder reads them:
/// one more offset than there are strings, from 0 to the end of the bytes.
#[pyfunction]
pub(crate) fn check_strings(
    py: Python<'_>,
    bytes: PathBuf,
    offsets: PathBuf,
    rows: u64,
) -> PyResult<()> {
    py.detach(|| larder::dataset::Strings::open(&bytes, &offsets, rows).map(drop)).py_err()
}

/// Whether a date-time column's `format` reads an offset or a time zone (larder's rule:
/// such a column's instants are zoned, UTC; others naive).
#[pyfunction]
pub(crate) fn format_reads_zone(format: &str) -> bool {
    larder::dataset::format_reads_zone(format)
}

fn arrow_options(columns: Option<Vec<String>>, batch_rows: Option<usize>) -> ArrowOptions {
    let mut options = ArrowOptions::new();
    if let Some(c) = columns {
        options.columns(c);
    }
    if let Some(rows) = batch_rows {
        options.batch_rows(rows);
    }
    options
}

/// The Arrow C stream of the dataset at `path` (larder's Arrow export: buffers over the
/// mapped files), in a capsule named `arrow_array_stream` as the Arrow `PyCapsule` interface
/// asks. A consumer moves the stream out; a stream left unconsumed is released when the
/// capsule is destroyed (dropping the stream calls its `release`).
#[pyfunction]
#[pyo3(signature = (path, columns = None, batch_rows = None))]
pub(crate) fn arrow_stream(
    py: Python<'_>,
    path: PathBuf,
    columns: Option<Vec<String>>,
    batch_rows: Option<usize>,
) -> PyResult<Bound<'_, PyCapsule>> {
    let options = arrow_options(columns, batch_rows);
    let stream = py.detach(|| options.stream(&Dataset::open(&path)?)).py_err()?;
    PyCapsule::new(py, stream, Some(CString::from(c"arrow_array_stream")))
}

/// The Arrow C schema of the dataset at `path`, in a capsule named `arrow_schema`.
#[pyfunction]
#[pyo3(signature = (path, columns = None))]
pub(crate) fn arrow_schema(
    py: Python<'_>,
    path: PathBuf,
    columns: Option<Vec<String>>,
) -> PyResult<Bound<'_, PyCapsule>> {
    let options = arrow_options(columns, None);
    let schema = py.detach(|| options.ffi_schema(&Dataset::open(&path)?)).py_err()?;
    PyCapsule::new(py, schema, Some(CString::from(c"arrow_schema")))
}
