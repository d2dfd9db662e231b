//! Who may see a study: its owner; the supporting facility a live or reported request names,
//! and the priors that request listed; nobody else — and nobody after a cancellation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shared::access::{self, StudyAccess};
use shared::audit::Ctx;
use shared::db::{self, testing, DbConnection};
use shared::domain::{FacilityStatus, Rounding, TimeOfDay, UserKind};
use shared::index::{self, Recorded};
use shared::membership::facilities::{self, FacilityForm};
use shared::membership::users::{self, Granter, UserForm};
use shared::reading::pricing::{self as tables, NewPriceItem, NewPriceVersion};
use shared::reading::requests::{self as store, NewRequest};

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

fn study(c: &mut DbConnection, facility_id: i64, patient: &str, uid: &str) -> (i64, i64) {
    let n = testing::minimal_instance(facility_id, patient, uid, "CT", "cd");
    let Recorded::New { study_id, .. } =
        index::record_instance(c, &Ctx::system("t"), &n, i64::MAX).unwrap()
    else {
        panic!("not new");
    };
    let d = index::get_study(c, facility_id, study_id, db::now(), 0).unwrap();
    (study_id, d.patient.id)
}

#[test]
fn owners_readers_and_their_priors_and_nobody_else() {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).unwrap();
    let mut c = db::establish(&url).unwrap();
    db::migrate(&mut c).unwrap();
    let clinic = facility(&mut c, "クリニックA", false);
    let other_clinic = facility(&mut c, "クリニックB", false);
    let hospital = facility(&mut c, "病院H", true);
    let other_hospital = facility(&mut c, "病院H2", true);
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
        UserKind::Person,
        Granter::Association,
    )
    .unwrap()
    .user
    .id;
    let (current, patient) = study(&mut c, clinic, "P1", "1.2.1");
    let (prior, _) = study(&mut c, clinic, "P1", "1.2.0");
    let (unrelated, _) = study(&mut c, clinic, "P1", "1.2.9");
    let (theirs, _) = study(&mut c, other_clinic, "P1", "1.2.1");

    // Before any request: owners only.
    assert_eq!(
        access::study(&mut c, clinic, current).unwrap().1,
        StudyAccess::Owner
    );
    for (f, s) in [
        (hospital, current),
        (other_clinic, current),
        (clinic, theirs),
    ] {
        assert!(matches!(
            access::study(&mut c, f, s),
            Err(shared::Error::NotFound)
        ));
    }
    assert!(access::requested_study_ids(&mut c, hospital)
        .unwrap()
        .is_empty());

    // A request to the hospital for `current`, comparing with `prior`.
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
    .unwrap();
    let now = db::now();
    let new = NewRequest {
        requesting_facility_id: clinic,
        supporting_facility_id: hospital,
        radiologist_id: None,
        study_id: current,
        patient_id: patient,
        requested_by: user,
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
    let ctx = Ctx::system("t");
    let r = db::write_tx(&mut c, |c| {
        store::insert(
            c,
            &ctx,
            &new,
            (table.table.id, 3300, 300, 3300, true, "{}".into()),
            &[prior],
            None,
            "1.2.1",
        )
    })
    .unwrap();

    assert_eq!(
        access::study(&mut c, hospital, current).unwrap().1,
        StudyAccess::Reader { request_id: r.id }
    );
    assert_eq!(
        access::study(&mut c, hospital, prior).unwrap().1,
        StudyAccess::Prior { request_id: r.id }
    );
    assert_eq!(access::requested_study_ids(&mut c, hospital).unwrap(), {
        let mut v = vec![current, prior];
        v.sort_unstable();
        v
    });
    // Not the patient's other studies, not another hospital, not another clinic.
    for (f, s) in [
        (hospital, unrelated),
        (hospital, theirs),
        (other_hospital, current),
        (other_hospital, prior),
        (other_clinic, current),
    ] {
        assert!(
            matches!(access::study(&mut c, f, s), Err(shared::Error::NotFound)),
            "facility {f} must not see study {s}"
        );
    }
    assert!(access::requested_study_ids(&mut c, other_hospital)
        .unwrap()
        .is_empty());

    // Cancelled: the hospital no longer sees either; the owner still does.
    store::cancel(&mut c, &ctx, clinic, r.id, "").unwrap();
    assert!(access::study(&mut c, hospital, current).is_err());
    assert!(access::study(&mut c, hospital, prior).is_err());
    assert!(access::requested_study_ids(&mut c, hospital)
        .unwrap()
        .is_empty());
    assert_eq!(
        access::study(&mut c, clinic, prior).unwrap().1,
        StudyAccess::Owner
    );
}
