//! Inboxes, notification settings and the mail already sent.

use rusqlite::{params, Row};

use super::account_rows::*;
use super::*;
use creo_core::notifications::{Kind, Notification, Settings};
use creo_store::notifications::*;

/// How long an inbox keeps a notification.
const INBOX_DAYS: i64 = 90;

const COLS: &str = "user_id, notification_id, account_id, kind, actor, actor_name, doc_id, \
                    doc_title, body, link, created_at, read_at, in_app, by_digest";

fn notification_row(r: &Row) -> rusqlite::Result<Notification> {
    let kind: String = r.get(3)?;
    Ok(Notification {
        user_id: r.get(0)?,
        notification_id: r.get(1)?,
        account_id: r.get(2)?,
        kind: Kind::parse(&kind).ok_or_else(|| corrupt("notification kind", &kind))?,
        actor: r.get(4)?,
        actor_name: r.get(5)?,
        doc_id: r.get(6)?,
        doc_title: r.get(7)?,
        text: r.get(8)?,
        link: r.get(9)?,
        created_at: r.get(10)?,
        read_at: r.get(11)?,
        in_app: r.get(12)?,
        by_digest: r.get(13)?,
    })
}

#[async_trait]
impl NotificationStore for EmbeddedStore {
    async fn add_notifications(&self, items: &[Notification]) -> Result<(), StoreError> {
        let items = items.to_vec();
        let expired = now_ms() - INBOX_DAYS * 86_400_000;
        self.transaction(move |c| {
            for n in &items {
                // The inbox keeps what ScyllaDB's TTL keeps (`schema.cql`): 90 days.
                exec(
                    c,
                    "DELETE FROM notifications WHERE user_id = ?1 AND created_at < ?2",
                    params![n.user_id, expired],
                )?;
                exec(
                    c,
                    &format!("INSERT OR IGNORE INTO notifications ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
                    params![
                        n.user_id,
                        n.notification_id,
                        n.account_id,
                        n.kind.as_str(),
                        n.actor,
                        n.actor_name,
                        n.doc_id,
                        n.doc_title,
                        n.text,
                        n.link,
                        n.created_at,
                        n.read_at,
                        n.in_app,
                        n.by_digest
                    ],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn notifications(
        &self,
        user_id: &str,
        query: &InboxQuery,
    ) -> Result<Vec<Notification>, StoreError> {
        let (u, q) = (user_id.to_string(), query.clone());
        self.read(move |c| {
            all(
                c,
                &format!(
                    "SELECT {COLS} FROM notifications
                     WHERE user_id = ?1 AND in_app = 1 AND (?2 IS NULL OR notification_id < ?2)
                       AND (?3 = 0 OR read_at IS NULL)
                     ORDER BY notification_id DESC LIMIT ?4"
                ),
                params![u, q.before, q.unread_only, q.limit],
                notification_row,
            )
        })
        .await
    }

    async fn notification(
        &self,
        user_id: &str,
        notification_id: &str,
    ) -> Result<Option<Notification>, StoreError> {
        let (u, n) = (user_id.to_string(), notification_id.to_string());
        self.read(move |c| {
            one(
                c,
                &format!(
                    "SELECT {COLS} FROM notifications WHERE user_id = ?1 AND notification_id = ?2"
                ),
                params![u, n],
                notification_row,
            )
        })
        .await
    }

    async fn digest_between(
        &self,
        user_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let u = user_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!(
                    "SELECT {COLS} FROM notifications
                     WHERE user_id = ?1 AND by_digest = 1 AND created_at >= ?2 AND created_at < ?3
                     ORDER BY notification_id"
                ),
                params![u, from, to],
                notification_row,
            )
        })
        .await
    }

    async fn unread_count(&self, user_id: &str, accounts: &[String]) -> Result<u64, StoreError> {
        let (u, accounts) = (user_id.to_string(), accounts.to_vec());
        self.read(move |c| {
            let per_account = all(
                c,
                "SELECT account_id, COUNT(*) FROM notifications
                 WHERE user_id = ?1 AND in_app = 1 AND read_at IS NULL GROUP BY account_id",
                params![u],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )?;
            Ok(per_account
                .into_iter()
                .filter(|(a, _)| accounts.contains(a))
                .map(|(_, n)| n as u64)
                .sum())
        })
        .await
    }

    async fn set_read(
        &self,
        user_id: &str,
        notification_id: &str,
        read_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let (u, n) = (user_id.to_string(), notification_id.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE notifications SET read_at = ?3 WHERE user_id = ?1 AND notification_id = ?2 AND in_app = 1",
                params![u, n, read_at],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn mark_all_read(&self, user_id: &str, at: i64) -> Result<u64, StoreError> {
        let u = user_id.to_string();
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE notifications SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL AND in_app = 1",
                params![u, at],
            )
            .map(|n| n as u64)
        })
        .await
    }

    async fn delete_notification(
        &self,
        user_id: &str,
        notification_id: &str,
    ) -> Result<bool, StoreError> {
        let (u, n) = (user_id.to_string(), notification_id.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "DELETE FROM notifications WHERE user_id = ?1 AND notification_id = ?2 AND in_app = 1",
                params![u, n],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn notification_settings(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<(String, Settings)>, StoreError> {
        let ids = user_ids.to_vec();
        self.read(move |c| {
            let mut out = Vec::new();
            // One statement per chunk: SQLite binds at most 32,766 parameters.
            for chunk in ids.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let rows = all(
                    c,
                    &format!("SELECT user_id, data FROM notification_settings WHERE user_id IN ({marks})"),
                    rusqlite::params_from_iter(chunk),
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )?;
                for (user, data) in rows {
                    let settings = serde_json::from_str(&data)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    out.push((user, settings));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn put_notification_settings(
        &self,
        user_id: &str,
        settings: &Settings,
    ) -> Result<(), StoreError> {
        let u = user_id.to_string();
        let data = serde_json::to_string(settings).map_err(unavailable)?;
        self.transaction(move |c| {
            exec(
                c,
                "INSERT INTO notification_settings (user_id, data) VALUES (?1, ?2)
                 ON CONFLICT (user_id) DO UPDATE SET data = ?2",
                params![u, data],
            )
            .map(|_| ())
        })
        .await
    }

    async fn mail_sent(&self, key: &str) -> Result<bool, StoreError> {
        let k = key.to_string();
        self.read(move |c| {
            one(
                c,
                "SELECT 1 FROM mail_sent WHERE mail_key = ?1",
                params![k],
                |r| r.get::<_, i64>(0),
            )
            .map(|found| found.is_some())
        })
        .await
    }

    async fn record_mail_sent(&self, key: &str, at: i64) -> Result<(), StoreError> {
        let k = key.to_string();
        self.transaction(move |c| {
            exec(
                c,
                "INSERT OR IGNORE INTO mail_sent (mail_key, sent_at) VALUES (?1, ?2)",
                params![k, at],
            )
            .map(|_| ())
        })
        .await
    }
}
