//! The medical association's administration screens (role `association_admin`): member
//! facilities and their status, the people of each facility, and contracts between
//! requesting and supporting facilities. The screens live in `admin_facilities`,
//! `admin_users` and `admin_contracts`; this module holds their routes and what they share.
//!
//! Every handler first checks the role (a denial is audited and answers 404, including for
//! ids that do not parse), then calls one domain function in `shared::membership`, which
//! validates and audits in the same transaction.

use actix_web::web;
use shared::auth::Denied;

use crate::state::AppState;
use crate::web::authz;
use crate::web::error::WebError;
use crate::web::session::SignedIn;
use crate::web::{admin_contracts, admin_facilities, admin_users};

/// Registers the administration routes (fixed paths before `{id}` ones).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/facilities", web::get().to(admin_facilities::list))
        .route(
            "/admin/facilities",
            web::post().to(admin_facilities::create),
        )
        .route(
            "/admin/facilities/new",
            web::get().to(admin_facilities::new_form),
        )
        .route(
            "/admin/facilities/{id}",
            web::get().to(admin_facilities::show),
        )
        .route(
            "/admin/facilities/{id}",
            web::post().to(admin_facilities::update),
        )
        .route(
            "/admin/facilities/{id}/status",
            web::post().to(admin_facilities::set_status),
        )
        .route(
            "/admin/facilities/{id}/users/new",
            web::get().to(admin_users::new_form),
        )
        .route(
            "/admin/facilities/{id}/users",
            web::post().to(admin_users::create),
        )
        .route("/admin/users/{id}", web::get().to(admin_users::show))
        .route("/admin/users/{id}", web::post().to(admin_users::update))
        .route(
            "/admin/users/{id}/active",
            web::post().to(admin_users::set_active),
        )
        .route(
            "/admin/users/{id}/reset",
            web::post().to(admin_users::reset),
        )
        .route("/admin/contracts", web::get().to(admin_contracts::list))
        .route("/admin/contracts", web::post().to(admin_contracts::create))
        .route(
            "/admin/contracts/new",
            web::get().to(admin_contracts::new_form),
        )
        .route(
            "/admin/contracts/{id}",
            web::get().to(admin_contracts::show),
        )
        .route(
            "/admin/contracts/{id}",
            web::post().to(admin_contracts::update),
        );
}

/// Only association administrators pass; anyone else gets an audited 404.
pub async fn guard(state: &AppState, me: &SignedIn, action: &'static str) -> Result<(), WebError> {
    authz::allow(
        state,
        me,
        me.principal.require_association_admin(),
        action,
        None,
    )
    .await
}

/// Like `guard`, for a route about one object: the denial names the object, and an id that
/// is not a number is a denial too (so that guessing gives 404 and leaves a trace).
pub async fn guard_id(
    state: &AppState,
    me: &SignedIn,
    action: &'static str,
    kind: &'static str,
    raw: &str,
) -> Result<i64, WebError> {
    let object = Some((kind, raw.chars().take(40).collect::<String>()));
    let id = raw.parse::<i64>().ok().filter(|id| *id > 0);
    let check = match id {
        Some(_) => me.principal.require_association_admin(),
        None => Err(Denied),
    };
    authz::allow(state, me, check, action, object).await?;
    id.ok_or(WebError::NotFound)
}

/// An option in a select or a checkbox in a group: the submitted value, the translation key
/// (or literal text) of its label, and whether it is chosen.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

pub fn kind_key(kind: &str) -> &'static str {
    match kind {
        "clinic" => "kind.clinic",
        "hospital" => "kind.hospital",
        "operator" => "kind.operator",
        "prefecture" => "kind.prefecture",
        _ => "admin.unknown",
    }
}

pub fn status_key(status: &str) -> &'static str {
    match status {
        "applied" => "status.applied",
        "active" => "status.active",
        "suspended" => "status.suspended",
        "withdrawn" => "status.withdrawn",
        _ => "admin.unknown",
    }
}
