//! The one error type of the `shared` crate. The web layer maps it to HTTP at its edge.

use crate::validation::FieldErrors;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input that fails validation; each entry names the field and the reason.
    #[error("invalid input: {0}")]
    Validation(FieldErrors),
    /// The object does not exist or is not visible to the caller (both look the same).
    #[error("not found")]
    NotFound,
    /// The action is not allowed in the object's current state (e.g. admitting an active
    /// facility); the message is a translation key.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("configuration: {0}")]
    Config(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database connection: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Error::Unavailable(format!("database pool: {e}"))
    }
}

impl From<FieldErrors> for Error {
    fn from(e: FieldErrors) -> Self {
        Error::Validation(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps "no row" to `NotFound`, leaving other database errors alone.
pub trait OptionalExt<T> {
    fn found(self) -> Result<T>;
}

impl<T> OptionalExt<T> for std::result::Result<T, diesel::result::Error> {
    fn found(self) -> Result<T> {
        match self {
            Ok(v) => Ok(v),
            Err(diesel::result::Error::NotFound) => Err(Error::NotFound),
            Err(e) => Err(Error::Db(e)),
        }
    }
}
