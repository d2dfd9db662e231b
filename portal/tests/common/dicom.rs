//! DICOM helpers for the listener tests: dcmtk's tools and pynetdicom
//! (tests/python/dicom_tools.py) run off the runtime's threads, DICOM nodes, and what the
//! index holds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use shared::audit::Ctx;
use shared::db::DbConnection;
use shared::index::StudySummary;
use shared::membership::dicom_nodes::{self, DicomNodeForm};

pub const CALLED: &str = "ENKAKU";

pub fn tools() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/dicom_tools.py")
}

/// dcmtk's tools (pynetdicom installs programs with the same names earlier in PATH).
pub fn dcmtk(name: &str) -> Command {
    let p = Path::new("/usr/bin").join(name);
    Command::new(if p.exists() { p } else { PathBuf::from(name) })
}

/// Runs a command off the runtime's threads (the server under test shares the runtime).
pub async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub async fn python_json(args: &[&str]) -> serde_json::Value {
    let mut c = Command::new("python3");
    c.arg(tools()).args(args);
    let o = run(c).await;
    assert!(o.status.success(), "python: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("json: {}", text(&o)))
}

/// Makes `series × per_series` small CT files of one study; returns (files, study UID).
pub async fn make_study(
    out: &Path,
    series: u32,
    per_series: u32,
    extra: &[&str],
) -> (Vec<String>, String) {
    let out = out.display().to_string();
    let (s, p) = (series.to_string(), per_series.to_string());
    let mut args = vec!["make", "--out", &out, "--series", &s, "--per-series", &p];
    args.extend_from_slice(extra);
    let v = python_json(&args).await;
    let files = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    (files, v["study_uid"].as_str().unwrap().to_owned())
}

/// Sends with pynetdicom over `associations` concurrent associations; returns, per
/// association, whether it was established and the C-STORE statuses.
pub async fn pynet_send(
    port: u16,
    aet: &str,
    associations: u32,
    files: &[String],
) -> Vec<(bool, Vec<i64>)> {
    let port = port.to_string();
    let n = associations.to_string();
    let mut args = vec!["send", "--port", &port, "--aet", aet, "--associations", &n];
    args.extend(files.iter().map(String::as_str));
    let v = python_json(&args).await;
    v["associations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["established"].as_bool().unwrap(),
                a["statuses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_i64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

pub async fn echoscu(port: u16, aet: &str, aec: &str) -> Output {
    let mut c = dcmtk("echoscu");
    c.args([
        "-aet",
        aet,
        "-aec",
        aec,
        "-to",
        "10",
        "127.0.0.1",
        &port.to_string(),
    ]);
    run(c).await
}

pub async fn storescu(port: u16, aet: &str, files: &[String]) -> Output {
    storescu_with(port, aet, &[], files).await
}

pub async fn storescu_with(port: u16, aet: &str, opts: &[&str], files: &[String]) -> Output {
    let mut c = dcmtk("storescu");
    c.args(opts)
        .args([
            "-aet",
            aet,
            "-aec",
            CALLED,
            "-to",
            "10",
            "127.0.0.1",
            &port.to_string(),
        ])
        .args(files);
    run(c).await
}

pub fn node(conn: &mut DbConnection, facility_id: i64, ae: &str, addresses: &str, enabled: bool) {
    dicom_nodes::create(
        conn,
        &Ctx::system("t"),
        facility_id,
        &DicomNodeForm {
            ae_title: ae.into(),
            allowed_addresses: addresses.into(),
            is_enabled: enabled,
            ..Default::default()
        },
    )
    .unwrap();
}

pub fn studies(conn: &mut DbConnection, facility_id: i64) -> Vec<StudySummary> {
    let q = shared::index::StudyQuery {
        limit: 200,
        ..Default::default()
    };
    shared::index::search_studies(conn, facility_id, &q, shared::db::now(), 90)
        .unwrap()
        .0
}

pub fn study_counts(conn: &mut DbConnection, facility_id: i64) -> Vec<(String, i64, i64)> {
    let mut v: Vec<_> = studies(conn, facility_id)
        .into_iter()
        .map(|s| (s.study.study_uid, s.study.num_series, s.study.num_instances))
        .collect();
    v.sort();
    v
}

pub fn instance_rows(conn: &mut DbConnection) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT COUNT(*) AS n FROM instances")
        .get_result::<N>(conn)
        .unwrap()
        .n
}

/// The distinct transfer syntaxes of the stored instances.
pub fn transfer_syntaxes(conn: &mut DbConnection) -> Vec<String> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        transfer_syntax_uid: String,
    }
    diesel::sql_query("SELECT DISTINCT transfer_syntax_uid FROM instances")
        .load::<T>(conn)
        .unwrap()
        .into_iter()
        .map(|t| t.transfer_syntax_uid)
        .collect()
}
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
