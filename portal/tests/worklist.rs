//! The worklist screens: order (a later emergency on top), filters and the refresh partial,
//! claiming, opening (reading started once), reassigning by the coordinator only, the
//! automatic assignment with its reasons (never a region scored 0), the coordinator's
//! specialty / duty / settings forms (422, nothing written), and what other facilities and
//! roles get (404 + a denied audit event).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod worklist_fixtures;

use common::{spawn_app, Client, TestApp, TestUser};
use diesel::prelude::*;
use shared::db::schema::{assignment_settings, duty_slots, specialty_scores};
use shared::domain::{BodyRegion, Exam};
use worklist_fixtures::{denied, file, request, row_ids, team_member, world};

async fn signed_in(app: &TestApp, u: &TestUser) -> Client {
    let mut c = app.client();
    c.sign_in(u).await;
    c
}

#[tokio::test]
async fn a_later_emergency_is_on_top_and_filters_narrow_the_list() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    let a = file(&app, n, n.kmix, "1.2.1", "routine", "CT", "CHEST");
    let b = file(&app, n, n.kmix, "1.2.2", "routine", "MR", "HEAD");
    let e = file(&app, n, n.kmix, "1.2.3", "emergency", "CT", "HEAD");
    let other = file(&app, n, n.kagoshima, "1.2.4", "routine", "CT", "CHEST");
    let mut c = signed_in(&app, &n.kmix_radiologist).await;

    let home = c.get("/").await;
    assert!(home.body.contains("href=\"/worklist\""), "nav entry");
    let list = c.get("/worklist").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(row_ids(&list.body), vec![e.id, a.id, b.id]);
    assert!(!row_ids(&list.body).contains(&other.id));
    assert!(list.body.contains("data-testid=\"countdown\""));
    assert!(
        list.body.contains("読影開始目標"),
        "emergency counts to its start"
    );
    assert!(list.body.contains("/static/worklist/worklist.js"));

    let only = |q: &str| format!("/worklist?{q}");
    let p = c.get(&only("urgency=routine")).await;
    assert_eq!(row_ids(&p.body), vec![a.id, b.id]);
    let p = c.get(&only("modality=MR")).await;
    assert_eq!(row_ids(&p.body), vec![b.id]);
    let p = c.get(&only("assignee=none&status=requested")).await;
    assert_eq!(row_ids(&p.body).len(), 3);
    let p = c.get(&only(&format!("facility={}", n.clinic))).await;
    assert_eq!(row_ids(&p.body).len(), 3);
    let p = c.get(&only("facility=999999")).await;
    assert!(row_ids(&p.body).is_empty());
    let p = c.get(&only("date_from=2999-01-01")).await;
    assert!(row_ids(&p.body).is_empty());
    let p = c.get(&only("status=cancelled")).await;
    assert!(p.body.contains("field-error"));

    // The refresh partial: rows only, same order and filters.
    let rows = c.get("/worklist/rows?urgency=emergency").await;
    assert_eq!(rows.status, 200);
    assert!(!rows.body.contains("<html"));
    assert_eq!(row_ids(&rows.body), vec![e.id]);
    let js = c.get("/static/worklist/worklist.js").await;
    assert_eq!(js.status, 200);
    assert!(js.body.contains("/worklist/rows") || js.body.contains("dataset.rows"));

    // The request page: clinical question, body parts, priors, links.
    let show = c.get(&format!("/worklist/{}", e.id)).await;
    assert_eq!(show.status, 200, "{}", show.body);
    assert!(show.body.contains("肺炎") && show.body.contains("発熱と咳嗽"));
    assert!(show.body.contains("山田 太郎"));
    assert!(show.body.contains(&format!("/studies/{}/view", e.study_id)));
    assert!(show.body.contains(&format!("/worklist/{}/report", e.id)));
    assert!(show.body.contains(&format!("/studies/{}/send", e.study_id)));
}

#[tokio::test]
async fn claim_open_and_reassign() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    let r = file(&app, n, n.kmix, "1.3.1", "routine", "CT", "CHEST");
    let mut rad1 = signed_in(&app, &n.kmix_radiologist).await;
    let mut rad2 = signed_in(&app, &w.rad2).await;
    rad1.get("/worklist").await;
    rad2.get("/worklist").await;

    let p = rad1.post(&format!("/worklist/{}/claim", r.id), &[]).await;
    assert_eq!(p.status, 303);
    let got = request(&app, r.id);
    assert_eq!(got.assigned_to, Some(n.kmix_radiologist.id));
    assert_eq!(got.status, "accepted");
    // The second claim loses and changes nothing.
    let p = rad2.post(&format!("/worklist/{}/claim", r.id), &[]).await;
    assert_eq!(p.status, 303);
    assert!(p.location.unwrap().contains("worklist.err_taken"));
    assert_eq!(request(&app, r.id).assigned_to, Some(n.kmix_radiologist.id));
    // Nor may the other radiologist open it.
    let p = rad2.post(&format!("/worklist/{}/start", r.id), &[]).await;
    assert!(p.location.unwrap().contains("worklist.err_assigned_other"));
    assert_eq!(request(&app, r.id).status, "accepted");

    // Opening marks reading started, once, and goes to the viewer.
    let p = rad1.post(&format!("/worklist/{}/start", r.id), &[]).await;
    assert_eq!(p.status, 303);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("/studies/{}/view", r.study_id).as_str())
    );
    let started = request(&app, r.id);
    assert_eq!(started.status, "reading");
    let at = started.reading_started_at.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    rad1.post(&format!("/worklist/{}/start", r.id), &[]).await;
    assert_eq!(request(&app, r.id).reading_started_at, Some(at));

    // Only the coordinator reassigns; a radiologist's attempt is a 404 and audited.
    let before = denied(&app);
    let p = rad1
        .post(
            &format!("/worklist/{}/assign", r.id),
            &[("radiologist_id", &w.rad2.id.to_string())],
        )
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(denied(&app), before + 1);
    assert_eq!(request(&app, r.id).assigned_to, Some(n.kmix_radiologist.id));

    let mut coord = signed_in(&app, &n.kmix_coordinator).await;
    let show = coord.get(&format!("/worklist/{}", r.id)).await;
    assert!(show.body.contains("data-testid=\"assign-form\""));
    assert!(show.body.contains("rad2.kmix 様"));
    // Someone who is not a radiologist of the facility: 422, nothing changes.
    let p = coord
        .post(
            &format!("/worklist/{}/assign", r.id),
            &[("radiologist_id", &n.kagoshima_radiologist.id.to_string())],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert_eq!(request(&app, r.id).assigned_to, Some(n.kmix_radiologist.id));
    let p = coord
        .post(
            &format!("/worklist/{}/assign", r.id),
            &[
                ("radiologist_id", &w.rad2.id.to_string()),
                ("note", "専門外のため"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let got = request(&app, r.id);
    assert_eq!(got.assigned_to, Some(w.rad2.id));
    assert_eq!(got.assigned_by, Some(n.kmix_coordinator.id));
    assert!(got.assignment_reason.contains("専門外のため"));
    assert_eq!(got.reading_started_at, Some(at), "the first start is kept");
    assert_eq!(app.audit_count("worklist.assign", "success"), 1);
    assert_eq!(app.audit_count("worklist.start", "success"), 1);
}

#[tokio::test]
async fn opening_an_unassigned_request_claims_it_and_releasing_gives_it_back() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    let r = file(&app, n, n.kmix, "1.4.1", "emergency", "CT", "HEAD");
    let s = file(&app, n, n.kmix, "1.4.2", "routine", "CT", "HEAD");
    let mut rad = signed_in(&app, &n.kmix_radiologist).await;
    rad.get("/worklist").await;
    rad.post(&format!("/worklist/{}/start", r.id), &[]).await;
    let got = request(&app, r.id);
    assert_eq!(got.assigned_to, Some(n.kmix_radiologist.id));
    assert_eq!(got.status, "reading");
    assert!(got.reading_started_at.is_some());
    // Reading started: no release.
    let p = rad.post(&format!("/worklist/{}/release", r.id), &[]).await;
    assert!(p.location.unwrap().contains("worklist.err_started"));
    rad.post(&format!("/worklist/{}/claim", s.id), &[]).await;
    let p = rad.post(&format!("/worklist/{}/release", s.id), &[]).await;
    assert!(p.location.unwrap().contains("flash.worklist_released"));
    assert_eq!(request(&app, s.id).assigned_to, None);
}

#[tokio::test]
async fn other_facilities_clinics_and_admins_get_nothing() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    let r = file(&app, n, n.kmix, "1.5.1", "routine", "CT", "CHEST");

    for u in [&n.kagoshima_radiologist, &n.stranger_radiologist] {
        let mut c = signed_in(&app, u).await;
        let list = c.get("/worklist").await;
        assert_eq!(list.status, 200, "their own (empty) worklist");
        assert!(row_ids(&list.body).is_empty());
        assert!(!list.body.contains("山田"));
        for path in [
            format!("/worklist/{}", r.id),
            "/worklist/999999".to_owned(),
            "/worklist/abc".to_owned(),
        ] {
            let before = denied(&app);
            let p = c.get(&path).await;
            assert_eq!(p.status, 404, "{path}");
            assert!(!p.body.contains("山田"));
            // A malformed id is audited just after the answer: wait for it.
            for _ in 0..40 {
                if denied(&app) > before {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert!(denied(&app) > before, "{path} audited");
        }
        for action in ["claim", "start", "release"] {
            let before = denied(&app);
            let p = c.post(&format!("/worklist/{}/{action}", r.id), &[]).await;
            assert_eq!(p.status, 404, "{action}");
            assert_eq!(denied(&app), before + 1);
        }
    }
    assert_eq!(request(&app, r.id).assigned_to, None);
    assert_eq!(request(&app, r.id).status, "requested");

    // The clinic's physician and the hospital's facility administrator: no worklist at all.
    for u in [&n.physician, &w.kmix_admin] {
        let mut c = signed_in(&app, u).await;
        let home = c.get("/").await;
        assert!(!home.body.contains("href=\"/worklist\""));
        for path in [
            "/worklist".to_owned(),
            "/worklist/rows".to_owned(),
            format!("/worklist/{}", r.id),
            "/facility/specialties".to_owned(),
            "/facility/duty".to_owned(),
            "/facility/assignment".to_owned(),
        ] {
            let before = denied(&app);
            let p = c.get(&path).await;
            assert_eq!(p.status, 404, "{path}");
            assert_eq!(denied(&app), before + 1, "{path}");
        }
    }
    // Radiologists do not keep the team's settings.
    let mut rad = signed_in(&app, &n.kmix_radiologist).await;
    assert_eq!(rad.get("/facility/specialties").await.status, 404);
    assert_eq!(rad.post("/worklist/auto-assign", &[]).await.status, 404);
}

fn count(app: &TestApp, table: &str) -> i64 {
    let mut c = app.conn();
    match table {
        "scores" => specialty_scores::table.count().get_result(&mut c).unwrap(),
        "duty" => duty_slots::table.count().get_result(&mut c).unwrap(),
        _ => assignment_settings::table
            .count()
            .get_result(&mut c)
            .unwrap(),
    }
}

#[tokio::test]
async fn the_coordinator_s_forms_refuse_bad_input_and_write_nothing() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    let mut c = signed_in(&app, &n.kmix_coordinator).await;
    let rad = n.kmix_radiologist.id;

    let grid = c.get(&format!("/facility/specialties?user={rad}")).await;
    assert_eq!(grid.status, 200, "{}", grid.body);
    assert!(grid.body.contains("name=\"s.ct.head_neck\""));
    let p = c
        .post(
            &format!("/facility/specialties/{rad}"),
            &[("s.ct.head_neck", "90"), ("s.ct.chest", "101")],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("data-testid=\"scores-error\""));
    assert!(p.body.contains("aria-invalid=\"true\""));
    assert_eq!(count(&app, "scores"), 0);
    let p = c
        .post(
            &format!("/facility/specialties/{rad}"),
            &[("s.ct.head_neck", "90"), ("s.ct.chest", "0")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(count(&app, "scores"), 1);
    // Another facility's radiologist: 404, audited.
    let before = denied(&app);
    let p = c
        .post(
            &format!("/facility/specialties/{}", n.kagoshima_radiologist.id),
            &[("s.ct.head_neck", "90")],
        )
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(denied(&app), before + 1);
    assert_eq!(count(&app, "scores"), 1);

    let rad_s = rad.to_string();
    let p = c
        .post(
            "/facility/duty",
            &[
                ("user_id", &rad_s),
                ("weekday", "0"),
                ("starts", "25:00"),
                ("ends", "17:00"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("data-testid=\"starts-error\""));
    let p = c
        .post(
            "/facility/duty",
            &[
                ("user_id", &rad_s),
                ("weekday", "9"),
                ("starts", "09:00"),
                ("ends", "17:00"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert_eq!(count(&app, "duty"), 0);
    let p = c
        .post(
            "/facility/duty",
            &[
                ("user_id", &rad_s),
                ("weekday", "7"),
                ("starts", "22:00"),
                ("ends", "08:00"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(count(&app, "duty"), 1);
    let list = c.get("/facility/duty").await;
    assert!(list.body.contains("祝日") && list.body.contains("22:00"));

    let p = c
        .post(
            "/facility/assignment",
            &[("auto_assign", "on"), ("max_open", "0")],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("data-testid=\"max-open-error\""));
    assert_eq!(count(&app, "settings"), 0);
    let p = c
        .post(
            "/facility/assignment",
            &[("auto_assign", "on"), ("max_open", "5")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(count(&app, "settings"), 1);
}

#[tokio::test]
async fn automatic_assignment_follows_scores_and_never_assigns_a_zero_region() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    team_member(
        &app,
        n.kmix,
        n.kmix_radiologist.id,
        &[
            (Exam::Ct, BodyRegion::Chest, 80),
            (Exam::Ct, BodyRegion::HeadNeck, 60),
        ],
    );
    team_member(
        &app,
        n.kmix,
        w.rad2.id,
        &[
            (Exam::Ct, BodyRegion::Chest, 50),
            (Exam::Ct, BodyRegion::HeadNeck, 90),
        ],
    );
    let chest = file(&app, n, n.kmix, "1.6.1", "routine", "CT", "CHEST");
    let head = file(&app, n, n.kmix, "1.6.2", "emergency", "CT", "HEAD");
    let knee = file(&app, n, n.kmix, "1.6.3", "routine", "CT", "KNEE");
    // Off: the list only shows.
    let mut coord = signed_in(&app, &n.kmix_coordinator).await;
    coord.get("/worklist").await;
    assert_eq!(request(&app, chest.id).assigned_to, None);
    // The coordinator's button runs it once.
    let p = coord.post("/worklist/auto-assign", &[]).await;
    assert_eq!(p.status, 303);
    let c1 = request(&app, chest.id);
    assert_eq!(c1.assigned_to, Some(n.kmix_radiologist.id));
    assert_eq!(c1.assigned_by, None, "automatic");
    assert_eq!(c1.status, "accepted");
    let why: serde_json::Value = serde_json::from_str(&c1.assignment_reason).unwrap();
    assert_eq!(why["kind"], "auto");
    assert_eq!(why["why"]["score"], 80);
    assert_eq!(why["why"]["region"], "chest");
    assert_eq!(why["why"]["on_duty"], true);
    assert_eq!(request(&app, head.id).assigned_to, Some(w.rad2.id));
    assert_eq!(
        request(&app, knee.id).assigned_to,
        None,
        "nobody scores knees"
    );
    assert_eq!(app.audit_count("worklist.auto_assign", "success"), 2);

    // The reason shows on the list.
    let list = coord.get("/worklist").await;
    assert!(list.body.contains("スコア 80"), "{}", list.body);
    assert!(list.body.contains("当番中"));
    // The coordinator's dropdown shows each radiologist's fit.
    let show = coord.get(&format!("/worklist/{}", knee.id)).await;
    assert!(show.body.contains("スコア 0"));

    // With automatic assignment on, a new request is assigned when the list loads.
    worklist_fixtures::auto_on(&app, n.kmix);
    let later = file(&app, n, n.kmix, "1.6.4", "routine", "CT", "CHEST");
    let mut rad = signed_in(&app, &w.rad2).await;
    let list = rad.get("/worklist").await;
    assert_eq!(list.status, 200);
    assert!(request(&app, later.id).assigned_to.is_some());
    assert_eq!(request(&app, knee.id).assigned_to, None);
}
