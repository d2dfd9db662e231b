//! Who is asking: the session cookie (server-side session) or nothing. The request context
//! is loaded once per request and cached; `SignedIn` is the extractor screens use — it turns
//! anyone not fully signed in away, and sends people who must change their password there
//! first.

use std::rc::Rc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use shared::auth::sessions::{self, Session, Stage};
use shared::auth::Principal;

use crate::i18n::Lang;
use crate::state::AppState;
use crate::web::error::WebError;

pub const LANG_COOKIE: &str = "enkaku_lang";

/// Cookie names: `__Host-` prefixed when served over TLS.
pub fn session_cookie_name(state: &AppState) -> &'static str {
    if state.settings.https() {
        "__Host-enkaku_session"
    } else {
        "enkaku_session"
    }
}

pub fn csrf_cookie_name(state: &AppState) -> &'static str {
    if state.settings.https() {
        "__Host-enkaku_csrf"
    } else {
        "enkaku_csrf"
    }
}

/// A cookie with the flags the security bar asks for: HttpOnly, SameSite=Lax, Path=/, and
/// Secure whenever the public URL is https.
pub fn secure_cookie<'a>(state: &AppState, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.https())
        .finish()
}

pub fn removal_cookie<'a>(state: &AppState, name: &'a str) -> Cookie<'a> {
    let mut c = secure_cookie(state, name, String::new());
    c.make_removal();
    c
}

/// The client address as seen by this server (the audit trail's "from where").
pub fn source_of(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Everything about the caller, loaded once per request.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    pub lang: Lang,
    pub source: String,
    pub session: Option<Session>,
    /// Set only for a fully signed-in session whose account and facility are active.
    pub principal: Option<Principal>,
    /// The anonymous double-submit CSRF cookie (sign-in form).
    pub anon_csrf: Option<String>,
    pub path: String,
}

impl RequestCtx {
    /// The CSRF token forms on this page must carry.
    pub fn csrf_token(&self) -> String {
        match &self.session {
            Some(s) => s.csrf_token.clone(),
            None => self.anon_csrf.clone().unwrap_or_default(),
        }
    }

    pub fn stage(&self) -> Option<Stage> {
        self.session.as_ref().and_then(Session::stage)
    }
}

async fn load_ctx(req: &HttpRequest) -> Result<Rc<RequestCtx>, WebError> {
    if let Some(c) = req.extensions().get::<Rc<RequestCtx>>() {
        return Ok(c.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| WebError::Internal("app state missing".into()))?
        .clone();
    let cookie = req
        .cookie(session_cookie_name(&state))
        .map(|c| c.value().to_owned());
    let (session, principal) = match cookie {
        Some(value) => {
            let now = state.clock.now();
            let t = state.timeouts();
            state
                .db(move |c| {
                    let Some(s) = sessions::load(c, &value, now, t)? else {
                        return Ok((None, None));
                    };
                    if s.stage() != Some(Stage::Active) {
                        return Ok((Some(s), None));
                    }
                    match Principal::load(c, s.user_id)? {
                        Some(p) => Ok((Some(s), Some(p))),
                        None => {
                            // Account disabled or facility suspended: the session ends now.
                            sessions::destroy(c, &value)?;
                            Ok((None, None))
                        }
                    }
                })
                .await?
        }
        None => (None, None),
    };
    let lang = session
        .as_ref()
        .and_then(|s| Lang::parse(&s.lang))
        .or_else(|| req.cookie(LANG_COOKIE).and_then(|c| Lang::parse(c.value())))
        .unwrap_or_default();
    let ctx = Rc::new(RequestCtx {
        lang,
        source: source_of(req),
        session,
        principal,
        anon_csrf: req
            .cookie(csrf_cookie_name(&state))
            .map(|c| c.value().to_owned())
            .filter(|v| v.len() >= 20 && v.len() <= 64),
        path: req.path().to_owned(),
    });
    req.extensions_mut().insert(ctx.clone());
    Ok(ctx)
}

/// Any caller, signed in or not.
pub struct Viewer(pub Rc<RequestCtx>);

impl FromRequest for Viewer {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Viewer(load_ctx(&req).await?)) })
    }
}

/// A fully signed-in person (password + second factor), active account, active facility.
pub struct SignedIn {
    pub ctx: Rc<RequestCtx>,
    pub principal: Principal,
}

impl SignedIn {
    pub fn audit_ctx(&self) -> shared::audit::Ctx {
        self.principal.ctx(&self.ctx.source)
    }
}

impl FromRequest for SignedIn {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ctx = load_ctx(&req).await?;
            let Some(principal) = ctx.principal.clone() else {
                return Err(WebError::SignIn);
            };
            let path = req.path();
            if principal.must_change_password
                && path != "/account/password"
                && path != "/logout"
                && path != "/lang"
            {
                return Err(WebError::Redirect("/account/password".into()));
            }
            Ok(SignedIn { ctx, principal })
        })
    }
}

/// A session half-way through sign-in (second factor or enrolment pending).
pub struct PendingSignIn {
    pub ctx: Rc<RequestCtx>,
    pub session: Session,
}

impl FromRequest for PendingSignIn {
    type Error = WebError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ctx = load_ctx(&req).await?;
            match &ctx.session {
                Some(s) if s.stage() != Some(Stage::Active) => Ok(PendingSignIn {
                    session: s.clone(),
                    ctx: ctx.clone(),
                }),
                _ => Err(WebError::SignIn),
            }
        })
    }
}
