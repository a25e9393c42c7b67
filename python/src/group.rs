//! Zarr groups larder wrote from a dataset (`larder copy DATASET out.zarr`), local or in
//! object storage, read row range by row range: the group's attributes (the `larder` one
//! holds the dataset's manifest and where each column is) and each array's rows, decoded
//! chunk by chunk. The Python side (`larder/_group.py`) builds columns from them.

use std::path::PathBuf;

use larder::zarr::group::{ChunkData, GroupReader, GroupType};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// An opened group (read-only).
#[pyclass(frozen, module = "larder._larder")]
pub(crate) struct RawGroup {
    reader: GroupReader,
}

/// Opens the group at `path`: a local `x.zarr` directory or `s3://bucket/prefix`, or a group
/// inside either (`x.zarr:/a/b`, `s3://bucket/x.zarr:/a/b`), named as the command line names a
/// node of a Zarr hierarchy.
#[pyfunction]
pub(crate) fn open_group(py: Python<'_>, path: PathBuf) -> PyResult<RawGroup> {
    let reader = crate::cancel::run_quiet(py, || open_reader(&path))?;
    Ok(RawGroup { reader })
}

/// The reader of the group at `path` (see [`open_group`]); a node that is an array is an error
/// that says so, naming the calls that open it.
fn open_reader(path: &std::path::Path) -> larder::Result<GroupReader> {
    let node = match larder::Place::parse(path)? {
        larder::Place::Local(loc) => loc.inner,
        larder::Place::Object(url) => url.inner().map(str::to_string),
    };
    let node = node.unwrap_or_else(|| "/".into());
    // The storage of the whole hierarchy (`read_storage` leaves the node out).
    let storage = larder::read_storage(path)?;
    match GroupReader::open(storage, &node, path) {
        Ok(reader) => Ok(reader),
        Err(e) if node.trim_matches('/').is_empty() => Err(e),
        Err(e) => match larder::open(path) {
            Ok(_) => Err(larder::Error::invalid(
                path,
                "is an array, not a group: open it with larder.open(); a dataset group is \
                 opened at the group itself",
            )),
            Err(_) => Err(e),
        },
    }
}

/// Rows `lo..hi` of the array: `(bytes, None)` for fixed-size elements (native order),
/// `(utf8, offsets)` for strings (one more int64 offset than rows, the first 0).
fn read_rows(
    reader: &GroupReader,
    name: &str,
    lo: u64,
    hi: u64,
) -> larder::Result<(Vec<u8>, Option<Vec<i64>>)> {
    let info = reader.array(name)?;
    let len = info.shape.first().copied().unwrap_or(0);
    let (lo, hi) = (lo.min(len), hi.min(len).max(lo.min(len)));
    let grid = info.grid.max(1);
    let itemsize = match info.dtype {
        GroupType::Fixed(d) => Some(d.itemsize()),
        GroupType::String => None,
    };
    let mut bytes = Vec::new();
    let mut offsets: Vec<i64> = vec![0];
    let mut unit = lo / grid;
    while unit * grid < hi {
        larder::Cancel::check_current()?;
        let first = unit * grid;
        let from = usize::try_from(lo.saturating_sub(first)).unwrap_or(usize::MAX);
        let to = usize::try_from(hi - first).unwrap_or(usize::MAX);
        match (reader.read_unit(name, unit)?, itemsize) {
            (ChunkData::Fixed(v), Some(size)) => {
                let to = (to * size).min(v.len());
                bytes.extend_from_slice(&v[(from * size).min(to)..to]);
            }
            (ChunkData::Strings(data, offs), None) => {
                let to = to.min(offs.len().saturating_sub(1));
                let from = from.min(to);
                let base = offs[from];
                let start = bytes.len();
                bytes.extend_from_slice(&data[base..offs[to]]);
                for &o in &offs[from + 1..=to] {
                    let at = start + (o - base);
                    offsets.push(
                        i64::try_from(at).map_err(|_| {
                            larder::Error::Internal("string offsets past i64".into())
                        })?,
                    );
                }
            }
            _ => {
                return Err(larder::Error::Internal(format!(
                    "{name}: a chunk of another type than its array"
                )));
            }
        }
        unit += 1;
    }
    Ok((bytes, itemsize.is_none().then_some(offsets)))
}

#[pymethods]
impl RawGroup {
    /// The group's attributes and its arrays (`name`, `dtype`: a numpy typestr or
    /// `"string"`, `len`, `grid`: rows per stored unit), as JSON text.
    fn info(&self) -> PyResult<String> {
        let arrays: Vec<serde_json::Value> = self
            .reader
            .arrays()
            .map(|a| {
                serde_json::json!({
                    "name": a.name,
                    "dtype": match a.dtype {
                        GroupType::Fixed(d) => d.typestr(),
                        GroupType::String => "string".into(),
                    },
                    "shape": a.shape,
                    "grid": a.grid,
                })
            })
            .collect();
        let value = serde_json::json!({
            "attributes": self.reader.attributes(),
            "arrays": arrays,
        });
        serde_json::to_string(&value)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("group as JSON: {e}")))
    }

    /// Rows `lo..hi` of the 1-d array `name` as `(bytes, offsets)` (see `read_rows`); only
    /// the chunks under the rows are read.
    fn read<'py>(
        &self,
        py: Python<'py>,
        name: String,
        lo: u64,
        hi: u64,
    ) -> PyResult<(Bound<'py, PyBytes>, Option<Bound<'py, PyBytes>>)> {
        let reader = &self.reader;
        let (bytes, offsets) = crate::cancel::run_quiet(py, || read_rows(reader, &name, lo, hi))?;
        let offsets = offsets.map(|o| PyBytes::new(py, bytemuck::cast_slice::<i64, u8>(&o)));
        Ok((PyBytes::new(py, &bytes), offsets))
    }

    /// Where it was opened from.
    #[getter]
    fn path(&self) -> String {
        self.reader.label().to_string_lossy().into_owned()
    }
}
