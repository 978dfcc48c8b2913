//! Outgoing webhooks as data: the events an endpoint can subscribe to, the endpoint, the event
//! body every endpoint receives, and one delivery attempt as its log shows it. The server
//! delivers them (its `jobs/deliver.rs`).

use serde::{Deserialize, Serialize};

/// The events an endpoint can subscribe to.
pub const EVENT_TYPES: [&str; 4] = [
    // A document's content changed (debounced: once edits settle, `webhook_debounce_ms`).
    "document.updated",
    "workflow.transitioned",
    "comment.added",
    // A job finished: a scheduled post published or failed, a generation completed.
    "job.completed",
];

/// How long delivery attempts stay in an endpoint's log.
pub const DELIVERY_LOG_DAYS: i64 = 30;

/// A registered endpoint. Its secret signs every delivery and is shown once, at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub endpoint_id: String,
    pub account_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub created_by: String,
    pub created_at: i64,
}

impl Endpoint {
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.iter().any(|e| e == event_type)
    }
}

/// One event as every endpoint receives it (the body of the POST).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEvent {
    /// The same on every retry: receivers deduplicate by it.
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub account_id: String,
    pub doc_id: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
}

/// One delivery attempt, as the endpoint's log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub endpoint_id: String,
    pub delivery_id: String,
    pub event_id: String,
    pub event_type: String,
    /// 0 for the first try.
    pub attempt: u32,
    pub at: i64,
    /// `delivered`, `retrying`, `failed` (given up; the job is dead-lettered) or `held` (the
    /// destination's circuit breaker is open; not counted as a try).
    pub outcome: String,
    /// The HTTP status the endpoint answered, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

pub fn validate_events(events: &[String]) -> Result<(), String> {
    if events.is_empty() {
        return Err(format!(
            "name at least one event: {}",
            EVENT_TYPES.join(", ")
        ));
    }
    match events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        Some(e) => Err(format!(
            "unknown event {e:?} (events: {})",
            EVENT_TYPES.join(", ")
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_checked() {
        assert!(validate_events(&["comment.added".into()]).is_ok());
        assert!(validate_events(&[]).is_err());
        assert!(validate_events(&["document.deleted".into()])
            .unwrap_err()
            .contains("unknown event"));
    }
}
