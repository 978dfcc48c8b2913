//! A person's second factor: a TOTP secret (RFC 6238), sealed by the server before it is
//! stored, and ten single-use recovery codes kept only as SHA-256 digests.
//!
//! Enrolment is two steps: `begin_enrolment` keeps a pending secret, and `enable` turns it on
//! with the recovery codes once the person has shown a code made from it. `use_step` is the
//! replay guard: a TOTP code counts once, and never one older than the last accepted.

use async_trait::async_trait;

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactor {
    pub user_id: String,
    /// The TOTP secret, sealed (the store never sees it in the clear).
    pub sealed_secret: String,
    /// `None` while the enrolment waits for its first code.
    pub enabled_at: Option<i64>,
    /// The last TOTP time step accepted (0 before any).
    pub last_step: i64,
}

#[async_trait]
pub trait MfaStore: Send + Sync + 'static {
    async fn second_factor(&self, user_id: &str) -> Result<Option<SecondFactor>, StoreError>;
    /// Keeps `sealed_secret` as the pending enrolment, replacing any earlier pending one.
    /// `false` (nothing written) when a second factor is already enabled.
    async fn begin_enrolment(
        &self,
        user_id: &str,
        sealed_secret: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Enables the pending secret `sealed_secret` (exactly the one shown), having accepted
    /// `step`, with these recovery code digests. `false` when it is no longer the pending one.
    async fn enable(
        &self,
        user_id: &str,
        sealed_secret: &str,
        step: i64,
        recovery_digests: &[String],
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Accepts TOTP time step `step`: `true` once, if it is later than every step accepted
    /// before (a code seen on the wire cannot be replayed, even within its 30 seconds).
    async fn use_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError>;
    /// Spends a recovery code: `true` once for each of the digests `enable` or
    /// `replace_recovery_codes` stored.
    async fn spend_recovery_code(
        &self,
        user_id: &str,
        digest: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Recovery codes not yet spent.
    async fn recovery_codes_left(&self, user_id: &str) -> Result<usize, StoreError>;
    /// Replaces every recovery code (spent or not) with these.
    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        digests: &[String],
    ) -> Result<(), StoreError>;
    /// Removes the second factor and its recovery codes. `false` when there was none.
    async fn disable(&self, user_id: &str) -> Result<bool, StoreError>;
}
