//! The signed-in person's own account: who they are, their password, their second factor,
//! and personal API tokens (which act as them, with their roles).

use actix_web::web;
use askama::Template;
use serde::Deserialize;
use shared::auth::tokens::{self, ApiToken};
use shared::auth::{recovery, signin};
use shared::membership::users;
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;
use crate::web::signin::{enrol_page, CodeForm, NoticeQuery, RecoveryCodesPage};

#[derive(Template)]
#[template(path = "account/show.html")]
struct AccountPage {
    page: Page,
    email: String,
    totp_enabled: bool,
    recovery_left: i64,
    tokens: Vec<ApiToken>,
    now: chrono::NaiveDateTime,
    token_name: String,
    token_days: String,
    errors: FieldErrors,
    new_token: Option<String>,
    max_days: u32,
    revoke_base: &'static str,
}

async fn account_page(
    state: &AppState,
    me: &SignedIn,
    errors: FieldErrors,
    new_token: Option<String>,
    form: (String, String),
    notice: Option<&str>,
) -> WebResult {
    let uid = me.principal.user_id;
    let (u, left, toks) = state
        .db(move |c| {
            Ok((
                users::get(c, uid)?,
                recovery::remaining(c, uid)?,
                tokens::list_for_user(c, uid)?,
            ))
        })
        .await?;
    let invalid = !errors.is_empty();
    let p = AccountPage {
        page: Page::for_user(state, me, "title.account").with_notice(notice),
        email: u.user.email,
        totp_enabled: u.user.totp_enabled,
        recovery_left: left,
        tokens: toks,
        now: state.clock.now(),
        token_name: form.0,
        token_days: form.1,
        errors,
        new_token,
        max_days: state.settings.auth.token_max_days,
        revoke_base: "/account/tokens/",
    };
    if invalid {
        render_invalid(&p)
    } else {
        render(&p)
    }
}

pub async fn show(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    account_page(
        &state,
        &me,
        FieldErrors::new(),
        None,
        (String::new(), "90".into()),
        q.notice.as_deref(),
    )
    .await
}

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    page: Page,
    forced: bool,
    errors: FieldErrors,
}

pub async fn password_form(state: web::Data<AppState>, me: SignedIn) -> WebResult {
    let forced = me.principal.must_change_password;
    render(&PasswordPage {
        page: Page::for_user(&state, &me, "title.change_password"),
        forced,
        errors: FieldErrors::new(),
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

pub async fn change_password(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<PasswordForm>,
) -> WebResult {
    let ctx = me.audit_ctx();
    let uid = me.principal.user_id;
    let f = form.0;
    let r = state
        .db(move |c| {
            signin::change_password(
                c,
                &ctx,
                uid,
                &f.current_password,
                &f.new_password,
                &f.confirm_password,
            )
        })
        .await;
    match r {
        Ok(()) => Ok(see_other("/account?notice=flash.password_changed")),
        Err(WebError::Validation(errors)) => render_invalid(&PasswordPage {
            page: Page::for_user(&state, &me, "title.change_password"),
            forced: me.principal.must_change_password,
            errors,
        }),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    days: String,
}

/// Creates a personal token and shows it once.
pub async fn create_token(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<TokenForm>,
) -> WebResult {
    let ctx = me.audit_ctx();
    let uid = me.principal.user_id;
    let max = state.settings.auth.token_max_days;
    let f = form.0;
    let (name, days) = (f.name.clone(), f.days.clone());
    let r = state
        .db(move |c| tokens::issue(c, &ctx, uid, &name, &days, max))
        .await;
    match r {
        Ok((secret, _)) => {
            account_page(
                &state,
                &me,
                FieldErrors::new(),
                Some(secret),
                (String::new(), "90".into()),
                Some("flash.created"),
            )
            .await
        }
        Err(WebError::Validation(errors)) => {
            account_page(&state, &me, errors, None, (f.name, f.days), None).await
        }
        Err(e) => Err(e),
    }
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    _f: CsrfForm<crate::web::signin::Empty>,
) -> WebResult {
    let id = path.into_inner();
    let uid = me.principal.user_id;
    let ctx = me.audit_ctx();
    let r = state
        .db(move |c| {
            let t = tokens::get(c, id)?;
            if t.user_id != uid {
                return Err(shared::Error::NotFound);
            }
            tokens::revoke(c, &ctx, id)
        })
        .await;
    authz::found(
        &state,
        &me,
        r,
        "token.revoke",
        ("api_token", id.to_string()),
    )
    .await?;
    Ok(see_other("/account?notice=flash.token_revoked"))
}

/// Second-factor enrolment from the account page (for accounts that signed in without one,
/// which only a loopback demo allows).
pub async fn totp_form(state: web::Data<AppState>, me: SignedIn) -> WebResult {
    let page = Page::for_user(&state, &me, "title.enrol");
    enrol_page(&state, page, me.principal.user_id, false, "/account/totp").await
}

pub async fn totp_enrol(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<CodeForm>,
) -> WebResult {
    let uid = me.principal.user_id;
    let source = me.ctx.source.clone();
    let unix = state.clock.unix();
    let codes = state
        .db(move |c| signin::finish_enrolment(c, uid, &form.0.code_value(), &source, unix))
        .await?;
    match codes {
        Some(codes) => render(&RecoveryCodesPage {
            page: Page::for_user(&state, &me, "title.recovery_codes"),
            codes,
        }),
        None => {
            let page = Page::for_user(&state, &me, "title.enrol");
            enrol_page(&state, page, uid, true, "/account/totp").await
        }
    }
}
