//! Each person's inbox, their notification settings, and the record of mail already sent.

use async_trait::async_trait;

use super::StoreError;
use creo_core::notifications::{Notification, Settings};

/// Which part of an inbox to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    /// Only notifications older than this one (the previous page's last id).
    pub before: Option<String>,
    pub unread_only: bool,
    pub limit: u32,
}

#[async_trait]
pub trait NotificationStore: Send + Sync + 'static {
    /// Files notifications, each in its recipient's inbox, in one write however many there are.
    async fn add_notifications(&self, items: &[Notification]) -> Result<(), StoreError>;
    /// The in-app notifications of `user_id` matching `query`, newest first.
    async fn notifications(
        &self,
        user_id: &str,
        query: &InboxQuery,
    ) -> Result<Vec<Notification>, StoreError>;
    /// One notification (in-app or not), for its email.
    async fn notification(
        &self,
        user_id: &str,
        notification_id: &str,
    ) -> Result<Option<Notification>, StoreError>;
    /// The notifications of `user_id` made in `[from, to)` that wait for the digest, oldest
    /// first: what a digest carries.
    async fn digest_between(
        &self,
        user_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<Notification>, StoreError>;
    /// How many in-app notifications of `user_id` are unread, in the given accounts only.
    async fn unread_count(&self, user_id: &str, accounts: &[String]) -> Result<u64, StoreError>;
    /// Marks one read (`Some(at)`) or unread (`None`). `false` if it is not theirs.
    async fn set_read(
        &self,
        user_id: &str,
        notification_id: &str,
        read_at: Option<i64>,
    ) -> Result<bool, StoreError>;
    /// Marks every unread one read; how many were.
    async fn mark_all_read(&self, user_id: &str, at: i64) -> Result<u64, StoreError>;
    async fn delete_notification(
        &self,
        user_id: &str,
        notification_id: &str,
    ) -> Result<bool, StoreError>;
    /// Settings of each of `user_ids` that has set any, in one read.
    async fn notification_settings(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<(String, Settings)>, StoreError>;
    async fn put_notification_settings(
        &self,
        user_id: &str,
        settings: &Settings,
    ) -> Result<(), StoreError>;
    /// Whether mail `key` (a mail job's id) was sent.
    async fn mail_sent(&self, key: &str) -> Result<bool, StoreError>;
    /// Records that mail `key` went out, so a redelivered job does not send it again.
    async fn record_mail_sent(&self, key: &str, at: i64) -> Result<(), StoreError>;
}
