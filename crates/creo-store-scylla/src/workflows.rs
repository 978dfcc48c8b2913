//! A document's review workflow, its transitions, and an account's approval rule.

use creo_core::recurrence::Recurrence;
use creo_core::workflow::{Action, State, Transition, Workflow};
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
        // Where the calendar has it now, to move it from there.
        let before = match w.version {
            1 => None,
            _ => self.workflow(&w.doc_id).await?.and_then(|p| p.scheduled_at),
        };
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
        self.place_on_calendar(w, before).await?;
        Ok(true)
    }

    async fn calendar(
        &self,
        account_id: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<Workflow>, StoreError> {
        let mut all: Vec<Workflow> = Vec::new();
        for month in months_between(from, to) {
            let rows: Vec<(String,)> = self
                .all_rows(&self.workflow.calendar_month, (account_id, &month))
                .await?;
            for (data,) in rows {
                let w: Workflow =
                    serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                all.push(w);
            }
        }
        // A row left in an old month by a move that raced another keeps its older version.
        all.sort_by(|a, b| a.doc_id.cmp(&b.doc_id).then(b.version.cmp(&a.version)));
        all.dedup_by(|later, kept| later.doc_id == kept.doc_id);
        all.retain(|w| {
            w.scheduled_at.is_some_and(|at| at >= from && at < to)
                && matches!(w.state, State::Scheduled | State::Published | State::Failed)
        });
        all.sort_by_key(|w| (w.scheduled_at, w.doc_id.clone()));
        all.truncate(limit);
        Ok(all)
    }

    async fn put_recurrence(&self, r: &Recurrence) -> Result<(), StoreError> {
        let data = serde_json::to_string(r).map_err(unavailable)?;
        self.session
            .execute_unpaged(&self.workflow.put_recurrence, (&r.doc_id, data))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn recurrence(&self, doc_id: &str) -> Result<Option<Recurrence>, StoreError> {
        let rows = self.all_rows(&self.workflow.recurrence, (doc_id,)).await?;
        Ok(super::webhook_rows::decode(rows)?.pop())
    }

    async fn delete_recurrence(&self, doc_id: &str) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(&self.workflow.drop_recurrence, (doc_id,))
            .await
            .map(|_| ())
            .map_err(unavailable)
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

impl ScyllaStore {
    /// Keeps the calendar row of `w` in the month of its time (none without one), and takes it
    /// out of the month it was in `before`.
    async fn place_on_calendar(&self, w: &Workflow, before: Option<i64>) -> Result<(), StoreError> {
        let st = &self.workflow;
        let now = w.scheduled_at.map(month_of);
        if let Some(old) = before.map(month_of).filter(|old| Some(old) != now.as_ref()) {
            self.session
                .execute_unpaged(&st.drop_calendar, (&w.account_id, &old, &w.doc_id))
                .await
                .map_err(unavailable)?;
        }
        if let Some(month) = now {
            let data = serde_json::to_string(w).map_err(unavailable)?;
            self.session
                .execute_unpaged(&st.put_calendar, (&w.account_id, &month, &w.doc_id, data))
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}
