//! Server-side sessions, shared by every web node through the database. The cookie holds a
//! random id; the table holds only its SHA-256. Idle and absolute timeouts are enforced on
//! every load; the id changes at each step of sign-in.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::sessions;
use crate::db::DbConnection;
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Password accepted; the TOTP code (or a recovery code) is next.
    SecondFactor,
    /// Password accepted; the account has no second factor yet and must enrol.
    Enrol,
    /// Fully signed in.
    Active,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::SecondFactor => "second_factor",
            Stage::Enrol => "enrol",
            Stage::Active => "active",
        }
    }
    pub fn parse(s: &str) -> Option<Stage> {
        match s {
            "second_factor" => Some(Stage::SecondFactor),
            "enrol" => Some(Stage::Enrol),
            "active" => Some(Stage::Active),
            _ => None,
        }
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id_hash: String,
    pub user_id: i64,
    pub stage: String,
    pub csrf_token: String,
    pub lang: String,
    pub source_address: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl Session {
    pub fn stage(&self) -> Option<Stage> {
        Stage::parse(&self.stage)
    }
}

/// Session lifetimes (from the settings).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub idle: Duration,
    pub absolute: Duration,
}

/// Starts a session and returns the cookie value (shown to the browser, never stored).
pub fn create(
    conn: &mut DbConnection,
    user_id: i64,
    stage: Stage,
    lang: &str,
    source: &str,
    now: NaiveDateTime,
    t: Timeouts,
) -> Result<(String, Session)> {
    let cookie = super::random_token(32);
    let s = Session {
        id_hash: super::sha256_hex(&cookie),
        user_id,
        stage: stage.as_str().into(),
        csrf_token: super::random_token(24),
        lang: lang.into(),
        source_address: source.chars().take(100).collect(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + t.absolute,
    };
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(&s.id_hash),
            sessions::user_id.eq(s.user_id),
            sessions::stage.eq(&s.stage),
            sessions::csrf_token.eq(&s.csrf_token),
            sessions::lang.eq(&s.lang),
            sessions::source_address.eq(&s.source_address),
            sessions::created_at.eq(s.created_at),
            sessions::last_seen_at.eq(s.last_seen_at),
            sessions::expires_at.eq(s.expires_at),
        ))
        .execute(conn)?;
    Ok((cookie, s))
}

/// The live session for a cookie value, or `None` (unknown, idle too long, or past its
/// absolute lifetime — expired ones are deleted). Refreshes `last_seen_at` at most once a
/// minute so that reads do not write on every request.
pub fn load(
    conn: &mut DbConnection,
    cookie: &str,
    now: NaiveDateTime,
    t: Timeouts,
) -> Result<Option<Session>> {
    if cookie.is_empty() || cookie.len() > 100 {
        return Ok(None);
    }
    let id_hash = super::sha256_hex(cookie);
    let s: Option<Session> = sessions::table
        .find(&id_hash)
        .select(Session::as_select())
        .first(conn)
        .optional()?;
    let Some(mut s) = s else { return Ok(None) };
    let pending = s.stage() != Some(Stage::Active);
    // A half-finished sign-in lives at most 10 minutes.
    let idle = if pending {
        Duration::minutes(10).min(t.idle)
    } else {
        t.idle
    };
    if now >= s.expires_at || now - s.last_seen_at >= idle {
        diesel::delete(sessions::table.find(&id_hash)).execute(conn)?;
        return Ok(None);
    }
    if now - s.last_seen_at >= Duration::seconds(60) {
        diesel::update(sessions::table.find(&id_hash))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
        s.last_seen_at = now;
    }
    Ok(Some(s))
}

/// Moves a session to the next stage under a new id (the old id stops working) and returns
/// the new cookie value.
pub fn advance(
    conn: &mut DbConnection,
    old: &Session,
    stage: Stage,
    source: &str,
    now: NaiveDateTime,
    t: Timeouts,
) -> Result<(String, Session)> {
    diesel::delete(sessions::table.find(&old.id_hash)).execute(conn)?;
    create(conn, old.user_id, stage, &old.lang, source, now, t)
}

pub fn destroy(conn: &mut DbConnection, cookie: &str) -> Result<()> {
    diesel::delete(sessions::table.find(super::sha256_hex(cookie))).execute(conn)?;
    Ok(())
}

/// Ends a session known by its stored hash.
pub fn destroy_by_hash(conn: &mut DbConnection, id_hash: &str) -> Result<()> {
    diesel::delete(sessions::table.find(id_hash)).execute(conn)?;
    Ok(())
}

pub fn destroy_all_for_user(conn: &mut DbConnection, user_id: i64) -> Result<()> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}

pub fn set_lang(conn: &mut DbConnection, id_hash: &str, lang: &str) -> Result<()> {
    diesel::update(sessions::table.find(id_hash))
        .set(sessions::lang.eq(lang))
        .execute(conn)?;
    Ok(())
}

/// Deletes sessions past their lifetime (run periodically).
pub fn purge_expired(conn: &mut DbConnection, now: NaiveDateTime, t: Timeouts) -> Result<usize> {
    Ok(diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::last_seen_at.le(now - t.idle)),
        ),
    )
    .execute(conn)?)
}
