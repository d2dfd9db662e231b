//! The request form on a received study (読影依頼): step 1 fills it in from pulldowns, with
//! each contracted supporting facility's price and backlog in the dropdown; step 2 shows
//! patient, study, target, due time and price for confirmation; then the request is filed.
//! Requesters (physicians, radiographers) of the requesting facility that owns the study
//! only; anyone else gets a 404 and an audit event. The price is always computed by the
//! server: the total shown at step 2 is sent back and a different figure is refused.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use futures_util::StreamExt;
use radvision::core::pricing::Quote;
use radvision::core::requests::{
    self as core, Draft, Filing, RequestForm, StudyContext, TargetOption,
};
use shared::audit::{self, Ctx, Event};
use shared::domain::{format_yen, BodyRegion, Category, ClinicalInfo, Purpose, Urgency};
use shared::index::{self, Study};
use shared::reading::catalogue::{self, BodyPart};
use shared::reading::requests as store;
use shared::validation::FieldErrors;

use crate::state::AppState;
use crate::web::authz;
use crate::web::error::{WebError, WebResult};
use crate::web::page::{render, render_invalid, see_other, Page};
use crate::web::session::SignedIn;
use crate::web::studies::{person_name, requester_check, sex_key};
use crate::web::upload::sanitise_name;

/// Largest referral letter accepted (PDF).
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// Largest form body (the letter plus the fields).
const MAX_FORM_BYTES: usize = MAX_ATTACHMENT_BYTES + 256 * 1024;

/// The patient as the form and the confirmation show it, prominently (mix-up guard).
pub struct PatientBox {
    pub name_ideographic: String,
    pub name_phonetic: String,
    pub name_alphabetic: String,
    pub patient_id: String,
    pub sex_key: &'static str,
    pub birth_date: String,
    pub age: String,
    pub study_date: String,
    pub description: String,
    pub modalities: String,
    pub num_instances: i64,
    pub arriving: bool,
}

/// Age in whole years on `on`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

impl PatientBox {
    pub fn of(
        page: &Page,
        patient: &index::Patient,
        study: &Study,
        arriving: bool,
        today: NaiveDate,
    ) -> PatientBox {
        let on = study.study_date.unwrap_or(today);
        PatientBox {
            name_ideographic: person_name(&patient.name_ideographic),
            name_phonetic: person_name(&patient.name_phonetic),
            name_alphabetic: person_name(&patient.name_alphabetic),
            patient_id: patient.patient_key.clone(),
            sex_key: sex_key(&patient.sex),
            birth_date: patient
                .birth_date
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "—".into()),
            age: patient
                .birth_date
                .and_then(|b| age_on(b, on))
                .map(|a| format!("{a}{}", page.t("request.age_suffix")))
                .unwrap_or_else(|| "—".into()),
            study_date: study
                .study_date
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "—".into()),
            description: study.description.clone(),
            modalities: study.modalities.clone(),
            num_instances: study.num_instances,
            arriving,
        }
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct ChoiceGroup {
    pub label: String,
    pub choices: Vec<Choice>,
}

/// A line of a quote for display.
pub struct LineView {
    pub label: String,
    pub quantity: u32,
    pub unit: String,
    pub amount: String,
}

pub struct QuoteView {
    pub lines: Vec<LineView>,
    pub subtotal: String,
    pub tax: String,
    pub total: String,
    pub total_raw: i64,
    pub tax_note: String,
    pub rule_label: String,
}

pub fn quote_view(page: &Page, q: &Quote) -> QuoteView {
    QuoteView {
        lines: q
            .lines
            .iter()
            .map(|l| LineView {
                label: page
                    .t(&format!("request.line.{}", l.kind.as_str()))
                    .to_owned(),
                quantity: l.quantity,
                unit: format_yen(l.unit_price),
                amount: format_yen(l.amount),
            })
            .collect(),
        subtotal: format_yen(q.subtotal),
        tax: format_yen(q.tax),
        total: format_yen(q.total),
        total_raw: q.total,
        tax_note: format!(
            "{} {}%",
            page.t(if q.tax_included {
                "request.tax_included"
            } else {
                "request.tax_excluded"
            }),
            q.tax_rate_percent
        ),
        rule_label: q.rule_label.clone(),
    }
}

/// A supporting facility as the dropdown shows it.
pub struct TargetView {
    pub facility_id: i64,
    pub label: String,
    pub selected: bool,
}

fn target_label(page: &Page, o: &TargetOption) -> String {
    format!(
        "{} — {}{}（{}）· {} {} · {} {}",
        o.name,
        format_yen(o.quote.total),
        page.t("request.yen"),
        page.t(if o.quote.tax_included {
            "request.tax_included"
        } else {
            "request.tax_excluded"
        }),
        page.t("request.backlog"),
        o.backlog,
        page.t("request.due"),
        page.time(&o.due_at),
    )
}

#[derive(Template)]
#[template(path = "requests/form.html")]
struct FormPage {
    page: Page,
    study_id: i64,
    patient: PatientBox,
    form: RequestForm,
    errors: FieldErrors,
    targets: Vec<TargetView>,
    auto_selected: bool,
    radiologists: Vec<ChoiceGroup>,
    urgencies: Vec<Choice>,
    categories: Vec<Choice>,
    modalities: Vec<Choice>,
    body_parts: Vec<ChoiceGroup>,
    purposes: Vec<Choice>,
    clinical_infos: Vec<Choice>,
    priors: Vec<Choice>,
    attachment_name: Option<String>,
    max_attachment_mb: usize,
}

#[derive(Template)]
#[template(path = "requests/confirm.html")]
struct ConfirmPage {
    page: Page,
    study_id: i64,
    patient: PatientBox,
    form: RequestForm,
    target_name: String,
    routed_by_rule: bool,
    routing_note: String,
    radiologist: Option<String>,
    due: String,
    urgency_key: String,
    category_key: String,
    modality: String,
    body_parts: Vec<String>,
    purpose_key: String,
    clinical_key: String,
    priors: Vec<String>,
    attachment_name: Option<String>,
    quote: QuoteView,
    after_hours: bool,
}

fn choices<T: Copy + PartialEq>(
    page: &Page,
    all: &[T],
    key: impl Fn(T) -> String,
    value: impl Fn(T) -> &'static str,
    selected: &str,
) -> Vec<Choice> {
    all.iter()
        .map(|v| Choice {
            value: value(*v).to_owned(),
            label: page.t(&key(*v)).to_owned(),
            selected: value(*v) == selected.trim(),
        })
        .collect()
}

fn body_part_groups(page: &Page, all: &[BodyPart], selected: &[String]) -> Vec<ChoiceGroup> {
    let ja = page.lang_code() == "ja";
    BodyRegion::ALL
        .iter()
        .filter_map(|r| {
            let choices: Vec<Choice> = all
                .iter()
                .filter(|b| b.region() == *r)
                .map(|b| Choice {
                    value: b.code.clone(),
                    label: format!("{}（{}）", b.name(ja), b.code),
                    selected: selected
                        .iter()
                        .any(|s| s.trim().eq_ignore_ascii_case(&b.code)),
                })
                .collect();
            (!choices.is_empty()).then(|| ChoiceGroup {
                label: page.t(&format!("request.region.{}", r.as_str())).to_owned(),
                choices,
            })
        })
        .collect()
}

fn prior_label(page: &Page, s: &Study) -> String {
    format!(
        "{} {} {}",
        s.study_date
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| page.t("request.no_date").to_owned()),
        s.modalities,
        s.description
    )
}

/// What the form page needs from the database.
struct FormData {
    ctx: StudyContext,
    options: Vec<TargetOption>,
    parts: Vec<BodyPart>,
    attachment_name: Option<String>,
    facility_phone: String,
}

/// Loads what the form shows and audits it: the page shows the patient, so it is a view.
#[allow(clippy::too_many_arguments)]
fn load_form_data(
    c: &mut shared::db::DbConnection,
    audit_ctx: &Ctx,
    fid: i64,
    uid: i64,
    study_id: i64,
    form: &RequestForm,
    now: NaiveDateTime,
    arriving_seconds: u32,
) -> shared::Result<FormData> {
    let ctx = core::study_context(c, fid, study_id, now, arriving_seconds)?;
    let mut ev = Event::success("request.form")
        .object("study", ctx.study.id)
        .detail(serde_json::json!({ "via": "screen" }));
    ev.study_ref = Some(ctx.study.study_uid.clone());
    ev.patient_ref = Some(format!("patient:{}", ctx.patient.id));
    audit::record_now(c, audit_ctx, ev)?;
    let options = match core::basis_of(form, &ctx) {
        Some(b) => core::options(c, &ctx, &b, now)?,
        None => Vec::new(),
    };
    let parts = catalogue::list(c, false)?;
    let attachment_name = match form.attachment_id.trim().parse::<i64>() {
        Ok(id) => store::staged_attachment(c, fid, uid, id)
            .ok()
            .map(|a| a.file_name),
        Err(_) => None,
    };
    let facility_phone = shared::membership::facilities::get(c, fid)?.phone;
    Ok(FormData {
        ctx,
        options,
        parts,
        attachment_name,
        facility_phone,
    })
}

fn form_page(
    state: &AppState,
    me: &SignedIn,
    study_id: i64,
    mut form: RequestForm,
    data: FormData,
    errors: FieldErrors,
) -> FormPage {
    let page = Page::for_user(state, me, "request.title_new");
    let today = radvision::core::calendar::to_jst(state.clock.now()).date();
    let ctx = &data.ctx;
    if form.contact_phone.trim().is_empty() {
        form.contact_phone = data.facility_phone.clone();
    }
    let wanted = form.supporting_facility_id.trim().to_owned();
    let targets: Vec<TargetView> = data
        .options
        .iter()
        .map(|o| TargetView {
            facility_id: o.facility_id,
            label: target_label(&page, o),
            selected: wanted == o.facility_id.to_string(),
        })
        .collect();
    let radiologists: Vec<ChoiceGroup> = data
        .options
        .iter()
        .filter(|o| !o.radiologists.is_empty())
        .map(|o| ChoiceGroup {
            label: o.name.clone(),
            choices: o
                .radiologists
                .iter()
                .map(|(id, name)| Choice {
                    value: id.to_string(),
                    label: name.clone(),
                    selected: form.radiologist_id.trim() == id.to_string(),
                })
                .collect(),
        })
        .collect();
    let modality_sel = if form.modality.trim().is_empty() {
        ctx.modalities.first().map(|m| m.as_str()).unwrap_or("")
    } else {
        form.modality.trim()
    }
    .to_owned();
    let modalities = ctx
        .modalities
        .iter()
        .map(|m| Choice {
            value: m.as_str().into(),
            label: m.as_str().into(),
            selected: m.as_str() == modality_sel,
        })
        .collect();
    let priors = ctx
        .other_studies
        .iter()
        .map(|s| Choice {
            value: s.id.to_string(),
            label: prior_label(&page, s),
            selected: form.priors.iter().any(|p| p.trim() == s.id.to_string()),
        })
        .collect();
    FormPage {
        patient: PatientBox::of(&page, &ctx.patient, &ctx.study, ctx.arriving, today),
        targets,
        auto_selected: wanted.is_empty() || wanted == "auto",
        radiologists,
        urgencies: choices(
            &page,
            Urgency::ALL,
            |v| format!("request.urgency.{v}"),
            Urgency::as_str,
            &form.urgency,
        ),
        categories: choices(
            &page,
            Category::ALL,
            |v| format!("request.category.{v}"),
            Category::as_str,
            &form.category,
        ),
        modalities,
        body_parts: body_part_groups(&page, &data.parts, &form.body_parts),
        purposes: choices(
            &page,
            Purpose::ALL,
            |v| format!("request.purpose.{v}"),
            Purpose::as_str,
            &form.purpose,
        ),
        clinical_infos: choices(
            &page,
            ClinicalInfo::ALL,
            |v| format!("request.clinical.{v}"),
            ClinicalInfo::as_str,
            &form.clinical_info,
        ),
        priors,
        attachment_name: data.attachment_name,
        max_attachment_mb: MAX_ATTACHMENT_BYTES / (1024 * 1024),
        study_id,
        form,
        errors,
        page,
    }
}

/// The form's starting values: routine, clinical, the study's body part when the catalogue
/// knows it.
fn initial_form(ctx: &StudyContext, parts: &[BodyPart]) -> RequestForm {
    let bp = ctx.study.body_part.trim().to_ascii_uppercase();
    RequestForm {
        urgency: Urgency::Routine.as_str().into(),
        category: Category::Clinical.as_str().into(),
        modality: ctx
            .modalities
            .first()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
        body_parts: parts
            .iter()
            .filter(|b| b.code == bp)
            .map(|b| b.code.clone())
            .collect(),
        ..RequestForm::default()
    }
}

async fn allow(state: &AppState, me: &SignedIn, study_id: i64) -> Result<(), WebError> {
    authz::allow(
        state,
        me,
        requester_check(&me.principal),
        "request.form",
        Some(("study", study_id.to_string())),
    )
    .await
}

/// `GET /studies/{id}/request`: the empty form.
pub async fn new_form(state: web::Data<AppState>, me: SignedIn, path: web::Path<i64>) -> WebResult {
    let study_id = path.into_inner();
    allow(&state, &me, study_id).await?;
    let (fid, uid) = (me.principal.facility_id, me.principal.user_id);
    let now = state.clock.now();
    let arriving = state.settings.ingest.arriving_seconds;
    let audit_ctx = me.audit_ctx();
    let r = state
        .db(move |c| {
            let ctx = core::study_context(c, fid, study_id, now, arriving)?;
            let parts = catalogue::list(c, false)?;
            let form = initial_form(&ctx, &parts);
            let data = load_form_data(c, &audit_ctx, fid, uid, study_id, &form, now, arriving)?;
            Ok((form, data))
        })
        .await;
    let (form, data) = authz::found(
        &state,
        &me,
        r,
        "request.form",
        ("study", study_id.to_string()),
    )
    .await?;
    render(&form_page(
        &state,
        &me,
        study_id,
        form,
        data,
        FieldErrors::new(),
    ))
}

/// The fields of a posted form (urlencoded or multipart) and an uploaded letter, if any.
struct Posted {
    fields: Vec<(String, String)>,
    file: Option<(String, String, web::Bytes)>,
}

impl Posted {
    fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn form(&self) -> Result<RequestForm, WebError> {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                self.fields
                    .iter()
                    .filter(|(k, _)| k != "csrf_token" && k != "action"),
            )
            .finish();
        serde_html_form::from_str(&encoded).map_err(|_| WebError::BadRequest("form"))
    }
}

/// Reads the body (bounded), checks Origin and CSRF token, and splits fields and file.
async fn read_posted(
    state: &AppState,
    me: &SignedIn,
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<Posted, WebError> {
    if !crate::web::csrf::origin_ok(req, state) {
        return Err(WebError::Csrf);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| WebError::BadRequest("body"))?;
        if body.len() + chunk.len() > MAX_FORM_BYTES {
            return Err(WebError::BadRequest("too large"));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let posted = if ct.starts_with("application/x-www-form-urlencoded") {
        Posted {
            fields: serde_html_form::from_bytes(&body).map_err(|_| WebError::BadRequest("form"))?,
            file: None,
        }
    } else if ct.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(&ct).map_err(|_| WebError::BadRequest("form"))?;
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut mp = multer::Multipart::new(stream, boundary);
        let mut fields = Vec::new();
        let mut file = None;
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|_| WebError::BadRequest("form"))?
        {
            let name = field.name().unwrap_or("").to_owned();
            if name == "attachment" {
                let file_name = sanitise_name(field.file_name().unwrap_or(""));
                let ctype = field
                    .content_type()
                    .map(|m| m.essence_str().to_owned())
                    .unwrap_or_default();
                let data = field
                    .bytes()
                    .await
                    .map_err(|_| WebError::BadRequest("form"))?;
                if !data.is_empty() {
                    file = Some((file_name, ctype, data));
                }
            } else {
                let text = field
                    .text()
                    .await
                    .map_err(|_| WebError::BadRequest("form"))?;
                fields.push((name, text));
            }
        }
        Posted { fields, file }
    } else {
        return Err(WebError::BadRequest("form encoding"));
    };
    let expected = me.ctx.csrf_token();
    if expected.is_empty() || !shared::auth::constant_time_eq(posted.get("csrf_token"), &expected) {
        return Err(WebError::Csrf);
    }
    Ok(posted)
}

/// A referral letter must be a PDF (by its magic, not its name) within the size limit.
fn check_pdf(data: &[u8]) -> Result<(), &'static str> {
    if data.len() > MAX_ATTACHMENT_BYTES {
        return Err("request.err_attachment_size");
    }
    if !data.starts_with(b"%PDF-") {
        return Err("request.err_attachment_pdf");
    }
    Ok(())
}

/// `POST /studies/{id}/request`: `action=review` validates and shows the confirmation;
/// `action=refresh` (or `edit`, from the confirmation) shows the form again with prices for
/// the current choices. A letter, if uploaded, is stored and staged for this request.
pub async fn review(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    req: HttpRequest,
    payload: web::Payload,
) -> WebResult {
    let study_id = path.into_inner();
    allow(&state, &me, study_id).await?;
    let posted = read_posted(&state, &me, &req, payload).await?;
    let mut form = posted.form()?;
    let mut errors = FieldErrors::new();
    if let Some((name, _ctype, data)) = posted.file.clone() {
        match check_pdf(&data) {
            Err(m) => errors.add("attachment", m),
            Ok(()) => {
                let blob = state
                    .ingestor
                    .store()
                    .put(data.clone())
                    .await
                    .map_err(|e| WebError::Unavailable(e.to_string()))?;
                let ctx = me.audit_ctx();
                let (fid, uid) = (me.principal.facility_id, me.principal.user_id);
                let a = state
                    .db(move |c| {
                        store::stage_attachment(
                            c,
                            &ctx,
                            fid,
                            uid,
                            &name,
                            "application/pdf",
                            i64::try_from(blob.size).unwrap_or(i64::MAX),
                            &blob.sha256,
                            blob.key.as_str(),
                        )
                    })
                    .await?;
                form.attachment_id = a.id.to_string();
            }
        }
    }
    let (fid, uid) = (me.principal.facility_id, me.principal.user_id);
    let now = state.clock.now();
    let arriving = state.settings.ingest.arriving_seconds;
    let action = posted.get("action").to_owned();
    let f = form.clone();
    let audit_ctx = me.audit_ctx();
    let r = state
        .db(move |c| {
            let data = load_form_data(c, &audit_ctx, fid, uid, study_id, &f, now, arriving)?;
            if action != "review" {
                return Ok((data, None));
            }
            let who = core::Requester {
                facility_id: fid,
                user_id: uid,
            };
            match core::validate(c, who, data.ctx.clone(), &f, now) {
                Ok(d) => Ok((data, Some(Ok(d)))),
                Err(shared::Error::Validation(e)) => Ok((data, Some(Err(e)))),
                Err(other) => Err(other),
            }
        })
        .await;
    let (data, outcome) = authz::found(
        &state,
        &me,
        r,
        "request.form",
        ("study", study_id.to_string()),
    )
    .await?;
    match outcome {
        Some(Ok(draft)) if errors.is_empty() => {
            render(&confirm_page(&state, &me, study_id, form, &draft))
        }
        Some(Err(e)) => {
            for fe in e.iter() {
                errors.add(fe.field, fe.message);
            }
            render_invalid(&form_page(&state, &me, study_id, form, data, errors))
        }
        Some(Ok(_)) => render_invalid(&form_page(&state, &me, study_id, form, data, errors)),
        None if errors.is_empty() => render(&form_page(&state, &me, study_id, form, data, errors)),
        None => render_invalid(&form_page(&state, &me, study_id, form, data, errors)),
    }
}

fn confirm_page(
    state: &AppState,
    me: &SignedIn,
    study_id: i64,
    mut form: RequestForm,
    d: &Draft,
) -> ConfirmPage {
    let page = Page::for_user(state, me, "request.title_confirm");
    let today = radvision::core::calendar::to_jst(state.clock.now()).date();
    let ja = page.lang_code() == "ja";
    // What is filed is what is shown: the form carries the normalised choices and the total.
    form.supporting_facility_id = if d.routed_by_rule {
        "auto".into()
    } else {
        d.target.facility_id.to_string()
    };
    form.expected_total = d.target.quote.total.to_string();
    form.expected_target = d.target.facility_id.to_string();
    form.body_parts = d.body_parts.iter().map(|b| b.code.clone()).collect();
    form.priors = d.priors.iter().map(|p| p.id.to_string()).collect();
    ConfirmPage {
        patient: PatientBox::of(
            &page,
            &d.context.patient,
            &d.context.study,
            d.context.arriving,
            today,
        ),
        target_name: d.target.name.clone(),
        routed_by_rule: d.routed_by_rule,
        routing_note: d.routing_note.clone(),
        radiologist: d.radiologist.as_ref().map(|r| r.1.clone()),
        due: page.time(&d.target.due_at),
        urgency_key: format!("request.urgency.{}", d.urgency),
        category_key: format!("request.category.{}", d.category),
        modality: d.modality.as_str().into(),
        body_parts: d
            .body_parts
            .iter()
            .map(|b| format!("{}（{}）", b.name(ja), b.code))
            .collect(),
        purpose_key: format!("request.purpose.{}", d.purpose),
        clinical_key: format!("request.clinical.{}", d.clinical_info),
        priors: d.priors.iter().map(|p| prior_label(&page, p)).collect(),
        attachment_name: d.attachment.as_ref().map(|a| a.file_name.clone()),
        quote: quote_view(&page, &d.target.quote),
        after_hours: d.target.after_hours,
        study_id,
        form,
        page,
    }
}

/// `POST /studies/{id}/request/submit`: files the request as confirmed. A total other than
/// the server's (tampered, or prices changed meanwhile) is refused and nothing is written.
pub async fn submit(
    state: web::Data<AppState>,
    me: SignedIn,
    path: web::Path<i64>,
    req: HttpRequest,
    payload: web::Payload,
) -> WebResult {
    let study_id = path.into_inner();
    allow(&state, &me, study_id).await?;
    let posted = read_posted(&state, &me, &req, payload).await?;
    let form = posted.form()?;
    let (fid, uid) = (me.principal.facility_id, me.principal.user_id);
    let now = state.clock.now();
    let arriving = state.settings.ingest.arriving_seconds;
    let ctx = me.audit_ctx();
    let f = form.clone();
    let r = state
        .db(move |c| {
            let who = core::Requester {
                facility_id: fid,
                user_id: uid,
            };
            let at = Filing {
                now,
                arriving_seconds: arriving,
                require_expected_total: true,
            };
            match core::file(c, &ctx, who, study_id, &f, at) {
                Ok(r) => {
                    radvision::core::auto_assign::after_filing(c, r.supporting_facility_id, now);
                    Ok(Ok(r))
                }
                Err(shared::Error::Validation(e)) => {
                    let data = load_form_data(c, &ctx, fid, uid, study_id, &f, now, arriving)?;
                    Ok(Err((e, Some(data))))
                }
                Err(shared::Error::Conflict(m)) => {
                    let data = load_form_data(c, &ctx, fid, uid, study_id, &f, now, arriving)?;
                    Ok(Err((
                        FieldErrors::single("supporting_facility_id", m),
                        Some(data),
                    )))
                }
                Err(other) => Err(other),
            }
        })
        .await;
    match authz::found(
        &state,
        &me,
        r,
        "request.create",
        ("study", study_id.to_string()),
    )
    .await?
    {
        Ok(r) => Ok(see_other(&format!(
            "/requests/{}?notice=flash.request_filed",
            r.id
        ))),
        Err((e, Some(data))) => render_invalid(&form_page(&state, &me, study_id, form, data, e)),
        Err((_, None)) => Ok(HttpResponse::UnprocessableEntity().finish()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ages_count_birthdays() {
        let b = NaiveDate::from_ymd_opt(1960, 4, 1).unwrap();
        assert_eq!(
            age_on(b, NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()),
            Some(65)
        );
        assert_eq!(
            age_on(b, NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()),
            Some(66)
        );
        assert_eq!(
            age_on(b, NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()),
            None
        );
    }

    #[test]
    fn letters_must_be_pdfs() {
        assert!(check_pdf(b"%PDF-1.7\n...").is_ok());
        assert_eq!(check_pdf(b"MZ\x90\x00"), Err("request.err_attachment_pdf"));
    }
}
