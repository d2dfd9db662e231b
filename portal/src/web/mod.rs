//! The HTML screens: routing, sessions, CSRF, pages, and authorisation at the edge.

pub mod account;
pub mod admin;
pub mod admin_contracts;
pub mod admin_facilities;
pub mod admin_users;
pub mod audit_view;
pub mod authz;
pub mod body_parts;
pub mod csrf;
pub mod dicomweb;
pub mod error;
pub mod facility;
pub mod facility_nodes;
pub mod facility_services;
pub mod facility_users;
pub mod home;
pub mod page;
pub mod pricing;
pub mod reports;
pub mod request_form;
pub mod requests;
pub mod send;
pub mod session;
pub mod signin;
pub mod stow;
pub mod studies;
pub mod upload;
pub mod user_forms;
pub mod viewer;
pub mod worklist;

use actix_web::web;

/// Registers every screen route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/healthz", web::get().to(home::healthz))
        .route("/static/app.css", web::get().to(home::css))
        .route("/login", web::get().to(signin::login_form))
        .route("/login", web::post().to(signin::login))
        .route(
            "/login/second-factor",
            web::get().to(signin::second_factor_form),
        )
        .route(
            "/login/second-factor",
            web::post().to(signin::second_factor),
        )
        .route("/login/enrol", web::get().to(signin::enrol_form))
        .route("/login/enrol", web::post().to(signin::enrol))
        .route("/logout", web::post().to(signin::logout))
        .route("/lang", web::post().to(signin::set_lang))
        .route("/account", web::get().to(account::show))
        .route("/account/password", web::get().to(account::password_form))
        .route(
            "/account/password",
            web::post().to(account::change_password),
        )
        .route("/account/tokens", web::post().to(account::create_token))
        .route(
            "/account/tokens/{id}/revoke",
            web::post().to(account::revoke_token),
        )
        .route("/account/totp", web::get().to(account::totp_form))
        .route("/account/totp", web::post().to(account::totp_enrol))
        .route("/directory", web::get().to(home::directory))
        .route("/static/{name}", web::get().to(studies::static_file))
        .route("/studies", web::get().to(studies::list))
        .route("/studies/upload", web::get().to(upload::form))
        .route("/studies/upload", web::post().to(upload::upload))
        .route("/studies/{id}", web::get().to(studies::show))
        .configure(dicomweb::routes)
        .configure(admin::routes)
        .configure(pricing::routes)
        .configure(body_parts::routes)
        .configure(requests::routes)
        .configure(reports::routes)
        .configure(send::routes)
        .configure(viewer::routes)
        .configure(worklist::routes)
        .route("/facility/users", web::get().to(facility_users::list))
        .route("/facility/users", web::post().to(facility_users::create))
        .route(
            "/facility/users/new",
            web::get().to(facility_users::new_form),
        )
        .route(
            "/facility/users/{id}",
            web::get().to(facility_users::edit_form),
        )
        .route(
            "/facility/users/{id}",
            web::post().to(facility_users::update),
        )
        .route(
            "/facility/users/{id}/active",
            web::post().to(facility_users::set_active),
        )
        .route(
            "/facility/users/{id}/reset",
            web::post().to(facility_users::reset),
        )
        .route("/facility/dicom-nodes", web::get().to(facility_nodes::list))
        .route(
            "/facility/dicom-nodes",
            web::post().to(facility_nodes::create),
        )
        .route(
            "/facility/dicom-nodes/new",
            web::get().to(facility_nodes::new_form),
        )
        .route(
            "/facility/dicom-nodes/{id}",
            web::get().to(facility_nodes::edit_form),
        )
        .route(
            "/facility/dicom-nodes/{id}",
            web::post().to(facility_nodes::update),
        )
        .route(
            "/facility/dicom-nodes/{id}/delete",
            web::post().to(facility_nodes::delete),
        )
        .route(
            "/facility/service-accounts",
            web::get().to(facility_services::list),
        )
        .route(
            "/facility/service-accounts",
            web::post().to(facility_services::create),
        )
        .route(
            "/facility/service-accounts/{id}/tokens",
            web::post().to(facility_services::issue_token),
        )
        .route(
            "/facility/tokens/{id}/revoke",
            web::post().to(facility_services::revoke_token),
        )
        .route("/audit", web::get().to(audit_view::list))
        .route("/audit/export.csv", web::get().to(audit_view::export));
}
