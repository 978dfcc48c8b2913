//! An account's members and their roles.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;
use creo_core::role::Role;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub account_id: String,
    pub user_id: String,
    pub role: Role,
    pub added_at: i64,
}

#[async_trait]
pub trait MemberStore: Send + Sync + 'static {
    async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError>;
    async fn memberships(&self, user_id: &str) -> Result<Vec<Member>, StoreError>;
    /// Adds or changes a member, unless the account would then exceed `seats` members.
    /// `false` when refused for lack of seats.
    async fn put_member(&self, member: &Member, seats: Option<u32>) -> Result<bool, StoreError>;
    async fn remove_member(&self, account_id: &str, user_id: &str) -> Result<bool, StoreError>;
}
