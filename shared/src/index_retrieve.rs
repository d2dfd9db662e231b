//! Reading the image index for WADO-RS: the series and instances of one study, always
//! scoped to a study row the caller was already allowed to see (see `access::study_by_uid`),
//! so a series or instance UID of another study — even of the same facility — is `NotFound`.
//! Order is the order a viewer expects: series by Series Number, then instances by Instance
//! Number (missing numbers last on both databases, then by arrival).

use diesel::prelude::*;

use crate::db::schema::{instances, patients, series};
use crate::db::DbConnection;
use crate::error::{OptionalExt, Result};
use crate::index::{Instance, Patient, Series, Study};

/// One instance with its series (what a retrieval or a metadata answer needs per part).
#[derive(Debug, Clone)]
pub struct SeriesInstance {
    pub series: Series,
    pub instance: Instance,
}

/// The patient of a study (the study's own facility's patient row).
pub fn patient_of_study(conn: &mut DbConnection, study: &Study) -> Result<Patient> {
    patients::table
        .find(study.patient_id)
        .filter(patients::facility_id.eq(study.facility_id))
        .select(Patient::as_select())
        .first(conn)
        .found()
}

/// The series of study `study_id` with this Series Instance UID, or `NotFound`.
pub fn series_by_uid(conn: &mut DbConnection, study_id: i64, series_uid: &str) -> Result<Series> {
    series::table
        .filter(series::study_id.eq(study_id))
        .filter(series::series_uid.eq(series_uid))
        .select(Series::as_select())
        .first(conn)
        .found()
}

/// Every instance of study `study_id` (of one of its series when `series_id` is given), in
/// series then instance order.
pub fn instances(
    conn: &mut DbConnection,
    study_id: i64,
    series_id: Option<i64>,
) -> Result<Vec<SeriesInstance>> {
    let mut q = instances::table
        .inner_join(series::table.on(series::id.eq(instances::series_id)))
        .filter(instances::study_id.eq(study_id))
        .filter(series::study_id.eq(study_id))
        .into_boxed();
    if let Some(s) = series_id {
        q = q.filter(instances::series_id.eq(s));
    }
    let rows: Vec<(Series, Instance)> = q
        .select((Series::as_select(), Instance::as_select()))
        .order((
            series::series_number.is_null().asc(),
            series::series_number.asc(),
            series::id.asc(),
            instances::instance_number.is_null().asc(),
            instances::instance_number.asc(),
            instances::id.asc(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(series, instance)| SeriesInstance { series, instance })
        .collect())
}

/// The instance with this SOP Instance UID in series `series_id` of study `study_id`, or
/// `NotFound`.
pub fn instance_by_uid(
    conn: &mut DbConnection,
    study_id: i64,
    series_id: i64,
    sop_instance_uid: &str,
) -> Result<SeriesInstance> {
    let (series, instance): (Series, Instance) = instances::table
        .inner_join(series::table.on(series::id.eq(instances::series_id)))
        .filter(instances::study_id.eq(study_id))
        .filter(series::study_id.eq(study_id))
        .filter(instances::series_id.eq(series_id))
        .filter(instances::sop_instance_uid.eq(sop_instance_uid))
        .select((Series::as_select(), Instance::as_select()))
        .first(conn)
        .found()?;
    Ok(SeriesInstance { series, instance })
}
