CREATE TABLE IF NOT EXISTS documents (
    doc_id      TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    epoch       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- An account's documents, for its document list (schema.cql: documents_by_account).
CREATE INDEX IF NOT EXISTS documents_by_account ON documents (account_id, updated_at);
CREATE TABLE IF NOT EXISTS document_updates (
    doc_id      TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (doc_id, epoch, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS document_snapshots (
    doc_id      TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    chunk       INTEGER NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (doc_id, epoch, chunk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS document_embeddings (
    account_id  TEXT NOT NULL,
    model       TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    vector      BLOB NOT NULL,
    text_hash   TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, model, doc_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_revocations (
    account_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    revoked_by  TEXT NOT NULL,
    revoked_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, user_id, scope)
) WITHOUT ROWID;
