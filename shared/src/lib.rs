//! `shared`: Enkaku's domain and its persistence, used by both applications.
//!
//! - [`access`]: who may see a study (the one relation every image route calls)
//! - [`domain`]: validated value types (AE titles, roles, modalities, e-mail lists, …)
//! - [`db`]: the diesel schema, the SQLite/PostgreSQL connection, migrations
//! - [`index`], [`imaging`]: the image index and the imaging attributes it keeps
//! - [`membership`]: facilities, users, contracts, DICOM nodes
//! - [`auth`]: passwords, TOTP, sessions, API tokens, the principal and its checks
//! - [`audit`]: the hash-chained audit trail
//! - [`reading`]: body parts, price tables, reading policies, read requests
//! - [`outbox`]: side effects (mail, DICOM sends) written with their cause, delivered by a worker
//! - [`sends`]: sending a study to one of the facility's own DICOM nodes (its progress)
//! - [`settings`]: the typed configuration
//!
//! Nothing here knows HTTP.

pub mod access;
pub mod audit;
pub mod auth;
pub mod db;
pub mod domain;
pub mod error;
pub mod imaging;
pub mod index;
pub mod index_retrieve;
pub mod index_search;
pub mod membership;
pub mod outbox;
pub mod reading;
pub mod sends;
pub mod serde_util;
pub mod settings;
pub mod validation;

pub use error::{Error, Result};
