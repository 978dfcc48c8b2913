//! The store's own job queue, used when no broker is configured.

use rusqlite::params;

use super::*;
use creo_store::jobs::*;

#[async_trait]
impl JobStore for EmbeddedStore {
    async fn put_job(&self, job: &creo_core::jobs::Job) -> Result<(), StoreError> {
        let data = serde_json::to_string(job).map_err(unavailable)?;
        let (id, not_before) = (job.id.clone(), job.not_before);
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO jobs (job_id, data, not_before, state, lease_until, reason)
                 VALUES (?1, ?2, ?3, 'ready', 0, NULL)",
                params![id, data, not_before],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn claim_jobs(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<creo_core::jobs::Job>, StoreError> {
        self.transaction(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT job_id, data FROM jobs
                     WHERE (state = 'ready' AND not_before <= ?1) OR (state = 'running' AND lease_until <= ?1)
                     ORDER BY not_before LIMIT ?2",
                )
                .map_err(unavailable)?;
            let due: Vec<(String, String)> = stmt
                .query_map(params![now, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(unavailable)?
                .collect::<Result<_, _>>()
                .map_err(unavailable)?;
            let mut out = Vec::with_capacity(due.len());
            for (id, data) in due {
                c.execute(
                    "UPDATE jobs SET state = 'running', lease_until = ?2 WHERE job_id = ?1",
                    params![id, now + lease_ms],
                )
                .map_err(unavailable)?;
                out.push(serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            }
            Ok(out)
        })
        .await
    }

    async fn end_job(&self, id: &str, dead: Option<&str>) -> Result<(), StoreError> {
        let (id, dead) = (id.to_string(), dead.map(str::to_string));
        self.transaction(move |c| {
            match dead {
                Some(reason) => c.execute(
                    "UPDATE jobs SET state = 'dead', reason = ?2 WHERE job_id = ?1",
                    params![id, reason],
                ),
                None => c.execute("DELETE FROM jobs WHERE job_id = ?1", params![id]),
            }
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }
}
