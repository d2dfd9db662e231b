//! Reports on both databases: drafts with revisions, the confirmation writing everything in
//! one transaction (and nothing when it fails midway), versions the database refuses to
//! change, addenda, acknowledgement, and who may read what.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::prelude::*;
use shared::audit::Ctx;
use shared::auth::Principal;
use shared::db::schema::{
    fee_lines, read_requests, report_drafts, report_version_key_images, report_versions,
    reports as report_rows, request_events,
};
use shared::db::{self, testing, DbConnection, DbPool};
use shared::domain::FacilityStatus;
use shared::index::{self, Recorded};
use shared::membership::facilities::{self, FacilityForm};
use shared::membership::users::{self, Granter, UserForm};
use shared::reading::pricing::{self as tables, NewPriceItem, NewPriceVersion};
use shared::reading::reports::{self, TextInput};
use shared::reading::requests::{self as store, NewRequest};
use shared::Error;

struct World {
    _dir: tempfile::TempDir,
    pool: DbPool,
    clinic: i64,
    hospital: i64,
    doctor: Principal,
    reader: Principal,
    coordinator: Principal,
    other_reader: Principal,
    request: i64,
}

fn facility(c: &mut DbConnection, name: &str, requesting: bool, supporting: bool) -> i64 {
    facilities::create(
        c,
        &Ctx::system("t"),
        &FacilityForm {
            name: name.into(),
            kind: if supporting { "hospital" } else { "clinic" }.into(),
            is_requesting: requesting,
            is_supporting: supporting,
            notification_emails: "a@example.jp".into(),
            ..Default::default()
        },
        FacilityStatus::Active,
    )
    .unwrap()
    .id
}

fn user(c: &mut DbConnection, facility: i64, name: &str, role: &str) -> Principal {
    let id = users::create(
        c,
        &Ctx::system("t"),
        facility,
        &UserForm {
            username: name.into(),
            display_name: format!("{name} 先生"),
            email: format!("{name}@example.jp"),
            roles: vec![role.into()],
            password: "correct horse battery staple".into(),
        },
        shared::domain::UserKind::Person,
        Granter::Association,
    )
    .unwrap()
    .user
    .id;
    Principal::load(c, id).unwrap().unwrap()
}

fn price_version() -> NewPriceVersion {
    NewPriceVersion {
        tax_included: true,
        tax_rate_percent: 10,
        rounding: shared::domain::Rounding::Floor,
        after_hours_start: shared::domain::TimeOfDay::parse("17:30").unwrap(),
        after_hours_end: shared::domain::TimeOfDay::parse("08:30").unwrap(),
        holidays_after_hours: true,
        note: String::new(),
        items: vec![NewPriceItem {
            category: "clinical".into(),
            exam: "ct".into(),
            label: "CT".into(),
            base_price: 3300,
            covered_body_parts: Some(2),
            covered_images: Some(500),
            includes_comparison: false,
            extra_body_part_price: 0,
            extra_images_block: None,
            extra_images_price: 0,
            emergency_surcharge: 0,
            after_hours_surcharge: 0,
            comparison_price: 0,
        }],
    }
}

fn study(c: &mut DbConnection, clinic: i64, uid: &str) -> (i64, i64, i64) {
    let n = testing::minimal_instance(clinic, "P1", uid, "CT", "ab");
    let Recorded::New {
        study_id,
        instance_id,
        ..
    } = index::record_instance(c, &Ctx::system("t"), &n, i64::MAX).unwrap()
    else {
        panic!("not new");
    };
    let d = index::get_study(c, clinic, study_id, db::now(), 0).unwrap();
    (study_id, d.patient.id, instance_id)
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).unwrap();
    let pool = db::pool(&url, 4).unwrap();
    let mut c = pool.get().unwrap();
    db::migrate(&mut c).unwrap();
    let clinic = facility(&mut c, "クリニック", true, false);
    let hospital = facility(&mut c, "病院", false, true);
    let elsewhere = facility(&mut c, "別の病院", false, true);
    let doctor = user(&mut c, clinic, "dr.a", "physician");
    let reader = user(&mut c, hospital, "rad.a", "radiologist");
    let coordinator = user(&mut c, hospital, "coord.a", "coordinator");
    let other_reader = user(&mut c, elsewhere, "rad.b", "radiologist");
    let ctx = Ctx::system("t");
    let table_id = tables::create_version(
        &mut c,
        &ctx,
        Some(hospital),
        db::now() - chrono::Duration::seconds(5),
        &price_version(),
    )
    .unwrap()
    .table
    .id;
    let (study_id, patient_id, instance_id) = study(&mut c, clinic, "1.2.3.4");
    let now = db::now();
    let new = NewRequest {
        requesting_facility_id: clinic,
        supporting_facility_id: hospital,
        radiologist_id: None,
        study_id,
        patient_id,
        requested_by: doctor.user_id,
        status: "requested".into(),
        urgency: "routine".into(),
        category: "clinical".into(),
        modality: "CT".into(),
        exam: "ct".into(),
        body_parts: "CHEST".into(),
        purpose: "diagnosis".into(),
        purpose_note: String::new(),
        clinical_info: "tumor".into(),
        clinical_note: String::new(),
        contact_phone: "087-000-0000".into(),
        image_count: 1,
        filed_while_arriving: false,
        routed_by: "requester".into(),
        routing_note: String::new(),
        due_at: now,
        requested_at: now,
        updated_at: now,
    };
    let request = db::write_tx(&mut c, |c| {
        store::insert(
            c,
            &ctx,
            &new,
            (table_id, 3000, 300, 3300, true, "{}".into()),
            &[],
            None,
            "1.2.3.4",
        )
    })
    .unwrap()
    .id;
    // The reader marked one key image.
    shared::reading::key_images::mark(
        &mut c,
        &ctx,
        &shared::reading::key_images::Marker {
            facility_id: hospital,
            user_id: reader.user_id,
            study_id,
            request_id: Some(request),
        },
        "1.2.3.4.1.1",
        1,
    )
    .unwrap();
    let _ = instance_id;
    drop(c);
    World {
        _dir: dir,
        pool,
        clinic,
        hospital,
        doctor,
        reader,
        coordinator,
        other_reader,
        request,
    }
}

const TEXT: TextInput<'static> = TextInput {
    findings: "右肺上葉に 8 mm の結節を認める。",
    impression: "右上葉結節。",
    recommendation: "3 か月後の CT を推奨。",
};

fn status(c: &mut DbConnection, id: i64) -> String {
    read_requests::table
        .find(id)
        .select(read_requests::status)
        .first(c)
        .unwrap()
}

fn jobs(c: &mut DbConnection, kind: &str) -> Vec<shared::outbox::Job> {
    shared::outbox::of_kind(c, kind).unwrap()
}

#[test]
fn drafts_keep_revisions_and_refuse_stale_saves() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let ctx = Ctx::system("t");
    let d1 = reports::save_draft(&mut c, &ctx, &w.reader, w.request, 0, &TEXT).unwrap();
    assert_eq!(d1.revision, 1);
    let d2 = reports::save_draft(&mut c, &ctx, &w.reader, w.request, 1, &TEXT).unwrap();
    assert_eq!(d2.revision, 2);
    // A second editor still on revision 1 is refused and nothing changes.
    let stale = reports::save_draft(&mut c, &ctx, &w.reader, w.request, 1, &TextInput::default());
    assert!(
        matches!(stale, Err(Error::Conflict("report.err_stale"))),
        "{stale:?}"
    );
    let d: String = report_drafts::table
        .find(w.request)
        .select(report_drafts::findings)
        .first(&mut c)
        .unwrap();
    assert_eq!(d, TEXT.findings);
    // Coordinators read but do not write; other hospitals and clinics get nothing.
    for p in [&w.coordinator, &w.other_reader, &w.doctor] {
        let r = reports::save_draft(&mut c, &ctx, p, w.request, 2, &TEXT);
        assert!(matches!(r, Err(Error::NotFound)), "{r:?}");
    }
    assert!(reports::read(&mut c, &w.coordinator, w.request)
        .unwrap()
        .draft
        .is_some());
    assert!(matches!(
        reports::read(&mut c, &w.other_reader, w.request),
        Err(Error::NotFound)
    ));
    // Before confirmation the clinic sees no report.
    assert!(matches!(
        reports::read(&mut c, &w.doctor, w.request),
        Err(Error::NotFound)
    ));
}

#[test]
fn confirming_writes_version_status_fee_event_audit_and_job_together() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let ctx = Ctx::system("t");
    reports::save_draft(&mut c, &ctx, &w.reader, w.request, 0, &TEXT).unwrap();
    // Findings or impression are required.
    let empty = TextInput::default();
    let r = reports::confirm(&mut c, &ctx, &w.reader, w.request, None, Some(&empty));
    assert!(matches!(r, Err(Error::Validation(_))), "{r:?}");
    let done = reports::confirm(&mut c, &ctx, &w.reader, w.request, Some(1), None).unwrap();
    assert_eq!(done.version.version, 1);
    assert_eq!(done.version.kind, "initial");
    assert_eq!(done.version.findings, TEXT.findings);
    assert_eq!(done.version.confirmed_by, w.reader.user_id);
    assert_eq!(status(&mut c, w.request), "confirmed");
    let fee: (i64, i64, i64, i64, i64) = fee_lines::table
        .filter(fee_lines::request_id.eq(w.request))
        .select((
            fee_lines::requesting_facility_id,
            fee_lines::supporting_facility_id,
            fee_lines::subtotal,
            fee_lines::tax,
            fee_lines::total,
        ))
        .first(&mut c)
        .unwrap();
    assert_eq!(fee, (w.clinic, w.hospital, 3000, 300, 3300));
    let events: Vec<String> = request_events::table
        .filter(request_events::request_id.eq(w.request))
        .select(request_events::status)
        .load(&mut c)
        .unwrap();
    assert_eq!(events, vec!["requested", "confirmed"]);
    let key_images: i64 = report_version_key_images::table
        .count()
        .get_result(&mut c)
        .unwrap();
    assert_eq!(key_images, 1);
    let j = jobs(&mut c, shared::outbox::kind::REPORT_CONFIRMED);
    assert_eq!(j.len(), 1);
    assert_eq!(j[0].payload_json()["request_id"], w.request);
    assert!(!j[0].payload.contains("山田") && !j[0].payload.contains("P1"));
    let audits = shared::audit::search(
        &mut c,
        &shared::audit::Filter {
            action: Some("report.confirm".into()),
            ..Default::default()
        },
        0,
        10,
    )
    .unwrap();
    assert_eq!(audits.len(), 1);
    let drafts: i64 = report_drafts::table.count().get_result(&mut c).unwrap();
    assert_eq!(drafts, 0, "the draft is gone");
    // Twice: refused; a draft save after confirmation: refused.
    let again = reports::confirm(&mut c, &ctx, &w.reader, w.request, None, Some(&TEXT));
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    let draft = reports::save_draft(&mut c, &ctx, &w.reader, w.request, 0, &TEXT);
    assert!(
        matches!(draft, Err(Error::Conflict("report.err_confirmed"))),
        "{draft:?}"
    );
    let n: i64 = report_versions::table.count().get_result(&mut c).unwrap();
    assert_eq!(n, 1);
    assert!(shared::audit::verify(&mut c).unwrap().is_intact());
}

/// A failure late in the confirmation (the outbox refuses the job) leaves nothing: no
/// report, no version, no status change, no fee line, no audit event.
#[test]
fn a_confirmation_killed_midway_writes_nothing() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let ctx = Ctx::system("t");
    match &mut *c {
        DbConnection::Sqlite(_) => {
            diesel::sql_query(
                "CREATE TRIGGER outbox_boom BEFORE INSERT ON outbox \
                 BEGIN SELECT RAISE(ABORT, 'outbox down'); END;",
            )
            .execute(&mut c)
            .unwrap();
        }
        DbConnection::Postgresql(_) => {
            diesel::sql_query(
                "CREATE FUNCTION outbox_boom() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'outbox down'; END; $$",
            )
            .execute(&mut c)
            .unwrap();
            diesel::sql_query(
                "CREATE TRIGGER outbox_boom BEFORE INSERT ON outbox \
                 FOR EACH ROW EXECUTE FUNCTION outbox_boom()",
            )
            .execute(&mut c)
            .unwrap();
        }
    }
    let audit_before: i64 = shared::db::schema::audit_events::table
        .count()
        .get_result(&mut c)
        .unwrap();
    let r = reports::confirm(&mut c, &ctx, &w.reader, w.request, None, Some(&TEXT));
    assert!(r.is_err(), "{r:?}");
    assert_eq!(status(&mut c, w.request), "requested");
    let n = |c: &mut DbConnection| -> (i64, i64, i64, i64) {
        (
            report_rows::table.count().get_result(c).unwrap(),
            report_versions::table.count().get_result(c).unwrap(),
            fee_lines::table.count().get_result(c).unwrap(),
            report_version_key_images::table
                .count()
                .get_result(c)
                .unwrap(),
        )
    };
    assert_eq!(n(&mut c), (0, 0, 0, 0));
    let audit_after: i64 = shared::db::schema::audit_events::table
        .count()
        .get_result(&mut c)
        .unwrap();
    assert_eq!(audit_before, audit_after);
    let events: i64 = request_events::table
        .filter(request_events::status.eq("confirmed"))
        .count()
        .get_result(&mut c)
        .unwrap();
    assert_eq!(events, 0);
}

#[test]
fn the_database_refuses_to_change_confirmed_versions_and_fee_lines() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let ctx = Ctx::system("t");
    reports::confirm(&mut c, &ctx, &w.reader, w.request, None, Some(&TEXT)).unwrap();
    assert!(diesel::update(report_versions::table)
        .set(report_versions::findings.eq("書き換え"))
        .execute(&mut c)
        .is_err());
    assert!(diesel::delete(report_versions::table)
        .execute(&mut c)
        .is_err());
    assert!(diesel::update(report_version_key_images::table)
        .set(report_version_key_images::frame.eq(2))
        .execute(&mut c)
        .is_err());
    assert!(diesel::delete(report_version_key_images::table)
        .execute(&mut c)
        .is_err());
    assert!(diesel::update(report_rows::table)
        .set(report_rows::created_at.eq(db::now()))
        .execute(&mut c)
        .is_err());
    assert!(diesel::delete(report_rows::table).execute(&mut c).is_err());
    assert!(diesel::update(fee_lines::table)
        .set(fee_lines::total.eq(1))
        .execute(&mut c)
        .is_err());
    assert!(diesel::delete(fee_lines::table).execute(&mut c).is_err());
    let f: String = report_versions::table
        .select(report_versions::findings)
        .first(&mut c)
        .unwrap();
    assert_eq!(f, TEXT.findings);
}

#[test]
fn addenda_add_versions_and_keep_the_earlier_ones() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let ctx = Ctx::system("t");
    // Not before confirmation.
    let early = reports::add_addendum(&mut c, &ctx, &w.reader, w.request, "追記", &TEXT);
    assert!(matches!(
        early,
        Err(Error::Conflict("report.err_not_confirmed"))
    ));
    reports::confirm(&mut c, &ctx, &w.reader, w.request, None, Some(&TEXT)).unwrap();
    // A reason is required.
    let Err(Error::Validation(e)) =
        reports::add_addendum(&mut c, &ctx, &w.reader, w.request, "  ", &TEXT)
    else {
        panic!("no reason accepted");
    };
    assert_eq!(e.get("addendum_reason"), Some("err.required"));
    let more = TextInput {
        findings: "左下葉にも 4 mm の結節あり。",
        impression: "両肺結節。",
        recommendation: "",
    };
    let v2 =
        reports::add_addendum(&mut c, &ctx, &w.reader, w.request, "見落としの追記", &more).unwrap();
    assert_eq!((v2.version, v2.kind.as_str()), (2, "addendum"));
    // Other hospitals cannot add one.
    let other = reports::add_addendum(&mut c, &ctx, &w.other_reader, w.request, "x", &more);
    assert!(matches!(other, Err(Error::NotFound)));
    let view = reports::read(&mut c, &w.doctor, w.request).unwrap();
    assert_eq!(view.versions.len(), 2);
    assert_eq!(view.versions[0].version.findings, TEXT.findings);
    assert_eq!(
        view.versions[1].version.addendum_reason.as_deref(),
        Some("見落としの追記")
    );
    assert_eq!(view.versions[0].key_images.len(), 1);
    assert_eq!(jobs(&mut c, shared::outbox::kind::REPORT_ADDENDUM).len(), 1);
}

#[test]
fn the_clinic_reads_and_acknowledges_once_confirmed() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let ctx = Ctx::system("t");
    let early = reports::acknowledge(&mut c, &ctx, &w.doctor, w.request);
    assert!(matches!(
        early,
        Err(Error::Conflict("report.err_not_confirmed"))
    ));
    reports::confirm(&mut c, &ctx, &w.reader, w.request, None, Some(&TEXT)).unwrap();
    let v = reports::read(&mut c, &w.doctor, w.request).unwrap();
    assert!(v.draft.is_none());
    assert_eq!(v.latest().unwrap().confirmer, "rad.a 先生");
    // The supporting side cannot acknowledge for the clinic.
    assert!(matches!(
        reports::acknowledge(&mut c, &ctx, &w.reader, w.request),
        Err(Error::NotFound)
    ));
    let r = reports::acknowledge(&mut c, &ctx, &w.doctor, w.request).unwrap();
    assert_eq!(r.status, "acknowledged");
    assert!(matches!(
        reports::acknowledge(&mut c, &ctx, &w.doctor, w.request),
        Err(Error::Conflict("report.err_acknowledged"))
    ));
    // Still readable after acknowledgement, by both sides.
    assert!(reports::read(&mut c, &w.doctor, w.request).is_ok());
    assert!(reports::read(&mut c, &w.reader, w.request).is_ok());
    assert!(matches!(
        reports::read(&mut c, &w.other_reader, w.request),
        Err(Error::NotFound)
    ));
}
