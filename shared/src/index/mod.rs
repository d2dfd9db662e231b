//! The image index: patients, studies, series and instances per owning facility. Recording
//! an instance (with its audit event) is one transaction; searching and reading are scoped
//! to a facility, so one facility's rows are never visible to or changed by another's.
//!
//! - [`record`]: recording a received instance (one transaction with its audit event).
//! - [`read`]: the facility-scoped searches and lookups the screens and APIs use.
//!
//! The row types below are shared by both.

mod read;
mod record;

pub use read::*;
pub use record::*;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{instances, patients, series, studies};

/// Everything the index keeps about one received instance. Serialisable so that the ingest
/// journal can keep it beside the instance's bytes and index it again after a crash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewInstance {
    pub facility_id: i64,
    pub patient_key: String,
    pub name_alphabetic: String,
    pub name_ideographic: String,
    pub name_phonetic: String,
    pub birth_date: Option<NaiveDate>,
    pub sex: String,
    pub study_uid: String,
    pub accession_number: String,
    pub study_date: Option<NaiveDate>,
    pub study_time: String,
    pub study_description: String,
    pub referring_physician: String,
    pub modality: String,
    pub body_part: String,
    pub series_uid: String,
    pub series_number: Option<i32>,
    pub series_description: String,
    pub sop_instance_uid: String,
    pub sop_class_uid: String,
    pub transfer_syntax_uid: String,
    pub instance_number: Option<i32>,
    pub rows: Option<i32>,
    pub columns: Option<i32>,
    pub frames: Option<i32>,
    pub imaging: crate::imaging::ImagingAttributes,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    /// `c-store`, `stow-rs` or `upload`.
    #[serde(deserialize_with = "received_via")]
    pub received_via: String,
}

/// The channel names the index knows (a journal record naming another is refused).
fn received_via<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if ["c-store", "stow-rs", "upload"].contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(serde::de::Error::custom("unknown channel"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New {
        instance_id: i64,
        study_id: i64,
    },
    /// The same instance (same SOP Instance UID, same content) was already there.
    Duplicate {
        instance_id: i64,
        study_id: i64,
    },
    /// The SOP Instance UID is already stored with different content: refused (first write
    /// wins) and audited.
    Conflict {
        instance_id: i64,
    },
    /// The study would grow beyond the size limit: refused.
    StudyTooLarge,
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = patients)]
pub struct Patient {
    pub id: i64,
    pub facility_id: i64,
    pub patient_key: String,
    pub name_alphabetic: String,
    pub name_ideographic: String,
    pub name_phonetic: String,
    #[serde(skip)]
    pub name_search: String,
    pub birth_date: Option<NaiveDate>,
    pub sex: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = studies)]
pub struct Study {
    pub id: i64,
    pub facility_id: i64,
    pub patient_id: i64,
    pub study_uid: String,
    pub accession_number: String,
    pub study_date: Option<NaiveDate>,
    pub study_time: String,
    pub description: String,
    pub modalities: String,
    pub body_part: String,
    pub referring_physician: String,
    pub num_series: i64,
    pub num_instances: i64,
    pub size_bytes: i64,
    pub first_received_at: NaiveDateTime,
    pub last_received_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = series)]
pub struct Series {
    pub id: i64,
    pub study_id: i64,
    pub series_uid: String,
    pub modality: String,
    pub series_number: Option<i32>,
    pub description: String,
    pub body_part: String,
    pub num_instances: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = instances)]
pub struct Instance {
    pub id: i64,
    pub facility_id: i64,
    pub study_id: i64,
    pub series_id: i64,
    pub sop_instance_uid: String,
    pub sop_class_uid: String,
    pub transfer_syntax_uid: String,
    pub instance_number: Option<i32>,
    pub rows_count: Option<i32>,
    pub columns_count: Option<i32>,
    pub frames: Option<i32>,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub received_via: String,
    pub received_at: NaiveDateTime,
    /// [`crate::imaging::ImagingAttributes`] as JSON; read it with [`Instance::imaging`].
    pub imaging: String,
}

impl Instance {
    /// The imaging attributes kept for this instance (empty for rows indexed before they
    /// were kept).
    pub fn imaging(&self) -> crate::imaging::ImagingAttributes {
        crate::imaging::ImagingAttributes::from_json(&self.imaging)
    }
}
