//! The JSON shapes the read-request API answers with (in the OpenAPI document), and the
//! conversions from the domain's rows.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use chrono::{NaiveDate, NaiveDateTime};
use radvision::core::pricing::Quote;
use radvision::core::requests as core;
use serde::Serialize;
use shared::index::{Patient, Study};
use shared::reading::catalogue::BodyPart;
use shared::reading::requests::{RequestDetail, RequestSummary, Side};

use crate::api::studies::{PatientOut, PersonNameOut};

use super::may_show_patient;

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

pub(super) fn lines_out(q: &Quote) -> Vec<QuoteLineOut> {
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

pub(super) fn quote_out(q: &Quote) -> QuoteOut {
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

pub(super) fn patient_out(p: &Patient) -> PatientOut {
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

pub(super) fn study_out(s: &Study) -> RequestStudy {
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

pub(super) fn item_out(s: &RequestSummary, side: Side) -> RequestItem {
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

pub(super) fn side_str(side: Side) -> &'static str {
    match side {
        Side::Requesting => "requesting",
        Side::Supporting => "supporting",
    }
}

pub(super) fn request_out(d: &RequestDetail, parts: &[BodyPart]) -> RequestOut {
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
pub(super) fn no_store(status: StatusCode, body: impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}
