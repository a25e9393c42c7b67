//! Datasets: the manifest, checked by larder, with each column's kind as larder tells it; the
//! Python side maps each column's files as arrays.

use std::path::PathBuf;

use pyo3::prelude::*;

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
