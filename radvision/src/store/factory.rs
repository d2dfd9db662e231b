//! Builds the configured blob store from `[storage]`.

use std::sync::Arc;

use shared::settings::{StorageBackend, StorageSettings};

use super::fs::FsStore;
use super::s3::S3Store;
use super::{SharedStore, StoreError};

/// The blob store `[storage]` asks for. The filesystem root is created if missing; the S3
/// client is only built (no request is made), so an unreachable object store shows up as
/// `Unavailable` on first use, not here.
pub fn from_settings(settings: &StorageSettings) -> Result<SharedStore, StoreError> {
    match settings.backend {
        StorageBackend::Filesystem => {
            let path = settings.path.as_ref().ok_or_else(|| {
                StoreError::Config("storage.path is required for the filesystem backend".into())
            })?;
            Ok(Arc::new(FsStore::new(path.clone())?))
        }
        StorageBackend::S3 => Ok(Arc::new(S3Store::from_settings(settings)?)),
    }
}
