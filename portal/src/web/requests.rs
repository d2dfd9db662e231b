//! The requesting facility's read requests: the list (filters by status, urgency, date and
//! supporting facility, with paging), one request with its status history, price snapshot,
//! priors and referral letter, and cancelling until reading starts. The request form itself
//! is `request_form.rs`. Requesters of the requesting facility only (the supporting side
//! gets its worklist in the reading issue); anything else is a 404 and an audit event.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use shared::audit::{self, Event, Outcome};
use shared::domain::{format_yen, RequestStatus, Urgency};
use shared::membership::contracts;
use shared::reading::catalogue;
use shared::reading::requests::{self as store, RequestQuery, RequestSummary, Side};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, see_other, Page};
use crate::web::request_form::{self, PatientBox, QuoteView};
use crate::web::session::SignedIn;
use crate::web::signin::NoticeQuery;
use crate::web::studies::{person_name, requester_check};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/requests", web::get().to(list))
        .route("/requests/{id}", web::get().to(show))
        .route("/requests/{id}/cancel", web::post().to(cancel))
        .route(
            "/requests/{id}/attachments/{attachment}",
            web::get().to(attachment),
        )
        .route(
            "/studies/{id}/request",
            web::get().to(request_form::new_form),
        )
        .route(
            "/studies/{id}/request",
            web::post().to(request_form::review),
        )
        .route(
            "/studies/{id}/request/submit",
            web::post().to(request_form::submit),
        );
}

/// Rows per page.
pub const PER_PAGE: i64 = 50;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestFilter {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub date_from: String,
    #[serde(default)]
    pub date_to: String,
    #[serde(default)]
    pub facility: String,
    #[serde(default)]
    pub page: String,
    #[serde(default)]
    pub notice: Option<String>,
}

/// A filter date, `YYYY-MM-DD`, in the years 1900–2999: beyond them no request was filed,
/// and the day's bounds in UTC would leave what chrono and the databases hold.
fn parse_date(s: &str) -> Result<Option<NaiveDate>, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| (1900..=2999).contains(&d.year()))
        .map(Some)
        .ok_or("study.err_date")
}

impl RequestFilter {
    /// The validated query (invalid filters left out and reported) and the page number.
    pub fn parse(&self, per_page: i64) -> (RequestQuery, i64, FieldErrors) {
        let mut e = FieldErrors::new();
        let status = match self.status.trim() {
            "" => None,
            s => e.take("status", RequestStatus::parse(s)),
        };
        let urgency = match self.urgency.trim() {
            "" => None,
            s => e.take("urgency", Urgency::parse(s)),
        };
        let date_from = e.take("date_from", parse_date(&self.date_from)).flatten();
        let date_to = e.take("date_to", parse_date(&self.date_to)).flatten();
        let other = match self.facility.trim() {
            "" => None,
            s => match s.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    e.add("facility", "err.invalid_choice");
                    None
                }
            },
        };
        let page = self
            .page
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|p| *p >= 1)
            .unwrap_or(1)
            .min(1_000_000);
        (
            RequestQuery {
                status,
                urgency,
                date_from,
                date_to,
                other_facility_id: other,
                offset: (page - 1) * per_page,
                limit: per_page,
            },
            page,
            e,
        )
    }

    /// Filter names in use (for the audit trail).
    pub fn used(&self) -> Vec<&'static str> {
        [
            ("status", &self.status),
            ("urgency", &self.urgency),
            ("date_from", &self.date_from),
            ("date_to", &self.date_to),
            ("facility", &self.facility),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, _)| k)
        .collect()
    }

    fn query_string(&self, page: i64) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &self.status),
            ("urgency", &self.urgency),
            ("date_from", &self.date_from),
            ("date_to", &self.date_to),
            ("facility", &self.facility),
        ] {
            if !v.trim().is_empty() {
                s.append_pair(k, v.trim());
            }
        }
        if page > 1 {
            s.append_pair("page", &page.to_string());
        }
        s.finish()
    }
}

pub struct ListRow {
    pub id: i64,
    pub requested: String,
    pub status: String,
    pub status_key: String,
    pub urgency: String,
    pub urgency_key: String,
    pub patient_name: String,
    pub patient_id: String,
    pub study_date: String,
    pub modality: String,
    pub supporting: String,
    pub total: String,
    pub due: String,
}

fn list_row(page: &Page, s: &RequestSummary) -> ListRow {
    let r = &s.request;
    let name = [
        &s.patient.name_ideographic,
        &s.patient.name_phonetic,
        &s.patient.name_alphabetic,
    ]
    .iter()
    .map(|g| person_name(g))
    .find(|n| !n.is_empty())
    .unwrap_or_default();
    ListRow {
        id: r.id,
        requested: page.time(&r.requested_at),
        status: r.status.clone(),
        status_key: format!("request.status.{}", r.status),
        urgency: r.urgency.clone(),
        urgency_key: format!("request.urgency.{}", r.urgency),
        patient_name: name,
        patient_id: s.patient.patient_key.clone(),
        study_date: s
            .study
            .study_date
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "—".into()),
        modality: r.modality.clone(),
        supporting: s.supporting_facility.clone(),
        total: format_yen(s.total),
        due: page.time(&r.due_at),
    }
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "requests/list.html")]
struct ListPage {
    page: Page,
    filter: RequestFilter,
    errors: FieldErrors,
    statuses: Vec<Opt>,
    urgencies: Vec<Opt>,
    facilities: Vec<Opt>,
    rows: Vec<ListRow>,
    total: i64,
    prev: Option<String>,
    next: Option<String>,
}

fn check(me: &SignedIn) -> Result<(), shared::auth::Denied> {
    requester_check(&me.principal)
}

/// `GET /requests`: the facility's requests, newest first.
pub async fn list(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<RequestFilter>,
) -> WebResult {
    authz::allow(&state, &me, check(&me), "request.list", None).await?;
    let filter = q.into_inner();
    let (query, page_no, errors) = filter.parse(PER_PAGE);
    let fid = me.principal.facility_id;
    let ctx = me.audit_ctx();
    let used = filter.used();
    let today = radvision::core::calendar::to_jst(state.clock.now()).date();
    let qq = query.clone();
    let (rows, total, directory) = state
        .db(move |c| {
            let (rows, total) = store::list(c, fid, Side::Requesting, &qq)?;
            audit::record_now(
                c,
                &ctx,
                Event::new("request.list", Outcome::Success).detail(serde_json::json!({
                    "count": rows.len(), "total": total, "page": page_no, "filters": used, "via": "screen",
                })),
            )?;
            let directory = contracts::directory(c, fid, today)?;
            Ok((rows, total, directory))
        })
        .await?;
    let mut page = Page::for_user(&state, &me, "request.title_list");
    page = page.with_notice(filter.notice.as_deref());
    let statuses = RequestStatus::ALL
        .iter()
        .map(|s| Opt {
            value: s.as_str().into(),
            label: page.t(&format!("request.status.{s}")).to_owned(),
            selected: filter.status.trim() == s.as_str(),
        })
        .collect();
    let urgencies = Urgency::ALL
        .iter()
        .map(|u| Opt {
            value: u.as_str().into(),
            label: page.t(&format!("request.urgency.{u}")).to_owned(),
            selected: filter.urgency.trim() == u.as_str(),
        })
        .collect();
    let facilities = directory
        .iter()
        .map(|d| Opt {
            value: d.facility_id.to_string(),
            label: d.name.clone(),
            selected: filter.facility.trim() == d.facility_id.to_string(),
        })
        .collect();
    let list_rows: Vec<ListRow> = rows.iter().map(|s| list_row(&page, s)).collect();
    let last = query.offset + list_rows.len() as i64;
    render(&ListPage {
        prev: (page_no > 1).then(|| filter.query_string(page_no - 1)),
        next: (last < total).then(|| filter.query_string(page_no + 1)),
        rows: list_rows,
        total,
        statuses,
        urgencies,
        facilities,
        errors,
        filter,
        page,
    })
}

/// A request's priors, one line each: date, modalities, description (both request pages).
pub fn prior_lines(d: &store::RequestDetail) -> Vec<String> {
    d.priors
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p.study_date
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
                p.modalities,
                p.description
            )
        })
        .collect()
}

/// A request's letters as (id, file name, size in KB) (both request pages).
pub fn attachment_rows(d: &store::RequestDetail) -> Vec<(i64, String, String)> {
    d.attachments
        .iter()
        .map(|a| {
            (
                a.id,
                a.file_name.clone(),
                format!("{} KB", (a.size_bytes + 1023) / 1024),
            )
        })
        .collect()
}

/// A request's status history (both request pages).
pub fn event_rows(page: &Page, d: &store::RequestDetail) -> Vec<EventRow> {
    d.events
        .iter()
        .map(|(e, who)| EventRow {
            status: e.status.clone(),
            status_key: format!("request.status.{}", e.status),
            at: page.time(&e.occurred_at),
            who: who.clone().unwrap_or_default(),
            note: e.note.clone(),
        })
        .collect()
}

pub struct EventRow {
    pub status: String,
    pub status_key: String,
    pub at: String,
    pub who: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "requests/show.html")]
struct ShowPage {
    page: Page,
    id: i64,
    study_id: i64,
    status: String,
    status_key: String,
    urgency: String,
    urgency_key: String,
    category_key: String,
    patient: PatientBox,
    supporting: String,
    routed_by_rule: bool,
    routing_note: String,
    radiologist: Option<String>,
    requested_by: String,
    requested: String,
    due: String,
    modality: String,
    body_parts: Vec<String>,
    purpose_key: String,
    purpose_note: String,
    clinical_key: String,
    clinical_note: String,
    contact_phone: String,
    priors: Vec<String>,
    attachments: Vec<(i64, String, String)>,
    events: Vec<EventRow>,
    quote: Option<QuoteView>,
    filed_while_arriving: bool,
    can_cancel: bool,
}

/// `GET /requests/{id}`: one request of the facility.
pub async fn show(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let id = path.into_inner();
    authz::allow(
        &state,
        &me,
        check(&me),
        "request.view",
        Some(("read_request", id.to_string())),
    )
    .await?;
    let fid = me.principal.facility_id;
    let ctx = me.audit_ctx();
    let r = state
        .db(move |c| {
            let d = store::detail(c, fid, id)?;
            if d.side != Side::Requesting {
                return Err(shared::Error::NotFound);
            }
            audit::record_now(c, &ctx, store::view_event(&d, "screen"))?;
            let parts = catalogue::list(c, true)?;
            Ok((d, parts))
        })
        .await;
    let (d, parts) = authz::found(
        &state,
        &me,
        r,
        "request.view",
        ("read_request", id.to_string()),
    )
    .await?;
    let page = Page::for_user(&state, &me, "request.title_show").with_notice(q.notice.as_deref());
    let today = radvision::core::calendar::to_jst(state.clock.now()).date();
    let ja = page.lang_code() == "ja";
    let s = &d.summary;
    let r = &s.request;
    let snapshot = d
        .price
        .as_ref()
        .and_then(|p| radvision::core::requests::snapshot_of(&p.quote));
    render(&ShowPage {
        id: r.id,
        study_id: r.study_id,
        status: r.status.clone(),
        status_key: format!("request.status.{}", r.status),
        urgency: r.urgency.clone(),
        urgency_key: format!("request.urgency.{}", r.urgency),
        category_key: format!("request.category.{}", r.category),
        patient: PatientBox::of(&page, &s.patient, &s.study, false, today),
        supporting: s.supporting_facility.clone(),
        routed_by_rule: r.routed_by == "rule",
        routing_note: r.routing_note.clone(),
        radiologist: d.radiologist.clone(),
        requested_by: d.requested_by.clone(),
        requested: page.time(&r.requested_at),
        due: page.time(&r.due_at),
        modality: r.modality.clone(),
        body_parts: r
            .body_part_codes()
            .iter()
            .map(|code| match parts.iter().find(|b| b.code == *code) {
                Some(b) => format!("{}（{}）", b.name(ja), b.code),
                None => (*code).to_owned(),
            })
            .collect(),
        purpose_key: format!("request.purpose.{}", r.purpose),
        purpose_note: r.purpose_note.clone(),
        clinical_key: format!("request.clinical.{}", r.clinical_info),
        clinical_note: r.clinical_note.clone(),
        contact_phone: r.contact_phone.clone(),
        priors: prior_lines(&d),
        attachments: attachment_rows(&d),
        events: event_rows(&page, &d),
        quote: snapshot.map(|s| request_form::quote_view(&page, &s.quote)),
        filed_while_arriving: r.filed_while_arriving,
        can_cancel: r.status().can_cancel(),
        page,
    })
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    pub reason: String,
}

/// `POST /requests/{id}/cancel`: allowed until reading starts.
pub async fn cancel(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<CancelForm>,
) -> WebResult {
    let id = path.into_inner();
    authz::allow(
        &state,
        &me,
        check(&me),
        "request.cancel",
        Some(("read_request", id.to_string())),
    )
    .await?;
    let fid = me.principal.facility_id;
    let ctx = me.audit_ctx();
    let reason = form.0.reason;
    let r = state
        .db(move |c| store::cancel(c, &ctx, fid, id, &reason))
        .await;
    match authz::found(
        &state,
        &me,
        r,
        "request.cancel",
        ("read_request", id.to_string()),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/requests/{id}?notice=flash.request_cancelled"
        ))),
        Err(WebError::Conflict(_)) | Err(WebError::Validation(_)) => Ok(see_other(&format!(
            "/requests/{id}?notice=flash.request_not_cancelled"
        ))),
        Err(e) => Err(e),
    }
}

/// `GET /requests/{id}/attachments/{attachment}`: the referral letter, as a download that
/// caches nowhere. Either side of the request may read it (the supporting side's screens
/// come with the worklist); reading is audited.
pub async fn attachment(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<(i64, i64)>,
) -> WebResult {
    let (id, aid) = path.into_inner();
    let p = &me.principal;
    let as_requester = p.facility_is_requesting && p.is_requester();
    let as_reader = p.facility_is_supporting
        && p.has_any(&[
            shared::domain::Role::Radiologist,
            shared::domain::Role::Coordinator,
        ]);
    let allowed = if as_requester || as_reader {
        Ok(())
    } else {
        Err(shared::auth::Denied)
    };
    authz::allow(
        &state,
        &me,
        allowed,
        "request.attachment_download",
        Some(("read_request", id.to_string())),
    )
    .await?;
    let fid = p.facility_id;
    let ctx = me.audit_ctx();
    let r = state
        .db(move |c| {
            let (r, side) = store::visible(c, fid, id)?;
            let role_ok = match side {
                Side::Requesting => as_requester,
                Side::Supporting => as_reader,
            };
            if !role_ok {
                return Err(shared::Error::NotFound);
            }
            let (r, a) = store::attachment(c, fid, r.id, aid)?;
            let study_uid = shared::index::study_uid(c, r.study_id)?;
            audit::record_now(c, &ctx, store::attachment_event(&r, &a, &study_uid))?;
            Ok(a)
        })
        .await;
    let a = authz::found(
        &state,
        &me,
        r,
        "request.attachment_download",
        ("read_request", id.to_string()),
    )
    .await?;
    let key = radvision::store::BlobKey::parse(&a.storage_key)
        .ok_or_else(|| WebError::Internal("attachment key".into()))?;
    let data = state
        .ingestor
        .store()
        .get(&key)
        .await
        .map_err(|e| WebError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"referral-{id}-{aid}.pdf\""),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(data))
}
