//! "Send to workstation" end to end: a study stored at the clinic goes, through the form,
//! the outbox and the worker's C-STORE SCU, to dcmtk's `storescp` (a real workstation
//! stand-in on loopback), byte-identical in its data set; progress shows n / n; a node that
//! is down is retried with backoff and the send completes once it is up; a send is given up
//! after the last attempt; another facility's node, an invisible study or a facility
//! administrator get 404 and an audit event; a live request's radiologist may send to their
//! own facility's workstation; the worker leaves mail jobs alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::reading::{self, Network};
use common::{free_port, spawn_app_with, TestApp};
use diesel::prelude::*;
use radvision::ingest::pipeline::{Channel, Source, Stored};
use radvision::send::file_meta;
use radvision::worker::Worker;
use serde_json::{json, Value};
use shared::audit::Ctx;
use shared::membership::dicom_nodes::{self, DicomNodeForm};
use shared::outbox;
use shared::sends::{self, SendRequest};
use tokio::sync::watch;

const STUDY: &str = "1.2.392.200.77";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/python")
        .join(name)
}

/// Five instances in two series: four small CTs with pixel data and pydicom's Japanese file
/// (ISO 2022 IR 87). Returns their bytes by SOP Instance UID.
fn gen_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut specs: Vec<Value> = (1..=4)
        .map(|i| {
            json!({"sop": format!("{STUDY}.1.{i}"), "study": STUDY, "series": format!("{STUDY}.1"),
                   "series_number": 1, "instance_number": i, "patient_id": "P77",
                   "name": "Sato^Hanako"})
        })
        .collect();
    specs.push(
        json!({"base": "chrH31", "sop": format!("{STUDY}.2.1"), "study": STUDY,
                      "series": format!("{STUDY}.2"), "series_number": 2, "instance_number": 1}),
    );
    for s in specs.iter_mut() {
        let out = dir.join(format!("{}.dcm", s["sop"].as_str().unwrap()));
        s["out"] = json!(out.display().to_string());
    }
    let spec_file = dir.join("spec.json");
    std::fs::write(&spec_file, serde_json::to_vec(&specs).unwrap()).unwrap();
    let st = Command::new("python3")
        .arg(script("stow_client.py"))
        .arg("gen")
        .arg(&spec_file)
        .status()
        .expect("python3 with pydicom");
    assert!(st.success(), "generating DICOM files failed");
    specs
        .iter()
        .map(|s| {
            (
                s["sop"].as_str().unwrap().to_owned(),
                std::fs::read(s["out"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

/// Stores the files as the clinic's (through the one ingest pipeline) and returns the study id.
async fn store_study(app: &TestApp, facility: i64, files: &BTreeMap<String, Vec<u8>>) -> i64 {
    let src = Source {
        facility_id: facility,
        channel: Channel::StowRs,
        ctx: Ctx::system("test"),
    };
    let mut study = 0;
    for f in files.values() {
        match app
            .state
            .ingestor
            .ingest(&src, f.clone().into())
            .await
            .unwrap()
        {
            Stored::New { study_id, .. } | Stored::Duplicate { study_id, .. } => study = study_id,
        }
    }
    study
}

/// dcmtk's storescp (the absolute path: a pynetdicom `storescp` may shadow it on PATH),
/// writing what it receives, bit-preserving, into its own directory. Killed on drop.
struct StoreScp {
    child: Child,
    dir: tempfile::TempDir,
}

impl StoreScp {
    async fn start(port: u16, ae: &str) -> StoreScp {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("/usr/bin/storescp")
            .args(["-aet", ae, "-od"])
            .arg(dir.path())
            .args(["+xa", "+B", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dcmtk storescp");
        let scp = StoreScp { child, dir };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return scp;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("storescp did not start");
    }

    /// The data sets received, by SOP Instance UID.
    fn received(&self) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .map(|b| {
                let m = file_meta::read(&b).unwrap();
                (m.sop_instance_uid.clone(), b[m.data_set_offset..].to_vec())
            })
            .collect()
    }
}

impl Drop for StoreScp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The data sets of the originals, by SOP Instance UID.
fn data_sets(files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(k, b)| {
            let m = file_meta::read(b).unwrap();
            (k.clone(), b[m.data_set_offset..].to_vec())
        })
        .collect()
}

fn node(app: &TestApp, facility: i64, ae: &str, port: Option<u16>, enabled: bool) -> i64 {
    dicom_nodes::create(
        &mut app.conn(),
        &Ctx::system("test"),
        facility,
        &DicomNodeForm {
            ae_title: ae.into(),
            allowed_addresses: "127.0.0.1".into(),
            host: if port.is_some() {
                "127.0.0.1".into()
            } else {
                String::new()
            },
            port: port.map(|p| p.to_string()).unwrap_or_default(),
            description: format!("{ae} 読影端末"),
            is_enabled: enabled,
        },
    )
    .unwrap()
    .id
}

/// A worker of the test's own (the app's is switched off), retrying after one second.
fn worker(app: &TestApp, max_attempts: u32) -> Worker {
    let mut settings = (*app.state.settings).clone();
    settings.worker.retry_base_seconds = 1;
    settings.worker.retry_max_seconds = 4;
    settings.worker.max_attempts = max_attempts;
    settings.worker.send_connect_timeout_seconds = 3;
    settings.worker.send_response_timeout_seconds = 10;
    Worker::new(app.state.pool.clone(), &settings.worker).with_handler(Arc::new(
        radvision::send::SendHandler::new(
            app.state.pool.clone(),
            app.state.ingestor.store().clone(),
            &settings,
        ),
    ))
}

fn no_stop() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

/// Makes every pending job due now (instead of waiting for the backoff).
fn make_due(app: &TestApp) {
    use shared::db::schema::outbox as o;
    diesel::update(o::table.filter(o::status.eq("pending")))
        .set(o::next_attempt_at.eq(shared::db::now() - chrono::Duration::seconds(1)))
        .execute(&mut app.conn())
        .unwrap();
}

fn the_send(app: &TestApp, id: i64) -> sends::Send {
    sends::by_id(&mut app.conn(), id).unwrap()
}

fn send_job(app: &TestApp) -> outbox::Job {
    let jobs = outbox::of_kind(&mut app.conn(), outbox::kind::DICOM_SEND).unwrap();
    assert_eq!(jobs.len(), 1);
    jobs[0].clone()
}

struct Setup {
    app: TestApp,
    n: Network,
    files: BTreeMap<String, Vec<u8>>,
    study_id: i64,
    _gen: tempfile::TempDir,
}

async fn setup(worker_enabled: bool) -> Setup {
    let app = spawn_app_with(&[
        (
            "ENKAKU_WORKER__ENABLED",
            if worker_enabled { "true" } else { "false" },
        ),
        ("ENKAKU_WORKER__POLL_MILLIS", "200"),
    ])
    .await;
    wait_for_start_up_sweep(&app).await;
    let n = reading::network(&app);
    let gen = tempfile::tempdir().unwrap();
    let files = gen_files(gen.path());
    let study_id = store_study(&app, n.clinic, &files).await;
    Setup {
        app,
        n,
        files,
        study_id,
        _gen: gen,
    }
}

/// `Application::run` sweeps unreferenced blobs before it starts the DICOM listener; an
/// instance stored meanwhile could lose its blob. The listener closes a connection that
/// sends garbage only once it runs, so an answered connection means the sweep is over.
async fn wait_for_start_up_sweep(app: &TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", app.dicom_port))
        .await
        .unwrap();
    s.write_all(&[0xFF; 16]).await.unwrap();
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await;
    assert!(r.is_ok(), "the DICOM listener did not start");
}

fn request(s: &Setup, node_id: i64) -> SendRequest {
    SendRequest {
        facility_id: s.n.clinic,
        user_id: s.n.physician.id,
        study_id: s.study_id,
        node_id,
        own: true,
        requested: false,
    }
}

#[tokio::test]
async fn a_physician_sends_a_study_to_the_clinic_s_workstation() {
    let s = setup(true).await;
    let app = &s.app;
    let port = free_port();
    let scp = StoreScp::start(port, "WS1").await;
    let ws = node(app, s.n.clinic, "WS1", Some(port), true);
    node(app, s.n.clinic, "MODALITY1", None, true);
    node(app, s.n.clinic, "WSOFF", Some(free_port()), false);
    node(app, s.n.kmix, "KMIXWS", Some(free_port()), true);

    let mut c = app.client();
    c.sign_in(&s.n.physician).await;
    let study = c.get(&format!("/studies/{}", s.study_id)).await;
    assert!(study
        .body
        .contains(&format!("/studies/{}/send", s.study_id)));
    let form = c.get(&format!("/studies/{}/send", s.study_id)).await;
    assert_eq!(form.status, 200, "{}", form.body);
    // Only the clinic's own enabled nodes with a host and port are offered.
    assert!(form.body.contains(&format!("value=\"{ws}\"")));
    for other in ["MODALITY1", "WSOFF", "KMIXWS"] {
        assert!(!form.body.contains(other), "{other} offered");
    }
    // No choice: the reason next to the field.
    let p = c
        .post(&format!("/studies/{}/send", s.study_id), &[("node_id", "")])
        .await;
    assert_eq!(p.status, 422);
    let p = c
        .post(
            &format!("/studies/{}/send", s.study_id),
            &[("node_id", &ws.to_string())],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let to = p.location.unwrap();
    assert!(to.starts_with("/sends?queued="), "{to}");
    let send_id: i64 = to["/sends?queued=".len()..].parse().unwrap();
    // The row, the job (ids only) and the audit event were written together.
    let job = send_job(app);
    assert_eq!(job.payload_json(), json!({ "send_id": send_id }));
    assert_eq!(app.audit_count("dicom.send.request", "success"), 1);

    // The app's own worker delivers it.
    let mut done = None;
    for _ in 0..300 {
        let st = the_send(app, send_id);
        if st.is_finished() {
            done = Some(st);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let st = done.expect("the send did not finish");
    assert_eq!(st.status, "done", "{:?}", st.last_error);
    assert_eq!(
        (st.instances_sent, st.instances_total, st.instances_failed),
        (5, 5, 0)
    );
    assert_eq!(outbox::get(&mut app.conn(), job.id).unwrap().status, "done");
    assert_eq!(app.audit_count("dicom.send", "success"), 1);

    // Every instance arrived, its data set byte for byte (pixel data and Japanese names).
    assert_eq!(scp.received(), data_sets(&s.files));

    let list = c.get(&format!("/sends?queued={send_id}")).await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("data-testid=\"send-queued\""));
    assert!(list.body.contains("5 / 5"), "{}", list.body);
    assert!(list.body.contains("data-status=\"done\""));
    assert!(app.audit_count("dicom.send.list", "success") >= 1);
}

#[tokio::test]
async fn a_node_that_is_down_is_retried_with_backoff_until_it_is_up() {
    let s = setup(false).await;
    let app = &s.app;
    let port = free_port();
    let ws = node(app, s.n.clinic, "WS1", Some(port), true);
    let send = sends::request(&mut app.conn(), &Ctx::system("test"), &request(&s, ws)).unwrap();
    let w = worker(app, 5);
    let stop = no_stop();

    // Nobody listens: the attempt fails, the job waits (backoff 1 s), the reason shows.
    let before = shared::db::now();
    assert_eq!(w.drain(&stop).await.unwrap(), 1);
    let job = send_job(app);
    assert_eq!((job.status.as_str(), job.attempts), ("pending", 1));
    assert!(job.next_attempt_at > before);
    assert!(job.next_attempt_at <= shared::db::now() + chrono::Duration::seconds(2));
    let st = the_send(app, send.id);
    assert_eq!((st.status.as_str(), st.attempts), ("queued", 1));
    assert!(
        st.last_error.as_deref().unwrap().contains("connect"),
        "{:?}",
        st.last_error
    );
    // Not due yet: nothing happens.
    assert_eq!(w.drain(&stop).await.unwrap(), 0);
    let mut c = app.client();
    c.sign_in(&s.n.physician).await;
    let list = c.get("/sends").await;
    assert!(list.body.contains("0 / 5"), "{}", list.body);
    assert!(list.body.contains("data-status=\"queued\""));

    // The second try, 1 s later, doubles the wait.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(w.drain(&stop).await.unwrap(), 1);
    let job = send_job(app);
    assert_eq!(job.attempts, 2);
    assert!(job.next_attempt_at > shared::db::now() + chrono::Duration::milliseconds(1200));

    // The workstation comes up: the next attempt sends everything.
    let scp = StoreScp::start(port, "WS1").await;
    make_due(app);
    assert_eq!(w.drain(&stop).await.unwrap(), 1);
    let st = the_send(app, send.id);
    assert_eq!(st.status, "done", "{:?}", st.last_error);
    assert_eq!((st.instances_sent, st.attempts), (5, 3));
    assert_eq!(send_job(app).status, "done");
    assert_eq!(scp.received(), data_sets(&s.files));
    let list = c.get("/sends").await;
    assert!(list.body.contains("5 / 5"));
}

#[tokio::test]
async fn a_send_is_given_up_after_its_last_attempt() {
    let s = setup(false).await;
    let app = &s.app;
    let ws = node(app, s.n.clinic, "WS1", Some(free_port()), true);
    let send = sends::request(&mut app.conn(), &Ctx::system("test"), &request(&s, ws)).unwrap();
    let w = worker(app, 2);
    let stop = no_stop();
    w.drain(&stop).await.unwrap();
    make_due(app);
    w.drain(&stop).await.unwrap();
    let job = send_job(app);
    assert_eq!((job.status.as_str(), job.attempts), ("failed", 2));
    let st = the_send(app, send.id);
    assert_eq!(st.status, "failed");
    assert_eq!(st.instances_failed, 5);
    assert!(st.finished_at.is_some());
    assert!(st.last_error.unwrap().contains("connect"));
    assert_eq!(app.audit_count("dicom.send", "failure"), 1);
    make_due(app);
    assert_eq!(w.drain(&stop).await.unwrap(), 0);
}

#[tokio::test]
async fn the_worker_leaves_mail_jobs_alone() {
    let s = setup(false).await;
    let app = &s.app;
    let mail = outbox::enqueue(
        &mut app.conn(),
        outbox::kind::REQUEST_FILED,
        &json!({ "request_id": 1 }),
    )
    .unwrap();
    let w = worker(app, 3);
    assert_eq!(w.drain(&no_stop()).await.unwrap(), 0);
    let j = outbox::get(&mut app.conn(), mail).unwrap();
    assert_eq!((j.status.as_str(), j.attempts), ("pending", 0));
}

#[tokio::test]
async fn only_those_who_may_see_the_study_send_and_only_to_their_own_nodes() {
    let s = setup(false).await;
    let app = &s.app;
    let clinic_ws = node(app, s.n.clinic, "WS1", Some(free_port()), true);
    let kmix_ws = node(app, s.n.kmix, "KMIXWS", Some(free_port()), true);
    let path = format!("/studies/{}/send", s.study_id);

    // Another facility's node: 404 and a denial, nothing queued.
    let mut c = app.client();
    c.sign_in(&s.n.physician).await;
    c.get(&path).await;
    let p = c.post(&path, &[("node_id", &kmix_ws.to_string())]).await;
    assert_eq!(p.status, 404);
    assert_eq!(app.audit_count("dicom.send.request", "denied"), 1);
    assert!(outbox::of_kind(&mut app.conn(), outbox::kind::DICOM_SEND)
        .unwrap()
        .is_empty());

    // Another clinic's physician: the study is not theirs.
    let other = app.facility("Bクリニック", "clinic", true, false);
    let other_doctor = app.user(other, "dr.other", &["physician"]);
    let other_ws = node(app, other, "OTHERWS", Some(free_port()), true);
    let mut o = app.client();
    o.sign_in(&other_doctor).await;
    assert_eq!(o.get(&path).await.status, 404);
    o.get("/sends").await;
    let p = o.post(&path, &[("node_id", &other_ws.to_string())]).await;
    assert_eq!(p.status, 404);
    assert_eq!(app.audit_count("dicom.send.request", "denied"), 3);

    // The clinic's facility administrator manages nodes, not patient data.
    let admin = app.user(s.n.clinic, "admin.clinic", &["facility_admin"]);
    let mut a = app.client();
    a.sign_in(&admin).await;
    assert_eq!(a.get(&path).await.status, 404);
    assert_eq!(a.get("/sends").await.status, 404);
    assert_eq!(app.audit_count("dicom.send.list", "denied"), 1);

    // The supporting hospital's radiologist: nothing before a request…
    let mut r = app.client();
    r.sign_in(&s.n.kmix_radiologist).await;
    assert_eq!(r.get(&path).await.status, 404);
    let doctor = shared::auth::tokens::issue(
        &mut app.conn(),
        &Ctx::system("test"),
        s.n.physician.id,
        "t",
        "30",
        365,
    )
    .unwrap()
    .0;
    let (st, req) = app
        .client()
        .api_send(
            "POST",
            "/api/v1/requests",
            &doctor,
            &json!({
                "study_id": s.study_id, "supporting_facility_id": s.n.kmix,
                "urgency": "routine", "category": "clinical", "modality": "CT",
                "body_parts": ["CHEST"], "purpose": "diagnosis", "clinical_info": "pneumonia",
                "clinical_note": "", "contact_phone": "087-111-2222", "confirm_arriving": true,
            })
            .to_string(),
        )
        .await;
    assert_eq!(st, 201, "{req}");
    // …to their own facility's workstation while the request is live (never the clinic's)…
    let form = r.get(&path).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("KMIXWS") && !form.body.contains("WS1<"));
    let p = r.post(&path, &[("node_id", &clinic_ws.to_string())]).await;
    assert_eq!(p.status, 404);
    let p = r.post(&path, &[("node_id", &kmix_ws.to_string())]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let list = r.get("/sends").await;
    assert!(list.body.contains("KMIXWS"));
    // The clinic does not see the hospital's sends.
    assert!(!c.get("/sends").await.body.contains("KMIXWS"));
    // …and nothing once it is cancelled; the queued send is given up by the worker.
    let (st, d) = app
        .client()
        .api_send(
            "POST",
            &format!("/api/v1/requests/{}/cancel", req["id"].as_i64().unwrap()),
            &doctor,
            &json!({ "reason": "患者都合" }).to_string(),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(r.get(&path).await.status, 404);
    worker(app, 3).drain(&no_stop()).await.unwrap();
    let hospital_send = &sends::list(&mut app.conn(), s.n.kmix, None, 10).unwrap()[0];
    assert_eq!(hospital_send.status, "failed");
    assert!(hospital_send
        .last_error
        .as_deref()
        .unwrap()
        .contains("no longer visible"));
}
