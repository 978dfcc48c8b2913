//! Collecting a published post's metrics from its platform: a job per post and channel, run at
//! growing intervals after it went out (`POLL_ROUNDS` times `metrics_poll_first_ms`: at first
//! hourly, at last a week later), since most of a post's reach comes in its first day. Each
//! round stores a sample and queues the next. Webhook channels report through the signed metrics
//! webhook instead.

use std::sync::Arc;

use super::{Job, JobKind, Outcome};
use crate::analytics::Sample;
use crate::channels::adapters::{self, Answer};
use crate::channels::tokens::{Credentials, NotReady};
use crate::channels::TargetState;
use crate::queue::JobQueue;
use crate::store::{now_ms, Stores};

/// Each round's delay after publication, in units of `metrics_poll_first_ms` (1 h by default:
/// 1 h, 6 h, 1 day, 3 days, 1 week).
pub const POLL_ROUNDS: [i64; 5] = [1, 6, 24, 72, 168];

pub struct Collector {
    pub stores: Stores,
    pub jobs: Arc<JobQueue>,
    pub credentials: Arc<Credentials>,
    pub outbound: crate::outbound::Outbound,
    pub first_ms: i64,
}

/// The job of round `round` for a post published at `published_at`; `None` past the last.
pub fn round(
    account_id: &str,
    doc_id: &str,
    channel_id: &str,
    published_at: i64,
    round: u32,
    first_ms: i64,
) -> Option<Job> {
    let delay = POLL_ROUNDS.get(round as usize)? * first_ms;
    Some(Job {
        id: format!("metrics-{doc_id}-{channel_id}-{published_at}-{round}"),
        kind: JobKind::CollectMetrics {
            account_id: account_id.to_string(),
            doc_id: doc_id.to_string(),
            channel_id: channel_id.to_string(),
            round,
        },
        not_before: published_at + delay,
        attempt: 0,
    })
}

impl Collector {
    pub async fn run(&self, job: &Job) -> Outcome {
        let JobKind::CollectMetrics {
            account_id,
            doc_id,
            channel_id,
            round: this_round,
        } = &job.kind
        else {
            return Outcome::Fail("not a metrics job".into());
        };
        let target = match self.stores.channels.targets(doc_id).await {
            Ok(all) => all.into_iter().find(|t| &t.channel_id == channel_id),
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        // Deleted, or published again since (that publication polls for itself).
        let Some(target) = target else {
            return Outcome::Done;
        };
        let TargetState::Published { post_id, .. } = &target.state else {
            return Outcome::Done;
        };
        let channel = match self.stores.channels.channel(account_id, channel_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Outcome::Done,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let ready = match self.credentials.ready(&channel, false).await {
            Ok(ready) => ready,
            Err(NotReady::Retry(reason)) => return Outcome::Retry(reason),
            Err(e) => return Outcome::Fail(e.to_string()),
        };
        let read = adapters::metrics(
            &channel.platform,
            &self.outbound,
            &ready.api_url,
            &ready.token,
            post_id,
        )
        .await;
        let metrics = match read {
            None => return Outcome::Done,
            Some(Ok(m)) => m,
            Some(Err(Answer::Retry {
                reason,
                wait: Some(wait),
            })) => return Outcome::Defer(reason, wait.as_millis() as u64 + 1),
            Some(Err(Answer::Retry { reason, .. })) => return Outcome::Retry(reason),
            Some(Err(other)) => return Outcome::Fail(format!("{other:?}")),
        };
        let sample = Sample {
            doc_id: doc_id.clone(),
            account_id: account_id.clone(),
            channel_id: channel_id.clone(),
            platform: channel.platform.clone(),
            published_at: target.updated_at,
            at: now_ms(),
            metrics,
            source: "poll".into(),
        };
        if let Err(e) = self.stores.metrics.put_sample(&sample).await {
            return Outcome::Retry(e.to_string());
        }
        metrics::counter!("creo_metrics_samples_total", "source" => "poll").increment(1);
        if let Some(next) = round(
            account_id,
            doc_id,
            channel_id,
            target.updated_at,
            this_round + 1,
            self.first_ms,
        ) {
            if let Err(e) = self.jobs.enqueue(&next).await {
                tracing::warn!(job = %next.id, error = %e, "the next metrics round could not be queued");
            }
        }
        Outcome::Done
    }
}
