//! Single-use, expiring tokens mailed to a person (password reset), kept only as the SHA-256 of
//! the token.

use async_trait::async_trait;

use super::StoreError;

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "password_reset",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OneTimeToken {
    pub user_id: String,
    pub purpose: Purpose,
    pub created_at: i64,
    pub expires_at: i64,
}

#[async_trait]
pub trait OneTimeTokenStore: Send + Sync + 'static {
    async fn create_token(&self, token: &OneTimeToken, hash: &str) -> Result<(), StoreError>;
    /// Spends the token: `Some` once, if it exists, serves `purpose` and has not expired by
    /// `now`; `None` ever after.
    async fn spend_token(
        &self,
        hash: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<Option<OneTimeToken>, StoreError>;
}
