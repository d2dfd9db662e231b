//! Decoding attribute values: UIDs, dates, integer strings, US, code strings and text.

use super::header::{arr2, Syntax};
use crate::ingest::charset::{self, SpecificCharacterSet};
use crate::ingest::model::{PersonName, Reject};

/// Whether a string is a valid DICOM UID (PS3.5 9.1): 1–64 characters, dot-separated
/// numeric components, no leading zero except the single digit `0`.
pub fn is_valid_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 64
        && uid.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_digit())
                && (c == "0" || !c.starts_with('0'))
        })
}

pub(super) fn uid_of(raw: Option<&[u8]>, name: &'static str) -> Result<String, Reject> {
    let raw = raw.ok_or(Reject::Missing(name))?;
    let s = charset::decode_default(raw);
    if s.is_empty() {
        return Err(Reject::Missing(name));
    }
    if !is_valid_uid(&s) {
        return Err(Reject::BadUid(name));
    }
    Ok(s.into_owned())
}

/// Parses DA (`YYYYMMDD`, tolerating `YYYY.MM.DD` and `YYYY-MM-DD`); invalid → `None`.
pub fn parse_date(raw: &[u8]) -> Option<chrono::NaiveDate> {
    let s = charset::decode_default(raw);
    let digits: String = match s.len() {
        8 => s.to_string(),
        10 => {
            let b = s.as_bytes();
            let sep = *b.get(4)?;
            if (sep != b'.' && sep != b'-') || b.get(7) != Some(&sep) {
                return None;
            }
            s.chars().filter(|c| *c != char::from(sep)).collect()
        }
        _ => return None,
    };
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y = digits.get(0..4)?.parse().ok()?;
    let m = digits.get(4..6)?.parse().ok()?;
    let d = digits.get(6..8)?.parse().ok()?;
    chrono::NaiveDate::from_ymd_opt(y, m, d)
}

pub(super) fn parse_is(raw: Option<&[u8]>) -> Option<i64> {
    let s = charset::decode_default(raw?);
    let s = s.strip_prefix('+').unwrap_or(&s);
    s.parse().ok()
}

pub(super) fn read_us(raw: Option<&[u8]>, syntax: Syntax) -> Option<u16> {
    raw.and_then(|r| arr2(r, 0)).map(|b| syntax.u16(b))
}

/// Decoded text fields and their problems.
pub(super) struct TextDecoder {
    pub(super) cs: SpecificCharacterSet,
    pub(super) problems: Vec<String>,
}

impl TextDecoder {
    fn note(&mut self, field: &str, problem: Option<String>) {
        if let Some(p) = problem {
            if self.problems.len() < 4 {
                self.problems.push(format!("{field}: {p}"));
            }
        }
    }
    pub(super) fn text(&mut self, raw: Option<&[u8]>, field: &str) -> String {
        let Some(raw) = raw else {
            return String::new();
        };
        let (s, p) = charset::decode_text(raw, &self.cs);
        self.note(field, p);
        s.trim_matches(|c: char| c == ' ' || c == '\0').to_string()
    }
    pub(super) fn name(&mut self, raw: Option<&[u8]>, field: &str) -> PersonName {
        let Some(raw) = raw else {
            return PersonName::default();
        };
        let (n, p) = charset::decode_person_name(raw, &self.cs);
        self.note(field, p);
        n
    }
}

pub(super) fn code_string(raw: Option<&[u8]>) -> String {
    raw.map(|r| charset::decode_default(r).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids() {
        assert!(is_valid_uid("1.2.840.10008.1.2"));
        assert!(is_valid_uid("1.2.0.3"));
        assert!(!is_valid_uid("1.2.03"));
        assert!(!is_valid_uid("1..2"));
        assert!(!is_valid_uid("1.2."));
        assert!(!is_valid_uid(""));
        assert!(!is_valid_uid("1.2.abc"));
        assert!(!is_valid_uid(&format!("1.{}", "2".repeat(63))));
        assert!(is_valid_uid(&format!("1.{}", "2".repeat(62))));
    }

    #[test]
    fn dates() {
        let d = chrono::NaiveDate::from_ymd_opt(2024, 2, 29);
        assert_eq!(parse_date(b"20240229"), d);
        assert_eq!(parse_date(b"2024.02.29"), d);
        assert_eq!(parse_date(b"2024-02-29 "), d);
        assert_eq!(parse_date(b"20230229"), None);
        assert_eq!(parse_date(b"2024.0229."), None);
        assert_eq!(parse_date(b""), None);
        assert_eq!(parse_date(b"\xff\xff\xff\xff\xff\xff\xff\xff"), None);
    }
}
