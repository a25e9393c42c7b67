//! [`StagedDataset`]: a new dataset added to an existing HDF5 file that appears at its name
//! only when every chunk is written.
//!
//! The order, which these parts must keep together:
//! 1. the name is checked (no dataset in the way, nothing at the name); nothing is written
//!    before, and staging datasets that killed copies left (`/.NAME.larder-tmp-PID` of a
//!    process that is gone) are unlinked;
//! 2. the dataset is created and written in the root group under the staging name
//!    `/.NAME.larder-tmp-PID`;
//! 3. [`StagedDataset::publish`] creates any missing parent group and moves the link to its
//!    name (`H5Lmove`), then flushes the file.
//!
//! A failure (or an interrupt, which larder turns into one) before 3 unlinks the staging
//! dataset; a kill leaves it, and the next copy to the same name unlinks it.

use std::path::Path;

use super::{Hdf5Array, create_as, herr};
use crate::dtype::{Element, ElementType};
use crate::error::{Error, Result};
use crate::fsutil::{process_may_live, temp_owner};

/// A new dataset in an existing HDF5 file, written under a staging name (see the module
/// docs). Unlinked when dropped unless published.
#[derive(Debug)]
pub struct StagedDataset<T: Element> {
    array: Option<Hdf5Array<T>>,
    /// The final name, `/group/name`.
    name: String,
}

/// The parts of a dataset name (`/a/b/x` -> `a`, `b`, `x`), refusing empty ones.
fn parts<'a>(path: &Path, name: &'a str) -> Result<Vec<&'a str>> {
    let parts: Vec<&str> = name.trim_matches('/').split('/').collect();
    if parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
        return Err(Error::invalid(
            path,
            format!("invalid dataset name /{}", name.trim_matches('/')),
        ));
    }
    Ok(parts)
}

impl<T: Element> StagedDataset<T> {
    /// Starts dataset `inner` (default `/data`) of `shape` in the existing HDF5 file at
    /// `path`, chunked by `chunks` and gzip-compressed at `gzip` if given, its chunks filled
    /// with zeros until written.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the name is taken or a dataset is in its way;
    /// [`Error::Storage`] if the file cannot be opened or the dataset created.
    pub fn create(
        path: &Path,
        inner: Option<&str>,
        shape: &[usize],
        chunks: &[usize],
        gzip: Option<u8>,
    ) -> Result<Self> {
        let name = format!("/{}", inner.unwrap_or("/data").trim_matches('/'));
        let parts = parts(path, &name)?;
        if chunks.len() != shape.len() {
            return Err(Error::argument(format!(
                "chunk shape {chunks:?} does not fit an array of shape {shape:?}"
            )));
        }
        let file = super::open_file(path, super::Open::Append)?;
        let mut at = String::new();
        for (i, part) in parts.iter().enumerate() {
            at.push('/');
            at.push_str(part);
            if !file.link_exists(&at) {
                break;
            }
            if i + 1 == parts.len() {
                return Err(Error::invalid(
                    path,
                    format!("{name} already exists in the file; choose another dataset name"),
                ));
            }
            if file.group(&at).is_err() {
                return Err(Error::invalid(
                    path,
                    format!("{at} is a dataset, which cannot hold {name}; choose another name"),
                ));
            }
        }
        let leaf = parts[parts.len() - 1];
        for member in file.member_names().map_err(|e| herr(path, e))? {
            if let Some(pid) = temp_owner(leaf, &member)
                && (pid == std::process::id() || !process_may_live(pid))
            {
                file.unlink(&member).map_err(|e| herr(path, e))?;
            }
        }
        let staging = format!("/.{leaf}.larder-tmp-{}", std::process::id());
        let chunks: Vec<usize> =
            chunks.iter().zip(shape).map(|(&c, &n)| c.min(n.max(1)).max(1)).collect();
        let root = file.as_group().map_err(|e| herr(path, e))?;
        h5_typed!(T, create_as(&root, &staging[1..], shape, &chunks, gzip, true))
            .map_err(|e| herr(path, e))?;
        drop(root);
        // The staging link is on disk before any chunk: a kill leaves it for the next run.
        file.flush().map_err(|e| herr(path, e))?;
        match Hdf5Array::from_file(path, file, Some(&staging), true) {
            Ok(a) => Ok(StagedDataset { array: Some(a), name }),
            Err(e) => {
                if let Ok(f) = super::open_file(path, super::Open::Write) {
                    let _ = f.unlink(&staging);
                }
                Err(e)
            }
        }
    }

    /// The dataset being written.
    ///
    /// # Errors
    /// [`Error::Internal`] once published.
    pub fn array(&mut self) -> Result<&mut Hdf5Array<T>> {
        self.array.as_mut().ok_or_else(|| Error::internal("staged dataset already published"))
    }

    /// Gives the dataset its name: creates any missing parent group, moves the link, flushes.
    ///
    /// # Errors
    /// [`Error::Invalid`] if a node took the name meanwhile; [`Error::Storage`] from libhdf5.
    /// The staging dataset is then unlinked.
    pub fn publish(mut self) -> Result<()> {
        crate::sys::check_interrupt()?;
        let a = self.array()?;
        let path = a.path.clone();
        let staging = a.name.clone();
        let file = a.file.clone();
        let parts = parts(&path, &self.name)?;
        let mut group = file.as_group().map_err(|e| herr(&path, e))?;
        for part in &parts[..parts.len() - 1] {
            group = match group.group(part) {
                Ok(g) => g,
                Err(_) => group.create_group(part).map_err(|e| herr(&path, e))?,
            };
        }
        if file.link_exists(&self.name) {
            return Err(Error::invalid(
                &path,
                format!("{} appeared while the copy ran; nothing was replaced", self.name),
            ));
        }
        file.relink(&staging, &self.name).map_err(|e| herr(&path, e))?;
        file.flush().map_err(|e| herr(&path, e))?;
        self.array = None;
        Ok(())
    }
}

impl<T: Element> Drop for StagedDataset<T> {
    fn drop(&mut self) {
        if let Some(a) = self.array.take() {
            let (file, staging) = (a.file.clone(), a.name.clone());
            drop(a);
            let _ = file.unlink(&staging);
            let _ = file.flush();
        }
    }
}
