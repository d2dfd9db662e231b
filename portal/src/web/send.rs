//! "Send to workstation": `/studies/{id}/send` (the form and its POST) and `/sends` (the
//! facility's sends with their progress). Who may send is who may see the study's images
//! (`dicomweb::Scope` on the roles, `shared::access` through `shared::sends`); the node must
//! be the user's own facility's. Facility administrators, the association and the
//! prefecture see no images and cannot send. Anything else is a 404 and an audit event.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use shared::audit::{self, Event, Outcome};
use shared::index::Study;
use shared::membership::dicom_nodes::DicomNode;
use shared::sends::{self, Send, SendRequest};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::dicomweb::Scope;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/studies/{id}/send", web::get().to(form))
        .route("/studies/{id}/send", web::post().to(submit))
        .route("/sends", web::get().to(list));
}

/// How many sends the list shows.
const LIST_LIMIT: i64 = 100;
/// Seconds between refreshes of the list while a send is under way.
const REFRESH_SECONDS: u32 = 5;

/// The caller's scope, or 404 + audit.
async fn scope(
    state: &AppState,
    me: &SignedIn,
    action: &'static str,
    object: Option<(&'static str, String)>,
) -> Result<Scope, WebError> {
    match Scope::of(&me.principal) {
        Ok(s) => Ok(s),
        Err(_) => {
            authz::deny(state, me, action, object).await?;
            Err(WebError::NotFound)
        }
    }
}

fn send_request(me: &SignedIn, s: &Scope, study_id: i64, node_id: i64) -> SendRequest {
    SendRequest {
        facility_id: s.facility_id,
        user_id: me.principal.user_id,
        study_id,
        node_id,
        own: s.own,
        requested: s.requested,
    }
}

/// One row of a send list.
pub struct SendRow {
    pub id: i64,
    pub study_id: i64,
    /// Study date, modalities and description while the facility may still see the study.
    pub study: String,
    pub node: String,
    pub status: String,
    pub status_key: String,
    pub sent: i32,
    pub failed: i32,
    pub total: i32,
    pub percent: i32,
    pub error: String,
    pub created: String,
    pub finished: String,
}

fn study_label(s: &Study) -> String {
    let date = s
        .study_date
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    [date, s.modalities.replace('\\', " "), s.description.clone()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

fn row(page: &Page, s: &Send, study: Option<&Study>) -> SendRow {
    let percent = if s.instances_total > 0 {
        (i64::from(s.instances_sent + s.instances_failed) * 100 / i64::from(s.instances_total))
            as i32
    } else {
        0
    };
    SendRow {
        id: s.id,
        study_id: s.study_id,
        study: study.map(study_label).unwrap_or_else(|| "—".into()),
        node: s.node_ae_title.clone(),
        status: s.status.clone(),
        status_key: format!("send.status.{}", s.status),
        sent: s.instances_sent,
        failed: s.instances_failed,
        total: s.instances_total,
        percent,
        error: s.last_error.clone().unwrap_or_default(),
        created: page.time(&s.created_at),
        finished: page.opt_time(&s.finished_at),
    }
}

#[derive(Template)]
#[template(path = "send/form.html")]
struct FormPage {
    page: Page,
    study_id: i64,
    study: String,
    num_instances: i64,
    nodes: Vec<DicomNode>,
    node_id: String,
    errors: FieldErrors,
    sends: Vec<SendRow>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SendForm {
    #[serde(default)]
    pub node_id: String,
}

/// What the form needs: the study (if the caller may send it), the facility's sendable
/// nodes and this study's earlier sends.
fn form_data(
    c: &mut shared::db::DbConnection,
    r: &SendRequest,
    ctx: &audit::Ctx,
) -> shared::Result<(Study, Vec<DicomNode>, Vec<Send>)> {
    let (study, _) = sends::sendable_study(c, r)?;
    let nodes = sends::sendable_nodes(c, r.facility_id)?;
    let earlier = sends::list(c, r.facility_id, Some(study.id), 20)?;
    let mut ev = Event::new("study.view", Outcome::Success)
        .object("study", study.id)
        .detail(serde_json::json!({ "via": "send_form" }));
    ev.study_ref = Some(study.study_uid.clone());
    ev.patient_ref = Some(format!("patient:{}", study.patient_id));
    audit::record_now(c, ctx, ev)?;
    Ok((study, nodes, earlier))
}

async fn form_page(
    state: &AppState,
    me: &SignedIn,
    study_id: i64,
    node_id: String,
    errors: FieldErrors,
) -> WebResult {
    let s = scope(
        state,
        me,
        "dicom.send.request",
        Some(("study", study_id.to_string())),
    )
    .await?;
    let r = send_request(me, &s, study_id, 0);
    let ctx = me.audit_ctx();
    let d = state.db(move |c| form_data(c, &r, &ctx)).await;
    let (study, nodes, earlier) = authz::found(
        state,
        me,
        d,
        "dicom.send.request",
        ("study", study_id.to_string()),
    )
    .await?;
    let page = Page::for_user(state, me, "send.title_form");
    let sends = earlier
        .iter()
        .map(|e| row(&page, e, Some(&study)))
        .collect();
    let invalid = !errors.is_empty();
    let p = FormPage {
        study_id,
        study: study_label(&study),
        num_instances: study.num_instances,
        nodes,
        node_id,
        errors,
        sends,
        page,
    };
    if invalid {
        render_invalid(&p)
    } else {
        render(&p)
    }
}

/// `GET /studies/{id}/send`: choose one of the facility's workstations.
pub async fn form(state: web::Data<AppState>, me: SignedIn, path: web::Path<i64>) -> WebResult {
    form_page(
        &state,
        &me,
        path.into_inner(),
        String::new(),
        FieldErrors::new(),
    )
    .await
}

/// `POST /studies/{id}/send`: queue the send (row, items, outbox job, audit: one
/// transaction), then show the sends.
pub async fn submit(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<SendForm>,
) -> WebResult {
    let study_id = path.into_inner();
    let s = scope(
        &state,
        &me,
        "dicom.send.request",
        Some(("study", study_id.to_string())),
    )
    .await?;
    let raw = form.0.node_id;
    let Ok(node_id) = raw.trim().parse::<i64>() else {
        let errors = FieldErrors::single("node_id", "send.err_choose");
        return form_page(&state, &me, study_id, raw, errors).await;
    };
    let r = send_request(&me, &s, study_id, node_id);
    let ctx = me.audit_ctx();
    let res = state.db(move |c| sends::request(c, &ctx, &r)).await;
    match res {
        Ok(send) => Ok(see_other(&format!("/sends?queued={}", send.id))),
        Err(WebError::Validation(errors)) => form_page(&state, &me, study_id, raw, errors).await,
        Err(WebError::NotFound) => {
            authz::deny(
                &state,
                &me,
                "dicom.send.request",
                Some(("study", study_id.to_string())),
            )
            .await?;
            Err(WebError::NotFound)
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "send/list.html")]
struct ListPage {
    page: Page,
    queued: Option<i64>,
    sends: Vec<SendRow>,
    refreshing: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub queued: Option<String>,
}

/// `GET /sends`: the facility's sends, newest first, refreshing while one is under way.
pub async fn list(state: web::Data<AppState>, me: SignedIn, q: web::Query<ListQuery>) -> WebResult {
    let s = scope(&state, &me, "dicom.send.list", None).await?;
    let ctx = me.audit_ctx();
    let (fid, own, requested) = (s.facility_id, s.own, s.requested);
    let (rows, studies) = state
        .db(move |c| {
            let rows = sends::list(c, fid, None, LIST_LIMIT)?;
            // Study details only for studies the facility may still see.
            let visible = shared::access::visible_study_ids(c, fid, own, requested)?;
            let mut ids: Vec<i64> = rows
                .iter()
                .map(|r| r.study_id)
                .filter(|id| visible.binary_search(id).is_ok())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let studies = sends::studies(c, &ids)?;
            audit::record_now(
                c,
                &ctx,
                Event::success("dicom.send.list")
                    .detail(serde_json::json!({ "count": rows.len() })),
            )?;
            Ok((rows, studies))
        })
        .await?;
    let page = Page::for_user(&state, &me, "send.title_list");
    let refreshing = rows.iter().any(|r| !r.is_finished());
    let queued = q
        .queued
        .as_deref()
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|id| rows.iter().any(|r| r.id == *id));
    let sends = rows
        .iter()
        .map(|r| row(&page, r, studies.iter().find(|s| s.id == r.study_id)))
        .collect();
    let body = ListPage {
        page,
        queued,
        sends,
        refreshing,
    }
    .render()?;
    let mut resp = HttpResponse::Ok();
    resp.content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    if refreshing {
        resp.insert_header(("Refresh", REFRESH_SECONDS.to_string()));
    }
    Ok(resp.body(body))
}
