//! The worklist API: the list (order, filters, 400 on a bad filter), a claim race with one
//! winner, starting reading once, releasing, assigning (coordinators only, 422 for someone
//! outside the team), the automatic assignment run, the OpenAPI document, and what other
//! facilities, clinics and guessed ids get (404 + a denied audit event).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod worklist_fixtures;

use common::{spawn_app, TestApp, TestUser};
use serde_json::json;
use shared::audit::Ctx;
use shared::auth::tokens;
use shared::domain::{BodyRegion, Exam};
use worklist_fixtures::{denied, file, request, team_member, world};

fn token(app: &TestApp, user: &TestUser) -> String {
    tokens::issue(
        &mut app.conn(),
        &Ctx::system("test"),
        user.id,
        "t",
        "30",
        365,
    )
    .unwrap()
    .0
}

fn ids(v: &serde_json::Value) -> Vec<i64> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_list_orders_filters_and_refuses_bad_filters() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    let a = file(&app, n, n.kmix, "2.1.1", "routine", "CT", "CHEST");
    let b = file(&app, n, n.kmix, "2.1.2", "routine", "MR", "HEAD");
    let e = file(&app, n, n.kmix, "2.1.3", "emergency", "CT", "HEAD");
    let t = token(&app, &n.kmix_radiologist);
    let c = app.client();
    let (s, v) = c.api_get("/api/v1/worklist", Some(&t)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(ids(&v), vec![e.id, a.id, b.id]);
    let first = &v["items"][0];
    assert_eq!(first["urgency"], "emergency");
    assert_eq!(first["regions"], json!(["head_neck"]));
    assert_eq!(first["body_parts"], json!(["HEAD"]));
    assert_eq!(first["clinical_info"], "pneumonia");
    assert!(first["start_target_at"].is_string());
    assert_eq!(first["patient"]["patient_id"], "P-2.1.3");
    let (_, v) = c.api_get("/api/v1/worklist?modality=MR", Some(&t)).await;
    assert_eq!(ids(&v), vec![b.id]);
    let (_, v) = c
        .api_get("/api/v1/worklist?urgency=routine&assignee=none", Some(&t))
        .await;
    assert_eq!(ids(&v), vec![a.id, b.id]);
    let (s, _) = c
        .api_get("/api/v1/worklist?status=confirmed", Some(&t))
        .await;
    assert_eq!(s, 400);
    let (s, _) = c
        .api_get("/api/v1/worklist?date_from=yesterday", Some(&t))
        .await;
    assert_eq!(s, 400);
    assert!(app.audit_count("worklist.list", "success") >= 3);

    let (s, doc) = c.api_get("/api/v1/openapi.json", None).await;
    assert_eq!(s, 200);
    for p in [
        "/api/v1/worklist",
        "/api/v1/worklist/{id}/claim",
        "/api/v1/worklist/{id}/release",
        "/api/v1/worklist/{id}/assign",
        "/api/v1/worklist/{id}/start",
        "/api/v1/worklist/auto-assign",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} documented");
    }
    assert!(doc["components"]["schemas"]["WorklistItemOut"].is_object());
}

#[tokio::test]
async fn two_claims_at_once_have_one_winner_then_start_release_and_assign() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    let r = file(&app, n, n.kmix, "2.2.1", "routine", "CT", "CHEST");
    let (t1, t2) = (token(&app, &n.kmix_radiologist), token(&app, &w.rad2));
    let c = app.client();
    let path = format!("/api/v1/worklist/{}/claim", r.id);
    let (x, y) = tokio::join!(
        c.api_send("POST", &path, &t1, ""),
        c.api_send("POST", &path, &t2, "")
    );
    let mut codes = [x.0, y.0];
    codes.sort();
    assert_eq!(codes, [200, 409], "{x:?} {y:?}");
    let winner = if x.0 == 200 {
        n.kmix_radiologist.id
    } else {
        w.rad2.id
    };
    let (wt, lt) = if x.0 == 200 { (&t1, &t2) } else { (&t2, &t1) };
    assert_eq!(request(&app, r.id).assigned_to, Some(winner));
    assert_eq!(app.audit_count("worklist.claim", "success"), 1);

    // The loser may not start it; the winner starts it once.
    let start = format!("/api/v1/worklist/{}/start", r.id);
    let (s, _) = c.api_send("POST", &start, lt, "").await;
    assert_eq!(s, 409);
    let (s, v) = c.api_send("POST", &start, wt, "").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "reading");
    let at = v["reading_started_at"].clone();
    assert!(at.is_string());
    let (_, v) = c.api_send("POST", &start, wt, "").await;
    assert_eq!(v["reading_started_at"], at);
    let (s, _) = c
        .api_send(
            "POST",
            &format!("/api/v1/worklist/{}/release", r.id),
            wt,
            "",
        )
        .await;
    assert_eq!(s, 409, "reading has started");

    // Assigning: radiologists 404 (+ audit); the coordinator 422 for outsiders, 200 else.
    let assign = format!("/api/v1/worklist/{}/assign", r.id);
    let before = denied(&app);
    let body = json!({ "radiologist_id": n.kmix_radiologist.id }).to_string();
    let (s, _) = c.api_send("POST", &assign, wt, &body).await;
    assert_eq!(s, 404);
    assert_eq!(denied(&app), before + 1);
    let tc = token(&app, &n.kmix_coordinator);
    let outsider = json!({ "radiologist_id": n.kagoshima_radiologist.id }).to_string();
    let (s, v) = c.api_send("POST", &assign, &tc, &outsider).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["fields"]["radiologist_id"], "err.invalid_choice");
    let (s, _) = c
        .api_send("POST", &assign, &tc, r#"{"radiologist_id": 1, "bogus": 2}"#)
        .await;
    assert_eq!(s, 400);
    let other = if winner == w.rad2.id {
        n.kmix_radiologist.id
    } else {
        w.rad2.id
    };
    let body = json!({ "radiologist_id": other, "note": "交代" }).to_string();
    let (s, v) = c.api_send("POST", &assign, &tc, &body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["assigned_to"]["id"], other);
    assert_eq!(v["assigned_by"], n.kmix_coordinator.id);
    assert_eq!(v["reading_started_at"], at);
}

#[tokio::test]
async fn automatic_assignment_through_the_api() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    team_member(
        &app,
        n.kmix,
        n.kmix_radiologist.id,
        &[
            (Exam::Ct, BodyRegion::Chest, 90),
            (Exam::Ct, BodyRegion::LowerLimb, 0),
        ],
    );
    let chest = file(&app, n, n.kmix, "2.3.1", "routine", "CT", "CHEST");
    let knee = file(&app, n, n.kmix, "2.3.2", "routine", "CT", "KNEE");
    let c = app.client();
    let tr = token(&app, &n.kmix_radiologist);
    let (s, _) = c
        .api_send("POST", "/api/v1/worklist/auto-assign", &tr, "")
        .await;
    assert_eq!(s, 404, "coordinators only");
    let tc = token(&app, &n.kmix_coordinator);
    let (s, v) = c
        .api_send("POST", "/api/v1/worklist/auto-assign", &tc, "")
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["assigned"],
        json!([{ "request_id": chest.id, "radiologist_id": n.kmix_radiologist.id }])
    );
    assert_eq!(
        v["waiting"],
        json!([{ "request_id": knee.id, "reason": "nobody_qualified" }])
    );
    let (_, v) = c.api_get("/api/v1/worklist?assignee=me", Some(&tr)).await;
    assert_eq!(ids(&v), vec![chest.id]);
    let reason: serde_json::Value =
        serde_json::from_str(v["items"][0]["assignment_reason"].as_str().unwrap()).unwrap();
    assert_eq!(reason["why"]["score"], 90);
    assert_eq!(request(&app, knee.id).assigned_to, None);
}

#[tokio::test]
async fn other_hospitals_clinics_and_guessed_ids_get_404_and_an_audit_row() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    let r = file(&app, n, n.kmix, "2.4.1", "routine", "CT", "CHEST");
    let c = app.client();
    for u in [&n.kagoshima_radiologist, &n.stranger_radiologist] {
        let t = token(&app, u);
        let (s, v) = c.api_get("/api/v1/worklist", Some(&t)).await;
        assert_eq!(s, 200);
        assert!(ids(&v).is_empty(), "nothing of another facility's");
        for action in ["claim", "start", "release"] {
            for id in [r.id.to_string(), "999999".into(), "x1".into()] {
                let before = denied(&app);
                let (s, v) = c
                    .api_send("POST", &format!("/api/v1/worklist/{id}/{action}"), &t, "")
                    .await;
                assert_eq!(s, 404, "{action} {id}");
                assert!(!v.to_string().contains("山田"));
                assert!(denied(&app) > before, "{action} {id} audited");
            }
        }
    }
    for u in [&n.physician, &w.kmix_admin] {
        let t = token(&app, u);
        let before = denied(&app);
        let (s, _) = c.api_get("/api/v1/worklist", Some(&t)).await;
        assert_eq!(s, 404);
        let (s, _) = c
            .api_send("POST", &format!("/api/v1/worklist/{}/claim", r.id), &t, "")
            .await;
        assert_eq!(s, 404);
        let (s, _) = c
            .api_send("POST", "/api/v1/worklist/auto-assign", &t, "")
            .await;
        assert_eq!(s, 404);
        assert_eq!(denied(&app), before + 3);
    }
    let got = request(&app, r.id);
    assert_eq!(got.assigned_to, None);
    assert_eq!(got.status, "requested");
}

/// With automatic assignment on, a request filed through the API is assigned at once, by the
/// system (not by the clinic user), with its reason.
#[tokio::test]
async fn a_request_filed_to_a_facility_with_automatic_assignment_is_assigned_at_once() {
    let app = spawn_app().await;
    let w = world(&app);
    let n = &w.n;
    team_member(
        &app,
        n.kmix,
        n.kmix_radiologist.id,
        &[(Exam::Ct, BodyRegion::Chest, 85)],
    );
    worklist_fixtures::auto_on(&app, n.kmix);
    let study = common::reading::study(&app, n.clinic, "P-AUTO", "2.9.1", "CT", 3);
    common::reading::settle(&app, study);
    let doctor = token(&app, &n.physician);
    let body = json!({
        "study_id": study,
        "supporting_facility_id": n.kmix,
        "urgency": "routine",
        "category": "clinical",
        "modality": "CT",
        "body_parts": ["CHEST"],
        "purpose": "diagnosis",
        "clinical_info": "pneumonia",
        "contact_phone": "087-111-2222",
    });
    let (s, v) = app
        .client()
        .api_send("POST", "/api/v1/requests", &doctor, &body.to_string())
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    let r = request(&app, id);
    assert_eq!(r.assigned_to, Some(n.kmix_radiologist.id));
    assert_eq!(r.assigned_by, None, "assigned by the engine");
    assert_eq!(r.status, "accepted");
    let why: serde_json::Value = serde_json::from_str(&r.assignment_reason).unwrap();
    assert_eq!(why["why"]["score"], 85);
    assert_eq!(app.audit_count("worklist.auto_assign", "success"), 1);
}
