//! Specialty scores (専門領域): for each radiologist of a supporting facility, a score 0–100
//! per exam and body region, kept by the coordinator and read by the automatic assignment
//! (no row means 0; a region scored 0 is never assigned).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Ctx, Event};
use crate::db::schema::specialty_scores;
use crate::db::{self, DbConnection};
use crate::domain::{BodyRegion, Exam};
use crate::error::{Error, Result};
use crate::reading::duty::is_radiologist_of;
use crate::validation::FieldErrors;

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = specialty_scores)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ScoreRow {
    pub facility_id: i64,
    pub user_id: i64,
    pub exam: String,
    pub region: String,
    pub score: i32,
    pub updated_at: NaiveDateTime,
    pub updated_by: Option<i64>,
}

/// One radiologist's grid: (exam, region) → score; absent cells are 0.
pub type Grid = BTreeMap<(Exam, BodyRegion), u8>;

/// The form field of a cell: `s.<exam>.<region>`.
pub fn field(exam: Exam, region: BodyRegion) -> String {
    format!("s.{}.{}", exam.as_str(), region.as_str())
}

/// Every radiologist's grid at the facility, by user id.
pub fn grids(c: &mut DbConnection, facility_id: i64) -> Result<BTreeMap<i64, Grid>> {
    let rows: Vec<ScoreRow> = specialty_scores::table
        .filter(specialty_scores::facility_id.eq(facility_id))
        .select(ScoreRow::as_select())
        .load(c)?;
    let mut out: BTreeMap<i64, Grid> = BTreeMap::new();
    for r in rows {
        if let (Ok(e), Ok(g)) = (Exam::parse(&r.exam), BodyRegion::parse(&r.region)) {
            out.entry(r.user_id)
                .or_default()
                .insert((e, g), u8::try_from(r.score.clamp(0, 100)).unwrap_or(0));
        }
    }
    Ok(out)
}

/// Parses a submitted grid: every cell must be empty (0) or a whole number 0–100. On error
/// returns the cells that are wrong (shown in red) under the field `scores`.
pub fn parse_grid(
    form: &BTreeMap<String, String>,
) -> std::result::Result<Grid, (FieldErrors, Vec<String>)> {
    let mut grid = Grid::new();
    let mut bad = Vec::new();
    for e in Exam::ALL {
        for r in BodyRegion::ALL {
            let name = field(*e, *r);
            let raw = form.get(&name).map(|s| s.trim()).unwrap_or("");
            if raw.is_empty() {
                continue;
            }
            match raw.parse::<u8>() {
                Ok(v) if v <= 100 => {
                    if v > 0 {
                        grid.insert((*e, *r), v);
                    }
                }
                _ => bad.push(name),
            }
        }
    }
    if bad.is_empty() {
        Ok(grid)
    } else {
        Err((FieldErrors::single("scores", "worklist.err_score"), bad))
    }
}

/// Replaces a radiologist's grid (zero cells are not stored), with its audit event. The user
/// must be an active radiologist of the facility (else `NotFound`).
pub fn save(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    grid: &Grid,
) -> Result<()> {
    db::write_tx(conn, |c| {
        if !is_radiologist_of(c, facility_id, user_id)? {
            return Err(Error::NotFound);
        }
        diesel::delete(
            specialty_scores::table
                .filter(specialty_scores::user_id.eq(user_id))
                .filter(specialty_scores::facility_id.eq(facility_id)),
        )
        .execute(c)?;
        let now = db::now();
        for ((e, r), s) in grid.iter().filter(|(_, s)| **s > 0) {
            diesel::insert_into(specialty_scores::table)
                .values((
                    specialty_scores::facility_id.eq(facility_id),
                    specialty_scores::user_id.eq(user_id),
                    specialty_scores::exam.eq(e.as_str()),
                    specialty_scores::region.eq(r.as_str()),
                    specialty_scores::score.eq(i32::from(*s)),
                    specialty_scores::updated_at.eq(now),
                    specialty_scores::updated_by.eq(ctx.actor.user_id),
                ))
                .execute(c)?;
        }
        audit::record(
            c,
            ctx,
            Event::success("specialty.save")
                .object("user", user_id)
                .detail(serde_json::json!({ "cells": grid.len() })),
        )?;
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn grids_accept_0_to_100_and_name_the_bad_cells() {
        let mut f = BTreeMap::new();
        f.insert(field(Exam::Ct, BodyRegion::HeadNeck), "90".to_owned());
        f.insert(field(Exam::Ct, BodyRegion::Chest), "0".to_owned());
        f.insert(field(Exam::Mri, BodyRegion::Chest), " ".to_owned());
        let g = parse_grid(&f).unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g.get(&(Exam::Ct, BodyRegion::HeadNeck)), Some(&90));
        f.insert(field(Exam::Us, BodyRegion::Abdomen), "101".to_owned());
        f.insert(field(Exam::Ct, BodyRegion::Pelvis), "-1".to_owned());
        f.insert(field(Exam::Mmg, BodyRegion::Breast), "abc".to_owned());
        let (e, bad) = parse_grid(&f).unwrap_err();
        assert_eq!(e.get("scores"), Some("worklist.err_score"));
        assert_eq!(bad.len(), 3);
    }
}
