//! The price-table editor: the posted form (rows `{category}.{exam}.{column}`, table-wide
//! fields, the start date and an example study), its validation into a new version, and the
//! preview of the unsaved version on the example study by the pricing engine.

use std::collections::HashMap;

use askama::Template;
use chrono::{NaiveDate, NaiveDateTime};
use radvision::core::pricing::{self as engine, PriceInput, PriceRule, PricingError};
use radvision::core::requests::{rule_of_new, tax_of_new};
use shared::domain::{Category, Exam, Rounding};
use shared::reading::pricing::{
    self as tables, NewPriceVersion, PriceTableForm, ITEM_COLUMNS, ROWS,
};
use shared::validation::FieldErrors;

use super::view::{category_key, exam_key, rounding_key};
use super::Owner;
use crate::web::page::Page;
use crate::web::request_form::{quote_view, QuoteView};

/// The example study's fields, beside the table's in the same form.
const EXAMPLE_FIELDS: &[&str] = &[
    "example_category",
    "example_exam",
    "example_body_parts",
    "example_images",
    "example_emergency",
    "example_after_hours",
    "example_priors",
];

/// Table-wide fields of the form.
const TABLE_FIELDS: &[&str] = &[
    "effective_date",
    "tax_included",
    "tax_rate_percent",
    "rounding",
    "after_hours_start",
    "after_hours_end",
    "holidays_after_hours",
    "note",
];

/// What the editor's submit button asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Preview,
    Save,
}

/// The posted editor: the form's known fields (anything else is dropped) and the action.
pub struct Posted {
    pub form: PriceTableForm,
    pub action: Action,
}

impl Posted {
    /// From the urlencoded pairs (a repeated name keeps its last value).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Posted {
        let mut action = Action::Preview;
        let mut fields = HashMap::new();
        for (k, v) in pairs {
            if k == "action" {
                action = if v == "save" {
                    Action::Save
                } else {
                    Action::Preview
                };
            } else if is_known(&k) {
                fields.insert(k, v);
            }
        }
        Posted {
            form: PriceTableForm { fields },
            action,
        }
    }
}

fn is_known(name: &str) -> bool {
    if TABLE_FIELDS.contains(&name) || EXAMPLE_FIELDS.contains(&name) {
        return true;
    }
    ROWS.iter().any(|(_, _, key)| {
        name.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|col| ITEM_COLUMNS.contains(&col))
    })
}

/// Validates the form into a new version and the moment it takes effect (`effective_date`:
/// empty is now, a past day is refused). Errors name the field or the row (`clinical.ct`).
pub fn check(
    form: &PriceTableForm,
    now: NaiveDateTime,
) -> Result<(NewPriceVersion, NaiveDateTime), FieldErrors> {
    let mut errors = FieldErrors::new();
    let raw = form.get("effective_date").trim();
    let date = if raw.is_empty() {
        Ok(None)
    } else {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| "err.date")
    };
    let from = errors.take(
        "effective_date",
        date.and_then(|d| tables::effective_from(d, now)),
    );
    match (form.validate(), from) {
        (Ok(v), Some(from)) => Ok((v, from)),
        (Ok(_), None) => Err(errors),
        (Err(e), _) => {
            merge(&mut errors, &e);
            Err(errors)
        }
    }
}

pub fn merge(into: &mut FieldErrors, from: &FieldErrors) {
    for e in from.iter() {
        into.add(e.field, e.message);
    }
}

/// The example study the preview prices, as typed.
#[derive(Debug, Clone)]
pub struct Example {
    pub category: String,
    pub exam: String,
    pub body_parts: String,
    pub images: String,
    pub emergency: bool,
    pub after_hours: bool,
    pub priors: String,
}

impl Default for Example {
    /// A clinical CT of one body part and 500 images, routine, in hours, no prior.
    fn default() -> Example {
        Example {
            category: Category::Clinical.as_str().into(),
            exam: Exam::Ct.as_str().into(),
            body_parts: "1".into(),
            images: "500".into(),
            emergency: false,
            after_hours: false,
            priors: "0".into(),
        }
    }
}

fn count(s: &str, min: u32, max: u32) -> Result<u32, &'static str> {
    match s.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err("err.number"),
    }
}

impl Example {
    pub fn from_form(f: &PriceTableForm) -> Example {
        let on = |name: &str| matches!(f.get(name), "on" | "true" | "1" | "yes");
        Example {
            category: f.get("example_category").into(),
            exam: f.get("example_exam").into(),
            body_parts: f.get("example_body_parts").into(),
            images: f.get("example_images").into(),
            emergency: on("example_emergency"),
            after_hours: on("example_after_hours"),
            priors: f.get("example_priors").into(),
        }
    }

    /// The engine's input, or the errors of the example's fields.
    pub fn input(&self, e: &mut FieldErrors) -> Option<PriceInput> {
        let category = e.take("example_category", Category::parse(&self.category));
        let exam = e.take("example_exam", Exam::parse(&self.exam));
        let body_parts = e.take(
            "example_body_parts",
            count(&self.body_parts, 1, engine::MAX_BODY_PARTS),
        );
        let images = e.take("example_images", count(&self.images, 0, engine::MAX_IMAGES));
        let priors = e.take("example_priors", count(&self.priors, 0, 100));
        Some(PriceInput {
            category: category?,
            exam: exam?,
            body_parts: body_parts?,
            images: images?,
            emergency: self.emergency,
            after_hours: self.after_hours,
            comparisons: priors?,
        })
    }
}

/// Prices the example on an unsaved version; a failure names the example field to blame.
pub fn preview(
    v: &NewPriceVersion,
    input: &PriceInput,
) -> Result<engine::Quote, (&'static str, &'static str)> {
    let rules: Vec<PriceRule> = v.items.iter().filter_map(rule_of_new).collect();
    engine::quote(&rules, &tax_of_new(v), input).map_err(|e| match e {
        PricingError::NoRule { .. } => ("example_exam", "err.price_preview_no_row"),
        PricingError::Invalid(_) => ("example_images", "err.price_preview"),
    })
}

/// An option of a select or radio group.
pub struct Opt {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

/// One input of a row.
pub struct Cell {
    pub name: String,
    pub header: String,
    pub value: String,
    pub checkbox: bool,
    pub checked: bool,
    /// A number input (prices and counts) rather than text.
    pub numeric: bool,
}

pub struct EditorRow {
    /// The row's prefix, `clinical.ct`: the name of its error.
    pub key: &'static str,
    pub name: String,
    pub enabled: bool,
    pub cells: Vec<Cell>,
}

pub struct EditorGroup {
    pub label: String,
    pub rows: Vec<EditorRow>,
}

#[derive(Template)]
#[template(path = "pricing/edit.html")]
pub struct EditPage {
    pub page: Page,
    pub base: &'static str,
    pub form: PriceTableForm,
    /// Which of the tax radio buttons is checked (neither when the value is unknown).
    pub tax_included: bool,
    pub tax_excluded: bool,
    pub holidays_after_hours: bool,
    pub roundings: Vec<Opt>,
    pub headers: Vec<String>,
    pub groups: Vec<EditorGroup>,
    pub example: Example,
    pub categories: Vec<Opt>,
    pub exams: Vec<Opt>,
    pub preview: Option<QuoteView>,
    pub errors: FieldErrors,
}

fn checked(f: &PriceTableForm, name: &str) -> bool {
    matches!(f.get(name), "on" | "true" | "1" | "yes")
}

/// The editor page for `form`, with its errors and the preview, if any.
pub fn page(
    page: Page,
    owner: Owner,
    form: PriceTableForm,
    example: Example,
    preview: Option<&engine::Quote>,
    errors: FieldErrors,
) -> EditPage {
    let columns: Vec<&str> = ITEM_COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != "enabled")
        .collect();
    let headers = columns
        .iter()
        .map(|c| page.t(&format!("pricing.col.{c}")).to_owned())
        .collect();
    let groups = Category::ALL
        .iter()
        .map(|cat| EditorGroup {
            label: page.t(category_key(*cat)).to_owned(),
            rows: ROWS
                .iter()
                .filter(|(c, _, _)| c == cat)
                .map(|&(_, exam, key)| EditorRow {
                    key,
                    name: page.t(exam_key(exam)).to_owned(),
                    enabled: checked(&form, &format!("{key}.enabled")),
                    cells: columns
                        .iter()
                        .map(|col| {
                            let name = format!("{key}.{col}");
                            let checkbox = *col == "includes_comparison";
                            Cell {
                                header: page.t(&format!("pricing.col.{col}")).to_owned(),
                                value: form.get(&name).to_owned(),
                                checked: checkbox && checked(&form, &name),
                                checkbox,
                                numeric: *col != "label",
                                name,
                            }
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let roundings = Rounding::ALL
        .iter()
        .map(|r| Opt {
            value: r.as_str(),
            label: page.t(rounding_key(*r)).to_owned(),
            selected: form.get("rounding") == r.as_str(),
        })
        .collect();
    let categories = Category::ALL
        .iter()
        .map(|c| Opt {
            value: c.as_str(),
            label: page.t(category_key(*c)).to_owned(),
            selected: example.category == c.as_str(),
        })
        .collect();
    let exams = Exam::ALL
        .iter()
        .map(|e| Opt {
            value: e.as_str(),
            label: page.t(exam_key(*e)).to_owned(),
            selected: example.exam == e.as_str(),
        })
        .collect();
    let tax_included = form.get("tax_included") == "true";
    let tax_excluded = form.get("tax_included") == "false";
    let preview = preview.map(|q| quote_view(&page, q));
    EditPage {
        base: owner.base(),
        holidays_after_hours: checked(&form, "holidays_after_hours"),
        tax_included,
        tax_excluded,
        form,
        roundings,
        headers,
        groups,
        example,
        categories,
        exams,
        preview,
        errors,
        page,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn only_known_fields_are_kept_and_the_action_is_read() {
        let p = Posted::from_pairs(pairs(&[
            ("csrf_token", "x"),
            ("clinical.ct.base_price", "3300"),
            ("clinical.ct.bogus", "1"),
            ("screening.fundus.enabled", "on"),
            ("example_images", "1200"),
            ("action", "save"),
        ]));
        assert_eq!(p.action, Action::Save);
        assert_eq!(p.form.get("clinical.ct.base_price"), "3300");
        assert_eq!(p.form.get("screening.fundus.enabled"), "on");
        assert_eq!(p.form.get("example_images"), "1200");
        assert_eq!(p.form.fields.len(), 3);
        assert_eq!(
            Posted::from_pairs(pairs(&[("action", "whatever")])).action,
            Action::Preview
        );
    }

    #[test]
    fn a_posted_form_deserialises_as_pairs() {
        let body = "clinical.ct.enabled=on&clinical.ct.base_price=3%2C300&clinical.ct.enabled=on";
        let v: Vec<(String, String)> = serde_html_form::from_str(body).unwrap();
        let p = Posted::from_pairs(v);
        assert_eq!(p.form.get("clinical.ct.base_price"), "3,300");
    }

    #[test]
    fn the_preview_prices_the_unsaved_rows() {
        let mut f = PriceTableForm::blank();
        for (k, v) in [
            ("clinical.ct.enabled", "on"),
            ("clinical.ct.base_price", "3300"),
            ("clinical.ct.covered_body_parts", "2"),
            ("clinical.ct.covered_images", "500"),
            ("clinical.ct.extra_images_block", "500"),
            ("clinical.ct.extra_images_price", "550"),
        ] {
            f.set(k, v);
        }
        let now = NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(6, 0, 0)
            .unwrap();
        let (v, from) = check(&f, now).unwrap();
        assert_eq!(from, now);
        let ex = Example {
            images: "1200".into(),
            ..Example::default()
        };
        let mut e = FieldErrors::new();
        let input = ex.input(&mut e).unwrap();
        let q = preview(&v, &input).unwrap();
        // 3,300 + 2 started blocks of 500 beyond 500 images × 550, tax included.
        assert_eq!(q.total, 4_400);
        assert_eq!(q.tax, 400);
        let mri = PriceInput {
            exam: Exam::Mri,
            ..input
        };
        assert_eq!(
            preview(&v, &mri).unwrap_err(),
            ("example_exam", "err.price_preview_no_row")
        );
    }

    #[test]
    fn a_past_start_and_a_bad_example_are_named() {
        let mut f = PriceTableForm::blank();
        f.set("clinical.ct.enabled", "on");
        f.set("clinical.ct.base_price", "3300");
        f.set("effective_date", "2020-01-01");
        let now = NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(6, 0, 0)
            .unwrap();
        let e = check(&f, now).unwrap_err();
        assert_eq!(e.get("effective_date"), Some("err.effective_past"));
        f.set("effective_date", "24/11/2026");
        let e = check(&f, now).unwrap_err();
        assert_eq!(e.get("effective_date"), Some("err.date"));
        let ex = Example {
            body_parts: "0".into(),
            exam: "xray".into(),
            ..Example::default()
        };
        let mut e = FieldErrors::new();
        assert!(ex.input(&mut e).is_none());
        assert_eq!(e.get("example_body_parts"), Some("err.number"));
        assert_eq!(e.get("example_exam"), Some("err.invalid_choice"));
    }
}
