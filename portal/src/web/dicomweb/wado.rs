//! (being written)

use actix_web::{web, HttpResponse};

pub fn routes(_cfg: &mut web::ServiceConfig) {}

/// `GET /dicom-web/studies/{study}` (placeholder until WADO-RS lands).
pub async fn study() -> HttpResponse {
    actix_web::ResponseError::error_response(&crate::api::error::ApiError::NotFound)
}
