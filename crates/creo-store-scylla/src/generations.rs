//! AI generations and their variations.

use creo_core::generations::Generation;

use super::webhook_rows::*;
use super::*;
use creo_store::generations::*;

#[async_trait]
impl GenerationStore for ScyllaStore {
    async fn put_generation(&self, g: &Generation) -> Result<(), StoreError> {
        let data = serde_json::to_string(g).map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.webhooks.put_generation,
                (&g.doc_id, &g.generation_id, data),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn generation(
        &self,
        doc_id: &str,
        generation_id: &str,
    ) -> Result<Option<Generation>, StoreError> {
        let rows = self
            .all_rows(&self.webhooks.generation, (doc_id, generation_id))
            .await?;
        Ok(decode(rows)?.pop())
    }
}
