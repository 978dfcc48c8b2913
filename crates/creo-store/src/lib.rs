//! creo's persistence, one narrow trait per aggregate, following the logical model of
//! `schema.cql`. Each trait fits on a screen and says what its callers may do; `Stores` holds one
//! handle per aggregate, all pointing at the configured backend (`creo-store-sqlite`, embedded;
//! or `creo-store-scylla`), and a component is given only the handles it uses. The fault
//! injector for tests (`faults`) and the owner-only files under the data directory
//! (`private_files`) are here too.
//!
//! Documents: a `documents` row per document (owner account, current epoch), an update log
//! partitioned by `(doc_id, epoch)`, and a chunked snapshot per epoch. Compaction folds an
//! epoch's snapshot and log into the next epoch's snapshot and drops the old epoch whole.
//! Accounts: identity, membership, API keys, the credit ledger (conditional writes, so two
//! nodes never double-spend) and the audit log.

pub mod accounts;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod brand;
pub mod channels;
pub mod comments;
pub mod documents;
pub mod embeddings;
pub mod faults;
pub mod generations;
pub mod invitations;
pub mod jobs;
pub mod ledger;
pub mod login_sessions;
pub mod media;
pub mod members;
pub mod mfa;
pub mod notifications;
pub mod one_time_tokens;
pub mod payment_events;
pub mod private_files;
pub mod revocations;
pub mod users;
pub mod versions;
pub mod webhooks;
pub mod workflows;

use std::sync::Arc;

pub use accounts::*;
pub use analytics::*;
pub use api_keys::*;
pub use audit::*;
pub use brand::*;
pub use channels::*;
pub use comments::*;
pub use documents::*;
pub use embeddings::*;
pub use generations::*;
pub use invitations::*;
pub use jobs::*;
pub use ledger::*;
pub use login_sessions::*;
pub use media::*;
pub use members::*;
pub use mfa::*;
pub use notifications::*;
pub use one_time_tokens::*;
pub use payment_events::*;
pub use revocations::*;
pub use users::*;
pub use versions::*;
pub use webhooks::*;
pub use workflows::*;

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
pub fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Wall-clock milliseconds, for the timestamps stored with documents.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One handle per aggregate, each on the configured backend (or, for documents and
/// revocations, on the fault-injecting wrapper around it when `fault_injection` is on).
#[derive(Clone)]
pub struct Stores {
    pub documents: Arc<dyn DocumentLog>,
    pub revocations: Arc<dyn RevocationStore>,
    pub embeddings: Arc<dyn EmbeddingStore>,
    pub jobs: Arc<dyn JobStore>,
    pub versions: Arc<dyn VersionStore>,
    pub comments: Arc<dyn CommentStore>,
    pub workflows: Arc<dyn WorkflowStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    pub channels: Arc<dyn ChannelStore>,
    pub metrics: Arc<dyn MetricsStore>,
    pub media: Arc<dyn MediaStore>,
    pub brand: Arc<dyn BrandStore>,
    pub generations: Arc<dyn GenerationStore>,
    pub users: Arc<dyn UserStore>,
    pub logins: Arc<dyn LoginSessionStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub members: Arc<dyn MemberStore>,
    pub invitations: Arc<dyn InvitationStore>,
    pub api_keys: Arc<dyn ApiKeyStore>,
    pub ledger: Arc<dyn LedgerStore>,
    pub payment_events: Arc<dyn PaymentEventStore>,
    pub audit: Arc<dyn AuditStore>,
    pub notifications: Arc<dyn NotificationStore>,
    pub one_time_tokens: Arc<dyn OneTimeTokenStore>,
    pub mfa: Arc<dyn MfaStore>,
}

impl Stores {
    /// Every aggregate on one backend.
    pub fn of<B>(backend: Arc<B>) -> Stores
    where
        B: DocumentLog
            + RevocationStore
            + EmbeddingStore
            + JobStore
            + VersionStore
            + CommentStore
            + WorkflowStore
            + WebhookStore
            + ChannelStore
            + MetricsStore
            + MediaStore
            + BrandStore
            + GenerationStore
            + UserStore
            + LoginSessionStore
            + AccountStore
            + MemberStore
            + InvitationStore
            + ApiKeyStore
            + LedgerStore
            + PaymentEventStore
            + AuditStore
            + NotificationStore
            + OneTimeTokenStore
            + MfaStore,
    {
        Stores {
            documents: backend.clone(),
            revocations: backend.clone(),
            embeddings: backend.clone(),
            jobs: backend.clone(),
            versions: backend.clone(),
            comments: backend.clone(),
            workflows: backend.clone(),
            webhooks: backend.clone(),
            channels: backend.clone(),
            metrics: backend.clone(),
            media: backend.clone(),
            brand: backend.clone(),
            generations: backend.clone(),
            users: backend.clone(),
            logins: backend.clone(),
            accounts: backend.clone(),
            members: backend.clone(),
            invitations: backend.clone(),
            api_keys: backend.clone(),
            ledger: backend.clone(),
            payment_events: backend.clone(),
            audit: backend.clone(),
            notifications: backend.clone(),
            one_time_tokens: backend.clone(),
            mfa: backend,
        }
    }
}
