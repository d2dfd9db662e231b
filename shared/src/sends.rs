//! Sends of a study to one of the facility's own DICOM nodes (a diagnostic workstation):
//! the request (row, one item per instance, the `dicom.send` outbox job and the audit event
//! in one transaction), the progress the worker records, and the facility's list.
//!
//! Who may send is who may see: [`request`] asks [`access::study`] — the facility's own
//! study, or one a live request made visible to it — and the caller's roles decide which of
//! those kinds count. The node must be the caller's own facility's, enabled, with a host
//! and port. Nothing here holds patient data except through the study it points at.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::access::{self, StudyAccess};
use crate::audit::{self, Ctx, Event, Outcome};
use crate::db::schema::{dicom_nodes, dicom_send_items, dicom_sends, instances};
use crate::db::{self, DbConnection};
use crate::error::{Error, OptionalExt, Result};
use crate::index::{Instance, Study};
use crate::membership::dicom_nodes::DicomNode;
use crate::outbox;
use crate::validation::FieldErrors;

/// A send's state: `queued` (waiting for the worker or for a retry), `sending`, `done`
/// (every instance accepted), `failed` (given up, or some instances refused).
pub mod status {
    pub const QUEUED: &str = "queued";
    pub const SENDING: &str = "sending";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = dicom_sends)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Send {
    pub id: i64,
    pub facility_id: i64,
    pub study_id: i64,
    pub node_id: Option<i64>,
    pub node_ae_title: String,
    pub requested_by: i64,
    pub status: String,
    pub instances_total: i32,
    pub instances_sent: i32,
    pub instances_failed: i32,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

impl Send {
    /// Finished one way or the other (nothing more will happen).
    pub fn is_finished(&self) -> bool {
        self.status == status::DONE || self.status == status::FAILED
    }
}

/// What the caller asks for, and what their roles let them send.
#[derive(Debug, Clone, Copy)]
pub struct SendRequest {
    pub facility_id: i64,
    pub user_id: i64,
    pub study_id: i64,
    pub node_id: i64,
    /// May send the facility's own studies (requesters of a requesting facility).
    pub own: bool,
    /// May send studies that requests made visible (radiologists, coordinators).
    pub requested: bool,
}

/// The nodes a facility may send to: its own, enabled, with a host and a port.
pub fn sendable_nodes(conn: &mut DbConnection, facility_id: i64) -> Result<Vec<DicomNode>> {
    Ok(dicom_nodes::table
        .filter(dicom_nodes::facility_id.eq(facility_id))
        .filter(dicom_nodes::is_enabled.eq(true))
        .filter(dicom_nodes::host.is_not_null())
        .filter(dicom_nodes::port.is_not_null())
        .select(DicomNode::as_select())
        .order(dicom_nodes::ae_title.asc())
        .load(conn)?)
}

/// The study if the caller may send it (see it with an access their roles allow), else
/// `NotFound`.
pub fn sendable_study(conn: &mut DbConnection, r: &SendRequest) -> Result<(Study, StudyAccess)> {
    let (study, how) = access::study(conn, r.facility_id, r.study_id)?;
    let allowed = match how {
        StudyAccess::Owner => r.own,
        StudyAccess::Reader { .. } | StudyAccess::Prior { .. } => r.requested,
    };
    if allowed {
        Ok((study, how))
    } else {
        Err(Error::NotFound)
    }
}

/// The audit event of a send (the request, then its end), with the study's references.
fn event(action: &'static str, outcome: Outcome, send: &Send, study: &Study) -> Event {
    let mut ev = Event::new(action, outcome).object("dicom_send", send.id);
    ev.study_ref = Some(study.study_uid.clone());
    ev.patient_ref = Some(format!("patient:{}", study.patient_id));
    ev
}

/// Records a send: the row (queued), one pending item per instance of the study, the
/// `dicom.send` outbox job and the `dicom.send.request` audit event, in one transaction.
/// A study the caller may not send, or a node of another facility, is `NotFound`; a node
/// of the facility that cannot receive (disabled, no host or port) or a study without
/// instances is a validation error on `node_id`.
pub fn request(conn: &mut DbConnection, ctx: &Ctx, r: &SendRequest) -> Result<Send> {
    db::write_tx(conn, |c| {
        let (study, how) = sendable_study(c, r)?;
        let node: DicomNode = dicom_nodes::table
            .filter(dicom_nodes::id.eq(r.node_id))
            .filter(dicom_nodes::facility_id.eq(r.facility_id))
            .select(DicomNode::as_select())
            .first(c)
            .found()?;
        if !node.is_enabled || node.host.is_none() || node.port.is_none() {
            return Err(FieldErrors::single("node_id", "send.err_node").into());
        }
        let ids: Vec<i64> = instances::table
            .filter(instances::study_id.eq(study.id))
            .select(instances::id)
            .order(instances::id.asc())
            .load(c)?;
        if ids.is_empty() {
            return Err(FieldErrors::single("node_id", "send.err_empty").into());
        }
        let total = i32::try_from(ids.len()).map_err(|_| Error::Internal("too many".into()))?;
        let now = db::now();
        let send_id: i64 = diesel::insert_into(dicom_sends::table)
            .values((
                dicom_sends::facility_id.eq(r.facility_id),
                dicom_sends::study_id.eq(study.id),
                dicom_sends::node_id.eq(Some(node.id)),
                dicom_sends::node_ae_title.eq(&node.ae_title),
                dicom_sends::requested_by.eq(r.user_id),
                dicom_sends::status.eq(status::QUEUED),
                dicom_sends::instances_total.eq(total),
                dicom_sends::instances_sent.eq(0),
                dicom_sends::instances_failed.eq(0),
                dicom_sends::attempts.eq(0),
                dicom_sends::created_at.eq(now),
                dicom_sends::updated_at.eq(now),
            ))
            .returning(dicom_sends::id)
            .get_result(c)?;
        for id in &ids {
            diesel::insert_into(dicom_send_items::table)
                .values((
                    dicom_send_items::send_id.eq(send_id),
                    dicom_send_items::instance_id.eq(*id),
                    dicom_send_items::status.eq("pending"),
                ))
                .execute(c)?;
        }
        let send = by_id(c, send_id)?;
        outbox::enqueue(
            c,
            outbox::kind::DICOM_SEND,
            &serde_json::json!({ "send_id": send.id }),
        )?;
        let access = match how {
            StudyAccess::Owner => "owner",
            StudyAccess::Reader { .. } => "reader",
            StudyAccess::Prior { .. } => "prior",
        };
        audit::record(
            c,
            ctx,
            event("dicom.send.request", Outcome::Success, &send, &study).detail(
                serde_json::json!({
                    "study_id": study.id,
                    "node_id": node.id,
                    "called_ae": node.ae_title,
                    "instances": total,
                    "access": access,
                }),
            ),
        )?;
        Ok(send)
    })
}

/// One send of the facility, or `NotFound`.
pub fn get(conn: &mut DbConnection, facility_id: i64, id: i64) -> Result<Send> {
    dicom_sends::table
        .filter(dicom_sends::id.eq(id))
        .filter(dicom_sends::facility_id.eq(facility_id))
        .select(Send::as_select())
        .first(conn)
        .found()
}

/// The facility's sends, newest first (of one study when `study_id` is given).
pub fn list(
    conn: &mut DbConnection,
    facility_id: i64,
    study_id: Option<i64>,
    limit: i64,
) -> Result<Vec<Send>> {
    let mut q = dicom_sends::table
        .filter(dicom_sends::facility_id.eq(facility_id))
        .into_boxed();
    if let Some(s) = study_id {
        q = q.filter(dicom_sends::study_id.eq(s));
    }
    Ok(q.select(Send::as_select())
        .order(dicom_sends::id.desc())
        .limit(limit)
        .load(conn)?)
}

// ---- the worker's side -------------------------------------------------------------------

/// What one attempt needs: the send, where to, and the instances not yet sent.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub send: Send,
    /// The node (still the facility's, enabled, with host and port), or why not.
    pub node: std::result::Result<DicomNode, &'static str>,
    /// `None` when the facility may no longer see the study (e.g. the request was cancelled).
    pub study: Option<Study>,
    /// Items still pending, in series and instance order.
    pub pending: Vec<Instance>,
}

/// Starts an attempt: the send becomes `sending` (its attempts counted), and what to send
/// is loaded. A send already finished gives `NotFound`.
pub fn begin_attempt(conn: &mut DbConnection, send_id: i64) -> Result<Attempt> {
    db::write_tx(conn, |c| {
        let send: Send = dicom_sends::table
            .find(send_id)
            .select(Send::as_select())
            .first(c)
            .found()?;
        if send.is_finished() {
            return Err(Error::NotFound);
        }
        let node = match send.node_id {
            None => Err("the DICOM node was removed"),
            Some(nid) => {
                let n: Option<DicomNode> = dicom_nodes::table
                    .filter(dicom_nodes::id.eq(nid))
                    .filter(dicom_nodes::facility_id.eq(send.facility_id))
                    .select(DicomNode::as_select())
                    .first(c)
                    .optional()?;
                match n {
                    None => Err("the DICOM node was removed"),
                    Some(n) if !n.is_enabled => Err("the DICOM node is disabled"),
                    Some(n) if n.host.is_none() || n.port.is_none() => {
                        Err("the DICOM node has no host and port")
                    }
                    Some(n) => Ok(n),
                }
            }
        };
        let study = match access::study(c, send.facility_id, send.study_id) {
            Ok((s, _)) => Some(s),
            Err(Error::NotFound) => None,
            Err(e) => return Err(e),
        };
        let pending_ids: Vec<i64> = dicom_send_items::table
            .filter(dicom_send_items::send_id.eq(send.id))
            .filter(dicom_send_items::status.eq("pending"))
            .select(dicom_send_items::instance_id)
            .load(c)?;
        let mut pending: Vec<Instance> = Vec::with_capacity(pending_ids.len());
        for chunk in pending_ids.chunks(500) {
            pending.extend(
                instances::table
                    .filter(instances::id.eq_any(chunk))
                    .filter(instances::study_id.eq(send.study_id))
                    .select(Instance::as_select())
                    .load(c)?,
            );
        }
        pending.sort_by_key(|i| {
            (
                i.series_id,
                i.instance_number.is_none(),
                i.instance_number,
                i.id,
            )
        });
        let now = db::now();
        diesel::update(dicom_sends::table.find(send.id))
            .set((
                dicom_sends::status.eq(status::SENDING),
                dicom_sends::attempts.eq(dicom_sends::attempts + 1),
                dicom_sends::updated_at.eq(now),
            ))
            .execute(c)?;
        let send = by_id(c, send.id)?;
        Ok(Attempt {
            send,
            node,
            study,
            pending,
        })
    })
}

/// The outcome of one instance in an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    Sent,
    /// Refused for good (by the workstation, or not sendable as stored): not retried.
    Failed(String),
}

/// Records the outcome of some instances and refreshes the send's counters.
pub fn record_progress(
    conn: &mut DbConnection,
    send_id: i64,
    results: &[(i64, ItemOutcome)],
) -> Result<Send> {
    db::write_tx(conn, |c| {
        for (instance_id, outcome) in results {
            let (st, err) = match outcome {
                ItemOutcome::Sent => ("sent", None),
                ItemOutcome::Failed(e) => ("failed", Some(e.chars().take(500).collect::<String>())),
            };
            diesel::update(
                dicom_send_items::table
                    .filter(dicom_send_items::send_id.eq(send_id))
                    .filter(dicom_send_items::instance_id.eq(*instance_id)),
            )
            .set((
                dicom_send_items::status.eq(st),
                dicom_send_items::error.eq(err),
            ))
            .execute(c)?;
        }
        refresh_counts(c, send_id, None)
    })
}

fn count_items(c: &mut DbConnection, send_id: i64, st: &str) -> Result<i32> {
    let n: i64 = dicom_send_items::table
        .filter(dicom_send_items::send_id.eq(send_id))
        .filter(dicom_send_items::status.eq(st))
        .count()
        .get_result(c)?;
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

fn refresh_counts(c: &mut DbConnection, send_id: i64, status: Option<&str>) -> Result<Send> {
    let sent = count_items(c, send_id, "sent")?;
    let failed = count_items(c, send_id, "failed")?;
    let now = db::now();
    let q = diesel::update(dicom_sends::table.find(send_id));
    match status {
        Some(st) => q
            .set((
                dicom_sends::instances_sent.eq(sent),
                dicom_sends::instances_failed.eq(failed),
                dicom_sends::status.eq(st),
                dicom_sends::updated_at.eq(now),
            ))
            .execute(c)?,
        None => q
            .set((
                dicom_sends::instances_sent.eq(sent),
                dicom_sends::instances_failed.eq(failed),
                dicom_sends::updated_at.eq(now),
            ))
            .execute(c)?,
    };
    by_id(c, send_id)
}

/// An attempt that will be retried: back to `queued` with the reason (no patient data).
pub fn attempt_failed(conn: &mut DbConnection, send_id: i64, error: &str) -> Result<Send> {
    db::write_tx(conn, |c| {
        diesel::update(dicom_sends::table.find(send_id))
            .set(dicom_sends::last_error.eq(Some(error.chars().take(500).collect::<String>())))
            .execute(c)?;
        refresh_counts(c, send_id, Some(status::QUEUED))
    })
}

/// An attempt interrupted by shutdown: back to `queued`, no error.
pub fn requeue(conn: &mut DbConnection, send_id: i64) -> Result<Send> {
    db::write_tx(conn, |c| refresh_counts(c, send_id, Some(status::QUEUED)))
}

/// Ends a send: `done` when every instance was sent, else `failed` with `error` (or a
/// summary of the refused instances). Items still pending (given up) are marked failed. The
/// `dicom.send` audit event (actor: the person who asked; source: `source`, e.g. the
/// worker) is written in the same transaction.
pub fn finish(
    conn: &mut DbConnection,
    send_id: i64,
    error: Option<&str>,
    source: &str,
) -> Result<Send> {
    db::write_tx(conn, |c| {
        let err: Option<String> = error.map(|e| e.chars().take(500).collect());
        if let Some(e) = &err {
            diesel::update(
                dicom_send_items::table
                    .filter(dicom_send_items::send_id.eq(send_id))
                    .filter(dicom_send_items::status.eq("pending")),
            )
            .set((
                dicom_send_items::status.eq("failed"),
                dicom_send_items::error.eq(Some(e.clone())),
            ))
            .execute(c)?;
        }
        let s = refresh_counts(c, send_id, None)?;
        let ok = err.is_none() && s.instances_failed == 0 && s.instances_sent == s.instances_total;
        let last_error = match (&err, ok) {
            (Some(e), _) => Some(e.clone()),
            (None, true) => None,
            (None, false) => Some(first_item_error(c, send_id)?.map_or_else(
                || format!("{} instance(s) not accepted", s.instances_failed),
                |e| format!("{} instance(s) not accepted: {e}", s.instances_failed),
            )),
        };
        let now = db::now();
        diesel::update(dicom_sends::table.find(send_id))
            .set((
                dicom_sends::status.eq(if ok { status::DONE } else { status::FAILED }),
                dicom_sends::last_error.eq(last_error.clone()),
                dicom_sends::finished_at.eq(Some(now)),
                dicom_sends::updated_at.eq(now),
            ))
            .execute(c)?;
        let s = by_id(c, send_id)?;
        let study: Option<Study> = crate::db::schema::studies::table
            .find(s.study_id)
            .select(Study::as_select())
            .first(c)
            .optional()?;
        let outcome = if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        let mut ev = Event::new("dicom.send", outcome).object("dicom_send", s.id);
        if let Some(st) = &study {
            ev = event("dicom.send", outcome, &s, st);
        }
        let username: Option<String> = crate::db::schema::users::table
            .find(s.requested_by)
            .select(crate::db::schema::users::username)
            .first(c)
            .optional()?;
        let ctx = Ctx {
            actor: audit::Actor {
                user_id: Some(s.requested_by),
                username,
                facility_id: Some(s.facility_id),
                role: None,
            },
            source: source.to_owned(),
        };
        audit::record(
            c,
            &ctx,
            ev.detail(serde_json::json!({
                "called_ae": s.node_ae_title,
                "sent": s.instances_sent,
                "failed": s.instances_failed,
                "total": s.instances_total,
                "attempts": s.attempts,
                "error": last_error,
            })),
        )?;
        Ok(s)
    })
}

fn first_item_error(c: &mut DbConnection, send_id: i64) -> Result<Option<String>> {
    Ok(dicom_send_items::table
        .filter(dicom_send_items::send_id.eq(send_id))
        .filter(dicom_send_items::status.eq("failed"))
        .select(dicom_send_items::error)
        .first::<Option<String>>(c)
        .optional()?
        .flatten())
}

/// The send by id whatever its facility (the worker's view; screens use [`get`]).
pub fn by_id(conn: &mut DbConnection, id: i64) -> Result<Send> {
    dicom_sends::table
        .find(id)
        .select(Send::as_select())
        .first(conn)
        .found()
}

/// Each item's instance id, status and error (tests and diagnostics).
pub fn items(conn: &mut DbConnection, send_id: i64) -> Result<Vec<(i64, String, Option<String>)>> {
    Ok(dicom_send_items::table
        .filter(dicom_send_items::send_id.eq(send_id))
        .select((
            dicom_send_items::instance_id,
            dicom_send_items::status,
            dicom_send_items::error,
        ))
        .order(dicom_send_items::instance_id.asc())
        .load(conn)?)
}

/// The studies with these ids (for a send list; the caller filters by visibility first).
pub fn studies(conn: &mut DbConnection, ids: &[i64]) -> Result<Vec<Study>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        out.extend(
            crate::db::schema::studies::table
                .filter(crate::db::schema::studies::id.eq_any(chunk))
                .select(Study::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}
