//! `/api/v1/dicom-nodes`: the caller's own facility's DICOM nodes (facility administrators).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use shared::membership::dicom_nodes::{self, DicomNode, DicomNodeForm};

use crate::api::auth::ApiCaller;
use crate::api::error::{parse_json_object, ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct DicomNodeOut {
    pub id: i64,
    pub facility_id: i64,
    pub ae_title: String,
    /// IP addresses and CIDR networks associations are accepted from.
    pub allowed_addresses: Vec<String>,
    pub host: Option<String>,
    pub port: Option<i32>,
    pub description: String,
    pub is_enabled: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl From<DicomNode> for DicomNodeOut {
    fn from(n: DicomNode) -> Self {
        DicomNodeOut {
            allowed_addresses: n.allowed_addresses.lines().map(str::to_owned).collect(),
            id: n.id,
            facility_id: n.facility_id,
            ae_title: n.ae_title,
            host: n.host,
            port: n.port,
            description: n.description,
            is_enabled: n.is_enabled,
            created_at: n.created_at,
            updated_at: n.updated_at,
        }
    }
}

/// A DICOM node as sent to `POST` and `PUT`. Missing fields count as empty (and are
/// reported as `validation` errors where required).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DicomNodeInput {
    /// 1-16 characters.
    #[serde(default)]
    pub ae_title: String,
    /// IP addresses or CIDR networks (at most 32).
    #[serde(default)]
    pub allowed_addresses: Vec<String>,
    /// Where the node listens (with `port`), if images are sent back to it.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<i64>,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub is_enabled: bool,
}

fn yes() -> bool {
    true
}

impl DicomNodeInput {
    fn into_form(self) -> DicomNodeForm {
        DicomNodeForm {
            ae_title: self.ae_title,
            allowed_addresses: self.allowed_addresses.join("\n"),
            host: self.host.unwrap_or_default(),
            port: self.port.map(|p| p.to_string()).unwrap_or_default(),
            description: self.description,
            is_enabled: self.is_enabled,
        }
    }
}

async fn own_facility(
    caller: &ApiCaller,
    state: &AppState,
    action: &'static str,
) -> ApiResult<i64> {
    let fid = caller.principal.facility_id;
    caller
        .allow(
            state,
            caller.principal.require_facility_admin_of(fid),
            action,
            Some(("facility", fid.to_string())),
        )
        .await?;
    Ok(fid)
}

/// A domain `NotFound` (another facility's node) becomes an audited denial.
async fn found<T>(
    caller: &ApiCaller,
    state: &AppState,
    r: ApiResult<T>,
    action: &'static str,
    id: i64,
) -> ApiResult<T> {
    match r {
        Err(ApiError::NotFound) => {
            caller
                .deny(state, action, Some(("dicom_node", id.to_string())))
                .await?;
            Err(ApiError::NotFound)
        }
        other => other,
    }
}

/// The DICOM nodes of the caller's facility (facility administrators).
#[utoipa::path(get, path = "/api/v1/dicom-nodes", tag = "dicom-nodes",
    responses((status = 200, body = Vec<DicomNodeOut>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(state: web::Data<AppState>, caller: ApiCaller) -> ApiResult<HttpResponse> {
    let fid = own_facility(&caller, &state, "dicom_node.list").await?;
    let nodes = state.db(move |c| dicom_nodes::list(c, fid)).await?;
    Ok(HttpResponse::Ok().json(
        nodes
            .into_iter()
            .map(DicomNodeOut::from)
            .collect::<Vec<_>>(),
    ))
}

/// Registers a DICOM node for the caller's facility.
#[utoipa::path(post, path = "/api/v1/dicom-nodes", tag = "dicom-nodes",
    request_body = DicomNodeInput,
    responses((status = 201, body = DicomNodeOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let fid = own_facility(&caller, &state, "dicom_node.create").await?;
    let form = parse_json_object::<DicomNodeInput>(&body)?.into_form();
    let ctx = caller.audit_ctx();
    let n = state
        .db(move |c| dicom_nodes::create(c, &ctx, fid, &form))
        .await?;
    Ok(HttpResponse::Created().json(DicomNodeOut::from(n)))
}

/// Replaces a DICOM node of the caller's facility.
#[utoipa::path(put, path = "/api/v1/dicom-nodes/{id}", tag = "dicom-nodes",
    params(("id" = i64, Path, description = "DICOM node id")),
    request_body = DicomNodeInput,
    responses((status = 200, body = DicomNodeOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let fid = own_facility(&caller, &state, "dicom_node.update").await?;
    let id = path.into_inner();
    // Another facility's node is 404 whatever the body says.
    let exists = state
        .db(move |c| dicom_nodes::get_of_facility(c, fid, id))
        .await
        .map_err(ApiError::from);
    found(&caller, &state, exists, "dicom_node.update", id).await?;
    let form = parse_json_object::<DicomNodeInput>(&body)?.into_form();
    let ctx = caller.audit_ctx();
    let r = state
        .db(move |c| dicom_nodes::update(c, &ctx, fid, id, &form))
        .await
        .map_err(ApiError::from);
    let n = found(&caller, &state, r, "dicom_node.update", id).await?;
    Ok(HttpResponse::Ok().json(DicomNodeOut::from(n)))
}

/// Deletes a DICOM node of the caller's facility; its AE title is refused from then on.
#[utoipa::path(delete, path = "/api/v1/dicom-nodes/{id}", tag = "dicom-nodes",
    params(("id" = i64, Path, description = "DICOM node id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let fid = own_facility(&caller, &state, "dicom_node.delete").await?;
    let id = path.into_inner();
    let ctx = caller.audit_ctx();
    let r = state
        .db(move |c| dicom_nodes::delete(c, &ctx, fid, id))
        .await
        .map_err(ApiError::from);
    found(&caller, &state, r, "dicom_node.delete", id).await?;
    Ok(HttpResponse::NoContent().finish())
}
