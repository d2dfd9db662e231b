//! Running the automatic assignment for one supporting facility: load its waiting,
//! unassigned requests and its radiologists (scores, duty now in Japan time with national
//! holidays, open work, work given today), ask the pure engine ([`super::assignment::plan`])
//! and apply its decisions in one transaction, each with its reason, status event and audit
//! event. A request whose requester named a radiologist goes to that radiologist when they
//! are still one of the facility's.
//!
//! When it runs (docs/WORKLIST.md): right after a request is filed ([`after_filing`]), on
//! the worklist's loads and refreshes (screen and API)
//! when the facility has automatic assignment on and something is waiting, and when the
//! coordinator presses 「自動配分を実行」 (also with it off: a one-off run).

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};
use serde::Serialize;
use shared::audit::Ctx;
use shared::db::{self, DbConnection};
use shared::domain::{BodyRegion, Exam, Urgency};
use shared::reading::catalogue;
use shared::reading::duty::{self, DutySlot};
use shared::reading::requests::ReadRequest;
use shared::reading::worklist::{self, Member};
use shared::Result;

use super::assignment::{self, Decision, Radiologist, Rules, Wait, Waiting};
use super::calendar;

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// (request id, radiologist id) given.
    pub assigned: Vec<(i64, i64)>,
    /// Requests still waiting, and why.
    pub waiting: Vec<(i64, Wait)>,
}

/// The day kind (0–6 Monday–Sunday, 7 national holiday) of a Japan date.
fn day_kind(d: chrono::NaiveDate) -> i32 {
    if calendar::japanese_holiday(d).is_some() {
        duty::HOLIDAY
    } else {
        i32::try_from(d.weekday().num_days_from_monday()).unwrap_or(0)
    }
}

/// Whether the slots put someone on duty at the UTC moment `now`.
pub fn on_duty_at(slots: &[DutySlot], now: NaiveDateTime) -> bool {
    let jst = calendar::to_jst(now);
    let today = day_kind(jst.date());
    let yesterday = jst.date().pred_opt().map_or(duty::HOLIDAY, day_kind);
    let minute = u16::try_from(jst.hour() * 60 + jst.minute()).unwrap_or(0);
    duty::on_duty(slots, today, yesterday, minute)
}

/// The start of the Japan day of `now`, in UTC (work "given today" counts from here).
pub fn day_start(now: NaiveDateTime) -> NaiveDateTime {
    calendar::from_jst(
        calendar::to_jst(now)
            .date()
            .and_time(chrono::NaiveTime::MIN),
    )
}

/// The engine's view of a radiologist.
pub fn radiologist_of(m: &Member, now: NaiveDateTime) -> Radiologist {
    Radiologist {
        id: m.id,
        on_duty: on_duty_at(&m.slots, now),
        open: m.open,
        today: m.today,
        scores: m.scores.clone(),
    }
}

/// The regions of a request's body parts (the catalogue's; unknown codes count as other).
pub fn regions_of(r: &ReadRequest, parts: &[catalogue::BodyPart]) -> Vec<BodyRegion> {
    let mut out: Vec<BodyRegion> = r
        .body_part_codes()
        .iter()
        .map(|code| {
            parts
                .iter()
                .find(|b| b.code == *code)
                .map_or(BodyRegion::Other, |b| b.region())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The engine's view of a request.
pub fn waiting_of(r: &ReadRequest, parts: &[catalogue::BodyPart]) -> Waiting {
    Waiting {
        id: r.id,
        urgency: r.urgency(),
        due_at: r.due_at,
        filed_at: r.requested_at,
        exam: Exam::parse(&r.exam).unwrap_or(Exam::Other),
        regions: regions_of(r, parts),
    }
}

/// Whether anything waits unassigned at the facility (a cheap read before a run).
pub fn anything_waiting(c: &mut DbConnection, facility_id: i64) -> Result<bool> {
    Ok(!worklist::waiting_unassigned(c, facility_id)?.is_empty())
}

/// Right after a request is filed (its own transaction has committed): runs the assignment
/// for the supporting facility if it has automatic assignment on, as the system (the
/// requester is not the one assigning). A failure here never undoes the filing: the request
/// stays waiting for the next run (worklist refresh or the coordinator), and it is logged.
pub fn after_filing(conn: &mut DbConnection, facility_id: i64, now: NaiveDateTime) {
    let ctx = Ctx::system("auto-assign on filing");
    if let Err(e) = run(conn, &ctx, facility_id, now, false) {
        tracing::warn!(facility_id, error = %e, "automatic assignment after filing failed; the request waits for the next run");
    }
}

/// Runs the assignment for the facility if it has automatic assignment on (or `force`), in
/// one transaction.
pub fn run(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    now: NaiveDateTime,
    force: bool,
) -> Result<Outcome> {
    db::write_tx(conn, |c| {
        let settings = worklist::settings(c, facility_id)?;
        if !settings.auto_assign && !force {
            return Ok(Outcome::default());
        }
        let waiting = worklist::waiting_unassigned(c, facility_id)?;
        if waiting.is_empty() {
            return Ok(Outcome::default());
        }
        let team = worklist::team(c, facility_id, day_start(now))?;
        let parts = catalogue::list(c, true)?;
        let mut out = Outcome::default();
        // The requester's named radiologist first, when still one of the team.
        let mut rest = Vec::with_capacity(waiting.len());
        for r in waiting {
            match r.radiologist_id {
                Some(named) if team.iter().any(|m| m.id == named) => {
                    if worklist::assign_auto(c, ctx, &r, named, &worklist::reason::named())? {
                        out.assigned.push((r.id, named));
                    }
                }
                _ => rest.push(r),
            }
        }
        let rules = Rules {
            max_open: u32::try_from(settings.max_open).unwrap_or(8),
            ..Rules::default()
        };
        let mut radiologists: Vec<Radiologist> =
            team.iter().map(|m| radiologist_of(m, now)).collect();
        for (_, named) in &out.assigned {
            if let Some(x) = radiologists.iter_mut().find(|x| x.id == *named) {
                x.open += 1;
                x.today += 1;
            }
        }
        let w: Vec<Waiting> = rest.iter().map(|r| waiting_of(r, &parts)).collect();
        for (id, d) in assignment::plan(&w, &radiologists, &rules) {
            match d {
                Decision::Assigned {
                    radiologist_id,
                    why,
                } => {
                    let Some(r) = rest.iter().find(|r| r.id == id) else {
                        continue;
                    };
                    let why = serde_json::to_value(&why).unwrap_or_default();
                    if worklist::assign_auto(
                        c,
                        ctx,
                        r,
                        radiologist_id,
                        &worklist::reason::auto(why),
                    )? {
                        out.assigned.push((id, radiologist_id));
                    }
                }
                Decision::Waits { reason } => out.waiting.push((id, reason)),
            }
        }
        Ok(out)
    })
}

/// A radiologist's fit for one request, for the coordinator's dropdown: the weakest
/// region's score, open work, and whether on duty now.
pub fn fit(
    m: &Member,
    r: &ReadRequest,
    parts: &[catalogue::BodyPart],
    now: NaiveDateTime,
) -> (u8, u32, bool) {
    let rad = radiologist_of(m, now);
    let exam = Exam::parse(&r.exam).unwrap_or(Exam::Other);
    let (score, _) = rad.score_for(exam, &regions_of(r, parts));
    (score, m.open, rad.on_duty)
}

/// Whether the request is an emergency whose start target (30 minutes after filing) is
/// still ahead: the moment to count down to, else `None`.
pub fn start_target(r: &ReadRequest) -> Option<NaiveDateTime> {
    (r.urgency() == Urgency::Emergency && r.reading_started_at.is_none())
        .then(|| r.requested_at + Duration::minutes(30))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn slot(weekday: i32) -> DutySlot {
        DutySlot {
            id: 1,
            facility_id: 1,
            user_id: 1,
            weekday,
            starts: "09:00".into(),
            ends: "17:00".into(),
            created_at: NaiveDateTime::default(),
            created_by: None,
        }
    }

    #[test]
    fn duty_is_read_in_japan_time_with_holidays_as_their_own_day() {
        // 2026-11-23 is 勤労感謝の日 (a Monday); 2026-11-24 a Tuesday.
        let utc = |d: u32, h: u32| {
            NaiveDate::from_ymd_opt(2026, 11, d)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
        };
        // 10:00 JST Tuesday = 01:00 UTC.
        assert!(on_duty_at(&[slot(1)], utc(24, 1)));
        assert!(!on_duty_at(&[slot(1)], utc(24, 9)));
        // The holiday Monday: Monday slots do not apply, holiday slots do.
        assert!(!on_duty_at(&[slot(0)], utc(23, 1)));
        assert!(on_duty_at(&[slot(duty::HOLIDAY)], utc(23, 1)));
        assert_eq!(day_start(utc(24, 1)), utc(23, 15));
    }
}
