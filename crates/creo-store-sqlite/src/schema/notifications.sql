-- Each person's inbox, newest first by notification_id (UUIDv7, time-ordered).
CREATE TABLE IF NOT EXISTS notifications (
    user_id          TEXT NOT NULL,
    notification_id  TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    kind             TEXT NOT NULL,
    actor            TEXT NOT NULL,
    actor_name       TEXT NOT NULL,
    doc_id           TEXT,
    doc_title        TEXT NOT NULL,
    body             TEXT NOT NULL,
    link             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    read_at          INTEGER,
    in_app           INTEGER NOT NULL,
    by_digest        INTEGER NOT NULL,
    PRIMARY KEY (user_id, notification_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notification_settings (
    user_id  TEXT PRIMARY KEY,
    data     TEXT NOT NULL
) WITHOUT ROWID;
-- Mail jobs that completed: a redelivered job finds its key and sends nothing.
CREATE TABLE IF NOT EXISTS mail_sent (
    mail_key  TEXT PRIMARY KEY,
    sent_at   INTEGER NOT NULL
) WITHOUT ROWID;
-- Single-use tokens mailed to people (password reset), by the SHA-256 of the token.
CREATE TABLE IF NOT EXISTS one_time_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    spent_at    INTEGER,
    payload     TEXT
) WITHOUT ROWID;
