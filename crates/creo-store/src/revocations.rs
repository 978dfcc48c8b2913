//! Access revocations: who may no longer open an account's documents.

use async_trait::async_trait;

use super::StoreError;

pub use creo_core::access::Revocation;

/// How a revocation's scope is keyed in the store: a document id, or `*` for the account.
pub const WHOLE_ACCOUNT: &str = "*";

pub fn revocation_scope(doc_id: Option<&str>) -> &str {
    doc_id.unwrap_or(WHOLE_ACCOUNT)
}

#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Records a revocation (replacing an earlier one of the same scope).
    async fn revoke(&self, revocation: &Revocation) -> Result<(), StoreError>;
    /// Lifts a revocation; whether there was one.
    async fn lift_revocation(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: Option<&str>,
    ) -> Result<bool, StoreError>;
    async fn revocations(&self, account_id: &str) -> Result<Vec<Revocation>, StoreError>;
    /// Whether `user_id` is barred from `doc_id` (by a revocation of it or of the account).
    async fn is_revoked(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: &str,
    ) -> Result<bool, StoreError>;
}
