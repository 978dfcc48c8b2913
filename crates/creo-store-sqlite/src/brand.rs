//! Brand kits (compare-and-set on the revision, in one transaction) and their fonts' rows.

use creo_core::brand::{BrandFont, BrandKit};
use rusqlite::{params, OptionalExtension};

use super::webhook_rows::decode;
use super::*;
use creo_store::brand::*;

#[async_trait]
impl BrandStore for EmbeddedStore {
    async fn brand_kit(&self, account_id: &str) -> Result<Option<BrandKit>, StoreError> {
        let account = account_id.to_string();
        self.read(move |c| {
            let data: Option<String> = c
                .query_row(
                    "SELECT data FROM brand_kits WHERE account_id = ?1",
                    params![account],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            data.map(|d| decode(&d)).transpose()
        })
        .await
    }

    async fn put_brand_kit(&self, kit: &BrandKit, expected: u64) -> Result<bool, StoreError> {
        let data = serde_json::to_string(kit).map_err(unavailable)?;
        let (account, revision, expected) =
            (kit.account_id.clone(), kit.revision as i64, expected as i64);
        self.transaction(move |c| {
            let changed = if expected == 0 {
                c.execute(
                    "INSERT INTO brand_kits (account_id, revision, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![account, revision, data],
                )
            } else {
                c.execute(
                    "UPDATE brand_kits SET revision = ?2, data = ?3
                     WHERE account_id = ?1 AND revision = ?4",
                    params![account, revision, data, expected],
                )
            };
            changed.map(|n| n == 1).map_err(unavailable)
        })
        .await
    }

    async fn put_font(&self, font: &BrandFont) -> Result<(), StoreError> {
        let data = serde_json::to_string(font).map_err(unavailable)?;
        let f = font.clone();
        self.transaction(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO brand_fonts (account_id, font_id, created_at, data)
                 VALUES (?1, ?2, ?3, ?4)",
                params![f.account_id, f.font_id, f.created_at, data],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn fonts(&self, account_id: &str) -> Result<Vec<BrandFont>, StoreError> {
        let account = account_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT data FROM brand_fonts WHERE account_id = ?1 ORDER BY created_at, font_id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![account], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|r| decode(&r.map_err(unavailable)?)).collect()
        })
        .await
    }

    async fn font(&self, account_id: &str, font_id: &str) -> Result<Option<BrandFont>, StoreError> {
        let (account, id) = (account_id.to_string(), font_id.to_string());
        self.read(move |c| {
            let data: Option<String> = c
                .query_row(
                    "SELECT data FROM brand_fonts WHERE account_id = ?1 AND font_id = ?2",
                    params![account, id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            data.map(|d| decode(&d)).transpose()
        })
        .await
    }

    async fn delete_font(&self, account_id: &str, font_id: &str) -> Result<bool, StoreError> {
        let (account, id) = (account_id.to_string(), font_id.to_string());
        self.transaction(move |c| {
            c.execute(
                "DELETE FROM brand_fonts WHERE account_id = ?1 AND font_id = ?2",
                params![account, id],
            )
            .map(|n| n == 1)
            .map_err(unavailable)
        })
        .await
    }
}
