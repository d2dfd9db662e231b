//! WADO-RS pixel resources (PS3.18 §10.4): frames, rendered images and thumbnails, decoded
//! on the server by `radvision::pixels`.
//!
//! - Frames: `GET …/instances/{instance}/frames/{list}` (`1` or `1,3,5`) answers
//!   `multipart/related` with one part per frame, in the order asked. By default (no
//!   `Accept`, `*/*`, or `multipart/related; type="application/octet-stream"` with no
//!   transfer syntax or Explicit VR Little Endian) each part is the frame's native pixels,
//!   little endian (`Content-Type: application/octet-stream;
//!   transfer-syntax=1.2.840.10008.1.2.1`): 8-bit samples as one byte, 16-bit as two (signed
//!   per Pixel Representation), colour as interleaved RGB — compressed instances are decoded.
//!   `type="application/octet-stream"; transfer-syntax=*` or the stored syntax's image type
//!   (`image/jpeg`, `image/jls`, `image/jp2`, `image/jphc`, `image/dicom-rle`) gets the
//!   stored compressed bytes of an encapsulated instance, unchanged.
//! - Rendered: `…/instances/{instance}/rendered` (the first frame) and
//!   `…/frames/{n}/rendered`: `image/jpeg` (default) or `image/png`, 8-bit after the
//!   rescale, the window (`window=center,width[,linear|linear-exact|sigmoid]`, else the
//!   file's) and MONOCHROME1 inversion; `viewport=width,height` fits the image inside,
//!   keeping its aspect ratio; `quality=1..100` for JPEG.
//! - Thumbnails: `…/instances/{instance}/thumbnail`, `…/series/{series}/thumbnail` (the
//!   middle instance by Instance Number) and `/dicom-web/studies/{study}/thumbnail` (the
//!   middle instance of the first series): JPEG within 128×128 unless `viewport` says
//!   otherwise.
//!
//! Authorisation, denials (404 + an audit event) and UID checks are WADO-RS's
//! ([`wado::resolve`]); a frame number of 0 or a malformed list or parameter is a 400, a
//! frame beyond Number of Frames a 404, an `Accept` that cannot be met a 406. Each success
//! writes one `dicomweb.frames` or `dicomweb.rendered` event (frames asked, kind, study and
//! patient references, never a name). The blob is read through the hash-checking store and
//! decoded on the blocking pool, never on the async workers. Every answer is `no-store`.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use radvision::pixels::{Format, PixelError, Pixels, RenderOptions, VoiFunction};
use serde_json::{json, Value};
use shared::audit::{self, Event, Outcome};
use shared::index::Instance;

use super::valid_uid;
use super::wado::{
    self, accept_header, media_range, not_acceptable, read_instance, split_unquoted, Found, Target,
};
use crate::api::auth::ApiCaller;
use crate::api::error::{ApiError, ApiResult};
use crate::state::AppState;

const FRAMES: &str = "dicomweb.frames";
const RENDERED: &str = "dicomweb.rendered";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
/// Most frames one request may list.
const MAX_FRAMES_PER_REQUEST: usize = 512;
const THUMBNAIL_SIZE: u32 = 128;

/// Registers the frame, rendered and thumbnail resources.
pub fn routes(cfg: &mut web::ServiceConfig) {
    const INSTANCE: &str = "/dicom-web/studies/{study}/series/{series}/instances/{instance}";
    cfg.service(
        web::resource(format!("{INSTANCE}/frames/{{frames}}"))
            .route(web::get().to(frames))
            .default_service(web::to(wado::method_not_allowed)),
    )
    .service(
        web::resource(format!("{INSTANCE}/frames/{{frames}}/rendered"))
            .route(web::get().to(rendered))
            .default_service(web::to(wado::method_not_allowed)),
    )
    .service(
        web::resource(format!("{INSTANCE}/rendered"))
            .route(web::get().to(rendered))
            .default_service(web::to(wado::method_not_allowed)),
    )
    .service(
        web::resource(format!("{INSTANCE}/thumbnail"))
            .route(web::get().to(thumbnail))
            .default_service(web::to(wado::method_not_allowed)),
    )
    .service(
        web::resource("/dicom-web/studies/{study}/series/{series}/thumbnail")
            .route(web::get().to(thumbnail))
            .default_service(web::to(wado::method_not_allowed)),
    )
    .service(
        web::resource("/dicom-web/studies/{study}/thumbnail")
            .route(web::get().to(thumbnail))
            .default_service(web::to(wado::method_not_allowed)),
    );
}

// ---------------------------------------------------------------------------------------
// Frames

/// `GET …/instances/{instance}/frames/{list}`.
async fn frames(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let numbers = frame_list(req.match_info().get("frames").unwrap_or(""))?;
    let ranges = match accepted_frames(accept_header(&req)) {
        Ok(r) => r,
        Err(m) => return Ok(not_acceptable(m)),
    };
    let t = Target::from_path(&req);
    let found = wado::resolve(&state, &caller, &t, FRAMES).await?;
    let instance = only_instance(&found)?;
    let representation = match choose(&ranges, &instance.transfer_syntax_uid) {
        Some(r) => r,
        None => {
            return Ok(not_acceptable(&format!(
                "frames are offered as multipart/related; type=\"application/octet-stream\" \
                 (native pixels, {EXPLICIT_LE}){}",
                media_type(&instance.transfer_syntax_uid)
                    .map(|m| format!(" or type=\"{m}\" (as stored)"))
                    .unwrap_or_default()
            )))
        }
    };
    let data = read(&state, &instance).await?;
    let wanted = numbers.clone();
    let parts = web::block(move || -> Result<Vec<Bytes>, PixelError> {
        let p = Pixels::parse(data)?;
        wanted
            .iter()
            .map(|n| match representation {
                Representation::Native => p.raw_frame(*n).map(|f| f.data),
                Representation::Stored(_) if p.is_encapsulated() => p.encapsulated_frame(*n),
                // "As stored" of native pixel data is the native frame.
                Representation::Stored(_) => p.raw_frame(*n).map(|f| f.data),
            })
            .collect()
    })
    .await
    .map_err(|e| ApiError::Internal(format!("frame decoding task: {e}")))?;
    let parts = match parts {
        Ok(p) => p,
        Err(e) => return pixel_error(instance.id, e),
    };
    record(
        &state,
        &caller,
        FRAMES,
        &t,
        &found,
        json!({ "via": "dicomweb", "frames": numbers, "representation": representation.name() }),
    )
    .await?;
    let (part_type, transfer_syntax) = match representation {
        Representation::Stored(_) if media_type(&instance.transfer_syntax_uid).is_some() => (
            media_type(&instance.transfer_syntax_uid).unwrap_or("application/octet-stream"),
            instance.transfer_syntax_uid.clone(),
        ),
        Representation::Stored(_) if is_native_syntax(&instance.transfer_syntax_uid) => {
            ("application/octet-stream", EXPLICIT_LE.to_owned())
        }
        Representation::Stored(_) => (
            "application/octet-stream",
            instance.transfer_syntax_uid.clone(),
        ),
        Representation::Native => ("application/octet-stream", EXPLICIT_LE.to_owned()),
    };
    let boundary = wado::new_boundary();
    let body = multipart(&boundary, part_type, &transfer_syntax, &parts);
    Ok(HttpResponse::Ok()
        .content_type(format!(
            "multipart/related; type=\"{part_type}\"; boundary={boundary}"
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// `1` or `1,3,5`: each a frame number from 1.
fn frame_list(s: &str) -> ApiResult<Vec<u32>> {
    let bad = || ApiError::BadRequest("frame numbers are integers from 1, comma-separated".into());
    let numbers: Vec<u32> = s
        .split(',')
        .map(|p| {
            let p = p.trim();
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(bad)
        })
        .collect::<ApiResult<_>>()?;
    if numbers.len() > MAX_FRAMES_PER_REQUEST {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_FRAMES_PER_REQUEST} frames per request"
        )));
    }
    Ok(numbers)
}

/// How frames are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Representation {
    /// Decoded native pixels, Explicit VR Little Endian.
    Native,
    /// The stored bytes (compressed fragments of an encapsulated instance).
    Stored(&'static str),
}

impl Representation {
    fn name(self) -> &'static str {
        match self {
            Representation::Native => "native",
            Representation::Stored(_) => "stored",
        }
    }
}

/// One acceptable media range for frames.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FrameRange {
    /// Native pixels (octet-stream, no or the Explicit VR Little Endian transfer syntax).
    Native,
    /// Octet-stream with `transfer-syntax=*`: as stored.
    AsStored,
    /// An image type, optionally with one transfer syntax: as stored when it matches.
    Image(String, Option<String>),
}

/// The ranges of the `Accept` header that frames could satisfy, in order; `Err` is the 406
/// message when none could, whatever is stored.
fn accepted_frames(accept: Option<&str>) -> Result<Vec<FrameRange>, &'static str> {
    let accept = accept.map(str::trim).unwrap_or("");
    if accept.is_empty() {
        return Ok(vec![FrameRange::Native]);
    }
    let mut out = Vec::new();
    for (media, params) in split_unquoted(accept, ',')
        .into_iter()
        .filter_map(media_range)
    {
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.to_owned())
        };
        match media.as_str() {
            "*/*" => out.push(FrameRange::Native),
            "multipart/related" | "multipart/*" => {
                let ts = param("transfer-syntax");
                match param("type").map(|t| t.to_ascii_lowercase()).as_deref() {
                    // `type="*/*"` (dicomweb-client's default for frames) or
                    // `application/*`: any part type will do, native pixels first.
                    None | Some("application/octet-stream" | "*/*" | "application/*") => {
                        match ts.as_deref() {
                            None | Some(EXPLICIT_LE) => out.push(FrameRange::Native),
                            Some("*") => out.push(FrameRange::AsStored),
                            Some(_) => {}
                        }
                    }
                    Some(t) if t.starts_with("image/") => {
                        out.push(FrameRange::Image(t.to_owned(), ts.filter(|t| t != "*")));
                    }
                    Some(_) => {}
                }
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(
            "frames are offered as multipart/related; type=\"application/octet-stream\" (native \
             pixels) or the stored image type",
        );
    }
    Ok(out)
}

/// The first range that the stored transfer syntax can satisfy.
fn choose(ranges: &[FrameRange], stored: &str) -> Option<Representation> {
    ranges.iter().find_map(|r| match r {
        FrameRange::Native => Some(Representation::Native),
        FrameRange::AsStored => Some(Representation::Stored("*")),
        FrameRange::Image(media, ts) => {
            let m = media_type(stored)?;
            let media_ok = media == m || media == "image/*";
            let ts_ok = ts.as_deref().is_none_or(|t| t == stored);
            (media_ok && ts_ok).then_some(Representation::Stored(m))
        }
    })
}

/// The image media type of a compressed transfer syntax (PS3.18 Table 8.7.3-2).
fn media_type(transfer_syntax: &str) -> Option<&'static str> {
    Some(match transfer_syntax {
        "1.2.840.10008.1.2.4.50"
        | "1.2.840.10008.1.2.4.51"
        | "1.2.840.10008.1.2.4.57"
        | "1.2.840.10008.1.2.4.70" => "image/jpeg",
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => "image/jls",
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => "image/jp2",
        "1.2.840.10008.1.2.4.92" | "1.2.840.10008.1.2.4.93" => "image/jpx",
        "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202" | "1.2.840.10008.1.2.4.203" => {
            "image/jphc"
        }
        "1.2.840.10008.1.2.5" => "image/dicom-rle",
        _ => return None,
    })
}

fn is_native_syntax(ts: &str) -> bool {
    matches!(
        ts,
        "1.2.840.10008.1.2"
            | "1.2.840.10008.1.2.1"
            | "1.2.840.10008.1.2.1.99"
            | "1.2.840.10008.1.2.2"
    )
}

/// The whole multipart body (a frame request is bounded by the instance's own size).
fn multipart(boundary: &str, part_type: &str, transfer_syntax: &str, parts: &[Bytes]) -> Vec<u8> {
    let ts = if valid_uid(transfer_syntax) {
        format!("; transfer-syntax={transfer_syntax}")
    } else {
        String::new()
    };
    let mut body = Vec::with_capacity(parts.iter().map(|p| p.len() + 160).sum::<usize>() + 64);
    for p in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: {part_type}{ts}\r\nContent-Length: {}\r\n\r\n",
                p.len()
            )
            .as_bytes(),
        );
        body.extend_from_slice(p);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

// ---------------------------------------------------------------------------------------
// Rendered images and thumbnails

/// `…/instances/{instance}/rendered` and `…/frames/{n}/rendered`.
async fn rendered(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    render_image(&state, &caller, &req, false).await
}

/// `…/thumbnail` of an instance, a series or a study.
async fn thumbnail(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    render_image(&state, &caller, &req, true).await
}

async fn render_image(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    thumbnail: bool,
) -> ApiResult<HttpResponse> {
    let frame = match req.match_info().get("frames") {
        None => 1,
        Some(s) => match frame_list(s)?.as_slice() {
            [n] => *n,
            _ => {
                return Err(ApiError::BadRequest(
                    "a rendered frame is one frame number".into(),
                ))
            }
        },
    };
    let mut options = render_options(req.query_string())?;
    if thumbnail {
        options.viewport = options.viewport.or(Some((THUMBNAIL_SIZE, THUMBNAIL_SIZE)));
    }
    options.format = match rendered_format(accept_header(req)) {
        Some(f) => f,
        None => {
            return Ok(not_acceptable(
                "rendered images are offered as image/jpeg or image/png",
            ))
        }
    };
    let t = Target::from_path(req);
    let found = wado::resolve(state, caller, &t, RENDERED).await?;
    let instance = representative(&found)?;
    let data = read(state, &instance).await?;
    let opts = options.clone();
    let image = web::block(move || Pixels::parse(data)?.render(frame, &opts))
        .await
        .map_err(|e| ApiError::Internal(format!("rendering task: {e}")))?;
    let image = match image {
        Ok(i) => i,
        Err(e) => return pixel_error(instance.id, e),
    };
    let detail = json!({
        "via": "dicomweb",
        "kind": if thumbnail { "thumbnail" } else { "rendered" },
        "instance": instance.sop_instance_uid,
        "frame": frame,
        "format": options.format.media_type(),
    });
    record(state, caller, RENDERED, &t, &found, detail).await?;
    Ok(HttpResponse::Ok()
        .content_type(image.format.media_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(image.bytes))
}

/// `window`, `viewport` and `quality` (PS3.18 §8.3.5); other parameters are ignored.
fn render_options(query: &str) -> ApiResult<RenderOptions> {
    let mut o = RenderOptions::default();
    let bad = |m: &str| ApiError::BadRequest(m.to_owned());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = v.replace("%2C", ",").replace("%2c", ",");
        let nums = |v: &str| -> Option<Vec<f64>> {
            v.split(',')
                .map(|x| x.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect()
        };
        match k {
            "window" => {
                let mut it = v.splitn(3, ',');
                let (c, w) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
                let cw = nums(&format!("{c},{w}"))
                    .filter(|n| n.len() == 2 && n[1] > 0.0)
                    .ok_or_else(|| bad("window is center,width[,function] with width > 0"))?;
                o.window = Some((cw[0], cw[1]));
                if let Some(f) = it.next() {
                    o.function = Some(VoiFunction::parse(f).ok_or_else(|| {
                        bad("window function is linear, linear-exact or sigmoid")
                    })?);
                }
            }
            "viewport" => {
                let n = nums(&v)
                    .filter(|n| n.len() == 2)
                    .ok_or_else(|| bad("viewport is width,height"))?;
                let side = |x: f64| {
                    (x >= 1.0
                        && x <= f64::from(radvision::pixels::render::MAX_VIEWPORT)
                        && x.fract() == 0.0)
                        .then_some(x as u32)
                };
                let (Some(w), Some(h)) = (side(n[0]), side(n[1])) else {
                    return Err(bad("viewport sides are integers from 1 to 4096"));
                };
                o.viewport = Some((w, h));
            }
            "quality" => {
                o.quality = v
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|q| (1..=100).contains(q))
                    .ok_or_else(|| bad("quality is an integer from 1 to 100"))?;
            }
            _ => {}
        }
    }
    Ok(o)
}

/// JPEG unless the `Accept` header prefers PNG; `None` when it allows neither.
fn rendered_format(accept: Option<&str>) -> Option<Format> {
    let accept = accept.map(str::trim).unwrap_or("");
    if accept.is_empty() {
        return Some(Format::Jpeg);
    }
    split_unquoted(accept, ',')
        .into_iter()
        .filter_map(media_range)
        .find_map(|(m, _)| match m.as_str() {
            "image/jpeg" | "image/*" | "*/*" => Some(Format::Jpeg),
            "image/png" => Some(Format::Png),
            _ => None,
        })
}

// ---------------------------------------------------------------------------------------
// Shared

/// The one instance of an instance-level target.
fn only_instance(f: &Found) -> ApiResult<Instance> {
    match f.parts.as_slice() {
        [one] => Ok(one.instance.clone()),
        _ => Err(ApiError::NotFound),
    }
}

/// The instance that stands for the target: itself, the middle instance of a series (by
/// Instance Number), or that of the study's first series.
fn representative(f: &Found) -> ApiResult<Instance> {
    let first_series = f.parts.first().ok_or(ApiError::NotFound)?.series.id;
    let series: Vec<&Instance> = f
        .parts
        .iter()
        .filter(|p| p.series.id == first_series)
        .map(|p| &p.instance)
        .collect();
    series
        .get(series.len() / 2)
        .map(|i| (*i).clone())
        .ok_or(ApiError::NotFound)
}

async fn read(state: &AppState, instance: &Instance) -> ApiResult<Bytes> {
    let store = state.ingestor.store().clone();
    read_instance(&store, instance)
        .await
        .map_err(wado::ReadError::into_api)
}

/// A frame that could not be produced: 404 when it does not exist, 406 when it cannot be
/// decoded here, 500 (logged) when the stored file is broken.
fn pixel_error(instance_id: i64, e: PixelError) -> ApiResult<HttpResponse> {
    match e {
        PixelError::NoSuchFrame { .. } | PixelError::NoPixelData => Err(ApiError::NotFound),
        PixelError::UnsupportedTransferSyntax(_)
        | PixelError::Unsupported(_)
        | PixelError::TooLarge(_) => Ok(not_acceptable(&format!(
            "{e}; ask for the stored bytes (transfer-syntax=*) or the instance"
        ))),
        e => {
            tracing::error!(instance = instance_id, error = %e, "dicomweb: pixel data unreadable");
            Err(ApiError::Internal(format!("instance {instance_id}: {e}")))
        }
    }
}

/// The success event: study and patient references, never a name.
async fn record(
    state: &AppState,
    caller: &ApiCaller,
    action: &'static str,
    t: &Target,
    f: &Found,
    detail: Value,
) -> ApiResult<()> {
    let (kind, uid) = t.object();
    let mut ev = Event::new(action, Outcome::Success)
        .object(kind, uid)
        .detail(detail);
    ev.study_ref = Some(f.study.study_uid.clone());
    ev.patient_ref = Some(format!("patient:{}", f.study.patient_id));
    let ctx = caller.audit_ctx();
    state.db(move |c| audit::record_now(c, &ctx, ev)).await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const J2K: &str = "1.2.840.10008.1.2.4.90";

    #[test]
    fn frame_lists() {
        assert_eq!(frame_list("1").unwrap(), vec![1]);
        assert_eq!(frame_list("1,3, 5").unwrap(), vec![1, 3, 5]);
        for bad in [
            "",
            "0",
            "1,0",
            "-1",
            "1,,2",
            "a",
            "1.5",
            "+1",
            "99999999999",
        ] {
            assert!(frame_list(bad).is_err(), "{bad}");
        }
        let many = vec!["1"; MAX_FRAMES_PER_REQUEST + 1].join(",");
        assert!(frame_list(&many).is_err());
    }

    #[test]
    fn frame_accept_headers() {
        let native = Some(Representation::Native);
        let pick = |a: Option<&str>, ts: &str| choose(&accepted_frames(a).unwrap(), ts);
        assert_eq!(pick(None, J2K), native);
        assert_eq!(pick(Some("*/*"), J2K), native);
        // dicomweb-client's default for frames.
        assert_eq!(pick(Some("multipart/related; type=\"*/*\""), J2K), native);
        assert_eq!(
            pick(
                Some("multipart/related; type=\"application/octet-stream\"; transfer-syntax=1.2.840.10008.1.2.1"),
                J2K
            ),
            native
        );
        assert_eq!(
            pick(
                Some("multipart/related; type=application/octet-stream; transfer-syntax=*"),
                J2K
            ),
            Some(Representation::Stored("*"))
        );
        assert_eq!(
            pick(Some("multipart/related; type=\"image/jp2\""), J2K),
            Some(Representation::Stored("image/jp2"))
        );
        assert_eq!(
            pick(
                Some(
                    "multipart/related; type=\"image/jp2\"; transfer-syntax=1.2.840.10008.1.2.4.90"
                ),
                J2K
            ),
            Some(Representation::Stored("image/jp2"))
        );
        // An image type that is not what is stored, then a fallback.
        assert_eq!(
            pick(Some("multipart/related; type=\"image/jpeg\""), J2K),
            None
        );
        assert_eq!(
            pick(
                Some("multipart/related; type=\"image/jpeg\", multipart/related; type=\"application/octet-stream\""),
                J2K
            ),
            native
        );
        assert_eq!(
            pick(Some("multipart/related; type=\"image/jp2\""), EXPLICIT_LE),
            None
        );
        for refused in [
            "application/dicom",
            "multipart/related; type=\"application/dicom\"",
            "multipart/related; type=\"application/octet-stream\"; transfer-syntax=1.2.840.10008.1.2.4.50",
            "multipart/related; type=\"application/octet-stream\"; q=0",
        ] {
            assert!(accepted_frames(Some(refused)).is_err(), "{refused}");
        }
    }

    #[test]
    fn rendered_parameters() {
        let o = render_options("window=40,400&viewport=256,128&quality=75&annotation=x").unwrap();
        assert_eq!(o.window, Some((40.0, 400.0)));
        assert_eq!(o.viewport, Some((256, 128)));
        assert_eq!(o.quality, 75);
        let o = render_options("window=-600%2C1500%2Csigmoid").unwrap();
        assert_eq!(o.window, Some((-600.0, 1500.0)));
        assert_eq!(o.function, Some(VoiFunction::Sigmoid));
        for bad in [
            "window=40",
            "window=40,0",
            "window=40,400,cubic",
            "window=a,b",
            "viewport=0,10",
            "viewport=10",
            "viewport=5000,10",
            "viewport=1.5,2",
            "quality=0",
            "quality=101",
            "quality=x",
        ] {
            assert!(render_options(bad).is_err(), "{bad}");
        }
        assert_eq!(rendered_format(None), Some(Format::Jpeg));
        assert_eq!(rendered_format(Some("image/png")), Some(Format::Png));
        assert_eq!(
            rendered_format(Some("image/gif, image/png")),
            Some(Format::Png)
        );
        assert_eq!(rendered_format(Some("image/*")), Some(Format::Jpeg));
        assert_eq!(rendered_format(Some("image/gif")), None);
        assert_eq!(rendered_format(Some("image/png; q=0")), None);
    }

    #[test]
    fn multipart_framing() {
        let body = multipart(
            "b",
            "application/octet-stream",
            EXPLICIT_LE,
            &[Bytes::from_static(b"ab"), Bytes::from_static(b"")],
        );
        assert_eq!(
            body,
            b"--b\r\nContent-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1\r\nContent-Length: 2\r\n\r\nab\r\n\
              --b\r\nContent-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1\r\nContent-Length: 0\r\n\r\n\r\n--b--\r\n"
        );
        assert_eq!(media_type(J2K), Some("image/jp2"));
        assert_eq!(media_type(EXPLICIT_LE), None);
    }
}
