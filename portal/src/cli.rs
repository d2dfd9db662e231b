//! The `enkaku` command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "enkaku",
    version,
    about = "Enkaku (遠隔): a prefecture-wide teleradiology network",
    long_about = "Enkaku federates a prefecture's clinics and hospitals so that clinics without a radiologist \
can have their CT, MRI, CR and mammography studies read at other hospitals.\n\n\
Settings come from --config (TOML) and ENKAKU_* environment variables (nested keys with `__`, \
e.g. ENKAKU_DATABASE__URL); see ops/config/enkaku.example.toml."
)]
pub struct Cli {
    /// The TOML settings file (also ENKAKU_CONFIG).
    #[arg(long, global = true, env = "ENKAKU_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the platform: the web application and API, the DICOM listener and the outbox
    /// worker (sends to workstations). Applies pending migrations first.
    Serve,
    /// Apply pending database migrations and exit (for deployments that migrate separately).
    Migrate {
        /// List pending migrations without applying them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Run a self-contained demo on loopback: creates the data directory, migrates, seeds a
    /// small prefecture (operator, prefecture, 2 hospitals, 3 clinics, contracts, users of
    /// every role, DICOM nodes, API tokens) once, writes <data-dir>/demo-accounts.json and
    /// serves. Two-factor sign-in is relaxed (shown as a banner); never use it for real data.
    Demo(DemoArgs),
    /// Administration tasks for the operator.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where the demo's database, images and mail live.
    #[arg(long, default_value = "./enkaku-demo")]
    pub data_dir: PathBuf,
    /// HTTP address (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: String,
    /// DICOM address (loopback only).
    #[arg(long, default_value = "127.0.0.1:11112")]
    pub dicom: String,
    /// Seed (if needed) and write demo-accounts.json, then exit without serving.
    #[arg(long)]
    pub seed_only: bool,
    /// A database other than the data directory's SQLite file (e.g. a PostgreSQL URL, as the
    /// browser tests use); `ENKAKU_DATABASE__URL` is ignored by the demo.
    #[arg(long)]
    pub database_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create a medical association administrator (and the operator facility if there is
    /// none). The password is read from --password-file or standard input.
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        #[arg(long)]
        email: String,
        /// Name of the operator facility, if it must be created.
        #[arg(long, default_value = "医師会 遠隔画像診断ネットワーク事務局")]
        operator_name: String,
        /// Read the password from this file instead of standard input.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Set a new temporary password for a user (they must change it at next sign-in); the
    /// password is read from --password-file or standard input. Ends their sessions.
    ResetPassword {
        #[arg(long)]
        username: String,
        /// Also clear the user's second factor so that they enrol again.
        #[arg(long)]
        reset_second_factor: bool,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Check the audit trail's hash chain; exits non-zero and lists every break (deleted,
    /// altered or inserted rows).
    VerifyAudit,
}
