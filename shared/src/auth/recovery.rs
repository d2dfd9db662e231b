//! Recovery codes: ten single-use codes shown once at TOTP enrolment, stored hashed.

use diesel::prelude::*;

use crate::db::schema::recovery_codes;
use crate::db::{self, DbConnection};
use crate::error::Result;

pub const COUNT: usize = 10;

fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn new_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    let raw: String = (0..12)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12])
}

/// Replaces the user's recovery codes with ten new ones and returns them (shown once).
/// Call inside the enrolment transaction.
pub fn regenerate(conn: &mut DbConnection, user_id: i64) -> Result<Vec<String>> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    let now = db::now();
    let codes: Vec<String> = (0..COUNT).map(|_| new_code()).collect();
    for c in &codes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(super::sha256_hex(&normalise(c))),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(codes)
}

/// Uses a recovery code: true if it was valid and unused (it is then spent).
pub fn consume(conn: &mut DbConnection, user_id: i64, code: &str) -> Result<bool> {
    let n = normalise(code);
    if n.len() != 12 {
        return Ok(false);
    }
    let updated = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(super::sha256_hex(&n)))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(Some(db::now())))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn remaining(conn: &mut DbConnection, user_id: i64) -> Result<i64> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}
