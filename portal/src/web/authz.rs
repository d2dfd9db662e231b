//! The web side of authorisation: a denied check becomes a 404 and an audit event.

use shared::audit::{Event, Outcome};
use shared::auth::Denied;

use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::SignedIn;

/// Passes `check` through; on denial writes an audit event (`action`, with the object asked
/// for) and answers 404, so that guessing ids reveals nothing.
pub async fn allow(
    state: &AppState,
    me: &SignedIn,
    check: Result<(), Denied>,
    action: &'static str,
    object: Option<(&'static str, String)>,
) -> Result<(), WebError> {
    if check.is_ok() {
        return Ok(());
    }
    deny(state, me, action, object).await
}

/// Records a denial and answers 404.
pub async fn deny(
    state: &AppState,
    me: &SignedIn,
    action: &'static str,
    object: Option<(&'static str, String)>,
) -> Result<(), WebError> {
    let ctx = me.audit_ctx();
    let mut ev = Event::new(action, Outcome::Denied);
    if let Some((kind, id)) = object {
        ev = ev.object(kind, id);
    }
    ev = ev.detail(serde_json::json!({ "path": me.ctx.path }));
    state
        .db(move |c| shared::audit::record_now(c, &ctx, ev))
        .await?;
    Err(WebError::NotFound)
}

/// Maps a domain `NotFound` (e.g. an object of another facility) to a denial with an audit
/// event; passes other results through.
pub async fn found<T>(
    state: &AppState,
    me: &SignedIn,
    r: Result<T, WebError>,
    action: &'static str,
    object: (&'static str, String),
) -> Result<T, WebError> {
    match r {
        Err(WebError::NotFound) => {
            deny(state, me, action, Some(object)).await?;
            Err(WebError::NotFound)
        }
        other => other,
    }
}

/// A path parameter that does not parse (`/studies/abc`, `/api/v1/requests/x`) is a
/// guessed id like any other: 404, and a denial in the audit trail — with the caller when
/// the session or token identifies one, else with the address only. The audit event is
/// written just after the answer (the extractor's error hook cannot wait for the database).
pub fn path_error(
    err: actix_web::error::PathError,
    req: &actix_web::HttpRequest,
) -> actix_web::Error {
    tracing::debug!(error = %err, path = req.path(), "path parameter refused");
    let api = req.path().starts_with("/api/");
    let r = req.clone();
    actix_web::rt::spawn(async move { audit_bad_path(r, api).await });
    if api {
        crate::api::error::ApiError::NotFound.into()
    } else {
        WebError::NotFound.into()
    }
}

async fn audit_bad_path(req: actix_web::HttpRequest, api: bool) {
    use actix_web::FromRequest;
    let Some(state) = req.app_data::<actix_web::web::Data<AppState>>().cloned() else {
        return;
    };
    let mut ctx = if api {
        crate::api::auth::ApiCaller::extract(&req)
            .await
            .ok()
            .map(|c| c.audit_ctx())
    } else {
        SignedIn::extract(&req).await.ok().map(|me| me.audit_ctx())
    }
    .unwrap_or_default();
    if ctx.source.is_empty() {
        ctx.source = crate::web::session::source_of(&req);
    }
    let ev = Event::new("request.path_invalid", Outcome::Denied)
        .detail(serde_json::json!({ "path": req.path() }));
    if let Err(e) = state
        .db(move |c| shared::audit::record_now(c, &ctx, ev))
        .await
    {
        tracing::error!(error = %e, "could not audit a refused path");
    }
}
