//! What the ingest tests share: a fresh database with one active clinic, the settings, a
//! fixture instance and the clinic's instance count.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod small_fs;

use std::path::Path;

use bytes::Bytes;
use shared::audit::Ctx;
use shared::db::{self, testing, DbPool};
use shared::domain::FacilityStatus;
use shared::index::{self, StudyQuery};
use shared::membership::facilities::{self, FacilityForm};

/// A small CT in Explicit VR Little Endian.
pub fn fixture() -> Bytes {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/dicom/ct_explicit_le.dcm");
    Bytes::from(std::fs::read(p).unwrap())
}

/// A fresh, migrated database under `dir` (or on the test PostgreSQL) with one active
/// clinic: (URL, pool, the clinic's id).
pub fn database(dir: &Path) -> (String, DbPool, i64) {
    let url = testing::fresh_database_url(dir).unwrap();
    let pool = db::pool(&url, 4).unwrap();
    db::migrate(&mut pool.get().unwrap()).unwrap();
    let facility = facilities::create(
        &mut pool.get().unwrap(),
        &Ctx::system("t"),
        &FacilityForm {
            name: "A".into(),
            kind: "clinic".into(),
            is_requesting: true,
            notification_emails: "a@example.jp".into(),
            ..Default::default()
        },
        FacilityStatus::Active,
    )
    .unwrap()
    .id;
    (url, pool, facility)
}

pub fn settings() -> shared::settings::IngestSettings {
    shared::settings::Settings::load_from(None, &[])
        .unwrap()
        .ingest
}

/// How many instances the facility's studies hold.
pub fn instance_count(pool: &DbPool, facility: i64) -> i64 {
    let (rows, _) = index::search_studies(
        &mut pool.get().unwrap(),
        facility,
        &StudyQuery {
            limit: 10,
            ..Default::default()
        },
        db::now(),
        90,
    )
    .unwrap();
    rows.iter().map(|r| r.study.num_instances).sum()
}

/// The journal's segment files under `dir`.
pub fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ekj"))
        .collect()
}

/// Waits (off the runtime's threads) until the journal has copied and finished everything.
pub async fn drain(j: &std::sync::Arc<radvision::store::JournaledStore>) {
    let j = j.clone();
    assert!(
        tokio::task::spawn_blocking(move || j.drain(std::time::Duration::from_secs(10)))
            .await
            .unwrap()
    );
}

/// A database that is down, as the ingest sees it: a pool of one connection to `url`, held
/// by the caller (drop the second value to bring it back), whose `get` times out.
pub fn unavailable_pool(
    url: &str,
) -> (
    DbPool,
    diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<shared::db::DbConnection>>,
) {
    let manager = diesel::r2d2::ConnectionManager::<shared::db::DbConnection>::new(
        db::sqlite_path(url).unwrap_or(url),
    );
    let pool = diesel::r2d2::Pool::builder()
        .max_size(1)
        .connection_timeout(std::time::Duration::from_millis(300))
        .build(manager)
        .unwrap();
    let held = pool.get().unwrap();
    (pool, held)
}
