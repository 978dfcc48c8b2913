//! Invitations to join an account.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;
use creo_core::role::Role;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub invitation_id: String,
    pub account_id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_by: Option<String>,
}

#[async_trait]
pub trait InvitationStore: Send + Sync + 'static {
    async fn create_invitation(&self, inv: &Invitation, token_hash: &str)
        -> Result<(), StoreError>;
    async fn invitations(&self, account_id: &str) -> Result<Vec<Invitation>, StoreError>;
    async fn invitation_by_token(&self, token_hash: &str)
        -> Result<Option<Invitation>, StoreError>;
    /// Invitations addressed to `email` that nobody accepted yet and that have not expired by
    /// `now`, each with its token's hash (what `accept_invitation` takes), newest first.
    async fn invitations_for(
        &self,
        email: &str,
        now: i64,
    ) -> Result<Vec<(Invitation, String)>, StoreError>;
    /// Marks the invitation accepted by `user_id` (once: `None` if unknown, expired or taken).
    async fn accept_invitation(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<Invitation>, StoreError>;
}
