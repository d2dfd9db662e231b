//! Reading the index: a facility's study list (search with paging), a study with its series,
//! a patient's other studies and instance lookups. Every function is scoped by the caller's
//! facility or by ids the caller has already been authorised for.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::{Instance, Patient, Series, Study};
use crate::db::schema::{instances, patients, series, studies};
use crate::db::DbConnection;
use crate::domain::japanese::normalise_for_search;
use crate::error::{OptionalExt, Result};

/// Study list search (a requesting facility's own studies).
#[derive(Debug, Clone, Default)]
pub struct StudyQuery {
    pub patient_id: Option<String>,
    /// Kanji, kana (hiragana, katakana, half-width) or romaji; matched on all three groups.
    pub name: Option<String>,
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    pub modality: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StudySummary {
    pub study: Study,
    pub patient: Patient,
    /// Instances arrived within the "still arriving" window.
    pub arriving: bool,
}

fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The facility's studies matching `q`, newest first, with the total count.
pub fn search_studies(
    conn: &mut DbConnection,
    facility_id: i64,
    q: &StudyQuery,
    now: NaiveDateTime,
    arriving_seconds: u32,
) -> Result<(Vec<StudySummary>, i64)> {
    let build = || {
        let mut b = studies::table
            .inner_join(patients::table)
            .filter(studies::facility_id.eq(facility_id))
            .into_boxed();
        if let Some(pid) = q
            .patient_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            b = b.filter(patients::patient_key.eq(pid.to_owned()));
        }
        if let Some(name) = q
            .name
            .as_deref()
            .map(normalise_for_search)
            .filter(|s| !s.is_empty())
        {
            b = b.filter(patients::name_search.like(like_escape(&name)).escape('\\'));
        }
        if let Some(d) = q.date_from {
            b = b.filter(studies::study_date.ge(d));
        }
        if let Some(d) = q.date_to {
            b = b.filter(studies::study_date.le(d));
        }
        if let Some(m) = q
            .modality
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            b = b.filter(studies::modalities.like(like_escape(m)).escape('\\'));
        }
        b
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<(Study, Patient)> = build()
        .select((Study::as_select(), Patient::as_select()))
        .order((studies::last_received_at.desc(), studies::id.desc()))
        .offset(q.offset.max(0))
        .limit(q.limit.clamp(1, 200))
        .load(conn)?;
    let window = chrono::Duration::seconds(i64::from(arriving_seconds));
    Ok((
        rows.into_iter()
            .map(|(study, patient)| StudySummary {
                arriving: now - study.last_received_at < window,
                study,
                patient,
            })
            .collect(),
        total,
    ))
}

#[derive(Debug, Clone, Serialize)]
pub struct StudyDetail {
    pub study: Study,
    pub patient: Patient,
    pub series: Vec<Series>,
    pub arriving: bool,
}

/// One study of the facility with its series; another facility's study is `NotFound`.
pub fn get_study(
    conn: &mut DbConnection,
    facility_id: i64,
    study_id: i64,
    now: NaiveDateTime,
    arriving_seconds: u32,
) -> Result<StudyDetail> {
    let (study, patient): (Study, Patient) = studies::table
        .inner_join(patients::table)
        .filter(studies::id.eq(study_id))
        .filter(studies::facility_id.eq(facility_id))
        .select((Study::as_select(), Patient::as_select()))
        .first(conn)
        .found()?;
    let series = series::table
        .filter(series::study_id.eq(study.id))
        .select(Series::as_select())
        .order((series::series_number.asc(), series::id.asc()))
        .load(conn)?;
    let arriving =
        now - study.last_received_at < chrono::Duration::seconds(i64::from(arriving_seconds));
    Ok(StudyDetail {
        study,
        patient,
        series,
        arriving,
    })
}

/// The patient's other studies at the same facility, newest first (the priors a request
/// may ask to compare).
pub fn other_studies_of_patient(
    conn: &mut DbConnection,
    facility_id: i64,
    patient_id: i64,
    except_study_id: i64,
) -> Result<Vec<Study>> {
    Ok(studies::table
        .filter(studies::facility_id.eq(facility_id))
        .filter(studies::patient_id.eq(patient_id))
        .filter(studies::id.ne(except_study_id))
        .select(Study::as_select())
        .order((studies::study_date.desc(), studies::id.desc()))
        .limit(100)
        .load(conn)?)
}

/// A study's Study Instance UID (for audit references).
pub fn study_uid(conn: &mut DbConnection, study_id: i64) -> Result<String> {
    studies::table
        .find(study_id)
        .select(studies::study_uid)
        .first(conn)
        .found()
}

/// Every storage key the index refers to (for orphan sweeps and verification).
pub fn storage_keys(conn: &mut DbConnection) -> Result<Vec<String>> {
    let mut keys: Vec<String> = instances::table
        .select(instances::storage_key)
        .distinct()
        .load(conn)?;
    keys.extend(crate::reading::requests::attachment_keys(conn)?);
    Ok(keys)
}

/// Instances of a study, in series and instance order.
pub fn instances_of_study(
    conn: &mut DbConnection,
    facility_id: i64,
    study_id: i64,
) -> Result<Vec<Instance>> {
    Ok(instances::table
        .filter(instances::facility_id.eq(facility_id))
        .filter(instances::study_id.eq(study_id))
        .select(Instance::as_select())
        .order((
            instances::series_id.asc(),
            instances::instance_number.asc(),
            instances::id.asc(),
        ))
        .load(conn)?)
}

/// One instance of the facility with the UIDs of its study and series (for STOW-RS
/// responses and retrieve URLs); another facility's instance is `NotFound`.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceRef {
    pub instance: Instance,
    pub study_uid: String,
    pub series_uid: String,
}

pub fn get_instance(
    conn: &mut DbConnection,
    facility_id: i64,
    instance_id: i64,
) -> Result<InstanceRef> {
    let (instance, study_uid, series_uid): (Instance, String, String) = instances::table
        .inner_join(studies::table.on(studies::id.eq(instances::study_id)))
        .inner_join(series::table.on(series::id.eq(instances::series_id)))
        .filter(instances::id.eq(instance_id))
        .filter(instances::facility_id.eq(facility_id))
        .select((
            Instance::as_select(),
            studies::study_uid,
            series::series_uid,
        ))
        .first(conn)
        .found()?;
    Ok(InstanceRef {
        instance,
        study_uid,
        series_uid,
    })
}
