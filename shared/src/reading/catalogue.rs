//! The body-part catalogue the request form offers: DICOM Body Part Examined defined terms
//! (PS3.16 Annex L) with Japanese names, grouped by region, seeded by a migration. The
//! association extends it and fills in JJ1017 codes from the official master (which is not
//! shipped, so no code is invented here).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Ctx, Event};
use crate::db::schema::body_parts;
use crate::db::{self, DbConnection};
use crate::domain::BodyRegion;
use crate::error::{OptionalExt, Result};
use crate::validation::{self, FieldErrors};

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = body_parts)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct BodyPart {
    pub code: String,
    pub region: String,
    pub name_ja: String,
    pub name_en: String,
    pub jj1017_code: Option<String>,
    pub sort_order: i32,
    pub is_active: bool,
    pub updated_at: NaiveDateTime,
}

impl BodyPart {
    pub fn region(&self) -> BodyRegion {
        BodyRegion::parse(&self.region).unwrap_or(BodyRegion::Other)
    }

    /// The name in the viewer's language.
    pub fn name(&self, japanese: bool) -> &str {
        if japanese {
            &self.name_ja
        } else {
            &self.name_en
        }
    }
}

/// A Body Part Examined code: 1–16 characters of A–Z, 0–9 and `_` (a DICOM CS value).
pub fn parse_code(s: &str) -> Result<String, &'static str> {
    let t = s.trim().to_ascii_uppercase();
    if t.is_empty() {
        return Err("err.required");
    }
    if t.len() > 16
        || !t
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("err.body_part_code");
    }
    Ok(t)
}

/// A JJ1017 code as an administrator copies it from the master: letters and digits, at most
/// 32 characters; empty means "not filled in".
pub fn parse_jj1017(s: &str) -> Result<Option<String>, &'static str> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.len() > 32 || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("err.jj1017");
    }
    Ok(Some(t.to_ascii_uppercase()))
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct BodyPartForm {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub name_ja: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub jj1017_code: String,
    #[serde(default)]
    pub sort_order: String,
    #[serde(default, deserialize_with = "crate::serde_util::checkbox")]
    pub is_active: bool,
}

impl BodyPartForm {
    pub fn from_part(b: &BodyPart) -> BodyPartForm {
        BodyPartForm {
            code: b.code.clone(),
            region: b.region.clone(),
            name_ja: b.name_ja.clone(),
            name_en: b.name_en.clone(),
            jj1017_code: b.jj1017_code.clone().unwrap_or_default(),
            sort_order: b.sort_order.to_string(),
            is_active: b.is_active,
        }
    }
}

#[derive(Insertable, AsChangeset, Debug)]
#[diesel(table_name = body_parts)]
#[diesel(treat_none_as_null = true)]
struct Values {
    region: String,
    name_ja: String,
    name_en: String,
    jj1017_code: Option<String>,
    sort_order: i32,
    is_active: bool,
    updated_at: NaiveDateTime,
}

fn validate(f: &BodyPartForm) -> Result<Values, FieldErrors> {
    let mut e = FieldErrors::new();
    let region = e.take("region", BodyRegion::parse(f.region.trim()));
    let name_ja = e.take("name_ja", validation::required_text(&f.name_ja, 40));
    let name_en = e.take("name_en", validation::required_text(&f.name_en, 60));
    let jj = e.take("jj1017_code", parse_jj1017(&f.jj1017_code));
    let sort = match f.sort_order.trim() {
        "" => Some(0),
        s => match s.parse::<i32>() {
            Ok(n) if (0..=100_000).contains(&n) => Some(n),
            _ => {
                e.add("sort_order", "err.number");
                None
            }
        },
    };
    match (region, name_ja, name_en, jj, sort) {
        (Some(region), Some(name_ja), Some(name_en), Some(jj1017_code), Some(sort_order))
            if e.is_empty() =>
        {
            Ok(Values {
                region: region.as_str().into(),
                name_ja,
                name_en,
                jj1017_code,
                sort_order,
                is_active: f.is_active,
                updated_at: db::now(),
            })
        }
        _ => Err(e),
    }
}

/// The catalogue, by region order then `sort_order`; inactive entries only when asked.
pub fn list(conn: &mut DbConnection, include_inactive: bool) -> Result<Vec<BodyPart>> {
    let mut all: Vec<BodyPart> = body_parts::table
        .select(BodyPart::as_select())
        .order((body_parts::sort_order.asc(), body_parts::code.asc()))
        .load(conn)?;
    if !include_inactive {
        all.retain(|b| b.is_active);
    }
    all.sort_by_key(|b| {
        (
            BodyRegion::ALL
                .iter()
                .position(|r| *r == b.region())
                .unwrap_or(usize::MAX),
            b.sort_order,
        )
    });
    Ok(all)
}

pub fn get(conn: &mut DbConnection, code: &str) -> Result<BodyPart> {
    body_parts::table
        .find(code)
        .select(BodyPart::as_select())
        .first(conn)
        .found()
}

/// Adds an entry (the code must be new).
pub fn create(conn: &mut DbConnection, ctx: &Ctx, f: &BodyPartForm) -> Result<BodyPart> {
    let code = parse_code(&f.code);
    let values = validate(f);
    let (code, values) = match (code, values) {
        (Ok(c), Ok(v)) => (c, v),
        (c, v) => {
            let mut e = v.err().unwrap_or_default();
            if let Err(m) = c {
                e.add("code", m);
            }
            return Err(e.into());
        }
    };
    db::write_tx(conn, |c| {
        if body_parts::table.find(&code).count().get_result::<i64>(c)? > 0 {
            return Err(FieldErrors::single("code", "err.body_part_exists").into());
        }
        diesel::insert_into(body_parts::table)
            .values((body_parts::code.eq(&code), &values))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::success("body_part.create").object("body_part", &code),
        )?;
        get(c, &code)
    })
}

/// Edits an entry (names, region, JJ1017 code, order, active); the code itself stays.
pub fn update(
    conn: &mut DbConnection,
    ctx: &Ctx,
    code: &str,
    f: &BodyPartForm,
) -> Result<BodyPart> {
    let values = validate(f)?;
    db::write_tx(conn, |c| {
        get(c, code)?;
        diesel::update(body_parts::table.find(code))
            .set(&values)
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::success("body_part.update")
                .object("body_part", code)
                .detail(serde_json::json!({
                    "jj1017_code": values.jj1017_code, "is_active": values.is_active,
                })),
        )?;
        get(c, code)
    })
}

/// Validates a list of codes against the active catalogue: at least one, at most 10, each
/// known; returned without duplicates in the order given. The inner error is the field's
/// message.
pub fn check_codes(
    conn: &mut DbConnection,
    codes: &[String],
) -> Result<Result<Vec<String>, &'static str>> {
    let mut out: Vec<String> = Vec::new();
    for raw in codes.iter().filter(|c| !c.trim().is_empty()) {
        let Ok(code) = parse_code(raw) else {
            return Ok(Err("err.body_part_unknown"));
        };
        if !out.contains(&code) {
            out.push(code);
        }
    }
    if out.is_empty() {
        return Ok(Err("err.required"));
    }
    if out.len() > 10 {
        return Ok(Err("err.too_many"));
    }
    let known: i64 = body_parts::table
        .filter(body_parts::code.eq_any(&out))
        .filter(body_parts::is_active.eq(true))
        .count()
        .get_result(conn)?;
    if known as usize != out.len() {
        return Ok(Err("err.body_part_unknown"));
    }
    Ok(Ok(out))
}
