//! The `group` kind: Zarr v3 groups as datasets, larder's own dataset groups (made from CSV
//! fixtures by `convert` and `copy DATASET g.zarr`) and a foreign group of 1-d arrays, mutated
//! as a hierarchy: the group's `zarr.json` (its `larder` attribute, its consolidated metadata)
//! edited as JSON or with entries dropped, column arrays removed, renamed or moved into a
//! subgroup, and arrays added beside them. Each input goes through `info`, `cat` and the copy
//! back to a dataset, in the library and in the binary.

use std::collections::BTreeMap;
use std::path::Path;

use super::mutate as edits;
use super::rng::Rng;
use super::run::Case;
use super::{Kind, files_under};
use crate::support::fixture;

/// The group every case holds.
pub(crate) const TARGET: &str = "g.zarr";

pub(crate) fn seeds() -> Vec<Case> {
    let tmp = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    for name in ["inference", "missing_marked", "datetimes", "hostile_names", "bad_rows"] {
        let ds = tmp.path().join(name);
        let convert = larder::convert::ConvertOptions::new().convert(
            fixture(&format!("csv/{name}.csv")),
            &ds,
            &mut |_| {},
        );
        let group = tmp.path().join(format!("{name}.zarr"));
        if convert.is_err() || larder::copy(&ds, &group).is_err() {
            continue;
        }
        let mut files = BTreeMap::new();
        files_under(&group, TARGET, &mut files);
        out.push(Case { kind: Kind::Group, files });
    }
    // A group another tool wrote: 1-d arrays along one named dimension, no larder attribute.
    let mut files = BTreeMap::new();
    let array = |dtype: &str, fill: &str| {
        format!(
            "{{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":[4],\"data_type\":\"{dtype}\",\
             \"chunk_grid\":{{\"name\":\"regular\",\"configuration\":{{\"chunk_shape\":[4]}}}},\
             \"chunk_key_encoding\":{{\"name\":\"default\",\"configuration\":{{\"separator\":\"/\"}}}},\
             \"fill_value\":{fill},\"codecs\":[{{\"name\":\"bytes\",\"configuration\":\
             {{\"endian\":\"little\"}}}}],\"dimension_names\":[\"row\"]}}"
        )
        .into_bytes()
    };
    files.insert(
        format!("{TARGET}/zarr.json"),
        br#"{"zarr_format":3,"node_type":"group"}"#.to_vec(),
    );
    files.insert(format!("{TARGET}/a/zarr.json"), array("int64", "0"));
    files.insert(format!("{TARGET}/a/c/0"), (0..4i64).flat_map(i64::to_le_bytes).collect());
    files.insert(format!("{TARGET}/b/zarr.json"), array("float32", "\"NaN\""));
    files.insert(
        format!("{TARGET}/b/c/0"),
        [1.5f32; 4].iter().flat_map(|f| f.to_le_bytes()).collect(),
    );
    out.push(Case { kind: Kind::Group, files });
    out
}

/// The node names directly inside the group (`g.zarr/NAME/...`).
fn nodes(case: &Case) -> Vec<String> {
    let prefix = format!("{TARGET}/");
    let mut names: Vec<String> = case
        .files
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix)?.split_once('/').map(|(n, _)| n.to_string()))
        .collect();
    names.dedup();
    names
}

/// Moves every file of node `from` to node `to` (a rename, or a move into a subgroup).
fn move_node(case: &mut Case, from: &str, to: &str) {
    let old = format!("{TARGET}/{from}/");
    let keys: Vec<String> = case.files.keys().filter(|k| k.starts_with(&old)).cloned().collect();
    for k in keys {
        let bytes = case.files.remove(&k).expect("listed");
        case.files.insert(format!("{TARGET}/{to}/{}", &k[old.len()..]), bytes);
    }
}

/// Edits the group's `zarr.json` as a value: drops or edits the larder attribute or the
/// consolidated metadata (an entry removed, renamed, added or edited).
fn edit_root(rng: &mut Rng, case: &mut Case) {
    let key = format!("{TARGET}/zarr.json");
    let Some(bytes) = case.files.get(&key) else { return };
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(bytes) else { return };
    match rng.below(5) {
        0 => {
            if let Some(a) = v.get_mut("attributes").and_then(|a| a.as_object_mut()) {
                a.remove("larder");
            }
        }
        1 => {
            if let Some(o) = v.as_object_mut() {
                o.remove("consolidated_metadata");
            }
        }
        2..=3 => {
            if let Some(m) =
                v.pointer_mut("/consolidated_metadata/metadata").and_then(|m| m.as_object_mut())
            {
                let keys: Vec<String> = m.keys().cloned().collect();
                if !keys.is_empty() {
                    let k = rng.pick(&keys).clone();
                    let entry = m.remove(&k).expect("listed");
                    match rng.below(3) {
                        0 => {}
                        1 => drop(m.insert(format!("{k}_renamed"), entry)),
                        _ => {
                            let edited = edits::json(rng, entry.to_string().as_bytes());
                            let e =
                                serde_json::from_slice(&edited).unwrap_or(serde_json::Value::Null);
                            m.insert(k, e);
                        }
                    }
                }
            }
        }
        _ => {
            if let Some(cols) =
                v.pointer_mut("/attributes/larder/columns").and_then(|c| c.as_array_mut())
                && !cols.is_empty()
            {
                let i = rng.below(cols.len());
                let c = cols.remove(i);
                if rng.one_in(2) {
                    cols.push(c);
                }
            }
        }
    }
    case.files.insert(key, serde_json::to_vec(&v).expect("a value"));
}

/// One structural edit of a group case; the byte-level edits of the `zarr` kind come on top
/// now and then.
pub(crate) fn mutate(rng: &mut Rng, case: &mut Case, other: &Case) {
    let names = nodes(case);
    match rng.below(8) {
        0 | 1 => edit_root(rng, case),
        2 if !names.is_empty() => {
            // A column array removed.
            let n = rng.pick(&names).clone();
            let prefix = format!("{TARGET}/{n}/");
            case.files.retain(|k, _| !k.starts_with(&prefix));
        }
        3 if !names.is_empty() => {
            let n = rng.pick(&names).clone();
            let to = match rng.below(4) {
                0 => format!("{n}_x"),
                1 => "_larder".to_string(),
                2 => format!("sub/{n}"),
                _ => "zarr.json.d".to_string(),
            };
            move_node(case, &n, &to);
        }
        4 => {
            // An array of another group added beside the columns (as `copy x.npy g.zarr:/x`).
            let theirs = nodes(other);
            if let Some(n) = (!theirs.is_empty()).then(|| rng.pick(&theirs).clone()) {
                let prefix = format!("{TARGET}/{n}/");
                let added = if rng.one_in(2) { "extra".to_string() } else { format!("deep/{n}") };
                for (k, v) in other.files.iter().filter(|(k, _)| k.starts_with(&prefix)) {
                    case.files
                        .insert(format!("{TARGET}/{added}/{}", &k[prefix.len()..]), v.clone());
                }
            }
        }
        5 => {
            let jsons: Vec<String> =
                case.files.keys().filter(|k| k.ends_with("zarr.json")).cloned().collect();
            if !jsons.is_empty() {
                let k = rng.pick(&jsons).clone();
                let m = edits::json(rng, &case.files[&k]);
                case.files.insert(k, m);
            }
        }
        _ => {
            let keys: Vec<String> = case.files.keys().cloned().collect();
            if !keys.is_empty() {
                let k = rng.pick(&keys).clone();
                let b = case.files.get_mut(&k).expect("listed");
                edits::bytes(rng, b, &[]);
            }
        }
    }
    // A file where a move put a directory (or the other way) cannot be written: the file goes.
    let keys: Vec<String> = case.files.keys().cloned().collect();
    case.files.retain(|k, _| !keys.iter().any(|o| o.starts_with(&format!("{k}/"))));
}

/// The library pass: describe the group, copy it back to a dataset and read that.
pub(crate) fn library(dir: &Path) {
    let g = dir.join(TARGET);
    if let Ok(storage) = larder::zarr::group::local_read_storage(&g) {
        let _ = larder::ops::group::describe_group(storage, "/", &g);
    }
    let _ = larder::info(&g);
    let back = dir.join("lib-back");
    if larder::copy(&g, &back).is_ok() {
        let _ = larder::ops::info::dataset_info(&back);
    }
}

/// The binary's commands.
pub(crate) fn commands() -> Vec<Vec<String>> {
    let v = |a: &[&str]| a.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    vec![
        v(&["info", TARGET]),
        v(&["cat", TARGET]),
        v(&["copy", TARGET, "back", "-q"]),
        v(&["stats", TARGET]),
    ]
}
