//! Published posts' metrics: every sample as a time series per document, and the newest
//! sample of each post on each channel per account, by when the post went out (what account
//! analytics and best times read).

use async_trait::async_trait;
use creo_core::analytics::Sample;

use super::StoreError;

#[async_trait]
pub trait MetricsStore: Send + Sync + 'static {
    /// Records a sample; it becomes the post's newest on its channel unless a later one is
    /// already kept.
    async fn put_sample(&self, sample: &Sample) -> Result<(), StoreError>;
    /// The document's newest `limit` samples, every channel, oldest first.
    async fn samples(&self, doc_id: &str, limit: usize) -> Result<Vec<Sample>, StoreError>;
    /// The newest sample of each post of the account published in `[from, to)`, by publication
    /// time, at most `limit`.
    async fn latest(
        &self,
        account_id: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<Sample>, StoreError>;
}
