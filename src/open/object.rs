//! Arrays in object storage (feature `s3`): what is at an `s3://` location, and its store.

use crate::dtype::{Element, ElementType};
use crate::error::{Error, Result};
use crate::npy::{RemoteNpy, read_remote_header};
use crate::remote::{Bucket, ObjectUrl, S3Options};
use crate::store::Format;
use crate::zarr::StorageArray;

use super::{DynStore, ObjectFacts};

/// What the location holds: an object with the `.npy` magic, or Zarr metadata under the
/// prefix.
pub(super) fn detect(bucket: &Bucket, url: &ObjectUrl) -> Result<Format> {
    let here = url.to_string();
    if url.inner().is_none()
        && !url.key().is_empty()
        && let Some((head, _)) = bucket.get_start(url.key(), 8)?
    {
        if head.starts_with(b"\x93NUMPY") {
            return Ok(Format::Npy);
        }
        if head.starts_with(b"\x89HDF\r\n\x1a\n") {
            return Err(Error::remote(
                here,
                "HDF5 is not read from object storage; copy the file to a local disk first",
            ));
        }
        return Err(Error::remote(here, "not an .npy file or a Zarr hierarchy (unknown magic)"));
    }
    for meta in ["zarr.json", ".zarray", ".zgroup"] {
        // A GET of its first byte: the same one request as a HEAD, and readers see no HEAD.
        if bucket.get_start(&url.child_key(meta), 1)?.is_some() {
            return Ok(Format::Zarr);
        }
    }
    bucket.check()?;
    Err(Error::remote(here, "nothing there: no such object, and no Zarr metadata under it"))
}

/// The storage handle of the hierarchy under `url`'s key.
pub(super) fn read_storage(
    url: &ObjectUrl,
    options: &S3Options,
) -> Result<crate::zarr::group::ReadStorage> {
    Bucket::connect(url, options)?.read_storage(url.key())
}

/// `s3://bucket/key` without the inner path: what Zarr errors name.
fn label(url: &ObjectUrl) -> String {
    url.object(url.key())
}

pub(super) fn element_of(url: &ObjectUrl, options: &S3Options) -> Result<ElementType> {
    let bucket = Bucket::connect(url, options)?;
    match detect(&bucket, url)? {
        Format::Npy => Ok(read_remote_header(&bucket, url.key())?.dtype.element()),
        _ => StorageArray::<u8>::element_of(&bucket.storage(url.key())?, url.inner(), &label(url)),
    }
}

pub(super) fn open_typed<T: Element>(url: &ObjectUrl, options: &S3Options) -> Result<DynStore<T>> {
    let bucket = Bucket::connect(url, options)?;
    // Requests wait on the network: a read keeps as many in flight as a copy sends.
    if detect(&bucket, url)? == Format::Npy {
        let mut a = RemoteNpy::<T>::open(&bucket, url.key())?;
        a.concurrency(options.requests_in_flight());
        return Ok(Box::new(a));
    }
    let mut a = StorageArray::<T>::open(bucket.storage(url.key())?, url.inner(), &label(url))?;
    a.concurrency(options.requests_in_flight());
    Ok(Box::new(a))
}

/// What `larder info` reports of an object location beyond its store: the bytes stored (the
/// object, or every object under the prefix) and, for Zarr, the format version and inner chunk
/// shape.
pub(super) fn facts(url: &ObjectUrl, options: &S3Options) -> Result<ObjectFacts> {
    let bucket = Bucket::connect(url, options)?;
    if detect(&bucket, url)? == Format::Npy {
        return Ok(ObjectFacts { bytes: bucket.size(url.key())?.unwrap_or(0), zarr: None });
    }
    let storage = bucket.storage(url.key())?;
    let zarr = StorageArray::<u8>::version_and_inner(&storage, url.inner(), &label(url))?;
    let bytes = bucket.list(url.key())?.iter().map(|(_, n)| n).sum();
    Ok(ObjectFacts { bytes, zarr: Some(zarr) })
}
