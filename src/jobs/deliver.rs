//! Webhook delivery: one event to one endpoint, signed with the endpoint's secret
//! (`Creo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`), with the event id as
//! `Idempotency-Key` (the same on every retry). Each attempt is written to the endpoint's
//! delivery log. Also the signed POST that publishing uses.

use std::sync::Arc;
use std::time::Instant;

use super::breaker::Breakers;
use super::{Job, JobKind, Outcome};
use crate::auth::sealed::SecretBox;
use crate::outbound::Outbound;
use crate::store::{now_ms, WebhookStore};
use crate::webhooks::{destination, Delivery};

/// How one signed POST went.
pub enum Sent {
    Delivered(u16),
    /// Refused for good (a 4xx other than 408 and 429, a redirect, a destination the outbound
    /// policy refuses): retrying cannot help.
    Refused(Option<u16>, String),
    /// Worth another try: a 5xx, 408, 429, or no answer.
    Failed(Option<u16>, String),
}

impl Sent {
    /// Whether the destination itself is healthy (for its circuit breaker).
    pub fn destination_up(&self) -> bool {
        !matches!(self, Sent::Failed(..))
    }
}

/// POSTs `body` (JSON) to `url`, signed with `secret`. What goes into the delivery log says
/// what the endpoint answered, never why a connection failed: the log is read by account owners,
/// and must not map anyone's network for them.
pub async fn post_signed(
    outbound: &Outbound,
    url: &str,
    secret: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Sent {
    let request = match outbound.post(url) {
        Ok(request) => request,
        Err(e) => return Sent::Refused(None, format!("the destination is not allowed: {e}")),
    };
    let signature = crate::billing::webhook::sign(secret.as_bytes(), now_ms() / 1000, &body);
    let mut request = request
        .header("Content-Type", "application/json")
        .header("User-Agent", concat!("creo/", env!("CARGO_PKG_VERSION")))
        .header("Creo-Signature", signature);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    match request.body(body).send().await {
        Ok(r) if r.status().is_success() => Sent::Delivered(r.status().as_u16()),
        // Redirects are not followed: where they lead has not been checked.
        Ok(r) if r.status().is_redirection() => Sent::Refused(
            Some(r.status().as_u16()),
            format!(
                "the endpoint redirected ({}); redirects are not followed",
                r.status()
            ),
        ),
        Ok(r) if r.status().is_client_error() && !matches!(r.status().as_u16(), 408 | 429) => {
            Sent::Refused(
                Some(r.status().as_u16()),
                format!("the endpoint refused the event: {}", r.status().as_u16()),
            )
        }
        Ok(r) => Sent::Failed(
            Some(r.status().as_u16()),
            format!("the endpoint answered {}", r.status()),
        ),
        Err(e) => {
            tracing::debug!(url, error = %e, "outgoing request failed");
            let reason = if e.is_timeout() {
                "the endpoint did not answer in time"
            } else {
                "the endpoint could not be reached"
            };
            Sent::Failed(None, reason.into())
        }
    }
}

pub struct Deliverer {
    store: Arc<dyn WebhookStore>,
    outbound: Outbound,
    /// Opens the endpoints' sealed signing secrets.
    sealer: Arc<SecretBox>,
    breakers: Arc<Breakers>,
    max_attempts: u32,
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn WebhookStore>,
        outbound: Outbound,
        sealer: Arc<SecretBox>,
        breakers: Arc<Breakers>,
        max_attempts: u32,
    ) -> Deliverer {
        Deliverer {
            store,
            outbound,
            sealer,
            breakers,
            max_attempts,
        }
    }

    pub async fn run(&self, job: &Job) -> Outcome {
        let JobKind::Deliver {
            endpoint_id,
            account_id,
            event,
        } = &job.kind
        else {
            return Outcome::Fail("not a delivery".into());
        };
        let endpoint = match self.store.webhooks(account_id).await {
            Ok(all) => all.into_iter().find(|e| &e.endpoint_id == endpoint_id),
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        // Deleted since: nobody wants it any more.
        let Some(endpoint) = endpoint else {
            return Outcome::Done;
        };
        let mut log = Delivery {
            endpoint_id: endpoint_id.clone(),
            delivery_id: uuid::Uuid::now_v7().simple().to_string(),
            event_id: event.event_id.clone(),
            event_type: event.event_type.clone(),
            attempt: job.attempt,
            at: now_ms(),
            outcome: String::new(),
            status: None,
            error: None,
            duration_ms: 0,
        };
        let dest = destination(&endpoint.url);
        if let Err(wait) = self.breakers.admit(&dest) {
            let reason = format!("circuit open for {dest}: the endpoint kept failing");
            log.outcome = "held".into();
            log.error = Some(reason.clone());
            self.write(&log).await;
            return Outcome::Defer(reason, wait.as_millis() as u64 + 1);
        }
        let secret = match self.sealer.open(&endpoint.secret, &endpoint.endpoint_id) {
            Ok(secret) => secret,
            Err(e) => return Outcome::Fail(e.to_string()),
        };
        let body = serde_json::to_vec(event).expect("events serialise");
        let started = Instant::now();
        let sent = post_signed(
            &self.outbound,
            &endpoint.url,
            &secret,
            body,
            &[
                ("Creo-Event", &event.event_type),
                ("Idempotency-Key", &event.event_id),
            ],
        )
        .await;
        self.breakers.record(&dest, sent.destination_up());
        log.duration_ms = started.elapsed().as_millis() as u64;
        let last_try = job.attempt + 1 >= self.max_attempts;
        let outcome = match sent {
            Sent::Delivered(status) => {
                log.status = Some(status);
                log.outcome = "delivered".into();
                Outcome::Done
            }
            Sent::Refused(status, reason) => {
                log.status = status;
                log.outcome = "failed".into();
                log.error = Some(reason.clone());
                Outcome::Fail(reason)
            }
            Sent::Failed(status, reason) => {
                log.status = status;
                log.error = Some(reason.clone());
                if last_try {
                    log.outcome = "failed".into();
                    Outcome::Fail(format!("gave up after {} tries: {reason}", job.attempt + 1))
                } else {
                    log.outcome = "retrying".into();
                    Outcome::Retry(reason)
                }
            }
        };
        metrics::counter!("creo_webhook_deliveries_total", "outcome" => log.outcome.clone())
            .increment(1);
        self.write(&log).await;
        outcome
    }

    /// The log is for people; failing to write it does not fail the delivery.
    async fn write(&self, log: &Delivery) {
        if let Err(e) = self.store.put_delivery(log).await {
            tracing::warn!(endpoint = %log.endpoint_id, error = %e, "could not log a webhook delivery");
        }
    }
}
