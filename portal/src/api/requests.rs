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

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime};
use radvision::core::pricing::Quote;
use radvision::core::requests::{self as core, Filing, QuoteBasis, RequestForm, StudyContext};
use radvision::core::routing::{self, Candidate};
use serde::{Deserialize, Serialize};
use shared::audit::{self, Event, Outcome};
use shared::auth::{Denied, Principal};
use shared::db::DbConnection;
use shared::domain::{Category, Exam, Modality, RequestStatus, Role, Urgency};
use shared::index::{Patient, Study};
use shared::reading::catalogue::{self, BodyPart};
use shared::reading::requests::{self as store, RequestDetail, RequestSummary, Side};
use shared::validation::FieldErrors;

use crate::api::auth::ApiCaller;
use crate::api::error::{parse_json_object, ApiError, ApiResult, ErrorBody};
use crate::api::studies::{PatientOut, PersonNameOut};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::requests::RequestFilter;
use crate::web::studies::requester_check;

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
// Output

#[derive(Serialize, utoipa::ToSchema)]
pub struct QuoteLineOut {
    /// `base`, `extra_body_parts`, `extra_images`, `emergency`, `after_hours` or
    /// `comparison`.
    pub kind: String,
    pub quantity: u32,
    /// Yen, as written in the price table (tax included or not, see `tax_included`).
    pub unit_price: i64,
    /// `quantity × unit_price`.
    pub amount: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QuoteOut {
    /// The base line first, then the surcharges that apply.
    pub lines: Vec<QuoteLineOut>,
    /// The sum of the lines.
    pub subtotal: i64,
    /// Tax included: the tax contained in the subtotal; excluded: the tax added to it.
    pub tax: i64,
    /// What the requesting facility pays.
    pub total: i64,
    pub tax_included: bool,
    pub tax_rate_percent: u32,
    /// `floor`, `half_up` or `ceil`.
    pub rounding: String,
    /// The price-table row used.
    pub rule_label: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RadiologistOut {
    pub id: i64,
    pub name: String,
}

/// A supporting facility the request may go to now, with its price.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TargetOut {
    pub facility_id: i64,
    pub name: String,
    pub phone: String,
    /// Live requests at the facility (requested, accepted, reading).
    pub backlog: i64,
    pub price_table_id: i64,
    /// Whether the after-hours surcharge applies now.
    pub after_hours: bool,
    /// UTC. Emergency: when reading must start; routine: when the report is due.
    pub due_at: NaiveDateTime,
    pub quote: QuoteOut,
    /// Radiologists the requester may name (empty when the facility does not allow it).
    pub radiologists: Vec<RadiologistOut>,
}

/// Where "no preference" would send the request, and why.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RoutingOut {
    pub facility_id: i64,
    pub name: String,
    /// Short English, no patient data.
    pub reason: String,
}

/// What the prices were computed from.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QuoteBasisOut {
    pub urgency: String,
    pub category: String,
    pub modality: String,
    /// The price-table row's exam, e.g. `ct`.
    pub exam: String,
    pub body_parts: u32,
    pub images: i64,
    pub comparisons: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QuoteResponse {
    pub study_id: i64,
    /// Images are still arriving: filing needs `confirm_arriving: true`.
    pub arriving: bool,
    pub basis: QuoteBasisOut,
    /// Every supporting facility the request may go to now, by name.
    pub options: Vec<TargetOut>,
    /// Where the request would go without a preference; null when nowhere.
    pub no_preference: Option<RoutingOut>,
    /// Where the request as sent would go: the named facility, else the no-preference one.
    /// Its quote's total is the figure to send as `expected_total`.
    pub selected_facility_id: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FacilityRef {
    pub id: i64,
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserRef {
    pub id: i64,
    pub name: String,
}

/// A study as a request shows it (the request's own study and its priors).
#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestStudy {
    pub id: i64,
    pub study_uid: String,
    pub accession_number: String,
    pub study_date: Option<NaiveDate>,
    pub description: String,
    pub modalities: Vec<String>,
    pub num_instances: i64,
}

/// A request in a list.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestItem {
    pub id: i64,
    /// `requested`, `accepted`, `reading`, `confirmed`, `acknowledged` or `cancelled`.
    pub status: String,
    pub urgency: String,
    pub category: String,
    pub modality: String,
    pub exam: String,
    /// UTC.
    pub requested_at: NaiveDateTime,
    /// UTC.
    pub due_at: NaiveDateTime,
    pub requesting_facility: FacilityRef,
    pub supporting_facility: FacilityRef,
    /// The price snapshot's total (yen).
    pub total: i64,
    /// Null for the supporting side once the request is cancelled: a supporting facility
    /// sees a patient only while the request is live or reported.
    pub patient: Option<PatientOut>,
    pub study: Option<RequestStudy>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestList {
    pub items: Vec<RequestItem>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BodyPartOut {
    pub code: String,
    pub name_ja: String,
    pub name_en: String,
}

/// One step of a request's status history.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StatusEventOut {
    pub status: String,
    /// UTC.
    pub at: NaiveDateTime,
    /// Who made the change; null for the system.
    pub by: Option<UserRef>,
    pub note: String,
}

/// The price as quoted at filing; later price-table changes do not alter it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PriceOut {
    pub price_table_id: i64,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub tax_included: bool,
    /// From the quote snapshot (null if it cannot be read).
    pub tax_rate_percent: Option<u32>,
    pub rounding: Option<String>,
    pub rule_label: Option<String>,
    pub lines: Vec<QuoteLineOut>,
    pub after_hours: Option<bool>,
    pub emergency: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttachmentOut {
    pub id: i64,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
}

/// One request with everything about it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestOut {
    pub id: i64,
    pub status: String,
    pub urgency: String,
    pub category: String,
    pub modality: String,
    pub exam: String,
    pub body_parts: Vec<BodyPartOut>,
    pub purpose: String,
    pub purpose_note: String,
    pub clinical_info: String,
    pub clinical_note: String,
    pub contact_phone: String,
    pub image_count: i64,
    /// Filed while images were still arriving (confirmed by the requester).
    pub filed_while_arriving: bool,
    /// `requester` (named facility) or `rule` (no preference).
    pub routed_by: String,
    pub routing_note: String,
    /// UTC.
    pub due_at: NaiveDateTime,
    /// UTC.
    pub requested_at: NaiveDateTime,
    /// UTC.
    pub updated_at: NaiveDateTime,
    /// The caller's side: `requesting` or `supporting`.
    pub side: String,
    /// Whether the requesting facility may still cancel (reading has not started).
    pub can_cancel: bool,
    pub requesting_facility: FacilityRef,
    pub supporting_facility: FacilityRef,
    pub requested_by: UserRef,
    pub radiologist: Option<UserRef>,
    pub patient: PatientOut,
    pub study: RequestStudy,
    pub priors: Vec<RequestStudy>,
    pub history: Vec<StatusEventOut>,
    pub price: Option<PriceOut>,
    /// Referral letters (downloaded from the request screen).
    pub attachments: Vec<AttachmentOut>,
}

fn lines_out(q: &Quote) -> Vec<QuoteLineOut> {
    q.lines
        .iter()
        .map(|l| QuoteLineOut {
            kind: l.kind.as_str().to_owned(),
            quantity: l.quantity,
            unit_price: l.unit_price,
            amount: l.amount,
        })
        .collect()
}

fn quote_out(q: &Quote) -> QuoteOut {
    QuoteOut {
        lines: lines_out(q),
        subtotal: q.subtotal,
        tax: q.tax,
        total: q.total,
        tax_included: q.tax_included,
        tax_rate_percent: q.tax_rate_percent,
        rounding: q.rounding.as_str().to_owned(),
        rule_label: q.rule_label.clone(),
    }
}

fn patient_out(p: &Patient) -> PatientOut {
    PatientOut {
        id: p.id,
        patient_id: p.patient_key.clone(),
        name: PersonNameOut {
            alphabetic: p.name_alphabetic.clone(),
            ideographic: p.name_ideographic.clone(),
            phonetic: p.name_phonetic.clone(),
        },
        birth_date: p.birth_date,
        sex: p.sex.clone(),
    }
}

fn study_out(s: &Study) -> RequestStudy {
    RequestStudy {
        id: s.id,
        study_uid: s.study_uid.clone(),
        accession_number: s.accession_number.clone(),
        study_date: s.study_date,
        description: s.description.clone(),
        modalities: s
            .modalities
            .split(' ')
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect(),
        num_instances: s.num_instances,
    }
}

fn item_out(s: &RequestSummary, side: Side) -> RequestItem {
    let r = &s.request;
    let shown = may_show_patient(side, r.status());
    RequestItem {
        id: r.id,
        status: r.status.clone(),
        urgency: r.urgency.clone(),
        category: r.category.clone(),
        modality: r.modality.clone(),
        exam: r.exam.clone(),
        requested_at: r.requested_at,
        due_at: r.due_at,
        requesting_facility: FacilityRef {
            id: r.requesting_facility_id,
            name: s.requesting_facility.clone(),
        },
        supporting_facility: FacilityRef {
            id: r.supporting_facility_id,
            name: s.supporting_facility.clone(),
        },
        total: s.total,
        patient: shown.then(|| patient_out(&s.patient)),
        study: shown.then(|| study_out(&s.study)),
    }
}

fn side_str(side: Side) -> &'static str {
    match side {
        Side::Requesting => "requesting",
        Side::Supporting => "supporting",
    }
}

fn request_out(d: &RequestDetail, parts: &[BodyPart]) -> RequestOut {
    let s = &d.summary;
    let r = &s.request;
    let snapshot = d.price.as_ref().and_then(|p| core::snapshot_of(&p.quote));
    RequestOut {
        id: r.id,
        status: r.status.clone(),
        urgency: r.urgency.clone(),
        category: r.category.clone(),
        modality: r.modality.clone(),
        exam: r.exam.clone(),
        body_parts: r
            .body_part_codes()
            .iter()
            .map(|code| {
                let known = parts.iter().find(|b| b.code == *code);
                BodyPartOut {
                    code: (*code).to_owned(),
                    name_ja: known.map(|b| b.name_ja.clone()).unwrap_or_default(),
                    name_en: known.map(|b| b.name_en.clone()).unwrap_or_default(),
                }
            })
            .collect(),
        purpose: r.purpose.clone(),
        purpose_note: r.purpose_note.clone(),
        clinical_info: r.clinical_info.clone(),
        clinical_note: r.clinical_note.clone(),
        contact_phone: r.contact_phone.clone(),
        image_count: r.image_count,
        filed_while_arriving: r.filed_while_arriving,
        routed_by: r.routed_by.clone(),
        routing_note: r.routing_note.clone(),
        due_at: r.due_at,
        requested_at: r.requested_at,
        updated_at: r.updated_at,
        side: side_str(d.side).to_owned(),
        can_cancel: d.side == Side::Requesting && r.status().can_cancel(),
        requesting_facility: FacilityRef {
            id: r.requesting_facility_id,
            name: s.requesting_facility.clone(),
        },
        supporting_facility: FacilityRef {
            id: r.supporting_facility_id,
            name: s.supporting_facility.clone(),
        },
        requested_by: UserRef {
            id: r.requested_by,
            name: d.requested_by.clone(),
        },
        radiologist: r.radiologist_id.map(|id| UserRef {
            id,
            name: d.radiologist.clone().unwrap_or_default(),
        }),
        patient: patient_out(&s.patient),
        study: study_out(&s.study),
        priors: d.priors.iter().map(study_out).collect(),
        history: d
            .events
            .iter()
            .map(|(e, who)| StatusEventOut {
                status: e.status.clone(),
                at: e.occurred_at,
                by: e.user_id.map(|id| UserRef {
                    id,
                    name: who.clone().unwrap_or_default(),
                }),
                note: e.note.clone(),
            })
            .collect(),
        price: d.price.as_ref().map(|p| PriceOut {
            price_table_id: p.price_table_id,
            subtotal: p.subtotal,
            tax: p.tax,
            total: p.total,
            tax_included: p.tax_included,
            tax_rate_percent: snapshot.as_ref().map(|s| s.quote.tax_rate_percent),
            rounding: snapshot
                .as_ref()
                .map(|s| s.quote.rounding.as_str().to_owned()),
            rule_label: snapshot.as_ref().map(|s| s.quote.rule_label.clone()),
            lines: snapshot
                .as_ref()
                .map(|s| lines_out(&s.quote))
                .unwrap_or_default(),
            after_hours: snapshot.as_ref().map(|s| s.after_hours),
            emergency: snapshot.as_ref().map(|s| s.emergency),
        }),
        attachments: d
            .attachments
            .iter()
            .map(|a| AttachmentOut {
                id: a.id,
                file_name: a.file_name.clone(),
                content_type: a.content_type.clone(),
                size_bytes: a.size_bytes,
            })
            .collect(),
    }
}

/// A JSON response that no cache keeps (patient data, live prices).
fn no_store(status: StatusCode, body: impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
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
fn may_show_patient(side: Side, status: RequestStatus) -> bool {
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
