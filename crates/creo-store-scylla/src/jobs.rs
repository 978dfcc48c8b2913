//! The store's own job queue, used when no broker is configured.

use super::*;
use creo_store::jobs::*;

#[async_trait]
impl JobStore for ScyllaStore {
    async fn put_job(&self, job: &creo_core::jobs::Job) -> Result<(), StoreError> {
        let data = serde_json::to_string(job).map_err(unavailable)?;
        self.session
            .execute_unpaged(&self.workflow.put_job, (&job.id, data, job.not_before))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Reads the queue's partition and takes due jobs one lightweight transaction each (the
    /// condition is the state and lease read, so two workers never take the same job).
    async fn claim_jobs(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<creo_core::jobs::Job>, StoreError> {
        let rows: Vec<(String, String, i64, String, i64)> =
            self.all_rows(&self.workflow.jobs, ()).await?;
        let mut out = Vec::new();
        for (id, data, not_before, state, lease_until) in rows {
            let due = (state == "ready" && not_before <= now)
                || (state == "running" && lease_until <= now);
            if !due || out.len() >= limit {
                continue;
            }
            let result = self
                .session
                .execute_unpaged(
                    &self.workflow.claim_job,
                    (now + lease_ms, &id, &state, lease_until),
                )
                .await
                .map_err(unavailable)?;
            if Self::applied(result)? {
                out.push(
                    serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
            }
        }
        Ok(out)
    }

    async fn end_job(&self, id: &str, dead: Option<&str>) -> Result<(), StoreError> {
        let result = match dead {
            Some(reason) => {
                self.session
                    .execute_unpaged(&self.workflow.kill_job, (reason, id))
                    .await
            }
            None => {
                self.session
                    .execute_unpaged(&self.workflow.drop_job, (id,))
                    .await
            }
        };
        result.map(|_| ()).map_err(unavailable)
    }
}
