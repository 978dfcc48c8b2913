//! The statements of the inbox tables (`notifications`, `notification_settings`, `mail_sent`,
//! `one_time_tokens` in `schema.cql`), and how a row becomes a `Notification`.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use scylla::value::CqlTimestamp;

use super::account_rows::{parse, statements};
use creo_core::notifications::{Kind, Notification};
use creo_store::StoreError;

statements! {
    insert: "w" true "INSERT INTO notifications (user_id, notification_id, account_id, kind, actor, actor_name, doc_id, doc_title, body, link, created_at, read_at, in_app, by_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    newest: "r" true "SELECT user_id, notification_id, account_id, kind, actor, actor_name, doc_id, doc_title, body, link, created_at, read_at, in_app, by_digest FROM notifications WHERE user_id = ?";
    older: "r" true "SELECT user_id, notification_id, account_id, kind, actor, actor_name, doc_id, doc_title, body, link, created_at, read_at, in_app, by_digest FROM notifications WHERE user_id = ? AND notification_id < ?";
    between: "r" true "SELECT user_id, notification_id, account_id, kind, actor, actor_name, doc_id, doc_title, body, link, created_at, read_at, in_app, by_digest FROM notifications WHERE user_id = ? AND notification_id >= ? AND notification_id < ?";
    one: "r" true "SELECT user_id, notification_id, account_id, kind, actor, actor_name, doc_id, doc_title, body, link, created_at, read_at, in_app, by_digest FROM notifications WHERE user_id = ? AND notification_id = ?";
    unread: "r" true "SELECT account_id, read_at, in_app FROM notifications WHERE user_id = ?";
    unread_ids: "r" true "SELECT notification_id, read_at, in_app FROM notifications WHERE user_id = ?";
    set_read: "w" false "UPDATE notifications SET read_at = ? WHERE user_id = ? AND notification_id = ? IF in_app = true";
    mark_read: "w" true "UPDATE notifications SET read_at = ? WHERE user_id = ? AND notification_id = ?";
    delete: "w" false "DELETE FROM notifications WHERE user_id = ? AND notification_id = ? IF in_app = true";
    drop_inbox: "w" true "DELETE FROM notifications WHERE user_id = ?";
    drop_settings: "w" true "DELETE FROM notification_settings WHERE user_id = ?";
    settings: "r" true "SELECT data FROM notification_settings WHERE user_id = ?";
    put_settings: "w" true "INSERT INTO notification_settings (user_id, data) VALUES (?, ?)";
    mail_sent: "r" true "SELECT mail_key FROM mail_sent WHERE mail_key = ?";
    record_mail: "w" true "INSERT INTO mail_sent (mail_key, sent_at) VALUES (?, ?)";
    create_token: "w" true "INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, payload) VALUES (?, ?, ?, ?, ?, ?)";
    token: "s" true "SELECT user_id, purpose, created_at, expires_at, spent_at, payload FROM one_time_tokens WHERE token_hash = ?";
    spend_token: "w" false "UPDATE one_time_tokens SET spent_at = ? WHERE token_hash = ? IF spent_at = null";
}

pub(super) type NotificationRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    CqlTimestamp,
    Option<CqlTimestamp>,
    bool,
    Option<bool>,
);

pub(super) fn notification(row: NotificationRow) -> Result<Notification, StoreError> {
    let (user_id, notification_id, account_id, kind, actor, actor_name, doc_id) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6);
    Ok(Notification {
        user_id,
        notification_id,
        account_id,
        kind: parse("notification kind", &kind, Kind::parse)?,
        actor,
        actor_name,
        doc_id,
        doc_title: row.7,
        text: row.8,
        link: row.9,
        created_at: row.10 .0,
        read_at: row.11.map(|t| t.0),
        in_app: row.12,
        by_digest: row.13.unwrap_or(false),
    })
}

/// The smallest notification id (a UUIDv7 in simple form: 48 bits of milliseconds first) made
/// at or after `ms`.
pub(super) fn first_id_at(ms: i64) -> String {
    format!("{:012x}{}", ms.max(0), "0".repeat(20))
}
