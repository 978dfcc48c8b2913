//! Documents' embeddings, what semantic search ranks by.

use super::*;
use creo_store::embeddings::*;

#[async_trait]
impl EmbeddingStore for EmbeddedStore {
    async fn put_embedding(&self, e: &DocumentEmbedding) -> Result<(), StoreError> {
        let e = e.clone();
        self.transaction(move |conn| {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO document_embeddings
                 (account_id, model, doc_id, vector, text_hash, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    e.account_id,
                    e.model,
                    e.doc_id,
                    e.vector_bytes(),
                    e.text_hash,
                    e.updated_at
                ])
            })
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn delete_embedding(
        &self,
        account_id: &str,
        model: &str,
        doc_id: &str,
    ) -> Result<(), StoreError> {
        let (a, m, d) = (
            account_id.to_string(),
            model.to_string(),
            doc_id.to_string(),
        );
        self.transaction(move |conn| {
            conn.execute(
                "DELETE FROM document_embeddings WHERE account_id = ?1 AND model = ?2 AND doc_id = ?3",
                params![a, m, d],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn embeddings(
        &self,
        account_id: &str,
        model: &str,
    ) -> Result<Vec<DocumentEmbedding>, StoreError> {
        let (a, m) = (account_id.to_string(), model.to_string());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT doc_id, vector, text_hash, updated_at FROM document_embeddings
                     WHERE account_id = ?1 AND model = ?2",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![a, m], |r| {
                    Ok(DocumentEmbedding {
                        account_id: a.clone(),
                        doc_id: r.get(0)?,
                        model: m.clone(),
                        vector: DocumentEmbedding::vector_from_bytes(&r.get::<_, Vec<u8>>(1)?),
                        text_hash: r.get(2)?,
                        updated_at: r.get(3)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }
}
