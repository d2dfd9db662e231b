//! Read requests (読影依頼): the rows, their price snapshot, priors, attachments and status
//! history, and the one relation that decides who may see a request: the requesting
//! facility and the supporting facility it names (`visible`). Filing itself (validation,
//! pricing, routing) is `radvision::core::requests`, which calls [`insert`] inside its
//! transaction.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Ctx, Event, Outcome};
use crate::db::schema::{
    facilities, patients, read_requests, request_attachments, request_events, request_prices,
    request_priors, studies, users,
};
use crate::db::{self, DbConnection};
use crate::domain::{RequestStatus, Urgency};
use crate::error::{Error, OptionalExt, Result};
use crate::index::{Patient, Study};
use crate::outbox;

#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = read_requests)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ReadRequest {
    pub id: i64,
    pub requesting_facility_id: i64,
    pub supporting_facility_id: i64,
    pub radiologist_id: Option<i64>,
    pub study_id: i64,
    pub patient_id: i64,
    pub requested_by: i64,
    pub status: String,
    pub urgency: String,
    pub category: String,
    pub modality: String,
    pub exam: String,
    pub body_parts: String,
    pub purpose: String,
    pub purpose_note: String,
    pub clinical_info: String,
    pub clinical_note: String,
    pub contact_phone: String,
    pub image_count: i64,
    pub filed_while_arriving: bool,
    pub routed_by: String,
    pub routing_note: String,
    pub due_at: NaiveDateTime,
    pub requested_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The radiologist reading it (worklist: claimed or assigned), when, by whom (None:
    /// the automatic assignment) and why (JSON), and when reading started.
    pub assigned_to: Option<i64>,
    pub assigned_at: Option<NaiveDateTime>,
    pub assigned_by: Option<i64>,
    pub assignment_reason: String,
    pub reading_started_at: Option<NaiveDateTime>,
}

impl ReadRequest {
    pub fn status(&self) -> RequestStatus {
        RequestStatus::parse(&self.status).unwrap_or(RequestStatus::Requested)
    }
    pub fn urgency(&self) -> Urgency {
        Urgency::parse(&self.urgency).unwrap_or(Urgency::Routine)
    }
    pub fn body_part_codes(&self) -> Vec<&str> {
        self.body_parts
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = read_requests)]
pub struct NewRequest {
    pub requesting_facility_id: i64,
    pub supporting_facility_id: i64,
    pub radiologist_id: Option<i64>,
    pub study_id: i64,
    pub patient_id: i64,
    pub requested_by: i64,
    pub status: String,
    pub urgency: String,
    pub category: String,
    pub modality: String,
    pub exam: String,
    pub body_parts: String,
    pub purpose: String,
    pub purpose_note: String,
    pub clinical_info: String,
    pub clinical_note: String,
    pub contact_phone: String,
    pub image_count: i64,
    pub filed_while_arriving: bool,
    pub routed_by: String,
    pub routing_note: String,
    pub due_at: NaiveDateTime,
    pub requested_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The price as quoted at filing (the quote itself as JSON).
#[derive(Queryable, Selectable, Insertable, Debug, Clone, Serialize)]
#[diesel(table_name = request_prices)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct RequestPrice {
    pub request_id: i64,
    pub price_table_id: i64,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub tax_included: bool,
    pub quote: String,
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = request_events)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct StatusEvent {
    pub id: i64,
    pub request_id: i64,
    pub status: String,
    pub occurred_at: NaiveDateTime,
    pub user_id: Option<i64>,
    pub note: String,
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = request_attachments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Attachment {
    pub id: i64,
    pub facility_id: i64,
    pub uploaded_by: i64,
    pub request_id: Option<i64>,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub created_at: NaiveDateTime,
}

/// The audit event's patient and study references for a request.
fn refs(ev: Event, r: &ReadRequest, study_uid: &str) -> Event {
    let mut ev = ev.object("read_request", r.id);
    ev.patient_ref = Some(format!("patient:{}", r.patient_id));
    ev.study_ref = Some(study_uid.to_owned());
    ev
}

/// Writes a filed request: the row, its price snapshot, priors, the staged attachment, the
/// first status event, the audit event and the notification job for the supporting
/// facility. Call inside the filing transaction (`db::write_tx`); a second live request for
/// the same study and target is refused (`Conflict`), by a check here and by a unique index.
pub fn insert(
    c: &mut DbConnection,
    ctx: &Ctx,
    new: &NewRequest,
    price: (i64, i64, i64, i64, bool, String),
    priors: &[i64],
    attachment_id: Option<i64>,
    study_uid: &str,
) -> Result<ReadRequest> {
    if live_exists(c, new.study_id, new.supporting_facility_id)? {
        return Err(Error::Conflict("request.err_live_exists"));
    }
    let r: ReadRequest = diesel::insert_into(read_requests::table)
        .values(new)
        .returning(read_requests::all_columns)
        .get_result(c)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => Error::Conflict("request.err_live_exists"),
            other => Error::Db(other),
        })?;
    let (price_table_id, subtotal, tax, total, tax_included, quote) = price;
    diesel::insert_into(request_prices::table)
        .values(RequestPrice {
            request_id: r.id,
            price_table_id,
            subtotal,
            tax,
            total,
            tax_included,
            quote,
        })
        .execute(c)?;
    for p in priors {
        diesel::insert_into(request_priors::table)
            .values((
                request_priors::request_id.eq(r.id),
                request_priors::study_id.eq(p),
            ))
            .execute(c)?;
    }
    if let Some(a) = attachment_id {
        let n = diesel::update(
            request_attachments::table
                .filter(request_attachments::id.eq(a))
                .filter(request_attachments::facility_id.eq(new.requesting_facility_id))
                .filter(request_attachments::uploaded_by.eq(new.requested_by))
                .filter(request_attachments::request_id.is_null()),
        )
        .set(request_attachments::request_id.eq(r.id))
        .execute(c)?;
        if n != 1 {
            return Err(crate::validation::FieldErrors::single(
                "attachment",
                "request.err_attachment_gone",
            )
            .into());
        }
    }
    add_event(c, r.id, RequestStatus::Requested, ctx.actor.user_id, "")?;
    audit::record(
        c,
        ctx,
        refs(Event::success("request.create"), &r, study_uid).detail(serde_json::json!({
            "supporting_facility_id": r.supporting_facility_id,
            "urgency": r.urgency, "category": r.category, "exam": r.exam,
            "routed_by": r.routed_by, "total": total, "priors": priors.len(),
            "attachment": attachment_id.is_some(),
        })),
    )?;
    outbox::enqueue(
        c,
        outbox::kind::REQUEST_FILED,
        &serde_json::json!({
            "request_id": r.id,
            "supporting_facility_id": r.supporting_facility_id,
            "urgency": r.urgency,
        }),
    )?;
    Ok(r)
}

fn add_event(
    c: &mut DbConnection,
    request_id: i64,
    status: RequestStatus,
    user_id: Option<i64>,
    note: &str,
) -> Result<()> {
    diesel::insert_into(request_events::table)
        .values((
            request_events::request_id.eq(request_id),
            request_events::status.eq(status.as_str()),
            request_events::occurred_at.eq(db::now()),
            request_events::user_id.eq(user_id),
            request_events::note.eq(note),
        ))
        .execute(c)?;
    Ok(())
}

/// Whether a live request for this study already names this supporting facility.
pub fn live_exists(c: &mut DbConnection, study_id: i64, supporting_id: i64) -> Result<bool> {
    let live: Vec<&str> = RequestStatus::LIVE.iter().map(|s| s.as_str()).collect();
    let n: i64 = read_requests::table
        .filter(read_requests::study_id.eq(study_id))
        .filter(read_requests::supporting_facility_id.eq(supporting_id))
        .filter(read_requests::status.eq_any(live))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Live requests per supporting facility (the backlog the request form shows).
pub fn backlog(c: &mut DbConnection, facility_ids: &[i64]) -> Result<HashMap<i64, i64>> {
    let live: Vec<&str> = RequestStatus::LIVE.iter().map(|s| s.as_str()).collect();
    let rows: Vec<i64> = read_requests::table
        .filter(read_requests::supporting_facility_id.eq_any(facility_ids))
        .filter(read_requests::status.eq_any(live))
        .select(read_requests::supporting_facility_id)
        .load(c)?;
    let mut out: HashMap<i64, i64> = facility_ids.iter().map(|f| (*f, 0)).collect();
    for f in rows {
        *out.entry(f).or_default() += 1;
    }
    Ok(out)
}

/// Which side of a request a facility is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Requesting,
    Supporting,
}

/// Filters for request lists.
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    pub status: Option<RequestStatus>,
    pub urgency: Option<Urgency>,
    /// Filing date range, Japan time days, inclusive.
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    /// The facility on the other side.
    pub other_facility_id: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

/// A request with what a list shows beside it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestSummary {
    pub request: ReadRequest,
    pub patient: Patient,
    pub study: Study,
    pub requesting_facility: String,
    pub supporting_facility: String,
    pub total: i64,
}

fn jst_day_start(d: NaiveDate) -> NaiveDateTime {
    d.and_time(chrono::NaiveTime::MIN) - chrono::Duration::hours(9)
}

/// A facility's requests on one side, newest first, and the total count.
pub fn list(
    c: &mut DbConnection,
    facility_id: i64,
    side: Side,
    q: &RequestQuery,
) -> Result<(Vec<RequestSummary>, i64)> {
    let build = || {
        let mut b = read_requests::table.into_boxed();
        b = match side {
            Side::Requesting => b.filter(read_requests::requesting_facility_id.eq(facility_id)),
            Side::Supporting => b.filter(read_requests::supporting_facility_id.eq(facility_id)),
        };
        if let Some(s) = q.status {
            b = b.filter(read_requests::status.eq(s.as_str()));
        }
        if let Some(u) = q.urgency {
            b = b.filter(read_requests::urgency.eq(u.as_str()));
        }
        if let Some(d) = q.date_from {
            b = b.filter(read_requests::requested_at.ge(jst_day_start(d)));
        }
        if let Some(d) = q.date_to {
            b = b.filter(
                read_requests::requested_at.lt(jst_day_start(d) + chrono::Duration::days(1)),
            );
        }
        if let Some(o) = q.other_facility_id {
            b = match side {
                Side::Requesting => b.filter(read_requests::supporting_facility_id.eq(o)),
                Side::Supporting => b.filter(read_requests::requesting_facility_id.eq(o)),
            };
        }
        b
    };
    let total: i64 = build().count().get_result(c)?;
    let rows: Vec<ReadRequest> = build()
        .select(ReadRequest::as_select())
        .order((read_requests::requested_at.desc(), read_requests::id.desc()))
        .offset(q.offset.max(0))
        .limit(q.limit.clamp(1, 500))
        .load(c)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(summary(c, r)?);
    }
    Ok((out, total))
}

fn facility_name(c: &mut DbConnection, id: i64) -> Result<String> {
    facilities::table
        .find(id)
        .select(facilities::name)
        .first(c)
        .found()
}

fn summary(c: &mut DbConnection, r: ReadRequest) -> Result<RequestSummary> {
    let study: Study = studies::table
        .find(r.study_id)
        .select(Study::as_select())
        .first(c)
        .found()?;
    let patient: Patient = patients::table
        .find(r.patient_id)
        .select(Patient::as_select())
        .first(c)
        .found()?;
    let total = request_prices::table
        .find(r.id)
        .select(request_prices::total)
        .first(c)
        .optional()?
        .unwrap_or(0);
    Ok(RequestSummary {
        requesting_facility: facility_name(c, r.requesting_facility_id)?,
        supporting_facility: facility_name(c, r.supporting_facility_id)?,
        request: r,
        patient,
        study,
        total,
    })
}

/// Everything about one request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestDetail {
    pub summary: RequestSummary,
    pub side: Side,
    pub price: Option<RequestPrice>,
    pub priors: Vec<Study>,
    pub events: Vec<(StatusEvent, Option<String>)>,
    pub attachments: Vec<Attachment>,
    pub requested_by: String,
    pub radiologist: Option<String>,
}

impl Serialize for Side {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Side::Requesting => "requesting",
            Side::Supporting => "supporting",
        })
    }
}

/// The request if `facility_id` may see it (it filed it, or it is the supporting facility
/// named on it and the request is live or reported), else `NotFound` — the one visibility
/// rule for requests.
pub fn visible(c: &mut DbConnection, facility_id: i64, id: i64) -> Result<(ReadRequest, Side)> {
    let r: ReadRequest = read_requests::table
        .find(id)
        .select(ReadRequest::as_select())
        .first(c)
        .found()?;
    if r.requesting_facility_id == facility_id {
        Ok((r, Side::Requesting))
    } else if r.supporting_facility_id == facility_id && r.status() != RequestStatus::Cancelled {
        // The supporting facility sees a request while it is live or reported; a cancelled
        // one is no longer its business.
        Ok((r, Side::Supporting))
    } else {
        Err(Error::NotFound)
    }
}

fn user_name(c: &mut DbConnection, id: i64) -> Result<Option<String>> {
    Ok(users::table
        .find(id)
        .select(users::display_name)
        .first(c)
        .optional()?)
}

/// One request with its price, priors, history and attachments, if visible to the facility.
pub fn detail(c: &mut DbConnection, facility_id: i64, id: i64) -> Result<RequestDetail> {
    let (r, side) = visible(c, facility_id, id)?;
    let price = request_prices::table
        .find(r.id)
        .select(RequestPrice::as_select())
        .first(c)
        .optional()?;
    let priors: Vec<Study> = studies::table
        .inner_join(request_priors::table.on(request_priors::study_id.eq(studies::id)))
        .filter(request_priors::request_id.eq(r.id))
        .select(Study::as_select())
        .order(studies::study_date.desc())
        .load(c)?;
    let raw_events: Vec<StatusEvent> = request_events::table
        .filter(request_events::request_id.eq(r.id))
        .select(StatusEvent::as_select())
        .order(request_events::id.asc())
        .load(c)?;
    let mut events = Vec::with_capacity(raw_events.len());
    for e in raw_events {
        let who = match e.user_id {
            Some(u) => user_name(c, u)?,
            None => None,
        };
        events.push((e, who));
    }
    let attachments = request_attachments::table
        .filter(request_attachments::request_id.eq(r.id))
        .select(Attachment::as_select())
        .order(request_attachments::id.asc())
        .load(c)?;
    let requested_by = user_name(c, r.requested_by)?.unwrap_or_default();
    let radiologist = match r.radiologist_id {
        Some(u) => user_name(c, u)?,
        None => None,
    };
    Ok(RequestDetail {
        summary: summary(c, r)?,
        side,
        price,
        priors,
        events,
        attachments,
        requested_by,
        radiologist,
    })
}

/// The audit event of reading a request (written by the caller right after the read).
pub fn view_event(d: &RequestDetail, via: &str) -> Event {
    refs(
        Event::new("request.view", Outcome::Success),
        &d.summary.request,
        &d.summary.study.study_uid,
    )
    .detail(serde_json::json!({ "via": via }))
}

/// Cancels a request of the requesting facility while reading has not started, with its
/// status event, audit event and a notification job for the supporting facility.
pub fn cancel(
    conn: &mut DbConnection,
    ctx: &Ctx,
    requesting_facility_id: i64,
    id: i64,
    reason: &str,
) -> Result<ReadRequest> {
    db::write_tx(conn, |c| {
        let (r, side) = visible(c, requesting_facility_id, id)?;
        if side != Side::Requesting {
            return Err(Error::NotFound);
        }
        let reason = crate::validation::optional_text(reason, 200)
            .map_err(|m| crate::validation::FieldErrors::single("reason", m))?;
        if !r.status().can_cancel() {
            return Err(Error::Conflict("request.err_cannot_cancel"));
        }
        let now = db::now();
        let updated: ReadRequest = diesel::update(
            read_requests::table
                .find(r.id)
                .filter(read_requests::status.eq(&r.status)),
        )
        .set((
            read_requests::status.eq(RequestStatus::Cancelled.as_str()),
            read_requests::updated_at.eq(now),
        ))
        .returning(read_requests::all_columns)
        .get_result(c)
        .found()?;
        add_event(
            c,
            r.id,
            RequestStatus::Cancelled,
            ctx.actor.user_id,
            &reason,
        )?;
        let study_uid: String = studies::table
            .find(r.study_id)
            .select(studies::study_uid)
            .first(c)?;
        audit::record(
            c,
            ctx,
            refs(Event::success("request.cancel"), &updated, &study_uid)
                .detail(serde_json::json!({ "from": r.status })),
        )?;
        outbox::enqueue(
            c,
            outbox::kind::REQUEST_CANCELLED,
            &serde_json::json!({
                "request_id": r.id,
                "supporting_facility_id": r.supporting_facility_id,
            }),
        )?;
        Ok(updated)
    })
}

/// Stages an uploaded referral letter for the user's next request (the blob is already
/// stored). Staged letters older than a day that never joined a request are forgotten here
/// (their blobs go at the next start-up sweep).
#[allow(clippy::too_many_arguments)]
pub fn stage_attachment(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    file_name: &str,
    content_type: &str,
    size_bytes: i64,
    sha256: &str,
    storage_key: &str,
) -> Result<Attachment> {
    db::write_tx(conn, |c| {
        let now = db::now();
        diesel::delete(
            request_attachments::table
                .filter(request_attachments::request_id.is_null())
                .filter(request_attachments::created_at.lt(now - chrono::Duration::days(1))),
        )
        .execute(c)?;
        let a: Attachment = diesel::insert_into(request_attachments::table)
            .values((
                request_attachments::facility_id.eq(facility_id),
                request_attachments::uploaded_by.eq(user_id),
                request_attachments::file_name.eq(file_name),
                request_attachments::content_type.eq(content_type),
                request_attachments::size_bytes.eq(size_bytes),
                request_attachments::sha256.eq(sha256),
                request_attachments::storage_key.eq(storage_key),
                request_attachments::created_at.eq(now),
            ))
            .returning(request_attachments::all_columns)
            .get_result(c)?;
        audit::record(
            c,
            ctx,
            Event::success("request.attachment_upload")
                .object("attachment", a.id)
                .detail(serde_json::json!({ "size": size_bytes })),
        )?;
        Ok(a)
    })
}

/// A staged attachment of this user (not yet part of a request).
pub fn staged_attachment(
    c: &mut DbConnection,
    facility_id: i64,
    user_id: i64,
    id: i64,
) -> Result<Attachment> {
    request_attachments::table
        .find(id)
        .filter(request_attachments::facility_id.eq(facility_id))
        .filter(request_attachments::uploaded_by.eq(user_id))
        .filter(request_attachments::request_id.is_null())
        .select(Attachment::as_select())
        .first(c)
        .found()
}

/// An attachment of a request the facility may see.
pub fn attachment(
    c: &mut DbConnection,
    facility_id: i64,
    request_id: i64,
    attachment_id: i64,
) -> Result<(ReadRequest, Attachment)> {
    let (r, _) = visible(c, facility_id, request_id)?;
    let a = request_attachments::table
        .find(attachment_id)
        .filter(request_attachments::request_id.eq(r.id))
        .select(Attachment::as_select())
        .first(c)
        .found()?;
    Ok((r, a))
}

/// The audit event of downloading an attachment.
pub fn attachment_event(r: &ReadRequest, a: &Attachment, study_uid: &str) -> Event {
    refs(Event::success("request.attachment_download"), r, study_uid)
        .detail(serde_json::json!({ "attachment_id": a.id }))
}

/// Storage keys of every attachment (the start-up sweep keeps these blobs).
pub fn attachment_keys(c: &mut DbConnection) -> Result<Vec<String>> {
    Ok(request_attachments::table
        .select(request_attachments::storage_key)
        .distinct()
        .load(c)?)
}
