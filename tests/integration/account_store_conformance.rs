//! The conformance suite every backend must pass for accounts (the embedded store always,
//! ScyllaDB when `SCYLLA_URI` is set): money moves exactly once under concurrency, reservations
//! settle once, refresh tokens rotate with reuse detection, and the one-time decisions (an email,
//! an invitation, a payment event) are taken once.

use creo::auth::Role;
use creo::billing::{Action, EntryKind, Tier};
use creo::store::now_ms;
use creo::store::*;

use crate::store_conformance::{backends, rand_suffix};

fn ids(prefix: &str) -> (String, String) {
    let n = rand_suffix();
    (format!("{prefix}-user-{n}"), format!("{prefix}-acct-{n}"))
}

/// A registered user with an account holding `grant` milli-credits.
async fn registered(store: &Stores, prefix: &str, grant: i64) -> (User, Account) {
    let (user_id, account_id) = ids(prefix);
    let now = now_ms();
    let user = User {
        user_id: user_id.clone(),
        email: format!("{user_id}@example.com"),
        name: prefix.into(),
        password_hash: "$argon2id$test".into(),
        created_at: now,
        email_verified_at: None,
    };
    let account = Account {
        account_id: account_id.clone(),
        name: prefix.into(),
        tier: Tier::Free,
        payment_failed: false,
        custom_limits: None,
        created_at: now,
        require_mfa: false,
    };
    let posting = debit(&account_id, "signup", grant);
    assert!(store
        .users
        .register(
            &user,
            &account,
            Some(Posting {
                kind: EntryKind::Grant,
                action: None,
                ..posting
            })
        )
        .await
        .unwrap());
    (user, account)
}

fn debit(account_id: &str, key: &str, amount_milli: i64) -> Posting {
    Posting {
        account_id: account_id.to_string(),
        idempotency_key: key.to_string(),
        kind: EntryKind::Charge,
        action: Some(Action::StandardGeneration),
        quantity: 1,
        amount_milli,
        user_id: "u".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postings_apply_once_and_never_overdraw() {
    for b in backends().await {
        let store = b.stores.clone();
        let (_, account) = registered(&store, "post", 10_000).await;
        let id = account.account_id.clone();
        // 30 concurrent debits of 1000 from independent callers (as from several nodes).
        let tasks: Vec<_> = (0..30)
            .map(|i| {
                let (store, id) = (store.clone(), id.clone());
                tokio::spawn(async move {
                    store
                        .ledger
                        .post(vec![debit(&id, &format!("d{i}"), -1000)])
                        .await
                })
            })
            .collect();
        let mut applied = 0;
        for t in tasks {
            match t.await.unwrap().unwrap().remove(0) {
                Posted::Applied(_) => applied += 1,
                Posted::Insufficient { available } => assert!(available < 1000, "{}", b.name),
                other => panic!("{}: {other:?}", b.name),
            }
        }
        assert_eq!(applied, 10, "{}: exactly the balance was spent", b.name);
        assert_eq!(
            store.ledger.balance(&id).await.unwrap().balance_milli,
            0,
            "{}",
            b.name
        );
        // A key already used answers its entry; for a different movement it conflicts.
        match store
            .ledger
            .post(vec![debit(&id, "d0", -1000)])
            .await
            .unwrap()
            .remove(0)
        {
            Posted::Replayed(e) | Posted::Applied(e) => {
                assert_eq!(e.idempotency_key, "d0", "{}", b.name)
            }
            other => {
                // d0 may have been one of the refused ones: then it was never recorded.
                assert!(
                    matches!(other, Posted::Insufficient { .. }),
                    "{}: {other:?}",
                    b.name
                )
            }
        }
        let ledger = store.ledger.ledger(&id, None, 100).await.unwrap();
        assert_eq!(ledger.len(), 11, "{}: the grant and ten debits", b.name);
        let used = ledger
            .iter()
            .find(|e| e.kind == EntryKind::Charge)
            .unwrap()
            .idempotency_key
            .clone();
        assert!(
            matches!(
                store
                    .ledger
                    .post(vec![debit(&id, &used, -2000)])
                    .await
                    .unwrap()[0],
                Posted::KeyConflict
            ),
            "{}",
            b.name
        );
        let seqs: Vec<i64> = ledger.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=11).rev().collect::<Vec<_>>(),
            "{}: newest first, no gaps",
            b.name
        );
        let page = store.ledger.ledger(&id, Some(5), 2).await.unwrap();
        assert_eq!(
            page.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![4, 3],
            "{}",
            b.name
        );
        assert_eq!(ledger[0].balance_after_milli, 0, "{}", b.name);
        let spent = store.ledger.spent_since(&id, 0).await.unwrap();
        assert_eq!(
            spent.get(&Action::StandardGeneration),
            Some(&(10, 10_000)),
            "{}",
            b.name
        );
        let since = store.ledger.ledger_since(&id, 0).await.unwrap();
        assert_eq!(since.len(), 11, "{}", b.name);
        assert!(
            since.windows(2).all(|w| w[0].seq < w[1].seq),
            "{}: oldest first",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_hold_then_settle_once() {
    for b in backends().await {
        let store = b.stores.clone();
        let (_, account) = registered(&store, "reserve", 5_000).await;
        let id = account.account_id.clone();
        let now = now_ms();
        let reservation = |rid: &str, key: &str, quantity: i64, expires_at: i64| Reservation {
            reservation_id: format!("{rid}-{}", rand_suffix()),
            account_id: id.clone(),
            action: Action::SampleGeneration,
            quantity,
            amount_milli: 250 * quantity,
            status: ReservationStatus::Held,
            user_id: "u".into(),
            idempotency_key: key.into(),
            created_at: now,
            expires_at,
            entry_seq: None,
        };
        let r = reservation("r1", "k1", 4, now + 60_000);
        assert!(
            matches!(store.ledger.reserve(&r).await.unwrap(), Reserved::Held(_)),
            "{}",
            b.name
        );
        assert!(
            matches!(
                store
                    .ledger
                    .reserve(&reservation("r1b", "k1", 4, now))
                    .await
                    .unwrap(),
                Reserved::Replayed(_)
            ),
            "{}",
            b.name
        );
        assert_eq!(
            store.ledger.balance(&id).await.unwrap().available(),
            4_000,
            "{}",
            b.name
        );
        assert_eq!(
            store.ledger.spent_by(&id, "u").await.unwrap(),
            1_000,
            "{}: a hold counts as spent by its holder",
            b.name
        );
        assert!(
            matches!(
                store
                    .ledger
                    .reserve(&reservation("r2", "k2", 17, now))
                    .await
                    .unwrap(),
                Reserved::Insufficient { available: 4_000 }
            ),
            "{}",
            b.name
        );
        let captured = store
            .ledger
            .settle(
                &id,
                &r.reservation_id,
                Settlement::Capture { quantity: 3 },
                now,
            )
            .await
            .unwrap();
        let Settled::Done(done, Some(entry)) = captured else {
            panic!("{}: {captured:?}", b.name)
        };
        assert_eq!(
            (done.status, entry.amount_milli),
            (ReservationStatus::Captured, -750),
            "{}",
            b.name
        );
        assert_eq!(
            store.ledger.spent_by(&id, "u").await.unwrap(),
            750,
            "{}: captured, only what was taken counts",
            b.name
        );
        assert!(
            matches!(
                store
                    .ledger
                    .settle(
                        &id,
                        &r.reservation_id,
                        Settlement::Capture { quantity: 3 },
                        now
                    )
                    .await
                    .unwrap(),
                Settled::Replayed(_, Some(_))
            ),
            "{}",
            b.name
        );
        assert!(
            matches!(
                store
                    .ledger
                    .settle(&id, &r.reservation_id, Settlement::Release, now)
                    .await
                    .unwrap(),
                Settled::Conflict(_)
            ),
            "{}",
            b.name
        );
        let bal = store.ledger.balance(&id).await.unwrap();
        assert_eq!(
            (bal.balance_milli, bal.reserved_milli),
            (4_250, 0),
            "{}",
            b.name
        );
        // An expired hold is found for release; releasing returns it whole.
        let stale = reservation("r3", "k3", 2, now - 1);
        store.ledger.reserve(&stale).await.unwrap();
        let expired = store
            .ledger
            .expired_reservations(&id, now_ms())
            .await
            .unwrap();
        assert_eq!(
            expired
                .iter()
                .map(|r| &r.reservation_id)
                .collect::<Vec<_>>(),
            vec![&stale.reservation_id],
            "{}",
            b.name
        );
        assert!(
            matches!(
                store
                    .ledger
                    .settle(&id, &stale.reservation_id, Settlement::Release, now)
                    .await
                    .unwrap(),
                Settled::Done(_, None)
            ),
            "{}",
            b.name
        );
        assert_eq!(
            store.ledger.balance(&id).await.unwrap().available(),
            4_250,
            "{}",
            b.name
        );
        assert!(
            matches!(
                store
                    .ledger
                    .settle(&id, "nope", Settlement::Release, now)
                    .await
                    .unwrap(),
                Settled::NotFound
            ),
            "{}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_decisions_are_taken_once() {
    for b in backends().await {
        let store = b.stores.clone();
        let (user, account) = registered(&store, "ident", 0).await;
        let (other_user, other_account) = ids("dup");
        let dup = User {
            user_id: other_user,
            ..user.clone()
        };
        let acct = Account {
            account_id: other_account,
            ..account.clone()
        };
        assert!(
            !store.users.register(&dup, &acct, None).await.unwrap(),
            "{}: the email is taken",
            b.name
        );
        assert_eq!(
            store
                .users
                .user_by_email(&user.email)
                .await
                .unwrap()
                .unwrap()
                .user_id,
            user.user_id
        );
        assert_eq!(
            store.members.memberships(&user.user_id).await.unwrap()[0].role,
            Role::Owner
        );

        // Refresh tokens: rotate once; the spent one revokes the session.
        let now = now_ms();
        let session = AuthSession {
            session_id: format!("s-{}", rand_suffix()),
            user_id: user.user_id.clone(),
            account_id: account.account_id.clone(),
            created_at: now,
            last_used_at: now,
            user_agent: "test".into(),
            revoked: false,
        };
        let (h1, h2, h3) = (
            format!("h1-{}", rand_suffix()),
            format!("h2-{}", rand_suffix()),
            format!("h3-{}", rand_suffix()),
        );
        store
            .logins
            .create_session(&session, &h1, now + 60_000)
            .await
            .unwrap();
        let grace = 5_000;
        assert!(
            matches!(
                store
                    .logins
                    .rotate_refresh(&h1, &h2, now, now + 60_000, grace)
                    .await
                    .unwrap(),
                Refreshed::Rotated(_)
            ),
            "{}",
            b.name
        );
        // A second tab spending the same token a moment later gets a sibling token.
        let sibling = format!("h2b-{}", rand_suffix());
        assert!(
            matches!(
                store
                    .logins
                    .rotate_refresh(&h1, &sibling, now + 1_000, now + 60_000, grace)
                    .await
                    .unwrap(),
                Refreshed::Rotated(_)
            ),
            "{}",
            b.name
        );
        // The same token after the window: a replay, and the session is revoked.
        assert!(
            matches!(
                store
                    .logins
                    .rotate_refresh(&h1, &h3, now + grace + 1_000, now + 60_000, grace)
                    .await
                    .unwrap(),
                Refreshed::Reused(_)
            ),
            "{}",
            b.name
        );
        assert!(
            matches!(
                store
                    .logins
                    .rotate_refresh(&h2, &h3, now, now + 60_000, grace)
                    .await
                    .unwrap(),
                Refreshed::Invalid
            ),
            "{}",
            b.name
        );
        assert!(
            store.logins.sessions(&user.user_id).await.unwrap()[0].revoked,
            "{}",
            b.name
        );
        let one = store
            .logins
            .session(&user.user_id, &session.session_id)
            .await
            .unwrap();
        assert!(one.is_some_and(|s| s.revoked), "{}", b.name);
        let stranger = store
            .logins
            .session("someone-else", &session.session_id)
            .await
            .unwrap();
        assert!(stranger.is_none(), "{}", b.name);

        // Invitations are accepted once; events are recorded once.
        let inv = Invitation {
            invitation_id: format!("i-{}", rand_suffix()),
            account_id: account.account_id.clone(),
            email: "x@example.com".into(),
            role: Role::Editor,
            invited_by: user.user_id.clone(),
            created_at: now,
            expires_at: now + 60_000,
            accepted_by: None,
        };
        let token = format!("t-{}", rand_suffix());
        store
            .invitations
            .create_invitation(&inv, &token)
            .await
            .unwrap();
        assert!(
            store
                .invitations
                .accept_invitation(&token, "a", now)
                .await
                .unwrap()
                .is_some(),
            "{}",
            b.name
        );
        assert!(
            store
                .invitations
                .accept_invitation(&token, "b", now)
                .await
                .unwrap()
                .is_none(),
            "{}",
            b.name
        );
        let event = format!("evt-{}", rand_suffix());
        assert!(store
            .payment_events
            .record_event(&event, "payment.failed", now)
            .await
            .unwrap());
        assert!(
            !store
                .payment_events
                .record_event(&event, "payment.failed", now)
                .await
                .unwrap(),
            "{}",
            b.name
        );
        assert!(store.payment_events.event_processed(&event).await.unwrap());

        // Seats: a fourth member is refused on three seats.
        for i in 0..2 {
            let m = Member {
                account_id: account.account_id.clone(),
                user_id: format!("m{i}"),
                role: Role::Viewer,
                added_at: now,
            };
            assert!(
                store.members.put_member(&m, Some(3)).await.unwrap(),
                "{}",
                b.name
            );
        }
        let fourth = Member {
            account_id: account.account_id.clone(),
            user_id: "m9".into(),
            role: Role::Viewer,
            added_at: now,
        };
        assert!(
            !store.members.put_member(&fourth, Some(3)).await.unwrap(),
            "{}",
            b.name
        );

        // Keys are revoked only within their own account.
        let key = ApiKey {
            key_id: format!("k{}", rand_suffix()),
            account_id: account.account_id.clone(),
            name: "k".into(),
            prefix: "ck_k".into(),
            secret_hash: "h".into(),
            scopes: vec!["billing:read".into()],
            created_by: user.user_id.clone(),
            created_at: now,
            revoked_at: None,
        };
        store.api_keys.create_api_key(&key).await.unwrap();
        assert!(
            !store
                .api_keys
                .revoke_api_key("someone-else", &key.key_id, now)
                .await
                .unwrap(),
            "{}",
            b.name
        );
        assert!(
            store
                .api_keys
                .revoke_api_key(&account.account_id, &key.key_id, now)
                .await
                .unwrap(),
            "{}",
            b.name
        );
        assert!(store
            .api_keys
            .api_key(&key.key_id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some());

        // Erasure keeps the money record without the person.
        store
            .ledger
            .post(vec![Posting {
                user_id: user.user_id.clone(),
                ..debit(&account.account_id, "g", 500)
            }])
            .await
            .unwrap();
        assert!(
            store.users.erase_user(&user.user_id).await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            store
                .users
                .user_by_email(&user.email)
                .await
                .unwrap()
                .is_none(),
            "{}",
            b.name
        );
        let ledger = store
            .ledger
            .ledger(&account.account_id, None, 10)
            .await
            .unwrap();
        assert!(
            ledger.iter().all(|e| e.user_id != user.user_id),
            "{}: {ledger:?}",
            b.name
        );
        assert!(
            ledger.iter().any(|e| e.user_id == DELETED_USER),
            "{}",
            b.name
        );
    }
}

/// Verification holds only for the address it was mailed to; a change claims the new address
/// (never one another user holds) and leaves the old one free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_verified_and_moved_only_as_asked() {
    for b in backends().await {
        let store = b.stores.clone();
        let (ann, _) = registered(&store, "verify-ann", 0).await;
        let (bob, _) = registered(&store, "verify-bob", 0).await;
        let users = &store.users;
        assert!(
            !users
                .set_email_verified(&ann.user_id, "old@example.com", 5)
                .await
                .unwrap(),
            "{}: another address verifies nothing",
            b.name
        );
        assert!(users
            .set_email_verified(&ann.user_id, &ann.email, 5)
            .await
            .unwrap());
        let verified = users.user(&ann.user_id).await.unwrap().unwrap();
        assert_eq!(verified.email_verified_at, Some(5), "{}", b.name);
        // Onto Bob's address: refused, nothing moves.
        assert_eq!(
            users
                .change_email(&ann.user_id, &ann.email, &bob.email, 9)
                .await
                .unwrap(),
            EmailChange::Taken,
            "{}",
            b.name
        );
        // From an address Ann no longer has: stale.
        let fresh = format!("ann-{}@example.com", rand_suffix());
        assert_eq!(
            users
                .change_email(&ann.user_id, "gone@example.com", &fresh, 9)
                .await
                .unwrap(),
            EmailChange::Stale,
            "{}",
            b.name
        );
        assert_eq!(
            users
                .change_email(&ann.user_id, &ann.email, &fresh, 9)
                .await
                .unwrap(),
            EmailChange::Changed,
            "{}",
            b.name
        );
        let moved = users.user(&ann.user_id).await.unwrap().unwrap();
        assert_eq!(
            (moved.email.as_str(), moved.email_verified_at),
            (fresh.as_str(), Some(9))
        );
        assert_eq!(
            users
                .user_by_email(&fresh)
                .await
                .unwrap()
                .map(|u| u.user_id),
            Some(ann.user_id.clone()),
            "{}",
            b.name
        );
        assert!(
            users.user_by_email(&ann.email).await.unwrap().is_none(),
            "{}: the old address is free",
            b.name
        );
    }
}

/// A second factor: pending until its first code, a time step accepted once and only forward,
/// each recovery code spent once, and gone with `disable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_factor_accepts_each_code_once() {
    for b in backends().await {
        let mfa = &b.stores.mfa;
        let user = format!("u_mfa_{}", rand_suffix());
        assert!(mfa.second_factor(&user).await.unwrap().is_none());
        assert!(mfa.begin_enrolment(&user, "sealed-1", 1).await.unwrap());
        assert!(
            mfa.begin_enrolment(&user, "sealed-2", 2).await.unwrap(),
            "{}: a pending one is replaced",
            b.name
        );
        assert!(
            !mfa.use_step(&user, 10).await.unwrap(),
            "{}: no code counts before it is on",
            b.name
        );
        let codes = vec!["d1".to_string(), "d2".to_string()];
        assert!(
            !mfa.enable(&user, "sealed-1", 10, &codes, 3).await.unwrap(),
            "{}: only the secret shown last is enabled",
            b.name
        );
        assert!(mfa.enable(&user, "sealed-2", 10, &codes, 3).await.unwrap());
        let on = mfa.second_factor(&user).await.unwrap().unwrap();
        assert_eq!(
            (on.enabled_at, on.last_step, on.sealed_secret.as_str()),
            (Some(3), 10, "sealed-2")
        );
        assert!(
            !mfa.begin_enrolment(&user, "sealed-3", 4).await.unwrap(),
            "{}: on already",
            b.name
        );
        assert!(
            !mfa.use_step(&user, 10).await.unwrap(),
            "{}: the step that enabled it",
            b.name
        );
        assert!(mfa.use_step(&user, 11).await.unwrap());
        assert!(
            !mfa.use_step(&user, 11).await.unwrap(),
            "{}: a code replayed",
            b.name
        );
        assert!(
            !mfa.use_step(&user, 9).await.unwrap(),
            "{}: an older code",
            b.name
        );
        assert_eq!(mfa.recovery_codes_left(&user).await.unwrap(), 2);
        assert!(mfa.spend_recovery_code(&user, "d1", 5).await.unwrap());
        assert!(
            !mfa.spend_recovery_code(&user, "d1", 6).await.unwrap(),
            "{}: spent",
            b.name
        );
        assert!(!mfa.spend_recovery_code(&user, "nope", 6).await.unwrap());
        assert_eq!(mfa.recovery_codes_left(&user).await.unwrap(), 1);
        mfa.replace_recovery_codes(&user, &["d3".to_string()])
            .await
            .unwrap();
        assert!(
            !mfa.spend_recovery_code(&user, "d2", 7).await.unwrap(),
            "{}: replaced",
            b.name
        );
        assert_eq!(mfa.recovery_codes_left(&user).await.unwrap(), 1);
        assert!(mfa.disable(&user).await.unwrap());
        assert!(mfa.second_factor(&user).await.unwrap().is_none());
        assert!(
            !mfa.spend_recovery_code(&user, "d3", 8).await.unwrap(),
            "{}: gone with it",
            b.name
        );
        assert!(!mfa.disable(&user).await.unwrap());
    }
}

/// Invitations an address waits for: unaccepted and unexpired only, newest first, each with
/// the hash its acceptance takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_lists_the_invitations_waiting_for_it() {
    for b in backends().await {
        let store = &b.stores.invitations;
        let email = format!("invitee-{}@example.com", rand_suffix());
        let invitation = |id: &str, created_at: i64, expires_at: i64| Invitation {
            invitation_id: format!("{id}-{}", rand_suffix()),
            account_id: "a_inv".into(),
            email: email.clone(),
            role: Role::Editor,
            invited_by: "u_owner".into(),
            created_at,
            expires_at,
            accepted_by: None,
        };
        let (old, new, expired) = (
            invitation("old", 1, 9_000),
            invitation("new", 2, 9_000),
            invitation("expired", 3, 4),
        );
        for (i, inv) in [&old, &new, &expired].iter().enumerate() {
            store
                .create_invitation(inv, &format!("hash-{i}-{}", inv.invitation_id))
                .await
                .unwrap();
        }
        let waiting = store.invitations_for(&email, 5).await.unwrap();
        let ids: Vec<&str> = waiting
            .iter()
            .map(|(i, _)| i.invitation_id.as_str())
            .collect();
        assert_eq!(
            ids,
            [new.invitation_id.as_str(), old.invitation_id.as_str()],
            "{}",
            b.name
        );
        let (_, hash) = &waiting[1];
        assert!(store
            .accept_invitation(hash, "u_invitee", 6)
            .await
            .unwrap()
            .is_some());
        let left = store.invitations_for(&email, 7).await.unwrap();
        assert_eq!(left.len(), 1, "{}: accepted ones leave the list", b.name);
        assert!(store
            .invitations_for("nobody@example.com", 5)
            .await
            .unwrap()
            .is_empty());
    }
}
