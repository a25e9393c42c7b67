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

/// Reads the metadata document at a key of the hierarchy (`zarr.json`, `g/zarr.json`); `None`
/// when there is none.
pub(crate) type ReadKey<'a> = dyn FnMut(&str) -> Result<Option<Vec<u8>>> + 'a;
/// Replaces the metadata document at a key of the hierarchy, whole.
pub(crate) type WriteKey<'a> = dyn FnMut(&str, Vec<u8>) -> Result<()> + 'a;

fn parse(label: &Path, key: &str, bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| Error::Storage {
        path: label.to_path_buf(),
        reason: format!("zarr: {key}: {e}"),
    })
}

fn meta_key(parts: &[&str]) -> String {
    if parts.is_empty() {
        "zarr.json".to_string()
    } else {
        format!("{}/zarr.json", parts.join("/"))
    }
}

/// Adds the metadata of `node` (`/a/b`) and of the groups between it and each ancestor group
/// to the consolidated metadata of every ancestor group that has some, through `read` and
/// `write` on the hierarchy's keys (a local directory or an object-storage prefix alike).
/// Ancestors without consolidated metadata are left as they are. `label` names the
/// hierarchy in errors.
///
/// # Errors
/// What `read` and `write` return; [`Error::Storage`] for a document that is not JSON.
pub(crate) fn refresh(
    label: &Path,
    node: &str,
    read: &mut ReadKey<'_>,
    write: &mut WriteKey<'_>,
) -> Result<()> {
    let parts: Vec<&str> = node.split('/').filter(|s| !s.is_empty()).collect();
    for depth in 0..parts.len() {
        let group_key = meta_key(&parts[..depth]);
        let Some(bytes) = read(&group_key)? else { continue };
        let mut group = parse(label, &group_key, &bytes)?;
        let Some(Value::Object(metadata)) =
            group.get_mut("consolidated_metadata").and_then(|c| c.get_mut("metadata"))
        else {
            continue;
        };
        for end in depth + 1..=parts.len() {
            let key = meta_key(&parts[..end]);
            let Some(bytes) = read(&key)? else { continue };
            let mut meta = parse(label, &key, &bytes)?;
            if let Value::Object(m) = &mut meta {
                // A group's entry holds no consolidation of its own.
                m.remove("consolidated_metadata");
            }
            metadata.insert(parts[depth..end].join("/"), meta);
        }
        sort(metadata);
        let bytes = serde_json::to_vec_pretty(&group).map_err(|e| Error::Storage {
            path: label.to_path_buf(),
            reason: format!("zarr: {group_key}: {e}"),
        })?;
        write(&group_key, bytes)?;
    }
    Ok(())
}

/// Orders the entries by path, as zarr-python writes them.
fn sort(metadata: &mut Map<String, Value>) {
    let mut entries: Vec<(String, Value)> = std::mem::take(metadata).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    metadata.extend(entries);
}
