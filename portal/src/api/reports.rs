//! `/api/v1/requests/{id}/report…`: reports for systems and for the editor's autosave — read
//! the report (and, on the supporting side, the draft), save the draft, confirm, add an
//! addendum, acknowledge. Same rules as the screens (`shared::reading::reports`): anything
//! not visible is a 404 and a `denied` audit event; a stale revision or a wrong state is 409;
//! invalid text is 422 naming the field.

use actix_web::{web, HttpResponse};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use shared::audit;
use shared::auth::Denied;
use shared::reading::reports::{self as store, Draft, ReportView, TextInput};
use shared::reading::requests::Side;

use crate::api::auth::ApiCaller;
use crate::api::error::{parse_json_object, ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::web::error::WebError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/requests/{id}/report", web::get().to(get))
        .route("/requests/{id}/report/draft", web::put().to(save_draft))
        .route("/requests/{id}/report/confirm", web::post().to(confirm))
        .route("/requests/{id}/report/addenda", web::post().to(addendum))
        .route(
            "/requests/{id}/report/acknowledge",
            web::post().to(acknowledge),
        );
}

/// The body of `PUT …/report/draft`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftInput {
    /// The draft's revision the caller last saw (0: no draft yet).
    pub revision: i32,
    pub findings: Option<String>,
    pub impression: Option<String>,
    pub recommendation: Option<String>,
}

/// The body of `POST …/report/confirm`: the text to confirm, or none of the three fields to
/// confirm the saved draft.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    /// When given, must be the draft's revision (0: no draft).
    pub revision: Option<i32>,
    pub findings: Option<String>,
    pub impression: Option<String>,
    pub recommendation: Option<String>,
}

/// The body of `POST …/report/addenda`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddendumInput {
    /// Why the report is corrected (required, up to 500 characters).
    pub reason: Option<String>,
    pub findings: Option<String>,
    pub impression: Option<String>,
    pub recommendation: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyImageOut {
    pub study_uid: String,
    pub series_uid: String,
    pub sop_instance_uid: String,
    pub frame: i32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionOut {
    pub version: i32,
    /// `initial` or `addendum`.
    pub kind: String,
    pub findings: String,
    pub impression: String,
    pub recommendation: String,
    pub addendum_reason: Option<String>,
    pub author_id: i64,
    pub author: String,
    pub confirmed_by: i64,
    pub confirmer: String,
    pub confirmed_at: NaiveDateTime,
    pub key_images: Vec<KeyImageOut>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftOut {
    pub revision: i32,
    pub author_id: i64,
    pub findings: String,
    pub impression: String,
    pub recommendation: String,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportOut {
    pub request_id: i64,
    /// The request's status.
    pub status: String,
    /// `requesting` or `supporting`: the caller's side.
    pub side: String,
    pub report_id: Option<i64>,
    /// Oldest first.
    pub versions: Vec<VersionOut>,
    /// The working draft (supporting side only).
    pub draft: Option<DraftOut>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftSaved {
    pub draft: DraftOut,
}

fn draft_out(d: &Draft) -> DraftOut {
    DraftOut {
        revision: d.revision,
        author_id: d.author_id,
        findings: d.findings.clone(),
        impression: d.impression.clone(),
        recommendation: d.recommendation.clone(),
        updated_at: d.updated_at,
    }
}

fn report_out(v: &ReportView) -> ReportOut {
    ReportOut {
        request_id: v.request.id,
        status: v.request.status.clone(),
        side: match v.side {
            Side::Requesting => "requesting",
            Side::Supporting => "supporting",
        }
        .into(),
        report_id: v.report.as_ref().map(|r| r.id),
        versions: v
            .versions
            .iter()
            .map(|x| VersionOut {
                version: x.version.version,
                kind: x.version.kind.clone(),
                findings: x.version.findings.clone(),
                impression: x.version.impression.clone(),
                recommendation: x.version.recommendation.clone(),
                addendum_reason: x.version.addendum_reason.clone(),
                author_id: x.version.author_id,
                author: x.author.clone(),
                confirmed_by: x.version.confirmed_by,
                confirmer: x.confirmer.clone(),
                confirmed_at: x.version.confirmed_at,
                key_images: x
                    .key_images
                    .iter()
                    .map(|k| KeyImageOut {
                        study_uid: k.study_uid.clone(),
                        series_uid: k.series_uid.clone(),
                        sop_instance_uid: k.sop_instance_uid.clone(),
                        frame: k.frame,
                    })
                    .collect(),
            })
            .collect(),
        draft: v.draft.as_ref().map(draft_out),
    }
}

fn json_no_store<T: Serialize>(status: actix_web::http::StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(body)
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

fn check(ok: bool) -> Result<(), Denied> {
    if ok {
        Ok(())
    } else {
        Err(Denied)
    }
}

/// A `NotFound` from the domain (not visible) becomes a denial: an audit event and a 404.
async fn found<T>(
    caller: &ApiCaller,
    state: &AppState,
    r: Result<T, WebError>,
    action: &'static str,
    id: i64,
) -> ApiResult<T> {
    match r {
        Ok(v) => Ok(v),
        Err(WebError::NotFound) => {
            caller
                .deny(state, action, Some(("read_request", id.to_string())))
                .await?;
            Err(ApiError::NotFound)
        }
        Err(e) => Err(e.into()),
    }
}

fn text<'a>(f: &'a Option<String>, i: &'a Option<String>, r: &'a Option<String>) -> TextInput<'a> {
    TextInput {
        findings: f.as_deref().unwrap_or(""),
        impression: i.as_deref().unwrap_or(""),
        recommendation: r.as_deref().unwrap_or(""),
    }
}

/// The report of a request: its confirmed versions (oldest first) with author, confirmer,
/// time and key images; for the supporting facility also the working draft. The requesting
/// facility sees it once confirmed. Every read is audited (`report.view`).
#[utoipa::path(get, path = "/api/v1/requests/{id}/report", tag = "reports",
    params(("id" = i64, Path, description = "The request")),
    responses((status = 200, body = ReportOut), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "Not visible to the caller, or not confirmed yet for the requester")),
    security(("bearer" = []), ("session" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&caller, &state, &path, "report.view").await?;
    let p = caller.principal.clone();
    caller
        .allow(
            &state,
            check(store::may_read_supporting(&p) || store::may_read_requesting(&p)),
            "report.view",
            Some(("read_request", id.to_string())),
        )
        .await?;
    let ctx = caller.audit_ctx();
    let r = state
        .db(move |c| {
            let v = store::read(c, &p, id)?;
            audit::record_now(c, &ctx, store::view_event(&v, "api"))?;
            Ok(v)
        })
        .await;
    let v = found(&caller, &state, r, "report.view", id).await?;
    Ok(json_no_store(
        actix_web::http::StatusCode::OK,
        &report_out(&v),
    ))
}

/// Saves the reader's draft (radiologists of the supporting facility, while the request is
/// live). `revision` must be the draft's current revision (0 before the first save): else
/// 409 `report.err_stale`. After confirmation: 409 `report.err_confirmed` (use an addendum).
#[utoipa::path(put, path = "/api/v1/requests/{id}/report/draft", tag = "reports",
    params(("id" = i64, Path, description = "The request")),
    request_body = DraftInput,
    responses((status = 200, body = DraftSaved), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Session without a valid X-CSRF-Token"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn save_draft(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path_id(&caller, &state, &path, "report.draft_save").await?;
    caller
        .allow(
            &state,
            check(store::may_write(&caller.principal)),
            "report.draft_save",
            Some(("read_request", id.to_string())),
        )
        .await?;
    let input: DraftInput = parse_json_object(&body)?;
    let (p, ctx) = (caller.principal.clone(), caller.audit_ctx());
    let r = state
        .db(move |c| {
            let t = text(&input.findings, &input.impression, &input.recommendation);
            store::save_draft(c, &ctx, &p, id, input.revision, &t)
        })
        .await;
    let d = found(&caller, &state, r, "report.draft_save", id).await?;
    Ok(json_no_store(
        actix_web::http::StatusCode::OK,
        &DraftSaved {
            draft: draft_out(&d),
        },
    ))
}

/// Confirms (確定) the report: one transaction writes the immutable version, the key-image
/// snapshot, the request's status, the fee line, the audit event and the notification job.
/// Radiologists of the supporting facility, while the request is live.
#[utoipa::path(post, path = "/api/v1/requests/{id}/report/confirm", tag = "reports",
    params(("id" = i64, Path, description = "The request")),
    request_body = ConfirmInput,
    responses((status = 201, body = ReportOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Already confirmed, not live, or a stale revision"),
        (status = 422, body = ErrorBody, description = "Findings or impression missing, or text too long")),
    security(("bearer" = []), ("session" = [])))]
pub async fn confirm(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path_id(&caller, &state, &path, "report.confirm").await?;
    caller
        .allow(
            &state,
            check(store::may_write(&caller.principal)),
            "report.confirm",
            Some(("read_request", id.to_string())),
        )
        .await?;
    let input: ConfirmInput = if body.is_empty() {
        ConfirmInput::default()
    } else {
        parse_json_object(&body)?
    };
    let (p, ctx) = (caller.principal.clone(), caller.audit_ctx());
    let r = state
        .db(move |c| {
            let given = input.findings.is_some()
                || input.impression.is_some()
                || input.recommendation.is_some();
            let t = text(&input.findings, &input.impression, &input.recommendation);
            store::confirm(c, &ctx, &p, id, input.revision, given.then_some(&t))?;
            store::read(c, &p, id)
        })
        .await;
    let v = found(&caller, &state, r, "report.confirm", id).await?;
    Ok(json_no_store(
        actix_web::http::StatusCode::CREATED,
        &report_out(&v),
    ))
}

/// Adds an addendum (a new version with a reason) to a confirmed report; earlier versions
/// stay as they were.
#[utoipa::path(post, path = "/api/v1/requests/{id}/report/addenda", tag = "reports",
    params(("id" = i64, Path, description = "The request")),
    request_body = AddendumInput,
    responses((status = 201, body = ReportOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Not confirmed yet"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn addendum(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path_id(&caller, &state, &path, "report.addendum").await?;
    caller
        .allow(
            &state,
            check(store::may_write(&caller.principal)),
            "report.addendum",
            Some(("read_request", id.to_string())),
        )
        .await?;
    let input: AddendumInput = parse_json_object(&body)?;
    let (p, ctx) = (caller.principal.clone(), caller.audit_ctx());
    let r = state
        .db(move |c| {
            let t = text(&input.findings, &input.impression, &input.recommendation);
            let reason = input.reason.as_deref().unwrap_or("");
            store::add_addendum(c, &ctx, &p, id, reason, &t)?;
            store::read(c, &p, id)
        })
        .await;
    let v = found(&caller, &state, r, "report.addendum", id).await?;
    Ok(json_no_store(
        actix_web::http::StatusCode::CREATED,
        &report_out(&v),
    ))
}

/// The requesting clinic acknowledges (確認) a confirmed report: confirmed → acknowledged.
#[utoipa::path(post, path = "/api/v1/requests/{id}/report/acknowledge", tag = "reports",
    params(("id" = i64, Path, description = "The request")),
    responses((status = 200, body = ReportOut), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not confirmed, or already acknowledged")),
    security(("bearer" = []), ("session" = [])))]
pub async fn acknowledge(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&caller, &state, &path, "report.acknowledge").await?;
    caller
        .allow(
            &state,
            check(store::may_read_requesting(&caller.principal)),
            "report.acknowledge",
            Some(("read_request", id.to_string())),
        )
        .await?;
    let (p, ctx) = (caller.principal.clone(), caller.audit_ctx());
    let r = state
        .db(move |c| {
            store::acknowledge(c, &ctx, &p, id)?;
            store::read(c, &p, id)
        })
        .await;
    let v = found(&caller, &state, r, "report.acknowledge", id).await?;
    Ok(json_no_store(
        actix_web::http::StatusCode::OK,
        &report_out(&v),
    ))
}
