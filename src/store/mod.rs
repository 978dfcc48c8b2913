//! Persistence behind one `DocumentStore` trait, following the logical model of `schema.cql`:
//! a `documents` row per document (owner account, current epoch), an update log partitioned by
//! `(doc_id, epoch)`, and a chunked snapshot per epoch. Compaction folds an epoch's snapshot and
//! log into the next epoch's snapshot and drops the old epoch whole.

pub mod accounts;
pub mod embedded;
pub mod faults;
pub mod scylla;

use async_trait::async_trait;
use bytes::Bytes;
use yrs::{Doc, ReadTxn, StateVector, Transact};

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

/// A user's access to an account's documents (or to one of them) taken away by an owner or
/// admin. It stands until lifted: tokens issued before or after it are refused alike.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Revocation {
    pub account_id: String,
    pub user_id: String,
    /// `None`: the whole account.
    pub doc_id: Option<String>,
    pub revoked_by: String,
    /// Milliseconds since the Unix epoch.
    pub revoked_at: i64,
}

/// A document's vector under one embedding model, and a hash of the text it was made from (so an
/// unchanged text is not embedded again).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentEmbedding {
    pub account_id: String,
    pub doc_id: String,
    pub model: String,
    pub vector: Vec<f32>,
    pub text_hash: String,
    pub updated_at: i64,
}

impl DocumentEmbedding {
    /// Little-endian f32s, as stored.
    pub fn vector_bytes(&self) -> Vec<u8> {
        self.vector.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    pub fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
}

/// How a revocation's scope is keyed in the store: a document id, or `*` for the account.
pub(crate) const WHOLE_ACCOUNT: &str = "*";

pub(crate) fn revocation_scope(doc_id: Option<&str>) -> &str {
    doc_id.unwrap_or(WHOLE_ACCOUNT)
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

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("document {0} does not exist")]
    NotFound(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A backend failure, as the error every caller treats as "retry later".
pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Wall-clock milliseconds, for the timestamps stored with documents.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[async_trait]
pub trait DocumentStore: Send + Sync + 'static {
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
    /// Removes the document, its log and its snapshots. `false` if it did not exist.
    async fn delete(&self, doc_id: &str) -> Result<bool, StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
    /// Records a revocation (replacing an earlier one of the same scope).
    async fn revoke(&self, revocation: &Revocation) -> Result<(), StoreError>;
    /// Lifts a revocation; whether there was one.
    async fn lift_revocation(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: Option<&str>,
    ) -> Result<bool, StoreError>;
    async fn revocations(&self, account_id: &str) -> Result<Vec<Revocation>, StoreError>;
    /// Stores a document's embedding (what semantic search ranks by), replacing the previous one.
    async fn put_embedding(&self, embedding: &DocumentEmbedding) -> Result<(), StoreError>;
    /// Every stored embedding of an account's documents made by `model`.
    async fn embeddings(
        &self,
        account_id: &str,
        model: &str,
    ) -> Result<Vec<DocumentEmbedding>, StoreError>;
    /// The in-process job queue (used when no broker is configured): queue or re-queue a job.
    async fn put_job(&self, job: &creo_core::jobs::Job) -> Result<(), StoreError>;
    /// Takes up to `limit` jobs due at `now` (ready ones, and running ones whose lease expired:
    /// their worker died), leasing them until `now + lease_ms`. Two workers never take the same.
    async fn claim_jobs(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<creo_core::jobs::Job>, StoreError>;
    /// The job is over: done (`None`), or dead with the reason (kept for inspection).
    async fn end_job(&self, id: &str, dead: Option<&str>) -> Result<(), StoreError>;
    async fn put_version(&self, version: &creo_core::versions::Version) -> Result<(), StoreError>;
    /// Drops a version (the oldest automatic one, to make room within the tier's quota).
    async fn delete_version(&self, doc_id: &str, version_id: &str) -> Result<(), StoreError>;
    /// The document's versions, oldest first, without their states.
    async fn versions(&self, doc_id: &str)
        -> Result<Vec<creo_core::versions::Version>, StoreError>;
    /// One version with its state.
    async fn version(
        &self,
        doc_id: &str,
        version_id: &str,
    ) -> Result<Option<creo_core::versions::Version>, StoreError>;
    /// Adds or replaces a comment (a resolved thread replaces its first comment).
    async fn put_comment(&self, comment: &creo_core::comments::Comment) -> Result<(), StoreError>;
    /// The document's comments, oldest first.
    async fn comments(&self, doc_id: &str)
        -> Result<Vec<creo_core::comments::Comment>, StoreError>;
    /// The document's workflow; `None` while it never left draft.
    async fn workflow(
        &self,
        doc_id: &str,
    ) -> Result<Option<creo_core::workflow::Workflow>, StoreError>;
    /// Records a transition if the workflow is still at `next.version - 1` (`false`: someone
    /// else moved it first; read it again).
    async fn transition(
        &self,
        next: &creo_core::workflow::Workflow,
        record: &creo_core::workflow::Transition,
    ) -> Result<bool, StoreError>;
    /// The document's transitions, oldest first.
    async fn transitions(
        &self,
        doc_id: &str,
    ) -> Result<Vec<creo_core::workflow::Transition>, StoreError>;
    /// Approvals an account requires before a document is approved (`None`: the default).
    async fn required_approvals(&self, account_id: &str) -> Result<Option<u32>, StoreError>;
    async fn set_required_approvals(&self, account_id: &str, n: u32) -> Result<(), StoreError>;
    /// Adds or replaces a webhook endpoint.
    async fn put_webhook(&self, endpoint: &creo_core::webhooks::Endpoint)
        -> Result<(), StoreError>;
    /// The account's endpoints.
    async fn webhooks(
        &self,
        account_id: &str,
    ) -> Result<Vec<creo_core::webhooks::Endpoint>, StoreError>;
    /// Removes an endpoint and its delivery log; whether it existed.
    async fn delete_webhook(&self, account_id: &str, endpoint_id: &str)
        -> Result<bool, StoreError>;
    /// Logs a delivery attempt (kept `DELIVERY_LOG_DAYS`).
    async fn put_delivery(
        &self,
        delivery: &creo_core::webhooks::Delivery,
    ) -> Result<(), StoreError>;
    /// An endpoint's latest attempts, newest first.
    async fn deliveries(
        &self,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<creo_core::webhooks::Delivery>, StoreError>;
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
    /// Whether `user_id` is barred from `doc_id` (by a revocation of it or of the account).
    async fn is_revoked(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: &str,
    ) -> Result<bool, StoreError>;
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
