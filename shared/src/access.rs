//! Who may see a study: the one relation every route that reads images or their index
//! calls (the handbook's access model), never re-implemented per screen.
//!
//! A study is visible to facility F when
//! - F owns it (F's modality or PACS sent it: the requesting facility), or
//! - a request for it names F as the supporting facility and that request is live
//!   (requested, accepted, reading) or reported (confirmed, acknowledged), or
//! - it is a prior that such a request of F listed.
//!
//! Roles decide the action on top of this (requesters of the owner, radiologists and
//! coordinators of the reader); the association and the prefecture see no images at all.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{read_requests, request_priors, studies};
use crate::db::DbConnection;
use crate::domain::RequestStatus;
use crate::error::{Error, OptionalExt, Result};
use crate::index::Study;

/// Why a facility may see a study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "as", rename_all = "snake_case")]
pub enum StudyAccess {
    /// The facility sent the study.
    Owner,
    /// A request for this study names the facility.
    Reader { request_id: i64 },
    /// A request of the facility listed this study as a prior to compare.
    Prior { request_id: i64 },
}

/// The request states that keep a study visible to the supporting facility.
fn visible_states() -> Vec<&'static str> {
    RequestStatus::ALL
        .iter()
        .filter(|s| **s != RequestStatus::Cancelled)
        .map(|s| s.as_str())
        .collect()
}

/// The study if `facility_id` may see it, and why; otherwise `NotFound` (the caller answers
/// 404 and audits the denial).
pub fn study(
    conn: &mut DbConnection,
    facility_id: i64,
    study_id: i64,
) -> Result<(Study, StudyAccess)> {
    let s: Study = studies::table
        .find(study_id)
        .select(Study::as_select())
        .first(conn)
        .found()?;
    if s.facility_id == facility_id {
        return Ok((s, StudyAccess::Owner));
    }
    let states = visible_states();
    let direct: Option<i64> = read_requests::table
        .filter(read_requests::study_id.eq(study_id))
        .filter(read_requests::supporting_facility_id.eq(facility_id))
        .filter(read_requests::status.eq_any(&states))
        .select(read_requests::id)
        .order(read_requests::id.desc())
        .first(conn)
        .optional()?;
    if let Some(request_id) = direct {
        return Ok((s, StudyAccess::Reader { request_id }));
    }
    let prior: Option<i64> = read_requests::table
        .inner_join(request_priors::table.on(request_priors::request_id.eq(read_requests::id)))
        .filter(request_priors::study_id.eq(study_id))
        .filter(read_requests::supporting_facility_id.eq(facility_id))
        .filter(read_requests::status.eq_any(&states))
        .select(read_requests::id)
        .order(read_requests::id.desc())
        .first(conn)
        .optional()?;
    match prior {
        Some(request_id) => Ok((s, StudyAccess::Prior { request_id })),
        None => Err(Error::NotFound),
    }
}

/// The ids of the studies `facility_id` may see because of its requests (not its own):
/// requested from it, or listed as priors by those requests — for search screens that show
/// a reader's studies.
pub fn requested_study_ids(conn: &mut DbConnection, facility_id: i64) -> Result<Vec<i64>> {
    let states = visible_states();
    let mut ids: Vec<i64> = read_requests::table
        .filter(read_requests::supporting_facility_id.eq(facility_id))
        .filter(read_requests::status.eq_any(&states))
        .select(read_requests::study_id)
        .load(conn)?;
    let priors: Vec<i64> = read_requests::table
        .inner_join(request_priors::table.on(request_priors::request_id.eq(read_requests::id)))
        .filter(read_requests::supporting_facility_id.eq(facility_id))
        .filter(read_requests::status.eq_any(&states))
        .select(request_priors::study_id)
        .load(conn)?;
    ids.extend(priors);
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The study with this Study Instance UID that `facility_id` may see with an access that
/// `allowed` accepts (the caller's roles decide which), or `NotFound`. The same UID can
/// exist at two facilities (each owns its rows); the facility's own comes first.
pub fn study_by_uid(
    conn: &mut DbConnection,
    facility_id: i64,
    study_uid: &str,
    allowed: &dyn Fn(StudyAccess) -> bool,
) -> Result<(Study, StudyAccess)> {
    let ids: Vec<i64> = studies::table
        .filter(studies::study_uid.eq(study_uid))
        .select(studies::id)
        .order((studies::facility_id.ne(facility_id), studies::id.asc()))
        .limit(20)
        .load(conn)?;
    for id in ids {
        match study(conn, facility_id, id) {
            Ok((s, a)) if allowed(a) => return Ok((s, a)),
            Ok(_) | Err(Error::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Err(Error::NotFound)
}

/// Every study id `facility_id` may see: its own (when `own`) and those its requests made
/// visible (when `requested`).
pub fn visible_study_ids(
    conn: &mut DbConnection,
    facility_id: i64,
    own: bool,
    requested: bool,
) -> Result<Vec<i64>> {
    let mut ids = if requested {
        requested_study_ids(conn, facility_id)?
    } else {
        Vec::new()
    };
    if own {
        let mine: Vec<i64> = studies::table
            .filter(studies::facility_id.eq(facility_id))
            .select(studies::id)
            .load(conn)?;
        ids.extend(mine);
        ids.sort_unstable();
        ids.dedup();
    }
    Ok(ids)
}
