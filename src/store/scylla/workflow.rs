//! The workflow tables on ScyllaDB: a transition is a lightweight transaction on the
//! document's workflow row (`IF NOT EXISTS` for the first, `IF version = ?` after), so of two
//! people moving the same document at once exactly one wins; the history row follows.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use scylla::value::CqlTimestamp;

use super::ScyllaStore;
use crate::store::{unavailable, StoreError};
use creo_core::workflow::{Action, State, Transition, Workflow};

pub(super) struct Statements {
    read: PreparedStatement,
    create: PreparedStatement,
    advance: PreparedStatement,
    record: PreparedStatement,
    history: PreparedStatement,
    settings: PreparedStatement,
    put_job: PreparedStatement,
    jobs: PreparedStatement,
    claim_job: PreparedStatement,
    drop_job: PreparedStatement,
    kill_job: PreparedStatement,
    put_version: PreparedStatement,
    drop_version: PreparedStatement,
    versions: PreparedStatement,
    version: PreparedStatement,
    put_comment: PreparedStatement,
    comments: PreparedStatement,
    set_settings: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(
        session: &Session,
        read: Consistency,
        write: Consistency,
    ) -> Result<Statements, StoreError> {
        let prepare =
            |cql, consistency, idempotent| super::prepare(session, cql, consistency, idempotent);
        Ok(Statements {
            read: prepare(
                "SELECT doc_id, account_id, state, approvals, scheduled_at, timezone, version, updated_at, targets \
                 FROM document_workflow WHERE doc_id = ?",
                Consistency::Serial,
                true,
            )
            .await?,
            create: prepare(
                "INSERT INTO document_workflow (doc_id, account_id, state, approvals, scheduled_at, timezone, version, updated_at, targets) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS",
                write,
                false,
            )
            .await?,
            advance: prepare(
                "UPDATE document_workflow SET state = ?, approvals = ?, scheduled_at = ?, timezone = ?, version = ?, updated_at = ?, targets = ? \
                 WHERE doc_id = ? IF version = ?",
                write,
                false,
            )
            .await?,
            record: prepare(
                "INSERT INTO workflow_transitions (doc_id, version, from_state, to_state, action, actor, at, note) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                write,
                true,
            )
            .await?,
            history: prepare(
                "SELECT doc_id, version, from_state, to_state, action, actor, at, note FROM workflow_transitions WHERE doc_id = ?",
                read,
                true,
            )
            .await?,
            put_job: prepare(
                "INSERT INTO jobs (queue, job_id, data, not_before, state, lease_until, reason) \
                 VALUES ('jobs', ?, ?, ?, 'ready', 0, null)",
                write,
                true,
            )
            .await?,
            jobs: prepare(
                "SELECT job_id, data, not_before, state, lease_until FROM jobs WHERE queue = 'jobs'",
                Consistency::Serial,
                true,
            )
            .await?,
            claim_job: prepare(
                "UPDATE jobs SET state = 'running', lease_until = ? WHERE queue = 'jobs' AND job_id = ? \
                 IF state = ? AND lease_until = ?",
                write,
                false,
            )
            .await?,
            drop_job: prepare("DELETE FROM jobs WHERE queue = 'jobs' AND job_id = ?", write, true).await?,
            kill_job: prepare(
                "UPDATE jobs SET state = 'dead', reason = ? WHERE queue = 'jobs' AND job_id = ?",
                write,
                true,
            )
            .await?,
            put_version: prepare(
                "INSERT INTO document_versions (doc_id, version_id, name, automatic, created_by, created_at, changed_by, state) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                write,
                true,
            )
            .await?,
            drop_version: prepare(
                "DELETE FROM document_versions WHERE doc_id = ? AND version_id = ?",
                write,
                true,
            )
            .await?,
            versions: prepare(
                "SELECT doc_id, version_id, name, automatic, created_by, created_at, changed_by FROM document_versions WHERE doc_id = ?",
                read,
                true,
            )
            .await?,
            version: prepare(
                "SELECT doc_id, version_id, name, automatic, created_by, created_at, changed_by, state FROM document_versions \
                 WHERE doc_id = ? AND version_id = ?",
                read,
                true,
            )
            .await?,
            put_comment: prepare(
                "INSERT INTO document_comments (doc_id, comment_id, created_at, data) VALUES (?, ?, ?, ?)",
                write,
                true,
            )
            .await?,
            comments: prepare("SELECT data FROM document_comments WHERE doc_id = ?", read, true).await?,
            settings: prepare("SELECT required_approvals FROM workflow_settings WHERE account_id = ?", read, true).await?,
            set_settings: prepare(
                "INSERT INTO workflow_settings (account_id, required_approvals) VALUES (?, ?)",
                write,
                true,
            )
            .await?,
        })
    }
}

fn parse_state(s: &str) -> Result<State, StoreError> {
    State::parse(s).ok_or_else(|| StoreError::Corrupt(format!("workflow state {s:?}")))
}

type WorkflowRow = (
    String,
    String,
    String,
    Option<Vec<String>>,
    Option<CqlTimestamp>,
    Option<String>,
    i64,
    CqlTimestamp,
    Option<String>,
);
type TransitionRow = (
    String,
    i64,
    String,
    String,
    String,
    String,
    CqlTimestamp,
    String,
);
/// A version's row without, and with, its state.
type VersionMeta = (
    String,
    String,
    String,
    bool,
    String,
    CqlTimestamp,
    Option<Vec<String>>,
);
type VersionRow = (
    String,
    String,
    String,
    bool,
    String,
    CqlTimestamp,
    Option<Vec<String>>,
    Vec<u8>,
);

impl ScyllaStore {
    pub(super) async fn read_workflow(&self, doc_id: &str) -> Result<Option<Workflow>, StoreError> {
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

    pub(super) async fn write_transition(
        &self,
        w: &Workflow,
        t: &Transition,
    ) -> Result<bool, StoreError> {
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

    pub(super) async fn read_transitions(
        &self,
        doc_id: &str,
    ) -> Result<Vec<Transition>, StoreError> {
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

    pub(super) async fn write_job(&self, job: &creo_core::jobs::Job) -> Result<(), StoreError> {
        let data = serde_json::to_string(job).map_err(unavailable)?;
        self.session
            .execute_unpaged(&self.workflow.put_job, (&job.id, data, job.not_before))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Reads the queue's partition and takes due jobs one lightweight transaction each (the
    /// condition is the state and lease read, so two workers never take the same job).
    pub(super) async fn take_jobs(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<creo_core::jobs::Job>, StoreError> {
        let rows: Vec<(String, String, i64, String, i64)> =
            self.all_rows(&self.workflow.jobs, ()).await?;
        let mut out = Vec::new();
        for (id, data, not_before, state, lease_until) in rows {
            let due = (state == "ready" && not_before <= now)
                || (state == "running" && lease_until <= now);
            if !due || out.len() >= limit {
                continue;
            }
            let result = self
                .session
                .execute_unpaged(
                    &self.workflow.claim_job,
                    (now + lease_ms, &id, &state, lease_until),
                )
                .await
                .map_err(unavailable)?;
            if Self::applied(result)? {
                out.push(
                    serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
            }
        }
        Ok(out)
    }

    pub(super) async fn finish_job(&self, id: &str, dead: Option<&str>) -> Result<(), StoreError> {
        let result = match dead {
            Some(reason) => {
                self.session
                    .execute_unpaged(&self.workflow.kill_job, (reason, id))
                    .await
            }
            None => {
                self.session
                    .execute_unpaged(&self.workflow.drop_job, (id,))
                    .await
            }
        };
        result.map(|_| ()).map_err(unavailable)
    }

    pub(super) async fn write_version(
        &self,
        v: &creo_core::versions::Version,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(
                &self.workflow.put_version,
                (
                    &v.doc_id,
                    &v.version_id,
                    &v.name,
                    v.automatic,
                    &v.created_by,
                    CqlTimestamp(v.created_at),
                    &v.changed_by,
                    &v.state,
                ),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    pub(super) async fn drop_version(
        &self,
        doc_id: &str,
        version_id: &str,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(&self.workflow.drop_version, (doc_id, version_id))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    pub(super) async fn read_versions(
        &self,
        doc_id: &str,
        one: Option<&str>,
    ) -> Result<Vec<creo_core::versions::Version>, StoreError> {
        let to_version = |m: VersionMeta, state: Vec<u8>| creo_core::versions::Version {
            doc_id: m.0,
            version_id: m.1,
            name: m.2,
            automatic: m.3,
            created_by: m.4,
            created_at: m.5 .0,
            changed_by: m.6.unwrap_or_default(),
            state,
        };
        let mut out: Vec<creo_core::versions::Version> = match one {
            Some(id) => {
                let rows: Vec<VersionRow> =
                    self.all_rows(&self.workflow.version, (doc_id, id)).await?;
                rows.into_iter()
                    .map(|r| to_version((r.0, r.1, r.2, r.3, r.4, r.5, r.6), r.7))
                    .collect()
            }
            None => {
                let rows: Vec<VersionMeta> =
                    self.all_rows(&self.workflow.versions, (doc_id,)).await?;
                rows.into_iter()
                    .map(|m| to_version(m, Vec::new()))
                    .collect()
            }
        };
        out.sort_by(|a, b| (a.created_at, &a.version_id).cmp(&(b.created_at, &b.version_id)));
        Ok(out)
    }

    pub(super) async fn write_comment(
        &self,
        c: &creo_core::comments::Comment,
    ) -> Result<(), StoreError> {
        let data = serde_json::to_string(c).map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.workflow.put_comment,
                (&c.doc_id, &c.comment_id, CqlTimestamp(c.created_at), data),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    pub(super) async fn read_comments(
        &self,
        doc_id: &str,
    ) -> Result<Vec<creo_core::comments::Comment>, StoreError> {
        let rows: Vec<(String,)> = self.all_rows(&self.workflow.comments, (doc_id,)).await?;
        let mut out: Vec<creo_core::comments::Comment> = rows
            .into_iter()
            .map(|(data,)| {
                serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| (a.created_at, &a.comment_id).cmp(&(b.created_at, &b.comment_id)));
        Ok(out)
    }

    pub(super) async fn read_required_approvals(
        &self,
        account_id: &str,
    ) -> Result<Option<u32>, StoreError> {
        let rows: Vec<(i32,)> = self
            .all_rows(&self.workflow.settings, (account_id,))
            .await?;
        Ok(rows.first().map(|(n,)| (*n).max(1) as u32))
    }

    pub(super) async fn write_required_approvals(
        &self,
        account_id: &str,
        n: u32,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(&self.workflow.set_settings, (account_id, n as i32))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
