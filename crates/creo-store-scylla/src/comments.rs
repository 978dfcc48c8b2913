//! Comment threads anchored in a document.

use scylla::value::CqlTimestamp;

use super::*;
use creo_store::comments::*;

#[async_trait]
impl CommentStore for ScyllaStore {
    async fn put_comment(&self, c: &creo_core::comments::Comment) -> Result<(), StoreError> {
        let data = serde_json::to_string(c).map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.workflow.put_comment,
                (&c.doc_id, &c.comment_id, CqlTimestamp(c.created_at), data),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn comments(
        &self,
        doc_id: &str,
    ) -> Result<Vec<creo_core::comments::Comment>, StoreError> {
        let rows: Vec<(String,)> = self.all_rows(&self.workflow.comments, (doc_id,)).await?;
        let mut out: Vec<creo_core::comments::Comment> = rows
            .into_iter()
            .map(|(data,)| {
                serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| (a.created_at, &a.comment_id).cmp(&(b.created_at, &b.comment_id)));
        Ok(out)
    }
}
