//! An account's media library: a row per stored medium (its bytes are in object storage), and
//! the bytes the account's media take, counted against its tier's quota atomically.

use async_trait::async_trait;
use creo_core::media::Medium;

use super::StoreError;

/// A change to a medium's row (`MediaStore::change_medium`).
pub type MediumChange = Box<dyn Fn(&mut Medium) + Send + Sync>;

#[async_trait]
pub trait MediaStore: Send + Sync + 'static {
    /// Counts `bytes` against the account's storage if that stays within `quota` (`None`:
    /// unlimited), atomically with every other reservation, on every node: whether it did.
    /// Concurrent uploads at the edge of the quota never take it past.
    async fn reserve_storage(
        &self,
        account_id: &str,
        bytes: u64,
        quota: Option<u64>,
    ) -> Result<bool, StoreError>;
    /// Gives back `bytes` reserved (an upload that failed, a medium removed).
    async fn release_storage(&self, account_id: &str, bytes: u64) -> Result<(), StoreError>;
    /// The bytes the account's media take now.
    async fn storage_used(&self, account_id: &str) -> Result<u64, StoreError>;
    /// Adds a medium.
    async fn put_medium(&self, medium: &Medium) -> Result<(), StoreError>;
    /// Changes a medium that is still there by `change`, atomically with every other change
    /// (the alt text a person sets and the renditions a job lists never undo each other): the
    /// medium as changed, or `None` when it is gone (a deleted one stays deleted). `change` may
    /// run more than once, when another change raced it.
    async fn change_medium(
        &self,
        account_id: &str,
        media_id: &str,
        change: MediumChange,
    ) -> Result<Option<Medium>, StoreError>;
    async fn medium(&self, account_id: &str, media_id: &str) -> Result<Option<Medium>, StoreError>;
    /// The account's media, newest first, at most `limit`.
    async fn media(&self, account_id: &str, limit: usize) -> Result<Vec<Medium>, StoreError>;
    /// Removes a medium's row; whether it existed.
    async fn delete_medium(&self, account_id: &str, media_id: &str) -> Result<bool, StoreError>;
    /// Records that `doc_id`, as scheduled now, names `media_ids`, replacing what it named.
    async fn record_uses(
        &self,
        account_id: &str,
        doc_id: &str,
        media_ids: &[String],
    ) -> Result<(), StoreError>;
    /// The documents recorded as naming `media_id` when they were last scheduled.
    async fn uses(&self, account_id: &str, media_id: &str) -> Result<Vec<String>, StoreError>;
}
