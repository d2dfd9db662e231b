//! The outbox: side effects that leave the process (mail today, DICOM sends later) are
//! written here in the same transaction as the change that causes them, and a worker
//! delivers them with retries. Payloads carry ids and kinds, never patient data.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::outbox;
use crate::db::{self, DbConnection};
use crate::error::Result;

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = outbox)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub done_at: Option<NaiveDateTime>,
}

impl Job {
    pub fn payload_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// What a job is for (the worker dispatches on it).
pub mod kind {
    /// Tell a supporting facility that a request was filed to it.
    pub const REQUEST_FILED: &str = "notify.request_filed";
    /// Tell a supporting facility that a request to it was cancelled.
    pub const REQUEST_CANCELLED: &str = "notify.request_cancelled";
}

/// Adds a job, due now. Call inside the transaction of the change that causes it.
pub fn enqueue(conn: &mut DbConnection, kind: &str, payload: &serde_json::Value) -> Result<i64> {
    let now = db::now();
    let id = diesel::insert_into(outbox::table)
        .values((
            outbox::kind.eq(kind),
            outbox::payload.eq(payload.to_string()),
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
            outbox::created_at.eq(now),
        ))
        .returning(outbox::id)
        .get_result(conn)?;
    Ok(id)
}

/// Jobs of a kind, oldest first (for the worker's status screens and tests).
pub fn of_kind(conn: &mut DbConnection, kind: &str) -> Result<Vec<Job>> {
    Ok(outbox::table
        .filter(outbox::kind.eq(kind))
        .select(Job::as_select())
        .order(outbox::id.asc())
        .load(conn)?)
}
