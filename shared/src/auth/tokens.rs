//! API tokens for systems: personal tokens (act as the user, with the user's roles) and
//! service-account tokens issued by a facility administrator. Shown once, stored as
//! SHA-256, with an expiry, revocable.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::audit::{self, Ctx, Event};
use crate::db::schema::api_tokens;
use crate::db::{self, DbConnection};
use crate::error::{Error, OptionalExt, Result};
use crate::validation::{self, FieldErrors};

pub const PREFIX: &str = "enk_";

#[derive(Queryable, Selectable, Debug, Clone, Serialize)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    #[serde(skip)]
    pub token_hash: String,
    pub token_prefix: String,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

impl ApiToken {
    pub fn is_live(&self, now: NaiveDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// Issues a token for `user_id` valid for `days` (1..=max_days) and returns the secret,
/// which is never shown again.
pub fn issue(
    conn: &mut DbConnection,
    ctx: &Ctx,
    user_id: i64,
    name: &str,
    days: &str,
    max_days: u32,
) -> Result<(String, ApiToken)> {
    let mut e = FieldErrors::new();
    let name = e.take("name", validation::required_text(name, 100));
    let days = match days.trim().parse::<u32>() {
        Ok(d) if (1..=max_days).contains(&d) => Some(d),
        _ => {
            e.add("days", "err.token_days");
            None
        }
    };
    let (Some(name), Some(days)) = (name, days) else {
        return Err(Error::Validation(e));
    };
    let secret = format!("{PREFIX}{}", super::random_token(32));
    let hash = super::sha256_hex(&secret);
    let prefix: String = secret.chars().take(PREFIX.len() + 6).collect();
    db::write_tx(conn, |c| {
        let now = db::now();
        let t: ApiToken = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::user_id.eq(user_id),
                api_tokens::name.eq(&name),
                api_tokens::token_hash.eq(&hash),
                api_tokens::token_prefix.eq(&prefix),
                api_tokens::created_by.eq(ctx.actor.user_id.unwrap_or(user_id)),
                api_tokens::created_at.eq(now),
                api_tokens::expires_at.eq(now + Duration::days(i64::from(days))),
            ))
            .returning(api_tokens::all_columns)
            .get_result(c)?;
        audit::record(c, ctx, Event::success("token.issue").object("api_token", t.id).detail(
            serde_json::json!({"user_id": user_id, "name": t.name, "expires_at": t.expires_at}),
        ))?;
        Ok((secret.clone(), t))
    })
}

pub fn revoke(conn: &mut DbConnection, ctx: &Ctx, token_id: i64) -> Result<()> {
    db::write_tx(conn, |c| {
        let n = diesel::update(
            api_tokens::table
                .filter(api_tokens::id.eq(token_id))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(Some(db::now())))
        .execute(c)?;
        if n == 0 {
            return Err(Error::NotFound);
        }
        audit::record(
            c,
            ctx,
            Event::success("token.revoke").object("api_token", token_id),
        )?;
        Ok(())
    })
}

pub fn get(conn: &mut DbConnection, token_id: i64) -> Result<ApiToken> {
    api_tokens::table
        .find(token_id)
        .select(ApiToken::as_select())
        .first(conn)
        .found()
}

pub fn list_for_user(conn: &mut DbConnection, user_id: i64) -> Result<Vec<ApiToken>> {
    Ok(api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .select(ApiToken::as_select())
        .order(api_tokens::id.desc())
        .load(conn)?)
}

/// The live token for a presented secret, or `None`. Marks it used (at most once a minute).
pub fn authenticate(
    conn: &mut DbConnection,
    secret: &str,
    now: NaiveDateTime,
) -> Result<Option<ApiToken>> {
    if !secret.starts_with(PREFIX) || secret.len() > 100 {
        return Ok(None);
    }
    let t: Option<ApiToken> = api_tokens::table
        .filter(api_tokens::token_hash.eq(super::sha256_hex(secret)))
        .select(ApiToken::as_select())
        .first(conn)
        .optional()?;
    let Some(t) = t.filter(|t| t.is_live(now)) else {
        return Ok(None);
    };
    if t.last_used_at
        .is_none_or(|u| now - u >= Duration::seconds(60))
    {
        diesel::update(api_tokens::table.find(t.id))
            .set(api_tokens::last_used_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok(Some(t))
}

/// A facility administrator issues a token for a service account of their facility; any
/// other account is `NotFound`.
pub fn issue_for_service_account(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    user_id: i64,
    name: &str,
    days: &str,
    max_days: u32,
) -> Result<(String, ApiToken)> {
    crate::membership::users::get_service_account_of_facility(conn, facility_id, user_id)?;
    issue(conn, ctx, user_id, name, days, max_days)
}

/// A facility administrator revokes a token of one of their facility's service accounts;
/// any other token is `NotFound`.
pub fn revoke_of_facility(
    conn: &mut DbConnection,
    ctx: &Ctx,
    facility_id: i64,
    token_id: i64,
) -> Result<()> {
    db::write_tx(conn, |c| {
        let t = get(c, token_id)?;
        crate::membership::users::get_service_account_of_facility(c, facility_id, t.user_id)?;
        revoke(c, ctx, token_id)
    })
}

/// The service accounts of a facility with their tokens (newest first).
pub fn service_accounts_of_facility(
    conn: &mut DbConnection,
    facility_id: i64,
) -> Result<Vec<(crate::membership::UserWithRoles, Vec<ApiToken>)>> {
    let accounts = crate::membership::users::list(conn, Some(facility_id))?;
    let mut out = Vec::new();
    for a in accounts
        .into_iter()
        .filter(|a| a.user.kind() == crate::domain::UserKind::Service)
    {
        let toks = list_for_user(conn, a.user.id)?;
        out.push((a, toks));
    }
    Ok(out)
}
