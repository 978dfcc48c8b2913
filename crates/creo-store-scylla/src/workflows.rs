//! A document's review workflow, its transitions, and an account's approval rule.

use creo_core::workflow::{Action, Transition, Workflow};
use scylla::value::CqlTimestamp;

use super::workflow_rows::*;
use super::*;
use creo_store::workflows::*;

#[async_trait]
impl WorkflowStore for ScyllaStore {
    async fn workflow(&self, doc_id: &str) -> Result<Option<Workflow>, StoreError> {
        let rows = self
            .session
            .execute_unpaged(&self.workflow.read, (doc_id,))
            .await
            .map_err(unavailable)?
            .into_rows_result()
            .map_err(unavailable)?;
        let Some(r) = rows.maybe_first_row::<WorkflowRow>().map_err(unavailable)? else {
            return Ok(None);
        };
        Ok(Some(Workflow {
            doc_id: r.0,
            account_id: r.1,
            state: parse_state(&r.2)?,
            approvals: r.3.unwrap_or_default(),
            scheduled_at: r.4.map(|t| t.0),
            timezone: r.5,
            version: r.6,
            updated_at: r.7 .0,
            targets: match r.8 {
                Some(t) => {
                    serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string()))?
                }
                None => Vec::new(),
            },
        }))
    }

    async fn transition(&self, w: &Workflow, t: &Transition) -> Result<bool, StoreError> {
        let st = &self.workflow;
        let scheduled = w.scheduled_at.map(CqlTimestamp);
        let targets = serde_json::to_string(&w.targets).map_err(unavailable)?;
        let result = if w.version == 1 {
            self.session
                .execute_unpaged(
                    &st.create,
                    (
                        &w.doc_id,
                        &w.account_id,
                        w.state.as_str(),
                        &w.approvals,
                        scheduled,
                        &w.timezone,
                        w.version,
                        CqlTimestamp(w.updated_at),
                        &targets,
                    ),
                )
                .await
        } else {
            self.session
                .execute_unpaged(
                    &st.advance,
                    (
                        w.state.as_str(),
                        &w.approvals,
                        scheduled,
                        &w.timezone,
                        w.version,
                        CqlTimestamp(w.updated_at),
                        &targets,
                        &w.doc_id,
                        w.version - 1,
                    ),
                )
                .await
        }
        .map_err(unavailable)?;
        if !Self::applied(result)? {
            return Ok(false);
        }
        self.session
            .execute_unpaged(
                &st.record,
                (
                    &t.doc_id,
                    t.version,
                    t.from.as_str(),
                    t.to.as_str(),
                    t.action.as_str(),
                    &t.actor,
                    CqlTimestamp(t.at),
                    &t.note,
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    async fn transitions(&self, doc_id: &str) -> Result<Vec<Transition>, StoreError> {
        let rows: Vec<TransitionRow> = self.all_rows(&self.workflow.history, (doc_id,)).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Transition {
                    doc_id: r.0,
                    version: r.1,
                    from: parse_state(&r.2)?,
                    to: parse_state(&r.3)?,
                    action: serde_json::from_value::<Action>(serde_json::Value::String(
                        r.4.clone(),
                    ))
                    .map_err(|_| StoreError::Corrupt(format!("workflow action {:?}", r.4)))?,
                    actor: r.5,
                    at: r.6 .0,
                    note: r.7,
                })
            })
            .collect()
    }

    async fn required_approvals(&self, account_id: &str) -> Result<Option<u32>, StoreError> {
        let rows: Vec<(i32,)> = self
            .all_rows(&self.workflow.settings, (account_id,))
            .await?;
        Ok(rows.first().map(|(n,)| (*n).max(1) as u32))
    }

    async fn set_required_approvals(&self, account_id: &str, n: u32) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(&self.workflow.set_settings, (account_id, n as i32))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
