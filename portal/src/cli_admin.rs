//! `enkaku admin …`: bootstrap the first association administrator, reset a password, and
//! verify the audit chain.

use std::path::Path;
use std::process::ExitCode;

use shared::audit::Ctx;
use shared::db::DbConnection;
use shared::domain::{FacilityKind, FacilityStatus, Role, UserKind};
use shared::membership::facilities::{self, FacilityForm};
use shared::membership::users::{self, Granter, UserForm};
use shared::settings::Settings;

use crate::cli::AdminCommand;

type ReadPassword = fn(Option<&Path>) -> Result<String, shared::Error>;

fn connect(settings: &Settings) -> Result<DbConnection, shared::Error> {
    if let Some(parent) = shared::db::sqlite_path(settings.database.url.expose())
        .map(Path::new)
        .and_then(Path::parent)
    {
        std::fs::create_dir_all(parent).map_err(|e| shared::Error::Config(e.to_string()))?;
    }
    let mut conn = shared::db::establish(settings.database.url.expose())?;
    shared::db::migrate(&mut conn)?;
    Ok(conn)
}

/// Prints validation errors field by field.
fn explain(e: shared::Error) -> shared::Error {
    if let shared::Error::Validation(v) = &e {
        for f in v.iter() {
            eprintln!("  {}: {}", f.field, f.message);
        }
    }
    e
}

/// Creates the operator facility (if none) and an association administrator in it.
pub fn create_admin(
    conn: &mut DbConnection,
    username: &str,
    display_name: &str,
    email: &str,
    operator_name: &str,
    password: &str,
) -> Result<i64, shared::Error> {
    let ctx = Ctx::system("cli");
    let operator = facilities::list(conn)?
        .into_iter()
        .find(|f| f.kind() == FacilityKind::Operator);
    let operator = match operator {
        Some(f) => f,
        None => facilities::create(
            conn,
            &ctx,
            &FacilityForm {
                name: operator_name.into(),
                kind: "operator".into(),
                ..Default::default()
            },
            FacilityStatus::Active,
        )?,
    };
    let u = users::create(
        conn,
        &ctx,
        operator.id,
        &UserForm {
            username: username.into(),
            display_name: display_name.into(),
            email: email.into(),
            roles: vec![Role::AssociationAdmin.as_str().into()],
            password: password.into(),
        },
        UserKind::Person,
        Granter::Association,
    )?;
    Ok(u.user.id)
}

pub fn run(
    settings: &Settings,
    cmd: AdminCommand,
    read_password: ReadPassword,
) -> Result<ExitCode, shared::Error> {
    let mut conn = connect(settings)?;
    match cmd {
        AdminCommand::CreateAdmin {
            username,
            display_name,
            email,
            operator_name,
            password_file,
        } => {
            let pw = read_password(password_file.as_deref())?;
            let id = create_admin(
                &mut conn,
                &username,
                &display_name,
                &email,
                &operator_name,
                &pw,
            )
            .map_err(explain)?;
            println!("created association administrator {username} (user id {id}); they enrol a second factor at first sign-in");
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::ResetPassword {
            username,
            reset_second_factor,
            password_file,
        } => {
            let pw = read_password(password_file.as_deref())?;
            let u =
                users::find_by_username(&mut conn, &username)?.ok_or(shared::Error::NotFound)?;
            users::admin_reset_credentials(
                &mut conn,
                &Ctx::system("cli"),
                u.user.id,
                &pw,
                reset_second_factor,
            )
            .map_err(explain)?;
            println!(
                "password reset for {}; they must change it at next sign-in",
                u.user.username
            );
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::VerifyAudit => {
            let report = shared::audit::verify(&mut conn)?;
            shared::audit::record_now(
                &mut conn,
                &Ctx::system("cli"),
                shared::audit::Event::new(
                    "audit.verify",
                    if report.is_intact() { shared::audit::Outcome::Success } else { shared::audit::Outcome::Failure },
                )
                .detail(serde_json::json!({"checked": report.checked, "problems": report.problems.len()})),
            )?;
            if report.is_intact() {
                println!("audit trail intact: {} events checked", report.checked);
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "audit trail BROKEN: {} events checked, {} problem(s):",
                    report.checked,
                    report.problems.len()
                );
                for p in &report.problems {
                    println!("  {p}");
                }
                Ok(ExitCode::from(2))
            }
        }
    }
}
