//! The supporting facility's worklist (ワークリスト): its live requests, emergencies first
//! then by due time, with filters; who reads each one — claimed by a radiologist (a lock with
//! an owner), assigned or reassigned by the coordinator, or given by the automatic assignment
//! with its reasons — and opening it, which marks reading started (the moment the service
//! level measures). Every change writes a status event and an audit event in its
//! transaction. The assignment engine itself is pure (`radvision::core::assignment`); this
//! module loads what it needs ([`team`], [`waiting_unassigned`]) and applies its decisions
//! ([`assign_auto`]).
//!
//! Who may: only the supporting facility named on a request sees it here ([`for_reader`]);
//! roles (radiologist, coordinator) are checked by the caller as well as here where they
//! decide the outcome (claiming and opening need a radiologist of the facility).

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Ctx, Event};
use crate::db::schema::{
    assignment_settings, facilities, patients, read_requests, request_events, request_priors,
    studies, user_roles, users,
};
use crate::db::{self, DbConnection};
use crate::domain::{RequestStatus, Role, Urgency};
use crate::error::{Error, OptionalExt, Result};
use crate::index::{Patient, Study};
use crate::reading::duty::{self, DutySlot};
use crate::reading::requests::{visible, ReadRequest, Side};
use crate::reading::specialties::{self, Grid};
use crate::validation::{self, FieldErrors};

// ---------------------------------------------------------------------------------------
// Settings

/// A facility's assignment settings (no row: manual, at most 8 open routine requests).
#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = assignment_settings)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Settings {
    pub facility_id: i64,
    pub auto_assign: bool,
    pub max_open: i32,
    pub updated_at: NaiveDateTime,
}

pub const DEFAULT_MAX_OPEN: i32 = 8;
pub const MAX_MAX_OPEN: i32 = 100;

pub fn settings(c: &mut DbConnection, facility_id: i64) -> Result<Settings> {
    Ok(assignment_settings::table
        .find(facility_id)
        .select(Settings::as_select())
        .first(c)
        .optional()?
        .unwrap_or(Settings {
            facility_id,
            auto_assign: false,
            max_open: DEFAULT_MAX_OPEN,
            updated_at: NaiveDateTime::default(),
        }))
}

/// Saves the settings (max open: a whole number 1–100, else 422 on `max_open`, nothing
/// written), with the audit event.
pub fn save_settings(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    auto_assign: bool,
    max_open: &str,
) -> Result<Settings> {
    let max_open = max_open
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|n| (1..=MAX_MAX_OPEN).contains(n))
        .ok_or_else(|| FieldErrors::single("max_open", "worklist.err_max_open"))?;
    db::write_tx(conn, |c| {
        let now = db::now();
        let exists = assignment_settings::table
            .find(facility_id)
            .count()
            .get_result::<i64>(c)?
            > 0;
        if exists {
            diesel::update(assignment_settings::table.find(facility_id))
                .set((
                    assignment_settings::auto_assign.eq(auto_assign),
                    assignment_settings::max_open.eq(max_open),
                    assignment_settings::updated_at.eq(now),
                ))
                .execute(c)?;
        } else {
            diesel::insert_into(assignment_settings::table)
                .values((
                    assignment_settings::facility_id.eq(facility_id),
                    assignment_settings::auto_assign.eq(auto_assign),
                    assignment_settings::max_open.eq(max_open),
                    assignment_settings::updated_at.eq(now),
                ))
                .execute(c)?;
        }
        audit::record(
            c,
            ctx,
            Event::success("assignment.settings")
                .object("facility", facility_id)
                .detail(serde_json::json!({ "auto_assign": auto_assign, "max_open": max_open })),
        )?;
        settings(c, facility_id)
    })
}

// ---------------------------------------------------------------------------------------
// The list

/// Whose requests to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    Unassigned,
    User(i64),
}

/// Worklist filters (all optional; live requests only).
#[derive(Debug, Clone, Default)]
pub struct WorklistQuery {
    /// A DICOM modality, e.g. `CT`.
    pub modality: Option<String>,
    pub urgency: Option<Urgency>,
    /// One of the live statuses.
    pub status: Option<RequestStatus>,
    pub requesting_facility_id: Option<i64>,
    pub assignee: Option<Assignee>,
    /// Filing date range, Japan time days, inclusive.
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
}

/// A row of the worklist.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub request: ReadRequest,
    pub patient: Patient,
    pub study: Study,
    pub requesting_facility: String,
    pub assignee: Option<String>,
    pub priors: i64,
}

/// At most this many rows (the live backlog of one facility is far smaller).
pub const MAX_ROWS: i64 = 500;

fn jst_day_start(d: NaiveDate) -> NaiveDateTime {
    d.and_time(chrono::NaiveTime::MIN) - chrono::Duration::hours(9)
}

fn live() -> Vec<&'static str> {
    RequestStatus::LIVE.iter().map(|s| s.as_str()).collect()
}

/// The facility's live requests: emergencies first, then by due time, filing time, id.
pub fn list(c: &mut DbConnection, facility_id: i64, q: &WorklistQuery) -> Result<Vec<Item>> {
    let mut b = read_requests::table
        .filter(read_requests::supporting_facility_id.eq(facility_id))
        .filter(read_requests::status.eq_any(live()))
        .into_boxed();
    if let Some(m) = &q.modality {
        b = b.filter(read_requests::modality.eq(m.clone()));
    }
    if let Some(u) = q.urgency {
        b = b.filter(read_requests::urgency.eq(u.as_str()));
    }
    if let Some(s) = q.status {
        b = b.filter(read_requests::status.eq(s.as_str()));
    }
    if let Some(f) = q.requesting_facility_id {
        b = b.filter(read_requests::requesting_facility_id.eq(f));
    }
    match q.assignee {
        Some(Assignee::Unassigned) => b = b.filter(read_requests::assigned_to.is_null()),
        Some(Assignee::User(u)) => b = b.filter(read_requests::assigned_to.eq(u)),
        None => {}
    }
    if let Some(d) = q.date_from {
        b = b.filter(read_requests::requested_at.ge(jst_day_start(d)));
    }
    if let Some(d) = q.date_to {
        b = b.filter(read_requests::requested_at.lt(jst_day_start(d) + chrono::Duration::days(1)));
    }
    // 'emergency' sorts before 'routine'.
    let rows: Vec<ReadRequest> = b
        .select(ReadRequest::as_select())
        .order((
            read_requests::urgency.asc(),
            read_requests::due_at.asc(),
            read_requests::requested_at.asc(),
            read_requests::id.asc(),
        ))
        .limit(MAX_ROWS)
        .load(c)?;
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(item(c, r, &mut names)?);
    }
    Ok(out)
}

fn name_of(c: &mut DbConnection, cache: &mut HashMap<i64, String>, user: i64) -> Result<String> {
    if let Some(n) = cache.get(&user) {
        return Ok(n.clone());
    }
    let n: String = users::table
        .find(user)
        .select(users::display_name)
        .first(c)
        .optional()?
        .unwrap_or_default();
    cache.insert(user, n.clone());
    Ok(n)
}

fn item(c: &mut DbConnection, r: ReadRequest, names: &mut HashMap<i64, String>) -> Result<Item> {
    let study: Study = studies::table
        .find(r.study_id)
        .select(Study::as_select())
        .first(c)
        .found()?;
    let patient: Patient = patients::table
        .find(r.patient_id)
        .select(Patient::as_select())
        .first(c)
        .found()?;
    let requesting_facility: String = facilities::table
        .find(r.requesting_facility_id)
        .select(facilities::name)
        .first(c)
        .found()?;
    let priors: i64 = request_priors::table
        .filter(request_priors::request_id.eq(r.id))
        .count()
        .get_result(c)?;
    let assignee = match r.assigned_to {
        Some(u) => Some(name_of(c, names, u)?),
        None => None,
    };
    Ok(Item {
        request: r,
        patient,
        study,
        requesting_facility,
        assignee,
        priors,
    })
}

/// The request if the facility is the supporting facility named on it and it is live or
/// reported — the worklist's side of `requests::visible`; else `NotFound`.
pub fn for_reader(c: &mut DbConnection, facility_id: i64, id: i64) -> Result<ReadRequest> {
    match visible(c, facility_id, id)? {
        (r, Side::Supporting) => Ok(r),
        (_, Side::Requesting) => Err(Error::NotFound),
    }
}

/// One worklist row, if the facility is the supporting facility named on the request.
pub fn get(c: &mut DbConnection, facility_id: i64, id: i64) -> Result<Item> {
    let r = for_reader(c, facility_id, id)?;
    item(c, r, &mut HashMap::new())
}

/// The facilities that have live requests at this one (for the filter).
pub fn requesting_facilities(c: &mut DbConnection, facility_id: i64) -> Result<Vec<(i64, String)>> {
    Ok(read_requests::table
        .inner_join(facilities::table.on(facilities::id.eq(read_requests::requesting_facility_id)))
        .filter(read_requests::supporting_facility_id.eq(facility_id))
        .filter(read_requests::status.eq_any(live()))
        .select((facilities::id, facilities::name))
        .distinct()
        .order(facilities::name.asc())
        .load(c)?)
}

// ---------------------------------------------------------------------------------------
// The team

/// A radiologist of the facility with what assignment looks at.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub id: i64,
    pub name: String,
    pub scores: Grid,
    pub slots: Vec<DutySlot>,
    /// Live requests assigned to them.
    pub open: u32,
    /// Requests assigned to them since `since` (the start of the day, Japan time).
    pub today: u32,
}

/// The facility's active radiologists (people, not service accounts), by name, with scores, duty slots, open work and work
/// given since `since`.
pub fn team(c: &mut DbConnection, facility_id: i64, since: NaiveDateTime) -> Result<Vec<Member>> {
    let people: Vec<(i64, String)> = users::table
        .inner_join(user_roles::table)
        .filter(users::facility_id.eq(facility_id))
        .filter(users::is_active.eq(true))
        // People read; service accounts (systems) are never given work.
        .filter(users::kind.eq(crate::domain::UserKind::Person.as_str()))
        .filter(user_roles::role.eq(Role::Radiologist.as_str()))
        .select((users::id, users::display_name))
        .order((users::display_name.asc(), users::id.asc()))
        .load(c)?;
    let mut grids = specialties::grids(c, facility_id)?;
    let mut slots: BTreeMap<i64, Vec<DutySlot>> = BTreeMap::new();
    for s in duty::list(c, facility_id)? {
        slots.entry(s.user_id).or_default().push(s);
    }
    let ids: Vec<i64> = people.iter().map(|p| p.0).collect();
    let assigned: Vec<(Option<i64>, String, Option<NaiveDateTime>)> = read_requests::table
        .filter(read_requests::supporting_facility_id.eq(facility_id))
        .filter(read_requests::assigned_to.eq_any(&ids))
        .filter(
            read_requests::status
                .eq_any(live())
                .or(read_requests::assigned_at.ge(since)),
        )
        .select((
            read_requests::assigned_to,
            read_requests::status,
            read_requests::assigned_at,
        ))
        .load(c)?;
    let mut open: HashMap<i64, u32> = HashMap::new();
    let mut today: HashMap<i64, u32> = HashMap::new();
    for (who, status, at) in assigned {
        let Some(who) = who else { continue };
        if RequestStatus::parse(&status).is_ok_and(|s| s.is_live()) {
            *open.entry(who).or_default() += 1;
        }
        if at.is_some_and(|t| t >= since) {
            *today.entry(who).or_default() += 1;
        }
    }
    Ok(people
        .into_iter()
        .map(|(id, name)| Member {
            id,
            name,
            scores: grids.remove(&id).unwrap_or_default(),
            slots: slots.remove(&id).unwrap_or_default(),
            open: open.get(&id).copied().unwrap_or(0),
            today: today.get(&id).copied().unwrap_or(0),
        })
        .collect())
}

/// The facility's live requests that nobody reads yet and whose reading has not started
/// (what the automatic assignment plans), oldest first.
pub fn waiting_unassigned(c: &mut DbConnection, facility_id: i64) -> Result<Vec<ReadRequest>> {
    Ok(read_requests::table
        .filter(read_requests::supporting_facility_id.eq(facility_id))
        .filter(read_requests::status.eq_any([
            RequestStatus::Requested.as_str(),
            RequestStatus::Accepted.as_str(),
        ]))
        .filter(read_requests::assigned_to.is_null())
        .select(ReadRequest::as_select())
        .order((read_requests::requested_at.asc(), read_requests::id.asc()))
        .limit(MAX_ROWS)
        .load(c)?)
}

// ---------------------------------------------------------------------------------------
// Changes

/// Why a request went to whom, as stored in `assignment_reason` (JSON).
pub mod reason {
    /// The reader took it from the list.
    pub fn claim() -> String {
        serde_json::json!({ "kind": "claim" }).to_string()
    }
    /// The reader opened an unassigned request.
    pub fn opened() -> String {
        serde_json::json!({ "kind": "opened" }).to_string()
    }
    /// The coordinator's choice, with an optional note.
    pub fn manual(note: &str) -> String {
        serde_json::json!({ "kind": "manual", "note": note }).to_string()
    }
    /// The automatic assignment's figures.
    pub fn auto(why: serde_json::Value) -> String {
        serde_json::json!({ "kind": "auto", "why": why }).to_string()
    }
    /// The radiologist the requester named.
    pub fn named() -> String {
        serde_json::json!({ "kind": "named" }).to_string()
    }
}

fn event(
    c: &mut DbConnection,
    ctx: &Ctx,
    r: &ReadRequest,
    action: &'static str,
    status: &str,
    note: &str,
    detail: serde_json::Value,
) -> Result<()> {
    diesel::insert_into(request_events::table)
        .values((
            request_events::request_id.eq(r.id),
            request_events::status.eq(status),
            request_events::occurred_at.eq(db::now()),
            request_events::user_id.eq(ctx.actor.user_id),
            request_events::note.eq(note),
        ))
        .execute(c)?;
    let study_uid = crate::index::study_uid(c, r.study_id)?;
    let mut ev = Event::success(action).object("read_request", r.id);
    ev.patient_ref = Some(format!("patient:{}", r.patient_id));
    ev.study_ref = Some(study_uid);
    audit::record(c, ctx, ev.detail(detail))?;
    Ok(())
}

/// The status a request takes when someone takes it on: `requested` becomes `accepted`.
fn taken_status(r: &ReadRequest) -> RequestStatus {
    match r.status() {
        RequestStatus::Requested => RequestStatus::Accepted,
        s => s,
    }
}

/// Sets the assignee only if nobody has it (the row-level race guard): `Ok(None)` when
/// someone else got there first.
fn take_if_free(
    c: &mut DbConnection,
    r: &ReadRequest,
    to: i64,
    by: Option<i64>,
    why: &str,
) -> Result<Option<ReadRequest>> {
    let now = db::now();
    let status = taken_status(r);
    Ok(diesel::update(
        read_requests::table
            .find(r.id)
            .filter(read_requests::assigned_to.is_null())
            .filter(read_requests::status.eq_any(live())),
    )
    .set((
        read_requests::assigned_to.eq(Some(to)),
        read_requests::assigned_at.eq(Some(now)),
        read_requests::assigned_by.eq(by),
        read_requests::assignment_reason.eq(why),
        read_requests::status.eq(status.as_str()),
        read_requests::updated_at.eq(now),
    ))
    .returning(read_requests::all_columns)
    .get_result(c)
    .optional()?)
}

/// A radiologist of the supporting facility takes a live request that nobody has (or that
/// is already theirs: nothing changes). Two claims at once: one wins, the other gets
/// `Conflict("worklist.err_taken")`.
pub fn claim(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    id: i64,
) -> Result<ReadRequest> {
    db::write_tx(conn, |c| {
        let r = for_reader(c, facility_id, id)?;
        if !duty::is_radiologist_of(c, facility_id, user_id)? {
            return Err(Error::NotFound);
        }
        if !r.status().is_live() {
            return Err(Error::Conflict("worklist.err_not_live"));
        }
        if r.assigned_to == Some(user_id) {
            return Ok(r);
        }
        if r.assigned_to.is_some() {
            return Err(Error::Conflict("worklist.err_taken"));
        }
        let Some(u) = take_if_free(c, &r, user_id, Some(user_id), &reason::claim())? else {
            return Err(Error::Conflict("worklist.err_taken"));
        };
        event(
            c,
            ctx,
            &u,
            "worklist.claim",
            &u.status,
            "読影医が担当 / claimed",
            serde_json::json!({ "from": r.status }),
        )?;
        Ok(u)
    })
}

/// Gives a request back to the list (its reader, or a coordinator), until reading starts.
pub fn release(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    is_coordinator: bool,
    id: i64,
) -> Result<ReadRequest> {
    db::write_tx(conn, |c| {
        let r = for_reader(c, facility_id, id)?;
        let Some(holder) = r.assigned_to else {
            return Err(Error::Conflict("worklist.err_not_assigned"));
        };
        if holder != user_id && !is_coordinator {
            return Err(Error::Conflict("worklist.err_assigned_other"));
        }
        if !matches!(
            r.status(),
            RequestStatus::Requested | RequestStatus::Accepted
        ) {
            return Err(Error::Conflict("worklist.err_started"));
        }
        let u: ReadRequest = diesel::update(
            read_requests::table
                .find(r.id)
                .filter(read_requests::assigned_to.eq(holder))
                .filter(read_requests::status.eq(&r.status)),
        )
        .set((
            read_requests::assigned_to.eq(None::<i64>),
            read_requests::assigned_at.eq(None::<NaiveDateTime>),
            read_requests::assigned_by.eq(None::<i64>),
            read_requests::assignment_reason.eq(""),
            read_requests::updated_at.eq(db::now()),
        ))
        .returning(read_requests::all_columns)
        .get_result(c)
        .optional()?
        .ok_or(Error::Conflict("worklist.err_taken"))?;
        event(
            c,
            ctx,
            &u,
            "worklist.release",
            &u.status,
            "担当解除 / released",
            serde_json::json!({ "from_user": holder }),
        )?;
        Ok(u)
    })
}

/// The coordinator assigns (or reassigns) a live request to an active radiologist of the
/// facility, with an optional note (up to 200 characters).
pub fn assign(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    id: i64,
    radiologist_id: i64,
    note: &str,
) -> Result<ReadRequest> {
    let note = validation::optional_text(note, 200).map_err(|m| FieldErrors::single("note", m))?;
    db::write_tx(conn, |c| {
        let r = for_reader(c, facility_id, id)?;
        if !duty::is_radiologist_of(c, facility_id, radiologist_id)? {
            return Err(FieldErrors::single("radiologist_id", "err.invalid_choice").into());
        }
        if !r.status().is_live() {
            return Err(Error::Conflict("worklist.err_not_live"));
        }
        let now = db::now();
        let status = taken_status(&r);
        let values = (
            read_requests::assigned_to.eq(Some(radiologist_id)),
            read_requests::assigned_at.eq(Some(now)),
            read_requests::assigned_by.eq(ctx.actor.user_id),
            read_requests::assignment_reason.eq(reason::manual(&note)),
            read_requests::status.eq(status.as_str()),
            read_requests::updated_at.eq(now),
        );
        let target = read_requests::table
            .find(r.id)
            .filter(read_requests::status.eq(&r.status));
        // Only if nobody changed the assignment since it was read.
        let n = match r.assigned_to {
            Some(a) => diesel::update(target.filter(read_requests::assigned_to.eq(a)))
                .set(values)
                .execute(c)?,
            None => diesel::update(target.filter(read_requests::assigned_to.is_null()))
                .set(values)
                .execute(c)?,
        };
        if n != 1 {
            return Err(Error::Conflict("worklist.err_changed"));
        }
        let u = for_reader(c, facility_id, id)?;
        event(
            c,
            ctx,
            &u,
            "worklist.assign",
            &u.status,
            "コーディネーターが割当 / assigned",
            serde_json::json!({
                "to": radiologist_id, "from_user": r.assigned_to, "note": !note.is_empty(),
            }),
        )?;
        Ok(u)
    })
}

/// Opening a request to read it: its reader (or, when nobody has it, any radiologist of the
/// facility, who thereby claims it) marks reading started — status `reading`, and
/// `reading_started_at` set the first time only. Someone else's request is a `Conflict`.
pub fn start(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    id: i64,
) -> Result<ReadRequest> {
    db::write_tx(conn, |c| {
        let mut r = for_reader(c, facility_id, id)?;
        if !duty::is_radiologist_of(c, facility_id, user_id)? {
            return Err(Error::NotFound);
        }
        if !r.status().is_live() {
            return Err(Error::Conflict("worklist.err_not_live"));
        }
        match r.assigned_to {
            Some(u) if u == user_id => {}
            Some(_) => return Err(Error::Conflict("worklist.err_assigned_other")),
            None => {
                let Some(u) = take_if_free(c, &r, user_id, Some(user_id), &reason::opened())?
                else {
                    return Err(Error::Conflict("worklist.err_taken"));
                };
                event(
                    c,
                    ctx,
                    &u,
                    "worklist.claim",
                    &u.status,
                    "読影医が担当 / claimed",
                    serde_json::json!({ "from": r.status, "via": "open" }),
                )?;
                r = u;
            }
        }
        if r.status() == RequestStatus::Reading {
            return Ok(r);
        }
        let now = db::now();
        let started = r.reading_started_at.unwrap_or(now);
        let u: ReadRequest = diesel::update(
            read_requests::table
                .find(r.id)
                .filter(read_requests::status.eq(&r.status))
                .filter(read_requests::assigned_to.eq(user_id)),
        )
        .set((
            read_requests::status.eq(RequestStatus::Reading.as_str()),
            read_requests::reading_started_at.eq(Some(started)),
            read_requests::updated_at.eq(now),
        ))
        .returning(read_requests::all_columns)
        .get_result(c)
        .optional()?
        .ok_or(Error::Conflict("worklist.err_changed"))?;
        event(
            c,
            ctx,
            &u,
            "worklist.start",
            RequestStatus::Reading.as_str(),
            "",
            serde_json::json!({ "from": r.status }),
        )?;
        Ok(u)
    })
}

/// Applies one automatic decision inside the caller's transaction: the request goes to the
/// radiologist only if it is still unassigned and waiting. Returns whether it did.
pub fn assign_auto(
    c: &mut DbConnection,
    ctx: &Ctx,
    r: &ReadRequest,
    radiologist_id: i64,
    why: &str,
) -> Result<bool> {
    if !matches!(
        r.status(),
        RequestStatus::Requested | RequestStatus::Accepted
    ) {
        return Ok(false);
    }
    let Some(u) = take_if_free(c, r, radiologist_id, None, why)? else {
        return Ok(false);
    };
    let why_json: serde_json::Value = serde_json::from_str(why).unwrap_or_default();
    event(
        c,
        ctx,
        &u,
        "worklist.auto_assign",
        &u.status,
        "自動割当 / assigned automatically",
        serde_json::json!({ "to": radiologist_id, "reason": why_json }),
    )?;
    Ok(true)
}
