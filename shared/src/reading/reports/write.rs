//! The writing half of reports: the autosaved draft (optimistic revision check), the
//! confirmation (確定) in one transaction, addenda, and the clinic's acknowledgement (確認).

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::{
    current_marks, draft_of, may_confirm, may_read_requesting, report_of, supporting_request,
    Draft, Report, ReportText, ReportVersion, TextInput, MAX_REASON,
};
use crate::audit::{self, Ctx, Event};
use crate::auth::Principal;
use crate::db::schema::{
    fee_lines, read_requests, report_drafts, report_version_key_images, report_versions, reports,
    request_events, request_prices, studies,
};
use crate::db::{self, DbConnection};
use crate::domain::RequestStatus;
use crate::error::{Error, OptionalExt, Result};
use crate::outbox;
use crate::reading::requests::{self, ReadRequest, RequestPrice, Side};
use crate::validation::{optional_multiline, FieldErrors};

/// What a confirmation wrote.
#[derive(Debug, Clone)]
pub struct Confirmed {
    pub report: Report,
    pub version: ReportVersion,
    pub request: ReadRequest,
}

/// The audit event of a report action on a request, with its patient and study refs.
fn event(c: &mut DbConnection, action: &'static str, r: &ReadRequest) -> Result<Event> {
    let study_uid: String = studies::table
        .find(r.study_id)
        .select(studies::study_uid)
        .first(c)
        .found()?;
    let mut ev = Event::success(action).object("read_request", r.id);
    ev.patient_ref = Some(format!("patient:{}", r.patient_id));
    ev.study_ref = Some(study_uid);
    Ok(ev)
}

fn add_event(
    c: &mut DbConnection,
    request_id: i64,
    status: RequestStatus,
    user_id: i64,
    note: &str,
) -> Result<()> {
    diesel::insert_into(request_events::table)
        .values((
            request_events::request_id.eq(request_id),
            request_events::status.eq(status.as_str()),
            request_events::occurred_at.eq(db::now()),
            request_events::user_id.eq(Some(user_id)),
            request_events::note.eq(note),
        ))
        .execute(c)?;
    Ok(())
}

/// Moves the request from the state it was read in to `next` (nobody changed it meanwhile,
/// else `Conflict`).
fn set_status(c: &mut DbConnection, r: &ReadRequest, next: RequestStatus) -> Result<ReadRequest> {
    diesel::update(
        read_requests::table
            .find(r.id)
            .filter(read_requests::status.eq(&r.status)),
    )
    .set((
        read_requests::status.eq(next.as_str()),
        read_requests::updated_at.eq(db::now()),
    ))
    .returning(read_requests::all_columns)
    .get_result(c)
    .optional()?
    .ok_or(Error::Conflict("report.err_stale"))
}

fn stale_on_unique(e: DieselError) -> Error {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            Error::Conflict("report.err_stale")
        }
        other => Error::Db(other),
    }
}

/// Copies the reader's current key images of the study into the version.
fn snapshot_key_images(c: &mut DbConnection, r: &ReadRequest, version_id: i64) -> Result<usize> {
    let marks = current_marks(c, r.supporting_facility_id, r.study_id)?;
    for (instance_id, frame) in &marks {
        diesel::insert_into(report_version_key_images::table)
            .values((
                report_version_key_images::version_id.eq(version_id),
                report_version_key_images::instance_id.eq(instance_id),
                report_version_key_images::frame.eq(frame),
            ))
            .execute(c)?;
    }
    Ok(marks.len())
}

#[allow(clippy::too_many_arguments)]
fn insert_version(
    c: &mut DbConnection,
    report_id: i64,
    version: i32,
    kind: &str,
    text: &ReportText,
    reason: Option<&str>,
    author_id: i64,
    confirmer_id: i64,
) -> Result<ReportVersion> {
    diesel::insert_into(report_versions::table)
        .values((
            report_versions::report_id.eq(report_id),
            report_versions::version.eq(version),
            report_versions::kind.eq(kind),
            report_versions::findings.eq(&text.findings),
            report_versions::impression.eq(&text.impression),
            report_versions::recommendation.eq(&text.recommendation),
            report_versions::addendum_reason.eq(reason),
            report_versions::author_id.eq(author_id),
            report_versions::confirmed_by.eq(confirmer_id),
            report_versions::confirmed_at.eq(db::now()),
        ))
        .returning(report_versions::all_columns)
        .get_result(c)
        .map_err(stale_on_unique)
}

/// Saves the reader's draft of the initial report. `expected_revision` is the revision the
/// editor loaded (0 when there was no draft); anything else means someone saved meanwhile
/// (`Conflict("report.err_stale")`, nothing written). Only while the request is live; after
/// confirmation a correction is an addendum (`Conflict("report.err_confirmed")`).
pub fn save_draft(
    conn: &mut DbConnection,
    ctx: &Ctx,
    p: &Principal,
    request_id: i64,
    expected_revision: i32,
    text: &TextInput,
) -> Result<Draft> {
    db::write_tx(conn, |c| {
        let r = supporting_request(c, p, request_id, true)?;
        if !may_confirm(r.status()) {
            return Err(Error::Conflict("report.err_confirmed"));
        }
        let text = ReportText::draft(text.findings, text.impression, text.recommendation)?;
        let now = db::now();
        let current = draft_of(c, r.id)?;
        let have = current.as_ref().map_or(0, |d| d.revision);
        if have != expected_revision {
            return Err(Error::Conflict("report.err_stale"));
        }
        let draft: Draft = match current {
            Some(d) => diesel::update(
                report_drafts::table
                    .find(r.id)
                    .filter(report_drafts::revision.eq(d.revision)),
            )
            .set((
                report_drafts::author_id.eq(p.user_id),
                report_drafts::findings.eq(&text.findings),
                report_drafts::impression.eq(&text.impression),
                report_drafts::recommendation.eq(&text.recommendation),
                report_drafts::revision.eq(d.revision + 1),
                report_drafts::updated_at.eq(now),
            ))
            .returning(report_drafts::all_columns)
            .get_result(c)
            .optional()?
            .ok_or(Error::Conflict("report.err_stale"))?,
            None => diesel::insert_into(report_drafts::table)
                .values((
                    report_drafts::request_id.eq(r.id),
                    report_drafts::author_id.eq(p.user_id),
                    report_drafts::findings.eq(&text.findings),
                    report_drafts::impression.eq(&text.impression),
                    report_drafts::recommendation.eq(&text.recommendation),
                    report_drafts::revision.eq(1),
                    report_drafts::updated_at.eq(now),
                ))
                .returning(report_drafts::all_columns)
                .get_result(c)
                .map_err(stale_on_unique)?,
        };
        let ev = event(c, "report.draft_save", &r)?
            .detail(serde_json::json!({ "revision": draft.revision }));
        audit::record(c, ctx, ev)?;
        Ok(draft)
    })
}

/// Confirms (確定) the initial report of a request, in one transaction: the report and its
/// first version (from `text` when given, else from the draft), the key-image snapshot, the
/// request's status (→ confirmed) and status event, the fee line from the price snapshot,
/// the `report.confirm` audit event and the `notify.report_confirmed` outbox job; the draft
/// is deleted. Any failure writes none of it. `expected_revision`, when given, must be the
/// draft's revision (0: no draft).
pub fn confirm(
    conn: &mut DbConnection,
    ctx: &Ctx,
    p: &Principal,
    request_id: i64,
    expected_revision: Option<i32>,
    text: Option<&TextInput>,
) -> Result<Confirmed> {
    db::write_tx(conn, |c| {
        let r = supporting_request(c, p, request_id, true)?;
        if super::is_reported(r.status()) {
            return Err(Error::Conflict("report.err_confirmed"));
        }
        if !may_confirm(r.status()) {
            return Err(Error::Conflict("report.err_not_live"));
        }
        let draft = draft_of(c, r.id)?;
        if let Some(exp) = expected_revision {
            if draft.as_ref().map_or(0, |d| d.revision) != exp {
                return Err(Error::Conflict("report.err_stale"));
            }
        }
        let text = match (text, &draft) {
            (Some(t), _) => ReportText::to_confirm(t.findings, t.impression, t.recommendation)?,
            (None, Some(d)) => {
                ReportText::to_confirm(&d.findings, &d.impression, &d.recommendation)?
            }
            (None, None) => ReportText::to_confirm("", "", "")?,
        };
        if report_of(c, r.id)?.is_some() {
            return Err(Error::Conflict("report.err_confirmed"));
        }
        let now = db::now();
        let report: Report = diesel::insert_into(reports::table)
            .values((
                reports::request_id.eq(r.id),
                reports::supporting_facility_id.eq(r.supporting_facility_id),
                reports::created_at.eq(now),
            ))
            .returning(reports::all_columns)
            .get_result(c)
            .map_err(|e| match stale_on_unique(e) {
                Error::Conflict(_) => Error::Conflict("report.err_confirmed"),
                other => other,
            })?;
        let author = draft.as_ref().map_or(p.user_id, |d| d.author_id);
        let version = insert_version(c, report.id, 1, "initial", &text, None, author, p.user_id)?;
        let key_images = snapshot_key_images(c, &r, version.id)?;
        let updated = set_status(c, &r, RequestStatus::Confirmed)?;
        add_event(c, r.id, RequestStatus::Confirmed, p.user_id, "")?;
        let price: RequestPrice = request_prices::table
            .find(r.id)
            .select(RequestPrice::as_select())
            .first(c)
            .optional()?
            .ok_or_else(|| Error::Internal(format!("request {} has no price snapshot", r.id)))?;
        diesel::insert_into(fee_lines::table)
            .values((
                fee_lines::request_id.eq(r.id),
                fee_lines::requesting_facility_id.eq(r.requesting_facility_id),
                fee_lines::supporting_facility_id.eq(r.supporting_facility_id),
                fee_lines::subtotal.eq(price.subtotal),
                fee_lines::tax.eq(price.tax),
                fee_lines::total.eq(price.total),
                fee_lines::tax_included.eq(price.tax_included),
                fee_lines::confirmed_at.eq(now),
            ))
            .execute(c)?;
        diesel::delete(report_drafts::table.find(r.id)).execute(c)?;
        let ev = event(c, "report.confirm", &r)?.detail(serde_json::json!({
            "report_id": report.id, "version": 1, "from": r.status,
            "key_images": key_images, "total": price.total,
        }));
        audit::record(c, ctx, ev)?;
        outbox::enqueue(
            c,
            outbox::kind::REPORT_CONFIRMED,
            &serde_json::json!({
                "request_id": r.id,
                "report_id": report.id,
                "version": 1,
                "requesting_facility_id": r.requesting_facility_id,
            }),
        )?;
        Ok(Confirmed {
            report: report.clone(),
            version: version.clone(),
            request: updated,
        })
    })
}

/// Adds an addendum (追記) to a confirmed report: a new version with a reason, the current
/// key images, the `report.addendum` audit event and the `notify.report_addendum` job.
/// Earlier versions are untouched. Before confirmation: `Conflict("report.err_not_confirmed")`.
pub fn add_addendum(
    conn: &mut DbConnection,
    ctx: &Ctx,
    p: &Principal,
    request_id: i64,
    reason: &str,
    text: &TextInput,
) -> Result<ReportVersion> {
    db::write_tx(conn, |c| {
        let r = supporting_request(c, p, request_id, true)?;
        if !super::is_reported(r.status()) {
            return Err(Error::Conflict("report.err_not_confirmed"));
        }
        let mut e = FieldErrors::new();
        let reason = e
            .take("addendum_reason", optional_multiline(reason, MAX_REASON))
            .unwrap_or_default();
        if reason.is_empty() && e.get("addendum_reason").is_none() {
            e.add("addendum_reason", "err.required");
        }
        let text = match ReportText::to_confirm(text.findings, text.impression, text.recommendation)
        {
            Ok(t) => Some(t),
            Err(Error::Validation(v)) => {
                for fe in v.iter() {
                    e.add(fe.field, fe.message);
                }
                None
            }
            Err(other) => return Err(other),
        };
        if !e.is_empty() {
            return Err(e.into());
        }
        let text = text.unwrap_or_default();
        let report = report_of(c, r.id)?.ok_or(Error::Conflict("report.err_not_confirmed"))?;
        let last: Option<i32> = report_versions::table
            .filter(report_versions::report_id.eq(report.id))
            .select(diesel::dsl::max(report_versions::version))
            .first(c)?;
        let next = last.unwrap_or(0) + 1;
        let version = insert_version(
            c,
            report.id,
            next,
            "addendum",
            &text,
            Some(&reason),
            p.user_id,
            p.user_id,
        )?;
        let key_images = snapshot_key_images(c, &r, version.id)?;
        let ev = event(c, "report.addendum", &r)?.detail(serde_json::json!({
            "report_id": report.id, "version": next, "key_images": key_images,
        }));
        audit::record(c, ctx, ev)?;
        outbox::enqueue(
            c,
            outbox::kind::REPORT_ADDENDUM,
            &serde_json::json!({
                "request_id": r.id,
                "report_id": report.id,
                "version": next,
                "requesting_facility_id": r.requesting_facility_id,
            }),
        )?;
        Ok(version)
    })
}

/// The requesting clinic acknowledges (確認) a confirmed report: confirmed → acknowledged,
/// with its status event and audit event. Twice: `Conflict("report.err_acknowledged")`.
pub fn acknowledge(
    conn: &mut DbConnection,
    ctx: &Ctx,
    p: &Principal,
    request_id: i64,
) -> Result<ReadRequest> {
    db::write_tx(conn, |c| {
        if !may_read_requesting(p) {
            return Err(Error::NotFound);
        }
        let (r, side) = requests::visible(c, p.facility_id, request_id)?;
        if side != Side::Requesting {
            return Err(Error::NotFound);
        }
        match r.status() {
            RequestStatus::Confirmed => {}
            RequestStatus::Acknowledged => return Err(Error::Conflict("report.err_acknowledged")),
            _ => return Err(Error::Conflict("report.err_not_confirmed")),
        }
        let updated = set_status(c, &r, RequestStatus::Acknowledged)?;
        add_event(c, r.id, RequestStatus::Acknowledged, p.user_id, "")?;
        let ev = event(c, "report.acknowledge", &r)?;
        audit::record(c, ctx, ev)?;
        Ok(updated)
    })
}
