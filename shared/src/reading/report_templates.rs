//! Report templates (定型文): each supporting facility keeps its own, per exam and optionally
//! per body region; the editor offers those matching the request. Templates carry no patient
//! data. Radiologists and coordinators of the facility manage them (the caller checks the
//! role); every change is audited in its transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Ctx, Event};
use crate::db::schema::report_templates;
use crate::db::{self, DbConnection};
use crate::domain::{BodyRegion, Exam};
use crate::error::{OptionalExt, Result};
use crate::reading::reports::{MAX_RECOMMENDATION, MAX_TEXT};
use crate::validation::{optional_multiline, required_text, FieldErrors};

/// At most this many templates per facility.
pub const MAX_PER_FACILITY: i64 = 500;

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = report_templates)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ReportTemplate {
    pub id: i64,
    pub facility_id: i64,
    pub exam: String,
    pub region: Option<String>,
    pub name: String,
    pub findings: String,
    pub impression: String,
    pub recommendation: String,
    pub updated_by: i64,
    pub updated_at: NaiveDateTime,
}

/// The template form as sent (text, validated by [`TemplateForm::validate`]).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    pub exam: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub findings: String,
    #[serde(default)]
    pub impression: String,
    #[serde(default)]
    pub recommendation: String,
}

/// A validated template.
#[derive(Debug, Clone)]
pub struct ValidTemplate {
    pub exam: Exam,
    pub region: Option<BodyRegion>,
    pub name: String,
    pub findings: String,
    pub impression: String,
    pub recommendation: String,
}

impl TemplateForm {
    pub fn from_template(t: &ReportTemplate) -> TemplateForm {
        TemplateForm {
            exam: t.exam.clone(),
            region: t.region.clone().unwrap_or_default(),
            name: t.name.clone(),
            findings: t.findings.clone(),
            impression: t.impression.clone(),
            recommendation: t.recommendation.clone(),
        }
    }

    pub fn validate(&self) -> std::result::Result<ValidTemplate, FieldErrors> {
        let mut e = FieldErrors::new();
        let exam = e.take("exam", Exam::parse(self.exam.trim()));
        let region = match self.region.trim() {
            "" => Some(None),
            r => e.take("region", BodyRegion::parse(r)).map(Some),
        };
        let name = e.take("name", required_text(&self.name, 100));
        let findings = e.take("findings", optional_multiline(&self.findings, MAX_TEXT));
        let impression = e.take("impression", optional_multiline(&self.impression, MAX_TEXT));
        let recommendation = e.take(
            "recommendation",
            optional_multiline(&self.recommendation, MAX_RECOMMENDATION),
        );
        match (exam, region, name, findings, impression, recommendation) {
            (
                Some(exam),
                Some(region),
                Some(name),
                Some(findings),
                Some(impression),
                Some(recommendation),
            ) if e.is_empty() => Ok(ValidTemplate {
                exam,
                region,
                name,
                findings,
                impression,
                recommendation,
            }),
            _ => Err(e),
        }
    }
}

/// The facility's templates, by exam, region and name.
pub fn list(c: &mut DbConnection, facility_id: i64) -> Result<Vec<ReportTemplate>> {
    Ok(report_templates::table
        .filter(report_templates::facility_id.eq(facility_id))
        .select(ReportTemplate::as_select())
        .order((
            report_templates::exam.asc(),
            report_templates::region.asc(),
            report_templates::name.asc(),
            report_templates::id.asc(),
        ))
        .load(c)?)
}

/// The facility's templates for an exam: those for any region and those for one of
/// `regions`.
pub fn for_exam(
    c: &mut DbConnection,
    facility_id: i64,
    exam: &str,
    regions: &[String],
) -> Result<Vec<ReportTemplate>> {
    Ok(list(c, facility_id)?
        .into_iter()
        .filter(|t| t.exam == exam)
        .filter(|t| t.region.as_ref().is_none_or(|r| regions.contains(r)))
        .collect())
}

/// One template of the facility, or `NotFound`.
pub fn get(c: &mut DbConnection, facility_id: i64, id: i64) -> Result<ReportTemplate> {
    report_templates::table
        .find(id)
        .filter(report_templates::facility_id.eq(facility_id))
        .select(ReportTemplate::as_select())
        .first(c)
        .found()
}

fn audit_event(action: &'static str, t: &ReportTemplate) -> Event {
    Event::success(action)
        .object("report_template", t.id)
        .detail(serde_json::json!({ "exam": t.exam, "region": t.region }))
}

/// Creates a template of the facility.
pub fn create(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    form: &TemplateForm,
) -> Result<ReportTemplate> {
    let v = form.validate()?;
    db::write_tx(conn, |c| {
        let n: i64 = report_templates::table
            .filter(report_templates::facility_id.eq(facility_id))
            .count()
            .get_result(c)?;
        if n >= MAX_PER_FACILITY {
            return Err(crate::Error::Conflict("report_template.err_too_many"));
        }
        let t: ReportTemplate = diesel::insert_into(report_templates::table)
            .values((
                report_templates::facility_id.eq(facility_id),
                report_templates::exam.eq(v.exam.as_str()),
                report_templates::region.eq(v.region.map(|r| r.as_str())),
                report_templates::name.eq(&v.name),
                report_templates::findings.eq(&v.findings),
                report_templates::impression.eq(&v.impression),
                report_templates::recommendation.eq(&v.recommendation),
                report_templates::updated_by.eq(user_id),
                report_templates::updated_at.eq(db::now()),
            ))
            .returning(report_templates::all_columns)
            .get_result(c)?;
        audit::record(c, ctx, audit_event("report_template.create", &t))?;
        Ok(t)
    })
}

/// Changes a template of the facility (another facility's is `NotFound`).
pub fn update(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    id: i64,
    form: &TemplateForm,
) -> Result<ReportTemplate> {
    db::write_tx(conn, |c| {
        get(c, facility_id, id)?;
        let v = form.validate()?;
        let t: ReportTemplate = diesel::update(
            report_templates::table
                .find(id)
                .filter(report_templates::facility_id.eq(facility_id)),
        )
        .set((
            report_templates::exam.eq(v.exam.as_str()),
            report_templates::region.eq(v.region.map(|r| r.as_str())),
            report_templates::name.eq(&v.name),
            report_templates::findings.eq(&v.findings),
            report_templates::impression.eq(&v.impression),
            report_templates::recommendation.eq(&v.recommendation),
            report_templates::updated_by.eq(user_id),
            report_templates::updated_at.eq(db::now()),
        ))
        .returning(report_templates::all_columns)
        .get_result(c)?;
        audit::record(c, ctx, audit_event("report_template.update", &t))?;
        Ok(t)
    })
}

/// Deletes a template of the facility (another facility's is `NotFound`).
pub fn delete(conn: &mut DbConnection, ctx: &Ctx, facility_id: i64, id: i64) -> Result<()> {
    db::write_tx(conn, |c| {
        let t = get(c, facility_id, id)?;
        diesel::delete(report_templates::table.find(t.id)).execute(c)?;
        audit::record(c, ctx, audit_event("report_template.delete", &t))?;
        Ok(())
    })
}
