//! API keys for apps acting on an account.

use async_trait::async_trait;
use rusqlite::params;

use super::account_rows::*;
use super::*;
use creo_store::api_keys::*;

#[async_trait]
impl ApiKeyStore for EmbeddedStore {
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let k = key.clone();
        self.transaction(move |c| {
            exec(
                c,
                &format!(
                    "INSERT INTO api_keys ({KEY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    k.key_id,
                    k.account_id,
                    k.name,
                    k.prefix,
                    k.secret_hash,
                    k.scopes.join(" "),
                    k.created_by,
                    k.created_at,
                    k.revoked_at
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        let id = key_id.to_string();
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {KEY_COLS} FROM api_keys WHERE key_id = ?1"),
                params![id],
                key_row,
            )
        })
        .await
    }

    async fn api_keys(&self, account_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!(
                    "SELECT {KEY_COLS} FROM api_keys WHERE account_id = ?1 ORDER BY created_at"
                ),
                params![id],
                key_row,
            )
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        account_id: &str,
        key_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (a, k) = (account_id.to_string(), key_id.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE api_keys SET revoked_at = ?3 WHERE account_id = ?1 AND key_id = ?2 AND revoked_at IS NULL",
                params![a, k, now],
            )
            .map(|n| n > 0)
        })
        .await
    }
}
