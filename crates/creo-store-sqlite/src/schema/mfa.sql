-- A person's second factor: the sealed TOTP secret (pending until enabled_at is set) and the
-- last time step accepted (a code counts once); recovery codes as SHA-256 digests, each spent
-- once.
CREATE TABLE IF NOT EXISTS second_factors (
    user_id        TEXT PRIMARY KEY,
    sealed_secret  TEXT NOT NULL,
    enabled_at     INTEGER,
    last_step      INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recovery_codes (
    user_id   TEXT NOT NULL,
    digest    TEXT NOT NULL,
    spent_at  INTEGER,
    PRIMARY KEY (user_id, digest)
) WITHOUT ROWID;
