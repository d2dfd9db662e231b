//! The facility administrator's screens, always for their own facility: people
//! (`facility_users`), DICOM nodes (`facility_nodes`) and service accounts with their API
//! tokens (`facility_services`). Every handler first checks that the signed-in person is a
//! facility administrator of their facility (denial → audit + 404), and every object is
//! looked up within that facility, so another facility's ids answer 404 and are audited.

use shared::domain::Role;
use shared::membership::facilities::{self, Facility};

use crate::state::AppState;
use crate::web::authz;
use crate::web::error::WebError;
use crate::web::session::SignedIn;

/// Passes only a facility administrator; returns their facility's id.
pub async fn own_facility(
    state: &AppState,
    me: &SignedIn,
    action: &'static str,
) -> Result<i64, WebError> {
    let fid = me.principal.facility_id;
    authz::allow(
        state,
        me,
        me.principal.require_facility_admin_of(fid),
        action,
        Some(("facility", fid.to_string())),
    )
    .await?;
    Ok(fid)
}

pub async fn load_facility(state: &AppState, fid: i64) -> Result<Facility, WebError> {
    state.db(move |c| facilities::get(c, fid)).await
}

/// A role checkbox.
pub struct RoleChoice {
    pub value: &'static str,
    pub role: Role,
    pub checked: bool,
}

/// The roles a facility administrator may grant in this facility (people), or that a
/// service account may hold (requester, radiologist and coordinator roles only).
pub fn role_choices(f: &Facility, service: bool, checked: &[String]) -> Vec<RoleChoice> {
    Role::ALL
        .iter()
        .copied()
        .filter(|r| r.allowed_in(f.kind(), f.is_requesting, f.is_supporting))
        .filter(|r| r.grantable_by_facility_admin())
        .filter(|r| !service || *r != Role::FacilityAdmin)
        .map(|role| RoleChoice {
            value: role.as_str(),
            role,
            checked: checked.iter().any(|c| c == role.as_str()),
        })
        .collect()
}
