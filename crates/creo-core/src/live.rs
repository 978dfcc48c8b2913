//! `LiveDoc`: one live document's rules, with no transport, runtime or store. It holds the
//! document's CRDT, its presence, the intake that orders updates, and the batch waiting for the
//! store; it takes inputs (an update offered, a write that landed or failed, a message from
//! another node) and answers with what follows from them. The server's document actor wraps it
//! and does the I/O: it reads sockets, writes the store, sends frames and keeps the timers.
//!
//! The rules, in the order an update meets them:
//! - **admit**: a role that cannot write is refused first; then a document that would grow past
//!   its maximum; then a backlog already past its bound (a single update always gets through,
//!   or a large resync could never be admitted).
//! - **intake**: an update is taken once everything it builds on is here, parked until then
//!   (`sync::intake`).
//! - **batch**: taken updates wait in one batch; one write is in flight at a time, and what
//!   arrives meanwhile forms the next batch (group commit), at most `commit_max_updates` each.
//! - **commit outcome**: a batch that landed is applied to the document and handed back with
//!   its writers, in order, to be acknowledged; one that failed goes back in front, in order,
//!   and nothing of it was shown to anyone.
//! - **compaction**: wanted once the log is `compact_after_updates` long or
//!   `compact_after_bytes` big.
//! - **resync**: what another node stored is merged, and only what this document lacked is
//!   handed back to be shown.
//! - **access change**: `role_after_change`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use crate::role::Role;
use crate::sync::awareness::{Presence, SessionId};
use crate::sync::intake::{Intake, Offer};
use crate::sync::update::{self, Unresolved, UpdateLimits, UpdateShape};
use crate::sync::{update_changes, ClientUpdate};

/// The bounds a live document keeps to.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Past this (stored bytes, approximately), updates are refused.
    pub max_document_bytes: u64,
    /// Bytes waiting for the store past which new updates are refused.
    pub max_pending_bytes: usize,
    /// Most updates in one store write.
    pub commit_max_updates: usize,
    /// A log this long, or this big, is folded into a snapshot.
    pub compact_after_updates: u64,
    pub compact_after_bytes: u64,
    /// Updates parked per document, waiting for what they build on: bytes and time.
    pub max_parked_bytes: usize,
    pub parked_timeout: Duration,
    /// Presence: client ids one session may hold, and how long removals are remembered.
    pub awareness_clients_per_session: usize,
    pub awareness_timeout: Duration,
}

/// Why an update was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The writer's role cannot change the document.
    ReadOnly,
    /// The document would grow past `max_document_bytes`.
    TooLarge,
    /// Too much is already waiting for the store.
    Backlogged,
}

impl Refusal {
    /// The `reason` label of `creo_refused_messages_total`.
    pub fn metric_reason(self) -> &'static str {
        match self {
            Refusal::ReadOnly => "read_only",
            Refusal::TooLarge => "document_too_large",
            Refusal::Backlogged => "store_backlog",
        }
    }
}

/// An update taken for the store, with whoever must hear that it is durable (`W`: a session, a
/// waiting REST request).
pub struct Pending<W> {
    pub raw: Bytes,
    pub update: Update,
    pub writer: W,
    /// Who wrote it, for the next version's "changed by".
    pub author: Arc<str>,
}

/// A batch that landed: its updates (to show and publish) and their writers, in order.
pub struct Durable<W> {
    pub raws: Vec<Bytes>,
    pub writers: Vec<W>,
    /// Updates yrs could not apply (it keeps those with missing dependencies pending).
    pub apply_errors: Vec<String>,
}

/// Updates another node stored and published, as this document took them.
pub struct Remote {
    /// Those applied, to show this node's sessions.
    pub applied: Vec<Bytes>,
    /// Those refused by validation: the document resyncs from the store.
    pub invalid: Vec<String>,
    /// Those yrs could not apply (kept pending by yrs).
    pub apply_errors: Vec<String>,
}

/// A stored state merged in (a resync).
pub struct Merged {
    /// What this document lacked, to show its sessions.
    pub news: Option<Vec<u8>>,
    /// yrs could not apply all of it (what it could apply is in `news`).
    pub apply_error: Option<String>,
}

/// Where the stored document stands when it is loaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoredSize {
    /// Snapshot plus log, in bytes.
    pub bytes: u64,
    pub epoch: i64,
    /// Updates in the current epoch's log, and their bytes.
    pub log_len: u64,
    pub log_bytes: u64,
}

pub struct LiveDoc<W> {
    doc: Doc,
    intake: Intake<SessionId, ClientUpdate>,
    presence: Presence,
    /// The whole state encoded, kept until the document changes.
    encoded: Option<Bytes>,
    pending: Vec<Pending<W>>,
    pending_bytes: usize,
    in_flight: bool,
    approx_bytes: u64,
    epoch: i64,
    log_len: u64,
    log_bytes: u64,
    /// Users whose updates became durable since the last version was taken.
    changed_by: BTreeSet<Arc<str>>,
    limits: Limits,
}

impl<W> LiveDoc<W> {
    /// An empty document (a new one, or one not loaded yet).
    pub fn new(limits: Limits) -> Self {
        LiveDoc {
            doc: Doc::new(),
            intake: Intake::new(
                StateVector::default(),
                limits.max_parked_bytes,
                limits.parked_timeout,
            ),
            presence: Presence::new(
                limits.awareness_clients_per_session,
                limits.awareness_timeout,
            ),
            encoded: None,
            pending: Vec::new(),
            pending_bytes: 0,
            in_flight: false,
            approx_bytes: 0,
            epoch: 0,
            log_len: 0,
            log_bytes: 0,
            changed_by: BTreeSet::new(),
            limits,
        }
    }

    /// The document as the store had it.
    pub fn loaded(&mut self, doc: Doc, stored: StoredSize) {
        self.intake = Intake::new(
            doc.transact().state_vector(),
            self.limits.max_parked_bytes,
            self.limits.parked_timeout,
        );
        self.doc = doc;
        self.encoded = None;
        self.approx_bytes = stored.bytes;
        self.epoch = stored.epoch;
        self.log_len = stored.log_len;
        self.log_bytes = stored.log_bytes;
    }

    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    pub fn presence_mut(&mut self) -> &mut Presence {
        &mut self.presence
    }

    /// The whole durable state as one update (cached until the document changes).
    pub fn encoded_state(&mut self) -> Bytes {
        let doc = &self.doc;
        self.encoded
            .get_or_insert_with(|| {
                doc.transact()
                    .encode_state_as_update_v1(&StateVector::default())
                    .into()
            })
            .clone()
    }

    pub fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    /// What a client with state vector `sv` lacks.
    pub fn diff(&self, sv: &StateVector) -> Vec<u8> {
        self.doc.transact().encode_diff_v1(sv)
    }

    /// The write rules shared by sockets and REST.
    pub fn admit(&self, role: Role, bytes: usize) -> Result<(), Refusal> {
        if !role.can_write() {
            return Err(Refusal::ReadOnly);
        }
        if self.approx_bytes + bytes as u64 > self.limits.max_document_bytes {
            return Err(Refusal::TooLarge);
        }
        if self.pending_bytes > 0 && self.pending_bytes + bytes > self.limits.max_pending_bytes {
            return Err(Refusal::Backlogged);
        }
        Ok(())
    }

    /// Whether an update brings anything this document (or its taken updates) lacks: a
    /// reconnecting client's SyncStep2 often brings nothing, and is neither refused nor stored.
    pub fn changes(&self, shape: &UpdateShape, update: &Update) -> bool {
        update_changes(&self.doc, self.intake.known(), shape, update)
    }

    /// Offers a session's admitted update to the intake.
    pub fn offer(&mut self, session: SessionId, update: ClientUpdate, now: Instant) -> Offer {
        self.intake.offer(session, update, now)
    }

    /// Takes an update at once or refuses it (REST, where nothing waits for a dependency).
    pub fn take_now(&mut self, shape: &UpdateShape) -> Result<(), Unresolved> {
        self.intake.take_now(shape)
    }

    /// The updates the intake has taken, in order, for `enqueue`.
    pub fn ready(&mut self) -> Vec<(SessionId, ClientUpdate)> {
        self.intake.ready()
    }

    /// A session left: its parked updates are dropped (never acknowledged, so its client still
    /// has them and sends them again when it reconnects).
    pub fn leave(&mut self, session: SessionId) {
        self.intake.leave(session);
    }

    /// Adds a taken update to the batch waiting for the store.
    pub fn enqueue(&mut self, raw: Bytes, update: Update, writer: W, author: Arc<str>) {
        self.pending_bytes += raw.len();
        self.approx_bytes += raw.len() as u64;
        self.pending.push(Pending {
            raw,
            update,
            writer,
            author,
        });
    }

    /// The next batch to write, unless one is in flight or nothing waits.
    pub fn start_commit(&mut self) -> Option<Vec<Pending<W>>> {
        if self.in_flight || self.pending.is_empty() {
            return None;
        }
        let n = self
            .pending
            .len()
            .min(self.limits.commit_max_updates.max(1));
        self.in_flight = true;
        Some(self.pending.drain(..n).collect())
    }

    /// The write failed: nothing of the batch was shown; it goes back in front, in order.
    pub fn commit_failed(&mut self, batch: Vec<Pending<W>>) {
        self.in_flight = false;
        self.pending.splice(0..0, batch);
    }

    /// The write landed in `epoch`: the batch is applied and handed back with its writers.
    pub fn committed(&mut self, batch: Vec<Pending<W>>, epoch: i64) -> Durable<W> {
        self.in_flight = false;
        if epoch > self.epoch {
            // Compacted meanwhile (here or by another node): the new epoch's log starts now.
            self.epoch = epoch;
            self.log_len = 0;
            self.log_bytes = 0;
        }
        if epoch == self.epoch {
            self.log_len += batch.len() as u64;
        }
        self.encoded = None;
        let mut durable = Durable {
            raws: Vec::with_capacity(batch.len()),
            writers: Vec::with_capacity(batch.len()),
            apply_errors: Vec::new(),
        };
        let mut txn = self.doc.transact_mut();
        for p in batch {
            self.log_bytes += p.raw.len() as u64;
            self.pending_bytes -= p.raw.len();
            self.changed_by.insert(p.author);
            if let Err(e) = txn.apply_update(p.update) {
                durable.apply_errors.push(e.to_string());
            }
            durable.raws.push(p.raw);
            durable.writers.push(p.writer);
        }
        durable
    }

    /// The writers of every update still waiting (the document is stopping: they must hear it
    /// was not stored).
    pub fn abandon(&mut self) -> Vec<W> {
        self.pending_bytes = 0;
        self.pending.drain(..).map(|p| p.writer).collect()
    }

    /// Nothing waits for the store and no write is in flight.
    pub fn flushed(&self) -> bool {
        !self.in_flight && self.pending.is_empty()
    }

    /// Whether anything waits for the store (a write in flight aside).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether the log is long enough to fold into a snapshot.
    pub fn wants_compaction(&self) -> bool {
        self.log_len >= self.limits.compact_after_updates
            || self.log_bytes >= self.limits.compact_after_bytes
    }

    /// The log was folded into a snapshot of `epoch`, `snapshot_bytes` big.
    pub fn compacted(&mut self, epoch: i64, snapshot_bytes: u64) {
        self.approx_bytes = snapshot_bytes + self.pending_bytes as u64;
        // Appends that already landed in the new epoch reported its length.
        if epoch > self.epoch {
            self.epoch = epoch;
            self.log_len = 0;
            self.log_bytes = 0;
        }
    }

    /// Updates another node stored and published. Each is validated again: a node is not
    /// trusted to the point of letting a bad message on the bus take this one down.
    pub fn apply_remote(&mut self, updates: Vec<Bytes>, limits: &UpdateLimits) -> Remote {
        let mut remote = Remote {
            applied: Vec::with_capacity(updates.len()),
            invalid: Vec::new(),
            apply_errors: Vec::new(),
        };
        self.encoded = None;
        let mut txn = self.doc.transact_mut();
        for raw in updates {
            match update::decode_checked(&raw, limits) {
                Ok((shape, decoded)) => {
                    if let Err(e) = txn.apply_update(decoded) {
                        remote.apply_errors.push(e.to_string());
                    }
                    self.intake.learn_shape(&shape);
                    self.approx_bytes += raw.len() as u64;
                    remote.applied.push(raw);
                }
                Err(e) => remote.invalid.push(e.to_string()),
            }
        }
        remote
    }

    /// Merges the state the store holds (a resync): what this document lacked, if anything,
    /// to show its sessions. Refused only when the state does not decode.
    pub fn merge_stored(&mut self, state: &[u8], limits: &UpdateLimits) -> Result<Merged, String> {
        let (_, stored) = update::decode_checked(state, limits).map_err(|e| e.to_string())?;
        self.encoded = None;
        let mut txn = self.doc.transact_mut();
        let apply_error = txn.apply_update(stored).err().map(|e| e.to_string());
        let news = txn.encode_update_v1();
        self.intake.learn(&txn.state_vector());
        drop(txn);
        // An update that changes nothing encodes as two zero bytes (no structs, no deletions).
        let news = (news.len() > 2).then_some(news);
        if let Some(n) = &news {
            self.approx_bytes += n.len() as u64;
        }
        Ok(Merged { news, apply_error })
    }

    /// Who changed the document since the last call (for a version's "changed by").
    pub fn take_changed_by(&mut self) -> BTreeSet<Arc<str>> {
        std::mem::take(&mut self.changed_by)
    }

    /// Stored bytes, approximately (snapshot, log and what waits for the store).
    pub fn approx_bytes(&self) -> u64 {
        self.approx_bytes
    }

    pub fn log_len(&self) -> u64 {
        self.log_len
    }
}

/// The role an open session takes when its user's role in the account changes to `new`. A
/// session opened by a login takes the new role, up or down; one opened with a token minted
/// for an app can only lose rights (the token's role stays its ceiling).
pub fn role_after_change(opened_by_login: bool, old: Role, new: Role) -> Role {
    if opened_by_login || new.rank() < old.rank() {
        new
    } else {
        old
    }
}

#[cfg(test)]
mod tests;
