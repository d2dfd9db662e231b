//! The report screens' views: from the domain's `ReportView` to what the templates show.

use askama::Template;
use shared::index::Study;
use shared::reading::catalogue::BodyPart;
use shared::reading::key_images::KeyImageRef;
use shared::reading::report_templates::ReportTemplate;
use shared::reading::reports::{self as store, EarlierReport, ReportView, VersionKeyImage};
use shared::validation::FieldErrors;

use super::TextForm;
use crate::state::AppState;
use crate::web::error::WebResult;
use crate::web::page::{render, render_invalid, Page};
use crate::web::request_form::PatientBox;
use crate::web::session::SignedIn;

/// What the editor loads.
pub struct EditorData {
    pub view: ReportView,
    pub parts: Vec<BodyPart>,
    pub templates: Vec<ReportTemplate>,
    pub marks: Vec<KeyImageRef>,
    pub earlier: Vec<EarlierReport>,
    pub chosen: Option<ReportTemplate>,
}

/// A one-line message at the top of a report screen.
#[derive(Debug, Clone, Copy)]
pub enum Notice {
    Done(&'static str),
    Error(&'static str),
}

impl Notice {
    /// The notice named by `?done=` (anything else is ignored).
    pub fn of(done: Option<&str>) -> Option<Notice> {
        match done {
            Some("saved") => Some(Notice::Done("report.draft_saved")),
            Some("confirmed") => Some(Notice::Done("report.confirmed_done")),
            Some("addendum") => Some(Notice::Done("report.addendum_done")),
            Some("acknowledged") => Some(Notice::Done("report.acknowledged_done")),
            _ => None,
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Notice::Error(_))
    }
    pub fn key(&self) -> &'static str {
        match self {
            Notice::Done(k) | Notice::Error(k) => k,
        }
    }
}

pub struct Facts {
    pub status: String,
    pub status_key: String,
    pub urgency: String,
    pub urgency_key: String,
    pub modality: String,
    pub body_parts: Vec<String>,
    pub purpose_key: String,
    pub purpose_note: String,
    pub clinical_key: String,
    pub clinical_note: String,
    pub contact_phone: String,
    pub due: String,
}

pub struct Thumb {
    pub url: String,
    pub label: String,
}

pub struct VersionRow {
    pub version: i32,
    pub label: String,
    pub kind_key: String,
    pub is_addendum: bool,
    pub reason: String,
    pub author: String,
    pub confirmer: String,
    pub at: String,
    pub findings: String,
    pub impression: String,
    pub recommendation: String,
    pub key_images: Vec<Thumb>,
}

pub struct EarlierRow {
    pub study_date: String,
    pub modality: String,
    pub description: String,
    pub findings: String,
    pub impression: String,
    pub confirmed_at: String,
    pub versions: usize,
}

pub struct TemplateOpt {
    pub id: i64,
    pub name: String,
    pub findings: String,
    pub impression: String,
    pub recommendation: String,
}

fn thumb(study_uid: &str, series_uid: &str, sop: &str, frame: i32) -> Thumb {
    Thumb {
        url: format!(
            "/dicom-web/studies/{study_uid}/series/{series_uid}/instances/{sop}/thumbnail"
        ),
        label: format!("{sop} #{frame}"),
    }
}

fn version_thumb(k: &VersionKeyImage) -> Thumb {
    thumb(&k.study_uid, &k.series_uid, &k.sop_instance_uid, k.frame)
}

fn facts(page: &Page, v: &ReportView, parts: &[BodyPart]) -> Facts {
    let r = &v.request;
    let ja = page.lang_code() == "ja";
    Facts {
        status: r.status.clone(),
        status_key: format!("request.status.{}", r.status),
        urgency: r.urgency.clone(),
        urgency_key: format!("request.urgency.{}", r.urgency),
        modality: r.modality.clone(),
        body_parts: r
            .body_part_codes()
            .iter()
            .map(|code| match parts.iter().find(|b| b.code == *code) {
                Some(b) => format!("{}（{}）", b.name(ja), b.code),
                None => (*code).to_owned(),
            })
            .collect(),
        purpose_key: format!("request.purpose.{}", r.purpose),
        purpose_note: r.purpose_note.clone(),
        clinical_key: format!("request.clinical.{}", r.clinical_info),
        clinical_note: r.clinical_note.clone(),
        contact_phone: r.contact_phone.clone(),
        due: page.time(&r.due_at),
    }
}

fn versions(page: &Page, v: &ReportView) -> Vec<VersionRow> {
    v.versions
        .iter()
        .map(|x| {
            let ver = &x.version;
            VersionRow {
                version: ver.version,
                label: page
                    .t("report.version")
                    .replace("{n}", &ver.version.to_string()),
                kind_key: format!("report.kind.{}", ver.kind),
                is_addendum: ver.kind == "addendum",
                reason: ver.addendum_reason.clone().unwrap_or_default(),
                author: x.author.clone(),
                confirmer: x.confirmer.clone(),
                at: page.time(&ver.confirmed_at),
                findings: ver.findings.clone(),
                impression: ver.impression.clone(),
                recommendation: ver.recommendation.clone(),
                key_images: x.key_images.iter().map(version_thumb).collect(),
            }
        })
        .collect()
}

fn patient_box(
    state: &AppState,
    page: &Page,
    patient: &shared::index::Patient,
    study: &Study,
) -> PatientBox {
    let today = radvision::core::calendar::to_jst(state.clock.now()).date();
    PatientBox::of(page, patient, study, false, today)
}

#[derive(Template)]
#[template(path = "reports/editor.html")]
struct EditorPage {
    page: Page,
    id: i64,
    patient: PatientBox,
    facts: Facts,
    notice: Option<Notice>,
    errors: FieldErrors,
    can_write: bool,
    live: bool,
    reported: bool,
    findings: String,
    impression: String,
    recommendation: String,
    addendum_reason: String,
    revision: i32,
    marks: Vec<Thumb>,
    templates: Vec<TemplateOpt>,
    earlier: Vec<EarlierRow>,
    versions: Vec<VersionRow>,
}

/// The editor; `form` keeps what was sent when it is re-shown with errors.
pub fn editor(
    state: &AppState,
    me: &SignedIn,
    d: EditorData,
    form: Option<TextForm>,
    errors: FieldErrors,
    notice: Option<Notice>,
    conflict: bool,
) -> WebResult {
    let page = Page::for_user(state, me, "report.title_editor");
    let v = &d.view;
    let reported = store::is_reported(v.request.status());
    let draft_text = match (&d.chosen, &v.draft) {
        (Some(t), _) => (
            t.findings.clone(),
            t.impression.clone(),
            t.recommendation.clone(),
        ),
        (None, Some(dr)) => (
            dr.findings.clone(),
            dr.impression.clone(),
            dr.recommendation.clone(),
        ),
        (None, None) => Default::default(),
    };
    let invalid = !errors.is_empty();
    let (findings, impression, recommendation, addendum_reason) = match &form {
        Some(f) => (
            f.findings.clone(),
            f.impression.clone(),
            f.recommendation.clone(),
            f.addendum_reason.clone(),
        ),
        // An addendum starts from the latest confirmed text, to be corrected in place.
        None if reported => v
            .latest()
            .map(|l| {
                (
                    l.version.findings.clone(),
                    l.version.impression.clone(),
                    l.version.recommendation.clone(),
                    String::new(),
                )
            })
            .unwrap_or_default(),
        None => (draft_text.0, draft_text.1, draft_text.2, String::new()),
    };
    let t = EditorPage {
        id: v.request.id,
        patient: patient_box(state, &page, &v.patient, &v.study),
        facts: facts(&page, v, &d.parts),
        notice,
        errors,
        can_write: store::may_write(&me.principal),
        live: store::may_confirm(v.request.status()),
        reported,
        findings,
        impression,
        recommendation,
        addendum_reason,
        revision: v.draft.as_ref().map_or(0, |d| d.revision),
        marks: d
            .marks
            .iter()
            .map(|k| {
                thumb(
                    &v.study.study_uid,
                    &k.series_uid,
                    &k.sop_instance_uid,
                    k.frame,
                )
            })
            .collect(),
        templates: d
            .templates
            .iter()
            .map(|t| TemplateOpt {
                id: t.id,
                name: t.name.clone(),
                findings: t.findings.clone(),
                impression: t.impression.clone(),
                recommendation: t.recommendation.clone(),
            })
            .collect(),
        earlier: d
            .earlier
            .iter()
            .map(|e| EarlierRow {
                study_date: e
                    .study_date
                    .map(|x| x.format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "—".into()),
                modality: e.modality.clone(),
                description: e.description.clone(),
                findings: e.latest.findings.clone(),
                impression: e.latest.impression.clone(),
                confirmed_at: page.time(&e.latest.confirmed_at),
                versions: e.versions,
            })
            .collect(),
        versions: versions(&page, v),
        page,
    };
    if conflict {
        let body = askama::Template::render(&t)?;
        return Ok(actix_web::HttpResponse::Conflict()
            .content_type("text/html; charset=utf-8")
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .body(body));
    }
    if invalid {
        render_invalid(&t)
    } else {
        render(&t)
    }
}

#[derive(Template)]
#[template(path = "reports/confirm.html")]
struct ConfirmPage {
    page: Page,
    id: i64,
    patient: PatientBox,
    facts: Facts,
    findings: String,
    impression: String,
    recommendation: String,
    revision: i32,
    marks: Vec<Thumb>,
}

/// The confirmation step: the saved draft as it will be confirmed.
pub fn confirm_step(state: &AppState, me: &SignedIn, d: EditorData, revision: i32) -> WebResult {
    let page = Page::for_user(state, me, "report.title_confirm");
    let v = &d.view;
    let draft = v.draft.clone();
    let t = ConfirmPage {
        id: v.request.id,
        patient: patient_box(state, &page, &v.patient, &v.study),
        facts: facts(&page, v, &d.parts),
        findings: draft
            .as_ref()
            .map(|x| x.findings.clone())
            .unwrap_or_default(),
        impression: draft
            .as_ref()
            .map(|x| x.impression.clone())
            .unwrap_or_default(),
        recommendation: draft
            .as_ref()
            .map(|x| x.recommendation.clone())
            .unwrap_or_default(),
        revision,
        marks: d
            .marks
            .iter()
            .map(|k| {
                thumb(
                    &v.study.study_uid,
                    &k.series_uid,
                    &k.sop_instance_uid,
                    k.frame,
                )
            })
            .collect(),
        page,
    };
    render(&t)
}

#[derive(Template)]
#[template(path = "reports/view.html")]
struct ClinicPage {
    page: Page,
    id: i64,
    patient: PatientBox,
    facts: Facts,
    notice: Option<Notice>,
    requesting: String,
    supporting: String,
    acknowledged: bool,
    can_acknowledge: bool,
    versions: Vec<VersionRow>,
}

/// The clinic's report (also what is printed).
pub fn clinic(
    state: &AppState,
    me: &SignedIn,
    v: ReportView,
    parts: Vec<BodyPart>,
    names: (String, String),
    notice: Option<Notice>,
) -> WebResult {
    let page = Page::for_user(state, me, "report.title_view");
    let status = v.request.status();
    let t = ClinicPage {
        id: v.request.id,
        patient: patient_box(state, &page, &v.patient, &v.study),
        facts: facts(&page, &v, &parts),
        notice,
        requesting: names.0,
        supporting: names.1,
        acknowledged: status == shared::domain::RequestStatus::Acknowledged,
        can_acknowledge: status == shared::domain::RequestStatus::Confirmed,
        versions: versions(&page, &v),
        page,
    };
    render(&t)
}
