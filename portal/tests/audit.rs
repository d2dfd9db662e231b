//! The audit trail screen, its export, and `enkaku admin verify-audit` on a tampered trail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use diesel::RunQueryDsl;

#[tokio::test]
async fn auditors_read_the_trail_and_reading_is_audited() {
    let app = spawn_app().await;
    let pref = app.facility("香川県", "prefecture", false, false);
    let auditor = app.user(pref, "kensa", &["auditor"]);
    let mut c = app.client();
    c.sign_in(&auditor).await;
    let p = c.get("/audit?action=auth.sign_in").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("data-testid=\"audit-table\""));
    assert!(p.body.contains("auth.sign_in"));
    assert_eq!(app.audit_count("audit.view", "success"), 1);
    let r = c
        .http
        .get(format!("{}/audit/export.csv?outcome=success", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}seq,occurred_at_utc"));
    assert!(csv.lines().count() > 2);
    assert_eq!(app.audit_count("audit.export", "success"), 1);
}

#[tokio::test]
async fn others_get_404_and_a_denial_event() {
    let app = spawn_app().await;
    let clinic = app.facility("さぬき内科", "clinic", true, false);
    let dr = app.user(clinic, "dr.sanuki", &["physician", "facility_admin"]);
    let mut c = app.client();
    c.sign_in(&dr).await;
    assert_eq!(c.get("/audit").await.status, 404);
    assert_eq!(c.get("/audit/export.csv").await.status, 404);
    assert_eq!(app.audit_count("audit.view", "denied"), 1);
    assert_eq!(app.audit_count("audit.export", "denied"), 1);
    let home = c.get("/").await;
    assert!(
        !home.body.contains("href=\"/audit\""),
        "no audit link for a clinic"
    );
}

fn verify(app: &TestApp) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_enkaku"))
        .args(["admin", "verify-audit"])
        .env("ENKAKU_DATABASE__URL", &app.db_url)
        .env("ENKAKU_DATA_DIR", app._dir.path())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn verify_audit_reports_a_row_changed_by_hand() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    c.sign_in(&admin).await;
    let (code, out) = verify(&app);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact"));
    {
        let mut conn = app.conn();
        shared::db::backend::disable_audit_protection_for_tests(&mut conn).unwrap();
        diesel::sql_query("UPDATE audit_events SET username = 'someone-else' WHERE seq = 2")
            .execute(&mut *conn)
            .unwrap();
    }
    let (code, out) = verify(&app);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("seq 2: hash does not match"), "{out}");
}

/// Waits (briefly) for an audit event written just after a response.
async fn eventually(app: &TestApp, action: &str, outcome: &str, at_least: usize) -> usize {
    for _ in 0..50 {
        let n = app.audit_count(action, outcome);
        if n >= at_least {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.audit_count(action, outcome)
}

#[tokio::test]
async fn malformed_ids_in_paths_are_404_and_audited_with_the_caller() {
    let app = spawn_app().await;
    let clinic = app.facility("さぬき内科", "clinic", true, false);
    let dr = app.user(clinic, "dr.sanuki", &["physician"]);
    let mut c = app.client();
    c.sign_in(&dr).await;
    for (i, path) in [
        "/studies/abc",
        "/requests/1%20OR%201=1",
        "/studies/12x/request",
    ]
    .iter()
    .enumerate()
    {
        let p = c.get(path).await;
        assert_eq!(p.status, 404, "{path}");
        let n = eventually(&app, "request.path_invalid", "denied", i + 1).await;
        assert_eq!(n, i + 1, "{path}");
    }
    assert_eq!(
        eventually(&app, "request.path_invalid", "denied", 3).await,
        3
    );
    let events = shared::audit::search(
        &mut app.conn(),
        &shared::audit::Filter {
            action: Some("request.path_invalid".into()),
            ..Default::default()
        },
        0,
        10,
    )
    .unwrap();
    assert!(
        events.iter().all(|e| e.user_id == Some(dr.id)),
        "{events:?}"
    );

    // The API answers JSON and records the token's owner.
    let token = shared::auth::tokens::issue(
        &mut app.conn(),
        &shared::audit::Ctx::system("test"),
        dr.id,
        "t",
        "30",
        365,
    )
    .unwrap()
    .0;
    let (status, body) = c
        .api_get("/api/v1/studies/not-a-number", Some(&token))
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    assert!(app.audit_count("study.view", "denied") >= 1);
    let (status, body) = c
        .api_get("/api/v1/requests/not-a-number", Some(&token))
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    assert!(app.audit_count("request.view", "denied") >= 1);
}
