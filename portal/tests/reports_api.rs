//! The report API: drafts with revisions, confirmation (version, status, fee line, event,
//! audit and outbox job together), every way of editing a confirmed version refused,
//! addenda, the clinic's read and acknowledgement, and everyone else getting 404 + audit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::reading::{self, Network};
use common::{spawn_app, TestApp, TestUser};
use diesel::prelude::*;
use serde_json::{json, Value};
use shared::audit::Ctx;
use shared::auth::tokens;
use shared::db::schema::{fee_lines, read_requests, report_versions};

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

fn denied(app: &TestApp) -> usize {
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

pub struct Setup {
    pub app: TestApp,
    pub n: Network,
    pub request: i64,
    pub doctor: String,
    pub reader: String,
}

/// The network, a CT study filed by the clinic to 県立中央病院 (K-MIX R, 3,300 yen).
pub async fn setup() -> Setup {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let ct = reading::study(&app, n.clinic, "P-001", "1.2.392.1.1", "CT", 10);
    reading::settle(&app, ct);
    let doctor = token(&app, &n.physician);
    let (s, v) = app
        .client()
        .api_send(
            "POST",
            "/api/v1/requests",
            &doctor,
            &json!({
                "study_id": ct, "supporting_facility_id": n.kmix, "urgency": "routine",
                "category": "clinical", "modality": "CT", "body_parts": ["CHEST"],
                "purpose": "diagnosis", "clinical_info": "pneumonia",
                "clinical_note": "発熱と咳嗽が続く", "contact_phone": "087-111-2222",
            })
            .to_string(),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let request = v["id"].as_i64().unwrap();
    let reader = token(&app, &n.kmix_radiologist);
    Setup {
        app,
        n,
        request,
        doctor,
        reader,
    }
}

const FINDINGS: &str = "右肺下葉に浸潤影を認める。";

async fn send(s: &Setup, method: &str, path: &str, tok: &str, body: Value) -> (u16, Value) {
    s.app
        .client()
        .api_send(method, path, tok, &body.to_string())
        .await
}

fn status(app: &TestApp, id: i64) -> String {
    read_requests::table
        .find(id)
        .select(read_requests::status)
        .first(&mut app.conn())
        .unwrap()
}

#[tokio::test]
async fn a_draft_is_saved_with_revisions_and_confirmed_with_everything_at_once() {
    let s = setup().await;
    let base = format!("/api/v1/requests/{}/report", s.request);
    let (st, v) = send(
        &s,
        "PUT",
        &format!("{base}/draft"),
        &s.reader,
        json!({"revision": 0, "findings": FINDINGS}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["draft"]["revision"], 1);
    // A stale revision: 409, nothing changed.
    let (st, v) = send(
        &s,
        "PUT",
        &format!("{base}/draft"),
        &s.reader,
        json!({"revision": 0, "findings": "上書き"}),
    )
    .await;
    assert_eq!(st, 409, "{v}");
    let (_, v) = s.app.client().api_get(&base, Some(&s.reader)).await;
    assert_eq!(v["draft"]["findings"], FINDINGS);
    assert_eq!(v["versions"].as_array().unwrap().len(), 0);
    // Findings or impression are required (422 naming the fields).
    let (st, v) = send(
        &s,
        "POST",
        &format!("{base}/confirm"),
        &s.reader,
        json!({"findings": "", "impression": " "}),
    )
    .await;
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["fields"]["findings"], "report.err_findings_or_impression");
    // Unknown fields are refused.
    let (st, _) = send(
        &s,
        "POST",
        &format!("{base}/confirm"),
        &s.reader,
        json!({"x": 1}),
    )
    .await;
    assert_eq!(st, 400);
    // Confirm the draft at its revision.
    let (st, v) = send(
        &s,
        "POST",
        &format!("{base}/confirm"),
        &s.reader,
        json!({"revision": 1}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["status"], "confirmed");
    assert_eq!(v["versions"][0]["kind"], "initial");
    assert_eq!(v["versions"][0]["findings"], FINDINGS);
    assert_eq!(v["versions"][0]["confirmer"], "rad.kmix 様");
    assert!(v["draft"].is_null());
    assert_eq!(status(&s.app, s.request), "confirmed");
    let total: i64 = fee_lines::table
        .filter(fee_lines::request_id.eq(s.request))
        .select(fee_lines::total)
        .first(&mut s.app.conn())
        .unwrap();
    assert_eq!(total, 3300);
    let jobs =
        shared::outbox::of_kind(&mut s.app.conn(), shared::outbox::kind::REPORT_CONFIRMED).unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(!jobs[0].payload.contains("P-001") && !jobs[0].payload.contains("山田"));
    assert_eq!(s.app.audit_count("report.confirm", "success"), 1);
}

#[tokio::test]
async fn no_route_edits_a_confirmed_version() {
    let s = setup().await;
    let base = format!("/api/v1/requests/{}/report", s.request);
    let (st, _) = send(
        &s,
        "POST",
        &format!("{base}/confirm"),
        &s.reader,
        json!({"findings": FINDINGS, "impression": "肺炎"}),
    )
    .await;
    assert_eq!(st, 201);
    // Draft save, confirm again: 409.
    let (st, _) = send(
        &s,
        "PUT",
        &format!("{base}/draft"),
        &s.reader,
        json!({"revision": 0, "findings": "改ざん"}),
    )
    .await;
    assert_eq!(st, 409);
    let (st, _) = send(
        &s,
        "POST",
        &format!("{base}/confirm"),
        &s.reader,
        json!({"findings": "改ざん"}),
    )
    .await;
    assert_eq!(st, 409);
    // Methods that do not exist do not edit either.
    for m in ["PUT", "PATCH", "DELETE"] {
        let (st, _) = send(&s, m, &base, &s.reader, json!({"findings": "改ざん"})).await;
        assert!(st == 404 || st == 405, "{m}: {st}");
    }
    // The database refuses it too.
    let mut c = s.app.conn();
    assert!(diesel::update(report_versions::table)
        .set(report_versions::findings.eq("改ざん"))
        .execute(&mut c)
        .is_err());
    assert!(diesel::delete(report_versions::table)
        .execute(&mut c)
        .is_err());
    drop(c);
    // An addendum needs a reason; with one it adds version 2 and keeps version 1.
    let (st, v) = send(
        &s,
        "POST",
        &format!("{base}/addenda"),
        &s.reader,
        json!({"findings": "追記"}),
    )
    .await;
    assert_eq!(st, 422);
    assert_eq!(v["fields"]["addendum_reason"], "err.required");
    let (st, v) = send(
        &s,
        "POST",
        &format!("{base}/addenda"),
        &s.reader,
        json!({"reason": "左側の記載漏れ", "impression": "両側肺炎"}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["findings"], FINDINGS);
    assert_eq!(versions[1]["kind"], "addendum");
    assert_eq!(versions[1]["addendum_reason"], "左側の記載漏れ");
    assert_eq!(
        shared::outbox::of_kind(&mut s.app.conn(), shared::outbox::kind::REPORT_ADDENDUM)
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_clinic_reads_only_confirmed_reports_and_acknowledges_them() {
    let s = setup().await;
    let base = format!("/api/v1/requests/{}/report", s.request);
    let before = denied(&s.app);
    let (st, _) = s.app.client().api_get(&base, Some(&s.doctor)).await;
    assert_eq!(st, 404, "not before confirmation");
    assert_eq!(denied(&s.app), before + 1);
    let (st, _) = send(
        &s,
        "POST",
        &format!("{base}/acknowledge"),
        &s.doctor,
        json!({}),
    )
    .await;
    assert_eq!(st, 409);
    send(
        &s,
        "POST",
        &format!("{base}/confirm"),
        &s.reader,
        json!({"impression": "肺炎"}),
    )
    .await;
    let views = s.app.audit_count("report.view", "success");
    let (st, v) = s.app.client().api_get(&base, Some(&s.doctor)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["side"], "requesting");
    assert_eq!(v["versions"][0]["impression"], "肺炎");
    assert!(v["draft"].is_null());
    assert_eq!(s.app.audit_count("report.view", "success"), views + 1);
    let (st, v) = send(
        &s,
        "POST",
        &format!("{base}/acknowledge"),
        &s.doctor,
        json!({}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "acknowledged");
    let (st, _) = send(
        &s,
        "POST",
        &format!("{base}/acknowledge"),
        &s.doctor,
        json!({}),
    )
    .await;
    assert_eq!(st, 409);
    assert_eq!(s.app.audit_count("report.acknowledge", "success"), 1);
}

#[tokio::test]
async fn other_hospitals_clinics_admins_and_guessed_ids_get_404_and_are_audited() {
    let s = setup().await;
    let other_clinic = s.app.facility("別のクリニック", "clinic", true, false);
    let other_doctor = s.app.user(other_clinic, "dr.other", &["physician"]);
    let admin = s.app.user(s.n.kmix, "admin.kmix", &["facility_admin"]);
    let base = format!("/api/v1/requests/{}/report", s.request);
    // Confirm first so that the clinic's own side would see it.
    let (st, _) = send(
        &s,
        "POST",
        &format!("{base}/confirm"),
        &s.reader,
        json!({"findings": FINDINGS}),
    )
    .await;
    assert_eq!(st, 201);
    let outsiders = [
        token(&s.app, &s.n.kagoshima_radiologist),
        token(&s.app, &s.n.stranger_radiologist),
        token(&s.app, &other_doctor),
        token(&s.app, &admin),
    ];
    for t in &outsiders {
        let before = denied(&s.app);
        let (st, _) = s.app.client().api_get(&base, Some(t)).await;
        assert_eq!(st, 404);
        for (m, p, b) in [
            (
                "PUT",
                format!("{base}/draft"),
                json!({"revision": 0, "findings": "x"}),
            ),
            ("POST", format!("{base}/confirm"), json!({"findings": "x"})),
            (
                "POST",
                format!("{base}/addenda"),
                json!({"reason": "x", "findings": "x"}),
            ),
            ("POST", format!("{base}/acknowledge"), json!({})),
        ] {
            let (st, v) = send(&s, m, &p, t, b).await;
            assert_eq!(st, 404, "{m} {p}: {v}");
        }
        assert_eq!(denied(&s.app), before + 5, "every refusal is audited");
    }
    // The coordinator reads but does not write; the clinic does not write.
    let coord = token(&s.app, &s.n.kmix_coordinator);
    let (st, _) = s.app.client().api_get(&base, Some(&coord)).await;
    assert_eq!(st, 200);
    let (st, _) = send(
        &s,
        "POST",
        &format!("{base}/addenda"),
        &coord,
        json!({"reason": "x", "findings": "x"}),
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = send(
        &s,
        "POST",
        &format!("{base}/addenda"),
        &s.doctor,
        json!({"reason": "x", "findings": "x"}),
    )
    .await;
    assert_eq!(st, 404);
    // Guessed ids.
    for id in ["999999", "abc", "-1"] {
        let before = denied(&s.app);
        let (st, _) = s
            .app
            .client()
            .api_get(&format!("/api/v1/requests/{id}/report"), Some(&s.reader))
            .await;
        assert_eq!(st, 404);
        assert_eq!(denied(&s.app), before + 1, "{id}");
    }
    let n: i64 = report_versions::table
        .count()
        .get_result(&mut s.app.conn())
        .unwrap();
    assert_eq!(n, 1, "nothing was written by anyone else");
}

#[tokio::test]
async fn the_openapi_document_lists_the_report_endpoints() {
    let app = spawn_app().await;
    let (st, doc) = app.client().api_get("/api/v1/openapi.json", None).await;
    assert_eq!(st, 200);
    let paths = &doc["paths"];
    assert!(paths["/api/v1/requests/{id}/report"]["get"].is_object());
    assert!(paths["/api/v1/requests/{id}/report/draft"]["put"].is_object());
    assert!(paths["/api/v1/requests/{id}/report/confirm"]["post"].is_object());
    assert!(paths["/api/v1/requests/{id}/report/addenda"]["post"].is_object());
    assert!(paths["/api/v1/requests/{id}/report/acknowledge"]["post"].is_object());
}
