//! Outgoing webhooks: an account registers endpoints for the events it wants, and every such
//! event becomes one delivery job per endpoint (`jobs/deliver.rs`): signed with the endpoint's
//! secret, retried with backoff, held back by the destination's circuit breaker, and logged
//! attempt by attempt in the endpoint's delivery log.

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookEvent {
    /// The same on every retry: receivers deduplicate by it.
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub account_id: String,
    pub doc_id: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// One delivery attempt, as the endpoint's log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// Checks an endpoint URL: absolute http(s), with a host the outbound policy allows (an
/// address literal is checked now; a name is checked on every address it resolves to when a
/// delivery connects).
pub fn validate_url(raw: &str, policy: &crate::outbound::Policy) -> Result<reqwest::Url, String> {
    if raw.len() > 2_000 {
        return Err("the URL is longer than 2000 characters".into());
    }
    policy.check_url(raw).map_err(|e| e.to_string())
}

/// Where a URL's traffic goes, for the circuit breaker: scheme, host and port.
pub fn destination(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}:{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => url.to_string(),
    }
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
    fn urls_and_events_are_checked() {
        let policy = crate::outbound::Policy::parse("80,443", "").unwrap();
        assert!(validate_url("http://127.0.0.1:9/hook", &policy).is_err());
        assert!(validate_url("https://hooks.example.com/x", &policy).is_ok());
        assert!(validate_url("ftp://example.com", &policy).is_err());
        assert!(validate_url("/relative", &policy).is_err());
        assert!(validate_events(&["comment.added".into()]).is_ok());
        assert!(validate_events(&[]).is_err());
        assert!(validate_events(&["document.deleted".into()])
            .unwrap_err()
            .contains("unknown event"));
    }

    #[test]
    fn one_destination_per_origin() {
        assert_eq!(
            destination("http://h:8080/a?b"),
            destination("http://h:8080/c")
        );
        assert_eq!(destination("https://h/x"), "https://h:443");
        assert_ne!(destination("http://h:1/"), destination("http://h:2/"));
    }
}
