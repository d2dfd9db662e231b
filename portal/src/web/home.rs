//! Home: what the signed-in person can do, by role; the health check; static assets.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use shared::membership::contracts::{self, DirectoryEntry};

use crate::state::AppState;
use crate::web::authz;
use crate::web::error::WebResult;
use crate::web::page::{render, Page};
use crate::web::session::{SignedIn, Viewer};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: Page,
}

#[derive(Deserialize)]
pub struct Q {
    notice: Option<String>,
}

pub async fn home(state: web::Data<AppState>, v: Viewer) -> WebResult {
    let Some(principal) = v.0.principal.clone() else {
        return Ok(crate::web::page::see_other("/login"));
    };
    if principal.must_change_password {
        return Ok(crate::web::page::see_other("/account/password"));
    }
    let me = SignedIn {
        principal,
        ctx: v.0.clone(),
    };
    render(&HomePage {
        page: Page::for_user(&state, &me, "title.home"),
    })
}

#[derive(Template)]
#[template(path = "directory.html")]
struct DirectoryPage {
    page: Page,
    entries: Vec<DirectoryEntry>,
}

/// The supporting facilities the requester's facility may send to today.
pub async fn directory(state: web::Data<AppState>, me: SignedIn, q: web::Query<Q>) -> WebResult {
    let ok = if me.principal.is_requester() {
        Ok(())
    } else {
        Err(shared::auth::Denied)
    };
    authz::allow(&state, &me, ok, "directory.view", None).await?;
    let fid = me.principal.facility_id;
    // Contracts run by the day in Japan.
    let today = radvision::core::calendar::to_jst(state.clock.now()).date();
    let entries = state
        .db(move |c| contracts::directory(c, fid, today))
        .await?;
    render(&DirectoryPage {
        page: Page::for_user(&state, &me, "title.directory").with_notice(q.notice.as_deref()),
        entries,
    })
}

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let ok = state.db(shared::db::backend::ping).await.is_ok();
    let body = serde_json::json!({ "status": if ok { "ok" } else { "database unavailable" } });
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

const APP_CSS: &str = include_str!("../../../templates/static/app.css");

pub async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(APP_CSS)
}
