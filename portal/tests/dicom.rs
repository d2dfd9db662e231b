//! The DICOM listener (C-ECHO / C-STORE SCP) end to end: dcmtk's `echoscu`/`storescu` and
//! pynetdicom (tests/python/dicom_tools.py) against the real application, association
//! checks with their audit events, refused and malformed input, Japanese names and compressed
//! transfer syntaxes. The crash in the middle of a transfer is in `dicom_crash.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::dicom::*;
use common::*;
use shared::audit::Ctx;
use shared::domain::FacilityStatus;
use shared::membership::facilities;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn echo_and_store_with_dcmtk_then_resend_changes_nothing() {
    let app = spawn_app().await;
    let clinic = app.facility("さぬき診療所", "clinic", true, false);
    node(&mut app.conn(), clinic, "CLINIC_A", "127.0.0.1", true);
    let dir = tempfile::tempdir().unwrap();

    let o = echoscu(app.dicom_port, "CLINIC_A", CALLED).await;
    assert!(o.status.success(), "echoscu: {}", text(&o));
    assert_eq!(app.audit_count("dicom.associate", "success"), 1);

    let (files, uid) = make_study(dir.path(), 2, 3, &[]).await;
    let o = storescu(app.dicom_port, "CLINIC_A", &files).await;
    assert!(o.status.success(), "storescu: {}", text(&o));
    let before = study_counts(&mut app.conn(), clinic);
    assert_eq!(before, vec![(uid.clone(), 2, 6)]);
    assert_eq!(instance_rows(&mut app.conn()), 6);

    // The same files again: duplicates are acknowledged, nothing changes.
    let o = storescu(app.dicom_port, "CLINIC_A", &files).await;
    assert!(o.status.success(), "storescu again: {}", text(&o));
    assert_eq!(study_counts(&mut app.conn(), clinic), before);
    assert_eq!(instance_rows(&mut app.conn()), 6);
    assert_eq!(app.audit_count("dicom.associate", "success"), 3);
    assert_eq!(app.audit_count("dicom.associate", "denied"), 0);
}

/// The good fixtures of tests/fixtures/dicom (ops/fixtures/make_fixtures.py): several
/// transfer syntaxes (deflated, big endian, RLE…) and character sets, accepted as proposed.
fn good_fixtures() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/dicom");
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    name.ends_with(".dcm") && !name.starts_with("bad_")
                })
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fixture_files_are_stored_in_their_own_transfer_syntax() {
    let files = good_fixtures();
    if files.is_empty() {
        eprintln!("no fixtures in tests/fixtures/dicom: skipped");
        return;
    }
    let app = spawn_app().await;
    let clinic = app.facility("さぬき診療所", "clinic", true, false);
    node(&mut app.conn(), clinic, "CLINIC_A", "127.0.0.1", true);
    // dcmtk proposes uncompressed syntaxes unless told otherwise: ask it to propose each
    // special file's own transfer syntax, which the listener must accept as-is.
    let send_all = |port: u16, files: Vec<String>| async move {
        let (mut plain, mut special) = (Vec::new(), Vec::new());
        for f in files {
            match f {
                f if f.contains("rle") => special.push(("-xr", f)),
                f if f.contains("deflated") => special.push(("-xd", f)),
                f if f.contains("explicit_be") => special.push(("-xb", f)),
                f if f.contains("implicit") => special.push(("-xi", f)),
                f => plain.push(f),
            }
        }
        let o = storescu(port, "CLINIC_A", &plain).await;
        assert!(o.status.success(), "storescu: {}", text(&o));
        for (opt, f) in special {
            let o = storescu_with(port, "CLINIC_A", &[opt], &[f]).await;
            assert!(o.status.success(), "storescu {opt}: {}", text(&o));
        }
    };
    send_all(app.dicom_port, files.clone()).await;
    let n = instance_rows(&mut app.conn());
    assert_eq!(n, files.len() as i64);
    let syntaxes = transfer_syntaxes(&mut app.conn());
    for ts in [
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.5",
    ] {
        assert!(
            syntaxes.contains(&ts.to_owned()),
            "{ts} not kept: {syntaxes:?}"
        );
    }
    let before = study_counts(&mut app.conn(), clinic);
    send_all(app.dicom_port, files.clone()).await;
    assert_eq!(instance_rows(&mut app.conn()), n);
    assert_eq!(study_counts(&mut app.conn(), clinic), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_or_unauthorised_peers_are_rejected_and_audited() {
    let app = spawn_app().await;
    let clinic = app.facility("さぬき診療所", "clinic", true, false);
    let other = app.facility("高松クリニック", "clinic", true, false);
    let suspended = app.facility("休止クリニック", "clinic", true, false);
    node(&mut app.conn(), clinic, "CLINIC_A", "127.0.0.1", true);
    node(&mut app.conn(), other, "FAR_AWAY", "10.0.0.5", true);
    node(&mut app.conn(), clinic, "DISABLED", "127.0.0.1", false);
    node(&mut app.conn(), suspended, "SUSPENDED", "127.0.0.1", true);
    facilities::set_status(
        &mut app.conn(),
        &Ctx::system("t"),
        suspended,
        FacilityStatus::Suspended,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = make_study(dir.path(), 1, 1, &[]).await;

    let mut denied = 0;
    for (aet, aec) in [
        ("NOBODY", CALLED),
        ("CLINIC_A", "SOMEONE_ELSE"),
        ("FAR_AWAY", CALLED),
        ("DISABLED", CALLED),
        ("SUSPENDED", CALLED),
    ] {
        let o = echoscu(app.dicom_port, aet, aec).await;
        assert!(
            !o.status.success(),
            "{aet}→{aec} echo accepted: {}",
            text(&o)
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(all.contains("Rejected"), "{aet}→{aec}: {all}");
        denied += 1;
        assert_eq!(app.audit_count("dicom.associate", "denied"), denied);
        if aec == CALLED {
            let o = storescu(app.dicom_port, aet, &files).await;
            assert!(!o.status.success(), "{aet} store accepted: {}", text(&o));
            denied += 1;
            assert_eq!(app.audit_count("dicom.associate", "denied"), denied);
        }
    }
    for f in [clinic, other, suspended] {
        assert!(studies(&mut app.conn(), f).is_empty());
    }
    assert_eq!(app.audit_count("dicom.associate", "success"), 0);

    // The registered, enabled node of an active facility still gets in.
    let o = echoscu(app.dicom_port, "CLINIC_A", CALLED).await;
    assert!(o.status.success(), "echoscu: {}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_instances_fail_and_nothing_is_stored() {
    let app = spawn_app_with(&[("ENKAKU_INGEST__MAX_INSTANCE_BYTES", "4096")]).await;
    let clinic = app.facility("さぬき診療所", "clinic", true, false);
    node(&mut app.conn(), clinic, "CLINIC_A", "127.0.0.1", true);
    let dir = tempfile::tempdir().unwrap();

    // A StudyInstanceUID with letters: refused by validation (0xA900).
    let (bad, _) = make_study(&dir.path().join("bad"), 1, 1, &["--bad-study-uid"]).await;
    let r = pynet_send(app.dicom_port, "CLINIC_A", 1, &bad).await;
    assert_eq!(r, vec![(true, vec![0xA900])]);
    // Larger than the instance limit: the data set is drained and refused (0xA700).
    let (big, _) = make_study(&dir.path().join("big"), 1, 1, &["--pad", "8000"]).await;
    let r = pynet_send(app.dicom_port, "CLINIC_A", 1, &big).await;
    assert_eq!(r, vec![(true, vec![0xA700])]);
    assert!(studies(&mut app.conn(), clinic).is_empty());
    assert_eq!(instance_rows(&mut app.conn()), 0);
    assert_eq!(app.audit_count("instance.store", "failure"), 2);

    // A good one after the refusals, on a new association, is stored.
    let (good, uid) = make_study(&dir.path().join("good"), 1, 1, &[]).await;
    let r = pynet_send(app.dicom_port, "CLINIC_A", 1, &good).await;
    assert_eq!(r, vec![(true, vec![0])]);
    assert_eq!(study_counts(&mut app.conn(), clinic), vec![(uid, 1, 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn studies_over_one_and_over_two_concurrent_associations() {
    let app = spawn_app().await;
    let clinic = app.facility("さぬき診療所", "clinic", true, false);
    node(&mut app.conn(), clinic, "CLINIC_A", "127.0.0.1", true);
    let dir = tempfile::tempdir().unwrap();

    let (a, uid_a) = make_study(&dir.path().join("a"), 3, 4, &["--patient-id", "PA"]).await;
    let r = pynet_send(app.dicom_port, "CLINIC_A", 1, &a).await;
    assert_eq!(r, vec![(true, vec![0; 12])]);

    let (b, uid_b) = make_study(&dir.path().join("b"), 2, 5, &["--patient-id", "PB"]).await;
    let r = pynet_send(app.dicom_port, "CLINIC_A", 2, &b).await;
    assert_eq!(r, vec![(true, vec![0; 5]), (true, vec![0; 5])]);

    let mut want = vec![(uid_a, 3, 12), (uid_b, 2, 10)];
    want.sort();
    assert_eq!(study_counts(&mut app.conn(), clinic), want);
}

/// Reads until the server closes the connection (or `limit` passes); true if it closed.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_is_dropped_and_the_listener_keeps_serving() {
    let app = spawn_app().await;
    let clinic = app.facility("さぬき診療所", "clinic", true, false);
    node(&mut app.conn(), clinic, "CLINIC_A", "127.0.0.1", true);
    let port = app.dicom_port;
    let closed = tokio::task::spawn_blocking(move || {
        let mut results = Vec::new();
        let garbage: [&[u8]; 4] = [
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            // An A-ASSOCIATE-RQ header announcing 4 GiB.
            &[0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
            // A truncated, malformed A-ASSOCIATE-RQ body.
            &[0x01, 0x00, 0, 0, 0, 8, 0, 1, 0, 0, 0xde, 0xad, 0xbe, 0xef],
            &[0x04, 0x00, 0, 0, 0, 2, 0, 0],
        ];
        for g in garbage {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(g).unwrap();
            results.push(closed_within(&mut s, Duration::from_secs(10)));
        }
        results
    })
    .await
    .unwrap();
    assert_eq!(closed, vec![true; 4]);
    let o = echoscu(port, "CLINIC_A", CALLED).await;
    assert!(o.status.success(), "echoscu: {}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn associations_over_the_limit_are_refused() {
    let app = spawn_app_with(&[("ENKAKU_INGEST__MAX_ASSOCIATIONS", "1")]).await;
    let clinic = app.facility("さぬき診療所", "clinic", true, false);
    node(&mut app.conn(), clinic, "CLINIC_A", "127.0.0.1", true);
    // An idle connection holds the only slot.
    let idle = TcpStream::connect(("127.0.0.1", app.dicom_port)).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let o = echoscu(app.dicom_port, "CLINIC_A", CALLED).await;
    assert!(!o.status.success(), "accepted over the limit: {}", text(&o));
    drop(idle);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = echoscu(app.dicom_port, "CLINIC_A", CALLED).await;
    assert!(o.status.success(), "echoscu: {}", text(&o));
}

/// pydicom's Japanese character-set files sent with dcmtk storescu appear in the clinic's
/// study list and API with every person-name group decoded correctly.
#[tokio::test]
async fn japanese_names_arrive_intact_over_c_store() {
    let app = spawn_app().await;
    let clinic = app.facility("さぬき診療所", "clinic", true, false);
    node(&mut app.conn(), clinic, "CLINIC_A", "127.0.0.1", true);
    let dr = app.user(clinic, "dr.sanuki", &["physician"]);
    // pydicom's files hold names only; give each an 8×8 image (and its own UIDs) so that it
    // is a complete Secondary Capture / CR instance, names and character sets untouched.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/dicom/pydicom");
    let out = tempfile::tempdir().unwrap();
    let script = r#"
import sys, pydicom
from pydicom.uid import generate_uid
src, dst = sys.argv[1], sys.argv[2]
ds = pydicom.dcmread(src)
ds.SOPInstanceUID = generate_uid(); ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
ds.StudyInstanceUID = generate_uid(); ds.SeriesInstanceUID = generate_uid()
ds.Rows = 8; ds.Columns = 8; ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated = 8; ds.BitsStored = 8; ds.HighBit = 7; ds.PixelRepresentation = 0
ds.add_new(0x7FE00010, "OB", bytes(64))
ds.save_as(dst, enforce_file_format=True)
"#;
    let mut files = Vec::new();
    for f in ["chrH31.dcm", "chrH32.dcm", "chrJapMulti.dcm"] {
        let dst = out.path().join(f).display().to_string();
        let mut cmd = Command::new("python3");
        cmd.args(["-c", script, &root.join(f).display().to_string(), &dst]);
        let o = run(cmd).await;
        assert!(o.status.success(), "python: {}", text(&o));
        files.push(dst);
    }
    let o = storescu(app.dicom_port, "CLINIC_A", &files).await;
    assert!(o.status.success(), "storescu: {}", text(&o));
    let (token, _) = shared::auth::tokens::issue(
        &mut app.conn(),
        &shared::audit::Ctx::system("t"),
        dr.id,
        "test",
        "30",
        365,
    )
    .unwrap();
    let c = app.client();
    let expect = [
        ("H31EXAMPLE", "Yamada^Tarou", "山田^太郎", "やまだ^たろう"),
        ("H32EXAMPLE", "ﾔﾏﾀﾞ^ﾀﾛｳ", "山田^太郎", "やまだ^たろう"),
        ("2008-4", "やまだ^たろう", "", ""),
    ];
    for (pid, alphabetic, ideographic, phonetic) in expect {
        let (status, body) = c
            .api_get(&format!("/api/v1/studies?patient_id={pid}"), Some(&token))
            .await;
        assert_eq!(status, 200, "{body}");
        let name = &body["studies"][0]["patient"]["name"];
        assert_eq!(name["alphabetic"], alphabetic, "{pid}: {body}");
        assert_eq!(name["ideographic"], ideographic, "{pid}");
        assert_eq!(name["phonetic"], phonetic, "{pid}");
        assert_eq!(body["studies"][0]["num_instances"], 1, "{pid}");
    }
    // And the study list screen shows them, found by kana.
    let mut web = app.client();
    web.sign_in(&dr).await;
    let page = web.get("/studies?name=%E3%83%A4%E3%83%9E%E3%83%80").await; // ヤマダ
    assert_eq!(page.status, 200);
    assert!(page.body.contains("山田"), "found by katakana");
}

/// Real sample images (pydicom's test files and PyPI pydicom-data) in the compressed
/// transfer syntaxes modalities use, each proposed and stored as it is, not transcoded.
#[tokio::test]
async fn real_compressed_images_are_stored_in_their_own_transfer_syntax() {
    // Some sample files lack the study/series UIDs an archive needs (and would rightly be
    // refused); those get UIDs added, pixel data and transfer syntax untouched.
    let tmp = tempfile::tempdir().unwrap();
    let locate = r#"
import json, os, sys, data_store, pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
extra = os.path.join(os.path.dirname(data_store.__file__), "data")
out = {}
for name in ["CT_small.dcm", "SC_rgb_jpeg_dcmtk.dcm", "JPEG-lossy.dcm", "MR_small_jpeg_ls_lossless.dcm",
             "JPEGLSNearLossless_08.dcm"]:
    out[name] = get_testdata_file(name)
for name in ["JPEG-LL.dcm", "MR2_J2KR.dcm", "MR2_J2KI.dcm", "OBXXXX1A_rle.dcm", "emri_small_jpeg_2k_lossless.dcm"]:
    out[name] = os.path.join(extra, name)
for name, path in out.items():
    ds = pydicom.dcmread(path)
    if "StudyInstanceUID" not in ds or "SeriesInstanceUID" not in ds:
        ds.StudyInstanceUID = ds.get("StudyInstanceUID") or generate_uid()
        ds.SeriesInstanceUID = ds.get("SeriesInstanceUID") or generate_uid()
        fixed = os.path.join(sys.argv[1], name)
        ds.save_as(fixed)
        out[name] = fixed
print(json.dumps(out))
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", locate, &tmp.path().display().to_string()]);
    let o = run(cmd).await;
    assert!(o.status.success(), "python: {}", text(&o));
    let paths: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&o.stdout).unwrap();
    // (file, storescu option proposing its syntax, expected transfer syntax)
    let cases = [
        ("CT_small.dcm", "-xe", "1.2.840.10008.1.2.1"),
        ("SC_rgb_jpeg_dcmtk.dcm", "-xy", "1.2.840.10008.1.2.4.50"),
        ("JPEG-lossy.dcm", "-xx", "1.2.840.10008.1.2.4.51"),
        ("JPEG-LL.dcm", "-xs", "1.2.840.10008.1.2.4.70"),
        (
            "MR_small_jpeg_ls_lossless.dcm",
            "-xt",
            "1.2.840.10008.1.2.4.80",
        ),
        ("JPEGLSNearLossless_08.dcm", "-xu", "1.2.840.10008.1.2.4.81"),
        ("MR2_J2KR.dcm", "-xv", "1.2.840.10008.1.2.4.90"),
        (
            "emri_small_jpeg_2k_lossless.dcm",
            "-xv",
            "1.2.840.10008.1.2.4.90",
        ),
        ("MR2_J2KI.dcm", "-xw", "1.2.840.10008.1.2.4.91"),
        ("OBXXXX1A_rle.dcm", "-xr", "1.2.840.10008.1.2.5"),
    ];
    let app = spawn_app().await;
    let clinic = app.facility("さぬき診療所", "clinic", true, false);
    node(&mut app.conn(), clinic, "CLINIC_A", "127.0.0.1", true);
    for (i, (file, opt, ts)) in cases.iter().enumerate() {
        let path = &paths[*file];
        let o = storescu_with(
            app.dicom_port,
            "CLINIC_A",
            &[opt],
            std::slice::from_ref(path),
        )
        .await;
        assert!(o.status.success(), "{file} with {opt}: {}", text(&o));
        assert_eq!(
            instance_rows(&mut app.conn()),
            i as i64 + 1,
            "{file} stored"
        );
        assert!(
            transfer_syntaxes(&mut app.conn()).contains(&(*ts).to_owned()),
            "{file} kept {ts}"
        );
    }
    // Every stored blob matches its recorded SHA-256.
    let rows: Vec<(String, String)> = {
        use diesel::prelude::*;
        use shared::db::schema::instances::dsl::*;
        instances
            .select((sha256, storage_key))
            .load(&mut *app.conn())
            .unwrap()
    };
    for (sha, key) in rows {
        let k = radvision::store::BlobKey::parse(&key).unwrap();
        assert_eq!(k.sha256(), sha);
        app.state.ingestor.store().get(&k).await.unwrap();
    }
}
