//! Sign-in: password + TOTP, sessions, throttling, CSRF, sign-out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[tokio::test]
async fn a_person_signs_in_with_password_and_totp() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    c.sign_in(&admin).await;
    let home = c.get("/").await;
    assert!(
        home.body.contains("会員施設"),
        "association admin sees membership nav"
    );
    assert_eq!(
        app.audit_count("auth.sign_in", "success"),
        2,
        "enrolment sign-in + this one"
    );
}
