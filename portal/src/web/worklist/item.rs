//! One request as its reader sees it (`/worklist/{id}`: patient, clinical question, priors,
//! price, history, and the claim / release / start-reading / assign controls) and the
//! worklist's actions, including the coordinator's automatic assignment run.

use actix_web::web;
use askama::Template;
use radvision::core::auto_assign;
use serde::Deserialize;
use shared::audit;
use shared::auth::{Denied, Principal};
use shared::reading::catalogue;
use shared::reading::requests::{self as store, ReadRequest};
use shared::reading::worklist as wl;
use shared::validation::FieldErrors;

use super::{
    body_part_names, coordinator_check, countdown_text, epoch_ms, radiologist_check, reader_check,
    reason_text,
};
use crate::state::AppState;
use crate::web::authz;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, see_other, Page};
use crate::web::request_form::{self, PatientBox, QuoteView};
use crate::web::requests::EventRow;
use crate::web::session::SignedIn;
use crate::web::signin::NoticeQuery;

// ---------------------------------------------------------------------------------------
// One request

pub struct TeamOpt {
    pub id: i64,
    pub name: String,
    pub score: u8,
    pub open: u32,
    pub on_duty: bool,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "worklist/show.html")]
struct ShowPage {
    page: Page,
    id: i64,
    study_id: i64,
    status: String,
    status_key: String,
    urgency: String,
    urgency_key: String,
    category_key: String,
    patient: PatientBox,
    requesting: String,
    requested_by: String,
    contact_phone: String,
    requested: String,
    due: String,
    target: &'static str,
    deadline_ms: i64,
    countdown: String,
    modality: String,
    exam_key: String,
    body_parts: Vec<String>,
    purpose_key: String,
    purpose_note: String,
    clinical_key: String,
    clinical_note: String,
    priors: Vec<String>,
    attachments: Vec<(i64, String, String)>,
    events: Vec<EventRow>,
    quote: Option<QuoteView>,
    assignee: Option<String>,
    reason: String,
    reading_started: String,
    live: bool,
    mine: bool,
    free: bool,
    radiologist: bool,
    coordinator: bool,
    team: Vec<TeamOpt>,
    errors: FieldErrors,
}

async fn show_page(
    state: &AppState,
    me: &SignedIn,
    id: i64,
    notice: Option<&str>,
    errors: FieldErrors,
) -> WebResult {
    authz::allow(
        state,
        me,
        reader_check(&me.principal),
        "worklist.view",
        Some(("read_request", id.to_string())),
    )
    .await?;
    let fid = me.principal.facility_id;
    let ctx = me.audit_ctx();
    let now = state.clock.now();
    let coordinator = coordinator_check(&me.principal).is_ok();
    let r = state
        .db(move |c| {
            wl::for_reader(c, fid, id)?;
            let d = store::detail(c, fid, id)?;
            audit::record_now(c, &ctx, store::view_event(&d, "worklist"))?;
            let parts = catalogue::list(c, true)?;
            let team = if coordinator {
                wl::team(c, fid, auto_assign::day_start(now))?
            } else {
                Vec::new()
            };
            let assignee = match d.summary.request.assigned_to {
                Some(u) => shared::membership::users::get(c, u)
                    .ok()
                    .map(|u| u.user.display_name),
                None => None,
            };
            Ok((d, parts, team, assignee))
        })
        .await;
    let (d, parts, team, assignee) = authz::found(
        state,
        me,
        r,
        "worklist.view",
        ("read_request", id.to_string()),
    )
    .await?;
    let page = Page::for_user(state, me, "worklist.title_show").with_notice(notice);
    let today = radvision::core::calendar::to_jst(now).date();
    let s = &d.summary;
    let r = &s.request;
    let (target, to) = match auto_assign::start_target(r) {
        Some(t) => ("start", t),
        None => ("due", r.due_at),
    };
    let snapshot = d
        .price
        .as_ref()
        .and_then(|p| radvision::core::requests::snapshot_of(&p.quote));
    let team = team
        .iter()
        .map(|m| {
            let (score, open, on_duty) = auto_assign::fit(m, r, &parts, now);
            TeamOpt {
                id: m.id,
                name: m.name.clone(),
                score,
                open,
                on_duty,
                current: r.assigned_to == Some(m.id),
            }
        })
        .collect();
    render(&ShowPage {
        id: r.id,
        study_id: r.study_id,
        status: r.status.clone(),
        status_key: format!("request.status.{}", r.status),
        urgency: r.urgency.clone(),
        urgency_key: format!("request.urgency.{}", r.urgency),
        category_key: format!("request.category.{}", r.category),
        patient: PatientBox::of(&page, &s.patient, &s.study, false, today),
        requesting: s.requesting_facility.clone(),
        requested_by: d.requested_by.clone(),
        contact_phone: r.contact_phone.clone(),
        requested: page.time(&r.requested_at),
        due: page.time(&r.due_at),
        target,
        deadline_ms: epoch_ms(to),
        countdown: countdown_text(to, now),
        modality: r.modality.clone(),
        exam_key: format!("pricing.exam.{}", r.exam),
        body_parts: body_part_names(r, &parts, page.lang_code() == "ja"),
        purpose_key: format!("request.purpose.{}", r.purpose),
        purpose_note: r.purpose_note.clone(),
        clinical_key: format!("request.clinical.{}", r.clinical_info),
        clinical_note: r.clinical_note.clone(),
        priors: crate::web::requests::prior_lines(&d),
        attachments: crate::web::requests::attachment_rows(&d),
        events: crate::web::requests::event_rows(&page, &d),
        quote: snapshot.map(|s| request_form::quote_view(&page, &s.quote)),
        assignee,
        reason: reason_text(&page, &r.assignment_reason),
        reading_started: page.opt_time(&r.reading_started_at),
        live: r.status().is_live(),
        mine: r.assigned_to == Some(me.principal.user_id),
        free: r.assigned_to.is_none(),
        radiologist: radiologist_check(&me.principal).is_ok(),
        coordinator,
        team,
        errors,
        page,
    })
}

/// `GET /worklist/{id}`: one request as its reader sees it.
pub async fn show(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    show_page(
        &state,
        &me,
        path.into_inner(),
        q.notice.as_deref(),
        FieldErrors::new(),
    )
    .await
}

// ---------------------------------------------------------------------------------------
// Actions

#[derive(Debug, Default, Deserialize)]
pub struct Empty {}

/// The outcome of an action as a redirect: done → the request with a notice; a conflict →
/// the request with the conflict's notice; not visible → 404 + audit.
async fn after(
    state: &AppState,
    me: &SignedIn,
    r: Result<ReadRequest, WebError>,
    action: &'static str,
    id: i64,
    done: &'static str,
) -> WebResult {
    match authz::found(state, me, r, action, ("read_request", id.to_string())).await {
        Ok(_) => Ok(see_other(&format!("/worklist/{id}?notice={done}"))),
        Err(WebError::Conflict(m)) => Ok(see_other(&format!("/worklist/{id}?notice={m}"))),
        Err(e) => Err(e),
    }
}

/// The role check of an action on request `id` (denied: 404 + audit event), then the
/// caller's facility, user and audit context for the change.
async fn allowed(
    state: &AppState,
    me: &SignedIn,
    check: fn(&Principal) -> Result<(), Denied>,
    action: &'static str,
    id: i64,
) -> Result<(i64, i64, audit::Ctx), WebError> {
    authz::allow(
        state,
        me,
        check(&me.principal),
        action,
        Some(("read_request", id.to_string())),
    )
    .await?;
    Ok((
        me.principal.facility_id,
        me.principal.user_id,
        me.audit_ctx(),
    ))
}

/// `POST /worklist/{id}/claim`: a radiologist takes the request.
pub async fn claim(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    _f: CsrfForm<Empty>,
) -> WebResult {
    let id = path.into_inner();
    let action = "worklist.claim";
    let (fid, uid, ctx) = allowed(&state, &me, radiologist_check, action, id).await?;
    let r = state.db(move |c| wl::claim(c, &ctx, fid, uid, id)).await;
    after(&state, &me, r, action, id, "flash.worklist_claimed").await
}

/// `POST /worklist/{id}/release`: its reader (or a coordinator) gives it back.
pub async fn release(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    _f: CsrfForm<Empty>,
) -> WebResult {
    let id = path.into_inner();
    let action = "worklist.release";
    let (fid, uid, ctx) = allowed(&state, &me, reader_check, action, id).await?;
    let coord = coordinator_check(&me.principal).is_ok();
    let r = state
        .db(move |c| wl::release(c, &ctx, fid, uid, coord, id))
        .await;
    after(&state, &me, r, action, id, "flash.worklist_released").await
}

/// `POST /worklist/{id}/start`: reading starts (claiming it if nobody has it), then the
/// viewer opens.
pub async fn start(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    _f: CsrfForm<Empty>,
) -> WebResult {
    let id = path.into_inner();
    let action = "worklist.start";
    let (fid, uid, ctx) = allowed(&state, &me, radiologist_check, action, id).await?;
    let r = state.db(move |c| wl::start(c, &ctx, fid, uid, id)).await;
    match authz::found(&state, &me, r, action, ("read_request", id.to_string())).await {
        Ok(r) => Ok(see_other(&format!("/studies/{}/view", r.study_id))),
        Err(WebError::Conflict(m)) => Ok(see_other(&format!("/worklist/{id}?notice={m}"))),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    pub radiologist_id: String,
    #[serde(default)]
    pub note: String,
}

/// `POST /worklist/{id}/assign`: the coordinator assigns or reassigns.
pub async fn assign(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    form: CsrfForm<AssignForm>,
) -> WebResult {
    let id = path.into_inner();
    let action = "worklist.assign";
    let (fid, _, ctx) = allowed(&state, &me, coordinator_check, action, id).await?;
    let f = form.0;
    let Ok(to) = f.radiologist_id.trim().parse::<i64>() else {
        let e = FieldErrors::single("radiologist_id", "err.invalid_choice");
        return invalid(show_page(&state, &me, id, None, e).await);
    };
    let note = f.note;
    let r = state
        .db(move |c| wl::assign(c, &ctx, fid, id, to, &note))
        .await;
    match r {
        Err(WebError::Validation(e)) => invalid(show_page(&state, &me, id, None, e).await),
        other => after(&state, &me, other, action, id, "flash.worklist_assigned").await,
    }
}

/// Re-renders a page with errors as 422.
fn invalid(r: WebResult) -> WebResult {
    let mut resp = r?;
    *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(resp)
}

/// `POST /worklist/auto-assign`: the coordinator runs the automatic assignment now (also
/// when it is off: a one-off run).
pub async fn auto_assign_now(
    state: web::Data<AppState>,
    me: SignedIn,
    _f: CsrfForm<Empty>,
) -> WebResult {
    authz::allow(
        &state,
        &me,
        coordinator_check(&me.principal),
        "worklist.auto_assign",
        None,
    )
    .await?;
    let (fid, ctx, now) = (me.principal.facility_id, me.audit_ctx(), state.clock.now());
    state
        .db(move |c| auto_assign::run(c, &ctx, fid, now, true))
        .await?;
    Ok(see_other("/worklist?notice=flash.worklist_auto_assigned"))
}
