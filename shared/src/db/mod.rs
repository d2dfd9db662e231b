//! The database: one connection type for SQLite (embedded default) and PostgreSQL
//! (production), a pool, the embedded migrations, and the write-transaction helper.

pub mod backend;
pub mod schema;
pub mod testing;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::Error;

/// One connection of either backend. Queries are written once against this type.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = Pool<ConnectionManager<DbConnection>>;
pub type PooledDb = PooledConnection<ConnectionManager<DbConnection>>;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite://") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }
}

/// The path part of a `sqlite://` URL (what SQLite itself is given).
pub fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
}

/// Connection set-up run on every pooled SQLite connection: WAL, a busy timeout, foreign
/// keys, and `synchronous = FULL` so that a committed transaction survives a power loss
/// (success is reported to senders only after commit). PostgreSQL needs nothing here.
#[derive(Debug, Clone, Copy)]
struct ConnectionSetup;

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        if let DbConnection::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; \
                 PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// Opens one connection (used by the CLI and by the pool's manager).
pub fn establish(url: &str) -> Result<DbConnection, Error> {
    match Backend::of_url(url) {
        Some(Backend::Postgres) => Ok(DbConnection::Postgresql(PgConnection::establish(url)?)),
        Some(Backend::Sqlite) => {
            let path = sqlite_path(url).unwrap_or_default();
            let mut c = SqliteConnection::establish(path)?;
            c.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                 PRAGMA synchronous = FULL;",
            )?;
            Ok(DbConnection::Sqlite(c))
        }
        None => Err(Error::Config(
            "database.url must start with sqlite:// or postgres://".into(),
        )),
    }
}

/// Builds the connection pool. The first connection is opened at once, so a wrong URL or a
/// database that is down is reported at start-up.
pub fn pool(url: &str, max_size: u32) -> Result<DbPool, Error> {
    if Backend::of_url(url).is_none() {
        return Err(Error::Config(
            "database.url must start with sqlite:// or postgres://".into(),
        ));
    }
    let manager = ConnectionManager::<DbConnection>::new(
        sqlite_path(url)
            .map(str::to_owned)
            .unwrap_or_else(|| url.to_owned()),
    );
    Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10))
        .connection_customizer(Box::new(ConnectionSetup))
        .build(manager)
        .map_err(|e| Error::Unavailable(format!("database: {e}")))
}

fn migration_error(e: impl std::fmt::Display) -> Error {
    Error::Migration(e.to_string())
}

/// Runs every pending migration of the connection's backend; returns the versions applied.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, Error> {
    let applied = match conn {
        DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(migration_error)?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Reverts the most recent migration (used by the up-down-up test and by operators).
pub fn revert_last(conn: &mut DbConnection) -> Result<String, Error> {
    let v = match conn {
        DbConnection::Postgresql(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
    }
    .map_err(migration_error)?;
    Ok(v.to_string())
}

/// Versions of the embedded migrations for the connection's backend, oldest first.
pub fn pending(conn: &mut DbConnection) -> Result<Vec<String>, Error> {
    let p = match conn {
        DbConnection::Postgresql(c) => c
            .pending_migrations(POSTGRES_MIGRATIONS)
            .map(|m| m.iter().map(|m| m.name().to_string()).collect()),
        DbConnection::Sqlite(c) => c
            .pending_migrations(SQLITE_MIGRATIONS)
            .map(|m| m.iter().map(|m| m.name().to_string()).collect()),
    };
    p.map_err(migration_error)
}

fn is_sqlite_busy(e: &Error) -> bool {
    match e {
        Error::Db(DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
            let m = info.message();
            m.contains("database is locked") || m.contains("database is busy")
        }
        _ => false,
    }
}

/// Runs `f` in a transaction. On SQLite a transaction that loses the race for the write lock
/// (its snapshot became stale) is rolled back and run again, so `f` must only touch the
/// database. Every write in Enkaku goes through here.
pub fn write_tx<T, F>(conn: &mut DbConnection, mut f: F) -> Result<T, Error>
where
    F: FnMut(&mut DbConnection) -> Result<T, Error>,
{
    let mut attempt = 0u32;
    loop {
        let result = conn.transaction(|c| f(c));
        match result {
            Err(e) if is_sqlite_busy(&e) && attempt < 40 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(5 + u64::from(attempt) * 5));
            }
            other => return other,
        }
    }
}

/// The current time in UTC, cut to microseconds (what PostgreSQL keeps), so that a value
/// read back equals the value written — the audit chain hashes it.
pub fn now() -> chrono::NaiveDateTime {
    let t = chrono::Utc::now().naive_utc();
    truncate_micros(t)
}

pub fn truncate_micros(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let nanos = t.nanosecond() / 1_000 * 1_000;
    t.with_nanosecond(nanos).unwrap_or(t)
}
