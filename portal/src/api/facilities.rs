//! `/api/v1/facilities`: member facilities, for the medical association's administrators.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use shared::domain::FacilityStatus;
use shared::membership::facilities::{self, Facility, FacilityForm};
use shared::validation::FieldErrors;

use crate::api::auth::ApiCaller;
use crate::api::error::{parse_json_object, ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct FacilityOut {
    pub id: i64,
    pub name: String,
    /// `clinic`, `hospital`, `operator` or `prefecture`.
    pub kind: String,
    pub is_requesting: bool,
    pub is_supporting: bool,
    /// `applied`, `active`, `suspended` or `withdrawn`.
    pub status: String,
    pub postal_address: String,
    pub phone: String,
    pub notification_emails: Vec<String>,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl From<Facility> for FacilityOut {
    fn from(f: Facility) -> Self {
        FacilityOut {
            notification_emails: f.emails().into_iter().map(str::to_owned).collect(),
            id: f.id,
            name: f.name,
            kind: f.kind,
            is_requesting: f.is_requesting,
            is_supporting: f.is_supporting,
            status: f.status,
            postal_address: f.postal_address,
            phone: f.phone,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

/// The body of `POST /api/v1/facilities` (the same fields as the screen's form).
#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FacilityInput {
    pub name: String,
    /// `clinic`, `hospital`, `operator` or `prefecture`.
    pub kind: String,
    pub is_requesting: bool,
    pub is_supporting: bool,
    pub postal_address: String,
    pub phone: String,
    /// One or more addresses, separated by commas or new lines (required for clinics and
    /// hospitals).
    pub notification_emails: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StatusInput {
    /// `active`, `suspended` or `withdrawn`.
    #[serde(default)]
    pub status: String,
}

async fn require_association_admin(
    caller: &ApiCaller,
    state: &AppState,
    action: &'static str,
    object: Option<(&'static str, String)>,
) -> ApiResult<()> {
    caller
        .allow(
            state,
            caller.principal.require_association_admin(),
            action,
            object,
        )
        .await
}

/// All member facilities (association administrators only).
#[utoipa::path(get, path = "/api/v1/facilities", tag = "facilities",
    responses((status = 200, body = Vec<FacilityOut>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(state: web::Data<AppState>, caller: ApiCaller) -> ApiResult<HttpResponse> {
    require_association_admin(&caller, &state, "facility.list", None).await?;
    let all = state.db(facilities::list).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(FacilityOut::from).collect::<Vec<_>>()))
}

/// Registers a facility; it starts as `applied` (association administrators only).
#[utoipa::path(post, path = "/api/v1/facilities", tag = "facilities",
    request_body = FacilityInput,
    responses((status = 201, body = FacilityOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    require_association_admin(&caller, &state, "facility.create", None).await?;
    let form: FacilityForm = parse_json_object(&body)?;
    let ctx = caller.audit_ctx();
    let f = state
        .db(move |c| facilities::create(c, &ctx, &form, FacilityStatus::Applied))
        .await?;
    Ok(HttpResponse::Created().json(FacilityOut::from(f)))
}

/// One facility (association administrators only).
#[utoipa::path(get, path = "/api/v1/facilities/{id}", tag = "facilities",
    params(("id" = i64, Path, description = "facility id")),
    responses((status = 200, body = FacilityOut), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    require_association_admin(
        &caller,
        &state,
        "facility.view",
        Some(("facility", id.to_string())),
    )
    .await?;
    let f = state.db(move |c| facilities::get(c, id)).await?;
    Ok(HttpResponse::Ok().json(FacilityOut::from(f)))
}

/// Admits, suspends, reinstates or withdraws a facility; 409 when the transition is not
/// possible from the current status.
#[utoipa::path(post, path = "/api/v1/facilities/{id}/status", tag = "facilities",
    params(("id" = i64, Path, description = "facility id")),
    request_body = StatusInput,
    responses((status = 200, body = FacilityOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn set_status(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    require_association_admin(
        &caller,
        &state,
        "facility.status",
        Some(("facility", id.to_string())),
    )
    .await?;
    let input: StatusInput = parse_json_object(&body)?;
    let next = match FacilityStatus::parse(input.status.trim()) {
        Ok(s) if s != FacilityStatus::Applied => s,
        _ => {
            return Err(ApiError::Validation(FieldErrors::single(
                "status",
                "err.invalid_choice",
            )))
        }
    };
    let ctx = caller.audit_ctx();
    let f = state
        .db(move |c| facilities::set_status(c, &ctx, id, next))
        .await?;
    Ok(HttpResponse::Ok().json(FacilityOut::from(f)))
}
