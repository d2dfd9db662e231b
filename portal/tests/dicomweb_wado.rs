//! WADO-RS (`GET /dicom-web/studies/{study}[/series/{series}[/instances/{instance}]][/metadata]`)
//! on the real app: a study stored through STOW-RS (pydicom's Japanese file, ISO 2022 IR 87)
//! comes back byte-identical through the PyPI `dicomweb-client`, in series and instance
//! order, with metadata carrying the three name groups; the transfer-syntax rule (406); who
//! may retrieve (the sending clinic; a supporting hospital only while a request is live;
//! never another clinic or a facility administrator); guessed UIDs; the audit events and
//! `Cache-Control: no-store` on every answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::reading::{self, Network};
use common::{spawn_app, TestApp, TestUser};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared::audit::{AuditEvent, Ctx, Filter};
use shared::auth::tokens;

const STUDY: &str = "1.2.392.200.1";
const SERIES_A: &str = "1.2.392.200.1.1";
const SERIES_B: &str = "1.2.392.200.1.2";
/// Series A holds two instances whose Instance Numbers run against their UIDs.
const A_FIRST: &str = "1.2.392.200.1.1.2";
const A_SECOND: &str = "1.2.392.200.1.1.1";
const B_ONLY: &str = "1.2.392.200.1.2.1";
/// Another study of the same clinic and patient key (its series must not be reachable
/// under STUDY).
const OTHER_STUDY: &str = "1.2.392.200.2";
const OTHER_SERIES: &str = "1.2.392.200.2.1";
const OTHER_SOP: &str = "1.2.392.200.2.1.1";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/python")
        .join(name)
}

/// Writes DICOM files with tests/python/stow_client.py and returns their bytes by SOP UID.
fn gen_dicom(dir: &Path, specs: &[Value]) -> BTreeMap<String, Vec<u8>> {
    let mut specs = specs.to_vec();
    for s in specs.iter_mut() {
        let out = dir.join(format!("{}.dcm", s["sop"].as_str().unwrap()));
        s["out"] = json!(out.display().to_string());
    }
    let spec_file = dir.join("spec.json");
    std::fs::write(&spec_file, serde_json::to_vec(&specs).unwrap()).unwrap();
    let st = std::process::Command::new("python3")
        .arg(script("stow_client.py"))
        .arg("gen")
        .arg(&spec_file)
        .status()
        .expect("python3 with pydicom");
    assert!(st.success(), "generating DICOM files failed");
    specs
        .iter()
        .map(|s| {
            (
                s["sop"].as_str().unwrap().to_owned(),
                std::fs::read(s["out"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

/// pydicom's Japanese file (Yamada^Tarou=山田^太郎=やまだ^たろう, ISO 2022 IR 87) as an
/// instance of `series`.
fn japanese(sop: &str, study: &str, series: &str, series_number: i64, instance: i64) -> Value {
    json!({"base": "chrH31", "sop": sop, "study": study, "series": series, "modality": "CT",
           "date": "20250301", "series_number": series_number, "instance_number": instance})
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

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

const BOUNDARY: &str = "enkaku-wado-test-boundary";

async fn stow(app: &TestApp, token: &str, files: &[&Vec<u8>]) {
    let mut body = Vec::new();
    for f in files {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(f);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let r = reqwest::Client::new()
        .post(format!("{}/dicom-web/studies", app.base))
        .bearer_auth(token)
        .header(
            "Content-Type",
            format!("multipart/related; type=\"application/dicom\"; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 200, "{}", r.text().await.unwrap());
}

struct Setup {
    app: TestApp,
    n: Network,
    doctor: String,
    files: BTreeMap<String, Vec<u8>>,
    /// The index row id of STUDY.
    study_id: i64,
}

/// The reading network, STUDY (two series, three instances) and OTHER_STUDY stored by the
/// clinic's physician through STOW-RS.
async fn setup() -> Setup {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let doctor = token(&app, &n.physician);
    let dir = tempfile::tempdir().unwrap();
    let files = gen_dicom(
        dir.path(),
        &[
            japanese(A_SECOND, STUDY, SERIES_A, 1, 2),
            japanese(A_FIRST, STUDY, SERIES_A, 1, 1),
            japanese(B_ONLY, STUDY, SERIES_B, 2, 1),
            japanese(OTHER_SOP, OTHER_STUDY, OTHER_SERIES, 1, 1),
        ],
    );
    // Series B first on the wire: the answer's order comes from the numbers, not arrival.
    stow(
        &app,
        &doctor,
        &[&files[B_ONLY], &files[A_SECOND], &files[A_FIRST]],
    )
    .await;
    stow(&app, &doctor, &[&files[OTHER_SOP]]).await;
    let q = shared::index::StudyQuery {
        limit: 200,
        ..Default::default()
    };
    let study_id =
        shared::index::search_studies(&mut app.conn(), n.clinic, &q, shared::db::now(), 90)
            .unwrap()
            .0
            .iter()
            .find(|s| s.study.study_uid == STUDY)
            .unwrap()
            .study
            .id;
    Setup {
        app,
        n,
        doctor,
        files,
        study_id,
    }
}

struct Answer {
    status: u16,
    content_type: String,
    cache_control: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn get(app: &TestApp, path: &str, token: &str, accept: Option<&str>) -> Answer {
    let mut rb = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .bearer_auth(token);
    if let Some(a) = accept {
        rb = rb.header("Accept", a);
    }
    let r = rb.send().await.unwrap();
    let h = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, cache_control) = (h("content-type"), h("cache-control"));
    Answer {
        status: r.status().as_u16(),
        content_type,
        cache_control,
        body: r.bytes().await.unwrap().to_vec(),
    }
}

/// The parts of a multipart/related answer (split on its boundary).
fn parts(a: &Answer) -> Vec<Vec<u8>> {
    let boundary = a
        .content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let delimiter = format!("\r\n--{boundary}");
    let body = [b"\r\n".as_slice(), &a.body].concat();
    let mut out = Vec::new();
    let mut rest = body.as_slice();
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let d = delimiter.as_bytes();
    let start = find(rest, d).unwrap();
    rest = &rest[start + d.len()..];
    while !rest.starts_with(b"--") {
        let end = find(rest, d).unwrap();
        let part = &rest[..end];
        let head_end = find(part, b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&part[..head_end]);
        assert!(
            head.contains("Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1"),
            "{head}"
        );
        out.push(part[head_end + 4..].to_vec());
        rest = &rest[end + d.len()..];
    }
    assert_eq!(rest, b"--\r\n");
    out
}

fn events(app: &TestApp, action: &str, outcome: &str) -> Vec<AuditEvent> {
    shared::audit::search(
        &mut app.conn(),
        &Filter {
            action: Some(action.into()),
            outcome: Some(outcome.into()),
            ..Default::default()
        },
        0,
        100_000,
    )
    .unwrap()
}

/// Expects a 404 (JSON, no-store) and one more denied event of `action` for `object`.
async fn hidden(s: &Setup, path: &str, token: &str, action: &str, object: &str) {
    let before = events(&s.app, action, "denied").len();
    let a = get(&s.app, path, token, None).await;
    assert_eq!(a.status, 404, "{path}");
    assert_eq!(a.cache_control, "no-store", "{path}");
    assert_eq!(a.json()["error"], "not_found", "{path}");
    let after = events(&s.app, action, "denied");
    assert_eq!(after.len(), before + 1, "{path}: the denial is audited");
    assert_eq!(after[0].object_id.as_deref(), Some(object), "{path}");
}

#[tokio::test]
async fn dicomweb_client_gets_the_stored_bytes_and_the_japanese_names() {
    let s = setup().await;
    let base = s.app.base.clone();
    let tok = s.doctor.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script("wado_client.py"))
            .arg(&base)
            .arg(&tok)
            .arg(STUDY)
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
    let sops = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|i| i["sop"].as_str().unwrap().to_owned())
            .collect()
    };
    // Series by number, instances by number.
    assert_eq!(sops("study"), [A_FIRST, A_SECOND, B_ONLY], "{v}");
    assert_eq!(sops("series"), [A_FIRST, A_SECOND]);
    assert_eq!(sops("instance"), [A_FIRST]);
    assert_eq!(sops("metadata"), [A_FIRST, A_SECOND, B_ONLY]);
    for k in ["study", "series", "instance"] {
        for i in v[k].as_array().unwrap() {
            let sop = i["sop"].as_str().unwrap();
            assert_eq!(
                i["sha256"].as_str().unwrap(),
                sha256(&s.files[sop]),
                "{k} {sop}: byte-identical"
            );
            assert_eq!(i["name"]["ideographic"], "山田^太郎");
        }
    }
    for m in v["metadata"].as_array().unwrap() {
        assert_eq!(
            m["name"],
            json!({"alphabetic": "Yamada^Tarou", "ideographic": "山田^太郎", "phonetic": "やまだ^たろう"})
        );
        assert_eq!(m["transfer_syntax"], EXPLICIT_LE);
    }

    // One success event per retrieval, with references and never a name.
    let retrieved = events(&s.app, "dicomweb.retrieve", "success");
    assert_eq!(retrieved.len(), 3);
    let levels: Vec<(String, i64)> = retrieved
        .iter()
        .rev()
        .map(|e| {
            let d: Value = serde_json::from_str(e.detail.as_deref().unwrap()).unwrap();
            (
                d["level"].as_str().unwrap().to_owned(),
                d["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("study".to_owned(), 3),
            ("series".to_owned(), 2),
            ("instance".to_owned(), 1)
        ]
    );
    let patient_id: i64 = {
        use diesel::prelude::*;
        use shared::db::schema::studies;
        studies::table
            .find(s.study_id)
            .select(studies::patient_id)
            .first(&mut s.app.conn())
            .unwrap()
    };
    let meta = events(&s.app, "dicomweb.metadata", "success");
    assert_eq!(meta.len(), 1);
    for e in retrieved.iter().chain(&meta) {
        assert_eq!(e.study_ref.as_deref(), Some(STUDY));
        assert_eq!(
            e.patient_ref.as_deref(),
            Some(format!("patient:{patient_id}").as_str())
        );
        let all = format!("{e:?}");
        assert!(
            !all.contains("Yamada") && !all.contains("山田") && !all.contains("H31EXAMPLE"),
            "{all}"
        );
    }
    assert_eq!(retrieved[0].object_id.as_deref(), Some(A_FIRST));
}

#[tokio::test]
async fn levels_media_types_metadata_and_guessed_uids() {
    let s = setup().await;
    let app = &s.app;
    let tok = &s.doctor;

    // The study: multipart/related, every part as stored, no-store.
    let a = get(app, &format!("/dicom-web/studies/{STUDY}"), tok, None).await;
    assert_eq!(a.status, 200);
    assert!(
        a.content_type
            .starts_with("multipart/related; type=\"application/dicom\"; boundary="),
        "{}",
        a.content_type
    );
    assert_eq!(a.cache_control, "no-store");
    let got = parts(&a);
    assert_eq!(
        got,
        [
            s.files[A_FIRST].clone(),
            s.files[A_SECOND].clone(),
            s.files[B_ONLY].clone()
        ]
    );
    // A series, an instance.
    let a = get(
        app,
        &format!("/dicom-web/studies/{STUDY}/series/{SERIES_B}"),
        tok,
        None,
    )
    .await;
    assert_eq!((a.status, a.cache_control.as_str()), (200, "no-store"));
    assert_eq!(parts(&a), [s.files[B_ONLY].clone()]);
    let instance_path =
        format!("/dicom-web/studies/{STUDY}/series/{SERIES_A}/instances/{A_SECOND}");
    let a = get(app, &instance_path, tok, None).await;
    assert_eq!((a.status, a.cache_control.as_str()), (200, "no-store"));
    assert_eq!(parts(&a), [s.files[A_SECOND].clone()]);

    // Transfer syntaxes: the stored one or `*` is fine; another one is 406 (no transcoding).
    for ok in [
        format!("multipart/related; type=\"application/dicom\"; transfer-syntax={EXPLICIT_LE}"),
        "multipart/related; type=\"application/dicom\"; transfer-syntax=*".to_owned(),
        "*/*".to_owned(),
    ] {
        let a = get(app, &instance_path, tok, Some(&ok)).await;
        assert_eq!(a.status, 200, "{ok}");
    }
    let a = get(
        app,
        &instance_path,
        tok,
        Some(
            "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.50",
        ),
    )
    .await;
    assert_eq!(a.status, 406);
    assert_eq!(a.cache_control, "no-store");
    let m = a.json()["message"].as_str().unwrap().to_owned();
    assert!(
        m.contains("without transcoding") && m.contains(EXPLICIT_LE),
        "{m}"
    );
    let a = get(app, &instance_path, tok, Some("image/jpeg")).await;
    assert_eq!(a.status, 406);

    // Metadata on the three levels, from the index.
    let a = get(
        app,
        &format!("/dicom-web/studies/{STUDY}/metadata"),
        tok,
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.content_type.starts_with("application/dicom+json"));
    assert_eq!(a.cache_control, "no-store");
    let v = a.json();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 3);
    let first = &items[0];
    assert_eq!(first["00080018"]["Value"][0], A_FIRST);
    assert_eq!(
        first["00100010"]["Value"][0],
        json!({"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"})
    );
    assert_eq!(first["00100020"]["Value"][0], "H31EXAMPLE");
    assert_eq!(first["0020000D"]["Value"][0], STUDY);
    assert_eq!(first["0020000E"]["Value"][0], SERIES_A);
    assert_eq!(first["00080020"]["Value"][0], "20250301");
    assert_eq!(first["00080060"]["Value"][0], "CT");
    assert_eq!(first["00200011"]["Value"][0], 1);
    assert_eq!(first["00200013"]["Value"][0], 1);
    assert_eq!(items[2]["00200011"]["Value"][0], 2);
    assert_eq!(first["00020010"]["Value"][0], EXPLICIT_LE);
    assert_eq!(first["00280010"]["vr"], "US");
    let a = get(
        app,
        &format!("/dicom-web/studies/{STUDY}/series/{SERIES_A}/metadata"),
        tok,
        Some("application/dicom+json"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json().as_array().unwrap().len(), 2);
    let a = get(app, &format!("{instance_path}/metadata"), tok, None).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["00080018"]["Value"][0], A_SECOND);
    let a = get(
        app,
        &format!("{instance_path}/metadata"),
        tok,
        Some("multipart/related; type=\"application/dicom+xml\""),
    )
    .await;
    assert_eq!(a.status, 406);

    // Guessed UIDs, and a series or instance of another study: 404 and audited.
    hidden(
        &s,
        "/dicom-web/studies/1.2.392.999",
        tok,
        "dicomweb.retrieve",
        "1.2.392.999",
    )
    .await;
    hidden(
        &s,
        "/dicom-web/studies/1.2.392.999/metadata",
        tok,
        "dicomweb.metadata",
        "1.2.392.999",
    )
    .await;
    hidden(
        &s,
        &format!("/dicom-web/studies/{STUDY}/series/1.2.392.999"),
        tok,
        "dicomweb.retrieve",
        "1.2.392.999",
    )
    .await;
    hidden(
        &s,
        &format!("/dicom-web/studies/{STUDY}/series/{OTHER_SERIES}"),
        tok,
        "dicomweb.retrieve",
        OTHER_SERIES,
    )
    .await;
    hidden(
        &s,
        &format!("/dicom-web/studies/{STUDY}/series/{SERIES_A}/instances/{B_ONLY}"),
        tok,
        "dicomweb.retrieve",
        B_ONLY,
    )
    .await;
    hidden(
        &s,
        &format!("/dicom-web/studies/{STUDY}/series/{SERIES_A}/instances/{OTHER_SOP}/metadata"),
        tok,
        "dicomweb.metadata",
        OTHER_SOP,
    )
    .await;
    // Not a UID at all: 400.
    let a = get(app, "/dicom-web/studies/1.2.x/series/1.2", tok, None).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.cache_control, "no-store");
    // Only GET.
    let r = reqwest::Client::new()
        .delete(format!("{}{instance_path}", app.base))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET");
    // No token: 401.
    let r = reqwest::get(format!("{}/dicom-web/studies/{STUDY}/metadata", app.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn only_the_sender_and_a_live_request_s_reader_may_retrieve() {
    let s = setup().await;
    let app = &s.app;
    let study = format!("/dicom-web/studies/{STUDY}");
    let instance = format!("{study}/series/{SERIES_B}/instances/{B_ONLY}/metadata");

    // Another clinic's physician and the clinic's own facility administrator: 404, audited.
    let other = app.facility("Bクリニック", "clinic", true, false);
    let other_doctor = token(app, &app.user(other, "dr.other", &["physician"]));
    hidden(&s, &study, &other_doctor, "dicomweb.retrieve", STUDY).await;
    hidden(&s, &instance, &other_doctor, "dicomweb.metadata", STUDY).await;
    let admin = token(
        app,
        &app.user(s.n.clinic, "admin.clinic", &["facility_admin"]),
    );
    hidden(&s, &study, &admin, "dicomweb.retrieve", STUDY).await;

    // The supporting hospital's radiologist: nothing before a request…
    let rad = token(app, &s.n.kmix_radiologist);
    let other_rad = token(app, &s.n.kagoshima_radiologist);
    hidden(&s, &study, &rad, "dicomweb.retrieve", STUDY).await;
    let (st, r) = app
        .client()
        .api_send(
            "POST",
            "/api/v1/requests",
            &s.doctor,
            &json!({
                "study_id": s.study_id,
                "supporting_facility_id": s.n.kmix,
                "urgency": "routine",
                "category": "clinical",
                "modality": "CT",
                "body_parts": ["CHEST"],
                "purpose": "diagnosis",
                "clinical_info": "pneumonia",
                "clinical_note": "発熱と咳嗽が続く",
                "contact_phone": "087-111-2222",
                "confirm_arriving": true,
            })
            .to_string(),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    let request_id = r["id"].as_i64().unwrap();
    // …everything while it is live (and only at the facility it names)…
    let a = get(app, &study, &rad, None).await;
    assert_eq!((a.status, a.cache_control.as_str()), (200, "no-store"));
    assert_eq!(parts(&a).len(), 3);
    let a = get(app, &instance, &rad, None).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json()[0]["00100010"]["Value"][0]["Ideographic"],
        "山田^太郎"
    );
    hidden(&s, &study, &other_rad, "dicomweb.retrieve", STUDY).await;
    // …and nothing once it is cancelled.
    let (st, d) = app
        .client()
        .api_send(
            "POST",
            &format!("/api/v1/requests/{request_id}/cancel"),
            &s.doctor,
            &json!({ "reason": "患者都合" }).to_string(),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    hidden(&s, &study, &rad, "dicomweb.retrieve", STUDY).await;
    hidden(&s, &instance, &rad, "dicomweb.metadata", STUDY).await;
    // The sender still may.
    let a = get(app, &study, &s.doctor, None).await;
    assert_eq!(a.status, 200);
}

/// The imaging attributes a viewer needs (pixel spacing, rescale, bits, position,
/// orientation, window) are indexed at ingest and served as metadata, with DS as numbers:
/// pydicom's CT_small.dcm, and a copy given two windows and a broken pixel spacing.
#[tokio::test]
async fn metadata_carries_the_indexed_imaging_attributes() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let doctor = token(&app, &n.physician);
    let dir = tempfile::tempdir().unwrap();
    let make = r#"
import sys, pydicom
from pydicom.data import get_testdata_file
ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
ds.StudyInstanceUID = "1.2.392.300.1"
ds.SeriesInstanceUID = "1.2.392.300.1.1"
ds.SOPInstanceUID = "1.2.392.300.1.1.1"
ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
ds.save_as(sys.argv[1] + "/a.dcm")
ds.SOPInstanceUID = "1.2.392.300.1.1.2"
ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
ds.WindowCenter = ["40", "-600"]
ds.WindowWidth = ["400", "1500"]
ds.save_as(sys.argv[1] + "/b.dcm")
# An unreadable Pixel Spacing (pydicom refuses to write one, so patch the bytes).
raw = open(sys.argv[1] + "/b.dcm", "rb").read()
good = b"0.661468\\0.661468"
assert raw.count(good) == 1
open(sys.argv[1] + "/b.dcm", "wb").write(raw.replace(good, b"abc\\0.50000000000"))
"#;
    let st = std::process::Command::new("python3")
        .args(["-c", make, &dir.path().display().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let a = std::fs::read(dir.path().join("a.dcm")).unwrap();
    let b = std::fs::read(dir.path().join("b.dcm")).unwrap();
    stow(&app, &doctor, &[&a, &b]).await;

    let r = get(
        &app,
        "/dicom-web/studies/1.2.392.300.1/series/1.2.392.300.1.1/metadata",
        &doctor,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 2);
    let by_sop = |sop: &str| {
        items
            .iter()
            .find(|i| i["00080018"]["Value"][0] == sop)
            .unwrap()
            .clone()
    };
    let a = by_sop("1.2.392.300.1.1.1");
    assert_eq!(
        a["00280030"],
        json!({"vr": "DS", "Value": [0.661468, 0.661468]})
    );
    assert_eq!(a["00281052"], json!({"vr": "DS", "Value": [-1024.0]}));
    assert_eq!(a["00281053"], json!({"vr": "DS", "Value": [1.0]}));
    assert_eq!(a["00180050"], json!({"vr": "DS", "Value": [5.0]}));
    assert_eq!(
        a["00200032"],
        json!({"vr": "DS", "Value": [-158.135803, -179.035797, -75.699997]})
    );
    assert_eq!(
        a["00200037"],
        json!({"vr": "DS", "Value": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]})
    );
    assert_eq!(a["00280004"]["Value"][0], "MONOCHROME2");
    assert_eq!(a["00280100"]["Value"][0], 16);
    assert_eq!(a["00280101"]["Value"][0], 16);
    assert_eq!(a["00280103"]["Value"][0], 1);
    assert_eq!(a["00280002"]["Value"][0], 1);
    assert_eq!(
        a["00200052"]["Value"][0],
        "1.3.6.1.4.1.5962.1.4.1.1.20040119072730.12322"
    );
    assert!(a.get("00281050").is_none(), "CT_small has no window");

    let b = by_sop("1.2.392.300.1.1.2");
    assert_eq!(b["00281050"], json!({"vr": "DS", "Value": [40.0, -600.0]}));
    assert_eq!(b["00281051"], json!({"vr": "DS", "Value": [400.0, 1500.0]}));
    assert!(
        b.get("00280030").is_none(),
        "an unreadable pixel spacing is left out, not guessed"
    );
}
