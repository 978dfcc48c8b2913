//! Published posts' metrics: the time series and each post's newest sample per channel.

use creo_core::analytics::Sample;
use rusqlite::params;

use super::webhook_rows::decode;
use super::*;
use creo_store::analytics::*;

#[async_trait]
impl MetricsStore for EmbeddedStore {
    async fn put_sample(&self, s: &Sample) -> Result<(), StoreError> {
        let data = serde_json::to_string(s).map_err(unavailable)?;
        let s = s.clone();
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO post_metrics (doc_id, channel_id, at, data) VALUES (?1, ?2, ?3, ?4)",
                params![s.doc_id, s.channel_id, s.at, data],
            )
            .map_err(unavailable)?;
            // Newest wins: a late, older reading never replaces a newer one.
            c.execute(
                "INSERT INTO post_metrics_latest (account_id, published_at, doc_id, channel_id, at, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (account_id, published_at, doc_id, channel_id)
                 DO UPDATE SET at = excluded.at, data = excluded.data WHERE excluded.at >= at",
                params![s.account_id, s.published_at, s.doc_id, s.channel_id, s.at, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn samples(&self, doc_id: &str, limit: usize) -> Result<Vec<Sample>, StoreError> {
        let doc = doc_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT data FROM post_metrics WHERE doc_id = ?1 ORDER BY at DESC, channel_id DESC LIMIT ?2",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![doc, limit as i64], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            let mut newest: Vec<Sample> = rows
                .map(|r| decode(&r.map_err(unavailable)?))
                .collect::<Result<_, _>>()?;
            newest.reverse();
            Ok(newest)
        })
        .await
    }

    async fn latest(
        &self,
        account_id: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<Sample>, StoreError> {
        let account = account_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT data FROM post_metrics_latest
                     WHERE account_id = ?1 AND published_at >= ?2 AND published_at < ?3
                     ORDER BY published_at, doc_id, channel_id LIMIT ?4",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![account, from, to, limit as i64], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(unavailable)?;
            rows.map(|r| decode(&r.map_err(unavailable)?)).collect()
        })
        .await
    }
}
