//! The payment provider's webhooks: `Creo-Signature: t=<unix>,v1=<hex>`, where the hex is
//! HMAC-SHA256 over `"<t>.<body>"` with the shared secret. Several `v1` entries may be present
//! while a secret is rotated; any one matching is enough. Comparison is constant-time (`hmac`'s
//! `verify_slice`).

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::{Milli, Tier};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing Creo-Signature header")]
    Missing,
    #[error("malformed Creo-Signature header (expected t=<unix>,v1=<hex>)")]
    Malformed,
    #[error("signature timestamp is outside the {0} s tolerance")]
    Stale(i64),
    #[error("signature does not match")]
    Mismatch,
}

impl SignatureError {
    pub fn metric_reason(&self) -> &'static str {
        match self {
            SignatureError::Missing => "missing",
            SignatureError::Malformed => "malformed",
            SignatureError::Stale(_) => "stale",
            SignatureError::Mismatch => "mismatch",
        }
    }
}

/// Checks a webhook's signature and freshness; returns its timestamp.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => {
                signatures.push(hex::decode(sig).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now_secs - t).abs() > tolerance_secs {
        return Err(SignatureError::Stale(tolerance_secs));
    }
    let mac = signed_payload(secret, t, body);
    if signatures
        .iter()
        .any(|sig| mac.clone().verify_slice(sig).is_ok())
    {
        Ok(t)
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn signed_payload(secret: &[u8], t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any size");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value a provider sends for `body` at `t` (used by tests and the load tool).
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mac = signed_payload(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(mac))
}

/// A payment provider event.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Unique per event: each is processed once, however often it is delivered.
    pub id: String,
    /// `credits.purchased`, `subscription.created`, `subscription.updated`,
    /// `subscription.cancelled`, `payment.failed` or `payment.succeeded`.
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct EventData {
    pub account_id: String,
    /// For `credits.purchased`.
    #[serde(default)]
    pub credits_milli: Option<Milli>,
    /// For `subscription.created` / `subscription.updated`.
    #[serde(default)]
    pub tier: Option<Tier>,
}

/// What an event asks creo to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    AddCredits(Milli),
    SetTier(Tier),
    PaymentFailed(bool),
}

impl Event {
    pub fn effect(&self) -> Result<Effect, String> {
        Ok(match self.kind.as_str() {
            "credits.purchased" => match self.data.credits_milli {
                Some(c) if c > 0 => Effect::AddCredits(c),
                _ => return Err("credits.purchased needs a positive data.credits_milli".into()),
            },
            "subscription.created" | "subscription.updated" => match self.data.tier {
                Some(t) => Effect::SetTier(t),
                None => return Err(format!("{} needs data.tier", self.kind)),
            },
            "subscription.cancelled" => Effect::SetTier(Tier::Free),
            "payment.failed" => Effect::PaymentFailed(true),
            "payment.succeeded" => Effect::PaymentFailed(false),
            other => return Err(format!("unknown event type {other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn accepts_its_own_signature_and_refuses_tampering() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(SECRET, 1_000, body);
        assert_eq!(verify(SECRET, Some(&header), body, 1_010, 300), Ok(1_000));
        assert_eq!(
            verify(SECRET, Some(&header), br#"{"id":"evt_2"}"#, 1_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(&header), body, 1_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(&header), body, 1_000 + 301, 300),
            Err(SignatureError::Stale(300))
        );
        assert_eq!(
            verify(SECRET, None, body, 0, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, Some("v1=00"), body, 0, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn any_of_several_signatures_may_match_during_rotation() {
        let body = b"{}";
        let good = sign(SECRET, 5, body);
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=5,v1={},v1={v1}", "ab".repeat(32));
        assert_eq!(verify(SECRET, Some(&header), body, 5, 300), Ok(5));
    }
}
