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
