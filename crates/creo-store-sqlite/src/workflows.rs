//! A document's review workflow, its transitions, and an account's approval rule.

use creo_core::recurrence::Recurrence;
use creo_core::workflow::{Transition, Workflow};
use rusqlite::{params, OptionalExtension};

use super::workflow_rows::*;
use super::*;
use creo_store::workflows::*;

#[async_trait]
impl WorkflowStore for EmbeddedStore {
    async fn workflow(&self, doc_id: &str) -> Result<Option<Workflow>, StoreError> {
        let id = doc_id.to_string();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT doc_id, account_id, state, approvals, scheduled_at, timezone, version, updated_at, targets
                 FROM document_workflow WHERE doc_id = ?1",
            )
            .and_then(|mut s| s.query_row(params![id], workflow_row).optional())
            .map_err(unavailable)
        })
        .await
    }

    async fn transition(&self, next: &Workflow, t: &Transition) -> Result<bool, StoreError> {
        let (w, t) = (next.clone(), t.clone());
        self.transaction(move |c| {
            let current: i64 = c
                .query_row(
                    "SELECT version FROM document_workflow WHERE doc_id = ?1",
                    params![w.doc_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?
                .unwrap_or(0);
            if current != w.version - 1 {
                return Ok(false);
            }
            c.execute(
                "INSERT OR REPLACE INTO document_workflow
                 (doc_id, account_id, state, approvals, scheduled_at, timezone, version, updated_at, targets)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    w.doc_id,
                    w.account_id,
                    w.state.as_str(),
                    w.approvals.join(" "),
                    w.scheduled_at,
                    w.timezone,
                    w.version,
                    w.updated_at,
                    serde_json::to_string(&w.targets).map_err(unavailable)?
                ],
            )
            .map_err(unavailable)?;
            c.execute(
                "INSERT INTO workflow_transitions (doc_id, version, from_state, to_state, action, actor, at, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![t.doc_id, t.version, t.from.as_str(), t.to.as_str(), t.action.as_str(), t.actor, t.at, t.note],
            )
            .map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn transitions(&self, doc_id: &str) -> Result<Vec<Transition>, StoreError> {
        let id = doc_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT doc_id, version, from_state, to_state, action, actor, at, note
                     FROM workflow_transitions WHERE doc_id = ?1 ORDER BY version",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![id], |r| {
                    Ok(Transition {
                        doc_id: r.get(0)?,
                        version: r.get(1)?,
                        from: state(r.get(2)?)?,
                        to: state(r.get(3)?)?,
                        action: action(r.get(4)?)?,
                        actor: r.get(5)?,
                        at: r.get(6)?,
                        note: r.get(7)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }

    async fn calendar(
        &self,
        account_id: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<Workflow>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT doc_id, account_id, state, approvals, scheduled_at, timezone, version, updated_at, targets
                     FROM document_workflow
                     WHERE account_id = ?1 AND scheduled_at >= ?2 AND scheduled_at < ?3
                       AND state IN ('scheduled', 'published', 'failed')
                     ORDER BY scheduled_at, doc_id LIMIT ?4",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![id, from, to, limit as i64], workflow_row)
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }

    async fn put_recurrence(&self, r: &Recurrence) -> Result<(), StoreError> {
        let data = serde_json::to_string(r).map_err(unavailable)?;
        let doc = r.doc_id.clone();
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO recurrences (doc_id, data) VALUES (?1, ?2)",
                params![doc, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn recurrence(&self, doc_id: &str) -> Result<Option<Recurrence>, StoreError> {
        let doc = doc_id.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT data FROM recurrences WHERE doc_id = ?1",
                params![doc],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(unavailable)?
            .map(|data| super::webhook_rows::decode(&data))
            .transpose()
        })
        .await
    }

    async fn delete_recurrence(&self, doc_id: &str) -> Result<(), StoreError> {
        let doc = doc_id.to_string();
        self.transaction(move |c| {
            c.execute("DELETE FROM recurrences WHERE doc_id = ?1", params![doc])
                .map(|_| ())
                .map_err(unavailable)
        })
        .await
    }

    async fn required_approvals(&self, account_id: &str) -> Result<Option<u32>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT required_approvals FROM workflow_settings WHERE account_id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn set_required_approvals(&self, account_id: &str, n: u32) -> Result<(), StoreError> {
        let id = account_id.to_string();
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO workflow_settings (account_id, required_approvals) VALUES (?1, ?2)",
                params![id, n],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }
}
