//! The report screens: the reader's editor (clinical information, draft, confirmation step,
//! confirm, addendum), the clinic's report (link on the request, print stylesheet, no-store,
//! acknowledge), templates, and 404 + audit for everyone else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::reading;
use common::{spawn_app, Client};
use serde_json::json;
use shared::audit::Ctx;
use shared::auth::tokens;

fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let i = body.find(&marker)? + marker.len();
    let rest = &body[i..];
    Some(rest[..rest.find('"')?].to_owned())
}

#[tokio::test]
async fn a_radiologist_writes_and_confirms_and_the_clinic_reads_prints_and_acknowledges() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let ct = reading::study(&app, n.clinic, "P-001", "1.2.392.1.1", "CT", 5);
    reading::settle(&app, ct);
    let doctor_token = tokens::issue(
        &mut app.conn(),
        &Ctx::system("t"),
        n.physician.id,
        "t",
        "30",
        365,
    )
    .unwrap()
    .0;
    let (st, v) = app
        .client()
        .api_send(
            "POST",
            "/api/v1/requests",
            &doctor_token,
            &json!({
                "study_id": ct, "supporting_facility_id": n.kmix, "urgency": "routine",
                "category": "clinical", "modality": "CT", "body_parts": ["CHEST"],
                "purpose": "diagnosis", "clinical_info": "pneumonia",
                "clinical_note": "発熱と咳嗽が続く", "contact_phone": "087-111-2222",
            })
            .to_string(),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let id = v["id"].as_i64().unwrap();

    // A template of the reading hospital.
    let mut rad = Client::new(&app.base);
    rad.sign_in(&n.kmix_radiologist).await;
    rad.get("/facility/report-templates").await;
    let p = rad
        .post(
            "/facility/report-templates",
            &[
                ("name", "胸部CT 正常"),
                ("exam", "ct"),
                ("region", "chest"),
                ("findings", "両肺野に異常影を認めない。"),
                ("impression", "異常なし。"),
                ("recommendation", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);

    // The editor shows the clinical information and the template.
    let ed = rad.get(&format!("/worklist/{id}/report")).await;
    assert_eq!(ed.status, 200, "{}", ed.body);
    assert!(ed.body.contains("発熱と咳嗽が続く"));
    assert!(ed.body.contains("山田 太郎"));
    assert!(ed.body.contains("胸部CT 正常"));
    assert_eq!(hidden(&ed.body, "revision").as_deref(), Some("0"));
    // Manual save, then a stale save is a 409.
    let fields = |rev: &'static str| {
        vec![
            ("revision", rev),
            ("findings", "右肺下葉に浸潤影。"),
            ("impression", "肺炎。"),
            ("recommendation", ""),
        ]
    };
    let p = rad
        .post(&format!("/worklist/{id}/report/draft"), &fields("0"))
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = rad
        .post(&format!("/worklist/{id}/report/draft"), &fields("0"))
        .await;
    assert_eq!(p.status, 409);
    // Review → the confirmation step → confirm.
    let review = rad
        .post(&format!("/worklist/{id}/report/review"), &fields("1"))
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(review.body.contains("確定する"));
    let rev = hidden(&review.body, "revision").unwrap();
    assert_eq!(rev, "2");
    let done = rad
        .post(
            &format!("/worklist/{id}/report/confirm"),
            &[("revision", &rev)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    // After confirmation the draft routes refuse; an addendum is the way.
    let p = rad
        .post(&format!("/worklist/{id}/report/draft"), &fields("0"))
        .await;
    assert_eq!(p.status, 409);
    let p = rad
        .post(
            &format!("/worklist/{id}/report/confirm"),
            &[("revision", "0")],
        )
        .await;
    assert_eq!(p.status, 409);
    let p = rad
        .post(
            &format!("/worklist/{id}/report/addenda"),
            &[
                ("addendum_reason", ""),
                ("findings", "追記"),
                ("impression", ""),
                ("recommendation", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    let p = rad
        .post(
            &format!("/worklist/{id}/report/addenda"),
            &[
                ("addendum_reason", "所見の追加"),
                ("findings", "胸水なし。"),
                ("impression", ""),
                ("recommendation", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);

    // The clinic: the request links to the report; the report shows both versions.
    let mut clinic = Client::new(&app.base);
    clinic.sign_in(&n.physician).await;
    let req = clinic.get(&format!("/requests/{id}")).await;
    assert!(req.body.contains(&format!("/requests/{id}/report")));
    let r = clinic
        .http
        .get(format!("{}/requests/{id}/report", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body = r.text().await.unwrap();
    assert!(body.contains("右肺下葉に浸潤影。") && body.contains("胸水なし。"));
    assert!(body.contains("所見の追加"));
    assert!(body.contains("/static/reports/print.css"));
    assert!(body.contains("rad.kmix 様"));
    let css = clinic.get("/static/reports/print.css").await;
    assert!(css.body.contains("Noto") && css.body.contains("nav"));
    assert!(app.audit_count("report.view", "success") >= 1);
    clinic.get(&format!("/requests/{id}/report")).await;
    let p = clinic
        .post(&format!("/requests/{id}/report/acknowledge"), &[])
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(app.audit_count("report.acknowledge", "success"), 1);

    // Everyone else: 404 and a denial in the audit trail.
    let other = app.facility("別のクリニック", "clinic", true, false);
    let other_doctor = app.user(other, "dr.other", &["physician"]);
    for u in [
        &n.kagoshima_radiologist,
        &n.stranger_radiologist,
        &other_doctor,
    ] {
        let mut c = Client::new(&app.base);
        c.sign_in(u).await;
        for path in [
            format!("/worklist/{id}/report"),
            format!("/requests/{id}/report"),
        ] {
            let before = app.audit_count("report.view", "denied");
            let p = c.get(&path).await;
            assert_eq!(p.status, 404, "{} {path}", u.username);
            assert_eq!(app.audit_count("report.view", "denied"), before + 1);
        }
        let p = c
            .post(&format!("/worklist/{id}/report/draft"), &fields("0"))
            .await;
        assert_eq!(p.status, 404);
    }
    // The clinic cannot open the editor; guessed ids are 404.
    assert_eq!(
        clinic.get(&format!("/worklist/{id}/report")).await.status,
        404
    );
    assert_eq!(rad.get("/worklist/999999/report").await.status, 404);
    assert_eq!(clinic.get("/requests/999999/report").await.status, 404);
}
