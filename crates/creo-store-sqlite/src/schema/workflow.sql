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
-- An account's calendar: its posts by scheduled time.
CREATE INDEX IF NOT EXISTS document_workflow_calendar
    ON document_workflow (account_id, scheduled_at) WHERE scheduled_at IS NOT NULL;
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
CREATE TABLE IF NOT EXISTS recurrences (
    doc_id  TEXT PRIMARY KEY,
    data    TEXT NOT NULL
) WITHOUT ROWID;
