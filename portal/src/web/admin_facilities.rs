//! Member facilities, for the medical association: the list (filtered by status), the
//! registration of an applicant, editing, admission / suspension / reinstatement /
//! withdrawal, and the facility's people.

use actix_web::web;
use askama::Template;
use serde::Deserialize;
use shared::domain::{FacilityKind, FacilityStatus};
use shared::membership::facilities::{self, Facility, FacilityForm};
use shared::membership::users::{self, UserWithRoles};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::admin::{guard, guard_id, kind_key, status_key, Choice};
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;
use crate::web::signin::NoticeQuery;

/// A facility as a table row.
pub struct FacilityRow {
    pub id: i64,
    pub name: String,
    pub kind_key: &'static str,
    pub is_requesting: bool,
    pub is_supporting: bool,
    pub status: String,
    pub status_key: &'static str,
}

impl FacilityRow {
    fn of(f: &Facility) -> Self {
        FacilityRow {
            id: f.id,
            name: f.name.clone(),
            kind_key: kind_key(&f.kind),
            is_requesting: f.is_requesting,
            is_supporting: f.is_supporting,
            status: f.status.clone(),
            status_key: status_key(&f.status),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/facilities.html")]
struct ListPage {
    page: Page,
    rows: Vec<FacilityRow>,
    filters: Vec<Choice>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    notice: Option<String>,
}

pub async fn list(state: web::Data<AppState>, me: SignedIn, q: web::Query<ListQuery>) -> WebResult {
    guard(&state, &me, "facility.list").await?;
    let filter = q
        .status
        .as_deref()
        .and_then(|s| FacilityStatus::parse(s).ok());
    let all = state
        .db(move |c| match filter {
            Some(s) => facilities::list_by_status(c, s),
            None => facilities::list(c),
        })
        .await?;
    let page =
        Page::for_user(&state, &me, "admin.title.facilities").with_notice(q.notice.as_deref());
    let mut filters = vec![Choice {
        value: String::new(),
        label: page.t("admin.filter.all").to_owned(),
        checked: filter.is_none(),
    }];
    filters.extend(FacilityStatus::ALL.iter().map(|s| Choice {
        value: s.as_str().to_owned(),
        label: page.t(status_key(s.as_str())).to_owned(),
        checked: filter == Some(*s),
    }));
    render(&ListPage {
        page,
        rows: all.iter().map(FacilityRow::of).collect(),
        filters,
    })
}

fn kind_choices(page: &Page, selected: &str) -> Vec<Choice> {
    FacilityKind::ALL
        .iter()
        .map(|k| Choice {
            value: k.as_str().to_owned(),
            label: page.t(kind_key(k.as_str())).to_owned(),
            checked: k.as_str() == selected,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/facility_new.html")]
struct NewPage {
    page: Page,
    form: FacilityForm,
    kinds: Vec<Choice>,
    errors: FieldErrors,
}

fn new_page(state: &AppState, me: &SignedIn, form: FacilityForm, errors: FieldErrors) -> NewPage {
    let page = Page::for_user(state, me, "admin.title.facility_new");
    let kinds = kind_choices(&page, &form.kind);
    NewPage {
        page,
        form,
        kinds,
        errors,
    }
}

pub async fn new_form(state: web::Data<AppState>, me: SignedIn) -> WebResult {
    guard(&state, &me, "facility.create").await?;
    let form = FacilityForm {
        kind: FacilityKind::Clinic.as_str().into(),
        is_requesting: true,
        ..Default::default()
    };
    render(&new_page(&state, &me, form, FieldErrors::new()))
}

/// Registers an applicant facility (status `applied`; admitted separately).
pub async fn create(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<FacilityForm>,
) -> WebResult {
    guard(&state, &me, "facility.create").await?;
    let ctx = me.audit_ctx();
    let form = form.0;
    let submitted = form.clone();
    let r = state
        .db(move |c| facilities::create(c, &ctx, &submitted, FacilityStatus::Applied))
        .await;
    match r {
        Ok(f) => Ok(see_other(&format!(
            "/admin/facilities/{}?notice=flash.created",
            f.id
        ))),
        Err(WebError::Validation(errors)) => render_invalid(&new_page(&state, &me, form, errors)),
        Err(e) => Err(e),
    }
}

/// A status change offered on the facility page.
pub struct StatusAction {
    pub status: &'static str,
    pub label: &'static str,
    pub testid: &'static str,
    pub danger: bool,
}

fn status_actions(f: &Facility) -> Vec<StatusAction> {
    if f.kind() == FacilityKind::Operator {
        return Vec::new();
    }
    let withdraw = |label| StatusAction {
        status: "withdrawn",
        label,
        testid: "withdraw",
        danger: true,
    };
    match f.status() {
        FacilityStatus::Applied => vec![
            StatusAction {
                status: "active",
                label: "admin.action.admit",
                testid: "admit",
                danger: false,
            },
            withdraw("admin.action.reject"),
        ],
        FacilityStatus::Active => vec![
            StatusAction {
                status: "suspended",
                label: "admin.action.suspend",
                testid: "suspend",
                danger: true,
            },
            withdraw("admin.action.withdraw"),
        ],
        FacilityStatus::Suspended => vec![
            StatusAction {
                status: "active",
                label: "admin.action.reinstate",
                testid: "reinstate",
                danger: false,
            },
            withdraw("admin.action.withdraw"),
        ],
        FacilityStatus::Withdrawn => Vec::new(),
    }
}

/// A user of the facility as a table row.
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<shared::domain::Role>,
    pub is_active: bool,
    pub is_service: bool,
}

#[derive(Template)]
#[template(path = "admin/facility_show.html")]
struct ShowPage {
    page: Page,
    facility: FacilityRow,
    form: FacilityForm,
    kinds: Vec<Choice>,
    errors: FieldErrors,
    actions: Vec<StatusAction>,
    users: Vec<UserRow>,
}

fn show_page(
    state: &AppState,
    me: &SignedIn,
    (facility, people): (Facility, Vec<UserWithRoles>),
    form: Option<FacilityForm>,
    errors: FieldErrors,
    notice: Option<&str>,
) -> ShowPage {
    let page = Page::for_user(state, me, "admin.title.facility").with_notice(notice);
    let form = form.unwrap_or_else(|| FacilityForm::from_facility(&facility));
    let kinds = kind_choices(&page, &form.kind);
    ShowPage {
        page,
        actions: status_actions(&facility),
        facility: FacilityRow::of(&facility),
        form,
        kinds,
        errors,
        users: people
            .into_iter()
            .map(|u| UserRow {
                id: u.user.id,
                is_service: u.user.kind() == shared::domain::UserKind::Service,
                username: u.user.username,
                display_name: u.user.display_name,
                roles: u.roles,
                is_active: u.user.is_active,
            })
            .collect(),
    }
}

/// The facility and its users (one read).
async fn load(state: &AppState, id: i64) -> Result<(Facility, Vec<UserWithRoles>), WebError> {
    state
        .db(move |c| {
            let f = facilities::get(c, id)?;
            let people = users::list(c, Some(id))?;
            Ok((f, people))
        })
        .await
}

pub async fn show(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let id = guard_id(&state, &me, "facility.view", "facility", &path).await?;
    let data = authz::found(
        &state,
        &me,
        load(&state, id).await,
        "facility.view",
        ("facility", id.to_string()),
    )
    .await?;
    render(&show_page(
        &state,
        &me,
        data,
        None,
        FieldErrors::new(),
        q.notice.as_deref(),
    ))
}

pub async fn update(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    form: CsrfForm<FacilityForm>,
) -> WebResult {
    let id = guard_id(&state, &me, "facility.update", "facility", &path).await?;
    let ctx = me.audit_ctx();
    let form = form.0;
    let submitted = form.clone();
    let r = state
        .db(move |c| facilities::update(c, &ctx, id, &submitted))
        .await;
    let r = authz::found(
        &state,
        &me,
        r,
        "facility.update",
        ("facility", id.to_string()),
    )
    .await;
    match r {
        Ok(_) => Ok(see_other(&format!(
            "/admin/facilities/{id}?notice=flash.saved"
        ))),
        Err(WebError::Validation(errors)) => {
            let data = load(&state, id).await?;
            render_invalid(&show_page(&state, &me, data, Some(form), errors, None))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
}

/// Admits, suspends, reinstates or withdraws. Suspension ends the facility's sessions and
/// stops its DICOM nodes at once (the domain function does both).
pub async fn set_status(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    form: CsrfForm<StatusForm>,
) -> WebResult {
    let id = guard_id(&state, &me, "facility.status", "facility", &path).await?;
    let next = FacilityStatus::parse(&form.0.status)
        .map_err(|_| WebError::Conflict("err.status_transition"))?;
    let ctx = me.audit_ctx();
    let r = state
        .db(move |c| facilities::set_status(c, &ctx, id, next))
        .await;
    authz::found(
        &state,
        &me,
        r,
        "facility.status",
        ("facility", id.to_string()),
    )
    .await?;
    Ok(see_other(&format!(
        "/admin/facilities/{id}?notice=flash.status_changed"
    )))
}
