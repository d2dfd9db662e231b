//! Price tables and request records on both databases: versions in force by time (own table
//! first, then the association's default), versions and quoted prices that the database
//! refuses to change, the body-part catalogue, and one live request per study and target.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use diesel::prelude::*;
use shared::audit::Ctx;
use shared::db::schema::{price_items, price_tables, read_requests, request_prices};
use shared::db::{self, testing, DbConnection, DbPool};
use shared::domain::{FacilityStatus, Rounding, TimeOfDay};
use shared::index::{self, Recorded};
use shared::membership::facilities::{self, FacilityForm};
use shared::membership::users::{self, Granter, UserForm};
use shared::reading::catalogue::{self, BodyPartForm};
use shared::reading::pricing::{self as tables, NewPriceItem, NewPriceVersion};
use shared::reading::requests::{self as store, NewRequest};

struct World {
    _dir: tempfile::TempDir,
    pool: DbPool,
    clinic: i64,
    hospital: i64,
    user: i64,
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

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).unwrap();
    let pool = db::pool(&url, 4).unwrap();
    let mut c = pool.get().unwrap();
    db::migrate(&mut c).unwrap();
    let clinic = facility(&mut c, "クリニック", true, false);
    let hospital = facility(&mut c, "病院", false, true);
    let user = users::create(
        &mut c,
        &Ctx::system("t"),
        clinic,
        &UserForm {
            username: "dr.a".into(),
            display_name: "医師".into(),
            email: "dr@example.jp".into(),
            roles: vec!["physician".into()],
            password: "correct horse battery staple".into(),
        },
        shared::domain::UserKind::Person,
        Granter::Association,
    )
    .unwrap()
    .user
    .id;
    drop(c);
    World {
        _dir: dir,
        pool,
        clinic,
        hospital,
        user,
    }
}

fn version(base: i64) -> NewPriceVersion {
    NewPriceVersion {
        tax_included: true,
        tax_rate_percent: 10,
        rounding: Rounding::Floor,
        after_hours_start: TimeOfDay::parse("17:30").unwrap(),
        after_hours_end: TimeOfDay::parse("08:30").unwrap(),
        holidays_after_hours: true,
        note: String::new(),
        items: vec![NewPriceItem {
            category: "clinical".into(),
            exam: "ct".into(),
            label: "CT".into(),
            base_price: base,
            covered_body_parts: Some(2),
            covered_images: Some(500),
            includes_comparison: false,
            extra_body_part_price: 1100,
            extra_images_block: Some(500),
            extra_images_price: 550,
            emergency_surcharge: 1100,
            after_hours_surcharge: 1100,
            comparison_price: 550,
        }],
    }
}

#[test]
fn the_version_in_force_depends_on_time_and_owner() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let ctx = Ctx::system("t");
    let now = db::now();
    assert!(tables::in_force_for(&mut c, w.hospital, now)
        .unwrap()
        .is_none());
    // The association's default applies while the hospital has none.
    tables::create_version(&mut c, &ctx, None, now - Duration::days(10), &version(2000)).unwrap();
    let v = tables::in_force_for(&mut c, w.hospital, now)
        .unwrap()
        .unwrap();
    assert_eq!(v.table.facility_id, None);
    assert_eq!(v.items[0].base_price, 2000);
    // Its own versions take over, each from its start.
    tables::create_version(
        &mut c,
        &ctx,
        Some(w.hospital),
        now - Duration::days(5),
        &version(3300),
    )
    .unwrap();
    tables::create_version(
        &mut c,
        &ctx,
        Some(w.hospital),
        now + Duration::days(5),
        &version(3600),
    )
    .unwrap();
    let v = tables::in_force_for(&mut c, w.hospital, now)
        .unwrap()
        .unwrap();
    assert_eq!(
        (v.table.facility_id, v.items[0].base_price),
        (Some(w.hospital), 3300)
    );
    let later = tables::in_force_for(&mut c, w.hospital, now + Duration::days(6))
        .unwrap()
        .unwrap();
    assert_eq!(later.items[0].base_price, 3600);
    let earlier = tables::in_force_for(&mut c, w.hospital, now - Duration::days(7))
        .unwrap()
        .unwrap();
    assert_eq!(earlier.table.facility_id, None);
    assert_eq!(tables::versions(&mut c, Some(w.hospital)).unwrap().len(), 2);
    assert_eq!(tables::versions(&mut c, None).unwrap().len(), 1);
}

#[test]
fn versions_and_quoted_prices_cannot_be_changed() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let v = tables::create_version(
        &mut c,
        &Ctx::system("t"),
        Some(w.hospital),
        db::now(),
        &version(3300),
    )
    .unwrap();
    let id = v.table.id;
    assert!(diesel::update(price_tables::table.find(id))
        .set(price_tables::tax_rate_percent.eq(8))
        .execute(&mut c)
        .is_err());
    assert!(diesel::delete(price_tables::table.find(id))
        .execute(&mut c)
        .is_err());
    assert!(
        diesel::update(price_items::table.filter(price_items::price_table_id.eq(id)))
            .set(price_items::base_price.eq(1))
            .execute(&mut c)
            .is_err()
    );
    assert!(diesel::delete(price_items::table).execute(&mut c).is_err());
    assert_eq!(
        tables::get_version(&mut c, id).unwrap().items[0].base_price,
        3300
    );

    // A filed request's price is a record too.
    let r = file(&w, &mut c, id);
    assert!(diesel::update(request_prices::table.find(r))
        .set(request_prices::total.eq(1))
        .execute(&mut c)
        .is_err());
    assert!(diesel::delete(request_prices::table)
        .execute(&mut c)
        .is_err());
}

fn study(w: &World, c: &mut DbConnection, uid: &str) -> (i64, i64) {
    let n = testing::minimal_instance(w.clinic, "P1", uid, "CT", "ab");
    let Recorded::New { study_id, .. } =
        index::record_instance(c, &Ctx::system("t"), &n, i64::MAX).unwrap()
    else {
        panic!("not new");
    };
    let d = index::get_study(c, w.clinic, study_id, db::now(), 0).unwrap();
    (study_id, d.patient.id)
}

fn new_request(w: &World, study_id: i64, patient_id: i64) -> NewRequest {
    let now = db::now();
    NewRequest {
        requesting_facility_id: w.clinic,
        supporting_facility_id: w.hospital,
        radiologist_id: None,
        study_id,
        patient_id,
        requested_by: w.user,
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
    }
}

fn file(w: &World, c: &mut DbConnection, table_id: i64) -> i64 {
    let (study_id, patient_id) = study(w, c, "1.2.3.4");
    let ctx = Ctx::system("t");
    let new = new_request(w, study_id, patient_id);
    db::write_tx(c, |c| {
        store::insert(
            c,
            &ctx,
            &new,
            (table_id, 3300, 300, 3300, true, "{}".into()),
            &[],
            None,
            "1.2.3.4",
        )
    })
    .unwrap()
    .id
}

#[test]
fn one_live_request_per_study_and_target() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let t = tables::create_version(
        &mut c,
        &Ctx::system("t"),
        Some(w.hospital),
        db::now(),
        &version(3300),
    )
    .unwrap();
    let id = file(&w, &mut c, t.table.id);
    let r: (i64, i64) = read_requests::table
        .find(id)
        .select((read_requests::study_id, read_requests::patient_id))
        .first(&mut c)
        .unwrap();
    let ctx = Ctx::system("t");
    let again = new_request(&w, r.0, r.1);
    let e = db::write_tx(&mut c, |c| {
        store::insert(
            c,
            &ctx,
            &again,
            (t.table.id, 1, 0, 1, true, "{}".into()),
            &[],
            None,
            "x",
        )
    })
    .unwrap_err();
    assert!(
        matches!(e, shared::Error::Conflict("request.err_live_exists")),
        "{e:?}"
    );
    // The database itself refuses a second live row, whatever the code does.
    let raw = diesel::insert_into(read_requests::table)
        .values(&again)
        .execute(&mut c);
    assert!(raw.is_err());
    // The supporting facility sees it while live; once cancelled, no longer (the clinic
    // still does), and the study may be requested again.
    assert!(store::visible(&mut c, w.hospital, id).is_ok());
    store::cancel(&mut c, &ctx, w.clinic, id, "mistake").unwrap();
    assert!(matches!(
        store::visible(&mut c, w.hospital, id),
        Err(shared::Error::NotFound)
    ));
    assert!(store::visible(&mut c, w.clinic, id).is_ok());
    db::write_tx(&mut c, |c| {
        store::insert(
            c,
            &ctx,
            &again,
            (t.table.id, 1, 0, 1, true, "{}".into()),
            &[],
            None,
            "x",
        )
    })
    .unwrap();
    // Cancelling twice is a conflict; another facility cannot see or cancel it.
    assert!(matches!(
        store::cancel(&mut c, &ctx, w.clinic, id, ""),
        Err(shared::Error::Conflict(_))
    ));
    assert!(matches!(
        store::cancel(&mut c, &ctx, w.hospital, id, ""),
        Err(shared::Error::NotFound)
    ));
    let third = facility(&mut c, "他院", true, true);
    assert!(matches!(
        store::visible(&mut c, third, id),
        Err(shared::Error::NotFound)
    ));
}

#[test]
fn the_body_part_catalogue_is_seeded_and_extendable() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let all = catalogue::list(&mut c, false).unwrap();
    assert!(all.len() >= 60);
    assert!(
        all.iter().all(|b| b.jj1017_code.is_none()),
        "no invented JJ1017 codes"
    );
    let chest = catalogue::get(&mut c, "CHEST").unwrap();
    assert_eq!(chest.name_ja, "胸部");
    let ctx = Ctx::system("t");
    let mut f = BodyPartForm::from_part(&chest);
    f.jj1017_code = "abc123".into();
    let updated = catalogue::update(&mut c, &ctx, "CHEST", &f).unwrap();
    assert_eq!(updated.jj1017_code.as_deref(), Some("ABC123"));
    f.jj1017_code = "no spaces please".into();
    assert!(catalogue::update(&mut c, &ctx, "CHEST", &f).is_err());
    let new = BodyPartForm {
        code: "pelvic_floor".into(),
        region: "pelvis".into(),
        name_ja: "骨盤底".into(),
        name_en: "Pelvic floor".into(),
        is_active: true,
        ..Default::default()
    };
    assert_eq!(
        catalogue::create(&mut c, &ctx, &new).unwrap().code,
        "PELVIC_FLOOR"
    );
    assert!(
        catalogue::create(&mut c, &ctx, &new).is_err(),
        "codes are unique"
    );
    let ok = catalogue::check_codes(
        &mut c,
        &["chest".into(), "CHEST".into(), "PELVIC_FLOOR".into()],
    )
    .unwrap()
    .unwrap();
    assert_eq!(ok, vec!["CHEST".to_owned(), "PELVIC_FLOOR".to_owned()]);
    assert!(catalogue::check_codes(&mut c, &["NOPE".into()])
        .unwrap()
        .is_err());
    assert!(catalogue::check_codes(&mut c, &[]).unwrap().is_err());
}
