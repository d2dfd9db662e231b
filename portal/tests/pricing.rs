//! Price tables, the reading policy and the body-part catalogue on screen: a coordinator
//! revises the facility's table (versions, preview on an example study, validation with
//! nothing written), requesters with a contract view it and nobody else does (audited 404),
//! the association keeps the default table and the catalogue, and a coordinator keeps the
//! reading policy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::reading::{contract, network, Network};
use common::*;
use shared::reading::{catalogue, policy, pricing as tables};

/// The owner's versions (`None`: the association's default table).
fn version_count(app: &TestApp, owner: Option<i64>) -> usize {
    tables::versions(&mut app.conn(), owner).unwrap().len()
}

/// A 422 whose HTML shows `message` right next to `field` (or row).
#[track_caller]
fn assert_field_error(p: &Page, field: &str, message: &str) {
    assert_eq!(p.status, 422, "expected 422 for {field}: {}", p.body);
    let needle = format!("id=\"{field}-error\">{message}</p>");
    assert!(
        p.body.contains(&needle),
        "expected {needle} in the page:\n{}",
        p.body
    );
}

/// A whole editor form: tax included 10 % rounded down, after hours 17:30–08:30, and a
/// K-MIX-like clinical CT row (2 body parts / 500 images; 550 per started 500 images
/// beyond; 1,100 per extra body part, emergency and after hours; 550 for a comparison),
/// with `base` as its base price.
fn table_form(base: &str) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = [
        ("effective_date", ""),
        ("tax_included", "true"),
        ("tax_rate_percent", "10"),
        ("rounding", "floor"),
        ("after_hours_start", "17:30"),
        ("after_hours_end", "08:30"),
        ("holidays_after_hours", "on"),
        ("note", "2026年度改定"),
        ("clinical.ct.enabled", "on"),
        ("clinical.ct.label", "CT（2部位・500画像まで）"),
        ("clinical.ct.base_price", base),
        ("clinical.ct.covered_body_parts", "2"),
        ("clinical.ct.covered_images", "500"),
        ("clinical.ct.extra_body_part_price", "1,100"),
        ("clinical.ct.extra_images_block", "500"),
        ("clinical.ct.extra_images_price", "550"),
        ("clinical.ct.emergency_surcharge", "1100"),
        ("clinical.ct.after_hours_surcharge", "1100"),
        ("clinical.ct.comparison_price", "550"),
        ("screening.fundus.enabled", "on"),
        ("screening.fundus.label", "眼底"),
        ("screening.fundus.base_price", "495"),
        // A disabled row is ignored, whatever it holds.
        ("clinical.mri.base_price", "garbage"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    f.push(("example_category".into(), "clinical".into()));
    f.push(("example_exam".into(), "ct".into()));
    f.push(("example_body_parts".into(), "1".into()));
    f.push(("example_images".into(), "500".into()));
    f.push(("example_priors".into(), "0".into()));
    f
}

/// Replaces (or adds) a field.
fn with(mut f: Vec<(String, String)>, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in changes {
        f.retain(|(name, _)| name != k);
        f.push(((*k).to_owned(), (*v).to_owned()));
    }
    f
}

fn refs(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn signed_in(app: &TestApp, u: &TestUser) -> Client {
    let mut c = app.client();
    c.sign_in(u).await;
    c
}

/// The id of the version a page shows (`data-version` of its terms).
fn shown_version(body: &str) -> Option<i64> {
    let i = body.find("data-version=\"")?;
    let rest = &body[i + 14..];
    rest[..rest.find('"')?].parse().ok()
}

#[tokio::test]
async fn a_coordinator_saves_a_new_version_and_sees_it_in_force() {
    let app = spawn_app().await;
    let n: Network = network(&app);
    let mut c = signed_in(&app, &n.kmix_coordinator).await;

    let p = c.get("/pricing").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("3,300円"), "{}", p.body);
    assert!(p.body.contains("税込"));
    assert!(p.body.contains("00:00〜00:00"), "after-hours window");
    let first = tables::versions(&mut app.conn(), Some(n.kmix)).unwrap()[0].id;
    assert_eq!(shown_version(&p.body), Some(first));

    // The editor starts from the version in force.
    let p = c.get("/pricing/edit").await;
    assert_eq!(p.status, 200);
    assert!(
        p.body
            .contains("name=\"clinical.ct.base_price\" value=\"3300\""),
        "{}",
        p.body
    );

    let created_before = app.audit_count("price_table.create", "success");
    let p = c
        .post(
            "/pricing/edit",
            &refs(&with(table_form("4,400"), &[("action", "save")])),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/pricing?notice=flash.saved"));
    assert_eq!(version_count(&app, Some(n.kmix)), 2);
    assert_eq!(
        app.audit_count("price_table.create", "success"),
        created_before + 1
    );

    let newest = tables::versions(&mut app.conn(), Some(n.kmix)).unwrap()[0].clone();
    assert_ne!(newest.id, first);
    assert_eq!(newest.note, "2026年度改定");
    let p = c.get("/pricing?notice=flash.saved").await;
    assert_eq!(p.status, 200);
    assert_eq!(shown_version(&p.body), Some(newest.id), "{}", p.body);
    assert!(p.body.contains("4,400円"), "{}", p.body);
    assert!(p.body.contains("495円"));
    assert!(p.body.contains("17:30〜08:30"));
    assert!(p.body.contains("保存しました。"));
    // Both versions are listed, and each can be opened; the old one has ended.
    assert!(p.body.contains(&format!("/pricing/versions/{}", newest.id)));
    assert!(p.body.contains(&format!("/pricing/versions/{first}")));
    let old = c.get(&format!("/pricing/versions/{first}")).await;
    assert_eq!(old.status, 200);
    assert!(old.body.contains("3,300円"));
    assert!(old.body.contains("終了"), "{}", old.body);

    // A version for a future day is scheduled, and the one in force stays.
    let next_year = (chrono::Utc::now().date_naive() + chrono::Duration::days(365))
        .format("%Y-%m-%d")
        .to_string();
    let p = c
        .post(
            "/pricing/edit",
            &refs(&with(
                table_form("5,500"),
                &[("action", "save"), ("effective_date", &next_year)],
            )),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = c.get("/pricing").await;
    assert_eq!(shown_version(&p.body), Some(newest.id));
    assert!(p.body.contains("適用予定"));

    // The screens' stylesheet.
    let css = c.get("/pricing/pricing.css").await;
    assert_eq!(css.status, 200);
    assert!(css.body.contains(".price-table"));
}

#[tokio::test]
async fn the_preview_prices_an_example_study_on_the_unsaved_form() {
    let app = spawn_app().await;
    let n = network(&app);
    let mut c = signed_in(&app, &n.kmix_coordinator).await;
    c.get("/pricing/edit").await;
    let before = version_count(&app, Some(n.kmix));

    // A clinical CT of 1 body part and 1,200 images, emergency: 3,300 base, 700 images
    // beyond 500 are 2 started blocks of 500 at 550 (1,100), emergency 1,100: 5,500 tax
    // included, of which tax 5,500 × 10 / 110 = 500.
    let form = with(
        table_form("3300"),
        &[
            ("action", "preview"),
            ("example_images", "1200"),
            ("example_emergency", "on"),
        ],
    );
    let p = c.post("/pricing/edit", &refs(&form)).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("data-testid=\"preview-result\""));
    assert!(
        p.body.contains("data-testid=\"quote-total\">5,500円"),
        "{}",
        p.body
    );
    assert!(p.body.contains(">500</td>"), "tax line: {}", p.body);
    assert!(p.body.contains("画像枚数加算"));
    assert!(p.body.contains("緊急加算"));
    // The form keeps what was typed.
    assert!(p.body.contains(
        "name=\"example_images\" class=\"short num\" inputmode=\"numeric\" value=\"1200\""
    ));
    assert_eq!(
        version_count(&app, Some(n.kmix)),
        before,
        "a preview writes nothing"
    );

    // Three body parts, a prior compared, after hours, tax excluded and rounded up:
    // 3,300 + 1,100 (1 extra body part) + 1,100 (after hours) + 550 (comparison) = 6,050,
    // tax 605, total 6,655.
    let form = with(
        table_form("3300"),
        &[
            ("action", "preview"),
            ("tax_included", "false"),
            ("rounding", "ceil"),
            ("example_body_parts", "3"),
            ("example_priors", "1"),
            ("example_after_hours", "on"),
        ],
    );
    let p = c.post("/pricing/edit", &refs(&form)).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(
        p.body.contains("data-testid=\"quote-total\">6,655円"),
        "{}",
        p.body
    );

    // An exam the form does not price is named next to the example's exam.
    let form = with(
        table_form("3300"),
        &[("action", "preview"), ("example_exam", "mri")],
    );
    let p = c.post("/pricing/edit", &refs(&form)).await;
    assert_field_error(
        &p,
        "example_exam",
        "料金表にこの区分・検査の料金がありません。",
    );
    assert_eq!(version_count(&app, Some(n.kmix)), before);
}

#[tokio::test]
async fn invalid_rows_give_422_next_to_the_row_and_no_new_version() {
    let app = spawn_app().await;
    let n = network(&app);
    let mut c = signed_in(&app, &n.kmix_coordinator).await;
    c.get("/pricing/edit").await;
    let before = version_count(&app, Some(n.kmix));
    let created_before = app.audit_count("price_table.create", "success");

    let bad = with(
        table_form("-5"),
        &[
            ("action", "save"),
            ("clinical.mri.enabled", "on"),
            ("clinical.mri.base_price", "3300"),
            ("clinical.mri.extra_images_price", "500"),
            ("tax_rate_percent", "200"),
            ("after_hours_start", "25:00"),
            ("effective_date", "2020-01-01"),
        ],
    );
    let p = c.post("/pricing/edit", &refs(&bad)).await;
    assert_field_error(
        &p,
        "clinical.ct",
        "0〜10,000,000 円の金額を入力してください。",
    );
    assert_field_error(
        &p,
        "clinical.mri",
        "画像加算には、含む画像数と加算の単位（枚）の両方が必要です。",
    );
    assert_field_error(
        &p,
        "tax_rate_percent",
        "税率は 0〜100 の整数で入力してください。",
    );
    assert_field_error(
        &p,
        "after_hours_start",
        "時刻は HH:MM（00:00〜23:59）で入力してください。",
    );
    assert_field_error(&p, "effective_date", "過去の日付は指定できません。");
    // What was typed comes back.
    assert!(p
        .body
        .contains("name=\"clinical.ct.base_price\" value=\"-5\""));

    // No row at all.
    let none = with(
        table_form("3300"),
        &[
            ("action", "save"),
            ("clinical.ct.enabled", ""),
            ("screening.fundus.enabled", ""),
        ],
    );
    let p = c.post("/pricing/edit", &refs(&none)).await;
    assert_field_error(
        &p,
        "items",
        "少なくとも 1 つの検査に料金を設定してください。",
    );

    // A preview of an invalid form is refused the same way, with no quote.
    let p = c
        .post(
            "/pricing/edit",
            &refs(&with(table_form("abc"), &[("action", "preview")])),
        )
        .await;
    assert_field_error(
        &p,
        "clinical.ct",
        "0〜10,000,000 円の金額を入力してください。",
    );
    assert!(!p.body.contains("data-testid=\"preview-result\""));

    assert_eq!(version_count(&app, Some(n.kmix)), before);
    assert_eq!(
        app.audit_count("price_table.create", "success"),
        created_before
    );
}

#[tokio::test]
async fn requesters_with_a_contract_view_the_table_and_nobody_else() {
    let app = spawn_app().await;
    let n = network(&app);

    let mut dr = signed_in(&app, &n.physician).await;
    let p = dr.get("/directory").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains(&format!("/directory/{}/prices", n.kmix)));
    let p = dr.get(&format!("/directory/{}/prices", n.kmix)).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("県立中央病院"));
    assert!(p.body.contains("3,300円"));
    assert!(p.body.contains("税込"));
    assert!(p.body.contains("605円"));
    // Kagoshima style: tax excluded.
    let p = dr.get(&format!("/directory/{}/prices", n.kagoshima)).await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains("3,000円") && p.body.contains("税別"),
        "{}",
        p.body
    );

    // A supporting facility without a contract with this clinic, an unknown id, garbage.
    let denied = app.audit_count("price_table.view", "denied");
    for path in [
        format!("/directory/{}/prices", n.stranger),
        "/directory/999999/prices".to_owned(),
        "/directory/abc/prices".to_owned(),
    ] {
        let p = dr.get(&path).await;
        assert_eq!(p.status, 404, "{path}");
    }
    assert_eq!(app.audit_count("price_table.view", "denied"), denied + 3);

    // A clinic without any contract.
    let other = app.facility("離島診療所", "clinic", true, false);
    let other_dr = app.user(other, "dr.other", &["physician"]);
    let mut c = signed_in(&app, &other_dr).await;
    let p = c.get(&format!("/directory/{}/prices", n.kmix)).await;
    assert_eq!(p.status, 404);
    assert_eq!(app.audit_count("price_table.view", "denied"), denied + 4);

    // A radiologist (not a requester), even of the facility itself.
    let mut r = signed_in(&app, &n.kmix_radiologist).await;
    let p = r.get(&format!("/directory/{}/prices", n.kmix)).await;
    assert_eq!(p.status, 404);
    assert_eq!(app.audit_count("price_table.view", "denied"), denied + 5);
    // …nor the facility's own table screens.
    let p = r.get("/pricing").await;
    assert_eq!(p.status, 404);
    assert_eq!(app.audit_count("price_table.view", "denied"), denied + 6);
}

#[tokio::test]
async fn another_owners_version_is_not_found() {
    let app = spawn_app().await;
    let n = network(&app);
    let mine = tables::versions(&mut app.conn(), Some(n.kmix)).unwrap()[0].id;
    let theirs = tables::versions(&mut app.conn(), Some(n.kagoshima)).unwrap()[0].id;
    let mut c = signed_in(&app, &n.kmix_coordinator).await;

    let p = c.get(&format!("/pricing/versions/{mine}")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("適用中"));

    let denied = app.audit_count("price_table.view", "denied");
    for path in [
        format!("/pricing/versions/{theirs}"),
        "/pricing/versions/999999".to_owned(),
        "/pricing/versions/x1".to_owned(),
        // A facility's version is not the association's default either.
        format!("/admin/pricing/versions/{mine}"),
    ] {
        let p = c.get(&path).await;
        assert_eq!(p.status, 404, "{path}");
        assert!(!p.body.contains("3,000円"));
    }
    assert_eq!(app.audit_count("price_table.view", "denied"), denied + 4);
}

#[tokio::test]
async fn the_association_keeps_the_default_table_and_the_body_part_catalogue() {
    let app = spawn_app().await;
    let n = network(&app);
    let admin = app.association_admin();
    let mut a = signed_in(&app, &admin).await;

    let p = a.get("/admin/pricing").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("data-testid=\"no-table\""));
    let p = a.get("/admin/pricing/edit").await;
    assert_eq!(p.status, 200);
    let p = a
        .post(
            "/admin/pricing/edit",
            &refs(&with(table_form("2,200"), &[("action", "save")])),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/admin/pricing?notice=flash.saved")
    );
    assert_eq!(version_count(&app, None), 1);
    assert_eq!(
        version_count(&app, Some(n.kmix)),
        1,
        "facilities' tables untouched"
    );
    let default_id = tables::versions(&mut app.conn(), None).unwrap()[0].id;
    let p = a.get("/admin/pricing").await;
    assert!(p.body.contains("2,200円"));
    assert_eq!(shown_version(&p.body), Some(default_id));
    let p = a
        .get(&format!("/admin/pricing/versions/{default_id}"))
        .await;
    assert_eq!(p.status, 200);
    // A facility's version is not under the association's screens.
    let kmix_version = tables::versions(&mut app.conn(), Some(n.kmix)).unwrap()[0].id;
    let p = a
        .get(&format!("/admin/pricing/versions/{kmix_version}"))
        .await;
    assert_eq!(p.status, 404);

    // A supporting facility without a table of its own sees the default, read-only, and
    // so do its contracted requesters.
    let newcomer = app.facility("新設読影センター", "hospital", false, true);
    contract(&app, n.clinic, newcomer, &["CT"]);
    let coord = app.user(newcomer, "coord.new", &["coordinator"]);
    let mut c = signed_in(&app, &coord).await;
    let p = c.get("/pricing").await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains("data-testid=\"showing-default\""),
        "{}",
        p.body
    );
    assert!(p.body.contains("2,200円"));
    assert!(p.body.contains("版はまだありません。"));
    // Its editor starts from the default.
    let p = c.get("/pricing/edit").await;
    assert!(p
        .body
        .contains("name=\"clinical.ct.base_price\" value=\"2200\""));
    let mut dr = signed_in(&app, &n.physician).await;
    let p = dr.get(&format!("/directory/{newcomer}/prices")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("data-testid=\"directory-default\""));
    assert!(p.body.contains("2,200円"));

    // The catalogue: grouped, JJ1017 not set, the note about the master.
    let p = a.get("/admin/body-parts").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("data-testid=\"jj1017-note\""));
    assert!(p.body.contains("胸部") && p.body.contains("Chest"));
    assert!(p.body.contains("未設定"));
    assert!(p.body.contains("頭頸部"));

    let chest = catalogue::get(&mut app.conn(), "CHEST").unwrap();
    let sort = chest.sort_order.to_string();
    let fields = |jj: &'static str| {
        vec![
            ("code", "IGNORED"),
            ("region", "chest"),
            ("name_ja", "胸部"),
            ("name_en", "Chest"),
            ("jj1017_code", jj),
            ("is_active", "on"),
        ]
    };
    let mut bad = fields("ab-12");
    bad.push(("sort_order", &sort));
    let p = a.post("/admin/body-parts/CHEST", &bad).await;
    assert_field_error(
        &p,
        "jj1017_code",
        "JJ1017 コードは半角英数字 32 文字以内で入力してください。",
    );
    assert_eq!(
        catalogue::get(&mut app.conn(), "CHEST")
            .unwrap()
            .jj1017_code,
        None
    );

    let mut good = fields("5a1b0c");
    good.push(("sort_order", &sort));
    let p = a.post("/admin/body-parts/CHEST", &good).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/admin/body-parts/CHEST?notice=flash.saved")
    );
    let chest = catalogue::get(&mut app.conn(), "CHEST").unwrap();
    assert_eq!(chest.jj1017_code.as_deref(), Some("5A1B0C"));
    assert_eq!(chest.code, "CHEST", "the code stays");
    assert_eq!(app.audit_count("body_part.update", "success"), 1);
    let p = a.get("/admin/body-parts/CHEST").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("value=\"5A1B0C\""));

    // A new entry, then the same code again.
    let new = [
        ("code", "hip_joint"),
        ("region", "lower_limb"),
        ("name_ja", "股関節"),
        ("name_en", "Hip joint"),
        ("jj1017_code", ""),
        ("sort_order", "900"),
        ("is_active", "on"),
    ];
    a.get("/admin/body-parts/new").await;
    let p = a.post("/admin/body-parts", &new).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(catalogue::get(&mut app.conn(), "HIP_JOINT").is_ok());
    let p = a.post("/admin/body-parts", &new).await;
    assert_field_error(&p, "code", "このコードはすでに登録されています。");

    let p = a.get("/admin/body-parts/NO_SUCH_PART").await;
    assert_eq!(p.status, 404);
}

#[tokio::test]
async fn a_coordinator_cannot_reach_the_association_screens() {
    let app = spawn_app().await;
    let n = network(&app);
    let mut c = signed_in(&app, &n.kmix_coordinator).await;
    let denied_view = app.audit_count("price_table.view", "denied");
    let p = c.get("/admin/pricing").await;
    assert_eq!(p.status, 404);
    let p = c.get("/admin/pricing/edit").await;
    assert_eq!(p.status, 404);
    assert_eq!(
        app.audit_count("price_table.view", "denied"),
        denied_view + 1
    );
    assert_eq!(app.audit_count("price_table.edit", "denied"), 1);
    let p = c
        .post(
            "/admin/pricing/edit",
            &refs(&with(table_form("1"), &[("action", "save")])),
        )
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(app.audit_count("price_table.create", "denied"), 1);
    assert_eq!(version_count(&app, None), 0);
    let p = c.get("/admin/body-parts").await;
    assert_eq!(p.status, 404);
    assert_eq!(app.audit_count("body_part.list", "denied"), 1);

    // Nor may the association administrator or a physician keep a facility's table.
    let admin = app.association_admin();
    let mut a = signed_in(&app, &admin).await;
    assert_eq!(a.get("/pricing").await.status, 404);
    assert_eq!(a.get("/facility/reading-policy").await.status, 404);
    let mut dr = signed_in(&app, &n.physician).await;
    assert_eq!(dr.get("/pricing/edit").await.status, 404);
}

#[tokio::test]
async fn the_reading_policy_saves_and_validates() {
    let app = spawn_app().await;
    let n = network(&app);
    let mut c = signed_in(&app, &n.kmix_coordinator).await;

    let p = c.get("/facility/reading-policy").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p
        .body
        .contains("name=\"routine_cutoff\" type=\"time\" class=\"short\" value=\"12:00\""));
    assert!(p.body.contains("まだ保存されていません"));

    let form = |from: &'static str, days: &'static str| {
        vec![
            ("accepts_emergency", "on"),
            ("emergency_from", from),
            ("emergency_until", "09:00"),
            ("routine_cutoff", "17:00"),
            ("routine_days", days),
            ("allow_radiologist_choice", "on"),
        ]
    };
    let p = c
        .post("/facility/reading-policy", &form("25:00", "9"))
        .await;
    assert_field_error(
        &p,
        "emergency_from",
        "時刻は HH:MM（00:00〜23:59）で入力してください。",
    );
    assert_field_error(&p, "routine_days", "0〜7 の日数を入力してください。");
    let row = policy::get(&mut app.conn(), n.kmix).unwrap();
    assert_eq!(
        row.updated_at,
        chrono::NaiveDateTime::MIN,
        "nothing written"
    );

    let p = c
        .post("/facility/reading-policy", &form("17:00", "2"))
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/facility/reading-policy?notice=flash.saved")
    );
    let row = policy::get(&mut app.conn(), n.kmix).unwrap();
    assert!(row.accepts_emergency && row.allow_radiologist_choice);
    assert_eq!(
        (row.emergency_from.as_str(), row.emergency_until.as_str()),
        ("17:00", "09:00")
    );
    assert_eq!(
        (row.routine_cutoff.as_str(), row.routine_days),
        ("17:00", 2)
    );
    assert_eq!(app.audit_count("reading_policy.update", "success"), 1);

    // Unticked boxes turn the options off.
    let p = c
        .post(
            "/facility/reading-policy",
            &[
                ("emergency_from", "00:00"),
                ("emergency_until", "00:00"),
                ("routine_cutoff", "12:00"),
                ("routine_days", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    let row = policy::get(&mut app.conn(), n.kmix).unwrap();
    assert!(!row.accepts_emergency && !row.allow_radiologist_choice);

    // A physician of the clinic may not.
    let mut dr = signed_in(&app, &n.physician).await;
    assert_eq!(dr.get("/facility/reading-policy").await.status, 404);
    assert_eq!(app.audit_count("reading_policy.view", "denied"), 1);
}

#[tokio::test]
async fn the_directory_table_follows_the_contract_by_the_day_in_japan() {
    // The app's clock at 16:00 UTC: already the next day in Japan (01:00 JST).
    let real = shared::db::now();
    let mut at = real.date().and_hms_opt(16, 0, 0).unwrap();
    if at <= real {
        at += chrono::Duration::days(1);
    }
    let offset = at - real;
    let app = common::spawn_app_shifted(offset).await;
    let n = network(&app);
    // A contract that starts today, Japan time (tomorrow in UTC terms).
    let jst_today = (at + chrono::Duration::hours(9)).date();
    let newcomer = app.facility("新設読影センター", "hospital", false, true);
    shared::membership::contracts::create(
        &mut app.conn(),
        &shared::audit::Ctx::system("test"),
        &shared::membership::contracts::ContractForm {
            requesting_facility_id: n.clinic.to_string(),
            supporting_facility_id: newcomer.to_string(),
            modalities: vec!["CT".into()],
            valid_from: jst_today.to_string(),
            valid_until: String::new(),
            note: String::new(),
        },
    )
    .unwrap();
    let (rules, tax) = radvision::core::pricing::kagoshima_style();
    common::reading::price_table(&app, Some(newcomer), &rules, &tax);

    let mut dr = app.client();
    dr.sign_in_at(&n.physician, offset).await;
    let p = dr.get(&format!("/directory/{newcomer}/prices")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("新設読影センター") && p.body.contains("3,000円"));
}
