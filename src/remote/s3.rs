//! The connection to one bucket of an S3-compatible server, through the `object_store` crate,
//! with a synchronous face: each call blocks on one tokio runtime the process shares.
//!
//! zarrs' storage API is synchronous; `zarrs_object_store` gives an asynchronous store over any
//! `object_store` client, and zarrs' `AsyncToSyncStorageAdapter` turns it into a synchronous
//! one by blocking on the runtime here ([`BlockOn`]). Callers are plain threads (the copy's
//! workers, rayon's pool), never the runtime's own, where blocking would panic.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjPath;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, ClientConfigKey, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig, WriteMultipart,
};
use zarrs::storage::storage_adapter::async_to_sync::{
    AsyncToSyncBlockOn, AsyncToSyncStorageAdapter,
};
use zarrs::storage::{ReadableListableStorageTraits, ReadableWritableListableStorageTraits};

use super::cache::ChunkCache;
use super::zarr_store::{VerbatimStore, key_path};
use super::{ObjectUrl, S3Options};
use crate::error::{Error, Result};

/// A zarrs storage handle: what zarrs arrays and groups are opened and created on.
pub type StorageHandle = Arc<dyn ReadableWritableListableStorageTraits>;

/// The runtime every connection's requests run on.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("larder-s3")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::remote("s3://", format!("cannot start the I/O runtime: {e}")))
}

/// Blocks the calling thread on the shared runtime (for zarrs' sync adapter).
pub(crate) struct BlockOn(tokio::runtime::Handle);

impl AsyncToSyncBlockOn for BlockOn {
    fn block_on<F: core::future::Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
}

/// One bucket of an S3-compatible server, with the retry policy of its [`S3Options`].
#[derive(Clone)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    name: String,
    runtime: &'static tokio::runtime::Runtime,
    options: S3Options,
    /// The instance metadata service's URL when credentials come from nowhere else (no
    /// `AWS_ACCESS_KEY_ID`, web identity or container credentials): `object_store` then asks
    /// that service, which off an AWS machine fails with a 403 or a timeout about a URL the user
    /// never gave. An error that names it is told as missing credentials.
    metadata_service: Option<String>,
    /// The chunks this connection read, when [`S3Options::cache`] asks for a cache.
    cache: Option<Arc<ChunkCache>>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("name", &self.name).finish_non_exhaustive()
    }
}

/// `object_store`'s error as ours, naming the object; a missing object is `None` to callers
/// that ask for it.
fn object_error(url: String, e: &object_store::Error) -> Error {
    let reason = match e {
        object_store::Error::NotFound { .. } => "no such object".to_string(),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            format!("access denied (check the credentials and the bucket's policy): {e}")
        }
        _ => e.to_string(),
    };
    Error::remote(url, reason)
}

fn duration(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}

impl Bucket {
    /// Connects to the bucket of `url` (no request is sent yet).
    ///
    /// # Errors
    /// [`Error::Remote`] when the options or the AWS variables do not make a valid client.
    pub fn connect(url: &ObjectUrl, options: &S3Options) -> Result<Bucket> {
        // `reqwest` is built without a TLS provider of its own; rustls uses `ring`'s. rustls
        // deprecates it for lacking post-quantum key exchange, which only aws-lc offers; ring
        // is chosen to keep the build free of aws-lc's C and assembly toolchain.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = AmazonS3Builder::from_env().with_bucket_name(url.bucket());
        if let Some(endpoint) = &options.endpoint {
            b = b.with_endpoint(endpoint);
        }
        if let Some(allow) = options.allow_http {
            b = b.with_allow_http(allow);
        }
        let endpoint = b.get_config_value(&AmazonS3ConfigKey::Endpoint).unwrap_or_default();
        let allow_http = b.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp));
        if endpoint.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"))
            && allow_http.as_deref() != Some("true")
        {
            return Err(Error::remote(
                url.to_string(),
                format!(
                    "the endpoint {endpoint} (from AWS_ENDPOINT_URL) is plain HTTP, which is \
                     refused unless AWS_ALLOW_HTTP=true is set; an http:// URL given with \
                     --endpoint allows it"
                ),
            ));
        }
        b = b
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                duration(options.timeout),
            )
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                duration(options.connect_timeout),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: options.backoff.0,
                    max_backoff: options.backoff.1,
                    base: 2.0,
                },
                max_retries: options.retries,
                retry_timeout: options.retry_timeout,
            });
        let set = |k: AmazonS3ConfigKey| b.get_config_value(&k).is_some();
        let metadata_service = (!set(AmazonS3ConfigKey::AccessKeyId)
            && !set(AmazonS3ConfigKey::WebIdentityTokenFile)
            && !set(AmazonS3ConfigKey::ContainerCredentialsRelativeUri)
            && !set(AmazonS3ConfigKey::ContainerCredentialsFullUri))
        .then(|| {
            b.get_config_value(&AmazonS3ConfigKey::MetadataEndpoint)
                .unwrap_or_else(|| "http://169.254.169.254".to_string())
        });
        let store = b.build().map_err(|e| Error::remote(url.to_string(), e.to_string()))?;
        Ok(Bucket {
            store: Arc::new(store),
            name: url.bucket().to_string(),
            runtime: runtime()?,
            options: options.clone(),
            metadata_service,
            cache: (options.cache > 0).then(|| Arc::new(ChunkCache::new(options.cache))),
        })
    }

    /// The options this bucket was connected with.
    pub fn options(&self) -> &S3Options {
        &self.options
    }

    /// `object_store`'s error as ours, naming the object `url` (see [`object_error`]), told
    /// as missing credentials when the request failed asking the instance metadata service.
    fn error(&self, url: String, e: &object_store::Error) -> Error {
        if let Some(service) = &self.metadata_service
            && e.to_string().contains(service.trim_end_matches('/'))
        {
            // What the service answered (a 403, a refused connection) is about a URL the user
            // never gave: the message says what is missing and how to give it instead.
            let profile = if std::env::var_os("AWS_PROFILE").is_some() {
                " (AWS_PROFILE and ~/.aws files are not read)"
            } else {
                ""
            };
            return Error::remote(
                url,
                format!(
                    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                     (and AWS_SESSION_TOKEN for temporary ones){profile}, or run where the \
                     instance metadata service {service} gives them"
                ),
            );
        }
        object_error(url, e)
    }

    /// `s3://bucket/key`.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{}", self.name, key)
    }

    /// The object path of `key`, byte for byte as given (see [`key_path`]).
    fn path(&self, key: &str) -> Result<ObjPath> {
        key_path(key).map_err(|e| Error::remote(self.url(key), format!("not a usable key: {e}")))
    }

    fn block<F: core::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// The bytes `range` of the object `key`.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the object (missing, forbidden, or a failure that outlasted
    /// the retries).
    pub fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let path = self.path(key)?;
        let want = range.end - range.start;
        let bytes = self
            .block(self.store.get_range(&path, range.clone()))
            .map_err(|e| self.error(self.url(key), &e))?;
        if bytes.len() as u64 != want {
            return Err(Error::remote(
                self.url(key),
                format!("asked for bytes {range:?}, the server sent {}", bytes.len()),
            ));
        }
        Ok(bytes)
    }

    /// The first `n` bytes of the object `key` (all of it when it is shorter) and the object's
    /// size, in one request; `None` when there is no such object.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the object for any failure but its absence.
    pub fn get_start(&self, key: &str, n: u64) -> Result<Option<(Bytes, u64)>> {
        let path = self.path(key)?;
        let options =
            GetOptions { range: Some(GetRange::Bounded(0..n.max(1))), ..GetOptions::default() };
        let r = self.block(async {
            let got = self.store.get_opts(&path, options).await?;
            let size = got.meta.size;
            Ok::<_, object_store::Error>((got.bytes().await?, size))
        });
        match r {
            Ok(got) => Ok(Some(got)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            // An empty object has no byte 0 to ask for (416): its size says so.
            Err(_) if self.size(key)? == Some(0) => Ok(Some((Bytes::new(), 0))),
            Err(e) => Err(self.error(self.url(key), &e)),
        }
    }

    /// The whole object `key`, or `None` when there is none.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the object for any failure but its absence.
    pub fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let path = self.path(key)?;
        let r = self.block(async { self.store.get(&path).await?.bytes().await });
        match r {
            Ok(b) => Ok(Some(b)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(self.url(key), &e)),
        }
    }

    /// The size of the object `key`, or `None` when there is none.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the object for any failure but its absence.
    pub fn size(&self, key: &str) -> Result<Option<u64>> {
        match self.block(self.store.head(&self.path(key)?)) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(self.url(key), &e)),
        }
    }

    /// Stores `bytes` as the object `key` (replacing it), in one request.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the object.
    pub fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.block(self.store.put(&self.path(key)?, PutPayload::from_bytes(bytes)))
            .map(drop)
            .map_err(|e| self.error(self.url(key), &e))
    }

    /// Deletes the object `key` (nothing when there is none).
    ///
    /// # Errors
    /// [`Error::Remote`] naming the object.
    pub fn delete(&self, key: &str) -> Result<()> {
        // A delete may go out as a POST, which the client does not retry after a timeout;
        // deleting is idempotent, so it is tried again here, as often as other requests are.
        let path = self.path(key)?;
        let mut attempt = 0;
        loop {
            match self.block(self.store.delete(&path)) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => return Ok(()),
                Err(_) if attempt < self.options.retries.min(3) => attempt += 1,
                Err(e) => return Err(self.error(self.url(key), &e)),
            }
        }
    }

    /// Every object below the prefix `key/` (all of them for `""`), with its size.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the prefix (a missing bucket, a forbidden listing).
    pub fn list(&self, key: &str) -> Result<Vec<(String, u64)>> {
        let prefix = if key.is_empty() { None } else { Some(self.path(key)?) };
        let metas: Vec<object_store::ObjectMeta> = self
            .block(self.store.list(prefix.as_ref()).try_collect())
            .map_err(|e| self.error(self.url(key), &e))?;
        Ok(metas.into_iter().map(|m| (m.location.to_string(), m.size)).collect())
    }

    /// Checks that the bucket exists and can be listed: the permanent failures (no bucket,
    /// access denied) surface here, once, as an error naming the bucket.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the bucket.
    pub fn check(&self) -> Result<()> {
        let r = self.block(async {
            let mut s = self.store.list(None);
            s.try_next().await.map(drop)
        });
        r.map_err(|e| {
            let url = format!("s3://{}", self.name);
            match e {
                object_store::Error::NotFound { .. } => Error::remote(url, "no such bucket"),
                // object_store reports a listing's 404 as a generic error with S3's body.
                e if e.to_string().contains("<Code>NoSuchBucket</Code>") => {
                    Error::remote(url, "no such bucket")
                }
                e => self.error(url, &e),
            }
        })
    }

    /// A multipart upload of the object `key`: parts of `part` bytes (at least 5 MiB, S3's
    /// minimum), at most [`S3Options::requests_in_flight`] of them and no more than 48 MiB sent
    /// at once; the object appears only when [`Upload::finish`] completes it.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the object when the upload cannot be started.
    pub fn upload(&self, key: &str, part: usize) -> Result<Upload> {
        let path = self.path(key)?;
        let multipart = self
            .block(self.store.put_multipart(&path))
            .map_err(|e| self.error(self.url(key), &e))?;
        let part = part.max(5 << 20);
        Ok(Upload {
            writer: Some(WriteMultipart::new_with_chunk_size(multipart, part)),
            in_flight: self.options.concurrency.min((48 << 20) / part).max(1),
            bucket: self.clone(),
            key: key.to_string(),
        })
    }

    /// A zarrs storage handle rooted at `prefix` in this bucket: zarrs' sync API over
    /// `remote/zarr_store.rs`, blocking on the shared runtime. Keys given to it are relative to
    /// `prefix` (`zarr.json`, `c/0/0`), and every key is the object's key as written.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the prefix when no object can have it (a control character,
    /// an empty, `.` or `..` segment).
    pub fn storage(&self, prefix: &str) -> Result<StorageHandle> {
        Ok(self.adapter(prefix)?)
    }

    /// The same handle as [`storage`](Bucket::storage), for reading only.
    ///
    /// # Errors
    /// As [`storage`](Bucket::storage).
    pub fn read_storage(&self, prefix: &str) -> Result<Arc<dyn ReadableListableStorageTraits>> {
        Ok(self.adapter(prefix)?)
    }

    fn adapter(&self, prefix: &str) -> Result<Arc<Adapter>> {
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            self.store.clone()
        } else {
            Arc::new(PrefixStore::new(self.store.clone(), self.path(prefix)?))
        };
        let store = Arc::new(VerbatimStore::new(store, self.options.coalesce, self.cache.clone()));
        Ok(Arc::new(AsyncToSyncStorageAdapter::new(store, BlockOn(self.runtime.handle().clone()))))
    }
}

/// zarrs' sync adapter over the verbatim-key store of a bucket (or a prefix of it).
type Adapter = AsyncToSyncStorageAdapter<VerbatimStore<Arc<dyn ObjectStore>>, BlockOn>;

/// An object being written in parts (see [`Bucket::upload`]).
pub struct Upload {
    writer: Option<WriteMultipart>,
    /// Parts sent at once at most.
    in_flight: usize,
    bucket: Bucket,
    key: String,
}

impl Upload {
    /// Appends `data`, first waiting while too many parts are in flight.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the object when a part failed for good; the upload is then
    /// aborted.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        let limit = self.in_flight;
        let Some(w) = self.writer.as_mut() else {
            return Err(Error::internal("write to a finished upload"));
        };
        let r = self.bucket.runtime.block_on(w.wait_for_capacity(limit));
        if let Err(e) = r {
            let url = self.bucket.url(&self.key);
            self.abort();
            return Err(self.bucket.error(url, &e));
        }
        // Writing a full part spawns its request on the runtime.
        let _inside = self.bucket.runtime.enter();
        w.write(data);
        Ok(())
    }

    /// Sends the last part and completes the object.
    ///
    /// # Errors
    /// [`Error::Remote`] naming the object; the upload is aborted and no object appears.
    pub fn finish(mut self) -> Result<()> {
        let Some(w) = self.writer.take() else { return Ok(()) };
        let _inside = self.bucket.runtime.enter();
        self.bucket
            .runtime
            .block_on(w.finish())
            .map(drop)
            .map_err(|e| self.bucket.error(self.bucket.url(&self.key), &e))
    }

    fn abort(&mut self) {
        if let Some(w) = self.writer.take() {
            // The parts already sent are dropped by the server; nothing was ever visible.
            let _ = self.bucket.runtime.block_on(w.abort());
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.abort();
    }
}
