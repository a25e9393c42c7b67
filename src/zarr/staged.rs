//! [`StagedArray`]: a new array added to an existing local Zarr store that no reader sees
//! until it is whole.
//!
//! The order, which these parts must keep together:
//! 1. the hierarchy rules (`hierarchy`) are checked; nothing is written before;
//! 2. the array is written, chunks first, as a root array in a staging directory
//!    `.NAME.larder-tmp-PID` beside its final place (a directory without `zarr.json` in the
//!    place of a node is no node, so no Zarr reader lists it);
//! 3. [`StagedArray::publish`] writes its `zarr.json` last inside the staging directory,
//!    then any missing parent group (never over a node), then renames the directory into
//!    place: the node appears whole, in one rename.
//!
//! A failure before 3 removes the staging directory (and any directory made for it); a kill
//! leaves it, and the next copy to the same place removes it once its process is gone
//! ([`TempGuard::beside`]).

use std::path::{Path, PathBuf};

use super::{ZarrArray, ZarrOptions, array_builder, hierarchy, node_path, store_at, zerr};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::fsutil::TempGuard;

/// A new array at a node of an existing local store, written under a staging name (see the
/// module docs).
#[derive(Debug)]
pub struct StagedArray<T: Element> {
    /// Rooted at the staging directory; dropped before `place`.
    array: ZarrArray<T>,
    root: PathBuf,
    node: String,
    place: Place,
}

/// The staging directory and the directories made to hold it: removed when dropped unless
/// published.
#[derive(Debug)]
struct Place {
    staging: Option<TempGuard>,
    /// The topmost directory made for the staging directory.
    made: Option<PathBuf>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let Some(staging) = self.staging.take() else { return };
        let mut dir = staging.path().parent().map(Path::to_path_buf);
        drop(staging);
        let Some(top) = self.made.take() else { return };
        // Only directories this copy made, and only while empty.
        while let Some(d) = dir {
            if std::fs::remove_dir(&d).is_err() || d == top {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
    }
}

/// The topmost ancestor of `dir` (or `dir` itself) that does not exist yet.
fn first_missing(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.as_os_str().is_empty() || d.exists() {
            break;
        }
        missing = Some(d.to_path_buf());
        at = d.parent();
    }
    missing
}

impl<T: Element> StagedArray<T> {
    /// Starts a new array of `shape` at `inner` (not the root) of the existing store at
    /// `root`. Checks what [`ZarrArray::create`] checks; writes nothing where a reader looks.
    ///
    /// # Errors
    /// As [`ZarrArray::create`]; [`Error::Invalid`] also when a directory that is no Zarr node
    /// is in the node's place.
    pub fn create(
        root: &Path,
        inner: &str,
        shape: &[usize],
        options: &ZarrOptions,
    ) -> Result<Self> {
        let node = node_path(Some(inner));
        hierarchy::check_node_path(root, &node)?;
        if node == "/" || !root.is_dir() {
            return Err(Error::internal("a staged Zarr array goes below the root of a store"));
        }
        super::check_new_node(root, &node)?;
        let builder = array_builder::<T>(root, shape, options)?;
        let final_dir = root.join(node.trim_start_matches('/'));
        if std::fs::symlink_metadata(&final_dir).is_ok() {
            return Err(Error::invalid(
                root,
                format!(
                    "{node} is taken by a file or directory that is no Zarr node; remove it or \
                     choose another path"
                ),
            ));
        }
        let parent = final_dir.parent().unwrap_or(root).to_path_buf();
        let made = first_missing(&parent);
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let place = Place { staging: Some(TempGuard::beside(&final_dir)), made };
        let dir = place.staging.as_ref().map(|s| s.path().to_path_buf()).unwrap_or_default();
        std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let array = builder.build(store_at(&dir)?, "/").map_err(|e| zerr(root, e))?;
        let array = ZarrArray::from_array(&dir, array, true)?;
        Ok(StagedArray { array, root: root.to_path_buf(), node, place })
    }

    /// The array being written (its chunks go to the staging directory).
    pub fn array(&self) -> &ZarrArray<T> {
        &self.array
    }

    /// Makes the array visible at its node: its metadata, any missing parent group, then one
    /// rename (see the module docs).
    ///
    /// # Errors
    /// [`Error::Invalid`] when a node appeared in its place meanwhile; [`Error::Io`] /
    /// [`Error::Storage`] for write errors. The staging directory is then removed.
    pub fn publish(mut self) -> Result<()> {
        crate::sys::check_interrupt()?;
        let meta_options =
            zarrs::array::ArrayMetadataOptions::default().with_include_zarrs_metadata(false);
        self.array
            .array
            .get()
            .store_metadata_opt(&meta_options)
            .map_err(|e| zerr(&self.root, e))?;
        let store = store_at(&self.root)?;
        hierarchy::create_parent_groups(&*store, &self.root, &self.node)?;
        let final_dir = self.root.join(self.node.trim_start_matches('/'));
        if std::fs::symlink_metadata(&final_dir).is_ok() {
            return Err(Error::invalid(
                &self.root,
                format!("{} appeared while the copy ran; nothing was replaced", self.node),
            ));
        }
        if let Some(guard) = self.place.staging.take() {
            guard.commit(&final_dir)?;
        }
        self.place.made = None;
        Ok(())
    }
}
