//! Inboxes, notification settings and the mail already sent, on ScyllaDB: one partition per
//! person, newest first.

use futures_util::{stream, StreamExt, TryStreamExt};
use scylla::value::CqlTimestamp;

use super::account_rows::ts;
use super::notification_rows::{first_id_at, notification, NotificationRow};
use super::*;
use creo_core::notifications::{Notification, Settings};
use creo_store::notifications::*;

/// Concurrent requests one call keeps in flight (a fan-out to many inboxes, a settings read).
const IN_FLIGHT: usize = 64;

impl ScyllaStore {
    /// The rows of `statement`, filtered, up to `limit`, reading pages only as far as needed.
    async fn notification_rows(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
        keep: impl Fn(&Notification) -> bool,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        let mut rows = self
            .session
            .execute_iter(statement.clone(), values)
            .await
            .map_err(unavailable)?
            .rows_stream::<NotificationRow>()
            .map_err(unavailable)?;
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(row) = rows.try_next().await.map_err(unavailable)? else {
                break;
            };
            let n = notification(row)?;
            if keep(&n) {
                out.push(n);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl NotificationStore for ScyllaStore {
    async fn add_notifications(&self, items: &[Notification]) -> Result<(), StoreError> {
        // One partition per inbox: concurrent single-partition writes, not a batch across
        // partitions (which would funnel them all through one coordinator).
        stream::iter(items.to_vec())
            .map(|n| async move {
                self.session
                    .execute_unpaged(
                        &self.notes.insert,
                        (
                            &n.user_id,
                            &n.notification_id,
                            &n.account_id,
                            n.kind.as_str(),
                            &n.actor,
                            &n.actor_name,
                            &n.doc_id,
                            &n.doc_title,
                            &n.text,
                            &n.link,
                            ts(n.created_at),
                            n.read_at.map(ts),
                            n.in_app,
                            n.by_digest,
                        ),
                    )
                    .await
            })
            .buffer_unordered(IN_FLIGHT)
            .map_err(unavailable)
            .try_for_each(|_| async { Ok(()) })
            .await
    }

    async fn notifications(
        &self,
        user_id: &str,
        query: &InboxQuery,
    ) -> Result<Vec<Notification>, StoreError> {
        let unread_only = query.unread_only;
        let keep = move |n: &Notification| n.in_app && (!unread_only || n.read_at.is_none());
        let limit = query.limit as usize;
        match &query.before {
            Some(before) => {
                self.notification_rows(&self.notes.older, (user_id, before), keep, limit)
                    .await
            }
            None => {
                self.notification_rows(&self.notes.newest, (user_id,), keep, limit)
                    .await
            }
        }
    }

    async fn notification(
        &self,
        user_id: &str,
        notification_id: &str,
    ) -> Result<Option<Notification>, StoreError> {
        let row: Option<NotificationRow> = self
            .first(&self.notes.one, (user_id, notification_id))
            .await?;
        row.map(notification).transpose()
    }

    async fn digest_between(
        &self,
        user_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        // The ids carry their creation time: a range read, with a second of slack either side
        // for the id and `created_at` being taken a moment apart.
        let (low, high) = (first_id_at(from - 1_000), first_id_at(to + 1_000));
        let mut all = self
            .notification_rows(
                &self.notes.between,
                (user_id, low, high),
                |n| n.by_digest && n.created_at >= from && n.created_at < to,
                usize::MAX,
            )
            .await?;
        all.reverse();
        Ok(all)
    }

    async fn unread_count(&self, user_id: &str, accounts: &[String]) -> Result<u64, StoreError> {
        let rows: Vec<(String, Option<CqlTimestamp>, bool)> =
            self.all_rows(&self.notes.unread, (user_id,)).await?;
        Ok(rows
            .iter()
            .filter(|(account, read_at, in_app)| {
                *in_app && read_at.is_none() && accounts.contains(account)
            })
            .count() as u64)
    }

    async fn set_read(
        &self,
        user_id: &str,
        notification_id: &str,
        read_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        self.lwt(
            &self.notes.set_read,
            (read_at.map(ts), user_id, notification_id),
        )
        .await
    }

    async fn mark_all_read(&self, user_id: &str, at: i64) -> Result<u64, StoreError> {
        let rows: Vec<(String, Option<CqlTimestamp>, bool)> =
            self.all_rows(&self.notes.unread_ids, (user_id,)).await?;
        let unread: Vec<String> = rows
            .into_iter()
            .filter(|(_, read_at, in_app)| *in_app && read_at.is_none())
            .map(|(id, _, _)| id)
            .collect();
        let count = unread.len() as u64;
        stream::iter(unread)
            .map(|id| async move {
                self.session
                    .execute_unpaged(&self.notes.mark_read, (ts(at), user_id, id))
                    .await
            })
            .buffer_unordered(IN_FLIGHT)
            .map_err(unavailable)
            .try_for_each(|_| async { Ok(()) })
            .await?;
        Ok(count)
    }

    async fn delete_notification(
        &self,
        user_id: &str,
        notification_id: &str,
    ) -> Result<bool, StoreError> {
        self.lwt(&self.notes.delete, (user_id, notification_id))
            .await
    }

    async fn notification_settings(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<(String, Settings)>, StoreError> {
        let found: Vec<Option<(String, String)>> = stream::iter(user_ids.to_vec())
            .map(|user| async move {
                let row: Option<(String,)> = self.first(&self.notes.settings, (&user,)).await?;
                Ok::<_, StoreError>(row.map(|(data,)| (user, data)))
            })
            .buffer_unordered(IN_FLIGHT)
            .try_collect()
            .await?;
        found
            .into_iter()
            .flatten()
            .map(|(user, data)| {
                let settings =
                    serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((user, settings))
            })
            .collect()
    }

    async fn put_notification_settings(
        &self,
        user_id: &str,
        settings: &Settings,
    ) -> Result<(), StoreError> {
        let data = serde_json::to_string(settings).map_err(unavailable)?;
        self.exec(&self.notes.put_settings, (user_id, data)).await
    }

    async fn mail_sent(&self, key: &str) -> Result<bool, StoreError> {
        let row: Option<(String,)> = self.first(&self.notes.mail_sent, (key,)).await?;
        Ok(row.is_some())
    }

    async fn record_mail_sent(&self, key: &str, at: i64) -> Result<(), StoreError> {
        self.exec(&self.notes.record_mail, (key, ts(at))).await
    }
}
