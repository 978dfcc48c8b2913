//! The document's rules, one input at a time, with no actor, socket or store.

use std::time::{Duration, Instant};

use yrs::updates::decoder::Decode;
use yrs::{GetString, ReadTxn, Text, Transact};

use super::*;
use crate::sync::intake::Offer;
use crate::sync::UpdateKind;

fn limits() -> Limits {
    Limits {
        max_document_bytes: 10_000,
        max_pending_bytes: 200,
        commit_max_updates: 3,
        compact_after_updates: 5,
        compact_after_bytes: 1_000_000,
        max_parked_bytes: 10_000,
        parked_timeout: Duration::from_secs(5),
        awareness_clients_per_session: 4,
        awareness_timeout: Duration::from_secs(30),
    }
}

/// A client's own document, typing into the text `t`.
struct Client(Doc);

impl Client {
    fn new(id: u64) -> Client {
        Client(Doc::with_client_id(id))
    }

    /// Types `s` at the end; the update, as the server receives it.
    fn types(&self, s: &str) -> ClientUpdate {
        let text = self.0.get_or_insert_text("t");
        let mut txn = self.0.transact_mut();
        let end = text.len(&txn);
        text.insert(&mut txn, end, s);
        let raw = txn.encode_update_v1();
        drop(txn);
        client_update(UpdateKind::Update, raw)
    }
}

fn client_update(kind: UpdateKind, raw: Vec<u8>) -> ClientUpdate {
    let (shape, update) = update::decode_checked(&raw, &UpdateLimits::default()).unwrap();
    ClientUpdate {
        kind,
        raw: raw.into(),
        shape,
        update,
    }
}

fn text(live: &LiveDoc<u32>) -> String {
    let t = live.doc().get_or_insert_text("t");
    let txn = live.doc().transact();
    t.get_string(&txn)
}

/// Offers, and queues what the intake takes, as the actor does; the writer is the session.
fn offer(live: &mut LiveDoc<u32>, session: SessionId, update: ClientUpdate) -> Offer {
    let outcome = live.offer(session, update, Instant::now());
    for (s, u) in live.ready() {
        live.enqueue(u.raw, u.update, s as u32, Arc::from(format!("user{s}")));
    }
    outcome
}

#[test]
fn a_role_that_cannot_write_is_refused_before_size_or_backlog() {
    let live = LiveDoc::<u32>::new(limits());
    assert_eq!(live.admit(Role::Viewer, 10), Err(Refusal::ReadOnly));
    assert_eq!(live.admit(Role::Commenter, 10), Err(Refusal::ReadOnly));
    assert_eq!(live.admit(Role::Viewer, 1_000_000), Err(Refusal::ReadOnly));
    assert_eq!(live.admit(Role::Editor, 10), Ok(()));
    assert_eq!(live.admit(Role::Editor, 10_001), Err(Refusal::TooLarge));
}

#[test]
fn a_backlog_refuses_new_writes_but_one_update_always_gets_through() {
    let mut live = LiveDoc::<u32>::new(limits());
    let alice = Client::new(1);
    // Nothing waits: even an update bigger than the backlog bound is admitted.
    assert_eq!(live.admit(Role::Editor, 500), Ok(()));
    assert_eq!(
        offer(&mut live, 1, alice.types(&"a".repeat(150))),
        Offer::Taken
    );
    let batch = live.start_commit().unwrap();
    // The write is in flight; its bytes still count until it lands.
    assert_eq!(live.admit(Role::Editor, 100), Err(Refusal::Backlogged));
    live.committed(batch, 0);
    assert_eq!(live.admit(Role::Editor, 100), Ok(()));
}

#[test]
fn updates_arriving_during_a_write_form_the_next_batch() {
    let mut live = LiveDoc::<u32>::new(limits());
    let alice = Client::new(1);
    offer(&mut live, 1, alice.types("a"));
    let first = live.start_commit().unwrap();
    assert_eq!(first.len(), 1);
    for c in ["b", "c", "d", "e"] {
        offer(&mut live, 1, alice.types(c));
    }
    assert!(
        live.start_commit().is_none(),
        "one write in flight at a time"
    );
    live.committed(first, 0);
    // At most commit_max_updates (3) a batch, in the order they were taken.
    let second = live.start_commit().unwrap();
    assert_eq!(second.len(), 3);
    live.committed(second, 0);
    let third = live.start_commit().unwrap();
    assert_eq!(third.len(), 1);
    live.committed(third, 0);
    assert_eq!(text(&live), "abcde");
    assert!(live.flushed());
}

#[test]
fn nothing_is_shown_before_the_store_has_it_and_a_failed_write_is_retried_in_order() {
    let mut live = LiveDoc::<u32>::new(limits());
    let alice = Client::new(1);
    offer(&mut live, 1, alice.types("a"));
    offer(&mut live, 1, alice.types("b"));
    let batch = live.start_commit().unwrap();
    assert_eq!(text(&live), "", "applied before it was durable");
    live.commit_failed(batch);
    offer(&mut live, 1, alice.types("c"));
    assert_eq!(text(&live), "");
    let retry = live.start_commit().unwrap();
    let raws: Vec<Bytes> = retry.iter().map(|p| p.raw.clone()).collect();
    let durable = live.committed(retry, 0);
    assert_eq!(
        durable.raws, raws,
        "the batch came back in a different order"
    );
    assert_eq!(durable.writers, vec![1, 1, 1]);
    assert!(durable.apply_errors.is_empty());
    assert_eq!(text(&live), "abc");
    let changed: Vec<String> = live
        .take_changed_by()
        .iter()
        .map(|u| u.to_string())
        .collect();
    assert_eq!(changed, ["user1"]);
    assert!(live.take_changed_by().is_empty());
}

#[test]
fn an_update_building_on_missing_content_waits_until_it_arrives() {
    let mut live = LiveDoc::<u32>::new(limits());
    let alice = Client::new(1);
    let first = alice.types("hello");
    let second = alice.types(" world");
    // The second reaches the server first, through another session (a second tab that had it
    // from the first): it is parked.
    assert_eq!(offer(&mut live, 2, second), Offer::Parked);
    assert!(live.start_commit().is_none());
    assert_eq!(offer(&mut live, 1, first), Offer::Taken);
    let batch = live.start_commit().unwrap();
    assert_eq!(
        batch.len(),
        2,
        "the parked update was not taken with what it builds on"
    );
    live.committed(batch, 0);
    assert_eq!(text(&live), "hello world");
}

#[test]
fn a_reconnect_echo_brings_nothing_and_is_not_stored_again() {
    let mut live = LiveDoc::<u32>::new(limits());
    let alice = Client::new(1);
    let typed = alice.types("kept");
    offer(&mut live, 1, typed);
    let batch = live.start_commit().unwrap();
    live.committed(batch, 0);
    let state = alice
        .0
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let echo = client_update(UpdateKind::SyncStep2, state);
    assert!(!live.changes(&echo.shape, &echo.update));
    let news = Client::new(3);
    let fresh = news.types("new");
    assert!(live.changes(&fresh.shape, &fresh.update));
}

#[test]
fn the_log_asks_for_compaction_and_a_new_epoch_restarts_it() {
    let mut live = LiveDoc::<u32>::new(limits());
    let alice = Client::new(1);
    for i in 0..5 {
        offer(&mut live, 1, alice.types(&i.to_string()));
        let batch = live.start_commit().unwrap();
        assert!(!live.wants_compaction(), "after {i} updates");
        live.committed(batch, 0);
    }
    assert!(live.wants_compaction(), "5 updates in the log");
    live.compacted(1, 40);
    assert!(!live.wants_compaction());
    assert_eq!(live.approx_bytes(), 40);
    // A write that lands in a newer epoch (another node compacted) restarts the count.
    offer(&mut live, 1, alice.types("x"));
    let batch = live.start_commit().unwrap();
    live.committed(batch, 2);
    assert_eq!(live.log_len(), 1);
}

#[test]
fn a_resync_shows_only_what_this_document_lacked() {
    let mut live = LiveDoc::<u32>::new(limits());
    let alice = Client::new(1);
    offer(&mut live, 1, alice.types("here"));
    let batch = live.start_commit().unwrap();
    live.committed(batch, 0);
    // The store has what another node wrote, which the bus lost.
    let other = Client::new(2);
    other.types("there");
    let stored = {
        let merged = Doc::new();
        let mut txn = merged.transact_mut();
        for d in [&alice.0, &other.0] {
            let u = d
                .transact()
                .encode_state_as_update_v1(&StateVector::default());
            txn.apply_update(yrs::Update::decode_v1(&u).unwrap())
                .unwrap();
        }
        txn.encode_state_as_update_v1(&StateVector::default())
    };
    let limits = UpdateLimits::default().trusted();
    let merged = live.merge_stored(&stored, &limits).unwrap();
    assert!(merged.apply_error.is_none());
    let news = merged.news.expect("news");
    let shown = Doc::new();
    shown
        .transact_mut()
        .apply_update(yrs::Update::decode_v1(&news).unwrap())
        .unwrap();
    let t = shown.get_or_insert_text("t");
    assert_eq!(
        t.get_string(&shown.transact()),
        "there",
        "news held more than what was lacking"
    );
    assert!(text(&live).contains("here") && text(&live).contains("there"));
    // The same state again brings nothing.
    assert!(live.merge_stored(&stored, &limits).unwrap().news.is_none());
    // An update that builds on the recovered content is taken at once.
    let follow = other.types("!");
    assert_eq!(offer(&mut live, 2, follow), Offer::Taken);
}

#[test]
fn updates_from_another_node_are_validated_and_applied() {
    let mut live = LiveDoc::<u32>::new(limits());
    let other = Client::new(2);
    let good = other.types("remote").raw;
    let remote = live.apply_remote(
        vec![good.clone(), Bytes::from_static(&[0xff, 0xff, 0xff])],
        &UpdateLimits::default().trusted(),
    );
    assert_eq!(remote.applied, vec![good]);
    assert_eq!(remote.invalid.len(), 1);
    assert_eq!(text(&live), "remote");
}

#[test]
fn presence_leaves_with_its_session() {
    let mut live = LiveDoc::<u32>::new(limits());
    let mut update = yrs::sync::AwarenessUpdate {
        clients: Default::default(),
    };
    update.clients.insert(
        yrs::ClientID::new(7),
        yrs::sync::awareness::AwarenessUpdateEntry {
            clock: 1,
            json: r#"{"user":{"name":"Ada"}}"#.into(),
        },
    );
    let applied = live
        .presence_mut()
        .apply(1, &Arc::from("ada"), "editor", update);
    assert!(applied.relay.is_some());
    assert_eq!(live.presence().live_states(), 1);
    let removal = live
        .presence_mut()
        .remove_session(1)
        .expect("a removal to show the others");
    assert!(removal.clients.contains_key(&yrs::ClientID::new(7)));
    assert_eq!(live.presence().live_states(), 0);
    assert!(live.presence_mut().remove_session(1).is_none());
}

#[test]
fn a_role_change_reaches_login_sessions_both_ways_and_app_tokens_only_down() {
    assert_eq!(
        role_after_change(true, Role::Viewer, Role::Editor),
        Role::Editor
    );
    assert_eq!(
        role_after_change(true, Role::Editor, Role::Viewer),
        Role::Viewer
    );
    assert_eq!(
        role_after_change(false, Role::Viewer, Role::Editor),
        Role::Viewer
    );
    assert_eq!(
        role_after_change(false, Role::Editor, Role::Viewer),
        Role::Viewer
    );
}

#[test]
fn a_stopping_document_tells_every_waiting_writer() {
    let mut live = LiveDoc::<u32>::new(limits());
    let alice = Client::new(1);
    offer(&mut live, 1, alice.types("a"));
    offer(&mut live, 2, Client::new(2).types("b"));
    assert_eq!(live.abandon(), vec![1, 2]);
    assert!(live.flushed());
    assert_eq!(
        live.admit(Role::Editor, 190),
        Ok(()),
        "abandoned bytes still counted"
    );
}
