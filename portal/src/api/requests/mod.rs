//! `/api/v1/requests`: read requests (読影依頼) for systems — the options and prices for a
//! study, filing, the list, one request and cancelling. The core functions the screens use
//! (`radvision::core::requests`, `shared::reading::requests`) decide everything; this
//! module parses JSON, checks the caller's role, audits every read right after it and
//! renders. Changes are audited by the core inside their transactions.
//!
//! Who may do what (anything else is a 404 and a `denied` audit event):
//! - requesters (physician, radiographer) of a requesting facility quote, file, list, read
//!   and cancel their facility's requests, for their facility's studies only;
//! - radiologists and coordinators of a supporting facility list and read the requests that
//!   name their facility.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::NaiveDateTime;
use radvision::core::requests::{self as core, Filing, QuoteBasis, RequestForm, StudyContext};
use radvision::core::routing::{self, Candidate};
use serde::Deserialize;
use shared::audit::{self, Event, Outcome};
use shared::auth::{Denied, Principal};
use shared::db::DbConnection;
use shared::domain::{Category, Exam, Modality, RequestStatus, Role, Urgency};
use shared::reading::catalogue::{self, BodyPart};
use shared::reading::requests::{self as store, RequestDetail, Side};
use shared::validation::FieldErrors;

use crate::api::auth::ApiCaller;
use crate::api::error::{parse_json_object, ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::requests::RequestFilter;
use crate::web::studies::requester_check;

mod out;

pub use out::*;
use out::{item_out, no_store, quote_out, request_out, side_str};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/requests/quote", web::post().to(quote))
        .route("/requests", web::get().to(list))
        .route("/requests", web::post().to(create))
        .route("/requests/{id}", web::get().to(get))
        .route("/requests/{id}/cancel", web::post().to(cancel));
}

/// Requests per page by default, and at most.
pub const PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 200;

// ---------------------------------------------------------------------------------------
// Input

/// The body of `POST /api/v1/requests` and `POST /api/v1/requests/quote` (the quote reads
/// only what prices depend on: the study, urgency, category, modality, body parts, priors,
/// and the chosen facility). Unknown fields are refused (400), so a misspelt field never
/// silently changes where a request goes.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// The study to read: one of the caller's facility's studies.
    pub study_id: Option<i64>,
    /// A supporting facility; null or absent for "no preference" (the facility with the
    /// fewest live requests, then the lower price, then the lower id).
    pub supporting_facility_id: Option<i64>,
    /// A radiologist of that facility, where it lets requesters name one.
    pub radiologist_id: Option<i64>,
    /// `emergency` or `routine` (quote: default `routine`).
    pub urgency: Option<String>,
    /// `clinical` or `screening` (quote: default `clinical`).
    pub category: Option<String>,
    /// One of the study's modalities, e.g. `CT` (quote: default the study's first).
    pub modality: Option<String>,
    /// Body-part codes of the catalogue, 1 to 10, e.g. `["CHEST"]` (quote: default one).
    pub body_parts: Option<Vec<String>>,
    /// `diagnosis`, `screening`, `follow_up`, `preoperative`, `postoperative`,
    /// `treatment_response`, `rule_out` or `other`.
    pub purpose: Option<String>,
    /// Free text, up to 500 characters.
    pub purpose_note: Option<String>,
    /// `tumor`, `metastasis`, `inflammation`, `infection`, `pneumonia`, `trauma`, `stroke`,
    /// `hemorrhage`, `cardiovascular`, `abdominal_pain`, `degenerative` or `other`.
    pub clinical_info: Option<String>,
    /// Free text, up to 2,000 characters.
    pub clinical_note: Option<String>,
    /// Earlier studies of the same patient at the caller's facility to compare with (ids).
    pub priors: Option<Vec<i64>>,
    /// A phone number the reader can call back.
    pub contact_phone: Option<String>,
    /// Must be true to file while the study's images are still arriving.
    pub confirm_arriving: Option<bool>,
    /// The total (yen) the caller expects, e.g. the quote's; when given, filing refuses any
    /// other figure (422 `expected_total`). The server's price is the only one used.
    pub expected_total: Option<i64>,
}

impl RequestInput {
    fn study_id(&self) -> ApiResult<i64> {
        self.study_id
            .ok_or_else(|| ApiError::Validation(FieldErrors::single("study_id", "err.required")))
    }

    fn form(&self) -> RequestForm {
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        let id = |i: Option<i64>| i.map(|i| i.to_string()).unwrap_or_default();
        RequestForm {
            supporting_facility_id: id(self.supporting_facility_id),
            radiologist_id: id(self.radiologist_id),
            urgency: text(&self.urgency),
            category: text(&self.category),
            modality: text(&self.modality),
            body_parts: self.body_parts.clone().unwrap_or_default(),
            purpose: text(&self.purpose),
            purpose_note: text(&self.purpose_note),
            clinical_info: text(&self.clinical_info),
            clinical_note: text(&self.clinical_note),
            priors: self
                .priors
                .iter()
                .flatten()
                .map(|p| p.to_string())
                .collect(),
            contact_phone: text(&self.contact_phone),
            confirm_arriving: self.confirm_arriving.unwrap_or(false),
            attachment_id: String::new(),
            expected_total: id(self.expected_total),
            expected_target: String::new(),
        }
    }
}

/// The body of `POST /api/v1/requests/{id}/cancel` (may be empty).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    /// Why, up to 200 characters (shown in the request's history).
    pub reason: Option<String>,
}

/// Query parameters of `GET /api/v1/requests` (text, validated here).
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub date_from: String,
    #[serde(default)]
    pub date_to: String,
    #[serde(default)]
    pub facility: String,
    #[serde(default)]
    pub side: String,
    #[serde(default)]
    pub page: String,
    #[serde(default)]
    pub per_page: String,
}

// ---------------------------------------------------------------------------------------
// Authorisation

/// Radiologists and coordinators of a supporting facility read the requests naming it.
fn reader_check(p: &Principal) -> Result<(), Denied> {
    if p.facility_is_supporting && p.has_any(&[Role::Radiologist, Role::Coordinator]) {
        Ok(())
    } else {
        Err(Denied)
    }
}

/// A supporting facility sees a request's patient and study only while the request is live
/// or reported, not once it is cancelled (security.md, "Access between facilities").
pub(super) fn may_show_patient(side: Side, status: RequestStatus) -> bool {
    side == Side::Requesting || status != RequestStatus::Cancelled
}

/// Whether the caller's role may see a request in `status` from `side`.
fn may_see(p: &Principal, side: Side, status: RequestStatus) -> bool {
    let role = match side {
        Side::Requesting => requester_check(p).is_ok(),
        Side::Supporting => reader_check(p).is_ok(),
    };
    role && may_show_patient(side, status)
}

/// Turns a `NotFound` from the database side (another facility's study or request) into a
/// denial: an audit event and a 404.
async fn found<T>(
    caller: &ApiCaller,
    state: &AppState,
    r: Result<T, WebError>,
    action: &'static str,
    object: (&'static str, String),
) -> ApiResult<T> {
    match r {
        Ok(v) => Ok(v),
        Err(WebError::NotFound) => {
            caller.deny(state, action, Some(object)).await?;
            Err(ApiError::NotFound)
        }
        Err(e) => Err(e.into()),
    }
}

/// A request id from the path; a malformed one is a guess like any other: a denial in the
/// audit trail and a 404.
async fn parse_path_id(
    caller: &ApiCaller,
    state: &AppState,
    raw: &str,
    action: &'static str,
) -> ApiResult<i64> {
    match raw.parse::<i64>() {
        Ok(id) => Ok(id),
        Err(_) => {
            let shown: String = raw.chars().take(64).collect();
            caller
                .deny(state, action, Some(("read_request", shown)))
                .await?;
            Err(ApiError::NotFound)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Quote

/// The quote basis from the input: absent fields take the form's defaults, given ones must
/// be valid (unlike `core::basis_of`, which falls back silently — a system should learn that
/// `urgency: "urgent"` is not a value rather than get a routine price).
fn strict_basis(
    c: &mut DbConnection,
    input: &RequestInput,
    ctx: &StudyContext,
) -> shared::Result<QuoteBasis> {
    let mut e = FieldErrors::new();
    let given = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let urgency = match given(&input.urgency) {
        None => Some(Urgency::Routine),
        Some(s) => e.take("urgency", Urgency::parse(&s)),
    };
    let category = match given(&input.category) {
        None => Some(Category::Clinical),
        Some(s) => e.take("category", Category::parse(&s)),
    };
    let modality = match given(&input.modality) {
        None => ctx.modalities.first().copied(),
        Some(s) => Modality::parse(&s)
            .ok()
            .filter(|m| ctx.modalities.contains(m)),
    };
    if modality.is_none() {
        e.add(
            "modality",
            if ctx.modalities.is_empty() {
                "request.err_no_modality"
            } else {
                "err.invalid_choice"
            },
        );
    }
    let parts = input.body_parts.clone().unwrap_or_default();
    let body_parts = if parts.iter().all(|p| p.trim().is_empty()) {
        1
    } else {
        e.take("body_parts", catalogue::check_codes(c, &parts)?)
            .map_or(1, |codes| codes.len())
    };
    let mut priors: Vec<i64> = Vec::new();
    for p in input.priors.iter().flatten() {
        if !ctx.other_studies.iter().any(|s| s.id == *p) {
            e.add("priors", "request.err_prior");
        } else if !priors.contains(p) {
            priors.push(*p);
        }
    }
    match (urgency, category, modality) {
        (Some(urgency), Some(category), Some(modality)) if e.is_empty() => Ok(QuoteBasis {
            urgency,
            category,
            modality,
            body_parts: u32::try_from(body_parts).unwrap_or(1).max(1),
            comparisons: u32::try_from(priors.len()).unwrap_or(0),
        }),
        _ => Err(e.into()),
    }
}

/// The options for a study and where the request as sent would go.
fn quote_for(
    c: &mut DbConnection,
    input: &RequestInput,
    ctx: &StudyContext,
    now: NaiveDateTime,
) -> shared::Result<QuoteResponse> {
    let basis = strict_basis(c, input, ctx)?;
    let opts = core::options(c, ctx, &basis, now)?;
    let candidates: Vec<Candidate> = opts
        .iter()
        .map(|o| Candidate {
            facility_id: o.facility_id,
            name: o.name.clone(),
            backlog: o.backlog,
            total_price: o.quote.total,
        })
        .collect();
    let no_preference = routing::choose(&candidates).map(|i| RoutingOut {
        facility_id: candidates[i].facility_id,
        name: candidates[i].name.clone(),
        reason: routing::routing_reason(&candidates[i]),
    });
    let selected_facility_id = match input.supporting_facility_id {
        None => no_preference.as_ref().map(|n| n.facility_id),
        Some(id) if opts.iter().any(|o| o.facility_id == id) => Some(id),
        Some(_) => {
            return Err(FieldErrors::single("supporting_facility_id", "request.err_target").into())
        }
    };
    Ok(QuoteResponse {
        study_id: ctx.study.id,
        arriving: ctx.arriving,
        basis: QuoteBasisOut {
            urgency: basis.urgency.as_str().to_owned(),
            category: basis.category.as_str().to_owned(),
            modality: basis.modality.as_str().to_owned(),
            exam: Exam::of_modality(basis.modality).as_str().to_owned(),
            body_parts: basis.body_parts,
            images: ctx.study.num_instances,
            comparisons: basis.comparisons,
        },
        options: opts
            .into_iter()
            .map(|o| TargetOut {
                facility_id: o.facility_id,
                quote: quote_out(&o.quote),
                name: o.name,
                phone: o.phone,
                backlog: o.backlog,
                price_table_id: o.price_table_id,
                after_hours: o.after_hours,
                due_at: o.due_at,
                radiologists: o
                    .radiologists
                    .into_iter()
                    .map(|(id, name)| RadiologistOut { id, name })
                    .collect(),
            })
            .collect(),
        no_preference,
        selected_facility_id,
    })
}

/// The audit event of quoting a study (the study context was read).
fn quote_event(ctx: &StudyContext, q: &QuoteResponse) -> Event {
    let mut ev = Event::success("request.quote")
        .object("study", ctx.study.id)
        .detail(serde_json::json!({
            "via": "api", "options": q.options.len(), "urgency": q.basis.urgency,
            "category": q.basis.category, "modality": q.basis.modality,
        }));
    ev.study_ref = Some(ctx.study.study_uid.clone());
    ev.patient_ref = Some(format!("patient:{}", ctx.patient.id));
    ev
}

/// The supporting facilities a study may be sent to now, each with its price, backlog and
/// due time, and where "no preference" would send it. Nothing is written but the audit
/// event.
#[utoipa::path(post, path = "/api/v1/requests/quote", tag = "requests",
    request_body = RequestInput,
    responses((status = 200, body = QuoteResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Session without a valid X-CSRF-Token"),
        (status = 404, body = ErrorBody, description = "Not a requester, or not the caller's study"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn quote(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let input: RequestInput = parse_json_object(&body)?;
    caller
        .allow(
            &state,
            requester_check(&caller.principal),
            "request.quote",
            input.study_id.map(|id| ("study", id.to_string())),
        )
        .await?;
    let study_id = input.study_id()?;
    let fid = caller.principal.facility_id;
    let now = state.clock.now();
    let arriving = state.settings.ingest.arriving_seconds;
    let ctx = caller.audit_ctx();
    let r = state
        .db(move |c| {
            let sc = core::study_context(c, fid, study_id, now, arriving)?;
            let q = quote_for(c, &input, &sc, now)?;
            audit::record_now(c, &ctx, quote_event(&sc, &q))?;
            Ok(q)
        })
        .await;
    let q = found(
        &caller,
        &state,
        r,
        "request.quote",
        ("study", study_id.to_string()),
    )
    .await?;
    Ok(no_store(StatusCode::OK, q))
}

// ---------------------------------------------------------------------------------------
// Filing, reading, cancelling

/// Reads one request for the caller (its role must fit its side) and audits the read.
fn read_request(
    c: &mut DbConnection,
    ctx: &shared::audit::Ctx,
    principal: &Principal,
    id: i64,
) -> shared::Result<(RequestDetail, Vec<BodyPart>)> {
    let d = store::detail(c, principal.facility_id, id)?;
    if !may_see(principal, d.side, d.summary.request.status()) {
        return Err(shared::Error::NotFound);
    }
    audit::record_now(c, ctx, store::view_event(&d, "api"))?;
    let parts = catalogue::list(c, true)?;
    Ok((d, parts))
}

/// Files a read request for one of the caller's studies. Everything is validated again on
/// the server and priced by it; the request, its price snapshot, priors, status history,
/// audit event and the notification to the supporting facility are written together.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests",
    request_body = RequestInput,
    responses((status = 201, body = RequestOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Session without a valid X-CSRF-Token"),
        (status = 404, body = ErrorBody, description = "Not a requester, or not the caller's study"),
        (status = 409, body = ErrorBody, description = "A live request for this study already names that facility"),
        (status = 422, body = ErrorBody, description = "Invalid fields, an ineligible facility, a study still arriving without confirm_arriving, or an expected_total other than the server's price")),
    security(("bearer" = []), ("session" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let input: RequestInput = parse_json_object(&body)?;
    caller
        .allow(
            &state,
            requester_check(&caller.principal),
            "request.create",
            input.study_id.map(|id| ("study", id.to_string())),
        )
        .await?;
    let study_id = input.study_id()?;
    let form = input.form();
    let principal = caller.principal.clone();
    let who = core::Requester {
        facility_id: principal.facility_id,
        user_id: principal.user_id,
    };
    let at = Filing {
        now: state.clock.now(),
        arriving_seconds: state.settings.ingest.arriving_seconds,
        require_expected_total: false,
    };
    let ctx = caller.audit_ctx();
    let r = state
        .db(move |c| {
            let r = core::file(c, &ctx, who, study_id, &form, at)?;
            radvision::core::auto_assign::after_filing(c, r.supporting_facility_id, at.now);
            read_request(c, &ctx, &principal, r.id)
        })
        .await;
    let (d, parts) = found(
        &caller,
        &state,
        r,
        "request.create",
        ("study", study_id.to_string()),
    )
    .await?;
    Ok(no_store(StatusCode::CREATED, request_out(&d, &parts)))
}

/// The side a list is for: asked for explicitly, else the caller's requesting side, else
/// its supporting side; `None` when the caller's role fits neither.
fn list_side(p: &Principal, asked: &str) -> ApiResult<Option<Side>> {
    let requester = requester_check(p).is_ok();
    let reader = reader_check(p).is_ok();
    Ok(match asked.trim() {
        "" if requester => Some(Side::Requesting),
        "" if reader => Some(Side::Supporting),
        "" => None,
        "requesting" => requester.then_some(Side::Requesting),
        "supporting" => reader.then_some(Side::Supporting),
        _ => {
            return Err(ApiError::BadRequest(
                "invalid side: requesting or supporting".into(),
            ))
        }
    })
}

fn per_page_of(raw: &str) -> ApiResult<i64> {
    match raw.trim() {
        "" => Ok(PER_PAGE),
        s => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(MAX_PER_PAGE))
            .ok_or_else(|| ApiError::BadRequest("invalid per_page: 1 to 200".into())),
    }
}

/// The caller's facility's requests, newest first: a requesting facility's requesters see
/// the requests it filed; a supporting facility's radiologists and coordinators see the
/// requests naming it.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests",
    params(
        ("status" = Option<String>, Query, description = "requested, accepted, reading, confirmed, acknowledged or cancelled"),
        ("urgency" = Option<String>, Query, description = "emergency or routine"),
        ("date_from" = Option<String>, Query, description = "Filed on or after (YYYY-MM-DD, Japan time)"),
        ("date_to" = Option<String>, Query, description = "Filed on or before (YYYY-MM-DD, Japan time)"),
        ("facility" = Option<i64>, Query, description = "The facility on the other side (its id)"),
        ("side" = Option<String>, Query, description = "requesting or supporting, for a facility that is both (default: requesting if the caller may)"),
        ("page" = Option<i64>, Query, description = "Page, from 1"),
        ("per_page" = Option<i64>, Query, description = "Requests per page (1–200, default 50)"),
    ),
    responses((status = 200, body = RequestList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    q: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let params = q.into_inner();
    let side = list_side(&caller.principal, &params.side)?;
    let Some(side) = side else {
        caller.deny(&state, "request.list", None).await?;
        return Err(ApiError::NotFound);
    };
    let per_page = per_page_of(&params.per_page)?;
    let filter = RequestFilter {
        status: params.status,
        urgency: params.urgency,
        date_from: params.date_from,
        date_to: params.date_to,
        facility: params.facility,
        page: params.page,
        notice: None,
    };
    let (query, page, errors) = filter.parse(per_page);
    if let Some(e) = errors.iter().next() {
        return Err(ApiError::BadRequest(format!(
            "invalid {}: {}",
            e.field,
            match e.field {
                "date_from" | "date_to" => "expected YYYY-MM-DD",
                "facility" => "expected a facility id",
                _ => "not one of the documented values",
            }
        )));
    }
    let fid = caller.principal.facility_id;
    let ctx = caller.audit_ctx();
    let used = filter.used();
    let (rows, total) = state
        .db(move |c| {
            let (rows, total) = store::list(c, fid, side, &query)?;
            audit::record_now(
                c,
                &ctx,
                Event::new("request.list", Outcome::Success).detail(serde_json::json!({
                    "count": rows.len(), "total": total, "page": page, "per_page": per_page,
                    "side": side_str(side), "filters": used, "via": "api",
                })),
            )?;
            Ok((rows, total))
        })
        .await?;
    Ok(no_store(
        StatusCode::OK,
        RequestList {
            items: rows.iter().map(|r| item_out(r, side)).collect(),
            total,
            page,
            per_page,
        },
    ))
}

/// One request, for the requesting facility's requesters and the named supporting
/// facility's radiologists and coordinators; anyone else gets 404.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, body = RequestOut), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_path_id(&caller, &state, &path.into_inner(), "request.view").await?;
    let p = &caller.principal;
    let allowed = requester_check(p).or_else(|_| reader_check(p));
    let object = ("read_request", id.to_string());
    caller
        .allow(&state, allowed, "request.view", Some(object.clone()))
        .await?;
    let ctx = caller.audit_ctx();
    let principal = caller.principal.clone();
    let r = state
        .db(move |c| read_request(c, &ctx, &principal, id))
        .await;
    let (d, parts) = found(&caller, &state, r, "request.view", object).await?;
    Ok(no_store(StatusCode::OK, request_out(&d, &parts)))
}

/// Cancels a request of the caller's facility while reading has not started (409 after).
#[utoipa::path(post, path = "/api/v1/requests/{id}/cancel", tag = "requests",
    params(("id" = i64, Path, description = "Request id")),
    request_body(content = CancelInput, description = "May be empty"),
    responses((status = 200, body = RequestOut), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Session without a valid X-CSRF-Token"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Reading has started, or the request is already closed"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = parse_path_id(&caller, &state, &path.into_inner(), "request.cancel").await?;
    let input: CancelInput = if body.iter().all(u8::is_ascii_whitespace) {
        CancelInput::default()
    } else {
        parse_json_object(&body)?
    };
    let object = ("read_request", id.to_string());
    caller
        .allow(
            &state,
            requester_check(&caller.principal),
            "request.cancel",
            Some(object.clone()),
        )
        .await?;
    let ctx = caller.audit_ctx();
    let principal = caller.principal.clone();
    let reason = input.reason.unwrap_or_default();
    let r = state
        .db(move |c| {
            store::cancel(c, &ctx, principal.facility_id, id, &reason)?;
            read_request(c, &ctx, &principal, id)
        })
        .await;
    let (d, parts) = found(&caller, &state, r, "request.cancel", object).await?;
    Ok(no_store(StatusCode::OK, request_out(&d, &parts)))
}
