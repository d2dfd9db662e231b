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
