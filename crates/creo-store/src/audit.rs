//! The audit log.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub account_id: String,
    pub event_id: String,
    pub at: i64,
    /// The user (or `apikey:<id>`, or `system`) who acted.
    pub actor: String,
    /// `login`, `login_failed`, `api_key_created`, `role_changed`, ...
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    async fn audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Newest first, events before `before` (ms; all when `None`), at most `limit`.
    async fn audit_events(
        &self,
        account_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError>;
    /// Everything recorded about a user's actions, for their data export.
    async fn audit_events_by(&self, user_id: &str) -> Result<Vec<AuditEvent>, StoreError>;
}
