//! Japan time, national holidays and after-hours windows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};
use proptest::prelude::*;
use radvision::core::calendar::{
    from_jst, in_window, is_after_hours, is_day_off, japanese_holiday, to_jst, AfterHours,
};
use shared::domain::TimeOfDay;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    date(y, m, d).and_hms_opt(h, min, 0).unwrap()
}

fn tod(s: &str) -> TimeOfDay {
    TimeOfDay::parse(s).unwrap()
}

fn holiday(y: i32, m: u32, d: u32) -> Option<&'static str> {
    japanese_holiday(date(y, m, d))
}

#[test]
fn japan_time_is_utc_plus_nine() {
    assert_eq!(to_jst(at(2025, 12, 31, 15, 0)), at(2026, 1, 1, 0, 0));
    assert_eq!(from_jst(at(2026, 1, 1, 0, 0)), at(2025, 12, 31, 15, 0));
    // No daylight saving: the same offset in summer.
    assert_eq!(to_jst(at(2025, 7, 1, 3, 0)), at(2025, 7, 1, 12, 0));
    assert_eq!(to_jst(NaiveDateTime::MAX), NaiveDateTime::MAX);
    assert_eq!(from_jst(NaiveDateTime::MIN), NaiveDateTime::MIN);
}

#[test]
fn the_2025_holidays() {
    let expected = [
        ((1, 1), "元日"),
        ((1, 13), "成人の日"),
        ((2, 11), "建国記念の日"),
        ((2, 23), "天皇誕生日"),
        ((2, 24), "振替休日"),
        ((3, 20), "春分の日"),
        ((4, 29), "昭和の日"),
        ((5, 3), "憲法記念日"),
        ((5, 4), "みどりの日"),
        ((5, 5), "こどもの日"),
        ((5, 6), "振替休日"),
        ((7, 21), "海の日"),
        ((8, 11), "山の日"),
        ((9, 15), "敬老の日"),
        ((9, 23), "秋分の日"),
        ((10, 13), "スポーツの日"),
        ((11, 3), "文化の日"),
        ((11, 23), "勤労感謝の日"),
        ((11, 24), "振替休日"),
    ];
    assert_year(2025, &expected);
}

#[test]
fn the_2026_holidays() {
    let expected = [
        ((1, 1), "元日"),
        ((1, 12), "成人の日"),
        ((2, 11), "建国記念の日"),
        ((2, 23), "天皇誕生日"),
        ((3, 20), "春分の日"),
        ((4, 29), "昭和の日"),
        ((5, 3), "憲法記念日"),
        ((5, 4), "みどりの日"),
        ((5, 5), "こどもの日"),
        ((5, 6), "振替休日"),
        ((7, 20), "海の日"),
        ((8, 11), "山の日"),
        ((9, 21), "敬老の日"),
        ((9, 22), "国民の休日"),
        ((9, 23), "秋分の日"),
        ((10, 12), "スポーツの日"),
        ((11, 3), "文化の日"),
        ((11, 23), "勤労感謝の日"),
    ];
    assert_year(2026, &expected);
}

#[test]
fn the_2027_holidays() {
    let expected = [
        ((1, 1), "元日"),
        ((1, 11), "成人の日"),
        ((2, 11), "建国記念の日"),
        ((2, 23), "天皇誕生日"),
        ((3, 21), "春分の日"),
        ((3, 22), "振替休日"),
        ((4, 29), "昭和の日"),
        ((5, 3), "憲法記念日"),
        ((5, 4), "みどりの日"),
        ((5, 5), "こどもの日"),
        ((7, 19), "海の日"),
        ((8, 11), "山の日"),
        ((9, 20), "敬老の日"),
        ((9, 23), "秋分の日"),
        ((10, 11), "スポーツの日"),
        ((11, 3), "文化の日"),
        ((11, 23), "勤労感謝の日"),
    ];
    assert_year(2027, &expected);
}

/// Every day of `year` is a holiday exactly when listed, with the listed name.
fn assert_year(year: i32, expected: &[((u32, u32), &str)]) {
    let mut d = date(year, 1, 1);
    let mut found = Vec::new();
    while d.year() == year {
        if let Some(name) = japanese_holiday(d) {
            found.push(((d.month(), d.day()), name));
        }
        d = d.succ_opt().unwrap();
    }
    assert_eq!(found, expected);
}

#[test]
fn substitute_holidays() {
    assert_eq!(holiday(2024, 2, 12), Some("振替休日")); // 建国記念の日 on Sunday
    assert_eq!(holiday(2024, 5, 6), Some("振替休日")); // こどもの日 on Sunday
    assert_eq!(holiday(2024, 9, 23), Some("振替休日")); // 秋分の日 on Sunday
    assert_eq!(holiday(2025, 5, 6), Some("振替休日")); // みどりの日 on Sunday, after 5/5
    assert_eq!(holiday(2027, 3, 22), Some("振替休日"));
    assert_eq!(holiday(2020, 2, 24), Some("振替休日"));
    // Before 2007 only the Monday after: 2006-05-03 was a Wednesday, 2001-09-24 followed
    // 秋分の日 on Sunday.
    assert_eq!(holiday(2001, 9, 24), Some("振替休日"));
}

#[test]
fn history_of_the_law() {
    assert_eq!(holiday(2018, 12, 23), Some("天皇誕生日"));
    assert_eq!(holiday(2018, 12, 24), Some("振替休日"));
    assert_eq!(holiday(2019, 12, 23), None);
    assert_eq!(holiday(2019, 2, 23), None);
    assert_eq!(holiday(2020, 2, 23), Some("天皇誕生日"));
    assert_eq!(holiday(2015, 8, 11), None);
    assert_eq!(holiday(2016, 8, 11), Some("山の日"));
    assert_eq!(holiday(2019, 10, 14), Some("体育の日"));
    assert_eq!(holiday(2006, 4, 29), Some("みどりの日"));
    assert_eq!(holiday(2007, 4, 29), Some("昭和の日"));
    assert_eq!(holiday(2007, 5, 4), Some("みどりの日"));
    // Until 2006, May 4 was a citizens' holiday between 5/3 and 5/5.
    assert_eq!(holiday(2006, 5, 4), Some("国民の休日"));
    assert_eq!(holiday(2002, 7, 20), Some("海の日"));
    assert_eq!(holiday(2002, 9, 15), Some("敬老の日"));
    assert_eq!(holiday(2003, 7, 21), Some("海の日"));
    assert_eq!(holiday(2003, 9, 15), Some("敬老の日"));
    // 2009 and 2015 had the September citizens' holiday too.
    assert_eq!(holiday(2009, 9, 22), Some("国民の休日"));
    assert_eq!(holiday(2015, 9, 22), Some("国民の休日"));
}

#[test]
fn ordinary_days_are_not_holidays() {
    assert_eq!(holiday(2025, 1, 2), None);
    assert_eq!(holiday(2025, 3, 21), None);
    assert_eq!(holiday(2025, 5, 7), None);
    assert_eq!(holiday(2025, 12, 31), None);
    assert_eq!(holiday(2026, 9, 24), None);
    assert_eq!(holiday(2027, 3, 20), None);
    // Outside 2000–2099 nothing is known.
    assert_eq!(holiday(1999, 1, 1), None);
    assert_eq!(holiday(2100, 1, 1), None);
}

#[test]
fn days_off() {
    assert!(is_day_off(date(2025, 6, 7))); // Saturday
    assert!(is_day_off(date(2025, 6, 8))); // Sunday
    assert!(!is_day_off(date(2025, 6, 9))); // Monday
    assert!(is_day_off(date(2025, 7, 21))); // 海の日
    assert!(is_day_off(date(2025, 12, 29))); // year-end break, a Monday
    assert!(is_day_off(date(2026, 1, 2))); // new-year break, a Friday
    assert!(!is_day_off(date(2026, 1, 5)));
}

fn night() -> AfterHours {
    AfterHours {
        start: tod("17:00"),
        end: tod("08:30"),
        weekends_and_holidays: true,
    }
}

#[test]
fn after_hours_window_wraps_midnight() {
    let r = night();
    // Tuesday 2025-06-10.
    assert!(!is_after_hours(&r, at(2025, 6, 10, 8, 30)));
    assert!(!is_after_hours(&r, at(2025, 6, 10, 12, 0)));
    assert!(!is_after_hours(&r, at(2025, 6, 10, 16, 59)));
    assert!(is_after_hours(&r, at(2025, 6, 10, 17, 0)));
    assert!(is_after_hours(&r, at(2025, 6, 10, 23, 59)));
    assert!(is_after_hours(&r, at(2025, 6, 11, 0, 0)));
    assert!(is_after_hours(&r, at(2025, 6, 11, 8, 29)));
}

#[test]
fn weekends_and_holidays_are_after_hours_all_day() {
    let r = night();
    assert!(is_after_hours(&r, at(2025, 6, 7, 12, 0))); // Saturday noon
    assert!(is_after_hours(&r, at(2025, 6, 8, 10, 0))); // Sunday
    assert!(is_after_hours(&r, at(2025, 9, 23, 10, 0))); // 秋分の日
    assert!(is_after_hours(&r, at(2025, 12, 30, 10, 0))); // year-end break
    let weekdays_only = AfterHours {
        weekends_and_holidays: false,
        ..r
    };
    assert!(!is_after_hours(&weekdays_only, at(2025, 6, 7, 12, 0)));
    assert!(is_after_hours(&weekdays_only, at(2025, 6, 7, 20, 0)));
}

#[test]
fn equal_times_mean_no_after_hours_window() {
    let r = AfterHours {
        start: tod("00:00"),
        end: tod("00:00"),
        weekends_and_holidays: true,
    };
    assert!(!is_after_hours(&r, at(2025, 6, 10, 3, 0)));
    assert!(is_after_hours(&r, at(2025, 6, 8, 3, 0)));
    let never = AfterHours {
        weekends_and_holidays: false,
        ..r
    };
    assert!(!is_after_hours(&never, at(2025, 6, 8, 3, 0)));
}

#[test]
fn windows() {
    let day = (tod("08:30"), tod("17:00"));
    assert!(in_window(day.0, day.1, at(2025, 6, 10, 8, 30)));
    assert!(!in_window(day.0, day.1, at(2025, 6, 10, 17, 0)));
    assert!(!in_window(day.0, day.1, at(2025, 6, 10, 8, 29)));
    let night = (tod("22:00"), tod("06:00"));
    assert!(in_window(night.0, night.1, at(2025, 6, 10, 23, 0)));
    assert!(in_window(night.0, night.1, at(2025, 6, 10, 5, 59)));
    assert!(!in_window(night.0, night.1, at(2025, 6, 10, 6, 0)));
    assert!(!in_window(night.0, night.1, at(2025, 6, 10, 21, 59)));
    // Equal bounds: around the clock.
    let m = TimeOfDay::MIDNIGHT;
    assert!(in_window(m, m, at(2025, 6, 10, 0, 0)));
    assert!(in_window(m, m, at(2025, 6, 10, 23, 59)));
}

proptest! {
    #[test]
    fn jst_round_trips(secs in -8_000_000_000i64..8_000_000_000) {
        let utc = chrono::DateTime::from_timestamp(secs, 0).unwrap().naive_utc();
        prop_assert_eq!(from_jst(to_jst(utc)), utc);
    }

    #[test]
    fn a_sunday_holiday_gets_a_substitute(
        days in 0u64..36_524,
    ) {
        let d = date(2000, 1, 1) + chrono::Days::new(days);
        if d.weekday() == Weekday::Sun && japanese_holiday(d).is_some() && d.year() >= 2007 {
            // Some later day within the week is a substitute holiday.
            let mut next = d;
            let mut found = false;
            for _ in 0..4 {
                next = next.succ_opt().unwrap();
                if japanese_holiday(next) == Some("振替休日") {
                    found = true;
                    break;
                }
            }
            prop_assert!(found || next.year() > 2099, "{d}");
        }
    }
}
