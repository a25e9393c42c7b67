//! The present rows of a column in a dataset group (or any 1-d array that says how its missing
//! values are stored, as CF does): elements equal to its `_FillValue` attribute, or whose entry
//! in the `bool` array its `ancillary_variables` attribute names is `false`, are missing. What
//! `larder stats` reads of such a column, so that missing rows are skipped as they are when the
//! same column is read from the dataset directory.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::dtype::Element;
use crate::dtype::cf::is_fill;
use crate::error::{Error, Result};
use crate::grid::Region;
use crate::open::AnyStore;
use crate::store::{ArrayRead, ChunkSource};

/// Elements read at a time.
const BLOCK: usize = 1 << 16;

/// How a column marks its missing rows.
pub(crate) enum Missing {
    /// Rows holding this CF `_FillValue`.
    Fill(Value),
    /// Rows whose entry in this `bool` array is `false`.
    Mask(Box<dyn ArrayRead<bool>>),
}

/// The missing-value encoding the attributes of the 1-d array at `path` declare, if any.
///
/// # Errors
/// [`Error::Invalid`] naming `path` for a mask that cannot be opened or is not a `bool` array
/// of the column's length.
pub(crate) fn missing_of(store: &AnyStore, path: &Path) -> Result<Option<Missing>> {
    if store.shape().len() != 1 {
        return Ok(None);
    }
    let attrs = store.attributes()?;
    if let Some(name) = attrs.get("ancillary_variables").and_then(Value::as_str) {
        let mask_path = sibling(path, name).ok_or_else(|| {
            Error::invalid(path, format!("mask {name:?} is not beside the column"))
        })?;
        let mask = match crate::open::open(&mask_path)? {
            AnyStore::Bool(m) if m.shape() == store.shape() => m,
            _ => {
                return Err(Error::invalid(
                    path,
                    format!(
                        "its mask {} (ancillary_variables) is not a bool array of {} rows",
                        mask_path.display(),
                        store.shape()[0]
                    ),
                ));
            }
        };
        return Ok(Some(Missing::Mask(mask)));
    }
    Ok(attrs
        .get("_FillValue")
        .filter(|v| v.is_number() || v.is_string())
        .cloned()
        .map(Missing::Fill))
}

/// The array named `name` in the same group as the array at `path` (`GROUP:/a/b` →
/// `GROUP:/a/name`).
fn sibling(path: &Path, name: &str) -> Option<PathBuf> {
    let text = path.to_str()?;
    let inner = text.rfind(":/")? + 1;
    let cut = text[inner..].rfind('/')? + inner;
    Some(PathBuf::from(format!("{}/{}", &text[..cut], name.trim_start_matches('/'))))
}

/// The present values of a 1-d array, [`BLOCK`] elements at a time.
pub(crate) struct Present<'a, T: Element> {
    values: &'a dyn ArrayRead<T>,
    missing: &'a Missing,
}

impl<'a, T: Element> Present<'a, T> {
    pub(crate) fn new(values: &'a dyn ArrayRead<T>, missing: &'a Missing) -> Self {
        Present { values, missing }
    }

    fn len(&self) -> usize {
        self.values.shape().first().copied().unwrap_or(0)
    }

    /// Calls `f` with block `index`'s values and whether each is present.
    fn block(&self, index: usize, f: &mut dyn FnMut(&[T], &[bool])) -> Result<()> {
        let start = index.saturating_mul(BLOCK);
        let n = BLOCK.min(self.len().saturating_sub(start));
        let region = Region::new(&[start], &[n])?;
        let values = self.values.read_region(&region)?;
        let values: Vec<T> = values.iter().copied().collect();
        let present: Vec<bool> = match self.missing {
            Missing::Fill(fill) => values.iter().map(|v| !is_fill(v.to_scalar(), fill)).collect(),
            Missing::Mask(mask) => mask.read_region(&region)?.iter().copied().collect(),
        };
        f(&values, &present);
        Ok(())
    }

    /// Rows that are missing.
    pub(crate) fn null_count(&self) -> Result<u64> {
        let mut n = 0u64;
        for i in 0..self.num_chunks() {
            self.block(i, &mut |_, present| {
                n += present.iter().filter(|&&p| !p).count() as u64;
            })?;
        }
        Ok(n)
    }
}

impl<T: Element> ChunkSource<T> for Present<'_, T> {
    fn num_chunks(&self) -> usize {
        self.len().div_ceil(BLOCK)
    }

    fn with_chunk(&self, index: usize, f: &mut dyn FnMut(&[T])) -> Result<()> {
        self.block(index, &mut |values, present| {
            let kept: Vec<T> =
                values.iter().zip(present).filter(|&(_, &ok)| ok).map(|(&v, _)| v).collect();
            f(&kept);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::Scalar;

    #[test]
    fn siblings_and_fill_values() {
        assert_eq!(
            sibling(Path::new("g.zarr:/n"), "n_valid"),
            Some(PathBuf::from("g.zarr:/n_valid"))
        );
        assert_eq!(sibling(Path::new("a/g.zarr:/x/n"), "m"), Some(PathBuf::from("a/g.zarr:/x/m")));
        assert_eq!(sibling(Path::new("g.zarr"), "m"), None);
        assert!(is_fill(Scalar::I64(i64::MIN), &Value::from(i64::MIN)));
        assert!(!is_fill(Scalar::I64(-1), &Value::from(i64::MIN)));
        assert!(is_fill(Scalar::U8(255), &Value::from(255)));
        assert!(is_fill(Scalar::F64(f64::NAN), &Value::from("AAAAAAAA+H8=")));
        assert!(is_fill(Scalar::I32(-1), &Value::from(-1)));
    }
}
