//! AI generations and their variations.

use creo_core::generations::Generation;
use rusqlite::{params, OptionalExtension};

use super::webhook_rows::*;
use super::*;
use creo_store::generations::*;

#[async_trait]
impl GenerationStore for EmbeddedStore {
    async fn put_generation(&self, g: &Generation) -> Result<(), StoreError> {
        let data = serde_json::to_string(g).map_err(unavailable)?;
        let (doc, id) = (g.doc_id.clone(), g.generation_id.clone());
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO generations (doc_id, generation_id, data) VALUES (?1, ?2, ?3)",
                params![doc, id, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn generation(
        &self,
        doc_id: &str,
        generation_id: &str,
    ) -> Result<Option<Generation>, StoreError> {
        let (doc, id) = (doc_id.to_string(), generation_id.to_string());
        let data: Option<String> = self
            .read(move |c| {
                c.query_row(
                    "SELECT data FROM generations WHERE doc_id = ?1 AND generation_id = ?2",
                    params![doc, id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)
            })
            .await?;
        data.map(|d| decode(&d)).transpose()
    }
}
