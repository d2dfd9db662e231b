//! The `enkaku` binary: reads the settings, sets up logging and runs one subcommand.

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use portal::cli::{Cli, Command};
use shared::settings::Settings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("enkaku: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_password(file: Option<&std::path::Path>) -> Result<String, shared::Error> {
    let mut s = String::new();
    match file {
        Some(p) => {
            s = std::fs::read_to_string(p)
                .map_err(|e| shared::Error::Config(format!("{}: {e}", p.display())))?
        }
        None => {
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| shared::Error::Config(format!("stdin: {e}")))?;
        }
    }
    Ok(s.trim_end_matches(['\r', '\n']).to_owned())
}

fn run(cli: Cli) -> Result<ExitCode, shared::Error> {
    if let Command::Demo(args) = &cli.command {
        let settings = portal::demo::settings(args, cli.config.as_deref())?;
        portal::telemetry::init(&settings.log);
        return portal::demo::run(settings, args);
    }
    let settings = Settings::load(cli.config.as_deref())?;
    portal::telemetry::init(&settings.log);
    match cli.command {
        Command::Serve => {
            let app = portal::build(settings)?;
            tracing::info!(port = app.port, "enkaku serving");
            actix_web::rt::System::new()
                .block_on(app.run())
                .map_err(|e| shared::Error::Internal(e.to_string()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { dry_run } => {
            let mut conn = shared::db::establish(settings.database.url.expose())?;
            if dry_run {
                for m in shared::db::pending(&mut conn)? {
                    println!("pending: {m}");
                }
            } else {
                let applied = shared::db::migrate(&mut conn)?;
                println!("applied {} migration(s)", applied.len());
                for v in applied {
                    println!("  {v}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(cmd) => portal::cli_admin::run(&settings, cmd, read_password),
        Command::Demo(_) => Ok(ExitCode::SUCCESS),
    }
}
