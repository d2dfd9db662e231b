//! The reading policy (受付設定) of a supporting facility, kept by its coordinator: whether and
//! when it accepts emergencies, the routine cut-off, and whether requesters may name a
//! radiologist.

use actix_web::web;
use askama::Template;
use shared::reading::policy::{self, PolicyForm};
use shared::validation::FieldErrors;

use super::coordinator_check;
use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;
use crate::web::signin::NoticeQuery;

const PATH: &str = "/facility/reading-policy";

#[derive(Template)]
#[template(path = "pricing/reading_policy.html")]
struct PolicyPage {
    page: Page,
    form: PolicyForm,
    /// When it was last saved (Japan time), if ever.
    updated_at: Option<String>,
    errors: FieldErrors,
}

pub async fn form(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    authz::allow(
        &state,
        &me,
        coordinator_check(&me),
        "reading_policy.view",
        None,
    )
    .await?;
    let fid = me.principal.facility_id;
    let row = state.db(move |c| policy::get(c, fid)).await?;
    let page = Page::for_user(&state, &me, "policy.title").with_notice(q.notice.as_deref());
    let updated_at =
        (row.updated_at != chrono::NaiveDateTime::MIN).then(|| page.time(&row.updated_at));
    render(&PolicyPage {
        form: PolicyForm::from_row(&row),
        updated_at,
        errors: FieldErrors::new(),
        page,
    })
}

pub async fn save(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<PolicyForm>,
) -> WebResult {
    authz::allow(
        &state,
        &me,
        coordinator_check(&me),
        "reading_policy.update",
        None,
    )
    .await?;
    let fid = me.principal.facility_id;
    let ctx = me.audit_ctx();
    let form = form.0;
    let submitted = form.clone();
    match state
        .db(move |c| policy::set(c, &ctx, fid, &submitted))
        .await
    {
        Ok(_) => Ok(see_other(&format!("{PATH}?notice=flash.saved"))),
        Err(WebError::Validation(errors)) => render_invalid(&PolicyPage {
            page: Page::for_user(&state, &me, "policy.title"),
            form,
            updated_at: None,
            errors,
        }),
        Err(e) => Err(e),
    }
}
