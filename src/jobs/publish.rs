//! Scheduled publishing: at a document's scheduled time, check the post against the limits,
//! deliver it to the configured destination as a signed webhook, and move it to published; or,
//! when it can never go out (a check fails, or delivery keeps failing), to failed with the
//! reason in its workflow history.
//!
//! Idempotent: a job whose document is no longer scheduled at that workflow version (already
//! published by an earlier delivery of the same job, unscheduled, rescheduled) does nothing.
//! The destination receives `Idempotency-Key: <job id>`, the same on every retry.

use std::sync::Arc;
use std::time::Duration;

use super::{Job, JobKind, Outcome};
use crate::config::Config;
use crate::store::{now_ms, DocumentStore};
use crate::workflow::{Action, State, Transition, Workflow};

pub struct Publisher {
    store: Arc<dyn DocumentStore>,
    config: Arc<Config>,
    http: reqwest::Client,
}

impl Publisher {
    pub fn new(store: Arc<dyn DocumentStore>, config: Arc<Config>) -> Publisher {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.publish_timeout_ms))
            .build()
            .expect("an HTTP client without TLS always builds");
        Publisher {
            store,
            config,
            http,
        }
    }

    pub async fn run(&self, job: Job) -> Outcome {
        let JobKind::Publish { doc_id, version } = &job.kind;
        let workflow = match self.store.workflow(doc_id).await {
            Ok(Some(w)) => w,
            Ok(None) => return Outcome::Done,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        if workflow.state != State::Scheduled || workflow.version != *version {
            return Outcome::Done; // published already, or unscheduled / rescheduled since
        }
        let outcome = match self.check_and_deliver(&job, doc_id, &workflow).await {
            Outcome::Retry(reason) if job.attempt + 1 >= self.config.job_max_attempts => {
                Outcome::Fail(format!("gave up after {} tries: {reason}", job.attempt + 1))
            }
            other => other,
        };
        let (to, note) = match &outcome {
            Outcome::Done => (State::Published, format!("published by job {}", job.id)),
            Outcome::Fail(reason) => (State::Failed, reason.clone()),
            Outcome::Retry(_) => return outcome,
        };
        match self.finish(&workflow, to, &note).await {
            Ok(()) => outcome,
            Err(e) => Outcome::Retry(e),
        }
    }

    async fn check_and_deliver(&self, job: &Job, doc_id: &str, workflow: &Workflow) -> Outcome {
        let text = match self.store.load(doc_id).await {
            Ok(Some(stored)) => match stored.to_doc() {
                Ok(doc) => crate::ai::text::document_text(&doc),
                Err(e) => return Outcome::Fail(e.to_string()),
            },
            Ok(None) => return Outcome::Fail("the document was deleted".into()),
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let chars = text.chars().count();
        if chars > self.config.publish_max_chars {
            return Outcome::Fail(format!(
                "the post has {chars} characters; the destination takes {}",
                self.config.publish_max_chars
            ));
        }
        let hashtags = text
            .split_whitespace()
            .filter(|w| w.starts_with('#') && w.len() > 1)
            .count();
        if hashtags > self.config.publish_max_hashtags {
            return Outcome::Fail(format!(
                "the post has {hashtags} hashtags; the destination takes {}",
                self.config.publish_max_hashtags
            ));
        }
        let Some(url) = &self.config.publish_webhook_url else {
            return Outcome::Fail("no publishing destination is configured".into());
        };
        let body = serde_json::to_vec(&serde_json::json!({
            "event": "document.published",
            "doc_id": doc_id,
            "account_id": workflow.account_id,
            "text": text,
            "scheduled_at": workflow.scheduled_at,
            "timezone": workflow.timezone,
            "job_id": job.id,
        }))
        .expect("json");
        let secret = self.config.publish_webhook_secret.as_deref().unwrap_or("");
        let signature = crate::billing::webhook::sign(secret.as_bytes(), now_ms() / 1000, &body);
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header("Creo-Signature", signature)
            .header("Idempotency-Key", &job.id)
            .body(body)
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Outcome::Done,
            // The destination refused this post for good (but a 429 or 408 may pass later).
            Ok(r) if r.status().is_client_error() && !matches!(r.status().as_u16(), 408 | 429) => {
                Outcome::Fail(format!("the destination refused the post: {}", r.status()))
            }
            Ok(r) => Outcome::Retry(format!("the destination answered {}", r.status())),
            Err(e) => Outcome::Retry(format!("the destination did not answer: {e}")),
        }
    }

    /// Records the end state, unless someone moved the document meanwhile.
    async fn finish(&self, from: &Workflow, to: State, note: &str) -> Result<(), String> {
        let now = now_ms();
        let next = Workflow {
            state: to,
            version: from.version + 1,
            updated_at: now,
            ..from.clone()
        };
        let record = Transition {
            doc_id: from.doc_id.clone(),
            version: next.version,
            from: from.state,
            to,
            action: Action::Publish,
            actor: "system".into(),
            at: now,
            note: note.to_string(),
        };
        self.store
            .transition(&next, &record)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
