//! Where DICOM instances live: a content-addressed blob store behind one trait, with a
//! filesystem implementation (the default) and an S3-compatible one. Keys are derived from
//! the content's SHA-256, never from a UID or a user-supplied name.

use std::sync::Arc;

use bytes::Bytes;

pub mod factory;
pub mod fs;
pub mod journal;
pub mod s3;

pub use factory::from_settings;
pub use fs::FsStore;
pub use journal::{JournalSizes, JournaledStore};
pub use s3::S3Store;

/// A blob's key: `sha256/<64 lowercase hex>`. Only this crate makes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    /// The key of content with this SHA-256 (lowercase hex).
    pub fn for_sha256(hex: &str) -> Option<BlobKey> {
        (hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
        .then(|| BlobKey(format!("sha256/{hex}")))
    }

    /// Parses a stored key (from the index).
    pub fn parse(s: &str) -> Option<BlobKey> {
        s.strip_prefix("sha256/").and_then(BlobKey::for_sha256)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex digest part.
    pub fn sha256(&self) -> &str {
        &self.0["sha256/".len()..]
    }
}

/// What `put` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub key: BlobKey,
    pub sha256: String,
    pub size: u64,
}

impl StoredBlob {
    /// The blob of `size` bytes whose SHA-256 is `hex` (as the stores compute it).
    pub(crate) fn from_sha256(hex: String, size: u64) -> Result<StoredBlob, StoreError> {
        let key = BlobKey::for_sha256(&hex)
            .ok_or_else(|| StoreError::Unavailable("sha256 produced an invalid key".into()))?;
        Ok(StoredBlob {
            key,
            sha256: hex,
            size,
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("blob not found")]
    NotFound,
    /// The content read back does not match its SHA-256.
    #[error("blob {0} is corrupt (hash mismatch)")]
    Corrupt(String),
    /// Disk full, permission denied, object store down…: the caller answers "try later".
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage configuration: {0}")]
    Config(String),
}

/// A blob written piece by piece, as its bytes arrive (the DICOM listener feeds it each PDU,
/// so hashing and writing overlap with the network). Dropping a writer without
/// [`finish`](BlobWriter::finish) discards what was written.
#[async_trait::async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes. Bounded work per call: hashing the chunk and a buffered write.
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError>;
    /// Ends the content and names it (the hash is final); nothing is durable yet and later
    /// `write`s are refused. Calling it again returns the same blob.
    fn seal(&mut self) -> Result<StoredBlob, StoreError>;
    /// Keeps `entry` (the instance's serialised index entry) durably beside the content, so
    /// that a crash after `finish` cannot lose the index entry; returns whether this writer
    /// does (the ingest journal does; plain stores do not and return `false`).
    fn set_recovery_entry(&mut self, _entry: Vec<u8>) -> bool {
        false
    }
    /// Makes the blob durable (as [`BlobStore::put`] does) and returns its key (sealing it
    /// first if needed).
    async fn finish(self: Box<Self>) -> Result<StoredBlob, StoreError>;
}

/// A content-addressed store of immutable blobs.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts a streamed write (see [`BlobWriter`]); the result is the same as `put` of the
    /// concatenated chunks.
    fn writer(&self) -> Result<Box<dyn BlobWriter>, StoreError>;
    /// Stores `data` durably and returns only once it is durable (filesystem: written to a
    /// temporary file, fsynced, renamed, directory fsynced). Storing the same content twice
    /// is harmless and returns the same key.
    async fn put(&self, data: Bytes) -> Result<StoredBlob, StoreError>;
    /// `put` of content whose SHA-256 the caller computed as it wrote it (the ingest
    /// journal's copy): a store that names blobs by their digest may skip hashing again.
    /// The default hashes anyway and refuses a mismatch.
    async fn put_hashed(&self, data: Bytes, sha256: &str) -> Result<StoredBlob, StoreError> {
        let stored = self.put(data).await?;
        if stored.sha256 != sha256 {
            return Err(StoreError::Corrupt(stored.key.as_str().to_owned()));
        }
        Ok(stored)
    }
    /// Reads a blob and checks its SHA-256 (a mismatch is `Corrupt`).
    async fn get(&self, key: &BlobKey) -> Result<Bytes, StoreError>;
    async fn exists(&self, key: &BlobKey) -> Result<bool, StoreError>;
    /// Removes a blob (used to clean orphans); removing a missing blob is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), StoreError>;
    /// Every key in the store (for the verify command and orphan sweeps).
    async fn list(&self) -> Result<Vec<BlobKey>, StoreError>;
    /// Removes temporary files left by a crash mid-write; returns how many. Run at start-up.
    async fn sweep_temporary(&self) -> Result<u64, StoreError>;
}

pub type SharedStore = Arc<dyn BlobStore>;
