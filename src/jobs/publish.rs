//! Scheduled publishing: at a document's scheduled time, check the post against the limits,
//! send it out, and move the document to published; or, when it can never go out (a check
//! fails, or delivery keeps failing), to failed with the reason in its workflow history.
//!
//! A post goes either to its account's channels (`channels`: each target on its own, with its
//! own state, tried again alone while it is not done) or, for targets that name no channel, to
//! the server-wide destination as one signed webhook.
//!
//! Idempotent: a job whose document is no longer scheduled at that workflow version (already
//! published by an earlier delivery of the same job, unscheduled, rescheduled) does nothing,
//! and a channel target already published or failed is left alone. The server-wide destination
//! and webhook channels receive an `Idempotency-Key`, the same on every retry.

use std::sync::Arc;
use std::time::Duration;

use super::breaker::Breakers;
use super::deliver::{post_signed, Sent};
use super::{Job, JobKind, Outcome};
use crate::channels::adapters::{self, Answer};
use crate::channels::tokens::{Credentials, NotReady};
use crate::channels::{Channel, TargetDelivery, TargetState};
use crate::config::Config;
use crate::events::Events;
use crate::outbound::Outbound;
use crate::platforms::Post;
use crate::store::{now_ms, StoreError, Stores};
use crate::workflow::{State, Workflow};

pub struct Publisher {
    stores: Stores,
    config: Arc<Config>,
    outbound: Outbound,
    breakers: Arc<Breakers>,
    events: Arc<Events>,
    credentials: Arc<Credentials>,
    jobs: Arc<crate::queue::JobQueue>,
    /// Signs the links to library media that platforms fetch.
    sealer: Arc<crate::auth::sealed::SecretBox>,
}

impl Publisher {
    pub fn new(
        stores: Stores,
        config: Arc<Config>,
        outbound: Outbound,
        breakers: Arc<Breakers>,
        events: Arc<Events>,
        credentials: Arc<Credentials>,
        jobs: Arc<crate::queue::JobQueue>,
        sealer: Arc<crate::auth::sealed::SecretBox>,
    ) -> Publisher {
        Publisher {
            stores,
            config,
            outbound,
            breakers,
            events,
            credentials,
            jobs,
            sealer,
        }
    }

    pub async fn run(&self, job: &Job) -> Outcome {
        let JobKind::Publish { doc_id, version } = &job.kind else {
            return Outcome::Fail("not a publish job".into());
        };
        let workflow = match self.stores.workflows.workflow(doc_id).await {
            Ok(Some(w)) => w,
            Ok(None) => return Outcome::Done,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        if workflow.state != State::Scheduled || workflow.version != *version {
            return Outcome::Done; // published already, or unscheduled / rescheduled since
        }
        if workflow.targets.iter().any(|t| t.channel_id.is_some()) {
            return self.to_channels(job, &workflow).await;
        }
        let outcome = match self.check_and_deliver(job, doc_id, &workflow).await {
            Outcome::Retry(reason) if job.attempt + 1 >= self.config.job_max_attempts => {
                Outcome::Fail(format!("gave up after {} tries: {reason}", job.attempt + 1))
            }
            other => other,
        };
        let (to, note) = match &outcome {
            Outcome::Done => (State::Published, format!("published by job {}", job.id)),
            Outcome::Fail(reason) => (State::Failed, reason.clone()),
            Outcome::Retry(_) | Outcome::Defer(..) => return outcome,
        };
        match self.finish(&workflow, to, &note, job).await {
            Ok(()) => outcome,
            Err(e) => Outcome::Retry(e),
        }
    }

    /// The posts the document makes for `targets` as it is stored now, checked against their
    /// platforms; `Err`: the outcome for the job when they cannot be read or do not pass.
    async fn posts(&self, workflow: &Workflow) -> Result<Vec<Post>, Outcome> {
        let (targets, chars, hashtags) = (
            workflow.targets.clone(),
            self.config.publish_max_chars,
            self.config.publish_max_hashtags,
        );
        let store_failed = |e: StoreError| match e {
            e @ StoreError::Corrupt(_) => Outcome::Fail(e.to_string()),
            e => Outcome::Retry(e.to_string()),
        };
        let Some(stored) = self
            .stores
            .documents
            .load(&workflow.doc_id)
            .await
            .map_err(store_failed)?
        else {
            return Err(Outcome::Fail("the document was deleted".into()));
        };
        // One decode: the media it names are looked up, then the same document is checked.
        let (doc, named) = crate::snapshot::off_executor(move || {
            stored.to_doc().map(|doc| {
                let named = crate::platforms::media_ids(&doc);
                (doc, named)
            })
        })
        .await
        .map_err(store_failed)?;
        let library = crate::media::links::library(
            &self.stores,
            &self.sealer,
            &self.config.public_url(),
            &workflow.account_id,
            &named,
        )
        .await
        .map_err(|e| Outcome::Retry(e.to_string()))?;
        crate::snapshot::off_executor(move || {
            crate::platforms::posts(&doc, &targets, chars, hashtags, &library)
        })
        .await
        .map_err(Outcome::Fail)
    }

    async fn check_and_deliver(&self, job: &Job, doc_id: &str, workflow: &Workflow) -> Outcome {
        let posts = match self.posts(workflow).await {
            Ok(posts) => posts,
            Err(outcome) => return outcome,
        };
        let Some(url) = &self.config.publish_webhook_url else {
            return Outcome::Fail("no publishing destination is configured".into());
        };
        let destination = crate::webhooks::destination(url);
        if let Err(wait) = self.breakers.admit(&destination) {
            return Outcome::Defer(
                format!("circuit open for {destination}"),
                wait.as_millis() as u64 + 1,
            );
        }
        let body = serde_json::to_vec(&serde_json::json!({
            "event": "document.published",
            "doc_id": doc_id,
            "account_id": workflow.account_id,
            "text": posts[0].text,
            "posts": posts,
            "scheduled_at": workflow.scheduled_at,
            "timezone": workflow.timezone,
            "job_id": job.id,
        }))
        .expect("json");
        let secret = self.config.publish_webhook_secret.as_deref().unwrap_or("");
        let sent = post_signed(
            &self.outbound,
            url,
            secret,
            body,
            &[("Idempotency-Key", &job.id)],
        )
        .await;
        self.breakers.record(&destination, sent.destination_up());
        match sent {
            Sent::Delivered(_) => Outcome::Done,
            Sent::Refused(_, reason) => Outcome::Fail(reason),
            Sent::Failed(_, reason) => Outcome::Retry(reason),
        }
    }

    /// Sends the post to each channel target that is not done yet, all at once, and records
    /// each one's state. Ends the document's publishing once every target is done: published
    /// when any went out, failed when none did.
    async fn to_channels(&self, job: &Job, workflow: &Workflow) -> Outcome {
        let doc_id = &workflow.doc_id;
        let recorded = match self.stores.channels.targets(doc_id).await {
            Ok(all) => all,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let previous = |channel: &str| {
            recorded
                .iter()
                .find(|r| r.channel_id == channel && r.version == workflow.version)
                .cloned()
        };
        let posts = match self.posts(workflow).await {
            Ok(posts) => posts.into_iter().map(Ok).collect(),
            // Cannot go out anywhere: every target not done fails with the reason.
            Err(Outcome::Fail(problems)) => vec![Err(problems); workflow.targets.len()],
            Err(other) => return other,
        };
        let last_try = job.attempt + 1 >= self.config.job_max_attempts;
        let sends = workflow.targets.iter().zip(posts).map(|(target, post)| {
            let channel_id = target.channel_id.clone().unwrap_or_default();
            let record = previous(&channel_id).unwrap_or(TargetDelivery {
                doc_id: doc_id.clone(),
                version: workflow.version,
                channel_id,
                platform: target.platform.clone(),
                state: TargetState::Queued,
                attempts: 0,
                updated_at: now_ms(),
            });
            self.one_target(job, workflow, record, post, last_try)
        });
        let mut targets = Vec::with_capacity(workflow.targets.len());
        let mut wait: Option<Duration> = None;
        for sent in futures_util::future::join_all(sends).await {
            match sent {
                Ok((target, later)) => {
                    wait = wait.max(later);
                    targets.push(target);
                }
                Err(e) => return Outcome::Retry(e.to_string()),
            }
        }
        let Some(result) = crate::channels::outcome(&targets) else {
            let reasons: Vec<String> = targets
                .iter()
                .filter_map(|t| match &t.state {
                    TargetState::Retrying { reason } => Some(format!("{}: {reason}", t.platform)),
                    _ => None,
                })
                .collect();
            let reason = reasons.join("; ");
            return match wait {
                // The platform said when: wait that long, without spending one of the job's
                // tries (each target counts its own).
                Some(wait) => Outcome::Defer(reason, wait.as_millis() as u64 + 1),
                None => Outcome::Retry(reason),
            };
        };
        let (to, note) = match &result {
            Ok(note) => (State::Published, note.clone()),
            Err(note) => (State::Failed, note.clone()),
        };
        if let Err(e) = self.finish(workflow, to, &note, job).await {
            return Outcome::Retry(e);
        }
        match result {
            Ok(_) => Outcome::Done,
            Err(note) => Outcome::Fail(note),
        }
    }

    /// One target: left alone when done, otherwise sent and recorded (publishing, then how it
    /// went). Also the wait the platform asked for, when it asked.
    async fn one_target(
        &self,
        job: &Job,
        workflow: &Workflow,
        mut record: TargetDelivery,
        post: Result<Post, String>,
        last_try: bool,
    ) -> Result<(TargetDelivery, Option<Duration>), StoreError> {
        if record.state.is_done() {
            return Ok((record, None));
        }
        let post = match post {
            Ok(post) => post,
            Err(problems) => {
                record.state = TargetState::Failed { reason: problems };
                self.record(&mut record).await?;
                return Ok((record, None));
            }
        };
        let channel = self
            .stores
            .channels
            .channel(&workflow.account_id, &record.channel_id)
            .await?;
        let Some(channel) = channel else {
            record.state = TargetState::Failed {
                reason: "the channel was removed".into(),
            };
            self.record(&mut record).await?;
            return Ok((record, None));
        };
        record.state = TargetState::Publishing;
        record.attempts += 1;
        self.record(&mut record).await?;
        let answer = self.send(job, workflow, &record, channel, &post).await;
        let mut wait = None;
        record.state = match answer {
            Answer::Published { post_id, permalink } => {
                TargetState::Published { post_id, permalink }
            }
            Answer::Refused(reason) | Answer::Unauthorized(reason) => {
                TargetState::Failed { reason }
            }
            Answer::Retry { reason, .. }
                if last_try || record.attempts >= self.config.job_max_attempts =>
            {
                TargetState::Failed {
                    reason: format!("gave up after {} tries: {reason}", record.attempts),
                }
            }
            Answer::Retry {
                reason,
                wait: later,
            } => {
                wait = later;
                TargetState::Retrying { reason }
            }
        };
        if matches!(record.state, TargetState::Published { .. }) {
            self.collect_metrics_later(workflow, &record).await;
        }
        let name = record.state.name();
        metrics::counter!("creo_publish_targets_total", "platform" => record.platform.clone(), "state" => name)
            .increment(1);
        self.record(&mut record).await?;
        Ok((record, wait))
    }

    /// Sends `post` through `channel`: with fresh credentials, and once more with refreshed ones
    /// when the platform refuses the token. A channel whose tokens cannot be renewed is marked
    /// `needs_reconnect`, and its account's owners and admins hear of it.
    async fn send(
        &self,
        job: &Job,
        workflow: &Workflow,
        record: &TargetDelivery,
        mut channel: Channel,
        post: &Post,
    ) -> Answer {
        let destination = format!("channel:{}", channel.channel_id);
        if let Err(wait) = self.breakers.admit(&destination) {
            return Answer::Retry {
                reason: format!("circuit open for {}", channel.name),
                wait: Some(wait),
            };
        }
        let key = format!("{}:{}", job.id, channel.channel_id);
        let context = serde_json::json!({
            "event": "document.published",
            "doc_id": workflow.doc_id,
            "account_id": workflow.account_id,
            "channel_id": channel.channel_id,
            "scheduled_at": workflow.scheduled_at,
            "timezone": workflow.timezone,
            "job_id": job.id,
        });
        for refused in [false, true] {
            let ready = match self.credentials.ready(&channel, refused).await {
                Ok(ready) => ready,
                Err(NotReady::Reconnect { reason, just_now }) => {
                    if just_now {
                        self.events
                            .people()
                            .channel_needs_reconnect(&channel, &reason)
                            .await;
                    }
                    return Answer::Refused(format!("the channel needs reconnecting: {reason}"));
                }
                Err(NotReady::Retry(reason)) => return Answer::Retry { reason, wait: None },
                Err(NotReady::Fail(reason)) => return Answer::Refused(reason),
            };
            let answer = adapters::publish(
                &channel.platform,
                adapters::Publish {
                    outbound: &self.outbound,
                    api_url: &ready.api_url,
                    token: &ready.token,
                    external_id: ready.channel.external_id.as_deref(),
                    post,
                    idempotency_key: &key,
                    context: &context,
                },
            )
            .await;
            self.breakers
                .record(&destination, !matches!(answer, Answer::Retry { .. }));
            match answer {
                Answer::Unauthorized(_) if !refused => channel = ready.channel,
                Answer::Unauthorized(reason) => {
                    // Refused again right after a refresh: the access was taken back.
                    tracing::warn!(channel = %channel.channel_id, doc = %record.doc_id, "a refreshed token was refused too");
                    let reason = format!("{reason} (after a refresh)");
                    let marked = self
                        .credentials
                        .needs_reconnect(ready.channel, reason.clone())
                        .await;
                    if let NotReady::Reconnect {
                        reason,
                        just_now: true,
                    } = &marked
                    {
                        self.events
                            .people()
                            .channel_needs_reconnect(&channel, reason)
                            .await;
                    }
                    return Answer::Refused(marked.to_string());
                }
                other => return other,
            }
        }
        unreachable!("the second pass returns")
    }

    /// Queues the first metrics poll of a post just published on a platform (webhook
    /// channels report their own).
    async fn collect_metrics_later(&self, workflow: &Workflow, record: &TargetDelivery) {
        if !crate::channels::OAUTH_PLATFORMS.contains(&record.platform.as_str()) {
            return;
        }
        let first = super::collect::round(
            &workflow.account_id,
            &record.doc_id,
            &record.channel_id,
            now_ms(),
            0,
            self.config.metrics_poll_first_ms as i64,
        );
        if let Some(job) = first {
            if let Err(e) = self.jobs.enqueue(&job).await {
                tracing::warn!(job = %job.id, error = %e, "a metrics poll could not be queued");
            }
        }
    }

    /// Stores where a target stands, and tells the document's editors.
    async fn record(&self, target: &mut TargetDelivery) -> Result<(), StoreError> {
        target.updated_at = now_ms();
        self.stores.channels.put_target(target).await?;
        self.events.to_editors(
            &target.doc_id,
            &serde_json::json!({ "type": "publish_target", "target": target }),
        );
        Ok(())
    }

    /// Records the end state, unless someone moved the document meanwhile, and tells the
    /// editors and the webhooks (`app::workflow::finish_publishing`), then that the job ended.
    async fn finish(
        &self,
        from: &Workflow,
        to: State,
        note: &str,
        job: &Job,
    ) -> Result<(), String> {
        let moved = crate::app::workflow::finish_publishing(
            &*self.stores.workflows,
            &self.events,
            from,
            to,
            note,
        )
        .await
        .map_err(|e| e.to_string())?;
        let Some(done) = moved else {
            return Ok(()); // someone else moved it: their transition is the news
        };
        // A repeating post goes on to its next occurrence, whether this one went out or not.
        if let Err(e) =
            crate::app::workflow::repeat(&*self.stores.workflows, &self.jobs, &self.events, &done)
                .await
        {
            tracing::error!(doc = %done.doc_id, error = %e, "the next occurrence could not be scheduled");
        }
        let (account, doc) = (&from.account_id, Some(from.doc_id.as_str()));
        let completed = serde_json::json!({
            "job_id": job.id,
            "kind": "publish",
            "doc_id": from.doc_id,
            "outcome": if to == State::Published { "published" } else { "failed" },
            "reason": note,
        });
        self.events
            .to_webhooks(account, doc, "job.completed", completed)
            .await;
        Ok(())
    }
}
