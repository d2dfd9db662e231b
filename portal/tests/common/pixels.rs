//! Fixtures for pixel-data tests: pydicom's and pydicom-data's sample images (PyPI, see
//! ops/requirements-test.txt) copied with new UIDs into one patient's study, stored through
//! STOW-RS, and a client for the answers (status, headers, multipart parts).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::{json, Value};
use shared::audit::Ctx;
use shared::auth::tokens;

use super::{TestApp, TestUser};

/// One instance to make from a sample file.
pub struct Sample<'a> {
    /// File name in pydicom's test files or pydicom-data.
    pub source: &'a str,
    pub study: &'a str,
    pub series: &'a str,
    pub series_number: i64,
    pub sop: &'a str,
    pub instance_number: i64,
}

const COPY: &str = r#"
import json, sys
import pydicom
from pydicom.data import get_testdata_file
for s in json.load(open(sys.argv[1])):
    ds = pydicom.dcmread(get_testdata_file(s["source"]))
    ds.StudyInstanceUID = s["study"]
    ds.SeriesInstanceUID = s["series"]
    ds.SOPInstanceUID = s["sop"]
    ds.file_meta.MediaStorageSOPInstanceUID = s["sop"]
    ds.SeriesNumber = s["series_number"]
    ds.InstanceNumber = s["instance_number"]
    ds.PatientID = "PX0001"
    ds.PatientName = "Pixel^Test"
    ds.StudyDate = "20261120"
    ds.save_as(s["out"], enforce_file_format=True)
"#;

/// Writes the samples with new UIDs (transfer syntax and pixel data untouched) and returns
/// their bytes, in order.
pub fn make(dir: &Path, samples: &[Sample<'_>]) -> Vec<Vec<u8>> {
    let specs: Vec<Value> = samples
        .iter()
        .map(|s| {
            json!({
                "source": s.source, "study": s.study, "series": s.series,
                "series_number": s.series_number, "sop": s.sop,
                "instance_number": s.instance_number,
                "out": dir.join(format!("{}.dcm", s.sop)).display().to_string(),
            })
        })
        .collect();
    let spec_file = dir.join("pixel-samples.json");
    std::fs::write(&spec_file, serde_json::to_vec(&specs).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(COPY)
        .arg(&spec_file)
        .output()
        .expect("python3 with pydicom and pydicom-data");
    assert!(
        out.status.success(),
        "copying samples failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    specs
        .iter()
        .map(|s| std::fs::read(s["out"].as_str().unwrap()).unwrap())
        .collect()
}

/// An API token for `user`.
pub fn token(app: &TestApp, user: &TestUser) -> String {
    tokens::issue(
        &mut app.conn(),
        &Ctx::system("test"),
        user.id,
        "t",
        "30",
        365,
    )
    .unwrap()
    .0
}

/// Stores `files` through STOW-RS; every one must be accepted.
pub async fn stow(app: &TestApp, token: &str, files: &[Vec<u8>]) {
    const BOUNDARY: &str = "enkaku-pixels-test-boundary";
    let mut body = Vec::new();
    for f in files {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(f);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let r = reqwest::Client::new()
        .post(format!("{}/dicom-web/studies", app.base))
        .bearer_auth(token)
        .header(
            "Content-Type",
            format!("multipart/related; type=\"application/dicom\"; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 200, "{}", r.text().await.unwrap());
}

/// One part of a multipart answer: its headers (lower-case names) and body.
pub type Part = (Vec<(String, String)>, Vec<u8>);

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub cache_control: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The parts of a multipart answer: each part's headers (lower-case names) and body.
    pub fn parts(&self) -> Vec<Part> {
        let boundary = self
            .content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .expect("a multipart answer")
            .trim_matches('"')
            .to_owned();
        let delimiter = format!("\r\n--{boundary}");
        let d = delimiter.as_bytes();
        let body = [b"\r\n".as_slice(), &self.body].concat();
        let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
        let mut rest = &body[find(&body, d).unwrap() + d.len()..];
        let mut out = Vec::new();
        while !rest.starts_with(b"--") {
            let end = find(rest, d).unwrap();
            let part = &rest[..end];
            let head_end = find(part, b"\r\n\r\n").unwrap();
            let headers = String::from_utf8_lossy(&part[..head_end])
                .split("\r\n")
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            out.push((headers, part[head_end + 4..].to_vec()));
            rest = &rest[end + d.len()..];
        }
        assert_eq!(rest, b"--\r\n");
        out
    }
}

/// `GET path` with a bearer token and an optional `Accept`.
pub async fn get(app: &TestApp, path: &str, token: &str, accept: Option<&str>) -> Answer {
    let mut rb = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .bearer_auth(token);
    if let Some(a) = accept {
        rb = rb.header("Accept", a);
    }
    let r = rb.send().await.unwrap();
    let h = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, cache_control) = (h("content-type"), h("cache-control"));
    Answer {
        status: r.status().as_u16(),
        content_type,
        cache_control,
        body: r.bytes().await.unwrap().to_vec(),
    }
}
