//! The study list, study screen, browser upload and studies API: uploads (one file, a zip,
//! limits, zip bombs), Japanese names and search (kanji, kana, romaji, ID, date, modality),
//! counts, and isolation between facilities (404 + audit).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};
use shared::audit::Ctx;
use shared::auth::tokens;

/// Writes DICOM files described by `specs` (see tests/python/stow_client.py) and returns
/// their bytes in order.
pub fn gen_dicom(dir: &Path, specs: &[Value]) -> Vec<Vec<u8>> {
    let mut specs = specs.to_vec();
    let mut outs = Vec::new();
    for (i, s) in specs.iter_mut().enumerate() {
        let out: PathBuf = dir.join(format!("f{i}-{}.dcm", s["sop"].as_str().unwrap()));
        s["out"] = json!(out.display().to_string());
        outs.push(out);
    }
    let spec_file = dir.join(format!("spec-{}.json", outs.len()));
    std::fs::write(&spec_file, serde_json::to_vec(&specs).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/stow_client.py");
    let st = std::process::Command::new("python3")
        .arg(script)
        .arg("gen")
        .arg(&spec_file)
        .status()
        .expect("python3 with pydicom");
    assert!(st.success(), "generating DICOM files failed");
    outs.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Three instances of pydicom's Japanese test patient (山田^太郎, ISO 2022 IR 87) in one CT
/// study (two series), and one MR of another patient.
fn fixtures(dir: &Path) -> Vec<Vec<u8>> {
    gen_dicom(
        dir,
        &[
            json!({"base": "chrH31", "sop": "1.2.392.200036.1.1.1", "study": "1.2.392.200036.1",
                   "series": "1.2.392.200036.1.1", "modality": "CT", "date": "20250110", "instance_number": 1}),
            json!({"base": "chrH31", "sop": "1.2.392.200036.1.1.2", "study": "1.2.392.200036.1",
                   "series": "1.2.392.200036.1.1", "modality": "CT", "date": "20250110", "instance_number": 2}),
            json!({"base": "chrH31", "sop": "1.2.392.200036.1.2.1", "study": "1.2.392.200036.1",
                   "series": "1.2.392.200036.1.2", "modality": "CT", "date": "20250110", "series_number": 2}),
            json!({"sop": "1.2.392.200036.2.1.1", "study": "1.2.392.200036.2", "series": "1.2.392.200036.2.1",
                   "name": "Suzuki^Hanako=鈴木^花子=すずき^はなこ", "patient_id": "P-0002", "sex": "F",
                   "modality": "MR", "date": "20250201", "description": "MRI head", "body_part": "HEAD"}),
        ],
    )
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(
            *name,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

async fn upload(c: &Client, body: Vec<u8>, ct: &str, name: &str) -> (u16, Value) {
    let r = c
        .http
        .post(format!("{}/studies/upload", c.base))
        .header("Origin", &c.base)
        .header("X-CSRF-Token", &c.csrf)
        .header("Content-Type", ct)
        .header("X-File-Name", name)
        .body(body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

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

fn study_count(app: &TestApp, facility: i64) -> i64 {
    let q = shared::index::StudyQuery {
        limit: 200,
        ..Default::default()
    };
    shared::index::search_studies(&mut app.conn(), facility, &q, shared::db::now(), 90)
        .unwrap()
        .1
}

fn denied(app: &TestApp, action: &str) -> usize {
    app.audit_count(action, "denied")
}

#[tokio::test]
async fn upload_then_list_search_and_api() {
    let app = spawn_app().await;
    let a = app.facility("Aクリニック", "clinic", true, false);
    let dr = app.user(a, "dr.a", &["physician"]);
    let tok = token(&app, dr.id);
    let dir = tempfile::tempdir().unwrap();
    let files = fixtures(dir.path());

    let mut c = app.client();
    c.sign_in(&dr).await;
    let home = c.get("/").await;
    assert!(
        home.body.contains("href=\"/studies\""),
        "nav has the study list"
    );
    let empty = c.get("/studies").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("data-testid=\"study-empty\""));
    let form = c.get("/studies/upload").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("webkitdirectory"));

    // One file.
    let (s, v) = upload(&c, files[0].clone(), "application/dicom", "IM0001").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["stored"], 1, "{v}");
    assert_eq!(v["results"][0]["status"], "stored");
    assert_eq!(v["results"][0]["name"], "IM0001");
    let study_id = v["results"][0]["study_id"].as_i64().unwrap();
    // The same file again: a duplicate.
    let (_, v) = upload(&c, files[0].clone(), "application/dicom", "IM0001").await;
    assert_eq!(v["duplicates"], 1, "{v}");
    assert_eq!(v["results"][0]["status"], "duplicate");

    // A zip: two more of the CT study, the MR, a text file, all under folders.
    let z = zip_of(&[
        ("CD/DICOM/IM0002", &files[1][..]),
        ("CD/DICOM/IM0003", &files[2][..]),
        ("CD/DICOM/MR0001", &files[3][..]),
        ("CD/README.TXT", &b"not a DICOM file"[..]),
    ]);
    let (s, v) = upload(&c, z, "application/zip", "cd.zip").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["stored"].as_i64(),
            v["refused"].as_i64(),
            v["skipped"].as_i64()
        ),
        (Some(3), Some(0), Some(1)),
        "{v}"
    );
    let names: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["IM0002", "IM0003", "MR0001"]);

    // The list: both studies, the Japanese name in its three groups, counts, arriving.
    let list = c.get("/studies").await;
    assert_eq!(list.status, 200);
    for text in [
        "山田 太郎",
        "やまだ たろう",
        "Yamada Tarou",
        "H31EXAMPLE",
        "鈴木 花子",
        "受信中",
        "2025-01-10",
    ] {
        assert!(list.body.contains(text), "list shows {text}");
    }
    assert!(list.body.contains(&format!("data-study-id=\"{study_id}\"")));
    assert!(app.audit_count("study.list", "success") >= 2);

    // Searches by kana, katakana, half-width kana, romaji, kanji, ID, date and modality.
    for (q, expect) in [
        ("name=%E3%82%84%E3%81%BE%E3%81%A0", 1),          // やまだ
        ("name=%E3%83%A4%E3%83%9E%E3%83%80", 1),          // ヤマダ
        ("name=%EF%BE%94%EF%BE%8F%EF%BE%80%EF%BE%9E", 1), // ﾔﾏﾀﾞ
        ("name=yamada", 1),
        ("name=%E5%B1%B1%E7%94%B0%E5%A4%AA%E9%83%8E", 1), // 山田太郎
        ("name=%E9%88%B4%E6%9C%A8", 1),                   // 鈴木
        ("name=tanaka", 0),
        ("patient_id=H31EXAMPLE", 1),
        ("date_from=2025-01-15", 1),
        ("date_from=2025-01-01&date_to=2025-01-31", 1),
        ("modality=MR", 1),
        ("modality=CT", 1),
        ("", 2),
    ] {
        let (s, v) = c.api_get(&format!("/api/v1/studies?{q}"), Some(&tok)).await;
        assert_eq!(s, 200, "{q}: {v}");
        assert_eq!(v["total"], expect, "search {q}: {v}");
        let page = c.get(&format!("/studies?{q}")).await;
        assert_eq!(page.status, 200);
        assert_eq!(
            page.body.matches("data-study-id=").count() as i64,
            expect,
            "screen search {q}"
        );
    }
    let (s, v) = c
        .api_get("/api/v1/studies?date_from=yesterday", Some(&tok))
        .await;
    assert_eq!(s, 400, "{v}");

    // The API: the CT study with its counts and the name groups.
    let (s, v) = c
        .api_get("/api/v1/studies?patient_id=H31EXAMPLE", Some(&tok))
        .await;
    assert_eq!(s, 200);
    let st = &v["studies"][0];
    assert_eq!(st["id"], study_id);
    assert_eq!(st["study_uid"], "1.2.392.200036.1");
    assert_eq!(st["num_instances"], 3);
    assert_eq!(st["num_series"], 2);
    assert_eq!(st["modalities"], json!(["CT"]));
    assert_eq!(st["study_date"], "2025-01-10");
    assert_eq!(st["arriving"], true);
    assert_eq!(st["patient"]["name"]["ideographic"], "山田^太郎");
    assert_eq!(st["patient"]["name"]["phonetic"], "やまだ^たろう");
    assert_eq!(st["patient"]["name"]["alphabetic"], "Yamada^Tarou");
    assert_eq!(st["patient"]["patient_id"], "H31EXAMPLE");
    assert!(st["size_bytes"].as_i64().unwrap() > 0);
    assert_eq!(v["per_page"], 50);
    let (_, v) = c
        .api_get("/api/v1/studies?per_page=1&page=2", Some(&tok))
        .await;
    assert_eq!(
        (v["total"].as_i64(), v["studies"].as_array().unwrap().len()),
        (Some(2), 1)
    );
    let (_, v) = c.api_get("/api/v1/studies?per_page=5000", Some(&tok)).await;
    assert_eq!(v["per_page"], 200);

    // One study, on screen and in the API, audited as a view.
    let views = app.audit_count("study.view", "success");
    let (s, v) = c
        .api_get(&format!("/api/v1/studies/{study_id}"), Some(&tok))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["series"].as_array().unwrap().len(), 2);
    assert_eq!(v["num_instances"], 3);
    let page = c.get(&format!("/studies/{study_id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("山田 太郎") && page.body.contains("1.2.392.200036.1"));
    assert!(page.body.contains("data-testid=\"series-table\""));
    assert_eq!(app.audit_count("study.view", "success"), views + 2);

    // The browser session may read the API too (GET, no CSRF header needed).
    let r = c
        .http
        .get(format!("{}/api/v1/studies", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let r = c
        .http
        .get(format!("{}/studies", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    // The scripts are served; nothing else under /static/.
    let r = c
        .http
        .get(format!("{}/static/studies.js", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .http
        .get(format!("{}/static/..%2Fsecret", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn other_facilities_and_roles_see_nothing() {
    let app = spawn_app().await;
    let a = app.facility("Aクリニック", "clinic", true, false);
    let b = app.facility("Bクリニック", "clinic", true, false);
    let h = app.facility("C総合病院", "hospital", true, true);
    let dr_a = app.user(a, "dr.a", &["physician"]);
    let dr_b = app.user(b, "dr.b", &["radiographer"]);
    let admin_a = app.user(a, "admin.a", &["facility_admin"]);
    let rad = app.user(h, "rad.c", &["radiologist"]);
    let dir = tempfile::tempdir().unwrap();
    let files = fixtures(dir.path());

    let mut ca = app.client();
    ca.sign_in(&dr_a).await;
    let (_, v) = upload(&ca, files[0].clone(), "application/dicom", "x").await;
    let study_id = v["results"][0]["study_id"].as_i64().unwrap();

    // Clinic B's requester: an empty list, 404 for A's study on screen and in the API.
    let mut cb = app.client();
    cb.sign_in(&dr_b).await;
    let list = cb.get("/studies").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("data-testid=\"study-empty\""));
    assert!(!list.body.contains("山田"));
    let before = denied(&app, "study.view");
    assert_eq!(cb.get(&format!("/studies/{study_id}")).await.status, 404);
    let tok_b = token(&app, dr_b.id);
    let (s, _) = cb
        .api_get(&format!("/api/v1/studies/{study_id}"), Some(&tok_b))
        .await;
    assert_eq!(s, 404);
    let (s, v) = cb.api_get("/api/v1/studies", Some(&tok_b)).await;
    assert_eq!((s, v["total"].as_i64()), (200, Some(0)));
    assert_eq!(
        denied(&app, "study.view"),
        before + 2,
        "both denials audited"
    );
    // B uploading the same file makes B's own copy; A's study is unchanged.
    let (_, v) = upload(&cb, files[0].clone(), "application/dicom", "x").await;
    assert_eq!(v["stored"], 1, "{v}");
    assert_ne!(v["results"][0]["study_id"].as_i64().unwrap(), study_id);
    assert_eq!(study_count(&app, a), 1);
    assert_eq!(study_count(&app, b), 1);

    // A facility administrator of A and a radiologist: 404 everywhere, audited.
    for u in [&admin_a, &rad] {
        let mut c = app.client();
        c.sign_in(u).await;
        let home = c.get("/").await;
        assert!(!home.body.contains("href=\"/studies\""), "no nav entry");
        let list_denied = denied(&app, "study.list");
        assert_eq!(c.get("/studies").await.status, 404);
        assert_eq!(denied(&app, "study.list"), list_denied + 1);
        assert_eq!(c.get(&format!("/studies/{study_id}")).await.status, 404);
        assert_eq!(c.get("/studies/upload").await.status, 404);
        let (s, _) = upload(&c, files[1].clone(), "application/dicom", "x").await;
        assert_eq!(s, 404);
        let t = token(&app, u.id);
        assert_eq!(c.api_get("/api/v1/studies", Some(&t)).await.0, 404);
        assert_eq!(
            c.api_get(&format!("/api/v1/studies/{study_id}"), Some(&t))
                .await
                .0,
            404
        );
    }
    assert_eq!(study_count(&app, a), 1);
    // Without a session: the sign-in page, no data.
    let anon = app.client();
    let r = anon
        .http
        .get(format!("{}/studies", anon.base))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    assert_eq!(anon.api_get("/api/v1/studies", None).await.0, 401);
}

#[tokio::test]
async fn upload_limits_csrf_and_zip_bombs() {
    let app = spawn_app_with(&[
        ("ENKAKU_INGEST__MAX_REQUEST_BYTES", "20000"),
        ("ENKAKU_INGEST__MAX_INSTANCE_BYTES", "8000"),
    ])
    .await;
    let a = app.facility("Aクリニック", "clinic", true, false);
    let dr = app.user(a, "dr.a", &["physician"]);
    let dir = tempfile::tempdir().unwrap();
    let files = fixtures(dir.path());
    let mut c = app.client();
    c.sign_in(&dr).await;

    // Too large a body: 413, nothing stored.
    let mut big = files[0].clone();
    big.resize(30_000, 0);
    let z = zip_of(&[
        ("a", &files[0][..]),
        ("pad", &[7u8][..]),
        ("b", &files[1][..]),
    ]);
    let mut big_zip = z.clone();
    big_zip.extend(std::iter::repeat_n(0u8, 25_000));
    let (s, v) = upload(&c, big_zip, "application/zip", "big.zip").await;
    assert_eq!(s, 413, "{v}");
    let (s, _) = upload(&c, big, "application/dicom", "big.dcm").await;
    assert_eq!(s, 413);
    assert_eq!(study_count(&app, a), 0);

    // A zip entry that inflates far beyond the size it declares is refused.
    let mut bomb_data = files[0].clone();
    bomb_data.resize(200_000, 0);
    let mut bomb = zip_of(&[("bomb.dcm", &bomb_data[..])]);
    let declared = (bomb_data.len() as u32).to_le_bytes();
    let small = 1000u32.to_le_bytes();
    for i in 0..bomb.len().saturating_sub(4) {
        if bomb[i..i + 4] == declared {
            bomb[i..i + 4].copy_from_slice(&small);
        }
    }
    assert!(bomb.len() < 20_000);
    let (s, v) = upload(&c, bomb, "application/zip", "bomb.zip").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["refused"], 1, "{v}");
    assert!(
        v["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("declared"),
        "{v}"
    );
    // An entry declaring more than the instance limit is refused without being read.
    let (s, v) = upload(
        &c,
        zip_of(&[("huge.dcm", &bomb_data[..9000]), ("ok.dcm", &files[1][..])]),
        "application/zip",
        "z.zip",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["refused"].as_i64(), v["stored"].as_i64()),
        (Some(1), Some(1)),
        "{v}"
    );
    // Garbage called a zip, and an unknown media type.
    let (s, _) = upload(&c, b"PK not really".to_vec(), "application/zip", "x.zip").await;
    assert_eq!(s, 422);
    let (s, _) = upload(&c, files[2].clone(), "text/plain", "x").await;
    assert_eq!(s, 415);
    // A non-DICOM file sent as DICOM is refused cleanly, and so is a DICOMDIR-like file.
    let (s, v) = upload(&c, b"hello".to_vec(), "application/dicom", "notes.txt").await;
    assert_eq!((s, v["refused"].as_i64()), (200, Some(1)), "{v}");

    // Without the CSRF header or from another origin: 403, nothing stored.
    let r = c
        .http
        .post(format!("{}/studies/upload", c.base))
        .header("Origin", &c.base)
        .header("Content-Type", "application/dicom")
        .body(files[2].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .http
        .post(format!("{}/studies/upload", c.base))
        .header("Origin", "https://evil.example")
        .header("X-CSRF-Token", &c.csrf)
        .header("Content-Type", "application/dicom")
        .body(files[2].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(study_count(&app, a), 1, "only ok.dcm was stored");
}
