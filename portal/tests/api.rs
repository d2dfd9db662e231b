//! The JSON API for facilities and DICOM nodes: authorisation (404 + audit), validation
//! (400 for bad JSON, 422 with fields), suspension, and the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use shared::audit::Ctx;
use shared::auth::tokens;
use shared::domain::{FacilityStatus, UserKind};
use shared::membership::dicom_nodes::{self, DicomNodeForm};
use shared::membership::facilities;
use shared::membership::users::{self, Granter, UserForm};

fn token(app: &TestApp, user_id: i64) -> String {
    tokens::issue(
        &mut app.conn(),
        &Ctx::system("test"),
        user_id,
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

fn node(app: &TestApp, facility: i64, ae: &str, addr: &str) -> i64 {
    dicom_nodes::create(
        &mut app.conn(),
        &Ctx::system("test"),
        facility,
        &DicomNodeForm {
            ae_title: ae.into(),
            allowed_addresses: addr.into(),
            is_enabled: true,
            ..Default::default()
        },
    )
    .unwrap()
    .id
}

fn service_account(app: &TestApp, facility: i64, username: &str, role: &str) -> i64 {
    users::create(
        &mut app.conn(),
        &Ctx::system("test"),
        facility,
        &UserForm {
            username: username.into(),
            display_name: username.into(),
            roles: vec![role.into()],
            ..Default::default()
        },
        UserKind::Service,
        Granter::FacilityAdmin,
    )
    .unwrap()
    .user
    .id
}

fn facility_count(app: &TestApp) -> usize {
    facilities::list(&mut app.conn()).unwrap().len()
}

#[tokio::test]
async fn association_admin_manages_facilities_through_the_api() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let a = app.facility("Aクリニック", "clinic", true, false);
    let a_admin = app.user(a, "admin.a", &["facility_admin"]);
    let tok = token(&app, admin.id);
    let c = app.client();

    let (s, list) = c.api_get("/api/v1/facilities", Some(&tok)).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list.to_string().contains("Aクリニック"));

    let body = json!({"name": "C病院", "kind": "hospital", "is_requesting": false,
        "is_supporting": true, "postal_address": "香川県丸亀市", "phone": "0877-00-0000",
        "notification_emails": "c@example.jp"});
    let (s, f) = c
        .api_send("POST", "/api/v1/facilities", &tok, &body.to_string())
        .await;
    assert_eq!(s, 201, "{f}");
    assert_eq!(f["status"], "applied");
    assert_eq!(f["notification_emails"], json!(["c@example.jp"]));
    let id = f["id"].as_i64().unwrap();
    let (s, g) = c
        .api_get(&format!("/api/v1/facilities/{id}"), Some(&tok))
        .await;
    assert_eq!(s, 200);
    assert_eq!(g["name"], "C病院");

    let status = |st: &str| json!({ "status": st }).to_string();
    let path = format!("/api/v1/facilities/{id}/status");
    let (s, f) = c.api_send("POST", &path, &tok, &status("active")).await;
    assert_eq!((s, f["status"].as_str()), (200, Some("active")));
    let (s, e) = c.api_send("POST", &path, &tok, &status("active")).await;
    assert_eq!(s, 409, "active → active is impossible: {e}");
    assert_eq!(e["error"], "conflict");
    let (s, e) = c.api_send("POST", &path, &tok, &status("applied")).await;
    assert_eq!(s, 422);
    assert_eq!(e["fields"]["status"], "err.invalid_choice");
    let (s, e) = c.api_send("POST", &path, &tok, "{}").await;
    assert_eq!(s, 422);
    assert!(e["fields"]["status"].is_string());
    let (s, _) = c.api_send("POST", &path, &tok, &status("withdrawn")).await;
    assert_eq!(s, 200);
    let (s, _) = c.api_send("POST", &path, &tok, &status("active")).await;
    assert_eq!(s, 409, "withdrawn is final");
    let (s, _) = c
        .api_send(
            "POST",
            "/api/v1/facilities/999999/status",
            &tok,
            &status("active"),
        )
        .await;
    assert_eq!(s, 404);

    // Bad bodies change nothing.
    let n = facility_count(&app);
    let (s, e) = c
        .api_send("POST", "/api/v1/facilities", &tok, "{\"name\": \"x\",")
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("bad_request")));
    let (s, _) = c
        .api_send(
            "POST",
            "/api/v1/facilities",
            &tok,
            "{\"name\": 5, \"kind\": \"clinic\"}",
        )
        .await;
    assert_eq!(s, 400, "wrong type");
    let (s, _) = c
        .api_send(
            "POST",
            "/api/v1/facilities",
            &tok,
            "{\"name\": \"x\", \"is_requesting\": 3}",
        )
        .await;
    assert_eq!(s, 400, "wrong type");
    let (s, _) = c.api_send("POST", "/api/v1/facilities", &tok, "[]").await;
    assert_eq!(s, 400);
    let (s, e) = c.api_send("POST", "/api/v1/facilities", &tok, "{}").await;
    assert_eq!(s, 422);
    assert_eq!(e["error"], "validation");
    assert_eq!(e["fields"]["name"], "err.required");
    assert_eq!(e["fields"]["kind"], "err.invalid_choice");
    let dup = json!({"name": "Aクリニック", "kind": "clinic", "is_requesting": true,
        "notification_emails": "x@example.jp"});
    let (s, e) = c
        .api_send("POST", "/api/v1/facilities", &tok, &dup.to_string())
        .await;
    assert_eq!(s, 422);
    assert_eq!(e["fields"]["name"], "err.duplicate");
    let long = json!({"name": "長".repeat(101), "kind": "clinic", "is_requesting": true,
        "notification_emails": "x@example.jp"});
    let (s, e) = c
        .api_send("POST", "/api/v1/facilities", &tok, &long.to_string())
        .await;
    assert_eq!(s, 422);
    assert_eq!(e["fields"]["name"], "err.too_long");
    assert_eq!(facility_count(&app), n);

    // Everyone else: 404 and a denial in the audit trail.
    let fa = token(&app, a_admin.id);
    for (method, p, body) in [
        ("GET", "/api/v1/facilities".to_owned(), ""),
        ("GET", format!("/api/v1/facilities/{a}"), ""),
        ("POST", "/api/v1/facilities".to_owned(), "{\"name\": \"x\"}"),
        (
            "POST",
            format!("/api/v1/facilities/{a}/status"),
            "{\"status\": \"suspended\"}",
        ),
    ] {
        let d = denied(&app);
        let (s, e) = c.api_send(method, &p, &fa, body).await;
        assert_eq!(s, 404, "{method} {p}");
        assert_eq!(e["error"], "not_found");
        assert_eq!(denied(&app), d + 1, "{method} {p} audited");
    }
    assert_eq!(facility_count(&app), n);
    assert!(facilities::get(&mut app.conn(), a).unwrap().is_active());
    assert_eq!(c.api_get("/api/v1/facilities", None).await.0, 401);
}

#[tokio::test]
async fn facility_admin_manages_own_dicom_nodes_through_the_api() {
    let app = spawn_app().await;
    let a = app.facility("Aクリニック", "clinic", true, false);
    let b = app.facility("B総合病院", "hospital", true, true);
    let a_admin = app.user(a, "admin.a", &["facility_admin"]);
    let a_phys = app.user(a, "dr.a", &["physician"]);
    let b_node = node(&app, b, "B_CT", "10.2.0.0/24");
    let tok = token(&app, a_admin.id);
    let c = app.client();

    let (s, list) = c.api_get("/api/v1/dicom-nodes", Some(&tok)).await;
    assert_eq!((s, list), (200, json!([])), "B's node is not listed");
    let body = json!({"ae_title": "A_CT", "allowed_addresses": ["127.0.0.1", "10.1.0.0/24"],
        "host": "10.1.0.5", "port": 104, "description": "CT 室"});
    let (s, n) = c
        .api_send("POST", "/api/v1/dicom-nodes", &tok, &body.to_string())
        .await;
    assert_eq!(s, 201, "{n}");
    assert_eq!(n["facility_id"], a);
    assert_eq!(n["allowed_addresses"], json!(["127.0.0.1", "10.1.0.0/24"]));
    assert_eq!(n["is_enabled"], true);
    let id = n["id"].as_i64().unwrap();
    let (s, list) = c.api_get("/api/v1/dicom-nodes", Some(&tok)).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let upd = json!({"ae_title": "A_CT2", "allowed_addresses": ["127.0.0.1"], "is_enabled": false});
    let (s, n) = c
        .api_send(
            "PUT",
            &format!("/api/v1/dicom-nodes/{id}"),
            &tok,
            &upd.to_string(),
        )
        .await;
    assert_eq!(s, 200, "{n}");
    assert_eq!(
        (n["ae_title"].as_str(), n["port"].clone()),
        (Some("A_CT2"), Value::Null)
    );

    // Validation: 422 with the field, 400 for broken JSON; nothing changes.
    let bad = [
        (
            json!({"ae_title": "B_CT", "allowed_addresses": ["10.0.0.1"]}),
            "ae_title",
            "err.duplicate",
        ),
        (
            json!({"ae_title": "ABCDEFGHIJKLMNOPQ", "allowed_addresses": ["10.0.0.1"]}),
            "ae_title",
            "err.ae_title",
        ),
        (
            json!({"ae_title": "X", "allowed_addresses": ["10.0.0.256"]}),
            "allowed_addresses",
            "err.address",
        ),
        (
            json!({"ae_title": "X", "allowed_addresses": ["10.0.0.0/40"]}),
            "allowed_addresses",
            "err.address",
        ),
        (
            json!({"ae_title": "X", "allowed_addresses": ["10.0.0.1"], "host": "h.example.jp", "port": 0}),
            "port",
            "err.port",
        ),
        (
            json!({"ae_title": "X", "allowed_addresses": ["10.0.0.1"], "host": "h.example.jp", "port": 70000}),
            "port",
            "err.port",
        ),
        (
            json!({"ae_title": "X", "allowed_addresses": ["10.0.0.1"], "host": "h.example.jp"}),
            "port",
            "err.host_and_port",
        ),
        (
            json!({"ae_title": "X", "allowed_addresses": ["10.0.0.1"], "description": "d".repeat(201)}),
            "description",
            "err.too_long",
        ),
    ];
    for (body, field, code) in &bad {
        let (s, e) = c
            .api_send("POST", "/api/v1/dicom-nodes", &tok, &body.to_string())
            .await;
        assert_eq!(s, 422, "{body}");
        assert_eq!(e["error"], "validation");
        assert_eq!(e["fields"][field], *code, "{body}: {e}");
        let (s, _) = c
            .api_send(
                "PUT",
                &format!("/api/v1/dicom-nodes/{id}"),
                &tok,
                &body.to_string(),
            )
            .await;
        assert_eq!(s, 422, "PUT {body}");
    }
    let (s, e) = c.api_send("POST", "/api/v1/dicom-nodes", &tok, "{}").await;
    assert_eq!(s, 422);
    assert_eq!(e["fields"]["ae_title"], "err.required");
    assert_eq!(e["fields"]["allowed_addresses"], "err.required");
    for body in [
        "{\"ae_title\": ",
        "not json",
        "{\"ae_title\": 1, \"allowed_addresses\": [\"10.0.0.1\"]}",
        "{\"ae_title\": \"X\", \"allowed_addresses\": \"10.0.0.1\"}",
        "{\"ae_title\": \"X\", \"allowed_addresses\": [\"10.0.0.1\"], \"port\": \"104\"}",
        "{\"ae_title\": \"X\", \"allowed_addresses\": [\"10.0.0.1\"], \"is_enabled\": \"yes\"}",
    ] {
        let (s, e) = c.api_send("POST", "/api/v1/dicom-nodes", &tok, body).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (400, Some("bad_request")),
            "{body}"
        );
    }
    let nodes = dicom_nodes::list(&mut app.conn(), a).unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].ae_title, "A_CT2");

    // Isolation: B's node through the API is 404, audited, untouched.
    let before = dicom_nodes::get_of_facility(&mut app.conn(), b, b_node).unwrap();
    let steal = json!({"ae_title": "B_CT", "allowed_addresses": ["0.0.0.0/0"]}).to_string();
    for (method, body) in [("PUT", steal.as_str()), ("PUT", "garbage"), ("DELETE", "")] {
        let d = denied(&app);
        let (s, _) = c
            .api_send(method, &format!("/api/v1/dicom-nodes/{b_node}"), &tok, body)
            .await;
        assert_eq!(s, 404, "{method} {body}");
        assert_eq!(denied(&app), d + 1);
    }
    let (s, _) = c
        .api_send("DELETE", "/api/v1/dicom-nodes/999999", &tok, "")
        .await;
    assert_eq!(s, 404);
    let after = dicom_nodes::get_of_facility(&mut app.conn(), b, b_node).unwrap();
    assert_eq!(after.allowed_addresses, before.allowed_addresses);
    assert_eq!(after.updated_at, before.updated_at);

    // Non-admins of A (a physician, a service account): 404 + audit.
    let phys = token(&app, a_phys.id);
    let svc = token(&app, service_account(&app, a, "ris.a", "physician"));
    for t in [&phys, &svc] {
        let d = denied(&app);
        assert_eq!(c.api_get("/api/v1/dicom-nodes", Some(t)).await.0, 404);
        let (s, _) = c
            .api_send("POST", "/api/v1/dicom-nodes", t, &body.to_string())
            .await;
        assert_eq!(s, 404);
        let (s, _) = c
            .api_send("DELETE", &format!("/api/v1/dicom-nodes/{id}"), t, "")
            .await;
        assert_eq!(s, 404);
        assert_eq!(denied(&app), d + 3);
    }

    let (s, _) = c
        .api_send("DELETE", &format!("/api/v1/dicom-nodes/{id}"), &tok, "")
        .await;
    assert_eq!(s, 204);
    assert!(dicom_nodes::list(&mut app.conn(), a).unwrap().is_empty());
    assert_eq!(dicom_nodes::list(&mut app.conn(), b).unwrap().len(), 1);
}

#[tokio::test]
async fn a_suspended_facility_loses_its_tokens_and_its_dicom_nodes() {
    let app = spawn_app().await;
    let a = app.facility("Aクリニック", "clinic", true, false);
    let b = app.facility("B総合病院", "hospital", true, true);
    let a_admin = app.user(a, "admin.a", &["facility_admin"]);
    node(&app, a, "A_CT", "127.0.0.1");
    node(&app, b, "B_CT", "127.0.0.1");
    let svc = token(&app, service_account(&app, a, "ris.a", "physician"));
    let personal = token(&app, a_admin.id);
    let b_svc = token(&app, service_account(&app, b, "ris.b", "radiologist"));
    let c = app.client();
    let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(c.api_get("/api/v1/me", Some(&svc)).await.0, 200);
    assert_eq!(
        c.api_get("/api/v1/dicom-nodes", Some(&personal)).await.0,
        200
    );
    assert!(dicom_nodes::authorise_peer(&mut app.conn(), "A_CT", lo)
        .unwrap()
        .is_some());

    facilities::set_status(
        &mut app.conn(),
        &Ctx::system("test"),
        a,
        FacilityStatus::Suspended,
    )
    .unwrap();
    assert_eq!(c.api_get("/api/v1/me", Some(&svc)).await.0, 401);
    assert_eq!(
        c.api_get("/api/v1/dicom-nodes", Some(&personal)).await.0,
        401
    );
    assert!(dicom_nodes::authorise_peer(&mut app.conn(), "A_CT", lo)
        .unwrap()
        .is_none());
    // The other facility is unaffected.
    assert_eq!(c.api_get("/api/v1/me", Some(&b_svc)).await.0, 200);
    assert!(dicom_nodes::authorise_peer(&mut app.conn(), "B_CT", lo)
        .unwrap()
        .is_some());

    facilities::set_status(
        &mut app.conn(),
        &Ctx::system("test"),
        a,
        FacilityStatus::Active,
    )
    .unwrap();
    assert_eq!(c.api_get("/api/v1/me", Some(&svc)).await.0, 200);
}

#[tokio::test]
async fn browser_session_calls_need_the_csrf_header() {
    let app = spawn_app().await;
    let a = app.facility("Aクリニック", "clinic", true, false);
    let a_admin = app.user(a, "admin.a", &["facility_admin"]);
    let mut c = app.client();
    c.sign_in(&a_admin).await;
    let body = json!({"ae_title": "A_CT", "allowed_addresses": ["127.0.0.1"]}).to_string();
    let send = |csrf: Option<String>| {
        let mut rb = c
            .http
            .post(format!("{}/api/v1/dicom-nodes", app.base))
            .header("Origin", &app.base)
            .header("Content-Type", "application/json")
            .body(body.clone());
        if let Some(t) = csrf {
            rb = rb.header("X-CSRF-Token", t);
        }
        rb.send()
    };
    assert_eq!(send(None).await.unwrap().status().as_u16(), 403);
    assert_eq!(
        send(Some("wrong".into())).await.unwrap().status().as_u16(),
        403
    );
    assert!(dicom_nodes::list(&mut app.conn(), a).unwrap().is_empty());
    assert_eq!(
        send(Some(c.csrf.clone())).await.unwrap().status().as_u16(),
        201
    );
    let (s, _) = c.api_get("/api/v1/dicom-nodes", None).await;
    assert_eq!(s, 200, "GET with the session cookie");
}

#[tokio::test]
async fn the_openapi_document_lists_every_path() {
    let app = spawn_app().await;
    let c = app.client();
    let (s, doc) = c.api_get("/api/v1/openapi.json", None).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (p, methods) in [
        ("/api/v1/me", &["get"][..]),
        ("/api/v1/directory", &["get"]),
        ("/api/v1/facilities", &["get", "post"]),
        ("/api/v1/facilities/{id}", &["get"]),
        ("/api/v1/facilities/{id}/status", &["post"]),
        ("/api/v1/dicom-nodes", &["get", "post"]),
        ("/api/v1/dicom-nodes/{id}", &["put", "delete"]),
    ] {
        for m in methods {
            assert!(paths[p][*m].is_object(), "{m} {p} documented");
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "FacilityOut",
        "FacilityInput",
        "StatusInput",
        "DicomNodeOut",
        "DicomNodeInput",
    ] {
        assert!(schemas.contains_key(s), "{s}");
    }
    let text = doc.to_string();
    assert!(!text.contains("password_hash") && !text.contains("totp_secret"));
}
