//! Scheduled publishing: at a document's scheduled time, check the post against the limits,
//! deliver it to the configured destination as a signed webhook, and move it to published; or,
//! when it can never go out (a check fails, or delivery keeps failing), to failed with the
//! reason in its workflow history.
//!
//! Idempotent: a job whose document is no longer scheduled at that workflow version (already
//! published by an earlier delivery of the same job, unscheduled, rescheduled) does nothing.
//! The destination receives `Idempotency-Key: <job id>`, the same on every retry.

use std::sync::Arc;

use super::breaker::Breakers;
use super::deliver::{post_signed, Sent};
use super::{Job, JobKind, Outcome};
use crate::config::Config;
use crate::events::Events;
use crate::outbound::Outbound;
use crate::store::Stores;
use crate::workflow::{State, Workflow};

pub struct Publisher {
    stores: Stores,
    config: Arc<Config>,
    outbound: Outbound,
    breakers: Arc<Breakers>,
    events: Arc<Events>,
}

impl Publisher {
    pub fn new(
        stores: Stores,
        config: Arc<Config>,
        outbound: Outbound,
        breakers: Arc<Breakers>,
        events: Arc<Events>,
    ) -> Publisher {
        Publisher {
            stores,
            config,
            outbound,
            breakers,
            events,
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

    async fn check_and_deliver(&self, job: &Job, doc_id: &str, workflow: &Workflow) -> Outcome {
        let (targets, chars, hashtags) = (
            workflow.targets.clone(),
            self.config.publish_max_chars,
            self.config.publish_max_hashtags,
        );
        let read = move |doc: &yrs::Doc| crate::platforms::posts(doc, &targets, chars, hashtags);
        let posts = match crate::snapshot::stored(&self.stores.documents, doc_id, read).await {
            Ok(Some(Ok(posts))) => posts,
            Ok(Some(Err(problems))) => return Outcome::Fail(problems),
            Ok(None) => return Outcome::Fail("the document was deleted".into()),
            Err(e @ crate::store::StoreError::Corrupt(_)) => return Outcome::Fail(e.to_string()),
            Err(e) => return Outcome::Retry(e.to_string()),
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
        if !moved {
            return Ok(()); // someone else moved it: their transition is the news
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
