//! QIDO-RS (`GET /dicom-web/studies`, `/series`, `/instances`): the PyPI `dicomweb-client`
//! searching by Patient ID, Japanese names (kanji, kana, romaji), dates and modalities, with
//! the right counts and DICOM JSON; paging, errors and headers; and who sees what — another
//! clinic nothing, a supporting hospital only what a request made visible (the study and
//! its listed prior, until the request is cancelled), guesses 404 and audited, facility
//! administrators nothing, the browser session like a token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::reading::{self, Network};
use common::*;
use serde_json::{json, Value};
use sha2::Digest;
use shared::audit::Ctx;
use shared::auth::tokens;
use shared::index::{self, NewInstance};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/qido_client.py")
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

/// Runs `queries` through tests/python/qido_client.py (dicomweb-client) and returns one
/// result per query.
/// The app runs on the test's runtime: the client runs on a blocking thread meanwhile.
async fn dicomweb_client(app: &TestApp, token: &str, queries: &[Value]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queries.json");
    std::fs::write(&file, serde_json::to_vec(queries).unwrap()).unwrap();
    let (base, token) = (app.base.clone(), token.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script())
            .arg(&base)
            .arg(&token)
            .arg(&file)
            .output()
            .expect("python3 with dicomweb-client")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "qido_client.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array().unwrap().clone()
}

fn uids(result: &Value, tag: &str) -> Vec<String> {
    result["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {result}"))
        .iter()
        .map(|r| r[tag]["Value"][0].as_str().unwrap().to_owned())
        .collect()
}

fn study_uids(result: &Value) -> Vec<String> {
    uids(result, "0020000D")
}

/// One instance recorded straight into the index.
struct Rec<'a> {
    patient: &'a str,
    name: [&'a str; 3],
    study: &'a str,
    date: (i32, u32, u32),
    series: &'a str,
    series_number: i32,
    modality: &'a str,
    sop: &'a str,
    number: i32,
}

fn record(app: &TestApp, facility: i64, r: &Rec) -> i64 {
    let sha = hex::encode(sha2::Sha256::digest(r.sop.as_bytes()));
    let n = NewInstance {
        facility_id: facility,
        patient_key: r.patient.into(),
        name_alphabetic: r.name[0].into(),
        name_ideographic: r.name[1].into(),
        name_phonetic: r.name[2].into(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1958, 7, 15),
        sex: "F".into(),
        study_uid: r.study.into(),
        accession_number: format!("ACC-{}", r.study.rsplit('.').next().unwrap()),
        study_date: chrono::NaiveDate::from_ymd_opt(r.date.0, r.date.1, r.date.2),
        study_time: "093000".into(),
        study_description: format!("{} 検査", r.modality),
        referring_physician: "Suzuki^Ichiro=鈴木^一郎".into(),
        modality: r.modality.into(),
        body_part: "CHEST".into(),
        series_uid: r.series.into(),
        series_number: Some(r.series_number),
        series_description: format!("series {}", r.series_number),
        sop_instance_uid: r.sop.into(),
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
        transfer_syntax_uid: "1.2.840.10008.1.2.1".into(),
        instance_number: Some(r.number),
        rows: Some(512),
        columns: Some(256),
        frames: None,
        imaging: Default::default(),
        size_bytes: 1000,
        storage_key: format!("sha256/{}/{sha}", &sha[..2]),
        sha256: sha,
        received_via: "c-store".into(),
    };
    match index::record_instance(&mut app.conn(), &Ctx::system("test"), &n, i64::MAX).unwrap() {
        index::Recorded::New { study_id, .. } => study_id,
        other => panic!("not recorded: {other:?}"),
    }
}

const YAMADA: [&str; 3] = ["Yamada^Hanako", "山田^花子", "やまだ^はなこ"];
const SATO: [&str; 3] = ["Sato^Jiro", "佐藤^次郎", "さとう^じろう"];
const S1: &str = "1.2.392.200.1";
const S2: &str = "1.2.392.200.2";
const S3: &str = "1.2.392.200.3";

/// The clinic's three studies: S1 (Yamada, 2025-03-01, CT 3 + SR 1), S2 (Sato,
/// 2025-04-10, MR 2), S3 (Yamada, 2024-12-01, CR 1).
fn clinic_studies(app: &TestApp, clinic: i64) {
    #[allow(clippy::too_many_arguments)]
    fn base<'a>(
        study: &'a str,
        date: (i32, u32, u32),
        series: &'a str,
        series_number: i32,
        modality: &'a str,
        sop: &'a str,
        number: i32,
    ) -> Rec<'a> {
        Rec {
            patient: "P-100",
            name: YAMADA,
            study,
            date,
            series,
            series_number,
            modality,
            sop,
            number,
        }
    }
    for i in 1..=3 {
        let sop = format!("{S1}.1.{i}");
        record(
            app,
            clinic,
            &base(S1, (2025, 3, 1), "1.2.392.200.1.1", 1, "CT", &sop, i),
        );
    }
    record(
        app,
        clinic,
        &base(
            S1,
            (2025, 3, 1),
            "1.2.392.200.1.2",
            2,
            "SR",
            "1.2.392.200.1.2.1",
            1,
        ),
    );
    for i in 1..=2 {
        let sop = format!("{S2}.1.{i}");
        let mut r = base(S2, (2025, 4, 10), "1.2.392.200.2.1", 1, "MR", &sop, i);
        r.patient = "P-200";
        r.name = SATO;
        record(app, clinic, &r);
    }
    record(
        app,
        clinic,
        &base(
            S3,
            (2024, 12, 1),
            "1.2.392.200.3.1",
            1,
            "CR",
            "1.2.392.200.3.1.1",
            1,
        ),
    );
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut rb = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .header("Accept", "application/dicom+json");
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb.send().await.unwrap()
}

fn search_events(app: &TestApp) -> Vec<shared::audit::AuditEvent> {
    shared::audit::search(
        &mut app.conn(),
        &shared::audit::Filter {
            action: Some("dicomweb.search".into()),
            ..Default::default()
        },
        0,
        100_000,
    )
    .unwrap()
}

#[tokio::test]
async fn a_requester_searches_its_studies_series_and_instances_with_dicomweb_client() {
    let app = spawn_app().await;
    let n: Network = reading::network(&app);
    clinic_studies(&app, n.clinic);
    let tok = token(&app, &n.physician);

    let r = dicomweb_client(
        &app,
        &tok,
        &[
            json!({"level": "studies", "filters": {"PatientID": "P-100"}}),
            json!({"level": "studies", "filters": {"PatientName": "山田"}}),
            json!({"level": "studies", "filters": {"PatientName": "ヤマダ*"}}),
            json!({"level": "studies", "filters": {"00100010": "さとう"}}),
            json!({"level": "studies", "filters": {"PatientName": "yamada^hanako"}}),
            json!({"level": "studies", "filters": {"StudyDate": "20250101-20250531", "ModalitiesInStudy": "MR"}}),
            json!({"level": "studies", "filters": {"StudyDate": "-20241231"}}),
            json!({"level": "studies", "filters": {"ModalitiesInStudy": "SR"}}),
            json!({"level": "studies", "filters": {"StudyInstanceUID": format!("{S1},{S3}")}}),
            json!({"level": "studies", "filters": {"AccessionNumber": "ACC-2"}}),
            json!({"level": "studies", "limit": 1, "offset": 1, "fields": ["all"]}),
            json!({"level": "series", "study": S1}),
            json!({"level": "series", "study": S1, "filters": {"Modality": "SR"}}),
            json!({"level": "series"}),
            json!({"level": "instances", "study": S1, "series": "1.2.392.200.1.1"}),
            json!({"level": "instances", "study": S1}),
            json!({"level": "studies", "filters": {"PatientID": "P-999"}}),
        ],
    ).await;
    assert!(r.iter().all(|x| x["status"] == 200), "{r:?}");
    assert_eq!(study_uids(&r[0]), [S1, S3], "newest first");
    assert_eq!(study_uids(&r[1]), [S1, S3], "kanji");
    assert_eq!(study_uids(&r[2]), [S1, S3], "katakana for stored hiragana");
    assert_eq!(study_uids(&r[3]), [S2], "hiragana, by tag");
    assert_eq!(study_uids(&r[4]), [S1, S3], "romaji, any case");
    assert_eq!(study_uids(&r[5]), [S2]);
    assert_eq!(study_uids(&r[6]), [S3]);
    assert_eq!(study_uids(&r[7]), [S1]);
    assert_eq!(study_uids(&r[8]), [S1, S3]);
    assert_eq!(study_uids(&r[9]), [S2]);
    assert_eq!(study_uids(&r[10]), [S1], "second of S2, S1, S3");
    assert_eq!(r[16]["results"], json!([]));

    // The study attributes, read back by pydicom too.
    let s1 = &r[0]["results"][0];
    assert_eq!(r[0]["names"][0], "Yamada^Hanako=山田^花子=やまだ^はなこ");
    assert_eq!(
        s1["00100010"],
        json!({"vr": "PN", "Value": [{"Alphabetic": "Yamada^Hanako", "Ideographic": "山田^花子", "Phonetic": "やまだ^はなこ"}]})
    );
    assert_eq!(s1["00100020"]["Value"][0], "P-100");
    assert_eq!(s1["00100030"]["Value"][0], "19580715");
    assert_eq!(s1["00100040"]["Value"][0], "F");
    assert_eq!(s1["00080020"]["Value"][0], "20250301");
    assert_eq!(s1["00080030"]["Value"][0], "093000");
    assert_eq!(s1["00080050"]["Value"][0], "ACC-1");
    assert_eq!(s1["00080061"]["Value"], json!(["CT", "SR"]));
    assert_eq!(s1["00081030"]["Value"][0], "CT 検査");
    assert_eq!(s1["00080090"]["Value"][0]["Ideographic"], "鈴木^一郎");
    assert_eq!(s1["00201206"], json!({"vr": "IS", "Value": [2]}));
    assert_eq!(s1["00201208"], json!({"vr": "IS", "Value": [4]}));
    assert_eq!(
        s1["00081190"]["Value"][0],
        format!("{}/dicom-web/studies/{S1}", app.base)
    );

    // Series of S1 with their counts; the SR series alone; every series of the clinic.
    let series = r[11]["results"].as_array().unwrap();
    assert_eq!(
        uids(&r[11], "0020000E"),
        ["1.2.392.200.1.1", "1.2.392.200.1.2"]
    );
    assert_eq!(series[0]["00080060"]["Value"][0], "CT");
    assert_eq!(series[0]["00200011"]["Value"][0], 1);
    assert_eq!(series[0]["00201209"]["Value"][0], 3);
    assert_eq!(series[1]["00201209"]["Value"][0], 1);
    assert_eq!(series[0]["00180015"]["Value"][0], "CHEST");
    assert_eq!(series[0]["0008103E"]["Value"][0], "series 1");
    assert_eq!(
        series[0]["00081190"]["Value"][0],
        format!("{}/dicom-web/studies/{S1}/series/1.2.392.200.1.1", app.base)
    );
    assert_eq!(uids(&r[12], "0020000E"), ["1.2.392.200.1.2"]);
    assert_eq!(r[13]["results"].as_array().unwrap().len(), 4);
    // Instances of one series, and of the whole study.
    let inst = r[14]["results"].as_array().unwrap();
    assert_eq!(
        uids(&r[14], "00080018"),
        [
            "1.2.392.200.1.1.1",
            "1.2.392.200.1.1.2",
            "1.2.392.200.1.1.3"
        ]
    );
    assert_eq!(inst[0]["00080016"]["Value"][0], "1.2.840.10008.5.1.4.1.1.2");
    assert_eq!(inst[0]["00083002"]["Value"][0], "1.2.840.10008.1.2.1");
    assert_eq!(inst[0]["00280010"], json!({"vr": "US", "Value": [512]}));
    assert_eq!(inst[0]["00280011"], json!({"vr": "US", "Value": [256]}));
    assert_eq!(inst[2]["00200013"]["Value"][0], 3);
    assert_eq!(
        inst[0]["00081190"]["Value"][0],
        format!(
            "{}/dicom-web/studies/{S1}/series/1.2.392.200.1.1/instances/1.2.392.200.1.1.1",
            app.base
        )
    );
    assert_eq!(r[15]["results"].as_array().unwrap().len(), 4);

    // One audit event per search, with filter names and never the patient's identity.
    let events = search_events(&app);
    assert_eq!(events.len(), 17);
    assert!(events.iter().all(|e| e.outcome == "success"));
    for e in &events {
        let d = e.detail.clone().unwrap_or_default();
        assert!(
            !d.contains("P-100") && !d.contains("山田") && !d.contains("ヤマダ"),
            "{d}"
        );
    }
    assert!(events.iter().any(|e| e
        .detail
        .as_deref()
        .unwrap_or("")
        .contains("\"PatientName\"")));
    assert!(events.iter().any(|e| e.study_ref.as_deref() == Some(S1)
        && e.detail.as_deref().unwrap_or("").contains("\"series\"")));

    // Headers, paging warning, errors.
    let resp = get(&app, "/dicom-web/studies?limit=1", Some(&tok)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/dicom+json"));
    assert!(resp.headers()["warning"]
        .to_str()
        .unwrap()
        .starts_with("299 "));
    let resp = get(&app, "/dicom-web/studies?limit=5", Some(&tok)).await;
    assert!(resp.headers().get("warning").is_none());
    assert_eq!(
        resp.json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for (q, needle) in [
        ("StudyTime=0930", "unsupported query key `StudyTime`"),
        ("StudyDate=2025-03-01", "StudyDate"),
        ("Modality=CT", "not a study-level"),
        ("limit=0", "limit"),
        ("StudyInstanceUID=1.2.abc", "StudyInstanceUID"),
    ] {
        let resp = get(&app, &format!("/dicom-web/studies?{q}"), Some(&tok)).await;
        assert_eq!(resp.status(), 400, "{q}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"], "bad_request");
        assert!(e["message"].as_str().unwrap().contains(needle), "{q}: {e}");
    }
    let resp = get(
        &app,
        &format!("/dicom-web/studies/{S1}/series?SOPInstanceUID=1.2"),
        Some(&tok),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let resp = reqwest::Client::new()
        .get(format!("{}/dicom-web/studies", app.base))
        .header("Accept", "application/dicom+xml")
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 406);
    let resp = reqwest::Client::new()
        .post(format!("{}/dicom-web/series", app.base))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(get(&app, "/dicom-web/studies", None).await.status(), 401);
    // A series that is not in the study: 404 (and audited).
    let denied = app.audit_count("dicomweb.search", "denied");
    let resp = get(
        &app,
        &format!("/dicom-web/studies/{S1}/series/1.2.392.200.2.1/instances"),
        Some(&tok),
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(app.audit_count("dicomweb.search", "denied"), denied + 1);
}

#[tokio::test]
async fn another_clinic_guesses_and_administrators_get_nothing_and_the_session_works() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    clinic_studies(&app, n.clinic);
    let other = app.facility("別のクリニック", "clinic", true, false);
    let other_doctor = app.user(other, "dr.other", &["physician"]);
    let other_tok = token(&app, &other_doctor);
    let admin = app.user(n.clinic, "admin.clinic", &["facility_admin"]);
    let admin_tok = token(&app, &admin);
    let mine = token(&app, &n.physician);

    // The other clinic finds nothing, whatever it asks.
    let r = dicomweb_client(
        &app,
        &other_tok,
        &[
            json!({"level": "studies"}),
            json!({"level": "studies", "filters": {"PatientID": "P-100"}}),
            json!({"level": "series"}),
            json!({"level": "studies", "filters": {"StudyInstanceUID": S1}}),
            json!({"level": "series", "study": S1}),
            json!({"level": "instances", "study": S1}),
        ],
    )
    .await;
    for x in &r[..4] {
        assert_eq!(x["status"], 200, "{x}");
        assert_eq!(x["results"], json!([]), "{x}");
    }
    assert_eq!(r[4]["status"], 404);
    assert_eq!(r[5]["status"], 404);
    let denials: Vec<_> = search_events(&app)
        .into_iter()
        .filter(|e| e.outcome == "denied")
        .collect();
    assert_eq!(denials.len(), 2);
    assert!(denials
        .iter()
        .all(|e| e.object_id.as_deref() == Some(S1) && e.facility_id == Some(other)));

    // Guessed and malformed UIDs: 404, audited.
    let before = app.audit_count("dicomweb.search", "denied");
    for path in [
        "/dicom-web/studies/1.2.392.999.9/series",
        "/dicom-web/studies/1.2.392.999.9/instances",
        "/dicom-web/studies/not-a-uid/series",
        "/dicom-web/studies/1.2.392.200.1/series/x/instances",
    ] {
        let resp = get(&app, path, Some(&mine)).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    assert_eq!(app.audit_count("dicomweb.search", "denied"), before + 4);

    // A facility administrator sees no images: 404 everywhere, audited.
    let before = app.audit_count("dicomweb.search", "denied");
    for path in [
        "/dicom-web/studies".to_owned(),
        "/dicom-web/series".to_owned(),
        format!("/dicom-web/studies/{S1}/series"),
    ] {
        assert_eq!(
            get(&app, &path, Some(&admin_tok)).await.status(),
            404,
            "{path}"
        );
    }
    assert_eq!(app.audit_count("dicomweb.search", "denied"), before + 3);

    // The browser session works like a token.
    let mut c = app.client();
    c.sign_in(&n.physician).await;
    let resp = c
        .http
        .get(format!("{}/dicom-web/studies?PatientName=佐藤", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["0020000D"]["Value"][0], S2);
    let resp = c
        .http
        .get(format!("{}/dicom-web/studies/{S2}/series", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v[0]["00201209"]["Value"][0], 2);
}

#[tokio::test]
async fn a_supporting_hospital_sees_the_requested_study_and_its_prior_until_cancelled() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let prior = reading::study(&app, n.clinic, "P-007", "1.2.392.7.1", "CT", 2);
    let study = reading::study(&app, n.clinic, "P-007", "1.2.392.7.2", "CT", 3);
    let unlisted = reading::study(&app, n.clinic, "P-007", "1.2.392.7.4", "CT", 1);
    let other_patient = reading::study(&app, n.clinic, "P-008", "1.2.392.7.3", "CT", 1);
    for s in [prior, study, unlisted, other_patient] {
        reading::settle(&app, s);
    }
    let doctor = token(&app, &n.physician);
    let reader = token(&app, &n.kmix_radiologist);
    let other_reader = token(&app, &n.kagoshima_radiologist);
    let everything = [
        json!({"level": "studies"}),
        json!({"level": "series"}),
        json!({"level": "studies", "filters": {"PatientID": "P-007"}}),
        json!({"level": "series", "study": "1.2.392.7.2"}),
        json!({"level": "instances", "study": "1.2.392.7.1"}),
        json!({"level": "series", "study": "1.2.392.7.4"}),
    ];

    // Before any request: nothing, and the study itself is 404 (audited).
    let denied = app.audit_count("dicomweb.search", "denied");
    let r = dicomweb_client(&app, &reader, &everything).await;
    for x in &r[..3] {
        assert_eq!(x["results"], json!([]), "{x}");
    }
    assert_eq!(
        (
            r[3]["status"].as_i64(),
            r[4]["status"].as_i64(),
            r[5]["status"].as_i64()
        ),
        (Some(404), Some(404), Some(404))
    );
    assert_eq!(app.audit_count("dicomweb.search", "denied"), denied + 3);

    // A request to K-MIX's hospital listing the prior.
    let body = json!({
        "study_id": study,
        "supporting_facility_id": n.kmix,
        "urgency": "routine",
        "category": "clinical",
        "modality": "CT",
        "body_parts": ["CHEST"],
        "purpose": "diagnosis",
        "clinical_info": "pneumonia",
        "contact_phone": "087-111-2222",
        "priors": [prior],
    });
    let (st, req) = app
        .client()
        .api_send("POST", "/api/v1/requests", &doctor, &body.to_string())
        .await;
    assert_eq!(st, 201, "{req}");
    let id = req["id"].as_i64().unwrap();

    let r = dicomweb_client(&app, &reader, &everything).await;
    let mut seen = study_uids(&r[0]);
    seen.sort();
    assert_eq!(
        seen,
        ["1.2.392.7.1", "1.2.392.7.2"],
        "the study and its prior only"
    );
    assert_eq!(r[1]["results"].as_array().unwrap().len(), 2);
    assert_eq!(study_uids(&r[2]).len(), 2);
    assert_eq!(r[3]["status"], 200);
    assert_eq!(r[3]["results"][0]["00201209"]["Value"][0], 3);
    assert_eq!(r[4]["results"].as_array().unwrap().len(), 2);
    assert_eq!(
        r[5]["status"], 404,
        "the patient's other study stays hidden"
    );
    assert_eq!(r[0]["names"][0], "Yamada^Taro=山田^太郎=やまだ^たろう");
    // The hospital not asked still sees nothing.
    let r = dicomweb_client(&app, &other_reader, &everything[..1]).await;
    assert_eq!(r[0]["results"], json!([]));

    // Cancelled: nothing again.
    let (st, d) = app
        .client()
        .api_send(
            "POST",
            &format!("/api/v1/requests/{id}/cancel"),
            &doctor,
            &json!({"reason": "患者都合"}).to_string(),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    let r = dicomweb_client(&app, &reader, &everything).await;
    for x in &r[..3] {
        assert_eq!(x["results"], json!([]), "{x}");
    }
    assert_eq!(r[3]["status"], 404);
    assert_eq!(r[4]["status"], 404);
}
