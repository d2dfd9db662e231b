//! The HTML screens: routing, sessions, CSRF, pages, and authorisation at the edge.

pub mod account;
pub mod authz;
pub mod csrf;
pub mod error;
pub mod home;
pub mod page;
pub mod session;
pub mod signin;

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
        .route("/directory", web::get().to(home::directory));
}
