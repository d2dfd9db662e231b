//! The people of a member facility, for the medical association: registering a person with
//! an initial password (changed at first sign-in, second factor enrolled then), editing name,
//! e-mail and roles, disabling and re-enabling, and resetting credentials.

use actix_web::web;
use askama::Template;
use shared::domain::{Role, UserKind};
use shared::membership::facilities::{self, Facility};
use shared::membership::users::{self, Granter, UserForm, UserWithRoles};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::admin::{guard_id, kind_key, status_key, Choice};
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;
use crate::web::signin::NoticeQuery;
use crate::web::user_forms::{ActiveForm, ResetForm};

/// The roles offered for a facility (those its kind and capabilities allow), plus any the
/// user already holds, checked as in `chosen`.
fn role_choices(page: &Page, f: &Facility, chosen: &[String], held: &[Role]) -> Vec<Choice> {
    Role::ALL
        .iter()
        .filter(|r| r.allowed_in(f.kind(), f.is_requesting, f.is_supporting) || held.contains(r))
        .map(|r| Choice {
            value: r.as_str().to_owned(),
            label: page.role_name(r).to_owned(),
            checked: chosen.iter().any(|c| c == r.as_str()),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct NewPage {
    page: Page,
    facility_id: i64,
    facility_name: String,
    form: UserForm,
    roles: Vec<Choice>,
    errors: FieldErrors,
}

fn new_page(
    state: &AppState,
    me: &SignedIn,
    f: &Facility,
    form: UserForm,
    errors: FieldErrors,
) -> NewPage {
    let page = Page::for_user(state, me, "admin.title.user_new");
    let roles = role_choices(&page, f, &form.roles, &[]);
    NewPage {
        page,
        facility_id: f.id,
        facility_name: f.name.clone(),
        // The password is never sent back to the browser.
        form: UserForm {
            password: String::new(),
            ..form
        },
        roles,
        errors,
    }
}

async fn facility(
    state: &AppState,
    me: &SignedIn,
    id: i64,
    action: &'static str,
) -> Result<Facility, WebError> {
    let r = state.db(move |c| facilities::get(c, id)).await;
    authz::found(state, me, r, action, ("facility", id.to_string())).await
}

pub async fn new_form(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
) -> WebResult {
    let fid = guard_id(&state, &me, "user.create", "facility", &path).await?;
    let f = facility(&state, &me, fid, "user.create").await?;
    render(&new_page(
        &state,
        &me,
        &f,
        UserForm::default(),
        FieldErrors::new(),
    ))
}

/// Registers a person in the facility; they change the initial password at first sign-in.
pub async fn create(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    form: CsrfForm<UserForm>,
) -> WebResult {
    let fid = guard_id(&state, &me, "user.create", "facility", &path).await?;
    let ctx = me.audit_ctx();
    let form = form.0;
    let submitted = form.clone();
    let r = state
        .db(move |c| {
            users::create(
                c,
                &ctx,
                fid,
                &submitted,
                UserKind::Person,
                Granter::Association,
            )
        })
        .await;
    let r = authz::found(&state, &me, r, "user.create", ("facility", fid.to_string())).await;
    match r {
        Ok(_) => Ok(see_other(&format!(
            "/admin/facilities/{fid}?notice=flash.created"
        ))),
        Err(WebError::Validation(errors)) => {
            let f = facility(&state, &me, fid, "user.create").await?;
            render_invalid(&new_page(&state, &me, &f, form, errors))
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "admin/user_show.html")]
struct ShowPage {
    page: Page,
    user: UserWithRoles,
    facility_kind_key: &'static str,
    facility_status: String,
    facility_status_key: &'static str,
    is_person: bool,
    is_self: bool,
    form: UserForm,
    roles: Vec<Choice>,
    errors: FieldErrors,
    reset_second_factor: bool,
}

fn show_page(
    state: &AppState,
    me: &SignedIn,
    user: UserWithRoles,
    form: Option<UserForm>,
    errors: FieldErrors,
    notice: Option<&str>,
) -> ShowPage {
    let page = Page::for_user(state, me, "admin.title.user").with_notice(notice);
    let form = form.unwrap_or_else(|| UserForm {
        username: user.user.username.clone(),
        display_name: user.user.display_name.clone(),
        email: user.user.email.clone(),
        roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        password: String::new(),
    });
    let roles = role_choices(&page, &user.facility, &form.roles, &user.roles);
    ShowPage {
        page,
        facility_kind_key: kind_key(&user.facility.kind),
        facility_status: user.facility.status.clone(),
        facility_status_key: status_key(&user.facility.status),
        is_person: user.user.kind() == UserKind::Person,
        is_self: user.user.id == me.principal.user_id,
        form: UserForm {
            password: String::new(),
            ..form
        },
        roles,
        errors,
        reset_second_factor: false,
        user,
    }
}

async fn load(
    state: &AppState,
    me: &SignedIn,
    id: i64,
    action: &'static str,
) -> Result<UserWithRoles, WebError> {
    let r = state.db(move |c| users::get(c, id)).await;
    authz::found(state, me, r, action, ("user", id.to_string())).await
}

pub async fn show(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let id = guard_id(&state, &me, "user.view", "user", &path).await?;
    let user = load(&state, &me, id, "user.view").await?;
    render(&show_page(
        &state,
        &me,
        user,
        None,
        FieldErrors::new(),
        q.notice.as_deref(),
    ))
}

/// Edits display name, e-mail and roles.
pub async fn update(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    form: CsrfForm<UserForm>,
) -> WebResult {
    let id = guard_id(&state, &me, "user.update", "user", &path).await?;
    let ctx = me.audit_ctx();
    let form = form.0;
    let submitted = form.clone();
    let r = state
        .db(move |c| users::update(c, &ctx, id, &submitted, Granter::Association))
        .await;
    let r = authz::found(&state, &me, r, "user.update", ("user", id.to_string())).await;
    match r {
        Ok(_) => Ok(see_other(&format!("/admin/users/{id}?notice=flash.saved"))),
        Err(WebError::Validation(errors)) => {
            let user = load(&state, &me, id, "user.update").await?;
            let mut form = form;
            form.username = user.user.username.clone();
            render_invalid(&show_page(&state, &me, user, Some(form), errors, None))
        }
        Err(e) => Err(e),
    }
}

/// Disables (ending the user's sessions at once) or re-enables an account.
pub async fn set_active(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    form: CsrfForm<ActiveForm>,
) -> WebResult {
    let id = guard_id(&state, &me, "user.set_active", "user", &path).await?;
    let active = form.0.value()?;
    let ctx = me.audit_ctx();
    let r = state
        .db(move |c| users::set_active(c, &ctx, id, active))
        .await;
    authz::found(&state, &me, r, "user.set_active", ("user", id.to_string())).await?;
    Ok(see_other(&format!(
        "/admin/users/{id}?notice=flash.status_changed"
    )))
}

/// Sets a temporary password (and, if asked, clears the second factor); the user's sessions
/// end and they must change the password at next sign-in.
pub async fn reset(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    form: CsrfForm<ResetForm>,
) -> WebResult {
    let id = guard_id(&state, &me, "user.reset_credentials", "user", &path).await?;
    let ctx = me.audit_ctx();
    let ResetForm {
        password,
        reset_second_factor,
    } = form.0;
    let r = state
        .db(move |c| users::admin_reset_credentials(c, &ctx, id, &password, reset_second_factor))
        .await;
    let r = authz::found(
        &state,
        &me,
        r,
        "user.reset_credentials",
        ("user", id.to_string()),
    )
    .await;
    match r {
        Ok(()) => Ok(see_other(&format!(
            "/admin/users/{id}?notice=flash.credentials_reset"
        ))),
        Err(WebError::Validation(errors)) => {
            let user = load(&state, &me, id, "user.reset_credentials").await?;
            let mut p = show_page(&state, &me, user, None, errors, None);
            p.reset_second_factor = reset_second_factor;
            render_invalid(&p)
        }
        Err(e) => Err(e),
    }
}
