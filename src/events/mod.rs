//! Events about documents (workflow transitions, comments, finished jobs, settled edits), sent
//! three ways from one place: to the document's editors over their sockets (on this node through
//! its document actor, on the others through the bus), to the account's webhook endpoints
//! that subscribed, as one delivery job per endpoint, and to the people they concern as
//! notifications (`people()`, `notify/`).
//!
//! A `creo worker` process has no documents open: its events reach editors only through the bus
//! (so a separate worker needs `redis_url`, like a second node does).

pub mod debounce;

use std::sync::Arc;

use crate::actors::document::Event;
use crate::actors::registry::DocumentRegistry;
use crate::bus::Bus;
use crate::notify::{MailPolicy, Notifier};
use crate::queue::JobQueue;
use crate::store::{now_ms, Stores};
use crate::webhooks::{Endpoint, WebhookEvent};
use creo_core::jobs::{Job, JobKind};

pub struct Events {
    /// `None` in a worker process.
    registry: Option<Arc<DocumentRegistry>>,
    bus: Arc<Bus>,
    stores: Stores,
    jobs: Arc<JobQueue>,
    /// The people an event concerns: their inboxes, streams and email.
    people: Notifier,
}

impl Events {
    pub fn new(
        registry: Option<Arc<DocumentRegistry>>,
        bus: Arc<Bus>,
        stores: Stores,
        jobs: Arc<JobQueue>,
        mail: MailPolicy,
    ) -> Arc<Events> {
        let people = Notifier::new(stores.clone(), jobs.clone(), bus.clone(), mail);
        Arc::new(Events {
            registry,
            bus,
            stores,
            jobs,
            people,
        })
    }

    /// Notifications to the people an event concerns.
    pub fn people(&self) -> &Notifier {
        &self.people
    }

    /// Sends `socket` (a JSON event, type 101 frame) to the document's listening sessions on
    /// every node.
    pub fn to_editors(&self, doc_id: &str, socket: &serde_json::Value) {
        let json = socket.to_string();
        if let Some(registry) = &self.registry {
            registry.notify(doc_id, Event { json: json.clone() });
        }
        self.bus.publish_event(doc_id, &json);
    }

    /// Queues one delivery per endpoint of the account subscribed to `event_type`. A failure to
    /// read the endpoints or to queue is logged and counted, never the caller's failure: the
    /// action the event describes already happened.
    pub async fn to_webhooks(
        &self,
        account_id: &str,
        doc_id: Option<&str>,
        event_type: &'static str,
        data: serde_json::Value,
    ) {
        let wanting = self.subscribed(account_id, event_type).await;
        self.deliver(wanting, account_id, doc_id, event_type, data)
            .await;
    }

    /// The account's endpoints subscribed to `event_type` (none when they cannot be read: the
    /// event is lost, logged and counted).
    pub async fn subscribed(&self, account_id: &str, event_type: &str) -> Vec<Endpoint> {
        match self.stores.webhooks.webhooks(account_id).await {
            Ok(all) => all.into_iter().filter(|e| e.wants(event_type)).collect(),
            Err(e) => {
                metrics::counter!("creo_webhook_events_lost_total").increment(1);
                tracing::warn!(account = account_id, error = %e, event_type, "reading webhook endpoints failed; event not delivered");
                Vec::new()
            }
        }
    }

    /// Queues one delivery of the event to each of `endpoints`.
    pub async fn deliver(
        &self,
        endpoints: Vec<Endpoint>,
        account_id: &str,
        doc_id: Option<&str>,
        event_type: &'static str,
        data: serde_json::Value,
    ) {
        if endpoints.is_empty() {
            return;
        }
        let event = WebhookEvent {
            event_id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
            event_type: event_type.to_string(),
            account_id: account_id.to_string(),
            doc_id: doc_id.map(str::to_string),
            at: now_ms(),
            data,
        };
        for endpoint in endpoints {
            let job = Job {
                id: format!("deliver-{}-{}", event.event_id, endpoint.endpoint_id),
                kind: JobKind::Deliver {
                    endpoint_id: endpoint.endpoint_id.clone(),
                    account_id: account_id.to_string(),
                    event: event.clone(),
                },
                not_before: 0,
                attempt: 0,
            };
            metrics::counter!("creo_webhook_events_total", "type" => event_type).increment(1);
            if let Err(e) = self.jobs.enqueue(&job).await {
                metrics::counter!("creo_webhook_events_lost_total").increment(1);
                tracing::error!(endpoint = %endpoint.endpoint_id, error = %e, "a webhook delivery could not be queued");
            }
        }
    }

    pub fn stores(&self) -> &Stores {
        &self.stores
    }
}
