//! The checkpoint of an unfinished conversion: how far the input has been converted, and how
//! long each output file was at that point.
//!
//! It is written after a block, once every file's data is on disk, to a temporary name and
//! renamed into place, so it is always either the old or the new one, never a torn write.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

use super::plan::Plan;

/// The checkpoint file's name inside the temporary output directory.
pub(crate) const CHECKPOINT: &str = "checkpoint.json";

/// Identifies the input, to refuse resuming on a different or changed file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SourceId {
    pub(crate) path: String,
    pub(crate) bytes: u64,
    /// Modification time as (seconds, nanoseconds) since the epoch, where known.
    pub(crate) modified: Option<(u64, u32)>,
}

/// Per-column state at a checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ColumnState {
    /// Categories in the dictionary file.
    pub(crate) categories: u64,
    /// Bytes of the dictionary file.
    pub(crate) categories_bytes: u64,
    /// Smallest and largest value seen (integer columns, when shrinking them).
    pub(crate) range: Option<(i64, i64)>,
    /// The same for values above `i64::MAX` (u64 columns).
    pub(crate) range_hi: Option<(u64, u64)>,
    /// The column has a validity file (a missing value was seen); it holds `rows_written`
    /// rows like the column file.
    #[serde(default)]
    pub(crate) valid: bool,
    /// Bytes of a string column's strings (its offsets file holds `rows_written + 1` offsets).
    #[serde(default)]
    pub(crate) str_bytes: u64,
    /// A categorical column that outgrew its dictionary's bound and became a string column
    /// (the plan says `str` from then on).
    #[serde(default)]
    pub(crate) spilled: bool,
    /// A date-time column read as ISO 8601 text in which a value carried an offset or `Z`
    /// (the manifest then records the zone, `ManifestColumn::zone`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) zoned: bool,
}

/// Everything needed to continue a conversion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    pub(crate) version: u32,
    /// The options that shape the output; a resume must be given the same.
    pub(crate) settings: serde_json::Value,
    pub(crate) source: SourceId,
    /// The inputs after the first, when several are converted as one table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) more_sources: Vec<SourceId>,
    pub(crate) plan: Plan,
    /// Input offset of the next record to read.
    pub(crate) offset: u64,
    /// Line number (1-based) of the line at `offset`.
    pub(crate) line: u64,
    pub(crate) rows_read: u64,
    pub(crate) rows_written: u64,
    pub(crate) rejected: u64,
    /// Bytes of `rejects.csv`.
    pub(crate) rejects_bytes: u64,
    pub(crate) columns: Vec<ColumnState>,
    /// All input has been converted; only finishing the files remains.
    pub(crate) done: bool,
}

impl Checkpoint {
    /// Writes the checkpoint into `dir` atomically and durably.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(CHECKPOINT);
        let bytes = serde_json::to_vec(self)
            .map_err(|e| Error::internal(format!("the checkpoint as JSON: {e}")))?;
        crate::fsutil::write_bytes_atomically(&path, &bytes).map(drop)
    }

    /// Reads the checkpoint in `dir`, if there is one.
    pub(crate) fn read(dir: &Path) -> Result<Option<Checkpoint>> {
        let path = dir.join(CHECKPOINT);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let c: Checkpoint = serde_json::from_slice(&bytes)
            .map_err(|e| Error::format(&path, 0, format!("bad checkpoint: {e}")))?;
        if c.version != 1 {
            return Err(Error::format(
                &path,
                0,
                format!("unknown checkpoint version {}", c.version),
            ));
        }
        Ok(Some(c))
    }
}

/// Stores an `i128` range in the checkpoint's two fields.
pub(crate) fn put_range(s: &mut ColumnState, r: Option<(i128, i128)>) {
    s.range = None;
    s.range_hi = None;
    if let Some((lo, hi)) = r {
        match (i64::try_from(lo), i64::try_from(hi)) {
            (Ok(l), Ok(h)) => s.range = Some((l, h)),
            _ => s.range_hi = u64::try_from(lo).ok().zip(u64::try_from(hi).ok()),
        }
    }
}

/// Reads back what [`put_range`] stored.
pub(crate) fn get_range(s: &ColumnState) -> Option<(i128, i128)> {
    s.range
        .map(|(l, h)| (i128::from(l), i128::from(h)))
        .or(s.range_hi.map(|(l, h)| (i128::from(l), i128::from(h))))
}
