//! An account's publishing channels, and where each channel target of a scheduled post stands.

use async_trait::async_trait;
use creo_core::channels::{Channel, TargetDelivery};

use super::StoreError;

#[async_trait]
pub trait ChannelStore: Send + Sync + 'static {
    /// Adds or replaces a channel.
    async fn put_channel(&self, channel: &Channel) -> Result<(), StoreError>;
    /// The account's channels, by id.
    async fn channels(&self, account_id: &str) -> Result<Vec<Channel>, StoreError>;
    async fn channel(
        &self,
        account_id: &str,
        channel_id: &str,
    ) -> Result<Option<Channel>, StoreError>;
    /// Removes a channel; whether it existed. Targets already recorded for it stay (they are a
    /// post's history).
    async fn delete_channel(&self, account_id: &str, channel_id: &str) -> Result<bool, StoreError>;
    /// Records where one target stands, replacing what was recorded for that document and
    /// channel (an earlier scheduling's record included).
    async fn put_target(&self, target: &TargetDelivery) -> Result<(), StoreError>;
    /// The document's recorded targets, every scheduling's latest, by channel id.
    async fn targets(&self, doc_id: &str) -> Result<Vec<TargetDelivery>, StoreError>;
}
