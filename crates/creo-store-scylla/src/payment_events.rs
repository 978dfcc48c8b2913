//! Processed payment-provider events, so each is applied once.

use async_trait::async_trait;

use super::account_rows::*;
use super::*;
use creo_store::payment_events::*;

#[async_trait]
impl PaymentEventStore for ScyllaStore {
    async fn record_event(&self, event_id: &str, kind: &str, at: i64) -> Result<bool, StoreError> {
        self.lwt(&self.acct().record_event, (event_id, kind, ts(at)))
            .await
    }

    async fn event_processed(&self, event_id: &str) -> Result<bool, StoreError> {
        let row: Option<(String,)> = self.first(&self.acct().event, (event_id,)).await?;
        Ok(row.is_some())
    }
}
