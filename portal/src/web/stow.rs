//! STOW-RS (DICOMweb Store, PS3.18 10.5): `POST /dicom-web/studies` and
//! `POST /dicom-web/studies/{study}` with a `multipart/related; type="application/dicom"`
//! body, for systems that push over HTTPS with an API token (a browser session works too,
//! with `X-CSRF-Token`). The body is streamed through `multer` with a limit on the whole body
//! and on each part; each instance goes through the same ingest pipeline as C-STORE. The
//! answer is a DICOM JSON Store Instances Response: 200 when every instance was stored, 202
//! when some failed, 409 when all failed.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use radvision::ingest::pipeline::{Channel, IngestError, Source, Stored};
use serde_json::{json, Map, Value};
use shared::audit::{self, Event, Outcome};

use crate::api::auth::ApiCaller;
use crate::api::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::dicomweb::valid_uid;
use crate::web::studies::requester_check;

/// Failure reasons (PS3.18 Table 10.5.3-2 and PS3.4 B.2.3).
pub const OUT_OF_RESOURCES: u16 = 0xA700;
pub const DATA_SET_MISMATCH: u16 = 0xA900;
pub const CANNOT_UNDERSTAND: u16 = 0xC000;

/// `POST /dicom-web/studies`.
pub async fn store(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    handle(&state, caller, &req, payload, None).await
}

/// `POST /dicom-web/studies/{study}`: instances of another study are refused.
pub async fn store_in_study(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let uid = path.into_inner();
    if !valid_uid(&uid) {
        return Err(ApiError::BadRequest("invalid Study Instance UID".into()));
    }
    handle(&state, caller, &req, payload, Some(uid)).await
}

/// Any other method on the STOW-RS resources (QIDO-RS and WADO-RS are not served here).
pub async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": "method_not_allowed", "message": "only POST (STOW-RS) is supported here" }))
}

fn unsupported(message: &str) -> HttpResponse {
    HttpResponse::UnsupportedMediaType()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": "unsupported_media_type", "message": message }))
}

fn too_large(limit: u64) -> HttpResponse {
    HttpResponse::PayloadTooLarge()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": "too_large", "message": format!("request body larger than the limit ({limit} bytes)") }))
}

/// The boundary of a `multipart/related` body whose `type` is `application/dicom` (quoted,
/// unquoted or absent). `Err` carries the reason for a 415.
pub fn multipart_boundary(content_type: &str) -> Result<String, &'static str> {
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("multipart/related") {
        return Err("expected multipart/related; type=\"application/dicom\"");
    }
    let mut boundary = None;
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "type" if !v.eq_ignore_ascii_case("application/dicom") => {
                return Err("only type=\"application/dicom\" is supported");
            }
            "boundary" if !v.is_empty() && v.len() <= 200 => boundary = Some(v.to_owned()),
            _ => {}
        }
    }
    boundary.ok_or("multipart boundary missing")
}

/// The SOP Class and SOP Instance UIDs of a Part 10 file, from its file meta group (always
/// explicit VR little endian), for failure entries of instances that did not parse.
pub fn meta_uids(data: &[u8]) -> (Option<String>, Option<String>) {
    let (mut class, mut instance) = (None, None);
    if data.get(128..132) != Some(b"DICM".as_slice()) {
        return (None, None);
    }
    let uid = |v: &[u8]| {
        let s = std::str::from_utf8(v).ok()?.trim_end_matches(['\0', ' ']);
        valid_uid(s).then(|| s.to_owned())
    };
    let mut pos = 132usize;
    for _ in 0..32 {
        let Some(h) = data.get(pos..pos + 8) else {
            break;
        };
        if u16::from_le_bytes([h[0], h[1]]) != 2 {
            break;
        }
        let elem = u16::from_le_bytes([h[2], h[3]]);
        let long = matches!(
            &h[4..6],
            b"OB" | b"OW" | b"OF" | b"OD" | b"OL" | b"OV" | b"SQ" | b"UT" | b"UN" | b"UC" | b"UR"
        );
        let (len, hdr) = if long {
            let Some(l) = data.get(pos + 8..pos + 12) else {
                break;
            };
            (u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize, 12)
        } else {
            (usize::from(u16::from_le_bytes([h[6], h[7]])), 8)
        };
        let Some(end) = pos.checked_add(hdr).and_then(|p| p.checked_add(len)) else {
            break;
        };
        let Some(v) = data.get(pos + hdr..end) else {
            break;
        };
        match elem {
            0x0002 => class = uid(v),
            0x0003 => instance = uid(v),
            _ => {}
        }
        pos = end;
    }
    (class, instance)
}

struct Failure {
    class: Option<String>,
    instance: Option<String>,
    reason: u16,
}

fn uid_attr(vr: &str, v: Option<&str>) -> Value {
    match v {
        Some(v) => json!({ "vr": vr, "Value": [v] }),
        None => json!({ "vr": vr }),
    }
}

async fn audit_refusal(state: &AppState, ctx: &shared::audit::Ctx, reason: &'static str) {
    let ctx = ctx.clone();
    let r = state
        .db(move |c| {
            audit::record_now(
                c,
                &ctx,
                Event::new("instance.store", Outcome::Failure)
                    .detail(json!({ "via": "stow-rs", "reason": reason })),
            )
        })
        .await;
    if r.is_err() {
        tracing::error!("stow-rs: could not audit a refused instance");
    }
}

fn multer_error(e: multer::Error, limit: u64) -> Result<HttpResponse, ApiError> {
    match e {
        multer::Error::StreamSizeExceeded { .. } => Ok(too_large(limit)),
        _ => Err(ApiError::BadRequest("malformed multipart body".into())),
    }
}

async fn handle(
    state: &AppState,
    caller: ApiCaller,
    req: &HttpRequest,
    payload: web::Payload,
    target: Option<String>,
) -> ApiResult<HttpResponse> {
    caller
        .allow(
            state,
            requester_check(&caller.principal),
            "instance.store",
            None,
        )
        .await?;
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = match multipart_boundary(ct) {
        Ok(b) => b,
        Err(m) => return Ok(unsupported(m)),
    };
    let max_request = state.settings.ingest.max_request_bytes;
    let max_instance = state.settings.ingest.max_instance_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_request) {
        return Ok(too_large(max_request));
    }

    // multer wants a `Send` stream; the request payload is not, so a local task pumps it
    // through a small channel (back-pressure: at most a few chunks buffered).
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(8);
    let mut payload = payload;
    actix_web::rt::spawn(async move {
        while let Some(chunk) = payload.next().await {
            let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(max_request));
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);

    let p = &caller.principal;
    let src = Source {
        facility_id: p.facility_id,
        channel: Channel::StowRs,
        ctx: caller.audit_ctx(),
    };
    let mut stored: Vec<i64> = Vec::new();
    let mut failed: Vec<Failure> = Vec::new();
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return multer_error(e, max_request),
        };
        let part_type = field
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_else(|| "application/dicom".into());
        let mut data = web::BytesMut::new();
        let mut over = false;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if over {
                        continue;
                    }
                    if (data.len() + chunk.len()) as u64 > max_instance {
                        over = true;
                        data = web::BytesMut::new();
                    } else {
                        data.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(e) => return multer_error(e, max_request),
            }
        }
        if part_type != "application/dicom" {
            audit_refusal(state, &src.ctx, "part is not application/dicom").await;
            failed.push(Failure {
                class: None,
                instance: None,
                reason: CANNOT_UNDERSTAND,
            });
            continue;
        }
        if over {
            audit_refusal(state, &src.ctx, "instance larger than the limit").await;
            failed.push(Failure {
                class: None,
                instance: None,
                reason: OUT_OF_RESOURCES,
            });
            continue;
        }
        let data = data.freeze();
        if let Some(study) = &target {
            let limits = state.ingestor.limits().clone();
            let probe = data.clone();
            let parsed = tokio::task::spawn_blocking(move || {
                radvision::ingest::parse::parse_instance(&probe, &limits)
            })
            .await
            .map_err(|e| ApiError::Internal(format!("parser task: {e}")))?;
            if let Ok(pi) = parsed {
                if &pi.study_instance_uid != study {
                    audit_refusal(state, &src.ctx, "instance of another study than the target")
                        .await;
                    failed.push(Failure {
                        class: Some(pi.sop_class_uid),
                        instance: Some(pi.sop_instance_uid),
                        reason: DATA_SET_MISMATCH,
                    });
                    continue;
                }
            }
        }
        match state.ingestor.ingest(&src, data.clone()).await {
            Ok(Stored::New { instance_id, .. }) | Ok(Stored::Duplicate { instance_id, .. }) => {
                stored.push(instance_id)
            }
            Err(e) => {
                let (class, instance) = meta_uids(&data);
                let reason = match &e {
                    IngestError::Rejected(r) => r.dicom_status(),
                    IngestError::Unavailable(_) => OUT_OF_RESOURCES,
                };
                failed.push(Failure {
                    class,
                    instance,
                    reason,
                });
            }
        }
    }
    if stored.is_empty() && failed.is_empty() {
        return Err(ApiError::BadRequest("no instances in the body".into()));
    }

    let fid = p.facility_id;
    let ids = stored.clone();
    let refs = state
        .db(move |c| {
            ids.iter()
                .map(|id| shared::index::get_instance(c, fid, *id))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let base = state
        .settings
        .http
        .public_url
        .trim_end_matches('/')
        .to_owned();
    let mut body = Map::new();
    let studies: std::collections::BTreeSet<&str> =
        refs.iter().map(|r| r.study_uid.as_str()).collect();
    let study_url = match (&target, studies.len()) {
        (Some(s), _) => Some(s.clone()),
        (None, 1) => studies.iter().next().map(|s| (*s).to_owned()),
        _ => None,
    }
    .map(|s| format!("{base}/dicom-web/studies/{s}"));
    if let Some(u) = study_url {
        body.insert("00081190".into(), json!({ "vr": "UR", "Value": [u] }));
    }
    if !refs.is_empty() {
        let items: Vec<Value> = refs
            .iter()
            .map(|r| {
                json!({
                    "00081150": uid_attr("UI", Some(&r.instance.sop_class_uid)),
                    "00081155": uid_attr("UI", Some(&r.instance.sop_instance_uid)),
                    "00081190": { "vr": "UR", "Value": [format!(
                        "{base}/dicom-web/studies/{}/series/{}/instances/{}",
                        r.study_uid, r.series_uid, r.instance.sop_instance_uid)] },
                })
            })
            .collect();
        body.insert("00081199".into(), json!({ "vr": "SQ", "Value": items }));
    }
    if !failed.is_empty() {
        let items: Vec<Value> = failed
            .iter()
            .map(|f| {
                json!({
                    "00081150": uid_attr("UI", f.class.as_deref()),
                    "00081155": uid_attr("UI", f.instance.as_deref()),
                    "00081197": { "vr": "US", "Value": [f.reason] },
                })
            })
            .collect();
        body.insert("00081198".into(), json!({ "vr": "SQ", "Value": items }));
    }
    let status = match (refs.is_empty(), failed.is_empty()) {
        (false, true) => StatusCode::OK,
        (false, false) => StatusCode::ACCEPTED,
        _ => StatusCode::CONFLICT,
    };
    tracing::info!(
        stored = refs.len(),
        failed = failed.len(),
        "stow-rs request"
    );
    Ok(HttpResponse::build(status)
        .content_type("application/dicom+json")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(Value::Object(body).to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            multipart_boundary("multipart/related; type=\"application/dicom\"; boundary=abc"),
            Ok("abc".into())
        );
        assert_eq!(
            multipart_boundary("Multipart/Related; boundary=\"x y\"; type=application/dicom"),
            Ok("x y".into())
        );
        assert_eq!(
            multipart_boundary("multipart/related; boundary=abc"),
            Ok("abc".into())
        );
        assert!(multipart_boundary(
            "multipart/related; type=\"application/dicom+xml\"; boundary=a"
        )
        .is_err());
        assert!(multipart_boundary("application/dicom").is_err());
        assert!(multipart_boundary("multipart/related; type=application/dicom").is_err());
    }

    #[test]
    fn meta_uids_are_read_safely() {
        let mut f = vec![0u8; 128];
        f.extend_from_slice(b"DICM");
        for (elem, v) in [(2u16, "1.2.840.10008.5.1.4.1.1.2\0"), (3u16, "1.2.3.4")] {
            f.extend_from_slice(&2u16.to_le_bytes());
            f.extend_from_slice(&elem.to_le_bytes());
            f.extend_from_slice(b"UI");
            f.extend_from_slice(&(v.len() as u16).to_le_bytes());
            f.extend_from_slice(v.as_bytes());
        }
        assert_eq!(
            meta_uids(&f),
            (
                Some("1.2.840.10008.5.1.4.1.1.2".into()),
                Some("1.2.3.4".into())
            )
        );
        assert_eq!(meta_uids(&f[..140]), (None, None));
        assert_eq!(meta_uids(b"junk"), (None, None));
    }
}
