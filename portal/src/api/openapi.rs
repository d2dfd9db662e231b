//! The OpenAPI 3 document, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Enkaku API", version = "1", description = "Enkaku teleradiology network: the JSON API for systems. Authenticate with `Authorization: Bearer <token>`."),
    paths(crate::api::me::me, crate::api::me::directory,
        crate::api::facilities::list, crate::api::facilities::create, crate::api::facilities::get,
        crate::api::facilities::set_status,
        crate::api::dicom_nodes::list, crate::api::dicom_nodes::create,
        crate::api::dicom_nodes::update, crate::api::dicom_nodes::delete,
        crate::api::studies::list, crate::api::studies::get,
        crate::api::requests::quote, crate::api::requests::create, crate::api::requests::list,
        crate::api::requests::get, crate::api::requests::cancel,
        crate::api::reports::get, crate::api::reports::save_draft, crate::api::reports::confirm,
        crate::api::reports::addendum, crate::api::reports::acknowledge),
    components(schemas(crate::api::error::ErrorBody, crate::api::me::Me, crate::api::me::MeFacility, crate::api::me::DirectoryItem,
        crate::api::facilities::FacilityOut, crate::api::facilities::FacilityInput,
        crate::api::facilities::StatusInput,
        crate::api::dicom_nodes::DicomNodeOut, crate::api::dicom_nodes::DicomNodeInput,
        crate::api::studies::StudyList, crate::api::studies::StudyOut, crate::api::studies::StudyDetailOut,
        crate::api::studies::SeriesOut, crate::api::studies::PatientOut, crate::api::studies::PersonNameOut,
        crate::api::requests::RequestInput, crate::api::requests::CancelInput,
        crate::api::requests::QuoteResponse, crate::api::requests::QuoteBasisOut,
        crate::api::requests::TargetOut, crate::api::requests::RoutingOut,
        crate::api::requests::QuoteOut, crate::api::requests::QuoteLineOut,
        crate::api::requests::RadiologistOut, crate::api::requests::RequestList,
        crate::api::requests::RequestItem, crate::api::requests::RequestOut,
        crate::api::requests::RequestStudy, crate::api::requests::FacilityRef,
        crate::api::requests::UserRef, crate::api::requests::BodyPartOut,
        crate::api::requests::StatusEventOut, crate::api::requests::PriceOut,
        crate::api::requests::AttachmentOut,
        crate::api::reports::DraftInput, crate::api::reports::ConfirmInput,
        crate::api::reports::AddendumInput, crate::api::reports::ReportOut,
        crate::api::reports::VersionOut, crate::api::reports::KeyImageOut,
        crate::api::reports::DraftOut, crate::api::reports::DraftSaved)),
    tags((name = "requests", description = "Read requests (読影依頼): the options and prices for a study, filing, lists, one request, cancelling"),
        (name = "reports", description = "Reports (読影レポート): the report and draft, saving the draft, confirming (確定), addenda, acknowledging")),
    modifiers(&Security),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("enkaku_session"))),
        );
    }
}

pub async fn document() -> HttpResponse {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::api::worklist::WorklistDoc::openapi());
    HttpResponse::Ok().json(doc)
}
