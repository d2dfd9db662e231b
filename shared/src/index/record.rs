//! Recording a received instance: patient, study, series and instance rows, counts and the
//! audit event in one transaction.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::{Instance, NewInstance, Patient, Recorded, Series, Study};
use crate::audit::{self, Ctx, Event, Outcome};
use crate::db::schema::{instances, patients, series, studies};
use crate::db::{self, DbConnection};
use crate::domain::japanese::normalise_for_search;
use crate::error::{Error, Result};

fn is_unique_violation(e: &Error) -> bool {
    matches!(
        e,
        Error::Db(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
}

/// Records one instance: finds or creates the patient, study and series of the facility,
/// adds the instance and updates the counts, and writes the audit event — one transaction.
/// Concurrent first instances of the same study race on the unique keys; the loser retries.
pub fn record_instance(
    conn: &mut DbConnection,
    ctx: &Ctx,
    n: &NewInstance,
    max_study_bytes: i64,
) -> Result<Recorded> {
    let mut attempt = 0;
    loop {
        match db::write_tx(conn, |c| record_once(c, ctx, n, max_study_bytes)) {
            Err(e) if is_unique_violation(&e) && attempt < 5 => attempt += 1,
            other => return other,
        }
    }
}

/// When a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// The commit returns once the database's log is on disk (the default everywhere).
    Now,
    /// The commit is visible at once and reaches the disk with a later flushed commit
    /// ([`mark_durable`]). Only for an instance whose journal record (bytes and this index
    /// entry) is already durable, so a crash loses nothing: start-up replays the journal.
    Deferred,
}

/// Like [`record_instance`], but the transaction commits only once `durable()` says the
/// instance's blob is durable (it returns `false` if writing it failed: everything is
/// rolled back and the result is `Unavailable`). The ingest pipeline makes the blob durable
/// while this does its inserts, so the two overlap and an index row is still never
/// committed before its blob. `durable` is asked at most once per attempt and must
/// remember its answer (retries ask again).
pub fn record_instance_when(
    conn: &mut DbConnection,
    ctx: &Ctx,
    n: &NewInstance,
    max_study_bytes: i64,
    flush: Flush,
    durable: &mut dyn FnMut() -> bool,
) -> Result<Recorded> {
    let mut attempt = 0;
    loop {
        let mut run = |conn: &mut DbConnection| {
            db::write_tx(conn, |c| {
                if flush == Flush::Deferred {
                    db::backend::defer_flush_in_tx(c)?;
                }
                let rec = record_once(c, ctx, n, max_study_bytes)?;
                if durable() {
                    Ok(rec)
                } else {
                    Err(Error::Unavailable(
                        "the instance's blob is not durable".into(),
                    ))
                }
            })
        };
        let r = match flush {
            Flush::Now => run(conn),
            Flush::Deferred => db::backend::with_deferred_flush(conn, run),
        };
        match r {
            Err(e) if is_unique_violation(&e) && attempt < 5 => attempt += 1,
            other => return other,
        }
    }
}

/// Makes every commit made before it durable: a small write committed with a full flush
/// (SQLite's WAL and PostgreSQL's WAL are written in order, so flushing this commit flushes
/// the earlier ones). The ingest journal calls it before it deletes a segment.
pub fn mark_durable(conn: &mut DbConnection, name: &str) -> Result<()> {
    use crate::db::schema::durability_marks;
    let now = db::now();
    db::write_tx(conn, |c| {
        let updated = diesel::update(durability_marks::table.find(name))
            .set(durability_marks::marked_at.eq(now))
            .execute(c)?;
        if updated == 0 {
            diesel::insert_into(durability_marks::table)
                .values((
                    durability_marks::name.eq(name),
                    durability_marks::marked_at.eq(now),
                ))
                .execute(c)?;
        }
        Ok(())
    })
}

/// Whether the facility already has this instance with this content (journal replay skips
/// it then, without a second audit event).
pub fn is_indexed(
    conn: &mut DbConnection,
    facility_id: i64,
    sop_instance_uid: &str,
    sha256: &str,
) -> Result<bool> {
    let n: i64 = instances::table
        .filter(instances::facility_id.eq(facility_id))
        .filter(instances::sop_instance_uid.eq(sop_instance_uid))
        .filter(instances::sha256.eq(sha256))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

fn audit_event(
    action: &'static str,
    outcome: Outcome,
    n: &NewInstance,
    instance_id: i64,
    patient_id: Option<i64>,
    detail: serde_json::Value,
) -> Event {
    let mut ev = Event::new(action, outcome)
        .object("instance", instance_id)
        .detail(detail);
    ev.study_ref = Some(n.study_uid.clone());
    // The patient is referred to by the index's own id, never by the Patient ID.
    ev.patient_ref = patient_id.map(|p| format!("patient:{p}"));
    ev
}

fn record_once(
    c: &mut DbConnection,
    ctx: &Ctx,
    n: &NewInstance,
    max_study_bytes: i64,
) -> Result<Recorded> {
    let now = db::now();
    // Same SOP Instance UID already stored for this facility?
    let existing: Option<Instance> = instances::table
        .filter(instances::facility_id.eq(n.facility_id))
        .filter(instances::sop_instance_uid.eq(&n.sop_instance_uid))
        .select(Instance::as_select())
        .first(c)
        .optional()?;
    if let Some(e) = existing {
        let same = e.sha256 == n.sha256;
        let (action, outcome) = if same {
            ("instance.store", Outcome::Success)
        } else {
            ("instance.conflict", Outcome::Failure)
        };
        audit::record(
            c,
            ctx,
            audit_event(
                action,
                outcome,
                n,
                e.id,
                None,
                serde_json::json!({
                    "via": n.received_via,
                    "duplicate": same,
                    "rule": if same { "identical re-send ignored" } else { "first write wins; different content refused" },
                }),
            ),
        )?;
        return Ok(if same {
            Recorded::Duplicate {
                instance_id: e.id,
                study_id: e.study_id,
            }
        } else {
            Recorded::Conflict { instance_id: e.id }
        });
    }
    let search = normalise_for_search(&format!(
        "{} {} {}",
        n.name_alphabetic, n.name_ideographic, n.name_phonetic
    ));
    // Patient: per facility, keyed by the local Patient ID.
    let patient: Option<Patient> = patients::table
        .filter(patients::facility_id.eq(n.facility_id))
        .filter(patients::patient_key.eq(&n.patient_key))
        .select(Patient::as_select())
        .first(c)
        .optional()?;
    let patient_id = match patient {
        Some(p) => {
            // Keep names current (a later study may carry a corrected name).
            let names_given = !(n.name_alphabetic.is_empty()
                && n.name_ideographic.is_empty()
                && n.name_phonetic.is_empty());
            if names_given
                && (p.name_alphabetic != n.name_alphabetic
                    || p.name_ideographic != n.name_ideographic
                    || p.name_phonetic != n.name_phonetic)
            {
                diesel::update(patients::table.find(p.id))
                    .set((
                        patients::name_alphabetic.eq(&n.name_alphabetic),
                        patients::name_ideographic.eq(&n.name_ideographic),
                        patients::name_phonetic.eq(&n.name_phonetic),
                        patients::name_search.eq(&search),
                        patients::updated_at.eq(now),
                    ))
                    .execute(c)?;
            }
            p.id
        }
        None => diesel::insert_into(patients::table)
            .values((
                patients::facility_id.eq(n.facility_id),
                patients::patient_key.eq(&n.patient_key),
                patients::name_alphabetic.eq(&n.name_alphabetic),
                patients::name_ideographic.eq(&n.name_ideographic),
                patients::name_phonetic.eq(&n.name_phonetic),
                patients::name_search.eq(&search),
                patients::birth_date.eq(n.birth_date),
                patients::sex.eq(&n.sex),
                patients::created_at.eq(now),
                patients::updated_at.eq(now),
            ))
            .returning(patients::id)
            .get_result(c)?,
    };
    // Study: per facility, keyed by Study Instance UID.
    let study: Option<Study> = studies::table
        .filter(studies::facility_id.eq(n.facility_id))
        .filter(studies::study_uid.eq(&n.study_uid))
        .select(Study::as_select())
        .first(c)
        .optional()?;
    let study = match study {
        Some(s) => s,
        None => diesel::insert_into(studies::table)
            .values((
                studies::facility_id.eq(n.facility_id),
                studies::patient_id.eq(patient_id),
                studies::study_uid.eq(&n.study_uid),
                studies::accession_number.eq(&n.accession_number),
                studies::study_date.eq(n.study_date),
                studies::study_time.eq(&n.study_time),
                studies::description.eq(&n.study_description),
                studies::modalities.eq(""),
                studies::body_part.eq(&n.body_part),
                studies::referring_physician.eq(&n.referring_physician),
                studies::first_received_at.eq(now),
                studies::last_received_at.eq(now),
            ))
            .returning(studies::all_columns)
            .get_result(c)?,
    };
    if study.size_bytes + n.size_bytes > max_study_bytes {
        audit::record(
            c,
            ctx,
            audit_event(
                "instance.store",
                Outcome::Failure,
                n,
                0,
                Some(patient_id),
                serde_json::json!({"via": n.received_via, "reason": "study size limit"}),
            ),
        )?;
        return Ok(Recorded::StudyTooLarge);
    }
    let series_row: Option<Series> = series::table
        .filter(series::study_id.eq(study.id))
        .filter(series::series_uid.eq(&n.series_uid))
        .select(Series::as_select())
        .first(c)
        .optional()?;
    let (series_id, new_series) = match series_row {
        Some(s) => (s.id, false),
        None => (
            diesel::insert_into(series::table)
                .values((
                    series::study_id.eq(study.id),
                    series::series_uid.eq(&n.series_uid),
                    series::modality.eq(&n.modality),
                    series::series_number.eq(n.series_number),
                    series::description.eq(&n.series_description),
                    series::body_part.eq(&n.body_part),
                    series::created_at.eq(now),
                ))
                .returning(series::id)
                .get_result(c)?,
            true,
        ),
    };
    let instance_id: i64 = diesel::insert_into(instances::table)
        .values((
            instances::facility_id.eq(n.facility_id),
            instances::study_id.eq(study.id),
            instances::series_id.eq(series_id),
            instances::sop_instance_uid.eq(&n.sop_instance_uid),
            instances::sop_class_uid.eq(&n.sop_class_uid),
            instances::transfer_syntax_uid.eq(&n.transfer_syntax_uid),
            instances::instance_number.eq(n.instance_number),
            instances::rows_count.eq(n.rows),
            instances::columns_count.eq(n.columns),
            instances::frames.eq(n.frames),
            instances::size_bytes.eq(n.size_bytes),
            instances::sha256.eq(&n.sha256),
            instances::storage_key.eq(&n.storage_key),
            instances::received_via.eq(&n.received_via),
            instances::received_at.eq(now),
            instances::imaging.eq(n.imaging.to_json()),
        ))
        .returning(instances::id)
        .get_result(c)?;
    diesel::update(series::table.find(series_id))
        .set(series::num_instances.eq(series::num_instances + 1))
        .execute(c)?;
    let mut modalities: Vec<&str> = study
        .modalities
        .split(' ')
        .filter(|m| !m.is_empty())
        .collect();
    if !n.modality.is_empty() && !modalities.contains(&n.modality.as_str()) {
        modalities.push(&n.modality);
        modalities.sort_unstable();
    }
    let body_part = if study.body_part.is_empty() {
        n.body_part.clone()
    } else {
        study.body_part.clone()
    };
    diesel::update(studies::table.find(study.id))
        .set((
            studies::num_instances.eq(studies::num_instances + 1),
            studies::num_series.eq(studies::num_series + i64::from(new_series)),
            studies::size_bytes.eq(studies::size_bytes + n.size_bytes),
            studies::modalities.eq(modalities.join(" ")),
            studies::body_part.eq(body_part),
            studies::last_received_at.eq(now),
        ))
        .execute(c)?;
    audit::record(
        c,
        ctx,
        audit_event(
            "instance.store",
            Outcome::Success,
            n,
            instance_id,
            Some(patient_id),
            serde_json::json!({
                "via": n.received_via, "size": n.size_bytes, "sop_class": n.sop_class_uid,
            }),
        ),
    )?;
    Ok(Recorded::New {
        instance_id,
        study_id: study.id,
    })
}
