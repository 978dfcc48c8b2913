//! The audit log.

use async_trait::async_trait;

use super::account_rows::*;
use super::*;
use creo_store::audit::*;

#[async_trait]
impl AuditStore for ScyllaStore {
    async fn audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        let st = self.acct();
        self.exec(
            &st.insert_audit,
            (
                &e.account_id,
                ts(e.at),
                &e.event_id,
                &e.actor,
                &e.action,
                &e.target,
                &e.detail,
            ),
        )
        .await?;
        self.exec(
            &st.insert_audit_by_actor,
            (
                &e.actor,
                ts(e.at),
                &e.event_id,
                &e.account_id,
                &e.action,
                &e.target,
                &e.detail,
            ),
        )
        .await
    }

    async fn audit_events(
        &self,
        account_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows: Vec<AuditRow> = self
            .all_rows(
                &self.acct().audit_before,
                (account_id, ts(before.unwrap_or(i64::MAX)), limit as i32),
            )
            .await?;
        Ok(rows.into_iter().map(audit_event).collect())
    }

    async fn audit_events_by(&self, user_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let rows: Vec<AuditRow> = self
            .all_rows(&self.acct().audit_by_actor, (user_id,))
            .await?;
        Ok(rows.into_iter().map(audit_event).collect())
    }
}
