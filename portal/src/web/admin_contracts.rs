//! Contracts between a requesting and a supporting facility, for the medical association:
//! the list (with whether each is in force today), registration and editing.

use actix_web::web;
use askama::Template;
use shared::domain::Modality;
use shared::membership::contracts::{self, Contract, ContractForm};
use shared::membership::facilities::{self, Facility};
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::admin::{guard, guard_id, Choice};
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;
use crate::web::signin::NoticeQuery;

/// A contract as a table row.
pub struct ContractRow {
    pub id: i64,
    pub requesting: String,
    pub supporting: String,
    pub modalities: Vec<Modality>,
    pub valid_from: String,
    pub valid_until: String,
    pub in_force: bool,
}

#[derive(Template)]
#[template(path = "admin/contracts.html")]
struct ListPage {
    page: Page,
    rows: Vec<ContractRow>,
}

/// "Today" as the directory of supporting facilities sees it.
fn today(state: &AppState) -> chrono::NaiveDate {
    // Contracts run by the day in Japan.
    radvision::core::calendar::to_jst(state.clock.now()).date()
}

pub async fn list(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    guard(&state, &me, "contract.list").await?;
    let all = state.db(contracts::list).await?;
    let day = today(&state);
    let rows = all
        .into_iter()
        .map(|(k, r, s)| ContractRow {
            id: k.id,
            requesting: r.name,
            supporting: s.name,
            modalities: k.modalities(),
            valid_from: k.valid_from.to_string(),
            valid_until: k.valid_until.map(|d| d.to_string()).unwrap_or_default(),
            in_force: k.in_force_on(day),
        })
        .collect();
    render(&ListPage {
        page: Page::for_user(&state, &me, "admin.title.contracts").with_notice(q.notice.as_deref()),
        rows,
    })
}

#[derive(Template)]
#[template(path = "admin/contract_form.html")]
struct FormPage {
    page: Page,
    /// `None` for a new contract.
    id: Option<i64>,
    action: String,
    form: ContractForm,
    requesting: Vec<Choice>,
    supporting: Vec<Choice>,
    modalities: Vec<Choice>,
    errors: FieldErrors,
}

fn facility_choices(
    page: &Page,
    all: &[Facility],
    keep: impl Fn(&Facility) -> bool,
    selected: &str,
) -> Vec<Choice> {
    all.iter()
        .filter(|f| keep(f))
        .map(|f| Choice {
            value: f.id.to_string(),
            label: if f.is_active() {
                f.name.clone()
            } else {
                format!(
                    "{} ({})",
                    f.name,
                    page.t(crate::web::admin::status_key(&f.status))
                )
            },
            checked: f.id.to_string() == selected.trim(),
        })
        .collect()
}

fn form_page(
    state: &AppState,
    me: &SignedIn,
    id: Option<i64>,
    all: &[Facility],
    form: ContractForm,
    errors: FieldErrors,
    notice: Option<&str>,
) -> FormPage {
    let title = if id.is_some() {
        "admin.title.contract"
    } else {
        "admin.title.contract_new"
    };
    let page = Page::for_user(state, me, title).with_notice(notice);
    let requesting = facility_choices(
        &page,
        all,
        |f| f.is_requesting,
        &form.requesting_facility_id,
    );
    let supporting = facility_choices(
        &page,
        all,
        |f| f.is_supporting,
        &form.supporting_facility_id,
    );
    let modalities = Modality::ALL
        .iter()
        .map(|m| Choice {
            value: m.as_str().to_owned(),
            label: m.as_str().to_owned(),
            checked: form
                .modalities
                .iter()
                .any(|x| x.trim().eq_ignore_ascii_case(m.as_str())),
        })
        .collect();
    FormPage {
        page,
        action: match id {
            Some(id) => format!("/admin/contracts/{id}"),
            None => "/admin/contracts".into(),
        },
        id,
        form,
        requesting,
        supporting,
        modalities,
        errors,
    }
}

pub async fn new_form(state: web::Data<AppState>, me: SignedIn) -> WebResult {
    guard(&state, &me, "contract.create").await?;
    let all = state.db(facilities::list).await?;
    let form = ContractForm {
        valid_from: today(&state).to_string(),
        ..Default::default()
    };
    render(&form_page(
        &state,
        &me,
        None,
        &all,
        form,
        FieldErrors::new(),
        None,
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<ContractForm>,
) -> WebResult {
    guard(&state, &me, "contract.create").await?;
    let ctx = me.audit_ctx();
    let form = form.0;
    let submitted = form.clone();
    let r = state
        .db(move |c| contracts::create(c, &ctx, &submitted))
        .await;
    match r {
        Ok(k) => Ok(see_other(&format!(
            "/admin/contracts/{}?notice=flash.created",
            k.id
        ))),
        Err(WebError::Validation(errors)) => {
            let all = state.db(facilities::list).await?;
            render_invalid(&form_page(&state, &me, None, &all, form, errors, None))
        }
        Err(e) => Err(e),
    }
}

async fn load(
    state: &AppState,
    me: &SignedIn,
    id: i64,
    action: &'static str,
) -> Result<(Contract, Vec<Facility>), WebError> {
    let r = state
        .db(move |c| Ok((contracts::get(c, id)?, facilities::list(c)?)))
        .await;
    authz::found(state, me, r, action, ("contract", id.to_string())).await
}

pub async fn show(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    let id = guard_id(&state, &me, "contract.view", "contract", &path).await?;
    let (k, all) = load(&state, &me, id, "contract.view").await?;
    render(&form_page(
        &state,
        &me,
        Some(id),
        &all,
        ContractForm::from_contract(&k),
        FieldErrors::new(),
        q.notice.as_deref(),
    ))
}

pub async fn update(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<String>,
    form: CsrfForm<ContractForm>,
) -> WebResult {
    let id = guard_id(&state, &me, "contract.update", "contract", &path).await?;
    let ctx = me.audit_ctx();
    let form = form.0;
    let submitted = form.clone();
    let r = state
        .db(move |c| contracts::update(c, &ctx, id, &submitted))
        .await;
    let r = authz::found(
        &state,
        &me,
        r,
        "contract.update",
        ("contract", id.to_string()),
    )
    .await;
    match r {
        Ok(_) => Ok(see_other(&format!(
            "/admin/contracts/{id}?notice=flash.saved"
        ))),
        Err(WebError::Validation(errors)) => {
            let (_, all) = load(&state, &me, id, "contract.update").await?;
            render_invalid(&form_page(&state, &me, Some(id), &all, form, errors, None))
        }
        Err(e) => Err(e),
    }
}
