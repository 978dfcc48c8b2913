//! Webhook endpoints and their delivery logs.

use creo_core::webhooks::{Delivery, Endpoint, DELIVERY_LOG_DAYS};
use rusqlite::params;

use super::webhook_rows::*;
use super::*;
use creo_store::webhooks::*;

#[async_trait]
impl WebhookStore for EmbeddedStore {
    async fn put_webhook(&self, e: &Endpoint) -> Result<(), StoreError> {
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

    async fn webhooks(&self, account_id: &str) -> Result<Vec<Endpoint>, StoreError> {
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

    async fn delete_webhook(
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
    async fn put_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
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

    async fn deliveries(
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
}
