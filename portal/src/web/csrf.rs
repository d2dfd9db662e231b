//! Every state-changing form goes through `CsrfForm<T>`: the Origin (or Referer) must be the
//! platform's own, and the form's `csrf_token` must match the session's (or, before sign-in,
//! the double-submit cookie). Only then is the body parsed, with repeated fields allowed.

use actix_web::dev::Payload;
use actix_web::{http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::Viewer;

pub const FORM_LIMIT: usize = 256 * 1024;

/// True when the request's Origin (or, lacking it, Referer) is the configured public
/// origin.
pub fn origin_ok(req: &HttpRequest, state: &AppState) -> bool {
    let expected = state.settings.public_origin();
    if let Some(o) = req.headers().get(header::ORIGIN) {
        return o.to_str().is_ok_and(|o| o == expected);
    }
    if let Some(r) = req.headers().get(header::REFERER) {
        return r
            .to_str()
            .is_ok_and(|r| r == expected || r.starts_with(&format!("{expected}/")));
    }
    false
}

pub struct CsrfForm<T>(pub T);

#[derive(serde::Deserialize)]
struct TokenOnly {
    #[serde(default)]
    csrf_token: String,
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| WebError::Internal("app state missing".into()))?
                .clone();
            if !origin_ok(&req, &state) {
                tracing::warn!(path = req.path(), "form refused: origin check failed");
                return Err(WebError::Csrf);
            }
            let ct = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !ct.starts_with("application/x-www-form-urlencoded") {
                return Err(WebError::BadRequest("form encoding"));
            }
            let body = body.await.map_err(|_| WebError::BadRequest("body"))?;
            if body.len() > FORM_LIMIT {
                return Err(WebError::BadRequest("too large"));
            }
            let Viewer(ctx) = Viewer::from_request(&req, &mut Payload::None).await?;
            let token: TokenOnly =
                serde_html_form::from_bytes(&body).map_err(|_| WebError::BadRequest("form"))?;
            let expected = ctx.csrf_token();
            if expected.is_empty() || !shared::auth::constant_time_eq(&token.csrf_token, &expected)
            {
                tracing::warn!(path = req.path(), "form refused: csrf token mismatch");
                return Err(WebError::Csrf);
            }
            let value: T =
                serde_html_form::from_bytes(&body).map_err(|_| WebError::BadRequest("form"))?;
            Ok(CsrfForm(value))
        })
    }
}
