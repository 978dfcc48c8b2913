//! The conformance suite for inboxes, notification settings, sent mail and one-time tokens:
//! the embedded store always, ScyllaDB too when `SCYLLA_URI` is set (see `store_conformance`).

use creo::store::{InboxQuery, OneTimeToken, Purpose};
use creo_core::notifications::{Channels, Digest, Kind, Notification, Settings};

use crate::store_conformance::{backends, rand_suffix};

/// A recent time: inboxes keep 90 days.
fn base() -> i64 {
    creo::store::now_ms() / 1_000 * 1_000
}

fn note(user: &str, account: &str, n: u32, in_app: bool, by_digest: bool) -> Notification {
    let created_at = base() + n as i64 * 1_000_000;
    Notification {
        // Like the server's UUIDv7 ids: 48 bits of milliseconds first.
        notification_id: format!("{created_at:012x}{n:020x}"),
        user_id: user.to_string(),
        account_id: account.to_string(),
        kind: Kind::Mention,
        actor: "u_actor".into(),
        actor_name: "Actor".into(),
        doc_id: Some("d1".into()),
        doc_title: "Launch".into(),
        text: format!("note {n}"),
        link: "/#/".into(),
        created_at,
        read_at: None,
        in_app,
        by_digest,
    }
}

fn ids(items: &[Notification]) -> Vec<String> {
    items.iter().map(|n| n.text.clone()).collect()
}

#[tokio::test]
async fn an_inbox_pages_newest_first_and_counts_only_visible_unread() {
    for b in backends().await {
        let store = &b.stores.notifications;
        let user = format!("u_{}", rand_suffix());
        let mut items: Vec<Notification> =
            (1..=5).map(|n| note(&user, "a1", n, true, false)).collect();
        items.push(note(&user, "a2", 6, true, false));
        items.push(note(&user, "a1", 7, false, true));
        store.add_notifications(&items).await.unwrap();

        let page = |before: Option<String>, unread_only, limit| InboxQuery {
            before,
            unread_only,
            limit,
        };
        let first = store
            .notifications(&user, &page(None, false, 3))
            .await
            .unwrap();
        assert_eq!(ids(&first), ["note 6", "note 5", "note 4"], "{}", b.name);
        let next = store
            .notifications(
                &user,
                &page(Some(first[2].notification_id.clone()), false, 10),
            )
            .await
            .unwrap();
        assert_eq!(
            ids(&next),
            ["note 3", "note 2", "note 1"],
            "{}: email-only never listed",
            b.name
        );

        let a1 = ["a1".to_string()];
        assert_eq!(
            store.unread_count(&user, &a1).await.unwrap(),
            5,
            "{}",
            b.name
        );
        let both = ["a1".to_string(), "a2".to_string()];
        assert_eq!(
            store.unread_count(&user, &both).await.unwrap(),
            6,
            "{}",
            b.name
        );

        let id = |n: usize| items[n - 1].notification_id.clone();
        assert!(store.set_read(&user, &id(2), Some(5)).await.unwrap());
        assert!(
            !store
                .set_read("someone-else", &id(2), Some(5))
                .await
                .unwrap(),
            "{}",
            b.name
        );
        assert!(
            !store.set_read(&user, &id(7), Some(5)).await.unwrap(),
            "{}: email-only",
            b.name
        );
        let unread = store
            .notifications(&user, &page(None, true, 10))
            .await
            .unwrap();
        assert_eq!(
            ids(&unread),
            ["note 6", "note 5", "note 4", "note 3", "note 1"],
            "{}",
            b.name
        );
        assert!(store.set_read(&user, &id(2), None).await.unwrap());
        assert_eq!(
            store.unread_count(&user, &both).await.unwrap(),
            6,
            "{}",
            b.name
        );
        assert_eq!(
            store.mark_all_read(&user, 9).await.unwrap(),
            6,
            "{}",
            b.name
        );
        assert_eq!(
            store.unread_count(&user, &both).await.unwrap(),
            0,
            "{}",
            b.name
        );
        assert!(store.delete_notification(&user, &id(1)).await.unwrap());
        assert!(
            !store.delete_notification(&user, &id(1)).await.unwrap(),
            "{}",
            b.name
        );
        assert_eq!(
            store
                .notification(&user, &id(7))
                .await
                .unwrap()
                .map(|n| n.text),
            Some("note 7".into()),
            "{}: an email-only one is read for its email",
            b.name
        );
        let made = items[6].created_at;
        let digest = store
            .digest_between(&user, made - 1, made + 1)
            .await
            .unwrap();
        assert_eq!(
            ids(&digest),
            ["note 7"],
            "{}: only what waits for the digest",
            b.name
        );
        assert!(store
            .digest_between(&user, made - 1_000_000, made)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn settings_are_read_for_many_people_at_once_and_mail_is_recorded_once() {
    for b in backends().await {
        let store = &b.stores.notifications;
        let (u1, u2, u3) = (
            format!("u1_{}", rand_suffix()),
            format!("u2_{}", rand_suffix()),
            format!("u3_{}", rand_suffix()),
        );
        let mut s = Settings {
            digest: Digest::Daily,
            ..Settings::default()
        };
        s.kinds.insert(
            Kind::Reply,
            Channels {
                in_app: false,
                email: true,
            },
        );
        store.put_notification_settings(&u1, &s).await.unwrap();
        store
            .put_notification_settings(&u3, &Settings::default())
            .await
            .unwrap();
        let mut got = store
            .notification_settings(&[u1.clone(), u2.clone(), u3.clone()])
            .await
            .unwrap();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got.len(), 2, "{}: only those who set any", b.name);
        assert_eq!(got[0], (u1.clone(), s), "{}", b.name);

        let key = format!("mail-{}", rand_suffix());
        assert!(!store.mail_sent(&key).await.unwrap());
        store.record_mail_sent(&key, 1).await.unwrap();
        store.record_mail_sent(&key, 2).await.unwrap();
        assert!(store.mail_sent(&key).await.unwrap(), "{}", b.name);
    }
}

#[tokio::test]
async fn a_one_time_token_is_spent_once_before_it_expires() {
    for b in backends().await {
        let store = &b.stores.one_time_tokens;
        let token = OneTimeToken {
            user_id: "u_reset".into(),
            purpose: Purpose::PasswordReset,
            created_at: 1_000,
            expires_at: 2_000,
            payload: Some("carried".into()),
        };
        let (fresh, stale) = (
            format!("h1-{}", rand_suffix()),
            format!("h2-{}", rand_suffix()),
        );
        store.create_token(&token, &fresh).await.unwrap();
        store.create_token(&token, &stale).await.unwrap();
        // Looked at without spending it, for its purpose only.
        for _ in 0..2 {
            assert_eq!(
                store
                    .token(&fresh, Purpose::PasswordReset, 1_400)
                    .await
                    .unwrap(),
                Some(token.clone()),
                "{}",
                b.name
            );
        }
        assert_eq!(
            store.token(&fresh, Purpose::MfaLogin, 1_400).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .token(&stale, Purpose::PasswordReset, 2_000)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .spend_token(&fresh, Purpose::PasswordReset, 1_500)
                .await
                .unwrap(),
            Some(token.clone()),
            "{}",
            b.name
        );
        assert_eq!(
            store
                .spend_token(&fresh, Purpose::PasswordReset, 1_600)
                .await
                .unwrap(),
            None,
            "{}: spent",
            b.name
        );
        assert_eq!(
            store
                .spend_token(&stale, Purpose::PasswordReset, 2_000)
                .await
                .unwrap(),
            None,
            "{}: expired",
            b.name
        );
        assert_eq!(
            store
                .spend_token("unknown", Purpose::PasswordReset, 1_000)
                .await
                .unwrap(),
            None
        );
    }
}
