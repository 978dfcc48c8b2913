//! A fault-injecting wrapper around a real store's document log and revocations (what every
//! edit, load and access check touches), for testing how creo behaves when its store fails:
//! writes or reads that error, added latency, and appends that persist only part of a batch
//! before failing. Enabled with `CREO_FAULT_INJECTION=true`, which also serves
//! `GET/PUT /debug/store-faults`; never on in production. The other aggregates are not
//! wrapped: `Stores::with_faults` swaps only these two handles.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{
    Appended, Compaction, DocumentLog, DocumentMeta, Revocation, RevocationStore, StoreError,
    StoredDocument, Stores,
};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// Claims, appends, compactions and deletions fail.
    pub fail_writes: bool,
    /// Every read fails (loads, metadata, revocation checks).
    pub fail_reads: bool,
    /// Only document loads fail: the request passes its access checks and reaches the load.
    pub fail_loads: bool,
    /// Appends write the first half of their batch, then fail (a torn batch).
    pub partial_appends: bool,
    /// Added to every call to the document log and revocations.
    pub latency_ms: u64,
}

pub struct FaultInjectingStore {
    documents: Arc<dyn DocumentLog>,
    revocations: Arc<dyn RevocationStore>,
    plan: RwLock<FaultPlan>,
}

impl Stores {
    /// These stores with faults injectable into the document log and revocations.
    pub fn with_faults(mut self) -> (Stores, Arc<FaultInjectingStore>) {
        let faults = Arc::new(FaultInjectingStore {
            documents: self.documents,
            revocations: self.revocations,
            plan: RwLock::new(FaultPlan::default()),
        });
        self.documents = faults.clone();
        self.revocations = faults.clone();
        (self, faults)
    }
}

impl FaultInjectingStore {
    pub fn plan(&self) -> FaultPlan {
        self.plan.read().expect("plan lock").clone()
    }

    pub fn set_plan(&self, plan: FaultPlan) {
        tracing::warn!(?plan, "store fault injection changed");
        *self.plan.write().expect("plan lock") = plan;
    }

    async fn before(&self, write: bool) -> Result<FaultPlan, StoreError> {
        let plan = self.plan();
        if plan.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
        }
        if (write && plan.fail_writes) || (!write && plan.fail_reads) {
            return Err(StoreError::Unavailable("injected fault".into()));
        }
        Ok(plan)
    }
}

#[async_trait]
impl DocumentLog for FaultInjectingStore {
    async fn load(&self, doc_id: &str) -> Result<Option<StoredDocument>, StoreError> {
        if self.before(false).await?.fail_loads {
            return Err(StoreError::Unavailable("injected load fault".into()));
        }
        self.documents.load(doc_id).await
    }

    async fn meta(&self, doc_id: &str) -> Result<Option<DocumentMeta>, StoreError> {
        self.before(false).await?;
        self.documents.meta(doc_id).await
    }

    async fn claim(&self, doc_id: &str, account_id: &str) -> Result<DocumentMeta, StoreError> {
        self.before(true).await?;
        self.documents.claim(doc_id, account_id).await
    }

    async fn set_title(&self, doc_id: &str, title: &str) -> Result<bool, StoreError> {
        self.before(true).await?;
        self.documents.set_title(doc_id, title).await
    }

    async fn documents_of(
        &self,
        account_id: &str,
        limit: usize,
    ) -> Result<Vec<DocumentMeta>, StoreError> {
        self.before(false).await?;
        self.documents.documents_of(account_id, limit).await
    }

    async fn append(&self, doc_id: &str, updates: Vec<Bytes>) -> Result<Appended, StoreError> {
        let plan = self.before(true).await?;
        if plan.partial_appends && updates.len() > 1 {
            let half = updates[..updates.len() / 2].to_vec();
            self.documents.append(doc_id, half).await?;
            return Err(StoreError::Unavailable("injected torn batch".into()));
        }
        self.documents.append(doc_id, updates).await
    }

    async fn compact(&self, doc_id: &str) -> Result<Option<Compaction>, StoreError> {
        self.before(true).await?;
        self.documents.compact(doc_id).await
    }

    async fn delete(&self, doc_id: &str) -> Result<bool, StoreError> {
        self.before(true).await?;
        self.documents.delete(doc_id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.before(false).await?;
        self.documents.ping().await
    }
}

#[async_trait]
impl RevocationStore for FaultInjectingStore {
    async fn revoke(&self, revocation: &Revocation) -> Result<(), StoreError> {
        self.before(true).await?;
        self.revocations.revoke(revocation).await
    }

    async fn lift_revocation(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.before(true).await?;
        self.revocations
            .lift_revocation(account_id, user_id, doc_id)
            .await
    }

    async fn revocations(&self, account_id: &str) -> Result<Vec<Revocation>, StoreError> {
        self.before(false).await?;
        self.revocations.revocations(account_id).await
    }

    async fn is_revoked(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: &str,
    ) -> Result<bool, StoreError> {
        self.before(false).await?;
        self.revocations
            .is_revoked(account_id, user_id, doc_id)
            .await
    }
}
