//! `/api/v1/worklist`: the supporting facility's worklist for systems — the live requests
//! (emergencies first, then by due time, with the same filters as the screen), claiming,
//! releasing, assigning (coordinators), starting reading, and running the automatic
//! assignment. The same rules and authorisation as the screens (`web/worklist.rs`): a
//! radiologist or coordinator of the supporting facility named on the request; anyone else
//! gets 404 and a `denied` audit event.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDateTime;
use radvision::core::auto_assign;
use serde::{Deserialize, Serialize};
use shared::audit::{self, Event, Outcome};
use shared::auth::Denied;
use shared::reading::catalogue::{self, BodyPart};
use shared::reading::worklist::{self as wl, Item};
use utoipa::OpenApi;

use crate::api::auth::ApiCaller;
use crate::api::error::{parse_json_object, ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::worklist::{coordinator_check, radiologist_check, reader_check, WorklistFilter};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/worklist", web::get().to(list))
        .route("/worklist/auto-assign", web::post().to(auto_assign_now))
        .route("/worklist/{id}/claim", web::post().to(claim))
        .route("/worklist/{id}/release", web::post().to(release))
        .route("/worklist/{id}/assign", web::post().to(assign))
        .route("/worklist/{id}/start", web::post().to(start));
}

/// The worklist part of the OpenAPI document (merged into `openapi::ApiDoc`).
#[derive(OpenApi)]
#[openapi(
    paths(list, claim, release, assign, start, auto_assign_now),
    components(schemas(WorklistOut, WorklistItemOut, WorklistPatient, WorklistUser,
        AssignInput, AutoAssignOut, AutoAssigned, AutoWaiting)),
    tags((name = "worklist", description = "The supporting facility's worklist (ワークリスト): live requests, claiming, assignment, starting reading")),
)]
pub struct WorklistDoc;

// ---------------------------------------------------------------------------------------
// Shapes

#[derive(Serialize, utoipa::ToSchema)]
pub struct WorklistPatient {
    /// The requesting facility's patient id.
    pub patient_id: String,
    /// Ideographic, phonetic and alphabetic name groups (`^` between components).
    pub name_ideographic: String,
    pub name_phonetic: String,
    pub name_alphabetic: String,
    pub sex: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WorklistUser {
    pub id: i64,
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WorklistItemOut {
    pub id: i64,
    /// `requested`, `accepted` or `reading`.
    pub status: String,
    /// `emergency` or `routine`.
    pub urgency: String,
    pub requesting_facility_id: i64,
    pub requesting_facility: String,
    pub study_id: i64,
    pub patient: WorklistPatient,
    /// DICOM modality, e.g. `CT`.
    pub modality: String,
    /// The exam row: `ct`, `mri`, `cr_dx`, …
    pub exam: String,
    /// Body-part codes of the catalogue, e.g. `["HEAD"]`.
    pub body_parts: Vec<String>,
    /// The regions of those body parts, e.g. `["head_neck"]`.
    pub regions: Vec<String>,
    pub purpose: String,
    pub purpose_note: String,
    pub clinical_info: String,
    pub clinical_note: String,
    /// How many earlier studies the requester listed for comparison.
    pub priors: i64,
    /// UTC.
    pub requested_at: NaiveDateTime,
    /// UTC. Emergency: when reading must start; routine: when the report is due.
    pub due_at: NaiveDateTime,
    /// UTC. For an emergency not yet opened: 30 minutes after filing (the start target).
    pub start_target_at: Option<NaiveDateTime>,
    pub assigned_to: Option<WorklistUser>,
    /// UTC.
    pub assigned_at: Option<NaiveDateTime>,
    /// Who assigned (null with an assignee: the automatic assignment).
    pub assigned_by: Option<i64>,
    /// Why, as stored (JSON text): `{"kind":"auto","why":{"exam","region","score","open",
    /// "on_duty","candidates","over_cap"}}`, `{"kind":"manual","note":…}`, `{"kind":"claim"}`,
    /// `{"kind":"opened"}` or `{"kind":"named"}`; empty when unassigned.
    pub assignment_reason: String,
    /// UTC. When reading first started (the moment the service level measures).
    pub reading_started_at: Option<NaiveDateTime>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WorklistOut {
    /// Emergencies first, then by due time.
    pub items: Vec<WorklistItemOut>,
    pub total: usize,
}

/// The body of `POST /api/v1/worklist/{id}/assign`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// An active radiologist of the caller's facility.
    pub radiologist_id: i64,
    /// Up to 200 characters (kept with the assignment).
    pub note: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AutoAssigned {
    pub request_id: i64,
    pub radiologist_id: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AutoWaiting {
    pub request_id: i64,
    /// `nobody_qualified`, `nobody_on_duty` or `everyone_full`.
    pub reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AutoAssignOut {
    pub assigned: Vec<AutoAssigned>,
    pub waiting: Vec<AutoWaiting>,
}

fn item_out(it: &Item, parts: &[BodyPart]) -> WorklistItemOut {
    let r = &it.request;
    WorklistItemOut {
        id: r.id,
        status: r.status.clone(),
        urgency: r.urgency.clone(),
        requesting_facility_id: r.requesting_facility_id,
        requesting_facility: it.requesting_facility.clone(),
        study_id: r.study_id,
        patient: WorklistPatient {
            patient_id: it.patient.patient_key.clone(),
            name_ideographic: it.patient.name_ideographic.clone(),
            name_phonetic: it.patient.name_phonetic.clone(),
            name_alphabetic: it.patient.name_alphabetic.clone(),
            sex: it.patient.sex.clone(),
        },
        modality: r.modality.clone(),
        exam: r.exam.clone(),
        body_parts: r
            .body_part_codes()
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        regions: auto_assign::regions_of(r, parts)
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        purpose: r.purpose.clone(),
        purpose_note: r.purpose_note.clone(),
        clinical_info: r.clinical_info.clone(),
        clinical_note: r.clinical_note.clone(),
        priors: it.priors,
        requested_at: r.requested_at,
        due_at: r.due_at,
        start_target_at: auto_assign::start_target(r),
        assigned_to: r.assigned_to.map(|id| WorklistUser {
            id,
            name: it.assignee.clone().unwrap_or_default(),
        }),
        assigned_at: r.assigned_at,
        assigned_by: r.assigned_by,
        assignment_reason: r.assignment_reason.clone(),
        reading_started_at: r.reading_started_at,
    }
}

fn json(status: StatusCode, body: impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(body)
}

// ---------------------------------------------------------------------------------------
// Handlers

/// Query parameters of `GET /api/v1/worklist`.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub modality: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub facility: String,
    #[serde(default)]
    pub assignee: String,
    #[serde(default)]
    pub date_from: String,
    #[serde(default)]
    pub date_to: String,
}

/// The caller's facility's live requests: emergencies first, then by due time. Runs the
/// automatic assignment first when the facility has it on.
#[utoipa::path(get, path = "/api/v1/worklist", tag = "worklist",
    params(
        ("modality" = Option<String>, Query, description = "DICOM modality, e.g. CT"),
        ("urgency" = Option<String>, Query, description = "emergency or routine"),
        ("status" = Option<String>, Query, description = "requested, accepted or reading"),
        ("facility" = Option<i64>, Query, description = "The requesting facility (its id)"),
        ("assignee" = Option<String>, Query, description = "me, none, or a user id"),
        ("date_from" = Option<String>, Query, description = "Filed on or after (YYYY-MM-DD, Japan time)"),
        ("date_to" = Option<String>, Query, description = "Filed on or before (YYYY-MM-DD, Japan time)"),
    ),
    responses((status = 200, body = WorklistOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    q: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    caller
        .allow(
            &state,
            reader_check(&caller.principal),
            "worklist.list",
            None,
        )
        .await?;
    let p = q.into_inner();
    let filter = WorklistFilter {
        modality: p.modality,
        urgency: p.urgency,
        status: p.status,
        facility: p.facility,
        assignee: p.assignee,
        date_from: p.date_from,
        date_to: p.date_to,
        notice: None,
    };
    let (query, errors) = filter.parse(caller.principal.user_id);
    if let Some(e) = errors.iter().next() {
        return Err(ApiError::BadRequest(format!(
            "invalid {}: not one of the documented values",
            e.field
        )));
    }
    let fid = caller.principal.facility_id;
    crate::web::worklist::auto_assign_if_on(&state, caller.audit_ctx(), fid).await;
    let ctx = caller.audit_ctx();
    let used = filter.used();
    let (items, parts) = state
        .db(move |c| {
            let items = wl::list(c, fid, &query)?;
            audit::record_now(
                c,
                &ctx,
                Event::new("worklist.list", Outcome::Success).detail(serde_json::json!({
                    "count": items.len(), "filters": used, "via": "api",
                })),
            )?;
            Ok((items, catalogue::list(c, true)?))
        })
        .await?;
    Ok(json(
        StatusCode::OK,
        WorklistOut {
            total: items.len(),
            items: items.iter().map(|i| item_out(i, &parts)).collect(),
        },
    ))
}

/// A request id from the path; a malformed one is a guess: a denial and a 404.
async fn path_id(
    caller: &ApiCaller,
    state: &AppState,
    raw: &str,
    action: &'static str,
) -> ApiResult<i64> {
    match raw.parse::<i64>() {
        Ok(id) => Ok(id),
        Err(_) => {
            let shown: String = raw.chars().take(64).collect();
            caller
                .deny(state, action, Some(("read_request", shown)))
                .await?;
            Err(ApiError::NotFound)
        }
    }
}

/// Runs one change for a request and answers its row: not visible → 404 + audit.
async fn change<F>(
    state: &AppState,
    caller: &ApiCaller,
    raw_id: String,
    action: &'static str,
    check: Result<(), Denied>,
    f: F,
) -> ApiResult<HttpResponse>
where
    F: FnOnce(
            &mut shared::db::DbConnection,
            &shared::audit::Ctx,
            i64,
            i64,
            i64,
        ) -> shared::Result<()>
        + Send
        + 'static,
{
    let id = path_id(caller, state, &raw_id, action).await?;
    let object = ("read_request", id.to_string());
    caller
        .allow(state, check, action, Some(object.clone()))
        .await?;
    let (fid, uid, ctx) = (
        caller.principal.facility_id,
        caller.principal.user_id,
        caller.audit_ctx(),
    );
    let r = state
        .db(move |c| {
            f(c, &ctx, fid, uid, id)?;
            Ok((wl::get(c, fid, id)?, catalogue::list(c, true)?))
        })
        .await;
    match r {
        Ok((it, parts)) => Ok(json(StatusCode::OK, item_out(&it, &parts))),
        Err(WebError::NotFound) => {
            caller.deny(state, action, Some(object)).await?;
            Err(ApiError::NotFound)
        }
        Err(e) => Err(e.into()),
    }
}

/// A radiologist of the facility claims an unassigned request (409 when someone has it).
#[utoipa::path(post, path = "/api/v1/worklist/{id}/claim", tag = "worklist",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, body = WorklistItemOut), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "Session without a valid X-CSRF-Token"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Another radiologist has it, or it is not live")),
    security(("bearer" = []), ("session" = [])))]
pub async fn claim(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let check = radiologist_check(&caller.principal);
    change(
        &state,
        &caller,
        path.into_inner(),
        "worklist.claim",
        check,
        |c, ctx, f, u, id| wl::claim(c, ctx, f, u, id).map(|_| ()),
    )
    .await
}

/// Its reader (or a coordinator) gives a request back, until reading starts.
#[utoipa::path(post, path = "/api/v1/worklist/{id}/release", tag = "worklist",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, body = WorklistItemOut), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not assigned, someone else's, or reading has started")),
    security(("bearer" = []), ("session" = [])))]
pub async fn release(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let check = reader_check(&caller.principal);
    let coord = coordinator_check(&caller.principal).is_ok();
    change(
        &state,
        &caller,
        path.into_inner(),
        "worklist.release",
        check,
        move |c, ctx, f, u, id| wl::release(c, ctx, f, u, coord, id).map(|_| ()),
    )
    .await
}

/// The coordinator assigns or reassigns a live request to a radiologist of the facility.
#[utoipa::path(post, path = "/api/v1/worklist/{id}/assign", tag = "worklist",
    params(("id" = i64, Path, description = "Request id")),
    request_body = AssignInput,
    responses((status = 200, body = WorklistItemOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Not a radiologist of the facility, or the note is too long")),
    security(("bearer" = []), ("session" = [])))]
pub async fn assign(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let check = coordinator_check(&caller.principal);
    let raw = path.into_inner();
    // Authorise before reading the body: a stranger learns nothing from a 400.
    if check.is_err() {
        let id = path_id(&caller, &state, &raw, "worklist.assign").await?;
        caller
            .deny(
                &state,
                "worklist.assign",
                Some(("read_request", id.to_string())),
            )
            .await?;
        return Err(ApiError::NotFound);
    }
    let input: AssignInput = parse_json_object(&body)?;
    let note = input.note.unwrap_or_default();
    let to = input.radiologist_id;
    change(
        &state,
        &caller,
        raw,
        "worklist.assign",
        check,
        move |c, ctx, f, _, id| wl::assign(c, ctx, f, id, to, &note).map(|_| ()),
    )
    .await
}

/// Reading starts: the reader (or, when nobody has it, any radiologist of the facility, who
/// claims it) marks the request `reading`; the first start time is kept.
#[utoipa::path(post, path = "/api/v1/worklist/{id}/start", tag = "worklist",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, body = WorklistItemOut), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Another radiologist's, or not live")),
    security(("bearer" = []), ("session" = [])))]
pub async fn start(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let check = radiologist_check(&caller.principal);
    change(
        &state,
        &caller,
        path.into_inner(),
        "worklist.start",
        check,
        |c, ctx, f, u, id| wl::start(c, ctx, f, u, id).map(|_| ()),
    )
    .await
}

/// The coordinator runs the automatic assignment now (also when it is off: a one-off run).
#[utoipa::path(post, path = "/api/v1/worklist/auto-assign", tag = "worklist",
    responses((status = 200, body = AutoAssignOut), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn auto_assign_now(
    state: web::Data<AppState>,
    caller: ApiCaller,
) -> ApiResult<HttpResponse> {
    caller
        .allow(
            &state,
            coordinator_check(&caller.principal),
            "worklist.auto_assign",
            None,
        )
        .await?;
    let (fid, ctx, now) = (
        caller.principal.facility_id,
        caller.audit_ctx(),
        state.clock.now(),
    );
    let out = state
        .db(move |c| auto_assign::run(c, &ctx, fid, now, true))
        .await?;
    Ok(json(
        StatusCode::OK,
        AutoAssignOut {
            assigned: out
                .assigned
                .iter()
                .map(|(r, u)| AutoAssigned {
                    request_id: *r,
                    radiologist_id: *u,
                })
                .collect(),
            waiting: out
                .waiting
                .iter()
                .map(|(r, w)| AutoWaiting {
                    request_id: *r,
                    reason: serde_json::to_value(w)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                })
                .collect(),
        },
    ))
}
