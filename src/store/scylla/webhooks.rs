//! Webhook endpoints, their delivery logs and AI generations on ScyllaDB. An account's
//! endpoints are one partition, an endpoint's log is one partition clustered newest first (its
//! rows expire with the table's TTL), a document's generations are one partition.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use scylla::value::CqlTimestamp;

use super::ScyllaStore;
use crate::store::{unavailable, StoreError};
use creo_core::generations::Generation;
use creo_core::webhooks::{Delivery, Endpoint};

pub(super) struct Statements {
    put_endpoint: PreparedStatement,
    endpoints: PreparedStatement,
    drop_endpoint: PreparedStatement,
    drop_log: PreparedStatement,
    put_delivery: PreparedStatement,
    deliveries: PreparedStatement,
    put_generation: PreparedStatement,
    generation: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(
        session: &Session,
        read: Consistency,
        write: Consistency,
    ) -> Result<Statements, StoreError> {
        let prepare =
            |cql, consistency, idempotent| super::prepare(session, cql, consistency, idempotent);
        Ok(Statements {
            put_endpoint: prepare(
                "INSERT INTO webhook_endpoints (account_id, endpoint_id, data) VALUES (?, ?, ?)",
                write,
                true,
            )
            .await?,
            endpoints: prepare(
                "SELECT data FROM webhook_endpoints WHERE account_id = ?",
                read,
                true,
            )
            .await?,
            drop_endpoint: prepare(
                "DELETE FROM webhook_endpoints WHERE account_id = ? AND endpoint_id = ? IF EXISTS",
                write,
                false,
            )
            .await?,
            drop_log: prepare(
                "DELETE FROM webhook_deliveries WHERE endpoint_id = ?",
                write,
                true,
            )
            .await?,
            put_delivery: prepare(
                "INSERT INTO webhook_deliveries (endpoint_id, at, delivery_id, data) VALUES (?, ?, ?, ?)",
                write,
                true,
            )
            .await?,
            deliveries: prepare(
                "SELECT data FROM webhook_deliveries WHERE endpoint_id = ? LIMIT ?",
                read,
                true,
            )
            .await?,
            put_generation: prepare(
                "INSERT INTO generations (doc_id, generation_id, data) VALUES (?, ?, ?)",
                write,
                true,
            )
            .await?,
            generation: prepare(
                "SELECT data FROM generations WHERE doc_id = ? AND generation_id = ?",
                read,
                true,
            )
            .await?,
        })
    }
}

fn decode<T: serde::de::DeserializeOwned>(rows: Vec<(String,)>) -> Result<Vec<T>, StoreError> {
    rows.into_iter()
        .map(|(data,)| serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
}

impl ScyllaStore {
    pub(super) async fn write_webhook(&self, e: &Endpoint) -> Result<(), StoreError> {
        let data = serde_json::to_string(e).map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.webhooks.put_endpoint,
                (&e.account_id, &e.endpoint_id, data),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    pub(super) async fn read_webhooks(
        &self,
        account_id: &str,
    ) -> Result<Vec<Endpoint>, StoreError> {
        let rows = self
            .all_rows(&self.webhooks.endpoints, (account_id,))
            .await?;
        decode(rows)
    }

    pub(super) async fn remove_webhook(
        &self,
        account_id: &str,
        endpoint_id: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.webhooks.drop_endpoint, (account_id, endpoint_id))
            .await
            .map_err(unavailable)?;
        self.session
            .execute_unpaged(&self.webhooks.drop_log, (endpoint_id,))
            .await
            .map_err(unavailable)?;
        Self::applied(result)
    }

    pub(super) async fn write_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        let data = serde_json::to_string(d).map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.webhooks.put_delivery,
                (&d.endpoint_id, CqlTimestamp(d.at), &d.delivery_id, data),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    pub(super) async fn read_deliveries(
        &self,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = self
            .all_rows(&self.webhooks.deliveries, (endpoint_id, limit as i32))
            .await?;
        decode(rows)
    }

    pub(super) async fn write_generation(&self, g: &Generation) -> Result<(), StoreError> {
        let data = serde_json::to_string(g).map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.webhooks.put_generation,
                (&g.doc_id, &g.generation_id, data),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    pub(super) async fn read_generation(
        &self,
        doc_id: &str,
        generation_id: &str,
    ) -> Result<Option<Generation>, StoreError> {
        let rows = self
            .all_rows(&self.webhooks.generation, (doc_id, generation_id))
            .await?;
        Ok(decode(rows)?.pop())
    }
}
