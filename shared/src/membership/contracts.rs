//! Contracts: which requesting facility may send to which supporting facility, from when
//! until when, and for which modalities.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Ctx, Event};
use crate::db::schema::{contracts, facilities};
use crate::db::{self, DbConnection};
use crate::domain::Modality;
use crate::error::{Error, OptionalExt, Result};
use crate::membership::facilities::{self as fac, Facility};
use crate::validation::{self, FieldErrors};

#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = contracts)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Contract {
    pub id: i64,
    pub requesting_facility_id: i64,
    pub supporting_facility_id: i64,
    pub modalities: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub note: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Contract {
    pub fn modalities(&self) -> Vec<Modality> {
        Modality::parse_list(&self.modalities).unwrap_or_default()
    }
    pub fn in_force_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_until.is_none_or(|u| day <= u)
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContractForm {
    #[serde(default)]
    pub requesting_facility_id: String,
    #[serde(default)]
    pub supporting_facility_id: String,
    #[serde(default, deserialize_with = "crate::serde_util::string_list")]
    pub modalities: Vec<String>,
    #[serde(default)]
    pub valid_from: String,
    #[serde(default)]
    pub valid_until: String,
    #[serde(default)]
    pub note: String,
}

impl ContractForm {
    pub fn from_contract(c: &Contract) -> Self {
        ContractForm {
            requesting_facility_id: c.requesting_facility_id.to_string(),
            supporting_facility_id: c.supporting_facility_id.to_string(),
            modalities: c
                .modalities()
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
            valid_from: c.valid_from.to_string(),
            valid_until: c.valid_until.map(|d| d.to_string()).unwrap_or_default(),
            note: c.note.clone(),
        }
    }
}

#[derive(AsChangeset, Insertable, Debug)]
#[diesel(table_name = contracts)]
#[diesel(treat_none_as_null = true)]
struct ContractValues {
    requesting_facility_id: i64,
    supporting_facility_id: i64,
    modalities: String,
    valid_from: NaiveDate,
    valid_until: Option<NaiveDate>,
    note: String,
}

fn parse_date(s: &str) -> Result<NaiveDate, &'static str> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| "err.date")
}

fn facility_field(
    c: &mut DbConnection,
    e: &mut FieldErrors,
    field: &'static str,
    raw: &str,
) -> Result<Option<Facility>> {
    let Ok(id) = raw.trim().parse::<i64>() else {
        e.add(field, "err.required");
        return Ok(None);
    };
    match fac::get(c, id) {
        Ok(f) => Ok(Some(f)),
        Err(Error::NotFound) => {
            e.add(field, "err.invalid_choice");
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

fn validate(c: &mut DbConnection, form: &ContractForm) -> Result<ContractValues> {
    let mut e = FieldErrors::new();
    let req = facility_field(
        c,
        &mut e,
        "requesting_facility_id",
        &form.requesting_facility_id,
    )?;
    let sup = facility_field(
        c,
        &mut e,
        "supporting_facility_id",
        &form.supporting_facility_id,
    )?;
    if let Some(r) = &req {
        if !r.is_requesting {
            e.add("requesting_facility_id", "err.not_requesting");
        }
    }
    if let Some(s) = &sup {
        if !s.is_supporting {
            e.add("supporting_facility_id", "err.not_supporting");
        }
    }
    if let (Some(r), Some(s)) = (&req, &sup) {
        if r.id == s.id {
            e.add("supporting_facility_id", "err.same_facility");
        }
    }
    let modalities = e.take(
        "modalities",
        Modality::parse_list(&form.modalities.join(" ")),
    );
    if modalities.as_ref().is_some_and(|m| m.is_empty()) {
        e.add("modalities", "err.required");
    }
    let from = if form.valid_from.trim().is_empty() {
        e.add("valid_from", "err.required");
        None
    } else {
        e.take("valid_from", parse_date(&form.valid_from))
    };
    let until = if form.valid_until.trim().is_empty() {
        Some(None)
    } else {
        e.take("valid_until", parse_date(&form.valid_until).map(Some))
    };
    if let (Some(f), Some(Some(u))) = (from, until) {
        if u < f {
            e.add("valid_until", "err.until_before_from");
        }
    }
    let note = e.take("note", validation::optional_multiline(&form.note, 1000));
    match (req, sup, modalities, from, until, note) {
        (Some(r), Some(s), Some(m), Some(from), Some(until), Some(note)) if e.is_empty() => {
            Ok(ContractValues {
                requesting_facility_id: r.id,
                supporting_facility_id: s.id,
                modalities: Modality::list_to_stored(&m),
                valid_from: from,
                valid_until: until,
                note,
            })
        }
        _ => Err(Error::Validation(e)),
    }
}

fn overlaps(c: &mut DbConnection, v: &ContractValues, except: Option<i64>) -> Result<bool> {
    let others: Vec<Contract> = contracts::table
        .filter(contracts::requesting_facility_id.eq(v.requesting_facility_id))
        .filter(contracts::supporting_facility_id.eq(v.supporting_facility_id))
        .select(Contract::as_select())
        .load(c)?;
    Ok(others.iter().filter(|o| Some(o.id) != except).any(|o| {
        let o_until = o.valid_until.unwrap_or(NaiveDate::MAX);
        let v_until = v.valid_until.unwrap_or(NaiveDate::MAX);
        o.valid_from <= v_until && v.valid_from <= o_until
    }))
}

pub fn create(conn: &mut DbConnection, ctx: &Ctx, form: &ContractForm) -> Result<Contract> {
    db::write_tx(conn, |c| {
        let v = validate(c, form)?;
        if overlaps(c, &v, None)? {
            return Err(FieldErrors::single("valid_from", "err.contract_overlap").into());
        }
        let now = db::now();
        let k: Contract = diesel::insert_into(contracts::table)
            .values((
                &v,
                contracts::created_at.eq(now),
                contracts::updated_at.eq(now),
            ))
            .returning(contracts::all_columns)
            .get_result(c)?;
        audit::record(
            c,
            ctx,
            Event::success("contract.create")
                .object("contract", k.id)
                .detail(serde_json::json!({
                    "requesting_facility_id": k.requesting_facility_id,
                    "supporting_facility_id": k.supporting_facility_id,
                    "modalities": k.modalities,
                    "valid_from": k.valid_from, "valid_until": k.valid_until,
                })),
        )?;
        Ok(k)
    })
}

pub fn update(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: i64,
    form: &ContractForm,
) -> Result<Contract> {
    db::write_tx(conn, |c| {
        get(c, id)?;
        let v = validate(c, form)?;
        if overlaps(c, &v, Some(id))? {
            return Err(FieldErrors::single("valid_from", "err.contract_overlap").into());
        }
        let k: Contract = diesel::update(contracts::table.find(id))
            .set((&v, contracts::updated_at.eq(db::now())))
            .returning(contracts::all_columns)
            .get_result(c)?;
        audit::record(c, ctx, Event::success("contract.update").object("contract", k.id).detail(
            serde_json::json!({"modalities": k.modalities, "valid_from": k.valid_from, "valid_until": k.valid_until}),
        ))?;
        Ok(k)
    })
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Contract> {
    contracts::table
        .find(id)
        .select(Contract::as_select())
        .first(conn)
        .found()
}

/// All contracts with both facilities, newest first.
pub fn list(conn: &mut DbConnection) -> Result<Vec<(Contract, Facility, Facility)>> {
    let all: Vec<Contract> = contracts::table
        .select(Contract::as_select())
        .order(contracts::id.desc())
        .load(conn)?;
    let facilities = fac::list(conn)?;
    let find = |id: i64| facilities.iter().find(|f| f.id == id).cloned();
    Ok(all
        .into_iter()
        .filter_map(|k| {
            let r = find(k.requesting_facility_id)?;
            let s = find(k.supporting_facility_id)?;
            Some((k, r, s))
        })
        .collect())
}

/// What a requesting facility's users see: the supporting facilities it may send to today.
#[derive(Debug, Clone, Serialize)]
pub struct DirectoryEntry {
    pub facility_id: i64,
    pub name: String,
    pub phone: String,
    pub modalities: Vec<Modality>,
    pub contract_valid_from: NaiveDate,
    pub contract_valid_until: Option<NaiveDate>,
}

/// Supporting facilities with a contract in force today with `requesting_facility_id`, both
/// facilities active.
pub fn directory(
    conn: &mut DbConnection,
    requesting_facility_id: i64,
    today: NaiveDate,
) -> Result<Vec<DirectoryEntry>> {
    let me = fac::get(conn, requesting_facility_id)?;
    if !me.is_active() || !me.is_requesting {
        return Ok(Vec::new());
    }
    let rows: Vec<(Contract, Facility)> = contracts::table
        .inner_join(facilities::table.on(facilities::id.eq(contracts::supporting_facility_id)))
        .filter(contracts::requesting_facility_id.eq(requesting_facility_id))
        .filter(facilities::status.eq("active"))
        .select((Contract::as_select(), Facility::as_select()))
        .order(facilities::name.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(k, _)| k.in_force_on(today))
        .map(|(k, f)| DirectoryEntry {
            facility_id: f.id,
            name: f.name,
            phone: f.phone,
            modalities: k.modalities(),
            contract_valid_from: k.valid_from,
            contract_valid_until: k.valid_until,
        })
        .collect())
}
