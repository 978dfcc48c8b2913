//! Accounts: creation, tier and payment state.

use async_trait::async_trait;
use creo_core::billing::Tier;

use super::account_rows::*;
use super::*;
use creo_store::accounts::*;
use creo_store::members::{Member, MemberStore};

#[async_trait]
impl AccountStore for ScyllaStore {
    async fn create_account(&self, a: &Account, owner: &Member) -> Result<(), StoreError> {
        let limits = a
            .custom_limits
            .as_ref()
            .map(|l| serde_json::to_string(l).expect("limits serialise"));
        self.exec(
            &self.acct().insert_account,
            (
                &a.account_id,
                &a.name,
                a.tier.as_str(),
                a.payment_failed,
                limits,
                ts(a.created_at),
                a.require_mfa,
            ),
        )
        .await?;
        self.put_member(owner, None).await?;
        self.head(&a.account_id).await.map(|_| ())
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = self.first(&self.acct().account, (account_id,)).await?;
        row.map(account).transpose()
    }

    async fn set_tier(&self, account_id: &str, tier: Tier) -> Result<bool, StoreError> {
        self.lwt(&self.acct().set_tier, (tier.as_str(), account_id))
            .await
    }

    async fn set_payment_failed(&self, account_id: &str, failed: bool) -> Result<bool, StoreError> {
        self.lwt(&self.acct().set_payment_failed, (failed, account_id))
            .await
    }

    async fn set_require_mfa(&self, account_id: &str, require: bool) -> Result<bool, StoreError> {
        self.lwt(&self.acct().set_require_mfa, (require, account_id))
            .await
    }
}
