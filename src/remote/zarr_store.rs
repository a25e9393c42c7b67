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

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, coalesce_ranges};
use zarrs::storage::byte_range::{ByteRange, ByteRangeIterator};
use zarrs::storage::{
    AsyncListableStorageTraits, AsyncMaybeBytesIterator, AsyncReadableStorageTraits,
    AsyncWritableStorageTraits, Bytes, MaybeBytes, OffsetBytesIterator, StorageError, StoreKey,
    StoreKeys, StoreKeysPrefixes, StorePrefix, async_store_set_partial_many,
};

use super::cache::{ChunkCache, Span};

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
///
/// Every read is one GET per object or per group of neighbouring ranges, never a HEAD: a
/// range open at its end (`bytes=N-`, a suffix `bytes=-N` such as a shard index) is sent as
/// it is and the server resolves it against the object's length; bounded ranges of one object
/// closer than `gap` bytes are fetched together (`object_store::coalesce_ranges`).
///
/// zarrs asks for the chunks inside a shard one at a time. A reader that knows it needs
/// several (`zarr::storage` reading across chunks of a shard) asks for all their ranges in one
/// call first: they are fetched together and each is held in a read-ahead area until zarrs'
/// own request for exactly that range takes it (once), so the chunks of a shard cost one
/// request between them. The area holds at most [`READ_AHEAD`] bytes, oldest dropped first.
pub(crate) struct VerbatimStore<T> {
    inner: T,
    /// Ranges of one object closer than this are fetched in one request.
    gap: u64,
    /// Objects and ranges read before, when the connection keeps them.
    cache: Option<Arc<ChunkCache>>,
    /// Ranges fetched together ahead of the requests for each of them.
    ahead: ChunkCache,
}

/// Bytes the read-ahead area of a store holds at most.
const READ_AHEAD: u64 = 256 << 20;

impl<T: ObjectStore> VerbatimStore<T> {
    pub(crate) fn new(inner: T, gap: u64, cache: Option<Arc<ChunkCache>>) -> Self {
        VerbatimStore { inner, gap, cache, ahead: ChunkCache::new(READ_AHEAD) }
    }

    /// The bytes of each of `ranges` of the object `key` (at `path`), in order; `None` when
    /// there is no such object.
    async fn fetch_ranges(
        &self,
        key: &str,
        path: &Path,
        ranges: &[ByteRange],
    ) -> Result<Option<Vec<Bytes>>, StorageError> {
        let mut out: Vec<Option<Bytes>> = ranges
            .iter()
            .map(|r| {
                let empty = matches!(r, ByteRange::FromStart(_, Some(0)) | ByteRange::Suffix(0));
                if empty { Some(Bytes::new()) } else { self.cached(key, *r) }
            })
            .collect();
        // Bounded ranges: coalesced into as few GETs as the gap allows.
        let bounded: Vec<(usize, std::ops::Range<u64>)> = ranges
            .iter()
            .enumerate()
            .filter(|(i, _)| out[*i].is_none())
            .filter_map(|(i, r)| match *r {
                ByteRange::FromStart(at, Some(n)) => Some((i, at..at.saturating_add(n))),
                _ => None,
            })
            .collect();
        if !bounded.is_empty() {
            let spans: Vec<std::ops::Range<u64>> = bounded.iter().map(|(_, r)| r.clone()).collect();
            let fetch = |r| self.inner.get_range(path, r);
            let got = if self.gap == 0 {
                // No coalescing: a request per range, as many at once as coalescing allows.
                stream::iter(spans).map(fetch).buffered(10).try_collect().await
            } else {
                coalesce_ranges(&spans, fetch, self.gap).await
            };
            let Some(got) = not_found_is_none(got)? else { return Ok(None) };
            for ((i, span), bytes) in bounded.into_iter().zip(got) {
                let want = span.end - span.start;
                if bytes.len() as u64 != want {
                    return Err(StorageError::Other(format!(
                        "asked for {want} bytes at offset {} of {key}, the server sent {}",
                        span.start,
                        bytes.len()
                    )));
                }
                self.keep(key, ranges[i], &bytes);
                if ranges.len() > 1 {
                    self.ahead.put(key, Span::of(ranges[i]), bytes.clone());
                }
                out[i] = Some(bytes);
            }
        }
        // Ranges open at one end: a GET each, resolved by the server.
        for (i, r) in ranges.iter().enumerate() {
            if out[i].is_some() {
                continue;
            }
            let range = match *r {
                ByteRange::FromStart(0, None) => None,
                ByteRange::FromStart(at, None) => Some(GetRange::Offset(at)),
                ByteRange::Suffix(n) => Some(GetRange::Suffix(n)),
                ByteRange::FromStart(..) => continue,
            };
            let options = GetOptions { range, ..GetOptions::default() };
            let Some(got) = not_found_is_none(self.inner.get_opts(path, options).await)? else {
                return Ok(None);
            };
            let bytes = other(got.bytes().await)?;
            self.keep(key, *r, &bytes);
            out[i] = Some(bytes);
        }
        out.into_iter()
            .map(|b| b.ok_or_else(|| StorageError::Other(format!("a range of {key} was not read"))))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    fn cached(&self, key: &str, range: ByteRange) -> Option<Bytes> {
        let span = Span::of(range);
        if let Some(bytes) = self.ahead.take(key, span) {
            return Some(bytes);
        }
        self.cache.as_ref()?.get(key, span)
    }

    fn keep(&self, key: &str, range: ByteRange, bytes: &Bytes) {
        if let Some(c) = &self.cache {
            c.put(key, Span::of(range), bytes.clone());
        }
    }

    fn forget(&self, key: &str) {
        self.ahead.forget(key);
        if let Some(c) = &self.cache {
            c.forget(key);
        }
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
        if let Some(bytes) = self.cached(key.as_str(), ByteRange::FromStart(0, None)) {
            return Ok(Some(bytes));
        }
        let path = path_of(key.as_str())?;
        match not_found_is_none(self.inner.get(&path).await)? {
            Some(got) => {
                let bytes = other(got.bytes().await)?;
                self.keep(key.as_str(), ByteRange::FromStart(0, None), &bytes);
                Ok(Some(bytes))
            }
            None => Ok(None),
        }
    }

    async fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<AsyncMaybeBytesIterator<'a>, StorageError> {
        let path = path_of(key.as_str())?;
        let ranges: Vec<ByteRange> = byte_ranges.collect();
        let Some(got) = self.fetch_ranges(key.as_str(), &path, &ranges).await? else {
            return Ok(None);
        };
        Ok(Some(stream::iter(got.into_iter().map(Ok)).boxed()))
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
        self.forget(key.as_str());
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
        self.forget(key.as_str());
        let path = path_of(key.as_str())?;
        not_found_is_none(self.inner.delete(&path).await).map(drop)
    }

    async fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        self.ahead.forget_prefix(prefix.as_str());
        if let Some(c) = &self.cache {
            c.forget_prefix(prefix.as_str());
        }
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
