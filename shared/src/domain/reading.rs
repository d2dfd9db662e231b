//! Read-request vocabulary: what is asked (category, exam, purpose, clinical information),
//! how urgently, where it stands, and the small value types of price tables (yen, a time
//! of day, the tax rounding rule).

use serde::{Deserialize, Serialize};

use super::Modality;

string_enum! {
    /// 臨床 clinical reading or 健診 screening: the two halves of a price table.
    Category {
        Clinical => "clinical",
        Screening => "screening",
    }
}

string_enum! {
    /// The exam a price-table row is for (K-MIX R's rows, plus the market's other modalities).
    Exam {
        Ct => "ct",
        Mri => "mri",
        CrDx => "cr_dx",
        Mmg => "mmg",
        /// 胃透視: upper GI series (RF).
        Ugi => "ugi",
        /// 眼底: fundus photography (OP).
        Fundus => "fundus",
        Us => "us",
        NmPet => "nm_pet",
        Other => "other",
    }
}

impl Exam {
    /// The price-table row that reads a study of this modality.
    pub fn of_modality(m: Modality) -> Exam {
        match m {
            Modality::CT => Exam::Ct,
            Modality::MR => Exam::Mri,
            Modality::CR | Modality::DX => Exam::CrDx,
            Modality::MG => Exam::Mmg,
            Modality::RF => Exam::Ugi,
            Modality::OP => Exam::Fundus,
            Modality::US => Exam::Us,
            Modality::NM | Modality::PT => Exam::NmPet,
            Modality::XA | Modality::OT => Exam::Other,
        }
    }
}

string_enum! {
    /// 緊急 emergency (reading starts within 30 minutes) or 一般 routine.
    Urgency {
        Emergency => "emergency",
        Routine => "routine",
    }
}

string_enum! {
    /// Where a read request stands. Live: requested, accepted, reading. Reported: confirmed,
    /// acknowledged.
    RequestStatus {
        Requested => "requested",
        Accepted => "accepted",
        Reading => "reading",
        Confirmed => "confirmed",
        Acknowledged => "acknowledged",
        Cancelled => "cancelled",
    }
}

impl RequestStatus {
    /// The states in which a request still waits for (or is under) reading.
    pub const LIVE: &'static [RequestStatus] = &[
        RequestStatus::Requested,
        RequestStatus::Accepted,
        RequestStatus::Reading,
    ];

    pub fn is_live(self) -> bool {
        Self::LIVE.contains(&self)
    }

    /// The requester may cancel until reading starts.
    pub fn can_cancel(self) -> bool {
        matches!(self, RequestStatus::Requested | RequestStatus::Accepted)
    }

    /// The transitions a request may make (each audited).
    pub fn can_become(self, next: RequestStatus) -> bool {
        use RequestStatus::*;
        matches!(
            (self, next),
            (Requested, Accepted)
                | (Requested, Reading)
                | (Accepted, Reading)
                // A radiologist of the facility may confirm without claiming first.
                | (Requested, Confirmed)
                | (Accepted, Confirmed)
                | (Reading, Confirmed)
                | (Confirmed, Acknowledged)
                | (Requested, Cancelled)
                | (Accepted, Cancelled)
        )
    }
}

string_enum! {
    /// 検査目的: why the exam was done.
    Purpose {
        Diagnosis => "diagnosis",
        Screening => "screening",
        FollowUp => "follow_up",
        Preoperative => "preoperative",
        Postoperative => "postoperative",
        TreatmentResponse => "treatment_response",
        RuleOut => "rule_out",
        Other => "other",
    }
}

string_enum! {
    /// 臨床情報・疑い病名: the clinical question, as a pulldown (free text beside it).
    ClinicalInfo {
        Tumor => "tumor",
        Metastasis => "metastasis",
        Inflammation => "inflammation",
        Infection => "infection",
        Pneumonia => "pneumonia",
        Trauma => "trauma",
        Stroke => "stroke",
        Hemorrhage => "hemorrhage",
        Cardiovascular => "cardiovascular",
        AbdominalPain => "abdominal_pain",
        Degenerative => "degenerative",
        Other => "other",
    }
}

string_enum! {
    /// The regions the body-part catalogue is grouped by.
    BodyRegion {
        HeadNeck => "head_neck",
        Chest => "chest",
        Breast => "breast",
        Abdomen => "abdomen",
        Pelvis => "pelvis",
        Spine => "spine",
        UpperLimb => "upper_limb",
        LowerLimb => "lower_limb",
        WholeBody => "whole_body",
        Other => "other",
    }
}

string_enum! {
    /// How consumption tax is rounded to whole yen (切り捨て, 四捨五入, 切り上げ).
    Rounding {
        Floor => "floor",
        HalfUp => "half_up",
        Ceil => "ceil",
    }
}

/// An amount of Japanese yen in a price table: whole yen, 0 to 10,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Yen(i64);

impl Yen {
    pub const MAX: i64 = 10_000_000;

    pub fn new(v: i64) -> Result<Yen, &'static str> {
        if (0..=Self::MAX).contains(&v) {
            Ok(Yen(v))
        } else {
            Err("err.yen")
        }
    }

    /// Parses what people type: `3300`, `3,300`, `￥3,300`, `3300円`; empty is zero.
    pub fn parse(s: &str) -> Result<Yen, &'static str> {
        let t: String = s
            .trim()
            .trim_start_matches(['¥', '￥'])
            .trim_end_matches('円')
            .chars()
            .filter(|c| *c != ',' && *c != '，')
            .map(|c| match c {
                '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
                other => other,
            })
            .collect();
        if t.is_empty() {
            return Ok(Yen(0));
        }
        if !t.bytes().all(|b| b.is_ascii_digit()) || t.len() > 9 {
            return Err("err.yen");
        }
        Yen::new(t.parse::<i64>().map_err(|_| "err.yen")?)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// `3,300` (grouped by thousands, as prices are printed).
pub fn format_yen(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A time of day in Japan time, `HH:MM` (00:00–23:59), as minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub const MIDNIGHT: TimeOfDay = TimeOfDay(0);
    pub const NOON: TimeOfDay = TimeOfDay(12 * 60);

    pub fn parse(s: &str) -> Result<TimeOfDay, &'static str> {
        let (h, m) = s.trim().split_once(':').ok_or("err.time_of_day")?;
        let h: u16 = h.parse().map_err(|_| "err.time_of_day")?;
        let m: u16 = m.parse().map_err(|_| "err.time_of_day")?;
        if h > 23 || m > 59 {
            return Err("err.time_of_day");
        }
        Ok(TimeOfDay(h * 60 + m))
    }

    pub fn from_minutes(m: u16) -> Option<TimeOfDay> {
        (m < 24 * 60).then_some(TimeOfDay(m))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn to_naive(self) -> chrono::NaiveTime {
        chrono::NaiveTime::from_hms_opt(u32::from(self.0 / 60), u32::from(self.0 % 60), 0)
            .unwrap_or(chrono::NaiveTime::MIN)
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_parses_what_people_type() {
        assert_eq!(Yen::parse("3300").unwrap().get(), 3300);
        assert_eq!(Yen::parse(" ￥3,300 ").unwrap().get(), 3300);
        assert_eq!(Yen::parse("３，３００円").unwrap().get(), 3300);
        assert_eq!(Yen::parse("").unwrap().get(), 0);
        assert!(Yen::parse("-1").is_err());
        assert!(Yen::parse("3.5").is_err());
        assert!(Yen::parse("99999999999").is_err());
        assert_eq!(format_yen(3300), "3,300");
        assert_eq!(format_yen(1_234_567), "1,234,567");
        assert_eq!(format_yen(605), "605");
    }

    #[test]
    fn times_of_day() {
        assert_eq!(TimeOfDay::parse("08:30").unwrap().minutes(), 510);
        assert_eq!(TimeOfDay::parse("8:05").unwrap().to_string(), "08:05");
        assert!(TimeOfDay::parse("24:00").is_err());
        assert!(TimeOfDay::parse("12").is_err());
    }

    #[test]
    fn exams_follow_modalities() {
        assert_eq!(Exam::of_modality(Modality::DX), Exam::CrDx);
        assert_eq!(Exam::of_modality(Modality::RF), Exam::Ugi);
        assert_eq!(Exam::of_modality(Modality::PT), Exam::NmPet);
    }

    #[test]
    fn status_transitions() {
        use RequestStatus::*;
        assert!(Requested.can_become(Cancelled));
        assert!(!Reading.can_become(Cancelled));
        assert!(!Confirmed.can_become(Reading));
        assert!(Requested.can_become(Confirmed) && Accepted.can_become(Confirmed));
        assert!(!Cancelled.can_become(Confirmed) && !Acknowledged.can_become(Confirmed));
        assert!(Requested.can_cancel() && !Reading.can_cancel());
    }
}
