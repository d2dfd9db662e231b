//! WADO-RS frames, rendered images and thumbnails on the real app: pydicom's sample images
//! (MR_small uncompressed, JPEG 2000 lossless, RLE and JPEG-LS lossless; a 10-frame MR; RGB
//! and JPEG colour; a 512 x 512 CT uncompressed and JPEG 2000) stored through STOW-RS come
//! back as the same native pixels whatever their transfer syntax, or as their stored
//! codestreams on request; rendered and thumbnail images are valid JPEG/PNG of the right
//! size; frame numbers, parameters and `Accept` headers are checked (400/404/406); another
//! clinic, a facility administrator and guessed UIDs get 404 and a denied audit event;
//! every answer is `no-store` and every success is audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use common::pixels::{self, get, stow, token, Answer, Sample};
use common::reading::{self, Network};
use common::{spawn_app, TestApp};
use radvision::pixels::raw_frame;
use serde_json::Value;
use shared::audit::{AuditEvent, Filter};

const STUDY: &str = "1.2.392.200.77";
const MR: &str = "1.2.392.200.77.1";
const MULTI: &str = "1.2.392.200.77.2";
const COLOUR: &str = "1.2.392.200.77.3";
const CT: &str = "1.2.392.200.77.4";
const MR_NATIVE: &str = "1.2.392.200.77.1.1";
const MR_J2K: &str = "1.2.392.200.77.1.2";
const MR_RLE: &str = "1.2.392.200.77.1.3";
const MR_JLS: &str = "1.2.392.200.77.1.4";
const MULTI_NATIVE: &str = "1.2.392.200.77.2.1";
const MULTI_J2K: &str = "1.2.392.200.77.2.2";
const RGB: &str = "1.2.392.200.77.3.1";
const RGB_JPEG: &str = "1.2.392.200.77.3.2";
const CT_NATIVE: &str = "1.2.392.200.77.4.1";
const CT_J2K: &str = "1.2.392.200.77.4.2";

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
/// What the web viewer sends (the contract with the viewer).
const VIEWER_ACCEPT: &str =
    "multipart/related; type=\"application/octet-stream\"; transfer-syntax=1.2.840.10008.1.2.1";

struct Setup {
    app: TestApp,
    n: Network,
    doctor: String,
    /// The stored files by SOP Instance UID.
    files: Vec<(&'static str, Vec<u8>)>,
}

impl Setup {
    fn file(&self, sop: &str) -> Bytes {
        Bytes::from(
            self.files
                .iter()
                .find(|(s, _)| *s == sop)
                .unwrap()
                .1
                .clone(),
        )
    }
}

fn instance(series: &str, sop: &str) -> String {
    format!("/dicom-web/studies/{STUDY}/series/{series}/instances/{sop}")
}

async fn setup() -> Setup {
    let app = spawn_app().await;
    let n = reading::network(&app);
    let doctor = token(&app, &n.physician);
    let dir = tempfile::tempdir().unwrap();
    let plan: [(&str, &str, i64, &'static str, i64); 10] = [
        ("MR_small.dcm", MR, 1, MR_NATIVE, 1),
        ("MR_small_jp2klossless.dcm", MR, 1, MR_J2K, 2),
        ("MR_small_RLE.dcm", MR, 1, MR_RLE, 3),
        ("MR_small_jpeg_ls_lossless.dcm", MR, 1, MR_JLS, 4),
        ("emri_small.dcm", MULTI, 2, MULTI_NATIVE, 1),
        ("emri_small_jpeg_2k_lossless.dcm", MULTI, 2, MULTI_J2K, 2),
        ("SC_rgb.dcm", COLOUR, 3, RGB, 1),
        ("SC_rgb_jpeg_dcmtk.dcm", COLOUR, 3, RGB_JPEG, 2),
        ("693_UNCR.dcm", CT, 4, CT_NATIVE, 1),
        ("693_J2KR.dcm", CT, 4, CT_J2K, 2),
    ];
    let samples: Vec<Sample<'_>> = plan
        .iter()
        .map(|(source, series, series_number, sop, number)| Sample {
            source,
            study: STUDY,
            series,
            series_number: *series_number,
            sop,
            instance_number: *number,
        })
        .collect();
    let bytes = pixels::make(dir.path(), &samples);
    stow(&app, &doctor, &bytes).await;
    let files = plan.iter().map(|p| p.3).zip(bytes).collect();
    Setup {
        app,
        n,
        doctor,
        files,
    }
}

fn events(app: &TestApp, action: &str, outcome: &str) -> Vec<AuditEvent> {
    shared::audit::search(
        &mut app.conn(),
        &Filter {
            action: Some(action.into()),
            outcome: Some(outcome.into()),
            ..Default::default()
        },
        0,
        100_000,
    )
    .unwrap()
}

fn detail(e: &AuditEvent) -> Value {
    serde_json::from_str(e.detail.as_deref().unwrap()).unwrap()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// One raw frame through the viewer's `Accept`; checks the framing.
async fn viewer_frame(s: &Setup, path: &str) -> Vec<u8> {
    let a = get(&s.app, path, &s.doctor, Some(VIEWER_ACCEPT)).await;
    assert_eq!(
        a.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&a.body)
    );
    assert_eq!(a.cache_control, "no-store");
    assert!(
        a.content_type
            .starts_with("multipart/related; type=\"application/octet-stream\"; boundary="),
        "{}",
        a.content_type
    );
    let mut parts = a.parts();
    assert_eq!(parts.len(), 1);
    let (headers, body) = parts.remove(0);
    assert_eq!(
        header(&headers, "content-type"),
        format!("application/octet-stream; transfer-syntax={EXPLICIT_LE}")
    );
    assert_eq!(header(&headers, "content-length"), body.len().to_string());
    body
}

#[tokio::test]
async fn raw_frames_are_the_same_pixels_whatever_is_stored() {
    let s = setup().await;
    let reference = raw_frame(s.file(MR_NATIVE), 1).unwrap();
    assert_eq!(reference.data.len(), 64 * 64 * 2);
    for sop in [MR_NATIVE, MR_J2K, MR_RLE, MR_JLS] {
        let body = viewer_frame(&s, &format!("{}/frames/1", instance(MR, sop))).await;
        assert!(body == reference.data, "{sop}: frame differs");
    }
    // The same with no Accept, or */*.
    for accept in [None, Some("*/*")] {
        let a = get(
            &s.app,
            &format!("{}/frames/1", instance(MR, MR_J2K)),
            &s.doctor,
            accept,
        )
        .await;
        assert_eq!(a.status, 200);
        assert!(a.parts()[0].1 == reference.data);
    }
    // Several frames, in the order asked, from a 10-frame JPEG 2000 object.
    let a = get(
        &s.app,
        &format!("{}/frames/10,1,3", instance(MULTI, MULTI_J2K)),
        &s.doctor,
        Some(VIEWER_ACCEPT),
    )
    .await;
    assert_eq!(a.status, 200);
    let parts = a.parts();
    assert_eq!(parts.len(), 3);
    for ((_, body), n) in parts.iter().zip([10, 1, 3]) {
        let want = raw_frame(s.file(MULTI_NATIVE), n).unwrap();
        assert!(*body == want.data, "frame {n}");
    }
    // Colour: interleaved RGB, the JPEG (YBR_FULL) close to the original.
    let rgb = viewer_frame(&s, &format!("{}/frames/1", instance(COLOUR, RGB))).await;
    assert_eq!(rgb.len(), 100 * 100 * 3);
    let jpeg = viewer_frame(&s, &format!("{}/frames/1", instance(COLOUR, RGB_JPEG))).await;
    assert_eq!(jpeg.len(), rgb.len());
    let diff: u64 = rgb
        .iter()
        .zip(&jpeg)
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    assert!(diff / (rgb.len() as u64) < 4);

    // One success event per request: the frames asked, references, never a name.
    let ev = events(&s.app, "dicomweb.frames", "success");
    assert_eq!(ev.len(), 9);
    assert_eq!(detail(&ev[0])["frames"], serde_json::json!([1]));
    assert_eq!(detail(&ev[2])["frames"], serde_json::json!([10, 1, 3]));
    for e in &ev {
        assert_eq!(e.study_ref.as_deref(), Some(STUDY));
        assert!(e.patient_ref.as_deref().unwrap().starts_with("patient:"));
        assert!(!format!("{e:?}").contains("Pixel^Test"));
    }
}

#[tokio::test]
async fn stored_codestreams_frame_numbers_and_media_types() {
    let s = setup().await;
    let app = &s.app;
    let j2k = format!("{}/frames/2", instance(MULTI, MULTI_J2K));

    // The stored JPEG 2000 codestream, by its media type or by transfer-syntax=*.
    for accept in [
        "multipart/related; type=\"image/jp2\"",
        "multipart/related; type=\"image/jp2\"; transfer-syntax=1.2.840.10008.1.2.4.90",
        "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*",
    ] {
        let a = get(app, &j2k, &s.doctor, Some(accept)).await;
        assert_eq!(a.status, 200, "{accept}");
        assert_eq!(a.cache_control, "no-store");
        assert!(a
            .content_type
            .starts_with("multipart/related; type=\"image/jp2\""));
        let parts = a.parts();
        assert_eq!(
            header(&parts[0].0, "content-type"),
            "image/jp2; transfer-syntax=1.2.840.10008.1.2.4.90"
        );
        let want = radvision::pixels::encapsulated_frame(s.file(MULTI_J2K), 2).unwrap();
        assert!(parts[0].1 == want);
        assert!(parts[0].1.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]));
    }
    let a = get(
        app,
        &format!("{}/frames/1", instance(MR, MR_RLE)),
        &s.doctor,
        Some("multipart/related; type=\"image/dicom-rle\""),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        header(&a.parts()[0].0, "content-type"),
        "image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5"
    );
    // transfer-syntax=* of uncompressed pixels: the native frame.
    let a = get(
        app,
        &format!("{}/frames/1", instance(MR, MR_NATIVE)),
        &s.doctor,
        Some("multipart/related; type=\"application/octet-stream\"; transfer-syntax=*"),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.parts()[0].1 == raw_frame(s.file(MR_NATIVE), 1).unwrap().data);

    // 406: an image type other than the stored one, other media types.
    for accept in [
        "multipart/related; type=\"image/jpeg\"",
        "application/dicom",
        "multipart/related; type=\"application/octet-stream\"; transfer-syntax=1.2.840.10008.1.2.4.50",
    ] {
        let a = get(app, &j2k, &s.doctor, Some(accept)).await;
        assert_eq!(a.status, 406, "{accept}");
        assert_eq!(a.cache_control, "no-store");
        assert_eq!(a.json()["error"], "not_acceptable");
    }

    // Frame numbers: 400 for malformed, 404 beyond Number of Frames.
    let mr = instance(MR, MR_NATIVE);
    for bad in ["0", "1,0", "abc", "1,,2", "-1"] {
        let a = get(app, &format!("{mr}/frames/{bad}"), &s.doctor, None).await;
        assert_eq!(a.status, 400, "{bad}");
        assert_eq!(a.cache_control, "no-store");
    }
    for missing in [
        format!("{mr}/frames/2"),
        format!("{}/frames/11", instance(MULTI, MULTI_J2K)),
        format!("{}/frames/1,11", instance(MULTI, MULTI_NATIVE)),
        format!("{mr}/frames/2/rendered"),
    ] {
        let a = get(app, &missing, &s.doctor, None).await;
        assert_eq!(a.status, 404, "{missing}");
        assert_eq!(a.cache_control, "no-store");
    }
    let a = reqwest::Client::new()
        .post(format!("{}{mr}/frames/1", app.base))
        .bearer_auth(&s.doctor)
        .send()
        .await
        .unwrap();
    assert_eq!(a.status().as_u16(), 405);
}

fn jpeg_size(bytes: &[u8]) -> (u16, u16, Vec<u8>) {
    let mut d = jpeg_decoder::Decoder::new(bytes);
    let px = d.decode().unwrap();
    let info = d.info().unwrap();
    (info.width, info.height, px)
}

fn png_size(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn image(a: &Answer, media: &str) {
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.content_type, media);
    assert_eq!(a.cache_control, "no-store");
}

#[tokio::test]
async fn rendered_images_and_thumbnails() {
    let s = setup().await;
    let app = &s.app;
    let tok = &s.doctor;
    let mr = instance(MR, MR_J2K);

    // JPEG by default, of the image's size, not blank.
    let a = get(app, &format!("{mr}/rendered"), tok, None).await;
    image(&a, "image/jpeg");
    let (w, h, px) = jpeg_size(&a.body);
    assert_eq!((w, h), (64, 64));
    assert!(px.iter().max().unwrap() - px.iter().min().unwrap() > 100);
    // PNG on request; a window changes it; a viewport scales it.
    let a = get(app, &format!("{mr}/rendered"), tok, Some("image/png")).await;
    image(&a, "image/png");
    let (w, h, file_window) = png_size(&a.body);
    assert_eq!((w, h), (64, 64));
    let a = get(
        app,
        &format!("{mr}/rendered?window=600,200,linear"),
        tok,
        Some("image/png"),
    )
    .await;
    image(&a, "image/png");
    assert_ne!(png_size(&a.body).2, file_window);
    let a = get(
        app,
        &format!(
            "{}/frames/5/rendered?viewport=32,16&quality=50",
            instance(MULTI, MULTI_J2K)
        ),
        tok,
        None,
    )
    .await;
    image(&a, "image/jpeg");
    assert_eq!(jpeg_size(&a.body).0, 16);
    // Colour.
    let a = get(
        app,
        &format!("{}/rendered", instance(COLOUR, RGB_JPEG)),
        tok,
        Some("image/png"),
    )
    .await;
    image(&a, "image/png");
    let (w, h, px) = png_size(&a.body);
    assert_eq!(px.len(), (w * h * 3) as usize);

    // Thumbnails: within 128 x 128; a series' is its middle instance, a study's that of
    // its first series.
    let a = get(
        app,
        &format!("{}/thumbnail", instance(CT, CT_J2K)),
        tok,
        None,
    )
    .await;
    image(&a, "image/jpeg");
    assert_eq!(jpeg_size(&a.body).0, 128);
    let a = get(
        app,
        &format!("/dicom-web/studies/{STUDY}/series/{MR}/thumbnail"),
        tok,
        None,
    )
    .await;
    image(&a, "image/jpeg");
    let (w, h, _) = jpeg_size(&a.body);
    assert!(w <= 128 && h <= 128 && w.max(h) == 128);
    let a = get(
        app,
        &format!("/dicom-web/studies/{STUDY}/thumbnail?viewport=64,64"),
        tok,
        None,
    )
    .await;
    image(&a, "image/jpeg");
    assert_eq!(jpeg_size(&a.body).0, 64);
    let ev = events(app, "dicomweb.rendered", "success");
    assert_eq!(ev.len(), 8);
    // Newest first: the study's, then the series' thumbnail.
    assert_eq!(detail(&ev[0])["kind"], "thumbnail");
    assert_eq!(detail(&ev[0])["instance"], MR_RLE);
    assert_eq!(detail(&ev[1])["instance"], MR_RLE);
    assert_eq!(ev[0].object_id.as_deref(), Some(STUDY));

    // Bad parameters and media types.
    for bad in [
        "window=40",
        "window=40,0",
        "viewport=0,10",
        "viewport=99999,1",
        "quality=0",
        "quality=101",
    ] {
        let a = get(app, &format!("{mr}/rendered?{bad}"), tok, None).await;
        assert_eq!(a.status, 400, "{bad}");
        assert_eq!(a.cache_control, "no-store");
    }
    let a = get(app, &format!("{mr}/frames/1,2/rendered"), tok, None).await;
    assert_eq!(a.status, 400);
    let a = get(app, &format!("{mr}/rendered"), tok, Some("image/gif")).await;
    assert_eq!(a.status, 406);
    assert_eq!(a.cache_control, "no-store");
}

#[tokio::test]
async fn only_those_who_may_see_the_study_get_its_pixels() {
    let s = setup().await;
    let app = &s.app;
    let frame = format!("{}/frames/1", instance(MR, MR_NATIVE));
    let thumb = format!("/dicom-web/studies/{STUDY}/thumbnail");

    let other = app.facility("Bクリニック", "clinic", true, false);
    let other_doctor = token(app, &app.user(other, "dr.other", &["physician"]));
    let admin = token(
        app,
        &app.user(s.n.clinic, "admin.clinic", &["facility_admin"]),
    );
    let reader = token(app, &s.n.kmix_radiologist);
    for tok in [&other_doctor, &admin, &reader] {
        // A caller that may see no images at all is denied before the study is looked up:
        // the event names the object asked for.
        let asked = if tok == &admin { MR_NATIVE } else { STUDY };
        for (path, action, object) in [
            (&frame, "dicomweb.frames", asked),
            (&thumb, "dicomweb.rendered", STUDY),
        ] {
            let before = events(app, action, "denied").len();
            let a = get(app, path, tok, None).await;
            assert_eq!(a.status, 404, "{path}");
            assert_eq!(a.cache_control, "no-store");
            let after = events(app, action, "denied");
            assert_eq!(after.len(), before + 1, "{path}: the denial is audited");
            assert_eq!(after[0].object_id.as_deref(), Some(object));
        }
    }
    // Guessed UIDs in a visible study: 404 and audited with the UID asked.
    let guessed = "1.2.392.200.77.1.99";
    let before = events(app, "dicomweb.frames", "denied").len();
    let a = get(
        app,
        &format!("{}/frames/1", instance(MR, guessed)),
        &s.doctor,
        None,
    )
    .await;
    assert_eq!(a.status, 404);
    let after = events(app, "dicomweb.frames", "denied");
    assert_eq!(after.len(), before + 1);
    assert_eq!(after[0].object_id.as_deref(), Some(guessed));
    let a = get(
        app,
        &format!("/dicom-web/studies/{STUDY}/series/{guessed}/thumbnail"),
        &s.doctor,
        None,
    )
    .await;
    assert_eq!(a.status, 404);
    // Not a UID at all: 400.
    let a = get(
        app,
        &format!("{}/frames/1", instance(MR, "1.2.abc")),
        &s.doctor,
        None,
    )
    .await;
    assert_eq!(a.status, 400);
    // Nothing was served to them.
    assert_eq!(events(app, "dicomweb.frames", "success").len(), 0);
}

/// A 12-bit JPEG Extended CT (pydicom's `JPEG-lossy.dcm`), which browsers cannot decode, is
/// decoded on the server (dcmtk's dcmdjpeg, radvision/src/pixels/jpeg12.rs): its frame comes
/// back as 16-bit native pixels, it renders, and its stored codestream is still offered.
#[tokio::test]
async fn twelve_bit_jpeg_is_decoded_on_the_server() {
    const STUDY12: &str = "1.2.392.200.78";
    const SERIES12: &str = "1.2.392.200.78.1";
    const SOP12: &str = "1.2.392.200.78.1.1";
    let app = spawn_app().await;
    let n = reading::network(&app);
    let doctor = token(&app, &n.physician);
    let dir = tempfile::tempdir().unwrap();
    let bytes = pixels::make(
        dir.path(),
        &[Sample {
            source: "JPEG-lossy.dcm",
            study: STUDY12,
            series: SERIES12,
            series_number: 1,
            sop: SOP12,
            instance_number: 1,
        }],
    );
    stow(&app, &doctor, &bytes).await;
    let path = format!("/dicom-web/studies/{STUDY12}/series/{SERIES12}/instances/{SOP12}");
    let want = raw_frame(Bytes::from(bytes[0].clone()), 1).unwrap();
    assert_eq!((want.info.bits_allocated, want.info.bits_stored), (16, 12));

    let t = Instant::now();
    let a = get(
        &app,
        &format!("{path}/frames/1"),
        &doctor,
        Some(VIEWER_ACCEPT),
    )
    .await;
    let took = t.elapsed();
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let parts = a.parts();
    assert_eq!(parts.len(), 1);
    assert_eq!(
        header(&parts[0].0, "content-type"),
        format!("application/octet-stream; transfer-syntax={EXPLICIT_LE}")
    );
    assert_eq!(parts[0].1.len(), 1024 * 256 * 2);
    assert!(parts[0].1 == want.data);
    eprintln!("GET 12-bit JPEG frame (unoptimised build): {took:?}");

    let a = get(&app, &format!("{path}/rendered"), &doctor, None).await;
    image(&a, "image/jpeg");
    assert_eq!(jpeg_size(&a.body).0, 256);
    // The stored codestream, for a client that decodes 12-bit JPEG itself.
    let a = get(
        &app,
        &format!("{path}/frames/1"),
        &doctor,
        Some("multipart/related; type=\"image/jpeg\""),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.parts()[0].1.starts_with(&[0xFF, 0xD8]));
}

/// One uncompressed 512 x 512 16-bit CT frame and one JPEG 2000 frame through HTTP; the
/// medians are printed (the figures in docs/PIXELS.md come from a release build).
#[tokio::test]
async fn serving_a_ct_frame_is_quick() {
    let s = setup().await;
    let client = reqwest::Client::new();
    let mut timings = Vec::new();
    for (sop, resource, accept) in [
        (CT_NATIVE, "metadata", "application/dicom+json"),
        (CT_NATIVE, "frames/1", VIEWER_ACCEPT),
        (CT_J2K, "frames/1", VIEWER_ACCEPT),
    ] {
        let url = format!("{}{}/{resource}", s.app.base, instance(CT, sop));
        let mut runs: Vec<Duration> = Vec::new();
        for _ in 0..9 {
            let t = Instant::now();
            let r = client
                .get(&url)
                .bearer_auth(&s.doctor)
                .header("Accept", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let body = r.bytes().await.unwrap();
            runs.push(t.elapsed());
            assert!(resource == "metadata" || body.len() > 512 * 512 * 2);
        }
        runs.sort();
        timings.push(runs[runs.len() / 2]);
    }
    eprintln!(
        "GET (median of 9, unoptimised build): metadata {:?} (index + audit only), \
         uncompressed 512x512 CT frame {:?}, JPEG 2000 frame {:?}",
        timings[0], timings[1], timings[2]
    );
    // The two decode to the same pixels.
    let a = viewer_frame(&s, &format!("{}/frames/1", instance(CT, CT_NATIVE))).await;
    let b = viewer_frame(&s, &format!("{}/frames/1", instance(CT, CT_J2K))).await;
    assert!(a == b);
    assert!(timings[1] < Duration::from_millis(500), "{:?}", timings[1]);
}

/// PyPI `dicomweb-client` (the library OHIF-style tools build on) retrieves a server-decoded
/// frame of the JPEG 2000 MR, equal to the uncompressed file's pixels, and a rendered PNG.
#[tokio::test]
async fn dicomweb_client_retrieves_frames_and_rendered_images() {
    let s = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/frames_client.py");
    let (base, tok, out) = (
        s.app.base.clone(),
        s.doctor.clone(),
        dir.path().display().to_string(),
    );
    let o = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .args([&base, &tok, STUDY, MR, MR_J2K, &out])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        o.status.success(),
        "frames_client.py: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["frames"], 1);
    let reference = raw_frame(s.file(MR_NATIVE), 1).unwrap();
    let got = std::fs::read(dir.path().join("frame1.raw")).unwrap();
    assert!(got == reference.data, "the decoded frame differs");
    let png = std::fs::read(dir.path().join("rendered.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}
