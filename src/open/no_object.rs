//! Object storage in a build without the `s3` feature: every location is refused, by name.

use crate::dtype::{Element, ElementType};
use crate::error::Result;
use crate::remote::{ObjectUrl, S3Options, not_built};

use super::{DynStore, ObjectFacts};

pub(super) fn read_storage(
    url: &ObjectUrl,
    _options: &S3Options,
) -> Result<crate::zarr::group::ReadStorage> {
    Err(not_built(&url.to_string()))
}

pub(super) fn element_of(url: &ObjectUrl, _options: &S3Options) -> Result<ElementType> {
    Err(not_built(&url.to_string()))
}

pub(super) fn open_typed<T: Element>(url: &ObjectUrl, _options: &S3Options) -> Result<DynStore<T>> {
    Err(not_built(&url.to_string()))
}

pub(super) fn facts(url: &ObjectUrl, _options: &S3Options) -> Result<ObjectFacts> {
    Err(not_built(&url.to_string()))
}
