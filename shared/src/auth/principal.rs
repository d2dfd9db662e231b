//! The signed-in principal (a person through a session, or a system through an API token)
//! and the role- and facility-based checks that every route makes. Denied by default.

use serde::Serialize;

use crate::audit::{Actor, Ctx};
use crate::db::DbConnection;
use crate::domain::{FacilityKind, Role, UserKind};
use crate::error::{Error, Result};
use crate::membership::users;

#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub user_kind: UserKind,
    pub facility_id: i64,
    pub facility_name: String,
    pub facility_kind: FacilityKind,
    pub facility_is_requesting: bool,
    pub facility_is_supporting: bool,
    pub roles: Vec<Role>,
    pub must_change_password: bool,
    /// The API token this request came with, if any.
    pub token_id: Option<i64>,
}

/// A refused action. The web layer answers 404 (or 403 where the object is not secret) and
/// writes an audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied;

impl From<Denied> for Error {
    fn from(_: Denied) -> Self {
        Error::NotFound
    }
}

impl Principal {
    /// Loads the principal for a user, or `None` when the account is disabled or its
    /// facility is not active (suspended facility or user → nothing).
    pub fn load(conn: &mut DbConnection, user_id: i64) -> Result<Option<Principal>> {
        let u = match users::get(conn, user_id) {
            Ok(u) => u,
            Err(Error::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !u.user.is_active || !u.facility.is_active() || u.roles.is_empty() {
            return Ok(None);
        }
        Ok(Some(Principal {
            user_id: u.user.id,
            username: u.user.username.clone(),
            display_name: u.user.display_name.clone(),
            user_kind: u.user.kind(),
            facility_id: u.facility.id,
            facility_name: u.facility.name.clone(),
            facility_kind: u.facility.kind(),
            facility_is_requesting: u.facility.is_requesting,
            facility_is_supporting: u.facility.is_supporting,
            roles: u.roles.clone(),
            must_change_password: u.user.must_change_password,
            token_id: None,
        }))
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// Requires one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), Denied> {
        if self.has_any(roles) {
            Ok(())
        } else {
            Err(Denied)
        }
    }

    pub fn is_requester(&self) -> bool {
        self.roles.iter().any(|r| r.is_requester())
    }

    /// Facility administrators manage their own facility's people and DICOM nodes.
    pub fn require_facility_admin_of(&self, facility_id: i64) -> Result<(), Denied> {
        if self.has(Role::FacilityAdmin) && self.facility_id == facility_id {
            Ok(())
        } else {
            Err(Denied)
        }
    }

    pub fn require_association_admin(&self) -> Result<(), Denied> {
        self.require_any(&[Role::AssociationAdmin])
    }

    /// Sessions only: some actions (issuing tokens, changing a password) are for people at a
    /// screen, never for a token.
    pub fn require_session(&self) -> Result<(), Denied> {
        if self.token_id.is_none() {
            Ok(())
        } else {
            Err(Denied)
        }
    }

    pub fn roles_str(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user_id),
            username: Some(self.username.clone()),
            facility_id: Some(self.facility_id),
            role: Some(self.roles_str()),
        }
    }

    /// The audit context for actions of this principal from `source`.
    pub fn ctx(&self, source: &str) -> Ctx {
        Ctx {
            actor: self.actor(),
            source: source.to_owned(),
        }
    }
}
