//! (being written)

use actix_web::{web, HttpResponse};

pub fn routes(_cfg: &mut web::ServiceConfig) {}

/// `GET /dicom-web/studies` (placeholder until QIDO-RS lands).
pub async fn studies() -> HttpResponse {
    actix_web::ResponseError::error_response(&crate::api::error::ApiError::NotFound)
}
