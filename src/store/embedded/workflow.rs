//! The workflow tables on SQLite: a document's current workflow (moved only if its version is
//! the one the caller read), its transitions, each account's required approvals, and comments
//! (stored as JSON per comment).

use rusqlite::{params, OptionalExtension, Row};

use super::EmbeddedStore;
use crate::store::{unavailable, StoreError};
use creo_core::workflow::{Action, State, Transition, Workflow};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS document_workflow (
    doc_id        TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    state         TEXT NOT NULL,
    approvals     TEXT NOT NULL,
    scheduled_at  INTEGER,
    timezone      TEXT,
    version       INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    targets       TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS workflow_transitions (
    doc_id      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    note        TEXT NOT NULL,
    PRIMARY KEY (doc_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS document_comments (
    doc_id      TEXT NOT NULL,
    comment_id  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (doc_id, comment_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS document_versions (
    doc_id      TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    automatic   INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    changed_by  TEXT NOT NULL,
    state       BLOB NOT NULL,
    PRIMARY KEY (doc_id, version_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs (
    job_id       TEXT PRIMARY KEY,
    data         TEXT NOT NULL,
    not_before   INTEGER NOT NULL,
    state        TEXT NOT NULL,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    reason       TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, not_before);
CREATE TABLE IF NOT EXISTS workflow_settings (
    account_id          TEXT PRIMARY KEY,
    required_approvals  INTEGER NOT NULL
) WITHOUT ROWID;
";

fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        what.to_string().into(),
    )
}

fn state(s: String) -> rusqlite::Result<State> {
    State::parse(&s).ok_or_else(|| corrupt("workflow state"))
}

fn workflow_row(r: &Row) -> rusqlite::Result<Workflow> {
    let approvals: String = r.get(3)?;
    Ok(Workflow {
        doc_id: r.get(0)?,
        account_id: r.get(1)?,
        state: state(r.get(2)?)?,
        approvals: approvals.split_whitespace().map(str::to_string).collect(),
        scheduled_at: r.get(4)?,
        timezone: r.get(5)?,
        version: r.get(6)?,
        updated_at: r.get(7)?,
        targets: serde_json::from_str(&r.get::<_, String>(8)?)
            .map_err(|_| corrupt("workflow targets"))?,
    })
}

fn action(s: String) -> rusqlite::Result<Action> {
    serde_json::from_value(serde_json::Value::String(s)).map_err(|_| corrupt("workflow action"))
}

impl EmbeddedStore {
    pub(super) async fn read_workflow(&self, doc_id: &str) -> Result<Option<Workflow>, StoreError> {
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

    pub(super) async fn write_transition(
        &self,
        next: &Workflow,
        t: &Transition,
    ) -> Result<bool, StoreError> {
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

    pub(super) async fn read_transitions(
        &self,
        doc_id: &str,
    ) -> Result<Vec<Transition>, StoreError> {
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

    pub(super) async fn write_job(&self, job: &creo_core::jobs::Job) -> Result<(), StoreError> {
        let data = serde_json::to_string(job).map_err(unavailable)?;
        let (id, not_before) = (job.id.clone(), job.not_before);
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO jobs (job_id, data, not_before, state, lease_until, reason)
                 VALUES (?1, ?2, ?3, 'ready', 0, NULL)",
                params![id, data, not_before],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    pub(super) async fn take_jobs(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<creo_core::jobs::Job>, StoreError> {
        self.transaction(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT job_id, data FROM jobs
                     WHERE (state = 'ready' AND not_before <= ?1) OR (state = 'running' AND lease_until <= ?1)
                     ORDER BY not_before LIMIT ?2",
                )
                .map_err(unavailable)?;
            let due: Vec<(String, String)> = stmt
                .query_map(params![now, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(unavailable)?
                .collect::<Result<_, _>>()
                .map_err(unavailable)?;
            let mut out = Vec::with_capacity(due.len());
            for (id, data) in due {
                c.execute(
                    "UPDATE jobs SET state = 'running', lease_until = ?2 WHERE job_id = ?1",
                    params![id, now + lease_ms],
                )
                .map_err(unavailable)?;
                out.push(serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            }
            Ok(out)
        })
        .await
    }

    pub(super) async fn finish_job(&self, id: &str, dead: Option<&str>) -> Result<(), StoreError> {
        let (id, dead) = (id.to_string(), dead.map(str::to_string));
        self.transaction(move |c| {
            match dead {
                Some(reason) => c.execute(
                    "UPDATE jobs SET state = 'dead', reason = ?2 WHERE job_id = ?1",
                    params![id, reason],
                ),
                None => c.execute("DELETE FROM jobs WHERE job_id = ?1", params![id]),
            }
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    pub(super) async fn write_version(
        &self,
        v: &creo_core::versions::Version,
    ) -> Result<(), StoreError> {
        let v = v.clone();
        self.transaction(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO document_versions
                 (doc_id, version_id, name, automatic, created_by, created_at, changed_by, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    v.doc_id,
                    v.version_id,
                    v.name,
                    v.automatic,
                    v.created_by,
                    v.created_at,
                    v.changed_by.join(" "),
                    v.state
                ],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    pub(super) async fn drop_version(
        &self,
        doc_id: &str,
        version_id: &str,
    ) -> Result<(), StoreError> {
        let (doc_id, version_id) = (doc_id.to_string(), version_id.to_string());
        self.transaction(move |conn| {
            conn.execute(
                "DELETE FROM document_versions WHERE doc_id = ?1 AND version_id = ?2",
                params![doc_id, version_id],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    /// The document's versions, with their states only when `one` names a version.
    pub(super) async fn read_versions(
        &self,
        doc_id: &str,
        one: Option<&str>,
    ) -> Result<Vec<creo_core::versions::Version>, StoreError> {
        let (id, one) = (doc_id.to_string(), one.map(str::to_string));
        self.read(move |conn| {
            let state = if one.is_some() { "state" } else { "x''" };
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT doc_id, version_id, name, automatic, created_by, created_at, changed_by, {state}
                     FROM document_versions WHERE doc_id = ?1 AND (?2 IS NULL OR version_id = ?2)
                     ORDER BY created_at, version_id"
                ))
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![id, one], |r| {
                    let changed_by: String = r.get(6)?;
                    Ok(creo_core::versions::Version {
                        doc_id: r.get(0)?,
                        version_id: r.get(1)?,
                        name: r.get(2)?,
                        automatic: r.get(3)?,
                        created_by: r.get(4)?,
                        created_at: r.get(5)?,
                        changed_by: changed_by.split_whitespace().map(str::to_string).collect(),
                        state: r.get(7)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }

    pub(super) async fn write_comment(
        &self,
        comment: &creo_core::comments::Comment,
    ) -> Result<(), StoreError> {
        let c = comment.clone();
        let data = serde_json::to_string(&c).map_err(unavailable)?;
        self.transaction(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO document_comments (doc_id, comment_id, created_at, data) VALUES (?1, ?2, ?3, ?4)",
                params![c.doc_id, c.comment_id, c.created_at, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    pub(super) async fn read_comments(
        &self,
        doc_id: &str,
    ) -> Result<Vec<creo_core::comments::Comment>, StoreError> {
        let id = doc_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT data FROM document_comments WHERE doc_id = ?1 ORDER BY created_at, comment_id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![id], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|r| {
                let data = r.map_err(unavailable)?;
                serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
        })
        .await
    }

    pub(super) async fn read_required_approvals(
        &self,
        account_id: &str,
    ) -> Result<Option<u32>, StoreError> {
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

    pub(super) async fn write_required_approvals(
        &self,
        account_id: &str,
        n: u32,
    ) -> Result<(), StoreError> {
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
