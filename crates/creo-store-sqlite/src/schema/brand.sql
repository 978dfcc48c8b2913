-- Each account's brand kit (one record, replaced by compare-and-set on its revision) and its
-- font files' rows (the bytes are in object storage).
CREATE TABLE IF NOT EXISTS brand_kits (
    account_id  TEXT PRIMARY KEY,
    revision    INTEGER NOT NULL,
    data        TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS brand_fonts (
    account_id  TEXT NOT NULL,
    font_id     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (account_id, font_id)
) WITHOUT ROWID;
