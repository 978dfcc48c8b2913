//! A document's log: its row, its updates in epochs, and compaction into snapshots.

use async_trait::async_trait;
use bytes::Bytes;
use yrs::{Doc, ReadTxn, StateVector, Transact};

use super::StoreError;

/// Snapshots are written in chunks of this size so no single row or cell grows without bound.
pub const SNAPSHOT_CHUNK_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, serde::Serialize)]
pub struct DocumentMeta {
    pub doc_id: String,
    pub account_id: String,
    pub epoch: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// What people call the document (any Unicode, duplicates allowed); the id is the server's.
    pub title: String,
}

/// Everything needed to rebuild a document: one snapshot plus the log tail of its epoch.
#[derive(Debug)]
pub struct StoredDocument {
    pub meta: DocumentMeta,
    pub snapshot: Option<Vec<u8>>,
    pub updates: Vec<Vec<u8>>,
}

impl StoredDocument {
    pub fn stored_bytes(&self) -> u64 {
        let snap = self.snapshot.as_ref().map_or(0, |s| s.len());
        (snap + self.updates.iter().map(Vec::len).sum::<usize>()) as u64
    }

    /// Rebuilds the document. CPU-heavy for big documents: call it off the async executor.
    ///
    /// Each stored update is validated before yrs decodes it (`sync::update`): one written
    /// before the server checked nesting could otherwise overflow the stack on every load. Such
    /// an update is left out, logged and counted; the rest of the document loads.
    pub fn to_doc(&self) -> Result<Doc, StoreError> {
        let limits = creo_core::sync::UpdateLimits::default().trusted();
        let doc = Doc::new();
        {
            let mut txn = doc.transact_mut();
            for bytes in self.snapshot.iter().chain(self.updates.iter()) {
                let update = match creo_core::sync::update::decode_checked(bytes, &limits) {
                    Ok((_, update)) => update,
                    Err(e) => {
                        metrics::counter!("creo_store_invalid_updates_total").increment(1);
                        tracing::error!(doc = %self.meta.doc_id, error = %e, bytes = bytes.len(), "stored update refused");
                        continue;
                    }
                };
                txn.apply_update(update)
                    .map_err(|e| StoreError::Corrupt(format!("{}: {e}", self.meta.doc_id)))?;
            }
        }
        Ok(doc)
    }

    /// The whole state as one update: what compaction writes as the next epoch's snapshot.
    pub fn fold(&self) -> Result<Vec<u8>, StoreError> {
        let doc = self.to_doc()?;
        let state = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        Ok(state)
    }
}

/// Where an append landed. The caller counts the log itself (counting rows is expensive on a
/// distributed store); a new epoch means someone compacted meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Appended {
    pub epoch: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct Compaction {
    pub epoch: i64,
    pub snapshot_bytes: u64,
    pub folded_updates: u64,
}

/// Documents whose store writes are failing right now; `/readyz` is false while any are.
#[derive(Debug, Default)]
pub struct StoreHealth {
    failing_documents: std::sync::atomic::AtomicI64,
}

impl StoreHealth {
    pub fn write_failed(&self) {
        self.failing_documents
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn write_recovered(&self) {
        self.failing_documents
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn failing_documents(&self) -> i64 {
        self.failing_documents
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[async_trait]
pub trait DocumentLog: Send + Sync + 'static {
    /// `None` when the document was never created. A failure is an error, never an empty
    /// document, so a failed load cannot overwrite stored content.
    async fn load(&self, doc_id: &str) -> Result<Option<StoredDocument>, StoreError>;
    async fn meta(&self, doc_id: &str) -> Result<Option<DocumentMeta>, StoreError>;
    /// Creates the document for `account_id` unless it exists; returns the stored owner either
    /// way, so two nodes racing to create it agree on one owner.
    async fn claim(&self, doc_id: &str, account_id: &str) -> Result<DocumentMeta, StoreError>;
    /// Renames the document; `false` when it does not exist.
    async fn set_title(&self, doc_id: &str, title: &str) -> Result<bool, StoreError>;
    /// An account's documents, at most `limit`, most recently changed first (on ScyllaDB
    /// "changed" is the last compaction: appends do not rewrite the document row).
    async fn documents_of(
        &self,
        account_id: &str,
        limit: usize,
    ) -> Result<Vec<DocumentMeta>, StoreError>;
    /// Durably appends updates to the document's current epoch, in order.
    async fn append(&self, doc_id: &str, updates: Vec<Bytes>) -> Result<Appended, StoreError>;
    /// Folds the current epoch into a snapshot of the next one. Safe under concurrent appends.
    async fn compact(&self, doc_id: &str) -> Result<Option<Compaction>, StoreError>;
    /// Removes the document, its log and its snapshots, and everything kept under it: comments,
    /// versions, workflow and its history (and calendar entry), generations, publishing
    /// targets. `false` if it did not exist. Embeddings are the account's search index's
    /// (`EmbeddingStore::delete_embedding`).
    async fn delete(&self, doc_id: &str) -> Result<bool, StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
}
