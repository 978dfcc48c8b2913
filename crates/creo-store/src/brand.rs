//! An account's brand kit: one record replaced by compare-and-set on its revision, and its
//! font files' rows beside it (their bytes are in object storage).

use async_trait::async_trait;
use creo_core::brand::{BrandFont, BrandKit};

use super::StoreError;

#[async_trait]
pub trait BrandStore: Send + Sync + 'static {
    /// The account's kit; `None` before its first change.
    async fn brand_kit(&self, account_id: &str) -> Result<Option<BrandKit>, StoreError>;
    /// Stores `kit` if the stored one is still at revision `expected` (0: there is none yet),
    /// atomically on every node: whether it did. `kit.revision` is `expected + 1`.
    async fn put_brand_kit(&self, kit: &BrandKit, expected: u64) -> Result<bool, StoreError>;
    async fn put_font(&self, font: &BrandFont) -> Result<(), StoreError>;
    /// The account's fonts, oldest first.
    async fn fonts(&self, account_id: &str) -> Result<Vec<BrandFont>, StoreError>;
    async fn font(&self, account_id: &str, font_id: &str) -> Result<Option<BrandFont>, StoreError>;
    /// Removes a font's row; whether it existed.
    async fn delete_font(&self, account_id: &str, font_id: &str) -> Result<bool, StoreError>;
}
