//! The store's own job queue, used when no broker is configured.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait JobStore: Send + Sync + 'static {
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
}
