//! Processed payment-provider events, so each is applied once.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait PaymentEventStore: Send + Sync + 'static {
    /// Records a payment event as processed; `false` when it already was.
    async fn record_event(&self, event_id: &str, kind: &str, at: i64) -> Result<bool, StoreError>;
    async fn event_processed(&self, event_id: &str) -> Result<bool, StoreError>;
}
