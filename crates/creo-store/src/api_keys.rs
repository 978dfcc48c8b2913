//! API keys for apps acting on an account.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub key_id: String,
    pub account_id: String,
    pub name: String,
    /// The key's first characters, to recognise it in a list; the secret itself is never stored.
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn api_keys(&self, account_id: &str) -> Result<Vec<ApiKey>, StoreError>;
    async fn revoke_api_key(
        &self,
        account_id: &str,
        key_id: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
}
