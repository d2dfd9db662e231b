//! The account forms that the association's and a facility's administrators share.

use serde::Deserialize;

use crate::web::error::WebError;

/// Enable or disable an account: `active=true|false`.
#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    active: String,
}

impl ActiveForm {
    pub fn value(&self) -> Result<bool, WebError> {
        match self.active.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(WebError::BadRequest("active")),
        }
    }
}

/// A temporary password and, optionally, clearing the second factor.
#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    pub password: String,
    #[serde(default, deserialize_with = "shared::serde_util::checkbox")]
    pub reset_second_factor: bool,
}
