//! Named and automatic versions of a document.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait VersionStore: Send + Sync + 'static {
    async fn put_version(&self, version: &creo_core::versions::Version) -> Result<(), StoreError>;
    /// Drops a version (the oldest automatic one, to make room within the tier's quota).
    async fn delete_version(&self, doc_id: &str, version_id: &str) -> Result<(), StoreError>;
    /// The document's versions, oldest first, without their states.
    async fn versions(&self, doc_id: &str)
        -> Result<Vec<creo_core::versions::Version>, StoreError>;
    /// One version with its state.
    async fn version(
        &self,
        doc_id: &str,
        version_id: &str,
    ) -> Result<Option<creo_core::versions::Version>, StoreError>;
}
