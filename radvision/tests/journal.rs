//! The ingest journal: a flushed record is readable at once, is copied into the blob store,
//! and survives a crash (replayed at start-up, including its index entry when the database
//! lost the deferred commit); refused, torn and corrupt records are never replayed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use common::{database, drain, fixture, instance_count, segments, settings};
use radvision::ingest::pipeline::{Channel, Ingestor, Source, Stored};
use radvision::store::{BlobStore, FsStore, JournalSizes, JournaledStore, SharedStore, StoredBlob};
use shared::audit::Ctx;
use shared::index;

const MIB: u64 = 1024 * 1024;

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn write(j: &Arc<JournaledStore>, data: &[u8], entry: &[u8]) -> StoredBlob {
    let mut w = j.writer().unwrap();
    for chunk in data.chunks(16 * 1024) {
        w.write(chunk).unwrap();
    }
    assert!(w.set_recovery_entry(entry.to_vec()));
    w.finish().await.unwrap()
}

/// A journal of 1 MiB segments that deletes finished segments.
fn open(dir: &Path, inner: &FsStore, backlog: u64) -> Arc<JournaledStore> {
    open_recycling(dir, inner, backlog, 0)
}

/// A journal of 1 MiB segments that keeps up to `recycle` bytes of them for reuse.
fn open_recycling(dir: &Path, inner: &FsStore, backlog: u64, recycle: u64) -> Arc<JournaledStore> {
    let inner: SharedStore = Arc::new(inner.clone());
    let sizes = JournalSizes {
        segment_bytes: MIB,
        max_backlog: backlog,
        recycle_bytes: recycle,
    };
    JournaledStore::open(dir, inner, sizes).unwrap()
}

/// Recovers `j`, returning (records replayed, blobs stored) and the entries and blobs
/// replayed.
async fn recover(j: &Arc<JournaledStore>) -> ((u64, u64), Vec<(Vec<u8>, StoredBlob)>) {
    let j = j.clone();
    tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        let r = j.recover(&mut |entry, b| {
            seen.push((entry.to_vec(), b.clone()));
            Ok(true)
        });
        (r.unwrap(), seen)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_flushed_record_is_readable_at_once_and_then_copied_into_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = FsStore::new(tmp.path().join("blobs")).unwrap();
    let jdir = tmp.path().join("journal");
    // A large backlog allowance: the copier waits for a pause in the writes.
    let j = open(&jdir, &inner, 1024 * MIB);
    let data = payload(700 * 1024, 1);
    let blob = write(&j, &data, b"{}").await;
    assert_eq!(blob.size, data.len() as u64);
    // Durable in the journal, not yet in the blob store, served from the journal.
    assert_eq!(j.get(&blob.key).await.unwrap(), Bytes::from(data.clone()));
    assert!(j.exists(&blob.key).await.unwrap());
    assert_eq!(j.list().await.unwrap(), vec![blob.key.clone()]);
    j.settle(&blob, true);
    drain(&j).await;
    assert_eq!(j.backlog(), 0);
    assert_eq!(inner.get(&blob.key).await.unwrap(), Bytes::from(data));
    // Copied and flushed: the segment is gone.
    assert!(segments(&jdir).is_empty(), "{:?}", segments(&jdir));
}

#[tokio::test]
async fn a_crash_after_the_flush_is_replayed_and_a_torn_last_record_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = FsStore::new(tmp.path().join("blobs")).unwrap();
    let jdir = tmp.path().join("journal");
    let a = payload(300 * 1024, 2);
    let blob = {
        let j = open(&jdir, &inner, 1024 * MIB);
        let blob = write(&j, &a, br#"{"entry":"a"}"#).await;
        // A second instance is arriving when the process dies: its bytes are on disk but
        // its header was never written (the writer is leaked, as a crash would).
        let mut w = j.writer().unwrap();
        w.write(&payload(200 * 1024, 3)).unwrap();
        std::mem::forget(w);
        blob
        // The journal is dropped without settling or copying anything.
    };
    assert_eq!(segments(&jdir).len(), 1);
    assert!(!inner.exists(&blob.key).await.unwrap());

    let j = open(&jdir, &inner, 1024 * MIB);
    let ((replayed, stored), seen) = recover(&j).await;
    assert_eq!((replayed, stored), (1, 1));
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, br#"{"entry":"a"}"#.to_vec());
    assert_eq!(seen[0].1, blob);
    assert_eq!(inner.get(&blob.key).await.unwrap(), Bytes::from(a));
    assert!(segments(&jdir).is_empty());
}

#[tokio::test]
async fn refused_and_corrupt_records_are_never_replayed() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = FsStore::new(tmp.path().join("blobs")).unwrap();
    let jdir = tmp.path().join("journal");
    let (refused, corrupt) = {
        let j = open(&jdir, &inner, 1024 * MIB);
        let refused = write(&j, &payload(100 * 1024, 4), b"{}").await;
        j.settle(&refused, false);
        let corrupt = write(&j, &payload(100 * 1024, 5), b"{}").await;
        (refused, corrupt)
    };
    // Damage one byte of the second record's data (after the first record).
    let seg = segments(&jdir).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() - 10 * 1024;
    bytes[at] ^= 0xff;
    std::fs::write(&seg, bytes).unwrap();

    let j = open(&jdir, &inner, 1024 * MIB);
    let ((replayed, _), seen) = recover(&j).await;
    assert_eq!(replayed, 0);
    assert!(seen.is_empty());
    assert!(!inner.exists(&refused.key).await.unwrap());
    assert!(!inner.exists(&corrupt.key).await.unwrap());
    assert!(segments(&jdir).is_empty());
}

#[tokio::test]
async fn a_writer_dropped_midway_leaves_nothing_and_the_next_record_is_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = FsStore::new(tmp.path().join("blobs")).unwrap();
    let jdir = tmp.path().join("journal");
    let good = payload(50 * 1024, 7);
    let blob = {
        let j = open(&jdir, &inner, 1024 * MIB);
        let mut w = j.writer().unwrap();
        w.write(&payload(400 * 1024, 6)).unwrap();
        drop(w); // refused by the parser: discarded
        write(&j, &good, b"{}").await
    };
    let j = open(&jdir, &inner, 1024 * MIB);
    let ((replayed, stored), _) = recover(&j).await;
    assert_eq!((replayed, stored), (1, 1));
    assert_eq!(inner.get(&blob.key).await.unwrap(), Bytes::from(good));
}

// ---- through the ingest pipeline, with a database ----

async fn ingest_streamed(ing: &Ingestor, facility: i64, data: &Bytes) -> Stored {
    let mut w = ing.store().writer().unwrap();
    for chunk in data.chunks(16 * 1024) {
        w.write(chunk).unwrap();
    }
    let src = Source {
        facility_id: facility,
        channel: Channel::CStore,
        ctx: Ctx::system("AE SCU 127.0.0.1"),
    };
    ing.ingest_streamed(&src, data.clone(), w).await.unwrap()
}

#[tokio::test]
async fn an_index_commit_lost_with_the_database_is_replayed_from_the_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let blobs = tmp.path().join("blobs");
    let jdir = tmp.path().join("journal");
    let data = fixture();
    let db1 = tmp.path().join("db1");
    std::fs::create_dir(&db1).unwrap();
    let (_, pool, facility) = database(&db1);
    {
        let store: SharedStore = Arc::new(FsStore::new(&blobs).unwrap());
        let ing = Ingestor::journaled(pool.clone(), store, &settings(), &jdir).unwrap();
        let stored = ingest_streamed(&ing, facility, &data).await;
        assert!(matches!(stored, Stored::New { .. }), "{stored:?}");
        // Indexed (visible) and readable at once, before any copy into the blob store.
        assert_eq!(instance_count(&pool, facility), 1);
        assert_eq!(ing.journal().unwrap().backlog(), 1);
        // The process dies here: nothing is copied, the segment stays.
    }
    assert_eq!(segments(&jdir).len(), 1);

    // The machine lost power before the database flushed the deferred commit: model it
    // with a database that never saw the instance (same facility).
    let db2 = tmp.path().join("db2");
    std::fs::create_dir(&db2).unwrap();
    let (_, pool2, facility2) = database(&db2);
    assert_eq!(facility2, facility);
    assert_eq!(instance_count(&pool2, facility), 0);
    let store: SharedStore = Arc::new(FsStore::new(&blobs).unwrap());
    let ing = Ingestor::journaled(pool2.clone(), store, &settings(), &jdir).unwrap();
    ing.startup_sweep().await.unwrap();
    assert_eq!(instance_count(&pool2, facility), 1);
    // Kept for reuse (the default recycles segments), its records ended.
    assert_eq!(segments(&jdir).len(), 1);
    // The blob is in the blob store proper, under the key the index names.
    let key = index::storage_keys(&mut pool2.get().unwrap()).unwrap();
    assert_eq!(key.len(), 1);
    let key = radvision::store::BlobKey::parse(&key[0]).unwrap();
    let inner = FsStore::new(&blobs).unwrap();
    assert_eq!(inner.get(&key).await.unwrap(), data);
    // The replayed store is audited with the original sender.
    let mut c = pool2.get().unwrap();
    let n: i64 = {
        use diesel::prelude::*;
        use shared::db::schema::audit_events::dsl as a;
        a::audit_events
            .filter(a::action.eq("instance.store"))
            .filter(a::source.eq("AE SCU 127.0.0.1"))
            .count()
            .get_result(&mut c)
            .unwrap()
    };
    assert_eq!(n, 1);

    // Replaying again (the first database DID keep the commit) adds nothing.
    drop(ing);
    let store: SharedStore = Arc::new(FsStore::new(&blobs).unwrap());
    let ing = Ingestor::journaled(pool.clone(), store, &settings(), &jdir).unwrap();
    ing.startup_sweep().await.unwrap();
    assert_eq!(instance_count(&pool, facility), 1);
}

#[tokio::test]
async fn journaled_ingest_copies_into_the_blob_store_and_recycles_the_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, pool, facility) = database(tmp.path());
    let blobs = tmp.path().join("blobs");
    let jdir = tmp.path().join("journal");
    let store: SharedStore = Arc::new(FsStore::new(&blobs).unwrap());
    let ing = Ingestor::journaled(pool.clone(), store, &settings(), &jdir).unwrap();
    let data = fixture();
    assert!(matches!(
        ingest_streamed(&ing, facility, &data).await,
        Stored::New { .. }
    ));
    // The same instance again: a duplicate, still one blob.
    assert!(matches!(
        ingest_streamed(&ing, facility, &data).await,
        Stored::Duplicate { .. }
    ));
    drain(ing.journal().unwrap()).await;
    // Kept for reuse (the default recycles segments), its records ended.
    assert_eq!(segments(&jdir).len(), 1);
    let inner = FsStore::new(&blobs).unwrap();
    assert_eq!(inner.list().await.unwrap().len(), 1);
    assert_eq!(instance_count(&pool, facility), 1);
    // The flush mark was written before the segment was recycled.
    let marks: i64 = {
        use diesel::prelude::*;
        use shared::db::schema::durability_marks::dsl as m;
        m::durability_marks
            .count()
            .get_result(&mut pool.get().unwrap())
            .unwrap()
    };
    assert_eq!(marks, 1);
}

// ---- recycled segments ----

#[tokio::test]
async fn a_recycled_segment_is_reused_in_place_and_its_old_records_are_never_replayed() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = FsStore::new(tmp.path().join("blobs")).unwrap();
    let jdir = tmp.path().join("journal");
    let first: Vec<Vec<u8>> = (0..3).map(|i| payload(200 * 1024, 10 + i)).collect();
    let (seg, size) = {
        let j = open_recycling(&jdir, &inner, 1024 * MIB, 4 * MIB);
        for (i, d) in first.iter().enumerate() {
            let b = write(&j, d, format!("{{\"first\":{i}}}").as_bytes()).await;
            j.settle(&b, true);
        }
        drain(&j).await;
        // Copied, flushed and kept for reuse: the same file, its records ended.
        let segs = segments(&jdir);
        assert_eq!(segs.len(), 1, "{segs:?}");
        let size = std::fs::metadata(&segs[0]).unwrap().len();
        assert!(size > 600 * 1024, "{size}");
        (segs[0].clone(), size)
    };
    // Reopened with nothing new: the old records are not replayed.
    let j = open_recycling(&jdir, &inner, 1024 * MIB, 4 * MIB);
    let ((replayed, _), _) = recover(&j).await;
    assert_eq!(replayed, 0);
    assert_eq!(segments(&jdir), vec![seg.clone()]);

    // A smaller record written over the start of the reused segment, then a crash: only it
    // is replayed, although the old records' bytes are still there after it.
    let second = payload(100 * 1024, 20);
    let blob = write(&j, &second, br#"{"second":0}"#).await;
    drop(j);
    assert_eq!(segments(&jdir), vec![seg.clone()]);
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        size,
        "written in place"
    );
    let j = open_recycling(&jdir, &inner, 1024 * MIB, 4 * MIB);
    let ((replayed, stored), seen) = recover(&j).await;
    assert_eq!((replayed, stored), (1, 1));
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, br#"{"second":0}"#.to_vec());
    assert_eq!(seen[0].1, blob);
    assert_eq!(inner.get(&blob.key).await.unwrap(), Bytes::from(second));
    // Recovered and recycled again.
    let ((replayed, _), _) = recover(&j).await;
    assert_eq!(replayed, 0);
}

#[tokio::test]
async fn the_journal_keeps_no_more_recycled_segments_than_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = FsStore::new(tmp.path().join("blobs")).unwrap();
    let jdir = tmp.path().join("journal");
    // Two writers at once take two segments; each fills past 1 MiB and is sealed.
    let j = open_recycling(&jdir, &inner, 1024 * MIB, MIB);
    let mut blobs = Vec::new();
    for round in 0..3u8 {
        let mut a = j.writer().unwrap();
        let mut b = j.writer().unwrap();
        a.write(&payload(600 * 1024, round)).unwrap();
        b.write(&payload(600 * 1024, 100 + round)).unwrap();
        blobs.push(a.finish().await.unwrap());
        blobs.push(b.finish().await.unwrap());
    }
    for b in &blobs {
        j.settle(b, true);
    }
    assert!(segments(&jdir).len() >= 2);
    drain(&j).await;
    // 1 MiB of recycling is one segment of 1 MiB: the other is deleted.
    assert_eq!(segments(&jdir).len(), 1, "{:?}", segments(&jdir));
    for b in &blobs {
        assert!(inner.exists(&b.key).await.unwrap());
    }
    // The kept one takes the next record.
    let next = write(&j, &payload(10 * 1024, 50), b"{}").await;
    assert_eq!(segments(&jdir).len(), 1);
    assert_eq!(j.get(&next.key).await.unwrap().len(), 10 * 1024);
}

#[tokio::test]
async fn a_blob_deleted_while_in_the_journal_is_neither_copied_nor_replayed() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = FsStore::new(tmp.path().join("blobs")).unwrap();
    let jdir = tmp.path().join("journal");
    let kept_data = payload(200 * 1024, 11);
    let (deleted, kept) = {
        let j = open(&jdir, &inner, 1024 * MIB);
        let deleted = write(&j, &payload(300 * 1024, 10), br#"{"entry":"deleted"}"#).await;
        j.settle(&deleted, true);
        let kept = write(&j, &kept_data, br#"{"entry":"kept"}"#).await;
        j.settle(&kept, true);
        j.delete(&deleted.key).await.unwrap();
        // Gone at once: neither served from the journal nor listed.
        assert!(!j.exists(&deleted.key).await.unwrap());
        assert!(j.get(&deleted.key).await.is_err());
        assert_eq!(j.list().await.unwrap(), vec![kept.key.clone()]);
        assert_eq!(j.backlog(), 1);
        (deleted, kept)
        // The journal is dropped before the copier ran: a crash.
    };
    let j = open(&jdir, &inner, 1024 * MIB);
    let ((replayed, _), seen) = recover(&j).await;
    assert_eq!(replayed, 1);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, br#"{"entry":"kept"}"#.to_vec());
    assert_eq!(inner.get(&kept.key).await.unwrap(), Bytes::from(kept_data));
    assert!(!inner.exists(&deleted.key).await.unwrap());

    // Without a crash: the copier never brings a deleted blob back.
    let again = write(&j, &payload(100 * 1024, 12), b"{}").await;
    j.settle(&again, true);
    j.delete(&again.key).await.unwrap();
    drain(&j).await;
    assert_eq!(j.backlog(), 0);
    assert!(!inner.exists(&again.key).await.unwrap());
    assert!(!j.exists(&again.key).await.unwrap());
    assert!(segments(&jdir).is_empty(), "{:?}", segments(&jdir));
}
