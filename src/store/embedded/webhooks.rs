//! Webhook endpoints, their delivery logs and AI generations on SQLite, each row's details as
//! JSON (they are read whole, never queried inside).

use rusqlite::{params, OptionalExtension};

use super::EmbeddedStore;
use crate::store::{unavailable, StoreError};
use creo_core::generations::Generation;
use creo_core::webhooks::{Delivery, Endpoint, DELIVERY_LOG_DAYS};

pub(super) const SCHEMA: &str = "
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
";

fn decode<T: serde::de::DeserializeOwned>(data: &str) -> Result<T, StoreError> {
    serde_json::from_str(data).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl EmbeddedStore {
    pub(super) async fn write_webhook(&self, e: &Endpoint) -> Result<(), StoreError> {
        let data = serde_json::to_string(e).map_err(unavailable)?;
        let (account, id) = (e.account_id.clone(), e.endpoint_id.clone());
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO webhook_endpoints (account_id, endpoint_id, data) VALUES (?1, ?2, ?3)",
                params![account, id, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    pub(super) async fn read_webhooks(
        &self,
        account_id: &str,
    ) -> Result<Vec<Endpoint>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT data FROM webhook_endpoints WHERE account_id = ?1 ORDER BY endpoint_id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![id], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|r| decode(&r.map_err(unavailable)?)).collect()
        })
        .await
    }

    pub(super) async fn remove_webhook(
        &self,
        account_id: &str,
        endpoint_id: &str,
    ) -> Result<bool, StoreError> {
        let (account, id) = (account_id.to_string(), endpoint_id.to_string());
        self.transaction(move |c| {
            let n = c
                .execute(
                    "DELETE FROM webhook_endpoints WHERE account_id = ?1 AND endpoint_id = ?2",
                    params![account, id],
                )
                .map_err(unavailable)?;
            c.execute(
                "DELETE FROM webhook_deliveries WHERE endpoint_id = ?1",
                params![id],
            )
            .map_err(unavailable)?;
            Ok(n > 0)
        })
        .await
    }

    /// Logs an attempt, and forgets the endpoint's attempts older than the log keeps.
    pub(super) async fn write_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        let data = serde_json::to_string(d).map_err(unavailable)?;
        let (endpoint, at, id) = (d.endpoint_id.clone(), d.at, d.delivery_id.clone());
        let horizon = at - DELIVERY_LOG_DAYS * 86_400_000;
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO webhook_deliveries (endpoint_id, at, delivery_id, data) VALUES (?1, ?2, ?3, ?4)",
                params![endpoint, at, id, data],
            )
            .map_err(unavailable)?;
            c.execute(
                "DELETE FROM webhook_deliveries WHERE endpoint_id = ?1 AND at < ?2",
                params![endpoint, horizon],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    pub(super) async fn read_deliveries(
        &self,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let id = endpoint_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT data FROM webhook_deliveries WHERE endpoint_id = ?1 ORDER BY at DESC, delivery_id DESC LIMIT ?2",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![id, limit as i64], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|r| decode(&r.map_err(unavailable)?)).collect()
        })
        .await
    }

    pub(super) async fn write_generation(&self, g: &Generation) -> Result<(), StoreError> {
        let data = serde_json::to_string(g).map_err(unavailable)?;
        let (doc, id) = (g.doc_id.clone(), g.generation_id.clone());
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO generations (doc_id, generation_id, data) VALUES (?1, ?2, ?3)",
                params![doc, id, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    pub(super) async fn read_generation(
        &self,
        doc_id: &str,
        generation_id: &str,
    ) -> Result<Option<Generation>, StoreError> {
        let (doc, id) = (doc_id.to_string(), generation_id.to_string());
        let data: Option<String> = self
            .read(move |c| {
                c.query_row(
                    "SELECT data FROM generations WHERE doc_id = ?1 AND generation_id = ?2",
                    params![doc, id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)
            })
            .await?;
        data.map(|d| decode(&d)).transpose()
    }
}
