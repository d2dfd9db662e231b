//! The supporting facility's worklist screens: the list (emergencies first, then by due time,
//! with countdowns, filters, and a table that refreshes itself from `/worklist/rows`), one
//! request as the reader sees it (patient, clinical question, priors, price, history, and the
//! claim / release / start-reading / assign controls), and the coordinator's automatic
//! assignment run (those two in `worklist/item.rs`). The coordinator's specialty grid, duty
//! schedule and assignment settings are in `worklist/facility.rs`; the rules are
//! `shared::reading::worklist` and `radvision::core::auto_assign`.
//!
//! Radiologists and coordinators of a supporting facility only, and only for requests naming
//! their facility: anything else is a 404 and a `denied` audit event.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, NaiveDateTime};
use radvision::core::auto_assign;
use serde::Deserialize;
use shared::audit::{self, Event, Outcome};
use shared::auth::{Denied, Principal};
use shared::domain::{Modality, RequestStatus, Role, Urgency};
use shared::reading::catalogue::{self, BodyPart};
use shared::reading::requests::ReadRequest;
use shared::reading::worklist::{self as wl, Assignee, Item, WorklistQuery};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, Page};
use crate::web::requests::Opt;
use crate::web::session::SignedIn;
use crate::web::studies::person_name;

pub mod facility;
pub mod item;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/worklist", web::get().to(list))
        .route("/worklist/rows", web::get().to(rows))
        .route(
            "/worklist/auto-assign",
            web::post().to(item::auto_assign_now),
        )
        .route("/worklist/{id}", web::get().to(item::show))
        .route("/worklist/{id}/claim", web::post().to(item::claim))
        .route("/worklist/{id}/release", web::post().to(item::release))
        .route("/worklist/{id}/start", web::post().to(item::start))
        .route("/worklist/{id}/assign", web::post().to(item::assign))
        .route("/static/worklist/{name}", web::get().to(static_file))
        .configure(facility::routes);
}

// ---------------------------------------------------------------------------------------
// Authorisation

/// Radiologists and coordinators of a supporting facility use the worklist.
pub fn reader_check(p: &Principal) -> Result<(), Denied> {
    if p.facility_is_supporting && p.has_any(&[Role::Radiologist, Role::Coordinator]) {
        Ok(())
    } else {
        Err(Denied)
    }
}

/// Coordinators of a supporting facility assign and keep the team's settings.
pub fn coordinator_check(p: &Principal) -> Result<(), Denied> {
    if p.facility_is_supporting && p.has(Role::Coordinator) {
        Ok(())
    } else {
        Err(Denied)
    }
}

/// Radiologists of a supporting facility claim and read.
pub fn radiologist_check(p: &Principal) -> Result<(), Denied> {
    if p.facility_is_supporting && p.has(Role::Radiologist) {
        Ok(())
    } else {
        Err(Denied)
    }
}

// ---------------------------------------------------------------------------------------
// Filters

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WorklistFilter {
    #[serde(default)]
    pub modality: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub facility: String,
    /// `me`, `none` or a user id.
    #[serde(default)]
    pub assignee: String,
    #[serde(default)]
    pub date_from: String,
    #[serde(default)]
    pub date_to: String,
    #[serde(default)]
    pub notice: Option<String>,
}

fn parse_date(s: &str) -> Result<Option<NaiveDate>, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| (1900..=2999).contains(&chrono::Datelike::year(d)))
        .map(Some)
        .ok_or("study.err_date")
}

impl WorklistFilter {
    /// The validated query (invalid filters left out and reported).
    pub fn parse(&self, me: i64) -> (WorklistQuery, FieldErrors) {
        let mut e = FieldErrors::new();
        let modality = match self.modality.trim() {
            "" => None,
            s => e
                .take(
                    "modality",
                    Modality::parse(&s.to_ascii_uppercase()).map_err(|_| "err.invalid_choice"),
                )
                .map(|m| m.as_str().to_owned()),
        };
        let urgency = match self.urgency.trim() {
            "" => None,
            s => e.take("urgency", Urgency::parse(s)),
        };
        let status = match self.status.trim() {
            "" => None,
            s => e.take(
                "status",
                RequestStatus::parse(s)
                    .ok()
                    .filter(|s| s.is_live())
                    .ok_or("err.invalid_choice"),
            ),
        };
        let requesting_facility_id = match self.facility.trim() {
            "" => None,
            s => e.take(
                "facility",
                s.parse::<i64>().map_err(|_| "err.invalid_choice"),
            ),
        };
        let assignee = match self.assignee.trim() {
            "" => None,
            "me" => Some(Assignee::User(me)),
            "none" => Some(Assignee::Unassigned),
            s => e.take(
                "assignee",
                s.parse::<i64>()
                    .map(Assignee::User)
                    .map_err(|_| "err.invalid_choice"),
            ),
        };
        let date_from = e.take("date_from", parse_date(&self.date_from)).flatten();
        let date_to = e.take("date_to", parse_date(&self.date_to)).flatten();
        (
            WorklistQuery {
                modality,
                urgency,
                status,
                requesting_facility_id,
                assignee,
                date_from,
                date_to,
            },
            e,
        )
    }

    /// Filter names in use (for the audit trail).
    pub fn used(&self) -> Vec<&'static str> {
        [
            ("modality", &self.modality),
            ("urgency", &self.urgency),
            ("status", &self.status),
            ("facility", &self.facility),
            ("assignee", &self.assignee),
            ("date_from", &self.date_from),
            ("date_to", &self.date_to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, _)| k)
        .collect()
    }

    fn query_string(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("modality", &self.modality),
            ("urgency", &self.urgency),
            ("status", &self.status),
            ("facility", &self.facility),
            ("assignee", &self.assignee),
            ("date_from", &self.date_from),
            ("date_to", &self.date_to),
        ] {
            if !v.trim().is_empty() {
                s.append_pair(k, v.trim());
            }
        }
        s.finish()
    }
}

// ---------------------------------------------------------------------------------------
// Rows

/// Milliseconds since the epoch of a UTC time (what the countdown script reads).
fn epoch_ms(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

/// `1:02:03` / `12:03` remaining, or `-12:03` when past.
pub fn countdown_text(to: NaiveDateTime, now: NaiveDateTime) -> String {
    let secs = (to - now).num_seconds();
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, (a % 3600) / 60, a % 60);
    let sign = if secs < 0 { "-" } else { "" };
    if h > 0 {
        format!("{sign}{h}:{m:02}:{s:02}")
    } else {
        format!("{sign}{m:02}:{s:02}")
    }
}

/// The reason an assignment was made, in words: "CT 頭頸部 スコア 90・担当 2 件・当番中".
pub fn reason_text(page: &Page, raw: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) else {
        return String::new();
    };
    match v.get("kind").and_then(|k| k.as_str()) {
        Some("auto") => {
            let Some(why) = v.get("why").and_then(|w| {
                serde_json::from_value::<radvision::core::assignment::Why>(w.clone()).ok()
            }) else {
                return page.t("worklist.reason.auto").to_owned();
            };
            let mut s = format!(
                "{} {} {} {}・{} {}",
                page.t(&format!("pricing.exam.{}", why.exam)),
                page.t(&format!("request.region.{}", why.region)),
                page.t("worklist.reason.score"),
                why.score,
                page.t("worklist.reason.open"),
                why.open,
            );
            s.push('・');
            s.push_str(page.t(if why.on_duty {
                "worklist.on_duty"
            } else {
                "worklist.off_duty"
            }));
            if why.over_cap {
                s.push('・');
                s.push_str(page.t("worklist.reason.over_cap"));
            }
            format!("{}: {s}", page.t("worklist.reason.auto"))
        }
        Some("manual") => {
            let note = v.get("note").and_then(|n| n.as_str()).unwrap_or("");
            if note.is_empty() {
                page.t("worklist.reason.manual").to_owned()
            } else {
                format!("{}: {note}", page.t("worklist.reason.manual"))
            }
        }
        Some("claim") | Some("opened") => page.t("worklist.reason.claim").to_owned(),
        Some("named") => page.t("worklist.reason.named").to_owned(),
        _ => String::new(),
    }
}

fn body_part_names(r: &ReadRequest, parts: &[BodyPart], ja: bool) -> Vec<String> {
    r.body_part_codes()
        .iter()
        .map(|code| match parts.iter().find(|b| b.code == *code) {
            Some(b) => b.name(ja).to_owned(),
            None => (*code).to_owned(),
        })
        .collect()
}

fn patient_name(p: &shared::index::Patient) -> String {
    [&p.name_ideographic, &p.name_phonetic, &p.name_alphabetic]
        .iter()
        .map(|g| person_name(g))
        .find(|n| !n.is_empty())
        .unwrap_or_default()
}

pub struct Row {
    pub id: i64,
    pub status: String,
    pub status_key: String,
    pub urgency: String,
    pub urgency_key: String,
    /// What the countdown counts to: `start` (an emergency's 30-minute start target) or `due`.
    pub target: &'static str,
    pub deadline_ms: i64,
    pub countdown: String,
    pub overdue: bool,
    pub due: String,
    pub requesting: String,
    pub patient_name: String,
    pub patient_id: String,
    pub modality: String,
    pub exam_key: String,
    pub body_parts: Vec<String>,
    pub purpose_key: String,
    pub clinical_key: String,
    pub clinical_note: String,
    pub priors: i64,
    pub assignee: String,
    pub mine: bool,
    pub free: bool,
    pub reason: String,
}

fn row(page: &Page, it: &Item, parts: &[BodyPart], me: i64, now: NaiveDateTime) -> Row {
    let r = &it.request;
    let (target, to) = match auto_assign::start_target(r) {
        Some(t) => ("start", t),
        None => ("due", r.due_at),
    };
    Row {
        id: r.id,
        status: r.status.clone(),
        status_key: format!("request.status.{}", r.status),
        urgency: r.urgency.clone(),
        urgency_key: format!("request.urgency.{}", r.urgency),
        target,
        deadline_ms: epoch_ms(to),
        countdown: countdown_text(to, now),
        overdue: to < now,
        due: page.time(&r.due_at),
        requesting: it.requesting_facility.clone(),
        patient_name: patient_name(&it.patient),
        patient_id: it.patient.patient_key.clone(),
        modality: r.modality.clone(),
        exam_key: format!("pricing.exam.{}", r.exam),
        body_parts: body_part_names(r, parts, page.lang_code() == "ja"),
        purpose_key: format!("request.purpose.{}", r.purpose),
        clinical_key: format!("request.clinical.{}", r.clinical_info),
        clinical_note: r.clinical_note.chars().take(80).collect(),
        priors: it.priors,
        assignee: it.assignee.clone().unwrap_or_default(),
        mine: r.assigned_to == Some(me),
        free: r.assigned_to.is_none(),
        reason: reason_text(page, &r.assignment_reason),
    }
}

/// Runs the automatic assignment when the facility has it on and something waits (the
/// worklist's loads and refreshes trigger it; see docs/WORKLIST.md). Failures are logged,
/// never shown: the list works without it.
pub async fn auto_assign_if_on(state: &AppState, ctx: shared::audit::Ctx, facility_id: i64) {
    let now = state.clock.now();
    let r = state
        .db(move |c| {
            if !wl::settings(c, facility_id)?.auto_assign
                || !auto_assign::anything_waiting(c, facility_id)?
            {
                return Ok(());
            }
            auto_assign::run(c, &ctx, facility_id, now, false).map(|_| ())
        })
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, facility_id, "automatic assignment failed");
    }
}

/// Loads the rows for a filter and audits the read.
async fn load_rows(
    state: &AppState,
    me: &SignedIn,
    filter: &WorklistFilter,
    via: &'static str,
) -> Result<(Vec<Item>, Vec<BodyPart>, FieldErrors, Vec<(i64, String)>), WebError> {
    let fid = me.principal.facility_id;
    auto_assign_if_on(state, me.audit_ctx(), fid).await;
    let (query, errors) = filter.parse(me.principal.user_id);
    let ctx = me.audit_ctx();
    let used = filter.used();
    let (items, parts, facilities) = state
        .db(move |c| {
            let items = wl::list(c, fid, &query)?;
            audit::record_now(
                c,
                &ctx,
                Event::new("worklist.list", Outcome::Success).detail(serde_json::json!({
                    "count": items.len(), "filters": used, "via": via,
                })),
            )?;
            let parts = catalogue::list(c, true)?;
            let facilities = wl::requesting_facilities(c, fid)?;
            Ok((items, parts, facilities))
        })
        .await?;
    Ok((items, parts, errors, facilities))
}

#[derive(Template)]
#[template(path = "worklist/list.html")]
struct ListPage {
    page: Page,
    filter: WorklistFilter,
    errors: FieldErrors,
    modalities: Vec<Opt>,
    urgencies: Vec<Opt>,
    statuses: Vec<Opt>,
    facilities: Vec<Opt>,
    assignees: Vec<Opt>,
    rows: Vec<Row>,
    query: String,
    coordinator: bool,
    radiologist: bool,
    auto_on: bool,
}

#[derive(Template)]
#[template(path = "worklist/rows.html")]
struct RowsPartial {
    page: Page,
    rows: Vec<Row>,
    radiologist: bool,
}

fn opts<T: Copy>(
    all: &[T],
    value: impl Fn(T) -> String,
    label: impl Fn(T) -> String,
    selected: &str,
) -> Vec<Opt> {
    all.iter()
        .map(|x| Opt {
            value: value(*x),
            label: label(*x),
            selected: selected.trim() == value(*x),
        })
        .collect()
}

/// `GET /worklist`: the facility's live requests.
pub async fn list(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<WorklistFilter>,
) -> WebResult {
    authz::allow(
        &state,
        &me,
        reader_check(&me.principal),
        "worklist.list",
        None,
    )
    .await?;
    let filter = q.into_inner();
    let (items, parts, errors, facilities) = load_rows(&state, &me, &filter, "screen").await?;
    let fid = me.principal.facility_id;
    let since = auto_assign::day_start(state.clock.now());
    let (team, settings) = state
        .db(move |c| Ok((wl::team(c, fid, since)?, wl::settings(c, fid)?)))
        .await?;
    let page = Page::for_user(&state, &me, "worklist.title").with_notice(filter.notice.as_deref());
    let now = state.clock.now();
    let me_id = me.principal.user_id;
    let rows = items
        .iter()
        .map(|i| row(&page, i, &parts, me_id, now))
        .collect();
    let modalities = opts(
        Modality::ALL,
        |m| m.as_str().to_owned(),
        |m| m.as_str().to_owned(),
        &filter.modality,
    );
    let urgencies = opts(
        Urgency::ALL,
        |u| u.as_str().to_owned(),
        |u| page.t(&format!("request.urgency.{u}")).to_owned(),
        &filter.urgency,
    );
    let statuses = opts(
        RequestStatus::LIVE,
        |s| s.as_str().to_owned(),
        |s| page.t(&format!("request.status.{s}")).to_owned(),
        &filter.status,
    );
    let facilities = facilities
        .into_iter()
        .map(|(id, name)| Opt {
            selected: filter.facility.trim() == id.to_string(),
            value: id.to_string(),
            label: name,
        })
        .collect();
    let mut assignees = vec![
        Opt {
            value: "me".into(),
            label: page.t("worklist.assignee_me").to_owned(),
            selected: filter.assignee.trim() == "me",
        },
        Opt {
            value: "none".into(),
            label: page.t("worklist.assignee_none").to_owned(),
            selected: filter.assignee.trim() == "none",
        },
    ];
    assignees.extend(team.into_iter().map(|m| Opt {
        selected: filter.assignee.trim() == m.id.to_string(),
        value: m.id.to_string(),
        label: m.name,
    }));
    render(&ListPage {
        query: filter.query_string(),
        coordinator: coordinator_check(&me.principal).is_ok(),
        radiologist: radiologist_check(&me.principal).is_ok(),
        auto_on: settings.auto_assign,
        modalities,
        urgencies,
        statuses,
        facilities,
        assignees,
        rows,
        errors,
        filter,
        page,
    })
}

/// `GET /worklist/rows`: the table body alone, for the list's refresh without a reload.
pub async fn rows(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<WorklistFilter>,
) -> WebResult {
    authz::allow(
        &state,
        &me,
        reader_check(&me.principal),
        "worklist.list",
        None,
    )
    .await?;
    let filter = q.into_inner();
    let (items, parts, _, _) = load_rows(&state, &me, &filter, "refresh").await?;
    let page = Page::for_user(&state, &me, "worklist.title");
    let now = state.clock.now();
    let me_id = me.principal.user_id;
    let rows = items
        .iter()
        .map(|i| row(&page, i, &parts, me_id, now))
        .collect();
    render(&RowsPartial {
        radiologist: radiologist_check(&me.principal).is_ok(),
        rows,
        page,
    })
}

/// `GET /static/worklist/{name}`: the countdown and refresh script, and the styles.
pub async fn static_file(path: web::Path<String>) -> HttpResponse {
    let (body, ct) = match path.as_str() {
        "worklist.js" => (
            include_str!("../../../templates/static/worklist.js"),
            "text/javascript; charset=utf-8",
        ),
        "worklist.css" => (
            include_str!("../../../templates/worklist/worklist.css"),
            "text/css; charset=utf-8",
        ),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(ct)
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "public, max-age=300",
        ))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_read_as_clocks() {
        let t = NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default();
        let m = |s: i64| t + chrono::Duration::seconds(s);
        assert_eq!(countdown_text(m(30 * 60), t), "30:00");
        assert_eq!(countdown_text(m(3 * 3600 + 62), t), "3:01:02");
        assert_eq!(countdown_text(t, m(75)), "-01:15");
    }

    #[test]
    fn filters_are_validated() {
        let f = WorklistFilter {
            modality: "ct".into(),
            status: "confirmed".into(),
            assignee: "me".into(),
            date_from: "2026-13-01".into(),
            ..Default::default()
        };
        let (q, e) = f.parse(7);
        assert_eq!(q.modality.as_deref(), Some("CT"));
        assert_eq!(q.status, None);
        assert_eq!(e.get("status"), Some("err.invalid_choice"));
        assert_eq!(q.assignee, Some(Assignee::User(7)));
        assert_eq!(e.get("date_from"), Some("study.err_date"));
    }
}
