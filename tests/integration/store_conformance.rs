//! The conformance suite every backend must pass for documents and their satellites: always the embedded store;
//! ScyllaDB too when `SCYLLA_URI` is set (`scylla://host:9042/keyspace`), otherwise it prints
//! that it skipped.

use std::sync::Arc;

use bytes::Bytes;
use creo::store::embedded::EmbeddedStore;
use creo::store::{Revocation, StoreError, StoredDocument, Stores};
use yrs::{Doc, GetString, Text, Transact};

pub struct Backend {
    pub name: &'static str,
    pub stores: Stores,
    _dir: Option<tempfile::TempDir>,
}

pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let embedded = Arc::new(EmbeddedStore::open(dir.path(), "normal").unwrap());
    let mut all = vec![Backend {
        name: "embedded",
        stores: Stores::of(embedded),
        _dir: Some(dir),
    }];
    match std::env::var("SCYLLA_URI") {
        Ok(uri) => {
            let scylla = creo::store::scylla::ScyllaStore::connect(&uri, &Default::default())
                .await
                .expect("connect to SCYLLA_URI");
            all.push(Backend {
                name: "scylla",
                stores: Stores::of(scylla),
                _dir: None,
            })
        }
        Err(_) => {
            // Written to stderr directly: libtest captures println!, and a skip must be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: ScyllaDB conformance run (SCYLLA_URI is not set)"
            );
        }
    }
    all
}

/// A fresh document id per test run, so a shared ScyllaDB keyspace needs no cleanup.
fn doc_id(name: &str) -> String {
    format!("{name}-{}", rand_suffix())
}

pub fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ std::process::id() as u64
}

/// One editor's successive keystrokes, each an incremental update.
struct Typist {
    doc: Doc,
}

impl Typist {
    fn new() -> Self {
        Typist { doc: Doc::new() }
    }

    fn type_text(&self, s: &str) -> Bytes {
        let text = self.doc.get_or_insert_text("t");
        let mut txn = self.doc.transact_mut();
        let len = text.len(&txn);
        text.insert(&mut txn, len, s);
        Bytes::from(txn.encode_update_v1())
    }
}

fn text_of(stored: &StoredDocument) -> String {
    let doc = stored.to_doc().expect("stored document rebuilds");
    let text = doc.get_or_insert_text("t");
    let txn = doc.transact();
    text.get_string(&txn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_documents_load_as_none_and_refuse_appends() {
    for b in backends().await {
        let id = doc_id("missing");
        assert!(
            b.stores.documents.load(&id).await.unwrap().is_none(),
            "{}",
            b.name
        );
        assert!(
            b.stores.documents.meta(&id).await.unwrap().is_none(),
            "{}",
            b.name
        );
        let err = b
            .stores
            .documents
            .append(&id, vec![Typist::new().type_text("x")])
            .await;
        assert!(
            matches!(err, Err(StoreError::NotFound(_))),
            "{}: {err:?}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_keeps_append_order() {
    for b in backends().await {
        let id = doc_id("order");
        b.stores.documents.claim(&id, "acme").await.unwrap();
        let t = Typist::new();
        let updates: Vec<Bytes> = (0..50).map(|i| t.type_text(&format!("{i},"))).collect();
        for chunk in updates.chunks(7) {
            b.stores
                .documents
                .append(&id, chunk.to_vec())
                .await
                .unwrap();
        }
        let stored = b.stores.documents.load(&id).await.unwrap().unwrap();
        let got: Vec<&[u8]> = stored.updates.iter().map(Vec::as_slice).collect();
        let want: Vec<&[u8]> = updates.iter().map(|u| u.as_ref()).collect();
        assert_eq!(got, want, "{}: log order", b.name);
        assert_eq!(
            text_of(&stored),
            (0..50).map(|i| format!("{i},")).collect::<String>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_claim_wins() {
    for b in backends().await {
        let id = doc_id("claim");
        assert_eq!(
            b.stores
                .documents
                .claim(&id, "acme")
                .await
                .unwrap()
                .account_id,
            "acme"
        );
        assert_eq!(
            b.stores
                .documents
                .claim(&id, "globex")
                .await
                .unwrap()
                .account_id,
            "acme",
            "{}",
            b.name
        );
        assert_eq!(
            b.stores
                .documents
                .meta(&id)
                .await
                .unwrap()
                .unwrap()
                .account_id,
            "acme"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_under_concurrent_appends_loses_nothing() {
    for b in backends().await {
        let id = doc_id("busy");
        b.stores.documents.claim(&id, "acme").await.unwrap();
        let mut writers = Vec::new();
        for w in 0..4 {
            let (store, id) = (b.stores.documents.clone(), id.clone());
            writers.push(tokio::spawn(async move {
                let t = Typist::new();
                for i in 0..150 {
                    store
                        .append(&id, vec![t.type_text(&format!("<{w}.{i}>"))])
                        .await
                        .unwrap();
                    if i % 10 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        let mut compactions = 0;
        while !writers.iter().all(|w| w.is_finished()) {
            if b.stores.documents.compact(&id).await.unwrap().is_some() {
                compactions += 1;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        for w in writers {
            w.await.unwrap();
        }
        b.stores.documents.compact(&id).await.unwrap();
        let stored = b.stores.documents.load(&id).await.unwrap().unwrap();
        let text = text_of(&stored);
        for w in 0..4 {
            for i in 0..150 {
                assert!(
                    text.contains(&format!("<{w}.{i}>")),
                    "{}: lost <{w}.{i}>",
                    b.name
                );
            }
        }
        assert!(compactions >= 1, "{}: no compaction ran", b.name);
        assert!(stored.meta.epoch >= 1, "{}", b.name);
        assert!(stored.updates.is_empty(), "{}: log not folded", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_documents_are_snapshotted_in_chunks_and_reload_intact() {
    for b in backends().await {
        let id = doc_id("large");
        b.stores.documents.claim(&id, "acme").await.unwrap();
        let t = Typist::new();
        // 3 MB over 30 updates: the snapshot spans twelve 256 KiB chunks.
        let piece: String = (0..100_000)
            .map(|i| (b'a' + (i % 26) as u8) as char)
            .collect();
        for i in 0..30 {
            b.stores
                .documents
                .append(&id, vec![t.type_text(&format!("{i}:{piece}"))])
                .await
                .unwrap();
        }
        let before = text_of(&b.stores.documents.load(&id).await.unwrap().unwrap());
        let c = b
            .stores
            .documents
            .compact(&id)
            .await
            .unwrap()
            .expect("compacted");
        let chunk = creo::store::SNAPSHOT_CHUNK_BYTES as u64;
        assert!(c.snapshot_bytes > 11 * chunk, "{}: {c:?}", b.name);
        let stored = b.stores.documents.load(&id).await.unwrap().unwrap();
        assert!(stored.updates.is_empty());
        assert_eq!(text_of(&stored), before, "{}: snapshot differs", b.name);
        assert_eq!(
            before.len(),
            30 * 100_000 + (0..30).map(|i| format!("{i}:").len()).sum::<usize>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_removes_the_document_its_log_and_snapshots() {
    for b in backends().await {
        let id = doc_id("doomed");
        b.stores.documents.claim(&id, "acme").await.unwrap();
        let t = Typist::new();
        b.stores
            .documents
            .append(&id, vec![t.type_text("one")])
            .await
            .unwrap();
        b.stores.documents.compact(&id).await.unwrap();
        b.stores
            .documents
            .append(&id, vec![t.type_text("two")])
            .await
            .unwrap();
        assert!(b.stores.documents.delete(&id).await.unwrap(), "{}", b.name);
        assert!(
            b.stores.documents.load(&id).await.unwrap().is_none(),
            "{}",
            b.name
        );
        assert!(!b.stores.documents.delete(&id).await.unwrap(), "{}", b.name);
        // The id is free again, for anyone, with no leftover content.
        assert_eq!(
            b.stores
                .documents
                .claim(&id, "globex")
                .await
                .unwrap()
                .account_id,
            "globex"
        );
        let fresh = b.stores.documents.load(&id).await.unwrap().unwrap();
        assert!(
            fresh.snapshot.is_none() && fresh.updates.is_empty(),
            "{}",
            b.name
        );
    }
}

/// `DELETE /documents/{id}` leaves nothing of the document in the store: what hangs off it goes
/// with it, and only its.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_document_removes_everything_kept_under_it_and_nothing_else() {
    use creo::auth::Role;
    use creo::channels::{TargetDelivery, TargetState};
    use creo::comments::Comment;
    use creo::versions::Version;
    use creo::workflow::{Action, Transition, Workflow};
    for b in backends().await {
        let account = format!("del-{}", rand_suffix());
        let (doomed, kept) = (doc_id("doomed-all"), doc_id("kept"));
        let mut generations = Vec::new();
        for doc in [&doomed, &kept] {
            b.stores.documents.claim(doc, &account).await.unwrap();
            b.stores
                .comments
                .put_comment(&Comment {
                    comment_id: "c1".into(),
                    doc_id: doc.clone(),
                    thread_id: "c1".into(),
                    author: "u".into(),
                    body: "hello".into(),
                    mentions: vec![],
                    anchor: None,
                    created_at: 1,
                    resolved_at: None,
                    resolved_by: None,
                })
                .await
                .unwrap();
            b.stores
                .versions
                .put_version(&Version {
                    version_id: "v1".into(),
                    doc_id: doc.clone(),
                    name: "v".into(),
                    automatic: false,
                    created_by: "u".into(),
                    created_at: 1,
                    changed_by: vec![],
                    state: vec![0],
                })
                .await
                .unwrap();
            let mut w = Workflow::new(doc, &account, 0);
            for (action, at) in [
                (Action::Submit, None),
                (Action::Approve, None),
                (
                    Action::Schedule,
                    Some((4_102_444_800_000, "UTC".to_string())),
                ),
            ] {
                let next = w.apply(action, "u", Role::Owner, 1, at, 10).unwrap();
                let record = Transition {
                    doc_id: doc.clone(),
                    version: next.version,
                    from: w.state,
                    to: next.state,
                    action,
                    actor: "u".into(),
                    at: 10,
                    note: String::new(),
                };
                assert!(b.stores.workflows.transition(&next, &record).await.unwrap());
                w = next;
            }
            b.stores
                .channels
                .put_target(&TargetDelivery {
                    doc_id: doc.clone(),
                    version: w.version,
                    channel_id: "ch_1".into(),
                    platform: "x".into(),
                    state: TargetState::Queued,
                    attempts: 0,
                    updated_at: 1,
                })
                .await
                .unwrap();
            let g = creo::jobs::generate::pending(doc, &account, "u", "post", None, 250);
            b.stores.generations.put_generation(&g).await.unwrap();
            generations.push(g.generation_id);
        }
        assert!(
            b.stores.documents.delete(&doomed).await.unwrap(),
            "{}",
            b.name
        );
        let s = &b.stores;
        assert!(
            s.documents.meta(&doomed).await.unwrap().is_none(),
            "{}",
            b.name
        );
        assert!(
            s.comments.comments(&doomed).await.unwrap().is_empty(),
            "{}: comments",
            b.name
        );
        assert!(
            s.versions.versions(&doomed).await.unwrap().is_empty(),
            "{}: versions",
            b.name
        );
        assert!(
            s.workflows.workflow(&doomed).await.unwrap().is_none(),
            "{}: workflow",
            b.name
        );
        assert!(
            s.workflows.transitions(&doomed).await.unwrap().is_empty(),
            "{}: history",
            b.name
        );
        assert!(
            s.channels.targets(&doomed).await.unwrap().is_empty(),
            "{}: targets",
            b.name
        );
        assert!(
            s.generations
                .generation(&doomed, &generations[0])
                .await
                .unwrap()
                .is_none(),
            "{}: generations",
            b.name
        );
        assert!(s
            .generations
            .generation(&kept, &generations[1])
            .await
            .unwrap()
            .is_some());
        let calendar = s
            .workflows
            .calendar(&account, 4_102_444_000_000, 4_102_445_000_000, 10)
            .await
            .unwrap();
        assert_eq!(
            calendar
                .iter()
                .map(|w| w.doc_id.as_str())
                .collect::<Vec<_>>(),
            [kept.as_str()],
            "{}: off the calendar, the other one still on it",
            b.name
        );
        assert_eq!(
            s.comments.comments(&kept).await.unwrap().len(),
            1,
            "{}",
            b.name
        );
        assert_eq!(
            s.versions.versions(&kept).await.unwrap().len(),
            1,
            "{}",
            b.name
        );
        assert_eq!(
            s.channels.targets(&kept).await.unwrap().len(),
            1,
            "{}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_bar_a_user_until_lifted_and_stay_within_their_account() {
    for b in backends().await {
        let acct = doc_id("acct");
        let other = doc_id("other");
        let revoke = |user: &str, doc: Option<&str>| Revocation {
            account_id: acct.clone(),
            user_id: user.into(),
            doc_id: doc.map(String::from),
            revoked_by: "boss".into(),
            revoked_at: 1_700_000_000_000,
        };
        let s = &b.stores.revocations;
        assert!(
            !s.is_revoked(&acct, "bob", "d1").await.unwrap(),
            "{}",
            b.name
        );
        s.revoke(&revoke("bob", Some("d1"))).await.unwrap();
        s.revoke(&revoke("bob", Some("d1"))).await.unwrap(); // idempotent
        assert!(
            s.is_revoked(&acct, "bob", "d1").await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.is_revoked(&acct, "bob", "d2").await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.is_revoked(&acct, "alice", "d1").await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            !s.is_revoked(&other, "bob", "d1").await.unwrap(),
            "{}",
            b.name
        );
        s.revoke(&revoke("bob", None)).await.unwrap();
        assert!(
            s.is_revoked(&acct, "bob", "d2").await.unwrap(),
            "{}",
            b.name
        );
        let listed = s.revocations(&acct).await.unwrap();
        assert_eq!(
            listed,
            vec![revoke("bob", None), revoke("bob", Some("d1"))],
            "{}",
            b.name
        );
        assert!(s.revocations(&other).await.unwrap().is_empty());
        assert!(s.lift_revocation(&acct, "bob", None).await.unwrap());
        assert!(!s.lift_revocation(&acct, "bob", None).await.unwrap());
        assert!(
            !s.is_revoked(&acct, "bob", "d2").await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            s.is_revoked(&acct, "bob", "d1").await.unwrap(),
            "{}",
            b.name
        );
    }
}

/// Two server processes on one store race to create the same documents for different
/// accounts: for each, exactly one account wins and both processes agree on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_racing_to_create_a_document_agree_on_one_owner() {
    use crate::common::*;
    use creo::auth::Role;
    let a = Server::start();
    let b = Server::start_sharing(&a, &[]);
    for i in 0..20 {
        let doc = format!("contested-{i}");
        let (ta, tb) = (
            token("acme", "u", Role::Editor),
            token("globex", "v", Role::Editor),
        );
        let (ua, ub) = (a.ws(&doc, &ta), b.ws(&doc, &tb));
        let (sa, sb) = tokio::join!(upgrade_status(&ua), upgrade_status(&ub));
        let mut outcome = [sa, sb];
        outcome.sort();
        assert_eq!(
            outcome,
            [101, 404],
            "{doc}: both or neither won ({sa}, {sb})"
        );
        let winner = if sa == 101 { &ta } else { &tb };
        for server in [&a, &b] {
            let resp = api_get(server, winner, &format!("/api/v1/documents/{doc}")).await;
            assert_eq!(resp.status(), 200, "{doc}: a node disagrees on the owner");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_are_kept_per_account_and_model_and_replaced_in_place() {
    for b in backends().await {
        let account = format!("acct-{}", rand_suffix());
        let put = |doc: &str, model: &str, v: Vec<f32>| creo::store::DocumentEmbedding {
            account_id: account.clone(),
            doc_id: doc.into(),
            model: model.into(),
            vector: v,
            text_hash: "h".into(),
            updated_at: 1,
        };
        b.stores
            .embeddings
            .put_embedding(&put("d1", "m", vec![0.5, -1.25, 3.0]))
            .await
            .unwrap();
        b.stores
            .embeddings
            .put_embedding(&put("d2", "m", vec![1.0, 0.0, 0.0]))
            .await
            .unwrap();
        b.stores
            .embeddings
            .put_embedding(&put("d1", "other", vec![9.0]))
            .await
            .unwrap();
        b.stores
            .embeddings
            .put_embedding(&put("d1", "m", vec![0.0, 1.0, 0.0]))
            .await
            .unwrap();
        let mut got = b.stores.embeddings.embeddings(&account, "m").await.unwrap();
        got.sort_by(|a, b| a.doc_id.cmp(&b.doc_id));
        assert_eq!(got.len(), 2, "{}", b.name);
        assert_eq!(
            got[0].vector,
            vec![0.0, 1.0, 0.0],
            "{}: replaced, bit for bit",
            b.name
        );
        assert_eq!(got[1].vector, vec![1.0, 0.0, 0.0], "{}", b.name);
        assert!(
            b.stores
                .embeddings
                .embeddings("nobody", "m")
                .await
                .unwrap()
                .is_empty(),
            "{}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_transitions_apply_once_per_version() {
    use creo::auth::Role;
    use creo::workflow::{Action, Transition, Workflow};
    for b in backends().await {
        let doc = doc_id("wf");
        let account = format!("acct-{}", rand_suffix());
        let record = |w: &Workflow, from: &Workflow, action: Action| Transition {
            doc_id: doc.clone(),
            version: w.version,
            from: from.state,
            to: w.state,
            action,
            actor: "someone".into(),
            at: w.updated_at,
            note: String::new(),
        };
        let start = Workflow::new(&doc, &account, 0);
        let submitted = start
            .apply(Action::Submit, "ed", Role::Editor, 1, None, 10)
            .unwrap();
        assert!(
            b.stores
                .workflows
                .transition(&submitted, &record(&submitted, &start, Action::Submit))
                .await
                .unwrap(),
            "{}",
            b.name
        );
        assert!(
            !b.stores
                .workflows
                .transition(&submitted, &record(&submitted, &start, Action::Submit))
                .await
                .unwrap(),
            "{}: a second writer of the same version loses",
            b.name
        );
        let approved = submitted
            .apply(Action::Approve, "boss", Role::Admin, 1, None, 20)
            .unwrap();
        assert!(
            b.stores
                .workflows
                .transition(&approved, &record(&approved, &submitted, Action::Approve))
                .await
                .unwrap(),
            "{}",
            b.name
        );
        assert_eq!(
            b.stores.workflows.workflow(&doc).await.unwrap(),
            Some(approved.clone()),
            "{}",
            b.name
        );
        let history = b.stores.workflows.transitions(&doc).await.unwrap();
        assert_eq!(
            history.iter().map(|t| t.version).collect::<Vec<_>>(),
            vec![1, 2],
            "{}",
            b.name
        );
        assert_eq!(
            b.stores
                .workflows
                .required_approvals(&account)
                .await
                .unwrap(),
            None,
            "{}",
            b.name
        );
        b.stores
            .workflows
            .set_required_approvals(&account, 2)
            .await
            .unwrap();
        assert_eq!(
            b.stores
                .workflows
                .required_approvals(&account)
                .await
                .unwrap(),
            Some(2),
            "{}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_follows_schedules_across_months_and_stays_in_its_account() {
    use creo::auth::Role;
    use creo::workflow::{Action, Transition, Workflow};
    const DAY: i64 = 86_400_000;
    const DEC_1: i64 = 1_796_083_200_000; // 2026-12-01T00:00:00Z
    for b in backends().await {
        let account = format!("cal-{}", rand_suffix());
        let w = &b.stores.workflows;
        let moved = |from: &Workflow, action: Action, at: Option<i64>| {
            let next = from
                .apply(
                    action,
                    "ed",
                    Role::Owner,
                    1,
                    at.map(|t| (t, "UTC".to_string())),
                    DEC_1 - 10 * DAY,
                )
                .unwrap();
            let record = Transition {
                doc_id: next.doc_id.clone(),
                version: next.version,
                from: from.state,
                to: next.state,
                action,
                actor: "ed".into(),
                at: next.updated_at,
                note: String::new(),
            };
            (next, record)
        };
        let mut docs = Vec::new();
        for (name, at) in [
            ("b", DEC_1 + 9 * DAY),
            ("a", DEC_1 + 2 * DAY),
            ("c", DEC_1 + 40 * DAY),
        ] {
            let mut doc = Workflow::new(&doc_id(name), &account, 0);
            for (action, at) in [
                (Action::Submit, None),
                (Action::Approve, None),
                (Action::Schedule, Some(at)),
            ] {
                let (next, record) = moved(&doc, action, at);
                assert!(w.transition(&next, &record).await.unwrap());
                doc = next;
            }
            docs.push(doc);
        }
        let in_december =
            |all: Vec<Workflow>| all.into_iter().map(|w| w.doc_id).collect::<Vec<_>>();
        let december = w
            .calendar(&account, DEC_1, DEC_1 + 31 * DAY, 100)
            .await
            .unwrap();
        assert_eq!(
            in_december(december),
            [docs[1].doc_id.clone(), docs[0].doc_id.clone()],
            "{}: by time, January's not in it",
            b.name
        );
        // b moves to January; c is unscheduled.
        let (b_moved, record) = moved(&docs[0], Action::Reschedule, Some(DEC_1 + 45 * DAY));
        assert!(w.transition(&b_moved, &record).await.unwrap());
        let (c_off, record) = moved(&docs[2], Action::Unschedule, None);
        assert!(w.transition(&c_off, &record).await.unwrap());
        assert_eq!(
            in_december(
                w.calendar(&account, DEC_1, DEC_1 + 31 * DAY, 100)
                    .await
                    .unwrap()
            ),
            [docs[1].doc_id.clone()],
            "{}: b left December",
            b.name
        );
        let january = w
            .calendar(&account, DEC_1 + 31 * DAY, DEC_1 + 62 * DAY, 100)
            .await
            .unwrap();
        assert_eq!(january.len(), 1, "{}: c left, b arrived", b.name);
        assert_eq!(january[0], b_moved, "{}", b.name);
        assert_eq!(
            w.calendar(&account, DEC_1, DEC_1 + 62 * DAY, 1)
                .await
                .unwrap()
                .len(),
            1,
            "{}: the limit holds",
            b.name
        );
        assert!(
            w.calendar(&format!("other-{account}"), DEC_1, DEC_1 + 62 * DAY, 100)
                .await
                .unwrap()
                .is_empty(),
            "{}: another account's calendar",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_kept_in_order_and_replaced_by_id() {
    use creo::comments::Comment;
    for b in backends().await {
        let doc = doc_id("comments");
        let comment = |id: &str, at: i64| Comment {
            comment_id: id.into(),
            doc_id: doc.clone(),
            thread_id: "c1".into(),
            author: "u".into(),
            body: format!("body of {id}"),
            mentions: vec!["v".into()],
            anchor: None,
            created_at: at,
            resolved_at: None,
            resolved_by: None,
        };
        b.stores
            .comments
            .put_comment(&comment("c2", 20))
            .await
            .unwrap();
        b.stores
            .comments
            .put_comment(&comment("c1", 10))
            .await
            .unwrap();
        let mut resolved = comment("c1", 10);
        resolved.resolved_at = Some(30);
        b.stores.comments.put_comment(&resolved).await.unwrap();
        let got = b.stores.comments.comments(&doc).await.unwrap();
        assert_eq!(
            got.iter()
                .map(|c| c.comment_id.as_str())
                .collect::<Vec<_>>(),
            ["c1", "c2"],
            "{}",
            b.name
        );
        assert_eq!(got[0], resolved, "{}", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_keep_their_state_and_list_without_it() {
    use creo::versions::Version;
    for b in backends().await {
        let doc = doc_id("versions");
        let version = |id: &str, at: i64| Version {
            version_id: id.into(),
            doc_id: doc.clone(),
            name: format!("name {id}"),
            automatic: id == "v2",
            created_by: "u".into(),
            created_at: at,
            changed_by: vec!["a".into(), "b".into()],
            state: vec![1, 2, 3, at as u8],
        };
        b.stores
            .versions
            .put_version(&version("v2", 20))
            .await
            .unwrap();
        b.stores
            .versions
            .put_version(&version("v1", 10))
            .await
            .unwrap();
        let listed = b.stores.versions.versions(&doc).await.unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|v| v.version_id.as_str())
                .collect::<Vec<_>>(),
            ["v1", "v2"],
            "{}",
            b.name
        );
        assert!(
            listed.iter().all(|v| v.state.is_empty()),
            "{}: listed without states",
            b.name
        );
        assert_eq!(
            b.stores.versions.version(&doc, "v2").await.unwrap(),
            Some(version("v2", 20)),
            "{}",
            b.name
        );
        assert_eq!(
            b.stores.versions.version(&doc, "nope").await.unwrap(),
            None,
            "{}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_are_claimed_once_and_again_after_their_lease() {
    use creo::jobs::{Job, JobKind};
    for b in backends().await {
        let id = format!("job-{}", rand_suffix());
        let job = Job {
            id: id.clone(),
            kind: JobKind::Publish {
                doc_id: "d".into(),
                version: 1,
            },
            not_before: 1_000,
            attempt: 0,
        };
        b.stores.jobs.put_job(&job).await.unwrap();
        let mine = |jobs: Vec<Job>| jobs.into_iter().filter(|j| j.id == id).count();
        assert_eq!(
            mine(b.stores.jobs.claim_jobs(999, 500, 100).await.unwrap()),
            0,
            "{}: not due yet",
            b.name
        );
        assert_eq!(
            mine(b.stores.jobs.claim_jobs(1_000, 500, 100).await.unwrap()),
            1,
            "{}",
            b.name
        );
        assert_eq!(
            mine(b.stores.jobs.claim_jobs(1_200, 500, 100).await.unwrap()),
            0,
            "{}: leased",
            b.name
        );
        assert_eq!(
            mine(b.stores.jobs.claim_jobs(1_500, 500, 100).await.unwrap()),
            1,
            "{}: lease expired, taken again",
            b.name
        );
        b.stores.jobs.end_job(&id, Some("gave up")).await.unwrap();
        assert_eq!(
            mine(b.stores.jobs.claim_jobs(10_000, 500, 100).await.unwrap()),
            0,
            "{}: dead jobs stay",
            b.name
        );
        b.stores
            .jobs
            .put_job(&Job {
                attempt: 1,
                not_before: 20_000,
                ..job
            })
            .await
            .unwrap();
        assert_eq!(
            mine(b.stores.jobs.claim_jobs(20_000, 500, 100).await.unwrap()),
            1,
            "{}: re-queued",
            b.name
        );
        b.stores.jobs.end_job(&id, None).await.unwrap();
        assert_eq!(
            mine(b.stores.jobs.claim_jobs(99_000, 500, 100).await.unwrap()),
            0,
            "{}: done",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_endpoints_logs_and_generations_round_trip() {
    use creo::webhooks::{Delivery, Endpoint};
    for b in backends().await {
        let account = doc_id("hooks");
        let endpoint = |id: &str| Endpoint {
            endpoint_id: id.into(),
            account_id: account.clone(),
            url: "http://127.0.0.1:9/hook".into(),
            events: vec!["comment.added".into()],
            secret: "whsec_x".into(),
            created_by: "u".into(),
            created_at: 1,
        };
        b.stores
            .webhooks
            .put_webhook(&endpoint("wh_a"))
            .await
            .unwrap();
        b.stores
            .webhooks
            .put_webhook(&endpoint("wh_b"))
            .await
            .unwrap();
        let ids = |all: Vec<Endpoint>| all.into_iter().map(|e| e.endpoint_id).collect::<Vec<_>>();
        assert_eq!(
            ids(b.stores.webhooks.webhooks(&account).await.unwrap()),
            ["wh_a", "wh_b"],
            "{}",
            b.name
        );
        let now = creo::store::now_ms();
        for (i, outcome) in ["retrying", "retrying", "delivered"].iter().enumerate() {
            let d = Delivery {
                endpoint_id: "wh_a".into(),
                delivery_id: format!("d{i}"),
                event_id: "evt".into(),
                event_type: "comment.added".into(),
                attempt: i as u32,
                at: now + i as i64,
                outcome: outcome.to_string(),
                status: Some(if i < 2 { 500 } else { 200 }),
                error: None,
                duration_ms: 3,
            };
            b.stores.webhooks.put_delivery(&d).await.unwrap();
        }
        let log = b.stores.webhooks.deliveries("wh_a", 2).await.unwrap();
        assert_eq!(
            log.iter().map(|d| d.attempt).collect::<Vec<_>>(),
            [2, 1],
            "newest first, limited: {}",
            b.name
        );
        assert!(b
            .stores
            .webhooks
            .delete_webhook(&account, "wh_a")
            .await
            .unwrap());
        assert!(
            !b.stores
                .webhooks
                .delete_webhook(&account, "wh_a")
                .await
                .unwrap(),
            "{}",
            b.name
        );
        assert!(
            b.stores
                .webhooks
                .deliveries("wh_a", 10)
                .await
                .unwrap()
                .is_empty(),
            "its log went with it"
        );
        assert_eq!(
            ids(b.stores.webhooks.webhooks(&account).await.unwrap()),
            ["wh_b"]
        );

        let doc = doc_id("gen");
        let mut g =
            creo::jobs::generate::pending(&doc, &account, "u", "post", Some("r_1".into()), 250);
        b.stores.generations.put_generation(&g).await.unwrap();
        g.status = creo::generations::Status::Done;
        g.charged_milli = 750;
        b.stores.generations.put_generation(&g).await.unwrap();
        let got = b
            .stores
            .generations
            .generation(&doc, &g.generation_id)
            .await
            .unwrap();
        assert_eq!(got, Some(g.clone()), "{}", b.name);
        assert_eq!(
            b.stores
                .generations
                .generation(&doc, "gen_missing")
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_stay_in_their_account_and_targets_are_replaced_per_channel() {
    use creo::channels::{Channel, ChannelStatus, TargetDelivery, TargetState};
    for b in backends().await {
        let (ours, theirs) = (doc_id("chan-a"), doc_id("chan-b"));
        let channel = |account: &str, id: &str| Channel {
            channel_id: id.into(),
            account_id: account.into(),
            platform: "x".into(),
            name: "@creo".into(),
            status: ChannelStatus::Active,
            status_reason: None,
            url: None,
            external_id: Some("42".into()),
            sealed_secret: "sealed:v1:00".into(),
            sealed_refresh: Some("sealed:v1:01".into()),
            token_expires_at: Some(5),
            queue: None,
            created_by: "u".into(),
            created_at: 1,
            updated_at: 1,
        };
        let c = &b.stores.channels;
        c.put_channel(&channel(&ours, "ch_a")).await.unwrap();
        c.put_channel(&channel(&ours, "ch_b")).await.unwrap();
        c.put_channel(&channel(&theirs, "ch_c")).await.unwrap();
        let ids = |all: Vec<Channel>| all.into_iter().map(|c| c.channel_id).collect::<Vec<_>>();
        assert_eq!(
            ids(c.channels(&ours).await.unwrap()),
            ["ch_a", "ch_b"],
            "{}",
            b.name
        );
        assert_eq!(
            c.channel(&theirs, "ch_a").await.unwrap(),
            None,
            "{}: another account's",
            b.name
        );
        let mut changed = channel(&ours, "ch_a");
        changed.status = ChannelStatus::NeedsReconnect;
        changed.status_reason = Some("refresh refused".into());
        c.put_channel(&changed).await.unwrap();
        assert_eq!(
            c.channel(&ours, "ch_a").await.unwrap(),
            Some(changed),
            "{}",
            b.name
        );
        assert!(c.delete_channel(&ours, "ch_a").await.unwrap());
        assert!(
            !c.delete_channel(&ours, "ch_a").await.unwrap(),
            "{}",
            b.name
        );
        assert_eq!(ids(c.channels(&ours).await.unwrap()), ["ch_b"]);

        let doc = doc_id("targets");
        let target = |channel: &str, version: i64, state: TargetState| TargetDelivery {
            doc_id: doc.clone(),
            version,
            channel_id: channel.into(),
            platform: "x".into(),
            state,
            attempts: 1,
            updated_at: 2,
        };
        c.put_target(&target("ch_a", 3, TargetState::Queued))
            .await
            .unwrap();
        c.put_target(&target(
            "ch_b",
            3,
            TargetState::Failed {
                reason: "no".into(),
            },
        ))
        .await
        .unwrap();
        let published = target(
            "ch_a",
            5,
            TargetState::Published {
                post_id: "9".into(),
                permalink: Some("https://x.com/i/web/status/9".into()),
            },
        );
        c.put_target(&published).await.unwrap();
        let got = c.targets(&doc).await.unwrap();
        assert_eq!(got.len(), 2, "{}: one row per channel", b.name);
        assert_eq!(
            got[0], published,
            "{}: the later scheduling replaced it",
            b.name
        );
        assert_eq!(got[1].state.name(), "failed");
        assert!(c.targets(&doc_id("none")).await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_keep_every_reading_and_each_posts_newest_per_channel() {
    use creo::analytics::{Metrics, Sample};
    const DEC_1: i64 = 1_796_083_200_000;
    for b in backends().await {
        let (account, other) = (
            format!("m-{}", rand_suffix()),
            format!("m2-{}", rand_suffix()),
        );
        let doc = doc_id("measured");
        let sample = |account: &str, channel: &str, at: i64, impressions: u64| Sample {
            doc_id: doc.clone(),
            account_id: account.to_string(),
            channel_id: channel.into(),
            platform: "x".into(),
            published_at: DEC_1,
            at,
            metrics: Metrics {
                impressions,
                ..Metrics::default()
            },
            source: "poll".into(),
        };
        let m = &b.stores.metrics;
        m.put_sample(&sample(&account, "ch_a", DEC_1 + 2_000, 200))
            .await
            .unwrap();
        m.put_sample(&sample(&account, "ch_a", DEC_1 + 1_000, 100))
            .await
            .unwrap(); // late, older
        m.put_sample(&sample(&account, "ch_b", DEC_1 + 1_500, 50))
            .await
            .unwrap();
        m.put_sample(&sample(&other, "ch_c", DEC_1 + 1_500, 7))
            .await
            .unwrap();
        let series = m.samples(&doc, 100).await.unwrap();
        assert_eq!(
            series
                .iter()
                .map(|s| s.metrics.impressions)
                .collect::<Vec<_>>(),
            [100, 50, 7, 200],
            "{}: every reading, oldest first",
            b.name
        );
        let newest = m.samples(&doc, 2).await.unwrap();
        assert_eq!(
            newest
                .iter()
                .map(|s| s.metrics.impressions)
                .collect::<Vec<_>>(),
            [7, 200],
            "{}: a limit keeps the newest",
            b.name
        );
        let mut latest = m.latest(&account, DEC_1, DEC_1 + 1, 100).await.unwrap();
        latest.sort_by(|a, b| a.channel_id.cmp(&b.channel_id));
        assert_eq!(
            latest
                .iter()
                .map(|s| (s.channel_id.as_str(), s.metrics.impressions))
                .collect::<Vec<_>>(),
            [("ch_a", 200), ("ch_b", 50)],
            "{}: the newest per channel, whatever order they came in; only this account's",
            b.name
        );
        assert!(m
            .latest(&account, DEC_1 + 1, DEC_1 + 86_400_000, 100)
            .await
            .unwrap()
            .is_empty());
        b.stores.documents.claim(&doc, &account).await.unwrap();
        assert!(b.stores.documents.delete(&doc).await.unwrap());
        assert!(
            m.samples(&doc, 100).await.unwrap().is_empty(),
            "{}: deleted with the post",
            b.name
        );
        assert!(
            m.latest(&account, DEC_1, DEC_1 + 1, 100)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_lists_its_own_documents() {
    for b in backends().await {
        let account = format!("lister-{}", doc_id("acct"));
        let (first, second, other) = (doc_id("first"), doc_id("second"), doc_id("other"));
        b.stores.documents.claim(&first, &account).await.unwrap();
        b.stores.documents.claim(&second, &account).await.unwrap();
        b.stores
            .documents
            .claim(&other, "someone-else")
            .await
            .unwrap();
        // Another account claiming an existing document does not list it.
        b.stores
            .documents
            .claim(&first, "someone-else")
            .await
            .unwrap();
        b.stores
            .documents
            .append(&first, vec![Typist::new().type_text("newer")])
            .await
            .unwrap();
        let mut listed: Vec<String> = b
            .stores
            .documents
            .documents_of(&account, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.doc_id)
            .collect();
        listed.sort();
        let mut want = vec![first.clone(), second.clone()];
        want.sort();
        assert_eq!(listed, want, "{}", b.name);
        assert_eq!(
            b.stores
                .documents
                .documents_of(&account, 1)
                .await
                .unwrap()
                .len(),
            1
        );
        b.stores.documents.delete(&second).await.unwrap();
        let listed = b.stores.documents.documents_of(&account, 10).await.unwrap();
        assert_eq!(
            listed.len(),
            1,
            "{}: deleted documents leave the list",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_rows_stay_in_their_account_and_the_storage_quota_holds_under_racing_reservations() {
    use creo_core::media::{MediaKind, Medium};
    for b in backends().await {
        let (account, other) = (
            format!("md-{}", rand_suffix()),
            format!("md2-{}", rand_suffix()),
        );
        let medium = |account: &str, id: &str, at: i64| Medium {
            media_id: id.into(),
            account_id: account.into(),
            kind: MediaKind::Image,
            content_type: "image/png".into(),
            file_name: format!("{id}.png"),
            bytes: 100,
            sha256: "ab".repeat(32),
            width: 10,
            height: 10,
            color: Some("rgb8".into()),
            duration_ms: None,
            frame_rate: None,
            video_codec: None,
            audio_codec: None,
            stripped: vec![],
            alt_text: None,
            tags: vec!["team".into()],
            renditions: vec![],
            key: format!("{account}/{id}"),
            uploaded_by: "u".into(),
            created_at: at,
        };
        let m = &b.stores.media;
        m.put_medium(&medium(&account, "med_old", 1_000))
            .await
            .unwrap();
        m.put_medium(&medium(&account, "med_new", 2_000))
            .await
            .unwrap();
        m.put_medium(&medium(&other, "med_theirs", 3_000))
            .await
            .unwrap();
        let listed: Vec<String> = m
            .media(&account, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.media_id)
            .collect();
        assert_eq!(
            listed,
            ["med_new", "med_old"],
            "{}: newest first, own only",
            b.name
        );
        assert!(
            m.medium(&other, "med_old").await.unwrap().is_none(),
            "{}",
            b.name
        );
        assert_eq!(
            m.medium(&account, "med_old").await.unwrap(),
            Some(medium(&account, "med_old", 1_000)),
            "{}",
            b.name
        );
        let mut changed = medium(&account, "med_old", 1_000);
        changed.alt_text = Some("the old logo".into());
        let alt = |text: &'static str| -> creo::store::media::MediumChange {
            Box::new(move |m| m.alt_text = Some(text.into()))
        };
        assert_eq!(
            m.change_medium(&account, "med_old", alt("the old logo"))
                .await
                .unwrap(),
            Some(changed.clone()),
            "{}",
            b.name
        );
        assert_eq!(
            m.medium(&account, "med_old").await.unwrap(),
            Some(changed.clone())
        );
        // Changes racing each other each land: none is written over by the other's read.
        let changes = (0..8).map(|n| {
            let m = m.clone();
            let account = account.clone();
            async move {
                let tag: creo::store::media::MediumChange =
                    Box::new(move |md| md.tags.push(format!("tag-{n}")));
                m.change_medium(&account, "med_old", tag).await.unwrap()
            }
        });
        futures_util::future::join_all(changes).await;
        let tags = m.medium(&account, "med_old").await.unwrap().unwrap().tags;
        assert!(
            (0..8).all(|n| tags.contains(&format!("tag-{n}"))),
            "{}: {tags:?}",
            b.name
        );
        assert!(m.delete_medium(&account, "med_old").await.unwrap());
        assert!(
            !m.delete_medium(&account, "med_old").await.unwrap(),
            "{}",
            b.name
        );
        assert!(
            m.change_medium(&account, "med_old", alt("again"))
                .await
                .unwrap()
                .is_none(),
            "{}: a change never brings a deleted medium back",
            b.name
        );
        assert!(
            m.medium(&account, "med_old").await.unwrap().is_none(),
            "{}",
            b.name
        );

        // Twenty reservations of 10 bytes race for 75: exactly seven fit.
        let tries = (0..20).map(|_| m.reserve_storage(&account, 10, Some(75)));
        let fit = futures_util::future::join_all(tries)
            .await
            .into_iter()
            .filter(|r| *r.as_ref().unwrap())
            .count();
        assert_eq!(fit, 7, "{}", b.name);
        assert_eq!(m.storage_used(&account).await.unwrap(), 70, "{}", b.name);
        m.release_storage(&account, 30).await.unwrap();
        assert_eq!(m.storage_used(&account).await.unwrap(), 40, "{}", b.name);
        assert!(
            m.reserve_storage(&account, 1 << 40, None).await.unwrap(),
            "unlimited"
        );
        m.release_storage(&account, u64::MAX).await.unwrap();
        assert_eq!(
            m.storage_used(&account).await.unwrap(),
            0,
            "never below zero"
        );
        assert_eq!(m.storage_used(&other).await.unwrap(), 0, "{}", b.name);

        // A document's uses are replaced when it is scheduled again.
        let (one, two) = ("med_one".to_string(), "med_two".to_string());
        m.record_uses(&account, "doc_a", &[one.clone(), two.clone()])
            .await
            .unwrap();
        m.record_uses(&account, "doc_b", &[one.clone()])
            .await
            .unwrap();
        assert_eq!(
            m.uses(&account, &one).await.unwrap(),
            ["doc_a", "doc_b"],
            "{}",
            b.name
        );
        m.record_uses(&account, "doc_a", &[two.clone()])
            .await
            .unwrap();
        assert_eq!(
            m.uses(&account, &one).await.unwrap(),
            ["doc_b"],
            "{}",
            b.name
        );
        assert_eq!(
            m.uses(&account, &two).await.unwrap(),
            ["doc_a"],
            "{}",
            b.name
        );
        assert!(m.uses(&other, &two).await.unwrap().is_empty(), "{}", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brand_kit_moves_one_revision_at_a_time_and_fonts_stay_in_their_account() {
    use creo_core::brand::{BrandFont, BrandKit, Color};
    for b in backends().await {
        let (account, other) = (
            format!("bk-{}", rand_suffix()),
            format!("bk2-{}", rand_suffix()),
        );
        let s = &b.stores.brand;
        assert!(s.brand_kit(&account).await.unwrap().is_none(), "{}", b.name);
        let mut first = BrandKit::empty(&account);
        first.revision = 1;
        first.voice = "Warm and brief".into();
        // Two first writes race: one wins.
        let racing = futures_util::future::join_all((0..5).map(|_| s.put_brand_kit(&first, 0)))
            .await
            .into_iter()
            .filter(|r| *r.as_ref().unwrap())
            .count();
        assert_eq!(racing, 1, "{}: one first kit", b.name);
        assert_eq!(s.brand_kit(&account).await.unwrap(), Some(first.clone()));

        let mut second = first.clone();
        second.revision = 2;
        second.colors = vec![Color {
            name: "Primary".into(),
            hex: "#1a2b3c".into(),
        }];
        let mut stale = first.clone();
        stale.revision = 2;
        stale.voice = "Loud".into();
        assert!(s.put_brand_kit(&second, 1).await.unwrap(), "{}", b.name);
        assert!(
            !s.put_brand_kit(&stale, 1).await.unwrap(),
            "{}: a change made against revision 1 is refused once the kit is at 2",
            b.name
        );
        assert_eq!(s.brand_kit(&account).await.unwrap(), Some(second));
        assert!(s.brand_kit(&other).await.unwrap().is_none(), "{}", b.name);

        let font = |account: &str, id: &str, at: i64| BrandFont {
            font_id: id.into(),
            account_id: account.into(),
            family: "DejaVu Sans".into(),
            style: "Book".into(),
            weight: 400,
            italic: false,
            content_type: "font/ttf".into(),
            glyphs: 6_000,
            file_name: "DejaVuSans.ttf".into(),
            bytes: 700_000,
            sha256: "cd".repeat(32),
            key: format!("{account}/{id}"),
            uploaded_by: "u".into(),
            created_at: at,
        };
        s.put_font(&font(&account, "fnt_b", 2_000)).await.unwrap();
        s.put_font(&font(&account, "fnt_a", 1_000)).await.unwrap();
        s.put_font(&font(&other, "fnt_c", 3_000)).await.unwrap();
        let ids: Vec<String> = s
            .fonts(&account)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.font_id)
            .collect();
        assert_eq!(
            ids,
            ["fnt_a", "fnt_b"],
            "{}: oldest first, own only",
            b.name
        );
        assert_eq!(
            s.font(&account, "fnt_a").await.unwrap(),
            Some(font(&account, "fnt_a", 1_000))
        );
        assert!(s.font(&other, "fnt_a").await.unwrap().is_none());
        assert!(s.delete_font(&account, "fnt_a").await.unwrap());
        assert!(
            !s.delete_font(&account, "fnt_a").await.unwrap(),
            "{}",
            b.name
        );
        assert_eq!(s.fonts(&account).await.unwrap().len(), 1);
    }
}
