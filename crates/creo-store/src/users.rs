//! Users: registration, lookup and erasure.

use async_trait::async_trait;
use serde::Serialize;

use super::accounts::Account;
use super::ledger::Posting;
use super::StoreError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub user_id: String,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: i64,
}

/// Ledger entries' user once that user was erased.
pub const DELETED_USER: &str = "deleted-user";

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates the user with a personal account it owns and the account's opening grant.
    /// `false` when the email is taken (nothing written).
    async fn register(
        &self,
        user: &User,
        account: &Account,
        grant: Option<Posting>,
    ) -> Result<bool, StoreError>;
    async fn user(&self, user_id: &str) -> Result<Option<User>, StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    /// Replaces the user's password hash (a password reset). `false` for an unknown user.
    async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<bool, StoreError>;
    /// Erases a user's personal data: profile, email, sessions, memberships; their ledger
    /// entries stay, attributed to `deleted-user`.
    async fn erase_user(&self, user_id: &str) -> Result<bool, StoreError>;
}
