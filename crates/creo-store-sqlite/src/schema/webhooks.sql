CREATE TABLE IF NOT EXISTS webhook_endpoints (
    account_id   TEXT NOT NULL,
    endpoint_id  TEXT NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (account_id, endpoint_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    endpoint_id  TEXT NOT NULL,
    at           INTEGER NOT NULL,
    delivery_id  TEXT NOT NULL,
    data         TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, at, delivery_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS generations (
    doc_id         TEXT NOT NULL,
    generation_id  TEXT NOT NULL,
    data           TEXT NOT NULL,
    PRIMARY KEY (doc_id, generation_id)
) WITHOUT ROWID;
