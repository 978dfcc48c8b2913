//! Webhook endpoints and their delivery logs.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Adds or replaces a webhook endpoint.
    async fn put_webhook(&self, endpoint: &creo_core::webhooks::Endpoint)
        -> Result<(), StoreError>;
    /// The account's endpoints.
    async fn webhooks(
        &self,
        account_id: &str,
    ) -> Result<Vec<creo_core::webhooks::Endpoint>, StoreError>;
    /// Removes an endpoint and its delivery log; whether it existed.
    async fn delete_webhook(&self, account_id: &str, endpoint_id: &str)
        -> Result<bool, StoreError>;
    /// Logs a delivery attempt (kept `DELIVERY_LOG_DAYS`).
    async fn put_delivery(
        &self,
        delivery: &creo_core::webhooks::Delivery,
    ) -> Result<(), StoreError>;
    /// An endpoint's latest attempts, newest first.
    async fn deliveries(
        &self,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<creo_core::webhooks::Delivery>, StoreError>;
}
