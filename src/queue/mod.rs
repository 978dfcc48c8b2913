//! Where jobs wait: RabbitMQ (`rabbit.rs`) or, with no broker configured, a queue persisted in
//! the store (`local.rs`). Both retry a failed try with backoff and keep what can never succeed
//! as a dead letter; what runs a job is given to them (`jobs::Handlers`).

pub mod local;
pub mod rabbit;

use std::sync::Arc;

use creo_core::jobs::Job;

use crate::store::JobStore;

/// Where jobs are queued.
pub enum JobQueue {
    Rabbit(Arc<rabbit::RabbitQueue>),
    Store(Arc<dyn JobStore>),
}

impl JobQueue {
    pub async fn enqueue(&self, job: &Job) -> Result<(), String> {
        match self {
            JobQueue::Rabbit(q) => q.enqueue(job).await.map_err(|e| e.to_string()),
            JobQueue::Store(s) => s.put_job(job).await.map_err(|e| e.to_string()),
        }
    }
}

/// Delay before try `attempt` + 1: exponential from `base_ms`, capped at 5 minutes, with up to
/// 50% jitter so retries of many jobs do not arrive together.
pub fn backoff_ms(base_ms: u64, attempt: u32) -> u64 {
    let exp = base_ms.saturating_mul(1u64 << attempt.min(16)).min(300_000);
    exp + rand::random_range(0..=exp / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        for attempt in 0..5 {
            let d = backoff_ms(100, attempt);
            let exp = 100 << attempt;
            assert!((exp..=exp + exp / 2).contains(&d), "{attempt}: {d}");
        }
        assert!(backoff_ms(100, 30) <= 450_000);
    }
}
