//! WADO-RS metadata (PS3.18 §10.4.1.1.2): `…/metadata` on a study, a series or an instance
//! answers `application/dicom+json` built from the index only (files are never re-read):
//! patient, study and series attributes, the instance's identifying attributes and the
//! imaging attributes indexed at ingest (`shared::imaging`: pixel description, spacing,
//! window, rescale, position, orientation). Same authorisation and audit as retrieval
//! ([`super::wado`]); one `dicomweb.metadata` event per answer; `no-store`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};
use shared::index::{Instance, Patient, Study};
use shared::index_retrieve::SeriesInstance;

use super::json::{self, da, int, person, person_string, string};
use super::wado::{
    accept_header, audit_success, media_range, not_acceptable, resolve, split_unquoted, Target,
};
use crate::api::auth::ApiCaller;
use crate::api::error::{ApiError, ApiResult};
use crate::state::AppState;

const METADATA: &str = "dicomweb.metadata";

/// `GET …/metadata` on a study, a series or an instance (the path says which).
pub async fn metadata(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    metadata_of(&state, &caller, &req, Target::from_path(&req)).await
}

async fn metadata_of(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    t: Target,
) -> ApiResult<HttpResponse> {
    if !metadata_acceptable(accept_header(req)) {
        return Ok(not_acceptable(
            "metadata is offered as application/dicom+json only",
        ));
    }
    let found = resolve(state, caller, &t, METADATA).await?;
    let found = std::sync::Arc::new(found);
    let f = found.clone();
    let body = web::block(move || metadata_body(&f.patient, &f.study, &f.parts))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    audit_success(state, caller, METADATA, &t, &found).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/dicom+json")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// The metadata array. The patient, study and series attributes are the same for every
/// instance of a series, so they are serialised once per series and spliced into each
/// instance's object (a 2,000-instance series is one string, built without a JSON tree).
fn metadata_body(p: &Patient, s: &Study, parts: &[SeriesInstance]) -> String {
    let mut shared: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    let mut out = String::with_capacity(parts.len().saturating_mul(2048) + 2);
    out.push('[');
    for (n, si) in parts.iter().enumerate() {
        let common = shared
            .entry(si.series.id)
            .or_insert_with(|| object_members(&common_attributes(p, s, si)));
        if n > 0 {
            out.push(',');
        }
        out.push('{');
        out.push_str(common);
        out.push(',');
        out.push_str(&object_members(&instance_attributes(&si.instance)));
        out.push('}');
    }
    out.push(']');
    out
}

/// `"k":v,…` — a JSON object's members without the braces.
fn object_members(m: &Map<String, Value>) -> String {
    let s = Value::Object(m.clone()).to_string();
    s.get(1..s.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned()
}

fn metadata_acceptable(accept: Option<&str>) -> bool {
    let accept = accept.map(str::trim).unwrap_or("");
    accept.is_empty()
        || split_unquoted(accept, ',')
            .into_iter()
            .filter_map(media_range)
            .any(|(m, _)| {
                matches!(
                    m.as_str(),
                    "application/dicom+json" | "application/json" | "application/*" | "*/*"
                )
            })
}

/// One instance's DICOM JSON from the index.
#[cfg(test)]
fn instance_json(p: &Patient, s: &Study, si: &SeriesInstance) -> Value {
    let mut m = common_attributes(p, s, si);
    m.extend(instance_attributes(&si.instance));
    Value::Object(m)
}

/// The patient, study and series attributes of an instance.
fn common_attributes(p: &Patient, s: &Study, si: &SeriesInstance) -> Map<String, Value> {
    let se = &si.series;
    let mut m = Map::new();
    let mut put = |tag: &str, v: Value| {
        m.insert(tag.to_owned(), v);
    };
    // Patient.
    put(
        "00100010",
        person(&p.name_alphabetic, &p.name_ideographic, &p.name_phonetic),
    );
    put("00100020", string("LO", &p.patient_key));
    put("00100030", da(p.birth_date));
    put("00100040", string("CS", &p.sex));
    // Study.
    put("0020000D", string("UI", &s.study_uid));
    put("00080020", da(s.study_date));
    put("00080030", string("TM", &s.study_time));
    put("00080050", string("SH", &s.accession_number));
    put("00081030", string("LO", &s.description));
    put("00080090", person_string(&s.referring_physician));
    // Series.
    put("0020000E", string("UI", &se.series_uid));
    put("00080060", string("CS", &se.modality));
    put("00200011", int("IS", se.series_number.map(i64::from)));
    put("0008103E", string("LO", &se.description));
    put("00180015", string("CS", &se.body_part));
    m
}

/// The instance's own attributes, with the indexed imaging attributes.
fn instance_attributes(i: &Instance) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |tag: &str, v: Value| {
        m.insert(tag.to_owned(), v);
    };
    put("00080016", string("UI", &i.sop_class_uid));
    put("00080018", string("UI", &i.sop_instance_uid));
    put("00200013", int("IS", i.instance_number.map(i64::from)));
    put("00280010", int("US", i.rows_count.map(i64::from)));
    put("00280011", int("US", i.columns_count.map(i64::from)));
    put("00280008", int("IS", i.frames.map(i64::from)));
    put("00020010", string("UI", &i.transfer_syntax_uid));
    json::imaging(&i.imaging(), &mut m);
    m
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::index::Series;

    use super::super::wado::tests::instance;

    #[test]
    fn acceptable_media_types() {
        assert!(metadata_acceptable(None));
        assert!(metadata_acceptable(Some("application/dicom+json")));
        assert!(metadata_acceptable(Some("application/json, text/plain")));
        assert!(!metadata_acceptable(Some(
            "multipart/related; type=\"application/dicom+xml\""
        )));
    }

    #[test]
    fn metadata_from_the_index() {
        let now = chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let p = Patient {
            id: 7,
            facility_id: 1,
            patient_key: "H31EXAMPLE".into(),
            name_alphabetic: "Yamada^Tarou".into(),
            name_ideographic: "山田^太郎".into(),
            name_phonetic: "やまだ^たろう".into(),
            name_search: String::new(),
            birth_date: chrono::NaiveDate::from_ymd_opt(1960, 4, 1),
            sex: "M".into(),
            created_at: now,
            updated_at: now,
        };
        let s = Study {
            id: 1,
            facility_id: 1,
            patient_id: 7,
            study_uid: "1.2.3".into(),
            accession_number: String::new(),
            study_date: chrono::NaiveDate::from_ymd_opt(2025, 3, 1),
            study_time: "101500".into(),
            description: "CT 胸部".into(),
            modalities: "CT".into(),
            body_part: "CHEST".into(),
            referring_physician: "Sato^Hanako=佐藤^花子".into(),
            num_series: 1,
            num_instances: 1,
            size_bytes: 1,
            first_received_at: now,
            last_received_at: now,
        };
        let se = Series {
            id: 1,
            study_id: 1,
            series_uid: "1.2.3.1".into(),
            modality: "CT".into(),
            series_number: Some(2),
            description: String::new(),
            body_part: "CHEST".into(),
            num_instances: 1,
            created_at: now,
        };
        let si = SeriesInstance {
            series: se,
            instance: instance(5, "", 1, "1.2.840.10008.1.2.1"),
        };
        let v = instance_json(&p, &s, &si);
        assert_eq!(
            v["00100010"],
            json!({"vr": "PN", "Value": [{"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"}]})
        );
        assert_eq!(
            v["00080090"]["Value"][0],
            json!({"Alphabetic": "Sato^Hanako", "Ideographic": "佐藤^花子"})
        );
        assert_eq!(v["00100030"]["Value"][0], "19600401");
        assert_eq!(v["00080050"], json!({"vr": "SH"}));
        assert_eq!(v["0008103E"], json!({"vr": "LO"}));
        assert_eq!(v["00200011"], json!({"vr": "IS", "Value": [2]}));
        assert_eq!(v["00200013"], json!({"vr": "IS", "Value": [5]}));
        assert_eq!(v["00280010"], json!({"vr": "US", "Value": [8]}));
        assert_eq!(v["00280008"], json!({"vr": "IS"}));
        assert_eq!(v["00020010"]["Value"][0], "1.2.840.10008.1.2.1");
        assert_eq!(v["00080018"]["Value"][0], "1.2.3.5");
        assert_eq!(v.as_object().unwrap().len(), 22);
        assert_eq!(person("", "", ""), json!({"vr": "PN"}));
    }
}
