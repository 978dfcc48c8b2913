//! The hot path of an edit, piece by piece (`cargo bench --bench hot_path`):
//!
//! - `update`: validate and decode a client's update frame, check that it resolves against the
//!   document's state vector, apply it to the live document, encode the frame every other
//!   editor receives: what a session and its document actor do per keystroke;
//! - `awareness`: apply a cursor move to a document's presence and encode the relay;
//! - `store`: one group commit of 64 concurrent appends to the embedded store (one fsync), and
//!   the cold load of a 20,000-edit document from its compacted snapshot against replaying its
//!   raw log.
//!
//! Whole-server figures come from `creo-load` (BENCHMARKS.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use creo::store::embedded::EmbeddedStore;
use creo::store::DocumentLog;
use creo::sync::awareness::Presence;
use creo::sync::{self, Inbound};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, Message, SyncMessage};
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, StateVector, Text, Transact};

/// `n` updates of 8 characters each, typed as creo-load's editors type: at a cursor that moves
/// on, jumping elsewhere every tenth edit.
fn keystrokes(n: usize) -> Vec<Vec<u8>> {
    let doc = Doc::new();
    let text = doc.get_or_insert_text("content");
    let mut cursor = 0;
    (0..n)
        .map(|i| {
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            if i % 10 == 9 {
                cursor = (i as u32 * 7919) % (len + 1);
            }
            text.insert(&mut txn, cursor, "abcdefgh");
            cursor += 8;
            txn.encode_update_v1()
        })
        .collect()
}

fn frame(update: &[u8]) -> Vec<u8> {
    Message::Sync(SyncMessage::Update(update.to_vec())).encode_v1()
}

fn update(c: &mut Criterion) {
    let mut group = c.benchmark_group("update");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_apply_encode", |b| {
        b.iter_custom(|iters| {
            let frames: Vec<Vec<u8>> = keystrokes(iters as usize)
                .iter()
                .map(|u| frame(u))
                .collect();
            let frames: Vec<Bytes> = frames.into_iter().map(Bytes::from).collect();
            let limits = sync::FrameLimits::default();
            let doc = Doc::new();
            let mut known = StateVector::default();
            let started = Instant::now();
            for f in &frames {
                for msg in sync::decode_frame(f, true, &limits).expect("valid frame") {
                    if let Inbound::Update(u) = msg {
                        assert!(sync::update_changes(&doc, &known, &u.shape, &u.update));
                        u.shape.resolve(&known).expect("resolves");
                        u.shape.advance(&mut known);
                        doc.transact_mut().apply_update(u.update).expect("applies");
                        std::hint::black_box(sync::encode_update(&u.raw));
                    }
                }
            }
            started.elapsed()
        })
    });
    group.finish();
}

fn awareness(c: &mut Criterion) {
    let mut group = c.benchmark_group("awareness");
    group.throughput(Throughput::Elements(1));
    group.bench_function("apply_relay", |b| {
        let mut presence = Presence::new(8, Duration::from_secs(30));
        let user: Arc<str> = Arc::from("user-1");
        let mut clock = 0;
        b.iter(|| {
            clock += 1;
            let update = AwarenessUpdate {
                clients: [(
                    ClientID::new(42),
                    AwarenessUpdateEntry {
                        clock,
                        json: format!(
                            r#"{{"user":{{"name":"Ada"}},"cursor":{{"index":{clock}}}}}"#
                        )
                        .into(),
                    },
                )]
                .into_iter()
                .collect(),
            };
            let applied = presence.apply(1, &user, "editor", update);
            std::hint::black_box(sync::encode_awareness(applied.relay.expect("relayed")))
        })
    });
    group.finish();
}

fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::open(dir.path(), "full").expect("open store"));
    let updates: Vec<Bytes> = keystrokes(20_000).into_iter().map(Bytes::from).collect();

    let mut group = c.benchmark_group("store");
    const WRITERS: usize = 64;
    group.throughput(Throughput::Elements(WRITERS as u64));
    group.bench_function("group_commit_64_appends", |b| {
        rt.block_on(async {
            for w in 0..WRITERS {
                store
                    .claim(&format!("gc-{w}"), "bench")
                    .await
                    .expect("claim");
            }
        });
        b.iter(|| {
            rt.block_on(async {
                let writes = (0..WRITERS).map(|w| {
                    let store = store.clone();
                    let update = updates[w].clone();
                    tokio::spawn(
                        async move { store.append(&format!("gc-{w}"), vec![update]).await },
                    )
                });
                for w in writes.collect::<Vec<_>>() {
                    w.await.expect("task").expect("append");
                }
            })
        })
    });

    // One document with 20,000 edits, compacted into a snapshot; one with the same 20,000 edits
    // left as a raw log (compaction never ran).
    rt.block_on(async {
        for id in ["cold-snapshot", "cold-log"] {
            store.claim(id, "bench").await.expect("claim");
            for chunk in updates.chunks(500) {
                store.append(id, chunk.to_vec()).await.expect("append");
            }
        }
        store.compact("cold-snapshot").await.expect("compact");
    });
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    for id in ["cold-snapshot", "cold-log"] {
        group.bench_function(format!("load_20000_edits/{id}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let stored = store.load(id).await.expect("load").expect("exists");
                    std::hint::black_box(stored.to_doc().expect("decodes"))
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = update, awareness, store
}
criterion_main!(benches);
