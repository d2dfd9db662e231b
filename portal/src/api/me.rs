//! `GET /api/v1/me` and `GET /api/v1/directory`.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use shared::membership::contracts;

use crate::api::auth::ApiCaller;
use crate::api::error::ApiResult;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    /// `person` or `service`.
    pub kind: String,
    pub roles: Vec<String>,
    pub facility: MeFacility,
    /// True when this call was authenticated with an API token.
    pub via_token: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MeFacility {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub requesting: bool,
    pub supporting: bool,
}

/// Who am I: the caller's account, roles and facility.
#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, body = Me), (status = 401, body = crate::api::error::ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn me(caller: ApiCaller) -> ApiResult<HttpResponse> {
    let p = &caller.principal;
    Ok(HttpResponse::Ok().json(Me {
        user_id: p.user_id,
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        kind: p.user_kind.as_str().into(),
        roles: p.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        facility: MeFacility {
            id: p.facility_id,
            name: p.facility_name.clone(),
            kind: p.facility_kind.as_str().into(),
            requesting: p.facility_is_requesting,
            supporting: p.facility_is_supporting,
        },
        via_token: p.token_id.is_some(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DirectoryItem {
    pub facility_id: i64,
    pub name: String,
    pub phone: String,
    /// DICOM modality codes the contract covers, e.g. `CT`, `MR`.
    pub modalities: Vec<String>,
    pub contract_valid_from: chrono::NaiveDate,
    pub contract_valid_until: Option<chrono::NaiveDate>,
}

/// The supporting facilities the caller's facility may send read requests to today
/// (requesters only).
#[utoipa::path(get, path = "/api/v1/directory", tag = "directory",
    responses((status = 200, body = Vec<DirectoryItem>), (status = 401, body = crate::api::error::ErrorBody),
        (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn directory(state: web::Data<AppState>, caller: ApiCaller) -> ApiResult<HttpResponse> {
    let check = if caller.principal.is_requester() {
        Ok(())
    } else {
        Err(shared::auth::Denied)
    };
    caller.allow(&state, check, "directory.view", None).await?;
    let fid = caller.principal.facility_id;
    // Contracts run by the day in Japan.
    let today = radvision::core::calendar::to_jst(state.clock.now()).date();
    let entries = state
        .db(move |c| contracts::directory(c, fid, today))
        .await?;
    let items: Vec<DirectoryItem> = entries
        .into_iter()
        .map(|e| DirectoryItem {
            facility_id: e.facility_id,
            name: e.name,
            phone: e.phone,
            modalities: e.modalities.iter().map(|m| m.as_str().to_owned()).collect(),
            contract_valid_from: e.contract_valid_from,
            contract_valid_until: e.contract_valid_until,
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}
