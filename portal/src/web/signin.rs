//! Sign-in screens: password, then the TOTP code (or enrolment with a QR code and recovery
//! codes the first time), then home. The session id changes at every step. Sign-out destroys
//! the session on the server.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use shared::audit::{Event, Outcome};
use shared::auth::sessions::{self, Stage};
use shared::auth::signin::{self, PasswordStep};
use shared::membership::users;

use crate::state::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::{
    csrf_cookie_name, removal_cookie, secure_cookie, session_cookie_name, PendingSignIn, SignedIn,
    Viewer,
};

#[derive(Template)]
#[template(path = "signin/login.html")]
struct LoginPage {
    page: Page,
    username: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "signin/second_factor.html")]
struct SecondFactorPage {
    page: Page,
    failed: bool,
}

#[derive(Template)]
#[template(path = "signin/enrol.html")]
pub struct EnrolPage {
    pub page: Page,
    pub secret: String,
    pub qr_png_base64: String,
    pub otpauth_url: String,
    pub failed: bool,
    pub action: &'static str,
}

#[derive(Template)]
#[template(path = "signin/recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub page: Page,
    pub codes: Vec<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

pub async fn login_form(
    state: web::Data<AppState>,
    v: Viewer,
    q: web::Query<NoticeQuery>,
) -> WebResult {
    if v.0.principal.is_some() {
        return Ok(see_other("/"));
    }
    let mut page = Page::new(&state, &v.0, "title.login").with_notice(q.notice.as_deref());
    let mut new_cookie = None;
    if v.0.anon_csrf.is_none() {
        let token = shared::auth::random_token(24);
        page.csrf = token.clone();
        new_cookie = Some(token);
    }
    let mut resp = render(&LoginPage {
        page,
        username: String::new(),
        failed: false,
    })?;
    if let Some(token) = new_cookie {
        resp.add_cookie(&secure_cookie(&state, csrf_cookie_name(&state), token))
            .map_err(|e| WebError::Internal(e.to_string()))?;
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn set_session(resp: &mut HttpResponse, state: &AppState, cookie: String) -> Result<(), WebError> {
    resp.add_cookie(&secure_cookie(state, session_cookie_name(state), cookie))
        .map_err(|e| WebError::Internal(e.to_string()))
}

pub async fn login(state: web::Data<AppState>, v: Viewer, form: CsrfForm<LoginForm>) -> WebResult {
    let form = form.0;
    let settings = state.settings.clone();
    let source = v.0.source.clone();
    let (username, password) = (form.username.clone(), form.password);
    let old = v.0.session.as_ref().map(|s| s.id_hash.clone());
    let now = state.clock.now();
    let t = state.timeouts();
    let lang = v.0.lang.code();
    let step = state
        .db(move |c| {
            let step = signin::password_step(c, &settings.auth, &username, &password, &source)?;
            // Whatever happens, a session from before this attempt ends.
            if let Some(h) = old {
                sessions::destroy_by_hash(c, &h)?;
            }
            let (stage, user_id) = match step {
                PasswordStep::Failed => return Ok(None),
                PasswordStep::SecondFactor { user_id } => (Stage::SecondFactor, user_id),
                PasswordStep::Enrol { user_id } => (Stage::Enrol, user_id),
                PasswordStep::SignedIn { user_id } => (Stage::Active, user_id),
            };
            let (cookie, _) = sessions::create(c, user_id, stage, lang, &source, now, t)?;
            Ok(Some((stage, cookie)))
        })
        .await?;
    match step {
        None => {
            let page = Page::new(&state, &v.0, "title.login");
            render_invalid(&LoginPage {
                page,
                username: form.username,
                failed: true,
            })
        }
        Some((stage, cookie)) => {
            let to = match stage {
                Stage::SecondFactor => "/login/second-factor",
                Stage::Enrol => "/login/enrol",
                Stage::Active => "/",
            };
            let mut resp = see_other(to);
            set_session(&mut resp, &state, cookie)?;
            Ok(resp)
        }
    }
}

pub async fn second_factor_form(state: web::Data<AppState>, p: PendingSignIn) -> WebResult {
    if p.session.stage() != Some(Stage::SecondFactor) {
        return Ok(see_other("/login/enrol"));
    }
    render(&SecondFactorPage {
        page: Page::new(&state, &p.ctx, "title.second_factor"),
        failed: false,
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

impl CodeForm {
    pub fn code_value(&self) -> String {
        self.code.clone()
    }
}

pub async fn second_factor(
    state: web::Data<AppState>,
    p: PendingSignIn,
    form: CsrfForm<CodeForm>,
) -> WebResult {
    if p.session.stage() != Some(Stage::SecondFactor) {
        return Err(WebError::SignIn);
    }
    let settings = state.settings.clone();
    let session = p.session.clone();
    let source = p.ctx.source.clone();
    let (now, unix, t) = (state.clock.now(), state.clock.unix(), state.timeouts());
    let cookie = state
        .db(move |c| {
            if !signin::second_factor_step(
                c,
                &settings.auth,
                session.user_id,
                &form.0.code,
                &source,
                unix,
            )? {
                return Ok(None);
            }
            let (cookie, _) = sessions::advance(c, &session, Stage::Active, &source, now, t)?;
            Ok(Some(cookie))
        })
        .await?;
    match cookie {
        Some(cookie) => {
            let mut resp = see_other("/");
            set_session(&mut resp, &state, cookie)?;
            Ok(resp)
        }
        None => render_invalid(&SecondFactorPage {
            page: Page::new(&state, &p.ctx, "title.second_factor"),
            failed: true,
        }),
    }
}

/// The enrolment page for `user_id`: reuses a pending secret so that a failed code does not
/// invalidate the one the user just scanned.
pub async fn enrol_page(
    state: &AppState,
    page: Page,
    user_id: i64,
    failed: bool,
    action: &'static str,
) -> WebResult {
    let issuer = state.settings.auth.totp_issuer.clone();
    let (secret, username) = state
        .db(move |c| {
            let u = users::get(c, user_id)?;
            let secret = match (&u.user.totp_secret, u.user.totp_enabled) {
                (Some(s), false) => s.clone(),
                _ => signin::begin_enrolment(c, user_id)?,
            };
            Ok((secret, u.user.username))
        })
        .await?;
    let (url, png) = shared::auth::totp::enrolment(&secret, &issuer, &username)?;
    let p = EnrolPage {
        page,
        secret,
        qr_png_base64: png,
        otpauth_url: url,
        failed,
        action,
    };
    if failed {
        render_invalid(&p)
    } else {
        render(&p)
    }
}

pub async fn enrol_form(state: web::Data<AppState>, p: PendingSignIn) -> WebResult {
    if p.session.stage() != Some(Stage::Enrol) {
        return Ok(see_other("/login/second-factor"));
    }
    let page = Page::new(&state, &p.ctx, "title.enrol");
    enrol_page(&state, page, p.session.user_id, false, "/login/enrol").await
}

pub async fn enrol(
    state: web::Data<AppState>,
    p: PendingSignIn,
    form: CsrfForm<CodeForm>,
) -> WebResult {
    if p.session.stage() != Some(Stage::Enrol) {
        return Err(WebError::SignIn);
    }
    let session = p.session.clone();
    let source = p.ctx.source.clone();
    let (now, unix, t) = (state.clock.now(), state.clock.unix(), state.timeouts());
    let result = state
        .db(move |c| {
            let Some(codes) =
                signin::finish_enrolment(c, session.user_id, &form.0.code, &source, unix)?
            else {
                return Ok(None);
            };
            let (cookie, _) = sessions::advance(c, &session, Stage::Active, &source, now, t)?;
            Ok(Some((codes, cookie)))
        })
        .await?;
    match result {
        None => {
            let page = Page::new(&state, &p.ctx, "title.enrol");
            enrol_page(&state, page, p.session.user_id, true, "/login/enrol").await
        }
        Some((codes, cookie)) => {
            let mut page = Page::new(&state, &p.ctx, "title.recovery_codes");
            page.csrf.clear();
            let mut resp = render(&RecoveryCodesPage { page, codes })?;
            set_session(&mut resp, &state, cookie)?;
            Ok(resp)
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(state: web::Data<AppState>, v: Viewer, _f: CsrfForm<Empty>) -> WebResult {
    if let Some(s) = v.0.session.clone() {
        let ctx = match &v.0.principal {
            Some(p) => p.ctx(&v.0.source),
            None => shared::audit::Ctx {
                source: v.0.source.clone(),
                ..Default::default()
            },
        };
        state
            .db(move |c| {
                sessions::destroy_by_hash(c, &s.id_hash)?;
                shared::audit::record_now(c, &ctx, Event::new("auth.sign_out", Outcome::Success))?;
                Ok(())
            })
            .await?;
    }
    let mut resp = see_other("/login?notice=flash.signed_out");
    resp.add_cookie(&removal_cookie(&state, session_cookie_name(&state)))
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(resp)
}

#[derive(Deserialize)]
pub struct LangForm {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    back: String,
}

/// Switches the language (cookie, and the session if signed in) and goes back.
pub async fn set_lang(
    state: web::Data<AppState>,
    v: Viewer,
    form: CsrfForm<LangForm>,
) -> WebResult {
    let lang = crate::i18n::Lang::parse(&form.0.lang).ok_or(WebError::BadRequest("lang"))?;
    if let Some(s) = v.0.session.clone() {
        state
            .db(move |c| sessions::set_lang(c, &s.id_hash, lang.code()))
            .await?;
    }
    let back = form.0.back;
    let to =
        if back.starts_with('/') && !back.starts_with("//") && !back.contains(['\r', '\n', '\\']) {
            back
        } else {
            "/".into()
        };
    let mut resp = see_other(&to);
    let mut cookie = secure_cookie(&state, crate::web::session::LANG_COOKIE, lang.code().into());
    cookie.set_max_age(actix_web::cookie::time::Duration::days(365));
    resp.add_cookie(&cookie)
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(resp)
}

/// Shown to a signed-in person: nothing to do here, go home.
pub async fn already_signed_in(_me: SignedIn) -> WebResult {
    Ok(see_other("/"))
}
