//! The web viewer's page and key images: who may open a study (the owner's requesters, the
//! reader of a live request and the priors it listed; nobody else — 404 and an audit event),
//! `no-store`, the studies offered for comparison, and key images marked and unmarked with
//! the CSRF token, each facility seeing only its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::reading::{self, Network};
use common::{spawn_app, Client, TestApp, TestUser};
use serde_json::{json, Value};
use shared::audit::Ctx;

fn token(app: &TestApp, user: &TestUser) -> String {
    shared::auth::tokens::issue(
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

struct Setup {
    app: TestApp,
    n: Network,
    /// The study (CT, 3 images), the patient's earlier study, and one more of the patient.
    study: i64,
    prior: i64,
    other: i64,
}

async fn setup() -> Setup {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let study = reading::study(&app, n.clinic, "P-100", "1.2.392.9.1", "CT", 3);
    let prior = reading::study(&app, n.clinic, "P-100", "1.2.392.9.2", "CT", 2);
    let other = reading::study(&app, n.clinic, "P-100", "1.2.392.9.3", "CT", 1);
    for s in [study, prior, other] {
        reading::settle(&app, s);
    }
    Setup {
        app,
        n,
        study,
        prior,
        other,
    }
}

/// Files a request for the study to 県立中央病院 listing `priors`; returns its id.
async fn file_request(s: &Setup, priors: &[i64]) -> i64 {
    let doctor = token(&s.app, &s.n.physician);
    let (st, r) = s
        .app
        .client()
        .api_send(
            "POST",
            "/api/v1/requests",
            &doctor,
            &json!({
                "study_id": s.study,
                "supporting_facility_id": s.n.kmix,
                "urgency": "routine",
                "category": "clinical",
                "modality": "CT",
                "body_parts": ["CHEST"],
                "purpose": "diagnosis",
                "clinical_info": "pneumonia",
                "contact_phone": "087-111-2222",
                "priors": priors,
            })
            .to_string(),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    r["id"].as_i64().unwrap()
}

async fn signed_in(app: &TestApp, u: &TestUser) -> Client {
    let mut c = app.client();
    c.sign_in(u).await;
    c
}

/// GET with the session; status, Cache-Control and body.
async fn get(c: &Client, path: &str) -> (u16, String, String) {
    let r = c
        .http
        .get(format!("{}{path}", c.base))
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let cc = r
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (st, cc, r.text().await.unwrap())
}

/// A key-image change from the page's script: JSON, `X-CSRF-Token` (when `csrf`) and the
/// platform's Origin.
async fn key_change(c: &Client, method: &str, study: i64, body: Value, csrf: Option<&str>) -> u16 {
    let mut rb = c
        .http
        .request(
            method.parse().unwrap(),
            format!("{}/studies/{study}/key-images", c.base),
        )
        .header("Origin", &c.base)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(t) = csrf {
        rb = rb.header("X-CSRF-Token", t);
    }
    rb.send().await.unwrap().status().as_u16()
}

async fn keys(c: &Client, study: i64) -> Vec<Value> {
    let (st, cc, body) = get(c, &format!("/studies/{study}/key-images")).await;
    assert_eq!((st, cc.as_str()), (200, "no-store"), "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["key_images"].as_array().unwrap().clone()
}

fn sop(study_uid: &str, i: u32) -> String {
    format!("{study_uid}.1.{i}")
}

#[tokio::test]
async fn only_the_owner_s_requesters_open_the_viewer_without_a_request() {
    let s = setup().await;
    let app = &s.app;
    let path = format!("/studies/{}/view", s.study);

    // Not signed in: to the sign-in page.
    let mut anon = app.client();
    let p = anon.get(&path).await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location.as_deref(), Some("/login"));

    // The clinic's physician: the page, no-store, the study UID for the scripts, the
    // patient's other studies to compare, and a `viewer.open` audit event.
    let c = signed_in(app, &s.n.physician).await;
    let (st, cc, body) = get(&c, &path).await;
    assert_eq!((st, cc.as_str()), (200, "no-store"), "{body}");
    assert!(body.contains("data-study-uid=\"1.2.392.9.1\""));
    assert!(body.contains("山田 太郎"), "the name in the overlay");
    assert!(body.contains(&format!("<option value=\"{}\"", s.prior)));
    assert!(body.contains(&format!("<option value=\"{}\"", s.other)));
    assert!(body.contains("/static/viewer/main.js"));
    assert_eq!(app.audit_count("viewer.open", "success"), 1);
    // The study page links to it.
    let (_, _, show) = get(&c, &format!("/studies/{}", s.study)).await;
    assert!(show.contains(&path));
    // A prior side by side.
    let (st, _, body) = get(&c, &format!("{path}?compare={}", s.prior)).await;
    assert_eq!(st, 200);
    assert!(body.contains("data-testid=\"pane-compare\""));
    assert!(body.contains("data-study-uid=\"1.2.392.9.2\""));
    // A compare id that is not one of the patient's studies is ignored.
    let elsewhere = app.facility("Bクリニック", "clinic", true, false);
    let foreign = reading::study(app, elsewhere, "P-100", "1.2.392.9.9", "CT", 1);
    let (st, _, body) = get(&c, &format!("{path}?compare={foreign}")).await;
    assert_eq!(st, 200);
    assert!(!body.contains("data-testid=\"pane-compare\""));
    assert!(!body.contains("1.2.392.9.9"));

    // Another clinic's physician, the clinic's facility administrator, a supporting
    // facility's radiologist without a request, and a guessed id: 404 and an audit event.
    let denied_before = app.audit_count("viewer.open", "denied");
    let other_doctor = app.user(elsewhere, "dr.other", &["physician"]);
    let fadmin = app.user(s.n.clinic, "fadmin.clinic", &["facility_admin"]);
    for u in [&other_doctor, &fadmin, &s.n.kmix_radiologist] {
        let c = signed_in(app, u).await;
        let (st, cc, body) = get(&c, &path).await;
        assert_eq!(st, 404, "{}: {body}", u.username);
        assert_eq!(cc, "no-store");
        assert!(!body.contains("1.2.392.9.1"));
    }
    let (st, _, _) = get(&c, "/studies/999999/view").await;
    assert_eq!(st, 404);
    assert_eq!(app.audit_count("viewer.open", "denied"), denied_before + 4);
    // The other clinic cannot open its way into the clinic's study as a "prior" either.
    let oc = signed_in(app, &other_doctor).await;
    let (st, _, body) = get(&oc, &format!("/studies/{foreign}/view?compare={}", s.study)).await;
    assert_eq!(st, 200);
    assert!(!body.contains("1.2.392.9.1"));
}

#[tokio::test]
async fn a_reader_sees_the_requested_study_and_the_priors_it_listed_while_it_is_live() {
    let s = setup().await;
    let app = &s.app;
    let request = file_request(&s, &[s.prior]).await;
    let rad = signed_in(app, &s.n.kmix_radiologist).await;

    let (st, cc, body) = get(&rad, &format!("/studies/{}/view", s.study)).await;
    assert_eq!((st, cc.as_str()), (200, "no-store"), "{body}");
    assert!(body.contains("data-access=\"reader\""));
    // Only the prior the request listed is offered, not the patient's other study.
    assert!(body.contains(&format!("<option value=\"{}\"", s.prior)));
    assert!(!body.contains(&format!("<option value=\"{}\"", s.other)));
    let (st, _, body) = get(&rad, &format!("/studies/{}/view", s.prior)).await;
    assert_eq!(st, 200);
    assert!(body.contains("data-access=\"prior\""));
    let (st, _, _) = get(&rad, &format!("/studies/{}/view", s.other)).await;
    assert_eq!(st, 404);
    // Another supporting facility: nothing.
    let kago = signed_in(app, &s.n.kagoshima_radiologist).await;
    let (st, _, _) = get(&kago, &format!("/studies/{}/view", s.study)).await;
    assert_eq!(st, 404);

    // Cancelled: nothing any more.
    let doctor = token(app, &s.n.physician);
    let (st, d) = app
        .client()
        .api_send(
            "POST",
            &format!("/api/v1/requests/{request}/cancel"),
            &doctor,
            &json!({ "reason": "患者都合" }).to_string(),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    for id in [s.study, s.prior] {
        let (st, _, _) = get(&rad, &format!("/studies/{id}/view")).await;
        assert_eq!(st, 404);
    }
}

#[tokio::test]
async fn key_images_are_marked_with_the_csrf_token_and_each_facility_sees_its_own() {
    let s = setup().await;
    let app = &s.app;
    let uid = "1.2.392.9.1";
    let mut c = signed_in(app, &s.n.physician).await;
    c.get(&format!("/studies/{}/view", s.study)).await; // the page's CSRF token
    let csrf = c.csrf.clone();
    assert!(keys(&c, s.study).await.is_empty());

    // Without the token, or with another origin: refused, nothing written.
    let body = json!({ "sop_instance_uid": sop(uid, 2), "frame": 1 });
    assert_eq!(
        key_change(&c, "POST", s.study, body.clone(), None).await,
        403
    );
    assert_eq!(
        key_change(&c, "POST", s.study, body.clone(), Some("wrong")).await,
        403
    );
    let r = c
        .http
        .post(format!("{}/studies/{}/key-images", c.base, s.study))
        .header("Origin", "http://evil.example")
        .header("Content-Type", "application/json")
        .header("X-CSRF-Token", &csrf)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(keys(&c, s.study).await.is_empty());

    // Marked (twice is once), listed with its series and instance, audited.
    assert_eq!(
        key_change(&c, "POST", s.study, body.clone(), Some(&csrf)).await,
        200
    );
    assert_eq!(
        key_change(&c, "POST", s.study, body.clone(), Some(&csrf)).await,
        200
    );
    let k = keys(&c, s.study).await;
    assert_eq!(k.len(), 1);
    assert_eq!(k[0]["sop_instance_uid"], sop(uid, 2));
    assert_eq!(k[0]["series_uid"], format!("{uid}.1"));
    assert_eq!(k[0]["instance_number"], 2);
    assert_eq!(k[0]["frame"], 1);
    assert_eq!(k[0]["request_id"], Value::Null);
    assert_eq!(app.audit_count("key_image.mark", "success"), 2);

    // An instance of another study, a bad UID, frame 0: 404 (audited), nothing written.
    let denied = app.audit_count("key_image.mark", "denied");
    for bad in [
        json!({ "sop_instance_uid": sop("1.2.392.9.2", 1), "frame": 1 }),
        json!({ "sop_instance_uid": "1.2.x", "frame": 1 }),
        json!({ "sop_instance_uid": sop(uid, 1), "frame": 0 }),
    ] {
        assert_eq!(key_change(&c, "POST", s.study, bad, Some(&csrf)).await, 404);
    }
    assert_eq!(app.audit_count("key_image.mark", "denied"), denied + 3);
    assert_eq!(keys(&c, s.study).await.len(), 1);

    // The reader of a request marks its own; neither sees the other's.
    let request = file_request(&s, &[]).await;
    let mut rad = signed_in(app, &s.n.kmix_radiologist).await;
    rad.get(&format!("/studies/{}/view", s.study)).await;
    let rad_csrf = rad.csrf.clone();
    assert!(
        keys(&rad, s.study).await.is_empty(),
        "not the clinic's marks"
    );
    let mine = json!({ "sop_instance_uid": sop(uid, 3), "frame": 1 });
    assert_eq!(
        key_change(&rad, "POST", s.study, mine.clone(), Some(&rad_csrf)).await,
        200
    );
    let k = keys(&rad, s.study).await;
    assert_eq!(k.len(), 1);
    assert_eq!(k[0]["sop_instance_uid"], sop(uid, 3));
    assert_eq!(k[0]["request_id"], request);
    let k = keys(&c, s.study).await;
    assert_eq!(k.len(), 1);
    assert_eq!(k[0]["sop_instance_uid"], sop(uid, 2));
    // Unmarking the other facility's image changes nothing there.
    assert_eq!(
        key_change(&rad, "DELETE", s.study, body.clone(), Some(&rad_csrf)).await,
        200
    );
    assert_eq!(keys(&c, s.study).await.len(), 1);

    // Another clinic and a supporting facility without a request: 404, audited.
    let elsewhere = app.facility("Bクリニック", "clinic", true, false);
    let mut other = signed_in(app, &app.user(elsewhere, "dr.other", &["physician"])).await;
    other.get("/").await;
    let other_csrf = other.csrf.clone();
    let (st, _, _) = get(&other, &format!("/studies/{}/key-images", s.study)).await;
    assert_eq!(st, 404);
    assert_eq!(
        key_change(&other, "POST", s.study, body.clone(), Some(&other_csrf)).await,
        404
    );
    let kago = signed_in(app, &s.n.kagoshima_radiologist).await;
    let (st, _, _) = get(&kago, &format!("/studies/{}/key-images", s.study)).await;
    assert_eq!(st, 404);
    assert!(app.audit_count("key_image.list", "denied") >= 2);

    // The clinic unmarks (with the token): gone, audited.
    assert_eq!(
        key_change(&c, "DELETE", s.study, body.clone(), None).await,
        403
    );
    assert_eq!(
        key_change(&c, "DELETE", s.study, body.clone(), Some(&csrf)).await,
        200
    );
    assert!(keys(&c, s.study).await.is_empty());
    assert_eq!(keys(&rad, s.study).await.len(), 1);
    assert!(app.audit_count("key_image.unmark", "success") >= 2);
}
