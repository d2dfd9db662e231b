//! WADO-RS (DICOMweb Retrieve, PS3.18 §10.4) for stored instances.
//!
//! - Instances: `GET /dicom-web/studies/{study}`, `…/series/{series}` and
//!   `…/series/{series}/instances/{instance}` answer `multipart/related;
//!   type="application/dicom"` with each instance's Part 10 file exactly as it was received.
//!   The body is streamed: instances are read from the blob store (SHA-256 checked) a few
//!   ahead of the client (at most 8 MB). The first is read before answering, so a single unreadable instance is a JSON 500
//!   (or 503); a later one that fails its hash check ends the stream with an error (the client
//!   sees a truncated body, never wrong bytes) and is logged.
//! - Transfer syntax: there is no transcoding. Each part's `Content-Type` names the stored
//!   transfer syntax. An `Accept` without a `transfer-syntax` parameter, or with
//!   `transfer-syntax=*`, gets the stored bytes (PS3.18 would default to Explicit VR Little
//!   Endian; we answer as stored rather than refuse, and say so in the part header); an
//!   explicit transfer syntax that is not the stored one of every instance asked for is a
//!   406 naming the stored ones. Other media types (rendered, bulk data, single-part
//!   `application/dicom`) are a 406 too.
//! - Metadata (`…/metadata`) is answered by [`super::metadata`] from the index; frames,
//!   rendered images and thumbnails by `super::frames`.
//!
//! Authorisation is the module's (`super`): the caller's [`Scope`], then the study from
//! [`visible_study`]; a series or instance UID that is not in that study is a 404 like a
//! study the caller may not see, and every such denial is audited with the UID asked. A
//! successful retrieval writes one `dicomweb.retrieve` event (level,
//! count, study and patient references; never a name). Every answer is `no-store`.

use std::collections::VecDeque;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream::{self, Stream, StreamExt};
use radvision::store::{BlobKey, SharedStore, StoreError};
use serde_json::json;
use shared::audit::{self, Event, Outcome};
use shared::index::{Instance, Patient, Study};
use shared::index_retrieve::{self, SeriesInstance};

use super::{valid_uid, visible_study, Scope};
use crate::api::auth::ApiCaller;
use crate::api::error::{ApiError, ApiResult};
use crate::state::AppState;

const RETRIEVE: &str = "dicomweb.retrieve";

/// Registers the WADO-RS resources (the study retrieval itself is registered with STOW-RS
/// on `/dicom-web/studies/{study}` by the parent module).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/dicom-web/studies/{study}/metadata")
            .route(web::get().to(super::metadata::metadata))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/dicom-web/studies/{study}/series/{series}")
            .route(web::get().to(series))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/dicom-web/studies/{study}/series/{series}/metadata")
            .route(web::get().to(super::metadata::metadata))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/dicom-web/studies/{study}/series/{series}/instances/{instance}")
            .route(web::get().to(instance))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/dicom-web/studies/{study}/series/{series}/instances/{instance}/metadata")
            .route(web::get().to(super::metadata::metadata))
            .default_service(web::to(method_not_allowed)),
    );
}

/// `GET /dicom-web/studies/{study}`: every instance of the study.
pub async fn study(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    retrieve(&state, &caller, &req, Target::from_path(&req)).await
}

/// `GET /dicom-web/studies/{study}/series/{series}`: every instance of the series.
pub async fn series(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    retrieve(&state, &caller, &req, Target::from_path(&req)).await
}

/// `GET /dicom-web/studies/{study}/series/{series}/instances/{instance}`.
pub async fn instance(
    state: web::Data<AppState>,
    caller: ApiCaller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    retrieve(&state, &caller, &req, Target::from_path(&req)).await
}

/// Any other method on a WADO-RS resource.
pub async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": "method_not_allowed", "message": "only GET (WADO-RS) is supported here" }))
}

/// What was asked for: a study, one of its series, or one instance of that series.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) study: String,
    pub(super) series: Option<String>,
    pub(super) instance: Option<String>,
}

impl Target {
    pub(super) fn from_path(req: &HttpRequest) -> Target {
        let m = req.match_info();
        Target {
            study: m.get("study").unwrap_or("").to_owned(),
            series: m.get("series").map(str::to_owned),
            instance: m.get("instance").map(str::to_owned),
        }
    }

    pub(super) fn level(&self) -> &'static str {
        match (&self.series, &self.instance) {
            (_, Some(_)) => "instance",
            (Some(_), None) => "series",
            (None, None) => "study",
        }
    }

    /// The most specific object asked for (the audit event's object).
    pub(super) fn object(&self) -> (&'static str, String) {
        let uid = self
            .instance
            .as_ref()
            .or(self.series.as_ref())
            .unwrap_or(&self.study);
        (self.level(), uid.clone())
    }

    /// `Err` names the first UID that is not a UID (digits and dots, at most 64).
    fn check_uids(&self) -> Result<(), &'static str> {
        let all = [
            ("study", Some(&self.study)),
            ("series", self.series.as_ref()),
            ("instance", self.instance.as_ref()),
        ];
        for (kind, uid) in all {
            if let Some(uid) = uid {
                if !valid_uid(uid) {
                    return Err(kind);
                }
            }
        }
        Ok(())
    }
}

/// The study the caller may see, its patient and the instances asked for.
pub(super) struct Found {
    pub(super) study: Study,
    pub(super) patient: Patient,
    pub(super) parts: Vec<SeriesInstance>,
}

enum Lookup {
    Found(Box<Found>),
    /// Not there, or not the caller's to see: the kind and UID for the denial event.
    Hidden(&'static str, String),
}

/// `NotFound` as `None`, other errors kept.
fn found<T>(r: shared::Result<T>) -> shared::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(shared::Error::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

fn lookup(c: &mut shared::db::DbConnection, scope: &Scope, t: &Target) -> shared::Result<Lookup> {
    let Some((study, _)) = found(visible_study(c, scope, &t.study))? else {
        return Ok(Lookup::Hidden("study", t.study.clone()));
    };
    let series = match &t.series {
        None => None,
        Some(uid) => match found(index_retrieve::series_by_uid(c, study.id, uid))? {
            Some(s) => Some(s),
            None => return Ok(Lookup::Hidden("series", uid.clone())),
        },
    };
    let parts = match (&series, &t.instance) {
        (Some(s), Some(uid)) => {
            match found(index_retrieve::instance_by_uid(c, study.id, s.id, uid))? {
                Some(p) => vec![p],
                None => return Ok(Lookup::Hidden("instance", uid.clone())),
            }
        }
        (s, _) => index_retrieve::instances(c, study.id, s.as_ref().map(|s| s.id))?,
    };
    let patient = index_retrieve::patient_of_study(c, &study)?;
    Ok(Lookup::Found(Box::new(Found {
        study,
        patient,
        parts,
    })))
}

/// Authorises the caller for `t` and loads it; a denial is audited as `action` and is a 404.
pub(super) async fn resolve(
    state: &AppState,
    caller: &ApiCaller,
    t: &Target,
    action: &'static str,
) -> ApiResult<Found> {
    t.check_uids()
        .map_err(|kind| ApiError::BadRequest(format!("invalid {kind} UID")))?;
    let Ok(scope) = Scope::of_caller(caller) else {
        caller.deny(state, action, Some(t.object())).await?;
        return Err(ApiError::NotFound);
    };
    let target = t.clone();
    match state.db(move |c| lookup(c, &scope, &target)).await? {
        Lookup::Found(f) if !f.parts.is_empty() => Ok(*f),
        // A study or series row without instances (cannot happen through ingest).
        Lookup::Found(_) => Err(ApiError::NotFound),
        Lookup::Hidden(kind, uid) => {
            caller.deny(state, action, Some((kind, uid))).await?;
            Err(ApiError::NotFound)
        }
    }
}

/// The one success event of a retrieval: level, count and references, never a name.
pub(super) async fn audit_success(
    state: &AppState,
    caller: &ApiCaller,
    action: &'static str,
    t: &Target,
    f: &Found,
) -> ApiResult<()> {
    let (kind, uid) = t.object();
    let mut ev = Event::new(action, Outcome::Success)
        .object(kind, uid)
        .detail(json!({ "via": "dicomweb", "level": t.level(), "count": f.parts.len() }));
    ev.study_ref = Some(f.study.study_uid.clone());
    ev.patient_ref = Some(format!("patient:{}", f.study.patient_id));
    let ctx = caller.audit_ctx();
    state.db(move |c| audit::record_now(c, &ctx, ev)).await?;
    Ok(())
}

pub(super) fn not_acceptable(message: &str) -> HttpResponse {
    HttpResponse::NotAcceptable()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": "not_acceptable", "message": message }))
}

pub(super) fn accept_header(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
}

// ---------------------------------------------------------------------------------------
// Instances

async fn retrieve(
    state: &AppState,
    caller: &ApiCaller,
    req: &HttpRequest,
    t: Target,
) -> ApiResult<HttpResponse> {
    let wanted = match accepted_syntaxes(accept_header(req)) {
        Ok(w) => w,
        Err(m) => return Ok(not_acceptable(m)),
    };
    let found = resolve(state, caller, &t, RETRIEVE).await?;
    if let Some(m) = wanted.refusal(found.parts.iter().map(|p| &p.instance)) {
        return Ok(not_acceptable(&m));
    }
    let mut rest: VecDeque<Instance> = found.parts.iter().map(|p| p.instance.clone()).collect();
    let Some(first) = rest.pop_front() else {
        return Err(ApiError::NotFound);
    };
    let store = state.ingestor.store().clone();
    let data = read_instance(&store, &first)
        .await
        .map_err(ReadError::into_api)?;
    audit_success(state, caller, RETRIEVE, &t, &found).await?;
    let boundary = new_boundary();
    let body = multipart_stream(store, boundary.clone(), Some((first, data)), rest);
    Ok(HttpResponse::Ok()
        .content_type(format!(
            "multipart/related; type=\"application/dicom\"; boundary={boundary}"
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}

/// The transfer syntaxes the `Accept` header allows.
#[derive(Debug, PartialEq, Eq)]
enum Syntaxes {
    /// Whatever is stored (no `transfer-syntax`, or `*`).
    Any,
    Only(Vec<String>),
}

impl Syntaxes {
    /// Why these instances cannot be sent as asked, or `None` when they can.
    fn refusal<'a>(&self, instances: impl Iterator<Item = &'a Instance>) -> Option<String> {
        let Syntaxes::Only(allowed) = self else {
            return None;
        };
        let mut stored: Vec<&str> = instances
            .map(|i| i.transfer_syntax_uid.as_str())
            .filter(|ts| !allowed.iter().any(|a| a == ts))
            .collect();
        if stored.is_empty() {
            return None;
        }
        stored.sort_unstable();
        stored.dedup();
        Some(format!(
            "instances are sent as stored, without transcoding; the requested transfer syntax is \
             not available (stored: {}); ask for transfer-syntax=* or a stored one",
            stored.join(", ")
        ))
    }
}

/// Splits on `sep` outside double quotes.
pub(super) fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

/// One media range of an `Accept` header: the lower-case media type and its parameters
/// (lower-case names, unquoted values). `None` when its `q` is 0.
pub(super) fn media_range(r: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut parts = split_unquoted(r, ';').into_iter();
    let media = parts.next()?.trim().to_ascii_lowercase();
    if media.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim().trim_matches('"').to_owned();
        if k == "q" && v.parse::<f32>().is_ok_and(|q| q <= 0.0) {
            return None;
        }
        params.push((k, v));
    }
    Some((media, params))
}

/// What a retrieval's `Accept` header allows; `Err` is the 406 message.
fn accepted_syntaxes(accept: Option<&str>) -> Result<Syntaxes, &'static str> {
    let accept = accept.map(str::trim).unwrap_or("");
    if accept.is_empty() {
        return Ok(Syntaxes::Any);
    }
    let mut only: Vec<String> = Vec::new();
    let mut acceptable = false;
    for (media, params) in split_unquoted(accept, ',')
        .into_iter()
        .filter_map(media_range)
    {
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let dicom = match media.as_str() {
            "*/*" => true,
            "multipart/related" | "multipart/*" => {
                param("type").is_none_or(|t| t.eq_ignore_ascii_case("application/dicom"))
            }
            _ => false,
        };
        if !dicom {
            continue;
        }
        acceptable = true;
        match param("transfer-syntax") {
            None | Some("*") => return Ok(Syntaxes::Any),
            Some(ts) => only.push(ts.to_owned()),
        }
    }
    if !acceptable {
        return Err("instances are offered as multipart/related; type=\"application/dicom\" only");
    }
    Ok(Syntaxes::Only(only))
}

#[derive(Debug, thiserror::Error)]
pub(super) enum ReadError {
    #[error("instance {0}: the storage key does not match the index")]
    BadKey(i64),
    #[error("instance {id}: {source}")]
    Store { id: i64, source: StoreError },
    #[error("instance {0}: the blob's size does not match the index")]
    Size(i64),
}

impl ReadError {
    pub(super) fn into_api(self) -> ApiError {
        match self {
            ReadError::Store {
                source: StoreError::Unavailable(_),
                ..
            } => ApiError::Unavailable(self.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Reads an instance's Part 10 bytes through the store (which checks the SHA-256).
pub(super) async fn read_instance(store: &SharedStore, i: &Instance) -> Result<Bytes, ReadError> {
    let key = BlobKey::parse(&i.storage_key)
        .filter(|k| k.sha256() == i.sha256)
        .ok_or(ReadError::BadKey(i.id))?;
    let data = store
        .get(&key)
        .await
        .map_err(|source| ReadError::Store { id: i.id, source })?;
    if u64::try_from(i.size_bytes).ok() != Some(data.len() as u64) {
        return Err(ReadError::Size(i.id));
    }
    Ok(data)
}

/// A boundary that will not occur in the parts: 128 random bits (std's per-process random
/// hasher keys, distinct per call).
pub(super) fn new_boundary() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut out = String::from("enkaku-wado-");
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// The delimiter and headers that open one part.
fn part_head(boundary: &str, transfer_syntax: &str, len: usize) -> Bytes {
    let ts = if valid_uid(transfer_syntax) {
        format!("; transfer-syntax={transfer_syntax}")
    } else {
        String::new()
    };
    Bytes::from(format!(
        "--{boundary}\r\nContent-Type: application/dicom{ts}\r\nContent-Length: {len}\r\n\r\n"
    ))
}

/// The close delimiter.
fn closing(boundary: &str) -> Bytes {
    Bytes::from(format!("--{boundary}--\r\n"))
}

/// How many bytes of instances the body reads ahead of what the client has taken: reading
/// and hash-checking the next instances overlaps with sending this one (at most
/// [`MAX_READ_AHEAD`] instances, at least one).
const READ_AHEAD_BYTES: i64 = 8 << 20;
const MAX_READ_AHEAD: usize = 4;

/// The multipart body: `first` (already read), then each of `rest`, read a few instances
/// ahead of the client (bounded by [`READ_AHEAD_BYTES`]), then the close delimiter. An
/// instance that cannot be read ends the stream with an error instead.
fn multipart_stream(
    store: SharedStore,
    boundary: String,
    first: Option<(Instance, Bytes)>,
    rest: VecDeque<Instance>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + 'static {
    let largest = rest.iter().map(|i| i.size_bytes).max().unwrap_or(0).max(1);
    let ahead = usize::try_from(READ_AHEAD_BYTES / largest)
        .unwrap_or(1)
        .clamp(1, MAX_READ_AHEAD);
    let reads = stream::iter(rest)
        .map(move |i| {
            let store = store.clone();
            async move {
                let data = read_instance(&store, &i).await;
                data.map(|d| (i, d))
            }
        })
        .buffered(ahead);
    let parts = Box::pin(stream::iter(first.map(Ok)).chain(reads));
    stream::unfold(
        (parts, boundary, false),
        |(mut parts, boundary, done)| async move {
            if done {
                return None;
            }
            let chunks = match parts.next().await {
                Some(Ok((instance, data))) => vec![
                    Ok(part_head(
                        &boundary,
                        &instance.transfer_syntax_uid,
                        data.len(),
                    )),
                    Ok(data),
                    Ok(Bytes::from_static(b"\r\n")),
                ],
                Some(Err(e)) => {
                    tracing::error!(error = %e, "wado-rs: instance unreadable, response cut short");
                    return Some((
                        vec![Err(std::io::Error::other(e.to_string()))],
                        (parts, boundary, true),
                    ));
                }
                None => {
                    let close = closing(&boundary);
                    return Some((vec![Ok(close)], (parts, boundary, true)));
                }
            };
            Some((chunks, (parts, boundary, false)))
        },
    )
    .flat_map(stream::iter)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(super) mod tests {
    use super::*;
    use std::sync::Arc;

    use radvision::store::FsStore;

    pub(in crate::web::dicomweb) fn instance(
        id: i64,
        sha256: &str,
        size: usize,
        ts: &str,
    ) -> Instance {
        let now = chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        Instance {
            id,
            facility_id: 1,
            study_id: 1,
            series_id: 1,
            sop_instance_uid: format!("1.2.3.{id}"),
            sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
            transfer_syntax_uid: ts.into(),
            instance_number: Some(id as i32),
            rows_count: Some(8),
            columns_count: Some(8),
            frames: None,
            size_bytes: size as i64,
            sha256: sha256.into(),
            storage_key: format!("sha256/{sha256}"),
            received_via: "stow-rs".into(),
            received_at: now,
            imaging: "{}".into(),
        }
    }

    async fn collect(
        s: impl Stream<Item = Result<Bytes, std::io::Error>>,
    ) -> (Vec<u8>, Option<std::io::Error>) {
        let mut body = Vec::new();
        let mut s = Box::pin(s);
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => body.extend_from_slice(&b),
                Err(e) => return (body, Some(e)),
            }
        }
        (body, None)
    }

    /// Splits a multipart body with multer (an independent parser).
    async fn parse(body: Vec<u8>, boundary: &str) -> Vec<(String, Vec<u8>)> {
        let s = stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(body))]);
        let mut m = multer::Multipart::new(s, boundary);
        let mut out = Vec::new();
        while let Some(f) = m.next_field().await.unwrap() {
            let ct = f.headers()["content-type"].to_str().unwrap().to_owned();
            out.push((ct, f.bytes().await.unwrap().to_vec()));
        }
        out
    }

    #[test]
    fn part_framing() {
        assert_eq!(
            part_head("b0", "1.2.840.10008.1.2.1", 12).as_ref(),
            b"--b0\r\nContent-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1\r\nContent-Length: 12\r\n\r\n"
        );
        assert_eq!(
            part_head("b0", "bad\r\nX: y", 1).as_ref(),
            b"--b0\r\nContent-Type: application/dicom\r\nContent-Length: 1\r\n\r\n"
        );
        assert_eq!(closing("b0").as_ref(), b"--b0--\r\n");
        let (a, b) = (new_boundary(), new_boundary());
        assert_ne!(a, b);
        assert!(a.len() > 40 && a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    }

    #[tokio::test]
    async fn streams_each_part_as_stored_and_stops_at_a_corrupt_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(FsStore::new(dir.path()).unwrap());
        let contents: Vec<Vec<u8>> = vec![
            b"first \r\n--not-a-boundary\r\n\r\n".to_vec(),
            vec![0u8; 70_000],
            b"third".to_vec(),
        ];
        let mut rows = Vec::new();
        for (n, c) in contents.iter().enumerate() {
            let b = store.put(Bytes::from(c.clone())).await.unwrap();
            rows.push(instance(
                n as i64 + 1,
                &b.sha256,
                c.len(),
                "1.2.840.10008.1.2.1",
            ));
        }
        let boundary = new_boundary();
        let first = read_instance(&store, &rows[0]).await.unwrap();
        let s = multipart_stream(
            store.clone(),
            boundary.clone(),
            Some((rows[0].clone(), first)),
            rows[1..].iter().cloned().collect(),
        );
        let (body, err) = collect(s).await;
        assert!(err.is_none());
        assert!(body.ends_with(format!("\r\n--{boundary}--\r\n").as_bytes()));
        let parts = parse(body, &boundary).await;
        assert_eq!(parts.len(), 3);
        for ((ct, data), want) in parts.iter().zip(&contents) {
            assert_eq!(ct, "application/dicom; transfer-syntax=1.2.840.10008.1.2.1");
            assert_eq!(data, want);
        }

        // Corrupt the second blob on disk: the first part goes out, then the stream fails;
        // the corrupt bytes never do.
        let hex = &rows[1].sha256;
        let path = walk(dir.path())
            .into_iter()
            .find(|p| p.file_name().is_some_and(|n| n == hex.as_str()))
            .unwrap();
        std::fs::write(&path, vec![1u8; 70_000]).unwrap();
        let first = read_instance(&store, &rows[0]).await.unwrap();
        let s = multipart_stream(
            store.clone(),
            boundary.clone(),
            Some((rows[0].clone(), first)),
            rows[1..].iter().cloned().collect(),
        );
        let (body, err) = collect(s).await;
        assert!(err.is_some());
        assert!(body.ends_with(b"first \r\n--not-a-boundary\r\n\r\n\r\n"));
        assert!(!body.contains(&1u8));
        assert!(matches!(
            read_instance(&store, &rows[1]).await,
            Err(ReadError::Store {
                source: StoreError::Corrupt(_),
                ..
            })
        ));
        // An index row whose key and hash disagree is refused before the store is asked.
        let mut wrong = rows[2].clone();
        wrong.sha256 = rows[0].sha256.clone();
        assert!(matches!(
            read_instance(&store, &wrong).await,
            Err(ReadError::BadKey(3))
        ));
        let mut short = rows[2].clone();
        short.size_bytes = 4;
        assert!(matches!(
            read_instance(&store, &short).await,
            Err(ReadError::Size(3))
        ));
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn accept_headers() {
        let any = Ok(Syntaxes::Any);
        assert_eq!(accepted_syntaxes(None), any);
        assert_eq!(accepted_syntaxes(Some("")), any);
        assert_eq!(accepted_syntaxes(Some("*/*")), any);
        assert_eq!(
            accepted_syntaxes(Some("multipart/related; type=\"application/dicom\"")),
            any
        );
        assert_eq!(
            accepted_syntaxes(Some(
                "multipart/related; type=\"application/dicom\"; transfer-syntax=*"
            )),
            any
        );
        assert_eq!(
            accepted_syntaxes(Some(
                "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.50, \
                 multipart/related; type=application/dicom; transfer-syntax=\"1.2.840.10008.1.2.1\""
            )),
            Ok(Syntaxes::Only(vec![
                "1.2.840.10008.1.2.4.50".into(),
                "1.2.840.10008.1.2.1".into()
            ]))
        );
        for refused in [
            "application/dicom",
            "multipart/related; type=\"image/jpeg\"",
            "application/dicom+json",
            "multipart/related; type=\"application/dicom\"; q=0",
        ] {
            assert!(accepted_syntaxes(Some(refused)).is_err(), "{refused}");
        }
        let only = Syntaxes::Only(vec!["1.2.840.10008.1.2.4.50".into()]);
        let stored = [instance(1, "", 1, "1.2.840.10008.1.2.1")];
        let m = only.refusal(stored.iter()).unwrap();
        assert!(m.contains("stored: 1.2.840.10008.1.2.1"), "{m}");
        assert!(Syntaxes::Any.refusal(stored.iter()).is_none());
        let same = Syntaxes::Only(vec!["1.2.840.10008.1.2.1".into()]);
        assert!(same.refusal(stored.iter()).is_none());
    }
}
