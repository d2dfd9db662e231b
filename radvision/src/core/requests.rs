//! Filing a read request (読影依頼): which supporting facilities a clinic may ask for a
//! study, what each would charge, the validation of the request form, and the filing
//! itself — the request, its price snapshot, priors, attachment, audit event and the
//! notification job written in one transaction, with everything re-checked inside it.
//!
//! The same functions serve the screens and the API, so both refuse the same things: a
//! facility without a contract in force, a suspended one, one that does not read the
//! modality (or takes no emergencies now), another clinic's study, a price that is not the
//! one the server computes, a study still arriving unless confirmed, and a second live
//! request for the same study and target.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use shared::audit::Ctx;
use shared::db::{self, DbConnection};
use shared::domain::{
    Category, ClinicalInfo, Exam, Modality, Phone, Purpose, RequestStatus, Role, Urgency,
};
use shared::index::{self, Patient, Study};
use shared::membership::{contracts, users};
use shared::reading::catalogue::{self, BodyPart};
use shared::reading::policy::{self, ReadingPolicyRow};
use shared::reading::pricing::{self as tables, PriceItem, PriceTable, PriceVersion};
use shared::reading::requests::{self as store, Attachment, NewRequest, ReadRequest};
use shared::validation::{self, FieldErrors};
use shared::{Error, Result};

use super::calendar::{self, AfterHours};
use super::pricing::{self, PriceInput, PriceRule, Quote, TaxRule};
use super::routing::{self, Candidate, ReadingPolicy};

/// The request form as sent by a screen or the API (text, validated here).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RequestForm {
    /// A supporting facility id, or empty / `auto` for "no preference".
    #[serde(default)]
    pub supporting_facility_id: String,
    /// A radiologist of that facility, where it allows the choice; empty for none.
    #[serde(default)]
    pub radiologist_id: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub modality: String,
    #[serde(default, deserialize_with = "shared::serde_util::string_list")]
    pub body_parts: Vec<String>,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub purpose_note: String,
    #[serde(default)]
    pub clinical_info: String,
    #[serde(default)]
    pub clinical_note: String,
    #[serde(default, deserialize_with = "shared::serde_util::string_list")]
    pub priors: Vec<String>,
    #[serde(default)]
    pub contact_phone: String,
    /// The requester confirms filing while images are still arriving.
    #[serde(default, deserialize_with = "shared::serde_util::checkbox")]
    pub confirm_arriving: bool,
    #[serde(default)]
    pub attachment_id: String,
    /// The total the requester was shown; filing refuses any other figure.
    #[serde(default)]
    pub expected_total: String,
    /// The facility the confirmation showed (for "no preference": where the rule routed
    /// it); filing refuses to send the request anywhere else.
    #[serde(default)]
    pub expected_target: String,
}

/// Who files: the requester's facility and user id.
#[derive(Debug, Clone, Copy)]
pub struct Requester {
    pub facility_id: i64,
    pub user_id: i64,
}

/// The study a request is for, as the form shows it (patient prominently).
#[derive(Debug, Clone, Serialize)]
pub struct StudyContext {
    pub study: Study,
    pub patient: Patient,
    pub arriving: bool,
    /// The study's modalities that can be requested, in the study's order.
    pub modalities: Vec<Modality>,
    /// Earlier studies of the same patient at this clinic.
    pub other_studies: Vec<Study>,
}

/// A supporting facility the request may go to, with what it would cost now.
#[derive(Debug, Clone, Serialize)]
pub struct TargetOption {
    pub facility_id: i64,
    pub name: String,
    pub phone: String,
    /// Live requests at that facility (its backlog).
    pub backlog: i64,
    pub quote: Quote,
    pub price_table_id: i64,
    pub after_hours: bool,
    pub due_at: NaiveDateTime,
    /// Radiologists the requester may name (empty when the facility does not allow it).
    pub radiologists: Vec<(i64, String)>,
}

/// A validated request, ready to confirm and file.
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    pub context: StudyContext,
    pub urgency: Urgency,
    pub category: Category,
    pub modality: Modality,
    pub exam: Exam,
    pub body_parts: Vec<BodyPart>,
    pub purpose: Purpose,
    pub purpose_note: String,
    pub clinical_info: ClinicalInfo,
    pub clinical_note: String,
    pub priors: Vec<Study>,
    pub contact_phone: String,
    pub attachment: Option<Attachment>,
    pub target: TargetOption,
    /// True when the target was chosen by the routing rule ("no preference").
    pub routed_by_rule: bool,
    pub routing_note: String,
    pub radiologist: Option<(i64, String)>,
}

/// What prices depend on, besides the table: taken from the form where valid, else the
/// defaults the form starts with.
#[derive(Debug, Clone, Copy)]
pub struct QuoteBasis {
    pub urgency: Urgency,
    pub category: Category,
    pub modality: Modality,
    pub body_parts: u32,
    pub comparisons: u32,
}

/// The rules of one price-table row, for the engine.
pub fn rule_of(i: &PriceItem) -> Option<PriceRule> {
    rule_of_new(&tables::NewPriceItem::from(i))
}

/// The rules of a row not saved yet (the editor's preview).
pub fn rule_of_new(i: &tables::NewPriceItem) -> Option<PriceRule> {
    let count = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok());
    Some(PriceRule {
        category: Category::parse(&i.category).ok()?,
        exam: Exam::parse(&i.exam).ok()?,
        label: i.label.clone(),
        base_price: i.base_price,
        covered_body_parts: count(i.covered_body_parts),
        covered_images: count(i.covered_images),
        includes_comparison: i.includes_comparison,
        extra_body_part_price: i.extra_body_part_price,
        extra_images_block: count(i.extra_images_block),
        extra_images_price: i.extra_images_price,
        emergency_surcharge: i.emergency_surcharge,
        after_hours_surcharge: i.after_hours_surcharge,
        comparison_price: i.comparison_price,
    })
}

/// The tax rule of a version not saved yet.
pub fn tax_of_new(v: &tables::NewPriceVersion) -> TaxRule {
    TaxRule {
        included: v.tax_included,
        rate_percent: u32::try_from(v.tax_rate_percent).unwrap_or(0),
        rounding: v.rounding,
    }
}

pub fn tax_of(t: &PriceTable) -> TaxRule {
    TaxRule {
        included: t.tax_included,
        rate_percent: u32::try_from(t.tax_rate_percent).unwrap_or(10),
        rounding: t.rounding(),
    }
}

pub fn after_hours_of(t: &PriceTable) -> AfterHours {
    let time = |s: &str, d| shared::domain::TimeOfDay::parse(s).unwrap_or(d);
    AfterHours {
        start: time(&t.after_hours_start, shared::domain::TimeOfDay::MIDNIGHT),
        end: time(&t.after_hours_end, shared::domain::TimeOfDay::MIDNIGHT),
        weekends_and_holidays: t.holidays_after_hours,
    }
}

pub fn policy_of(p: &ReadingPolicyRow) -> ReadingPolicy {
    ReadingPolicy {
        accepts_emergency: p.accepts_emergency,
        emergency_from: p.emergency_from(),
        emergency_until: p.emergency_until(),
        routine_cutoff: p.routine_cutoff(),
        routine_days: u32::try_from(p.routine_days).unwrap_or(1),
    }
}

/// Prices a request on a table version at `now` (after-hours from the table's window).
pub fn quote_on(
    v: &PriceVersion,
    basis: &QuoteBasis,
    images: i64,
    now: NaiveDateTime,
) -> Option<(Quote, bool)> {
    let rules: Vec<PriceRule> = v.items.iter().filter_map(rule_of).collect();
    let after_hours = calendar::is_after_hours(&after_hours_of(&v.table), calendar::to_jst(now));
    let input = PriceInput {
        category: basis.category,
        exam: Exam::of_modality(basis.modality),
        body_parts: basis.body_parts.max(1),
        images: u32::try_from(images.max(0)).unwrap_or(u32::MAX),
        emergency: basis.urgency == Urgency::Emergency,
        after_hours,
        comparisons: basis.comparisons,
    };
    pricing::quote(&rules, &tax_of(&v.table), &input)
        .ok()
        .map(|q| (q, after_hours))
}

/// The clinic's study for the request form, or `NotFound` (another clinic's study).
pub fn study_context(
    c: &mut DbConnection,
    facility_id: i64,
    study_id: i64,
    now: NaiveDateTime,
    arriving_seconds: u32,
) -> Result<StudyContext> {
    let d = index::get_study(c, facility_id, study_id, now, arriving_seconds)?;
    let mut modalities = Vec::new();
    for m in d.study.modalities.split(' ').filter(|m| !m.is_empty()) {
        if let Ok(m) = Modality::parse(m) {
            if !modalities.contains(&m) {
                modalities.push(m);
            }
        }
    }
    let other_studies = index::other_studies_of_patient(c, facility_id, d.patient.id, d.study.id)?;
    Ok(StudyContext {
        study: d.study,
        patient: d.patient,
        arriving: d.arriving,
        modalities,
        other_studies,
    })
}

fn radiologists_of(c: &mut DbConnection, facility_id: i64) -> Result<Vec<(i64, String)>> {
    Ok(users::list(c, Some(facility_id))?
        .into_iter()
        .filter(|u| {
            u.user.is_active && u.user.kind == "person" && u.roles.contains(&Role::Radiologist)
        })
        .map(|u| (u.user.id, u.user.display_name))
        .collect())
}

/// The supporting facilities this clinic may send the study to now, each with its price:
/// a contract in force today covering the modality, both facilities active, a price-table
/// row for the exam, and — for an emergency — emergencies accepted at this hour. Sorted by
/// name.
pub fn options(
    c: &mut DbConnection,
    ctx: &StudyContext,
    basis: &QuoteBasis,
    now: NaiveDateTime,
) -> Result<Vec<TargetOption>> {
    let today = calendar::to_jst(now).date();
    let directory = contracts::directory(c, ctx.study.facility_id, today)?;
    let ids: Vec<i64> = directory.iter().map(|d| d.facility_id).collect();
    let backlog = store::backlog(c, &ids)?;
    let mut out = Vec::new();
    for entry in directory {
        if !entry.modalities.contains(&basis.modality) {
            continue;
        }
        let pol = policy::get(c, entry.facility_id)?;
        let rp = policy_of(&pol);
        if basis.urgency == Urgency::Emergency && !routing::accepts_emergency_at(&rp, now) {
            continue;
        }
        let Some(version) = tables::in_force_for(c, entry.facility_id, now)? else {
            continue;
        };
        let Some((quote, after_hours)) = quote_on(&version, basis, ctx.study.num_instances, now)
        else {
            continue;
        };
        let radiologists = if pol.allow_radiologist_choice {
            radiologists_of(c, entry.facility_id)?
        } else {
            Vec::new()
        };
        out.push(TargetOption {
            facility_id: entry.facility_id,
            name: entry.name,
            phone: entry.phone,
            backlog: backlog.get(&entry.facility_id).copied().unwrap_or(0),
            quote,
            price_table_id: version.table.id,
            after_hours,
            due_at: routing::due_at(basis.urgency, &rp, now),
            radiologists,
        });
    }
    Ok(out)
}

/// The quote basis from a form: its valid values, else the form's defaults (routine,
/// clinical, the study's first modality, its body part or one, no priors).
pub fn basis_of(form: &RequestForm, ctx: &StudyContext) -> Option<QuoteBasis> {
    let modality = Modality::parse(&form.modality)
        .ok()
        .filter(|m| ctx.modalities.contains(m))
        .or_else(|| ctx.modalities.first().copied())?;
    Some(QuoteBasis {
        urgency: Urgency::parse(form.urgency.trim()).unwrap_or(Urgency::Routine),
        category: Category::parse(form.category.trim()).unwrap_or(Category::Clinical),
        modality,
        body_parts: u32::try_from(
            form.body_parts
                .iter()
                .filter(|b| !b.trim().is_empty())
                .count(),
        )
        .unwrap_or(1)
        .max(1),
        comparisons: u32::try_from(form.priors.iter().filter(|p| !p.trim().is_empty()).count())
            .unwrap_or(0),
    })
}

fn parse_id(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok().filter(|i| *i > 0)
}

/// Validates the form against the study and the current options. Field errors name the
/// form field; nothing is written.
pub fn validate(
    c: &mut DbConnection,
    who: Requester,
    ctx: StudyContext,
    form: &RequestForm,
    now: NaiveDateTime,
) -> Result<Draft> {
    let mut e = FieldErrors::new();
    let required = |v: &str| -> Result<(), &'static str> {
        if v.trim().is_empty() {
            Err("err.required")
        } else {
            Ok(())
        }
    };
    let urgency = e.take(
        "urgency",
        required(&form.urgency).and_then(|_| Urgency::parse(form.urgency.trim())),
    );
    let category = e.take(
        "category",
        required(&form.category).and_then(|_| Category::parse(form.category.trim())),
    );
    let modality = match Modality::parse(&form.modality) {
        Ok(m) if ctx.modalities.contains(&m) => Some(m),
        _ => {
            e.add(
                "modality",
                if ctx.modalities.is_empty() {
                    "request.err_no_modality"
                } else {
                    "err.invalid_choice"
                },
            );
            None
        }
    };
    let codes = e
        .take("body_parts", catalogue::check_codes(c, &form.body_parts)?)
        .unwrap_or_default();
    let all_parts = catalogue::list(c, false)?;
    let body_parts: Vec<BodyPart> = codes
        .iter()
        .filter_map(|code| all_parts.iter().find(|b| &b.code == code).cloned())
        .collect();
    let purpose = e.take(
        "purpose",
        required(&form.purpose).and_then(|_| Purpose::parse(form.purpose.trim())),
    );
    let purpose_note = e.take(
        "purpose_note",
        validation::optional_multiline(&form.purpose_note, 500),
    );
    let clinical_info = e.take(
        "clinical_info",
        ClinicalInfo::parse(form.clinical_info.trim()),
    );
    let clinical_note = e.take(
        "clinical_note",
        validation::optional_multiline(&form.clinical_note, 2000),
    );
    let contact_phone = if form.contact_phone.trim().is_empty() {
        e.add("contact_phone", "err.required");
        None
    } else {
        e.take("contact_phone", Phone::parse(&form.contact_phone))
    };
    // Priors: studies of the same patient at this clinic, nothing else.
    let mut priors = Vec::new();
    for raw in form.priors.iter().filter(|p| !p.trim().is_empty()) {
        match parse_id(raw).and_then(|id| ctx.other_studies.iter().find(|s| s.id == id)) {
            Some(s) if !priors.iter().any(|p: &Study| p.id == s.id) => priors.push(s.clone()),
            Some(_) => {}
            None => e.add("priors", "request.err_prior"),
        }
    }
    if ctx.arriving && !form.confirm_arriving {
        e.add("confirm_arriving", "request.err_arriving");
    }
    let attachment = match form.attachment_id.trim() {
        "" => None,
        raw => match parse_id(raw) {
            Some(id) => match store::staged_attachment(c, who.facility_id, who.user_id, id) {
                Ok(a) => Some(a),
                Err(Error::NotFound) => {
                    e.add("attachment", "request.err_attachment_gone");
                    None
                }
                Err(other) => return Err(other),
            },
            None => {
                e.add("attachment", "request.err_attachment_gone");
                None
            }
        },
    };
    let (Some(urgency), Some(category), Some(modality)) = (urgency, category, modality) else {
        return Err(Error::Validation(e));
    };
    let basis = QuoteBasis {
        urgency,
        category,
        modality,
        body_parts: u32::try_from(codes.len()).unwrap_or(1).max(1),
        comparisons: u32::try_from(priors.len()).unwrap_or(0),
    };
    let opts = options(c, &ctx, &basis, now)?;
    let wanted = form.supporting_facility_id.trim();
    let (target, routed_by_rule, routing_note) = if wanted.is_empty() || wanted == "auto" {
        let candidates: Vec<Candidate> = opts
            .iter()
            .map(|o| Candidate {
                facility_id: o.facility_id,
                name: o.name.clone(),
                backlog: o.backlog,
                total_price: o.quote.total,
            })
            .collect();
        match routing::choose(&candidates) {
            Some(i) => (
                Some(opts[i].clone()),
                true,
                routing::routing_reason(&candidates[i]),
            ),
            None => {
                e.add("supporting_facility_id", "request.err_no_target");
                (None, true, String::new())
            }
        }
    } else {
        match parse_id(wanted).and_then(|id| opts.iter().find(|o| o.facility_id == id)) {
            Some(o) => (Some(o.clone()), false, String::new()),
            None => {
                e.add("supporting_facility_id", "request.err_target");
                (None, false, String::new())
            }
        }
    };
    let radiologist = match (form.radiologist_id.trim(), &target) {
        ("", _) | (_, None) => None,
        (raw, Some(t)) => {
            match parse_id(raw).and_then(|id| t.radiologists.iter().find(|r| r.0 == id)) {
                Some(r) => Some(r.clone()),
                None => {
                    e.add("radiologist_id", "request.err_radiologist");
                    None
                }
            }
        }
    };
    match (
        target,
        purpose,
        purpose_note,
        clinical_info,
        clinical_note,
        contact_phone,
    ) {
        (
            Some(target),
            Some(purpose),
            Some(purpose_note),
            Some(clinical_info),
            Some(clinical_note),
            Some(phone),
        ) if e.is_empty() => Ok(Draft {
            context: ctx,
            urgency,
            category,
            modality,
            exam: Exam::of_modality(modality),
            body_parts,
            purpose,
            purpose_note,
            clinical_info,
            clinical_note,
            priors,
            contact_phone: phone.as_str().to_owned(),
            attachment,
            target,
            routed_by_rule,
            routing_note,
            radiologist,
        }),
        _ => Err(Error::Validation(e)),
    }
}

/// The price snapshot stored with a request: the quote and what it was computed from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriceSnapshot {
    pub quote: Quote,
    pub price_table_id: i64,
    pub price_table_owner: Option<i64>,
    pub images: i64,
    pub body_parts: u32,
    pub comparisons: u32,
    pub after_hours: bool,
    pub emergency: bool,
}

/// When and how a request is filed.
#[derive(Debug, Clone, Copy)]
pub struct Filing {
    pub now: NaiveDateTime,
    pub arriving_seconds: u32,
    /// Screens always show a price before filing, so they must send it back; the API may
    /// leave it out (a RIS files without a confirmation step).
    pub require_expected_total: bool,
}

/// Files the request: validates everything again inside one transaction, refuses a total
/// other than `expected_total` (when given) with `request.err_price_changed`, then writes
/// the request, its price snapshot, priors, attachment link, status event, audit event and
/// the notification job together.
pub fn file(
    conn: &mut DbConnection,
    ctx: &Ctx,
    who: Requester,
    study_id: i64,
    form: &RequestForm,
    at: Filing,
) -> Result<ReadRequest> {
    let Filing {
        now,
        arriving_seconds,
        require_expected_total,
    } = at;
    let expected = form.expected_total.trim();
    let expected: Option<i64> = if expected.is_empty() {
        if require_expected_total {
            return Err(FieldErrors::single("expected_total", "request.err_price_changed").into());
        }
        None
    } else {
        match expected.replace(',', "").parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                return Err(
                    FieldErrors::single("expected_total", "request.err_price_changed").into(),
                )
            }
        }
    };
    db::write_tx(conn, |c| {
        let sc = study_context(c, who.facility_id, study_id, now, arriving_seconds)?;
        let d = validate(c, who, sc, form, now)?;
        let shown_target = form.expected_target.trim();
        if !shown_target.is_empty() && shown_target != d.target.facility_id.to_string() {
            return Err(
                FieldErrors::single("supporting_facility_id", "request.err_route_changed").into(),
            );
        }
        if let Some(exp) = expected {
            if exp != d.target.quote.total {
                return Err(
                    FieldErrors::single("expected_total", "request.err_price_changed").into(),
                );
            }
        }
        let version = tables::get_version(c, d.target.price_table_id)?;
        let snapshot = PriceSnapshot {
            quote: d.target.quote.clone(),
            price_table_id: version.table.id,
            price_table_owner: version.table.facility_id,
            images: d.context.study.num_instances,
            body_parts: u32::try_from(d.body_parts.len()).unwrap_or(1),
            comparisons: u32::try_from(d.priors.len()).unwrap_or(0),
            after_hours: d.target.after_hours,
            emergency: d.urgency == Urgency::Emergency,
        };
        let new = NewRequest {
            requesting_facility_id: who.facility_id,
            supporting_facility_id: d.target.facility_id,
            radiologist_id: d.radiologist.as_ref().map(|r| r.0),
            study_id: d.context.study.id,
            patient_id: d.context.patient.id,
            requested_by: who.user_id,
            status: RequestStatus::Requested.as_str().into(),
            urgency: d.urgency.as_str().into(),
            category: d.category.as_str().into(),
            modality: d.modality.as_str().into(),
            exam: d.exam.as_str().into(),
            body_parts: d
                .body_parts
                .iter()
                .map(|b| b.code.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            purpose: d.purpose.as_str().into(),
            purpose_note: d.purpose_note.clone(),
            clinical_info: d.clinical_info.as_str().into(),
            clinical_note: d.clinical_note.clone(),
            contact_phone: d.contact_phone.clone(),
            image_count: d.context.study.num_instances,
            filed_while_arriving: d.context.arriving,
            routed_by: if d.routed_by_rule {
                "rule"
            } else {
                "requester"
            }
            .into(),
            routing_note: d.routing_note.clone(),
            due_at: db::truncate_micros(d.target.due_at),
            requested_at: db::truncate_micros(now),
            updated_at: db::truncate_micros(now),
        };
        let quote_json = serde_json::to_string(&snapshot)
            .map_err(|e| Error::Internal(format!("price snapshot: {e}")))?;
        let q = &d.target.quote;
        store::insert(
            c,
            ctx,
            &new,
            (
                version.table.id,
                q.subtotal,
                q.tax,
                q.total,
                q.tax_included,
                quote_json,
            ),
            &d.priors.iter().map(|p| p.id).collect::<Vec<_>>(),
            d.attachment.as_ref().map(|a| a.id),
            &d.context.study.study_uid,
        )
    })
}

/// Reads a stored snapshot back (for the request screen and the API).
pub fn snapshot_of(quote_json: &str) -> Option<PriceSnapshot> {
    serde_json::from_str(quote_json).ok()
}

/// A new price-table version from engine rules (the demo's seeded tables and tests).
pub fn version_from_rules(
    rules: &[PriceRule],
    tax: &TaxRule,
    after_hours: &AfterHours,
    note: &str,
) -> tables::NewPriceVersion {
    let count = |n: Option<u32>| n.and_then(|n| i32::try_from(n).ok());
    tables::NewPriceVersion {
        tax_included: tax.included,
        tax_rate_percent: i32::try_from(tax.rate_percent).unwrap_or(10),
        rounding: tax.rounding,
        after_hours_start: after_hours.start,
        after_hours_end: after_hours.end,
        holidays_after_hours: after_hours.weekends_and_holidays,
        note: note.to_owned(),
        items: rules
            .iter()
            .map(|r| tables::NewPriceItem {
                category: r.category.as_str().into(),
                exam: r.exam.as_str().into(),
                label: r.label.clone(),
                base_price: r.base_price,
                covered_body_parts: count(r.covered_body_parts),
                covered_images: count(r.covered_images),
                includes_comparison: r.includes_comparison,
                extra_body_part_price: r.extra_body_part_price,
                extra_images_block: count(r.extra_images_block),
                extra_images_price: r.extra_images_price,
                emergency_surcharge: r.emergency_surcharge,
                after_hours_surcharge: r.after_hours_surcharge,
                comparison_price: r.comparison_price,
            })
            .collect(),
    }
}
