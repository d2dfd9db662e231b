//! The one typed settings value, built at start-up from a TOML file and `ENKAKU_*`
//! environment variables (nested keys with `__`, e.g. `ENKAKU_DATABASE__URL`), validated,
//! and passed in. `ENKAKU_X__Y_FILE=/path` reads a secret from a file.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "[redacted]"
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the SQLite database, stored images and mail files live.
    pub data_dir: PathBuf,
    /// Demo mode: seeded data, shown as a banner on every page.
    pub demo: bool,
    pub http: HttpSettings,
    pub dicom: DicomSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub mail: MailSettings,
    pub log: LogSettings,
    pub storage: StorageSettings,
    pub ingest: IngestSettings,
    pub worker: WorkerSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// Content-addressed files under `storage.path` (the default).
    Filesystem,
    /// An S3-compatible object store (Ceph RGW, MinIO, AWS S3).
    S3,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub backend: StorageBackend,
    /// Filesystem store root. Default: `<data_dir>/blobs`.
    pub path: Option<PathBuf>,
    pub s3_endpoint: String,
    pub s3_bucket: String,
    pub s3_region: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: Secret,
    /// Allow a plain-http endpoint (a loopback test store only).
    pub s3_allow_http: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// Largest single instance accepted, in bytes (C-STORE, STOW-RS, upload).
    pub max_instance_bytes: u64,
    /// Largest STOW-RS or upload request body, in bytes.
    pub max_request_bytes: u64,
    /// Largest study, in bytes; instances beyond it are refused.
    pub max_study_bytes: u64,
    /// Simultaneous DICOM associations.
    pub max_associations: usize,
    /// A study counts as "still arriving" this many seconds after its last instance.
    pub arriving_seconds: u32,
    /// Send DICOM-listener instances through the ingest journal (one flush per instance;
    /// see docs/ARCHITECTURE.md). Off: every instance is written straight into the blob
    /// store and the index commit is flushed on its own (about half the speed).
    pub journal: bool,
    /// The journal's directory. Default: `<data_dir>/journal` (keep it on a local disk).
    pub journal_dir: Option<PathBuf>,
    /// A journal segment is closed at this size, in MiB, and recycled or deleted once copied.
    pub journal_segment_mib: u32,
    /// Records are copied from the journal into the blob store in pauses between
    /// instances; over this much waiting data, in MiB, they are copied at once.
    pub journal_backlog_mib: u32,
    /// Finished journal segments are kept and reused, up to this much in MiB, instead of
    /// deleted: an instance written over a reused segment's blocks is flushed faster than
    /// one that makes a file grow. The journal directory keeps this much disk at rest.
    pub journal_recycle_mib: u32,
}

/// The outbox worker (started by `serve` beside the HTTP server and the DICOM listener) and
/// the sends to workstations it delivers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Run the worker in this process (a web-only node may leave it to another).
    pub enabled: bool,
    /// How often to look for due jobs when idle, in milliseconds.
    pub poll_millis: u64,
    /// A claimed job is retried by another worker when its claimant has not reported for
    /// this long (it died); a running send renews its lease as it makes progress.
    pub lease_seconds: u32,
    /// Attempts before a job is given up (status failed).
    pub max_attempts: u32,
    /// The first retry waits this long; each further one twice as long as the previous.
    pub retry_base_seconds: u32,
    /// Longest wait between attempts.
    pub retry_max_seconds: u32,
    /// Time allowed to connect and negotiate an association with a workstation.
    pub send_connect_timeout_seconds: u32,
    /// Time allowed for each C-STORE response (and each write).
    pub send_response_timeout_seconds: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address the HTTP server binds to.
    pub bind: String,
    /// The URL users reach Enkaku at (behind the TLS proxy in production). Its scheme decides
    /// the cookie flags; its origin is what the CSRF Origin check expects.
    pub public_url: String,
    /// HTTP worker threads (0 = one per core).
    pub workers: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DicomSettings {
    /// Address the DICOM listener binds to.
    pub bind: String,
    /// The platform's AE title (the called AE title senders must use).
    pub ae_title: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://<path>` or `postgres://user:password@host:port/db`. Empty: SQLite in the
    /// data directory.
    pub url: Secret,
    pub pool_size: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub idle_timeout_minutes: u32,
    pub absolute_timeout_hours: u32,
    /// Every human account signs in with a TOTP second factor. Only a loopback demo may turn
    /// this off; the UI then shows a warning banner.
    pub require_second_factor: bool,
    pub max_failures_per_account: u32,
    pub max_failures_per_address: u32,
    pub failure_window_minutes: u32,
    /// Default and maximum lifetime of API tokens, in days.
    pub token_max_days: u32,
    /// Issuer name shown in authenticator apps.
    pub totp_issuer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// Each message is written as a file under `mail.file_dir` (the demo default).
    File,
    Smtp,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransport,
    pub from: String,
    /// Default: `<data_dir>/mail`.
    pub file_dir: Option<PathBuf>,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_username: String,
    pub smtp_password: Secret,
    /// `starttls`, `tls` or `none` (none only towards a loopback relay).
    pub smtp_security: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A tracing filter, e.g. `info,portal=debug`.
    pub filter: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("./data"),
            demo: false,
            http: HttpSettings {
                bind: "127.0.0.1:8080".into(),
                public_url: "http://127.0.0.1:8080".into(),
                workers: 0,
            },
            dicom: DicomSettings {
                bind: "127.0.0.1:11112".into(),
                ae_title: "ENKAKU".into(),
            },
            database: DatabaseSettings {
                url: Secret::default(),
                pool_size: 10,
            },
            auth: AuthSettings {
                idle_timeout_minutes: 30,
                absolute_timeout_hours: 12,
                require_second_factor: true,
                max_failures_per_account: 5,
                max_failures_per_address: 30,
                failure_window_minutes: 15,
                token_max_days: 365,
                totp_issuer: "Enkaku".into(),
            },
            mail: MailSettings {
                transport: MailTransport::File,
                from: "enkaku@localhost".into(),
                file_dir: None,
                smtp_host: String::new(),
                smtp_port: 587,
                smtp_username: String::new(),
                smtp_password: Secret::default(),
                smtp_security: "starttls".into(),
            },
            log: LogSettings {
                filter: "info".into(),
                format: "text".into(),
            },
            storage: StorageSettings {
                backend: StorageBackend::Filesystem,
                path: None,
                s3_endpoint: String::new(),
                s3_bucket: String::new(),
                s3_region: "us-east-1".into(),
                s3_access_key_id: String::new(),
                s3_secret_access_key: Secret::default(),
                s3_allow_http: false,
            },
            ingest: IngestSettings {
                max_instance_bytes: 1024 * 1024 * 1024,
                max_request_bytes: 4 * 1024 * 1024 * 1024,
                max_study_bytes: 16 * 1024 * 1024 * 1024,
                max_associations: 32,
                arriving_seconds: 90,
                journal: true,
                journal_dir: None,
                journal_segment_mib: 256,
                journal_backlog_mib: 2048,
                journal_recycle_mib: 2048,
            },
            worker: WorkerSettings {
                enabled: true,
                poll_millis: 2000,
                lease_seconds: 300,
                max_attempts: 10,
                retry_base_seconds: 30,
                retry_max_seconds: 3600,
                send_connect_timeout_seconds: 15,
                send_response_timeout_seconds: 60,
            },
        }
    }
}

/// The top-level keys of the settings (what `ENKAKU_<KEY>…` variables may name).
const SECTIONS: &[&str] = &[
    "data_dir", "demo", "http", "dicom", "database", "auth", "mail", "log", "storage", "ingest",
    "worker",
];

impl Settings {
    /// Defaults, then the TOML file (if given), then `ENKAKU_*` variables, then validation.
    pub fn load(file: Option<&Path>) -> Result<Settings, Error> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// Like `load`, with the environment passed in (so tests need not touch the process's).
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Settings, Error> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(Error::Config(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        let mut vars: Vec<(String, String)> = Vec::new();
        for (k, v) in env {
            let Some(rest) = k.strip_prefix("ENKAKU_") else {
                continue;
            };
            // Only the settings' own sections; other ENKAKU_* variables (ENKAKU_CONFIG,
            // the test harness's ENKAKU_TEST_*) are not settings. A typo inside a known
            // section is still refused.
            let top = rest.split("__").next().unwrap_or("").to_ascii_lowercase();
            let top = top.strip_suffix("_file").unwrap_or(&top);
            if !SECTIONS.contains(&top) {
                continue;
            }
            if let Some(base) = rest.strip_suffix("_FILE") {
                let content = std::fs::read_to_string(v)
                    .map_err(|e| Error::Config(format!("ENKAKU_{rest}: cannot read {v}: {e}")))?;
                vars.push((
                    base.to_owned(),
                    content.trim_end_matches(['\n', '\r']).to_owned(),
                ));
            } else {
                vars.push((rest.to_owned(), v.clone()));
            }
        }
        for (k, v) in vars {
            fig = fig.merge((k.to_lowercase().replace("__", "."), v));
        }
        let mut s: Settings = fig
            .extract_lossy()
            .map_err(|e| Error::Config(format!("settings: {e}")))?;
        s.finish()?;
        Ok(s)
    }

    /// Fills derived defaults and validates; every message says which key is wrong.
    pub fn finish(&mut self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Config(m));
        if self.database.url.is_empty() {
            self.database.url = Secret::new(format!(
                "sqlite://{}",
                self.data_dir.join("enkaku.sqlite3").display()
            ));
        }
        if crate::db::Backend::of_url(self.database.url.expose()).is_none() {
            return bad("database.url must start with sqlite:// or postgres://".into());
        }
        if self.database.pool_size == 0 || self.database.pool_size > 200 {
            return bad("database.pool_size must be between 1 and 200".into());
        }
        if self.http.bind.parse::<SocketAddr>().is_err() {
            return bad(format!(
                "http.bind must be an address and port such as 127.0.0.1:8080, not {:?}",
                self.http.bind
            ));
        }
        if self.dicom.bind.parse::<SocketAddr>().is_err() {
            return bad(format!(
                "dicom.bind must be an address and port such as 127.0.0.1:11112, not {:?}",
                self.dicom.bind
            ));
        }
        if crate::domain::AeTitle::parse(&self.dicom.ae_title).is_err() {
            return bad("dicom.ae_title must be 1-16 printable ASCII characters".into());
        }
        let url = match url::Url::parse(&self.http.public_url) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u,
            _ => return bad("http.public_url must be an http:// or https:// URL".into()),
        };
        let loopback = url_is_loopback(&url);
        if url.scheme() == "http" && !loopback {
            return bad(
                "http.public_url uses plain http on a non-loopback host; serve Enkaku over \
                 https (TLS reverse proxy) or on loopback only"
                    .into(),
            );
        }
        if !self.auth.require_second_factor && !loopback {
            return bad(
                "auth.require_second_factor = false is allowed only for a loopback demo".into(),
            );
        }
        if !(1..=30).contains(&self.auth.idle_timeout_minutes) {
            return bad("auth.idle_timeout_minutes must be between 1 and 30".into());
        }
        if !(1..=12).contains(&self.auth.absolute_timeout_hours) {
            return bad("auth.absolute_timeout_hours must be between 1 and 12".into());
        }
        if self.auth.max_failures_per_account == 0 || self.auth.max_failures_per_address == 0 {
            return bad("auth.max_failures_* must be at least 1".into());
        }
        if self.auth.failure_window_minutes == 0 {
            return bad("auth.failure_window_minutes must be at least 1".into());
        }
        if !(1..=3650).contains(&self.auth.token_max_days) {
            return bad("auth.token_max_days must be between 1 and 3650".into());
        }
        if !email_address::EmailAddress::is_valid(&self.mail.from)
            && !self.mail.from.ends_with("@localhost")
        {
            return bad(format!(
                "mail.from is not an e-mail address: {:?}",
                self.mail.from
            ));
        }
        if self.mail.transport == MailTransport::Smtp {
            if self.mail.smtp_host.is_empty() {
                return bad("mail.smtp_host is required when mail.transport = \"smtp\"".into());
            }
            if !["starttls", "tls", "none"].contains(&self.mail.smtp_security.as_str()) {
                return bad("mail.smtp_security must be starttls, tls or none".into());
            }
        }
        if self.mail.file_dir.is_none() {
            self.mail.file_dir = Some(self.data_dir.join("mail"));
        }
        if self.storage.path.is_none() {
            self.storage.path = Some(self.data_dir.join("blobs"));
        }
        if self.ingest.journal_dir.is_none() {
            self.ingest.journal_dir = Some(self.data_dir.join("journal"));
        }
        if self.storage.backend == StorageBackend::S3
            && (self.storage.s3_endpoint.is_empty() || self.storage.s3_bucket.is_empty())
        {
            return bad(
                "storage.s3_endpoint and storage.s3_bucket are required for the s3 backend".into(),
            );
        }
        if self.ingest.max_instance_bytes < 1024
            || self.ingest.max_request_bytes < self.ingest.max_instance_bytes
        {
            return bad("ingest.max_instance_bytes must be at least 1024 and at most ingest.max_request_bytes".into());
        }
        if self.ingest.max_associations == 0 {
            return bad("ingest.max_associations must be at least 1".into());
        }
        let w = &self.worker;
        if w.poll_millis == 0 || w.lease_seconds < 10 || w.max_attempts == 0 {
            return bad(
                "worker.poll_millis must be at least 1, worker.lease_seconds at least 10 and \
                 worker.max_attempts at least 1"
                    .into(),
            );
        }
        if w.retry_base_seconds == 0 || w.retry_max_seconds < w.retry_base_seconds {
            return bad(
                "worker.retry_base_seconds must be at least 1 and at most worker.retry_max_seconds"
                    .into(),
            );
        }
        if w.send_connect_timeout_seconds == 0 || w.send_response_timeout_seconds == 0 {
            return bad("worker.send_*_timeout_seconds must be at least 1".into());
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return bad("log.format must be text or json".into());
        }
        Ok(())
    }

    /// True when cookies must carry `Secure` (and the `__Host-` prefix).
    pub fn https(&self) -> bool {
        self.http.public_url.starts_with("https://")
    }

    /// The origin (scheme://host[:port]) of the public URL, for the CSRF Origin check.
    pub fn public_origin(&self) -> String {
        url::Url::parse(&self.http.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }
}

fn url_is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid_and_use_sqlite_in_data_dir() {
        let s = Settings::load_from(None, &[]).unwrap();
        assert!(s.database.url.expose().starts_with("sqlite://"));
        assert!(s.database.url.expose().ends_with("enkaku.sqlite3"));
        assert!(s.auth.require_second_factor);
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let s = Settings::load_from(
            None,
            &env(&[
                ("ENKAKU_HTTP__BIND", "127.0.0.1:9999"),
                ("ENKAKU_AUTH__IDLE_TIMEOUT_MINUTES", "10"),
                ("ENKAKU_DATABASE__URL", "postgres://u:pw@127.0.0.1/x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.http.bind, "127.0.0.1:9999");
        assert_eq!(s.auth.idle_timeout_minutes, 10);
        assert_eq!(s.database.url.expose(), "postgres://u:pw@127.0.0.1/x");
    }

    #[test]
    fn storage_and_ingest_come_from_the_environment() {
        let s = Settings::load_from(
            None,
            &env(&[
                ("ENKAKU_INGEST__MAX_INSTANCE_BYTES", "4096"),
                ("ENKAKU_INGEST__MAX_ASSOCIATIONS", "3"),
                ("ENKAKU_STORAGE__BACKEND", "s3"),
                ("ENKAKU_STORAGE__S3_ENDPOINT", "http://127.0.0.1:9000"),
                ("ENKAKU_STORAGE__S3_BUCKET", "enkaku"),
            ]),
        )
        .unwrap();
        assert_eq!(s.ingest.max_instance_bytes, 4096);
        assert_eq!(s.ingest.max_associations, 3);
        assert_eq!(s.storage.backend, StorageBackend::S3);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = Settings::load_from(
            None,
            &env(&[("ENKAKU_DATABASE__URL", "postgres://u:hunter2@127.0.0.1/x")]),
        )
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
    }

    #[test]
    fn secret_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\n").unwrap();
        let s = Settings::load_from(
            None,
            &env(&[("ENKAKU_MAIL__SMTP_PASSWORD_FILE", p.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(s.mail.smtp_password.expose(), "s3cret");
    }

    #[test]
    fn invalid_values_are_refused_with_the_key_named() {
        let cases = [
            ("ENKAKU_HTTP__BIND", "not-an-address", "http.bind"),
            ("ENKAKU_AUTH__IDLE_TIMEOUT_MINUTES", "90", "idle_timeout"),
            ("ENKAKU_DATABASE__URL", "mysql://x", "database.url"),
            (
                "ENKAKU_HTTP__PUBLIC_URL",
                "http://enkaku.example.jp",
                "public_url",
            ),
            (
                "ENKAKU_AUTH__IDLE_TIMEOUT_MINUTES",
                "ten",
                "idle_timeout_minutes",
            ),
        ];
        for (k, v, needle) in cases {
            let err = Settings::load_from(None, &env(&[(k, v)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{k}={v}: {err}");
        }
    }

    #[test]
    fn second_factor_can_be_relaxed_only_on_loopback() {
        assert!(Settings::load_from(
            None,
            &env(&[("ENKAKU_AUTH__REQUIRE_SECOND_FACTOR", "false")])
        )
        .is_ok());
        let err = Settings::load_from(
            None,
            &env(&[
                ("ENKAKU_AUTH__REQUIRE_SECOND_FACTOR", "false"),
                ("ENKAKU_HTTP__PUBLIC_URL", "https://enkaku.example.jp"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("require_second_factor"));
    }

    #[test]
    fn other_enkaku_variables_are_not_settings_but_typos_in_sections_are_refused() {
        assert!(Settings::load_from(
            None,
            &env(&[("ENKAKU_TEST_DB", "postgres"), ("ENKAKU_BIN", "/x")])
        )
        .is_ok());
        let err = Settings::load_from(None, &env(&[("ENKAKU_HTTP__BNID", "x")])).unwrap_err();
        assert!(err.to_string().contains("bnid"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.toml");
        std::fs::write(&p, "[http]\nbnid = \"127.0.0.1:1\"\n").unwrap();
        let err = Settings::load_from(Some(&p), &[]).unwrap_err().to_string();
        assert!(err.contains("bnid"), "{err}");
    }

    #[test]
    fn the_example_file_loads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/config/enkaku.example.toml");
        Settings::load_from(Some(&p), &[]).unwrap();
    }
}
