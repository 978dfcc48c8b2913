//! Publishing channels and the state of each channel target of a post.

use creo_core::channels::{Channel, TargetDelivery};
use rusqlite::{params, OptionalExtension};

use super::webhook_rows::decode;
use super::*;
use creo_store::channels::*;

#[async_trait]
impl ChannelStore for EmbeddedStore {
    async fn put_channel(&self, channel: &Channel) -> Result<(), StoreError> {
        let data = serde_json::to_string(channel).map_err(unavailable)?;
        let (account, id) = (channel.account_id.clone(), channel.channel_id.clone());
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO channels (account_id, channel_id, data) VALUES (?1, ?2, ?3)",
                params![account, id, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn channels(&self, account_id: &str) -> Result<Vec<Channel>, StoreError> {
        let account = account_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT data FROM channels WHERE account_id = ?1 ORDER BY channel_id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![account], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|r| decode(&r.map_err(unavailable)?)).collect()
        })
        .await
    }

    async fn channel(
        &self,
        account_id: &str,
        channel_id: &str,
    ) -> Result<Option<Channel>, StoreError> {
        let (account, id) = (account_id.to_string(), channel_id.to_string());
        self.read(move |c| {
            c.query_row(
                "SELECT data FROM channels WHERE account_id = ?1 AND channel_id = ?2",
                params![account, id],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(unavailable)?
            .map(|data| decode(&data))
            .transpose()
        })
        .await
    }

    async fn delete_channel(&self, account_id: &str, channel_id: &str) -> Result<bool, StoreError> {
        let (account, id) = (account_id.to_string(), channel_id.to_string());
        self.transaction(move |c| {
            c.execute(
                "DELETE FROM channels WHERE account_id = ?1 AND channel_id = ?2",
                params![account, id],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn put_target(&self, target: &TargetDelivery) -> Result<(), StoreError> {
        let data = serde_json::to_string(target).map_err(unavailable)?;
        let (doc, channel) = (target.doc_id.clone(), target.channel_id.clone());
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO publish_targets (doc_id, channel_id, data) VALUES (?1, ?2, ?3)",
                params![doc, channel, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn targets(&self, doc_id: &str) -> Result<Vec<TargetDelivery>, StoreError> {
        let doc = doc_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT data FROM publish_targets WHERE doc_id = ?1 ORDER BY channel_id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![doc], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|r| decode(&r.map_err(unavailable)?)).collect()
        })
        .await
    }
}
