//! The ingest journal when things go wrong, on the path a C-STORE takes: a full disk under
//! the journal (a real tmpfs filled to its last page) and a database that is down each give
//! the sender a "try later" failure, index nothing and leave no record that a restart would
//! replay; once there is room again or the database is back, the same instance goes in once.
//! A full blob store behind the journal loses nothing: the record stays in the journal,
//! readable, until the copier can put it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::small_fs::{free, SmallFs};
use common::{database, drain, fixture, instance_count, segments, settings, unavailable_pool};
use radvision::ingest::pipeline::{Channel, IngestError, Ingestor, Source, Stored};
use radvision::store::{BlobKey, BlobStore, FsStore, SharedStore};
use shared::audit::Ctx;
use shared::index;

/// Sends `data` as the DICOM listener does: streamed into a writer of the ingest's store as
/// it arrives, then ingested. A store that cannot take it is the "try later" failure the
/// listener answers (out of resources).
async fn send(ing: &Ingestor, facility_id: i64, data: &Bytes) -> Result<Stored, IngestError> {
    let unavailable = |e: radvision::store::StoreError| IngestError::Unavailable(e.to_string());
    let mut w = ing.store().writer().map_err(unavailable)?;
    for chunk in data.chunks(16 * 1024) {
        w.write(chunk).map_err(unavailable)?;
    }
    let src = Source {
        facility_id,
        channel: Channel::CStore,
        ctx: Ctx::system("AE SCU 127.0.0.1"),
    };
    ing.ingest_streamed(&src, data.clone(), w).await
}

fn journaled(pool: shared::db::DbPool, blobs: &Path, jdir: &Path) -> Ingestor {
    let store: SharedStore = Arc::new(FsStore::new(blobs).unwrap());
    Ingestor::journaled(pool, store, &settings(), jdir).unwrap()
}

#[tokio::test]
async fn a_full_disk_under_the_journal_fails_the_store_and_leaves_nothing_to_replay() {
    // Declared first, so unmounted last.
    let Some(small) = SmallFs::mount(4) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (_, pool, facility) = database(tmp.path());
    let blobs = tmp.path().join("blobs");
    let jdir = small.path().join("journal");
    let data = fixture();
    {
        let ing = journaled(pool.clone(), &blobs, &jdir);
        let filler = small.fill();

        // Not even room for a new segment's header: refused, and no file is left behind.
        let err = send(&ing, facility, &data).await.unwrap_err();
        assert!(matches!(err, IngestError::Unavailable(_)), "{err:?}");
        assert_eq!(err.dicom_status(), 0xA700);
        assert!(segments(&jdir).is_empty(), "{:?}", segments(&jdir));

        // Room for the segment's header, not for the record: the write fails at the flush.
        free(&filler, 4096);
        let err = send(&ing, facility, &data).await.unwrap_err();
        assert!(matches!(err, IngestError::Unavailable(_)), "{err:?}");
        assert_eq!(err.dicom_status(), 0xA700);
        assert_eq!(instance_count(&pool, facility), 0);
        assert_eq!(ing.journal().unwrap().backlog(), 0);
        assert!(ing.store().list().await.unwrap().is_empty());

        // Room again: the sender's retry goes in, once.
        std::fs::remove_file(&filler).unwrap();
        let stored = send(&ing, facility, &data).await.unwrap();
        assert!(matches!(stored, Stored::New { .. }), "{stored:?}");
        assert_eq!(instance_count(&pool, facility), 1);
        drain(ing.journal().unwrap()).await;
    }
    // A restart finds nothing more to replay or sweep.
    let ing = journaled(pool.clone(), &blobs, &jdir);
    assert_eq!(ing.startup_sweep().await.unwrap(), (0, 0));
    assert_eq!(instance_count(&pool, facility), 1);
    let inner = FsStore::new(&blobs).unwrap();
    let keys = inner.list().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(inner.get(&keys[0]).await.unwrap(), data);
}

#[tokio::test]
async fn a_database_that_is_down_fails_the_store_and_a_restart_replays_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, pool, facility) = database(tmp.path());
    let blobs = tmp.path().join("blobs");
    let jdir = tmp.path().join("journal");
    let data = fixture();
    {
        // A pool of one connection, held by someone else: the index cannot be written.
        let (tiny, held) = unavailable_pool(&url);
        let ing = journaled(tiny.clone(), &blobs, &jdir);
        let err = send(&ing, facility, &data).await.unwrap_err();
        assert!(matches!(err, IngestError::Unavailable(_)), "{err:?}");
        assert_eq!(err.dicom_status(), 0xA700);
        // The record was durable, but the index refused it: it is void, never copied.
        assert_eq!(ing.journal().unwrap().backlog(), 0);
        assert_eq!(segments(&jdir).len(), 1);
        drop(held);
        assert_eq!(instance_count(&pool, facility), 0);
        // The process stops here, before the segment is recycled.
    }
    // Restarted with the database back: the void record is not replayed.
    let ing = journaled(pool.clone(), &blobs, &jdir);
    assert_eq!(ing.startup_sweep().await.unwrap(), (0, 0));
    assert_eq!(instance_count(&pool, facility), 0);
    assert!(FsStore::new(&blobs)
        .unwrap()
        .list()
        .await
        .unwrap()
        .is_empty());
    // The sender's retry goes in.
    let stored = send(&ing, facility, &data).await.unwrap();
    assert!(matches!(stored, Stored::New { .. }), "{stored:?}");
    assert_eq!(instance_count(&pool, facility), 1);
}

#[tokio::test]
async fn a_full_blob_store_keeps_the_record_in_the_journal_until_there_is_room() {
    let Some(small) = SmallFs::mount(4) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (_, pool, facility) = database(tmp.path());
    let blobs = small.path().join("blobs");
    let jdir = tmp.path().join("journal");
    let data = fixture();
    let ing = journaled(pool.clone(), &blobs, &jdir);
    let filler = small.fill();

    // The journal has room: the instance is durable there, indexed and answered.
    let stored = send(&ing, facility, &data).await.unwrap();
    assert!(matches!(stored, Stored::New { .. }), "{stored:?}");
    assert_eq!(instance_count(&pool, facility), 1);
    let key = {
        let keys = index::storage_keys(&mut pool.get().unwrap()).unwrap();
        assert_eq!(keys.len(), 1);
        BlobKey::parse(&keys[0]).unwrap()
    };
    // The copier cannot put it into the full blob store: it stays in the journal, readable.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let journal = ing.journal().unwrap();
    assert_eq!(journal.backlog(), 1);
    assert!(!FsStore::new(&blobs).unwrap().exists(&key).await.unwrap());
    assert_eq!(ing.store().get(&key).await.unwrap(), data);
    assert_eq!(segments(&jdir).len(), 1);

    // Room again: the copier's next try puts it into the blob store.
    std::fs::remove_file(&filler).unwrap();
    drain(journal).await;
    assert_eq!(journal.backlog(), 0);
    let inner = FsStore::new(&blobs).unwrap();
    assert_eq!(inner.get(&key).await.unwrap(), data);
    assert_eq!(inner.list().await.unwrap(), vec![key]);
    // Nothing half-written was left by the failed tries.
    assert!(std::fs::read_dir(inner.tmp_dir()).unwrap().next().is_none());
}
