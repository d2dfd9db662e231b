//! The little SQL that differs between SQLite and PostgreSQL, kept in one place.

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};

use super::DbConnection;
use crate::error::Error;

/// Serialises appends to the audit chain. On PostgreSQL a transaction-scoped advisory lock;
/// on SQLite the database's single writer already serialises them (a transaction whose
/// snapshot is stale cannot write and is retried by `write_tx`).
pub fn lock_audit_chain(conn: &mut DbConnection) -> Result<(), Error> {
    if let DbConnection::Postgresql(_) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(720150)").execute(conn)?;
    }
    Ok(())
}

#[derive(QueryableByName, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnInfo {
    #[diesel(sql_type = Text)]
    pub table_name: String,
    #[diesel(sql_type = Text)]
    pub column_name: String,
    #[diesel(sql_type = BigInt)]
    pub not_null: i64,
}

/// Every user table's columns with their nullability (used to check that the two migration
/// trees produce the same schema).
pub fn columns(conn: &mut DbConnection) -> Result<Vec<ColumnInfo>, Error> {
    let rows = match conn {
        DbConnection::Postgresql(_) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
             CASE WHEN is_nullable = 'NO' THEN 1::bigint ELSE 0::bigint END AS not_null \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name <> '__diesel_schema_migrations' ORDER BY 1, 2",
        )
        .load::<ColumnInfo>(conn)?,
        DbConnection::Sqlite(_) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name, \
             CAST(CASE WHEN p.\"notnull\" = 1 OR p.pk > 0 THEN 1 ELSE 0 END AS BIGINT) AS not_null \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
             AND m.name <> '__diesel_schema_migrations' ORDER BY 1, 2",
        )
        .load::<ColumnInfo>(conn)?,
    };
    Ok(rows)
}

/// Bypasses the append-only triggers — only for the tamper-detection tests, which play an
/// attacker with database access.
pub fn disable_audit_protection_for_tests(conn: &mut DbConnection) -> Result<(), Error> {
    match conn {
        DbConnection::Postgresql(_) => {
            diesel::sql_query("ALTER TABLE audit_events DISABLE TRIGGER USER").execute(conn)?;
        }
        DbConnection::Sqlite(_) => {
            diesel::sql_query("DROP TRIGGER IF EXISTS audit_events_no_update").execute(conn)?;
            diesel::sql_query("DROP TRIGGER IF EXISTS audit_events_no_delete").execute(conn)?;
        }
    }
    Ok(())
}

/// A trivial query: is the database reachable?
pub fn ping(conn: &mut DbConnection) -> Result<(), Error> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

/// Runs `f` (which opens its own transaction) so that its commit does not wait for the
/// database's log to reach the disk; the commit is visible at once and becomes durable with
/// the next flushed commit (see [`crate::index::mark_durable`]). Only for writes whose
/// content is already durable elsewhere and is replayed after a crash (the ingest journal).
/// SQLite: `synchronous = NORMAL` on this connection for the call, then back to `FULL`.
/// PostgreSQL: `f` must call [`defer_flush_in_tx`] first thing in its transaction.
pub fn with_deferred_flush<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, Error>,
) -> Result<T, Error> {
    use diesel::connection::SimpleConnection;
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute("PRAGMA synchronous = NORMAL")?;
    }
    let r = f(conn);
    if let DbConnection::Sqlite(c) = conn {
        // A connection that cannot be put back to FULL must not be reused with NORMAL.
        if let Err(e) = c.batch_execute("PRAGMA synchronous = FULL") {
            return Err(Error::Unavailable(format!(
                "could not restore synchronous = FULL: {e}"
            )));
        }
    }
    r
}

/// Inside a transaction on PostgreSQL: this transaction's commit does not wait for the WAL
/// flush (`SET LOCAL synchronous_commit = off`). Nothing on SQLite (see
/// [`with_deferred_flush`]).
pub fn defer_flush_in_tx(conn: &mut DbConnection) -> Result<(), Error> {
    if let DbConnection::Postgresql(_) = conn {
        diesel::sql_query("SET LOCAL synchronous_commit = off").execute(conn)?;
    }
    Ok(())
}
