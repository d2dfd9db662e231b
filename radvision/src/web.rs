//! RadVision's screens and DICOMweb endpoints (mounted by the portal).

use actix_web::web::ServiceConfig;

/// Registers RadVision's routes. Empty until the ingest issue adds the first ones.
pub fn configure(_cfg: &mut ServiceConfig) {}
