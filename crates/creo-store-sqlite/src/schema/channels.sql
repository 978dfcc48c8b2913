CREATE TABLE IF NOT EXISTS channels (
    account_id  TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (account_id, channel_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS publish_targets (
    doc_id      TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (doc_id, channel_id)
) WITHOUT ROWID;
