//! The medical association's administration screens: facilities, their users, contracts.
//! Role checks (audited 404), CSRF/Origin, validation next to the field with nothing
//! changed, and the immediate effect of suspending a facility.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use shared::audit::Ctx;
use shared::domain::FacilityStatus;
use shared::membership::contracts::{self, ContractForm};
use shared::membership::dicom_nodes::{self, DicomNodeForm};
use shared::membership::{facilities, users};

/// Form fields, the field expected to be in error, and the message shown next to it.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

/// Rows of facilities, users and contracts.
fn counts(app: &TestApp) -> (usize, usize, usize) {
    let mut c = app.conn();
    (
        facilities::list(&mut c).unwrap().len(),
        users::list(&mut c, None).unwrap().len(),
        contracts::list(&mut c).unwrap().len(),
    )
}

fn denied_total(app: &TestApp) -> usize {
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

fn status_of(app: &TestApp, id: i64) -> String {
    facilities::get(&mut app.conn(), id).unwrap().status
}

/// The id at the end of a `Location` like `/admin/facilities/7?notice=…`.
fn id_in(location: &str, prefix: &str) -> i64 {
    let rest = location.strip_prefix(prefix).unwrap();
    rest.split('?').next().unwrap().parse().unwrap()
}

/// A 422 whose HTML shows `message` right next to `field`.
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

fn contract_fields<'a>(
    req: &'a str,
    sup: &'a str,
    from: &'a str,
    until: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("requesting_facility_id", req),
        ("supporting_facility_id", sup),
        ("modalities", "CT"),
        ("valid_from", from),
        ("valid_until", until),
        ("note", "メモ"),
    ]
}

fn clinic_fields(name: &str) -> Vec<(&str, &str)> {
    vec![
        ("name", name),
        ("kind", "clinic"),
        ("is_requesting", "on"),
        ("postal_address", "香川県丸亀市大手町 1-1"),
        ("phone", "0877-11-2222"),
        (
            "notification_emails",
            "desk@sanuki.example.jp\nin@sanuki.example.jp",
        ),
    ]
}

#[tokio::test]
async fn admin_registers_admits_and_staffs_a_facility_whose_user_then_signs_in() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    c.sign_in(&admin).await;

    let list = c.get("/admin/facilities").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("data-testid=\"new-facility\""));
    assert!(list.body.contains("医師会 事務局"));
    assert_eq!(c.get("/admin/facilities/new").await.status, 200);

    // Register: the facility starts as an application.
    let p = c
        .post("/admin/facilities", &clinic_fields("さぬき内科クリニック"))
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let loc = p.location.unwrap();
    assert!(loc.ends_with("?notice=flash.created"), "{loc}");
    let fid = id_in(&loc, "/admin/facilities/");
    let f = facilities::get(&mut app.conn(), fid).unwrap();
    assert_eq!(f.status, "applied");
    assert!(f.is_requesting && !f.is_supporting);
    assert_eq!(
        f.notification_emails,
        "desk@sanuki.example.jp\nin@sanuki.example.jp"
    );
    assert_eq!(app.audit_count("facility.create", "success"), 2);

    // The status filter.
    let applied = c.get("/admin/facilities?status=applied").await;
    assert!(applied.body.contains("さぬき内科クリニック"));
    assert!(applied.body.contains("class=\"tag status-applied\""));
    let operator_link = format!("href=\"/admin/facilities/{}\"", admin.facility_id);
    assert!(!applied.body.contains(&operator_link));
    let active = c.get("/admin/facilities?status=active").await;
    assert!(!active.body.contains("さぬき内科クリニック"));
    assert!(active.body.contains(&operator_link));

    // Admit.
    let page = c.get(&loc).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("作成しました。"), "notice shown");
    assert!(page.body.contains("data-testid=\"facility-status\""));
    assert!(page.body.contains("申請中"));
    assert!(page.body.contains("data-testid=\"admit\""));
    let p = c
        .post(
            &format!("/admin/facilities/{fid}/status"),
            &[("status", "active")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(status_of(&app, fid), "active");
    let page = c.get(&format!("/admin/facilities/{fid}")).await;
    assert!(page.body.contains("data-testid=\"suspend\""));
    assert!(!page.body.contains("data-testid=\"admit\""));

    // Edit.
    let mut fields = clinic_fields("さぬき内科クリニック 本院");
    fields[4] = ("phone", "0877-33-4444");
    let p = c.post(&format!("/admin/facilities/{fid}"), &fields).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let f = facilities::get(&mut app.conn(), fid).unwrap();
    assert_eq!(
        (f.name.as_str(), f.phone.as_str()),
        ("さぬき内科クリニック 本院", "0877-33-4444")
    );

    // Add a person: only roles the clinic allows are offered.
    let form = c.get(&format!("/admin/facilities/{fid}/users/new")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"physician\""));
    assert!(!form.body.contains("value=\"radiologist\""));
    assert!(!form.body.contains("value=\"association_admin\""));
    let p = c
        .post(
            &format!("/admin/facilities/{fid}/users"),
            &[
                ("username", "Dr.Sato"),
                ("display_name", "佐藤 花子"),
                ("email", "sato@sanuki.example.jp"),
                ("roles", "physician"),
                ("roles", "facility_admin"),
                ("password", "initial password 2024"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some(format!("/admin/facilities/{fid}?notice=flash.created").as_str())
    );
    let u = users::find_by_username(&mut app.conn(), "dr.sato")
        .unwrap()
        .unwrap();
    assert_eq!(u.facility.id, fid);
    assert_eq!(u.roles_str(), "physician,facility_admin");
    assert!(u.user.must_change_password && !u.user.totp_enabled);
    let page = c.get(&format!("/admin/facilities/{fid}")).await;
    assert!(page
        .body
        .contains(&format!("href=\"/admin/users/{}\"", u.user.id)));
    assert!(page.body.contains("依頼医"));

    // The new person signs in: enrol TOTP, then change the initial password.
    let mut them = app.client();
    them.get("/login").await;
    let p = them
        .post(
            "/login",
            &[
                ("username", "dr.sato"),
                ("password", "initial password 2024"),
            ],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/login/enrol"), "{}", p.body);
    let enrol = them.get("/login/enrol").await;
    let marker = "data-testid=\"totp-secret\">";
    let i = enrol.body.find(marker).unwrap() + marker.len();
    let secret = enrol.body[i..i + enrol.body[i..].find('<').unwrap()].to_owned();
    let p = them
        .post("/login/enrol", &[("code", &totp_now(&secret))])
        .await;
    assert_eq!(p.status, 200, "recovery codes shown: {}", p.body);
    let home = them.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/account/password"));
    them.get("/account/password").await;
    let p = them
        .post(
            "/account/password",
            &[
                ("current_password", "initial password 2024"),
                ("new_password", "my own passphrase 99"),
                ("confirm_password", "my own passphrase 99"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let home = them.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("佐藤 花子"));

    // The administrator edits the person, resets their credentials (which signs them
    // out and clears the second factor), then disables the account.
    let uid = u.user.id;
    let show = c.get(&format!("/admin/users/{uid}")).await;
    assert_eq!(show.status, 200);
    assert!(show.body.contains("dr.sato"));
    let p = c
        .post(
            &format!("/admin/users/{uid}"),
            &[
                ("display_name", "佐藤 花子（院長）"),
                ("email", "hanako@sanuki.example.jp"),
                ("roles", "physician"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let u = users::get(&mut app.conn(), uid).unwrap();
    assert_eq!(u.user.display_name, "佐藤 花子（院長）");
    assert_eq!(u.roles_str(), "physician");
    let p = c
        .post(
            &format!("/admin/users/{uid}/reset"),
            &[
                ("password", "temporary password 1"),
                ("reset_second_factor", "on"),
            ],
        )
        .await;
    assert_eq!(
        p.location.as_deref(),
        Some(format!("/admin/users/{uid}?notice=flash.credentials_reset").as_str())
    );
    let u = users::get(&mut app.conn(), uid).unwrap();
    assert!(u.user.must_change_password && !u.user.totp_enabled);
    assert_eq!(them.get("/").await.location.as_deref(), Some("/login"));
    let p = c
        .post(
            &format!("/admin/users/{uid}/active"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert!(!users::get(&mut app.conn(), uid).unwrap().user.is_active);
    let p = c
        .post(&format!("/admin/users/{uid}/active"), &[("active", "true")])
        .await;
    assert_eq!(p.status, 303);
    assert!(users::get(&mut app.conn(), uid).unwrap().user.is_active);

    // A contract with a supporting hospital.
    let hosp = app.facility("県立中央病院", "hospital", false, true);
    let form = c.get("/admin/contracts/new").await;
    assert!(form.body.contains("県立中央病院"));
    assert!(form.body.contains("value=\"CT\""));
    let fid_s = fid.to_string();
    let hosp_s = hosp.to_string();
    let p = c
        .post(
            "/admin/contracts",
            &[
                ("requesting_facility_id", &fid_s),
                ("supporting_facility_id", &hosp_s),
                ("modalities", "CT"),
                ("modalities", "MR"),
                ("valid_from", "2020-04-01"),
                ("valid_until", ""),
                ("note", "年間契約"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let kid = id_in(&p.location.unwrap(), "/admin/contracts/");
    let k = contracts::get(&mut app.conn(), kid).unwrap();
    assert_eq!(k.modalities, "CT MR");
    assert_eq!(k.valid_until, None);
    let list = c.get("/admin/contracts").await;
    assert!(list.body.contains("県立中央病院") && list.body.contains("さぬき内科クリニック 本院"));
    assert!(
        list.body.contains("class=\"tag status-active\""),
        "in force today"
    );
    let p = c
        .post(
            &format!("/admin/contracts/{kid}"),
            &[
                ("requesting_facility_id", &fid_s),
                ("supporting_facility_id", &hosp_s),
                ("modalities", "CR"),
                ("valid_from", "2020-04-01"),
                ("valid_until", "2021-03-31"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let k = contracts::get(&mut app.conn(), kid).unwrap();
    assert_eq!(k.modalities, "CR");
    let list = c.get("/admin/contracts").await;
    assert!(list.body.contains("期間外"));
    assert_eq!(app.audit_count("contract.update", "success"), 1);
}

#[tokio::test]
async fn invalid_input_is_explained_next_to_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let clinic = app.facility("高松クリニック", "clinic", true, false);
    let both = app.facility("坂出総合病院", "hospital", true, true);
    let support = app.facility("読影センター", "hospital", false, true);
    app.user(clinic, "taken.name", &["physician"]);
    contracts::create(
        &mut app.conn(),
        &Ctx::system("test"),
        &ContractForm {
            requesting_facility_id: clinic.to_string(),
            supporting_facility_id: support.to_string(),
            modalities: vec!["CT".into()],
            valid_from: "2024-04-01".into(),
            valid_until: String::new(),
            note: String::new(),
        },
    )
    .unwrap();
    let mut c = app.client();
    c.sign_in(&admin).await;
    let before = counts(&app);
    let audit_before = app.audit_count("facility.create", "success");

    // Facilities.
    let long = "あ".repeat(101);
    let cases: Vec<Case> = vec![
        (clinic_fields(""), "name", "入力してください。"),
        (clinic_fields(&long), "name", "長すぎます。"),
        (
            clinic_fields("高松クリニック"),
            "name",
            "すでに使われています。",
        ),
        (
            {
                let mut f = clinic_fields("新しい診療所");
                f[5] = ("notification_emails", "desk@@example");
                f
            },
            "notification_emails",
            "メールアドレスの形式が正しくありません。",
        ),
        (
            {
                let mut f = clinic_fields("新しい診療所");
                f[4] = ("phone", "電話して");
                f
            },
            "phone",
            "電話番号の形式が正しくありません。",
        ),
        (
            clinic_fields("新しい診療所")
                .into_iter()
                .filter(|(k, _)| *k != "is_requesting")
                .collect(),
            "is_requesting",
            "依頼側・支援側の少なくとも一方を選んでください。",
        ),
    ];
    for (fields, field, message) in &cases {
        c.get("/admin/facilities/new").await;
        let p = c.post("/admin/facilities", fields).await;
        assert_field_error(&p, field, message);
    }
    // The entered values are kept.
    let mut f = clinic_fields("新しい診療所");
    f[4] = ("phone", "電話して");
    let p = c.post("/admin/facilities", &f).await;
    assert!(p.body.contains("value=\"新しい診療所\""));
    assert!(p.body.contains("value=\"電話して\""));
    assert!(p.body.contains("desk@sanuki.example.jp"));
    // Editing an existing facility: same rules, nothing saved.
    let p = c
        .post(
            &format!("/admin/facilities/{clinic}"),
            &clinic_fields("読影センター"),
        )
        .await;
    assert_field_error(&p, "name", "すでに使われています。");
    assert_eq!(
        facilities::get(&mut app.conn(), clinic).unwrap().name,
        "高松クリニック"
    );

    // Users.
    let user_cases: Vec<Case> = vec![
        (
            vec![
                ("username", "Taken.Name"),
                ("display_name", "別の人"),
                ("email", "x@example.jp"),
                ("roles", "physician"),
                ("password", "long enough password"),
            ],
            "username",
            "すでに使われています。",
        ),
        (
            vec![
                ("username", "new.reader"),
                ("display_name", "読影 医師"),
                ("email", "r@example.jp"),
                ("roles", "radiologist"),
                ("password", "long enough password"),
            ],
            "roles",
            "この施設では付与できない役割です。",
        ),
        (
            vec![
                ("username", "new.person"),
                ("display_name", "新人"),
                ("email", "n@example.jp"),
                ("roles", "physician"),
                ("password", "short"),
            ],
            "password",
            "12 文字以上にしてください。",
        ),
        (
            vec![
                ("username", "new.person"),
                ("display_name", "新人"),
                ("email", "not-an-email"),
                ("roles", "physician"),
                ("password", "long enough password"),
            ],
            "email",
            "メールアドレスの形式が正しくありません。",
        ),
    ];
    for (fields, field, message) in &user_cases {
        let p = c
            .post(&format!("/admin/facilities/{clinic}/users"), fields)
            .await;
        assert_field_error(&p, field, message);
        assert!(
            !p.body.contains("long enough password"),
            "password not echoed"
        );
    }
    let taken = users::find_by_username(&mut app.conn(), "taken.name")
        .unwrap()
        .unwrap();
    let p = c
        .post(
            &format!("/admin/users/{}", taken.user.id),
            &[("display_name", "変更"), ("email", "t@example.jp")],
        )
        .await;
    assert_field_error(&p, "roles", "役割を 1 つ以上選んでください。");
    let p = c
        .post(
            &format!("/admin/users/{}/reset", taken.user.id),
            &[("password", "short")],
        )
        .await;
    assert_field_error(&p, "password", "12 文字以上にしてください。");
    let after = users::get(&mut app.conn(), taken.user.id).unwrap();
    assert_eq!(after.user.display_name, "taken.name 様");
    assert!(!after.user.must_change_password, "reset did not happen");

    // Contracts.
    let (clinic_s, both_s, support_s) = (clinic.to_string(), both.to_string(), support.to_string());
    let (cl, bo, su) = (clinic_s.as_str(), both_s.as_str(), support_s.as_str());
    let contract_cases = vec![
        (
            contract_fields(bo, bo, "2025-04-01", ""),
            "supporting_facility_id",
            "依頼側と支援側に同じ施設は選べません。",
        ),
        (
            contract_fields(cl, bo, "2025-04-01", "2025-03-31"),
            "valid_until",
            "終了日は開始日以降にしてください。",
        ),
        (
            contract_fields(cl, su, "2026-01-01", "2026-12-31"),
            "valid_from",
            "同じ組み合わせの契約と期間が重なっています。",
        ),
        (
            contract_fields(cl, bo, "2025-13-45", ""),
            "valid_from",
            "日付は YYYY-MM-DD の形式で入力してください。",
        ),
    ];
    for (fields, field, message) in &contract_cases {
        let p = c.post("/admin/contracts", fields).await;
        assert_field_error(&p, field, message);
        assert!(p.body.contains("メモ"), "note kept");
    }

    assert_eq!(counts(&app), before, "nothing was created");
    assert_eq!(app.audit_count("facility.create", "success"), audit_before);
    assert_eq!(app.audit_count("user.create", "success"), 2);
    assert_eq!(app.audit_count("contract.create", "success"), 1);
}

#[tokio::test]
async fn suspending_a_facility_takes_effect_at_once_and_reinstating_restores_it() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let clinic = app.facility("丸亀クリニック", "clinic", true, false);
    let doctor = app.user(clinic, "dr.ueda", &["physician"]);
    let addr: std::net::IpAddr = "192.168.10.5".parse().unwrap();
    dicom_nodes::create(
        &mut app.conn(),
        &Ctx::system("test"),
        clinic,
        &DicomNodeForm {
            ae_title: "UEDA_CT".into(),
            allowed_addresses: "192.168.10.0/24".into(),
            is_enabled: true,
            ..Default::default()
        },
    )
    .unwrap();
    let peer = |app: &TestApp| {
        dicom_nodes::authorise_peer(&mut app.conn(), "UEDA_CT", addr)
            .unwrap()
            .is_some()
    };
    assert!(peer(&app));

    let mut them = app.client();
    them.sign_in(&doctor).await;
    let mut c = app.client();
    c.sign_in(&admin).await;
    c.get(&format!("/admin/facilities/{clinic}")).await;
    let p = c
        .post(
            &format!("/admin/facilities/{clinic}/status"),
            &[("status", "suspended")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(status_of(&app, clinic), "suspended");
    let page = c.get(&format!("/admin/facilities/{clinic}")).await;
    assert!(page.body.contains("data-testid=\"reinstate\""));

    // Their session is gone, a new sign-in fails, the DICOM node is refused.
    let home = them.get("/").await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location.as_deref(), Some("/login"));
    let mut again = app.client();
    again.get("/login").await;
    let p = again
        .post("/login", &[("username", "dr.ueda"), ("password", PASSWORD)])
        .await;
    assert_eq!(p.status, 422, "sign-in refused");
    assert!(!peer(&app));

    // A transition the rules do not allow changes nothing.
    let p = c
        .post(
            &format!("/admin/facilities/{clinic}/status"),
            &[("status", "applied")],
        )
        .await;
    assert_eq!(p.status, 409);
    assert_eq!(status_of(&app, clinic), "suspended");

    let p = c
        .post(
            &format!("/admin/facilities/{clinic}/status"),
            &[("status", "active")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(status_of(&app, clinic), "active");
    let mut back = app.client();
    back.sign_in(&doctor).await;
    assert!(peer(&app));
    assert_eq!(app.audit_count("facility.status", "success"), 2);
}

#[tokio::test]
async fn everyone_but_the_association_admin_gets_an_audited_404() {
    let app = spawn_app().await;
    let _admin = app.association_admin();
    let clinic = app.facility("善通寺クリニック", "clinic", true, false);
    let hosp = app.facility("観音寺病院", "hospital", false, true);
    let doctor = app.user(clinic, "dr.kondo", &["physician"]);
    let fadmin = app.user(clinic, "clinic.admin", &["facility_admin"]);
    let k = contracts::create(
        &mut app.conn(),
        &Ctx::system("test"),
        &ContractForm {
            requesting_facility_id: clinic.to_string(),
            supporting_facility_id: hosp.to_string(),
            modalities: vec!["CT".into()],
            valid_from: "2024-04-01".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let uid = doctor.id;

    // Not signed in: the sign-in page.
    let mut anon = app.client();
    let p = anon.get("/admin/facilities").await;
    assert_eq!(p.location.as_deref(), Some("/login"));

    let gets = [
        "/admin/facilities".to_owned(),
        "/admin/facilities?status=applied".into(),
        "/admin/facilities/new".into(),
        format!("/admin/facilities/{clinic}"),
        "/admin/facilities/999999".into(),
        "/admin/facilities/abc".into(),
        format!("/admin/facilities/{clinic}/users/new"),
        format!("/admin/users/{uid}"),
        "/admin/users/999999".into(),
        "/admin/contracts".into(),
        "/admin/contracts/new".into(),
        format!("/admin/contracts/{}", k.id),
        "/admin/contracts/999999".into(),
    ];
    let clinic_s = clinic.to_string();
    let hosp_s = hosp.to_string();
    let facility_form = clinic_fields("乗っ取り診療所");
    let contract_form: Vec<(&str, &str)> = vec![
        ("requesting_facility_id", &clinic_s),
        ("supporting_facility_id", &hosp_s),
        ("modalities", "MR"),
        ("valid_from", "2030-01-01"),
    ];
    let user_form: Vec<(&str, &str)> = vec![
        ("username", "intruder"),
        ("display_name", "侵入者"),
        ("email", "i@example.jp"),
        ("roles", "physician"),
        ("roles", "facility_admin"),
        ("password", "long enough password"),
    ];
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/admin/facilities".into(), facility_form.clone()),
        (format!("/admin/facilities/{clinic}"), facility_form.clone()),
        ("/admin/facilities/999999".into(), facility_form),
        (
            format!("/admin/facilities/{clinic}/status"),
            vec![("status", "suspended")],
        ),
        (
            "/admin/facilities/999999/status".into(),
            vec![("status", "suspended")],
        ),
        (
            format!("/admin/facilities/{clinic}/users"),
            user_form.clone(),
        ),
        (
            format!("/admin/users/{uid}"),
            vec![("display_name", "x"), ("roles", "facility_admin")],
        ),
        (
            format!("/admin/users/{uid}/active"),
            vec![("active", "false")],
        ),
        (
            format!("/admin/users/{uid}/reset"),
            vec![("password", "another long password")],
        ),
        ("/admin/users/999999/reset".into(), vec![("password", "x")]),
        ("/admin/contracts".into(), contract_form.clone()),
        (format!("/admin/contracts/{}", k.id), contract_form),
    ];

    let before = counts(&app);
    for who in [&doctor, &fadmin] {
        let mut c = app.client();
        c.sign_in(who).await;
        for path in &gets {
            let n = denied_total(&app);
            let p = c.get(path).await;
            assert_eq!(p.status, 404, "GET {path} as {}", who.username);
            assert_eq!(denied_total(&app), n + 1, "GET {path} audited");
        }
        for (path, fields) in &posts {
            let n = denied_total(&app);
            let p = c.post(path, fields).await;
            assert_eq!(p.status, 404, "POST {path} as {}", who.username);
            assert_eq!(denied_total(&app), n + 1, "POST {path} audited");
        }
        // The denials are attributed to the person who asked.
        let mut conn = app.conn();
        let theirs = shared::audit::search(
            &mut conn,
            &shared::audit::Filter {
                outcome: Some("denied".into()),
                username: Some(who.username.clone()),
                ..Default::default()
            },
            0,
            1000,
        )
        .unwrap();
        assert_eq!(theirs.len(), gets.len() + posts.len());
    }
    assert!(app.audit_count("facility.view", "denied") >= 6);
    assert_eq!(counts(&app), before, "nothing changed");
    assert_eq!(status_of(&app, clinic), "active");
    let d = users::get(&mut app.conn(), uid).unwrap();
    assert!(d.user.is_active && !d.user.must_change_password);
    assert_eq!(d.user.display_name, "dr.kondo 様");
    assert_eq!(
        contracts::get(&mut app.conn(), k.id).unwrap().modalities,
        "CT"
    );
}

#[tokio::test]
async fn unknown_ids_are_audited_404s_for_the_admin_too() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let mut c = app.client();
    c.sign_in(&admin).await;
    for path in [
        "/admin/facilities/424242",
        "/admin/facilities/424242/users/new",
        "/admin/users/424242",
        "/admin/contracts/424242",
    ] {
        let n = denied_total(&app);
        assert_eq!(c.get(path).await.status, 404, "{path}");
        assert_eq!(denied_total(&app), n + 1, "{path} audited");
    }
    let p = c
        .post("/admin/facilities/424242/status", &[("status", "active")])
        .await;
    assert_eq!(p.status, 404);
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_another_origin_are_refused() {
    let app = spawn_app().await;
    let admin = app.association_admin();
    let clinic = app.facility("多度津クリニック", "clinic", true, false);
    let mut c = app.client();
    c.sign_in(&admin).await;
    c.get("/admin/facilities/new").await;
    let before = counts(&app);
    let encode = |fields: &[(&str, &str)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish()
    };
    let csrf = c.csrf.clone();
    let form = clinic_fields("偽装診療所");
    let mut with_token = form.clone();
    with_token.push(("csrf_token", &csrf));
    let mut wrong_token = form.clone();
    wrong_token.push(("csrf_token", "0123456789abcdef0123456789abcdef"));
    let status_with_token = [("status", "suspended"), ("csrf_token", csrf.as_str())];
    let status_without = [("status", "suspended")];

    let cases: Vec<(String, Option<&str>, String)> = vec![
        (
            "/admin/facilities".into(),
            Some(c.base.as_str()),
            encode(&form),
        ),
        (
            "/admin/facilities".into(),
            Some(c.base.as_str()),
            encode(&wrong_token),
        ),
        (
            "/admin/facilities".into(),
            Some("https://evil.example"),
            encode(&with_token),
        ),
        ("/admin/facilities".into(), None, encode(&with_token)),
        (
            format!("/admin/facilities/{clinic}/status"),
            Some(c.base.as_str()),
            encode(&status_without),
        ),
        (
            format!("/admin/facilities/{clinic}/status"),
            Some("http://127.0.0.1:1"),
            encode(&status_with_token),
        ),
    ];
    for (path, origin, body) in cases {
        let mut rb = c
            .http
            .post(format!("{}{path}", c.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(o) = origin {
            rb = rb.header("Origin", o);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "{path} from {origin:?}");
    }
    assert_eq!(counts(&app), before);
    assert_eq!(status_of(&app, clinic), "active");

    // The same requests with the token and the right Origin go through.
    let p = c
        .post(
            &format!("/admin/facilities/{clinic}/status"),
            &status_without,
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(
        facilities::get(&mut app.conn(), clinic).unwrap().status(),
        FacilityStatus::Suspended
    );
}
