//! Webhook endpoints, their delivery logs and AI generations on ScyllaDB. An account's
//! endpoints are one partition, an endpoint's log is one partition clustered newest first (its
//! rows expire with the table's TTL), a document's generations are one partition.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;

use creo_store::StoreError;

pub(super) struct Statements {
    pub(super) put_endpoint: PreparedStatement,
    pub(super) endpoints: PreparedStatement,
    pub(super) drop_endpoint: PreparedStatement,
    pub(super) drop_log: PreparedStatement,
    pub(super) put_delivery: PreparedStatement,
    pub(super) deliveries: PreparedStatement,
    pub(super) put_generation: PreparedStatement,
    pub(super) generation: PreparedStatement,
    pub(super) drop_generations: PreparedStatement,
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
            drop_generations: prepare("DELETE FROM generations WHERE doc_id = ?", write, true)
                .await?,
        })
    }
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    rows: Vec<(String,)>,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter()
        .map(|(data,)| serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
}
