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
    /// When the person proved they receive mail at `email` (a link mailed to it was followed);
    /// `None` until then, and again after the address changes until the new one is proved.
    pub email_verified_at: Option<i64>,
}

/// Why an email change did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailChange {
    Changed,
    /// The user's address is no longer the one the change was asked from.
    Stale,
    /// Another user holds the new address.
    Taken,
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
    /// Marks `email` verified at `at`, if it is still the user's address (a link mailed to an
    /// address the user has since left verifies nothing). `false` otherwise.
    async fn set_email_verified(
        &self,
        user_id: &str,
        email: &str,
        at: i64,
    ) -> Result<bool, StoreError>;
    /// Moves the user from `from` to `to`, verified at `at` (the change is confirmed by a link
    /// mailed to `to`).
    async fn change_email(
        &self,
        user_id: &str,
        from: &str,
        to: &str,
        at: i64,
    ) -> Result<EmailChange, StoreError>;
    /// Erases a user's personal data: profile, email, sessions, memberships; their ledger
    /// entries stay, attributed to `deleted-user`.
    async fn erase_user(&self, user_id: &str) -> Result<bool, StoreError>;
}
