//! A fault-injecting wrapper around a real store, for testing how creo behaves when its store
//! fails: writes or reads that error, added latency, and appends that persist only part of a
//! batch before failing. Enabled with `CREO_FAULT_INJECTION=true`, which also serves
//! `GET/PUT /debug/store-faults`; never on in production.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{
    Appended, Compaction, DocumentMeta, DocumentStore, Revocation, StoreError, StoredDocument,
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
    /// Added to every call.
    pub latency_ms: u64,
}

pub struct FaultInjectingStore {
    inner: Arc<dyn DocumentStore>,
    plan: RwLock<FaultPlan>,
}

impl FaultInjectingStore {
    pub fn new(inner: Arc<dyn DocumentStore>) -> Self {
        FaultInjectingStore {
            inner,
            plan: RwLock::new(FaultPlan::default()),
        }
    }

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
impl DocumentStore for FaultInjectingStore {
    async fn load(&self, doc_id: &str) -> Result<Option<StoredDocument>, StoreError> {
        if self.before(false).await?.fail_loads {
            return Err(StoreError::Unavailable("injected load fault".into()));
        }
        self.inner.load(doc_id).await
    }

    async fn meta(&self, doc_id: &str) -> Result<Option<DocumentMeta>, StoreError> {
        self.before(false).await?;
        self.inner.meta(doc_id).await
    }

    async fn claim(&self, doc_id: &str, account_id: &str) -> Result<DocumentMeta, StoreError> {
        self.before(true).await?;
        self.inner.claim(doc_id, account_id).await
    }

    async fn set_title(&self, doc_id: &str, title: &str) -> Result<bool, StoreError> {
        self.before(true).await?;
        self.inner.set_title(doc_id, title).await
    }

    async fn documents_of(
        &self,
        account_id: &str,
        limit: usize,
    ) -> Result<Vec<DocumentMeta>, StoreError> {
        self.before(false).await?;
        self.inner.documents_of(account_id, limit).await
    }

    async fn append(&self, doc_id: &str, updates: Vec<Bytes>) -> Result<Appended, StoreError> {
        let plan = self.before(true).await?;
        if plan.partial_appends && updates.len() > 1 {
            let half = updates[..updates.len() / 2].to_vec();
            self.inner.append(doc_id, half).await?;
            return Err(StoreError::Unavailable("injected torn batch".into()));
        }
        self.inner.append(doc_id, updates).await
    }

    async fn compact(&self, doc_id: &str) -> Result<Option<Compaction>, StoreError> {
        self.before(true).await?;
        self.inner.compact(doc_id).await
    }

    async fn delete(&self, doc_id: &str) -> Result<bool, StoreError> {
        self.before(true).await?;
        self.inner.delete(doc_id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.before(false).await?;
        self.inner.ping().await
    }

    async fn revoke(&self, revocation: &Revocation) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.revoke(revocation).await
    }

    async fn lift_revocation(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.before(true).await?;
        self.inner
            .lift_revocation(account_id, user_id, doc_id)
            .await
    }

    async fn revocations(&self, account_id: &str) -> Result<Vec<Revocation>, StoreError> {
        self.before(false).await?;
        self.inner.revocations(account_id).await
    }

    async fn put_embedding(&self, e: &super::DocumentEmbedding) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.put_embedding(e).await
    }

    async fn embeddings(
        &self,
        account_id: &str,
        model: &str,
    ) -> Result<Vec<super::DocumentEmbedding>, StoreError> {
        self.before(false).await?;
        self.inner.embeddings(account_id, model).await
    }

    async fn put_job(&self, job: &creo_core::jobs::Job) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.put_job(job).await
    }

    async fn claim_jobs(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<creo_core::jobs::Job>, StoreError> {
        self.before(true).await?;
        self.inner.claim_jobs(now, lease_ms, limit).await
    }

    async fn end_job(&self, id: &str, dead: Option<&str>) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.end_job(id, dead).await
    }

    async fn put_version(&self, v: &creo_core::versions::Version) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.put_version(v).await
    }

    async fn delete_version(&self, doc_id: &str, version_id: &str) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.delete_version(doc_id, version_id).await
    }

    async fn versions(
        &self,
        doc_id: &str,
    ) -> Result<Vec<creo_core::versions::Version>, StoreError> {
        self.before(false).await?;
        self.inner.versions(doc_id).await
    }

    async fn version(
        &self,
        doc_id: &str,
        version_id: &str,
    ) -> Result<Option<creo_core::versions::Version>, StoreError> {
        self.before(false).await?;
        self.inner.version(doc_id, version_id).await
    }

    async fn put_comment(&self, c: &creo_core::comments::Comment) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.put_comment(c).await
    }

    async fn comments(
        &self,
        doc_id: &str,
    ) -> Result<Vec<creo_core::comments::Comment>, StoreError> {
        self.before(false).await?;
        self.inner.comments(doc_id).await
    }

    async fn workflow(
        &self,
        doc_id: &str,
    ) -> Result<Option<creo_core::workflow::Workflow>, StoreError> {
        self.before(false).await?;
        self.inner.workflow(doc_id).await
    }

    async fn transition(
        &self,
        next: &creo_core::workflow::Workflow,
        record: &creo_core::workflow::Transition,
    ) -> Result<bool, StoreError> {
        self.before(true).await?;
        self.inner.transition(next, record).await
    }

    async fn transitions(
        &self,
        doc_id: &str,
    ) -> Result<Vec<creo_core::workflow::Transition>, StoreError> {
        self.before(false).await?;
        self.inner.transitions(doc_id).await
    }

    async fn required_approvals(&self, account_id: &str) -> Result<Option<u32>, StoreError> {
        self.before(false).await?;
        self.inner.required_approvals(account_id).await
    }

    async fn set_required_approvals(&self, account_id: &str, n: u32) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.set_required_approvals(account_id, n).await
    }

    async fn put_webhook(&self, e: &creo_core::webhooks::Endpoint) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.put_webhook(e).await
    }

    async fn webhooks(
        &self,
        account_id: &str,
    ) -> Result<Vec<creo_core::webhooks::Endpoint>, StoreError> {
        self.before(false).await?;
        self.inner.webhooks(account_id).await
    }

    async fn delete_webhook(
        &self,
        account_id: &str,
        endpoint_id: &str,
    ) -> Result<bool, StoreError> {
        self.before(true).await?;
        self.inner.delete_webhook(account_id, endpoint_id).await
    }

    async fn put_delivery(&self, d: &creo_core::webhooks::Delivery) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.put_delivery(d).await
    }

    async fn deliveries(
        &self,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<creo_core::webhooks::Delivery>, StoreError> {
        self.before(false).await?;
        self.inner.deliveries(endpoint_id, limit).await
    }

    async fn put_generation(
        &self,
        g: &creo_core::generations::Generation,
    ) -> Result<(), StoreError> {
        self.before(true).await?;
        self.inner.put_generation(g).await
    }

    async fn generation(
        &self,
        doc_id: &str,
        generation_id: &str,
    ) -> Result<Option<creo_core::generations::Generation>, StoreError> {
        self.before(false).await?;
        self.inner.generation(doc_id, generation_id).await
    }

    async fn is_revoked(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: &str,
    ) -> Result<bool, StoreError> {
        self.before(false).await?;
        self.inner.is_revoked(account_id, user_id, doc_id).await
    }
}
