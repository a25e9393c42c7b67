//! zarrs' asynchronous storage traits over an `object_store` client, with every Zarr key used
//! as the object's key byte for byte.
//!
//! This is `zarrs_object_store`'s `AsyncObjectStore` (MIT or Apache-2.0) with one change, and
//! the reason it is ours: that crate turns a key into an `object_store` path with
//! `Path::from`, which percent-encodes non-ASCII and `~ # ? % [ ] * \ { } ^ | < > "` in each
//! segment. `café.zarr/zarr.json` was then stored as `caf%C3%A9.zarr/zarr.json`, which boto3,
//! obstore and zarr-python do not find, and what they wrote under such names was missing to
//! larder. Here a key becomes a path with [`key_path`] (`Path::parse`, which keeps the text as
//! it is: the request layer percent-encodes the URL, and the server decodes it back), and a
//! listed path becomes a key as it is. Both directions must stay verbatim together.

use futures::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    AsyncListableStorageTraits, AsyncMaybeBytesIterator, AsyncReadableStorageTraits,
    AsyncWritableStorageTraits, Bytes, MaybeBytes, OffsetBytesIterator, StorageError, StoreKey,
    StoreKeys, StoreKeysPrefixes, StorePrefix, async_store_set_partial_many,
};

/// The object path of `key` (a Zarr key or a listing prefix), exactly as written; a key that
/// no object can have (a control character, an empty, `.` or `..` segment) is an error.
pub(crate) fn key_path(key: &str) -> Result<Path, object_store::path::Error> {
    Path::parse(key)
}

fn path_of(key: &str) -> Result<Path, StorageError> {
    key_path(key).map_err(|e| StorageError::Other(format!("key {key:?}: {e}")))
}

fn not_found_is_none<T>(result: Result<T, object_store::Error>) -> Result<Option<T>, StorageError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(StorageError::Other(e.to_string())),
    }
}

fn other<T>(result: Result<T, object_store::Error>) -> Result<T, StorageError> {
    result.map_err(|e| StorageError::Other(e.to_string()))
}

/// An asynchronous Zarr store over an [`ObjectStore`], keys verbatim.
pub(crate) struct VerbatimStore<T> {
    inner: T,
}

impl<T: ObjectStore> VerbatimStore<T> {
    pub(crate) fn new(inner: T) -> Self {
        VerbatimStore { inner }
    }

    async fn keys_below(&self, prefix: Option<&Path>) -> Result<StoreKeys, StorageError> {
        let metas: Vec<object_store::ObjectMeta> =
            other(self.inner.list(prefix).try_collect().await)?;
        let mut keys = metas
            .into_iter()
            .map(|m| StoreKey::new(m.location.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort();
        Ok(keys)
    }

    async fn bytes_below(&self, prefix: Option<&Path>) -> Result<u64, StorageError> {
        let mut metas = self.inner.list(prefix);
        let mut size = 0;
        while let Some(meta) = metas.next().await {
            size += other(meta)?.size;
        }
        Ok(size)
    }
}

fn prefix_path(prefix: &StorePrefix) -> Result<Option<Path>, StorageError> {
    let p = prefix.as_str();
    if p.is_empty() { Ok(None) } else { path_of(p).map(Some) }
}

#[async_trait::async_trait]
impl<T: ObjectStore> AsyncReadableStorageTraits for VerbatimStore<T> {
    async fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        let path = path_of(key.as_str())?;
        match not_found_is_none(self.inner.get(&path).await)? {
            Some(got) => Ok(Some(other(got.bytes().await)?)),
            None => Ok(None),
        }
    }

    async fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<AsyncMaybeBytesIterator<'a>, StorageError> {
        let Some(size) = self.size_key(key).await? else {
            return Ok(None);
        };
        let path = path_of(key.as_str())?;
        let ranges = byte_ranges.map(|r| r.to_range(size)).collect::<Vec<_>>();
        let Some(got) = not_found_is_none(self.inner.get_ranges(&path, &ranges).await)? else {
            return Ok(None);
        };
        let key = key.to_string();
        let result = std::iter::zip(ranges, got).map(move |(range, bytes)| {
            let want = range.end.saturating_sub(range.start);
            if want == bytes.len() as u64 {
                Ok(bytes)
            } else {
                Err(StorageError::Other(format!(
                    "asked for {want} bytes of {key}, the server sent {}",
                    bytes.len()
                )))
            }
        });
        Ok(Some(stream::iter(result).boxed()))
    }

    async fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        let path = path_of(key.as_str())?;
        Ok(not_found_is_none(self.inner.head(&path).await)?.map(|meta| meta.size))
    }

    fn supports_get_partial(&self) -> bool {
        true
    }
}

#[async_trait::async_trait]
impl<T: ObjectStore> AsyncWritableStorageTraits for VerbatimStore<T> {
    async fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        let path = path_of(key.as_str())?;
        other(self.inner.put(&path, value.into()).await).map(drop)
    }

    async fn set_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator<'a>,
    ) -> Result<(), StorageError> {
        async_store_set_partial_many(self, key, offset_values).await
    }

    async fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        let path = path_of(key.as_str())?;
        not_found_is_none(self.inner.delete(&path).await).map(drop)
    }

    async fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        let prefix = prefix_path(prefix)?;
        let locations = self.inner.list(prefix.as_ref()).map_ok(|m| m.location).boxed();
        other(self.inner.delete_stream(locations).try_collect::<Vec<Path>>().await).map(drop)
    }

    fn supports_set_partial(&self) -> bool {
        false
    }
}

#[async_trait::async_trait]
impl<T: ObjectStore> AsyncListableStorageTraits for VerbatimStore<T> {
    async fn list(&self) -> Result<StoreKeys, StorageError> {
        self.keys_below(None).await
    }

    async fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        self.keys_below(prefix_path(prefix)?.as_ref()).await
    }

    async fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        let listed = other(self.inner.list_with_delimiter(prefix_path(prefix)?.as_ref()).await)?;
        let mut prefixes = listed
            .common_prefixes
            .iter()
            .map(|p| StorePrefix::new(format!("{}/", p.as_ref())))
            .collect::<Result<Vec<_>, _>>()?;
        let mut keys = listed
            .objects
            .iter()
            .map(|m| StoreKey::new(m.location.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort();
        prefixes.sort();
        Ok(StoreKeysPrefixes::new(keys, prefixes))
    }

    async fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        self.bytes_below(prefix_path(prefix)?.as_ref()).await
    }

    async fn size(&self) -> Result<u64, StorageError> {
        self.bytes_below(None).await
    }
}

#[cfg(test)]
mod tests {
    use super::key_path;

    #[test]
    fn keys_become_object_paths_byte_for_byte() {
        for key in ["café~1.npy", "a b/[x]*?#%41\\y", "proj/é~x.zarr/c/0/0", "naïve.npy"] {
            assert_eq!(key_path(key).unwrap().as_ref(), key);
        }
        for bad in ["a/\u{1}/b", "a//b", "a/../b"] {
            assert!(key_path(bad).is_err(), "{bad}");
        }
    }
}
