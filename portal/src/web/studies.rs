//! The requesting facility's studies: the study list (search, paging, live "arriving"
//! badges) and one study with its series. Only requesters (physicians, radiographers) of a
//! requesting facility see their own facility's studies; anyone else gets a 404 and an
//! audit event. Every read of patient data is audited right after the read.

use actix_web::http::header;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;
use shared::audit::{self, Event, Outcome};
use shared::auth::{Denied, Principal};
use shared::index::{self, StudyQuery};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, Page};
use crate::web::session::SignedIn;

/// Rows per page on the screen.
pub const PER_PAGE: i64 = 50;
/// Largest page the API serves.
pub const MAX_PER_PAGE: i64 = 200;

/// The modalities offered in the search form.
pub const MODALITIES: &[&str] = &[
    "CT", "MR", "CR", "DX", "MG", "US", "NM", "PT", "XA", "RF", "OT", "SR", "DOC",
];

/// Requesters of a requesting facility may see (and send) their facility's studies.
pub fn requester_check(p: &Principal) -> Result<(), Denied> {
    if p.is_requester() && p.facility_is_requesting {
        Ok(())
    } else {
        Err(Denied)
    }
}

/// The search filters, as sent by the form or the API (all text, validated here).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StudyFilter {
    #[serde(default)]
    pub patient_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub date_from: String,
    #[serde(default)]
    pub date_to: String,
    #[serde(default)]
    pub modality: String,
    #[serde(default)]
    pub page: String,
    #[serde(default)]
    pub per_page: String,
}

/// A validated search: the index query, the page (from 1) and the page size.
#[derive(Debug, Clone)]
pub struct ParsedFilter {
    pub query: StudyQuery,
    pub page: i64,
    pub per_page: i64,
    pub errors: FieldErrors,
}

fn parse_date(s: &str) -> Result<Option<NaiveDate>, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
        .map(Some)
        .map_err(|_| "study.err_date")
}

fn clean(s: &str, max: usize) -> Option<String> {
    let t: String = s
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect();
    (!t.is_empty()).then_some(t)
}

impl StudyFilter {
    /// Validates the filters; invalid ones are left out and reported in `errors`.
    pub fn parse(&self, default_per_page: i64) -> ParsedFilter {
        let mut errors = FieldErrors::new();
        let date_from = errors
            .take("date_from", parse_date(&self.date_from))
            .flatten();
        let date_to = errors.take("date_to", parse_date(&self.date_to)).flatten();
        let modality = clean(&self.modality, 16).map(|m| m.to_ascii_uppercase());
        let modality = match modality {
            Some(m) if m.bytes().all(|b| b.is_ascii_alphanumeric()) => Some(m),
            Some(_) => {
                errors.add("modality", "study.err_modality");
                None
            }
            None => None,
        };
        let page = self
            .page
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|p| *p >= 1)
            .unwrap_or(1)
            .min(1_000_000);
        let per_page = self
            .per_page
            .trim()
            .parse::<i64>()
            .ok()
            .unwrap_or(default_per_page)
            .clamp(1, MAX_PER_PAGE);
        ParsedFilter {
            query: StudyQuery {
                patient_id: clean(&self.patient_id, 64),
                name: clean(&self.name, 64),
                date_from,
                date_to,
                modality,
                offset: (page - 1) * per_page,
                limit: per_page,
            },
            page,
            per_page,
            errors,
        }
    }

    /// Which filters are in use (names only: search terms can be patient data and stay out
    /// of the audit trail).
    pub fn used(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (k, val) in [
            ("patient_id", &self.patient_id),
            ("name", &self.name),
            ("date_from", &self.date_from),
            ("date_to", &self.date_to),
            ("modality", &self.modality),
        ] {
            if !val.trim().is_empty() {
                v.push(k);
            }
        }
        v
    }

    /// The query string for these filters at `page` (for pager links and the live update).
    pub fn query_string(&self, page: i64, per_page: Option<i64>) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("patient_id", &self.patient_id),
            ("name", &self.name),
            ("date_from", &self.date_from),
            ("date_to", &self.date_to),
            ("modality", &self.modality),
        ] {
            if !v.trim().is_empty() {
                s.append_pair(k, v.trim());
            }
        }
        if page > 1 {
            s.append_pair("page", &page.to_string());
        }
        if let Some(n) = per_page {
            s.append_pair("per_page", &n.to_string());
        }
        s.finish()
    }
}

/// A DICOM person name group for reading: `^` between components becomes a space.
pub fn person_name(group: &str) -> String {
    group
        .split('^')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A byte count for people: `850 KB`, `12.3 MB`, `1.05 GB` (studies.js formats alike).
pub fn human_size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b < 1024.0 * 1024.0 {
        format!("{} KB", (b / 1024.0).ceil() as i64)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2} GB", b / (1024.0 * 1024.0 * 1024.0))
    }
}

pub fn sex_key(sex: &str) -> &'static str {
    match sex {
        "M" => "study.sex_m",
        "F" => "study.sex_f",
        "O" => "study.sex_o",
        _ => "study.sex_unknown",
    }
}

fn opt_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "—".into())
}

/// One row of the list (display strings prepared here; the template only prints).
pub struct Row {
    pub id: i64,
    pub name_ideographic: String,
    pub name_phonetic: String,
    pub name_alphabetic: String,
    pub patient_id: String,
    pub sex_key: &'static str,
    pub birth_date: String,
    pub study_date: String,
    pub modalities: Vec<String>,
    pub description: String,
    pub body_part: String,
    pub num_series: i64,
    pub num_instances: i64,
    pub size: String,
    pub received: String,
    pub arriving: bool,
}

impl Row {
    fn from(page: &Page, s: &index::StudySummary) -> Row {
        Row {
            id: s.study.id,
            name_ideographic: person_name(&s.patient.name_ideographic),
            name_phonetic: person_name(&s.patient.name_phonetic),
            name_alphabetic: person_name(&s.patient.name_alphabetic),
            patient_id: s.patient.patient_key.clone(),
            sex_key: sex_key(&s.patient.sex),
            birth_date: opt_date(s.patient.birth_date),
            study_date: opt_date(s.study.study_date),
            modalities: s
                .study
                .modalities
                .split(' ')
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect(),
            description: s.study.description.clone(),
            body_part: s.study.body_part.clone(),
            num_series: s.study.num_series,
            num_instances: s.study.num_instances,
            size: human_size(s.study.size_bytes),
            received: page.time(&s.study.last_received_at),
            arriving: s.arriving,
        }
    }
}

#[derive(Template)]
#[template(path = "studies/list.html")]
struct ListPage {
    page: Page,
    filter: StudyFilter,
    errors: FieldErrors,
    modalities: &'static [&'static str],
    rows: Vec<Row>,
    total: i64,
    first: i64,
    last: i64,
    prev: Option<String>,
    next: Option<String>,
    api: String,
    current_page: i64,
}

/// `GET /studies`: the facility's studies, newest first.
pub async fn list(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<StudyFilter>,
) -> WebResult {
    authz::allow(
        &state,
        &me,
        requester_check(&me.principal),
        "study.list",
        None,
    )
    .await?;
    let filter = q.into_inner();
    let parsed = filter.parse(PER_PAGE);
    let fid = me.principal.facility_id;
    let now = state.clock.now();
    let arriving = state.settings.ingest.arriving_seconds;
    let ctx = me.audit_ctx();
    let query = parsed.query.clone();
    let used = filter.used();
    let page_no = parsed.page;
    let (found, total) = state
        .db(move |c| {
            let (rows, total) = index::search_studies(c, fid, &query, now, arriving)?;
            audit::record_now(
                c,
                &ctx,
                Event::new("study.list", Outcome::Success).detail(serde_json::json!({
                    "count": rows.len(), "total": total, "page": page_no, "filters": used, "via": "screen",
                })),
            )?;
            Ok((rows, total))
        })
        .await?;
    let page = Page::for_user(&state, &me, "study.title_list");
    let rows: Vec<Row> = found.iter().map(|s| Row::from(&page, s)).collect();
    let per = parsed.per_page;
    let first = if rows.is_empty() {
        0
    } else {
        parsed.query.offset + 1
    };
    let last = parsed.query.offset + rows.len() as i64;
    let prev = (parsed.page > 1).then(|| filter.query_string(parsed.page - 1, None));
    let next = (last < total).then(|| filter.query_string(parsed.page + 1, None));
    let api = format!(
        "/api/v1/studies?{}",
        filter.query_string(parsed.page, Some(per))
    );
    render(&ListPage {
        page,
        errors: parsed.errors,
        modalities: MODALITIES,
        rows,
        total,
        first,
        last,
        prev,
        next,
        api,
        current_page: parsed.page,
        filter,
    })
}

pub struct SeriesRow {
    pub number: String,
    pub modality: String,
    pub description: String,
    pub body_part: String,
    pub num_instances: i64,
}

#[derive(Template)]
#[template(path = "studies/show.html")]
struct ShowPage {
    page: Page,
    row: Row,
    study_uid: String,
    accession_number: String,
    referring_physician: String,
    first_received: String,
    series: Vec<SeriesRow>,
}

/// The audit event of reading one study.
pub fn view_event(d: &index::StudyDetail, via: &str) -> Event {
    let mut ev = Event::new("study.view", Outcome::Success)
        .object("study", d.study.id)
        .detail(serde_json::json!({ "via": via }));
    ev.study_ref = Some(d.study.study_uid.clone());
    ev.patient_ref = Some(format!("patient:{}", d.patient.id));
    ev
}

/// `GET /studies/{id}`: one study of the facility with its series.
pub async fn show(state: web::Data<AppState>, me: SignedIn, path: web::Path<i64>) -> WebResult {
    let id = path.into_inner();
    authz::allow(
        &state,
        &me,
        requester_check(&me.principal),
        "study.view",
        Some(("study", id.to_string())),
    )
    .await?;
    let fid = me.principal.facility_id;
    let now = state.clock.now();
    let arriving = state.settings.ingest.arriving_seconds;
    let ctx = me.audit_ctx();
    let r = state
        .db(move |c| {
            let d = index::get_study(c, fid, id, now, arriving)?;
            audit::record_now(c, &ctx, view_event(&d, "screen"))?;
            Ok(d)
        })
        .await;
    let d = authz::found(&state, &me, r, "study.view", ("study", id.to_string())).await?;
    let page = Page::for_user(&state, &me, "study.title_show");
    let summary = index::StudySummary {
        study: d.study.clone(),
        patient: d.patient.clone(),
        arriving: d.arriving,
    };
    let row = Row::from(&page, &summary);
    let first_received = page.time(&d.study.first_received_at);
    render(&ShowPage {
        row,
        study_uid: d.study.study_uid.clone(),
        accession_number: d.study.accession_number.clone(),
        referring_physician: d
            .study
            .referring_physician
            .split('=')
            .map(person_name)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" / "),
        first_received,
        series: d
            .series
            .iter()
            .map(|s| SeriesRow {
                number: s
                    .series_number
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "—".into()),
                modality: s.modality.clone(),
                description: s.description.clone(),
                body_part: s.body_part.clone(),
                num_instances: s.num_instances,
            })
            .collect(),
        page,
    })
}

const STUDIES_JS: &str = include_str!("../../../templates/static/studies.js");
const UPLOAD_JS: &str = include_str!("../../../templates/static/upload.js");
const REQUEST_JS: &str = include_str!("../../../templates/static/request.js");
const STUDIES_CSS: &str = include_str!("../../../templates/studies/studies.css");
const REQUESTS_CSS: &str = include_str!("../../../templates/requests/requests.css");

/// `GET /static/{name}`: the study screens' scripts and styles, from a fixed list.
pub async fn static_file(path: web::Path<String>) -> HttpResponse {
    let (body, ct) = match path.as_str() {
        "studies.js" => (STUDIES_JS, "text/javascript; charset=utf-8"),
        "upload.js" => (UPLOAD_JS, "text/javascript; charset=utf-8"),
        "request.js" => (REQUEST_JS, "text/javascript; charset=utf-8"),
        "studies.css" => (STUDIES_CSS, "text/css; charset=utf-8"),
        "requests.css" => (REQUESTS_CSS, "text/css; charset=utf-8"),
        _ => return WebError::NotFound.error_response(),
    };
    HttpResponse::Ok()
        .content_type(ct)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_validated() {
        let f = StudyFilter {
            date_from: "2025-01-02".into(),
            date_to: "garbage".into(),
            modality: "ct".into(),
            page: "3".into(),
            per_page: "999".into(),
            ..Default::default()
        };
        let p = f.parse(50);
        assert_eq!(p.query.date_from, NaiveDate::from_ymd_opt(2025, 1, 2));
        assert_eq!(p.query.date_to, None);
        assert_eq!(p.errors.get("date_to"), Some("study.err_date"));
        assert_eq!(p.query.modality.as_deref(), Some("CT"));
        assert_eq!(p.per_page, 200);
        assert_eq!(p.query.offset, 400);
        let bad = StudyFilter {
            modality: "C%".into(),
            ..Default::default()
        };
        assert!(bad.parse(50).errors.get("modality").is_some());
    }

    #[test]
    fn names_and_sizes_read_well() {
        assert_eq!(person_name("山田^太郎"), "山田 太郎");
        assert_eq!(person_name("^^^^"), "");
        assert_eq!(human_size(1000), "1 KB");
        assert_eq!(human_size(5 * 1024 * 1024 + 300_000), "5.3 MB");
    }
}
