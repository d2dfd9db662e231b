//! Price tables: each supporting facility keeps its own, the association may publish a
//! default. A table is a version in force from `effective_from` until the owner's next
//! version; versions are never changed (the database refuses it), so a new price means a new
//! version and every request can be traced to the table that priced it.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Ctx, Event};
use crate::db::schema::{price_items, price_tables};
use crate::db::{self, DbConnection};
use crate::domain::{Category, Exam, Rounding, TimeOfDay, Yen};
use crate::error::{Error, OptionalExt, Result};
use crate::validation::{self, FieldErrors};

#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = price_tables)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct PriceTable {
    pub id: i64,
    /// `None`: the association's default table.
    pub facility_id: Option<i64>,
    pub effective_from: NaiveDateTime,
    pub tax_included: bool,
    pub tax_rate_percent: i32,
    pub rounding: String,
    pub after_hours_start: String,
    pub after_hours_end: String,
    pub holidays_after_hours: bool,
    pub note: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

impl PriceTable {
    pub fn rounding(&self) -> Rounding {
        Rounding::parse(&self.rounding).unwrap_or(Rounding::Floor)
    }
}

#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = price_items)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct PriceItem {
    pub id: i64,
    pub price_table_id: i64,
    pub category: String,
    pub exam: String,
    pub label: String,
    pub base_price: i64,
    pub covered_body_parts: Option<i32>,
    pub covered_images: Option<i32>,
    pub includes_comparison: bool,
    pub extra_body_part_price: i64,
    pub extra_images_block: Option<i32>,
    pub extra_images_price: i64,
    pub emergency_surcharge: i64,
    pub after_hours_surcharge: i64,
    pub comparison_price: i64,
}

impl PriceItem {
    pub fn category(&self) -> Option<Category> {
        Category::parse(&self.category).ok()
    }
    pub fn exam(&self) -> Option<Exam> {
        Exam::parse(&self.exam).ok()
    }
}

/// One version with its rows.
#[derive(Debug, Clone, Serialize)]
pub struct PriceVersion {
    pub table: PriceTable,
    pub items: Vec<PriceItem>,
}

impl PriceVersion {
    pub fn item(&self, category: Category, exam: Exam) -> Option<&PriceItem> {
        self.items
            .iter()
            .find(|i| i.category == category.as_str() && i.exam == exam.as_str())
    }
}

/// Every row a table may have, with the form-field prefix that names it.
pub const ROWS: &[(Category, Exam, &str)] = &[
    (Category::Clinical, Exam::Ct, "clinical.ct"),
    (Category::Clinical, Exam::Mri, "clinical.mri"),
    (Category::Clinical, Exam::CrDx, "clinical.cr_dx"),
    (Category::Clinical, Exam::Mmg, "clinical.mmg"),
    (Category::Clinical, Exam::Ugi, "clinical.ugi"),
    (Category::Clinical, Exam::Fundus, "clinical.fundus"),
    (Category::Clinical, Exam::Us, "clinical.us"),
    (Category::Clinical, Exam::NmPet, "clinical.nm_pet"),
    (Category::Clinical, Exam::Other, "clinical.other"),
    (Category::Screening, Exam::Ct, "screening.ct"),
    (Category::Screening, Exam::Mri, "screening.mri"),
    (Category::Screening, Exam::CrDx, "screening.cr_dx"),
    (Category::Screening, Exam::Mmg, "screening.mmg"),
    (Category::Screening, Exam::Ugi, "screening.ugi"),
    (Category::Screening, Exam::Fundus, "screening.fundus"),
    (Category::Screening, Exam::Us, "screening.us"),
    (Category::Screening, Exam::NmPet, "screening.nm_pet"),
    (Category::Screening, Exam::Other, "screening.other"),
];

/// The columns of a row in the editor form (`{row}.{column}`).
pub const ITEM_COLUMNS: &[&str] = &[
    "enabled",
    "label",
    "base_price",
    "covered_body_parts",
    "covered_images",
    "includes_comparison",
    "extra_body_part_price",
    "extra_images_block",
    "extra_images_price",
    "emergency_surcharge",
    "after_hours_surcharge",
    "comparison_price",
];

/// A validated row of a new version.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = price_items)]
pub struct NewPriceItem {
    pub category: String,
    pub exam: String,
    pub label: String,
    pub base_price: i64,
    pub covered_body_parts: Option<i32>,
    pub covered_images: Option<i32>,
    pub includes_comparison: bool,
    pub extra_body_part_price: i64,
    pub extra_images_block: Option<i32>,
    pub extra_images_price: i64,
    pub emergency_surcharge: i64,
    pub after_hours_surcharge: i64,
    pub comparison_price: i64,
}

impl From<&PriceItem> for NewPriceItem {
    /// A stored row as the values of a new one (the editor starts from the table in force).
    fn from(i: &PriceItem) -> NewPriceItem {
        NewPriceItem {
            category: i.category.clone(),
            exam: i.exam.clone(),
            label: i.label.clone(),
            base_price: i.base_price,
            covered_body_parts: i.covered_body_parts,
            covered_images: i.covered_images,
            includes_comparison: i.includes_comparison,
            extra_body_part_price: i.extra_body_part_price,
            extra_images_block: i.extra_images_block,
            extra_images_price: i.extra_images_price,
            emergency_surcharge: i.emergency_surcharge,
            after_hours_surcharge: i.after_hours_surcharge,
            comparison_price: i.comparison_price,
        }
    }
}

/// A validated new version (without its owner and start, given when it is created).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPriceVersion {
    pub tax_included: bool,
    pub tax_rate_percent: i32,
    pub rounding: Rounding,
    pub after_hours_start: TimeOfDay,
    pub after_hours_end: TimeOfDay,
    pub holidays_after_hours: bool,
    pub note: String,
    pub items: Vec<NewPriceItem>,
}

/// The editor's form as posted: `effective_date`, the table-wide fields, and
/// `{category}.{exam}.{column}` per row (see [`ROWS`], [`ITEM_COLUMNS`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PriceTableForm {
    pub fields: HashMap<String, String>,
}

impl PriceTableForm {
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }

    fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), "on" | "true" | "1" | "yes")
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.fields.insert(name.into(), value.into());
    }

    /// The form filled from an existing version (the editor starts from the table in force).
    pub fn from_version(v: &PriceVersion) -> PriceTableForm {
        let mut f = PriceTableForm::default();
        let t = &v.table;
        f.set(
            "tax_included",
            if t.tax_included { "true" } else { "false" },
        );
        f.set("tax_rate_percent", t.tax_rate_percent.to_string());
        f.set("rounding", t.rounding.clone());
        f.set("after_hours_start", t.after_hours_start.clone());
        f.set("after_hours_end", t.after_hours_end.clone());
        if t.holidays_after_hours {
            f.set("holidays_after_hours", "on");
        }
        f.set("note", t.note.clone());
        for i in &v.items {
            let p = format!("{}.{}.", i.category, i.exam);
            let opt = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
            f.set(format!("{p}enabled"), "on");
            f.set(format!("{p}label"), i.label.clone());
            f.set(format!("{p}base_price"), i.base_price.to_string());
            f.set(format!("{p}covered_body_parts"), opt(i.covered_body_parts));
            f.set(format!("{p}covered_images"), opt(i.covered_images));
            if i.includes_comparison {
                f.set(format!("{p}includes_comparison"), "on");
            }
            f.set(
                format!("{p}extra_body_part_price"),
                i.extra_body_part_price.to_string(),
            );
            f.set(format!("{p}extra_images_block"), opt(i.extra_images_block));
            f.set(
                format!("{p}extra_images_price"),
                i.extra_images_price.to_string(),
            );
            f.set(
                format!("{p}emergency_surcharge"),
                i.emergency_surcharge.to_string(),
            );
            f.set(
                format!("{p}after_hours_surcharge"),
                i.after_hours_surcharge.to_string(),
            );
            f.set(
                format!("{p}comparison_price"),
                i.comparison_price.to_string(),
            );
        }
        f
    }

    /// An empty table with sensible table-wide defaults (tax included 10 %, rounded down,
    /// after hours 17:30–08:30 and on weekends and holidays).
    pub fn blank() -> PriceTableForm {
        let mut f = PriceTableForm::default();
        f.set("tax_included", "true");
        f.set("tax_rate_percent", "10");
        f.set("rounding", "floor");
        f.set("after_hours_start", "17:30");
        f.set("after_hours_end", "08:30");
        f.set("holidays_after_hours", "on");
        f
    }

    /// Validates the form: errors name the table-wide field or the row (`clinical.ct`).
    pub fn validate(&self) -> Result<NewPriceVersion, FieldErrors> {
        let mut e = FieldErrors::new();
        let tax_included = match self.get("tax_included") {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                e.add("tax_included", "err.invalid_choice");
                None
            }
        };
        let rate = match self.get("tax_rate_percent").trim().parse::<i32>() {
            Ok(r) if (0..=100).contains(&r) => Some(r),
            _ => {
                e.add("tax_rate_percent", "err.tax_rate");
                None
            }
        };
        let rounding = e.take("rounding", Rounding::parse(self.get("rounding")));
        let start = e.take(
            "after_hours_start",
            TimeOfDay::parse(self.get("after_hours_start")),
        );
        let end = e.take(
            "after_hours_end",
            TimeOfDay::parse(self.get("after_hours_end")),
        );
        let note = e.take(
            "note",
            validation::optional_multiline(self.get("note"), 1000),
        );
        let mut items = Vec::new();
        for (category, exam, key) in ROWS {
            let p = |col: &str| format!("{key}.{col}");
            if !self.checked(&p("enabled")) {
                continue;
            }
            match self.item(*category, *exam, &p) {
                Ok(item) => items.push(item),
                Err(msg) => e.add(key, msg),
            }
        }
        if items.is_empty() && e.is_empty() {
            e.add("items", "err.price_no_rows");
        }
        match (tax_included, rate, rounding, start, end, note) {
            (
                Some(tax_included),
                Some(tax_rate_percent),
                Some(rounding),
                Some(s),
                Some(en),
                Some(note),
            ) if e.is_empty() => Ok(NewPriceVersion {
                tax_included,
                tax_rate_percent,
                rounding,
                after_hours_start: s,
                after_hours_end: en,
                holidays_after_hours: self.checked("holidays_after_hours"),
                note,
                items,
            }),
            _ => Err(e),
        }
    }

    fn item(
        &self,
        category: Category,
        exam: Exam,
        p: &dyn Fn(&str) -> String,
    ) -> Result<NewPriceItem, &'static str> {
        let yen = |col: &str| Yen::parse(self.get(&p(col))).map(Yen::get);
        let count = |col: &str| -> Result<Option<i32>, &'static str> {
            let s = self.get(&p(col)).trim().to_owned();
            if s.is_empty() {
                return Ok(None);
            }
            match s.parse::<i32>() {
                Ok(n) if (1..=100_000).contains(&n) => Ok(Some(n)),
                _ => Err("err.price_count"),
            }
        };
        let label = validation::optional_text(self.get(&p("label")), 60)?;
        if self.get(&p("base_price")).trim().is_empty() {
            return Err("err.price_base");
        }
        let extra_images_block = count("extra_images_block")?;
        let extra_images_price = yen("extra_images_price")?;
        let covered_images = count("covered_images")?;
        if extra_images_price > 0 && (extra_images_block.is_none() || covered_images.is_none()) {
            return Err("err.price_image_block");
        }
        Ok(NewPriceItem {
            category: category.as_str().into(),
            exam: exam.as_str().into(),
            label,
            base_price: yen("base_price")?,
            covered_body_parts: count("covered_body_parts")?,
            covered_images,
            includes_comparison: self.checked(&p("includes_comparison")),
            extra_body_part_price: yen("extra_body_part_price")?,
            extra_images_block,
            extra_images_price,
            emergency_surcharge: yen("emergency_surcharge")?,
            after_hours_surcharge: yen("after_hours_surcharge")?,
            comparison_price: yen("comparison_price")?,
        })
    }
}

/// When a version chosen for `date` (Japan time) takes effect: the start of that day, or now
/// if that is later (a version never reaches back before it was written). Past days are
/// refused.
pub fn effective_from(
    date: Option<NaiveDate>,
    now: NaiveDateTime,
) -> Result<NaiveDateTime, &'static str> {
    let Some(d) = date else { return Ok(now) };
    if !(1900..=2999).contains(&chrono::Datelike::year(&d)) {
        return Err("err.date");
    }
    let jst_today = (now + chrono::Duration::hours(9)).date();
    if d < jst_today {
        return Err("err.effective_past");
    }
    let start = d.and_time(chrono::NaiveTime::MIN) - chrono::Duration::hours(9);
    Ok(start.max(now))
}

#[derive(Insertable)]
#[diesel(table_name = price_tables)]
struct NewTableRow<'a> {
    facility_id: Option<i64>,
    effective_from: NaiveDateTime,
    tax_included: bool,
    tax_rate_percent: i32,
    rounding: &'a str,
    after_hours_start: String,
    after_hours_end: String,
    holidays_after_hours: bool,
    note: &'a str,
    created_by: Option<i64>,
    created_at: NaiveDateTime,
}

/// Writes a new version for `owner` (a facility, or `None` for the association's default),
/// in force from `from`, with its audit event.
pub fn create_version(
    conn: &mut DbConnection,
    ctx: &Ctx,
    owner: Option<i64>,
    from: NaiveDateTime,
    v: &NewPriceVersion,
) -> Result<PriceVersion> {
    db::write_tx(conn, |c| {
        let now = db::now();
        let table: PriceTable = diesel::insert_into(price_tables::table)
            .values(NewTableRow {
                facility_id: owner,
                effective_from: db::truncate_micros(from),
                tax_included: v.tax_included,
                tax_rate_percent: v.tax_rate_percent,
                rounding: v.rounding.as_str(),
                after_hours_start: v.after_hours_start.to_string(),
                after_hours_end: v.after_hours_end.to_string(),
                holidays_after_hours: v.holidays_after_hours,
                note: &v.note,
                created_by: ctx.actor.user_id,
                created_at: now,
            })
            .returning(price_tables::all_columns)
            .get_result(c)?;
        for item in &v.items {
            diesel::insert_into(price_items::table)
                .values((item, price_items::price_table_id.eq(table.id)))
                .execute(c)?;
        }
        audit::record(
            c,
            ctx,
            Event::success("price_table.create")
                .object("price_table", table.id)
                .detail(serde_json::json!({
                    "owner_facility_id": owner,
                    "effective_from": table.effective_from,
                    "rows": v.items.len(),
                })),
        )?;
        get_version(c, table.id)
    })
}

pub fn get_version(conn: &mut DbConnection, id: i64) -> Result<PriceVersion> {
    let table = price_tables::table
        .find(id)
        .select(PriceTable::as_select())
        .first(conn)
        .found()?;
    let items = price_items::table
        .filter(price_items::price_table_id.eq(id))
        .select(PriceItem::as_select())
        .order(price_items::id.asc())
        .load(conn)?;
    Ok(PriceVersion { table, items })
}

/// The owner's versions, newest first.
pub fn versions(conn: &mut DbConnection, owner: Option<i64>) -> Result<Vec<PriceTable>> {
    let q = price_tables::table
        .select(PriceTable::as_select())
        .order(price_tables::effective_from.desc())
        .into_boxed();
    let q = match owner {
        Some(f) => q.filter(price_tables::facility_id.eq(f)),
        None => q.filter(price_tables::facility_id.is_null()),
    };
    Ok(q.load(conn)?)
}

/// The owner's own version in force at `at`, if any.
pub fn own_in_force(
    conn: &mut DbConnection,
    owner: Option<i64>,
    at: NaiveDateTime,
) -> Result<Option<PriceVersion>> {
    let q = price_tables::table
        .filter(price_tables::effective_from.le(at))
        .select(price_tables::id)
        .order((price_tables::effective_from.desc(), price_tables::id.desc()))
        .into_boxed();
    let q = match owner {
        Some(f) => q.filter(price_tables::facility_id.eq(f)),
        None => q.filter(price_tables::facility_id.is_null()),
    };
    match q.first::<i64>(conn).optional()? {
        Some(id) => Ok(Some(get_version(conn, id)?)),
        None => Ok(None),
    }
}

/// The table that prices a request to `facility_id` filed at `at`: the facility's own
/// version in force, else the association's default in force, else none.
pub fn in_force_for(
    conn: &mut DbConnection,
    facility_id: i64,
    at: NaiveDateTime,
) -> Result<Option<PriceVersion>> {
    if let Some(v) = own_in_force(conn, Some(facility_id), at)? {
        return Ok(Some(v));
    }
    own_in_force(conn, None, at)
}

/// Turns a missing version into a not-found error (for screens that need one).
pub fn require(v: Option<PriceVersion>) -> Result<PriceVersion> {
    v.ok_or(Error::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(rows: &[(&str, &str)]) -> PriceTableForm {
        let mut f = PriceTableForm::blank();
        for (k, v) in rows {
            f.set(*k, *v);
        }
        f
    }

    #[test]
    fn a_valid_form_becomes_a_version() {
        let f = form(&[
            ("clinical.ct.enabled", "on"),
            ("clinical.ct.label", "CT"),
            ("clinical.ct.base_price", "3,300"),
            ("clinical.ct.covered_body_parts", "2"),
            ("clinical.ct.covered_images", "500"),
            ("clinical.ct.extra_images_block", "500"),
            ("clinical.ct.extra_images_price", "550"),
            // A disabled row is ignored even with garbage in it.
            ("screening.ct.base_price", "garbage"),
        ]);
        let v = f.validate().unwrap();
        assert_eq!(v.items.len(), 1);
        assert_eq!(v.items[0].base_price, 3300);
        assert_eq!(v.items[0].covered_images, Some(500));
        assert!(v.tax_included);
        assert_eq!(v.rounding, Rounding::Floor);
    }

    #[test]
    fn bad_rows_and_fields_are_named() {
        let f = form(&[
            ("clinical.ct.enabled", "on"),
            ("clinical.ct.base_price", "-5"),
            ("clinical.mri.enabled", "on"),
            ("clinical.mri.base_price", "3300"),
            ("clinical.mri.extra_images_price", "500"),
            ("tax_rate_percent", "200"),
            ("after_hours_start", "25:00"),
        ]);
        let e = f.validate().unwrap_err();
        assert_eq!(e.get("clinical.ct"), Some("err.yen"));
        assert_eq!(e.get("clinical.mri"), Some("err.price_image_block"));
        assert_eq!(e.get("tax_rate_percent"), Some("err.tax_rate"));
        assert_eq!(e.get("after_hours_start"), Some("err.time_of_day"));
        assert_eq!(
            PriceTableForm::blank().validate().unwrap_err().get("items"),
            Some("err.price_no_rows")
        );
    }

    #[test]
    fn versions_start_no_earlier_than_now() {
        let now = NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(6, 0, 0)
            .unwrap(); // 15:00 JST
        assert_eq!(effective_from(None, now).unwrap(), now);
        let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        assert_eq!(effective_from(Some(today), now).unwrap(), now);
        let next = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            effective_from(Some(next), now).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30)
                .unwrap()
                .and_hms_opt(15, 0, 0)
                .unwrap()
        );
        let past = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert!(effective_from(Some(past), now).is_err());
        // Far-future years (which SQLite would store as text sorting before real dates).
        let far = NaiveDate::from_ymd_opt(20260, 1, 1).unwrap();
        assert_eq!(effective_from(Some(far), now), Err("err.date"));
    }
}
