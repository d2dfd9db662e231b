//! API errors as JSON: `{"error": "<code>", "message": "...", "fields": {...}}`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use shared::validation::FieldErrors;

use crate::web::error::WebError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("csrf")]
    Csrf,
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: unauthorized, not_found, bad_request, validation, conflict, forbidden,
    /// unavailable, internal.
    pub error: &'static str,
    pub message: String,
    /// For `validation`: field name → reason code (e.g. `err.required`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
}

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        match e {
            WebError::NotFound => ApiError::NotFound,
            WebError::SignIn => ApiError::Unauthorized,
            WebError::Validation(v) => ApiError::Validation(v),
            WebError::Conflict(m) => ApiError::Conflict(m),
            WebError::Csrf => ApiError::Csrf,
            WebError::BadRequest(m) => ApiError::BadRequest(m.into()),
            WebError::Unavailable(m) => ApiError::Unavailable(m),
            WebError::Redirect(_) => ApiError::Unauthorized,
            WebError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<shared::Error> for ApiError {
    fn from(e: shared::Error) -> Self {
        WebError::from(e).into()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, message) = match self {
            ApiError::Unauthorized => (
                "unauthorized",
                "a valid token or session is required".to_owned(),
            ),
            ApiError::NotFound => ("not_found", "not found".to_owned()),
            ApiError::BadRequest(m) => ("bad_request", m.clone()),
            ApiError::Validation(_) => ("validation", "some fields are invalid".to_owned()),
            ApiError::Conflict(m) => ("conflict", (*m).to_owned()),
            ApiError::Csrf => ("forbidden", "missing or wrong X-CSRF-Token".to_owned()),
            ApiError::Unavailable(cause) => {
                tracing::error!(%cause, "api: unavailable");
                ("unavailable", "temporarily unavailable".to_owned())
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "api: internal error");
                ("internal", "internal error".to_owned())
            }
        };
        let fields = match self {
            ApiError::Validation(v) => v
                .iter()
                .map(|e| (e.field.to_owned(), e.message.to_owned()))
                .collect(),
            _ => Default::default(),
        };
        let mut b = HttpResponse::build(self.status_code());
        b.insert_header((header::CACHE_CONTROL, "no-store"));
        if matches!(self, ApiError::Unauthorized) {
            b.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"enkaku\""));
        }
        b.json(ErrorBody {
            error: code,
            message,
            fields,
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub async fn not_found() -> HttpResponse {
    ApiError::NotFound.error_response()
}

/// Parses a JSON body with a clear 400 on malformed JSON or wrong types.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.len() > crate::web::csrf::FORM_LIMIT {
        return Err(ApiError::BadRequest("body too large".into()));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))
}

/// Like `parse_json`, for bodies that must be a JSON object (serde would otherwise accept an
/// array for a struct).
pub fn parse_json_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let v: serde_json::Value = parse_json(body)?;
    if !v.is_object() {
        return Err(ApiError::BadRequest(
            "invalid JSON: expected an object".into(),
        ));
    }
    serde_json::from_value(v).map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))
}
