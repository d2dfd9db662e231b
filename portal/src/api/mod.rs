//! The versioned JSON API for systems, under `/api/v1`, with its OpenAPI 3 document at
//! `/api/v1/openapi.json`. Callers authenticate with `Authorization: Bearer enk_…` (personal
//! or service-account tokens) or, from the browser, with the session cookie (state-changing
//! calls then need the `X-CSRF-Token` header). Same authorisation as the screens.

pub mod auth;
pub mod dicom_nodes;
pub mod error;
pub mod facilities;
pub mod me;
pub mod openapi;
pub mod reports;
pub mod requests;
pub mod studies;
pub mod worklist;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi::document))
            .route("/me", web::get().to(me::me))
            .route("/directory", web::get().to(me::directory))
            .route("/facilities", web::get().to(facilities::list))
            .route("/facilities", web::post().to(facilities::create))
            .route("/facilities/{id}", web::get().to(facilities::get))
            .route(
                "/facilities/{id}/status",
                web::post().to(facilities::set_status),
            )
            .configure(requests::routes)
            .configure(worklist::routes)
            .configure(reports::routes)
            .route("/studies", web::get().to(studies::list))
            .route("/studies/{id}", web::get().to(studies::get))
            .route("/dicom-nodes", web::get().to(dicom_nodes::list))
            .route("/dicom-nodes", web::post().to(dicom_nodes::create))
            .route("/dicom-nodes/{id}", web::put().to(dicom_nodes::update))
            .route("/dicom-nodes/{id}", web::delete().to(dicom_nodes::delete))
            .default_service(web::to(error::not_found)),
    );
}
