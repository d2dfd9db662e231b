//! The facility administrator's screens: people, DICOM nodes, service accounts and their
//! tokens — and, above all, that one facility's administrator cannot see or touch another's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use shared::audit::Ctx;
use shared::auth::tokens;
use shared::domain::UserKind;
use shared::membership::dicom_nodes::{self, DicomNodeForm};
use shared::membership::users::{self, Granter, UserForm};

struct World {
    app: TestApp,
    a: i64,
    b: i64,
    a_admin: TestUser,
    a_phys: TestUser,
    b_phys: TestUser,
    b_node: i64,
    b_svc: i64,
    b_token_id: i64,
    b_token: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let a = app.facility("Aクリニック", "clinic", true, false);
    let b = app.facility("B総合病院", "hospital", true, true);
    let a_admin = app.user(a, "admin.a", &["facility_admin"]);
    let a_phys = app.user(a, "dr.a", &["physician"]);
    let b_phys = app.user(b, "dr.b", &["physician", "radiologist"]);
    let mut c = app.conn();
    let b_node = dicom_nodes::create(
        &mut c,
        &Ctx::system("test"),
        b,
        &DicomNodeForm {
            ae_title: "B_CT".into(),
            allowed_addresses: "10.2.0.0/24".into(),
            description: "B CT".into(),
            is_enabled: true,
            ..Default::default()
        },
    )
    .unwrap()
    .id;
    let b_svc = users::create(
        &mut c,
        &Ctx::system("test"),
        b,
        &UserForm {
            username: "ris.b".into(),
            display_name: "B RIS".into(),
            roles: vec!["radiologist".into()],
            ..Default::default()
        },
        UserKind::Service,
        Granter::FacilityAdmin,
    )
    .unwrap()
    .user
    .id;
    let (b_token, t) = tokens::issue(&mut c, &Ctx::system("test"), b_svc, "b", "30", 365).unwrap();
    drop(c);
    World {
        app,
        a,
        b,
        a_admin,
        a_phys,
        b_phys,
        b_node,
        b_svc,
        b_token_id: t.id,
        b_token,
    }
}

fn denied(app: &TestApp) -> usize {
    let mut c = app.conn();
    shared::audit::search(
        &mut c,
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

fn new_token(body: &str) -> String {
    let i = body
        .find("data-testid=\"new-token\">")
        .expect("new token shown")
        + 24;
    body[i..i + body[i..].find('<').unwrap()].to_owned()
}

fn user_id(app: &TestApp, username: &str) -> i64 {
    let mut c = app.conn();
    users::find_by_username(&mut c, username)
        .unwrap()
        .unwrap()
        .user
        .id
}

fn user_count(app: &TestApp) -> usize {
    users::list(&mut app.conn(), None).unwrap().len()
}

fn node_count(app: &TestApp) -> usize {
    let mut c = app.conn();
    let mut n = 0;
    for f in shared::membership::facilities::list(&mut c).unwrap() {
        n += dicom_nodes::list(&mut c, f.id).unwrap().len();
    }
    n
}

#[tokio::test]
async fn facility_admin_manages_people_nodes_and_service_accounts() {
    let w = world().await;
    let app = &w.app;
    let mut c = app.client();
    c.sign_in(&w.a_admin).await;

    let p = c.get("/facility/users").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("admin.a") && p.body.contains("dr.a"));
    let p = c.get("/facility/users/new").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("value=\"physician\""));
    assert!(!p.body.contains("value=\"radiologist\""), "A only requests");
    assert!(!p.body.contains("value=\"association_admin\""));

    // A person.
    let p = c
        .post(
            "/facility/users",
            &[
                ("username", "Nurse.Sato"),
                ("display_name", "佐藤 花子"),
                ("email", "sato@example.jp"),
                ("roles", "radiographer"),
                ("roles", "physician"),
                ("password", "initial password 123"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/facility/users?notice=flash.created")
    );
    let id = user_id(app, "nurse.sato");
    let u = users::get(&mut app.conn(), id).unwrap();
    assert_eq!(u.user.facility_id, w.a);
    assert!(u.user.must_change_password);
    assert_eq!(u.roles_str(), "physician,radiographer");
    assert!(c.get("/facility/users").await.body.contains("佐藤 花子"));

    let p = c.get(&format!("/facility/users/{id}")).await;
    assert_eq!(p.status, 200);
    let p = c
        .post(
            &format!("/facility/users/{id}"),
            &[
                ("display_name", "佐藤 花子（技師）"),
                ("email", "sato2@example.jp"),
                ("roles", "radiographer"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let u = users::get(&mut app.conn(), id).unwrap();
    assert_eq!(u.user.display_name, "佐藤 花子（技師）");
    assert_eq!(u.roles_str(), "radiographer");

    let p = c
        .post(
            &format!("/facility/users/{id}/active"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert!(!users::get(&mut app.conn(), id).unwrap().user.is_active);
    let p = c
        .post(
            &format!("/facility/users/{id}/active"),
            &[("active", "true")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert!(users::get(&mut app.conn(), id).unwrap().user.is_active);
    let before = users::get(&mut app.conn(), id).unwrap().user.password_hash;
    let p = c
        .post(
            &format!("/facility/users/{id}/reset"),
            &[
                ("password", "another temp password"),
                ("reset_second_factor", "true"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_ne!(
        users::get(&mut app.conn(), id).unwrap().user.password_hash,
        before
    );
    assert_eq!(app.audit_count("user.reset_credentials", "success"), 1);

    // A DICOM node.
    let p = c.get("/facility/dicom-nodes/new").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("AE タイトル"));
    let p = c
        .post(
            "/facility/dicom-nodes",
            &[
                ("ae_title", "A_CT"),
                ("allowed_addresses", "127.0.0.1\n10.1.0.0/24"),
                ("host", "10.1.0.5"),
                ("port", "104"),
                ("description", "CT 室"),
                ("is_enabled", "true"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let nodes = dicom_nodes::list(&mut app.conn(), w.a).unwrap();
    assert_eq!(nodes.len(), 1);
    let nid = nodes[0].id;
    assert_eq!(nodes[0].port, Some(104));
    assert!(
        dicom_nodes::authorise_peer(&mut app.conn(), "A_CT", "10.1.0.9".parse().unwrap())
            .unwrap()
            .is_some()
    );
    assert!(c.get("/facility/dicom-nodes").await.body.contains("A_CT"));
    assert_eq!(
        c.get(&format!("/facility/dicom-nodes/{nid}")).await.status,
        200
    );
    let p = c
        .post(
            &format!("/facility/dicom-nodes/{nid}"),
            &[
                ("ae_title", "A_CT"),
                ("allowed_addresses", "127.0.0.1"),
                ("description", "CT 室"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let n = dicom_nodes::get_of_facility(&mut app.conn(), w.a, nid).unwrap();
    assert!(!n.is_enabled, "unchecked checkbox disables");
    assert_eq!(n.host, None);
    let p = c
        .post(&format!("/facility/dicom-nodes/{nid}/delete"), &[])
        .await;
    assert_eq!(p.status, 303);
    assert!(dicom_nodes::list(&mut app.conn(), w.a).unwrap().is_empty());

    // A service account and a token.
    let p = c
        .post(
            "/facility/service-accounts",
            &[
                ("username", "ris.a"),
                ("display_name", "A RIS"),
                ("roles", "physician"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let svc = user_id(app, "ris.a");
    let su = users::get(&mut app.conn(), svc).unwrap();
    assert_eq!(su.user.kind, "service");
    assert_eq!(su.user.password_hash, None);
    let p = c.get("/facility/service-accounts").await;
    assert!(p.body.contains("ris.a") && !p.body.contains("ris.b"));
    let p = c
        .post(
            &format!("/facility/service-accounts/{svc}/tokens"),
            &[("name", "RIS 連携"), ("days", "30")],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let secret = new_token(&p.body);
    assert!(secret.starts_with("enk_"));
    let (s, me) = c.api_get("/api/v1/me", Some(&secret)).await;
    assert_eq!(s, 200);
    assert_eq!(me["username"], "ris.a");
    assert_eq!(me["kind"], "service");
    assert_eq!(me["via_token"], true);
    // The secret is never shown again.
    assert!(!c
        .get("/facility/service-accounts")
        .await
        .body
        .contains(&secret));

    let tid = tokens::list_for_user(&mut app.conn(), svc).unwrap()[0].id;
    let p = c.post(&format!("/facility/tokens/{tid}/revoke"), &[]).await;
    assert_eq!(p.status, 303);
    assert_eq!(c.api_get("/api/v1/me", Some(&secret)).await.0, 401);

    // An expired token is refused.
    let (expired, t) = tokens::issue(
        &mut app.conn(),
        &Ctx::system("test"),
        svc,
        "short",
        "1",
        365,
    )
    .unwrap();
    assert_eq!(c.api_get("/api/v1/me", Some(&expired)).await.0, 200);
    {
        use diesel::prelude::*;
        use shared::db::schema::api_tokens;
        diesel::update(api_tokens::table.find(t.id))
            .set(api_tokens::expires_at.eq(shared::db::now() - chrono::Duration::minutes(1)))
            .execute(&mut app.conn())
            .unwrap();
    }
    assert_eq!(c.api_get("/api/v1/me", Some(&expired)).await.0, 401);
}

#[tokio::test]
async fn another_facilitys_objects_are_404_denied_and_untouched() {
    let w = world().await;
    let app = &w.app;
    let mut c = app.client();
    c.sign_in(&w.a_admin).await;
    let before_user = users::get(&mut app.conn(), w.b_phys.id).unwrap();
    let before_node = dicom_nodes::get_of_facility(&mut app.conn(), w.b, w.b_node).unwrap();
    let (bp, bn, bs, bt) = (w.b_phys.id, w.b_node, w.b_svc, w.b_token_id);

    let gets = [
        format!("/facility/users/{bp}"),
        format!("/facility/users/{bs}"),
        format!("/facility/dicom-nodes/{bn}"),
        "/facility/users/999999".to_owned(),
        "/facility/dicom-nodes/999999".to_owned(),
    ];
    for path in &gets {
        let d = denied(app);
        let p = c.get(path).await;
        assert_eq!(p.status, 404, "GET {path}");
        assert!(!p.body.contains("dr.b") && !p.body.contains("B_CT"));
        assert_eq!(denied(app), d + 1, "GET {path} audited as denied");
    }
    let user_form = [
        ("display_name", "乗っ取り"),
        ("email", "x@example.jp"),
        ("roles", "physician"),
    ];
    let node_form = [
        ("ae_title", "B_CT"),
        ("allowed_addresses", "0.0.0.0/0"),
        ("is_enabled", "true"),
    ];
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/facility/users/{bp}"), user_form.to_vec()),
        (format!("/facility/users/{bs}"), user_form.to_vec()),
        (
            format!("/facility/users/{bp}/active"),
            vec![("active", "false")],
        ),
        (
            format!("/facility/users/{bs}/active"),
            vec![("active", "false")],
        ),
        (
            format!("/facility/users/{bp}/reset"),
            vec![
                ("password", "stolen password 1"),
                ("reset_second_factor", "true"),
            ],
        ),
        // Even an invalid password must not reveal that the user exists.
        (
            format!("/facility/users/{bp}/reset"),
            vec![("password", "x")],
        ),
        (format!("/facility/dicom-nodes/{bn}"), node_form.to_vec()),
        (format!("/facility/dicom-nodes/{bn}/delete"), vec![]),
        (
            format!("/facility/service-accounts/{bs}/tokens"),
            vec![("name", "mine"), ("days", "30")],
        ),
        // A person of B is not a service account of A either.
        (
            format!("/facility/service-accounts/{bp}/tokens"),
            vec![("name", "mine"), ("days", "30")],
        ),
        (format!("/facility/tokens/{bt}/revoke"), vec![]),
        ("/facility/tokens/999999/revoke".to_owned(), vec![]),
        (
            "/facility/service-accounts/999999/tokens".to_owned(),
            vec![("name", "x"), ("days", "1")],
        ),
    ];
    for (path, fields) in &posts {
        let d = denied(app);
        let p = c.post(path, fields).await;
        assert_eq!(p.status, 404, "POST {path}: {}", p.body);
        assert_eq!(denied(app), d + 1, "POST {path} audited as denied");
    }
    // A's own person is not a service account: no token for them through that route.
    let p = c
        .post(
            &format!("/facility/service-accounts/{}/tokens", w.a_phys.id),
            &[("name", "x"), ("days", "1")],
        )
        .await;
    assert_eq!(p.status, 404);

    // Nothing of B changed.
    let after_user = users::get(&mut app.conn(), bp).unwrap();
    assert_eq!(after_user.user.display_name, before_user.user.display_name);
    assert_eq!(
        after_user.user.password_hash,
        before_user.user.password_hash
    );
    assert_eq!(after_user.user.totp_enabled, before_user.user.totp_enabled);
    assert!(after_user.user.is_active);
    assert_eq!(after_user.roles, before_user.roles);
    let after_node = dicom_nodes::get_of_facility(&mut app.conn(), w.b, bn).unwrap();
    assert_eq!(after_node.allowed_addresses, before_node.allowed_addresses);
    assert_eq!(after_node.updated_at, before_node.updated_at);
    assert!(users::get(&mut app.conn(), bs).unwrap().user.is_active);
    assert_eq!(tokens::list_for_user(&mut app.conn(), bs).unwrap().len(), 1);
    assert_eq!(c.api_get("/api/v1/me", Some(&w.b_token)).await.0, 200);
    assert_eq!(app.audit_count("user.update", "success"), 0);
    assert_eq!(
        app.audit_count("token.issue", "success"),
        1,
        "only the set-up"
    );

    // B never shows in A's lists.
    assert!(!c.get("/facility/users").await.body.contains("dr.b"));
    assert!(!c.get("/facility/dicom-nodes").await.body.contains("B_CT"));
    assert!(!c
        .get("/facility/service-accounts")
        .await
        .body
        .contains("ris.b"));

    // A physician is not a facility administrator.
    let mut phys = app.client();
    phys.sign_in(&w.a_phys).await;
    for path in [
        "/facility/users",
        "/facility/users/new",
        "/facility/dicom-nodes",
        "/facility/dicom-nodes/new",
        "/facility/service-accounts",
    ] {
        let d = denied(app);
        assert_eq!(phys.get(path).await.status, 404, "{path}");
        assert_eq!(denied(app), d + 1);
    }
    let d = denied(app);
    let p = phys
        .post(
            "/facility/users",
            &[
                ("username", "sneaky"),
                ("display_name", "x"),
                ("email", "x@example.jp"),
                ("roles", "facility_admin"),
                ("password", "long enough password"),
            ],
        )
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(denied(app), d + 1);
    assert!(users::find_by_username(&mut app.conn(), "sneaky")
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn an_operator_facility_admin_cannot_touch_the_association_admin() {
    let app = spawn_app().await;
    let assoc = app.association_admin();
    let fa = app.user(assoc.facility_id, "office.fa", &["facility_admin"]);
    let mut c = app.client();
    c.sign_in(&fa).await;
    let d = denied(&app);
    assert_eq!(
        c.get(&format!("/facility/users/{}", assoc.id)).await.status,
        404
    );
    let p = c
        .post(
            &format!("/facility/users/{}/active", assoc.id),
            &[("active", "false")],
        )
        .await;
    assert_eq!(p.status, 404);
    let p = c
        .post(
            &format!("/facility/users/{}/reset", assoc.id),
            &[("password", "take over password")],
        )
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(denied(&app), d + 3);
    assert!(
        users::get(&mut app.conn(), assoc.id)
            .unwrap()
            .user
            .is_active
    );
}

#[tokio::test]
async fn invalid_input_is_refused_next_to_the_field_and_changes_nothing() {
    let w = world().await;
    let app = &w.app;
    let mut c = app.client();
    c.sign_in(&w.a_admin).await;
    let users_before = user_count(app);
    let long = "あ".repeat(101);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "入力してください"),
        (
            vec![
                ("username", "ok.name"),
                ("display_name", &long),
                ("email", "a@example.jp"),
                ("roles", "physician"),
                ("password", "good password 1"),
            ],
            "長すぎます",
        ),
        (
            vec![
                ("username", "DR.B"),
                ("display_name", "重複"),
                ("email", "a@example.jp"),
                ("roles", "physician"),
                ("password", "good password 1"),
            ],
            "すでに使われています",
        ),
        (
            vec![
                ("username", "boss"),
                ("display_name", "ボス"),
                ("email", "a@example.jp"),
                ("roles", "association_admin"),
                ("password", "good password 1"),
            ],
            "この施設では付与できない役割です",
        ),
        (
            vec![
                ("username", "boss"),
                ("display_name", "ボス"),
                ("email", "a@example.jp"),
                ("roles", "auditor"),
                ("password", "good password 1"),
            ],
            "この施設では付与できない役割です",
        ),
        (
            vec![
                ("username", "reader"),
                ("display_name", "読影医"),
                ("email", "a@example.jp"),
                ("roles", "radiologist"),
                ("password", "good password 1"),
            ],
            "この施設では付与できない役割です",
        ),
        (
            vec![
                ("username", "weak"),
                ("display_name", "弱い"),
                ("email", "a@example.jp"),
                ("roles", "physician"),
                ("password", "short"),
            ],
            "12 文字以上にしてください",
        ),
    ];
    for (fields, msg) in &cases {
        let p = c.post("/facility/users", fields).await;
        assert_eq!(p.status, 422, "{fields:?}");
        assert!(p.body.contains(msg), "{fields:?} → {msg}: {}", p.body);
        if let Some((_, v)) = fields.iter().find(|(k, _)| *k == "display_name") {
            assert!(
                p.body.contains(&format!("value=\"{v}\"")),
                "entered value kept"
            );
        }
        assert!(!p.body.contains("good password 1"), "password not echoed");
    }
    // Editing: a role a facility admin cannot grant, or an empty name.
    let id = w.a_phys.id;
    let p = c
        .post(
            &format!("/facility/users/{id}"),
            &[
                ("display_name", "名前"),
                ("email", "a@example.jp"),
                ("roles", "auditor"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    let p = c
        .post(
            &format!("/facility/users/{id}"),
            &[
                ("display_name", ""),
                ("email", "a@example.jp"),
                ("roles", "physician"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("入力してください"));
    let p = c
        .post(
            &format!("/facility/users/{id}/reset"),
            &[("password", "short")],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("12 文字以上にしてください"));
    let u = users::get(&mut app.conn(), id).unwrap();
    assert_eq!(u.user.display_name, "dr.a 様");
    assert_eq!(u.roles_str(), "physician");
    assert!(!u.user.must_change_password);
    assert_eq!(user_count(app), users_before);

    // DICOM nodes.
    let nodes_before = node_count(app);
    let node = |ae: &'static str, addr: &'static str, host: &'static str, port: &'static str| {
        vec![
            ("ae_title", ae),
            ("allowed_addresses", addr),
            ("host", host),
            ("port", port),
            ("description", "x"),
        ]
    };
    let cases = vec![
        (node("", "10.0.0.1", "", ""), "ae_title", "入力してください"),
        (
            node("ABCDEFGHIJKLMNOPQ", "10.0.0.1", "", ""),
            "ae_title",
            "16 文字以内",
        ),
        (
            node("B_CT", "10.0.0.1", "", ""),
            "ae_title",
            "すでに使われています",
        ),
        (node("A_CT", "10.0.0.300", "", ""), "addr", "CIDR"),
        (node("A_CT", "10.0.0.0/33", "", ""), "addr", "CIDR"),
        (node("A_CT", "", "", ""), "addr", "入力してください"),
        (
            node("A_CT", "10.0.0.1", "10.0.0.1", "0"),
            "port",
            "1〜65535",
        ),
        (
            node("A_CT", "10.0.0.1", "10.0.0.1", "70000"),
            "port",
            "1〜65535",
        ),
        (
            node("A_CT", "10.0.0.1", "pacs.example.jp", ""),
            "port",
            "両方",
        ),
        (node("A_CT", "10.0.0.1", "", "104"), "host", "両方"),
        (
            node("A_CT", "10.0.0.1", "bad host!", "104"),
            "host",
            "ホスト名",
        ),
    ];
    for (fields, what, msg) in &cases {
        let p = c.post("/facility/dicom-nodes", fields).await;
        assert_eq!(p.status, 422, "{what}: {fields:?}");
        assert!(p.body.contains(msg), "{what} → {msg}");
    }
    let p = c
        .post(
            &format!("/facility/dicom-nodes/{}", w.b_node),
            &node("A_CT", "10.0.0.300", "", ""),
        )
        .await;
    assert_eq!(
        p.status, 404,
        "another facility's node is 404 before validation"
    );
    assert_eq!(node_count(app), nodes_before);

    // Service accounts: no admin roles; tokens: days in range.
    for role in ["facility_admin", "association_admin", "auditor"] {
        let p = c
            .post(
                "/facility/service-accounts",
                &[
                    ("username", "svc.x"),
                    ("display_name", "X"),
                    ("roles", role),
                ],
            )
            .await;
        assert_eq!(p.status, 422, "{role}");
    }
    let p = c
        .post(
            "/facility/service-accounts",
            &[
                ("username", "svc.x"),
                ("display_name", "X"),
                ("roles", "physician"),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    let svc = user_id(app, "svc.x");
    for days in ["0", "366", "abc", ""] {
        let p = c
            .post(
                &format!("/facility/service-accounts/{svc}/tokens"),
                &[("name", "t"), ("days", days)],
            )
            .await;
        assert_eq!(p.status, 422, "days {days}");
        assert!(p.body.contains("有効日数が範囲外です"));
        assert!(!p.body.contains("data-testid=\"new-token\""));
    }
    assert!(tokens::list_for_user(&mut app.conn(), svc)
        .unwrap()
        .is_empty());
    assert_eq!(user_count(app), users_before + 1);
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_elsewhere_are_refused() {
    let w = world().await;
    let app = &w.app;
    let mut c = app.client();
    c.sign_in(&w.a_admin).await;
    let body = "username=evil&display_name=x&email=x%40example.jp&roles=physician&password=long+enough+password";
    for (origin, with_token) in [
        (app.base.clone(), false),
        ("http://evil.example".to_owned(), true),
    ] {
        let b = if with_token {
            format!("{body}&csrf_token={}", c.csrf)
        } else {
            body.to_owned()
        };
        let r = c
            .http
            .post(format!("{}/facility/users", app.base))
            .header("Origin", origin)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(b)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
    }
    let r = c
        .http
        .post(format!("{}/facility/dicom-nodes", app.base))
        .header("Origin", &app.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("ae_title=EVIL&allowed_addresses=0.0.0.0%2F0&csrf_token=wrong-token-wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(users::find_by_username(&mut app.conn(), "evil")
        .unwrap()
        .is_none());
    assert!(dicom_nodes::list(&mut app.conn(), w.a).unwrap().is_empty());
}
