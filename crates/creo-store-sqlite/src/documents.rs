//! A document's log: its row, its updates in epochs, and compaction into snapshots.

use super::*;
use creo_store::documents::*;

#[async_trait]
impl DocumentLog for EmbeddedStore {
    async fn load(&self, doc_id: &str) -> Result<Option<StoredDocument>, StoreError> {
        let doc_id = doc_id.to_string();
        self.read(move |conn| Ok(read_document(conn, &doc_id)?.map(|(d, _)| d)))
            .await
    }

    async fn meta(&self, doc_id: &str) -> Result<Option<DocumentMeta>, StoreError> {
        let doc_id = doc_id.to_string();
        self.read(move |conn| read_meta(conn, &doc_id)).await
    }

    async fn claim(&self, doc_id: &str, account_id: &str) -> Result<DocumentMeta, StoreError> {
        let (doc_id, account_id) = (doc_id.to_string(), account_id.to_string());
        self.write(|reply| WriteOp::Claim {
            doc_id,
            account_id,
            reply,
        })
        .await
    }

    async fn set_title(&self, doc_id: &str, title: &str) -> Result<bool, StoreError> {
        let (doc_id, title) = (doc_id.to_string(), title.to_string());
        self.transaction(move |c| {
            c.execute(
                "UPDATE documents SET title = ?2 WHERE doc_id = ?1",
                params![doc_id, title],
            )
            .map(|changed| changed > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn documents_of(
        &self,
        account_id: &str,
        limit: usize,
    ) -> Result<Vec<DocumentMeta>, StoreError> {
        let account_id = account_id.to_string();
        self.read(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT doc_id, epoch, created_at, updated_at, title FROM documents \
                     WHERE account_id = ?1 ORDER BY updated_at DESC LIMIT ?2",
                )
                .map_err(unavailable)?;
            let rows = statement
                .query_map(params![account_id, limit as i64], |r| {
                    Ok(DocumentMeta {
                        doc_id: r.get(0)?,
                        account_id: account_id.clone(),
                        epoch: r.get(1)?,
                        created_at_ms: r.get(2)?,
                        updated_at_ms: r.get(3)?,
                        title: r.get(4)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }

    async fn append(&self, doc_id: &str, updates: Vec<Bytes>) -> Result<Appended, StoreError> {
        let doc_id = doc_id.to_string();
        self.write(|reply| WriteOp::Append {
            doc_id,
            updates,
            reply,
        })
        .await
    }

    async fn compact(&self, doc_id: &str) -> Result<Option<Compaction>, StoreError> {
        // Fold outside the write transaction (it can take a while for a big document); the
        // write step then folds in whatever was appended meanwhile and switches epochs.
        let id = doc_id.to_string();
        let read = self
            .read(move |conn| {
                let Some((doc, last_seq)) = read_document(conn, &id)? else {
                    return Ok(None);
                };
                let folded = doc.updates.len() as u64;
                Ok(Some((doc.meta.epoch, last_seq, folded, doc.fold()?)))
            })
            .await?;
        let Some((epoch, through_seq, folded_updates, state)) = read else {
            return Ok(None);
        };
        let doc_id = doc_id.to_string();
        self.write(|reply| WriteOp::Compact {
            doc_id,
            epoch,
            through_seq,
            folded_updates,
            state,
            reply,
        })
        .await
    }

    async fn delete(&self, doc_id: &str) -> Result<bool, StoreError> {
        let doc_id = doc_id.to_string();
        self.write(|reply| WriteOp::Delete { doc_id, reply }).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(unavailable)
        })
        .await
    }
}
