//! The versioned JSON API for systems, under `/api/v1`, with its OpenAPI 3 document at
//! `/api/v1/openapi.json`. Callers authenticate with `Authorization: Bearer enk_…` (personal
//! or service-account tokens) or, from the browser, with the session cookie (state-changing
//! calls then need the `X-CSRF-Token` header). Same authorisation as the screens.

pub mod auth;
pub mod error;
pub mod me;
pub mod openapi;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi::document))
            .route("/me", web::get().to(me::me))
            .route("/directory", web::get().to(me::directory))
            .default_service(web::to(error::not_found)),
    );
}
