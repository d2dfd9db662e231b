//! Errors at the HTTP edge. Not found and not allowed look the same (404); validation
//! errors are rendered by the screen that owns the form; anything else is an opaque 500 with
//! the cause in the log.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    /// Not signed in (or the session ended): go to the sign-in page.
    #[error("sign-in required")]
    SignIn,
    #[error("redirect to {0}")]
    Redirect(String),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The CSRF token or Origin did not match.
    #[error("csrf check failed")]
    Csrf,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("validation: {0}")]
    Validation(shared::validation::FieldErrors),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<shared::Error> for WebError {
    fn from(e: shared::Error) -> Self {
        use shared::Error as E;
        match e {
            E::NotFound => WebError::NotFound,
            E::Validation(v) => WebError::Validation(v),
            E::Conflict(m) => WebError::Conflict(m),
            E::Unavailable(m) => WebError::Unavailable(m),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("template: {e}"))
    }
}

pub type WebResult = Result<HttpResponse, WebError>;

/// A bilingual page for errors that happen before a page context exists.
fn plain_page(status: StatusCode, ja: &str, en: &str) -> HttpResponse {
    let body = format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{status}</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"narrow\">\
         <h1>{}</h1><p>{ja}</p><p lang=\"en\">{en}</p><p><a href=\"/\">ホーム / Home</a></p>\
         </main></body></html>",
        status.as_u16()
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::SignIn | WebError::Redirect(_) => StatusCode::SEE_OTHER,
            WebError::BadRequest(_) | WebError::Validation(_) => StatusCode::BAD_REQUEST,
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::SignIn => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish(),
            WebError::Redirect(to) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to.as_str()))
                .finish(),
            WebError::NotFound => plain_page(
                StatusCode::NOT_FOUND,
                "お探しのページは見つかりません。",
                "The page was not found.",
            ),
            WebError::BadRequest(_) | WebError::Validation(_) => plain_page(
                StatusCode::BAD_REQUEST,
                "入力内容を確認してください。",
                "Please check what you entered.",
            ),
            WebError::Csrf => plain_page(
                StatusCode::FORBIDDEN,
                "フォームの有効期限が切れました。ページを再読み込みしてやり直してください。",
                "The form expired. Reload the page and try again.",
            ),
            WebError::Conflict(_) => plain_page(
                StatusCode::CONFLICT,
                "現在の状態ではこの操作はできません。",
                "This action is not possible in the current state.",
            ),
            WebError::Unavailable(cause) => {
                tracing::error!(%cause, "service unavailable");
                plain_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "一時的に利用できません。しばらくしてからやり直してください。",
                    "Temporarily unavailable. Please try again later.",
                )
            }
            WebError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                plain_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "内部エラーが発生しました。",
                    "An internal error occurred.",
                )
            }
        }
    }
}
