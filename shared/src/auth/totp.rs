//! TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s), as authenticator apps expect.

use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::{Error, Result};

fn build(secret_b32: &str, issuer: &str, account: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .map_err(|e| Error::Internal(format!("totp secret: {e:?}")))?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some(issuer.to_owned()),
        account.to_owned(),
    )
    .map_err(|e| Error::Internal(format!("totp: {e}")))
}

/// A new random secret (160 bits), base32.
pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

/// Checks a 6-digit code, allowing one step of clock skew either way.
pub fn check(secret_b32: &str, code: &str, unix_time: u64) -> bool {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    match build(secret_b32, "Enkaku", "check") {
        Ok(t) => t.check(&code, unix_time),
        Err(_) => false,
    }
}

/// The current code (used by tests and the demo tooling).
pub fn current_code(secret_b32: &str, unix_time: u64) -> Result<String> {
    Ok(build(secret_b32, "Enkaku", "code")?.generate(unix_time))
}

/// The `otpauth://` URL and a PNG QR code of it (base64), for enrolment.
pub fn enrolment(secret_b32: &str, issuer: &str, account: &str) -> Result<(String, String)> {
    let t = build(secret_b32, issuer, account)?;
    let url = t.get_url();
    let png = t
        .get_qr_base64()
        .map_err(|e| Error::Internal(format!("qr: {e}")))?;
    Ok((url, png))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_check_with_skew() {
        let s = new_secret();
        let now = 1_800_000_000;
        let code = current_code(&s, now).unwrap();
        assert!(check(&s, &code, now));
        assert!(check(&s, &code, now + 30));
        assert!(!check(&s, &code, now + 120));
        assert!(!check(&s, "12345", now));
        assert!(!check(&s, "abcdef", now));
    }

    #[test]
    fn enrolment_gives_url_and_qr() {
        let s = new_secret();
        let (url, png) = enrolment(&s, "Enkaku", "tanaka").unwrap();
        assert!(url.starts_with("otpauth://totp/"));
        assert!(!png.is_empty());
    }
}
