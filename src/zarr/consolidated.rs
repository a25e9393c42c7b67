//! Keeping a hierarchy's consolidated metadata current when a node is added to it.
//!
//! A Zarr v3 group may carry, in its `zarr.json`, `consolidated_metadata`: the metadata of
//! every node below it, so that readers (zarr-python and xarray by default) open the hierarchy
//! from that one document. A node added without updating it is invisible to them, and a copy of
//! a larder dataset group back to a dataset would not see it either. So after an array is
//! added at `node`, every group above it that carries consolidated metadata gets the entries of
//! the nodes on the way down (new parent groups and the array), written atomically.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

fn read_json(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Storage { path: path.to_path_buf(), reason: format!("zarr: {e}") })
}

/// Adds the metadata of `node` (`/a/b`) and of the groups between it and each ancestor group
/// to the consolidated metadata of every ancestor group of the local hierarchy at `root` that
/// has some. Ancestors without consolidated metadata are left as they are.
///
/// # Errors
/// [`Error::Io`] or [`Error::Storage`] naming the `zarr.json` that cannot be read or written.
pub(crate) fn refresh(root: &Path, node: &str) -> Result<()> {
    let parts: Vec<&str> = node.split('/').filter(|s| !s.is_empty()).collect();
    for depth in 0..parts.len() {
        let group_dir = parts[..depth].iter().fold(root.to_path_buf(), |p, s| p.join(s));
        let group_json = group_dir.join("zarr.json");
        let mut group = read_json(&group_json)?;
        let Some(Value::Object(metadata)) =
            group.get_mut("consolidated_metadata").and_then(|c| c.get_mut("metadata"))
        else {
            continue;
        };
        for end in depth + 1..=parts.len() {
            let rel = parts[depth..end].join("/");
            let dir = parts[..end].iter().fold(root.to_path_buf(), |p, s| p.join(s));
            let mut meta = read_json(&dir.join("zarr.json"))?;
            if let Value::Object(m) = &mut meta {
                // A group's entry holds no consolidation of its own.
                m.remove("consolidated_metadata");
            }
            metadata.insert(rel, meta);
        }
        sort(metadata);
        let bytes = serde_json::to_vec_pretty(&group).map_err(|e| Error::Storage {
            path: group_json.clone(),
            reason: format!("zarr: {e}"),
        })?;
        crate::fsutil::write_bytes_atomically(&group_json, &bytes)?;
    }
    Ok(())
}

/// Orders the entries by path, as zarr-python writes them.
fn sort(metadata: &mut Map<String, Value>) {
    let mut entries: Vec<(String, Value)> = std::mem::take(metadata).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    metadata.extend(entries);
}
