//! The read-request API: quotes (which facilities, at what price), filing (validation,
//! ineligible targets, tampered totals, duplicates, arriving studies), the lists and one
//! request for both sides, cancelling, the price snapshot, the notification job, and what
//! everyone else gets (404 + a denied audit event, nothing written).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::reading::{self, Network};
use common::{spawn_app, TestApp, TestUser};
use diesel::prelude::*;
use radvision::core::pricing::{self, LineKind};
use serde_json::{json, Value};
use shared::audit::Ctx;
use shared::auth::tokens;
use shared::db::schema::read_requests;
use shared::domain::{Category, Exam, FacilityStatus};
use shared::membership::facilities;

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

fn request_count(app: &TestApp) -> i64 {
    read_requests::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
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

/// A complete routine request body for a study, to `target` (None: no preference).
fn body(study: i64, target: Option<i64>) -> Value {
    json!({
        "study_id": study,
        "supporting_facility_id": target,
        "urgency": "routine",
        "category": "clinical",
        "modality": "CT",
        "body_parts": ["CHEST"],
        "purpose": "diagnosis",
        "clinical_info": "pneumonia",
        "clinical_note": "発熱と咳嗽が続く",
        "contact_phone": "087-111-2222",
    })
}

fn with(mut v: Value, extra: Value) -> String {
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string()
}

/// The network, a settled CT study of 100 images and the physician's token.
struct Setup {
    app: TestApp,
    n: Network,
    ct: i64,
    doctor: String,
}

async fn setup() -> Setup {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let ct = reading::study(&app, n.clinic, "P-001", "1.2.392.1.1", "CT", 100);
    reading::settle(&app, ct);
    let doctor = token(&app, &n.physician);
    Setup { app, n, ct, doctor }
}

fn option(q: &Value, facility: i64) -> &Value {
    q["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["facility_id"] == facility)
        .unwrap_or_else(|| panic!("facility {facility} not offered: {q}"))
}

fn option_ids(q: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = q["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["facility_id"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids
}

async fn quote(s: &Setup, b: &str) -> (u16, Value) {
    s.app
        .client()
        .api_send("POST", "/api/v1/requests/quote", &s.doctor, b)
        .await
}

async fn file(s: &Setup, b: &str) -> (u16, Value) {
    s.app
        .client()
        .api_send("POST", "/api/v1/requests", &s.doctor, b)
        .await
}

#[tokio::test]
async fn a_quote_lists_the_contracted_facilities_that_read_the_modality_with_their_prices() {
    let s = setup().await;
    let n = &s.n;
    let (st, q) = quote(&s, &json!({ "study_id": s.ct }).to_string()).await;
    assert_eq!(st, 200, "{q}");
    let mut both = vec![n.kmix, n.kagoshima];
    both.sort();
    assert_eq!(option_ids(&q), both, "never the stranger");
    assert_eq!(q["arriving"], false);
    assert_eq!(q["basis"]["modality"], "CT");
    assert_eq!(q["basis"]["images"], 100);

    // K-MIX R 2022: CT, one body part, 100 images, routine: 3,300 tax included.
    let k = option(&q, n.kmix);
    assert_eq!(k["name"], "県立中央病院");
    assert_eq!(k["backlog"], 0);
    assert_eq!(k["quote"]["total"], 3_300);
    assert_eq!(k["quote"]["subtotal"], 3_300);
    assert_eq!(k["quote"]["tax"], 300);
    assert_eq!(k["quote"]["tax_included"], true);
    assert_eq!(k["quote"]["tax_rate_percent"], 10);
    assert_eq!(
        k["quote"]["lines"],
        json!([{ "kind": "base", "quantity": 1, "unit_price": 3_300, "amount": 3_300 }])
    );
    assert!(k["due_at"].as_str().is_some());
    assert!(k["radiologists"].is_array());
    // Kagoshima style: 3,000 + 10 % tax on top.
    let g = option(&q, n.kagoshima);
    assert_eq!(g["quote"]["subtotal"], 3_000);
    assert_eq!(g["quote"]["tax"], 300);
    assert_eq!(g["quote"]["total"], 3_300);
    assert_eq!(g["quote"]["tax_included"], false);
    // Equal backlog and price: the lower id wins "no preference".
    assert_eq!(q["no_preference"]["facility_id"], n.kmix.min(n.kagoshima));
    assert_eq!(q["selected_facility_id"], n.kmix.min(n.kagoshima));

    // An emergency: 4,400 at both.
    let (st, q) = quote(
        &s,
        &json!({ "study_id": s.ct, "urgency": "emergency" }).to_string(),
    )
    .await;
    assert_eq!(st, 200, "{q}");
    assert_eq!(option(&q, n.kmix)["quote"]["total"], 4_400);
    assert_eq!(option(&q, n.kagoshima)["quote"]["total"], 4_400);
    assert_eq!(option(&q, n.kagoshima)["quote"]["subtotal"], 4_000);
    let kinds: Vec<&str> = option(&q, n.kmix)["quote"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["base", "emergency"]);

    // The facility asked for must be one of the options.
    let (st, e) = quote(
        &s,
        &json!({ "study_id": s.ct, "supporting_facility_id": n.stranger }).to_string(),
    )
    .await;
    assert_eq!(st, 422, "{e}");
    assert!(e["fields"]["supporting_facility_id"].is_string(), "{e}");
    let (st, q) = quote(
        &s,
        &json!({ "study_id": s.ct, "supporting_facility_id": n.kagoshima }).to_string(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(q["selected_facility_id"], n.kagoshima);
    // Invalid values are named, not silently replaced by defaults.
    let (st, e) = quote(
        &s,
        &json!({ "study_id": s.ct, "urgency": "urgent", "body_parts": ["NOPE"] }).to_string(),
    )
    .await;
    assert_eq!(st, 422, "{e}");
    assert!(e["fields"]["urgency"].is_string() && e["fields"]["body_parts"].is_string());
    assert!(s.app.audit_count("request.quote", "success") >= 3);

    // A mammography study: only K-MIX reads MG.
    let mg = reading::study(&s.app, s.n.clinic, "P-002", "1.2.392.1.2", "MG", 4);
    reading::settle(&s.app, mg);
    let (st, q) = quote(&s, &json!({ "study_id": mg }).to_string()).await;
    assert_eq!(st, 200, "{q}");
    assert_eq!(option_ids(&q), vec![n.kmix]);
    assert_eq!(option(&q, n.kmix)["quote"]["total"], 990);
    assert_eq!(request_count(&s.app), 0, "a quote writes no request");
}

#[tokio::test]
async fn extra_body_parts_and_image_blocks_follow_the_kmix_table() {
    let s = setup().await;
    let big = reading::study(&s.app, s.n.clinic, "P-003", "1.2.392.1.3", "CT", 1_200);
    reading::settle(&s.app, big);
    let (st, q) = quote(
        &s,
        &json!({ "study_id": big, "body_parts": ["HEAD", "CHEST", "ABDOMEN"] }).to_string(),
    )
    .await;
    assert_eq!(st, 200, "{q}");
    let (rules, _) = pricing::kmix_r_2022();
    let ct = rules
        .iter()
        .find(|r| r.category == Category::Clinical && r.exam == Exam::Ct)
        .unwrap();
    let covered_parts = i64::from(ct.covered_body_parts.unwrap());
    let covered_images = i64::from(ct.covered_images.unwrap());
    let block = i64::from(ct.extra_images_block.unwrap());
    let extra_parts = 3 - covered_parts;
    let blocks = (1_200 - covered_images + block - 1) / block;
    assert_eq!((extra_parts, blocks), (1, 2));
    let expected = json!([
        { "kind": LineKind::Base.as_str(), "quantity": 1, "unit_price": ct.base_price, "amount": ct.base_price },
        { "kind": LineKind::ExtraBodyParts.as_str(), "quantity": extra_parts,
          "unit_price": ct.extra_body_part_price, "amount": extra_parts * ct.extra_body_part_price },
        { "kind": LineKind::ExtraImages.as_str(), "quantity": blocks,
          "unit_price": ct.extra_images_price, "amount": blocks * ct.extra_images_price },
    ]);
    let k = &option(&q, s.n.kmix)["quote"];
    assert_eq!(k["lines"], expected);
    let total =
        ct.base_price + extra_parts * ct.extra_body_part_price + blocks * ct.extra_images_price;
    assert_eq!(k["total"], total);
    assert_eq!(k["tax"], total * 10 / 110, "tax contained, rounded down");
    assert_eq!(q["basis"]["body_parts"], 3);
    assert_eq!(q["basis"]["images"], 1_200);
}

#[tokio::test]
async fn a_filed_request_shows_in_the_list_and_detail_with_its_price_and_notifies() {
    let s = setup().await;
    let n = &s.n;
    let (st, r) = file(
        &s,
        &with(body(s.ct, Some(n.kmix)), json!({ "expected_total": 3_300 })),
    )
    .await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    assert_eq!(r["status"], "requested");
    assert_eq!(r["supporting_facility"]["id"], n.kmix);
    assert_eq!(r["routed_by"], "requester");
    assert_eq!(r["price"]["total"], 3_300);
    assert_eq!(s.app.audit_count("request.create", "success"), 1);

    // The list.
    let c = s.app.client();
    let (st, l) = c.api_get("/api/v1/requests", Some(&s.doctor)).await;
    assert_eq!(st, 200, "{l}");
    assert_eq!(l["total"], 1);
    assert_eq!(
        (l["page"].as_i64(), l["per_page"].as_i64()),
        (Some(1), Some(50))
    );
    let item = &l["items"][0];
    assert_eq!(item["id"], id);
    assert_eq!(item["total"], 3_300);
    assert_eq!(item["patient"]["patient_id"], "P-001");
    assert_eq!(item["supporting_facility"]["name"], "県立中央病院");
    assert_eq!(s.app.audit_count("request.list", "success"), 1);

    // The detail, not cached anywhere.
    let resp = c
        .http
        .get(format!("{}/api/v1/requests/{id}", s.app.base))
        .bearer_auth(&s.doctor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let d: Value = resp.json().await.unwrap();
    assert_eq!(d["side"], "requesting");
    assert_eq!(d["can_cancel"], true);
    assert_eq!(d["patient"]["patient_id"], "P-001");
    assert_eq!(d["patient"]["name"]["ideographic"], "山田^太郎");
    assert_eq!(d["patient"]["name"]["phonetic"], "やまだ^たろう");
    assert_eq!(d["patient"]["name"]["alphabetic"], "Yamada^Taro");
    assert_eq!(d["patient"]["sex"], "M");
    assert_eq!(d["patient"]["birth_date"], "1960-04-01");
    assert_eq!(d["study"]["id"], s.ct);
    assert_eq!(d["study"]["num_instances"], 100);
    assert_eq!(
        (d["modality"].as_str(), d["exam"].as_str()),
        (Some("CT"), Some("ct"))
    );
    assert_eq!(d["body_parts"][0]["code"], "CHEST");
    assert_eq!(
        (d["purpose"].as_str(), d["clinical_info"].as_str()),
        (Some("diagnosis"), Some("pneumonia"))
    );
    assert_eq!(d["clinical_note"], "発熱と咳嗽が続く");
    assert_eq!(d["contact_phone"], "087-111-2222");
    assert_eq!(d["requesting_facility"]["name"], "さぬき内科");
    assert_eq!(d["supporting_facility"]["name"], "県立中央病院");
    assert_eq!(d["requested_by"]["id"], n.physician.id);
    assert!(d["due_at"].as_str().is_some() && d["requested_at"].as_str().is_some());
    assert_eq!(d["history"].as_array().unwrap().len(), 1);
    assert_eq!(d["history"][0]["status"], "requested");
    assert_eq!(d["history"][0]["by"]["id"], n.physician.id);
    let price = &d["price"];
    assert_eq!(
        (
            price["subtotal"].as_i64(),
            price["tax"].as_i64(),
            price["total"].as_i64()
        ),
        (Some(3_300), Some(300), Some(3_300))
    );
    assert_eq!(price["tax_included"], true);
    assert!(price["price_table_id"].as_i64().unwrap() > 0);
    assert_eq!(price["lines"][0]["kind"], "base");
    assert!(
        s.app.audit_count("request.view", "success") >= 2,
        "filing read back + GET"
    );

    // The supporting facility is told, without any patient identity.
    let jobs =
        shared::outbox::of_kind(&mut s.app.conn(), shared::outbox::kind::REQUEST_FILED).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload_json()["request_id"], id);
    for secret in ["P-001", "山田", "Yamada", "やまだ", "1960"] {
        assert!(!jobs[0].payload.contains(secret), "{}", jobs[0].payload);
    }

    // A new price table does not touch the filed request's price.
    let (mut rules, tax) = pricing::kmix_r_2022();
    for r in &mut rules {
        r.base_price = 5_500;
    }
    reading::price_table(&s.app, Some(n.kmix), &rules, &tax);
    let (_, q) = quote(&s, &json!({ "study_id": s.ct }).to_string()).await;
    assert_eq!(
        option(&q, n.kmix)["quote"]["total"],
        5_500,
        "new quotes use the new table"
    );
    let (st, d2) = c
        .api_get(&format!("/api/v1/requests/{id}"), Some(&s.doctor))
        .await;
    assert_eq!(st, 200);
    assert_eq!(d2["price"], d["price"]);
    assert_eq!(d2["price"]["total"], 3_300);
}

#[tokio::test]
async fn the_supporting_facility_sees_requests_naming_it_and_no_one_else_does() {
    let s = setup().await;
    let n = &s.n;
    let (st, r) = file(&s, &body(s.ct, Some(n.kmix)).to_string()).await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    let c = s.app.client();

    for u in [&n.kmix_radiologist, &n.kmix_coordinator] {
        let t = token(&s.app, u);
        let (st, l) = c.api_get("/api/v1/requests", Some(&t)).await;
        assert_eq!(st, 200, "{l}");
        assert_eq!(l["total"], 1);
        assert_eq!(l["items"][0]["id"], id);
        assert_eq!(l["items"][0]["requesting_facility"]["name"], "さぬき内科");
        let (st, d) = c.api_get(&format!("/api/v1/requests/{id}"), Some(&t)).await;
        assert_eq!(st, 200, "{d}");
        assert_eq!(d["side"], "supporting");
        assert_eq!(d["can_cancel"], false);
        assert_eq!(d["patient"]["patient_id"], "P-001");
        // Readers neither cancel, nor quote, nor file.
        let before = denied(&s.app);
        let (st, _) = c
            .api_send("POST", &format!("/api/v1/requests/{id}/cancel"), &t, "{}")
            .await;
        assert_eq!(st, 404);
        let (st, _) = c
            .api_send(
                "POST",
                "/api/v1/requests/quote",
                &t,
                &json!({"study_id": s.ct}).to_string(),
            )
            .await;
        assert_eq!(st, 404);
        let (st, _) = c
            .api_send(
                "POST",
                "/api/v1/requests",
                &t,
                &body(s.ct, Some(n.kmix)).to_string(),
            )
            .await;
        assert_eq!(st, 404);
        assert_eq!(denied(&s.app), before + 3);
    }

    // The other supporting facility and the stranger: empty lists, 404 and a denial.
    for u in [&n.kagoshima_radiologist, &n.stranger_radiologist] {
        let t = token(&s.app, u);
        let (st, l) = c.api_get("/api/v1/requests", Some(&t)).await;
        assert_eq!(st, 200, "{l}");
        assert_eq!(l["total"], 0);
        assert!(l["items"].as_array().unwrap().is_empty());
        let before = denied(&s.app);
        let (st, e) = c.api_get(&format!("/api/v1/requests/{id}"), Some(&t)).await;
        assert_eq!(st, 404, "{e}");
        assert_eq!(e["error"], "not_found");
        assert_eq!(denied(&s.app), before + 1);
    }
    // The same 404 for an id that does not exist.
    let (st, _) = c.api_get("/api/v1/requests/999999", Some(&s.doctor)).await;
    assert_eq!(st, 404);
    let (st, _) = c.api_get("/api/v1/requests/abc", Some(&s.doctor)).await;
    assert_eq!(st, 404);
    // Without a token.
    let (st, _) = c.api_get("/api/v1/requests", None).await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn another_clinic_and_other_roles_get_404_and_nothing_is_written() {
    let s = setup().await;
    let (st, r) = file(&s, &body(s.ct, Some(s.n.kmix)).to_string()).await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    let other = s.app.facility("高松クリニック", "clinic", true, false);
    reading::contract(&s.app, other, s.n.kmix, &["CT"]);
    let stranger_doctor = s.app.user(other, "dr.other", &["physician"]);
    let t = token(&s.app, &stranger_doctor);
    let c = s.app.client();
    let before = denied(&s.app);
    let rows = request_count(&s.app);

    let (st, _) = c
        .api_send(
            "POST",
            "/api/v1/requests/quote",
            &t,
            &json!({"study_id": s.ct}).to_string(),
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = c
        .api_send(
            "POST",
            "/api/v1/requests",
            &t,
            &body(s.ct, Some(s.n.kmix)).to_string(),
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = c.api_get(&format!("/api/v1/requests/{id}"), Some(&t)).await;
    assert_eq!(st, 404);
    let (st, _) = c
        .api_send("POST", &format!("/api/v1/requests/{id}/cancel"), &t, "")
        .await;
    assert_eq!(st, 404);
    assert_eq!(denied(&s.app), before + 4);
    let (st, l) = c.api_get("/api/v1/requests", Some(&t)).await;
    assert_eq!(st, 200);
    assert_eq!(l["total"], 0);
    assert_eq!(request_count(&s.app), rows);
    let (_, d) = c
        .api_get(&format!("/api/v1/requests/{id}"), Some(&s.doctor))
        .await;
    assert_eq!(
        d["status"], "requested",
        "not cancelled by the other clinic"
    );

    // An administrator of the association has no business with requests.
    let admin = s.app.association_admin();
    let t = token(&s.app, &admin);
    let before = denied(&s.app);
    let (st, _) = c.api_get("/api/v1/requests", Some(&t)).await;
    assert_eq!(st, 404);
    let (st, _) = c.api_get(&format!("/api/v1/requests/{id}"), Some(&t)).await;
    assert_eq!(st, 404);
    assert_eq!(denied(&s.app), before + 2);
    // A requester asking for the supporting side it does not have.
    let (st, _) = c
        .api_get("/api/v1/requests?side=supporting", Some(&s.doctor))
        .await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn a_tampered_expected_total_is_refused_and_nothing_is_written() {
    let s = setup().await;
    let rows = request_count(&s.app);
    for total in [3_299, 0, -3_300] {
        let (st, e) = file(
            &s,
            &with(
                body(s.ct, Some(s.n.kmix)),
                json!({ "expected_total": total }),
            ),
        )
        .await;
        assert_eq!(st, 422, "{e}");
        assert_eq!(e["error"], "validation");
        assert!(e["fields"]["expected_total"].is_string(), "{e}");
    }
    assert_eq!(request_count(&s.app), rows);
    let jobs =
        shared::outbox::of_kind(&mut s.app.conn(), shared::outbox::kind::REQUEST_FILED).unwrap();
    assert!(jobs.is_empty());
    assert_eq!(s.app.audit_count("request.create", "success"), 0);
    // The right figure files.
    let (st, r) = file(
        &s,
        &with(
            body(s.ct, Some(s.n.kagoshima)),
            json!({ "expected_total": 3_300 }),
        ),
    )
    .await;
    assert_eq!(st, 201, "{r}");
    assert_eq!(r["price"]["subtotal"], 3_000);
}

#[tokio::test]
async fn ineligible_facilities_are_refused_naming_the_field() {
    let s = setup().await;
    let n = &s.n;
    let mg = reading::study(&s.app, n.clinic, "P-002", "1.2.392.1.2", "MG", 4);
    reading::settle(&s.app, mg);
    let rows = request_count(&s.app);
    let refused = |v: &Value| v["fields"]["supporting_facility_id"].is_string();

    // No contract.
    let (st, e) = file(&s, &body(s.ct, Some(n.stranger)).to_string()).await;
    assert_eq!(st, 422, "{e}");
    assert!(refused(&e), "{e}");
    // Does not read MG.
    let mg_body = with(body(mg, Some(n.kagoshima)), json!({ "modality": "MG" }));
    let (st, e) = file(&s, &mg_body).await;
    assert_eq!(st, 422, "{e}");
    assert!(refused(&e), "{e}");
    // Not even a facility.
    let (st, e) = file(&s, &body(s.ct, Some(987_654)).to_string()).await;
    assert_eq!(st, 422, "{e}");
    assert!(refused(&e), "{e}");
    // Suspended.
    facilities::set_status(
        &mut s.app.conn(),
        &Ctx::system("test"),
        n.kmix,
        FacilityStatus::Suspended,
    )
    .unwrap();
    let (st, e) = file(&s, &body(s.ct, Some(n.kmix)).to_string()).await;
    assert_eq!(st, 422, "{e}");
    assert!(refused(&e), "{e}");
    let (_, q) = quote(&s, &json!({ "study_id": s.ct }).to_string()).await;
    assert_eq!(option_ids(&q), vec![n.kagoshima]);
    assert_eq!(request_count(&s.app), rows);

    // No preference goes to a facility that can take it.
    let (st, r) = file(&s, &body(s.ct, None).to_string()).await;
    assert_eq!(st, 201, "{r}");
    assert_eq!(r["supporting_facility"]["id"], n.kagoshima);
    assert_eq!(r["routed_by"], "rule");
    // And with nowhere to go, "no preference" names the same field.
    let (st, e) = file(&s, &with(body(mg, None), json!({ "modality": "MG" }))).await;
    assert_eq!(st, 422, "{e}");
    assert!(refused(&e), "{e}");
}

#[tokio::test]
async fn duplicates_conflict_and_arriving_studies_need_confirmation() {
    let s = setup().await;
    let (st, r) = file(&s, &body(s.ct, Some(s.n.kmix)).to_string()).await;
    assert_eq!(st, 201, "{r}");
    let rows = request_count(&s.app);
    let (st, e) = file(&s, &body(s.ct, Some(s.n.kmix)).to_string()).await;
    assert_eq!(st, 409, "{e}");
    assert_eq!(e["error"], "conflict");
    assert_eq!(request_count(&s.app), rows);
    // Another target for the same study is a separate request.
    let (st, _) = file(&s, &body(s.ct, Some(s.n.kagoshima)).to_string()).await;
    assert_eq!(st, 201);

    let fresh = reading::study(&s.app, s.n.clinic, "P-009", "1.2.392.1.9", "CT", 10);
    let (_, q) = quote(&s, &json!({ "study_id": fresh }).to_string()).await;
    assert_eq!(q["arriving"], true);
    let rows = request_count(&s.app);
    let (st, e) = file(&s, &body(fresh, Some(s.n.kmix)).to_string()).await;
    assert_eq!(st, 422, "{e}");
    assert!(e["fields"]["confirm_arriving"].is_string(), "{e}");
    assert_eq!(request_count(&s.app), rows);
    let (st, r) = file(
        &s,
        &with(
            body(fresh, Some(s.n.kmix)),
            json!({ "confirm_arriving": true }),
        ),
    )
    .await;
    assert_eq!(st, 201, "{r}");
    assert_eq!(r["filed_while_arriving"], true);
}

#[tokio::test]
async fn a_request_is_cancelled_once_then_conflicts() {
    let s = setup().await;
    let (st, r) = file(&s, &body(s.ct, Some(s.n.kmix)).to_string()).await;
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    let c = s.app.client();
    let path = format!("/api/v1/requests/{id}/cancel");
    let (st, d) = c
        .api_send(
            "POST",
            &path,
            &s.doctor,
            &json!({ "reason": "患者都合" }).to_string(),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "cancelled");
    assert_eq!(d["can_cancel"], false);
    let h = d["history"].as_array().unwrap();
    assert_eq!(h.last().unwrap()["status"], "cancelled");
    assert_eq!(h.last().unwrap()["note"], "患者都合");
    assert_eq!(s.app.audit_count("request.cancel", "success"), 1);
    let jobs = shared::outbox::of_kind(&mut s.app.conn(), shared::outbox::kind::REQUEST_CANCELLED)
        .unwrap();
    assert_eq!(jobs.len(), 1);

    // The supporting facility keeps the line in its list, but no longer the patient.
    let reader = token(&s.app, &s.n.kmix_radiologist);
    let (st, l) = c.api_get("/api/v1/requests", Some(&reader)).await;
    assert_eq!(st, 200, "{l}");
    assert_eq!(l["items"][0]["status"], "cancelled");
    assert!(
        l["items"][0]["patient"].is_null() && l["items"][0]["study"].is_null(),
        "{l}"
    );
    assert!(!l.to_string().contains("P-001"));
    let before = denied(&s.app);
    let (st, _) = c
        .api_get(&format!("/api/v1/requests/{id}"), Some(&reader))
        .await;
    assert_eq!(st, 404);
    assert_eq!(denied(&s.app), before + 1);

    let (st, e) = c.api_send("POST", &path, &s.doctor, "").await;
    assert_eq!(st, 409, "{e}");
    assert_eq!(s.app.audit_count("request.cancel", "success"), 1);
    // A cancelled request is no longer live: the study may be sent there again.
    let (st, _) = file(&s, &body(s.ct, Some(s.n.kmix)).to_string()).await;
    assert_eq!(st, 201);
    let (_, l) = c
        .api_get("/api/v1/requests?status=cancelled", Some(&s.doctor))
        .await;
    assert_eq!(l["total"], 1);
    assert_eq!(l["items"][0]["id"], id);
}

#[tokio::test]
async fn bad_bodies_and_filters_get_clear_errors() {
    let s = setup().await;
    let rows = request_count(&s.app);
    let (st, e) = file(&s, "{not json").await;
    assert_eq!(st, 400, "{e}");
    let (st, _) = file(&s, "[1, 2]").await;
    assert_eq!(st, 400);
    // The API takes no attachments, and a misspelt field is not silently ignored.
    let (st, e) = file(
        &s,
        &with(body(s.ct, Some(s.n.kmix)), json!({ "attachment_id": 1 })),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    let (st, e) = file(
        &s,
        &json!({ "study_id": s.ct, "supporting_facility": s.n.kmix }).to_string(),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    // Missing fields are named.
    let (st, e) = file(&s, &json!({ "study_id": s.ct }).to_string()).await;
    assert_eq!(st, 422, "{e}");
    for f in [
        "urgency",
        "category",
        "modality",
        "body_parts",
        "purpose",
        "clinical_info",
    ] {
        assert!(e["fields"][f].is_string(), "{f}: {e}");
    }
    let (st, e) = file(
        &s,
        &with(
            body(s.ct, Some(s.n.kmix)),
            json!({ "contact_phone": "call me", "purpose_note": "x".repeat(501) }),
        ),
    )
    .await;
    assert_eq!(st, 422, "{e}");
    assert!(e["fields"]["contact_phone"].is_string(), "{e}");
    assert!(e["fields"]["purpose_note"].is_string(), "{e}");
    let (st, e) = file(&s, &json!({ "urgency": "routine" }).to_string()).await;
    assert_eq!(st, 422, "{e}");
    assert!(e["fields"]["study_id"].is_string(), "{e}");
    let (st, e) = file(
        &s,
        &with(
            body(s.ct, Some(s.n.kmix)),
            json!({ "priors": [s.ct + 1000] }),
        ),
    )
    .await;
    assert_eq!(st, 422, "{e}");
    assert!(e["fields"]["priors"].is_string(), "{e}");
    assert_eq!(request_count(&s.app), rows);

    let c = s.app.client();
    for q in [
        "date_from=2026-13-01",
        // Dates at the edge of what chrono holds: a clear 400, not a panic or a 500.
        "date_from=-262143-01-01",
        "date_to=-262143-01-01",
        "status=lost",
        "urgency=soon",
        "facility=x",
        "per_page=0",
        "side=both",
    ] {
        let (st, e) = c
            .api_get(&format!("/api/v1/requests?{q}"), Some(&s.doctor))
            .await;
        assert_eq!(st, 400, "{q}: {e}");
    }
    let (st, l) = c
        .api_get("/api/v1/requests?per_page=1000", Some(&s.doctor))
        .await;
    assert_eq!(st, 200);
    assert_eq!(l["per_page"], 200);
}

#[tokio::test]
async fn list_filters_select_requests_and_the_audit_names_only_the_filters() {
    let s = setup().await;
    let (st, r) = file(&s, &body(s.ct, Some(s.n.kmix)).to_string()).await;
    assert_eq!(st, 201, "{r}");
    let (st, _) = file(
        &s,
        &with(
            body(s.ct, Some(s.n.kagoshima)),
            json!({ "urgency": "emergency" }),
        ),
    )
    .await;
    assert_eq!(st, 201);
    let c = s.app.client();
    let today = (chrono::Utc::now().naive_utc() + chrono::Duration::hours(9)).date();
    let count = |q: String| {
        let c = &c;
        let t = s.doctor.clone();
        async move {
            let (st, l) = c.api_get(&format!("/api/v1/requests?{q}"), Some(&t)).await;
            assert_eq!(st, 200, "{q}: {l}");
            l["total"].as_i64().unwrap()
        }
    };
    assert_eq!(count(String::new()).await, 2);
    assert_eq!(count("urgency=emergency".into()).await, 1);
    assert_eq!(count("status=requested".into()).await, 2);
    assert_eq!(count(format!("facility={}", s.n.kmix)).await, 1);
    assert_eq!(count(format!("date_from={today}&date_to={today}")).await, 2);
    assert_eq!(count("date_to=2020-01-01".into()).await, 0);
    let (_, page2) = c
        .api_get("/api/v1/requests?per_page=1&page=2", Some(&s.doctor))
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["total"], 2);

    let events = shared::audit::search(
        &mut s.app.conn(),
        &shared::audit::Filter {
            action: Some("request.list".into()),
            ..Default::default()
        },
        0,
        100,
    )
    .unwrap();
    assert_eq!(events.len(), 7);
    for ev in events {
        let detail = ev.detail.unwrap_or_default();
        assert!(ev.patient_ref.is_none());
        for secret in ["P-001", "山田", "Yamada", "1.2.392.1.1"] {
            assert!(!detail.contains(secret), "{detail}");
        }
    }
}

#[tokio::test]
async fn the_browser_session_needs_the_csrf_token_to_file() {
    let s = setup().await;
    let mut browser = s.app.client();
    browser.sign_in(&s.n.physician).await;
    let r = browser
        .http
        .post(format!("{}/api/v1/requests", s.app.base))
        .header("Origin", &s.app.base)
        .header("Content-Type", "application/json")
        .body(body(s.ct, Some(s.n.kmix)).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(request_count(&s.app), 0);
    let r = browser
        .http
        .post(format!("{}/api/v1/requests", s.app.base))
        .header("Origin", &s.app.base)
        .header("X-CSRF-Token", &browser.csrf)
        .header("Content-Type", "application/json")
        .body(body(s.ct, Some(s.n.kmix)).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(request_count(&s.app), 1);
}

#[tokio::test]
async fn the_openapi_document_lists_the_request_endpoints() {
    let app = spawn_app().await;
    let (s, doc) = app.client().api_get("/api/v1/openapi.json", None).await;
    assert_eq!(s, 200);
    let paths = doc["paths"].as_object().unwrap();
    for (p, methods) in [
        ("/api/v1/requests", &["get", "post"][..]),
        ("/api/v1/requests/quote", &["post"]),
        ("/api/v1/requests/{id}", &["get"]),
        ("/api/v1/requests/{id}/cancel", &["post"]),
    ] {
        for m in methods {
            assert!(paths[p][*m].is_object(), "{m} {p} documented");
            assert_eq!(paths[p][*m]["tags"][0], "requests");
        }
    }
    assert!(paths["/api/v1/requests"]["post"]["requestBody"].is_object());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "RequestInput",
        "RequestOut",
        "RequestList",
        "QuoteResponse",
        "QuoteOut",
        "PriceOut",
        "CancelInput",
    ] {
        assert!(schemas.contains_key(s), "{s}");
    }
}
