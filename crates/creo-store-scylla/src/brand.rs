//! Brand kits on ScyllaDB: one row per account, replaced by compare-and-set (LWT) on its
//! revision; an account's fonts are one partition of `brand_fonts`.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;

use super::account_rows::statements;
use super::webhook_rows::decode;
use super::*;
use creo_core::brand::{BrandFont, BrandKit};
use creo_store::brand::*;

statements! {
    kit: "r" true "SELECT data FROM brand_kits WHERE account_id = ?";
    first_kit: "w" false "INSERT INTO brand_kits (account_id, revision, data) VALUES (?, ?, ?) IF NOT EXISTS";
    next_kit: "w" false "UPDATE brand_kits SET revision = ?, data = ? WHERE account_id = ? IF revision = ?";
    put_font: "w" true "INSERT INTO brand_fonts (account_id, font_id, data) VALUES (?, ?, ?)";
    fonts: "r" true "SELECT data FROM brand_fonts WHERE account_id = ?";
    font: "r" true "SELECT data FROM brand_fonts WHERE account_id = ? AND font_id = ?";
    drop_font: "w" false "DELETE FROM brand_fonts WHERE account_id = ? AND font_id = ? IF EXISTS";
}

#[async_trait]
impl BrandStore for ScyllaStore {
    async fn brand_kit(&self, account_id: &str) -> Result<Option<BrandKit>, StoreError> {
        let rows = self.all_rows(&self.brand.kit, (account_id,)).await?;
        Ok(decode::<BrandKit>(rows)?.pop())
    }

    async fn put_brand_kit(&self, kit: &BrandKit, expected: u64) -> Result<bool, StoreError> {
        let data = serde_json::to_string(kit).map_err(unavailable)?;
        let revision = kit.revision.min(i64::MAX as u64) as i64;
        if expected == 0 {
            return self
                .lwt(&self.brand.first_kit, (&kit.account_id, revision, &data))
                .await;
        }
        let expected = expected.min(i64::MAX as u64) as i64;
        self.lwt(
            &self.brand.next_kit,
            (revision, &data, &kit.account_id, expected),
        )
        .await
    }

    async fn put_font(&self, font: &BrandFont) -> Result<(), StoreError> {
        let data = serde_json::to_string(font).map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.brand.put_font,
                (&font.account_id, &font.font_id, &data),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// The partition read whole, then sorted (at most `MAX_FONTS` rows).
    async fn fonts(&self, account_id: &str) -> Result<Vec<BrandFont>, StoreError> {
        let mut all: Vec<BrandFont> =
            decode(self.all_rows(&self.brand.fonts, (account_id,)).await?)?;
        all.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.font_id.cmp(&b.font_id))
        });
        Ok(all)
    }

    async fn font(&self, account_id: &str, font_id: &str) -> Result<Option<BrandFont>, StoreError> {
        let rows = self
            .all_rows(&self.brand.font, (account_id, font_id))
            .await?;
        Ok(decode::<BrandFont>(rows)?.pop())
    }

    async fn delete_font(&self, account_id: &str, font_id: &str) -> Result<bool, StoreError> {
        self.lwt(&self.brand.drop_font, (account_id, font_id)).await
    }
}
