//! Processed payment-provider events, so each is applied once.

use async_trait::async_trait;
use rusqlite::params;

use super::account_rows::*;
use super::*;
use creo_store::payment_events::*;

#[async_trait]
impl PaymentEventStore for EmbeddedStore {
    async fn record_event(&self, event_id: &str, kind: &str, at: i64) -> Result<bool, StoreError> {
        let (e, k) = (event_id.to_string(), kind.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "INSERT OR IGNORE INTO payment_events (event_id, kind, processed_at) VALUES (?1, ?2, ?3)",
                params![e, k, at],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn event_processed(&self, event_id: &str) -> Result<bool, StoreError> {
        let e = event_id.to_string();
        self.read(move |c| {
            Ok(one(
                c,
                "SELECT 1 FROM payment_events WHERE event_id = ?1",
                params![e],
                |_| Ok(()),
            )?
            .is_some())
        })
        .await
    }
}
