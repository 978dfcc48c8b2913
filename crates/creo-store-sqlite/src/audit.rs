//! The audit log.

use async_trait::async_trait;
use rusqlite::params;

use super::account_rows::*;
use super::*;
use creo_store::audit::*;

#[async_trait]
impl AuditStore for EmbeddedStore {
    async fn audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let e = event.clone();
        self.transaction(move |c| {
            exec(
                c,
                &format!(
                    "INSERT INTO audit_events ({AUDIT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    e.account_id,
                    e.event_id,
                    e.at,
                    e.actor,
                    e.action,
                    e.target,
                    e.detail
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn audit_events(
        &self,
        account_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {AUDIT_COLS} FROM audit_events WHERE account_id = ?1 AND at < ?2 ORDER BY at DESC, event_id DESC LIMIT ?3"),
                params![id, before.unwrap_or(i64::MAX), limit as i64],
                audit_row,
            )
        })
        .await
    }

    async fn audit_events_by(&self, user_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let id = user_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {AUDIT_COLS} FROM audit_events WHERE actor = ?1 ORDER BY at"),
                params![id],
                audit_row,
            )
        })
        .await
    }
}
