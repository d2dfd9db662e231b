//! The worklist's persistence on both databases: the order (a later emergency first), the
//! filters, a claim race between two connections with exactly one winner, reading started
//! once, reassignment checks, duty and specialty validation that writes nothing, and
//! isolation between supporting facilities.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use diesel::prelude::*;
use shared::audit::Ctx;
use shared::db::schema::{duty_slots, specialty_scores};
use shared::db::{self, testing, DbConnection, DbPool};
use shared::domain::{FacilityStatus, Rounding, TimeOfDay, Urgency};
use shared::index::{self, Recorded};
use shared::membership::facilities::{self, FacilityForm};
use shared::membership::users::{self, Granter, UserForm};
use shared::reading::pricing::{self as tables, NewPriceItem, NewPriceVersion};
use shared::reading::requests::{self as store, NewRequest, ReadRequest};
use shared::reading::worklist::{self as wl, Assignee, WorklistQuery};
use shared::reading::{duty, specialties};
use shared::Error;

struct World {
    _dir: tempfile::TempDir,
    pool: DbPool,
    clinic: i64,
    hospital: i64,
    other: i64,
    physician: i64,
    rad1: i64,
    rad2: i64,
    other_rad: i64,
    table: i64,
}

fn facility(c: &mut DbConnection, name: &str, supporting: bool) -> i64 {
    facilities::create(
        c,
        &Ctx::system("t"),
        &FacilityForm {
            name: name.into(),
            kind: if supporting { "hospital" } else { "clinic" }.into(),
            is_requesting: !supporting,
            is_supporting: supporting,
            notification_emails: "a@example.jp".into(),
            ..Default::default()
        },
        FacilityStatus::Active,
    )
    .unwrap()
    .id
}

fn user(c: &mut DbConnection, facility: i64, name: &str, role: &str) -> i64 {
    users::create(
        c,
        &Ctx::system("t"),
        facility,
        &UserForm {
            username: name.into(),
            display_name: name.into(),
            email: format!("{name}@example.jp"),
            roles: vec![role.into()],
            password: "correct horse battery staple 1".into(),
        },
        shared::domain::UserKind::Person,
        Granter::Association,
    )
    .unwrap()
    .user
    .id
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).unwrap();
    let pool = db::pool(&url, 4).unwrap();
    let mut c = pool.get().unwrap();
    db::migrate(&mut c).unwrap();
    let clinic = facility(&mut c, "クリニック", false);
    let hospital = facility(&mut c, "病院", true);
    let other = facility(&mut c, "別の病院", true);
    let physician = user(&mut c, clinic, "dr.a", "physician");
    let rad1 = user(&mut c, hospital, "rad.1", "radiologist");
    let rad2 = user(&mut c, hospital, "rad.2", "radiologist");
    let other_rad = user(&mut c, other, "rad.x", "radiologist");
    let table = tables::create_version(
        &mut c,
        &Ctx::system("t"),
        Some(hospital),
        db::now(),
        &NewPriceVersion {
            tax_included: true,
            tax_rate_percent: 10,
            rounding: Rounding::Floor,
            after_hours_start: TimeOfDay::MIDNIGHT,
            after_hours_end: TimeOfDay::MIDNIGHT,
            holidays_after_hours: false,
            note: String::new(),
            items: vec![NewPriceItem {
                category: "clinical".into(),
                exam: "ct".into(),
                label: "CT".into(),
                base_price: 3300,
                covered_body_parts: None,
                covered_images: None,
                includes_comparison: true,
                extra_body_part_price: 0,
                extra_images_block: None,
                extra_images_price: 0,
                emergency_surcharge: 0,
                after_hours_surcharge: 0,
                comparison_price: 0,
            }],
        },
    )
    .unwrap()
    .table
    .id;
    drop(c);
    World {
        _dir: dir,
        pool,
        clinic,
        hospital,
        other,
        physician,
        rad1,
        rad2,
        other_rad,
        table,
    }
}

/// Files a request straight into the store, `minutes` ago, due `due_in` minutes later.
fn request(w: &World, uid: &str, urgency: Urgency, modality: &str, minutes: i64) -> ReadRequest {
    let mut c = w.pool.get().unwrap();
    let n = testing::minimal_instance(w.clinic, &format!("P-{uid}"), uid, modality, "cd");
    let Recorded::New { study_id, .. } =
        index::record_instance(&mut c, &Ctx::system("t"), &n, i64::MAX).unwrap()
    else {
        panic!("not new");
    };
    let d = index::get_study(&mut c, w.clinic, study_id, db::now(), 0).unwrap();
    let at = db::now() - chrono::Duration::minutes(minutes);
    let due = match urgency {
        Urgency::Emergency => at + chrono::Duration::minutes(30),
        Urgency::Routine => at + chrono::Duration::days(1),
    };
    let new = NewRequest {
        requesting_facility_id: w.clinic,
        supporting_facility_id: w.hospital,
        radiologist_id: None,
        study_id,
        patient_id: d.patient.id,
        requested_by: w.physician,
        status: "requested".into(),
        urgency: urgency.as_str().into(),
        category: "clinical".into(),
        modality: modality.into(),
        exam: if modality == "MR" { "mri" } else { "ct" }.into(),
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
        due_at: db::truncate_micros(due),
        requested_at: db::truncate_micros(at),
        updated_at: db::truncate_micros(at),
    };
    let ctx = Ctx::system("t");
    db::write_tx(&mut c, |c| {
        store::insert(
            c,
            &ctx,
            &new,
            (w.table, 3300, 300, 3300, true, "{}".into()),
            &[],
            None,
            uid,
        )
    })
    .unwrap()
}

fn ids(items: &[wl::Item]) -> Vec<i64> {
    items.iter().map(|i| i.request.id).collect()
}

#[test]
fn emergencies_first_then_due_time_and_filters() {
    let w = world();
    let a = request(&w, "1.1", Urgency::Routine, "CT", 60);
    let b = request(&w, "1.2", Urgency::Routine, "MR", 30);
    let e = request(&w, "1.3", Urgency::Emergency, "CT", 0);
    let mut c = w.pool.get().unwrap();
    let all = wl::list(&mut c, w.hospital, &WorklistQuery::default()).unwrap();
    assert_eq!(ids(&all), vec![e.id, a.id, b.id]);
    assert!(wl::list(&mut c, w.other, &WorklistQuery::default())
        .unwrap()
        .is_empty());
    let q = WorklistQuery {
        modality: Some("MR".into()),
        ..Default::default()
    };
    assert_eq!(ids(&wl::list(&mut c, w.hospital, &q).unwrap()), vec![b.id]);
    let ctx = Ctx::system("t");
    wl::claim(&mut c, &ctx, w.hospital, w.rad1, a.id).unwrap();
    let q = WorklistQuery {
        assignee: Some(Assignee::Unassigned),
        ..Default::default()
    };
    assert_eq!(
        ids(&wl::list(&mut c, w.hospital, &q).unwrap()),
        vec![e.id, b.id]
    );
    let q = WorklistQuery {
        assignee: Some(Assignee::User(w.rad1)),
        ..Default::default()
    };
    assert_eq!(ids(&wl::list(&mut c, w.hospital, &q).unwrap()), vec![a.id]);
}

#[test]
fn two_claims_at_once_have_exactly_one_winner() {
    let w = world();
    for round in 0..5 {
        let r = request(&w, &format!("2.{round}"), Urgency::Routine, "CT", 0);
        let results: Vec<Result<ReadRequest, Error>> = std::thread::scope(|s| {
            let hs: Vec<_> = [w.rad1, w.rad2]
                .into_iter()
                .map(|u| {
                    let pool = w.pool.clone();
                    let (h, id) = (w.hospital, r.id);
                    s.spawn(move || {
                        let mut c = pool.get().unwrap();
                        wl::claim(&mut c, &Ctx::system("t"), h, u, id)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
        assert_eq!(won.len(), 1, "{results:?}");
        assert!(results
            .iter()
            .any(|r| matches!(r, Err(Error::Conflict("worklist.err_taken")))));
        let mut c = w.pool.get().unwrap();
        let got = wl::get(&mut c, w.hospital, r.id).unwrap();
        assert_eq!(
            got.request.assigned_to,
            won[0].as_ref().unwrap().assigned_to
        );
    }
}

#[test]
fn reading_starts_once_and_only_for_the_reader() {
    let w = world();
    let r = request(&w, "3.1", Urgency::Emergency, "CT", 0);
    let mut c = w.pool.get().unwrap();
    let ctx = Ctx::system("t");
    // Opening an unassigned request claims it.
    let s = wl::start(&mut c, &ctx, w.hospital, w.rad1, r.id).unwrap();
    assert_eq!(s.status, "reading");
    assert_eq!(s.assigned_to, Some(w.rad1));
    let at = s.reading_started_at.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let again = wl::start(&mut c, &ctx, w.hospital, w.rad1, r.id).unwrap();
    assert_eq!(again.reading_started_at, Some(at));
    assert!(matches!(
        wl::start(&mut c, &ctx, w.hospital, w.rad2, r.id),
        Err(Error::Conflict("worklist.err_assigned_other"))
    ));
    // Reassigning keeps the first start; the assignee must be on the team.
    assert!(matches!(
        wl::assign(&mut c, &ctx, w.hospital, r.id, w.other_rad, ""),
        Err(Error::Validation(_))
    ));
    let u = wl::assign(&mut c, &ctx, w.hospital, r.id, w.rad2, "交代").unwrap();
    assert_eq!(u.assigned_to, Some(w.rad2));
    assert_eq!(u.reading_started_at, Some(at));
    // Another supporting facility: nothing.
    for f in [w.other, w.clinic] {
        assert!(matches!(
            wl::claim(&mut c, &ctx, f, w.other_rad, r.id),
            Err(Error::NotFound)
        ));
        assert!(matches!(
            wl::start(&mut c, &ctx, f, w.other_rad, r.id),
            Err(Error::NotFound)
        ));
        assert!(matches!(wl::get(&mut c, f, r.id), Err(Error::NotFound)));
    }
}

#[test]
fn duty_and_specialty_input_is_validated_and_writes_nothing() {
    let w = world();
    let mut c = w.pool.get().unwrap();
    let ctx = Ctx::system("t");
    let slot = |user: i64, day: &str, s: &str, e: &str| duty::SlotForm {
        user_id: user.to_string(),
        weekday: day.into(),
        starts: s.into(),
        ends: e.into(),
    };
    for (f, field) in [
        (slot(w.rad1, "8", "09:00", "17:00"), "weekday"),
        (slot(w.rad1, "0", "9:99", "17:00"), "starts"),
        (slot(w.rad1, "0", "09:00", "24:01"), "ends"),
        (slot(w.other_rad, "0", "09:00", "17:00"), "user_id"),
    ] {
        match duty::add(&mut c, &ctx, w.hospital, &f) {
            Err(Error::Validation(e)) => assert!(e.get(field).is_some(), "{field}"),
            other => panic!("{field}: {other:?}"),
        }
    }
    let n: i64 = duty_slots::table.count().get_result(&mut c).unwrap();
    assert_eq!(n, 0);
    duty::add(
        &mut c,
        &ctx,
        w.hospital,
        &slot(w.rad1, "7", "00:00", "24:00"),
    )
    .unwrap();
    assert!(matches!(
        duty::remove(&mut c, &ctx, w.other, 1),
        Err(Error::NotFound)
    ));

    let mut form = BTreeMap::new();
    form.insert("s.ct.chest".to_owned(), "80".to_owned());
    form.insert("s.mri.head_neck".to_owned(), "100.5".to_owned());
    assert!(specialties::parse_grid(&form).is_err());
    form.insert("s.mri.head_neck".to_owned(), "100".to_owned());
    let grid = specialties::parse_grid(&form).unwrap();
    assert!(matches!(
        specialties::save(&mut c, &ctx, w.other, w.rad1, &grid),
        Err(Error::NotFound)
    ));
    let n: i64 = specialty_scores::table.count().get_result(&mut c).unwrap();
    assert_eq!(n, 0);
    specialties::save(&mut c, &ctx, w.hospital, w.rad1, &grid).unwrap();
    let grids = specialties::grids(&mut c, w.hospital).unwrap();
    assert_eq!(grids.get(&w.rad1).unwrap().len(), 2);
    // The team sees both the scores and the duty.
    let team = wl::team(&mut c, w.hospital, db::now()).unwrap();
    let m = team.iter().find(|m| m.id == w.rad1).unwrap();
    assert_eq!(m.slots.len(), 1);
    assert_eq!(m.scores.len(), 2);
    assert!(matches!(
        wl::save_settings(&mut c, &ctx, w.hospital, true, "0"),
        Err(Error::Validation(_))
    ));
    assert!(!wl::settings(&mut c, w.hospital).unwrap().auto_assign);
}
