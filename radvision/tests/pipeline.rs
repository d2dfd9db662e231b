//! The ingest pipeline when things go wrong: storage or database unavailable gives a
//! "try later" failure and leaves nothing half-written; the start-up sweep removes a blob
//! whose index row was never written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{fixture, instance_count, settings};

use radvision::ingest::pipeline::{Channel, IngestError, Ingestor, Source, Stored};
use radvision::store::{BlobStore, FsStore};
use shared::audit::Ctx;

struct Env {
    _dir: tempfile::TempDir,
    url: String,
    pool: shared::db::DbPool,
    facility: i64,
    root: std::path::PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (url, pool, facility) = common::database(dir.path());
    let root = dir.path().join("blobs");
    Env {
        _dir: dir,
        url,
        pool,
        facility,
        root,
    }
}

fn source(facility_id: i64) -> Source {
    Source {
        facility_id,
        channel: Channel::CStore,
        ctx: Ctx::system("test"),
    }
}

#[tokio::test]
async fn storage_unavailable_is_a_retryable_failure_and_indexes_nothing() {
    let e = env();
    let store = FsStore::new(&e.root).unwrap();
    // Make writing impossible: the temporary directory is replaced by a file.
    std::fs::remove_dir_all(store.tmp_dir()).unwrap();
    std::fs::write(store.tmp_dir(), b"not a directory").unwrap();
    let ing = Ingestor::new(e.pool.clone(), Arc::new(store.clone()), &settings());
    let err = ing
        .ingest(&source(e.facility), fixture())
        .await
        .unwrap_err();
    assert!(matches!(err, IngestError::Unavailable(_)), "{err:?}");
    assert_eq!(err.dicom_status(), 0xA700);
    assert_eq!(err.http_status(), 503);
    assert_eq!(instance_count(&e.pool, e.facility), 0);
    assert!(store.list().await.unwrap().is_empty());
    // Storage back: the same instance goes in.
    std::fs::remove_file(store.tmp_dir()).unwrap();
    std::fs::create_dir(store.tmp_dir()).unwrap();
    assert!(matches!(
        ing.ingest(&source(e.facility), fixture()).await.unwrap(),
        Stored::New { .. }
    ));
    assert_eq!(instance_count(&e.pool, e.facility), 1);
}

#[tokio::test]
async fn database_unavailable_is_a_retryable_failure_and_the_sweep_removes_the_orphan_blob() {
    let e = env();
    let store = Arc::new(FsStore::new(&e.root).unwrap());
    // A pool of one connection, held by someone else: the index cannot be written.
    let (tiny, held) = common::unavailable_pool(&e.url);
    let ing = Ingestor::new(tiny.clone(), store.clone(), &settings());
    let err = ing
        .ingest(&source(e.facility), fixture())
        .await
        .unwrap_err();
    assert!(matches!(err, IngestError::Unavailable(_)), "{err:?}");
    assert_eq!(err.dicom_status(), 0xA700);
    drop(held);
    assert_eq!(instance_count(&e.pool, e.facility), 0, "nothing indexed");
    // The blob was written before the index failed: complete, but referenced by nothing.
    assert_eq!(store.list().await.unwrap().len(), 1);
    let ing = Ingestor::new(e.pool.clone(), store.clone(), &settings());
    assert_eq!(ing.startup_sweep().await.unwrap(), (0, 1));
    assert!(store.list().await.unwrap().is_empty());
    // The sender's retry succeeds.
    assert!(matches!(
        ing.ingest(&source(e.facility), fixture()).await.unwrap(),
        Stored::New { .. }
    ));
    assert_eq!(instance_count(&e.pool, e.facility), 1);
    assert_eq!(store.list().await.unwrap().len(), 1);
}
