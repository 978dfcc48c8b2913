//! Documents' embeddings, what semantic search ranks by.

use super::*;
use creo_store::embeddings::*;

#[async_trait]
impl EmbeddingStore for ScyllaStore {
    async fn put_embedding(&self, e: &DocumentEmbedding) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(
                &self.st.put_embedding,
                (
                    &e.account_id,
                    &e.model,
                    &e.doc_id,
                    e.vector_bytes(),
                    &e.text_hash,
                    CqlTimestamp(e.updated_at),
                ),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn delete_embedding(
        &self,
        account_id: &str,
        model: &str,
        doc_id: &str,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(&self.st.drop_embedding, (account_id, model, doc_id))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn embeddings(
        &self,
        account_id: &str,
        model: &str,
    ) -> Result<Vec<DocumentEmbedding>, StoreError> {
        let rows: Vec<(String, Vec<u8>, String, CqlTimestamp)> = self
            .all_rows(&self.st.embeddings, (account_id, model))
            .await?;
        Ok(rows
            .into_iter()
            .map(|(doc_id, vector, text_hash, at)| DocumentEmbedding {
                account_id: account_id.to_string(),
                doc_id,
                model: model.to_string(),
                vector: DocumentEmbedding::vector_from_bytes(&vector),
                text_hash,
                updated_at: at.0,
            })
            .collect())
    }
}
