//! Fixtures for the worklist tests: the reading network with a second radiologist and a
//! facility administrator at 県立中央病院, requests filed straight through the core, scores,
//! duty and settings written through the domain functions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use diesel::prelude::*;
use radvision::core::requests::{self as core, Filing, RequestForm, Requester};
use shared::audit::Ctx;
use shared::db::schema::read_requests;
use shared::domain::{BodyRegion, Exam};
use shared::reading::requests::ReadRequest;
use shared::reading::{duty, specialties, worklist};

use crate::common::reading::{self, Network};
use crate::common::{TestApp, TestUser};

pub struct World {
    pub n: Network,
    /// A second radiologist at 県立中央病院 (kmix).
    pub rad2: TestUser,
    pub kmix_admin: TestUser,
}

pub fn world(app: &TestApp) -> World {
    let n = reading::network(app);
    let rad2 = app.user(n.kmix, "rad2.kmix", &["radiologist"]);
    let kmix_admin = app.user(n.kmix, "fadmin.kmix", &["facility_admin"]);
    World {
        n,
        rad2,
        kmix_admin,
    }
}

/// Files a request from the clinic to `target` for a new settled study of `modality` with
/// `body_part`, returning the request.
pub fn file(
    app: &TestApp,
    n: &Network,
    target: i64,
    uid: &str,
    urgency: &str,
    modality: &str,
    body_part: &str,
) -> ReadRequest {
    let study = reading::study(app, n.clinic, &format!("P-{uid}"), uid, modality, 3);
    reading::settle(app, study);
    let form = RequestForm {
        supporting_facility_id: target.to_string(),
        urgency: urgency.into(),
        category: "clinical".into(),
        modality: modality.into(),
        body_parts: vec![body_part.into()],
        purpose: "diagnosis".into(),
        clinical_info: "pneumonia".into(),
        clinical_note: "発熱と咳嗽".into(),
        contact_phone: "087-111-2222".into(),
        ..Default::default()
    };
    core::file(
        &mut app.conn(),
        &Ctx::system("test"),
        Requester {
            facility_id: n.clinic,
            user_id: n.physician.id,
        },
        study,
        &form,
        Filing {
            now: shared::db::now(),
            arriving_seconds: 60,
            require_expected_total: false,
        },
    )
    .unwrap()
}

pub fn request(app: &TestApp, id: i64) -> ReadRequest {
    read_requests::table
        .find(id)
        .select(ReadRequest::as_select())
        .first(&mut app.conn())
        .unwrap()
}

/// Gives a radiologist scores and round-the-clock duty every day.
pub fn team_member(app: &TestApp, facility: i64, user: i64, scores: &[(Exam, BodyRegion, u8)]) {
    let mut c = app.conn();
    let ctx = Ctx::system("test");
    let grid: specialties::Grid = scores.iter().map(|&(e, r, s)| ((e, r), s)).collect();
    specialties::save(&mut c, &ctx, facility, user, &grid).unwrap();
    for day in 0..=duty::HOLIDAY {
        duty::add(
            &mut c,
            &ctx,
            facility,
            &duty::SlotForm {
                user_id: user.to_string(),
                weekday: day.to_string(),
                starts: "00:00".into(),
                ends: "24:00".into(),
            },
        )
        .unwrap();
    }
}

pub fn auto_on(app: &TestApp, facility: i64) {
    worklist::save_settings(&mut app.conn(), &Ctx::system("test"), facility, true, "8").unwrap();
}

/// The request ids of the worklist rows, in order.
pub fn row_ids(body: &str) -> Vec<i64> {
    body.split("data-request-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

pub fn denied(app: &TestApp) -> usize {
    shared::audit::search(
        &mut app.conn(),
        &shared::audit::Filter {
            outcome: Some("denied".into()),
            ..Default::default()
        },
        0,
        100_000,
    )
    .unwrap()
    .len()
}
