//! Publishing channels and the state of each channel target of a post.

use creo_core::channels::{Channel, TargetDelivery};

use super::webhook_rows::decode;
use super::*;
use creo_store::channels::*;

#[async_trait]
impl ChannelStore for ScyllaStore {
    async fn put_channel(&self, channel: &Channel) -> Result<(), StoreError> {
        let data = serde_json::to_string(channel).map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.channels.put_channel,
                (&channel.account_id, &channel.channel_id, data),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn channels(&self, account_id: &str) -> Result<Vec<Channel>, StoreError> {
        decode(
            self.all_rows(&self.channels.channels, (account_id,))
                .await?,
        )
    }

    async fn channel(
        &self,
        account_id: &str,
        channel_id: &str,
    ) -> Result<Option<Channel>, StoreError> {
        let rows = self
            .all_rows(&self.channels.channel, (account_id, channel_id))
            .await?;
        Ok(decode(rows)?.pop())
    }

    async fn delete_channel(&self, account_id: &str, channel_id: &str) -> Result<bool, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.channels.drop_channel, (account_id, channel_id))
            .await
            .map_err(unavailable)?;
        Self::applied(result)
    }

    async fn put_target(&self, target: &TargetDelivery) -> Result<(), StoreError> {
        let data = serde_json::to_string(target).map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.channels.put_target,
                (&target.doc_id, &target.channel_id, data),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn targets(&self, doc_id: &str) -> Result<Vec<TargetDelivery>, StoreError> {
        decode(self.all_rows(&self.channels.targets, (doc_id,)).await?)
    }
}
