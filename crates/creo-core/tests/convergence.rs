//! Random interleavings of editors against a document's intake: messages reordered,
//! duplicated, dropped (the session then resyncs), editors going offline and coming back. Every
//! editor ends with the server's text, and nothing the server took (acknowledged) is lost.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use creo_core::sync::intake::{Intake, Offer, Shaped};
use creo_core::sync::update::{validate, UpdateLimits, UpdateShape};
use proptest::prelude::*;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

struct Msg {
    bytes: Vec<u8>,
    shape: UpdateShape,
}

impl Shaped for Msg {
    fn shape(&self) -> &UpdateShape {
        &self.shape
    }
    fn bytes(&self) -> usize {
        self.bytes.len()
    }
}

fn msg(bytes: Vec<u8>) -> Msg {
    let shape = validate(&bytes, &UpdateLimits::default()).expect("a client's update validates");
    Msg { bytes, shape }
}

struct Editor {
    doc: Doc,
    online: bool,
    session: u64,
    /// Sent, not yet delivered to the server.
    outbox: VecDeque<Vec<u8>>,
    /// From the server, not yet applied.
    inbox: VecDeque<Vec<u8>>,
}

#[derive(Debug, Clone)]
enum Action {
    Type {
        editor: usize,
        at: u32,
        text: String,
    },
    Delete {
        editor: usize,
        at: u32,
        len: u32,
    },
    Deliver {
        editor: usize,
        pick: usize,
        fate: Fate,
    },
    Receive {
        editor: usize,
    },
    Offline {
        editor: usize,
    },
    Online {
        editor: usize,
    },
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    Deliver,
    Duplicate,
    Drop,
}

fn action(editors: usize) -> impl Strategy<Value = Action> {
    let e = 0..editors;
    prop_oneof![
        3 => (e.clone(), 0u32..40, "[a-z]{1,4}").prop_map(|(editor, at, text)| Action::Type { editor, at, text }),
        1 => (e.clone(), 0u32..40, 1u32..4).prop_map(|(editor, at, len)| Action::Delete { editor, at, len }),
        4 => (e.clone(), 0usize..3, prop_oneof![6 => Just(Fate::Deliver), 1 => Just(Fate::Duplicate), 1 => Just(Fate::Drop)])
            .prop_map(|(editor, pick, fate)| Action::Deliver { editor, pick, fate }),
        3 => e.clone().prop_map(|editor| Action::Receive { editor }),
        1 => e.clone().prop_map(|editor| Action::Offline { editor }),
        1 => e.prop_map(|editor| Action::Online { editor }),
    ]
}

struct World {
    server: Doc,
    intake: Intake<u64, Msg>,
    editors: Vec<Editor>,
    next_session: u64,
    now: Instant,
    /// The server's state vector after each update it took: what it acknowledged.
    acknowledged: StateVector,
}

impl World {
    fn new(editors: usize) -> World {
        let mut w = World {
            server: Doc::new(),
            intake: Intake::new(StateVector::default(), 64 * 1024, Duration::from_secs(1)),
            editors: (0..editors)
                .map(|i| Editor {
                    doc: Doc::with_client_id(100 + i as u64),
                    online: false,
                    session: 0,
                    outbox: VecDeque::new(),
                    inbox: VecDeque::new(),
                })
                .collect(),
            next_session: 1,
            now: Instant::now(),
            acknowledged: StateVector::default(),
        };
        for i in 0..editors {
            w.connect(i);
        }
        w
    }

    /// The y-websocket handshake: the server's SyncStep2 (everything the editor lacks), then
    /// the editor's (everything the server lacks), which goes through the intake.
    fn connect(&mut self, i: usize) {
        self.next_session += 1;
        let session = self.next_session;
        let e = &mut self.editors[i];
        e.online = true;
        e.session = session;
        e.outbox.clear();
        e.inbox.clear();
        let for_editor = self
            .server
            .transact()
            .encode_diff_v1(&e.doc.transact().state_vector());
        apply(&e.doc, &for_editor);
        let for_server = e
            .doc
            .transact()
            .encode_diff_v1(&self.server.transact().state_vector());
        self.offer(i, for_server);
    }

    fn disconnect(&mut self, i: usize) {
        let e = &mut self.editors[i];
        if e.online {
            e.online = false;
            e.outbox.clear();
            e.inbox.clear();
            self.intake.leave(e.session);
        }
    }

    fn offer(&mut self, i: usize, bytes: Vec<u8>) {
        self.now += Duration::from_millis(10);
        let session = self.editors[i].session;
        if self.intake.offer(session, msg(bytes), self.now) == Offer::Resync {
            // The server closes the session; the editor reconnects.
            self.disconnect(i);
            self.connect(i);
        }
        self.commit();
    }

    /// What the intake took goes into the server's document, then out to the other editors.
    fn commit(&mut self) {
        for (from, m) in self.intake.ready() {
            let mut txn = self.server.transact_mut();
            txn.apply_update(Update::decode_v1(&m.bytes).unwrap())
                .unwrap();
            assert!(
                !txn.has_missing_updates(),
                "the server keeps nothing pending"
            );
            drop(txn);
            self.acknowledged = self.server.transact().state_vector();
            for e in self
                .editors
                .iter_mut()
                .filter(|e| e.online && e.session != from)
            {
                e.inbox.push_back(m.bytes.clone());
            }
        }
    }

    fn run(&mut self, a: Action) {
        match a {
            Action::Type { editor, at, text } => self.edit(editor, |t, txn| {
                let at = at.min(t.len(txn));
                t.insert(txn, at, &text);
            }),
            Action::Delete { editor, at, len } => self.edit(editor, |t, txn| {
                let n = t.len(txn);
                if n > 0 {
                    let at = at % n;
                    t.remove_range(txn, at, len.min(n - at));
                }
            }),
            Action::Deliver { editor, pick, fate } => {
                let e = &mut self.editors[editor];
                if !e.online || e.outbox.is_empty() {
                    return;
                }
                // Not always the oldest: messages overtake each other.
                let pick = pick % e.outbox.len();
                let bytes = e.outbox.remove(pick).unwrap();
                match fate {
                    Fate::Deliver => self.offer(editor, bytes),
                    Fate::Duplicate => {
                        self.offer(editor, bytes.clone());
                        if self.editors[editor].online {
                            self.offer(editor, bytes);
                        }
                    }
                    Fate::Drop => {}
                }
            }
            Action::Receive { editor } => {
                let e = &mut self.editors[editor];
                while let Some(u) = e.inbox.pop_front() {
                    apply(&e.doc, &u);
                }
            }
            Action::Offline { editor } => self.disconnect(editor),
            Action::Online { editor } => {
                if !self.editors[editor].online {
                    self.connect(editor);
                }
            }
        }
    }

    fn edit(&mut self, i: usize, f: impl FnOnce(&yrs::TextRef, &mut yrs::TransactionMut)) {
        let e = &mut self.editors[i];
        let t = e.doc.get_or_insert_text("t");
        let update = {
            let mut txn = e.doc.transact_mut();
            f(&t, &mut txn);
            txn.encode_update_v1()
        };
        if e.online {
            e.outbox.push_back(update);
        }
    }
}

fn apply(doc: &Doc, update: &[u8]) {
    doc.transact_mut()
        .apply_update(Update::decode_v1(update).unwrap())
        .unwrap();
}

fn text(doc: &Doc) -> String {
    let t = doc.get_or_insert_text("t");
    let txn = doc.transact();
    t.get_string(&txn)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_interleaving_converges_and_loses_nothing_acknowledged(
        editors in 2usize..4,
        actions in prop::collection::vec(action(3), 1..120),
    ) {
        let mut w = World::new(editors);
        for a in actions {
            let a = match a {
                Action::Type { editor, at, text } => Action::Type { editor: editor % editors, at, text },
                Action::Delete { editor, at, len } => Action::Delete { editor: editor % editors, at, len },
                Action::Deliver { editor, pick, fate } => Action::Deliver { editor: editor % editors, pick, fate },
                Action::Receive { editor } => Action::Receive { editor: editor % editors },
                Action::Offline { editor } => Action::Offline { editor: editor % editors },
                Action::Online { editor } => Action::Online { editor: editor % editors },
            };
            w.run(a);
            // What was acknowledged stays in the server's document.
            let server = w.server.transact().state_vector();
            for (client, clock) in w.acknowledged.iter() {
                prop_assert!(server.get(client) >= *clock);
            }
        }
        // Everyone comes back and syncs: one document, whatever happened on the way.
        for i in 0..editors {
            w.disconnect(i);
            w.connect(i);
        }
        for i in 0..editors {
            w.disconnect(i);
            w.connect(i);
        }
        let expected = text(&w.server);
        for e in &w.editors {
            prop_assert_eq!(text(&e.doc), expected.clone());
            // Nothing any editor wrote is missing on the server.
            let mine = e.doc.transact().state_vector();
            let server = w.server.transact().state_vector();
            for (client, clock) in mine.iter() {
                prop_assert!(server.get(client) >= *clock, "client {client} lost edits");
            }
        }
    }
}
