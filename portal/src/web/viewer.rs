//! The web viewer: `GET /studies/{id}/view` renders the page (the study, the patient overlay,
//! the studies it may be compared with) and the browser does the rest with the ES modules in
//! `templates/static/viewer/` over DICOMweb (`/dicom-web`, the same session). Key images:
//! `GET|POST|DELETE /studies/{id}/key-images` (JSON; POST and DELETE carry the session's
//! CSRF token in `X-CSRF-Token` and pass the Origin check).
//!
//! Who may open a study is `shared::access::study` with the role on top, as for DICOMweb
//! (`dicomweb::Scope`): requesters of the owning clinic, radiologists and coordinators of the
//! supporting facility a live or reported request names (and the priors it listed).
//! Facility administrators, the association and the prefecture see no images. Anything else
//! is a 404 and an audit event. Every answer is `Cache-Control: no-store`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use serde::Deserialize;
use shared::access::{self, StudyAccess};
use shared::audit::{self, Event, Outcome};
use shared::index::{self, Study};
use shared::reading::key_images::{self, Marker};
use shared::reading::requests as store;

use crate::state::AppState;
use crate::web::authz;
use crate::web::dicomweb::{valid_uid, Scope};
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, Page};
use crate::web::request_form::PatientBox;
use crate::web::session::SignedIn;
use crate::web::upload::csrf_header_ok;

const OPEN: &str = "viewer.open";
const KEY_LIST: &str = "key_image.list";
const KEY_MARK: &str = "key_image.mark";
const KEY_UNMARK: &str = "key_image.unmark";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/studies/{id}/view", web::get().to(show))
        .route("/studies/{id}/key-images", web::get().to(list_keys))
        .route("/studies/{id}/key-images", web::post().to(mark))
        .route("/studies/{id}/key-images", web::delete().to(unmark))
        .route("/static/viewer/{name}", web::get().to(static_file));
}

/// Whether the caller's roles accept this kind of access (owner: requesters; reader or
/// prior: radiologists and coordinators of a supporting facility).
fn role_allows(scope: &Scope, a: StudyAccess) -> bool {
    match a {
        StudyAccess::Owner => scope.own,
        StudyAccess::Reader { .. } | StudyAccess::Prior { .. } => scope.requested,
    }
}

fn access_name(a: StudyAccess) -> &'static str {
    match a {
        StudyAccess::Owner => "owner",
        StudyAccess::Reader { .. } => "reader",
        StudyAccess::Prior { .. } => "prior",
    }
}

fn request_of(a: StudyAccess) -> Option<i64> {
    match a {
        StudyAccess::Owner => None,
        StudyAccess::Reader { request_id } | StudyAccess::Prior { request_id } => Some(request_id),
    }
}

/// The study if the caller may see its images, else a 404 with an audit event (`action`).
async fn authorise(
    state: &AppState,
    me: &SignedIn,
    study_id: i64,
    action: &'static str,
) -> Result<(Study, StudyAccess), WebError> {
    let object = ("study", study_id.to_string());
    let Ok(scope) = Scope::of(&me.principal) else {
        authz::deny(state, me, action, Some(object)).await?;
        return Err(WebError::NotFound);
    };
    let r = state
        .db(move |c| {
            let (s, a) = access::study(c, scope.facility_id, study_id)?;
            if role_allows(&scope, a) {
                Ok((s, a))
            } else {
                Err(shared::Error::NotFound)
            }
        })
        .await;
    authz::found(state, me, r, action, object).await
}

/// One pane's facts, prepared for the overlay.
pub struct Pane {
    pub id: i64,
    pub study_uid: String,
    pub facts: PatientBox,
}

/// A study the viewer may open beside this one.
pub struct Comparable {
    pub id: i64,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "viewer/viewer.html")]
struct ViewerPage {
    page: Page,
    main: Pane,
    compare: Option<Pane>,
    comparable: Vec<Comparable>,
    back: String,
    access: &'static str,
}

#[derive(Debug, Default, Deserialize)]
pub struct ViewQuery {
    #[serde(default)]
    compare: Option<String>,
}

fn label(s: &Study) -> String {
    let date = s
        .study_date
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "—".into());
    let mut l = format!("{date} {}", s.modalities);
    if !s.description.is_empty() {
        l.push_str(" — ");
        l.push_str(&s.description);
    }
    l
}

/// `GET /studies/{id}/view[?compare={id}]`: the viewer page.
pub async fn show(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    q: web::Query<ViewQuery>,
) -> WebResult {
    let id = path.into_inner();
    let (study, access) = authorise(&state, &me, id, OPEN).await?;
    let compare_id = q
        .compare
        .as_deref()
        .and_then(|s| s.trim().parse::<i64>().ok());
    let fid = me.principal.facility_id;
    let now = state.clock.now();
    let arriving = state.settings.ingest.arriving_seconds;
    let ctx = me.audit_ctx();
    let (detail, others, compare) = state
        .db(move |c| {
            // The owner's rows: `access::study` has already decided the caller may see them.
            let d = index::get_study(c, study.facility_id, id, now, arriving)?;
            let mut others: Vec<Study> = match access {
                StudyAccess::Owner => index::other_studies_of_patient(c, fid, d.patient.id, id)?,
                StudyAccess::Reader { request_id } | StudyAccess::Prior { request_id } => {
                    // The request's study and the priors it listed, nothing else.
                    let r = store::detail(c, fid, request_id)?;
                    let mut v = r.priors;
                    v.push(r.summary.study);
                    v
                }
            };
            others.retain(|s| s.id != id);
            others.sort_by(|a, b| b.study_date.cmp(&a.study_date).then(b.id.cmp(&a.id)));
            others.dedup_by_key(|s| s.id);
            let compare = match compare_id.filter(|cid| others.iter().any(|s| s.id == *cid)) {
                Some(cid) => Some(index::get_study(
                    c,
                    d.study.facility_id,
                    cid,
                    now,
                    arriving,
                )?),
                None => None,
            };
            let mut ev = Event::new(OPEN, Outcome::Success)
                .object("study", id)
                .detail(serde_json::json!({
                    "access": access_name(access),
                    "request_id": request_of(access),
                    "compare": compare.as_ref().map(|c| c.study.id),
                }));
            ev.study_ref = Some(d.study.study_uid.clone());
            ev.patient_ref = Some(format!("patient:{}", d.patient.id));
            audit::record_now(c, &ctx, ev)?;
            Ok((d, others, compare))
        })
        .await?;
    let page = Page::for_user(&state, &me, "viewer.title");
    let today = radvision::core::calendar::to_jst(now).date();
    let pane = |d: &index::StudyDetail| Pane {
        id: d.study.id,
        study_uid: d.study.study_uid.clone(),
        facts: PatientBox::of(&page, &d.patient, &d.study, d.arriving, today),
    };
    let main = pane(&detail);
    let compare = compare.as_ref().map(pane);
    let selected = compare.as_ref().map(|p| p.id);
    let comparable = others
        .iter()
        .map(|s| Comparable {
            id: s.id,
            label: label(s),
            selected: Some(s.id) == selected,
        })
        .collect();
    let back = match access {
        StudyAccess::Owner => format!("/studies/{id}"),
        StudyAccess::Reader { .. } | StudyAccess::Prior { .. } => "/".to_owned(),
    };
    render(&ViewerPage {
        page,
        main,
        compare,
        comparable,
        back,
        access: access_name(access),
    })
}

fn json(status: actix_web::http::StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// `GET /studies/{id}/key-images`: the caller's facility's key images of the study.
pub async fn list_keys(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
) -> WebResult {
    let id = path.into_inner();
    let (study, _) = authorise(&state, &me, id, KEY_LIST).await?;
    let fid = me.principal.facility_id;
    let ctx = me.audit_ctx();
    let keys = state
        .db(move |c| {
            let keys = key_images::list(c, fid, id)?;
            let mut ev = Event::new(KEY_LIST, Outcome::Success)
                .object("study", id)
                .detail(serde_json::json!({ "count": keys.len() }));
            ev.study_ref = Some(study.study_uid.clone());
            ev.patient_ref = Some(format!("patient:{}", study.patient_id));
            audit::record_now(c, &ctx, ev)?;
            Ok(keys)
        })
        .await?;
    Ok(json(
        actix_web::http::StatusCode::OK,
        serde_json::json!({ "key_images": keys }),
    ))
}

/// The body of a mark or unmark: which frame of which instance.
#[derive(Debug, Deserialize)]
pub struct KeyBody {
    pub sop_instance_uid: String,
    #[serde(default = "first_frame")]
    pub frame: i32,
}

fn first_frame() -> i32 {
    1
}

async fn change(
    state: web::Data<AppState>,
    me: SignedIn,
    req: HttpRequest,
    id: i64,
    body: web::Bytes,
    action: &'static str,
) -> WebResult {
    if !csrf_header_ok(&req, &state, &me) {
        tracing::warn!(path = req.path(), "key image change refused: csrf");
        return Err(WebError::Csrf);
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json || body.len() > 4096 {
        return Err(WebError::BadRequest("json body"));
    }
    let k: KeyBody =
        serde_json::from_slice(&body).map_err(|_| WebError::BadRequest("json body"))?;
    let (_, access) = authorise(&state, &me, id, action).await?;
    if !valid_uid(&k.sop_instance_uid) {
        authz::deny(&state, &me, action, Some(("study", id.to_string()))).await?;
    }
    let m = Marker {
        facility_id: me.principal.facility_id,
        user_id: me.principal.user_id,
        study_id: id,
        request_id: request_of(access),
    };
    let ctx = me.audit_ctx();
    let uid = k.sop_instance_uid.clone();
    let frame = k.frame;
    let r = state
        .db(move |c| {
            if action == KEY_MARK {
                key_images::mark(c, &ctx, &m, &uid, frame).map(|_| true)
            } else {
                key_images::unmark(c, &ctx, &m, &uid, frame)
            }
        })
        .await;
    let changed = authz::found(&state, &me, r, action, ("study", id.to_string())).await?;
    Ok(json(
        actix_web::http::StatusCode::OK,
        serde_json::json!({
            "sop_instance_uid": k.sop_instance_uid,
            "frame": k.frame,
            "marked": action == KEY_MARK,
            "changed": changed,
        }),
    ))
}

/// `POST /studies/{id}/key-images` with `{"sop_instance_uid": …, "frame": n}`.
pub async fn mark(
    state: web::Data<AppState>,
    me: SignedIn,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
) -> WebResult {
    change(state, me, req, path.into_inner(), body, KEY_MARK).await
}

/// `DELETE /studies/{id}/key-images` with the same body.
pub async fn unmark(
    state: web::Data<AppState>,
    me: SignedIn,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
) -> WebResult {
    change(state, me, req, path.into_inner(), body, KEY_UNMARK).await
}

const FILES: &[(&str, &str, &str)] = &[
    (
        "main.js",
        include_str!("../../../templates/static/viewer/main.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "dicomweb.js",
        include_str!("../../../templates/static/viewer/dicomweb.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "stack.js",
        include_str!("../../../templates/static/viewer/stack.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "render.js",
        include_str!("../../../templates/static/viewer/render.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "viewport.js",
        include_str!("../../../templates/static/viewer/viewport.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "keyimages.js",
        include_str!("../../../templates/static/viewer/keyimages.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "viewer.css",
        include_str!("../../../templates/viewer/viewer.css"),
        "text/css; charset=utf-8",
    ),
];

/// `GET /static/viewer/{name}`: the viewer's modules and style, from a fixed list.
pub async fn static_file(path: web::Path<String>) -> HttpResponse {
    match FILES.iter().find(|(n, _, _)| *n == path.as_str()) {
        Some((_, body, ct)) => HttpResponse::Ok()
            .content_type(*ct)
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(*body),
        None => WebError::NotFound.error_response(),
    }
}
