//! The body-part catalogue (部位マスタ) for the association administrator: the list grouped
//! by region, adding an entry, and editing one (names, region, JJ1017 code, order, active;
//! the DICOM code stays). JJ1017 codes are copied in from the official master by hand.

use actix_web::web;
use askama::Template;
use shared::auth::Denied;
use shared::domain::BodyRegion;
use shared::reading::catalogue::{self, BodyPart, BodyPartForm};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::admin::guard;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;
use crate::web::signin::NoticeQuery;

const BASE: &str = "/admin/body-parts";

/// Fixed paths before the `{code}` ones.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(BASE, web::get().to(list))
        .route(BASE, web::post().to(create))
        .route("/admin/body-parts/new", web::get().to(new_form))
        .route("/admin/body-parts/{code}", web::get().to(edit_form))
        .route("/admin/body-parts/{code}", web::post().to(update));
}

fn region_key(r: BodyRegion) -> String {
    format!("request.region.{}", r.as_str())
}

pub struct Row {
    pub code: String,
    pub name_ja: String,
    pub name_en: String,
    pub jj1017_code: Option<String>,
    pub is_active: bool,
}

pub struct RegionGroup {
    pub label: String,
    pub rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "admin/body_parts.html")]
struct ListPage {
    page: Page,
    groups: Vec<RegionGroup>,
}

fn groups(page: &Page, all: Vec<BodyPart>) -> Vec<RegionGroup> {
    let mut out: Vec<RegionGroup> = Vec::new();
    let mut current: Option<BodyRegion> = None;
    for b in all {
        let region = b.region();
        if current != Some(region) {
            current = Some(region);
            out.push(RegionGroup {
                label: page.t(&region_key(region)).to_owned(),
                rows: Vec::new(),
            });
        }
        if let Some(g) = out.last_mut() {
            g.rows.push(Row {
                code: b.code,
                name_ja: b.name_ja,
                name_en: b.name_en,
                jj1017_code: b.jj1017_code,
                is_active: b.is_active,
            });
        }
    }
    out
}

/// `GET /admin/body-parts`: every entry (inactive ones too), by region.
pub async fn list(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    guard(&state, &me, "body_part.list").await?;
    let all = state.db(|c| catalogue::list(c, true)).await?;
    let page = Page::for_user(&state, &me, "bodypart.title.list").with_notice(q.notice.as_deref());
    render(&ListPage {
        groups: groups(&page, all),
        page,
    })
}

pub struct RegionOpt {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "admin/body_parts_form.html")]
struct FormPage {
    page: Page,
    /// `None` for a new entry; else the (fixed) code.
    code: Option<String>,
    action: String,
    form: BodyPartForm,
    regions: Vec<RegionOpt>,
    errors: FieldErrors,
}

fn form_page(
    state: &AppState,
    me: &SignedIn,
    code: Option<String>,
    form: BodyPartForm,
    errors: FieldErrors,
    notice: Option<&str>,
) -> FormPage {
    let title = if code.is_some() {
        "bodypart.title.edit"
    } else {
        "bodypart.title.new"
    };
    let page = Page::for_user(state, me, title).with_notice(notice);
    let regions = BodyRegion::ALL
        .iter()
        .map(|r| RegionOpt {
            value: r.as_str(),
            label: page.t(&region_key(*r)).to_owned(),
            selected: form.region.trim() == r.as_str(),
        })
        .collect();
    FormPage {
        action: match &code {
            Some(c) => format!("{BASE}/{c}"),
            None => BASE.into(),
        },
        code,
        form,
        regions,
        errors,
        page,
    }
}

/// `GET /admin/body-parts/new`.
pub async fn new_form(state: web::Data<AppState>, me: SignedIn) -> WebResult {
    guard(&state, &me, "body_part.create").await?;
    let form = BodyPartForm {
        is_active: true,
        ..Default::default()
    };
    render(&form_page(
        &state,
        &me,
        None,
        form,
        FieldErrors::new(),
        None,
    ))
}

/// `POST /admin/body-parts`: adds an entry (the code must be new).
pub async fn create(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<BodyPartForm>,
) -> WebResult {
    guard(&state, &me, "body_part.create").await?;
    let ctx = me.audit_ctx();
    let form = form.0;
    let submitted = form.clone();
    match state
        .db(move |c| catalogue::create(c, &ctx, &submitted))
        .await
    {
        Ok(_) => Ok(see_other(&format!("{BASE}?notice=flash.created"))),
        Err(WebError::Validation(errors)) => {
            render_invalid(&form_page(&state, &me, None, form, errors, None))
        }
        Err(e) => Err(e),
    }
}

/// The role check for one entry: a code that cannot exist is a denial too.
async fn guard_code(
    state: &AppState,
    me: &SignedIn,
    action: &'static str,
    raw: &str,
) -> Result<String, WebError> {
    let object = Some(("body_part", raw.chars().take(40).collect::<String>()));
    let code = catalogue::parse_code(raw).ok();
    let check = match code {
        Some(_) => me.principal.require_association_admin(),
        None => Err(Denied),
    };
    authz::allow(state, me, check, action, object).await?;
    code.ok_or(WebError::NotFound)
}

/// `GET /admin/body-parts/{code}`.
pub async fn edit_form(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let code = guard_code(&state, &me, "body_part.view", &path).await?;
    let key = code.clone();
    let r = state.db(move |c| catalogue::get(c, &key)).await;
    let b = authz::found(
        &state,
        &me,
        r,
        "body_part.view",
        ("body_part", code.clone()),
    )
    .await?;
    render(&form_page(
        &state,
        &me,
        Some(b.code.clone()),
        BodyPartForm::from_part(&b),
        FieldErrors::new(),
        q.notice.as_deref(),
    ))
}

/// `POST /admin/body-parts/{code}`.
pub async fn update(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    form: CsrfForm<BodyPartForm>,
) -> WebResult {
    let code = guard_code(&state, &me, "body_part.update", &path).await?;
    let ctx = me.audit_ctx();
    let mut form = form.0;
    form.code = code.clone();
    let submitted = form.clone();
    let key = code.clone();
    let r = state
        .db(move |c| catalogue::update(c, &ctx, &key, &submitted))
        .await;
    let r = authz::found(
        &state,
        &me,
        r,
        "body_part.update",
        ("body_part", code.clone()),
    )
    .await;
    match r {
        Ok(_) => Ok(see_other(&format!("{BASE}/{code}?notice=flash.saved"))),
        Err(WebError::Validation(errors)) => {
            render_invalid(&form_page(&state, &me, Some(code), form, errors, None))
        }
        Err(e) => Err(e),
    }
}
