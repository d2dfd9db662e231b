//! The audit trail screen and CSV export, for the prefecture's auditors and the association's
//! administrators. Reading the trail is itself audited.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{NaiveDate, NaiveDateTime};
use serde::Deserialize;
use shared::audit::{self, AuditEvent, Event, Filter};
use shared::domain::Role;

use crate::state::AppState;
use crate::web::authz;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, Page};
use crate::web::session::SignedIn;

const PAGE_SIZE: i64 = 50;
const EXPORT_MAX: i64 = 100_000;

#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    facility_id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    page: Option<i64>,
}

impl AuditQuery {
    /// The filter, ignoring malformed values (the form shows what was applied).
    fn filter(&self) -> Filter {
        let text = |s: &str| {
            let s = s.trim();
            (!s.is_empty() && s.len() <= 100).then(|| s.to_owned())
        };
        let day = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        Filter {
            action: text(&self.action),
            outcome: text(&self.outcome)
                .filter(|o| ["success", "failure", "denied"].contains(&o.as_str())),
            username: text(&self.username),
            facility_id: self.facility_id.trim().parse().ok(),
            // Dates are entered in Japan time; the trail is kept in UTC.
            from: day(&self.from)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t - chrono::Duration::hours(9)),
            until: day(&self.until)
                .and_then(|d| d.succ_opt())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t - chrono::Duration::hours(9)),
        }
    }

    fn query_string(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("action", self.action.as_str()),
                ("outcome", self.outcome.as_str()),
                ("username", self.username.as_str()),
                ("facility_id", self.facility_id.as_str()),
                ("from", self.from.as_str()),
                ("until", self.until.as_str()),
            ])
            .finish()
    }
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct AuditPage {
    page: Page,
    q: AuditQuery,
    events: Vec<AuditEvent>,
    page_no: i64,
    has_next: bool,
    qs: String,
}

impl AuditPage {
    fn detail(&self, e: &AuditEvent) -> String {
        e.detail.clone().unwrap_or_default()
    }
}

async fn check(state: &AppState, me: &SignedIn, action: &'static str) -> Result<(), WebError> {
    let ok = me
        .principal
        .require_any(&[Role::Auditor, Role::AssociationAdmin]);
    authz::allow(state, me, ok, action, None).await
}

fn read_event(action: &'static str, f: &Filter, rows: usize) -> Event {
    Event::success(action).detail(serde_json::json!({
        "filter": {
            "action": f.action, "outcome": f.outcome, "username": f.username,
            "facility_id": f.facility_id, "from": f.from, "until": f.until,
        },
        "rows": rows,
    }))
}

pub async fn list(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<AuditQuery>,
) -> WebResult {
    check(&state, &me, "audit.view").await?;
    let q = q.into_inner();
    let f = q.filter();
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let ctx = me.audit_ctx();
    let events = state
        .db(move |c| {
            let mut rows = audit::search(c, &f, (page_no - 1) * PAGE_SIZE, PAGE_SIZE + 1)?;
            audit::record_now(c, &ctx, read_event("audit.view", &f, rows.len()))?;
            rows.truncate(usize::try_from(PAGE_SIZE + 1).unwrap_or(51));
            Ok(rows)
        })
        .await?;
    let has_next = events.len() as i64 > PAGE_SIZE;
    let events: Vec<AuditEvent> = events.into_iter().take(PAGE_SIZE as usize).collect();
    let qs = q.query_string();
    render(&AuditPage {
        page: Page::for_user(&state, &me, "audit.title"),
        q,
        events,
        page_no,
        has_next,
        qs,
    })
}

fn csv_field(s: &str) -> String {
    // Quote every field; neutralise spreadsheet formulas.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn time(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The filtered trail as CSV (UTF-8 with BOM so spreadsheet software reads Japanese).
pub async fn export(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<AuditQuery>,
) -> WebResult {
    check(&state, &me, "audit.export").await?;
    let f = q.filter();
    let ctx = me.audit_ctx();
    let events = state
        .db(move |c| {
            let rows = audit::search(c, &f, 0, EXPORT_MAX)?;
            audit::record_now(c, &ctx, read_event("audit.export", &f, rows.len()))?;
            Ok(rows)
        })
        .await?;
    let mut out = String::from("\u{feff}seq,occurred_at_utc,user_id,username,facility_id,role,action,object_type,object_id,patient_ref,study_ref,outcome,source,detail,prev_hash,hash\n");
    for e in &events {
        let opt = |v: &Option<String>| csv_field(v.as_deref().unwrap_or(""));
        let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        let cols = [
            e.seq.to_string(),
            time(&e.occurred_at),
            num(e.user_id),
            opt(&e.username),
            num(e.facility_id),
            opt(&e.role),
            csv_field(&e.action),
            opt(&e.object_type),
            opt(&e.object_id),
            opt(&e.patient_ref),
            opt(&e.study_ref),
            csv_field(&e.outcome),
            csv_field(&e.source),
            opt(&e.detail),
            e.prev_hash.clone(),
            e.hash.clone(),
        ];
        out.push_str(&cols.join(","));
        out.push('\n');
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"enkaku-audit.csv\"",
        ))
        .body(out))
}
