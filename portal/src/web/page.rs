//! What every page template gets: language and translations, the CSRF token, the
//! navigation for the viewer's roles, banners, and a one-shot notice.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::HttpResponse;
use askama::Template;
use shared::auth::Principal;
use shared::domain::Role;
use shared::validation::FieldErrors;

use crate::i18n::{Lang, Messages};
use crate::state::AppState;
use crate::web::error::WebResult;
use crate::web::session::{RequestCtx, SignedIn};

pub struct NavItem {
    pub href: &'static str,
    pub key: &'static str,
    pub current: bool,
}

pub struct Page {
    pub lang: Lang,
    pub title_key: &'static str,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub user: Option<Principal>,
    pub demo: bool,
    pub second_factor_off: bool,
    pub notice: Option<&'static str>,
    /// The current path (the language switch returns here).
    pub path: String,
    messages: Arc<Messages>,
}

/// The navigation: each role sees only what it may use.
pub fn nav_for(p: &Principal, path: &str) -> Vec<NavItem> {
    let mut items: Vec<(&'static str, &'static str)> = vec![("/", "nav.home")];
    if p.is_requester() && p.facility_is_requesting {
        items.push(("/studies", "study.nav"));
        items.push(("/requests", "nav.requests"));
    }
    if p.is_requester() {
        items.push(("/directory", "nav.directory"));
    }
    if p.has_any(&[Role::Radiologist, Role::Coordinator]) && p.facility_is_supporting {
        items.push(("/worklist", "nav.worklist"));
        items.push(("/facility/report-templates", "nav.report_templates"));
    }
    let sees_images = (p.is_requester() && p.facility_is_requesting)
        || (p.has_any(&[Role::Radiologist, Role::Coordinator]) && p.facility_is_supporting);
    if sees_images {
        items.push(("/sends", "nav.sends"));
    }
    if p.has(Role::Coordinator) && p.facility_is_supporting {
        items.push(("/pricing", "nav.pricing"));
        items.push(("/facility/reading-policy", "nav.reading_policy"));
    }
    if p.has(Role::AssociationAdmin) {
        items.push(("/admin/facilities", "nav.facilities"));
        items.push(("/admin/contracts", "nav.contracts"));
        items.push(("/admin/pricing", "nav.default_pricing"));
        items.push(("/admin/body-parts", "nav.body_parts"));
    }
    if p.has(Role::FacilityAdmin) {
        items.push(("/facility/users", "nav.facility_users"));
        items.push(("/facility/dicom-nodes", "nav.dicom_nodes"));
        items.push(("/facility/service-accounts", "nav.service_accounts"));
    }
    if p.has_any(&[Role::Auditor, Role::AssociationAdmin]) {
        items.push(("/audit", "nav.audit"));
    }
    items.push(("/account", "nav.account"));
    items
        .into_iter()
        .map(|(href, key)| NavItem {
            href,
            key,
            current: if href == "/" {
                path == "/"
            } else {
                path.starts_with(href)
            },
        })
        .collect()
}

/// Notices that may be named in a `?notice=` query (anything else is ignored).
const NOTICES: &[&str] = &[
    "flash.saved",
    "flash.created",
    "flash.deleted",
    "flash.status_changed",
    "flash.password_changed",
    "flash.token_revoked",
    "flash.signed_out",
    "flash.credentials_reset",
    "flash.session_ended",
    "flash.request_filed",
    "flash.request_cancelled",
    "flash.request_not_cancelled",
    "flash.worklist_claimed",
    "flash.worklist_released",
    "flash.worklist_assigned",
    "flash.worklist_auto_assigned",
    "worklist.err_taken",
    "worklist.err_assigned_other",
    "worklist.err_not_live",
    "worklist.err_not_assigned",
    "worklist.err_started",
    "worklist.err_changed",
];

impl Page {
    pub fn new(state: &AppState, ctx: &RequestCtx, title_key: &'static str) -> Page {
        let user = ctx.principal.clone();
        Page {
            lang: ctx.lang,
            title_key,
            csrf: ctx.csrf_token(),
            nav: user
                .as_ref()
                .map(|p| nav_for(p, &ctx.path))
                .unwrap_or_default(),
            user,
            demo: state.settings.demo,
            second_factor_off: !state.settings.auth.require_second_factor,
            notice: None,
            path: ctx.path.clone(),
            messages: state.messages.clone(),
        }
    }

    pub fn for_user(state: &AppState, me: &SignedIn, title_key: &'static str) -> Page {
        Page::new(state, &me.ctx, title_key)
    }

    /// Shows a whitelisted notice (from a `?notice=` query after a redirect).
    pub fn with_notice(mut self, notice: Option<&str>) -> Page {
        self.notice = notice.and_then(|n| NOTICES.iter().copied().find(|k| *k == n));
        self
    }

    /// Translates a key.
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.messages.get(self.lang, key)
    }

    /// The translated error for a form field, if any.
    pub fn err(&self, errors: &FieldErrors, field: &str) -> Option<&str> {
        errors.get(field).map(|k| self.messages.get(self.lang, k))
    }

    pub fn role_name(&self, role: &Role) -> &str {
        self.messages.get(self.lang, role_key(*role))
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn title(&self) -> &str {
        self.t(self.title_key)
    }

    /// Formats a UTC timestamp for display (Japan time, as users read it).
    pub fn time(&self, t: &chrono::NaiveDateTime) -> String {
        let jst = *t + chrono::Duration::hours(9);
        jst.format("%Y-%m-%d %H:%M").to_string()
    }

    pub fn opt_time(&self, t: &Option<chrono::NaiveDateTime>) -> String {
        t.as_ref()
            .map(|t| self.time(t))
            .unwrap_or_else(|| "—".into())
    }
}

pub fn role_key(r: Role) -> &'static str {
    match r {
        Role::Physician => "role.physician",
        Role::Radiographer => "role.radiographer",
        Role::Radiologist => "role.radiologist",
        Role::Coordinator => "role.coordinator",
        Role::FacilityAdmin => "role.facility_admin",
        Role::AssociationAdmin => "role.association_admin",
        Role::Auditor => "role.auditor",
    }
}

/// Renders a template as an HTML page that caches nowhere (pages can carry personal data).
pub fn render<T: Template>(t: &T) -> WebResult {
    let body = t.render()?;
    Ok(html(actix_web::http::StatusCode::OK, body))
}

/// Renders a form again with its errors (HTTP 422), so the reason shows next to the field.
pub fn render_invalid<T: Template>(t: &T) -> WebResult {
    let body = t.render()?;
    Ok(html(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        body,
    ))
}

fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// 303 to `to` (after a successful POST).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}
