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
