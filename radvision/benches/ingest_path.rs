//! Benchmark (not a test) of the ingest path without the network: parsing one instance, and
//! the whole pipeline (parse → durable blob → index row + audit event) into a filesystem
//! store and SQLite in a temporary directory, and the index alone (new instances and
//! duplicates) as the journaled C-STORE path commits it.
//!
//! `cargo bench -p radvision --bench ingest_path` — optional `ENKAKU_BENCH_FILE=<a Part 10
//! file>` (default: the 64×64 CT fixture; use one slice of `../shared/bench/gen-study.py`
//! output for a realistic 512×512 one) and `ENKAKU_BENCH_N` (default 500). Prints medians.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use radvision::ingest::parse::{parse_instance, Limits};
use radvision::ingest::pipeline::{Channel, Ingestor, Source};
use radvision::store::FsStore;
use shared::audit::Ctx;
use shared::domain::FacilityStatus;
use shared::membership::facilities::{self, FacilityForm};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Rewrites the last digits of every occurrence of the SOP Instance UID (file meta and data
/// set) so each copy is a distinct instance of the same length.
fn with_sop_suffix(data: &[u8], uid: &str, i: usize) -> Vec<u8> {
    let suffix = format!("{:06}", i % 1_000_000);
    let mut new_uid = uid.as_bytes().to_vec();
    let n = new_uid.len();
    let tail = n.min(6);
    new_uid[n - tail..].copy_from_slice(&suffix.as_bytes()[6 - tail..]);
    let mut out = data.to_vec();
    let mut pos = 0;
    while let Some(off) = out[pos..].windows(n).position(|w| w == uid.as_bytes()) {
        let at = pos + off;
        out[at..at + n].copy_from_slice(&new_uid);
        pos = at + n;
    }
    out
}

fn main() {
    let file = std::env::var("ENKAKU_BENCH_FILE").unwrap_or_else(|_| {
        format!(
            "{}/../tests/fixtures/dicom/ct_explicit_le.dcm",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let n: usize = std::env::var("ENKAKU_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let data = std::fs::read(&file).unwrap();
    let limits = Limits::default();
    let parsed = parse_instance(&data, &limits).expect("the bench file parses");
    println!("file: {file} ({} bytes), N = {n}", data.len());

    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        let s = Instant::now();
        std::hint::black_box(parse_instance(std::hint::black_box(&data), &limits).unwrap());
        t.push(s.elapsed());
    }
    let m = median(t);
    println!(
        "parse_instance: median {:?} per instance ({:.0} instances/s on one core)",
        m,
        1.0 / m.as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.sqlite3").display());
    let pool = shared::db::pool(&url, 4).unwrap();
    shared::db::migrate(&mut pool.get().unwrap()).unwrap();
    let facility = facilities::create(
        &mut pool.get().unwrap(),
        &Ctx::system("bench"),
        &FacilityForm {
            name: "bench".into(),
            kind: "clinic".into(),
            is_requesting: true,
            notification_emails: "a@example.jp".into(),
            ..Default::default()
        },
        FacilityStatus::Active,
    )
    .unwrap();
    let store = Arc::new(FsStore::new(dir.path().join("blobs")).unwrap());
    // The blob store alone: N distinct blobs, each written, fsynced, renamed, dir fsynced.
    let rt0 = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let solo = FsStore::new(dir.path().join("solo")).unwrap();
    let mut t = Vec::with_capacity(n);
    rt0.block_on(async {
        use radvision::store::BlobStore;
        for i in 0..n {
            let b = Bytes::from(with_sop_suffix(
                &data,
                &parsed.sop_instance_uid,
                i + 1_000_000 - n,
            ));
            let s = Instant::now();
            solo.put(b).await.unwrap();
            t.push(s.elapsed());
        }
    });
    println!(
        "blob store put (fsynced file + directory): median {:?}",
        median(t)
    );
    rt0.shutdown_background();
    let settings = shared::settings::Settings::load_from(None, &[]).unwrap();
    let ingestor = Ingestor::new(pool, store, &settings.ingest);
    let src = Source {
        facility_id: facility.id,
        channel: Channel::CStore,
        ctx: Ctx::system("bench"),
    };
    let copies: Vec<Bytes> = (0..n)
        .map(|i| Bytes::from(with_sop_suffix(&data, &parsed.sop_instance_uid, i)))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut t = Vec::with_capacity(n);
    let all = Instant::now();
    rt.block_on(async {
        for c in copies {
            let s = Instant::now();
            ingestor.ingest(&src, c).await.unwrap();
            t.push(s.elapsed());
        }
    });
    let total = all.elapsed();
    let m = median(t);
    println!(
        "pipeline (parse + fsynced blob + SQLite index + audit, one at a time): median {:?} per instance, {:.0} instances/s overall",
        m,
        n as f64 / total.as_secs_f64()
    );
    rt.shutdown_background();
    index_alone(&ingestor, &url, &data, &parsed.sop_instance_uid, n);
}

/// The index alone, as the journaled C-STORE path commits it (`Flush::Deferred`, the blob
/// already durable): N new instances of one series of another clinic, then the same N
/// again (duplicates: only the audit event is written).
fn index_alone(ingestor: &Ingestor, url: &str, data: &[u8], sop_uid: &str, n: usize) {
    use radvision::store::{BlobKey, StoredBlob};
    use sha2::{Digest, Sha256};
    use shared::index::{self, Flush};
    let mut conn = shared::db::establish(url).unwrap();
    let facility = facilities::create(
        &mut conn,
        &Ctx::system("bench"),
        &FacilityForm {
            name: "bench index".into(),
            kind: "clinic".into(),
            is_requesting: true,
            notification_emails: "b@example.jp".into(),
            ..Default::default()
        },
        FacilityStatus::Active,
    )
    .unwrap();
    let src = Source {
        facility_id: facility.id,
        channel: Channel::CStore,
        ctx: Ctx::system("bench"),
    };
    let limits = Limits::default();
    let rows: Vec<_> = (0..n)
        .map(|i| {
            let copy = with_sop_suffix(data, sop_uid, i);
            let p = parse_instance(&copy, &limits).unwrap();
            let sha256 = hex::encode(Sha256::digest(&copy));
            let blob = StoredBlob {
                key: BlobKey::for_sha256(&sha256).unwrap(),
                sha256,
                size: copy.len() as u64,
            };
            ingestor.new_instance(&src, &p, &blob)
        })
        .collect();
    for label in ["new instances", "duplicates"] {
        let mut t = Vec::with_capacity(n);
        for row in &rows {
            let s = Instant::now();
            index::record_instance_when(
                &mut conn,
                &src.ctx,
                row,
                i64::MAX,
                Flush::Deferred,
                &mut || true,
            )
            .unwrap();
            t.push(s.elapsed());
        }
        println!(
            "index alone (SQLite, deferred flush), {label}: median {:?}",
            median(t)
        );
    }
}
