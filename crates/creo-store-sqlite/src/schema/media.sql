-- The media library: one row per stored medium (the bytes are in object storage), and what
-- each account's media take, for its quota.
CREATE TABLE IF NOT EXISTS media (
    account_id  TEXT NOT NULL,
    media_id    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (account_id, media_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS media_by_time ON media (account_id, created_at);
-- Which documents name a medium, as they were last scheduled.
CREATE TABLE IF NOT EXISTS media_uses (
    account_id  TEXT NOT NULL,
    media_id    TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    PRIMARY KEY (account_id, media_id, doc_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS media_uses_by_doc ON media_uses (account_id, doc_id);
CREATE TABLE IF NOT EXISTS media_storage (
    account_id  TEXT PRIMARY KEY,
    bytes       INTEGER NOT NULL
) WITHOUT ROWID;
