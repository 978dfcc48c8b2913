CREATE TABLE IF NOT EXISTS users (
    user_id        TEXT PRIMARY KEY,
    email          TEXT UNIQUE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    email_verified_at INTEGER
);
CREATE TABLE IF NOT EXISTS accounts (
    account_id      TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    tier            TEXT NOT NULL,
    payment_failed  INTEGER NOT NULL DEFAULT 0,
    custom_limits   TEXT,
    created_at      INTEGER NOT NULL,
    require_mfa     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS account_members (
    account_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    role        TEXT NOT NULL,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS account_members_by_user ON account_members (user_id);
CREATE TABLE IF NOT EXISTS invitations (
    invitation_id  TEXT PRIMARY KEY,
    token_hash     TEXT NOT NULL UNIQUE,
    account_id     TEXT NOT NULL,
    email          TEXT NOT NULL,
    role           TEXT NOT NULL,
    invited_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    accepted_by    TEXT
);
CREATE INDEX IF NOT EXISTS invitations_by_account ON invitations (account_id);
CREATE TABLE IF NOT EXISTS auth_sessions (
    session_id    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    user_agent    TEXT NOT NULL,
    revoked       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS auth_sessions_by_user ON auth_sessions (user_id);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    spent       INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id       TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_by_account ON api_keys (account_id);
CREATE TABLE IF NOT EXISTS credit_balances (
    account_id  TEXT PRIMARY KEY,
    balance     INTEGER NOT NULL,
    reserved    INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credit_ledger (
    account_id       TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    action           TEXT,
    quantity         INTEGER NOT NULL,
    amount           INTEGER NOT NULL,
    balance_after    INTEGER NOT NULL,
    user_id          TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    reservation_id   TEXT,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (account_id, seq),
    UNIQUE (account_id, idempotency_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS credit_ledger_by_time ON credit_ledger (account_id, created_at);
CREATE INDEX IF NOT EXISTS credit_ledger_by_user ON credit_ledger (user_id);
CREATE TABLE IF NOT EXISTS credit_reservations (
    account_id       TEXT NOT NULL,
    reservation_id   TEXT NOT NULL,
    action           TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    amount           INTEGER NOT NULL,
    status           TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    entry_seq        INTEGER,
    PRIMARY KEY (account_id, reservation_id),
    UNIQUE (account_id, idempotency_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS payment_events (
    event_id      TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    processed_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_events (
    account_id  TEXT NOT NULL,
    at          INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    PRIMARY KEY (account_id, at, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_events_by_actor ON audit_events (actor);
