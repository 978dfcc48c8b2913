//! The media library's rows, and each account's storage counted in one transaction with the
//! check against its quota.

use creo_core::media::Medium;
use rusqlite::{params, OptionalExtension};

use super::webhook_rows::decode;
use super::*;
use creo_store::media::*;

#[async_trait]
impl MediaStore for EmbeddedStore {
    async fn reserve_storage(
        &self,
        account_id: &str,
        bytes: u64,
        quota: Option<u64>,
    ) -> Result<bool, StoreError> {
        let account = account_id.to_string();
        let (bytes, quota) = (
            bytes.min(i64::MAX as u64) as i64,
            quota.map(|q| q.min(i64::MAX as u64) as i64),
        );
        self.transaction(move |c| {
            c.execute(
                "INSERT INTO media_storage (account_id, bytes) VALUES (?1, 0) ON CONFLICT DO NOTHING",
                params![account],
            )
            .map_err(unavailable)?;
            let changed = c
                .execute(
                    "UPDATE media_storage SET bytes = bytes + ?2
                     WHERE account_id = ?1 AND (?3 IS NULL OR bytes + ?2 <= ?3)",
                    params![account, bytes, quota],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release_storage(&self, account_id: &str, bytes: u64) -> Result<(), StoreError> {
        let account = account_id.to_string();
        let bytes = bytes.min(i64::MAX as u64) as i64;
        self.transaction(move |c| {
            c.execute(
                "UPDATE media_storage SET bytes = MAX(0, bytes - ?2) WHERE account_id = ?1",
                params![account, bytes],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn storage_used(&self, account_id: &str) -> Result<u64, StoreError> {
        let account = account_id.to_string();
        self.read(move |c| {
            let used: Option<i64> = c
                .query_row(
                    "SELECT bytes FROM media_storage WHERE account_id = ?1",
                    params![account],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            Ok(used.unwrap_or(0).max(0) as u64)
        })
        .await
    }

    async fn put_medium(&self, medium: &Medium) -> Result<(), StoreError> {
        let data = serde_json::to_string(medium).map_err(unavailable)?;
        let m = medium.clone();
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO media (account_id, media_id, created_at, data) VALUES (?1, ?2, ?3, ?4)",
                params![m.account_id, m.media_id, m.created_at, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn change_medium(
        &self,
        account_id: &str,
        media_id: &str,
        change: MediumChange,
    ) -> Result<Option<Medium>, StoreError> {
        let (account, id) = (account_id.to_string(), media_id.to_string());
        // Read and written in one transaction: the only writer is this one.
        self.transaction(move |c| {
            let Some(mut medium) = medium_row(c, &account, &id)? else {
                return Ok(None);
            };
            change(&mut medium);
            let data = serde_json::to_string(&medium).map_err(unavailable)?;
            c.execute(
                "UPDATE media SET data = ?3 WHERE account_id = ?1 AND media_id = ?2",
                params![account, id, data],
            )
            .map_err(unavailable)?;
            Ok(Some(medium))
        })
        .await
    }

    async fn medium(&self, account_id: &str, media_id: &str) -> Result<Option<Medium>, StoreError> {
        let (account, id) = (account_id.to_string(), media_id.to_string());
        self.read(move |c| medium_row(c, &account, &id)).await
    }

    async fn media(&self, account_id: &str, limit: usize) -> Result<Vec<Medium>, StoreError> {
        let account = account_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT data FROM media WHERE account_id = ?1
                     ORDER BY created_at DESC, media_id DESC LIMIT ?2",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![account, limit as i64], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|r| decode(&r.map_err(unavailable)?)).collect()
        })
        .await
    }

    async fn delete_medium(&self, account_id: &str, media_id: &str) -> Result<bool, StoreError> {
        let (account, id) = (account_id.to_string(), media_id.to_string());
        self.transaction(move |c| {
            c.execute(
                "DELETE FROM media WHERE account_id = ?1 AND media_id = ?2",
                params![account, id],
            )
            .map(|n| n == 1)
            .map_err(unavailable)
        })
        .await
    }

    async fn record_uses(
        &self,
        account_id: &str,
        doc_id: &str,
        media_ids: &[String],
    ) -> Result<(), StoreError> {
        let (account, doc, ids) = (
            account_id.to_string(),
            doc_id.to_string(),
            media_ids.to_vec(),
        );
        self.transaction(move |c| {
            c.execute(
                "DELETE FROM media_uses WHERE account_id = ?1 AND doc_id = ?2",
                params![account, doc],
            )
            .map_err(unavailable)?;
            for id in &ids {
                c.execute(
                    "INSERT OR IGNORE INTO media_uses (account_id, media_id, doc_id) VALUES (?1, ?2, ?3)",
                    params![account, id, doc],
                )
                .map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn uses(&self, account_id: &str, media_id: &str) -> Result<Vec<String>, StoreError> {
        let (account, id) = (account_id.to_string(), media_id.to_string());
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT doc_id FROM media_uses WHERE account_id = ?1 AND media_id = ?2 ORDER BY doc_id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![account, id], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|r| r.map_err(unavailable)).collect()
        })
        .await
    }
}

/// The medium `id` of `account`, read on `c`.
fn medium_row(c: &Connection, account: &str, id: &str) -> Result<Option<Medium>, StoreError> {
    let data: Option<String> = c
        .query_row(
            "SELECT data FROM media WHERE account_id = ?1 AND media_id = ?2",
            params![account, id],
            |r| r.get(0),
        )
        .optional()
        .map_err(unavailable)?;
    data.map(|d| decode(&d)).transpose()
}
