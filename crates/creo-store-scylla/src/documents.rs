//! A document's log: its row, its updates in epochs, and compaction into snapshots.

use super::*;
use creo_store::documents::*;

#[async_trait]
impl DocumentLog for ScyllaStore {
    /// Snapshot of the current epoch plus the logs of the previous and current epochs (see
    /// `schema.cql` for why the previous one).
    async fn load(&self, doc_id: &str) -> Result<Option<StoredDocument>, StoreError> {
        self.read_document(doc_id).await
    }

    async fn meta(&self, doc_id: &str) -> Result<Option<DocumentMeta>, StoreError> {
        Ok(self.read_meta(doc_id, &self.st.meta).await?.map(|(m, _)| m))
    }

    async fn claim(&self, doc_id: &str, account_id: &str) -> Result<DocumentMeta, StoreError> {
        let now = CqlTimestamp(now_ms());
        self.session
            .execute_unpaged(&self.st.claim, (doc_id, account_id, now, now))
            .await
            .map_err(unavailable)?;
        // Whoever won, a SERIAL read returns the owner every node agrees on.
        let meta = self
            .read_meta(doc_id, &self.st.meta_serial)
            .await?
            .map(|(m, _)| m)
            .ok_or_else(|| StoreError::NotFound(doc_id.to_string()))?;
        // Listed under the agreed owner only; the same row again is harmless.
        self.session
            .execute_unpaged(
                &self.st.list_document,
                (&meta.account_id, doc_id, CqlTimestamp(meta.created_at_ms)),
            )
            .await
            .map_err(unavailable)?;
        Ok(meta)
    }

    async fn set_title(&self, doc_id: &str, title: &str) -> Result<bool, StoreError> {
        self.lwt(&self.st.set_title, (title, doc_id)).await
    }

    async fn documents_of(
        &self,
        account_id: &str,
        limit: usize,
    ) -> Result<Vec<DocumentMeta>, StoreError> {
        let rows = self
            .session
            .execute_unpaged(&self.st.documents_of, (account_id,))
            .await
            .map_err(unavailable)?
            .into_rows_result()
            .map_err(unavailable)?;
        let ids: Vec<String> = rows
            .rows::<(String,)>()
            .map_err(unavailable)?
            .map(|r| r.map(|(id,)| id).map_err(unavailable))
            .collect::<Result<_, _>>()?;
        let metas = futures_util::future::try_join_all(
            ids.iter().map(|id| self.read_meta(id, &self.st.meta)),
        )
        .await?;
        let mut out: Vec<DocumentMeta> = metas.into_iter().flatten().map(|(m, _)| m).collect();
        out.sort_by_key(|m| std::cmp::Reverse(m.updated_at_ms));
        out.truncate(limit);
        Ok(out)
    }

    async fn append(&self, doc_id: &str, updates: Vec<Bytes>) -> Result<Appended, StoreError> {
        let (meta, _) = self
            .read_meta(doc_id, &self.st.meta)
            .await?
            .ok_or_else(|| StoreError::NotFound(doc_id.to_string()))?;
        // One partition, one unlogged batch: applied atomically by its replicas.
        let mut batch = Batch::new(BatchType::Unlogged);
        batch.set_consistency(self.write_consistency);
        batch.set_is_idempotent(true);
        let mut values = Vec::with_capacity(updates.len());
        for update in &updates {
            batch.append_statement(self.st.append.clone());
            values.push((doc_id, meta.epoch, self.next_seq(), update.as_ref()));
        }
        self.session
            .batch(&batch, values)
            .await
            .map_err(unavailable)?;
        Ok(Appended { epoch: meta.epoch })
    }

    async fn compact(&self, doc_id: &str) -> Result<Option<Compaction>, StoreError> {
        let Some(doc) = self.read_document(doc_id).await? else {
            return Ok(None);
        };
        if doc.updates.is_empty() {
            return Ok(None);
        }
        let folded_updates = doc.updates.len() as u64;
        let epoch = doc.meta.epoch;
        let state = tokio::task::spawn_blocking(move || doc.fold())
            .await
            .map_err(unavailable)??;
        let next = epoch + 1;
        let snapshot_id = rand::random::<i64>() & i64::MAX;
        for (i, chunk) in state.chunks(SNAPSHOT_CHUNK_BYTES).enumerate() {
            self.session
                .execute_unpaged(
                    &self.st.put_chunk,
                    (doc_id, next, snapshot_id, i as i32, chunk),
                )
                .await
                .map_err(unavailable)?;
        }
        let result = self
            .session
            .execute_unpaged(
                &self.st.switch_epoch,
                (next, snapshot_id, CqlTimestamp(now_ms()), doc_id, epoch),
            )
            .await
            .map_err(unavailable)?;
        if !Self::applied(result)? {
            // Another node compacted first; our chunks are never read. Drop what is ours only.
            let _ = self
                .session
                .query_unpaged(
                    "DELETE FROM document_snapshots WHERE doc_id = ? AND epoch = ? AND snapshot_id = ?",
                    (doc_id, next, snapshot_id),
                )
                .await;
            return Ok(None);
        }
        // One epoch behind: the log of epoch-1 and the snapshot of epoch are read only by loads
        // that started before this switch, and written only by appends that read the epoch
        // before the previous switch.
        for (statement, e) in [
            (&self.st.drop_log, epoch - 1),
            (&self.st.drop_snapshots, epoch),
        ] {
            if e >= 0 {
                if let Err(err) = self.session.execute_unpaged(statement, (doc_id, e)).await {
                    tracing::warn!(doc = doc_id, epoch = e, error = %err, "could not drop an old epoch");
                }
            }
        }
        Ok(Some(Compaction {
            epoch: next,
            snapshot_bytes: state.len() as u64,
            folded_updates,
        }))
    }

    async fn delete(&self, doc_id: &str) -> Result<bool, StoreError> {
        let Some((meta, _)) = self.read_meta(doc_id, &self.st.meta_serial).await? else {
            return Ok(false);
        };
        // What hangs off the document first, so a failure half-way leaves the document to
        // delete again rather than satellites nobody can reach.
        if let Some(at) = creo_store::WorkflowStore::workflow(self, doc_id)
            .await?
            .and_then(|w| w.scheduled_at)
        {
            let month = super::workflow_rows::month_of(at);
            self.session
                .execute_unpaged(
                    &self.workflow.drop_calendar,
                    (&meta.account_id, &month, doc_id),
                )
                .await
                .map_err(unavailable)?;
        }
        self.drop_metrics(doc_id).await?;
        for statement in [
            &self.workflow.drop_workflow,
            &self.workflow.drop_history,
            &self.workflow.drop_comments,
            &self.workflow.drop_versions,
            &self.workflow.drop_recurrence,
            &self.webhooks.drop_generations,
            &self.channels.drop_targets,
        ] {
            self.session
                .execute_unpaged(statement, (doc_id,))
                .await
                .map_err(unavailable)?;
        }
        for e in (meta.epoch - 1).max(0)..=meta.epoch {
            self.session
                .execute_unpaged(&self.st.drop_log, (doc_id, e))
                .await
                .map_err(unavailable)?;
            self.session
                .execute_unpaged(&self.st.drop_snapshots, (doc_id, e))
                .await
                .map_err(unavailable)?;
        }
        self.session
            .execute_unpaged(&self.st.unlist_document, (&meta.account_id, doc_id))
            .await
            .map_err(unavailable)?;
        let result = self
            .session
            .execute_unpaged(&self.st.drop_document, (doc_id,))
            .await
            .map_err(unavailable)?;
        Self::applied(result)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.session
            .query_unpaged("SELECT now() FROM system.local", &[])
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

impl ScyllaStore {
    /// Snapshot of the current epoch plus the logs of the previous and current epochs (see
    /// `schema.cql` for why the previous one).
    async fn read_document(&self, doc_id: &str) -> Result<Option<StoredDocument>, StoreError> {
        let Some((meta, snapshot_id)) = self.read_meta(doc_id, &self.st.meta).await? else {
            return Ok(None);
        };
        let chunks: Vec<(i32, Vec<u8>)> = self
            .all_rows(&self.st.snapshot, (doc_id, meta.epoch, snapshot_id))
            .await?;
        if meta.epoch > 0 && chunks.is_empty() {
            // The row points at a snapshot we cannot see: never load as if empty.
            return Err(StoreError::Corrupt(format!(
                "{doc_id}: snapshot of epoch {} missing",
                meta.epoch
            )));
        }
        for (i, (chunk, _)) in chunks.iter().enumerate() {
            if *chunk != i as i32 {
                return Err(StoreError::Corrupt(format!(
                    "{doc_id}: snapshot chunk {i} missing"
                )));
            }
        }
        let snapshot =
            (!chunks.is_empty()).then(|| chunks.into_iter().flat_map(|(_, data)| data).collect());
        let mut updates = self.read_log(doc_id, meta.epoch - 1).await?;
        updates.extend(self.read_log(doc_id, meta.epoch).await?);
        Ok(Some(StoredDocument {
            meta,
            snapshot,
            updates,
        }))
    }
}
