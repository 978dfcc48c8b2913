//! Webhook endpoints and their delivery logs.

use creo_core::webhooks::{Delivery, Endpoint};
use scylla::value::CqlTimestamp;

use super::webhook_rows::*;
use super::*;
use creo_store::webhooks::*;

#[async_trait]
impl WebhookStore for ScyllaStore {
    async fn put_webhook(&self, e: &Endpoint) -> Result<(), StoreError> {
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

    async fn webhooks(&self, account_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        let rows = self
            .all_rows(&self.webhooks.endpoints, (account_id,))
            .await?;
        decode(rows)
    }

    async fn delete_webhook(
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

    async fn put_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
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

    async fn deliveries(
        &self,
        endpoint_id: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = self
            .all_rows(&self.webhooks.deliveries, (endpoint_id, limit as i32))
            .await?;
        decode(rows)
    }
}
