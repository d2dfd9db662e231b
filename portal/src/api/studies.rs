//! `GET /api/v1/studies` and `GET /api/v1/studies/{id}`: the caller's facility's studies
//! (requesters of a requesting facility only), with the same filters as the study list
//! screen. Each read is audited.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use shared::audit::{self, Event, Outcome};
use shared::index;

use crate::api::auth::ApiCaller;
use crate::api::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::studies::{requester_check, view_event, StudyFilter};

#[derive(Serialize, utoipa::ToSchema)]
pub struct PersonNameOut {
    /// Romaji group, with DICOM `^` component separators.
    pub alphabetic: String,
    /// Kanji group.
    pub ideographic: String,
    /// Kana group.
    pub phonetic: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PatientOut {
    /// The index's id of the patient (per facility).
    pub id: i64,
    /// The facility's local Patient ID (0010,0020).
    pub patient_id: String,
    pub name: PersonNameOut,
    pub birth_date: Option<NaiveDate>,
    /// `M`, `F`, `O` or empty.
    pub sex: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StudyOut {
    pub id: i64,
    pub study_uid: String,
    pub accession_number: String,
    pub study_date: Option<NaiveDate>,
    pub description: String,
    /// Modalities in the study, e.g. `["CT", "SR"]`.
    pub modalities: Vec<String>,
    pub body_part: String,
    pub num_series: i64,
    pub num_instances: i64,
    pub size_bytes: i64,
    /// UTC.
    pub first_received_at: NaiveDateTime,
    /// UTC.
    pub last_received_at: NaiveDateTime,
    /// Instances arrived recently: the study may still be growing.
    pub arriving: bool,
    pub patient: PatientOut,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StudyList {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub studies: Vec<StudyOut>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SeriesOut {
    pub id: i64,
    pub series_uid: String,
    pub series_number: Option<i32>,
    pub modality: String,
    pub description: String,
    pub body_part: String,
    pub num_instances: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StudyDetailOut {
    #[serde(flatten)]
    pub study: StudyOut,
    pub referring_physician: String,
    pub series: Vec<SeriesOut>,
}

fn study_out(study: &index::Study, patient: &index::Patient, arriving: bool) -> StudyOut {
    StudyOut {
        id: study.id,
        study_uid: study.study_uid.clone(),
        accession_number: study.accession_number.clone(),
        study_date: study.study_date,
        description: study.description.clone(),
        modalities: study
            .modalities
            .split(' ')
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect(),
        body_part: study.body_part.clone(),
        num_series: study.num_series,
        num_instances: study.num_instances,
        size_bytes: study.size_bytes,
        first_received_at: study.first_received_at,
        last_received_at: study.last_received_at,
        arriving,
        patient: PatientOut {
            id: patient.id,
            patient_id: patient.patient_key.clone(),
            name: PersonNameOut {
                alphabetic: patient.name_alphabetic.clone(),
                ideographic: patient.name_ideographic.clone(),
                phonetic: patient.name_phonetic.clone(),
            },
            birth_date: patient.birth_date,
            sex: patient.sex.clone(),
        },
    }
}

fn no_store(body: impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// The caller's facility's studies, newest first (requesters only).
#[utoipa::path(get, path = "/api/v1/studies", tag = "studies",
    params(
        ("patient_id" = Option<String>, Query, description = "Local Patient ID (exact)"),
        ("name" = Option<String>, Query, description = "Patient name: kanji, kana or romaji (part of the name)"),
        ("date_from" = Option<String>, Query, description = "Study date from (YYYY-MM-DD)"),
        ("date_to" = Option<String>, Query, description = "Study date until (YYYY-MM-DD)"),
        ("modality" = Option<String>, Query, description = "Modality, e.g. CT"),
        ("page" = Option<i64>, Query, description = "Page, from 1"),
        ("per_page" = Option<i64>, Query, description = "Studies per page (1–200, default 50)"),
    ),
    responses((status = 200, body = StudyList), (status = 400, body = crate::api::error::ErrorBody),
        (status = 401, body = crate::api::error::ErrorBody), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    q: web::Query<StudyFilter>,
) -> ApiResult<HttpResponse> {
    caller
        .allow(
            &state,
            requester_check(&caller.principal),
            "study.list",
            None,
        )
        .await?;
    let filter = q.into_inner();
    let parsed = filter.parse(crate::web::studies::PER_PAGE);
    if let Some(e) = parsed.errors.iter().next() {
        return Err(ApiError::BadRequest(format!(
            "invalid {}: {}",
            e.field,
            if e.field == "modality" {
                "letters and digits only"
            } else {
                "expected YYYY-MM-DD"
            }
        )));
    }
    let fid = caller.principal.facility_id;
    let now = state.clock.now();
    let arriving = state.settings.ingest.arriving_seconds;
    let ctx = caller.audit_ctx();
    let query = parsed.query.clone();
    let used = filter.used();
    let page = parsed.page;
    let (rows, total) = state
        .db(move |c| {
            let (rows, total) = index::search_studies(c, fid, &query, now, arriving)?;
            audit::record_now(
                c,
                &ctx,
                Event::new("study.list", Outcome::Success).detail(serde_json::json!({
                    "count": rows.len(), "total": total, "page": page, "filters": used, "via": "api",
                })),
            )?;
            Ok((rows, total))
        })
        .await?;
    Ok(no_store(StudyList {
        total,
        page: parsed.page,
        per_page: parsed.per_page,
        studies: rows
            .iter()
            .map(|s| study_out(&s.study, &s.patient, s.arriving))
            .collect(),
    }))
}

/// One study of the caller's facility with its series (requesters only; another
/// facility's study is 404).
#[utoipa::path(get, path = "/api/v1/studies/{id}", tag = "studies",
    params(("id" = i64, Path, description = "Study id")),
    responses((status = 200, body = StudyDetailOut), (status = 401, body = crate::api::error::ErrorBody),
        (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let raw = path.into_inner();
    let Ok(id) = raw.parse::<i64>() else {
        // A malformed id is a guess like any other: 404 and a denial in the trail.
        caller
            .deny(
                &state,
                "study.view",
                Some(("study", raw.chars().take(64).collect())),
            )
            .await?;
        return Err(ApiError::NotFound);
    };
    caller
        .allow(
            &state,
            requester_check(&caller.principal),
            "study.view",
            Some(("study", id.to_string())),
        )
        .await?;
    let fid = caller.principal.facility_id;
    let now = state.clock.now();
    let arriving = state.settings.ingest.arriving_seconds;
    let ctx = caller.audit_ctx();
    let r = state
        .db(move |c| {
            let d = index::get_study(c, fid, id, now, arriving)?;
            audit::record_now(c, &ctx, view_event(&d, "api"))?;
            Ok(d)
        })
        .await;
    let d = match r {
        Ok(d) => d,
        Err(crate::web::error::WebError::NotFound) => {
            caller
                .deny(&state, "study.view", Some(("study", id.to_string())))
                .await?;
            return Err(ApiError::NotFound);
        }
        Err(e) => return Err(e.into()),
    };
    Ok(no_store(StudyDetailOut {
        study: study_out(&d.study, &d.patient, d.arriving),
        referring_physician: d.study.referring_physician.clone(),
        series: d
            .series
            .iter()
            .map(|s| SeriesOut {
                id: s.id,
                series_uid: s.series_uid.clone(),
                series_number: s.series_number,
                modality: s.modality.clone(),
                description: s.description.clone(),
                body_part: s.body_part.clone(),
                num_instances: s.num_instances,
            })
            .collect(),
    }))
}
