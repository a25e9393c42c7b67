//! Object storage: `scheme://bucket/key` locations, told apart from local paths here and only
//! here ([`scheme_of`], [`ObjectUrl::parse`]); the options of a connection ([`S3Options`]:
//! endpoint, retries, concurrency); and, with the `s3` cargo feature, the connection itself
//! ([`Bucket`]): ranged reads, listings, uploads in parts and a zarrs storage handle.
//!
//! A text with a scheme (`s3://…`, `gs://…`, any `name://`) is never taken for a local path:
//! an unknown scheme, or `s3://` in a build without the `s3` feature, is an
//! [`Error::Remote`] naming the location.

use std::fmt;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use crate::error::{Error, Result};

#[cfg(feature = "s3")]
mod cache;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "s3")]
mod zarr_store;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use s3::{Bucket, StorageHandle, Upload};

/// The scheme of `text` when it starts with `scheme://` (letters first, then letters, digits,
/// `+`, `-` or `.`), lowercased; `None` for anything else, which is a local path.
pub fn scheme_of(text: &str) -> Option<String> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let ok = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then(|| scheme.to_ascii_lowercase())
}

/// Scheme names that, written without their `//` (`s3:/bucket/key`, `s3:bucket`), are a typo
/// for an object-storage location or a URL rather than a local file name.
const NEAR_MISS_SCHEMES: [&str; 14] = [
    "s3", "s3a", "s3n", "gs", "gcs", "az", "abfs", "abfss", "adl", "azure", "http", "https",
    "file", "hdfs",
];

/// The error for a text that looks like an object-storage location or URL but is none:
/// `s3:/bucket/key` and `s3:bucket/key` (the `//` missing), in any case. Such a text is never
/// taken for a local path, which would write the user's data to `./s3:/bucket/…` while they
/// believe it uploaded; a local file of that name is reached as `./s3:…`.
pub fn near_miss(text: &str) -> Option<Error> {
    if scheme_of(text).is_some() {
        return None;
    }
    let (scheme, rest) = text.split_once(':')?;
    if !NEAR_MISS_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    let rest = rest.trim_start_matches(['/', '\\']);
    Some(Error::remote(
        text,
        format!(
            "not a location: `{scheme}:` without `//`; write {}://{rest} for object storage, \
             or ./{text} for a local path",
            scheme.to_ascii_lowercase()
        ),
    ))
}

/// A location in object storage: `s3://bucket/key`, and for a Zarr hierarchy an optional path
/// inside it (`s3://bucket/store.zarr:/group/name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectUrl {
    bucket: String,
    key: String,
    inner: Option<String>,
}

impl ObjectUrl {
    /// Parses `s3://bucket/key[.zarr:/inner/path]`.
    ///
    /// # Errors
    /// [`Error::Remote`] naming `text` when it has no scheme, a scheme other than `s3`, no
    /// bucket, or a key with empty, `.` or `..` segments.
    pub fn parse(text: &str) -> Result<ObjectUrl> {
        let bad = |reason: &str| Error::remote(text, reason);
        let scheme = scheme_of(text).ok_or_else(|| bad("not an object-storage location"))?;
        if scheme == "file" {
            return Err(bad("file:// URLs are not read; give the local path itself"));
        }
        if scheme == "s3" && !text.starts_with("s3://") {
            return Err(bad(&format!(
                "write the scheme in lowercase: s3://{}",
                &text[scheme.len() + 3..]
            )));
        }
        if scheme != "s3" {
            return Err(bad(&format!(
                "unknown scheme `{scheme}://`; larder reads and writes local paths and \
                 s3://bucket/key"
            )));
        }
        let rest = &text[scheme.len() + 3..];
        let (bucket, mut key) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = !bucket.is_empty()
            && bucket.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid_bucket {
            return Err(bad("expected s3://BUCKET/KEY with a bucket name of letters, digits, \
                            '.', '-' or '_'"));
        }
        let mut inner = None;
        if let Some(pos) = key.find(".zarr:/").or_else(|| key.find(".ZARR:/")) {
            inner = Some(key[pos + 6..].to_string());
            key = &key[..pos + 5];
        }
        let key = key.trim_end_matches('/');
        let inner_chars = inner.iter().flat_map(|i| i.chars());
        if let Some(c) = key.chars().chain(inner_chars).find(|c| c.is_control()) {
            return Err(bad(&format!(
                "the key holds the control character U+{:04X}, which larder does not write",
                u32::from(c)
            )));
        }
        if key.split('/').any(|s| matches!(s, "." | ".."))
            || (!key.is_empty() && key.contains("//"))
        {
            return Err(bad("the key has an empty, '.' or '..' segment"));
        }
        Ok(ObjectUrl { bucket: bucket.to_string(), key: key.to_string(), inner })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key (the object's name, or the prefix of a Zarr hierarchy), without a trailing `/`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The path inside a Zarr hierarchy (`/group/name`), if one was given.
    pub fn inner(&self) -> Option<&str> {
        self.inner.as_deref()
    }

    /// The location of `key` in the same bucket, as `s3://bucket/key`.
    pub fn object(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, key.trim_start_matches('/'))
    }

    /// The location of `name` below this one (`s3://bucket/key/name`).
    pub fn child(&self, name: &str) -> String {
        self.object(&self.child_key(name))
    }

    /// The key of `name` below this one.
    pub fn child_key(&self, name: &str) -> String {
        let name = name.trim_start_matches('/');
        if self.key.is_empty() { name.to_string() } else { format!("{}/{name}", self.key) }
    }

    /// The extension of the key, lowercased (`npy`, `zarr`), if any.
    pub fn extension(&self) -> Option<String> {
        let last = self.key.rsplit('/').next()?;
        let (_, ext) = last.rsplit_once('.')?;
        Some(ext.to_ascii_lowercase())
    }
}

impl fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        if let Some(inner) = &self.inner {
            write!(f, ":{inner}")?;
        }
        Ok(())
    }
}

/// How larder talks to an S3-compatible server: where it is, and how hard it retries.
///
/// Credentials, region and endpoint come from the standard AWS variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`); what is set here wins over them. Retries are
/// `object_store`'s own (its `RetryConfig`): a request that fails with a connection error, a
/// timeout, a 5xx or a 429 is sent again after a backoff that starts at
/// [`backoff`](S3Options::backoff)'s first value and doubles up to its cap, at most
/// [`retries`](S3Options::retries) times and not after
/// [`retry_timeout`](S3Options::retry_timeout) from the first attempt. 4xx answers (403
/// forbidden, 404 not found, a missing bucket) are not retried.
///
/// Reading a chunk is one GET (no HEAD first); ranges of one object closer than
/// [`coalesce`](S3Options::coalesce) bytes go in one GET; an optional in-memory
/// [`cache`](S3Options::cache) keeps chunks read for reading again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Options {
    pub(crate) endpoint: Option<String>,
    pub(crate) allow_http: Option<bool>,
    pub(crate) retries: usize,
    pub(crate) retry_timeout: Duration,
    pub(crate) backoff: (Duration, Duration),
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) concurrency: usize,
    pub(crate) coalesce: u64,
    pub(crate) cache: u64,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            endpoint: None,
            allow_http: None,
            retries: 10,
            retry_timeout: Duration::from_mins(3),
            backoff: (Duration::from_millis(100), Duration::from_secs(15)),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            concurrency: 16,
            coalesce: 1 << 20,
            cache: 0,
        }
    }
}

/// The options [`S3Options::current`] hands out, when set.
static CURRENT: RwLock<Option<S3Options>> = RwLock::new(None);

impl S3Options {
    /// The defaults: 10 retries within 180 s, backoff from 100 ms doubling up to 15 s, 30 s per
    /// request, 5 s to connect, 16 requests at once, ranges less than 1 MiB apart fetched
    /// together, no chunk cache.
    pub fn new() -> Self {
        S3Options::default()
    }
    /// The server's URL (`http://127.0.0.1:9000`), for S3-compatible servers; an `http://`
    /// endpoint allows plain HTTP.
    pub fn endpoint(&mut self, url: &str) -> &mut Self {
        self.endpoint = Some(url.to_string());
        if url.starts_with("http://") {
            self.allow_http = Some(true);
        }
        self
    }
    /// Allow plain HTTP (otherwise only HTTPS).
    pub fn allow_http(&mut self, allow: bool) -> &mut Self {
        self.allow_http = Some(allow);
        self
    }
    /// Retries of one request after a transient failure (0: none).
    pub fn retries(&mut self, n: usize) -> &mut Self {
        self.retries = n;
        self
    }
    /// No retry starts later than this after a request's first attempt.
    pub fn retry_timeout(&mut self, d: Duration) -> &mut Self {
        self.retry_timeout = d;
        self
    }
    /// The first backoff and its cap; each retry waits twice as long as the one before.
    pub fn backoff(&mut self, first: Duration, cap: Duration) -> &mut Self {
        self.backoff = (first, cap.max(first));
        self
    }
    /// The longest one request may take (connecting, sending and receiving).
    pub fn timeout(&mut self, d: Duration) -> &mut Self {
        self.timeout = d;
        self
    }
    /// The longest connecting may take.
    pub fn connect_timeout(&mut self, d: Duration) -> &mut Self {
        self.connect_timeout = d;
        self
    }
    /// Requests in flight at once during a copy (at least 1).
    pub fn concurrency(&mut self, n: usize) -> &mut Self {
        self.concurrency = n.max(1);
        self
    }
    /// Requests a copy keeps in flight.
    pub fn requests_in_flight(&self) -> usize {
        self.concurrency
    }
    /// Ranges of one object read together that lie less than `bytes` apart are fetched in one
    /// request (default 1 MiB, as `object_store`'s `get_ranges`; 0: a request per range).
    pub fn coalesce(&mut self, bytes: u64) -> &mut Self {
        self.coalesce = bytes;
        self
    }
    /// Keep up to `bytes` of the chunks (and shard indexes) read in memory, so that reading
    /// one again sends no request; least recently used first out. 0 (the default): no cache.
    pub fn cache(&mut self, bytes: u64) -> &mut Self {
        self.cache = bytes;
        self
    }
    /// The byte budget of the chunk cache (0: none).
    pub fn cache_bytes(&self) -> u64 {
        self.cache
    }
    /// Makes these the options of every later connection in this process that is not given
    /// options of its own (what [`crate::open`] and [`crate::copy_with`] use).
    pub fn set_current(&self) {
        *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = Some(self.clone());
    }
    /// The options set by [`set_current`](S3Options::set_current), or the defaults.
    pub fn current() -> S3Options {
        CURRENT.read().unwrap_or_else(PoisonError::into_inner).clone().unwrap_or_default()
    }
}

/// The error for an object-storage location in a build without the `s3` feature.
pub fn not_built(url: &str) -> Error {
    Error::remote(
        url,
        "object storage is not available: larder was built without the `s3` cargo feature",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_texts_with_a_scheme_are_object_locations() {
        assert_eq!(scheme_of("s3://b/a.zarr").as_deref(), Some("s3"));
        assert_eq!(scheme_of("GS://b/x").as_deref(), Some("gs"));
        assert_eq!(scheme_of("a+b.c-d://x").as_deref(), Some("a+b.c-d"));
        for local in ["a.npy", "/tmp/s3:/b", "data.h5:/group/x", "./x://y", "1x://y", "://y"] {
            assert_eq!(scheme_of(local), None, "{local}");
        }
    }

    #[test]
    fn s3_locations_split_into_bucket_key_and_inner_path() {
        let u = ObjectUrl::parse("s3://bkt/dir/a.zarr/").unwrap();
        assert_eq!((u.bucket(), u.key(), u.inner()), ("bkt", "dir/a.zarr", None));
        assert_eq!(u.child("zarr.json"), "s3://bkt/dir/a.zarr/zarr.json");
        assert_eq!(u.extension().as_deref(), Some("zarr"));
        let u = ObjectUrl::parse("s3://bkt/s.zarr:/g/x").unwrap();
        assert_eq!((u.key(), u.inner()), ("s.zarr", Some("/g/x")));
        assert_eq!(u.to_string(), "s3://bkt/s.zarr:/g/x");
        let u = ObjectUrl::parse("s3://bkt").unwrap();
        assert_eq!(u.child_key("a"), "a");
    }

    #[test]
    fn near_misses_of_object_locations_are_errors_never_local_paths() {
        for (text, meant) in [
            ("s3:/bkt/typo.zarr", "s3://bkt/typo.zarr"),
            ("s3:bkt/x.npy", "s3://bkt/x.npy"),
            ("S3:/b/k", "s3://b/k"),
            ("GS:\\\\b\\k", "gs://b\\k"),
            ("https:/host/x", "https://host/x"),
            ("file:/tmp/a.npy", "file://tmp/a.npy"),
        ] {
            let e = near_miss(text).map(|e| e.to_string()).unwrap_or_default();
            assert!(e.starts_with(text) && e.contains(&format!("write {meant}")), "{text}: {e}");
        }
        for fine in ["s3://b/k", "a.npy", "./s3:/b/k", "data.h5:/g/x", "s3", "s3x:/y", "C:/x"] {
            assert!(near_miss(fine).is_none(), "{fine}");
        }
        for (text, needle) in [
            ("S3://b/k", "write the scheme in lowercase: s3://b/k"),
            ("file:///tmp/a.npy", "file:// URLs are not read"),
            ("s3://b/a\u{7}b", "control character U+0007"),
            ("s3://b/s.zarr:/x\ty", "control character U+0009"),
        ] {
            let e = ObjectUrl::parse(text).unwrap_err().to_string();
            assert!(e.starts_with(text) && e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn malformed_or_unknown_locations_are_errors_naming_them() {
        for (text, needle) in [
            ("gs://b/a.zarr", "unknown scheme `gs://`"),
            ("s3:///a.zarr", "bucket"),
            ("s3://b/x/../y", "segment"),
            ("s3://b/x//y", "segment"),
        ] {
            let e = ObjectUrl::parse(text).unwrap_err().to_string();
            assert!(e.starts_with(text) && e.contains(needle), "{text}: {e}");
        }
    }
}
