//! The request screens: the form on a received study (targets with prices), the
//! confirmation, filing, the list and one request, cancelling, the referral letter, and
//! what other facilities and roles get (404 + audit, nothing written).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::reading::{self, Network};
use common::{spawn_app, Client, TestApp};
use diesel::prelude::*;
use shared::db::schema::{read_requests, request_attachments};

fn request_count(app: &TestApp) -> i64 {
    read_requests::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// The value of a hidden input on a page.
fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let i = body.find(&marker)? + marker.len();
    let rest = &body[i..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The `<option>` labels of the target dropdown.
fn target_options(body: &str) -> Vec<String> {
    let start = body.find("id=\"supporting_facility_id\"").unwrap();
    let end = start + body[start..].find("</select>").unwrap();
    body[start..end]
        .split("<option ")
        .skip(1)
        .map(|o| {
            let l = o.find('>').unwrap() + 1;
            let r = o.find("</option>").unwrap();
            o[l..r].to_owned()
        })
        .collect()
}

const FORM: &[(&str, &str)] = &[
    ("urgency", "routine"),
    ("category", "clinical"),
    ("modality", "CT"),
    ("body_parts", "CHEST"),
    ("purpose", "diagnosis"),
    ("clinical_info", "pneumonia"),
    ("clinical_note", "発熱と咳嗽が続く"),
    ("contact_phone", "087-111-2222"),
];

fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = FORM.to_vec();
    for (k, val) in extra {
        v.retain(|(kk, _)| kk != k);
        v.push((k, val));
    }
    v
}

async fn signed_in(app: &TestApp, n: &Network) -> Client {
    let mut c = app.client();
    c.sign_in(&n.physician).await;
    c
}

#[tokio::test]
async fn a_clinic_files_a_request_and_follows_it() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let study = reading::study(&app, n.clinic, "P-001", "1.2.392.1.1", "CT", 120);
    reading::settle(&app, study);
    let mut c = signed_in(&app, &n).await;

    // The study screen links to the form; the form shows the patient prominently and
    // exactly the contracted facilities that read CT, each with its price.
    let show = c.get(&format!("/studies/{study}")).await;
    assert!(show.body.contains(&format!("/studies/{study}/request")));
    let form = c.get(&format!("/studies/{study}/request")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("山田 太郎") && form.body.contains("やまだ たろう"));
    assert!(form.body.contains("Yamada Taro") && form.body.contains("P-001"));
    let opts = target_options(&form.body);
    assert_eq!(opts.len(), 3, "auto + two facilities: {opts:?}");
    assert!(opts[0].contains("指定なし"));
    assert!(
        opts.iter()
            .any(|o| o.starts_with("県立中央病院 — 3,300円（税込）")),
        "{opts:?}"
    );
    assert!(
        opts.iter()
            .any(|o| o.starts_with("救急読影センター — 3,300円（税別）")),
        "{opts:?}"
    );
    assert!(!opts.iter().any(|o| o.contains("遠方病院")));

    // An emergency changes the prices the dropdown shows (refresh without scripts).
    let kmix = n.kmix.to_string();
    let refreshed = c
        .post(
            &format!("/studies/{study}/request"),
            &with(&[("urgency", "emergency"), ("action", "refresh")]),
        )
        .await;
    assert_eq!(refreshed.status, 200);
    let opts = target_options(&refreshed.body);
    assert!(
        opts.iter()
            .any(|o| o.starts_with("県立中央病院 — 4,400円（税込）")),
        "{opts:?}"
    );
    assert!(
        opts.iter()
            .any(|o| o.starts_with("救急読影センター — 4,400円（税別）")),
        "{opts:?}"
    );

    // Review → the confirmation shows patient, target, due and the total.
    let review = c
        .post(
            &format!("/studies/{study}/request"),
            &with(&[("supporting_facility_id", &kmix), ("action", "review")]),
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(review.body.contains("依頼内容の確認"));
    assert!(review.body.contains("山田 太郎"));
    assert_eq!(
        hidden(&review.body, "expected_total").as_deref(),
        Some("3300")
    );
    assert!(review.body.contains("3,300円"));
    assert_eq!(
        request_count(&app),
        0,
        "nothing is written before submitting"
    );

    // Submit exactly what was confirmed.
    let mut fields = with(&[
        ("supporting_facility_id", &kmix),
        ("expected_total", "3300"),
    ]);
    fields.retain(|(k, _)| *k != "action");
    let done = c
        .post(&format!("/studies/{study}/request/submit"), &fields)
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let loc = done.location.unwrap();
    assert!(loc.starts_with("/requests/"), "{loc}");
    assert_eq!(request_count(&app), 1);
    assert_eq!(app.audit_count("request.create", "success"), 1);
    let jobs = {
        let mut conn = app.conn();
        shared::outbox::of_kind(&mut conn, shared::outbox::kind::REQUEST_FILED).unwrap()
    };
    assert_eq!(jobs.len(), 1);
    assert!(!jobs[0].payload.contains("山田") && !jobs[0].payload.contains("P-001"));

    let detail = c.get(&loc).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("県立中央病院"));
    assert!(detail.body.contains("依頼済"));
    assert!(detail.body.contains("3,300円"));
    assert!(detail.body.contains("発熱と咳嗽が続く"));
    let list = c.get("/requests").await;
    let path = loc.split('?').next().unwrap();
    assert!(
        list.body.contains(&format!("href=\"{path}\"")),
        "{}",
        list.body
    );
    assert!(list.body.contains("山田 太郎"));

    // A new price table does not change the filed request's price.
    let (mut rules, tax) = radvision::core::pricing::kmix_r_2022();
    for r in &mut rules {
        r.base_price += 1000;
    }
    reading::price_table(&app, Some(n.kmix), &rules, &tax);
    let detail = c.get(&loc).await;
    assert!(detail.body.contains("3,300円") && !detail.body.contains("4,300円"));
    // …but new requests are priced by it.
    let form = c.get(&format!("/studies/{study}/request")).await;
    assert!(target_options(&form.body)
        .iter()
        .any(|o| o.starts_with("県立中央病院 — 4,300円")));

    // A second live request for the same study and target is refused.
    let again = c
        .post(&format!("/studies/{study}/request/submit"), &fields)
        .await;
    assert_eq!(again.status, 422);
    assert_eq!(request_count(&app), 1);

    // Cancel (allowed before reading starts), once.
    let id = loc
        .trim_start_matches("/requests/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let p = c
        .post(&format!("/requests/{id}/cancel"), &[("reason", "重複")])
        .await;
    assert_eq!(p.status, 303);
    assert!(p.location.unwrap().contains("flash.request_cancelled"));
    let detail = c.get(&format!("/requests/{id}")).await;
    assert!(detail.body.contains("取消") && detail.body.contains("重複"));
    let p = c.post(&format!("/requests/{id}/cancel"), &[]).await;
    assert!(p.location.unwrap().contains("flash.request_not_cancelled"));
    assert_eq!(app.audit_count("request.cancel", "success"), 1);
}

#[tokio::test]
async fn tampered_prices_and_bad_targets_write_nothing() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let ct = reading::study(&app, n.clinic, "P-002", "1.2.392.2.1", "CT", 10);
    let mg = reading::study(&app, n.clinic, "P-002", "1.2.392.2.2", "MG", 4);
    reading::settle(&app, ct);
    reading::settle(&app, mg);
    let mut c = signed_in(&app, &n).await;
    c.get(&format!("/studies/{ct}/request")).await;
    let kmix = n.kmix.to_string();

    // A tampered price.
    let p = c
        .post(
            &format!("/studies/{ct}/request/submit"),
            &with(&[("supporting_facility_id", &kmix), ("expected_total", "1")]),
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("料金が確認時と異なります"), "{}", p.body);
    // No price at all.
    let p = c
        .post(
            &format!("/studies/{ct}/request/submit"),
            &with(&[("supporting_facility_id", &kmix)]),
        )
        .await;
    assert_eq!(p.status, 422);

    // No contract; a facility that does not read MG; an unknown id.
    for (study, target) in [
        (ct, n.stranger.to_string()),
        (mg, n.kagoshima.to_string()),
        (ct, "999999".to_string()),
    ] {
        let p = c
            .post(
                &format!("/studies/{study}/request/submit"),
                &with(&[
                    ("supporting_facility_id", &target),
                    ("modality", if study == mg { "MG" } else { "CT" }),
                    ("expected_total", "3300"),
                ]),
            )
            .await;
        assert_eq!(p.status, 422, "{target}");
        assert!(p.body.contains("この施設には依頼できません"), "{}", p.body);
    }
    // The MG form only offers the facility that reads MG.
    let form = c.get(&format!("/studies/{mg}/request")).await;
    let opts = target_options(&form.body);
    assert_eq!(opts.len(), 2, "{opts:?}");
    assert!(opts[1].starts_with("県立中央病院 — 990円"), "{opts:?}");

    // A suspended facility disappears from the choices and is refused.
    {
        let mut conn = app.conn();
        shared::membership::facilities::set_status(
            &mut conn,
            &shared::audit::Ctx::system("test"),
            n.kmix,
            shared::domain::FacilityStatus::Suspended,
        )
        .unwrap();
    }
    let form = c.get(&format!("/studies/{ct}/request")).await;
    assert!(!target_options(&form.body)
        .iter()
        .any(|o| o.contains("県立中央病院")));
    let p = c
        .post(
            &format!("/studies/{ct}/request/submit"),
            &with(&[
                ("supporting_facility_id", &kmix),
                ("expected_total", "3300"),
            ]),
        )
        .await;
    assert_eq!(p.status, 422);

    // A study still arriving needs the confirmation tick.
    let fresh = reading::study(&app, n.clinic, "P-002", "1.2.392.2.3", "CT", 2);
    let kago = n.kagoshima.to_string();
    let p = c
        .post(
            &format!("/studies/{fresh}/request"),
            &with(&[("supporting_facility_id", &kago), ("action", "review")]),
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("受信中の検査です"));
    let p = c
        .post(
            &format!("/studies/{fresh}/request"),
            &with(&[
                ("supporting_facility_id", &kago),
                ("action", "review"),
                ("confirm_arriving", "on"),
            ]),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);

    // Bad fields are named, nothing written.
    let p = c
        .post(
            &format!("/studies/{ct}/request"),
            &with(&[
                ("action", "review"),
                ("body_parts", "NOT_A_PART"),
                ("purpose", "x"),
                ("contact_phone", "call me"),
            ]),
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("部位マスタにない部位です"));
    assert_eq!(request_count(&app), 0);
}

#[tokio::test]
async fn no_preference_routes_to_the_shortest_queue() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let a = reading::study(&app, n.clinic, "P-003", "1.2.392.3.1", "CT", 10);
    let b = reading::study(&app, n.clinic, "P-004", "1.2.392.3.2", "CT", 10);
    reading::settle(&app, a);
    reading::settle(&app, b);
    let mut c = signed_in(&app, &n).await;
    c.get(&format!("/studies/{a}/request")).await;
    // One live request at K-MIX's hospital: the next "no preference" goes to the other.
    let kmix = n.kmix.to_string();
    let p = c
        .post(
            &format!("/studies/{a}/request/submit"),
            &with(&[
                ("supporting_facility_id", &kmix),
                ("expected_total", "3300"),
            ]),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let review = c
        .post(
            &format!("/studies/{b}/request"),
            &with(&[("supporting_facility_id", "auto"), ("action", "review")]),
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(review.body.contains("自動振り分け"));
    let target_at = review.body.find("data-testid=\"confirm-target\"").unwrap();
    assert!(review.body[target_at..].starts_with("data-testid=\"confirm-target\">救急読影センター"));
    let total = hidden(&review.body, "expected_total").unwrap();
    let shown = hidden(&review.body, "expected_target").unwrap();
    assert_eq!(shown, n.kagoshima.to_string());

    // Meanwhile the queues change: the rule would now pick the other facility. Filing what
    // was confirmed is refused rather than sent somewhere the user never saw.
    let third = reading::study(&app, n.clinic, "P-009", "1.2.392.3.3", "CT", 10);
    reading::settle(&app, third);
    let kago = n.kagoshima.to_string();
    let p = c
        .post(
            &format!("/studies/{third}/request/submit"),
            &with(&[
                ("supporting_facility_id", &kago),
                ("expected_total", "3300"),
            ]),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = c
        .post(
            &format!("/studies/{b}/request/submit"),
            &with(&[
                ("supporting_facility_id", "auto"),
                ("expected_total", &total),
                ("expected_target", &shown),
            ]),
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p
        .body
        .contains("自動振り分けの依頼先が確認時から変わりました"));
    // Cancel the extra one: the rule picks the shortest queue again, as confirmed.
    let extra: i64 = read_requests::table
        .filter(read_requests::study_id.eq(third))
        .select(read_requests::id)
        .first(&mut app.conn())
        .unwrap();
    let p = c.post(&format!("/requests/{extra}/cancel"), &[]).await;
    assert_eq!(p.status, 303);
    let p = c
        .post(
            &format!("/studies/{b}/request/submit"),
            &with(&[
                ("supporting_facility_id", "auto"),
                ("expected_total", &total),
                ("expected_target", &shown),
            ]),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let routed: (i64, String) = read_requests::table
        .filter(read_requests::study_id.eq(b))
        .select((
            read_requests::supporting_facility_id,
            read_requests::routed_by,
        ))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(routed, (n.kagoshima, "rule".to_owned()));
}

fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----enkaku-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, data)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn a_referral_letter_travels_with_the_request() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let study = reading::study(&app, n.clinic, "P-005", "1.2.392.5.1", "CT", 10);
    reading::settle(&app, study);
    let mut c = signed_in(&app, &n).await;
    c.get(&format!("/studies/{study}/request")).await;
    let kmix = n.kmix.to_string();
    let mut fields = with(&[("supporting_facility_id", &kmix), ("action", "review")]);
    let csrf = c.csrf.clone();
    fields.push(("csrf_token", &csrf));

    // Not a PDF: refused, nothing staged.
    let (ct, body) = multipart(&fields, Some(("letter.pdf", b"MZ not a pdf")));
    let r = c
        .http
        .post(format!("{}/studies/{study}/request", c.base))
        .header("Origin", &c.base)
        .header("Content-Type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("PDF ファイルを添付してください"));

    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    let (ct, body) = multipart(&fields, Some(("紹介状 山田.pdf", pdf)));
    let r = c
        .http
        .post(format!("{}/studies/{study}/request", c.base))
        .header("Origin", &c.base)
        .header("Content-Type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("紹介状 山田.pdf"));
    let attachment_id = hidden(&page, "attachment_id").unwrap();
    let total = hidden(&page, "expected_total").unwrap();

    let mut submit = with(&[
        ("supporting_facility_id", &kmix),
        ("expected_total", &total),
        ("attachment_id", &attachment_id),
    ]);
    submit.retain(|(k, _)| *k != "action");
    let p = c
        .post(&format!("/studies/{study}/request/submit"), &submit)
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let loc = p.location.unwrap();
    let id = loc
        .trim_start_matches("/requests/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let linked: Option<i64> = request_attachments::table
        .select(request_attachments::request_id)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(linked.map(|v| v.to_string()), Some(id.clone()));
    let detail = c.get(&format!("/requests/{id}")).await;
    let href = format!("/requests/{id}/attachments/{attachment_id}");
    assert!(detail.body.contains(&href));
    let r = c
        .http
        .get(format!("{}{href}", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.bytes().await.unwrap().as_ref(), pdf);
    assert_eq!(app.audit_count("request.attachment_download", "success"), 1);

    // The supporting facility's radiologist may read it; another hospital's may not.
    let mut rad = app.client();
    rad.sign_in(&n.kmix_radiologist).await;
    let r = rad
        .http
        .get(format!("{}{href}", rad.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut other = app.client();
    other.sign_in(&n.kagoshima_radiologist).await;
    let r = other
        .http
        .get(format!("{}{href}", other.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // The staged letter cannot be attached to a second request.
    assert!(app.audit_count("request.attachment_download", "denied") >= 1);
}

#[tokio::test]
async fn other_facilities_and_roles_get_nothing() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let study = reading::study(&app, n.clinic, "P-006", "1.2.392.6.1", "CT", 10);
    reading::settle(&app, study);
    let mut c = signed_in(&app, &n).await;
    c.get(&format!("/studies/{study}/request")).await;
    let kmix = n.kmix.to_string();
    let p = c
        .post(
            &format!("/studies/{study}/request/submit"),
            &with(&[
                ("supporting_facility_id", &kmix),
                ("expected_total", "3300"),
            ]),
        )
        .await;
    let id = p
        .location
        .unwrap()
        .trim_start_matches("/requests/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();

    // Another clinic's physician: the study, its form and the request are 404.
    let other_clinic = app.facility("別のクリニック", "clinic", true, false);
    reading::contract(&app, other_clinic, n.kmix, &["CT"]);
    let stranger = app.user(other_clinic, "dr.other", &["physician"]);
    let mut s = app.client();
    s.sign_in(&stranger).await;
    let before =
        app.audit_count("request.form", "denied") + app.audit_count("request.view", "denied");
    for path in [
        format!("/studies/{study}/request"),
        format!("/requests/{id}"),
    ] {
        let p = s.get(&path).await;
        assert_eq!(p.status, 404, "{path}");
        assert!(!p.body.contains("山田"));
    }
    let p = s
        .post(
            &format!("/studies/{study}/request/submit"),
            &with(&[
                ("supporting_facility_id", &kmix),
                ("expected_total", "3300"),
            ]),
        )
        .await;
    assert_eq!(p.status, 404);
    let p = s.post(&format!("/requests/{id}/cancel"), &[]).await;
    assert_eq!(p.status, 404);
    let after =
        app.audit_count("request.form", "denied") + app.audit_count("request.view", "denied");
    assert!(after >= before + 2);
    assert!(app.audit_count("request.create", "denied") >= 1);
    assert!(s.get("/requests").await.body.contains("依頼はありません"));

    // A radiologist (supporting side) uses the worklist, not the clinic's screens.
    let mut r = app.client();
    r.sign_in(&n.kmix_radiologist).await;
    assert_eq!(r.get("/requests").await.status, 404);
    assert_eq!(r.get(&format!("/requests/{id}")).await.status, 404);
    assert_eq!(
        r.get(&format!("/studies/{study}/request")).await.status,
        404
    );
    assert_eq!(request_count(&app), 1);
}

#[tokio::test]
async fn a_named_radiologist_and_priors_where_the_facility_allows_it() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let prior = reading::study(&app, n.clinic, "P-007", "1.2.392.7.1", "CT", 10);
    let study = reading::study(&app, n.clinic, "P-007", "1.2.392.7.2", "CT", 10);
    let other_patient = reading::study(&app, n.clinic, "P-008", "1.2.392.7.3", "CT", 10);
    for s in [prior, study, other_patient] {
        reading::settle(&app, s);
    }
    // K-MIX's hospital lets requesters name a radiologist; the other does not.
    {
        let mut conn = app.conn();
        shared::reading::policy::set(
            &mut conn,
            &shared::audit::Ctx::system("test"),
            n.kmix,
            &shared::reading::policy::PolicyForm {
                accepts_emergency: true,
                emergency_from: "00:00".into(),
                emergency_until: "00:00".into(),
                routine_cutoff: "12:00".into(),
                routine_days: "1".into(),
                allow_radiologist_choice: true,
            },
        )
        .unwrap();
    }
    let mut c = signed_in(&app, &n).await;
    let form = c.get(&format!("/studies/{study}/request")).await;
    assert!(form.body.contains("id=\"radiologist_id\""));
    assert!(form.body.contains("rad.kmix 様"));
    assert!(
        !form.body.contains("rad.kago 様"),
        "the other facility offers no choice"
    );
    // The patient's other study is offered as a prior; another patient's is not.
    assert!(form
        .body
        .contains(&format!("name=\"priors\" value=\"{prior}\"")));
    assert!(!form
        .body
        .contains(&format!("name=\"priors\" value=\"{other_patient}\"")));

    let kmix = n.kmix.to_string();
    let rad = n.kmix_radiologist.id.to_string();
    let foreign_rad = n.kagoshima_radiologist.id.to_string();
    let prior_s = prior.to_string();
    let other_s = other_patient.to_string();
    // A radiologist of another facility, or another patient's study as a prior: refused.
    let p = c
        .post(
            &format!("/studies/{study}/request"),
            &with(&[
                ("supporting_facility_id", &kmix),
                ("radiologist_id", &foreign_rad),
                ("priors", &other_s),
                ("action", "review"),
            ]),
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("この施設の読影医から選んでください"));
    assert!(p
        .body
        .contains("比較検査はこの患者の当院の検査から選んでください"));
    // The right ones: the comparison reading is priced (K-MIX: 550 where not included).
    let (rules, _) = radvision::core::pricing::kmix_r_2022();
    let ct = rules
        .iter()
        .find(|r| {
            r.exam == shared::domain::Exam::Ct && r.category == shared::domain::Category::Clinical
        })
        .unwrap();
    let expected = ct.base_price + ct.comparison_price;
    let review = c
        .post(
            &format!("/studies/{study}/request"),
            &with(&[
                ("supporting_facility_id", &kmix),
                ("radiologist_id", &rad),
                ("priors", &prior_s),
                ("action", "review"),
            ]),
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(review.body.contains("rad.kmix 様"));
    assert_eq!(
        hidden(&review.body, "expected_total"),
        Some(expected.to_string())
    );
    let total = expected.to_string();
    let p = c
        .post(
            &format!("/studies/{study}/request/submit"),
            &with(&[
                ("supporting_facility_id", &kmix),
                ("radiologist_id", &rad),
                ("priors", &prior_s),
                ("expected_total", &total),
            ]),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let (named, id): (Option<i64>, i64) = read_requests::table
        .select((read_requests::radiologist_id, read_requests::id))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(named, Some(n.kmix_radiologist.id));
    let detail = c.get(&format!("/requests/{id}")).await;
    assert!(detail.body.contains("比較読影加算"));
    assert!(
        detail.body.contains("2026-11-20 CT CT 検査"),
        "the prior is listed"
    );
}

#[tokio::test]
async fn showing_the_form_with_the_patient_is_audited() {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let study = reading::study(&app, n.clinic, "P-007", "1.2.392.7.1", "CT", 10);
    reading::settle(&app, study);
    let mut c = signed_in(&app, &n).await;

    // The form, a refresh and the confirmation each show the patient: each is a view.
    let p = c.get(&format!("/studies/{study}/request")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("山田 太郎"));
    let p = c
        .post(
            &format!("/studies/{study}/request"),
            &with(&[("action", "refresh")]),
        )
        .await;
    assert_eq!(p.status, 200);
    let events = shared::audit::search(
        &mut app.conn(),
        &shared::audit::Filter {
            action: Some("request.form".into()),
            outcome: Some("success".into()),
            ..Default::default()
        },
        0,
        100,
    )
    .unwrap();
    assert_eq!(events.len(), 2, "one view event per page shown");
    for ev in events {
        assert_eq!(ev.study_ref.as_deref(), Some("1.2.392.7.1"));
        assert!(ev.patient_ref.is_some());
        let detail = ev.detail.unwrap_or_default();
        assert!(
            !detail.contains("山田") && !detail.contains("P-007"),
            "{detail}"
        );
    }
}
