//! DICOMweb under `/dicom-web`: STOW-RS (`../stow.rs`), QIDO-RS (`qido.rs`) and WADO-RS
//! (`wado.rs`), with the same authorisation as the screens. Callers are API tokens or the
//! browser session ([`ApiCaller`]). Who sees a study is `shared::access::study`; the role
//! decides which half of it applies: requesters (physicians, radiographers) see their own
//! facility's studies, readers (radiologists, coordinators) the studies requested from their
//! facility and the priors those requests listed. Anything else — another clinic's study, a
//! supporting facility without a request, a guessed UID — is a 404 and an audit event.
//! Patient content is `Cache-Control: no-store`.

mod frames;
pub mod json;
mod metadata;
pub mod qido;
pub mod wado;

use actix_web::web;
use shared::access::{self, StudyAccess};
use shared::auth::{Denied, Principal};
use shared::db::DbConnection;
use shared::domain::Role;
use shared::index::Study;

use crate::api::auth::ApiCaller;
use crate::web::stow;

/// Registers STOW-RS, QIDO-RS and WADO-RS.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/dicom-web/studies")
            .route(web::post().to(stow::store))
            .route(web::get().to(qido::studies))
            .default_service(web::to(stow::method_not_allowed)),
    )
    .service(
        web::resource("/dicom-web/studies/{study}")
            .route(web::post().to(stow::store_in_study))
            .route(web::get().to(wado::study))
            .default_service(web::to(stow::method_not_allowed)),
    );
    qido::routes(cfg);
    wado::routes(cfg);
    frames::routes(cfg);
}

/// What the caller may do with images: see its own facility's studies (requester), the
/// studies requested from its facility (reader), or both.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub facility_id: i64,
    pub own: bool,
    pub requested: bool,
}

impl Scope {
    /// The caller's scope, or `Denied` when it may see no images at all (facility
    /// administrators, the association, the prefecture, service accounts without a reading
    /// role).
    pub fn of(p: &Principal) -> Result<Scope, Denied> {
        let own = p.is_requester() && p.facility_is_requesting;
        let requested =
            p.facility_is_supporting && p.has_any(&[Role::Radiologist, Role::Coordinator]);
        if own || requested {
            Ok(Scope {
                facility_id: p.facility_id,
                own,
                requested,
            })
        } else {
            Err(Denied)
        }
    }

    pub fn of_caller(c: &ApiCaller) -> Result<Scope, Denied> {
        Scope::of(&c.principal)
    }

    fn allows(&self, a: StudyAccess) -> bool {
        match a {
            StudyAccess::Owner => self.own,
            StudyAccess::Reader { .. } | StudyAccess::Prior { .. } => self.requested,
        }
    }
}

/// The study with this Study Instance UID that the caller may see, or `NotFound`.
pub fn visible_study(
    c: &mut DbConnection,
    scope: &Scope,
    study_uid: &str,
) -> shared::Result<(Study, StudyAccess)> {
    let scope = *scope;
    access::study_by_uid(c, scope.facility_id, study_uid, &move |a| scope.allows(a))
}

/// The ids of every study the caller may see (for searches).
pub fn visible_study_ids(c: &mut DbConnection, scope: &Scope) -> shared::Result<Vec<i64>> {
    access::visible_study_ids(c, scope.facility_id, scope.own, scope.requested)
}

/// A UID as DICOM allows it: digits and dots, no empty component, at most 64 characters.
pub fn valid_uid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
}
