//! Key images (キー画像): frames a facility marks while viewing a study, kept for its report
//! (the reading issue attaches them). A mark belongs to the marking facility: each facility
//! sees and changes only its own, so a clinic's marks and a reading hospital's never mix.
//! The caller has already decided that the facility may see the study (`access::study`);
//! these functions only check that the instance belongs to that study.
//!
//! Marking twice is a no-op, unmarking what is not marked too; each change writes its audit
//! event (`key_image.mark`, `key_image.unmark`) in the same transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Ctx, Event, Outcome};
use crate::db::schema::{instances, key_images, series, studies};
use crate::db::{self, DbConnection};
use crate::error::{Error, OptionalExt, Result};

/// The largest frame number accepted (a sanity bound; frames beyond the instance's own
/// count are refused by the viewer's data, not here).
pub const MAX_FRAME: i32 = 100_000;

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = key_images)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct KeyImage {
    pub id: i64,
    pub facility_id: i64,
    pub study_id: i64,
    pub instance_id: i64,
    pub frame: i32,
    pub request_id: Option<i64>,
    pub marked_by: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = key_images)]
struct NewKeyImage {
    facility_id: i64,
    study_id: i64,
    instance_id: i64,
    frame: i32,
    request_id: Option<i64>,
    marked_by: i64,
    created_at: NaiveDateTime,
}

/// A key image as the viewer addresses it: by its series and SOP Instance UIDs.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyImageRef {
    pub id: i64,
    pub series_uid: String,
    pub sop_instance_uid: String,
    pub instance_number: Option<i32>,
    pub frame: i32,
    pub request_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// Who marks, for which study, and (for a reader) under which request.
#[derive(Debug, Clone, Copy)]
pub struct Marker {
    pub facility_id: i64,
    pub user_id: i64,
    pub study_id: i64,
    pub request_id: Option<i64>,
}

/// The facility's key images of the study, in series and instance order.
pub fn list(c: &mut DbConnection, facility_id: i64, study_id: i64) -> Result<Vec<KeyImageRef>> {
    let rows: Vec<(KeyImage, String, String, Option<i32>)> = key_images::table
        .inner_join(instances::table.on(instances::id.eq(key_images::instance_id)))
        .inner_join(series::table.on(series::id.eq(instances::series_id)))
        .filter(key_images::facility_id.eq(facility_id))
        .filter(key_images::study_id.eq(study_id))
        .select((
            KeyImage::as_select(),
            series::series_uid,
            instances::sop_instance_uid,
            instances::instance_number,
        ))
        .order((
            series::series_number.asc(),
            series::id.asc(),
            instances::instance_number.asc(),
            instances::id.asc(),
            key_images::frame.asc(),
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(k, series_uid, sop_instance_uid, instance_number)| KeyImageRef {
                id: k.id,
                series_uid,
                sop_instance_uid,
                instance_number,
                frame: k.frame,
                request_id: k.request_id,
                created_at: k.created_at,
            },
        )
        .collect())
}

/// The instance of the study with this SOP Instance UID (its id), or `NotFound`.
fn instance_of_study(c: &mut DbConnection, study_id: i64, sop_instance_uid: &str) -> Result<i64> {
    instances::table
        .filter(instances::study_id.eq(study_id))
        .filter(instances::sop_instance_uid.eq(sop_instance_uid))
        .select(instances::id)
        .first(c)
        .found()
}

fn check_frame(frame: i32) -> Result<()> {
    if (1..=MAX_FRAME).contains(&frame) {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

fn event(
    c: &mut DbConnection,
    action: &'static str,
    m: &Marker,
    instance_id: i64,
    frame: i32,
    changed: bool,
) -> Result<Event> {
    let (study_uid, patient_id): (String, i64) = studies::table
        .find(m.study_id)
        .select((studies::study_uid, studies::patient_id))
        .first(c)
        .found()?;
    let mut ev = Event::new(action, Outcome::Success)
        .object("instance", instance_id)
        .detail(serde_json::json!({
            "study_id": m.study_id,
            "frame": frame,
            "request_id": m.request_id,
            "changed": changed,
        }));
    ev.study_ref = Some(study_uid);
    ev.patient_ref = Some(format!("patient:{patient_id}"));
    Ok(ev)
}

/// Marks a frame of an instance of the study as a key image of the marker's facility (a
/// second mark changes nothing), with its audit event. An instance that is not the study's
/// is `NotFound`.
pub fn mark(
    c: &mut DbConnection,
    ctx: &Ctx,
    m: &Marker,
    sop_instance_uid: &str,
    frame: i32,
) -> Result<KeyImage> {
    check_frame(frame)?;
    db::write_tx(c, |c| {
        let instance_id = instance_of_study(c, m.study_id, sop_instance_uid)?;
        let existing: Option<KeyImage> = key_images::table
            .filter(key_images::facility_id.eq(m.facility_id))
            .filter(key_images::instance_id.eq(instance_id))
            .filter(key_images::frame.eq(frame))
            .select(KeyImage::as_select())
            .first(c)
            .optional()?;
        let (row, changed) = match existing {
            Some(k) => (k, false),
            None => {
                let row = diesel::insert_into(key_images::table)
                    .values(&NewKeyImage {
                        facility_id: m.facility_id,
                        study_id: m.study_id,
                        instance_id,
                        frame,
                        request_id: m.request_id,
                        marked_by: m.user_id,
                        created_at: db::now(),
                    })
                    .returning(key_images::all_columns)
                    .get_result(c)?;
                (row, true)
            }
        };
        let ev = event(c, "key_image.mark", m, instance_id, frame, changed)?;
        audit::record(c, ctx, ev)?;
        Ok(row)
    })
}

/// Removes the facility's mark of a frame (none there changes nothing), with its audit
/// event; true when a mark was removed.
pub fn unmark(
    c: &mut DbConnection,
    ctx: &Ctx,
    m: &Marker,
    sop_instance_uid: &str,
    frame: i32,
) -> Result<bool> {
    check_frame(frame)?;
    db::write_tx(c, |c| {
        let instance_id = instance_of_study(c, m.study_id, sop_instance_uid)?;
        let n = diesel::delete(
            key_images::table
                .filter(key_images::facility_id.eq(m.facility_id))
                .filter(key_images::study_id.eq(m.study_id))
                .filter(key_images::instance_id.eq(instance_id))
                .filter(key_images::frame.eq(frame)),
        )
        .execute(c)?;
        let ev = event(c, "key_image.unmark", m, instance_id, frame, n > 0)?;
        audit::record(c, ctx, ev)?;
        Ok(n > 0)
    })
}
