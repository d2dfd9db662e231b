//! The blob stores: one behavioural suite run against the filesystem store and against the
//! S3 store (on a real moto server started on loopback, or `ENKAKU_TEST_S3_ENDPOINT`), plus
//! the filesystem store's crash and failure cases (one on a real full disk).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::small_fs::{self, SmallFs};
use object_store::ObjectStore;
use radvision::store::{
    factory, BlobKey, BlobStore, FsStore, JournalSizes, JournaledStore, S3Store, SharedStore,
    StoreError, StoredBlob,
};
use sha2::{Digest, Sha256};
use shared::settings::{Secret, Settings, StorageBackend, StorageSettings};

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Deterministic pseudo-random content (xorshift), different for each seed.
fn content(seed: u64, len: usize) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

fn key_set<'a>(keys: impl IntoIterator<Item = &'a BlobKey>) -> BTreeSet<String> {
    keys.into_iter().map(|k| k.as_str().to_owned()).collect()
}

async fn listed(store: &SharedStore) -> BTreeSet<String> {
    let keys = store.list().await.unwrap();
    let set = key_set(&keys);
    assert_eq!(set.len(), keys.len(), "list returned duplicates: {keys:?}");
    set
}

fn check_stored(stored: &StoredBlob, data: &[u8]) {
    let hex = sha256_hex(data);
    assert_eq!(stored.sha256, hex);
    assert_eq!(stored.key.as_str(), format!("sha256/{hex}"));
    assert_eq!(stored.key.sha256(), hex);
    assert_eq!(stored.size, data.len() as u64);
}

/// The behaviour every `BlobStore` must have. Expects an empty store.
async fn suite(store: SharedStore) {
    assert!(
        listed(&store).await.is_empty(),
        "the store must start empty"
    );

    // Round trip.
    let a = Bytes::from_static(b"DICM: not really an instance, but bytes all the same");
    let sa = store.put(a.clone()).await.unwrap();
    check_stored(&sa, &a);
    assert_eq!(store.get(&sa.key).await.unwrap(), a);
    assert!(store.exists(&sa.key).await.unwrap());

    // The same content twice: same key, one object.
    let sa2 = store.put(a.clone()).await.unwrap();
    assert_eq!(sa2, sa);
    assert_eq!(listed(&store).await, key_set([&sa.key]));

    // Different content: a different key.
    let b = content(1, 4096);
    let sb = store.put(b.clone()).await.unwrap();
    check_stored(&sb, &b);
    assert_ne!(sb.key, sa.key);
    assert_eq!(store.get(&sb.key).await.unwrap(), b);

    // Empty content is a blob like any other.
    let se = store.put(Bytes::new()).await.unwrap();
    check_stored(&se, b"");
    assert!(store.get(&se.key).await.unwrap().is_empty());

    // Missing blobs.
    let missing = BlobKey::for_sha256(&sha256_hex(b"never stored")).unwrap();
    assert!(matches!(
        store.get(&missing).await,
        Err(StoreError::NotFound)
    ));
    assert!(!store.exists(&missing).await.unwrap());

    // list: exactly what was stored.
    assert_eq!(listed(&store).await, key_set([&sa.key, &sb.key, &se.key]));

    // A 20 MB blob.
    let big = content(2, 20 * 1024 * 1024);
    let sbig = store.put(big.clone()).await.unwrap();
    check_stored(&sbig, &big);
    assert!(store.get(&sbig.key).await.unwrap() == big);

    // The same content from 8 tasks at once: all succeed, same key, one object.
    let c = content(3, 256 * 1024);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let c = c.clone();
            tokio::spawn(async move { store.put(c).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().unwrap());
    }
    for r in &results {
        assert_eq!(r, &results[0]);
    }
    check_stored(&results[0], &c);
    let sc = results[0].clone();
    assert_eq!(store.get(&sc.key).await.unwrap(), c);
    assert_eq!(
        listed(&store).await,
        key_set([&sa.key, &sb.key, &se.key, &sbig.key, &sc.key])
    );

    // delete: gone, and deleting again (or something never stored) is fine.
    store.delete(&sa.key).await.unwrap();
    assert!(!store.exists(&sa.key).await.unwrap());
    assert!(matches!(
        store.get(&sa.key).await,
        Err(StoreError::NotFound)
    ));
    store.delete(&sa.key).await.unwrap();
    store.delete(&missing).await.unwrap();
    assert_eq!(
        listed(&store).await,
        key_set([&sb.key, &se.key, &sbig.key, &sc.key])
    );
    // Storing it again after a delete brings it back.
    assert_eq!(store.put(a.clone()).await.unwrap(), sa);
    assert_eq!(store.get(&sa.key).await.unwrap(), a);

    // Streamed writes: chunks of any size give the same blob as one put; an existing
    // content is not duplicated; a writer dropped before `finish` leaves nothing.
    let d = content(4, 3 * 1024 * 1024 + 17);
    let mut w = store.writer().unwrap();
    for chunk in d.chunks(16 * 1024 - 6) {
        w.write(chunk).unwrap();
    }
    let sd = w.finish().await.unwrap();
    check_stored(&sd, &d);
    assert_eq!(store.get(&sd.key).await.unwrap(), d);
    assert_eq!(store.put(d.clone()).await.unwrap(), sd);
    let mut w = store.writer().unwrap();
    w.write(&b[..100]).unwrap();
    w.write(&b[100..]).unwrap();
    assert_eq!(w.finish().await.unwrap(), sb, "already stored: same key");
    let mut w = store.writer().unwrap();
    w.write(b"abandoned half way").unwrap();
    drop(w);
    assert_eq!(
        listed(&store).await,
        key_set([&sa.key, &sb.key, &se.key, &sbig.key, &sc.key, &sd.key])
    );

    // Nothing was left half-written.
    assert_eq!(store.sweep_temporary().await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// Filesystem store
// ---------------------------------------------------------------------------------------

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                out.extend(files_under(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path().join("blobs")).unwrap();
    suite(Arc::new(store.clone())).await;
    assert!(files_under(&store.tmp_dir()).is_empty());
    // Six blobs, one file each, nothing else (no temporary file of the abandoned writer).
    assert_eq!(files_under(&dir.path().join("blobs")).len(), 6);
}

#[tokio::test]
async fn fs_layout_is_fanned_out_by_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path()).unwrap();
    let data = Bytes::from_static(b"layout");
    let stored = store.put(data.clone()).await.unwrap();
    let hex = sha256_hex(&data);
    let expected = dir.path().join("sha256").join(&hex[0..2]).join(&hex);
    assert_eq!(store.blob_path(&stored.key), expected);
    assert_eq!(std::fs::read(&expected).unwrap(), data);
    assert!(dir.path().join("tmp").is_dir());
}

#[tokio::test]
async fn fs_corrupt_file_is_detected_and_a_reput_repairs_a_truncated_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path()).unwrap();
    let data = content(10, 10_000);
    let stored = store.put(data.clone()).await.unwrap();
    let path = store.blob_path(&stored.key);

    // A flipped byte, same size.
    let mut bad = data.to_vec();
    bad[5000] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    match store.get(&stored.key).await {
        Err(StoreError::Corrupt(k)) => assert_eq!(k, stored.key.as_str()),
        other => panic!("expected Corrupt, got {other:?}"),
    }

    // Truncated: still corrupt on read; storing the content again replaces it.
    std::fs::write(&path, &data[..100]).unwrap();
    assert!(matches!(
        store.get(&stored.key).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(store.put(data.clone()).await.unwrap(), stored);
    assert_eq!(store.get(&stored.key).await.unwrap(), data);
}

#[tokio::test]
async fn fs_sweep_removes_leftover_temp_files_and_list_ignores_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = FsStore::new(root).unwrap();
    let stored = store.put(content(20, 1000)).await.unwrap();
    let hex = stored.key.sha256().to_owned();

    // What a crash mid-write leaves behind.
    std::fs::write(
        root.join("tmp/0123456789abcdef.tmp"),
        b"half of an instance",
    )
    .unwrap();
    std::fs::create_dir(root.join("tmp/odd-dir")).unwrap();
    std::fs::write(root.join("tmp/odd-dir/x"), b"x").unwrap();
    // Things in the blob tree that are not blobs.
    let leaf = root.join("sha256").join(&hex[0..2]);
    std::fs::write(leaf.join(format!("{hex}.tmp")), b"x").unwrap();
    std::fs::write(leaf.join(hex.to_uppercase()), b"x").unwrap();
    let misfiled = sha256_hex(b"misfiled");
    std::fs::write(leaf.join(&misfiled), b"misfiled").unwrap();
    std::fs::create_dir_all(root.join("sha256/zz")).unwrap();
    std::fs::write(root.join("sha256/zz").join(sha256_hex(b"zz")), b"zz").unwrap();
    std::fs::write(root.join("sha256/README"), b"x").unwrap();
    let dir_named_like_a_key = sha256_hex(b"a directory");
    std::fs::create_dir_all(
        root.join("sha256")
            .join(&dir_named_like_a_key[0..2])
            .join(&dir_named_like_a_key),
    )
    .unwrap();

    let only = key_set([&stored.key]);
    assert_eq!(key_set(&store.list().await.unwrap()), only);
    assert_eq!(store.sweep_temporary().await.unwrap(), 2);
    assert!(std::fs::read_dir(root.join("tmp"))
        .unwrap()
        .next()
        .is_none());
    assert_eq!(store.sweep_temporary().await.unwrap(), 0);
    assert_eq!(key_set(&store.list().await.unwrap()), only);
    assert_eq!(store.get(&stored.key).await.unwrap(), content(20, 1000));
}

#[tokio::test]
async fn fs_unwritable_temp_dir_is_unavailable_and_leaves_nothing() {
    // Tests run as root, where chmod 0555 does not stop writes: make `tmp` a regular file
    // so that creating the temporary file fails.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = FsStore::new(root).unwrap();
    std::fs::remove_dir(root.join("tmp")).unwrap();
    std::fs::write(root.join("tmp"), b"not a directory").unwrap();

    let data = content(30, 5000);
    match store.put(data).await {
        Err(StoreError::Unavailable(msg)) => assert!(!msg.is_empty()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(store.list().await.unwrap().is_empty());
    assert!(files_under(&root.join("sha256")).is_empty());
    assert_eq!(std::fs::read(root.join("tmp")).unwrap(), b"not a directory");
}

#[tokio::test]
async fn fs_failure_after_the_temp_write_removes_the_temp_file() {
    // The fan-out directory cannot be created (a file is in the way): the temporary file,
    // already written and fsynced, must be removed.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = FsStore::new(root).unwrap();
    let data = content(40, 5000);
    let hex = sha256_hex(&data);
    let blocker = root.join("sha256").join(&hex[0..2]);
    std::fs::remove_dir(&blocker).unwrap();
    std::fs::write(&blocker, b"in the way").unwrap();

    assert!(matches!(
        store.put(data.clone()).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(files_under(&root.join("tmp")).is_empty());
    assert!(store.list().await.unwrap().is_empty());

    // Once the obstacle is gone the same put works.
    std::fs::remove_file(&blocker).unwrap();
    let stored = store.put(data.clone()).await.unwrap();
    assert_eq!(store.get(&stored.key).await.unwrap(), data);
}

#[tokio::test]
async fn fs_full_disk_is_unavailable_and_leaves_no_temporary_file() {
    let Some(small) = SmallFs::mount(2) else {
        return;
    };
    let store = FsStore::new(small.path().join("blobs")).unwrap();
    let filler = small.fill();
    // Room for a part of the blob only: the write fails midway.
    small_fs::free(&filler, 16 * 1024);
    let data = content(50, 200 * 1024);
    match store.put(data.clone()).await {
        Err(StoreError::Unavailable(msg)) => assert!(!msg.is_empty()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(files_under(&store.tmp_dir()).is_empty());
    assert!(store.list().await.unwrap().is_empty());

    // Room again: the same put works and reads back intact.
    std::fs::remove_file(&filler).unwrap();
    let stored = store.put(data.clone()).await.unwrap();
    assert_eq!(store.get(&stored.key).await.unwrap(), data);
}

// ---------------------------------------------------------------------------------------
// Factory
// ---------------------------------------------------------------------------------------

fn s3_settings(endpoint: &str, bucket: &str) -> StorageSettings {
    let mut s = Settings::default().storage;
    s.backend = StorageBackend::S3;
    s.s3_endpoint = endpoint.into();
    s.s3_bucket = bucket.into();
    s.s3_region = "us-east-1".into();
    s.s3_access_key_id = "test".into();
    s.s3_secret_access_key = Secret::new("test");
    s.s3_allow_http = true;
    s
}

#[tokio::test]
async fn factory_builds_the_configured_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::default().storage;
    s.backend = StorageBackend::Filesystem;
    s.path = None;
    assert!(matches!(
        factory::from_settings(&s),
        Err(StoreError::Config(_))
    ));
    s.path = Some(dir.path().join("blobs"));
    let store = factory::from_settings(&s).unwrap();
    let stored = store.put(Bytes::from_static(b"x")).await.unwrap();
    assert!(dir
        .path()
        .join("blobs")
        .join("sha256")
        .join(&stored.sha256[0..2])
        .is_dir());

    // S3: built without any request; plain http only when allowed, and only on loopback.
    assert!(factory::from_settings(&s3_settings("http://127.0.0.1:9", "b")).is_ok());
    assert!(factory::from_settings(&s3_settings("https://s3.example.net", "b")).is_ok());
    let mut no_http = s3_settings("http://127.0.0.1:9", "b");
    no_http.s3_allow_http = false;
    assert!(matches!(
        factory::from_settings(&no_http),
        Err(StoreError::Config(_))
    ));
    assert!(matches!(
        factory::from_settings(&s3_settings("http://s3.example.net", "b")),
        Err(StoreError::Config(_))
    ));
    assert!(matches!(
        factory::from_settings(&s3_settings("https://s3.example.net", "")),
        Err(StoreError::Config(_))
    ));
    let mut half_credentials = s3_settings("https://s3.example.net", "b");
    half_credentials.s3_secret_access_key = Secret::default();
    assert!(matches!(
        factory::from_settings(&half_credentials),
        Err(StoreError::Config(_))
    ));
}

// ---------------------------------------------------------------------------------------
// S3 store, against a real S3-compatible server
// ---------------------------------------------------------------------------------------

/// A moto server started by ops/s3/start.sh for this test process (stopped on drop), or the
/// endpoint in `ENKAKU_TEST_S3_ENDPOINT`.
struct S3Server {
    endpoint: String,
    /// Set when we started the server ourselves.
    dir: Option<PathBuf>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

impl S3Server {
    fn start() -> S3Server {
        if let Ok(endpoint) = std::env::var("ENKAKU_TEST_S3_ENDPOINT") {
            if !endpoint.is_empty() {
                return S3Server {
                    endpoint,
                    dir: None,
                };
            }
        }
        let dir = std::env::temp_dir().join(format!(
            "enkaku-s3-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let started = Instant::now();
        // Our pid lets the server's watchdog stop it even if this process is killed.
        let out = Command::new(repo_root().join("ops/s3/start.sh"))
            .arg(&dir)
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("run ops/s3/start.sh");
        let server = S3Server {
            endpoint: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            dir: Some(dir),
        };
        assert!(
            out.status.success() && server.endpoint.starts_with("http://"),
            "ops/s3/start.sh failed ({}): {}",
            out.status,
            server.endpoint
        );
        eprintln!(
            "moto started at {} in {:?}",
            server.endpoint,
            started.elapsed()
        );
        server
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else {
            return;
        };
        if std::thread::panicking() {
            if let Ok(log) = std::fs::read_to_string(dir.join("log")) {
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("--- moto log (last lines) ---");
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
        let _ = Command::new(repo_root().join("ops/s3/stop.sh"))
            .arg(&dir)
            .stdin(Stdio::null())
            .status();
    }
}

/// Creates a bucket with a raw path-style `PUT /<bucket>` (moto accepts it unsigned).
fn create_bucket(endpoint: &str, bucket: &str) {
    let url = url::Url::parse(endpoint).unwrap();
    let host = url.host_str().unwrap().to_owned();
    let port = url.port_or_known_default().unwrap();
    let mut conn = TcpStream::connect((host.as_str(), port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        conn,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap_or_default();
    assert_eq!(status, "200", "create bucket {bucket}: {response}");
}

/// The S3 suite runs in one test so that one moto serves it all (nextest runs every test
/// in its own process).
#[test]
fn s3_suite() {
    let server = S3Server::start();
    // A fresh bucket per run: an external endpoint may be shared by several runs.
    let bucket = format!("enkaku-test-{:016x}", rand::random::<u64>());
    create_bucket(&server.endpoint, &bucket);
    let settings = s3_settings(&server.endpoint, &bucket);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = S3Store::from_settings(&settings).unwrap();
        assert_eq!(store.bucket(), bucket);
        let shared: SharedStore = Arc::new(store);
        let started = Instant::now();
        suite(shared.clone()).await;
        eprintln!("S3 suite ran in {:?}", started.elapsed());

        // The ingest journal in front of S3: a record is readable at once, then copied
        // into the bucket (same key, checked hash), and its segment recycled.
        let jdir = tempfile::tempdir().unwrap();
        let sizes = JournalSizes {
            segment_bytes: 1024 * 1024,
            max_backlog: 0,
            recycle_bytes: 1024 * 1024,
        };
        let journal = JournaledStore::open(jdir.path(), shared.clone(), sizes).unwrap();
        let data = content(60, 700 * 1024 + 3);
        let mut w = journal.writer().unwrap();
        for chunk in data.chunks(16 * 1024) {
            w.write(chunk).unwrap();
        }
        assert!(w.set_recovery_entry(b"{}".to_vec()));
        let blob = w.finish().await.unwrap();
        check_stored(&blob, &data);
        assert_eq!(journal.get(&blob.key).await.unwrap(), data);
        journal.settle(&blob, true);
        let j = journal.clone();
        assert!(
            tokio::task::spawn_blocking(move || j.drain(Duration::from_secs(30)))
                .await
                .unwrap()
        );
        assert_eq!(shared.get(&blob.key).await.unwrap(), data);
        assert_eq!(
            std::fs::read_dir(jdir.path()).unwrap().count(),
            1,
            "kept for reuse"
        );
        drop(journal);

        // A raw client on the same bucket, to damage and litter it behind the store's back.
        let raw = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&server.endpoint)
            .with_bucket_name(&bucket)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .build()
            .unwrap();
        let before = listed(&shared).await;

        // An object whose content does not match its key is Corrupt on read.
        let data = content(50, 2048);
        let key = BlobKey::for_sha256(&sha256_hex(&data)).unwrap();
        raw.put(
            &object_store::path::Path::from(key.as_str()),
            content(51, 2048).into(),
        )
        .await
        .unwrap();
        match shared.get(&key).await {
            Err(StoreError::Corrupt(k)) => assert_eq!(k, key.as_str()),
            other => panic!("expected Corrupt, got {other:?}"),
        }

        // Objects that are not blobs are not listed.
        for junk in ["sha256/not-a-key", "other/thing", "sha256x"] {
            raw.put(&object_store::path::Path::from(junk), "x".into())
                .await
                .unwrap();
        }
        let mut expected = before.clone();
        expected.insert(key.as_str().to_owned());
        assert_eq!(listed(&shared).await, expected);
    });
    drop(rt);
    drop(server);
}

#[tokio::test]
async fn s3_unreachable_endpoint_is_unavailable() {
    // Nothing listens on port 9 (discard) on loopback: connection refused, quickly.
    let store = S3Store::from_settings(&s3_settings("http://127.0.0.1:9", "nobucket")).unwrap();
    let started = Instant::now();
    let missing = BlobKey::for_sha256(&sha256_hex(b"x")).unwrap();
    assert!(matches!(
        store.get(&missing).await,
        Err(StoreError::Unavailable(_))
    ));
    eprintln!("unreachable endpoint reported in {:?}", started.elapsed());
}
