//! The rules a new node of a Zarr hierarchy must keep, for every storage alike (a local
//! directory or an object-storage prefix): what exists is never replaced nor reinterpreted.
//!
//! - The node path is valid (Zarr v3 node names: not empty, not `.`/`..`, no `__` prefix),
//!   checked before anything is written.
//! - No ancestor is an array (an array holds no other nodes) and no ancestor holds Zarr v2
//!   metadata (larder writes v3 metadata, which would hide it).
//! - Nothing is at the node yet: no metadata there nor anywhere below it (an object-storage
//!   prefix can hold nodes below a root that has no metadata).
//! - Missing parent groups are created last, each only if still missing: creating a parent
//!   never overwrites a node.
//!
//! [`check_new_node`] is the one check, [`create_parent_groups`] the one writer of parents;
//! `ZarrArray::create`, `StorageArray` and `GroupWriter` all go through them.

use std::path::Path;

use serde_json::Value;
use zarrs::storage::{
    ListableStorageTraits, ReadableStorageTraits, StoreKey, StorePrefix, WritableStorageTraits,
};

use super::zerr;
use crate::error::{Error, Result};

/// The metadata files of Zarr v2 and v3 nodes.
pub(crate) const METADATA_FILES: [&str; 5] =
    ["zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"];

/// The key of `name` in the directory of `node` (`/`: the root).
fn key_in(node: &str, name: &str) -> String {
    let dir = node.trim_matches('/');
    if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") }
}

fn get<S: ReadableStorageTraits + ?Sized>(
    s: &S,
    label: &Path,
    key: &str,
) -> Result<Option<Vec<u8>>> {
    let key = StoreKey::new(key).map_err(|e| zerr(label, e))?;
    Ok(s.get(&key).map_err(|e| zerr(label, e))?.map(|b| b.to_vec()))
}

/// The `node_type` of the v3 metadata at `node`, if any.
fn node_type<S: ReadableStorageTraits + ?Sized>(
    s: &S,
    label: &Path,
    node: &str,
) -> Result<Option<String>> {
    let Some(bytes) = get(s, label, &key_in(node, "zarr.json"))? else { return Ok(None) };
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| zerr(label, format!("{}: not JSON: {e}", key_in(node, "zarr.json"))))?;
    Ok(Some(v.get("node_type").and_then(Value::as_str).unwrap_or("").to_string()))
}

/// The ancestors of `node`, root first (`/a/b/c` -> `/`, `/a`, `/a/b`).
fn ancestors(node: &str) -> Vec<String> {
    let parts: Vec<&str> = node.trim_matches('/').split('/').filter(|p| !p.is_empty()).collect();
    (0..parts.len()).map(|i| format!("/{}", parts[..i].join("/"))).collect()
}

/// Refuses `node` unless it is a valid Zarr v3 node path, before anything is written.
///
/// # Errors
/// [`Error::Invalid`] naming `label` and the path.
pub(crate) fn check_node_path(label: &Path, node: &str) -> Result<()> {
    if zarrs::node::NodePath::validate(node) {
        return Ok(());
    }
    Err(Error::invalid(
        label,
        format!(
            "invalid node path {node}: node names are not empty, not \".\" or \"..\" and do not \
             start with \"__\""
        ),
    ))
}

/// Checks that a new node can go at `node` of `storage` without replacing or reinterpreting
/// anything there (see the module docs). Reads only: nothing is written.
///
/// # Errors
/// [`Error::Invalid`] naming `label` for each rule broken; [`Error::Storage`] when the store
/// cannot be read.
pub(crate) fn check_new_node<S>(storage: &S, label: &Path, node: &str) -> Result<()>
where
    S: ReadableStorageTraits + ListableStorageTraits + ?Sized,
{
    check_node_path(label, node)?;
    for here in ancestors(node) {
        if get(storage, label, &key_in(&here, ".zarray"))?.is_some()
            || get(storage, label, &key_in(&here, ".zgroup"))?.is_some()
        {
            return Err(Error::invalid(
                label,
                format!(
                    "is a Zarr v2 hierarchy (at {here}); larder writes Zarr v3 metadata, which \
                     would hide it; write into a new store"
                ),
            ));
        }
        if node_type(storage, label, &here)?.as_deref() == Some("array") {
            return Err(Error::invalid(
                label,
                format!("{here} is an array, which cannot hold {node}; choose another path"),
            ));
        }
    }
    for m in METADATA_FILES {
        if get(storage, label, &key_in(node, m))?.is_some() {
            let what = if node == "/" { String::new() } else { format!("{node} ") };
            return Err(Error::invalid(
                label,
                format!("{what}already exists; remove it or choose another path"),
            ));
        }
    }
    // A node below the new one would be adopted by it (or hidden, under an array).
    let prefix = StorePrefix::new(key_in(node, "")).map_err(|e| zerr(label, e))?;
    let below = storage.list_prefix(&prefix).map_err(|e| zerr(label, e))?;
    if let Some(key) = below.iter().find(|k| {
        let name = k.as_str().rsplit('/').next().unwrap_or_default();
        METADATA_FILES.contains(&name)
    }) {
        let at = key.as_str().rsplit_once('/').map_or("", |(d, _)| d);
        return Err(Error::invalid(
            label,
            format!(
                "already holds a Zarr node at /{at}, under {node}; remove it or choose another \
                 path"
            ),
        ));
    }
    Ok(())
}

/// Writes the metadata of every missing parent group of `node` (root first), each only if no
/// node is there by then; refuses, writing nothing more, if an array or v2 node appeared.
///
/// # Errors
/// [`Error::Invalid`] as [`check_new_node`]; [`Error::Storage`] for a write that fails.
pub(crate) fn create_parent_groups<S>(storage: &S, label: &Path, node: &str) -> Result<()>
where
    S: ReadableStorageTraits + WritableStorageTraits + ?Sized,
{
    check_node_path(label, node)?;
    for here in ancestors(node) {
        match node_type(storage, label, &here)?.as_deref() {
            Some("group") => continue,
            Some(_) => {
                return Err(Error::invalid(
                    label,
                    format!("{here} is an array, which cannot hold {node}; choose another path"),
                ));
            }
            None => {}
        }
        if [".zarray", ".zgroup"]
            .iter()
            .any(|m| matches!(get(storage, label, &key_in(&here, m)), Ok(Some(_))))
        {
            return Err(Error::invalid(label, format!("{here} is a Zarr v2 node")));
        }
        let key = StoreKey::new(key_in(&here, "zarr.json")).map_err(|e| zerr(label, e))?;
        let body = br#"{"zarr_format":3,"node_type":"group","attributes":{}}"#;
        storage.set(&key, zarrs::storage::Bytes::from_static(body)).map_err(|e| zerr(label, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_run_from_the_root() {
        assert_eq!(ancestors("/"), Vec::<String>::new());
        assert_eq!(ancestors("/a"), vec!["/"]);
        assert_eq!(ancestors("/a/b/c"), vec!["/", "/a", "/a/b"]);
    }

    #[test]
    fn node_paths_with_empty_dot_or_reserved_names_are_refused() {
        let label = Path::new("s.zarr");
        for bad in ["/p//q", "/m/n/../o", "/./x", "/__x", "/a/__b/c"] {
            let e = check_node_path(label, bad).unwrap_err();
            assert!(e.to_string().contains("invalid node path"), "{bad}: {e}");
        }
        for good in ["/", "/a", "/a/b.c", "/_larder"] {
            check_node_path(label, good).unwrap();
        }
    }
}
