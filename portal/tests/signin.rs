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

use diesel::RunQueryDsl;

fn set_cookie_headers(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Password step by hand, returning the raw response (to look at Set-Cookie).
async fn password_post(c: &mut Client, username: &str, password: &str) -> reqwest::Response {
    c.get("/login").await;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("username", username),
            ("password", password),
            ("csrf_token", &c.csrf),
        ])
        .finish();
    c.http
        .post(format!("{}/login", c.base))
        .header("Origin", &c.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_wrong_password_says_only_failed_and_is_audited() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    c.get("/login").await;
    let p = c
        .post(
            "/login",
            &[
                ("username", &admin.username),
                ("password", "wrong password!!"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("ログインできませんでした"));
    let p = c
        .post(
            "/login",
            &[
                ("username", "nobody.here"),
                ("password", "wrong password!!"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("ログインできませんでした"));
    assert_eq!(app.audit_count("auth.sign_in", "failure"), 2);
}

#[tokio::test]
async fn repeated_failures_throttle_the_account() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    c.get("/login").await;
    for _ in 0..5 {
        let p = c
            .post(
                "/login",
                &[
                    ("username", &admin.username),
                    ("password", "not the password"),
                ],
            )
            .await;
        assert_eq!(p.status, 422);
    }
    // Even the right password is refused now.
    let p = c
        .post(
            "/login",
            &[("username", &admin.username), ("password", &admin.password)],
        )
        .await;
    assert_eq!(p.status, 422);
    let mut conn = app.conn();
    let throttled = shared::audit::search(
        &mut conn,
        &shared::audit::Filter {
            action: Some("auth.sign_in".into()),
            ..Default::default()
        },
        0,
        100,
    )
    .unwrap()
    .into_iter()
    .filter(|e| e.detail.as_deref().is_some_and(|d| d.contains("throttled")))
    .count();
    assert_eq!(throttled, 1);
}

#[tokio::test]
async fn the_session_id_changes_at_each_step_and_cookies_are_locked_down() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    let r = password_post(&mut c, &admin.username, &admin.password).await;
    assert_eq!(r.status(), 303);
    let first = set_cookie_headers(&r)
        .into_iter()
        .find(|h| h.starts_with("enkaku_session="))
        .unwrap();
    assert!(
        first.contains("HttpOnly") && first.contains("SameSite=Lax") && first.contains("Path=/"),
        "{first}"
    );
    c.get("/login/second-factor").await;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("code", totp_now(&admin.totp_secret).as_str()),
            ("csrf_token", &c.csrf),
        ])
        .finish();
    let r = c
        .http
        .post(format!("{}/login/second-factor", c.base))
        .header("Origin", &c.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let second = set_cookie_headers(&r)
        .into_iter()
        .find(|h| h.starts_with("enkaku_session="))
        .unwrap();
    assert_ne!(
        first.split(';').next(),
        second.split(';').next(),
        "id rotated at sign-in"
    );
    // The pre-second-factor id no longer works.
    let old = first.split(';').next().unwrap().to_owned();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/login/second-factor", c.base))
        .header("Cookie", old)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn cookies_are_secure_and_host_prefixed_behind_https() {
    let app = spawn_app_with(&[("ENKAKU_HTTP__PUBLIC_URL", "https://enkaku.example.jp")]).await;
    let r = reqwest::get(format!("{}/login", app.base)).await.unwrap();
    let c = set_cookie_headers(&r).join("\n");
    assert!(
        c.contains("__Host-enkaku_csrf=") && c.contains("Secure"),
        "{c}"
    );
}

#[tokio::test]
async fn sign_out_destroys_the_session_on_the_server() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    c.sign_in(&admin).await;
    let n_before: i64 = {
        use diesel::prelude::*;
        shared::db::schema::sessions::table
            .count()
            .get_result(&mut *app.conn())
            .unwrap()
    };
    assert_eq!(n_before, 1);
    let p = c.post("/logout", &[]).await;
    assert_eq!(p.status, 303);
    let n_after: i64 = {
        use diesel::prelude::*;
        shared::db::schema::sessions::table
            .count()
            .get_result(&mut *app.conn())
            .unwrap()
    };
    assert_eq!(n_after, 0);
    assert_eq!(c.get("/account").await.location.as_deref(), Some("/login"));
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_sessions() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    c.sign_in(&admin).await;
    diesel::sql_query("UPDATE sessions SET last_seen_at = last_seen_at - INTERVAL '31 minutes'")
        .execute(&mut *app.conn())
        .or_else(|_| {
            diesel::sql_query(
                "UPDATE sessions SET last_seen_at = datetime(last_seen_at, '-31 minutes')",
            )
            .execute(&mut *app.conn())
        })
        .unwrap();
    assert_eq!(
        c.get("/account").await.location.as_deref(),
        Some("/login"),
        "idle 31 min"
    );
    c.sign_in(&admin).await;
    diesel::sql_query("UPDATE sessions SET expires_at = created_at")
        .execute(&mut *app.conn())
        .unwrap();
    assert_eq!(
        c.get("/account").await.location.as_deref(),
        Some("/login"),
        "past absolute lifetime"
    );
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let codes = {
        let mut conn = app.conn();
        shared::auth::recovery::regenerate(&mut conn, admin.id).unwrap()
    };
    for (attempt, expect) in [(0, 303u16), (1, 422)] {
        let mut c = app.client();
        c.get("/login").await;
        c.post(
            "/login",
            &[("username", &admin.username), ("password", &admin.password)],
        )
        .await;
        c.get("/login/second-factor").await;
        let p = c.post("/login/second-factor", &[("code", &codes[0])]).await;
        assert_eq!(p.status, expect, "attempt {attempt}");
    }
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_elsewhere_are_refused() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    c.get("/login").await;
    let r = c
        .http
        .post(format!("{}/login", c.base))
        .header("Origin", &c.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("username={}&password=x", admin.username))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body = format!(
        "username={}&password={}&csrf_token={}",
        admin.username, "x", c.csrf
    );
    let r = c
        .http
        .post(format!("{}/login", c.base))
        .header("Origin", "http://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.audit_count("auth.sign_in", "failure"),
        0,
        "refused before any attempt"
    );
}

#[tokio::test]
async fn a_new_person_must_enrol_and_change_the_password() {
    let app = spawn_app().await;
    let clinic = app.facility("さぬき内科", "clinic", true, false);
    {
        let mut conn = app.conn();
        shared::membership::users::create(
            &mut conn,
            &shared::audit::Ctx::system("t"),
            clinic,
            &shared::membership::users::UserForm {
                username: "dr.new".into(),
                display_name: "新人".into(),
                email: "new@example.jp".into(),
                roles: vec!["physician".into()],
                password: PASSWORD.into(),
            },
            shared::domain::UserKind::Person,
            shared::membership::users::Granter::Association,
        )
        .unwrap();
    }
    let mut c = app.client();
    c.get("/login").await;
    let p = c
        .post("/login", &[("username", "dr.new"), ("password", PASSWORD)])
        .await;
    assert_eq!(p.location.as_deref(), Some("/login/enrol"));
    assert_eq!(
        c.get("/").await.location.as_deref(),
        Some("/login"),
        "nothing before enrolment"
    );
    let page = c.get("/login/enrol").await;
    let i = page.body.find("data-testid=\"totp-secret\">").unwrap();
    let rest = &page.body[i + 26..];
    let secret = &rest[..rest.find('<').unwrap()];
    let p = c.post("/login/enrol", &[("code", "000000")]).await;
    assert_eq!(p.status, 422, "wrong code");
    let p = c.post("/login/enrol", &[("code", &totp_now(secret))]).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("data-testid=\"recovery-codes\""));
    assert_eq!(
        c.get("/").await.location.as_deref(),
        Some("/account/password")
    );
    assert_eq!(c.get("/account/password").await.status, 200);
    let p = c
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("12 文字以上"));
    let p = c
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a much better passphrase"),
                ("confirm_password", "a much better passphrase"),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(c.get("/").await.status, 200);
}

#[tokio::test]
async fn the_language_switches_to_english() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    c.sign_in(&admin).await;
    let p = c
        .post("/lang", &[("lang", "en"), ("back", "/account")])
        .await;
    assert_eq!(p.location.as_deref(), Some("/account"));
    let p = c.get("/account").await;
    assert!(p.body.contains("<html lang=\"en\">") && p.body.contains("Personal API tokens"));
    let p = c
        .post("/lang", &[("lang", "en"), ("back", "//evil.example/")])
        .await;
    assert_eq!(p.location.as_deref(), Some("/"), "no open redirect");
}

#[tokio::test]
async fn health_and_openapi_answer() {
    let app = spawn_app().await;
    let r = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/me"].is_object());
    let (s, body) = app
        .client()
        .api_get("/api/v1/me", Some("enk_not-a-real-token"))
        .await;
    assert_eq!(s, 401);
    assert_eq!(body["error"], "unauthorized");
}
