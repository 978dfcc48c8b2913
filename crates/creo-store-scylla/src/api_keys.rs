//! API keys for apps acting on an account.

use async_trait::async_trait;

use super::account_rows::*;
use super::*;
use creo_store::api_keys::*;

#[async_trait]
impl ApiKeyStore for ScyllaStore {
    async fn create_api_key(&self, k: &ApiKey) -> Result<(), StoreError> {
        let st = self.acct();
        self.exec(
            &st.insert_key,
            (
                &k.key_id,
                &k.account_id,
                &k.name,
                &k.prefix,
                &k.secret_hash,
                &k.scopes,
                &k.created_by,
                ts(k.created_at),
            ),
        )
        .await?;
        self.exec(&st.index_key, (&k.account_id, &k.key_id)).await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<KeyRow> = self.first(&self.acct().key, (key_id,)).await?;
        Ok(row.map(api_key))
    }

    async fn api_keys(&self, account_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let ids: Vec<(String,)> = self.all_rows(&self.acct().key_ids, (account_id,)).await?;
        let mut out = Vec::new();
        for (id,) in ids {
            if let Some(k) = self.api_key(&id).await? {
                out.push(k);
            }
        }
        out.sort_by_key(|k| k.created_at);
        Ok(out)
    }

    async fn revoke_api_key(
        &self,
        account_id: &str,
        key_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.lwt(&self.acct().revoke_key, (ts(now), key_id, account_id))
            .await
    }
}
