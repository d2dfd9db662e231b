//! Test support: a fresh, empty database per test. SQLite by default (a file in the test's
//! temporary directory); PostgreSQL when `ENKAKU_TEST_DB=postgres`, creating a new database
//! on the server named by `ENKAKU_TEST_DATABASE_URL` (ops/test.sh starts a throwaway one).

use std::path::Path;

use diesel::{Connection, RunQueryDsl};

use crate::error::{Error, Result};

/// True when the suite runs against PostgreSQL.
pub fn using_postgres() -> bool {
    std::env::var("ENKAKU_TEST_DB").is_ok_and(|v| v == "postgres")
}

/// The URL of a new, empty database for one test.
pub fn fresh_database_url(dir: &Path) -> Result<String> {
    if !using_postgres() {
        return Ok(format!(
            "sqlite://{}",
            dir.join("enkaku-test.sqlite3").display()
        ));
    }
    let admin = std::env::var("ENKAKU_TEST_DATABASE_URL").map_err(|_| {
        Error::Config("ENKAKU_TEST_DB=postgres needs ENKAKU_TEST_DATABASE_URL".into())
    })?;
    let name = format!(
        "t_{}",
        super::super::auth::random_token(9)
            .to_ascii_lowercase()
            .replace(['-', '_'], "x")
    );
    let mut conn = diesel::pg::PgConnection::establish(&admin)?;
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn)?;
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .ok_or_else(|| Error::Config("ENKAKU_TEST_DATABASE_URL has no database part".into()))?;
    Ok(format!("{base}/{name}"))
}

/// A minimal instance for tests that need a study to exist: one series `{study_uid}.1`
/// with one instance `{study_uid}.1.1`, a kanji name (山田^太郎), sex M, and a blob digest of
/// `digest_byte` (two hex digits) repeated.
pub fn minimal_instance(
    facility_id: i64,
    patient_key: &str,
    study_uid: &str,
    modality: &str,
    digest_byte: &str,
) -> crate::index::NewInstance {
    crate::index::NewInstance {
        facility_id,
        patient_key: patient_key.into(),
        name_alphabetic: String::new(),
        name_ideographic: "山田^太郎".into(),
        name_phonetic: String::new(),
        birth_date: None,
        sex: "M".into(),
        study_uid: study_uid.into(),
        accession_number: String::new(),
        study_date: None,
        study_time: String::new(),
        study_description: String::new(),
        referring_physician: String::new(),
        modality: modality.into(),
        body_part: String::new(),
        series_uid: format!("{study_uid}.1"),
        series_number: None,
        series_description: String::new(),
        sop_instance_uid: format!("{study_uid}.1.1"),
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
        transfer_syntax_uid: "1.2.840.10008.1.2.1".into(),
        instance_number: None,
        rows: None,
        columns: None,
        frames: None,
        imaging: Default::default(),
        size_bytes: 10,
        sha256: digest_byte.repeat(32),
        storage_key: format!("sha256/{digest_byte}/{}", digest_byte.repeat(32)),
        received_via: "c-store".into(),
    }
}
