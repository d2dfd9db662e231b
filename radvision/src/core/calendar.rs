//! Japan time and the working calendar: national holidays, the year-end break, and
//! after-hours windows.
//!
//! All timestamps in the application are UTC [`NaiveDateTime`]s; rules about office hours
//! are stated in Japan Standard Time (JST, UTC+9, no daylight saving), so they convert with
//! [`to_jst`] and [`from_jst`] first.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Weekday};
use shared::domain::TimeOfDay;

/// JST is UTC+9 all year.
const JST_OFFSET_HOURS: i64 = 9;

/// The first and last years [`japanese_holiday`] knows.
pub const HOLIDAY_YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;

/// UTC to Japan time (+9 h). Saturates at the ends of `NaiveDateTime`'s range.
pub fn to_jst(utc: NaiveDateTime) -> NaiveDateTime {
    utc.checked_add_signed(TimeDelta::hours(JST_OFFSET_HOURS))
        .unwrap_or(NaiveDateTime::MAX)
}

/// Japan time to UTC (−9 h). Saturates at the ends of `NaiveDateTime`'s range.
pub fn from_jst(jst: NaiveDateTime) -> NaiveDateTime {
    jst.checked_sub_signed(TimeDelta::hours(JST_OFFSET_HOURS))
        .unwrap_or(NaiveDateTime::MIN)
}

/// The name of the Japanese national holiday on `d`, if it is one; `None` outside 2000–2099.
///
/// Covers the 国民の祝日 (national holidays) of the Act on National Holidays as it stood in
/// each year from 2000:
/// - fixed dates: 元日 (Jan 1), 建国記念の日 (Feb 11), 天皇誕生日 (Dec 23 until 2018, none in
///   2019, Feb 23 from 2020), 昭和の日 (Apr 29 from 2007; みどりの日 before), 憲法記念日
///   (May 3), みどりの日 (May 4 from 2007), こどもの日 (May 5), 山の日 (Aug 11 from 2016),
///   文化の日 (Nov 3), 勤労感謝の日 (Nov 23);
/// - "Happy Monday" holidays: 成人の日 (2nd Monday of January), 海の日 (3rd Monday of July
///   from 2003, Jul 20 before), 敬老の日 (3rd Monday of September from 2003, Sep 15 before),
///   スポーツの日 (2nd Monday of October; 体育の日 until 2019);
/// - 春分の日 and 秋分の日 (the spring and autumn equinox days) by the standard approximation
///   formula, valid 1980–2099;
/// - 振替休日 (substitute holiday): a holiday on a Sunday makes the next day that is not a
///   holiday a day off (until 2006: the Monday after);
/// - 国民の休日 (citizens' holiday): a day that is not a holiday between two holidays.
///
/// Only the general rules are modelled: the one-off holidays and moves of special laws (the
/// 2019 enthronement days of May 1 and Oct 22, and the 2020/2021 Olympic moves of 海の日,
/// スポーツの日 and 山の日) are not.
pub fn japanese_holiday(d: NaiveDate) -> Option<&'static str> {
    if !HOLIDAY_YEARS.contains(&d.year()) {
        return None;
    }
    if let Some(name) = national_holiday(d) {
        return Some(name);
    }
    if is_substitute_holiday(d) {
        return Some("振替休日");
    }
    if is_citizens_holiday(d) {
        return Some("国民の休日");
    }
    None
}

/// Whether `d` is a day off: Saturday, Sunday, a national holiday, or the year-end/new-year
/// break (年末年始, Dec 29 – Jan 3) most offices close for.
pub fn is_day_off(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
        || japanese_holiday(d).is_some()
        || is_year_end_break(d)
}

/// Whether `d` falls in the year-end/new-year break (年末年始), Dec 29 – Jan 3.
pub fn is_year_end_break(d: NaiveDate) -> bool {
    matches!((d.month(), d.day()), (12, 29..=31) | (1, 1..=3))
}

/// A table's after-hours rule (時間外): a daily window in Japan time, and whether weekends and
/// holidays count as after hours all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterHours {
    /// The window is [start, end), wrapping midnight when start > end (e.g. 17:00–08:30).
    /// start == end: no daily window.
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    /// Saturdays, Sundays, national holidays and the year-end break count all day.
    pub weekends_and_holidays: bool,
}

/// Whether the Japan time `jst` is after hours under `rule`: inside the daily window, or (when
/// the rule says so) on a day off (see [`is_day_off`]).
pub fn is_after_hours(rule: &AfterHours, jst: NaiveDateTime) -> bool {
    let in_daily_window = rule.start != rule.end && in_window(rule.start, rule.end, jst);
    in_daily_window || (rule.weekends_and_holidays && is_day_off(jst.date()))
}

/// Whether the Japan time `jst` lies in [from, until), wrapping midnight when from > until;
/// from == until means around the clock (always true). Compared to the minute.
pub fn in_window(from: TimeOfDay, until: TimeOfDay, jst: NaiveDateTime) -> bool {
    let now = jst.hour() * 60 + jst.minute();
    let from = u32::from(from.minutes());
    let until = u32::from(until.minutes());
    if from == until {
        true
    } else if from < until {
        from <= now && now < until
    } else {
        now >= from || now < until
    }
}

/// The 国民の祝日 on `d` itself (no substitute or citizens' holidays).
fn national_holiday(d: NaiveDate) -> Option<&'static str> {
    let y = d.year();
    if !HOLIDAY_YEARS.contains(&y) {
        return None;
    }
    let day = d.day();
    match d.month() {
        1 if day == 1 => Some("元日"),
        1 if is_nth_monday(d, 2) => Some("成人の日"),
        2 if day == 11 => Some("建国記念の日"),
        2 if day == 23 && y >= 2020 => Some("天皇誕生日"),
        3 if day == spring_equinox_day(y) => Some("春分の日"),
        4 if day == 29 && y >= 2007 => Some("昭和の日"),
        4 if day == 29 => Some("みどりの日"),
        5 if day == 3 => Some("憲法記念日"),
        5 if day == 4 && y >= 2007 => Some("みどりの日"),
        5 if day == 5 => Some("こどもの日"),
        7 if y >= 2003 && is_nth_monday(d, 3) => Some("海の日"),
        7 if y < 2003 && day == 20 => Some("海の日"),
        8 if day == 11 && y >= 2016 => Some("山の日"),
        9 if y >= 2003 && is_nth_monday(d, 3) => Some("敬老の日"),
        9 if y < 2003 && day == 15 => Some("敬老の日"),
        9 if day == autumn_equinox_day(y) => Some("秋分の日"),
        10 if is_nth_monday(d, 2) && y >= 2020 => Some("スポーツの日"),
        10 if is_nth_monday(d, 2) => Some("体育の日"),
        11 if day == 3 => Some("文化の日"),
        11 if day == 23 => Some("勤労感謝の日"),
        12 if day == 23 && y <= 2018 => Some("天皇誕生日"),
        _ => None,
    }
}

/// 振替休日: from 2007, `d` follows an unbroken run of national holidays that includes a
/// Sunday (the next non-holiday after a Sunday holiday); until 2006, `d` is the Monday after
/// a Sunday holiday. The caller has checked `d` is not a national holiday itself.
fn is_substitute_holiday(d: NaiveDate) -> bool {
    if d.year() < 2007 {
        return d.weekday() == Weekday::Mon
            && d.pred_opt().is_some_and(|p| national_holiday(p).is_some());
    }
    let mut day = d.pred_opt();
    while let Some(p) = day {
        if national_holiday(p).is_none() {
            return false;
        }
        if p.weekday() == Weekday::Sun {
            return true;
        }
        day = p.pred_opt();
    }
    false
}

/// 国民の休日: `d` is not a national holiday, but the days before and after are (until 2006,
/// Sundays were excluded). The caller has checked `d` is not a national or substitute holiday.
fn is_citizens_holiday(d: NaiveDate) -> bool {
    if d.year() < 2007 && d.weekday() == Weekday::Sun {
        return false;
    }
    let before = d.pred_opt().and_then(national_holiday);
    let after = d.succ_opt().and_then(national_holiday);
    before.is_some() && after.is_some()
}

/// Whether `d` is the `n`th Monday of its month.
fn is_nth_monday(d: NaiveDate, n: u32) -> bool {
    d.weekday() == Weekday::Mon && (d.day() - 1) / 7 + 1 == n
}

/// The March day of 春分の日: ⌊20.8431 + 0.242194 (y − 1980) − ⌊(y − 1980) / 4⌋⌋, valid
/// 1980–2099, computed in millionths so it is exact.
fn spring_equinox_day(year: i32) -> u32 {
    equinox_day(20_843_100, year)
}

/// The September day of 秋分の日: as [`spring_equinox_day`] with 23.2488.
fn autumn_equinox_day(year: i32) -> u32 {
    equinox_day(23_248_800, year)
}

/// ⌊base + 0.242194 (y − 1980)⌋ − ⌊(y − 1980) / 4⌋ with `base` in millionths, for
/// 1980 ≤ y ≤ 2099 (other years give 0, which no date matches).
fn equinox_day(base_millionths: i64, year: i32) -> u32 {
    if !(1980..=2099).contains(&year) {
        return 0;
    }
    let n = i64::from(year) - 1980;
    let day = (base_millionths + 242_194 * n) / 1_000_000 - n / 4;
    u32::try_from(day).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn equinox_days_match_the_published_dates() {
        // 国立天文台 (the national observatory) announcements.
        assert_eq!(spring_equinox_day(2000), 20);
        assert_eq!(spring_equinox_day(2012), 20);
        assert_eq!(spring_equinox_day(2024), 20);
        assert_eq!(spring_equinox_day(2025), 20);
        assert_eq!(spring_equinox_day(2026), 20);
        assert_eq!(spring_equinox_day(2027), 21);
        assert_eq!(autumn_equinox_day(2012), 22);
        assert_eq!(autumn_equinox_day(2024), 22);
        assert_eq!(autumn_equinox_day(2025), 23);
        assert_eq!(autumn_equinox_day(2026), 23);
        assert_eq!(equinox_day(20_843_100, 1979), 0);
    }

    #[test]
    fn nth_monday() {
        assert!(is_nth_monday(date(2025, 1, 13), 2));
        assert!(!is_nth_monday(date(2025, 1, 6), 2));
        assert!(is_nth_monday(date(2025, 7, 21), 3));
    }
}
