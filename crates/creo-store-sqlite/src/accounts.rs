//! Accounts: creation, tier and payment state.

use async_trait::async_trait;
use creo_core::billing::Tier;
use rusqlite::params;

use super::account_rows::*;
use super::*;
use creo_store::accounts::*;
use creo_store::members::Member;

#[async_trait]
impl AccountStore for EmbeddedStore {
    async fn create_account(&self, account: &Account, owner: &Member) -> Result<(), StoreError> {
        let (account, owner) = (account.clone(), owner.clone());
        self.transaction(move |c| {
            insert_account(c, &account)?;
            insert_member(c, &owner)
        })
        .await
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE account_id = ?1"),
                params![id],
                account_row,
            )
        })
        .await
    }

    async fn set_tier(&self, account_id: &str, tier: Tier) -> Result<bool, StoreError> {
        let id = account_id.to_string();
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE accounts SET tier = ?2 WHERE account_id = ?1",
                params![id, tier.as_str()],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn set_payment_failed(&self, account_id: &str, failed: bool) -> Result<bool, StoreError> {
        let id = account_id.to_string();
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE accounts SET payment_failed = ?2 WHERE account_id = ?1",
                params![id, failed],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn set_require_mfa(&self, account_id: &str, require: bool) -> Result<bool, StoreError> {
        let id = account_id.to_string();
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE accounts SET require_mfa = ?2 WHERE account_id = ?1",
                params![id, require],
            )
            .map(|n| n > 0)
        })
        .await
    }
}
