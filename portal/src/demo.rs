//! `enkaku demo`: a small seeded prefecture on loopback, for trying Enkaku and for scripts.
//! Seeding happens once per data directory; the accounts, tokens, AE titles and ports are
//! written to `<data-dir>/demo-accounts.json` (format in the README).

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;
use shared::audit::Ctx;
use shared::auth::tokens;
use shared::db::DbConnection;
use shared::domain::{FacilityStatus, UserKind};
use shared::membership::contracts::{self, ContractForm};
use shared::membership::dicom_nodes::{self, DicomNodeForm};
use shared::membership::facilities::{self, FacilityForm};
use shared::membership::users::{self, Granter, UserForm};
use shared::settings::Settings;

use crate::cli::DemoArgs;

/// The password of every demo account (documented in the README).
pub const DEMO_PASSWORD: &str = "enkaku-demo-2026";

fn loopback(addr: &str, what: &str) -> Result<SocketAddr, shared::Error> {
    let a: SocketAddr = addr.parse().map_err(|_| {
        shared::Error::Config(format!("--{what} must be an address:port, not {addr:?}"))
    })?;
    if !a.ip().is_loopback() {
        return Err(shared::Error::Config(format!(
            "--{what}: the demo serves on loopback only"
        )));
    }
    Ok(a)
}

/// The demo's settings: the file and environment as usual, then the demo's own values.
pub fn settings(args: &DemoArgs, file: Option<&Path>) -> Result<Settings, shared::Error> {
    let http = loopback(&args.http, "http")?;
    loopback(&args.dicom, "dicom")?;
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.retain(|(k, _)| k != "ENKAKU_DATABASE__URL");
    if let Some(url) = &args.database_url {
        env.push(("ENKAKU_DATABASE__URL".into(), url.clone()));
    }
    env.push((
        "ENKAKU_DATA_DIR".into(),
        args.data_dir.display().to_string(),
    ));
    env.push(("ENKAKU_DEMO".into(), "true".into()));
    env.push(("ENKAKU_HTTP__BIND".into(), http.to_string()));
    env.push(("ENKAKU_HTTP__PUBLIC_URL".into(), format!("http://{http}")));
    env.push(("ENKAKU_DICOM__BIND".into(), args.dicom.clone()));
    env.push(("ENKAKU_AUTH__REQUIRE_SECOND_FACTOR".into(), "false".into()));
    env.push(("ENKAKU_MAIL__TRANSPORT".into(), "file".into()));
    Settings::load_from(file, &env)
}

#[derive(Serialize)]
pub struct DemoAccounts {
    pub url: String,
    pub password: String,
    pub second_factor_required: bool,
    pub dicom: DemoDicom,
    pub facilities: Vec<DemoFacility>,
    pub users: Vec<DemoUser>,
}

#[derive(Serialize)]
pub struct DemoDicom {
    pub host: String,
    pub port: u16,
    pub called_ae_title: String,
}

#[derive(Serialize)]
pub struct DemoFacility {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub requesting: bool,
    pub supporting: bool,
    pub ae_titles: Vec<String>,
    pub service_account: Option<String>,
    pub service_token: Option<String>,
}

#[derive(Serialize)]
pub struct DemoUser {
    pub username: String,
    pub display_name: String,
    pub facility: String,
    pub roles: Vec<String>,
    pub token: String,
}

struct Plan {
    name: &'static str,
    kind: &'static str,
    requesting: bool,
    supporting: bool,
    phone: &'static str,
    email: &'static str,
    /// (username, display name, roles)
    users: &'static [(&'static str, &'static str, &'static [&'static str])],
    ae_title: Option<&'static str>,
}

const PLAN: &[Plan] = &[
    Plan {
        name: "香川県医師会 遠隔画像診断ネットワーク事務局",
        kind: "operator",
        requesting: false,
        supporting: false,
        phone: "087-000-0001",
        email: "",
        users: &[("admin", "医師会 事務局 管理者", &["association_admin"])],
        ae_title: None,
    },
    Plan {
        name: "香川県 健康福祉部 医務国保課",
        kind: "prefecture",
        requesting: false,
        supporting: false,
        phone: "087-000-0002",
        email: "",
        users: &[("auditor", "県 監査担当", &["auditor"])],
        ae_title: None,
    },
    Plan {
        name: "県立中央病院",
        kind: "hospital",
        requesting: false,
        supporting: true,
        phone: "087-000-1000",
        email: "reading@chuo.example.jp",
        users: &[
            (
                "rad.chuo",
                "中央 読影医（放射線診断専門医）",
                &["radiologist"],
            ),
            ("coord.chuo", "中央 配分担当", &["coordinator"]),
            ("fadmin.chuo", "中央 施設管理者", &["facility_admin"]),
        ],
        ae_title: Some("CHUO_WS"),
    },
    Plan {
        name: "市民総合病院",
        kind: "hospital",
        requesting: true,
        supporting: true,
        phone: "087-000-2000",
        email: "radiology@shimin.example.jp",
        users: &[
            ("rad.shimin", "市民 読影医", &["radiologist", "coordinator"]),
            ("fadmin.shimin", "市民 施設管理者", &["facility_admin"]),
        ],
        ae_title: Some("SHIMIN_PACS"),
    },
    Plan {
        name: "さぬき内科クリニック",
        kind: "clinic",
        requesting: true,
        supporting: false,
        phone: "0877-00-3000",
        email: "info@sanuki.example.jp",
        users: &[
            ("dr.sanuki", "さぬき 依頼医", &["physician"]),
            ("rt.sanuki", "さぬき 診療放射線技師", &["radiographer"]),
            ("fadmin.sanuki", "さぬき 施設管理者", &["facility_admin"]),
        ],
        ae_title: Some("SANUKI_CT"),
    },
    Plan {
        name: "高松整形外科医院",
        kind: "clinic",
        requesting: true,
        supporting: false,
        phone: "087-000-4000",
        email: "office@takamatsu-seikei.example.jp",
        users: &[
            ("dr.takamatsu", "高松 依頼医", &["physician"]),
            ("fadmin.takamatsu", "高松 施設管理者", &["facility_admin"]),
        ],
        ae_title: Some("TKM_MR"),
    },
    Plan {
        name: "丸亀ファミリークリニック",
        kind: "clinic",
        requesting: true,
        supporting: false,
        phone: "0877-00-5000",
        email: "desk@marugame-fc.example.jp",
        users: &[(
            "dr.marugame",
            "丸亀 依頼医",
            &["physician", "facility_admin"],
        )],
        ae_title: Some("MARUGAME_CR"),
    },
];

/// Seeds the demo prefecture into an empty database and returns what scripts need.
pub fn seed(conn: &mut DbConnection, settings: &Settings) -> Result<DemoAccounts, shared::Error> {
    let ctx = Ctx::system("demo");
    let max_days = settings.auth.token_max_days;
    let mut out_f = Vec::new();
    let mut out_u = Vec::new();
    let mut ids = Vec::new();
    for p in PLAN {
        let f = facilities::create(
            conn,
            &ctx,
            &FacilityForm {
                name: p.name.into(),
                kind: p.kind.into(),
                is_requesting: p.requesting,
                is_supporting: p.supporting,
                postal_address: "香川県".into(),
                phone: p.phone.into(),
                notification_emails: p.email.into(),
            },
            FacilityStatus::Active,
        )?;
        ids.push(f.id);
        for (username, display, roles) in p.users {
            let u = users::create(
                conn,
                &ctx,
                f.id,
                &UserForm {
                    username: (*username).into(),
                    display_name: (*display).into(),
                    email: format!("{username}@demo.enkaku.example.jp"),
                    roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                    password: DEMO_PASSWORD.into(),
                },
                UserKind::Person,
                Granter::Association,
            )?;
            // Demo accounts keep the demo password (no forced change).
            users::clear_must_change_password(conn, u.user.id)?;
            let (token, _) = tokens::issue(
                conn,
                &ctx,
                u.user.id,
                "demo",
                &max_days.min(365).to_string(),
                max_days,
            )?;
            out_u.push(DemoUser {
                username: u.user.username,
                display_name: u.user.display_name,
                facility: f.name.clone(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                token,
            });
        }
        let mut ae_titles = Vec::new();
        if let Some(ae) = p.ae_title {
            dicom_nodes::create(
                conn,
                &ctx,
                f.id,
                &DicomNodeForm {
                    ae_title: ae.into(),
                    allowed_addresses: "127.0.0.1\n::1".into(),
                    host: "127.0.0.1".into(),
                    port: "11113".into(),
                    description: "デモ用 (loopback)".into(),
                    is_enabled: true,
                },
            )?;
            ae_titles.push(ae.to_owned());
        }
        let (mut svc_name, mut svc_token) = (None, None);
        if p.requesting || p.supporting {
            let roles: Vec<String> = if p.requesting {
                vec!["radiographer".into()]
            } else {
                vec!["radiologist".into()]
            };
            let short = p
                .ae_title
                .unwrap_or("svc")
                .to_ascii_lowercase()
                .replace('_', "-");
            let svc = users::create(
                conn,
                &ctx,
                f.id,
                &UserForm {
                    username: format!("svc.{short}"),
                    display_name: format!("{} 連携システム", p.name),
                    email: String::new(),
                    roles,
                    password: String::new(),
                },
                UserKind::Service,
                Granter::Association,
            )?;
            let (token, _) =
                tokens::issue(conn, &ctx, svc.user.id, "demo service", "365", max_days)?;
            svc_name = Some(svc.user.username);
            svc_token = Some(token);
        }
        out_f.push(DemoFacility {
            id: f.id,
            name: f.name,
            kind: f.kind,
            requesting: f.is_requesting,
            supporting: f.is_supporting,
            ae_titles,
            service_account: svc_name,
            service_token: svc_token,
        });
    }
    // Contracts: every clinic and the requesting hospital may send to the supporting hospitals
    // (not to themselves); 丸亀 only to 県立中央病院.
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Duration::days(365)).to_string();
    for (i, p) in PLAN.iter().enumerate() {
        if !p.requesting {
            continue;
        }
        for (j, s) in PLAN.iter().enumerate() {
            if !s.supporting
                || i == j
                || (p.name.starts_with("丸亀") && !s.name.starts_with("県立"))
            {
                continue;
            }
            contracts::create(
                conn,
                &ctx,
                &ContractForm {
                    requesting_facility_id: ids[i].to_string(),
                    supporting_facility_id: ids[j].to_string(),
                    modalities: ["CT", "MR", "CR", "DX", "MG"]
                        .iter()
                        .map(|m| (*m).to_owned())
                        .collect(),
                    valid_from: from.clone(),
                    valid_until: String::new(),
                    note: "デモ契約".into(),
                },
            )?;
        }
    }
    seed_reading(conn, &ctx, &ids)?;
    seed_worklist(conn, &ctx)?;
    let dicom: SocketAddr = settings
        .dicom
        .bind
        .parse()
        .map_err(|_| shared::Error::Config("dicom.bind".into()))?;
    Ok(DemoAccounts {
        url: settings.http.public_url.clone(),
        password: DEMO_PASSWORD.into(),
        second_factor_required: settings.auth.require_second_factor,
        dicom: DemoDicom {
            host: dicom.ip().to_string(),
            port: dicom.port(),
            called_ae_title: settings.dicom.ae_title.clone(),
        },
        facilities: out_f,
        users: out_u,
    })
}

/// Price tables and reading policies: 県立中央病院 keeps the K-MIX R 2022 table (tax
/// included, after hours 17:30–08:30 and on weekends and holidays) and lets requesters name a
/// radiologist; 市民総合病院 reads Kagoshima style (3,000 routine / 4,000 emergency, tax
/// excluded) and takes emergencies around the clock.
fn seed_reading(conn: &mut DbConnection, ctx: &Ctx, ids: &[i64]) -> Result<(), shared::Error> {
    use radvision::core::calendar::AfterHours;
    use radvision::core::pricing;
    use radvision::core::requests::version_from_rules;
    use shared::domain::TimeOfDay;
    use shared::reading::{policy, pricing as tables};

    let facility = |prefix: &str| {
        PLAN.iter()
            .position(|p| p.name.starts_with(prefix))
            .map(|i| ids[i])
            .ok_or_else(|| shared::Error::Internal(format!("demo plan lacks {prefix}")))
    };
    let chuo = facility("県立中央病院")?;
    let shimin = facility("市民総合病院")?;
    let time = |s: &str| TimeOfDay::parse(s).map_err(|e| shared::Error::Internal(e.into()));
    let office_hours = AfterHours {
        start: time("17:30")?,
        end: time("08:30")?,
        weekends_and_holidays: true,
    };
    let now = shared::db::now();
    let (rules, tax) = pricing::kmix_r_2022();
    let kmix = version_from_rules(&rules, &tax, &office_hours, "K-MIX R 料金表（2022年3月）");
    tables::create_version(conn, ctx, Some(chuo), now, &kmix)?;
    let (rules, tax) = pricing::kagoshima_style();
    let never = AfterHours {
        start: TimeOfDay::MIDNIGHT,
        end: TimeOfDay::MIDNIGHT,
        weekends_and_holidays: false,
    };
    let kago = version_from_rules(&rules, &tax, &never, "一般 3,000円・緊急 4,000円（税別）");
    tables::create_version(conn, ctx, Some(shimin), now, &kago)?;
    policy::set(
        conn,
        ctx,
        chuo,
        &policy::PolicyForm {
            accepts_emergency: true,
            emergency_from: "08:30".into(),
            emergency_until: "22:00".into(),
            routine_cutoff: "12:00".into(),
            routine_days: "1".into(),
            allow_radiologist_choice: true,
        },
    )?;
    policy::set(
        conn,
        ctx,
        shimin,
        &policy::PolicyForm {
            accepts_emergency: true,
            emergency_from: "00:00".into(),
            emergency_until: "00:00".into(),
            routine_cutoff: "17:00".into(),
            routine_days: "1".into(),
            allow_radiologist_choice: false,
        },
    )?;
    Ok(())
}

/// The worklist's team settings: specialty scores for rad.chuo and rad.shimin (CT and MRI:
/// head and neck 90, chest 80, abdomen 70; rad.shimin reads no limbs, rad.chuo limbs 60),
/// duty around the clock every day and on holidays, and automatic assignment on at
/// 県立中央病院.
fn seed_worklist(conn: &mut DbConnection, ctx: &Ctx) -> Result<(), shared::Error> {
    use shared::domain::{BodyRegion, Exam};
    use shared::reading::{duty, specialties, worklist};

    for (username, limbs) in [("rad.chuo", 60u8), ("rad.shimin", 0u8)] {
        let Some(u) = users::find_by_username(conn, username)? else {
            continue;
        };
        let mut grid = specialties::Grid::new();
        for exam in [Exam::Ct, Exam::Mri] {
            for (region, score) in [
                (BodyRegion::HeadNeck, 90),
                (BodyRegion::Chest, 80),
                (BodyRegion::Abdomen, 70),
                (BodyRegion::UpperLimb, limbs),
                (BodyRegion::LowerLimb, limbs),
            ] {
                grid.insert((exam, region), score);
            }
        }
        grid.insert((Exam::CrDx, BodyRegion::Chest), 80);
        let facility_id = u.user.facility_id;
        specialties::save(conn, ctx, facility_id, u.user.id, &grid)?;
        for day in 0..=duty::HOLIDAY {
            duty::add(
                conn,
                ctx,
                facility_id,
                &duty::SlotForm {
                    user_id: u.user.id.to_string(),
                    weekday: day.to_string(),
                    starts: "00:00".into(),
                    ends: "24:00".into(),
                },
            )?;
        }
        if username == "rad.chuo" {
            worklist::save_settings(conn, ctx, facility_id, true, "8")?;
        }
    }
    Ok(())
}

/// Migrates, seeds once, writes `demo-accounts.json`, prints the accounts and serves.
pub fn run(settings: Settings, args: &DemoArgs) -> Result<ExitCode, shared::Error> {
    let dir = &settings.data_dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| shared::Error::Config(format!("{}: {e}", dir.display())))?;
    let accounts_path = dir.join("demo-accounts.json");
    let mut conn = shared::db::establish(settings.database.url.expose())?;
    shared::db::migrate(&mut conn)?;
    let seeded = !facilities::list(&mut conn)?.is_empty();
    if !seeded {
        let accounts = seed(&mut conn, &settings)?;
        let json = serde_json::to_string_pretty(&accounts)
            .map_err(|e| shared::Error::Internal(e.to_string()))?;
        write_private(&accounts_path, &json)?;
    } else if !accounts_path.exists() {
        return Err(shared::Error::Config(format!(
            "{} holds data but no demo-accounts.json; use an empty --data-dir",
            dir.display()
        )));
    }
    drop(conn);
    print_banner(&settings, &accounts_path);
    if args.seed_only {
        return Ok(ExitCode::SUCCESS);
    }
    let app = crate::build(settings)?;
    actix_web::rt::System::new()
        .block_on(app.run())
        .map_err(|e| shared::Error::Internal(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &Path, content: &str) -> Result<(), shared::Error> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| shared::Error::Config(format!("{}: {e}", path.display())))?;
    f.write_all(content.as_bytes())
        .map_err(|e| shared::Error::Config(e.to_string()))?;
    Ok(())
}

fn print_banner(settings: &Settings, accounts: &Path) {
    println!();
    println!("  Enkaku demo (遠隔画像診断ネットワーク デモ)");
    println!("  URL:       {}", settings.http.public_url);
    println!(
        "  Password:  {DEMO_PASSWORD}   (every demo account; second factor relaxed for the demo)"
    );
    println!("  Accounts:  admin (医師会), auditor (県), rad.chuo / coord.chuo / fadmin.chuo (県立中央病院),");
    println!("             rad.shimin / fadmin.shimin (市民総合病院), dr.sanuki / rt.sanuki / fadmin.sanuki,");
    println!("             dr.takamatsu / fadmin.takamatsu, dr.marugame (clinics)");
    println!(
        "  DICOM:     called AE title {} at {} — clinics send as SANUKI_CT, TKM_MR, MARUGAME_CR",
        settings.dicom.ae_title, settings.dicom.bind
    );
    println!(
        "             e.g. storescu -aet SANUKI_CT -aec {} {} <files>",
        settings.dicom.ae_title,
        settings.dicom.bind.replace(':', " ")
    );
    println!("  Tokens, AE titles and ports: {}", accounts.display());
    println!();
}
