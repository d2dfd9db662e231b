//! Where a request goes and when it is due: a supporting facility's reading policy (when it
//! takes emergencies, when routine reports are due), and the rule that picks a facility for
//! a request filed without a preference.

use chrono::{Days, NaiveDateTime, TimeDelta};
use serde::{Deserialize, Serialize};
use shared::domain::{format_yen, TimeOfDay, Urgency};

use super::calendar::{from_jst, in_window, to_jst};

/// How soon reading of an emergency (緊急) request must start: Kagoshima's service level.
pub const EMERGENCY_START_MINUTES: i64 = 30;

/// How a supporting facility takes requests (times in Japan time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadingPolicy {
    /// Whether the facility takes emergency requests at all.
    pub accepts_emergency: bool,
    /// Emergencies are taken in [emergency_from, emergency_until), wrapping midnight;
    /// equal times mean around the clock.
    pub emergency_from: TimeOfDay,
    pub emergency_until: TimeOfDay,
    /// The time of day routine reports are due.
    pub routine_cutoff: TimeOfDay,
    /// Routine reports are due at the cutoff this many calendar days after the filing day.
    pub routine_days: u32,
}

impl Default for ReadingPolicy {
    /// Emergencies around the clock (00:00–00:00); routine reports by 12:00 the next day.
    fn default() -> Self {
        ReadingPolicy {
            accepts_emergency: true,
            emergency_from: TimeOfDay::MIDNIGHT,
            emergency_until: TimeOfDay::MIDNIGHT,
            routine_cutoff: TimeOfDay::NOON,
            routine_days: 1,
        }
    }
}

/// Whether the facility takes an emergency request at `now_utc`: it accepts emergencies and
/// the Japan time is inside its emergency window.
pub fn accepts_emergency_at(p: &ReadingPolicy, now_utc: NaiveDateTime) -> bool {
    p.accepts_emergency && in_window(p.emergency_from, p.emergency_until, to_jst(now_utc))
}

/// When a request filed at `filed_utc` is due (UTC).
///
/// - Emergency: 30 minutes after filing — the time by which reading must *start*
///   (Kagoshima's service level), not the time the report is due.
/// - Routine: the policy's cutoff time, Japan time, `routine_days` calendar days after the
///   filing day in Japan (default: 12:00 JST the next day). Weekends and holidays are not
///   skipped. With `routine_days` 0 and a request filed at or after the cutoff, the due time
///   would precede the filing, so it moves to the next day's cutoff.
///
/// Saturates at the end of `NaiveDateTime`'s range rather than panicking.
pub fn due_at(urgency: Urgency, p: &ReadingPolicy, filed_utc: NaiveDateTime) -> NaiveDateTime {
    match urgency {
        Urgency::Emergency => filed_utc
            .checked_add_signed(TimeDelta::minutes(EMERGENCY_START_MINUTES))
            .unwrap_or(NaiveDateTime::MAX),
        Urgency::Routine => routine_due(p, filed_utc),
    }
}

/// The routine due time of [`due_at`].
fn routine_due(p: &ReadingPolicy, filed_utc: NaiveDateTime) -> NaiveDateTime {
    let cutoff_after = |days: u32| {
        to_jst(filed_utc)
            .date()
            .checked_add_days(Days::new(u64::from(days)))
            .map(|d| from_jst(d.and_time(p.routine_cutoff.to_naive())))
            .unwrap_or(NaiveDateTime::MAX)
    };
    let due = cutoff_after(p.routine_days);
    if due > filed_utc {
        due
    } else {
        cutoff_after(p.routine_days.saturating_add(1))
    }
}

/// A facility that could read a request filed without a preference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub facility_id: i64,
    pub name: String,
    /// Live requests (requested, accepted, reading) the facility has now.
    pub backlog: i64,
    /// What this request would cost there (the quote's total).
    pub total_price: i64,
}

/// The "no preference" rule: the facility with the fewest live requests (the shortest
/// expected wait); ties go to the lower total price, then to the lower facility id. Returns
/// the index into `candidates`, `None` when there are none.
pub fn choose(candidates: &[Candidate]) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .min_by_key(|(_, c)| (c.backlog, c.total_price, c.facility_id))
        .map(|(i, _)| i)
}

/// Why [`choose`] picked `c`, for the request's audit trail: short English, no patient data.
pub fn routing_reason(c: &Candidate) -> String {
    format!(
        "fewest live requests ({}), then price ({} yen), then facility id",
        c.backlog,
        format_yen(c.total_price)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    fn tod(s: &str) -> TimeOfDay {
        TimeOfDay::parse(s).unwrap()
    }

    fn candidate(id: i64, backlog: i64, price: i64) -> Candidate {
        Candidate {
            facility_id: id,
            name: format!("facility {id}"),
            backlog,
            total_price: price,
        }
    }

    #[test]
    fn default_policy_takes_emergencies_around_the_clock() {
        let p = ReadingPolicy::default();
        assert!(p.accepts_emergency);
        assert_eq!(p.routine_cutoff, TimeOfDay::NOON);
        assert_eq!(p.routine_days, 1);
        for h in 0..24 {
            assert!(accepts_emergency_at(&p, utc(2025, 6, 1, h, 0)));
        }
    }

    #[test]
    fn emergency_window_is_in_japan_time() {
        let p = ReadingPolicy {
            emergency_from: tod("08:30"),
            emergency_until: tod("17:00"),
            ..ReadingPolicy::default()
        };
        // 23:30 UTC = 08:30 JST the next day.
        assert!(accepts_emergency_at(&p, utc(2025, 6, 1, 23, 30)));
        assert!(!accepts_emergency_at(&p, utc(2025, 6, 1, 23, 29)));
        // 07:59 UTC = 16:59 JST; 08:00 UTC = 17:00 JST.
        assert!(accepts_emergency_at(&p, utc(2025, 6, 2, 7, 59)));
        assert!(!accepts_emergency_at(&p, utc(2025, 6, 2, 8, 0)));
    }

    #[test]
    fn night_emergency_window_wraps_midnight() {
        let p = ReadingPolicy {
            emergency_from: tod("17:00"),
            emergency_until: tod("08:30"),
            ..ReadingPolicy::default()
        };
        assert!(accepts_emergency_at(&p, utc(2025, 6, 1, 15, 0))); // 00:00 JST
        assert!(accepts_emergency_at(&p, utc(2025, 6, 1, 8, 0))); // 17:00 JST
        assert!(!accepts_emergency_at(&p, utc(2025, 6, 1, 3, 0))); // 12:00 JST
    }

    #[test]
    fn a_facility_without_emergencies_never_takes_one() {
        let p = ReadingPolicy {
            accepts_emergency: false,
            ..ReadingPolicy::default()
        };
        assert!(!accepts_emergency_at(&p, utc(2025, 6, 1, 3, 0)));
    }

    #[test]
    fn emergencies_are_due_to_start_in_thirty_minutes() {
        let p = ReadingPolicy::default();
        assert_eq!(
            due_at(Urgency::Emergency, &p, utc(2025, 6, 1, 23, 45)),
            utc(2025, 6, 2, 0, 15)
        );
        assert_eq!(
            due_at(Urgency::Emergency, &p, NaiveDateTime::MAX),
            NaiveDateTime::MAX
        );
    }

    #[test]
    fn routine_is_due_next_day_noon_japan_time() {
        let p = ReadingPolicy::default();
        // Filed 2025-06-01 10:00 JST (01:00 UTC): due 2025-06-02 12:00 JST = 03:00 UTC.
        assert_eq!(
            due_at(Urgency::Routine, &p, utc(2025, 6, 1, 1, 0)),
            utc(2025, 6, 2, 3, 0)
        );
        // Filed 2025-06-01 20:00 UTC = 2025-06-02 05:00 JST: the filing day is the 2nd in
        // Japan, so due 2025-06-03 12:00 JST = 03:00 UTC.
        assert_eq!(
            due_at(Urgency::Routine, &p, utc(2025, 6, 1, 20, 0)),
            utc(2025, 6, 3, 3, 0)
        );
    }

    #[test]
    fn routine_days_and_cutoff_follow_the_policy() {
        let p = ReadingPolicy {
            routine_cutoff: tod("17:00"),
            routine_days: 3,
            ..ReadingPolicy::default()
        };
        // 2025-12-30 09:00 JST → 2026-01-02 17:00 JST = 08:00 UTC (calendar days).
        assert_eq!(
            due_at(Urgency::Routine, &p, utc(2025, 12, 30, 0, 0)),
            utc(2026, 1, 2, 8, 0)
        );
    }

    #[test]
    fn same_day_routine_never_precedes_the_filing() {
        let p = ReadingPolicy {
            routine_days: 0,
            ..ReadingPolicy::default()
        };
        // 09:00 JST → 12:00 JST the same day.
        assert_eq!(
            due_at(Urgency::Routine, &p, utc(2025, 6, 1, 0, 0)),
            utc(2025, 6, 1, 3, 0)
        );
        // 13:00 JST → 12:00 JST the next day.
        assert_eq!(
            due_at(Urgency::Routine, &p, utc(2025, 6, 1, 4, 0)),
            utc(2025, 6, 2, 3, 0)
        );
    }

    #[test]
    fn choose_prefers_the_shortest_wait_then_price_then_id() {
        assert_eq!(choose(&[]), None);
        let c = [
            candidate(1, 5, 3_000),
            candidate(2, 3, 4_000),
            candidate(3, 4, 1_000),
        ];
        assert_eq!(choose(&c), Some(1));
        let c = [
            candidate(1, 3, 4_000),
            candidate(2, 3, 3_300),
            candidate(3, 3, 3_300),
        ];
        assert_eq!(choose(&c), Some(1));
        let c = [candidate(9, 0, 3_300), candidate(4, 0, 3_300)];
        assert_eq!(choose(&c), Some(1));
    }

    #[test]
    fn the_reason_is_short_and_names_the_backlog() {
        let r = routing_reason(&candidate(7, 3, 3_300));
        assert_eq!(
            r,
            "fewest live requests (3), then price (3,300 yen), then facility id"
        );
        assert!(!r.contains("facility 7"));
    }
}
