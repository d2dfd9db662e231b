//! The duty schedule (当番表) of a supporting facility's radiologists: weekly slots in Japan
//! time, with national holidays as their own day, and the one rule that says whether a
//! radiologist is on duty at a moment ([`on_duty`], pure: the caller supplies the day kinds,
//! since the holiday calendar lives in `radvision::core::calendar`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Ctx, Event};
use crate::db::schema::{duty_slots, user_roles, users};
use crate::db::{self, DbConnection};
use crate::domain::{Role, TimeOfDay};
use crate::error::{Error, OptionalExt, Result};
use crate::validation::FieldErrors;

/// The day kind of national holidays (weekdays are 0 = Monday … 6 = Sunday).
pub const HOLIDAY: i32 = 7;

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = duty_slots)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct DutySlot {
    pub id: i64,
    pub facility_id: i64,
    pub user_id: i64,
    pub weekday: i32,
    pub starts: String,
    pub ends: String,
    pub created_at: NaiveDateTime,
    pub created_by: Option<i64>,
}

/// Minutes after midnight of `HH:MM`; `24:00` (the end of the day) only where `end` allows.
fn minutes(s: &str, end: bool) -> Option<u16> {
    if end && s.trim() == "24:00" {
        return Some(24 * 60);
    }
    TimeOfDay::parse(s).ok().map(TimeOfDay::minutes)
}

impl DutySlot {
    /// Whether this slot covers `minute` of a day of kind `today`, or runs on from the day
    /// before (of kind `yesterday`) past midnight.
    fn covers(&self, today: i32, yesterday: i32, minute: u16) -> bool {
        let (Some(s), Some(e)) = (minutes(&self.starts, false), minutes(&self.ends, true)) else {
            return false;
        };
        if e > s {
            self.weekday == today && (s..e).contains(&minute)
        } else {
            // Overnight (or the whole day and night when ends == starts).
            (self.weekday == today && minute >= s) || (self.weekday == yesterday && minute < e)
        }
    }
}

/// Whether any of `slots` covers `minute` (0–1439, Japan time) of a day of kind `today`
/// (0–6 Monday–Sunday, or [`HOLIDAY`]), the day before being of kind `yesterday`.
pub fn on_duty(slots: &[DutySlot], today: i32, yesterday: i32, minute: u16) -> bool {
    slots.iter().any(|s| s.covers(today, yesterday, minute))
}

/// A slot as typed into the form.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SlotForm {
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub weekday: String,
    #[serde(default)]
    pub starts: String,
    #[serde(default)]
    pub ends: String,
}

/// A facility's slots, by radiologist, day and start.
pub fn list(c: &mut DbConnection, facility_id: i64) -> Result<Vec<DutySlot>> {
    Ok(duty_slots::table
        .filter(duty_slots::facility_id.eq(facility_id))
        .select(DutySlot::as_select())
        .order((
            duty_slots::user_id.asc(),
            duty_slots::weekday.asc(),
            duty_slots::starts.asc(),
            duty_slots::id.asc(),
        ))
        .load(c)?)
}

/// Whether `user_id` is an active radiologist of the facility.
pub fn is_radiologist_of(c: &mut DbConnection, facility_id: i64, user_id: i64) -> Result<bool> {
    let n: i64 = users::table
        .inner_join(user_roles::table)
        .filter(users::id.eq(user_id))
        .filter(users::facility_id.eq(facility_id))
        .filter(users::is_active.eq(true))
        .filter(user_roles::role.eq(Role::Radiologist.as_str()))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Adds a slot for a radiologist of the facility (validated: 422 with the field, nothing
/// written), with its audit event.
pub fn add(conn: &mut DbConnection, ctx: &Ctx, facility_id: i64, f: &SlotForm) -> Result<DutySlot> {
    let mut e = FieldErrors::new();
    let user_id = f.user_id.trim().parse::<i64>().ok();
    let weekday = f
        .weekday
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|d| (0..=HOLIDAY).contains(d));
    if weekday.is_none() {
        e.add("weekday", "err.invalid_choice");
    }
    let starts = minutes(&f.starts, false);
    if starts.is_none() {
        e.add("starts", "err.time_of_day");
    }
    let ends = minutes(&f.ends, true);
    if ends.is_none() {
        e.add("ends", "err.time_of_day");
    }
    db::write_tx(conn, |c| {
        let mut e = e.clone();
        let uid = match user_id {
            Some(u) if is_radiologist_of(c, facility_id, u)? => Some(u),
            _ => {
                e.add("user_id", "err.invalid_choice");
                None
            }
        };
        let (Some(uid), Some(weekday), Some(s), Some(en)) = (uid, weekday, starts, ends) else {
            return Err(e.into());
        };
        let fmt = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        let slot: DutySlot = diesel::insert_into(duty_slots::table)
            .values((
                duty_slots::facility_id.eq(facility_id),
                duty_slots::user_id.eq(uid),
                duty_slots::weekday.eq(weekday),
                duty_slots::starts.eq(fmt(s)),
                duty_slots::ends.eq(fmt(en)),
                duty_slots::created_at.eq(db::now()),
                duty_slots::created_by.eq(ctx.actor.user_id),
            ))
            .returning(duty_slots::all_columns)
            .get_result(c)?;
        audit::record(
            c,
            ctx,
            Event::success("duty.add")
                .object("duty_slot", slot.id)
                .detail(serde_json::json!({
                    "user_id": uid, "weekday": weekday, "starts": slot.starts, "ends": slot.ends,
                })),
        )?;
        Ok(slot)
    })
}

/// Removes a slot of the facility, with its audit event; another facility's is `NotFound`.
pub fn remove(conn: &mut DbConnection, ctx: &Ctx, facility_id: i64, id: i64) -> Result<()> {
    db::write_tx(conn, |c| {
        let slot: DutySlot = duty_slots::table
            .find(id)
            .filter(duty_slots::facility_id.eq(facility_id))
            .select(DutySlot::as_select())
            .first(c)
            .found()?;
        let n = diesel::delete(duty_slots::table.find(slot.id)).execute(c)?;
        if n != 1 {
            return Err(Error::NotFound);
        }
        audit::record(
            c,
            ctx,
            Event::success("duty.remove")
                .object("duty_slot", slot.id)
                .detail(serde_json::json!({ "user_id": slot.user_id })),
        )?;
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn slot(weekday: i32, starts: &str, ends: &str) -> DutySlot {
        DutySlot {
            id: 1,
            facility_id: 1,
            user_id: 1,
            weekday,
            starts: starts.into(),
            ends: ends.into(),
            created_at: NaiveDateTime::default(),
            created_by: None,
        }
    }

    #[test]
    fn day_slots_cover_their_hours_only() {
        let s = [slot(0, "09:00", "17:00")];
        assert!(on_duty(&s, 0, 6, 9 * 60));
        assert!(!on_duty(&s, 0, 6, 17 * 60));
        assert!(!on_duty(&s, 1, 0, 10 * 60));
    }

    #[test]
    fn overnight_and_whole_day_slots() {
        let night = [slot(4, "22:00", "06:00")];
        assert!(on_duty(&night, 4, 3, 23 * 60));
        assert!(on_duty(&night, 5, 4, 5 * 60));
        assert!(!on_duty(&night, 5, 4, 7 * 60));
        let all = [slot(2, "00:00", "24:00")];
        assert!(on_duty(&all, 2, 1, 0) && on_duty(&all, 2, 1, 1439));
        assert!(!on_duty(&all, 3, 2, 0));
        let round = [slot(HOLIDAY, "08:00", "08:00")];
        assert!(on_duty(&round, HOLIDAY, 6, 8 * 60));
        assert!(on_duty(&round, 1, HOLIDAY, 7 * 60));
        assert!(!on_duty(&round, 1, HOLIDAY, 8 * 60));
    }
}
