//! `/facility/service-accounts`: accounts for the facility's systems and their API tokens.

use actix_web::web;
use askama::Template;
use serde::Deserialize;
use shared::auth::tokens::{self, ApiToken};
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
use crate::web::signin::{Empty, NoticeQuery};

#[derive(Template)]
#[template(path = "facility/service_accounts.html")]
struct ServicesPage {
    page: Page,
    accounts: Vec<(UserWithRoles, Vec<ApiToken>)>,
    now: chrono::NaiveDateTime,
    revoke_base: &'static str,
    max_days: u32,
    /// The account a token was just issued for, and the secret (shown once).
    new_token: Option<(i64, String)>,
    /// The account whose token form is shown again with errors.
    token_for: Option<i64>,
    token_name: String,
    token_days: String,
    token_errors: FieldErrors,
    form: UserForm,
    role_choices: Vec<RoleChoice>,
    errors: FieldErrors,
}

impl ServicesPage {
    fn is_token_for(&self, id: &i64) -> bool {
        self.token_for == Some(*id)
    }
}

#[derive(Default)]
struct View {
    new_token: Option<(i64, String)>,
    token_for: Option<i64>,
    token_name: String,
    token_days: String,
    token_errors: FieldErrors,
    form: UserForm,
    errors: FieldErrors,
}

async fn page(
    state: &AppState,
    me: &SignedIn,
    fid: i64,
    v: View,
    notice: Option<&str>,
) -> WebResult {
    let facility = load_facility(state, fid).await?;
    let accounts = state
        .db(move |c| tokens::service_accounts_of_facility(c, fid))
        .await?;
    let invalid = !v.errors.is_empty() || !v.token_errors.is_empty();
    let p = ServicesPage {
        page: Page::for_user(state, me, "fac.title.service_accounts").with_notice(notice),
        accounts,
        now: state.clock.now(),
        revoke_base: "/facility/tokens/",
        max_days: state.settings.auth.token_max_days,
        new_token: v.new_token,
        token_for: v.token_for,
        token_name: v.token_name,
        token_days: v.token_days,
        token_errors: v.token_errors,
        role_choices: role_choices(&facility, true, &v.form.roles),
        form: v.form,
        errors: v.errors,
    };
    if invalid {
        render_invalid(&p)
    } else {
        render(&p)
    }
}

pub async fn list(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let fid = own_facility(&state, &me, "service_account.list").await?;
    page(&state, &me, fid, View::default(), q.notice.as_deref()).await
}

pub async fn create(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<UserForm>,
) -> WebResult {
    let fid = own_facility(&state, &me, "service_account.create").await?;
    let ctx = me.audit_ctx();
    let f = UserForm {
        password: String::new(),
        ..form.0
    };
    let submitted = f.clone();
    let r = state
        .db(move |c| {
            users::create(
                c,
                &ctx,
                fid,
                &submitted,
                UserKind::Service,
                Granter::FacilityAdmin,
            )
        })
        .await;
    match r {
        Ok(_) => Ok(see_other("/facility/service-accounts?notice=flash.created")),
        Err(WebError::Validation(errors)) => {
            let v = View {
                form: f,
                errors,
                ..Default::default()
            };
            page(&state, &me, fid, v, None).await
        }
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

pub async fn issue_token(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<TokenForm>,
) -> WebResult {
    let fid = own_facility(&state, &me, "token.issue").await?;
    let id = path.into_inner();
    let ctx = me.audit_ctx();
    let max = state.settings.auth.token_max_days;
    let TokenForm { name, days } = form.0;
    let (n, d) = (name.clone(), days.clone());
    let r = state
        .db(move |c| tokens::issue_for_service_account(c, &ctx, fid, id, &n, &d, max))
        .await;
    match authz::found(&state, &me, r, "token.issue", ("user", id.to_string())).await {
        Ok((secret, _)) => {
            let v = View {
                new_token: Some((id, secret)),
                ..Default::default()
            };
            page(&state, &me, fid, v, Some("flash.created")).await
        }
        Err(WebError::Validation(errors)) => {
            let v = View {
                token_for: Some(id),
                token_name: name,
                token_days: days,
                token_errors: errors,
                ..Default::default()
            };
            page(&state, &me, fid, v, None).await
        }
        Err(e) => Err(e),
    }
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    _f: CsrfForm<Empty>,
) -> WebResult {
    let fid = own_facility(&state, &me, "token.revoke").await?;
    let id = path.into_inner();
    let ctx = me.audit_ctx();
    let r = state
        .db(move |c| tokens::revoke_of_facility(c, &ctx, fid, id))
        .await;
    authz::found(
        &state,
        &me,
        r,
        "token.revoke",
        ("api_token", id.to_string()),
    )
    .await?;
    Ok(see_other(
        "/facility/service-accounts?notice=flash.token_revoked",
    ))
}
