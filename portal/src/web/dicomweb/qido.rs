//! QIDO-RS (DICOMweb Search, PS3.18 10.6) from the index alone: studies, series and
//! instances the caller may see, as `application/dicom+json`.
//!
//! Routes: `GET /dicom-web/studies`, `/dicom-web/series`,
//! `/dicom-web/studies/{study}/series`, `/dicom-web/studies/{study}/instances` and
//! `/dicom-web/studies/{study}/series/{series}/instances`.
//!
//! Choices where PS3.18 leaves room:
//! - Matching keys (keyword or tag form): PatientID, PatientName, StudyDate,
//!   ModalitiesInStudy, AccessionNumber, StudyInstanceUID at every level; SeriesInstanceUID
//!   and Modality from the series level down; SOPInstanceUID and SOPClassUID at the instance
//!   level. Any other key is refused with 400 naming it (rather than ignored), so a client
//!   never believes a filter applied that did not.
//! - PatientName matches any of the three groups (romaji, kanji, kana; hiragana and
//!   katakana alike, case-insensitive) and part of the name is enough; `*` and `?` are
//!   wildcards. PatientID and AccessionNumber match exactly unless they hold a wildcard.
//!   UID and modality keys take lists (comma or backslash separated, or the key repeated).
//! - `limit` defaults to 100; above 1000 it is capped at 1000. When more results exist than
//!   returned, a `Warning: 299` header says so (page on with `offset`).
//! - `includefield` accepts `all`, keywords and tags; every attribute the index holds is
//!   returned anyway. `fuzzymatching` is accepted (names already match leniently).
//! - No match: 200 with `[]`.
//! - A study or series in the path that the caller may not see, or that does not exist, is
//!   404 and an audit event, like every other guess.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde_json::{json, Value};
use shared::audit::{self, Event, Outcome};
use shared::auth::Denied;
use shared::index_search::{
    self as search, Found, InstanceHit, InstanceMatch, Page, SeriesHit, SeriesMatch, StudyHit,
    StudyMatch, Visibility, Within,
};

use super::json::{da, int, person, person_string, string, values};
use super::valid_uid;
use super::{visible_study, visible_study_ids, Scope};
use crate::api::auth::ApiCaller;
use crate::api::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Registers the QIDO-RS resources other than `/dicom-web/studies` (which shares its
/// resource with STOW-RS in `mod.rs`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/dicom-web/series")
            .route(web::get().to(all_series))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/dicom-web/studies/{study}/series")
            .route(web::get().to(series_of_study))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/dicom-web/studies/{study}/instances")
            .route(web::get().to(instances_of_study))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/dicom-web/studies/{study}/series/{series}/instances")
            .route(web::get().to(instances_of_series))
            .default_service(web::to(method_not_allowed)),
    );
}

/// `GET /dicom-web/studies`.
pub async fn studies(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    handle(&state, &caller, &req, Level::Study, None, None).await
}

/// `GET /dicom-web/series`: every series the caller may see.
pub async fn all_series(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    handle(&state, &caller, &req, Level::Series, None, None).await
}

/// `GET /dicom-web/studies/{study}/series`.
pub async fn series_of_study(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let study = path.into_inner();
    handle(&state, &caller, &req, Level::Series, Some(study), None).await
}

/// `GET /dicom-web/studies/{study}/instances`.
pub async fn instances_of_study(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let study = path.into_inner();
    handle(&state, &caller, &req, Level::Instance, Some(study), None).await
}

/// `GET /dicom-web/studies/{study}/series/{series}/instances`.
pub async fn instances_of_series(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (study, series) = path.into_inner();
    handle(
        &state,
        &caller,
        &req,
        Level::Instance,
        Some(study),
        Some(series),
    )
    .await
}

/// Any other method on the QIDO-RS-only resources.
pub async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": "method_not_allowed", "message": "only GET (QIDO-RS) is supported here" }))
}

/// The level of a search: what one result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Study,
    Series,
    Instance,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Study => "study",
            Level::Series => "series",
            Level::Instance => "instance",
        }
    }
}

/// A search's parsed query parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub study: StudyMatch,
    pub series: SeriesMatch,
    pub instance: InstanceMatch,
    pub page: Page,
    /// The keywords of the matching keys given (for the audit trail: names, never values).
    pub filters: Vec<&'static str>,
}

/// The matching keys this server supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    PatientId,
    PatientName,
    StudyDate,
    ModalitiesInStudy,
    AccessionNumber,
    StudyUid,
    SeriesUid,
    Modality,
    SopInstanceUid,
    SopClassUid,
}

/// (keyword, tag, key, lowest level it applies to).
const KEYS: &[(&str, &str, Key, Level)] = &[
    ("PatientID", "00100020", Key::PatientId, Level::Study),
    ("PatientName", "00100010", Key::PatientName, Level::Study),
    ("StudyDate", "00080020", Key::StudyDate, Level::Study),
    (
        "ModalitiesInStudy",
        "00080061",
        Key::ModalitiesInStudy,
        Level::Study,
    ),
    (
        "AccessionNumber",
        "00080050",
        Key::AccessionNumber,
        Level::Study,
    ),
    ("StudyInstanceUID", "0020000D", Key::StudyUid, Level::Study),
    (
        "SeriesInstanceUID",
        "0020000E",
        Key::SeriesUid,
        Level::Series,
    ),
    ("Modality", "00080060", Key::Modality, Level::Series),
    (
        "SOPInstanceUID",
        "00080018",
        Key::SopInstanceUid,
        Level::Instance,
    ),
    ("SOPClassUID", "00080016", Key::SopClassUid, Level::Instance),
];

/// The most values one list key may carry.
const MAX_LIST: usize = 100;

fn key_of(name: &str) -> Option<(&'static str, Key, Level)> {
    KEYS.iter()
        .find(|(kw, tag, _, _)| *kw == name || tag.eq_ignore_ascii_case(name))
        .map(|(kw, _, k, l)| (*kw, *k, *l))
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

fn supported(level: Level) -> String {
    KEYS.iter()
        .filter(|(_, _, _, l)| *l <= level)
        .map(|(kw, _, _, _)| *kw)
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split([',', '\\'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn uids(keyword: &str, value: &str, into: &mut Vec<String>) -> Result<(), String> {
    for v in list(value) {
        if !valid_uid(v) {
            return Err(format!(
                "{keyword}: not a UID (digits and dots, at most 64)"
            ));
        }
        into.push(v.to_owned());
    }
    if into.len() > MAX_LIST {
        return Err(format!("{keyword}: at most {MAX_LIST} values"));
    }
    Ok(())
}

fn modalities(keyword: &str, value: &str, into: &mut Vec<String>) -> Result<(), String> {
    for v in list(value) {
        if v.len() > 16 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!(
                "{keyword}: a modality is letters and digits, e.g. CT"
            ));
        }
        into.push(v.to_ascii_uppercase());
    }
    if into.len() > MAX_LIST {
        return Err(format!("{keyword}: at most {MAX_LIST} values"));
    }
    Ok(())
}

/// A single text value: trimmed, bounded, no control characters; empty matches anything.
fn text(keyword: &str, value: &str, max: usize, slot: &mut Option<String>) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{keyword} given twice"));
    }
    let v = value.trim();
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(format!(
            "{keyword}: at most {max} characters, no control characters"
        ));
    }
    if !v.is_empty() {
        *slot = Some(v.to_owned());
    }
    Ok(())
}

fn date(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y = s.get(0..4)?.parse().ok()?;
    let m = s.get(4..6)?.parse().ok()?;
    let d = s.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// `YYYYMMDD`, `YYYYMMDD-YYYYMMDD`, `-YYYYMMDD` or `YYYYMMDD-` (PS3.4 C.2.2.2.5).
pub fn date_range(value: &str) -> Result<(Option<NaiveDate>, Option<NaiveDate>), String> {
    const BAD: &str = "StudyDate: expected YYYYMMDD or a range YYYYMMDD-YYYYMMDD (either end open)";
    let v = value.trim();
    let (from, to) = match v.split_once('-') {
        None => {
            let d = date(v).ok_or(BAD)?;
            (Some(d), Some(d))
        }
        Some((a, b)) => {
            let from = if a.is_empty() {
                None
            } else {
                Some(date(a).ok_or(BAD)?)
            };
            let to = if b.is_empty() {
                None
            } else {
                Some(date(b).ok_or(BAD)?)
            };
            if from.is_none() && to.is_none() {
                return Err(BAD.into());
            }
            (from, to)
        }
    };
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err("StudyDate: the range starts after it ends".into());
        }
    }
    Ok((from, to))
}

fn number(name: &str, value: &str, max: i64) -> Result<i64, String> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (0..=max).contains(n))
        .ok_or_else(|| format!("{name}: expected a whole number from 0"))
}

fn include_fields(value: &str) -> Result<(), String> {
    for f in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let tag = f.len() == 8 && f.bytes().all(|b| b.is_ascii_hexdigit());
        let keyword = f.len() <= 64
            && f.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && f.bytes().all(|b| b.is_ascii_alphanumeric());
        if !(f == "all" || tag || keyword) {
            return Err(format!(
                "includefield: `{}` is neither `all`, a keyword nor a tag",
                shorten(f)
            ));
        }
    }
    Ok(())
}

/// Parses a QIDO-RS query string for a search at `level`. `Err` is the reason for a 400.
pub fn parse_query(raw: &str, level: Level) -> Result<Query, String> {
    let mut q = Query::default();
    let (mut limit_seen, mut offset_seen, mut date_seen) = (false, false, false);
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "limit" => {
                if std::mem::replace(&mut limit_seen, true) {
                    return Err("limit given twice".into());
                }
                let n = number("limit", &v, i64::MAX)?;
                if n == 0 {
                    return Err("limit: expected 1 or more".into());
                }
                q.page.limit = n.min(search::MAX_LIMIT);
            }
            "offset" => {
                if std::mem::replace(&mut offset_seen, true) {
                    return Err("offset given twice".into());
                }
                q.page.offset = number("offset", &v, search::MAX_OFFSET)?;
            }
            "includefield" => include_fields(&v)?,
            "fuzzymatching" => {
                if !matches!(v.as_ref(), "true" | "false") {
                    return Err("fuzzymatching: expected true or false".into());
                }
            }
            name => {
                let Some((keyword, key, lowest)) = key_of(name) else {
                    return Err(format!(
                        "unsupported query key `{}`; supported here: {}, limit, offset, includefield, fuzzymatching",
                        shorten(name),
                        supported(level)
                    ));
                };
                if lowest > level {
                    return Err(format!(
                        "{keyword} is not a {}-level matching key; supported here: {}",
                        level.as_str(),
                        supported(level)
                    ));
                }
                if !q.filters.contains(&keyword) {
                    q.filters.push(keyword);
                }
                match key {
                    Key::PatientId => text(keyword, &v, 64, &mut q.study.patient_id)?,
                    Key::PatientName => text(keyword, &v, 200, &mut q.study.patient_name)?,
                    Key::AccessionNumber => text(keyword, &v, 64, &mut q.study.accession_number)?,
                    Key::StudyDate => {
                        if std::mem::replace(&mut date_seen, true) {
                            return Err("StudyDate given twice".into());
                        }
                        if !v.trim().is_empty() {
                            (q.study.date_from, q.study.date_to) = date_range(&v)?;
                        }
                    }
                    Key::ModalitiesInStudy => {
                        modalities(keyword, &v, &mut q.study.modalities_in_study)?
                    }
                    Key::Modality => modalities(keyword, &v, &mut q.series.modalities)?,
                    Key::StudyUid => uids(keyword, &v, &mut q.study.study_uids)?,
                    Key::SeriesUid => uids(keyword, &v, &mut q.series.series_uids)?,
                    Key::SopInstanceUid => uids(keyword, &v, &mut q.instance.sop_instance_uids)?,
                    Key::SopClassUid => uids(keyword, &v, &mut q.instance.sop_class_uids)?,
                }
            }
        }
    }
    Ok(q)
}

/// True unless the client accepts only representations other than JSON.
fn accepts_json(req: &HttpRequest) -> bool {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let a = accept.to_ascii_lowercase();
    a.trim().is_empty() || a.contains("json") || a.contains("*/*") || a.contains("application/*")
}

fn not_acceptable() -> HttpResponse {
    HttpResponse::NotAcceptable()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": "not_acceptable", "message": "QIDO-RS answers application/dicom+json only" }))
}

/// What a search found, or the path object the caller may not see.
enum Searched {
    Results(Results),
    Hidden(&'static str, String),
}

enum Results {
    Studies(Found<StudyHit>),
    Series(Found<SeriesHit>),
    Instances(Found<InstanceHit>),
}

impl Results {
    fn len(&self) -> usize {
        match self {
            Results::Studies(f) => f.rows.len(),
            Results::Series(f) => f.rows.len(),
            Results::Instances(f) => f.rows.len(),
        }
    }

    fn more(&self) -> bool {
        match self {
            Results::Studies(f) => f.more,
            Results::Series(f) => f.more,
            Results::Instances(f) => f.more,
        }
    }
}

async fn handle(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    level: Level,
    study_uid: Option<String>,
    series_uid: Option<String>,
) -> ApiResult<HttpResponse> {
    let object = study_uid.as_deref().map(|u| ("study", shorten(u)));
    let scope = match Scope::of_caller(caller) {
        Ok(s) => s,
        Err(Denied) => {
            caller
                .allow(state, Err(Denied), "dicomweb.search", object)
                .await?;
            return Err(ApiError::NotFound);
        }
    };
    // A malformed UID in the path is a guess like any other.
    let malformed = study_uid.as_deref().is_some_and(|u| !valid_uid(u))
        || series_uid.as_deref().is_some_and(|u| !valid_uid(u));
    if malformed {
        caller.deny(state, "dicomweb.search", object).await?;
        return Err(ApiError::NotFound);
    }
    if !accepts_json(req) {
        return Ok(not_acceptable());
    }
    let query = parse_query(req.query_string(), level).map_err(ApiError::BadRequest)?;
    let ctx = caller.audit_ctx();
    let filters = query.filters.clone();
    let searched = state
        .db(move |c| {
            let vis = Visibility {
                own_facility: scope.own.then_some(scope.facility_id),
                study_ids: if scope.requested {
                    let readers = Scope {
                        own: false,
                        ..scope
                    };
                    visible_study_ids(c, &readers)?
                } else {
                    Vec::new()
                },
            };
            let mut within = Within::default();
            let mut study_ref = None;
            if let Some(uid) = &study_uid {
                let study = match visible_study(c, &scope, uid) {
                    Ok((s, _)) => s,
                    Err(shared::Error::NotFound) => {
                        return Ok(Searched::Hidden("study", uid.clone()));
                    }
                    Err(e) => return Err(e),
                };
                within.study_id = Some(study.id);
                if let Some(se) = &series_uid {
                    match search::series_of_study(c, study.id, se) {
                        Ok(s) => within.series_id = Some(s.id),
                        Err(shared::Error::NotFound) => {
                            return Ok(Searched::Hidden("series", se.clone()));
                        }
                        Err(e) => return Err(e),
                    }
                }
                study_ref = Some((study.study_uid.clone(), study.patient_id));
            }
            let q = &query;
            let results = match level {
                Level::Study => Results::Studies(search::studies(c, &vis, &q.study, q.page)?),
                Level::Series => Results::Series(search::series(
                    c, &vis, within, &q.study, &q.series, q.page,
                )?),
                Level::Instance => Results::Instances(search::instances(
                    c,
                    &vis,
                    within,
                    &q.study,
                    &q.series,
                    &q.instance,
                    q.page,
                )?),
            };
            let mut ev = Event::new("dicomweb.search", Outcome::Success).detail(json!({
                "via": "dicomweb",
                "level": level.as_str(),
                "count": results.len(),
                "more": results.more(),
                "filters": filters,
            }));
            if let Some((uid, patient_id)) = study_ref {
                ev = ev.object("study", &uid);
                ev.study_ref = Some(uid);
                // The index's own id, never the Patient ID.
                ev.patient_ref = Some(format!("patient:{patient_id}"));
            }
            audit::record_now(c, &ctx, ev)?;
            Ok(Searched::Results(results))
        })
        .await?;
    let results = match searched {
        Searched::Results(r) => r,
        Searched::Hidden(kind, uid) => {
            caller
                .deny(state, "dicomweb.search", Some((kind, shorten(&uid))))
                .await?;
            return Err(ApiError::NotFound);
        }
    };
    let base = state
        .settings
        .http
        .public_url
        .trim_end_matches('/')
        .to_owned();
    let body: Vec<Value> = match &results {
        Results::Studies(f) => f.rows.iter().map(|h| study_json(h, &base)).collect(),
        Results::Series(f) => f.rows.iter().map(|h| series_json(h, &base)).collect(),
        Results::Instances(f) => f.rows.iter().map(|h| instance_json(h, &base)).collect(),
    };
    tracing::info!(level = level.as_str(), count = body.len(), "qido-rs search");
    let mut resp = HttpResponse::Ok();
    resp.content_type("application/dicom+json")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if results.more() {
        resp.insert_header((
            header::WARNING,
            "299 enkaku \"There are more results than returned: request the next page with offset\"",
        ));
    }
    Ok(resp.body(Value::Array(body).to_string()))
}

// DICOM JSON (PS3.18 F.2): attributes keyed by tag, in tag order, each with its VR and,
// unless empty, its values.

type Attrs = BTreeMap<&'static str, Value>;

fn common(a: &mut Attrs) {
    a.insert("00080005", string("CS", "ISO_IR 192"));
}

fn study_json(h: &StudyHit, base: &str) -> Value {
    let (s, p) = (&h.study, &h.patient);
    let mut a = Attrs::new();
    common(&mut a);
    a.insert("00080020", da(s.study_date));
    a.insert("00080030", string("TM", &s.study_time));
    a.insert("00080050", string("SH", &s.accession_number));
    a.insert(
        "00080061",
        values(
            "CS",
            s.modalities
                .split(' ')
                .filter(|m| !m.is_empty())
                .map(|m| json!(m))
                .collect(),
        ),
    );
    a.insert("00080090", person_string(&s.referring_physician));
    a.insert("00081030", string("LO", &s.description));
    a.insert(
        "00081190",
        string("UR", &format!("{base}/dicom-web/studies/{}", s.study_uid)),
    );
    a.insert(
        "00100010",
        person(&p.name_alphabetic, &p.name_ideographic, &p.name_phonetic),
    );
    a.insert("00100020", string("LO", &p.patient_key));
    a.insert("00100030", da(p.birth_date));
    a.insert("00100040", string("CS", &p.sex));
    a.insert("0020000D", string("UI", &s.study_uid));
    a.insert("00201206", int("IS", Some(s.num_series)));
    a.insert("00201208", int("IS", Some(s.num_instances)));
    json!(a)
}

fn series_json(h: &SeriesHit, base: &str) -> Value {
    let s = &h.series;
    let mut a = Attrs::new();
    common(&mut a);
    a.insert("00080060", string("CS", &s.modality));
    a.insert("0008103E", string("LO", &s.description));
    a.insert("00180015", string("CS", &s.body_part));
    a.insert(
        "00081190",
        string(
            "UR",
            &format!(
                "{base}/dicom-web/studies/{}/series/{}",
                h.study_uid, s.series_uid
            ),
        ),
    );
    a.insert("0020000D", string("UI", &h.study_uid));
    a.insert("0020000E", string("UI", &s.series_uid));
    a.insert("00200011", int("IS", s.series_number.map(i64::from)));
    a.insert("00201209", int("IS", Some(s.num_instances)));
    json!(a)
}

fn instance_json(h: &InstanceHit, base: &str) -> Value {
    let i = &h.instance;
    let mut a = Attrs::new();
    common(&mut a);
    a.insert("00080016", string("UI", &i.sop_class_uid));
    a.insert("00080018", string("UI", &i.sop_instance_uid));
    a.insert("00083002", string("UI", &i.transfer_syntax_uid));
    a.insert(
        "00081190",
        string(
            "UR",
            &format!(
                "{base}/dicom-web/studies/{}/series/{}/instances/{}",
                h.study_uid, h.series_uid, i.sop_instance_uid
            ),
        ),
    );
    a.insert("0020000D", string("UI", &h.study_uid));
    a.insert("0020000E", string("UI", &h.series_uid));
    a.insert("00200013", int("IS", i.instance_number.map(i64::from)));
    a.insert("00280008", int("IS", i.frames.map(i64::from)));
    a.insert("00280010", int("US", i.rows_count.map(i64::from)));
    a.insert("00280011", int("US", i.columns_count.map(i64::from)));
    json!(a)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn keywords_and_tags_both_match() {
        let q = parse_query(
            "PatientID=P-1&00100010=%E5%B1%B1%E7%94%B0*&StudyDate=20250101-20250331&ModalitiesInStudy=CT,mr&0020000d=1.2.3%5C1.2.4&AccessionNumber=A1",
            Level::Study,
        )
        .unwrap();
        assert_eq!(q.study.patient_id.as_deref(), Some("P-1"));
        assert_eq!(q.study.patient_name.as_deref(), Some("山田*"));
        assert_eq!(
            (q.study.date_from, q.study.date_to),
            (d(2025, 1, 1), d(2025, 3, 31))
        );
        assert_eq!(q.study.modalities_in_study, ["CT", "MR"]);
        assert_eq!(q.study.study_uids, ["1.2.3", "1.2.4"]);
        assert_eq!(q.study.accession_number.as_deref(), Some("A1"));
        assert_eq!(
            q.filters,
            [
                "PatientID",
                "PatientName",
                "StudyDate",
                "ModalitiesInStudy",
                "StudyInstanceUID",
                "AccessionNumber"
            ]
        );
        assert_eq!(q.page, Page::default());
    }

    #[test]
    fn dates_single_ranges_and_open_ends() {
        assert_eq!(
            date_range("20250301").unwrap(),
            (d(2025, 3, 1), d(2025, 3, 1))
        );
        assert_eq!(date_range("-20250301").unwrap(), (None, d(2025, 3, 1)));
        assert_eq!(date_range("20250301-").unwrap(), (d(2025, 3, 1), None));
        for bad in [
            "-",
            "2025-03-01",
            "20251301",
            "20250230",
            "2025030",
            "x",
            "20250302-20250301",
        ] {
            assert!(date_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paging_is_bounded() {
        let q = parse_query("limit=5000&offset=20", Level::Study).unwrap();
        assert_eq!((q.page.limit, q.page.offset), (1000, 20));
        assert_eq!(parse_query("limit=7", Level::Study).unwrap().page.limit, 7);
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=x",
            "offset=-3",
            "limit=1&limit=2",
        ] {
            assert!(parse_query(bad, Level::Study).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_repeat_and_levels_are_checked() {
        let q = parse_query(
            "SeriesInstanceUID=1.2.3&SeriesInstanceUID=1.2.4&Modality=CT&SOPInstanceUID=1.2.3.4.5",
            Level::Instance,
        )
        .unwrap();
        assert_eq!(q.series.series_uids, ["1.2.3", "1.2.4"]);
        assert_eq!(q.series.modalities, ["CT"]);
        assert_eq!(q.instance.sop_instance_uids, ["1.2.3.4.5"]);
        let e = parse_query("Modality=CT", Level::Study).unwrap_err();
        assert!(e.contains("not a study-level"), "{e}");
        assert!(parse_query("SOPInstanceUID=1.2", Level::Series).is_err());
        assert!(parse_query("Modality=CT", Level::Series).is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_reason() {
        let e = parse_query("StudyTime=1015", Level::Study).unwrap_err();
        assert!(e.contains("unsupported query key `StudyTime`"), "{e}");
        assert!(e.contains("PatientName"), "{e}");
        for bad in [
            "StudyInstanceUID=1.2.x",
            "StudyInstanceUID=.1.2",
            "ModalitiesInStudy=C%20T",
            "PatientID=a&PatientID=b",
            "PatientID=a%0Ab",
            "fuzzymatching=maybe",
            "includefield=0010%2C0010",
            "00100020.00100010=x",
        ] {
            assert!(parse_query(bad, Level::Study).is_err(), "{bad}");
        }
        let many: Vec<String> = (0..101).map(|i| format!("1.2.{i}")).collect();
        assert!(parse_query(
            &format!("StudyInstanceUID={}", many.join(",")),
            Level::Study
        )
        .is_err());
    }

    #[test]
    fn accepted_extras_and_empty_values() {
        let q = parse_query(
            "includefield=all&includefield=00081030,StudyDescription&fuzzymatching=false&PatientID=&StudyDate=",
            Level::Study,
        )
        .unwrap();
        assert_eq!(q.study, StudyMatch::default());
        assert_eq!(q.filters, ["PatientID", "StudyDate"]);
        assert_eq!(parse_query("", Level::Study).unwrap(), Query::default());
    }

    #[test]
    fn dicom_json_shapes() {
        assert_eq!(
            person("Yamada^Taro", "山田^太郎", ""),
            json!({"vr": "PN", "Value": [{"Alphabetic": "Yamada^Taro", "Ideographic": "山田^太郎"}]})
        );
        assert_eq!(person_string(""), json!({"vr": "PN"}));
        assert_eq!(
            person_string("Sato^Jiro=佐藤^次郎"),
            json!({"vr": "PN", "Value": [{"Alphabetic": "Sato^Jiro", "Ideographic": "佐藤^次郎"}]})
        );
        assert_eq!(
            da(d(2025, 3, 1)),
            json!({"vr": "DA", "Value": ["20250301"]})
        );
        assert_eq!(int("IS", None), json!({"vr": "IS"}));
        assert!(valid_uid("1.2.840.10008"));
        assert!(!valid_uid("1..2"));
    }
}
