//! The S3-compatible blob store (Ceph RGW, MinIO, AWS S3), on `object_store`.
//!
//! The object name is the blob key itself (`sha256/<64 hex>`). Each blob is written with a
//! single PUT, which S3 makes visible atomically and only once complete, so no temporary
//! objects exist and a reader never sees a partial blob. Content is checked against its
//! SHA-256 on every read.
//!
//! Multipart uploads are never started by this store, so an interrupted write leaves
//! nothing behind and [`BlobStore::sweep_temporary`] has nothing to do (`object_store`
//! offers no way to list other clients' stale multipart uploads; a bucket lifecycle rule
//! `AbortIncompleteMultipartUpload` is the right tool for those).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig};
use sha2::{Digest, Sha256};
use shared::settings::StorageSettings;

use super::{BlobKey, BlobStore, BlobWriter, StoreError, StoredBlob};

/// Blobs in one bucket of an S3-compatible object store.
#[derive(Debug, Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    bucket: String,
}

impl S3Store {
    /// Builds a client from the `[storage]` settings (no request is made yet).
    ///
    /// Requests use path-style addressing (`<endpoint>/<bucket>/<key>`), which every
    /// S3-compatible server accepts. A plain-http endpoint is refused unless
    /// `s3_allow_http` is set, and even then only on a loopback address.
    pub fn from_settings(s: &StorageSettings) -> Result<S3Store, StoreError> {
        let config = |m: String| StoreError::Config(m);
        if s.s3_endpoint.is_empty() || s.s3_bucket.is_empty() {
            return Err(config(
                "storage.s3_endpoint and storage.s3_bucket are required for the s3 backend".into(),
            ));
        }
        let url = url::Url::parse(&s.s3_endpoint)
            .map_err(|e| config(format!("storage.s3_endpoint is not a URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if !s.s3_allow_http => {
                return Err(config(
                    "storage.s3_endpoint is plain http; use https (storage.s3_allow_http is for a loopback test store only)"
                        .into(),
                ));
            }
            "http" if !is_loopback(&url) => {
                return Err(config(
                    "storage.s3_allow_http only permits a loopback endpoint (127.0.0.1, ::1, localhost)"
                        .into(),
                ));
            }
            "http" => {}
            other => {
                return Err(config(format!(
                    "storage.s3_endpoint must be https (got scheme {other:?})"
                )));
            }
        }
        if s.s3_access_key_id.is_empty() != s.s3_secret_access_key.is_empty() {
            return Err(config(
                "set both storage.s3_access_key_id and storage.s3_secret_access_key, or neither"
                    .into(),
            ));
        }

        let mut builder = AmazonS3Builder::new()
            .with_endpoint(s.s3_endpoint.trim_end_matches('/'))
            .with_bucket_name(&s.s3_bucket)
            .with_region(if s.s3_region.is_empty() {
                "us-east-1"
            } else {
                &s.s3_region
            })
            .with_virtual_hosted_style_request(false)
            .with_allow_http(s.s3_allow_http)
            // A few quick retries, then `Unavailable`: the sender is told to try later
            // rather than kept waiting for minutes.
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(s.s3_allow_http)
                    .with_connect_timeout(Duration::from_secs(10))
                    // Large instances go up in one PUT; leave room for a slow link.
                    .with_timeout(Duration::from_secs(300)),
            );
        if !s.s3_access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&s.s3_access_key_id)
                .with_secret_access_key(s.s3_secret_access_key.expose());
        }
        let store = builder
            .build()
            .map_err(|e| config(format!("storage s3 client: {e}")))?;
        Ok(S3Store {
            store: Arc::new(store),
            bucket: s.s3_bucket.clone(),
        })
    }

    /// The bucket this store writes to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn object_path(key: &BlobKey) -> Path {
    Path::from(key.as_str())
}

fn map_err(op: &str, e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound,
        other => StoreError::Unavailable(format!("object store {op}: {other}")),
    }
}

#[async_trait::async_trait]
impl BlobStore for S3Store {
    fn writer(&self) -> Result<Box<dyn BlobWriter>, StoreError> {
        Ok(Box::new(S3Writer {
            store: self.clone(),
            buf: Vec::new(),
            hasher: Sha256::new(),
            sealed: None,
        }))
    }

    async fn put(&self, data: Bytes) -> Result<StoredBlob, StoreError> {
        let size = data.len() as u64;
        let hex = {
            let data = data.clone();
            tokio::task::spawn_blocking(move || hex::encode(Sha256::digest(&data)))
                .await
                .map_err(|e| StoreError::Unavailable(format!("hashing task failed: {e}")))?
        };
        let stored = StoredBlob::from_sha256(hex, size)?;
        let path = object_path(&stored.key);
        match self.store.head(&path).await {
            // Same name means same content; a size mismatch (damaged object) is rewritten.
            Ok(meta) if meta.size == size => return Ok(stored),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(map_err("head", e)),
        }
        self.store
            .put(&path, PutPayload::from(data))
            .await
            .map_err(|e| map_err("put", e))?;
        Ok(stored)
    }

    async fn get(&self, key: &BlobKey) -> Result<Bytes, StoreError> {
        let data = self
            .store
            .get(&object_path(key))
            .await
            .map_err(|e| map_err("get", e))?
            .bytes()
            .await
            .map_err(|e| map_err("get", e))?;
        let expected = key.sha256().to_owned();
        let (data, ok) = tokio::task::spawn_blocking(move || {
            let ok = hex::encode(Sha256::digest(&data)) == expected;
            (data, ok)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("hashing task failed: {e}")))?;
        if !ok {
            return Err(StoreError::Corrupt(key.as_str().to_owned()));
        }
        Ok(data)
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, StoreError> {
        match self.store.head(&object_path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(map_err("head", e)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        match self.store.delete(&object_path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(map_err("delete", e)),
        }
    }

    async fn list(&self) -> Result<Vec<BlobKey>, StoreError> {
        let objects: Vec<_> = self
            .store
            .list(Some(&Path::from("sha256")))
            .try_collect()
            .await
            .map_err(|e| map_err("list", e))?;
        let mut keys: Vec<BlobKey> = objects
            .iter()
            .filter_map(|meta| BlobKey::parse(meta.location.as_ref()))
            .collect();
        keys.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        Ok(keys)
    }

    /// Nothing to sweep: blobs are written with single atomic PUTs (see the module docs).
    async fn sweep_temporary(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// S3 objects are written with one PUT (visible only once complete), so a streamed blob is
/// collected in memory — bounded by the ingest limit per instance — and put at the end.
struct S3Writer {
    store: S3Store,
    buf: Vec<u8>,
    hasher: Sha256,
    sealed: Option<StoredBlob>,
}

#[async_trait::async_trait]
impl BlobWriter for S3Writer {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        if self.sealed.is_some() {
            return Err(StoreError::Unavailable("write after seal".into()));
        }
        self.hasher.update(chunk);
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    fn seal(&mut self) -> Result<StoredBlob, StoreError> {
        if let Some(s) = &self.sealed {
            return Ok(s.clone());
        }
        let hex = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let s = StoredBlob::from_sha256(hex, self.buf.len() as u64)?;
        self.sealed = Some(s.clone());
        Ok(s)
    }

    async fn finish(mut self: Box<Self>) -> Result<StoredBlob, StoreError> {
        let sealed = self.seal()?;
        let S3Writer { store, buf, .. } = *self;
        let stored = store.put(Bytes::from(buf)).await?;
        if stored != sealed {
            return Err(StoreError::Unavailable("streamed content changed".into()));
        }
        Ok(stored)
    }
}
