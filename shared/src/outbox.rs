//! The outbox: side effects that leave the process (mail, DICOM sends to workstations) are
//! written here in the same transaction as the change that causes them, and a worker
//! delivers them with retries. Payloads carry ids and kinds, never patient data.
//!
//! A worker [`claim`]s one due job of the kinds it knows (others stay pending for the
//! worker that knows them). Claiming counts an attempt and moves `next_attempt_at` one
//! lease ahead: while the worker runs the job nobody else takes it, and if the worker dies
//! the job falls due again when the lease runs out (stale-claim recovery needs no sweeper).
//! The attempt count is the claim's fencing token: [`complete`], [`retry_or_give_up`],
//! [`renew`] and [`release`] only touch the row while it is still pending with that count, so
//! a worker whose lease expired and whose job was claimed again cannot overwrite the new
//! claimant's outcome.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::outbox;
use crate::db::{self, DbConnection};
use crate::error::{OptionalExt, Result};

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
    /// Tell the requesting facility that a report was confirmed (`{"request_id", "report_id",
    /// "version", "requesting_facility_id"}`; the mail itself comes later).
    pub const REPORT_CONFIRMED: &str = "notify.report_confirmed";
    /// Tell the requesting facility that an addendum was added to a confirmed report.
    pub const REPORT_ADDENDUM: &str = "notify.report_addendum";
    /// Send a study to a facility's own DICOM node (`{"send_id": …}`, see `sends`).
    pub const DICOM_SEND: &str = "dicom.send";
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

/// How long to wait before the next attempt after `attempts` failed ones (1 = the first
/// attempt failed): `base × 2^(attempts−1)`, at most `cap`. Pure, for the worker and its tests.
pub fn backoff(attempts: i32, base: Duration, cap: Duration) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).max(0))
        .unwrap_or(0)
        .min(30);
    base.checked_mul(1u32 << exp).unwrap_or(cap).min(cap)
}

/// The retry policy a worker applies.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: i32,
    pub base: Duration,
    pub cap: Duration,
    /// How long a claim holds before the job falls due again (the claimant died).
    pub lease: Duration,
}

fn later(now: NaiveDateTime, d: Duration) -> NaiveDateTime {
    let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1));
    db::truncate_micros(now + d)
}

/// The id of the oldest due pending job of one of `kinds`. The one backend-specific step of
/// the outbox: on PostgreSQL the row is locked with `FOR UPDATE SKIP LOCKED` (inside the
/// claiming transaction), so concurrent workers pass over each other's rows instead of
/// waiting on them; SQLite has a single writer, and the conditional update in [`claim`]
/// decides.
fn next_due(conn: &mut DbConnection, kinds: &[&str], now: NaiveDateTime) -> Result<Option<i64>> {
    let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
    let id = match conn {
        DbConnection::Postgresql(pg) => outbox::table
            .filter(outbox::status.eq("pending"))
            .filter(outbox::kind.eq_any(kinds))
            .filter(outbox::next_attempt_at.le(now))
            .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
            .select(outbox::id)
            .for_update()
            .skip_locked()
            .first::<i64>(pg)
            .optional()?,
        DbConnection::Sqlite(_) => outbox::table
            .filter(outbox::status.eq("pending"))
            .filter(outbox::kind.eq_any(kinds))
            .filter(outbox::next_attempt_at.le(now))
            .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
            .select(outbox::id)
            .first::<i64>(conn)
            .optional()?,
    };
    Ok(id)
}

/// Claims the oldest due job of one of `kinds`: counts the attempt and holds the job for one
/// lease. `None` when nothing is due. Two workers never hold the same job.
pub fn claim(
    conn: &mut DbConnection,
    kinds: &[&str],
    now: NaiveDateTime,
    lease: Duration,
) -> Result<Option<Job>> {
    db::write_tx(conn, |c| {
        let Some(id) = next_due(c, kinds, now)? else {
            return Ok(None);
        };
        let n = diesel::update(
            outbox::table
                .filter(outbox::id.eq(id))
                .filter(outbox::status.eq("pending"))
                .filter(outbox::next_attempt_at.le(now)),
        )
        .set((
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::next_attempt_at.eq(later(now, lease)),
        ))
        .execute(c)?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(
            outbox::table.find(id).select(Job::as_select()).first(c)?,
        ))
    })
}

type Held = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<outbox::table, diesel::dsl::Eq<outbox::id, i64>>,
        diesel::dsl::Eq<outbox::status, &'static str>,
    >,
    diesel::dsl::Eq<outbox::attempts, i32>,
>;

/// A claimed job's row while the claim still holds it (pending, same attempt count).
fn held(job: &Job) -> Held {
    outbox::table
        .filter(outbox::id.eq(job.id))
        .filter(outbox::status.eq("pending"))
        .filter(outbox::attempts.eq(job.attempts))
}

/// Marks a claimed job done. `false` when the claim was lost (lease expired, claimed again).
pub fn complete(conn: &mut DbConnection, job: &Job) -> Result<bool> {
    let n = diesel::update(held(job))
        .set((
            outbox::status.eq("done"),
            outbox::done_at.eq(Some(db::now())),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Due again at this time.
    Retry(NaiveDateTime),
    /// Attempts exhausted (or the failure is permanent): status `failed`.
    GaveUp,
    /// The claim had been lost; nothing was changed.
    Lost,
}

/// Records a failed attempt: retried after [`backoff`], or given up (`failed`) once
/// `max_attempts` are spent or when `permanent`. `error` must hold no patient data.
pub fn retry_or_give_up(
    conn: &mut DbConnection,
    job: &Job,
    error: &str,
    permanent: bool,
    policy: &RetryPolicy,
) -> Result<AfterFailure> {
    let now = db::now();
    let error: String = error.chars().take(1000).collect();
    if permanent || job.attempts >= policy.max_attempts {
        let n = diesel::update(held(job))
            .set((
                outbox::status.eq("failed"),
                outbox::done_at.eq(Some(now)),
                outbox::last_error.eq(Some(error)),
            ))
            .execute(conn)?;
        return Ok(if n == 1 {
            AfterFailure::GaveUp
        } else {
            AfterFailure::Lost
        });
    }
    let at = later(now, backoff(job.attempts, policy.base, policy.cap));
    let n = diesel::update(held(job))
        .set((
            outbox::next_attempt_at.eq(at),
            outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)?;
    Ok(if n == 1 {
        AfterFailure::Retry(at)
    } else {
        AfterFailure::Lost
    })
}

/// Extends a running job's lease (a long send calls it as it makes progress). `false` when
/// the claim was lost: the caller should stop.
pub fn renew(conn: &mut DbConnection, job: &Job, lease: Duration) -> Result<bool> {
    let n = diesel::update(held(job))
        .set(outbox::next_attempt_at.eq(later(db::now(), lease)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Gives a claimed job back without counting the attempt (the worker is shutting down): it
/// is due again at once, for this process after a restart or for another worker.
pub fn release(conn: &mut DbConnection, job: &Job) -> Result<bool> {
    let n = diesel::update(held(job))
        .set((
            outbox::attempts.eq((job.attempts - 1).max(0)),
            outbox::next_attempt_at.eq(db::now()),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// One job by id (tests and status screens).
pub fn get(conn: &mut DbConnection, id: i64) -> Result<Job> {
    outbox::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .found()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let base = Duration::from_secs(30);
        let cap = Duration::from_secs(3600);
        let secs = |a| backoff(a, base, cap).as_secs();
        assert_eq!(secs(1), 30);
        assert_eq!(secs(2), 60);
        assert_eq!(secs(3), 120);
        assert_eq!(secs(7), 1920);
        assert_eq!(secs(8), 3600);
        assert_eq!(secs(9), 3600);
    }

    #[test]
    fn backoff_is_total_for_odd_inputs() {
        let base = Duration::from_secs(30);
        let cap = Duration::from_secs(3600);
        assert_eq!(backoff(0, base, cap).as_secs(), 30);
        assert_eq!(backoff(-5, base, cap).as_secs(), 30);
        assert_eq!(backoff(i32::MAX, base, cap).as_secs(), 3600);
        assert_eq!(backoff(40, Duration::from_secs(u64::MAX / 2), cap), cap);
        assert_eq!(backoff(1, Duration::ZERO, cap), Duration::ZERO);
    }
}
