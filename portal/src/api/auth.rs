//! Who is calling the API: a bearer token (personal or service account) or the browser
//! session. `ApiCaller` is the extractor every API handler takes.

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use shared::audit::{Event, Outcome};
use shared::auth::{tokens, Denied, Principal};

use crate::api::error::ApiError;
use crate::state::AppState;
use crate::web::session::{source_of, Viewer};

pub struct ApiCaller {
    pub principal: Principal,
    pub source: String,
}

impl ApiCaller {
    pub fn audit_ctx(&self) -> shared::audit::Ctx {
        self.principal.ctx(&self.source)
    }

    /// Passes `check`; on denial records an audit event and answers 404.
    pub async fn allow(
        &self,
        state: &AppState,
        check: Result<(), Denied>,
        action: &'static str,
        object: Option<(&'static str, String)>,
    ) -> Result<(), ApiError> {
        if check.is_ok() {
            return Ok(());
        }
        self.deny(state, action, object).await
    }

    pub async fn deny(
        &self,
        state: &AppState,
        action: &'static str,
        object: Option<(&'static str, String)>,
    ) -> Result<(), ApiError> {
        let ctx = self.audit_ctx();
        let mut ev = Event::new(action, Outcome::Denied).detail(serde_json::json!({"via": "api"}));
        if let Some((k, id)) = object {
            ev = ev.object(k, id);
        }
        state
            .db(move |c| shared::audit::record_now(c, &ctx, ev))
            .await?;
        Err(ApiError::NotFound)
    }
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::Internal("app state missing".into()))?
                .clone();
            let source = source_of(&req);
            if let Some(h) = req.headers().get(header::AUTHORIZATION) {
                let secret = h
                    .to_str()
                    .ok()
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(|s| s.trim().to_owned())
                    .ok_or(ApiError::Unauthorized)?;
                let now = state.clock.now();
                let src = source.clone();
                let principal = state
                    .db(move |c| {
                        let Some(t) = tokens::authenticate(c, &secret, now)? else {
                            shared::audit::record_now(
                                c,
                                &shared::audit::Ctx { source: src, ..Default::default() },
                                Event::new("api.authenticate", Outcome::Failure)
                                    .detail(serde_json::json!({"reason": "unknown, expired or revoked token"})),
                            )?;
                            return Ok(None);
                        };
                        let p = Principal::load(c, t.user_id)?;
                        Ok(p.map(|mut p| {
                            p.token_id = Some(t.id);
                            p
                        }))
                    })
                    .await?;
                return principal
                    .map(|principal| ApiCaller { principal, source })
                    .ok_or(ApiError::Unauthorized);
            }
            // The browser session (the web viewer and screens call the API too).
            let Viewer(ctx) = Viewer::from_request(&req, &mut Payload::None)
                .await
                .map_err(ApiError::from)?;
            let principal = ctx.principal.clone().ok_or(ApiError::Unauthorized)?;
            if req.method() != Method::GET && req.method() != Method::HEAD {
                let sent = req
                    .headers()
                    .get("X-CSRF-Token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !crate::web::csrf::origin_ok(&req, &state)
                    || !shared::auth::constant_time_eq(sent, &ctx.csrf_token())
                {
                    return Err(ApiError::Csrf);
                }
            }
            Ok(ApiCaller { principal, source })
        })
    }
}
