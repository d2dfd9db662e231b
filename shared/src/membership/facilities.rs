//! Member facilities: clinics and hospitals, plus the operator and the prefecture.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Ctx, Event};
use crate::db::schema::{facilities, users};
use crate::db::{self, DbConnection};
use crate::domain::{EmailList, FacilityKind, FacilityStatus, Phone};
use crate::error::{Error, OptionalExt, Result};
use crate::validation::{self, FieldErrors};

#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = facilities)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Facility {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub is_requesting: bool,
    pub is_supporting: bool,
    pub status: String,
    pub postal_address: String,
    pub phone: String,
    pub notification_emails: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Facility {
    pub fn kind(&self) -> FacilityKind {
        FacilityKind::parse(&self.kind).unwrap_or(FacilityKind::Clinic)
    }
    pub fn status(&self) -> FacilityStatus {
        FacilityStatus::parse(&self.status).unwrap_or(FacilityStatus::Suspended)
    }
    pub fn is_active(&self) -> bool {
        self.status() == FacilityStatus::Active
    }
    pub fn emails(&self) -> Vec<&str> {
        self.notification_emails.lines().collect()
    }
}

/// The facility form as submitted (screens and API share it).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FacilityForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default, deserialize_with = "crate::serde_util::checkbox")]
    pub is_requesting: bool,
    #[serde(default, deserialize_with = "crate::serde_util::checkbox")]
    pub is_supporting: bool,
    #[serde(default)]
    pub postal_address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub notification_emails: String,
}

impl FacilityForm {
    pub fn from_facility(f: &Facility) -> Self {
        FacilityForm {
            name: f.name.clone(),
            kind: f.kind.clone(),
            is_requesting: f.is_requesting,
            is_supporting: f.is_supporting,
            postal_address: f.postal_address.clone(),
            phone: f.phone.clone(),
            notification_emails: f.notification_emails.clone(),
        }
    }
}

#[derive(AsChangeset, Insertable, Debug)]
#[diesel(table_name = facilities)]
struct FacilityValues {
    name: String,
    kind: String,
    is_requesting: bool,
    is_supporting: bool,
    postal_address: String,
    phone: String,
    notification_emails: String,
}

fn validate(
    conn: &mut DbConnection,
    form: &FacilityForm,
    id: Option<i64>,
) -> Result<FacilityValues> {
    let mut e = FieldErrors::new();
    let name = e.take("name", validation::required_text(&form.name, 100));
    let kind = e.take("kind", FacilityKind::parse(&form.kind));
    let address = e.take(
        "postal_address",
        validation::optional_text(&form.postal_address, 200),
    );
    let phone = e.take("phone", Phone::parse(&form.phone));
    let kind_is_medical = matches!(kind, Some(FacilityKind::Clinic | FacilityKind::Hospital));
    let emails = e.take(
        "notification_emails",
        EmailList::parse(&form.notification_emails, kind_is_medical),
    );
    if kind_is_medical && !form.is_requesting && !form.is_supporting {
        e.add("is_requesting", "err.facility_role_required");
    }
    if !kind_is_medical && kind.is_some() && (form.is_requesting || form.is_supporting) {
        e.add("is_requesting", "err.facility_role_not_medical");
    }
    if let Some(n) = &name {
        let mut q = facilities::table
            .filter(facilities::name.eq(n))
            .select(facilities::id)
            .into_boxed();
        if let Some(id) = id {
            q = q.filter(facilities::id.ne(id));
        }
        if q.first::<i64>(conn).optional()?.is_some() {
            e.add("name", "err.duplicate");
        }
    }
    match (name, kind, address, phone, emails) {
        (Some(name), Some(kind), Some(postal_address), Some(phone), Some(emails))
            if e.is_empty() =>
        {
            Ok(FacilityValues {
                name,
                kind: kind.as_str().into(),
                is_requesting: form.is_requesting,
                is_supporting: form.is_supporting,
                postal_address,
                phone: phone.as_str().into(),
                notification_emails: emails.to_stored(),
            })
        }
        _ => Err(Error::Validation(e)),
    }
}

#[derive(Insertable)]
#[diesel(table_name = facilities)]
struct NewFacility {
    #[diesel(embed)]
    values: FacilityValues,
    status: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Registers a facility. New member facilities start as `applied` (the association admits
/// them); `initial_status` lets the demo and the first set-up create active ones.
pub fn create(
    conn: &mut DbConnection,
    ctx: &Ctx,
    form: &FacilityForm,
    initial_status: FacilityStatus,
) -> Result<Facility> {
    db::write_tx(conn, |c| {
        let values = validate(c, form, None)?;
        let now = db::now();
        let f: Facility = diesel::insert_into(facilities::table)
            .values(NewFacility {
                values,
                status: initial_status.as_str().into(),
                created_at: now,
                updated_at: now,
            })
            .returning(facilities::all_columns)
            .get_result(c)?;
        audit::record(
            c,
            ctx,
            Event::success("facility.create")
                .object("facility", f.id)
                .detail(serde_json::json!({"name": f.name, "kind": f.kind, "status": f.status})),
        )?;
        Ok(f)
    })
}

pub fn update(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: i64,
    form: &FacilityForm,
) -> Result<Facility> {
    db::write_tx(conn, |c| {
        let before = get(c, id)?;
        let values = validate(c, form, Some(id))?;
        if values.kind != before.kind {
            // Changing kind would strand users with roles the new kind does not allow.
            return Err(FieldErrors::single("kind", "err.kind_fixed").into());
        }
        let f: Facility = diesel::update(facilities::table.find(id))
            .set((&values, facilities::updated_at.eq(db::now())))
            .returning(facilities::all_columns)
            .get_result(c)?;
        audit::record(
            c,
            ctx,
            Event::success("facility.update")
                .object("facility", f.id)
                .detail(serde_json::json!({"name": f.name})),
        )?;
        Ok(f)
    })
}

/// Moves a facility to another membership state (admit, suspend, reinstate, withdraw).
/// Suspension takes effect at once: its users' sessions are ended and its DICOM nodes are
/// refused, because both check the facility's status on every use.
pub fn set_status(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: i64,
    next: FacilityStatus,
) -> Result<Facility> {
    db::write_tx(conn, |c| {
        let before = get(c, id)?;
        if !before.status().can_become(next) {
            return Err(Error::Conflict("err.status_transition"));
        }
        if matches!(before.kind(), FacilityKind::Operator) && next != FacilityStatus::Active {
            return Err(Error::Conflict("err.operator_fixed"));
        }
        let f: Facility = diesel::update(facilities::table.find(id))
            .set((
                facilities::status.eq(next.as_str()),
                facilities::updated_at.eq(db::now()),
            ))
            .returning(facilities::all_columns)
            .get_result(c)?;
        if next != FacilityStatus::Active {
            let user_ids = users::table
                .filter(users::facility_id.eq(id))
                .select(users::id);
            diesel::delete(
                crate::db::schema::sessions::table
                    .filter(crate::db::schema::sessions::user_id.eq_any(user_ids)),
            )
            .execute(c)?;
        }
        audit::record(
            c,
            ctx,
            Event::success("facility.status")
                .object("facility", f.id)
                .detail(serde_json::json!({"from": before.status, "to": f.status})),
        )?;
        Ok(f)
    })
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Facility> {
    facilities::table
        .find(id)
        .select(Facility::as_select())
        .first(conn)
        .found()
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Facility>> {
    Ok(facilities::table
        .select(Facility::as_select())
        .order((facilities::kind.asc(), facilities::name.asc()))
        .load(conn)?)
}

/// Facilities of a status, e.g. applications waiting for admission.
pub fn list_by_status(conn: &mut DbConnection, status: FacilityStatus) -> Result<Vec<Facility>> {
    Ok(facilities::table
        .filter(facilities::status.eq(status.as_str()))
        .select(Facility::as_select())
        .order(facilities::name.asc())
        .load(conn)?)
}
