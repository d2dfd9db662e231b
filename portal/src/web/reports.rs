//! Report screens. The reader's editor (`/worklist/{id}/report`: findings, impression and
//! recommendation beside the request's clinical information, key images, templates and the
//! patient's earlier reports; autosave through the API; a confirmation step; addenda once
//! confirmed) and the clinic's report (`/requests/{id}/report`: every version, print,
//! acknowledge). The rules are `shared::reading::reports`; handlers parse, call one domain
//! function and render. Anything not visible is a 404 and an audit event.

mod render;
pub mod templates_admin;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use shared::audit;
use shared::auth::Denied;
use shared::reading::reports::{self as store, ReportView, TextInput};
use shared::reading::{catalogue, key_images, report_templates};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::see_other;
use crate::web::session::SignedIn;

pub use render::{EditorData, Notice};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/worklist/{id}/report", web::get().to(editor))
        .route("/worklist/{id}/report/draft", web::post().to(save_draft))
        .route("/worklist/{id}/report/review", web::post().to(review))
        .route("/worklist/{id}/report/confirm", web::post().to(confirm))
        .route("/worklist/{id}/report/addenda", web::post().to(addendum))
        .route("/requests/{id}/report", web::get().to(clinic_view))
        .route(
            "/requests/{id}/report/acknowledge",
            web::post().to(acknowledge),
        )
        .route("/static/reports/{name}", web::get().to(static_file))
        .configure(templates_admin::routes);
}

fn object(id: i64) -> (&'static str, String) {
    ("read_request", id.to_string())
}

fn supporting_check(me: &SignedIn) -> Result<(), Denied> {
    if store::may_read_supporting(&me.principal) {
        Ok(())
    } else {
        Err(Denied)
    }
}

fn writer_check(me: &SignedIn) -> Result<(), Denied> {
    if store::may_write(&me.principal) {
        Ok(())
    } else {
        Err(Denied)
    }
}

/// A report-writing action on request `id`: radiologists of a supporting facility only
/// (denied: 404 + audit event).
async fn allow_writer(
    state: &AppState,
    me: &SignedIn,
    action: &'static str,
    id: i64,
) -> Result<(), WebError> {
    authz::allow(state, me, writer_check(me), action, Some(object(id))).await
}

fn requester_check(me: &SignedIn) -> Result<(), Denied> {
    if store::may_read_requesting(&me.principal) {
        Ok(())
    } else {
        Err(Denied)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EditorQuery {
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub done: Option<String>,
}

/// The text of the editor's forms.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct TextForm {
    #[serde(default)]
    pub findings: String,
    #[serde(default)]
    pub impression: String,
    #[serde(default)]
    pub recommendation: String,
    #[serde(default)]
    pub revision: String,
    #[serde(default)]
    pub addendum_reason: String,
}

impl TextForm {
    fn input(&self) -> TextInput<'_> {
        TextInput {
            findings: &self.findings,
            impression: &self.impression,
            recommendation: &self.recommendation,
        }
    }

    /// The revision the editor loaded; a missing or malformed one counts as stale.
    fn revision(&self) -> i32 {
        self.revision.trim().parse().unwrap_or(-1)
    }
}

/// Loads everything the editor shows, and audits the read.
async fn load_editor(
    state: &AppState,
    me: &SignedIn,
    id: i64,
    template: Option<i64>,
) -> Result<EditorData, WebError> {
    let p = me.principal.clone();
    let ctx = me.audit_ctx();
    let r = state
        .db(move |c| {
            let v = store::read(c, &p, id)?;
            audit::record_now(c, &ctx, store::view_event(&v, "editor"))?;
            let parts = catalogue::list(c, true)?;
            let regions: Vec<String> = v
                .request
                .body_part_codes()
                .iter()
                .filter_map(|code| parts.iter().find(|b| b.code == *code))
                .map(|b| b.region.clone())
                .collect();
            let templates =
                report_templates::for_exam(c, p.facility_id, &v.request.exam, &regions)?;
            let marks = key_images::list(c, p.facility_id, v.request.study_id)?;
            let earlier = store::earlier_reports(c, p.facility_id, &v.request)?;
            let chosen = match template {
                Some(t) => report_templates::get(c, p.facility_id, t).ok(),
                None => None,
            };
            Ok(EditorData {
                view: v,
                parts,
                templates,
                marks,
                earlier,
                chosen,
            })
        })
        .await;
    authz::found(state, me, r, "report.view", object(id)).await
}

/// `GET /worklist/{id}/report`: the editor (radiologists write; coordinators read).
pub async fn editor(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    q: web::Query<EditorQuery>,
) -> WebResult {
    let id = path.into_inner();
    authz::allow(
        &state,
        &me,
        supporting_check(&me),
        "report.view",
        Some(object(id)),
    )
    .await?;
    let template = q.template.as_deref().and_then(|t| t.trim().parse().ok());
    let data = load_editor(&state, &me, id, template).await?;
    let notice = Notice::of(q.done.as_deref());
    render::editor(&state, &me, data, None, FieldErrors::new(), notice, false)
}

/// Maps a failed write to the editor re-rendered with the reason (422 for invalid text, 409
/// for a stale revision or a confirmed report), or passes other errors on.
async fn editor_after_error(
    state: &AppState,
    me: &SignedIn,
    id: i64,
    form: TextForm,
    action: &'static str,
    e: WebError,
) -> WebResult {
    let (errors, notice, conflict) = match e {
        WebError::Validation(v) => (v, None, false),
        WebError::Conflict(m) => (FieldErrors::new(), Some(Notice::Error(m)), true),
        WebError::NotFound => {
            authz::deny(state, me, action, Some(object(id))).await?;
            return Err(WebError::NotFound);
        }
        other => return Err(other),
    };
    let data = load_editor(state, me, id, None).await?;
    render::editor(state, me, data, Some(form), errors, notice, conflict)
}

/// `POST /worklist/{id}/report/draft`: the manual save (scripts autosave through the API).
pub async fn save_draft(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<TextForm>,
) -> WebResult {
    let id = path.into_inner();
    allow_writer(&state, &me, "report.draft_save", id).await?;
    let f = form.0;
    let (p, ctx, f2) = (me.principal.clone(), me.audit_ctx(), f.clone());
    let r = state
        .db(move |c| store::save_draft(c, &ctx, &p, id, f2.revision(), &f2.input()))
        .await;
    match r {
        Ok(_) => Ok(see_other(&format!("/worklist/{id}/report?done=saved"))),
        Err(e) => editor_after_error(&state, &me, id, f, "report.draft_save", e).await,
    }
}

/// `POST /worklist/{id}/report/review`: saves the draft, then shows the confirmation step.
pub async fn review(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<TextForm>,
) -> WebResult {
    let id = path.into_inner();
    allow_writer(&state, &me, "report.draft_save", id).await?;
    let f = form.0;
    if let Err(e) = store::ReportText::to_confirm(&f.findings, &f.impression, &f.recommendation) {
        return editor_after_error(&state, &me, id, f, "report.draft_save", e.into()).await;
    }
    let (p, ctx, f2) = (me.principal.clone(), me.audit_ctx(), f.clone());
    let r = state
        .db(move |c| store::save_draft(c, &ctx, &p, id, f2.revision(), &f2.input()))
        .await;
    match r {
        Ok(d) => {
            let data = load_editor(&state, &me, id, None).await?;
            render::confirm_step(&state, &me, data, d.revision)
        }
        Err(e) => editor_after_error(&state, &me, id, f, "report.draft_save", e).await,
    }
}

/// `POST /worklist/{id}/report/confirm`: confirms the draft at the revision reviewed.
pub async fn confirm(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<TextForm>,
) -> WebResult {
    let id = path.into_inner();
    allow_writer(&state, &me, "report.confirm", id).await?;
    let f = form.0;
    let (p, ctx, rev) = (me.principal.clone(), me.audit_ctx(), f.revision());
    let r = state
        .db(move |c| store::confirm(c, &ctx, &p, id, Some(rev), None))
        .await;
    match r {
        Ok(_) => Ok(see_other(&format!("/worklist/{id}/report?done=confirmed"))),
        Err(e) => editor_after_error(&state, &me, id, f, "report.confirm", e).await,
    }
}

/// `POST /worklist/{id}/report/addenda`: a new version of a confirmed report.
pub async fn addendum(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<TextForm>,
) -> WebResult {
    let id = path.into_inner();
    allow_writer(&state, &me, "report.addendum", id).await?;
    let f = form.0;
    let (p, ctx, f2) = (me.principal.clone(), me.audit_ctx(), f.clone());
    let r = state
        .db(move |c| store::add_addendum(c, &ctx, &p, id, &f2.addendum_reason, &f2.input()))
        .await;
    match r {
        Ok(_) => Ok(see_other(&format!("/worklist/{id}/report?done=addendum"))),
        Err(e) => editor_after_error(&state, &me, id, f, "report.addendum", e).await,
    }
}

/// `GET /requests/{id}/report`: the clinic's report, once confirmed (opening is audited).
pub async fn clinic_view(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    q: web::Query<EditorQuery>,
) -> WebResult {
    let id = path.into_inner();
    authz::allow(
        &state,
        &me,
        requester_check(&me),
        "report.view",
        Some(object(id)),
    )
    .await?;
    let (p, ctx) = (me.principal.clone(), me.audit_ctx());
    let r = state
        .db(move |c| {
            let v: ReportView = store::read(c, &p, id)?;
            if v.side != shared::reading::requests::Side::Requesting {
                return Err(shared::Error::NotFound);
            }
            audit::record_now(c, &ctx, store::view_event(&v, "screen"))?;
            let parts = catalogue::list(c, true)?;
            let names = (
                facility_name(c, v.request.requesting_facility_id)?,
                facility_name(c, v.request.supporting_facility_id)?,
            );
            Ok((v, parts, names))
        })
        .await;
    let (v, parts, names) = authz::found(&state, &me, r, "report.view", object(id)).await?;
    render::clinic(&state, &me, v, parts, names, Notice::of(q.done.as_deref()))
}

fn facility_name(c: &mut shared::db::DbConnection, id: i64) -> shared::Result<String> {
    Ok(shared::membership::facilities::get(c, id)?.name)
}

#[derive(Debug, Default, Deserialize)]
pub struct Empty {}

/// `POST /requests/{id}/report/acknowledge`: the clinic marks the report as read (確認).
pub async fn acknowledge(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    _form: CsrfForm<Empty>,
) -> WebResult {
    let id = path.into_inner();
    authz::allow(
        &state,
        &me,
        requester_check(&me),
        "report.acknowledge",
        Some(object(id)),
    )
    .await?;
    let (p, ctx) = (me.principal.clone(), me.audit_ctx());
    let r = state.db(move |c| store::acknowledge(c, &ctx, &p, id)).await;
    match authz::found(&state, &me, r, "report.acknowledge", object(id)).await {
        Ok(_) => Ok(see_other(&format!(
            "/requests/{id}/report?done=acknowledged"
        ))),
        Err(WebError::Conflict(_)) => Ok(see_other(&format!("/requests/{id}/report"))),
        Err(e) => Err(e),
    }
}

const REPORTS_JS: &str = include_str!("../../../templates/reports/reports.js");
const REPORTS_CSS: &str = include_str!("../../../templates/reports/reports.css");
const PRINT_CSS: &str = include_str!("../../../templates/reports/print.css");

/// `GET /static/reports/{name}`: the report screens' script and styles, from a fixed list.
pub async fn static_file(path: web::Path<String>) -> HttpResponse {
    let (body, ct) = match path.as_str() {
        "reports.js" => (REPORTS_JS, "text/javascript; charset=utf-8"),
        "reports.css" => (REPORTS_CSS, "text/css; charset=utf-8"),
        "print.css" => (PRINT_CSS, "text/css; charset=utf-8"),
        _ => return actix_web::ResponseError::error_response(&WebError::NotFound),
    };
    HttpResponse::Ok()
        .content_type(ct)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(body)
}
