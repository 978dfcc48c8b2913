//! Publishing channels and their post targets on ScyllaDB: an account's channels are one
//! partition, a document's targets another, each row's details as JSON.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;

use creo_store::StoreError;

pub(super) struct Statements {
    pub(super) put_channel: PreparedStatement,
    pub(super) channels: PreparedStatement,
    pub(super) channel: PreparedStatement,
    pub(super) drop_channel: PreparedStatement,
    pub(super) put_target: PreparedStatement,
    pub(super) targets: PreparedStatement,
    pub(super) drop_targets: PreparedStatement,
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
            put_channel: prepare(
                "INSERT INTO channels (account_id, channel_id, data) VALUES (?, ?, ?)",
                write,
                true,
            )
            .await?,
            channels: prepare("SELECT data FROM channels WHERE account_id = ?", read, true).await?,
            channel: prepare(
                "SELECT data FROM channels WHERE account_id = ? AND channel_id = ?",
                read,
                true,
            )
            .await?,
            drop_channel: prepare(
                "DELETE FROM channels WHERE account_id = ? AND channel_id = ? IF EXISTS",
                write,
                false,
            )
            .await?,
            put_target: prepare(
                "INSERT INTO publish_targets (doc_id, channel_id, data) VALUES (?, ?, ?)",
                write,
                true,
            )
            .await?,
            targets: prepare(
                "SELECT data FROM publish_targets WHERE doc_id = ?",
                read,
                true,
            )
            .await?,
            drop_targets: prepare("DELETE FROM publish_targets WHERE doc_id = ?", write, true)
                .await?,
        })
    }
}
