//! Computing on a dataset group where it lives: the columns a command reads, decoded from the
//! group's chunks into a scratch dataset directory that every dataset reader then maps.
//!
//! A [`GroupSource`] opens a Zarr group (a local directory, `DIR.zarr:/node`, or
//! `s3://bucket/prefix[.zarr:/node]`), reads its manifest (the `larder` attribute, or one made
//! from the arrays of a group larder did not write) and writes nothing else until a command
//! names its columns: [`GroupSource::dataset`] then decodes those columns, and only those,
//! chunk by chunk (a batch of one chunk per core in memory at a time), with the decoding a
//! copy back to a dataset does — categorical codes and their categories, strings, CF
//! datetimes, missing values as fill value or mask. The kernels of `stats`, `groupby`, `cat`
//! and `--where` are the dataset's own, so their answers are the dataset's byte for byte.
//!
//! The scratch directory is in the system's temporary directory (`TMPDIR`) and is removed
//! when the source is dropped. Its size is the decoded size of the columns read (8 bytes a
//! row for a `float64` column), never the whole group unless the command reads every column.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::restore::{self, Part};
use super::{LarderAttribute, ReadStorage};
use crate::dataset::{Dataset, Manifest, ManifestColumn};
use crate::error::{Error, Result};
use crate::fsutil::TempGuard;
use crate::open::Place;
use crate::zarr::group::GroupReader;

/// A dataset group opened for computing (see the module docs).
pub struct GroupSource {
    reader: GroupReader,
    storage: ReadStorage,
    node: String,
    larder: Option<LarderAttribute>,
    manifest: Manifest,
    /// The group as errors name it: `DIR.zarr`, `DIR.zarr:/node`, `s3://bucket/prefix`.
    label: PathBuf,
    /// The scratch dataset directory, removed on drop.
    scratch: TempGuard,
    /// Columns decoded into it so far, by name.
    decoded: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for GroupSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupSource")
            .field("group", &self.reader.label())
            .field("node", &self.node)
            .field("scratch", &self.scratch.path())
            .finish_non_exhaustive()
    }
}

/// A fresh name for a scratch directory in the system's temporary directory.
fn scratch_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(".larder-group-{}-{n}-{nanos:08x}", std::process::id()))
}

impl GroupSource {
    /// Opens the group at `path` for computing, when `path` names one: a local directory
    /// whose `zarr.json` is a group (optionally `:/node` inside it), or an `s3://` prefix
    /// holding a group. `Ok(None)` when `path` is something else (a dataset directory, an
    /// array, a file), so the caller reads it as it did.
    ///
    /// # Errors
    /// For a group: [`Error::Invalid`] naming it when it is neither a group larder wrote nor
    /// a group of 1-d arrays of one length along one named dimension (saying what does not
    /// fit); [`Error::Format`] for a damaged `larder` attribute; [`Error::Remote`] or
    /// [`Error::Storage`] reading it; [`Error::Io`] creating the scratch directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Option<GroupSource>> {
        GroupSource::open_as(path.as_ref(), false)
    }

    /// [`GroupSource::open`] of a location that can only be a group (what `groupby` takes in
    /// object storage): an `s3://` location that is not one is an error saying why (no such
    /// group, the server's answer), not `None`.
    ///
    /// # Errors
    /// As [`GroupSource::open`]; as [`GroupReader::open`] for an object-storage location.
    pub fn open_group(path: impl AsRef<Path>) -> Result<Option<GroupSource>> {
        GroupSource::open_as(path.as_ref(), true)
    }

    fn open_as(path: &Path, required: bool) -> Result<Option<GroupSource>> {
        let Some((storage, node, label)) = group_location(path)? else { return Ok(None) };
        let reader = match GroupReader::open(storage.clone(), &node, &label) {
            Ok(r) => r,
            Err(e) if required || local_group_at(&label, &node) => return Err(e),
            // An s3:// prefix or a node that is not a group: read as an array, as before.
            Err(_) => return Ok(None),
        };
        let shown = shown(&label, &node);
        GroupSource::with_reader(reader, storage, node, shown).map(Some)
    }

    /// Opens the group holding the column array `path` names (`DIR.zarr:/ARRAY`,
    /// `s3://bucket/prefix.zarr:/ARRAY`, or below a node), with that column's name, when the
    /// array is a column of a group larder wrote (an array of another group is an array).
    ///
    /// # Errors
    /// As [`GroupSource::open`].
    pub fn open_column(path: impl AsRef<Path>) -> Result<Option<(GroupSource, String)>> {
        let path = path.as_ref();
        let Some((storage, node, label)) = group_location(path)? else { return Ok(None) };
        let Some((parent, array)) = node.rsplit_once('/').filter(|(_, a)| !a.is_empty()) else {
            return Ok(None);
        };
        let parent = if parent.is_empty() { "/" } else { parent };
        let Ok(reader) = GroupReader::open(storage.clone(), parent, &label) else {
            return Ok(None);
        };
        if restore::larder_attribute(&reader)?.is_none() {
            return Ok(None);
        }
        let shown = shown(&label, parent);
        let source = GroupSource::with_reader(reader, storage, parent.to_string(), shown)?;
        let name = source.column_of_array(array).map(|c| c.name.clone());
        Ok(name.map(|n| (source, n)))
    }

    fn with_reader(
        reader: GroupReader,
        storage: ReadStorage,
        node: String,
        label: PathBuf,
    ) -> Result<Self> {
        let larder = restore::larder_attribute(&reader)?;
        let scratch = TempGuard::new(scratch_path());
        std::fs::create_dir(scratch.path()).map_err(|e| Error::io(scratch.path(), e))?;
        let nothing = |_: &ManifestColumn| false;
        match &larder {
            Some(attr) => restore::restore(
                &reader,
                &storage,
                &node,
                attr,
                scratch.path(),
                &Part::Columns(&nothing),
            ),
            None => restore::import(&reader, scratch.path(), &nothing, false),
        }
        .map_err(|e| crate::fsutil::at_destination(e, scratch.path(), &label))?;
        let manifest = Manifest::read(scratch.path())
            .map_err(|e| crate::fsutil::at_destination(e, scratch.path(), &label))?;
        Ok(GroupSource {
            reader,
            storage,
            node,
            larder,
            manifest,
            label,
            scratch,
            decoded: Mutex::new(BTreeSet::new()),
        })
    }

    /// The group as its errors name it: the local directory or `s3://bucket/prefix`, with
    /// `:/node` for a group below the root.
    pub fn label(&self) -> &Path {
        &self.label
    }

    /// The dataset's manifest, as the group holds it.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// True when larder wrote the group from a dataset (its `larder` attribute).
    pub fn is_dataset_group(&self) -> bool {
        self.larder.is_some()
    }

    /// The scratch dataset directory holding (at least) the columns `names`, decoded from the
    /// group's chunks; a name may be a column's name or its header. Names that are not columns
    /// are left for the reader of the dataset to refuse, as it refuses them in a dataset.
    ///
    /// # Errors
    /// As [`GroupSource::open`]; [`Error::Invalid`] naming the group for an array that is
    /// missing or whose shape or type differs from the manifest's; [`Error::Storage`] for a
    /// chunk that does not decode.
    pub fn dataset(&self, names: &[&str]) -> Result<&Path> {
        let wanted: BTreeSet<String> = names
            .iter()
            .filter_map(|n| self.manifest.position(n).ok())
            .map(|i| self.manifest.columns[i].name.clone())
            .collect();
        self.decode(&|c| wanted.contains(&c.name))
    }

    /// The scratch dataset directory holding every column.
    ///
    /// # Errors
    /// As [`GroupSource::dataset`].
    pub fn whole(&self) -> Result<&Path> {
        self.decode(&|_| true)
    }

    /// The column whose array is `array` (the last part of `DIR.zarr:/ARRAY`), if one is.
    pub fn column_of_array(&self, array: &str) -> Option<&ManifestColumn> {
        match &self.larder {
            Some(attr) => attr
                .columns
                .iter()
                .position(|e| e.array == array)
                .and_then(|i| self.manifest.columns.get(i)),
            None => self.manifest.columns.iter().find(|c| c.name == array),
        }
    }

    /// `e`, an error of reading the scratch directory, told as one of reading the group: the
    /// scratch paths become paths below the group's label.
    pub fn relabel(&self, e: Error) -> Error {
        crate::fsutil::at_destination(e, self.scratch.path(), self.label())
    }

    fn decode(&self, want: &dyn Fn(&ManifestColumn) -> bool) -> Result<&Path> {
        let mut decoded = self.decoded.lock().map_err(|_| Error::internal("a decoder panicked"))?;
        let new = |c: &ManifestColumn| want(c) && !decoded.contains(&c.name);
        let dir = self.scratch.path();
        match &self.larder {
            Some(attr) => restore::restore(
                &self.reader,
                &self.storage,
                &self.node,
                attr,
                dir,
                &Part::Columns(&new),
            ),
            None => restore::import(&self.reader, dir, &new, false),
        }
        .map_err(|e| self.relabel(e))?;
        let names: Vec<String> =
            self.manifest.columns.iter().filter(|c| new(c)).map(|c| c.name.clone()).collect();
        decoded.extend(names);
        Ok(dir)
    }

    /// What `larder info` says of the group.
    ///
    /// # Errors
    /// As [`super::describe_group`].
    pub fn info(&self) -> Result<super::GroupInfo> {
        restore::describe_group(self.storage.clone(), &self.node, self.label())
    }

    /// The scratch directory as a [`Dataset`] (with the columns decoded so far).
    ///
    /// # Errors
    /// As [`Dataset::open`].
    pub fn open_dataset(&self) -> Result<Dataset> {
        Dataset::open(self.scratch.path()).map_err(|e| self.relabel(e))
    }
}

/// The group at `node` of the hierarchy `root` names, as a location a command takes.
fn shown(root: &Path, node: &str) -> PathBuf {
    if node == "/" {
        return root.to_path_buf();
    }
    let mut text = root.as_os_str().to_owned();
    text.push(":");
    text.push(node);
    PathBuf::from(text)
}

/// The storage, node and label of `path` when it may name a group: a local directory with a
/// `zarr.json` (or `DIR:/node` inside one), or an `s3://` location.
fn group_location(path: &Path) -> Result<Option<(ReadStorage, String, PathBuf)>> {
    let node_of = |inner: Option<&str>| match inner {
        None | Some("" | "/") => "/".to_string(),
        Some(i) => format!("/{}", i.trim_matches('/')),
    };
    match Place::parse(path)? {
        Place::Local(loc) => {
            if !loc.file.join("zarr.json").is_file() {
                return Ok(None);
            }
            let storage = crate::zarr::group::local_read_storage(&loc.file)?;
            Ok(Some((storage, node_of(loc.inner.as_deref()), loc.file)))
        }
        Place::Object(url) if url.extension().is_none_or(|e| e == "zarr") => {
            let label = PathBuf::from(url.object(url.key()));
            let storage = crate::open::read_storage(path)?;
            Ok(Some((storage, node_of(url.inner()), label)))
        }
        Place::Object(_) => Ok(None),
    }
}

/// True when `node` of the local directory `dir` is a group (whose errors are the
/// user's to see), not an array.
fn local_group_at(dir: &Path, node: &str) -> bool {
    let meta = dir.join(node.trim_start_matches('/')).join("zarr.json");
    std::fs::read(meta)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("node_type").and_then(serde_json::Value::as_str) == Some("group"))
}
