//! DICOM JSON values (PS3.18 F.2) as QIDO-RS and WADO-RS metadata write them: each
//! attribute with its VR and, unless empty, its values; person names with their three
//! component groups.

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

/// An attribute with these values (none: VR only).
pub fn values(vr: &str, values: Vec<Value>) -> Value {
    if values.is_empty() {
        json!({ "vr": vr })
    } else {
        json!({ "vr": vr, "Value": values })
    }
}

/// A single string value (empty: VR only).
pub fn string(vr: &str, s: &str) -> Value {
    if s.is_empty() {
        values(vr, Vec::new())
    } else {
        values(vr, vec![json!(s)])
    }
}

/// A single number, if any.
pub fn int(vr: &str, n: Option<i64>) -> Value {
    values(vr, n.map(|n| json!(n)).into_iter().collect())
}

/// A DA value (`YYYYMMDD`), if any.
pub fn da(d: Option<NaiveDate>) -> Value {
    string(
        "DA",
        &d.map(|d| d.format("%Y%m%d").to_string())
            .unwrap_or_default(),
    )
}

/// A PN attribute from its three groups (romaji, kanji, kana); empty groups left out.
pub fn person(alphabetic: &str, ideographic: &str, phonetic: &str) -> Value {
    let mut groups = Map::new();
    for (k, v) in [
        ("Alphabetic", alphabetic),
        ("Ideographic", ideographic),
        ("Phonetic", phonetic),
    ] {
        if !v.is_empty() {
            groups.insert(k.into(), json!(v));
        }
    }
    if groups.is_empty() {
        values("PN", Vec::new())
    } else {
        values("PN", vec![Value::Object(groups)])
    }
}

/// A person name kept in the index as one string, `alphabetic=ideographic=phonetic`.
pub fn person_string(s: &str) -> Value {
    let mut g = s.splitn(3, '=');
    person(
        g.next().unwrap_or(""),
        g.next().unwrap_or(""),
        g.next().unwrap_or(""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_names() {
        assert_eq!(string("LO", ""), json!({"vr": "LO"}));
        assert_eq!(int("IS", Some(3)), json!({"vr": "IS", "Value": [3]}));
        assert_eq!(
            da(NaiveDate::from_ymd_opt(2026, 11, 20)),
            json!({"vr": "DA", "Value": ["20261120"]})
        );
        assert_eq!(
            person_string("Yamada^Tarou=山田^太郎=やまだ^たろう"),
            json!({"vr": "PN", "Value": [{"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"}]})
        );
        assert_eq!(
            person("", "山田^太郎", ""),
            json!({"vr": "PN", "Value": [{"Ideographic": "山田^太郎"}]})
        );
    }
}
