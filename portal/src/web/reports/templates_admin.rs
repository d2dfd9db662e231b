//! `/facility/report-templates`: a supporting facility's report templates (定型文), kept by
//! its radiologists and coordinators. Another facility's template is a 404 and an audit
//! event; every change is audited by `shared::reading::report_templates`.

use actix_web::web;
use askama::Template;
use shared::auth::Denied;
use shared::domain::{BodyRegion, Exam};
use shared::reading::report_templates::{self as store, ReportTemplate, TemplateForm};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/facility/report-templates", web::get().to(list))
        .route("/facility/report-templates", web::post().to(create))
        .route("/facility/report-templates/{id}", web::get().to(edit_form))
        .route("/facility/report-templates/{id}", web::post().to(update))
        .route(
            "/facility/report-templates/{id}/delete",
            web::post().to(delete),
        );
}

fn check(me: &SignedIn) -> Result<(), Denied> {
    if shared::reading::reports::may_read_supporting(&me.principal) {
        Ok(())
    } else {
        Err(Denied)
    }
}

pub struct Choice {
    pub value: String,
    pub key: String,
}

fn exams() -> Vec<Choice> {
    Exam::ALL
        .iter()
        .map(|e| Choice {
            value: e.as_str().into(),
            key: format!("pricing.exam.{e}"),
        })
        .collect()
}

fn regions() -> Vec<Choice> {
    BodyRegion::ALL
        .iter()
        .map(|r| Choice {
            value: r.as_str().into(),
            key: format!("request.region.{r}"),
        })
        .collect()
}

pub struct Row {
    pub id: i64,
    pub name: String,
    pub exam_key: String,
    pub region_key: Option<String>,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "reports/templates.html")]
struct ListPage {
    page: Page,
    rows: Vec<Row>,
    form: TemplateForm,
    errors: FieldErrors,
    exams: Vec<Choice>,
    regions: Vec<Choice>,
    action: String,
}

#[derive(Template)]
#[template(path = "reports/template_edit.html")]
struct EditPage {
    page: Page,
    id: i64,
    form: TemplateForm,
    errors: FieldErrors,
    exams: Vec<Choice>,
    regions: Vec<Choice>,
    action: String,
}

fn rows(page: &Page, list: &[ReportTemplate]) -> Vec<Row> {
    list.iter()
        .map(|t| Row {
            id: t.id,
            name: t.name.clone(),
            exam_key: format!("pricing.exam.{}", t.exam),
            region_key: t.region.as_ref().map(|r| format!("request.region.{r}")),
            updated: page.time(&t.updated_at),
        })
        .collect()
}

async fn list_page(
    state: &AppState,
    me: &SignedIn,
    form: TemplateForm,
    errors: FieldErrors,
) -> WebResult {
    let fid = me.principal.facility_id;
    let list = state.db(move |c| store::list(c, fid)).await?;
    let page = Page::for_user(state, me, "report.title_templates");
    let t = ListPage {
        rows: rows(&page, &list),
        form,
        exams: exams(),
        regions: regions(),
        action: "/facility/report-templates".into(),
        page,
        errors,
    };
    if t.errors.is_empty() {
        render(&t)
    } else {
        render_invalid(&t)
    }
}

/// `GET /facility/report-templates`.
pub async fn list(state: web::Data<AppState>, me: SignedIn) -> WebResult {
    authz::allow(&state, &me, check(&me), "report_template.list", None).await?;
    list_page(&state, &me, TemplateForm::default(), FieldErrors::new()).await
}

/// `POST /facility/report-templates`.
pub async fn create(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<TemplateForm>,
) -> WebResult {
    authz::allow(&state, &me, check(&me), "report_template.create", None).await?;
    let f = form.0;
    let (fid, uid, ctx, f2) = (
        me.principal.facility_id,
        me.principal.user_id,
        me.audit_ctx(),
        f.clone(),
    );
    match state
        .db(move |c| store::create(c, &ctx, fid, uid, &f2))
        .await
    {
        Ok(_) => Ok(see_other("/facility/report-templates")),
        Err(WebError::Validation(e)) => list_page(&state, &me, f, e).await,
        Err(WebError::Conflict(m)) => {
            list_page(&state, &me, f, FieldErrors::single("name", m)).await
        }
        Err(e) => Err(e),
    }
}

fn edit_page(
    state: &AppState,
    me: &SignedIn,
    id: i64,
    form: TemplateForm,
    errors: FieldErrors,
) -> WebResult {
    let page = Page::for_user(state, me, "report.title_template_edit");
    let t = EditPage {
        id,
        form,
        exams: exams(),
        regions: regions(),
        action: format!("/facility/report-templates/{id}"),
        page,
        errors,
    };
    if t.errors.is_empty() {
        render(&t)
    } else {
        render_invalid(&t)
    }
}

fn object(id: i64) -> (&'static str, String) {
    ("report_template", id.to_string())
}

/// `GET /facility/report-templates/{id}`.
pub async fn edit_form(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
) -> WebResult {
    let id = path.into_inner();
    authz::allow(
        &state,
        &me,
        check(&me),
        "report_template.view",
        Some(object(id)),
    )
    .await?;
    let fid = me.principal.facility_id;
    let r = state.db(move |c| store::get(c, fid, id)).await;
    let t = authz::found(&state, &me, r, "report_template.view", object(id)).await?;
    edit_page(
        &state,
        &me,
        id,
        TemplateForm::from_template(&t),
        FieldErrors::new(),
    )
}

/// `POST /facility/report-templates/{id}`.
pub async fn update(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<TemplateForm>,
) -> WebResult {
    let id = path.into_inner();
    authz::allow(
        &state,
        &me,
        check(&me),
        "report_template.update",
        Some(object(id)),
    )
    .await?;
    let f = form.0;
    let (fid, uid, ctx, f2) = (
        me.principal.facility_id,
        me.principal.user_id,
        me.audit_ctx(),
        f.clone(),
    );
    let r = state
        .db(move |c| store::update(c, &ctx, fid, uid, id, &f2))
        .await;
    match authz::found(&state, &me, r, "report_template.update", object(id)).await {
        Ok(_) => Ok(see_other("/facility/report-templates")),
        Err(WebError::Validation(e)) => edit_page(&state, &me, id, f, e),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct Empty {}

/// `POST /facility/report-templates/{id}/delete`.
pub async fn delete(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    _form: CsrfForm<Empty>,
) -> WebResult {
    let id = path.into_inner();
    authz::allow(
        &state,
        &me,
        check(&me),
        "report_template.delete",
        Some(object(id)),
    )
    .await?;
    let (fid, ctx) = (me.principal.facility_id, me.audit_ctx());
    let r = state.db(move |c| store::delete(c, &ctx, fid, id)).await;
    authz::found(&state, &me, r, "report_template.delete", object(id)).await?;
    Ok(see_other("/facility/report-templates"))
}
