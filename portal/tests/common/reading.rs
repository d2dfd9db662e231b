//! Fixtures for read-request tests: a small network (a clinic, two supporting hospitals with
//! contracts and price tables, a hospital without a contract), and studies recorded straight
//! into the index (no images needed to file a request).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use radvision::core::calendar::AfterHours;
use radvision::core::pricing;
use radvision::core::requests::version_from_rules;
use shared::audit::Ctx;
use shared::domain::TimeOfDay;
use shared::index::{self, NewInstance};
use shared::membership::contracts::{self, ContractForm};
use shared::reading::pricing as tables;

use super::{TestApp, TestUser};

pub struct Network {
    pub clinic: i64,
    /// K-MIX R 2022 table (tax included), CT MR CR DX MG.
    pub kmix: i64,
    /// Kagoshima style (3,000 / 4,000, tax excluded), CT MR only.
    pub kagoshima: i64,
    /// Supporting, active, but no contract with the clinic.
    pub stranger: i64,
    pub physician: TestUser,
    pub kmix_radiologist: TestUser,
    pub kmix_coordinator: TestUser,
    pub kagoshima_radiologist: TestUser,
    pub stranger_radiologist: TestUser,
}

/// After-hours never (no window, weekends not counted): prices in tests do not depend on
/// the hour they run at.
pub fn never_after_hours() -> AfterHours {
    AfterHours {
        start: TimeOfDay::MIDNIGHT,
        end: TimeOfDay::MIDNIGHT,
        weekends_and_holidays: false,
    }
}

pub fn contract(app: &TestApp, requesting: i64, supporting: i64, modalities: &[&str]) {
    let mut c = app.conn();
    contracts::create(
        &mut c,
        &Ctx::system("test"),
        &ContractForm {
            requesting_facility_id: requesting.to_string(),
            supporting_facility_id: supporting.to_string(),
            modalities: modalities.iter().map(|m| (*m).to_owned()).collect(),
            valid_from: "2020-01-01".into(),
            valid_until: String::new(),
            note: String::new(),
        },
    )
    .unwrap();
}

/// Gives `owner` (or the association, with `None`) a price table in force now.
pub fn price_table(
    app: &TestApp,
    owner: Option<i64>,
    rules: &[pricing::PriceRule],
    tax: &pricing::TaxRule,
) -> i64 {
    let mut c = app.conn();
    let v = version_from_rules(rules, tax, &never_after_hours(), "test");
    let now = shared::db::now() - chrono::Duration::seconds(1);
    tables::create_version(&mut c, &Ctx::system("test"), owner, now, &v)
        .unwrap()
        .table
        .id
}

pub fn network(app: &TestApp) -> Network {
    let clinic = app.facility("さぬき内科", "clinic", true, false);
    let kmix = app.facility("県立中央病院", "hospital", false, true);
    let kagoshima = app.facility("救急読影センター", "hospital", false, true);
    let stranger = app.facility("遠方病院", "hospital", false, true);
    contract(app, clinic, kmix, &["CT", "MR", "CR", "DX", "MG"]);
    contract(app, clinic, kagoshima, &["CT", "MR"]);
    let (rules, tax) = pricing::kmix_r_2022();
    price_table(app, Some(kmix), &rules, &tax);
    let (rules, tax) = pricing::kagoshima_style();
    price_table(app, Some(kagoshima), &rules, &tax);
    price_table(app, Some(stranger), &rules, &tax);
    Network {
        clinic,
        kmix,
        kagoshima,
        stranger,
        physician: app.user(clinic, "dr.clinic", &["physician"]),
        kmix_radiologist: app.user(kmix, "rad.kmix", &["radiologist"]),
        kmix_coordinator: app.user(kmix, "coord.kmix", &["coordinator"]),
        kagoshima_radiologist: app.user(kagoshima, "rad.kago", &["radiologist"]),
        stranger_radiologist: app.user(stranger, "rad.stranger", &["radiologist"]),
    }
}

/// Records a study of `images` instances of `modality` for the patient straight into the
/// index (just received, so it shows as arriving until [`settle`]) and returns its id.
pub fn study(
    app: &TestApp,
    facility: i64,
    patient_key: &str,
    study_uid: &str,
    modality: &str,
    images: u32,
) -> i64 {
    let mut c = app.conn();
    let mut study_id = 0;
    for i in 0..images {
        let n = NewInstance {
            facility_id: facility,
            patient_key: patient_key.into(),
            name_alphabetic: "Yamada^Taro".into(),
            name_ideographic: "山田^太郎".into(),
            name_phonetic: "やまだ^たろう".into(),
            birth_date: chrono::NaiveDate::from_ymd_opt(1960, 4, 1),
            sex: "M".into(),
            study_uid: study_uid.into(),
            accession_number: "ACC1".into(),
            study_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 20),
            study_time: "101500".into(),
            study_description: format!("{modality} 検査"),
            referring_physician: String::new(),
            modality: modality.into(),
            body_part: "CHEST".into(),
            series_uid: format!("{study_uid}.1"),
            series_number: Some(1),
            series_description: String::new(),
            sop_instance_uid: format!("{study_uid}.1.{}", i + 1),
            sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
            transfer_syntax_uid: "1.2.840.10008.1.2.1".into(),
            instance_number: Some(i as i32 + 1),
            rows: Some(512),
            columns: Some(512),
            frames: None,
            imaging: Default::default(),
            size_bytes: 1000,
            sha256: format!("{:064x}", i + 1),
            storage_key: format!("sha256/00/{:064x}", i + 1),
            received_via: "c-store".into(),
        };
        match index::record_instance(&mut c, &Ctx::system("test"), &n, i64::MAX).unwrap() {
            index::Recorded::New { study_id: s, .. }
            | index::Recorded::Duplicate { study_id: s, .. } => study_id = s,
            other => panic!("not recorded: {other:?}"),
        }
    }
    study_id
}

/// Makes a study look finished arriving (its last instance long ago).
pub fn settle(app: &TestApp, study_id: i64) {
    use diesel::prelude::*;
    use shared::db::schema::studies;
    let mut c = app.conn();
    let past = shared::db::now() - chrono::Duration::hours(2);
    diesel::update(studies::table.find(study_id))
        .set((
            studies::last_received_at.eq(past),
            studies::first_received_at.eq(past),
        ))
        .execute(&mut c)
        .unwrap();
}
