//! Browser upload of DICOM files for clinics without a DICOM sender: the upload page and
//! `POST /studies/upload`, which takes one DICOM Part 10 file (`application/dicom`) or a zip
//! of them (`application/zip`) per request and puts each through the same ingest pipeline as
//! C-STORE. Zip archives are spooled to an anonymous temporary file and read entry by entry
//! with limits on the number of entries, on each entry's declared and actual size, and on the
//! total inflated size (zip bombs). File names are only echoed back, sanitised; they never
//! reach a path or the log (they can carry patient names).

use std::io::{BufReader, Read, Seek, Write};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::StreamExt;
use radvision::ingest::pipeline::{Channel, IngestError, Source, Stored};
use serde::Serialize;

use crate::state::AppState;
use crate::web::authz;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, Page};
use crate::web::session::SignedIn;
use crate::web::studies::requester_check;

/// Most entries a zip may have.
pub const MAX_ZIP_ENTRIES: usize = 10_000;
/// The DICOM Part 10 magic after the 128-byte preamble.
const MAGIC_AT: usize = 128;

#[derive(Template)]
#[template(path = "studies/upload.html")]
struct UploadPage {
    page: Page,
    max_request_bytes: u64,
}

/// `GET /studies/upload`.
pub async fn form(state: web::Data<AppState>, me: SignedIn) -> WebResult {
    authz::allow(
        &state,
        &me,
        requester_check(&me.principal),
        "study.upload",
        None,
    )
    .await?;
    render(&UploadPage {
        page: Page::for_user(&state, &me, "upload.title"),
        max_request_bytes: state.settings.ingest.max_request_bytes,
    })
}

/// True when the request carries the session's CSRF token in `X-CSRF-Token` and comes from
/// the platform's own origin (scripts send state-changing requests this way).
pub fn csrf_header_ok(req: &HttpRequest, state: &AppState, me: &SignedIn) -> bool {
    let sent = req
        .headers()
        .get("X-CSRF-Token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = me.ctx.csrf_token();
    crate::web::csrf::origin_ok(req, state)
        && !expected.is_empty()
        && shared::auth::constant_time_eq(sent, &expected)
}

/// An entry or file name fit to echo back: the last path component, no control characters,
/// at most 120 characters.
pub fn sanitise_name(raw: &str) -> String {
    let last = raw
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let s: String = last
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .take(120)
        .collect();
    if s.trim().is_empty() {
        "-".into()
    } else {
        s
    }
}

/// The name the browser sent in `X-File-Name` (percent-encoded), sanitised.
fn header_name(req: &HttpRequest) -> String {
    let raw = req
        .headers()
        .get("X-File-Name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let decoded = url::form_urlencoded::parse(format!("n={}", raw.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    sanitise_name(&decoded)
}

#[derive(Debug, Serialize)]
pub struct ItemResult {
    pub name: String,
    /// `stored`, `duplicate` or `refused`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_id: Option<i64>,
}

#[derive(Debug, Default, Serialize)]
pub struct UploadSummary {
    pub results: Vec<ItemResult>,
    pub stored: usize,
    pub duplicates: usize,
    pub refused: usize,
    /// Entries of a zip left out because they are not DICOM files (no `DICM` magic).
    pub skipped: usize,
}

impl UploadSummary {
    fn refuse(&mut self, name: String, reason: impl Into<String>) {
        self.refused += 1;
        self.results.push(ItemResult {
            name,
            status: "refused",
            reason: Some(reason.into()),
            study_id: None,
        });
    }

    fn push(&mut self, name: String, r: Result<Stored, IngestError>) {
        match r {
            Ok(Stored::New { study_id, .. }) => {
                self.stored += 1;
                self.results.push(ItemResult {
                    name,
                    status: "stored",
                    reason: None,
                    study_id: Some(study_id),
                });
            }
            Ok(Stored::Duplicate { study_id, .. }) => {
                self.duplicates += 1;
                self.results.push(ItemResult {
                    name,
                    status: "duplicate",
                    reason: None,
                    study_id: Some(study_id),
                });
            }
            Err(IngestError::Rejected(r)) => self.refuse(name, r.to_string()),
            Err(IngestError::Unavailable(_)) => {
                self.refuse(name, "temporarily unavailable; please retry")
            }
        }
    }
}

/// A JSON error for the upload script.
pub fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": code, "message": message }))
}

fn too_large(limit: u64) -> HttpResponse {
    json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &format!("request body larger than the limit ({limit} bytes)"),
    )
}

fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

enum BodyError {
    TooLarge,
    Read,
    Io(String),
}

/// Streams the body into an anonymous temporary file (removed by the OS when closed, even
/// after a crash), stopping at `limit`.
async fn spool(
    mut payload: web::Payload,
    limit: u64,
    dir: std::path::PathBuf,
) -> Result<std::fs::File, BodyError> {
    let mut file = web::block(move || tempfile::tempfile_in(dir))
        .await
        .map_err(|e| BodyError::Io(e.to_string()))?
        .map_err(|e| BodyError::Io(e.to_string()))?;
    let mut buf = web::BytesMut::with_capacity(1 << 20);
    let mut total: u64 = 0;
    loop {
        let chunk = payload.next().await;
        let last = chunk.is_none();
        if let Some(chunk) = chunk {
            let chunk = chunk.map_err(|_| BodyError::Read)?;
            total += chunk.len() as u64;
            if total > limit {
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        if buf.len() >= (4 << 20) || (last && !buf.is_empty()) {
            let data = buf.split().freeze();
            file = web::block(move || file.write_all(&data).map(|()| file))
                .await
                .map_err(|e| BodyError::Io(e.to_string()))?
                .map_err(|e| BodyError::Io(e.to_string()))?;
        }
        if last {
            break;
        }
    }
    web::block(move || {
        file.flush()?;
        file.rewind()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| BodyError::Io(e.to_string()))?
    .map_err(|e| BodyError::Io(e.to_string()))
}

#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    pub max_entries: usize,
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
}

#[derive(Debug)]
pub enum ZipItem {
    Dicom { name: String, data: web::Bytes },
    Refused { name: String, reason: String },
    Skipped,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ZipFatal {
    NotZip,
    TooManyEntries,
}

/// Reads a zip archive entry by entry and hands each DICOM entry (or why it was refused) to
/// `emit`; stops when `emit` returns false. Directories are passed over; entries without
/// the `DICM` magic are skipped. Each entry is read through `take` with its declared size
/// + 1, so an entry that inflates beyond what it claims is caught, whatever its header says.
pub fn read_zip<R: Read + Seek>(
    reader: R,
    lim: ZipLimits,
    mut emit: impl FnMut(ZipItem) -> bool,
) -> Result<(), ZipFatal> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|_| ZipFatal::NotZip)?;
    if archive.len() > lim.max_entries {
        return Err(ZipFatal::TooManyEntries);
    }
    let mut budget = lim.max_total_bytes;
    for i in 0..archive.len() {
        let item = match archive.by_index(i) {
            Err(_) => ZipItem::Refused {
                name: format!("#{}", i + 1),
                reason: "unreadable entry (encrypted, damaged or unsupported compression)".into(),
            },
            Ok(mut f) => {
                if f.is_dir() {
                    continue;
                }
                let name = sanitise_name(f.name());
                let declared = f.size();
                read_entry(&mut f, name, declared, &lim, &mut budget)
            }
        };
        if !emit(item) {
            break;
        }
    }
    Ok(())
}

fn read_entry(
    f: &mut impl Read,
    name: String,
    declared: u64,
    lim: &ZipLimits,
    budget: &mut u64,
) -> ZipItem {
    let refused = |name: String, reason: &str| ZipItem::Refused {
        name,
        reason: reason.into(),
    };
    let mut head = Vec::with_capacity(MAGIC_AT + 4);
    if f.take((MAGIC_AT + 4) as u64)
        .read_to_end(&mut head)
        .is_err()
    {
        return refused(name, "damaged entry");
    }
    if head.len() as u64 > declared {
        return refused(name, "entry larger than its declared size");
    }
    if head.get(MAGIC_AT..MAGIC_AT + 4) != Some(b"DICM".as_slice()) {
        return ZipItem::Skipped;
    }
    if declared > lim.max_entry_bytes {
        return refused(name, "entry larger than the instance size limit");
    }
    if declared > *budget {
        return refused(name, "archive larger than the size limit once uncompressed");
    }
    let cap = usize::try_from(declared.min(64 << 20)).unwrap_or(0);
    let mut data = Vec::with_capacity(cap);
    data.extend_from_slice(&head);
    let rest = declared - head.len() as u64;
    if f.take(rest + 1).read_to_end(&mut data).is_err() {
        return refused(name, "damaged entry (checksum or compressed data)");
    }
    if data.len() as u64 > declared {
        return refused(name, "entry larger than its declared size");
    }
    if (data.len() as u64) < declared {
        return refused(name, "entry shorter than its declared size");
    }
    *budget -= declared;
    ZipItem::Dicom {
        name,
        data: web::Bytes::from(data),
    }
}

/// `POST /studies/upload`: one file per request; the body is the file.
pub async fn upload(
    state: web::Data<AppState>,
    me: SignedIn,
    req: HttpRequest,
    payload: web::Payload,
) -> WebResult {
    authz::allow(
        &state,
        &me,
        requester_check(&me.principal),
        "study.upload",
        None,
    )
    .await?;
    if !csrf_header_ok(&req, &state, &me) {
        tracing::warn!(path = req.path(), "upload refused: csrf token or origin");
        return Ok(json_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "missing or wrong X-CSRF-Token",
        ));
    }
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let name = header_name(&req);
    let src = Source {
        facility_id: me.principal.facility_id,
        channel: Channel::Upload,
        ctx: me.audit_ctx(),
    };
    let ingest = &state.settings.ingest;
    let mut summary = UploadSummary::default();
    match ct.as_str() {
        "application/dicom" => {
            let limit = ingest.max_request_bytes.min(ingest.max_instance_bytes);
            if declared_length(&req).is_some_and(|n| n > limit) {
                return Ok(too_large(limit));
            }
            let body = match payload
                .to_bytes_limited(usize::try_from(limit).unwrap_or(usize::MAX))
                .await
            {
                Ok(Ok(b)) => b,
                Ok(Err(_)) => {
                    return Ok(json_error(StatusCode::BAD_REQUEST, "bad_request", "body"))
                }
                Err(_) => return Ok(too_large(limit)),
            };
            let r = state.ingestor.ingest(&src, body).await;
            if let Err(IngestError::Unavailable(_)) = &r {
                return Ok(json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "temporarily unavailable; please retry",
                ));
            }
            summary.push(name, r);
        }
        "application/zip" | "application/x-zip-compressed" => {
            let limit = ingest.max_request_bytes;
            if declared_length(&req).is_some_and(|n| n > limit) {
                return Ok(too_large(limit));
            }
            let file = match spool(payload, limit, state.settings.data_dir.clone()).await {
                Ok(f) => f,
                Err(BodyError::TooLarge) => return Ok(too_large(limit)),
                Err(BodyError::Read) => {
                    return Ok(json_error(StatusCode::BAD_REQUEST, "bad_request", "body"))
                }
                Err(BodyError::Io(e)) => {
                    tracing::error!(error = %e, "upload: temporary file");
                    return Ok(json_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "temporarily unavailable; please retry",
                    ));
                }
            };
            let lim = ZipLimits {
                max_entries: MAX_ZIP_ENTRIES,
                max_entry_bytes: ingest.max_instance_bytes,
                max_total_bytes: ingest.max_request_bytes,
            };
            // A reader thread and this task, with at most two entries in flight.
            let (tx, mut rx) = tokio::sync::mpsc::channel::<ZipItem>(2);
            let reader = tokio::task::spawn_blocking(move || {
                read_zip(BufReader::new(file), lim, |item| {
                    tx.blocking_send(item).is_ok()
                })
            });
            while let Some(item) = rx.recv().await {
                match item {
                    ZipItem::Skipped => summary.skipped += 1,
                    ZipItem::Refused { name, reason } => summary.refuse(name, reason),
                    ZipItem::Dicom { name, data } => {
                        let r = state.ingestor.ingest(&src, data).await;
                        summary.push(name, r);
                    }
                }
            }
            match reader.await {
                Ok(Ok(())) => {}
                Ok(Err(ZipFatal::TooManyEntries)) => {
                    return Ok(json_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_many_entries",
                        &format!("the archive has more than {MAX_ZIP_ENTRIES} entries"),
                    ))
                }
                Ok(Err(ZipFatal::NotZip)) => {
                    return Ok(json_error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "not_zip",
                        "not a readable zip archive",
                    ))
                }
                Err(e) => return Err(WebError::Internal(format!("zip reader: {e}"))),
            }
        }
        _ => {
            return Ok(json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/dicom or application/zip",
            ))
        }
    }
    tracing::info!(
        stored = summary.stored,
        duplicates = summary.duplicates,
        refused = summary.refused,
        skipped = summary.skipped,
        "browser upload"
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(summary))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use zip::write::SimpleFileOptions;

    fn dicom_like(len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len.max(132)];
        v[128..132].copy_from_slice(b"DICM");
        v
    }

    fn archive(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (n, d) in entries {
            if n.ends_with('/') {
                w.add_directory(*n, SimpleFileOptions::default()).unwrap();
            } else {
                w.start_file(*n, SimpleFileOptions::default()).unwrap();
                w.write_all(d).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    const LIM: ZipLimits = ZipLimits {
        max_entries: 10,
        max_entry_bytes: 10_000,
        max_total_bytes: 25_000,
    };

    fn run(z: Vec<u8>, lim: ZipLimits) -> (Result<(), ZipFatal>, Vec<ZipItem>) {
        let mut items = Vec::new();
        let r = read_zip(Cursor::new(z), lim, |i| {
            items.push(i);
            true
        });
        (r, items)
    }

    #[test]
    fn zip_entries_are_bounded() {
        let z = archive(&[
            ("dir/", vec![]),
            ("dir/a.dcm", dicom_like(5000)),
            ("readme.txt", b"hello".to_vec()),
            ("DICOMDIR", dicom_like(200)),
            ("big.dcm", dicom_like(20_000)),
            ("b.dcm", dicom_like(9000)),
            ("c.dcm", dicom_like(9000)),
            ("d.dcm", dicom_like(9000)),
        ]);
        let (r, items) = run(z, LIM);
        assert_eq!(r, Ok(()));
        let kinds: Vec<String> = items
            .iter()
            .map(|i| match i {
                ZipItem::Dicom { name, .. } => format!("ok:{name}"),
                ZipItem::Refused { name, .. } => format!("no:{name}"),
                ZipItem::Skipped => "skip".into(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "ok:a.dcm",
                "skip",
                "ok:DICOMDIR",
                "no:big.dcm",
                "ok:b.dcm",
                "ok:c.dcm",
                "no:d.dcm"
            ]
        );
    }

    #[test]
    fn too_many_entries_and_garbage() {
        let many: Vec<(String, Vec<u8>)> = (0..11).map(|i| (format!("{i}"), vec![1])).collect();
        let refs: Vec<(&str, Vec<u8>)> =
            many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
        assert_eq!(run(archive(&refs), LIM).0, Err(ZipFatal::TooManyEntries));
        assert_eq!(run(b"not a zip".to_vec(), LIM).0, Err(ZipFatal::NotZip));
    }

    #[test]
    fn entry_inflating_beyond_its_declared_size_is_refused() {
        // Build a normal archive, then shrink the declared uncompressed size of the entry in
        // both the local header and the central directory.
        let data = dicom_like(50_000);
        let mut z = {
            let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
            w.start_file(
                "bomb.dcm",
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated),
            )
            .unwrap();
            w.write_all(&data).unwrap();
            w.finish().unwrap().into_inner()
        };
        patch_sizes(&mut z, 50_000, 500);
        let lim = ZipLimits {
            max_entry_bytes: 100_000,
            max_total_bytes: 100_000,
            ..LIM
        };
        let (r, items) = run(z, lim);
        assert_eq!(r, Ok(()));
        assert!(
            matches!(&items[..], [ZipItem::Refused { reason, .. }] if reason.contains("declared")),
            "{items:?}"
        );
    }

    /// Rewrites the 4-byte little-endian value `from` to `to` wherever it follows a local or
    /// central header's size field (test helper; the value is unique enough).
    fn patch_sizes(z: &mut [u8], from: u32, to: u32) {
        let f = from.to_le_bytes();
        let mut i = 0;
        while i + 4 <= z.len() {
            if z[i..i + 4] == f {
                z[i..i + 4].copy_from_slice(&to.to_le_bytes());
            }
            i += 1;
        }
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitise_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitise_name("a\\b\\IM0001"), "IM0001");
        assert_eq!(sanitise_name("x\u{0}y\u{202e}z"), "xyz");
        assert_eq!(sanitise_name("dir/"), "dir");
        assert_eq!(sanitise_name(""), "-");
    }
}
