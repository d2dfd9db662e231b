//! Test harness: boots the real application on a random loopback port against a fresh
//! database (SQLite, or PostgreSQL when ENKAKU_TEST_DB=postgres), and an HTTP client that
//! keeps cookies, sends the CSRF token and Origin like a browser, and can sign in with TOTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod dicom;
pub mod pixels;
pub mod reading;

use std::net::TcpListener;

use portal::state::AppState;
use shared::audit::Ctx;
use shared::db::DbConnection;
use shared::domain::{FacilityStatus, UserKind};
use shared::membership::facilities::{self, FacilityForm};
use shared::membership::users::{self, Granter, UserForm};
use shared::settings::Settings;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    /// The DICOM listener's port (AE title `ENKAKU`).
    pub dicom_port: u16,
    pub state: AppState,
    pub db_url: String,
    pub _dir: tempfile::TempDir,
}

/// A user created by the harness, with the TOTP secret it enrolled.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: i64,
    pub username: String,
    pub password: String,
    pub totp_secret: String,
    pub facility_id: i64,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Boots the app with extra `ENKAKU_*` settings.
pub async fn spawn_app_with(extra_env: &[(&str, &str)]) -> TestApp {
    spawn(extra_env, None).await
}

/// A clock a fixed offset ahead of the real one (for rules that depend on the hour).
pub struct ShiftedClock(pub chrono::Duration);

impl portal::state::Clock for ShiftedClock {
    fn now(&self) -> chrono::NaiveDateTime {
        shared::db::now() + self.0
    }
}

/// Boots the app with its clock `offset` ahead of the real one; sign in with
/// [`Client::sign_in_at`] and the same offset.
pub async fn spawn_app_shifted(offset: chrono::Duration) -> TestApp {
    spawn(&[], Some(std::sync::Arc::new(ShiftedClock(offset)))).await
}

async fn spawn(
    extra_env: &[(&str, &str)],
    clock: Option<std::sync::Arc<dyn portal::state::Clock>>,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db_url = shared::db::testing::fresh_database_url(dir.path()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dicom = TcpListener::bind("127.0.0.1:0").unwrap();
    let dicom_port = dicom.local_addr().unwrap().port();
    let mut env: Vec<(String, String)> = vec![
        ("ENKAKU_DATA_DIR".into(), dir.path().display().to_string()),
        ("ENKAKU_DATABASE__URL".into(), db_url.clone()),
        ("ENKAKU_DATABASE__POOL_SIZE".into(), "4".into()),
        ("ENKAKU_HTTP__BIND".into(), format!("127.0.0.1:{port}")),
        (
            "ENKAKU_HTTP__PUBLIC_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("ENKAKU_HTTP__WORKERS".into(), "1".into()),
        (
            "ENKAKU_DICOM__BIND".into(),
            format!("127.0.0.1:{dicom_port}"),
        ),
    ];
    for (k, v) in extra_env {
        env.push(((*k).into(), (*v).into()));
    }
    let settings = Settings::load_from(None, &env).unwrap();
    let pool =
        shared::db::pool(settings.database.url.expose(), settings.database.pool_size).unwrap();
    shared::db::migrate(&mut pool.get().unwrap()).unwrap();
    let mut state = AppState::new(settings, pool).unwrap();
    if let Some(clock) = clock {
        state.clock = clock;
    }
    let app = portal::build_with(state.clone(), listener, dicom).unwrap();
    tokio::spawn(app.run());
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        dicom_port,
        state,
        db_url,
        _dir: dir,
    }
}

impl TestApp {
    pub fn conn(&self) -> shared::db::PooledDb {
        self.state.pool.get().unwrap()
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// Creates an active facility directly (fast set-up).
    pub fn facility(&self, name: &str, kind: &str, requesting: bool, supporting: bool) -> i64 {
        let mut c = self.conn();
        facilities::create(
            &mut c,
            &Ctx::system("test"),
            &FacilityForm {
                name: name.into(),
                kind: kind.into(),
                is_requesting: requesting,
                is_supporting: supporting,
                postal_address: "香川県高松市".into(),
                phone: "087-000-0000".into(),
                notification_emails: if matches!(kind, "clinic" | "hospital") {
                    "info@example.jp".into()
                } else {
                    String::new()
                },
            },
            FacilityStatus::Active,
        )
        .unwrap()
        .id
    }

    /// Creates a person with roles, enrolled in TOTP, password already changed.
    pub fn user(&self, facility_id: i64, username: &str, roles: &[&str]) -> TestUser {
        let mut c = self.conn();
        let u = users::create(
            &mut c,
            &Ctx::system("test"),
            facility_id,
            &UserForm {
                username: username.into(),
                display_name: format!("{username} 様"),
                email: format!("{username}@example.jp"),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                password: PASSWORD.into(),
            },
            UserKind::Person,
            Granter::Association,
        )
        .unwrap();
        users::clear_must_change_password(&mut c, u.user.id).unwrap();
        let secret = enrol(&mut c, u.user.id);
        TestUser {
            id: u.user.id,
            username: username.into(),
            password: PASSWORD.into(),
            totp_secret: secret,
            facility_id,
        }
    }

    /// The operator facility and an association administrator.
    pub fn association_admin(&self) -> TestUser {
        let f = self.facility("医師会 事務局", "operator", false, false);
        self.user(f, "assoc.admin", &["association_admin"])
    }

    /// Number of audit events with this action and outcome.
    pub fn audit_count(&self, action: &str, outcome: &str) -> usize {
        let mut c = self.conn();
        shared::audit::search(
            &mut c,
            &shared::audit::Filter {
                action: Some(action.into()),
                outcome: Some(outcome.into()),
                ..Default::default()
            },
            0,
            100_000,
        )
        .unwrap()
        .len()
    }
}

/// Enrols TOTP through the real enrolment functions and returns the secret.
pub fn enrol(c: &mut DbConnection, user_id: i64) -> String {
    let secret = shared::auth::signin::begin_enrolment(c, user_id).unwrap();
    let now = now_unix();
    let code = shared::auth::totp::current_code(&secret, now).unwrap();
    shared::auth::signin::finish_enrolment(c, user_id, &code, "test", now)
        .unwrap()
        .unwrap();
    secret
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn totp_now(secret: &str) -> String {
    shared::auth::totp::current_code(secret, now_unix()).unwrap()
}

/// A browser-like client: cookies, no automatic redirects, Origin on every POST, CSRF token
/// taken from the last page's `<meta name="csrf-token">`.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.into(),
            csrf: String::new(),
        }
    }

    async fn page(&mut self, r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = r.text().await.unwrap();
        if let Some(i) = body.find("name=\"csrf-token\" content=\"") {
            let rest = &body[i + 27..];
            let tok = &rest[..rest.find('"').unwrap()];
            if !tok.is_empty() {
                self.csrf = tok.to_owned();
            }
        }
        Page {
            status,
            location,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        self.page(r).await
    }

    /// POSTs a form with the current CSRF token and the right Origin.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut f: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        f.push(("csrf_token", &csrf));
        let body = serde_html_form_encode(&f);
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Origin", &self.base)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.page(r).await
    }

    /// Full sign-in: password, then the TOTP code. Panics if it does not end signed in.
    pub async fn sign_in(&mut self, u: &TestUser) {
        self.sign_in_at(u, chrono::Duration::zero()).await;
    }

    /// [`Client::sign_in`] against an app whose clock runs `offset` ahead.
    pub async fn sign_in_at(&mut self, u: &TestUser, offset: chrono::Duration) {
        self.get("/login").await;
        let p = self
            .post(
                "/login",
                &[("username", &u.username), ("password", &u.password)],
            )
            .await;
        assert_eq!(p.status, 303, "password step: {}", p.body);
        assert_eq!(p.location.as_deref(), Some("/login/second-factor"));
        self.get("/login/second-factor").await;
        let unix = now_unix().saturating_add_signed(offset.num_seconds());
        let code = shared::auth::totp::current_code(&u.totp_secret, unix).unwrap();
        let p = self.post("/login/second-factor", &[("code", &code)]).await;
        assert_eq!(p.status, 303, "second factor: {}", p.body);
        assert_eq!(p.location.as_deref(), Some("/"));
        let home = self.get("/").await;
        assert_eq!(home.status, 200);
    }

    /// GET with a bearer token; returns status and JSON.
    pub async fn api_get(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        let mut rb = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let r = rb.send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// A JSON request (POST/PUT/DELETE…) with a bearer token.
    pub async fn api_send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
    ) -> (u16, serde_json::Value) {
        let r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(serde_json::Value::Null))
    }
}

fn serde_html_form_encode(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// A loopback port that was free a moment ago (for a server started in another process).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
