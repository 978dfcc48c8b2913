//! Jobs: work that runs later or takes long, carried by RabbitMQ (`rabbit.rs`) or, with no
//! broker configured, by a queue persisted in the store (`local.rs`), and executed by handlers
//! (`publish.rs`, `generate.rs`, `deliver.rs`). A job is a small JSON message naming what to do; its effects are idempotent
//! (a redelivered job finds its work done and does nothing twice).

pub mod breaker;
pub mod deliver;
pub mod generate;
pub mod local;
pub mod publish;
pub mod rabbit;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::store::DocumentStore;

/// Where jobs are queued.
pub enum JobQueue {
    Rabbit(Arc<rabbit::RabbitQueue>),
    Store(Arc<dyn DocumentStore>),
}

impl JobQueue {
    pub async fn enqueue(&self, job: &Job) -> Result<(), String> {
        match self {
            JobQueue::Rabbit(q) => q.enqueue(job).await.map_err(|e| e.to_string()),
            JobQueue::Store(s) => s.put_job(job).await.map_err(|e| e.to_string()),
        }
    }
}

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique per job; also the idempotency key of its external effects.
    pub id: String,
    pub kind: JobKind,
    /// Not to run before this (milliseconds since the Unix epoch).
    pub not_before: i64,
    /// Tries so far.
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    /// Publish a scheduled document, if it is still scheduled for this workflow version.
    Publish { doc_id: String, version: i64 },
    /// Produce a generation's variations, if it is still pending.
    Generate {
        doc_id: String,
        generation_id: String,
    },
    /// Deliver one event to one webhook endpoint.
    Deliver {
        endpoint_id: String,
        account_id: String,
        event: crate::webhooks::WebhookEvent,
    },
}

/// How a try ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// A passing failure (the destination did not answer): try again later.
    Retry(String),
    /// It can never succeed (a check failed): stop, and say why.
    Fail(String),
    /// Not now (the destination's circuit is open): run again after this many milliseconds,
    /// without counting a try.
    Defer(String, u64),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Retry(_) => "retry",
            Outcome::Fail(_) => "failed",
            Outcome::Defer(..) => "deferred",
        }
    }
}

/// Runs each kind of job with its handler.
pub struct Handlers {
    pub publisher: publish::Publisher,
    pub generator: generate::Generator,
    pub deliverer: deliver::Deliverer,
}

impl Handlers {
    pub async fn run(&self, job: Job) -> Outcome {
        let started = std::time::Instant::now();
        let kind = match &job.kind {
            JobKind::Publish { .. } => "publish",
            JobKind::Generate { .. } => "generate",
            JobKind::Deliver { .. } => "deliver",
        };
        let outcome = match &job.kind {
            JobKind::Publish { .. } => self.publisher.run(&job).await,
            JobKind::Generate { .. } => self.generator.run(&job).await,
            JobKind::Deliver { .. } => self.deliverer.run(&job).await,
        };
        metrics::histogram!("creo_job_seconds", "kind" => kind)
            .record(started.elapsed().as_secs_f64());
        outcome
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

    #[test]
    fn jobs_are_tagged_json() {
        let job = Job {
            id: "j1".into(),
            kind: JobKind::Publish {
                doc_id: "d".into(),
                version: 4,
            },
            not_before: 10,
            attempt: 0,
        };
        let text = serde_json::to_string(&job).unwrap();
        assert!(text.contains(r#""type":"publish""#), "{text}");
        assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), job);
    }
}
