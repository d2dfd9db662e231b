//! STOW-RS (`POST /dicom-web/studies`): multipart/related bodies, partial success (202)
//! with the right failure reasons, 409 when all fail, authentication (401), facility
//! isolation (instances land in the token's facility only), 415 and 405, the study-scoped
//! endpoint, and the PyPI `dicomweb-client`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};
use shared::audit::Ctx;
use shared::auth::tokens;
use shared::domain::UserKind;
use shared::membership::users::{self, Granter, UserForm};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/stow_client.py")
}

/// Writes DICOM files described by `specs` (see tests/python/stow_client.py).
fn gen_dicom(dir: &Path, specs: &[Value]) -> Vec<PathBuf> {
    let mut specs = specs.to_vec();
    let mut outs = Vec::new();
    for s in specs.iter_mut() {
        let out = dir.join(format!("{}.dcm", s["sop"].as_str().unwrap()));
        s["out"] = json!(out.display().to_string());
        outs.push(out);
    }
    let spec_file = dir.join("spec.json");
    std::fs::write(&spec_file, serde_json::to_vec(&specs).unwrap()).unwrap();
    let st = std::process::Command::new("python3")
        .arg(script())
        .arg("gen")
        .arg(&spec_file)
        .status()
        .expect("python3 with pydicom");
    assert!(st.success(), "generating DICOM files failed");
    outs
}

fn ct(sop: &str, study: &str) -> Value {
    json!({"sop": sop, "study": study, "series": format!("{study}.1"), "name": "Sato^Ichiro=佐藤^一郎=さとう^いちろう",
           "patient_id": "S-001", "modality": "CT", "date": "20250301"})
}

fn service_token(app: &TestApp, facility: i64, username: &str, role: &str) -> String {
    let id = users::create(
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
    .id;
    tokens::issue(&mut app.conn(), &Ctx::system("test"), id, "t", "30", 365)
        .unwrap()
        .0
}

const BOUNDARY: &str = "enkaku-test-boundary-7d3f";

fn multipart(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (ct, data) in parts {
        b.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Type: {ct}\r\n\r\n").as_bytes());
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn stow(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String, Value) {
    let mut rb = reqwest::Client::new()
        .post(format!("{}{path}", app.base))
        .header("Content-Type", content_type)
        .header("Accept", "application/dicom+json")
        .body(body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.unwrap();
    let s = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (s, ct, r.json().await.unwrap_or(Value::Null))
}

const DICOM_CT: &str =
    "multipart/related; type=\"application/dicom\"; boundary=enkaku-test-boundary-7d3f";

fn studies_of(app: &TestApp, facility: i64) -> Vec<shared::index::StudySummary> {
    let q = shared::index::StudyQuery {
        limit: 200,
        ..Default::default()
    };
    shared::index::search_studies(&mut app.conn(), facility, &q, shared::db::now(), 90)
        .unwrap()
        .0
}

#[tokio::test]
async fn stow_partial_success_failure_reasons_and_isolation() {
    let app = spawn_app().await;
    let a = app.facility("Aクリニック", "clinic", true, false);
    let b = app.facility("Bクリニック", "clinic", true, false);
    let h = app.facility("C総合病院", "hospital", true, true);
    let tok_a = service_token(&app, a, "ris.a", "physician");
    let tok_b = service_token(&app, b, "ris.b", "radiographer");
    let tok_rad = service_token(&app, h, "ris.c", "radiologist");
    let dir = tempfile::tempdir().unwrap();
    let mut unknown_class = ct("1.2.392.9.1.3", "1.2.392.9.1");
    unknown_class["sop_class"] = json!("1.2.3.4.5.6.7");
    let files = gen_dicom(
        dir.path(),
        &[
            ct("1.2.392.9.1.1", "1.2.392.9.1"),
            ct("1.2.392.9.1.2", "1.2.392.9.1"),
            unknown_class,
            ct("1.2.392.9.2.1", "1.2.392.9.2"),
        ],
    );
    let f: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();

    // No token: 401. A radiologist's token: 404 (audited).
    let body = multipart(&[("application/dicom", &f[0])]);
    let (s, _, _) = stow(&app, "/dicom-web/studies", None, DICOM_CT, body.clone()).await;
    assert_eq!(s, 401);
    let denied = app.audit_count("instance.store", "denied");
    let (s, _, _) = stow(
        &app,
        "/dicom-web/studies",
        Some(&tok_rad),
        DICOM_CT,
        body.clone(),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(app.audit_count("instance.store", "denied"), denied + 1);
    // Wrong media types: 415; another method: 405.
    for ct in [
        "application/dicom",
        "multipart/related; type=\"application/dicom+xml\"; boundary=enkaku-test-boundary-7d3f",
        "multipart/form-data; boundary=enkaku-test-boundary-7d3f",
    ] {
        let (s, _, _) = stow(&app, "/dicom-web/studies", Some(&tok_a), ct, body.clone()).await;
        assert_eq!(s, 415, "{ct}");
    }
    let r = reqwest::Client::new()
        .put(format!("{}/dicom-web/studies", app.base))
        .bearer_auth(&tok_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(studies_of(&app, a).is_empty());

    // Three instances, one of an unsupported SOP class: 202, two referenced, one failed.
    let body = multipart(&[
        ("application/dicom", &f[0]),
        ("application/dicom", &f[2]),
        ("application/dicom", &f[1]),
    ]);
    let (s, ct, v) = stow(&app, "/dicom-web/studies", Some(&tok_a), DICOM_CT, body).await;
    assert_eq!(s, 202, "{v}");
    assert!(ct.starts_with("application/dicom+json"), "{ct}");
    let referenced = v["00081199"]["Value"].as_array().unwrap();
    assert_eq!(referenced.len(), 2, "{v}");
    assert_eq!(referenced[0]["00081155"]["Value"][0], "1.2.392.9.1.1");
    assert_eq!(
        referenced[0]["00081150"]["Value"][0],
        "1.2.840.10008.5.1.4.1.1.2"
    );
    let url = referenced[1]["00081190"]["Value"][0].as_str().unwrap();
    assert!(
        url.ends_with(
            "/dicom-web/studies/1.2.392.9.1/series/1.2.392.9.1.1/instances/1.2.392.9.1.2"
        ),
        "{url}"
    );
    assert!(v["00081190"]["Value"][0]
        .as_str()
        .unwrap()
        .ends_with("/dicom-web/studies/1.2.392.9.1"));
    let failed = v["00081198"]["Value"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["00081197"]["Value"][0], 0x0122, "{v}");
    assert_eq!(failed[0]["00081155"]["Value"][0], "1.2.392.9.1.3");
    let sa = studies_of(&app, a);
    assert_eq!(sa.len(), 1);
    assert_eq!(sa[0].study.num_instances, 2);
    assert_eq!(sa[0].patient.name_ideographic, "佐藤^一郎");

    // All failing: 409 (garbage → 0xC000, unsupported class → 0x0122).
    let body = multipart(&[
        ("application/dicom", b"this is not DICOM"),
        ("application/dicom", &f[2]),
    ]);
    let (s, _, v) = stow(&app, "/dicom-web/studies", Some(&tok_a), DICOM_CT, body).await;
    assert_eq!(s, 409, "{v}");
    let codes: Vec<i64> = v["00081198"]["Value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["00081197"]["Value"][0].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [0xC000, 0x0122]);
    assert!(v.get("00081199").is_none());

    // All stored (one again: a duplicate counts as stored): 200; quotes-free type too.
    let body = multipart(&[("application/dicom", &f[0]), ("application/dicom", &f[3])]);
    let (s, _, v) = stow(
        &app,
        "/dicom-web/studies",
        Some(&tok_a),
        "multipart/related; type=application/dicom; boundary=enkaku-test-boundary-7d3f",
        body,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v.get("00081190").is_none(),
        "two studies: no single study URL"
    );
    assert_eq!(studies_of(&app, a).len(), 2);

    // The study-scoped endpoint refuses an instance of another study (0xA900).
    let body = multipart(&[("application/dicom", &f[3]), ("application/dicom", &f[1])]);
    let (s, _, v) = stow(
        &app,
        "/dicom-web/studies/1.2.392.9.1",
        Some(&tok_a),
        DICOM_CT,
        body,
    )
    .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["00081198"]["Value"][0]["00081197"]["Value"][0], 0xA900);
    assert_eq!(
        v["00081198"]["Value"][0]["00081155"]["Value"][0],
        "1.2.392.9.2.1"
    );

    // Clinic B's token: the same instances land in B only; A's rows are unchanged.
    let before: Vec<(i64, i64, i64)> = studies_of(&app, a)
        .iter()
        .map(|s| (s.study.id, s.study.num_instances, s.study.size_bytes))
        .collect();
    let body = multipart(&[("application/dicom", &f[0]), ("application/dicom", &f[1])]);
    let (s, _, v) = stow(&app, "/dicom-web/studies", Some(&tok_b), DICOM_CT, body).await;
    assert_eq!(s, 200, "{v}");
    let after: Vec<(i64, i64, i64)> = studies_of(&app, a)
        .iter()
        .map(|s| (s.study.id, s.study.num_instances, s.study.size_bytes))
        .collect();
    assert_eq!(before, after);
    let sb = studies_of(&app, b);
    assert_eq!(sb.len(), 1);
    assert_eq!(sb[0].study.num_instances, 2);
    assert!(!before.iter().any(|(id, _, _)| *id == sb[0].study.id));
}

#[tokio::test]
async fn stow_body_limits() {
    let app = spawn_app_with(&[
        ("ENKAKU_INGEST__MAX_REQUEST_BYTES", "20000"),
        ("ENKAKU_INGEST__MAX_INSTANCE_BYTES", "4000"),
    ])
    .await;
    let a = app.facility("Aクリニック", "clinic", true, false);
    let tok = service_token(&app, a, "ris.a", "physician");
    let dir = tempfile::tempdir().unwrap();
    let files = gen_dicom(dir.path(), &[ct("1.2.392.8.1.1", "1.2.392.8.1")]);
    let f = std::fs::read(&files[0]).unwrap();
    // A body over the request limit: 413, nothing stored.
    let pad = vec![0u8; 25_000];
    let body = multipart(&[
        ("application/dicom", &f),
        ("application/octet-stream", &pad),
    ]);
    let (s, _, _) = stow(&app, "/dicom-web/studies", Some(&tok), DICOM_CT, body).await;
    assert_eq!(s, 413);
    assert!(studies_of(&app, a).is_empty());
    // A part over the instance limit fails (0xA700); the other is stored.
    let mut big = f.clone();
    big.resize(6000, 0);
    let body = multipart(&[("application/dicom", &big), ("application/dicom", &f)]);
    let (s, _, v) = stow(&app, "/dicom-web/studies", Some(&tok), DICOM_CT, body).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["00081198"]["Value"][0]["00081197"]["Value"][0], 0xA700);
    assert_eq!(studies_of(&app, a).len(), 1);
    // A malformed multipart body: 400.
    let (s, _, _) = stow(
        &app,
        "/dicom-web/studies",
        Some(&tok),
        DICOM_CT,
        b"no boundary here".to_vec(),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn dicomweb_client_stores_a_study() {
    let app = spawn_app().await;
    let a = app.facility("Aクリニック", "clinic", true, false);
    let tok = service_token(&app, a, "ris.a", "physician");
    let dir = tempfile::tempdir().unwrap();
    let mut specs = vec![
        ct("1.2.392.7.1.1", "1.2.392.7.1"),
        ct("1.2.392.7.1.2", "1.2.392.7.1"),
    ];
    specs.push(
        json!({"base": "chrH31", "sop": "1.2.392.7.2.1", "study": "1.2.392.7.2",
                      "series": "1.2.392.7.2.1", "modality": "CR", "date": "20250105"}),
    );
    let files = gen_dicom(dir.path(), &specs);
    let base = app.base.clone();
    let tok2 = tok.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script())
            .arg("stow")
            .arg(&base)
            .arg(&tok2)
            .args(&files)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "dicomweb-client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["00081199"]["Value"].as_array().unwrap().len(), 3, "{v}");

    let c = app.client();
    let (s, v) = c.api_get("/api/v1/studies", Some(&tok)).await;
    assert_eq!(s, 200);
    assert_eq!(v["total"], 2, "{v}");
    let (_, v) = c
        .api_get("/api/v1/studies?name=%E5%B1%B1%E7%94%B0", Some(&tok))
        .await;
    assert_eq!(v["total"], 1);
    let st = &v["studies"][0];
    assert_eq!(st["patient"]["name"]["ideographic"], "山田^太郎");
    assert_eq!(st["modalities"], json!(["CR"]));
    let id = st["id"].as_i64().unwrap();
    let (s, v) = c
        .api_get(&format!("/api/v1/studies/{id}"), Some(&tok))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["num_instances"], 1);
    assert_eq!(v["series"][0]["series_uid"], "1.2.392.7.2.1");
}
