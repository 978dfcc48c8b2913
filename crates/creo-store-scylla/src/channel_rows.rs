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
    pub(super) put_sample: PreparedStatement,
    pub(super) put_latest: PreparedStatement,
    pub(super) samples: PreparedStatement,
    pub(super) latest_month: PreparedStatement,
    pub(super) drop_samples: PreparedStatement,
    pub(super) drop_latest: PreparedStatement,
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
            put_sample: prepare(
                "INSERT INTO post_metrics (doc_id, channel_id, at, data) VALUES (?, ?, ?, ?)",
                write,
                true,
            )
            .await?,
            put_latest: prepare(
                "INSERT INTO post_metrics_latest (account_id, month, published_at, doc_id, channel_id, data) \
                 VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
                write,
                true,
            )
            .await?,
            samples: prepare(
                "SELECT data FROM post_metrics WHERE doc_id = ? LIMIT ?",
                read,
                true,
            )
            .await?,
            latest_month: prepare(
                "SELECT data FROM post_metrics_latest WHERE account_id = ? AND month = ? \
                 AND published_at >= ? AND published_at < ?",
                read,
                true,
            )
            .await?,
            drop_samples: prepare("DELETE FROM post_metrics WHERE doc_id = ?", write, true).await?,
            drop_latest: prepare(
                "DELETE FROM post_metrics_latest WHERE account_id = ? AND month = ? \
                 AND published_at = ? AND doc_id = ? AND channel_id = ?",
                write,
                true,
            )
            .await?,
        })
    }
}
