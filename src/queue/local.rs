//! The in-process job queue, persisted in the store: the default when no RabbitMQ is configured,
//! so scheduled publishing works on one machine with no other service. Jobs are rows; a
//! consumer claims due ones with a lease, and a job whose lease expires (its worker died) is
//! claimed again, so a crash redelivers it like the broker would. Retries and dead jobs follow
//! the same rules as with RabbitMQ.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use creo_core::jobs::{Job, Outcome};

use super::backoff_ms;
use crate::store::{now_ms, JobStore};

/// How often due jobs are looked for when none finishes: a job runs at most this late. A job
/// that finishes frees its slot and looks at once, so a backlog drains at the handlers' pace,
/// not `prefetch` jobs per poll.
const POLL: Duration = Duration::from_millis(100);

pub struct Settings {
    pub prefetch: usize,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub lease_ms: i64,
}

/// Consumes due jobs forever, at most `prefetch` at a time.
pub async fn run<F, Fut>(store: Arc<dyn JobStore>, settings: Settings, run: F)
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    let (run, settings) = (Arc::new(run), Arc::new(settings));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(tokio::sync::Notify::new());
    let mut tick = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = finished.notified() => {}
        }
        let free = settings
            .prefetch
            .max(1)
            .saturating_sub(in_flight.load(Ordering::Relaxed));
        if free == 0 {
            continue;
        }
        let due = match store.claim_jobs(now_ms(), settings.lease_ms, free).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs failed");
                continue;
            }
        };
        for job in due {
            in_flight.fetch_add(1, Ordering::Relaxed);
            let (store, run, settings, in_flight, finished) = (
                store.clone(),
                run.clone(),
                settings.clone(),
                in_flight.clone(),
                finished.clone(),
            );
            tokio::spawn(async move {
                let outcome = run(job.clone()).await;
                settle(&*store, &settings, job, outcome).await;
                in_flight.fetch_sub(1, Ordering::Relaxed);
                finished.notify_one();
            });
        }
    }
}

async fn settle(store: &dyn JobStore, settings: &Settings, job: Job, outcome: Outcome) {
    metrics::counter!("creo_jobs_total", "outcome" => outcome.label()).increment(1);
    let result = match outcome {
        Outcome::Done => store.end_job(&job.id, None).await,
        Outcome::Defer(_, ms) => {
            let later = Job {
                not_before: now_ms() + ms as i64,
                ..job
            };
            store.put_job(&later).await
        }
        Outcome::Retry(reason) if job.attempt + 1 < settings.max_attempts => {
            tracing::warn!(job = %job.id, attempt = job.attempt + 1, %reason, "job failed; retrying");
            let next = Job {
                attempt: job.attempt + 1,
                not_before: now_ms() + backoff_ms(settings.retry_base_ms, job.attempt) as i64,
                ..job
            };
            store.put_job(&next).await
        }
        Outcome::Retry(reason) | Outcome::Fail(reason) => {
            tracing::error!(job = %job.id, %reason, "job dead");
            store.end_job(&job.id, Some(&reason)).await
        }
    };
    // Not recorded: the lease expires and the job runs again (its effects are idempotent).
    if let Err(e) = result {
        tracing::warn!(error = %e, "recording a job's outcome failed");
    }
}
