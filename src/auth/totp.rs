//! The second factor: time-based one-time passwords (RFC 6238: HMAC-SHA1, six digits, 30-second
//! steps, what every authenticator app speaks) through `totp-rs`; the `otpauth://` URI those
//! apps read, and its QR code as SVG (`qrcode`); and recovery codes, ten single-use codes for a
//! lost phone, stored as SHA-256 digests (each has 50 random bits, and a guess costs a sign-in
//! attempt that the backoff slows, so a fast hash is enough).

use rand::Rng;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
pub const STEP_SECS: u64 = 30;
/// Who authenticator apps say the code is for.
const ISSUER: &str = "creo";
/// Recovery codes made at once.
pub const RECOVERY_CODES: usize = 10;
/// Recovery codes read `xxxxx-xxxxx`: ten characters from 32 that are hard to misread.
const CODE_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz0";

/// A new random secret (160 bits, as RFC 4226 advises), base32 as authenticator apps take it.
pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

fn totp(secret: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().ok()?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        bytes,
        Some(ISSUER.to_string()),
        account.replace(':', ""),
    )
    .ok()
}

/// The URI an authenticator app reads, naming the person by `account` (their email).
pub fn otpauth_uri(secret: &str, account: &str) -> Option<String> {
    totp(secret, account).map(|t| t.get_url())
}

/// The URI as a QR code, an SVG document.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// The time step at `unix_secs` that `code` was made for, if it is one of now's, the one before
/// or the one after (a phone clock half a minute off still works). The caller accepts a step once
/// (`MfaStore::use_step`).
pub fn verify(secret: &str, code: &str, unix_secs: u64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "x")?;
    let now = unix_secs / STEP_SECS;
    [now, now.saturating_sub(1), now + 1]
        .into_iter()
        .find(|step| {
            let made = t.generate(step * STEP_SECS);
            constant_time_eq(made.as_bytes(), code.as_bytes())
        })
        .map(|step| step as i64)
}

/// `verify` at the system clock's time.
pub fn verify_now(secret: &str, code: &str) -> Option<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    verify(secret, code, now)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Ten fresh recovery codes, as the person sees them once.
fn recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let c: String = (0..10)
                .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
                .collect();
            format!("{}-{}", &c[..5], &c[5..])
        })
        .collect()
}

/// Ten fresh recovery codes and the digests the store keeps of them.
pub fn recovery_codes_with_digests() -> (Vec<String>, Vec<String>) {
    let codes = recovery_codes();
    let digests = codes.iter().filter_map(|c| recovery_digest(c)).collect();
    (codes, digests)
}

/// What the store keeps of a recovery code: its digest, however it was typed (case, dashes,
/// spaces). `None` for what cannot be a code.
pub fn recovery_digest(code: &str) -> Option<String> {
    let plain: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (plain.len() == 10 && code.len() <= 32).then(|| super::secret::digest(&format!("rc:{plain}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, truncated to six digits.
    #[test]
    fn matches_the_rfc_test_vectors() {
        // "12345678901234567890" in base32.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        for (time, code) in [
            (59u64, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(
                verify(secret, code, time),
                Some((time / 30) as i64),
                "{time}"
            );
        }
        assert_eq!(verify(secret, "287083", 59), None);
        // One step either way, not two.
        assert_eq!(verify(secret, "287082", 59 + 30), Some(1));
        assert_eq!(verify(secret, "287082", 59 + 60), None);
        assert_eq!(verify(secret, "28708", 59), None);
        assert_eq!(verify(secret, "28708a", 59), None);
    }

    #[test]
    fn a_new_secret_makes_a_uri_and_a_qr_code() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32, "160 bits in base32");
        let uri = otpauth_uri(&secret, "ann@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/creo:ann%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={secret}")));
        assert!(qr_svg(&uri).unwrap().starts_with("<?xml"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_read_however_typed() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), 10);
        let digests: std::collections::HashSet<_> =
            codes.iter().map(|c| recovery_digest(c).unwrap()).collect();
        assert_eq!(digests.len(), 10);
        let typed = codes[0].to_uppercase().replace('-', " ");
        assert_eq!(recovery_digest(&typed), recovery_digest(&codes[0]));
        assert_eq!(recovery_digest("short"), None);
    }
}
