//! Published posts' metrics: the time series per document, and each post's newest sample per
//! channel by account and month (newest by write timestamp: the sample's own time).

use creo_core::analytics::Sample;
use scylla::value::CqlTimestamp;

use super::webhook_rows::decode;
use super::workflow_rows::{month_of, months_between};
use super::*;
use creo_store::analytics::*;

#[async_trait]
impl MetricsStore for ScyllaStore {
    async fn put_sample(&self, s: &Sample) -> Result<(), StoreError> {
        let data = serde_json::to_string(s).map_err(unavailable)?;
        let st = &self.channels;
        self.session
            .execute_unpaged(
                &st.put_sample,
                (&s.doc_id, &s.channel_id, CqlTimestamp(s.at), &data),
            )
            .await
            .map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &st.put_latest,
                (
                    &s.account_id,
                    month_of(s.published_at),
                    CqlTimestamp(s.published_at),
                    &s.doc_id,
                    &s.channel_id,
                    &data,
                    s.at.saturating_mul(1000),
                ),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// The partition is clustered by channel, then time: the newest across channels are found
    /// by reading it whole (a post's readings are a few polls and its reports).
    async fn samples(&self, doc_id: &str, limit: usize) -> Result<Vec<Sample>, StoreError> {
        let mut all: Vec<Sample> = decode(
            self.all_rows(&self.channels.samples, (doc_id, i32::MAX))
                .await?,
        )?;
        all.sort_by(|a, b| {
            a.at.cmp(&b.at)
                .then_with(|| a.channel_id.cmp(&b.channel_id))
        });
        let skip = all.len().saturating_sub(limit);
        Ok(all.split_off(skip))
    }

    async fn latest(
        &self,
        account_id: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<Sample>, StoreError> {
        let mut all: Vec<Sample> = Vec::new();
        for month in months_between(from, to) {
            let rows = self
                .all_rows(
                    &self.channels.latest_month,
                    (account_id, &month, CqlTimestamp(from), CqlTimestamp(to)),
                )
                .await?;
            all.extend(decode::<Sample>(rows)?);
            if all.len() >= limit {
                break;
            }
        }
        all.truncate(limit);
        Ok(all)
    }
}

impl ScyllaStore {
    /// Forgets a deleted document's metrics: its newest rows first (found through its series).
    pub(super) async fn drop_metrics(&self, doc_id: &str) -> Result<(), StoreError> {
        let samples = self.samples(doc_id, usize::MAX).await?;
        let mut done = std::collections::HashSet::new();
        for s in &samples {
            if done.insert((s.channel_id.clone(), s.published_at)) {
                self.session
                    .execute_unpaged(
                        &self.channels.drop_latest,
                        (
                            &s.account_id,
                            month_of(s.published_at),
                            CqlTimestamp(s.published_at),
                            doc_id,
                            &s.channel_id,
                        ),
                    )
                    .await
                    .map_err(unavailable)?;
            }
        }
        self.session
            .execute_unpaged(&self.channels.drop_samples, (doc_id,))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
