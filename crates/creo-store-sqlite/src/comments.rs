//! Comment threads anchored in a document.

use rusqlite::params;

use super::*;
use creo_store::comments::*;

#[async_trait]
impl CommentStore for EmbeddedStore {
    async fn put_comment(&self, comment: &creo_core::comments::Comment) -> Result<(), StoreError> {
        let c = comment.clone();
        let data = serde_json::to_string(&c).map_err(unavailable)?;
        self.transaction(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO document_comments (doc_id, comment_id, created_at, data) VALUES (?1, ?2, ?3, ?4)",
                params![c.doc_id, c.comment_id, c.created_at, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn comments(
        &self,
        doc_id: &str,
    ) -> Result<Vec<creo_core::comments::Comment>, StoreError> {
        let id = doc_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT data FROM document_comments WHERE doc_id = ?1 ORDER BY created_at, comment_id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![id], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|r| {
                let data = r.map_err(unavailable)?;
                serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
        })
        .await
    }
}
