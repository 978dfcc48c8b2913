//! AI generations and their variations.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait GenerationStore: Send + Sync + 'static {
    /// Adds or replaces an AI generation.
    async fn put_generation(
        &self,
        generation: &creo_core::generations::Generation,
    ) -> Result<(), StoreError>;
    async fn generation(
        &self,
        doc_id: &str,
        generation_id: &str,
    ) -> Result<Option<creo_core::generations::Generation>, StoreError>;
}
