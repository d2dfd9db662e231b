//! Reports (読影レポート): the reader's draft, confirmation (確定) into an immutable version,
//! addenda, and who may read them. One report per request; its versions are never changed
//! (the database refuses UPDATE and DELETE on them), a correction is a new version of kind
//! `addendum` with a reason.
//!
//! Who may do what, on top of [`requests::visible`] (the one rule for a request):
//! - radiologists of the supporting facility named on the request write drafts, confirm and
//!   add addenda ([`may_write`]);
//! - radiologists and coordinators of that facility read the report and the draft
//!   ([`may_read_supporting`]);
//! - requesters (physicians, radiographers) of the requesting facility read the report once
//!   it is confirmed, and acknowledge it ([`may_read_requesting`]);
//! - nobody else: a `NotFound`, which the web layer turns into a 404 and an audit event.
//!
//! The writing half (draft, confirm, addendum, acknowledge) is in [`write`].

mod write;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

pub use write::{acknowledge, add_addendum, confirm, save_draft, Confirmed};

use crate::audit::{Event, Outcome};
use crate::auth::Principal;
use crate::db::schema::{
    instances, patients, read_requests, report_drafts, report_version_key_images, report_versions,
    reports, series, studies, users,
};
use crate::db::DbConnection;
use crate::domain::{RequestStatus, Role};
use crate::error::{Error, OptionalExt, Result};
use crate::index::{Patient, Study};
use crate::reading::requests::{self, ReadRequest, Side};
use crate::validation::{optional_multiline, FieldErrors};

/// The longest findings or impression accepted (characters).
pub const MAX_TEXT: usize = 20_000;
/// The longest recommendation accepted.
pub const MAX_RECOMMENDATION: usize = 5_000;
/// The longest addendum reason accepted.
pub const MAX_REASON: usize = 500;

/// Radiologists of a supporting facility write and confirm its reports.
pub fn may_write(p: &Principal) -> bool {
    p.facility_is_supporting && p.has(Role::Radiologist)
}

/// Radiologists and coordinators of a supporting facility read its reports and drafts.
pub fn may_read_supporting(p: &Principal) -> bool {
    p.facility_is_supporting && p.has_any(&[Role::Radiologist, Role::Coordinator])
}

/// Requesters of a requesting facility read (once confirmed) and acknowledge its reports.
pub fn may_read_requesting(p: &Principal) -> bool {
    p.facility_is_requesting && p.is_requester()
}

/// Whether a request in this state has a confirmed report.
pub fn is_reported(s: RequestStatus) -> bool {
    matches!(s, RequestStatus::Confirmed | RequestStatus::Acknowledged)
}

/// Whether a request in this state may be confirmed: any live state. A request nobody has
/// claimed yet (`requested`) may be read and confirmed straight away by a radiologist of the
/// named facility — the worklist's claim is a courtesy between colleagues, not a gate.
pub fn may_confirm(s: RequestStatus) -> bool {
    s.can_become(RequestStatus::Confirmed)
}

/// The three text fields as they arrive from a form or a JSON body (validated by the
/// functions that take them).
#[derive(Debug, Clone, Copy, Default)]
pub struct TextInput<'a> {
    pub findings: &'a str,
    pub impression: &'a str,
    pub recommendation: &'a str,
}

/// The three text fields of a report, validated: trimmed, within their lengths, no control
/// characters but newlines and tabs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportText {
    pub findings: String,
    pub impression: String,
    pub recommendation: String,
}

impl ReportText {
    /// Validates text as a draft holds it (anything may still be empty).
    pub fn draft(findings: &str, impression: &str, recommendation: &str) -> Result<ReportText> {
        let mut e = FieldErrors::new();
        let t = ReportText {
            findings: e
                .take("findings", optional_multiline(findings, MAX_TEXT))
                .unwrap_or_default(),
            impression: e
                .take("impression", optional_multiline(impression, MAX_TEXT))
                .unwrap_or_default(),
            recommendation: e
                .take(
                    "recommendation",
                    optional_multiline(recommendation, MAX_RECOMMENDATION),
                )
                .unwrap_or_default(),
        };
        e.into_result()?;
        Ok(t)
    }

    /// Validates text for confirmation: as a draft, and findings or impression must be given.
    pub fn to_confirm(
        findings: &str,
        impression: &str,
        recommendation: &str,
    ) -> Result<ReportText> {
        let t = ReportText::draft(findings, impression, recommendation)?;
        t.require_content()?;
        Ok(t)
    }

    fn require_content(&self) -> Result<()> {
        if self.findings.is_empty() && self.impression.is_empty() {
            let mut e = FieldErrors::new();
            e.add("findings", "report.err_findings_or_impression");
            e.add("impression", "report.err_findings_or_impression");
            return Err(e.into());
        }
        Ok(())
    }
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = reports)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Report {
    pub id: i64,
    pub request_id: i64,
    pub supporting_facility_id: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = report_versions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ReportVersion {
    pub id: i64,
    pub report_id: i64,
    pub version: i32,
    pub kind: String,
    pub findings: String,
    pub impression: String,
    pub recommendation: String,
    pub addendum_reason: Option<String>,
    pub author_id: i64,
    pub confirmed_by: i64,
    pub confirmed_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = report_drafts)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Draft {
    pub request_id: i64,
    pub author_id: i64,
    pub findings: String,
    pub impression: String,
    pub recommendation: String,
    pub addendum_reason: Option<String>,
    pub revision: i32,
    pub updated_at: NaiveDateTime,
}

/// A key image as shown beside a version (addressed by UIDs for DICOMweb thumbnails).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VersionKeyImage {
    pub study_uid: String,
    pub series_uid: String,
    pub sop_instance_uid: String,
    pub frame: i32,
}

/// A confirmed version with the names of its author and confirmer and its key images.
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    pub version: ReportVersion,
    pub author: String,
    pub confirmer: String,
    pub key_images: Vec<VersionKeyImage>,
}

/// Everything one screen or API answer shows about a request's report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    pub request: ReadRequest,
    pub side: Side,
    pub patient: Patient,
    pub study: Study,
    pub report: Option<Report>,
    /// Oldest first.
    pub versions: Vec<VersionView>,
    /// Only for the supporting side.
    pub draft: Option<Draft>,
}

impl ReportView {
    pub fn latest(&self) -> Option<&VersionView> {
        self.versions.last()
    }
}

/// The request if the caller may work on its report from the supporting side (`write`:
/// as a radiologist; else reading as a radiologist or coordinator), or `NotFound`.
pub fn supporting_request(
    c: &mut DbConnection,
    p: &Principal,
    request_id: i64,
    write: bool,
) -> Result<ReadRequest> {
    let allowed = if write {
        may_write(p)
    } else {
        may_read_supporting(p)
    };
    if !allowed {
        return Err(Error::NotFound);
    }
    let (r, side) = requests::visible(c, p.facility_id, request_id)?;
    if side != Side::Supporting {
        return Err(Error::NotFound);
    }
    Ok(r)
}

/// The request if the caller may see its report at all (either side, by role; the
/// requesting side only once confirmed), or `NotFound`.
fn readable_request(
    c: &mut DbConnection,
    p: &Principal,
    request_id: i64,
) -> Result<(ReadRequest, Side)> {
    let (r, side) = requests::visible(c, p.facility_id, request_id)?;
    let ok = match side {
        Side::Supporting => may_read_supporting(p),
        Side::Requesting => may_read_requesting(p) && is_reported(r.status()),
    };
    if ok {
        Ok((r, side))
    } else {
        Err(Error::NotFound)
    }
}

pub(crate) fn report_of(c: &mut DbConnection, request_id: i64) -> Result<Option<Report>> {
    Ok(reports::table
        .filter(reports::request_id.eq(request_id))
        .select(Report::as_select())
        .first(c)
        .optional()?)
}

pub(crate) fn draft_of(c: &mut DbConnection, request_id: i64) -> Result<Option<Draft>> {
    Ok(report_drafts::table
        .find(request_id)
        .select(Draft::as_select())
        .first(c)
        .optional()?)
}

fn user_name(c: &mut DbConnection, id: i64) -> Result<String> {
    Ok(users::table
        .find(id)
        .select(users::display_name)
        .first(c)
        .optional()?
        .unwrap_or_default())
}

fn version_key_images(c: &mut DbConnection, version_id: i64) -> Result<Vec<VersionKeyImage>> {
    let rows: Vec<(String, String, String, i32)> = report_version_key_images::table
        .inner_join(instances::table.on(instances::id.eq(report_version_key_images::instance_id)))
        .inner_join(series::table.on(series::id.eq(instances::series_id)))
        .inner_join(studies::table.on(studies::id.eq(instances::study_id)))
        .filter(report_version_key_images::version_id.eq(version_id))
        .select((
            studies::study_uid,
            series::series_uid,
            instances::sop_instance_uid,
            report_version_key_images::frame,
        ))
        .order((
            series::series_number.asc(),
            series::id.asc(),
            instances::instance_number.asc(),
            instances::id.asc(),
            report_version_key_images::frame.asc(),
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(study_uid, series_uid, sop_instance_uid, frame)| VersionKeyImage {
                study_uid,
                series_uid,
                sop_instance_uid,
                frame,
            },
        )
        .collect())
}

/// A report's versions, oldest first, with names and key images.
pub fn versions(c: &mut DbConnection, report_id: i64) -> Result<Vec<VersionView>> {
    let rows: Vec<ReportVersion> = report_versions::table
        .filter(report_versions::report_id.eq(report_id))
        .select(ReportVersion::as_select())
        .order(report_versions::version.asc())
        .load(c)?;
    let mut out = Vec::with_capacity(rows.len());
    for v in rows {
        out.push(VersionView {
            author: user_name(c, v.author_id)?,
            confirmer: user_name(c, v.confirmed_by)?,
            key_images: version_key_images(c, v.id)?,
            version: v,
        });
    }
    Ok(out)
}

/// Reads a request's report for the caller (see the module's rules), or `NotFound`. The
/// caller records [`view_event`] right after.
pub fn read(c: &mut DbConnection, p: &Principal, request_id: i64) -> Result<ReportView> {
    let (r, side) = readable_request(c, p, request_id)?;
    let report = report_of(c, r.id)?;
    if side == Side::Requesting && report.is_none() {
        return Err(Error::NotFound);
    }
    let versions = match &report {
        Some(rep) => versions(c, rep.id)?,
        None => Vec::new(),
    };
    let draft = match side {
        Side::Supporting => draft_of(c, r.id)?,
        Side::Requesting => None,
    };
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
    Ok(ReportView {
        request: r,
        side,
        patient,
        study,
        report,
        versions,
        draft,
    })
}

/// The audit event of opening a report (`report.view`), with the patient and study refs.
pub fn view_event(v: &ReportView, via: &str) -> Event {
    let mut ev = Event::new("report.view", Outcome::Success)
        .object("read_request", v.request.id)
        .detail(serde_json::json!({
            "via": via,
            "report_id": v.report.as_ref().map(|r| r.id),
            "versions": v.versions.len(),
            "side": match v.side { Side::Requesting => "requesting", Side::Supporting => "supporting" },
        }));
    ev.patient_ref = Some(format!("patient:{}", v.request.patient_id));
    ev.study_ref = Some(v.study.study_uid.clone());
    ev
}

/// An earlier report of the same patient shown to the reader beside the editor.
#[derive(Debug, Clone, Serialize)]
pub struct EarlierReport {
    pub request_id: i64,
    pub study_date: Option<chrono::NaiveDate>,
    pub modality: String,
    pub description: String,
    pub latest: ReportVersion,
    pub versions: usize,
}

/// The patient's earlier reports that the reader's facility may see, newest first.
///
/// Conservative on purpose: only reports that the reader's own facility confirmed, for
/// other requests of the same patient record (patients are kept per requesting facility, so
/// the same clinic), that are themselves still visible to it (reported requests are). Reports
/// another supporting facility wrote are not shown, even for priors this request lists — the
/// request made the prior's images visible, not another hospital's report text.
pub fn earlier_reports(
    c: &mut DbConnection,
    reader_facility_id: i64,
    r: &ReadRequest,
) -> Result<Vec<EarlierReport>> {
    let reported = [
        RequestStatus::Confirmed.as_str(),
        RequestStatus::Acknowledged.as_str(),
    ];
    let rows: Vec<(i64, i64, String)> = read_requests::table
        .filter(read_requests::patient_id.eq(r.patient_id))
        .filter(read_requests::supporting_facility_id.eq(reader_facility_id))
        .filter(read_requests::status.eq_any(reported))
        .filter(read_requests::id.ne(r.id))
        .select((
            read_requests::id,
            read_requests::study_id,
            read_requests::modality,
        ))
        .order(read_requests::requested_at.desc())
        .limit(20)
        .load(c)?;
    let mut out = Vec::with_capacity(rows.len());
    for (request_id, study_id, modality) in rows {
        let Some(rep) = report_of(c, request_id)? else {
            continue;
        };
        if rep.supporting_facility_id != reader_facility_id {
            continue;
        }
        let vs: Vec<ReportVersion> = report_versions::table
            .filter(report_versions::report_id.eq(rep.id))
            .select(ReportVersion::as_select())
            .order(report_versions::version.desc())
            .load(c)?;
        let n = vs.len();
        let Some(latest) = vs.into_iter().next() else {
            continue;
        };
        let (study_date, description): (Option<chrono::NaiveDate>, String) = studies::table
            .find(study_id)
            .select((studies::study_date, studies::description))
            .first(c)
            .found()?;
        out.push(EarlierReport {
            request_id,
            study_date,
            modality,
            description,
            latest,
            versions: n,
        });
    }
    Ok(out)
}

/// The reader's key images for a request's study: its facility's marks (instance id, frame).
pub(crate) fn current_marks(
    c: &mut DbConnection,
    facility_id: i64,
    study_id: i64,
) -> Result<Vec<(i64, i32)>> {
    use crate::db::schema::key_images;
    Ok(key_images::table
        .filter(key_images::facility_id.eq(facility_id))
        .filter(key_images::study_id.eq(study_id))
        .select((key_images::instance_id, key_images::frame))
        .order((key_images::instance_id.asc(), key_images::frame.asc()))
        .load(c)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_needs_findings_or_impression() {
        assert!(ReportText::to_confirm("", "  ", "経過観察").is_err());
        assert!(ReportText::to_confirm("右上葉に結節", "", "").is_ok());
        assert!(ReportText::to_confirm("", "肺炎", "").is_ok());
        assert!(ReportText::draft("", "", "").is_ok());
    }

    #[test]
    fn text_is_bounded_and_clean() {
        let long = "あ".repeat(MAX_TEXT + 1);
        let Err(Error::Validation(e)) = ReportText::draft(&long, "", "") else {
            panic!("too long accepted");
        };
        assert_eq!(e.get("findings"), Some("err.too_long"));
        let Err(Error::Validation(e)) = ReportText::draft("a\u{7}b", "", "") else {
            panic!("control accepted");
        };
        assert_eq!(e.get("findings"), Some("err.control_chars"));
        let t = ReportText::draft(" 一行目\r\n二行目 ", "", "").unwrap_or_default();
        assert_eq!(t.findings, "一行目\n二行目");
    }

    #[test]
    fn live_requests_may_be_confirmed() {
        assert!(may_confirm(RequestStatus::Requested));
        assert!(may_confirm(RequestStatus::Accepted));
        assert!(may_confirm(RequestStatus::Reading));
        assert!(!may_confirm(RequestStatus::Confirmed));
        assert!(!may_confirm(RequestStatus::Acknowledged));
        assert!(!may_confirm(RequestStatus::Cancelled));
    }
}
