//! DICOM JSON values (PS3.18 F.2) as QIDO-RS and WADO-RS metadata write them: each
//! attribute with its VR and, unless empty, its values; person names with their three
//! component groups.

use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use shared::imaging::ImagingAttributes;

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

/// Decimal String values (DS is written as JSON numbers, PS3.18 F.2.3); none: VR only.
pub fn decimals(v: &[f64]) -> Value {
    values("DS", v.iter().map(|x| json!(x)).collect())
}

/// The indexed imaging attributes of an instance, as DICOM JSON attributes. Only known
/// values are written, so a row indexed before they were kept adds nothing.
pub fn imaging(a: &ImagingAttributes, m: &mut Map<String, Value>) {
    let mut put = |tag: &str, v: Value| {
        m.insert(tag.to_owned(), v);
    };
    let us = |v: Option<u16>| int("US", v.map(i64::from));
    let cs = |v: &Option<String>| string("CS", v.as_deref().unwrap_or(""));
    if a.samples_per_pixel.is_some() {
        put("00280002", us(a.samples_per_pixel));
    }
    if a.photometric.is_some() {
        put("00280004", cs(&a.photometric));
    }
    if a.planar_configuration.is_some() {
        put("00280006", us(a.planar_configuration));
    }
    if a.bits_allocated.is_some() {
        put("00280100", us(a.bits_allocated));
    }
    if a.bits_stored.is_some() {
        put("00280101", us(a.bits_stored));
    }
    if a.high_bit.is_some() {
        put("00280102", us(a.high_bit));
    }
    if a.pixel_representation.is_some() {
        put("00280103", us(a.pixel_representation));
    }
    if let Some(v) = a.pixel_spacing {
        put("00280030", decimals(&v));
    }
    if let Some(v) = a.imager_pixel_spacing {
        put("00181164", decimals(&v));
    }
    if let Some(v) = a.slice_thickness {
        put("00180050", decimals(&[v]));
    }
    if let Some(v) = a.image_position {
        put("00200032", decimals(&v));
    }
    if let Some(v) = a.image_orientation {
        put("00200037", decimals(&v));
    }
    if let Some(v) = &a.frame_of_reference_uid {
        put("00200052", string("UI", v));
    }
    if let Some(v) = a.slice_location {
        put("00201041", decimals(&[v]));
    }
    if a.laterality.is_some() {
        put("00200062", cs(&a.laterality));
    }
    if a.view_position.is_some() {
        put("00185101", cs(&a.view_position));
    }
    if !a.window_center.is_empty() {
        put("00281050", decimals(&a.window_center));
        put("00281051", decimals(&a.window_width));
    }
    if let Some(v) = a.rescale_intercept {
        put("00281052", decimals(&[v]));
    }
    if let Some(v) = a.rescale_slope {
        put("00281053", decimals(&[v]));
    }
    if let Some(v) = &a.rescale_type {
        put("00281054", string("LO", v));
    }
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

    #[test]
    fn imaging_attributes() {
        let mut m = Map::new();
        imaging(&ImagingAttributes::default(), &mut m);
        assert!(m.is_empty());
        let a = ImagingAttributes {
            pixel_spacing: Some([0.5, 0.25]),
            window_center: vec![40.0, -600.0],
            window_width: vec![400.0, 1500.0],
            bits_stored: Some(12),
            rescale_intercept: Some(-1024.0),
            photometric: Some("MONOCHROME2".into()),
            ..Default::default()
        };
        imaging(&a, &mut m);
        assert_eq!(m["00280030"], json!({"vr": "DS", "Value": [0.5, 0.25]}));
        assert_eq!(m["00281050"], json!({"vr": "DS", "Value": [40.0, -600.0]}));
        assert_eq!(m["00281051"], json!({"vr": "DS", "Value": [400.0, 1500.0]}));
        assert_eq!(m["00280101"], json!({"vr": "US", "Value": [12]}));
        assert_eq!(m["00281052"], json!({"vr": "DS", "Value": [-1024.0]}));
        assert_eq!(m["00280004"], json!({"vr": "CS", "Value": ["MONOCHROME2"]}));
        assert_eq!(m.len(), 6);
    }
}
