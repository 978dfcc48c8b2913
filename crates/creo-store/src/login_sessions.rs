//! Login sessions and their single-use refresh tokens.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

/// One login: a family of refresh tokens, each used once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuthSession {
    pub session_id: String,
    pub user_id: String,
    pub account_id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub user_agent: String,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub enum Refreshed {
    /// The token was current: it is now spent and `new_hash` is the session's current token.
    Rotated(AuthSession),
    /// The token was already spent: someone replayed it, so the whole session was revoked.
    Reused(AuthSession),
    /// Unknown, expired, or its session is revoked.
    Invalid,
}

#[async_trait]
pub trait LoginSessionStore: Send + Sync + 'static {
    async fn create_session(
        &self,
        session: &AuthSession,
        refresh_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Spends `old_hash` and makes `new_hash` a current token of its session. Spending a token
    /// again more than `grace_ms` after it was first spent revokes its session (refresh-token
    /// reuse detection); within `grace_ms` it is a concurrent refresh of one browser's tabs and
    /// `new_hash` joins the session beside the first successor.
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
        grace_ms: i64,
    ) -> Result<Refreshed, StoreError>;
    async fn sessions(&self, user_id: &str) -> Result<Vec<AuthSession>, StoreError>;
    async fn session(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<AuthSession>, StoreError>;
    async fn revoke_session(&self, user_id: &str, session_id: &str) -> Result<bool, StoreError>;
}
