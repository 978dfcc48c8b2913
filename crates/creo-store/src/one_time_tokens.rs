//! Single-use, expiring tokens, kept only as the SHA-256 of the token: mailed to a person
//! (password reset, email verification and change), or handed to one between the two steps of
//! a sign-in with a second factor.

use async_trait::async_trait;

use super::StoreError;

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    /// Proves the address in `payload` is the user's.
    EmailVerification,
    /// Moves the user to the address in `payload`.
    EmailChange,
    /// The second step of a sign-in: the password was right; `payload` is the account chosen.
    MfaLogin,
    /// The `state` of an OAuth connection of a channel under way; `payload` says to which
    /// account and platform, with the PKCE verifier sealed.
    ChannelConnect,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailVerification => "email_verification",
            Purpose::EmailChange => "email_change",
            Purpose::MfaLogin => "mfa_login",
            Purpose::ChannelConnect => "channel_connect",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OneTimeToken {
    pub user_id: String,
    pub purpose: Purpose,
    pub created_at: i64,
    pub expires_at: i64,
    /// What the token carries for its purpose (see `Purpose`).
    pub payload: Option<String>,
}

#[async_trait]
pub trait OneTimeTokenStore: Send + Sync + 'static {
    async fn create_token(&self, token: &OneTimeToken, hash: &str) -> Result<(), StoreError>;
    /// The token, if it exists, serves `purpose`, is unspent and has not expired by `now`,
    /// without spending it (a second-factor step may be retried after a wrong code).
    async fn token(
        &self,
        hash: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<Option<OneTimeToken>, StoreError>;
    /// Spends the token: `Some` once, if it exists, serves `purpose` and has not expired by
    /// `now`; `None` ever after.
    async fn spend_token(
        &self,
        hash: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<Option<OneTimeToken>, StoreError>;
}
