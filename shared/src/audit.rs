//! The audit trail: an append-only, hash-chained table of who did what, when, from where.
//!
//! Every event holds `seq` (1, 2, 3, … without gaps), the hash of the event before it and its
//! own hash over all its fields, so a deleted, altered or inserted row breaks the chain and
//! `verify` reports it. The database refuses UPDATE and DELETE on the table (triggers).
//! Modelled on DICOM PS3.15 A.5: when, who (user, facility, role), what (action, object,
//! patient and study reference), outcome, and where from (address or AE title).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::schema::audit_events;
use crate::db::{self, DbConnection};
use crate::error::Result;

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who acted. Anonymous callers (a failed sign-in, an unknown DICOM peer) have no user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub facility_id: Option<i64>,
    /// The roles the actor held, comma-separated.
    pub role: Option<String>,
}

/// Who acted and from where: what every audited domain function is given.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ctx {
    pub actor: Actor,
    /// The client address (HTTP) or calling AE title and address (DICOM).
    pub source: String,
}

impl Ctx {
    pub fn system(source: &str) -> Ctx {
        Ctx {
            actor: Actor {
                username: Some("system".into()),
                ..Actor::default()
            },
            source: source.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// One event to append.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: &'static str,
    pub object_type: Option<&'static str>,
    pub object_id: Option<String>,
    pub patient_ref: Option<String>,
    pub study_ref: Option<String>,
    pub outcome: Outcome,
    pub detail: Option<serde_json::Value>,
}

impl Event {
    pub fn new(action: &'static str, outcome: Outcome) -> Self {
        Event {
            action,
            object_type: None,
            object_id: None,
            patient_ref: None,
            study_ref: None,
            outcome,
            detail: None,
        }
    }

    pub fn success(action: &'static str) -> Self {
        Self::new(action, Outcome::Success)
    }

    pub fn object(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.object_type = Some(kind);
        self.object_id = Some(id.to_string());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub seq: i64,
    pub occurred_at: NaiveDateTime,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub facility_id: Option<i64>,
    pub role: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub patient_ref: Option<String>,
    pub study_ref: Option<String>,
    pub outcome: String,
    pub source: String,
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewAuditEvent<'a> {
    seq: i64,
    occurred_at: NaiveDateTime,
    user_id: Option<i64>,
    username: Option<&'a str>,
    facility_id: Option<i64>,
    role: Option<&'a str>,
    action: &'a str,
    object_type: Option<&'a str>,
    object_id: Option<&'a str>,
    patient_ref: Option<&'a str>,
    study_ref: Option<&'a str>,
    outcome: &'a str,
    source: &'a str,
    detail: Option<&'a str>,
    prev_hash: &'a str,
    hash: &'a str,
}

/// The fields that the hash covers, in a fixed order, each length-prefixed so that no two
/// different events serialise alike.
#[allow(clippy::too_many_arguments)]
fn compute_hash(
    seq: i64,
    occurred_at: NaiveDateTime,
    user_id: Option<i64>,
    username: Option<&str>,
    facility_id: Option<i64>,
    role: Option<&str>,
    action: &str,
    object_type: Option<&str>,
    object_id: Option<&str>,
    patient_ref: Option<&str>,
    study_ref: Option<&str>,
    outcome: &str,
    source: &str,
    detail: Option<&str>,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    let mut field = |v: Option<&str>| match v {
        None => h.update(b"-;"),
        Some(s) => {
            h.update(s.len().to_string().as_bytes());
            h.update(b":");
            h.update(s.as_bytes());
            h.update(b";");
        }
    };
    field(Some(&seq.to_string()));
    field(Some(
        &occurred_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
    ));
    field(user_id.map(|v| v.to_string()).as_deref());
    field(username);
    field(facility_id.map(|v| v.to_string()).as_deref());
    field(role);
    field(Some(action));
    field(object_type);
    field(object_id);
    field(patient_ref);
    field(study_ref);
    field(Some(outcome));
    field(Some(source));
    field(detail);
    field(Some(prev_hash));
    hex::encode(h.finalize())
}

fn hash_of(e: &AuditEvent) -> String {
    compute_hash(
        e.seq,
        e.occurred_at,
        e.user_id,
        e.username.as_deref(),
        e.facility_id,
        e.role.as_deref(),
        &e.action,
        e.object_type.as_deref(),
        e.object_id.as_deref(),
        e.patient_ref.as_deref(),
        e.study_ref.as_deref(),
        &e.outcome,
        &e.source,
        e.detail.as_deref(),
        &e.prev_hash,
    )
}

/// Appends an event. Call it inside the transaction of the change it records (it nests as a
/// savepoint); for reads and denials use [`record_now`].
pub fn record(conn: &mut DbConnection, ctx: &Ctx, ev: Event) -> Result<i64> {
    conn.transaction(|c| {
        db::backend::lock_audit_chain(c)?;
        let last: Option<(i64, String)> = audit_events::table
            .select((audit_events::seq, audit_events::hash))
            .order(audit_events::seq.desc())
            .first(c)
            .optional()?;
        let (prev_seq, prev_hash) = last.unwrap_or((0, GENESIS_HASH.to_owned()));
        let seq = prev_seq + 1;
        let occurred_at = db::now();
        let detail = ev.detail.as_ref().map(|d| d.to_string());
        let source: String = ev_source(&ctx.source);
        let hash = compute_hash(
            seq,
            occurred_at,
            ctx.actor.user_id,
            ctx.actor.username.as_deref(),
            ctx.actor.facility_id,
            ctx.actor.role.as_deref(),
            ev.action,
            ev.object_type,
            ev.object_id.as_deref(),
            ev.patient_ref.as_deref(),
            ev.study_ref.as_deref(),
            ev.outcome.as_str(),
            &source,
            detail.as_deref(),
            &prev_hash,
        );
        let row = NewAuditEvent {
            seq,
            occurred_at,
            user_id: ctx.actor.user_id,
            username: ctx.actor.username.as_deref(),
            facility_id: ctx.actor.facility_id,
            role: ctx.actor.role.as_deref(),
            action: ev.action,
            object_type: ev.object_type,
            object_id: ev.object_id.as_deref(),
            patient_ref: ev.patient_ref.as_deref(),
            study_ref: ev.study_ref.as_deref(),
            outcome: ev.outcome.as_str(),
            source: &source,
            detail: detail.as_deref(),
            prev_hash: &prev_hash,
            hash: &hash,
        };
        diesel::insert_into(audit_events::table)
            .values(&row)
            .execute(c)?;
        Ok(seq)
    })
}

fn ev_source(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Appends an event in its own transaction (for reads and denials, which change nothing).
pub fn record_now(conn: &mut DbConnection, ctx: &Ctx, ev: Event) -> Result<i64> {
    db::write_tx(conn, |c| record(c, ctx, ev.clone()))
}

/// What `verify` found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct VerifyReport {
    pub checked: u64,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Walks the whole chain in order and reports every break: a missing sequence number
/// (deleted row), a row whose hash does not match its fields (altered row), or a row whose
/// `prev_hash` does not name the row before it (inserted or reordered row).
pub fn verify(conn: &mut DbConnection) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut after = 0i64;
    loop {
        let batch: Vec<AuditEvent> = audit_events::table
            .filter(audit_events::seq.gt(after))
            .order(audit_events::seq.asc())
            .limit(2000)
            .select(AuditEvent::as_select())
            .load(conn)?;
        if batch.is_empty() {
            break;
        }
        for e in &batch {
            report.checked += 1;
            if e.seq != expected_seq {
                report.problems.push(format!(
                    "sequence gap: expected {expected_seq}, found {} (rows deleted?)",
                    e.seq
                ));
            }
            if e.prev_hash != prev_hash {
                report.problems.push(format!(
                    "seq {}: previous-hash link broken (row inserted, deleted or reordered)",
                    e.seq
                ));
            }
            if hash_of(e) != e.hash {
                report.problems.push(format!(
                    "seq {}: hash does not match its content (row altered)",
                    e.seq
                ));
            }
            expected_seq = e.seq + 1;
            prev_hash = e.hash.clone();
            after = e.seq;
        }
    }
    Ok(report)
}

/// A page of the audit trail, newest first, for the auditors' screen.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub action: Option<String>,
    pub facility_id: Option<i64>,
    pub username: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

pub fn search(
    conn: &mut DbConnection,
    f: &Filter,
    offset: i64,
    limit: i64,
) -> Result<Vec<AuditEvent>> {
    let mut q = audit_events::table
        .select(AuditEvent::as_select())
        .order(audit_events::seq.desc())
        .into_boxed();
    if let Some(a) = &f.action {
        q = q.filter(audit_events::action.eq(a.clone()));
    }
    if let Some(fid) = f.facility_id {
        q = q.filter(audit_events::facility_id.eq(fid));
    }
    if let Some(u) = &f.username {
        q = q.filter(audit_events::username.eq(u.clone()));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(audit_events::outcome.eq(o.clone()));
    }
    if let Some(t) = f.from {
        q = q.filter(audit_events::occurred_at.ge(t));
    }
    if let Some(t) = f.until {
        q = q.filter(audit_events::occurred_at.lt(t));
    }
    Ok(q.offset(offset).limit(limit).load(conn)?)
}

/// Number of events of an action with an outcome since a time, for one object id or one
/// source (the sign-in throttle counts failures with this).
pub fn count_since(
    conn: &mut DbConnection,
    action: &str,
    outcome: Outcome,
    since: NaiveDateTime,
    object_id: Option<&str>,
    source: Option<&str>,
) -> Result<i64> {
    let mut q = audit_events::table
        .filter(audit_events::action.eq(action.to_owned()))
        .filter(audit_events::outcome.eq(outcome.as_str()))
        .filter(audit_events::occurred_at.ge(since))
        .into_boxed();
    if let Some(o) = object_id {
        q = q.filter(audit_events::object_id.eq(o.to_owned()));
    }
    if let Some(s) = source {
        q = q.filter(audit_events::source.eq(s.to_owned()));
    }
    Ok(q.count().get_result(conn)?)
}
