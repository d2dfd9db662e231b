//! Logging set-up. Logs carry ids and outcomes, never patient names, ids or birth dates.

use shared::settings::LogSettings;
use tracing_subscriber::EnvFilter;

pub fn init(s: &LogSettings) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(&s.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if s.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
