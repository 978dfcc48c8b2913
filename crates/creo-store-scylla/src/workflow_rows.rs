//! The workflow tables on ScyllaDB: a transition is a lightweight transaction on the
//! document's workflow row (`IF NOT EXISTS` for the first, `IF version = ?` after), so of two
//! people moving the same document at once exactly one wins; the history row follows.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use scylla::value::CqlTimestamp;

use creo_core::workflow::State;
use creo_store::StoreError;

pub(super) struct Statements {
    pub(super) read: PreparedStatement,
    pub(super) create: PreparedStatement,
    pub(super) advance: PreparedStatement,
    pub(super) record: PreparedStatement,
    pub(super) history: PreparedStatement,
    pub(super) settings: PreparedStatement,
    pub(super) put_job: PreparedStatement,
    pub(super) jobs: PreparedStatement,
    pub(super) claim_job: PreparedStatement,
    pub(super) drop_job: PreparedStatement,
    pub(super) kill_job: PreparedStatement,
    pub(super) put_version: PreparedStatement,
    pub(super) drop_version: PreparedStatement,
    pub(super) versions: PreparedStatement,
    pub(super) version: PreparedStatement,
    pub(super) put_comment: PreparedStatement,
    pub(super) comments: PreparedStatement,
    pub(super) set_settings: PreparedStatement,
    pub(super) drop_workflow: PreparedStatement,
    pub(super) drop_history: PreparedStatement,
    pub(super) drop_comments: PreparedStatement,
    pub(super) drop_versions: PreparedStatement,
    pub(super) put_recurrence: PreparedStatement,
    pub(super) recurrence: PreparedStatement,
    pub(super) drop_recurrence: PreparedStatement,
    pub(super) put_calendar: PreparedStatement,
    pub(super) drop_calendar: PreparedStatement,
    pub(super) calendar_month: PreparedStatement,
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
            drop_workflow: prepare("DELETE FROM document_workflow WHERE doc_id = ?", write, true).await?,
            drop_history: prepare("DELETE FROM workflow_transitions WHERE doc_id = ?", write, true).await?,
            drop_comments: prepare("DELETE FROM document_comments WHERE doc_id = ?", write, true).await?,
            drop_versions: prepare("DELETE FROM document_versions WHERE doc_id = ?", write, true).await?,
            put_recurrence: prepare("INSERT INTO recurrences (doc_id, data) VALUES (?, ?)", write, true).await?,
            recurrence: prepare("SELECT data FROM recurrences WHERE doc_id = ?", read, true).await?,
            drop_recurrence: prepare("DELETE FROM recurrences WHERE doc_id = ?", write, true).await?,
            put_calendar: prepare(
                "INSERT INTO calendar (account_id, month, doc_id, data) VALUES (?, ?, ?, ?)",
                write,
                true,
            )
            .await?,
            drop_calendar: prepare(
                "DELETE FROM calendar WHERE account_id = ? AND month = ? AND doc_id = ?",
                write,
                true,
            )
            .await?,
            calendar_month: prepare(
                "SELECT data FROM calendar WHERE account_id = ? AND month = ?",
                read,
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

pub(super) fn parse_state(s: &str) -> Result<State, StoreError> {
    State::parse(s).ok_or_else(|| StoreError::Corrupt(format!("workflow state {s:?}")))
}

pub(super) type WorkflowRow = (
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
pub(super) type TransitionRow = (
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
pub(super) type VersionMeta = (
    String,
    String,
    String,
    bool,
    String,
    CqlTimestamp,
    Option<Vec<String>>,
);
pub(super) type VersionRow = (
    String,
    String,
    String,
    bool,
    String,
    CqlTimestamp,
    Option<Vec<String>>,
    Vec<u8>,
);

/// The calendar partition of an instant: its UTC month, `YYYY-MM`.
pub(super) fn month_of(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_else(|| "0000-00".into())
}

/// Every month partition `[from, to)` touches, first to last.
pub(super) fn months_between(from: i64, to: i64) -> Vec<String> {
    use chrono::Datelike;
    let (Some(start), Some(end)) = (
        chrono::DateTime::from_timestamp_millis(from),
        chrono::DateTime::from_timestamp_millis(to.max(from + 1) - 1),
    ) else {
        return Vec::new();
    };
    let (mut y, mut m) = (start.year(), start.month());
    let mut months = Vec::new();
    while (y, m) <= (end.year(), end.month()) {
        months.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_reads_every_month_it_touches_and_no_other() {
        let day = 86_400_000;
        let dec_1 = 1_796_083_200_000; // 2026-12-01T00:00:00Z
        assert_eq!(month_of(dec_1), "2026-12");
        assert_eq!(month_of(dec_1 - 1), "2026-11");
        assert_eq!(months_between(dec_1, dec_1 + 31 * day), ["2026-12"]);
        assert_eq!(
            months_between(dec_1 - day, dec_1 + 40 * day),
            ["2026-11", "2026-12", "2027-01"]
        );
        assert!(months_between(dec_1, dec_1).len() <= 1);
    }
}
