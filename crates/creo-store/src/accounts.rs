//! Accounts: creation, tier and payment state.

use async_trait::async_trait;
use serde::Serialize;

use super::members::Member;
use super::StoreError;
use creo_core::billing::{Tier, TierLimits};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub account_id: String,
    pub name: String,
    pub tier: Tier,
    /// Set by a failed payment: chargeable actions are refused until a payment succeeds.
    pub payment_failed: bool,
    /// An enterprise account's own limits, replacing its tier's.
    pub custom_limits: Option<TierLimits>,
    pub created_at: i64,
    /// Set by an owner: every member must sign in with a second factor (members without one
    /// may only enrol until they have).
    pub require_mfa: bool,
}

#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    async fn create_account(&self, account: &Account, owner: &Member) -> Result<(), StoreError>;
    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError>;
    async fn set_tier(&self, account_id: &str, tier: Tier) -> Result<bool, StoreError>;
    async fn set_payment_failed(&self, account_id: &str, failed: bool) -> Result<bool, StoreError>;
    async fn set_require_mfa(&self, account_id: &str, require: bool) -> Result<bool, StoreError>;
}
