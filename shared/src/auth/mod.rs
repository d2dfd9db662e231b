//! Sign-in data: password hashing, TOTP, recovery codes, server-side sessions, API tokens,
//! the signed-in principal and the authorisation helpers every route uses.

pub mod password;
pub mod principal;
pub mod recovery;
pub mod sessions;
pub mod signin;
pub mod tokens;
pub mod totp;

pub use principal::{Denied, Principal};

use rand::RngCore;

/// A random secret as URL-safe base64 (no padding), `bytes` long before encoding.
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 as hex: how session ids, API tokens and recovery codes are stored.
pub fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
