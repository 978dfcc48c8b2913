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
-- Every metrics sample of a published post, and each post's newest per channel.
CREATE TABLE IF NOT EXISTS post_metrics (
    doc_id      TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    at          INTEGER NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (doc_id, channel_id, at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS post_metrics_latest (
    account_id    TEXT NOT NULL,
    published_at  INTEGER NOT NULL,
    doc_id        TEXT NOT NULL,
    channel_id    TEXT NOT NULL,
    at            INTEGER NOT NULL,
    data          TEXT NOT NULL,
    PRIMARY KEY (account_id, published_at, doc_id, channel_id)
) WITHOUT ROWID;
