//! The sign-in steps: password (with throttling), then the second factor, then (first time)
//! TOTP enrolment and the password change. Every attempt is audited; a failure says only
//! "failed" to the user, while the audit trail keeps the reason.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::audit::{self, Actor, Ctx, Event, Outcome};
use crate::auth::{password, recovery, totp};
use crate::db::schema::users;
use crate::db::{self, DbConnection};
use crate::domain::{Password, UserKind};
use crate::error::{Error, Result};
use crate::membership::users as user_db;
use crate::settings::AuthSettings;
use crate::validation::FieldErrors;

pub const SIGN_IN: &str = "auth.sign_in";
pub const SECOND_FACTOR: &str = "auth.second_factor";

/// Where a correct password leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordStep {
    /// Wrong name or password, disabled account, suspended facility, or throttled.
    Failed,
    SecondFactor {
        user_id: i64,
    },
    Enrol {
        user_id: i64,
    },
    /// Only when second factors are not required (loopback demo).
    SignedIn {
        user_id: i64,
    },
}

fn anon(username: &str, source: &str) -> Ctx {
    Ctx {
        actor: Actor {
            username: Some(username.chars().take(64).collect()),
            ..Actor::default()
        },
        source: source.to_owned(),
    }
}

fn fail(
    conn: &mut DbConnection,
    ctx: &Ctx,
    action: &'static str,
    key: &str,
    reason: &str,
) -> Result<()> {
    audit::record_now(
        conn,
        ctx,
        Event::new(action, Outcome::Failure)
            .object("user", key)
            .detail(serde_json::json!({ "reason": reason })),
    )?;
    Ok(())
}

/// True when the account or the address has had too many failures within the window.
fn throttled(
    conn: &mut DbConnection,
    s: &AuthSettings,
    key: &str,
    source: &str,
    now: NaiveDateTime,
) -> Result<bool> {
    let since = now - Duration::minutes(i64::from(s.failure_window_minutes));
    let mut per_account = 0;
    for action in [SIGN_IN, SECOND_FACTOR] {
        per_account += audit::count_since(conn, action, Outcome::Failure, since, Some(key), None)?;
    }
    let per_address =
        audit::count_since(conn, SIGN_IN, Outcome::Failure, since, None, Some(source))?;
    Ok(per_account >= i64::from(s.max_failures_per_account)
        || per_address >= i64::from(s.max_failures_per_address))
}

/// Checks a username and password.
pub fn password_step(
    conn: &mut DbConnection,
    s: &AuthSettings,
    username: &str,
    pw: &str,
    source: &str,
) -> Result<PasswordStep> {
    let key = username.trim().to_ascii_lowercase();
    let ctx = anon(&key, source);
    if key.is_empty() || key.len() > 64 || pw.is_empty() || pw.len() > 1024 {
        fail(conn, &ctx, SIGN_IN, &key, "malformed")?;
        return Ok(PasswordStep::Failed);
    }
    if throttled(conn, s, &key, source, db::now())? {
        password::dummy_verify(pw);
        fail(conn, &ctx, SIGN_IN, &key, "throttled")?;
        return Ok(PasswordStep::Failed);
    }
    let Some(u) = user_db::find_by_username(conn, &key)? else {
        password::dummy_verify(pw);
        fail(conn, &ctx, SIGN_IN, &key, "unknown_user")?;
        return Ok(PasswordStep::Failed);
    };
    let ok = u
        .user
        .password_hash
        .as_deref()
        .is_some_and(|h| password::verify(pw, h));
    let mut uctx = ctx.clone();
    uctx.actor.user_id = Some(u.user.id);
    uctx.actor.facility_id = Some(u.facility.id);
    if !ok {
        fail(conn, &uctx, SIGN_IN, &key, "bad_password")?;
        return Ok(PasswordStep::Failed);
    }
    let reason = if u.user.kind() != UserKind::Person {
        Some("service_account")
    } else if !u.user.is_active {
        Some("user_disabled")
    } else if !u.facility.is_active() {
        Some("facility_not_active")
    } else if u.roles.is_empty() {
        Some("no_role")
    } else {
        None
    };
    if let Some(r) = reason {
        fail(conn, &uctx, SIGN_IN, &key, r)?;
        return Ok(PasswordStep::Failed);
    }
    if u.user.totp_enabled {
        Ok(PasswordStep::SecondFactor { user_id: u.user.id })
    } else if s.require_second_factor {
        Ok(PasswordStep::Enrol { user_id: u.user.id })
    } else {
        signed_in(conn, u.user.id, &key, source, "password_only")?;
        Ok(PasswordStep::SignedIn { user_id: u.user.id })
    }
}

fn signed_in(
    conn: &mut DbConnection,
    user_id: i64,
    key: &str,
    source: &str,
    method: &str,
) -> Result<()> {
    let u = user_db::get(conn, user_id)?;
    let ctx = Ctx {
        actor: Actor {
            user_id: Some(user_id),
            username: Some(key.to_owned()),
            facility_id: Some(u.facility.id),
            role: Some(u.roles_str()),
        },
        source: source.to_owned(),
    };
    db::write_tx(conn, |c| {
        diesel::update(users::table.find(user_id))
            .set(users::last_sign_in_at.eq(Some(db::now())))
            .execute(c)?;
        audit::record(
            c,
            &ctx,
            Event::success(SIGN_IN)
                .object("user", key)
                .detail(serde_json::json!({ "method": method })),
        )?;
        Ok(())
    })
}

/// Checks a TOTP code, or a recovery code (which is then spent). True means signed in.
pub fn second_factor_step(
    conn: &mut DbConnection,
    s: &AuthSettings,
    user_id: i64,
    code: &str,
    source: &str,
    unix_time: u64,
) -> Result<bool> {
    let u = user_db::get(conn, user_id)?;
    let key = u.user.username.clone();
    let mut ctx = anon(&key, source);
    ctx.actor.user_id = Some(user_id);
    if throttled(conn, s, &key, source, db::now())? {
        fail(conn, &ctx, SECOND_FACTOR, &key, "throttled")?;
        return Ok(false);
    }
    let code = code.trim();
    let ok = match (&u.user.totp_secret, u.user.totp_enabled) {
        (Some(secret), true) if code.len() <= 8 => totp::check(secret, code, unix_time),
        (Some(_), true) => db::write_tx(conn, |c| recovery::consume(c, user_id, code))?,
        _ => false,
    };
    if !ok || !u.user.is_active || !u.facility.is_active() {
        fail(
            conn,
            &ctx,
            SECOND_FACTOR,
            &key,
            if ok { "not_active" } else { "bad_code" },
        )?;
        return Ok(false);
    }
    let method = if code.len() <= 8 {
        "password+totp"
    } else {
        "password+recovery_code"
    };
    signed_in(conn, user_id, &key, source, method)?;
    Ok(true)
}

/// Starts TOTP enrolment: a fresh secret is stored (not yet enabled) and returned.
pub fn begin_enrolment(conn: &mut DbConnection, user_id: i64) -> Result<String> {
    let secret = totp::new_secret();
    db::write_tx(conn, |c| {
        let n = diesel::update(
            users::table
                .find(user_id)
                .filter(users::totp_enabled.eq(false)),
        )
        .set(users::totp_secret.eq(Some(secret.clone())))
        .execute(c)?;
        if n == 0 {
            return Err(Error::Conflict("err.already_enrolled"));
        }
        Ok(())
    })?;
    Ok(secret)
}

/// Finishes enrolment when the code matches the pending secret: enables the factor and
/// returns the recovery codes (shown once).
pub fn finish_enrolment(
    conn: &mut DbConnection,
    user_id: i64,
    code: &str,
    source: &str,
    unix_time: u64,
) -> Result<Option<Vec<String>>> {
    let u = user_db::get(conn, user_id)?;
    let Some(secret) = u.user.totp_secret.clone().filter(|_| !u.user.totp_enabled) else {
        return Err(Error::Conflict("err.already_enrolled"));
    };
    let ctx = Ctx {
        actor: Actor {
            user_id: Some(user_id),
            username: Some(u.user.username.clone()),
            facility_id: Some(u.facility.id),
            role: Some(u.roles_str()),
        },
        source: source.to_owned(),
    };
    if !totp::check(&secret, code, unix_time) {
        fail(
            conn,
            &ctx,
            SECOND_FACTOR,
            &u.user.username,
            "bad_enrolment_code",
        )?;
        return Ok(None);
    }
    let codes = db::write_tx(conn, |c| {
        diesel::update(users::table.find(user_id))
            .set((
                users::totp_enabled.eq(true),
                users::updated_at.eq(db::now()),
            ))
            .execute(c)?;
        let codes = recovery::regenerate(c, user_id)?;
        audit::record(
            c,
            &ctx,
            Event::success("auth.totp_enrol").object("user", user_id),
        )?;
        Ok(codes)
    })?;
    signed_in(
        conn,
        user_id,
        &u.user.username,
        source,
        "password+totp_enrolment",
    )?;
    Ok(Some(codes))
}

/// The user changes their own password (current one required).
pub fn change_password(
    conn: &mut DbConnection,
    ctx: &Ctx,
    user_id: i64,
    current: &str,
    new: &str,
    confirm: &str,
) -> Result<()> {
    let u = user_db::get(conn, user_id)?;
    let mut e = FieldErrors::new();
    if !u
        .user
        .password_hash
        .as_deref()
        .is_some_and(|h| password::verify(current, h))
    {
        e.add("current_password", "err.current_password");
    }
    let p = e.take("new_password", Password::parse(new));
    if new != confirm {
        e.add("confirm_password", "err.password_mismatch");
    }
    if new == current && p.is_some() {
        e.add("new_password", "err.password_same");
    }
    if !e.is_empty() {
        audit::record_now(
            conn,
            ctx,
            Event::new("user.change_password", Outcome::Failure).object("user", user_id),
        )?;
        return Err(Error::Validation(e));
    }
    let Some(p) = p else {
        return Err(Error::Validation(e));
    };
    let hash = password::hash(p.expose())?;
    db::write_tx(conn, |c| {
        diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(Some(hash.clone())),
                users::must_change_password.eq(false),
                users::updated_at.eq(db::now()),
            ))
            .execute(c)?;
        audit::record(
            c,
            ctx,
            Event::success("user.change_password").object("user", user_id),
        )?;
        Ok(())
    })
}
