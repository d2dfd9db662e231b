//! A price-table version as the read-only screens show it: table-wide terms, then rows
//! grouped by category with what the base price covers and every surcharge, in yen.

use chrono::NaiveDateTime;
use shared::domain::{format_yen, Category, Exam, Rounding};
use shared::reading::pricing::{PriceItem, PriceTable, PriceVersion};

use crate::web::page::Page;

/// One version, ready to print.
pub struct TableView {
    pub id: i64,
    pub effective_from: String,
    pub created_at: String,
    /// 税込 / 税別.
    pub tax: String,
    /// `税率 10%`.
    pub tax_rate: String,
    pub rounding: String,
    /// `17:30〜08:30`.
    pub after_hours: String,
    pub holidays: String,
    pub note: String,
    pub groups: Vec<GroupView>,
}

/// The rows of one category (臨床 or 健診).
pub struct GroupView {
    pub label: String,
    pub rows: Vec<ItemView>,
}

pub struct ItemView {
    pub exam: String,
    pub label: String,
    pub base_price: String,
    pub covers: Vec<String>,
    pub extra_body_part: String,
    pub extra_images: String,
    pub emergency: String,
    pub after_hours: String,
    pub comparison: String,
}

/// A row of the versions list.
pub struct VersionRow {
    pub href: String,
    pub effective_from: String,
    pub created_at: String,
    pub state_key: &'static str,
    pub in_force: bool,
}

pub fn category_key(c: Category) -> &'static str {
    match c {
        Category::Clinical => "pricing.category.clinical",
        Category::Screening => "pricing.category.screening",
    }
}

pub fn exam_key(e: Exam) -> &'static str {
    match e {
        Exam::Ct => "pricing.exam.ct",
        Exam::Mri => "pricing.exam.mri",
        Exam::CrDx => "pricing.exam.cr_dx",
        Exam::Mmg => "pricing.exam.mmg",
        Exam::Ugi => "pricing.exam.ugi",
        Exam::Fundus => "pricing.exam.fundus",
        Exam::Us => "pricing.exam.us",
        Exam::NmPet => "pricing.exam.nm_pet",
        Exam::Other => "pricing.exam.other",
    }
}

pub fn rounding_key(r: Rounding) -> &'static str {
    match r {
        Rounding::Floor => "pricing.rounding.floor",
        Rounding::HalfUp => "pricing.rounding.half_up",
        Rounding::Ceil => "pricing.rounding.ceil",
    }
}

/// `3,300円` (or `¥3,300` in English).
pub fn yen(page: &Page, amount: i64) -> String {
    page.t("pricing.yen")
        .replace("{amount}", &format_yen(amount))
}

/// An amount, or a dash when nothing is charged.
fn charge(page: &Page, amount: i64) -> String {
    if amount > 0 {
        yen(page, amount)
    } else {
        "—".into()
    }
}

pub fn table(page: &Page, v: &PriceVersion) -> TableView {
    let t = &v.table;
    TableView {
        id: t.id,
        effective_from: page.time(&t.effective_from),
        created_at: page.time(&t.created_at),
        tax: page.t(tax_key(t.tax_included)).to_owned(),
        tax_rate: page
            .t("pricing.tax.rate")
            .replace("{rate}", &t.tax_rate_percent.to_string()),
        rounding: page.t(rounding_key(t.rounding())).to_owned(),
        after_hours: format!("{}〜{}", t.after_hours_start, t.after_hours_end),
        holidays: page
            .t(if t.holidays_after_hours {
                "pricing.holidays.yes"
            } else {
                "pricing.holidays.no"
            })
            .to_owned(),
        note: t.note.clone(),
        groups: groups(page, &v.items),
    }
}

pub fn tax_key(included: bool) -> &'static str {
    if included {
        "pricing.tax.included"
    } else {
        "pricing.tax.excluded"
    }
}

/// Rows by category, each category in the order of the exams; empty categories left out.
fn groups(page: &Page, items: &[PriceItem]) -> Vec<GroupView> {
    Category::ALL
        .iter()
        .filter_map(|c| {
            let mut rows: Vec<(usize, ItemView)> = items
                .iter()
                .filter(|i| i.category() == Some(*c))
                .map(|i| {
                    let order = i
                        .exam()
                        .and_then(|e| Exam::ALL.iter().position(|x| *x == e))
                        .unwrap_or(usize::MAX);
                    (order, item(page, i))
                })
                .collect();
            rows.sort_by_key(|(order, _)| *order);
            (!rows.is_empty()).then(|| GroupView {
                label: page.t(category_key(*c)).to_owned(),
                rows: rows.into_iter().map(|(_, r)| r).collect(),
            })
        })
        .collect()
}

fn item(page: &Page, i: &PriceItem) -> ItemView {
    let mut covers = Vec::new();
    if let Some(n) = i.covered_body_parts {
        covers.push(
            page.t("pricing.covers.body_parts")
                .replace("{n}", &format_yen(i64::from(n))),
        );
    }
    if let Some(n) = i.covered_images {
        covers.push(
            page.t("pricing.covers.images")
                .replace("{n}", &format_yen(i64::from(n))),
        );
    }
    if i.covered_body_parts.is_none() && i.covered_images.is_none() {
        covers.push(page.t("pricing.covers.unlimited").to_owned());
    }
    if i.includes_comparison {
        covers.push(page.t("pricing.covers.comparison").to_owned());
    }
    let extra_body_part = match (i.covered_body_parts, i.extra_body_part_price) {
        (Some(_), p) if p > 0 => page
            .t("pricing.per_body_part")
            .replace("{amount}", &yen(page, p)),
        _ => "—".into(),
    };
    let extra_images = match (i.covered_images, i.extra_images_block) {
        (Some(_), Some(block)) if i.extra_images_price > 0 => page
            .t("pricing.per_images")
            .replace("{amount}", &yen(page, i.extra_images_price))
            .replace("{n}", &format_yen(i64::from(block))),
        _ => "—".into(),
    };
    ItemView {
        exam: i
            .exam()
            .map(|e| page.t(exam_key(e)).to_owned())
            .unwrap_or_else(|| i.exam.clone()),
        label: i.label.clone(),
        base_price: yen(page, i.base_price),
        covers,
        extra_body_part,
        extra_images,
        emergency: charge(page, i.emergency_surcharge),
        after_hours: charge(page, i.after_hours_surcharge),
        comparison: if i.includes_comparison {
            "—".into()
        } else {
            charge(page, i.comparison_price)
        },
    }
}

/// The owner's versions (newest first) with their state at `now`: the one in force, those
/// scheduled, and those that ended.
pub fn version_rows(
    page: &Page,
    versions: &[PriceTable],
    in_force: Option<i64>,
    now: NaiveDateTime,
    base: &str,
) -> Vec<VersionRow> {
    versions
        .iter()
        .map(|t| {
            let state_key = state_key(t, in_force, now);
            VersionRow {
                href: format!("{base}/versions/{}", t.id),
                effective_from: page.time(&t.effective_from),
                created_at: page.time(&t.created_at),
                state_key,
                in_force: Some(t.id) == in_force,
            }
        })
        .collect()
}

pub fn state_key(t: &PriceTable, in_force: Option<i64>, now: NaiveDateTime) -> &'static str {
    if Some(t.id) == in_force {
        "pricing.state.in_force"
    } else if t.effective_from > now {
        "pricing.state.scheduled"
    } else {
        "pricing.state.past"
    }
}
