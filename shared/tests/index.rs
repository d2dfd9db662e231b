//! The image index: one row per instance per facility, identical re-sends ignored, a
//! different instance under a stored SOP Instance UID refused (first write wins) and
//! audited, facilities never touching each other's rows, and search by every name form.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use shared::audit::{self, Ctx};
use shared::db::{self, testing, DbPool};
use shared::domain::FacilityStatus;
use shared::index::{self, NewInstance, Recorded, StudyQuery};
use shared::membership::facilities::{self, FacilityForm};

const BIG: i64 = i64::MAX;

fn setup() -> (tempfile::TempDir, DbPool, i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).unwrap();
    let pool = db::pool(&url, 6).unwrap();
    let mut c = pool.get().unwrap();
    db::migrate(&mut c).unwrap();
    let mk = |c: &mut db::DbConnection, name: &str| {
        facilities::create(
            c,
            &Ctx::system("t"),
            &FacilityForm {
                name: name.into(),
                kind: "clinic".into(),
                is_requesting: true,
                notification_emails: "a@example.jp".into(),
                ..Default::default()
            },
            FacilityStatus::Active,
        )
        .unwrap()
        .id
    };
    let a = mk(&mut c, "A クリニック");
    let b = mk(&mut c, "B クリニック");
    drop(c);
    (dir, pool, a, b)
}

fn inst(facility_id: i64, study: &str, series: &str, sop: &str, sha: &str) -> NewInstance {
    NewInstance {
        facility_id,
        patient_key: "P0001".into(),
        name_alphabetic: "Yamada^Tarou".into(),
        name_ideographic: "山田^太郎".into(),
        name_phonetic: "やまだ^たろう".into(),
        birth_date: NaiveDate::from_ymd_opt(1950, 4, 1),
        sex: "M".into(),
        study_uid: study.into(),
        accession_number: "A1".into(),
        study_date: NaiveDate::from_ymd_opt(2026, 11, 20),
        study_time: "101500".into(),
        study_description: "胸部 CT".into(),
        referring_physician: String::new(),
        modality: "CT".into(),
        body_part: "CHEST".into(),
        series_uid: series.into(),
        series_number: Some(1),
        series_description: String::new(),
        sop_instance_uid: sop.into(),
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
        transfer_syntax_uid: "1.2.840.10008.1.2.1".into(),
        instance_number: Some(1),
        rows: Some(512),
        columns: Some(512),
        frames: None,
        imaging: Default::default(),
        size_bytes: 1000,
        sha256: sha.repeat(64 / sha.len()),
        storage_key: format!("sha256/{}", sha.repeat(64 / sha.len())),
        received_via: "c-store".into(),
    }
}

#[test]
fn a_resend_is_ignored_and_a_different_instance_under_the_same_uid_is_refused() {
    let (_d, pool, a, _) = setup();
    let mut c = pool.get().unwrap();
    let ctx = Ctx::system("t");
    let first = index::record_instance(
        &mut c,
        &ctx,
        &inst(a, "1.2.3", "1.2.3.1", "1.2.3.1.1", "a"),
        BIG,
    )
    .unwrap();
    assert!(matches!(first, Recorded::New { .. }));
    let again = index::record_instance(
        &mut c,
        &ctx,
        &inst(a, "1.2.3", "1.2.3.1", "1.2.3.1.1", "a"),
        BIG,
    )
    .unwrap();
    assert!(matches!(again, Recorded::Duplicate { .. }));
    let other = index::record_instance(
        &mut c,
        &ctx,
        &inst(a, "1.2.3", "1.2.3.1", "1.2.3.1.1", "b"),
        BIG,
    )
    .unwrap();
    assert!(matches!(other, Recorded::Conflict { .. }));
    let (rows, total) = index::search_studies(
        &mut c,
        a,
        &StudyQuery {
            limit: 50,
            ..Default::default()
        },
        db::now(),
        90,
    )
    .unwrap();
    assert_eq!(total, 1);
    assert_eq!(rows[0].study.num_instances, 1);
    assert_eq!(rows[0].study.size_bytes, 1000);
    let conflicts = audit::search(
        &mut c,
        &audit::Filter {
            action: Some("instance.conflict".into()),
            ..Default::default()
        },
        0,
        10,
    )
    .unwrap();
    assert_eq!(conflicts.len(), 1);
    assert!(
        conflicts[0].patient_ref.is_none()
            || !conflicts[0]
                .patient_ref
                .as_deref()
                .unwrap()
                .contains("P0001"),
        "no Patient ID in the audit trail"
    );
}

#[test]
fn facilities_never_share_rows_even_with_the_same_uids() {
    let (_d, pool, a, b) = setup();
    let mut c = pool.get().unwrap();
    let ctx = Ctx::system("t");
    index::record_instance(
        &mut c,
        &ctx,
        &inst(a, "1.2.3", "1.2.3.1", "1.2.3.1.1", "a"),
        BIG,
    )
    .unwrap();
    // Clinic B sends the same UIDs with other content: its own rows, A's untouched.
    let r = index::record_instance(
        &mut c,
        &ctx,
        &inst(b, "1.2.3", "1.2.3.1", "1.2.3.1.1", "c"),
        BIG,
    )
    .unwrap();
    assert!(matches!(r, Recorded::New { .. }));
    let q = StudyQuery {
        limit: 50,
        ..Default::default()
    };
    let (ra, _) = index::search_studies(&mut c, a, &q, db::now(), 90).unwrap();
    let (rb, _) = index::search_studies(&mut c, b, &q, db::now(), 90).unwrap();
    assert_eq!(ra.len(), 1);
    assert_eq!(rb.len(), 1);
    assert_ne!(ra[0].study.id, rb[0].study.id);
    assert_eq!(ra[0].study.num_instances, 1);
    assert!(matches!(
        index::get_study(&mut c, b, ra[0].study.id, db::now(), 90),
        Err(shared::Error::NotFound)
    ));
}

#[test]
fn search_finds_names_in_every_form_and_filters() {
    let (_d, pool, a, _) = setup();
    let mut c = pool.get().unwrap();
    let ctx = Ctx::system("t");
    index::record_instance(
        &mut c,
        &ctx,
        &inst(a, "1.2.3", "1.2.3.1", "1.2.3.1.1", "a"),
        BIG,
    )
    .unwrap();
    let mut other = inst(a, "1.2.4", "1.2.4.1", "1.2.4.1.1", "d");
    other.patient_key = "P0002".into();
    other.name_alphabetic = "Suzuki^Hanako".into();
    other.name_ideographic = "鈴木^花子".into();
    other.name_phonetic = "ｽｽﾞｷ^ﾊﾅｺ".into();
    other.modality = "MR".into();
    other.study_date = NaiveDate::from_ymd_opt(2026, 10, 1);
    index::record_instance(&mut c, &ctx, &other, BIG).unwrap();
    let find = |c: &mut db::DbConnection, q: StudyQuery| {
        let (rows, _) =
            index::search_studies(c, a, &StudyQuery { limit: 50, ..q }, db::now(), 90).unwrap();
        rows.into_iter()
            .map(|r| r.patient.patient_key)
            .collect::<Vec<_>>()
    };
    for name in ["山田", "やまだ", "ヤマダ", "ﾔﾏﾀﾞ", "yamada", "YAMADA tarou"] {
        assert_eq!(
            find(
                &mut c,
                StudyQuery {
                    name: Some(name.into()),
                    ..Default::default()
                }
            ),
            vec!["P0001"],
            "{name}"
        );
    }
    for name in ["すずき", "スズキ", "鈴木花子", "hanako"] {
        assert_eq!(
            find(
                &mut c,
                StudyQuery {
                    name: Some(name.into()),
                    ..Default::default()
                }
            ),
            vec!["P0002"],
            "{name}"
        );
    }
    assert_eq!(
        find(
            &mut c,
            StudyQuery {
                name: Some("%".into()),
                ..Default::default()
            }
        ),
        Vec::<String>::new(),
        "LIKE wildcards are literal"
    );
    assert_eq!(
        find(
            &mut c,
            StudyQuery {
                patient_id: Some("P0002".into()),
                ..Default::default()
            }
        ),
        vec!["P0002"]
    );
    assert_eq!(
        find(
            &mut c,
            StudyQuery {
                modality: Some("MR".into()),
                ..Default::default()
            }
        ),
        vec!["P0002"]
    );
    assert_eq!(
        find(
            &mut c,
            StudyQuery {
                date_from: NaiveDate::from_ymd_opt(2026, 11, 1),
                date_to: NaiveDate::from_ymd_opt(2026, 11, 30),
                ..Default::default()
            }
        ),
        vec!["P0001"]
    );
}

#[test]
fn the_study_size_limit_refuses_further_instances() {
    let (_d, pool, a, _) = setup();
    let mut c = pool.get().unwrap();
    let ctx = Ctx::system("t");
    index::record_instance(
        &mut c,
        &ctx,
        &inst(a, "1.2.3", "1.2.3.1", "1.2.3.1.1", "a"),
        1500,
    )
    .unwrap();
    let r = index::record_instance(
        &mut c,
        &ctx,
        &inst(a, "1.2.3", "1.2.3.1", "1.2.3.1.2", "e"),
        1500,
    )
    .unwrap();
    assert_eq!(r, Recorded::StudyTooLarge);
}

#[test]
fn concurrent_instances_of_one_new_study_count_up_exactly() {
    let (_d, pool, a, _) = setup();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut c = pool.get().unwrap();
                for i in 0..10 {
                    let sop = format!("1.2.9.{t}.{i}");
                    let sha = format!("{:064x}", t * 100 + i + 1);
                    let mut n = inst(a, "1.2.9", &format!("1.2.9.{}", t % 2), &sop, "f");
                    n.sha256 = sha.clone();
                    n.storage_key = format!("sha256/{sha}");
                    index::record_instance(&mut c, &Ctx::system("t"), &n, BIG).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut c = pool.get().unwrap();
    let (rows, total) = index::search_studies(
        &mut c,
        a,
        &StudyQuery {
            limit: 50,
            ..Default::default()
        },
        db::now(),
        90,
    )
    .unwrap();
    assert_eq!(total, 1);
    assert_eq!(rows[0].study.num_instances, 40);
    assert_eq!(rows[0].study.num_series, 2);
    assert_eq!(
        index::instances_of_study(&mut c, a, rows[0].study.id)
            .unwrap()
            .len(),
        40
    );
    assert!(audit::verify(&mut c).unwrap().is_intact());
}

#[test]
fn an_instance_whose_blob_did_not_become_durable_is_not_indexed() {
    let (_d, pool, a, _) = setup();
    let mut c = pool.get().unwrap();
    let ctx = Ctx::system("t");
    let n = inst(a, "1.2.9", "1.2.9.1", "1.2.9.1.1", "ab");
    let before = audit::search(&mut c, &audit::Filter::default(), 0, 100_000)
        .unwrap()
        .len();
    // The blob failed: nothing is committed, not even the audit event.
    let mut asked = 0;
    let r = index::record_instance_when(&mut c, &ctx, &n, BIG, index::Flush::Now, &mut || {
        asked += 1;
        false
    });
    assert!(matches!(r, Err(shared::Error::Unavailable(_))), "{r:?}");
    assert_eq!(asked, 1);
    let (found, total) = index::search_studies(
        &mut c,
        a,
        &StudyQuery {
            limit: 10,
            ..Default::default()
        },
        db::now(),
        0,
    )
    .unwrap();
    assert!(found.is_empty() && total == 0);
    assert_eq!(
        audit::search(&mut c, &audit::Filter::default(), 0, 100_000)
            .unwrap()
            .len(),
        before
    );
    // Durable: recorded as usual (here with the journal's deferred flush: visible at once,
    // and the connection is back to flushed commits afterwards).
    let r =
        index::record_instance_when(&mut c, &ctx, &n, BIG, index::Flush::Deferred, &mut || true)
            .unwrap();
    assert!(matches!(r, Recorded::New { .. }));
    index::mark_durable(&mut c, "test").unwrap();
    index::mark_durable(&mut c, "test").unwrap();
}
