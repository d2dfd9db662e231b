//! A crash in the middle of a transfer: `kill -9` of a separate `enkaku serve` while dcmtk's
//! `storescu` sends, then a restart and a resend leave a complete study, every blob checked
//! against its hash, no orphans and the journal's segments recycled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::dicom::*;
use common::free_port;
use radvision::store::fs::FsStore;
use radvision::store::{BlobKey, BlobStore};
use sha2::{Digest, Sha256};
use shared::audit::Ctx;
use shared::domain::FacilityStatus;
use shared::membership::facilities::{self, FacilityForm};

/// A separate `enkaku serve` process.
struct Server {
    child: std::process::Child,
}

impl Server {
    fn start(data: &Path, db_url: &str, http: u16, dicom: u16, n: u32) -> Server {
        let log = std::fs::File::create(data.join(format!("server-{n}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_enkaku"))
            .arg("serve")
            .env("ENKAKU_DATA_DIR", data)
            .env("ENKAKU_DATABASE__URL", db_url)
            .env("ENKAKU_HTTP__BIND", format!("127.0.0.1:{http}"))
            .env(
                "ENKAKU_HTTP__PUBLIC_URL",
                format!("http://127.0.0.1:{http}"),
            )
            .env("ENKAKU_HTTP__WORKERS", "1")
            .env("ENKAKU_DICOM__BIND", format!("127.0.0.1:{dicom}"))
            // Small journal segments, two kept for reuse: the study fills, seals and
            // recycles several, and the kill leaves some mid-use.
            .env("ENKAKU_INGEST__JOURNAL_SEGMENT_MIB", "1")
            .env("ENKAKU_INGEST__JOURNAL_RECYCLE_MIB", "2")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", dicom)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Server { child }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_during_transfer_then_resend_leaves_a_consistent_store() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db_url = shared::db::testing::fresh_database_url(tmp.path()).unwrap();
    let mut conn = shared::db::establish(&db_url).unwrap();
    shared::db::migrate(&mut conn).unwrap();
    let clinic = facilities::create(
        &mut conn,
        &Ctx::system("t"),
        &FacilityForm {
            name: "さぬき診療所".into(),
            kind: "clinic".into(),
            is_requesting: true,
            is_supporting: false,
            postal_address: "香川県".into(),
            phone: "087-000-0000".into(),
            notification_emails: "info@example.jp".into(),
        },
        FacilityStatus::Active,
    )
    .unwrap()
    .id;
    node(&mut conn, clinic, "CLINIC_A", "127.0.0.1", true);
    // ~60 KB each: the 3.6 MB study fills several of the server's 1 MiB journal segments.
    let (files, uid) = make_study(&tmp.path().join("study"), 3, 20, &["--pad", "60000"]).await;
    assert_eq!(files.len(), 60);
    let (http, dicom) = (free_port(), free_port());

    // Send, and kill -9 the server once ~20 instances are acknowledged.
    let (d2, u2) = (data.clone(), db_url.clone());
    let files2 = files.clone();
    let acked = tokio::task::spawn_blocking(move || {
        let mut server = Server::start(&d2, &u2, http, dicom, 1);
        let mut child = dcmtk("storescu")
            .args([
                "-v",
                "-aet",
                "CLINIC_A",
                "-aec",
                CALLED,
                "127.0.0.1",
                &dicom.to_string(),
            ])
            .args(&files2)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // dcmtk logs to stderr or stdout depending on the build: read both.
        let out = child.stdout.take().unwrap();
        let out_thread = std::thread::spawn(move || {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        let mut acked = 0;
        for line in BufReader::new(child.stderr.take().unwrap())
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("Received Store Response") && line.contains("Success") {
                acked += 1;
                if acked == 20 {
                    server.child.kill().unwrap();
                    server.child.wait().unwrap();
                }
            }
        }
        let _ = child.wait();
        let _ = out_thread.join();
        acked
    })
    .await
    .unwrap();
    eprintln!("{acked} of 60 acknowledged when the server was killed");
    assert!(acked >= 20, "only {acked} acknowledged before the kill");

    // Leftovers a crash could leave: an unreferenced blob and a temporary file.
    let store = FsStore::new(data.join("blobs")).unwrap();
    let content = b"not referenced by any index row";
    let orphan = BlobKey::for_sha256(&hex::encode(Sha256::digest(content))).unwrap();
    let orphan_path = store.blob_path(&orphan);
    std::fs::create_dir_all(orphan_path.parent().unwrap()).unwrap();
    std::fs::write(&orphan_path, content).unwrap();
    assert!(store
        .list()
        .await
        .unwrap()
        .iter()
        .any(|k| k.as_str() == orphan.as_str()));
    std::fs::write(store.tmp_dir().join("upload-crashed.part"), b"partial").unwrap();

    // Restart, resend everything.
    let (d2, u2, files2) = (data.clone(), db_url.clone(), files.clone());
    let o = tokio::task::spawn_blocking(move || {
        let _server = Server::start(&d2, &u2, http, dicom, 2);
        let o = dcmtk("storescu")
            .args([
                "-aet",
                "CLINIC_A",
                "-aec",
                CALLED,
                "127.0.0.1",
                &dicom.to_string(),
            ])
            .args(&files2)
            .output()
            .unwrap();
        // Acknowledged instances are durable in the ingest journal; the server copies them
        // into the blob store in the pause that follows.
        let blobs = d2.join("blobs").join("sha256");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while files_under(&blobs).len() < 60 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(files_under(&blobs).len(), 60, "journal not copied");
        // Two segments at most are kept for reuse.
        assert!(files_under(&d2.join("journal")).len() <= 2);
        o
    })
    .await
    .unwrap();
    assert!(o.status.success(), "resend: {}", text(&o));

    assert_eq!(study_counts(&mut conn, clinic), vec![(uid, 3, 60)]);
    let study_id = studies(&mut conn, clinic)[0].study.id;
    let rows = shared::index::instances_of_study(&mut conn, clinic, study_id).unwrap();
    assert_eq!(rows.len(), 60);
    for r in &rows {
        let key = BlobKey::parse(&r.storage_key).unwrap();
        let bytes = std::fs::read(store.blob_path(&key)).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), r.sha256);
        assert_eq!(key.sha256(), r.sha256);
    }
    assert_eq!(files_under(&store.tmp_dir()), Vec::<PathBuf>::new());
    let referenced: std::collections::HashSet<String> = shared::index::storage_keys(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    let listed = store.list().await.unwrap();
    assert!(!orphan_path.exists(), "orphan survived the sweep");
    for k in &listed {
        assert!(
            referenced.contains(k.as_str()),
            "unreferenced blob {}",
            k.as_str()
        );
    }
    assert_eq!(listed.len(), 60);
}
