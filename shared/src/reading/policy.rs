//! How a supporting facility takes requests: whether (and when) it accepts emergencies, the
//! routine cut-off (reports due `routine_days` days later at that time, Japan time), and
//! whether requesters may name a radiologist. Kept by the facility's coordinator.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Ctx, Event};
use crate::db::schema::reading_policies;
use crate::db::{self, DbConnection};
use crate::domain::TimeOfDay;
use crate::error::Result;
use crate::validation::FieldErrors;

#[derive(Queryable, Selectable, Insertable, AsChangeset, Debug, Clone, PartialEq, Serialize)]
#[diesel(table_name = reading_policies)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ReadingPolicyRow {
    pub facility_id: i64,
    pub accepts_emergency: bool,
    pub emergency_from: String,
    pub emergency_until: String,
    pub routine_cutoff: String,
    pub routine_days: i32,
    pub allow_radiologist_choice: bool,
    pub updated_at: NaiveDateTime,
}

impl ReadingPolicyRow {
    /// What a facility without a row gets: emergencies around the clock, routine reports by
    /// 12:00 the next day, no choice of radiologist.
    pub fn default_for(facility_id: i64) -> ReadingPolicyRow {
        ReadingPolicyRow {
            facility_id,
            accepts_emergency: true,
            emergency_from: "00:00".into(),
            emergency_until: "00:00".into(),
            routine_cutoff: "12:00".into(),
            routine_days: 1,
            allow_radiologist_choice: false,
            updated_at: NaiveDateTime::MIN,
        }
    }

    pub fn emergency_from(&self) -> TimeOfDay {
        TimeOfDay::parse(&self.emergency_from).unwrap_or(TimeOfDay::MIDNIGHT)
    }
    pub fn emergency_until(&self) -> TimeOfDay {
        TimeOfDay::parse(&self.emergency_until).unwrap_or(TimeOfDay::MIDNIGHT)
    }
    pub fn routine_cutoff(&self) -> TimeOfDay {
        TimeOfDay::parse(&self.routine_cutoff).unwrap_or(TimeOfDay::NOON)
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PolicyForm {
    #[serde(default, deserialize_with = "crate::serde_util::checkbox")]
    pub accepts_emergency: bool,
    #[serde(default)]
    pub emergency_from: String,
    #[serde(default)]
    pub emergency_until: String,
    #[serde(default)]
    pub routine_cutoff: String,
    #[serde(default)]
    pub routine_days: String,
    #[serde(default, deserialize_with = "crate::serde_util::checkbox")]
    pub allow_radiologist_choice: bool,
}

impl PolicyForm {
    pub fn from_row(r: &ReadingPolicyRow) -> PolicyForm {
        PolicyForm {
            accepts_emergency: r.accepts_emergency,
            emergency_from: r.emergency_from.clone(),
            emergency_until: r.emergency_until.clone(),
            routine_cutoff: r.routine_cutoff.clone(),
            routine_days: r.routine_days.to_string(),
            allow_radiologist_choice: r.allow_radiologist_choice,
        }
    }
}

/// The facility's policy, or the defaults.
pub fn get(conn: &mut DbConnection, facility_id: i64) -> Result<ReadingPolicyRow> {
    Ok(reading_policies::table
        .find(facility_id)
        .select(ReadingPolicyRow::as_select())
        .first(conn)
        .optional()?
        .unwrap_or_else(|| ReadingPolicyRow::default_for(facility_id)))
}

fn validate(facility_id: i64, f: &PolicyForm) -> Result<ReadingPolicyRow, FieldErrors> {
    let mut e = FieldErrors::new();
    let from = e.take("emergency_from", TimeOfDay::parse(&f.emergency_from));
    let until = e.take("emergency_until", TimeOfDay::parse(&f.emergency_until));
    let cutoff = e.take("routine_cutoff", TimeOfDay::parse(&f.routine_cutoff));
    let days = match f.routine_days.trim().parse::<i32>() {
        Ok(d) if (0..=7).contains(&d) => Some(d),
        _ => {
            e.add("routine_days", "err.routine_days");
            None
        }
    };
    match (from, until, cutoff, days) {
        (Some(from), Some(until), Some(cutoff), Some(days)) if e.is_empty() => {
            Ok(ReadingPolicyRow {
                facility_id,
                accepts_emergency: f.accepts_emergency,
                emergency_from: from.to_string(),
                emergency_until: until.to_string(),
                routine_cutoff: cutoff.to_string(),
                routine_days: days,
                allow_radiologist_choice: f.allow_radiologist_choice,
                updated_at: db::now(),
            })
        }
        _ => Err(e),
    }
}

/// Saves the facility's policy (insert or update) with its audit event.
pub fn set(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    form: &PolicyForm,
) -> Result<ReadingPolicyRow> {
    let row = validate(facility_id, form)?;
    db::write_tx(conn, |c| {
        let exists = reading_policies::table
            .find(facility_id)
            .count()
            .get_result::<i64>(c)?
            > 0;
        if exists {
            diesel::update(reading_policies::table.find(facility_id))
                .set(&row)
                .execute(c)?;
        } else {
            diesel::insert_into(reading_policies::table)
                .values(&row)
                .execute(c)?;
        }
        audit::record(
            c,
            ctx,
            Event::success("reading_policy.update")
                .object("facility", facility_id)
                .detail(serde_json::to_value(&row).unwrap_or_default()),
        )?;
        Ok(row.clone())
    })
}
