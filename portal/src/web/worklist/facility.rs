//! The coordinator's team settings for assignment: the specialty grid (radiologist × exam ×
//! region, 0–100), the weekly duty schedule, and automatic assignment on/off with the cap on
//! open routine work. Coordinators of a supporting facility only (404 + audit otherwise);
//! invalid input is shown next to the field (422) and writes nothing.

use std::collections::BTreeMap;

use actix_web::web;
use askama::Template;
use serde::Deserialize;
use shared::audit::{self, Event, Outcome};
use shared::domain::{BodyRegion, Exam};
use shared::reading::duty::{self, SlotForm};
use shared::reading::specialties;
use shared::reading::worklist as wl;
use shared::validation::FieldErrors;

use super::coordinator_check;
use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/facility/specialties", web::get().to(specialties_form))
        .route(
            "/facility/specialties/{user}",
            web::post().to(save_specialties),
        )
        .route("/facility/duty", web::get().to(duty_list))
        .route("/facility/duty", web::post().to(duty_add))
        .route("/facility/duty/{id}/delete", web::post().to(duty_remove))
        .route("/facility/assignment", web::get().to(settings_form))
        .route("/facility/assignment", web::post().to(save_settings));
}

async fn check(state: &AppState, me: &SignedIn, action: &'static str) -> Result<(), WebError> {
    authz::allow(state, me, coordinator_check(&me.principal), action, None).await
}

// ---------------------------------------------------------------------------------------
// Specialty scores

pub struct Cell {
    pub name: String,
    pub value: String,
    pub bad: bool,
}

pub struct GridRow {
    pub exam_key: String,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "worklist/specialties.html")]
struct SpecialtiesPage {
    page: Page,
    people: Vec<(i64, String, bool)>,
    user: Option<i64>,
    regions: Vec<String>,
    grid: Vec<GridRow>,
    errors: FieldErrors,
}

#[derive(Debug, Default, Deserialize)]
pub struct UserQuery {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub notice: Option<String>,
}

fn grid_rows(values: &BTreeMap<String, String>, bad: &[String]) -> Vec<GridRow> {
    Exam::ALL
        .iter()
        .map(|e| GridRow {
            exam_key: format!("pricing.exam.{e}"),
            cells: BodyRegion::ALL
                .iter()
                .map(|r| {
                    let name = specialties::field(*e, *r);
                    Cell {
                        value: values.get(&name).cloned().unwrap_or_default(),
                        bad: bad.contains(&name),
                        name,
                    }
                })
                .collect(),
        })
        .collect()
}

async fn specialties_page(
    state: &AppState,
    me: &SignedIn,
    user: Option<i64>,
    submitted: Option<(BTreeMap<String, String>, Vec<String>, FieldErrors)>,
    notice: Option<&str>,
) -> WebResult {
    let fid = me.principal.facility_id;
    let since = radvision::core::auto_assign::day_start(state.clock.now());
    let team = state.db(move |c| wl::team(c, fid, since)).await?;
    let user = user
        .filter(|u| team.iter().any(|m| m.id == *u))
        .or_else(|| team.first().map(|m| m.id));
    let invalid = submitted.is_some();
    let (values, bad, errors) = match submitted {
        Some(s) => s,
        None => {
            let grid = team
                .iter()
                .find(|m| Some(m.id) == user)
                .map(|m| m.scores.clone())
                .unwrap_or_default();
            let values = grid
                .iter()
                .map(|((e, r), s)| (specialties::field(*e, *r), s.to_string()))
                .collect();
            (values, Vec::new(), FieldErrors::new())
        }
    };
    let page = Page::for_user(state, me, "worklist.title_specialties").with_notice(notice);
    let t = SpecialtiesPage {
        people: team
            .iter()
            .map(|m| (m.id, m.name.clone(), Some(m.id) == user))
            .collect(),
        user,
        regions: BodyRegion::ALL
            .iter()
            .map(|r| format!("request.region.{r}"))
            .collect(),
        grid: grid_rows(&values, &bad),
        errors,
        page,
    };
    if invalid {
        render_invalid(&t)
    } else {
        render(&t)
    }
}

/// `GET /facility/specialties?user=…`: one radiologist's grid.
pub async fn specialties_form(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<UserQuery>,
) -> WebResult {
    check(&state, &me, "specialty.view").await?;
    let user = q.user.trim().parse::<i64>().ok();
    specialties_page(&state, &me, user, None, q.notice.as_deref()).await
}

/// `POST /facility/specialties/{user}`: replaces the grid (0–100 per cell).
pub async fn save_specialties(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<BTreeMap<String, String>>,
) -> WebResult {
    check(&state, &me, "specialty.save").await?;
    let user = path.into_inner();
    let values = form.0;
    let grid = match specialties::parse_grid(&values) {
        Ok(g) => g,
        Err((e, bad)) => {
            return specialties_page(&state, &me, Some(user), Some((values, bad, e)), None).await
        }
    };
    let (fid, ctx) = (me.principal.facility_id, me.audit_ctx());
    let r = state
        .db(move |c| specialties::save(c, &ctx, fid, user, &grid))
        .await;
    authz::found(&state, &me, r, "specialty.save", ("user", user.to_string())).await?;
    Ok(see_other(&format!(
        "/facility/specialties?user={user}&notice=flash.saved"
    )))
}

// ---------------------------------------------------------------------------------------
// Duty

pub struct SlotRow {
    pub id: i64,
    pub who: String,
    pub day_key: String,
    pub starts: String,
    pub ends: String,
}

#[derive(Template)]
#[template(path = "worklist/duty.html")]
struct DutyPage {
    page: Page,
    slots: Vec<SlotRow>,
    people: Vec<(i64, String)>,
    days: Vec<(i32, String)>,
    form: SlotForm,
    errors: FieldErrors,
}

async fn duty_page(
    state: &AppState,
    me: &SignedIn,
    form: SlotForm,
    errors: FieldErrors,
    notice: Option<&str>,
) -> WebResult {
    let fid = me.principal.facility_id;
    let since = radvision::core::auto_assign::day_start(state.clock.now());
    let (team, slots) = state
        .db(move |c| Ok((wl::team(c, fid, since)?, duty::list(c, fid)?)))
        .await?;
    let page = Page::for_user(state, me, "worklist.title_duty").with_notice(notice);
    let name = |id: i64| {
        team.iter()
            .find(|m| m.id == id)
            .map(|m| m.name.clone())
            .unwrap_or_default()
    };
    let t = DutyPage {
        slots: slots
            .iter()
            .map(|s| SlotRow {
                id: s.id,
                who: name(s.user_id),
                day_key: format!("worklist.day.{}", s.weekday),
                starts: s.starts.clone(),
                ends: s.ends.clone(),
            })
            .collect(),
        people: team.iter().map(|m| (m.id, m.name.clone())).collect(),
        days: (0..=duty::HOLIDAY)
            .map(|d| (d, format!("worklist.day.{d}")))
            .collect(),
        form,
        page,
        errors: errors.clone(),
    };
    if errors.is_empty() {
        render(&t)
    } else {
        render_invalid(&t)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeOnly {
    #[serde(default)]
    pub notice: Option<String>,
}

/// `GET /facility/duty`: the weekly schedule and a form to add a slot.
pub async fn duty_list(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<NoticeOnly>,
) -> WebResult {
    check(&state, &me, "duty.view").await?;
    let form = SlotForm {
        starts: "09:00".into(),
        ends: "17:00".into(),
        ..Default::default()
    };
    duty_page(&state, &me, form, FieldErrors::new(), q.notice.as_deref()).await
}

/// `POST /facility/duty`: adds a slot.
pub async fn duty_add(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<SlotForm>,
) -> WebResult {
    check(&state, &me, "duty.add").await?;
    let f = form.0;
    let (fid, ctx) = (me.principal.facility_id, me.audit_ctx());
    let ff = f.clone();
    match state.db(move |c| duty::add(c, &ctx, fid, &ff)).await {
        Ok(_) => Ok(see_other("/facility/duty?notice=flash.saved")),
        Err(WebError::Validation(e)) => duty_page(&state, &me, f, e, None).await,
        Err(e) => Err(e),
    }
}

/// `POST /facility/duty/{id}/delete`: removes a slot of the facility.
pub async fn duty_remove(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    _f: CsrfForm<super::item::Empty>,
) -> WebResult {
    check(&state, &me, "duty.remove").await?;
    let id = path.into_inner();
    let (fid, ctx) = (me.principal.facility_id, me.audit_ctx());
    let r = state.db(move |c| duty::remove(c, &ctx, fid, id)).await;
    authz::found(&state, &me, r, "duty.remove", ("duty_slot", id.to_string())).await?;
    Ok(see_other("/facility/duty?notice=flash.deleted"))
}

// ---------------------------------------------------------------------------------------
// Settings

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub auto_assign: Option<String>,
    #[serde(default)]
    pub max_open: String,
}

#[derive(Template)]
#[template(path = "worklist/assignment.html")]
struct SettingsPage {
    page: Page,
    auto_assign: bool,
    max_open: String,
    errors: FieldErrors,
}

/// `GET /facility/assignment`: automatic assignment on/off and the cap on open work.
pub async fn settings_form(
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<NoticeOnly>,
) -> WebResult {
    check(&state, &me, "assignment.settings_view").await?;
    let (fid, ctx) = (me.principal.facility_id, me.audit_ctx());
    let s = state
        .db(move |c| {
            let s = wl::settings(c, fid)?;
            audit::record_now(
                c,
                &ctx,
                Event::new("assignment.settings_view", Outcome::Success),
            )?;
            Ok(s)
        })
        .await?;
    render(&SettingsPage {
        page: Page::for_user(&state, &me, "worklist.title_assignment")
            .with_notice(q.notice.as_deref()),
        auto_assign: s.auto_assign,
        max_open: s.max_open.to_string(),
        errors: FieldErrors::new(),
    })
}

/// `POST /facility/assignment`: saves the settings.
pub async fn save_settings(
    state: web::Data<AppState>,
    me: SignedIn,
    form: CsrfForm<SettingsForm>,
) -> WebResult {
    check(&state, &me, "assignment.settings").await?;
    let f = form.0;
    let on = f.auto_assign.as_deref().is_some_and(|v| !v.is_empty());
    let (fid, ctx) = (me.principal.facility_id, me.audit_ctx());
    let max = f.max_open.clone();
    match state
        .db(move |c| wl::save_settings(c, &ctx, fid, on, &max))
        .await
    {
        Ok(_) => Ok(see_other("/facility/assignment?notice=flash.saved")),
        Err(WebError::Validation(e)) => render_invalid(&SettingsPage {
            page: Page::for_user(&state, &me, "worklist.title_assignment"),
            auto_assign: on,
            max_open: f.max_open,
            errors: e,
        }),
        Err(e) => Err(e),
    }
}
