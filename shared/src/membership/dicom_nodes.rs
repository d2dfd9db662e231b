//! DICOM nodes of a facility: the AE titles and source addresses its modalities and PACS
//! send from, and (for sending back) where they listen.

use std::net::IpAddr;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Ctx, Event};
use crate::db::schema::{dicom_nodes, facilities};
use crate::db::{self, DbConnection};
use crate::domain::{AddressAllowList, AeTitle};
use crate::error::{Error, OptionalExt, Result};
use crate::membership::facilities::Facility;
use crate::validation::{self, FieldErrors};

#[derive(Queryable, Selectable, Identifiable, Debug, Clone, Serialize)]
#[diesel(table_name = dicom_nodes)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct DicomNode {
    pub id: i64,
    pub facility_id: i64,
    pub ae_title: String,
    pub allowed_addresses: String,
    pub host: Option<String>,
    pub port: Option<i32>,
    pub description: String,
    pub is_enabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DicomNodeForm {
    #[serde(default)]
    pub ae_title: String,
    #[serde(default)]
    pub allowed_addresses: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, deserialize_with = "crate::serde_util::checkbox")]
    pub is_enabled: bool,
}

impl DicomNodeForm {
    pub fn from_node(n: &DicomNode) -> Self {
        DicomNodeForm {
            ae_title: n.ae_title.clone(),
            allowed_addresses: n.allowed_addresses.clone(),
            host: n.host.clone().unwrap_or_default(),
            port: n.port.map(|p| p.to_string()).unwrap_or_default(),
            description: n.description.clone(),
            is_enabled: n.is_enabled,
        }
    }
}

#[derive(AsChangeset, Insertable, Debug)]
#[diesel(table_name = dicom_nodes)]
#[diesel(treat_none_as_null = true)]
struct NodeValues {
    ae_title: String,
    allowed_addresses: String,
    host: Option<String>,
    port: Option<i32>,
    description: String,
    is_enabled: bool,
}

fn valid_host(h: &str) -> bool {
    h.parse::<IpAddr>().is_ok()
        || (h.len() <= 253
            && h.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
            }))
}

fn validate(c: &mut DbConnection, form: &DicomNodeForm, id: Option<i64>) -> Result<NodeValues> {
    let mut e = FieldErrors::new();
    let ae = e.take("ae_title", AeTitle::parse(&form.ae_title));
    let addrs = e.take(
        "allowed_addresses",
        AddressAllowList::parse(&form.allowed_addresses),
    );
    let host = form.host.trim();
    let host = if host.is_empty() {
        None
    } else if valid_host(host) {
        Some(host.to_owned())
    } else {
        e.add("host", "err.host");
        None
    };
    let port = match form.port.trim() {
        "" => None,
        p => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(i32::from(n)),
            _ => {
                e.add("port", "err.port");
                None
            }
        },
    };
    if host.is_some() != port.is_some() && e.get("host").is_none() && e.get("port").is_none() {
        e.add(
            if host.is_some() { "port" } else { "host" },
            "err.host_and_port",
        );
    }
    let description = e.take(
        "description",
        validation::optional_text(&form.description, 200),
    );
    if let Some(ae) = &ae {
        let mut q = dicom_nodes::table
            .filter(dicom_nodes::ae_title.eq(ae.as_str()))
            .select(dicom_nodes::id)
            .into_boxed();
        if let Some(id) = id {
            q = q.filter(dicom_nodes::id.ne(id));
        }
        if q.first::<i64>(c).optional()?.is_some() {
            e.add("ae_title", "err.duplicate");
        }
    }
    match (ae, addrs, description) {
        (Some(ae), Some(addrs), Some(description)) if e.is_empty() => Ok(NodeValues {
            ae_title: ae.as_str().to_owned(),
            allowed_addresses: addrs.to_stored(),
            host,
            port,
            description,
            is_enabled: form.is_enabled,
        }),
        _ => Err(Error::Validation(e)),
    }
}

pub fn create(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    form: &DicomNodeForm,
) -> Result<DicomNode> {
    db::write_tx(conn, |c| {
        let v = validate(c, form, None)?;
        let now = db::now();
        let n: DicomNode = diesel::insert_into(dicom_nodes::table)
            .values((
                &v,
                dicom_nodes::facility_id.eq(facility_id),
                dicom_nodes::created_at.eq(now),
                dicom_nodes::updated_at.eq(now),
            ))
            .returning(dicom_nodes::all_columns)
            .get_result(c)?;
        audit::record(c, ctx, Event::success("dicom_node.create").object("dicom_node", n.id).detail(
            serde_json::json!({"facility_id": facility_id, "ae_title": n.ae_title, "allowed_addresses": n.allowed_addresses}),
        ))?;
        Ok(n)
    })
}

/// Updates a node of `facility_id`; a node of another facility is `NotFound`.
pub fn update(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    id: i64,
    form: &DicomNodeForm,
) -> Result<DicomNode> {
    db::write_tx(conn, |c| {
        get_of_facility(c, facility_id, id)?;
        let v = validate(c, form, Some(id))?;
        let n: DicomNode = diesel::update(dicom_nodes::table.find(id))
            .set((&v, dicom_nodes::updated_at.eq(db::now())))
            .returning(dicom_nodes::all_columns)
            .get_result(c)?;
        audit::record(c, ctx, Event::success("dicom_node.update").object("dicom_node", n.id).detail(
            serde_json::json!({"ae_title": n.ae_title, "allowed_addresses": n.allowed_addresses, "enabled": n.is_enabled}),
        ))?;
        Ok(n)
    })
}

pub fn delete(conn: &mut DbConnection, ctx: &Ctx, facility_id: i64, id: i64) -> Result<()> {
    db::write_tx(conn, |c| {
        let n = get_of_facility(c, facility_id, id)?;
        diesel::delete(dicom_nodes::table.find(id)).execute(c)?;
        audit::record(
            c,
            ctx,
            Event::success("dicom_node.delete")
                .object("dicom_node", id)
                .detail(serde_json::json!({"ae_title": n.ae_title})),
        )?;
        Ok(())
    })
}

pub fn get_of_facility(conn: &mut DbConnection, facility_id: i64, id: i64) -> Result<DicomNode> {
    dicom_nodes::table
        .filter(dicom_nodes::id.eq(id))
        .filter(dicom_nodes::facility_id.eq(facility_id))
        .select(DicomNode::as_select())
        .first(conn)
        .found()
}

pub fn list(conn: &mut DbConnection, facility_id: i64) -> Result<Vec<DicomNode>> {
    Ok(dicom_nodes::table
        .filter(dicom_nodes::facility_id.eq(facility_id))
        .select(DicomNode::as_select())
        .order(dicom_nodes::ae_title.asc())
        .load(conn)?)
}

/// The node a DICOM association may come from: calling AE title registered, node enabled,
/// facility active, source address allowed. `None` means refuse the association.
pub fn authorise_peer(
    conn: &mut DbConnection,
    calling_ae: &str,
    addr: IpAddr,
) -> Result<Option<(DicomNode, Facility)>> {
    let found: Option<(DicomNode, Facility)> = dicom_nodes::table
        .inner_join(facilities::table)
        .filter(dicom_nodes::ae_title.eq(calling_ae.trim()))
        .select((DicomNode::as_select(), Facility::as_select()))
        .first(conn)
        .optional()?;
    Ok(found.filter(|(n, f)| {
        n.is_enabled
            && f.is_active()
            && AddressAllowList::parse(&n.allowed_addresses).is_ok_and(|l| l.allows(addr))
    }))
}
