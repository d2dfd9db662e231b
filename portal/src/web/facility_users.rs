//! `/facility/users`: the people of the facility administrator's own facility.

use actix_web::web;
use askama::Template;
use shared::domain::UserKind;
use shared::membership::users::{self, Granter, UserForm, UserWithRoles};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::facility::{load_facility, own_facility, role_choices, RoleChoice};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;
use crate::web::signin::NoticeQuery;
use crate::web::user_forms::{ActiveForm, ResetForm};

#[derive(Template)]
#[template(path = "facility/users.html")]
struct UsersPage {
    page: Page,
    users: Vec<UserWithRoles>,
}

pub async fn list(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let fid = own_facility(&state, &me, "user.list").await?;
    let all = state.db(move |c| users::list(c, Some(fid))).await?;
    render(&UsersPage {
        page: Page::for_user(&state, &me, "fac.title.users").with_notice(q.notice.as_deref()),
        users: all
            .into_iter()
            .filter(|u| u.user.kind() == UserKind::Person)
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "facility/user_form.html")]
struct UserFormPage {
    page: Page,
    user: Option<UserWithRoles>,
    form: UserForm,
    role_choices: Vec<RoleChoice>,
    errors: FieldErrors,
    reset_errors: FieldErrors,
    reset_second_factor: bool,
}

struct FormState {
    form: UserForm,
    errors: FieldErrors,
    reset_errors: FieldErrors,
    reset_second_factor: bool,
}

async fn form_page(
    state: &AppState,
    me: &SignedIn,
    fid: i64,
    user: Option<UserWithRoles>,
    f: FormState,
    notice: Option<&str>,
) -> WebResult {
    let facility = load_facility(state, fid).await?;
    let service = user
        .as_ref()
        .is_some_and(|u| u.user.kind() == UserKind::Service);
    let invalid = !f.errors.is_empty() || !f.reset_errors.is_empty();
    let title = if user.is_some() {
        "fac.title.user_edit"
    } else {
        "fac.title.user_new"
    };
    let p = UserFormPage {
        page: Page::for_user(state, me, title).with_notice(notice),
        role_choices: role_choices(&facility, service, &f.form.roles),
        user,
        form: f.form,
        errors: f.errors,
        reset_errors: f.reset_errors,
        reset_second_factor: f.reset_second_factor,
    };
    if invalid {
        render_invalid(&p)
    } else {
        render(&p)
    }
}

fn clean(form: UserForm) -> FormState {
    FormState {
        form: UserForm {
            password: String::new(),
            ..form
        },
        errors: FieldErrors::new(),
        reset_errors: FieldErrors::new(),
        reset_second_factor: false,
    }
}

pub async fn new_form(state: web::Data<AppState>, me: SignedIn) -> WebResult {
    let fid = own_facility(&state, &me, "user.create").await?;
    form_page(&state, &me, fid, None, clean(UserForm::default()), None).await
}

pub async fn create(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<UserForm>,
) -> WebResult {
    let fid = own_facility(&state, &me, "user.create").await?;
    let ctx = me.audit_ctx();
    let f = form.0;
    let submitted = f.clone();
    let r = state
        .db(move |c| {
            users::create(
                c,
                &ctx,
                fid,
                &submitted,
                UserKind::Person,
                Granter::FacilityAdmin,
            )
        })
        .await;
    match r {
        Ok(_) => Ok(see_other("/facility/users?notice=flash.created")),
        Err(WebError::Validation(errors)) => {
            let mut st = clean(f);
            st.errors = errors;
            form_page(&state, &me, fid, None, st, None).await
        }
        Err(e) => Err(e),
    }
}

async fn user_of(
    state: &AppState,
    me: &SignedIn,
    fid: i64,
    id: i64,
    action: &'static str,
) -> Result<UserWithRoles, WebError> {
    let r = state.db(move |c| users::get_of_facility(c, fid, id)).await;
    authz::found(state, me, r, action, ("user", id.to_string())).await
}

fn form_of(u: &UserWithRoles) -> UserForm {
    UserForm {
        username: u.user.username.clone(),
        display_name: u.user.display_name.clone(),
        email: u.user.email.clone(),
        roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        password: String::new(),
    }
}

pub async fn edit_form(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let fid = own_facility(&state, &me, "user.view").await?;
    let id = path.into_inner();
    let u = user_of(&state, &me, fid, id, "user.view").await?;
    let st = clean(form_of(&u));
    form_page(&state, &me, fid, Some(u), st, q.notice.as_deref()).await
}

pub async fn update(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<UserForm>,
) -> WebResult {
    let fid = own_facility(&state, &me, "user.update").await?;
    let id = path.into_inner();
    let ctx = me.audit_ctx();
    let f = form.0;
    let submitted = f.clone();
    let r = state
        .db(move |c| users::update_in_facility(c, &ctx, fid, id, &submitted))
        .await;
    match authz::found(&state, &me, r, "user.update", ("user", id.to_string())).await {
        Ok(_) => Ok(see_other(&format!(
            "/facility/users/{id}?notice=flash.saved"
        ))),
        Err(WebError::Validation(errors)) => {
            let u = user_of(&state, &me, fid, id, "user.update").await?;
            let mut st = clean(UserForm {
                username: u.user.username.clone(),
                ..f
            });
            st.errors = errors;
            form_page(&state, &me, fid, Some(u), st, None).await
        }
        Err(e) => Err(e),
    }
}

pub async fn set_active(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<ActiveForm>,
) -> WebResult {
    let fid = own_facility(&state, &me, "user.set_active").await?;
    let id = path.into_inner();
    let active = form.0.value()?;
    let ctx = me.audit_ctx();
    let r = state
        .db(move |c| users::set_active_in_facility(c, &ctx, fid, id, active))
        .await;
    authz::found(&state, &me, r, "user.set_active", ("user", id.to_string())).await?;
    Ok(see_other(&format!(
        "/facility/users/{id}?notice=flash.status_changed"
    )))
}

pub async fn reset(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<ResetForm>,
) -> WebResult {
    let fid = own_facility(&state, &me, "user.reset_credentials").await?;
    let id = path.into_inner();
    let ctx = me.audit_ctx();
    let ResetForm {
        password,
        reset_second_factor,
    } = form.0;
    let r = state
        .db(move |c| {
            users::reset_credentials_in_facility(c, &ctx, fid, id, &password, reset_second_factor)
        })
        .await;
    match authz::found(
        &state,
        &me,
        r,
        "user.reset_credentials",
        ("user", id.to_string()),
    )
    .await
    {
        Ok(()) => Ok(see_other(&format!(
            "/facility/users/{id}?notice=flash.credentials_reset"
        ))),
        Err(WebError::Validation(errors)) => {
            let u = user_of(&state, &me, fid, id, "user.reset_credentials").await?;
            let mut st = clean(form_of(&u));
            st.reset_errors = errors;
            st.reset_second_factor = reset_second_factor;
            form_page(&state, &me, fid, Some(u), st, None).await
        }
        Err(e) => Err(e),
    }
}
