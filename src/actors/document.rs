//! `DocumentActor`: one per live document on this node. Owns the `yrs::Doc`, the presence table,
//! the sessions subscribed to it and the batch of updates waiting for the store.
//!
//! An update is applied and broadcast only after the store has it (group commit): no client ever
//! sees an edit that a crash could lose, and the sender's acknowledgement is truthful.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use tokio::sync::oneshot;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use super::registry::DocumentRegistry;
use super::session::{Credit, SessionCommand};
use crate::auth::{Principal, Role};
use crate::bus::{Bus, DocEvent, DocMessage, Membership, NodeId, Origin};
use crate::config::Config;
use crate::socket::{CloseCode, CloseReason, Outbox};
use crate::store::{DocumentMeta, DocumentStore, StoreError, StoreHealth, StoredDocument};
use crate::sync::awareness::{Presence, SessionId};
use crate::sync::intake::{Intake, Offer};
use crate::sync::{self, close, update, ClientUpdate, Inbound, UpdateKind, UpdateShape};

#[derive(Debug, Clone, thiserror::Error)]
pub enum DocError {
    #[error("document is unloading, try again")]
    Unloading,
    #[error("document not found")]
    NotFound,
    #[error("document belongs to another account")]
    Forbidden,
    #[error("too many connections to this document")]
    TooManyConnections,
    #[error("your role may not change this document")]
    ReadOnly,
    #[error("document would exceed its maximum size")]
    TooLarge,
    #[error("too many writes are waiting for the store; try again")]
    Backlogged,
    #[error("invalid update: {0}")]
    InvalidUpdate(String),
    #[error("the update builds on content this document does not have: {0}")]
    Unresolved(String),
    #[error("document could not be loaded: {0}")]
    LoadFailed(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Who gets told when an update is durable.
enum Writer {
    Session(SessionId),
    Rest(oneshot::Sender<Result<(), DocError>>),
}

struct Pending {
    raw: Bytes,
    update: Update,
    writer: Writer,
    /// Who wrote it, for the next version's "changed by".
    author: Arc<str>,
}

struct Member {
    principal: Arc<Principal>,
    outbox: Arc<Outbox>,
    /// Shared with the session, which reads it before decoding an update.
    can_write: Arc<AtomicBool>,
    control: Recipient<SessionCommand>,
    extensions: sync::Extensions,
    /// Updates accepted from this session, and how many of them are durable.
    accepted: u64,
    durable: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Loading,
    Live,
    /// Flushing before unload or shutdown: refuses joins and writes, which retry elsewhere.
    Closing,
    Failed,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DocInfo {
    #[serde(flatten)]
    pub meta: DocumentMeta,
    pub live_sessions: usize,
    pub presence_states: usize,
    pub approx_bytes: u64,
    pub log_len: u64,
}

/// Numbers document actors within this node, so another node can tell two lifetimes of the same
/// document here apart (each numbers its bus messages from 1).
static NEXT_ACTOR: AtomicU64 = AtomicU64::new(1);

pub struct DocumentActor {
    id: Arc<str>,
    bus: Arc<Bus>,
    /// This actor's channel on the bus; `None` until joined (before the load).
    membership: Option<Membership>,
    /// Last sequence number heard from each other node's actor, to notice lost messages.
    heard: HashMap<Origin, u64>,
    /// Nodes known to have this document open: if one stops, it may have stored an update it
    /// never published, so the document reloads.
    peers: HashSet<NodeId>,
    resyncing: bool,
    resync_again: bool,
    store: Arc<dyn DocumentStore>,
    config: Arc<Config>,
    registry: Arc<DocumentRegistry>,
    phase: Phase,
    load_error: Option<String>,
    doc: Doc,
    meta: Option<DocumentMeta>,
    sessions: HashMap<SessionId, Member>,
    presence: Presence,
    /// The order updates are taken in: each once what it builds on is here (`Intake`).
    intake: Intake<SessionId, ClientUpdate>,
    /// The whole state encoded, kept until the document changes: REST reads (state, comments,
    /// versions) then cost one encode per change, not one per request.
    encoded: Option<Bytes>,
    pending: Vec<Pending>,
    pending_bytes: usize,
    in_flight: bool,
    /// This document's writes are failing (counted in `StoreHealth` for `/readyz`).
    write_failing: bool,
    health: Arc<StoreHealth>,
    /// After a failed write, no new write starts until the backoff delay has passed.
    backing_off: bool,
    retry_delay: Duration,
    approx_bytes: u64,
    /// Current epoch of the update log, and how much of it there is: the compaction trigger.
    epoch: i64,
    log_len: u64,
    log_bytes: u64,
    compacting: bool,
    idle_timer: Option<SpawnHandle>,
    flushed_waiters: Vec<oneshot::Sender<()>>,
    /// Users whose updates became durable here since the last version was taken.
    changed_by: std::collections::BTreeSet<Arc<str>>,
    /// Every event this actor logs carries the document id through this span.
    span: tracing::Span,
}

impl DocumentActor {
    pub fn new(
        id: Arc<str>,
        store: Arc<dyn DocumentStore>,
        config: Arc<Config>,
        health: Arc<StoreHealth>,
        registry: Arc<DocumentRegistry>,
        bus: Arc<Bus>,
    ) -> Self {
        let presence = Presence::new(
            config.awareness_clients_per_session,
            config.awareness_timeout(),
        );
        let span = tracing::info_span!("document", doc = %id);
        DocumentActor {
            span,
            id,
            bus,
            membership: None,
            heard: HashMap::new(),
            peers: HashSet::new(),
            resyncing: false,
            resync_again: false,
            store,
            registry,
            phase: Phase::Loading,
            load_error: None,
            doc: Doc::new(),
            meta: None,
            sessions: HashMap::new(),
            presence,
            intake: Intake::new(
                StateVector::default(),
                config.max_parked_bytes,
                config.parked_timeout(),
            ),
            encoded: None,
            config,
            pending: Vec::new(),
            pending_bytes: 0,
            in_flight: false,
            write_failing: false,
            health,
            backing_off: false,
            retry_delay: Duration::from_millis(50),
            approx_bytes: 0,
            epoch: 0,
            log_len: 0,
            log_bytes: 0,
            compacting: false,
            idle_timer: None,
            flushed_waiters: Vec::new(),
            changed_by: std::collections::BTreeSet::new(),
        }
    }

    /// The whole durable state as one update (cached until the document changes).
    fn encoded_state(&mut self) -> Bytes {
        self.encoded
            .get_or_insert_with(|| {
                self.doc
                    .transact()
                    .encode_state_as_update_v1(&StateVector::default())
                    .into()
            })
            .clone()
    }

    /// Refuses work unless the document is loaded and not closing.
    fn ready(&self) -> Result<(), DocError> {
        match self.phase {
            Phase::Live => Ok(()),
            Phase::Loading | Phase::Closing => Err(DocError::Unloading),
            Phase::Failed => Err(DocError::LoadFailed(
                self.load_error.clone().unwrap_or_default(),
            )),
        }
    }

    fn check_owner(&self, principal: &Principal) -> Result<&DocumentMeta, DocError> {
        match &self.meta {
            Some(m) if *m.account_id == *principal.account => Ok(m),
            Some(_) => Err(DocError::Forbidden),
            None => Err(DocError::NotFound),
        }
    }

    fn send_to(&mut self, session: SessionId, frame: Bytes) {
        let full = match self.sessions.get(&session) {
            Some(m) => m.outbox.push(frame).err(),
            None => None,
        };
        if let Some(full) = full {
            self.fell_behind(session, full);
        }
    }

    fn fell_behind(&mut self, session: SessionId, full: crate::socket::Full) {
        metrics::counter!("creo_refused_messages_total", "reason" => full.metric_reason())
            .increment(1);
        self.evict(session, close::SLOW_CONSUMER, "fell behind");
    }

    /// Sends one encoded frame to every session (but `except`). A session whose queue is full is
    /// disconnected rather than buffered without bound or silently skipped: it resyncs on
    /// reconnect and loses nothing.
    fn broadcast(&mut self, frame: &Bytes, except: Option<SessionId>) -> u64 {
        self.broadcast_where(frame, |s| Some(s) != except)
    }

    /// Sends one encoded frame to the sessions `to` picks (see `broadcast`).
    fn broadcast_where(&mut self, frame: &Bytes, to: impl Fn(SessionId) -> bool) -> u64 {
        let mut lagging = Vec::new();
        let mut delivered = 0;
        for (id, m) in &self.sessions {
            if !to(*id) {
                continue;
            }
            match m.outbox.push(frame.clone()) {
                Ok(()) => delivered += 1,
                Err(full) => lagging.push((*id, full)),
            }
        }
        for (id, full) in lagging {
            self.fell_behind(id, full);
        }
        metrics::counter!("creo_bytes_out_total").increment(delivered * frame.len() as u64);
        delivered
    }

    /// Sends a durable batch to the sessions: the whole batch merged into one frame to everyone
    /// who wrote none of it, and to each writer the others' updates (never its own back).
    fn deliver_batch(&mut self, raws: &[Bytes], authors: &[Option<SessionId>]) -> u64 {
        let writers: HashSet<SessionId> = authors.iter().flatten().copied().collect();
        let mut deliveries = 0;
        for frame in sync::encode_updates(raws) {
            deliveries += self.broadcast_where(&frame, |s| !writers.contains(&s));
        }
        for writer in writers {
            let others: Vec<Bytes> = raws
                .iter()
                .zip(authors)
                .filter(|(_, a)| **a != Some(writer))
                .map(|(raw, _)| raw.clone())
                .collect();
            for frame in sync::encode_updates(&others) {
                self.send_to(writer, frame);
                deliveries += 1;
            }
        }
        deliveries
    }

    /// Closes a session's socket at once (its outbox stops taking frames and sends the close
    /// next, even while the session actor waits on something) and stops the session.
    fn evict(&mut self, session: SessionId, code: u16, reason: &'static str) {
        if let Some(m) = self.remove_member(session) {
            metrics::counter!("creo_disconnects_total", "reason" => reason).increment(1);
            m.outbox.close(Some(CloseReason {
                code: CloseCode::from(code),
                description: Some(reason.to_string()),
            }));
            m.control.do_send(SessionCommand::Close { code, reason });
            self.announce_departure(session);
        }
    }

    /// A session leaves the document; its parked updates were never acknowledged (its client
    /// still has them and sends them again in its next SyncStep2).
    fn remove_member(&mut self, session: SessionId) -> Option<Member> {
        self.intake.leave(session);
        self.sessions.remove(&session)
    }

    fn announce_departure(&mut self, session: SessionId) {
        if let Some(removal) = self.presence.remove_session(session) {
            self.publish(DocMessage::Awareness(removal.encode_v1().into()));
            self.broadcast(&sync::encode_awareness(removal), None);
        }
    }

    fn publish(&mut self, message: DocMessage) {
        if let Some(m) = &mut self.membership {
            m.publish(message);
        }
    }

    fn local_presence(&self) -> Option<Bytes> {
        self.presence
            .local_snapshot()
            .map(|p| Bytes::from(p.encode_v1()))
    }

    /// Shows presence relayed by another node to this node's sessions.
    fn apply_remote_presence(&mut self, node: NodeId, raw: &[u8]) {
        // Another node's snapshot may hold every state of its sessions: no count limit beyond
        // the bytes, but the same bound on each state.
        let limits = sync::FrameLimits {
            max_awareness_entries: usize::MAX,
            ..self.config.frame_limits()
        };
        match sync::decode_awareness(raw, &limits) {
            Ok(update) => {
                if let Some(relay) = self.presence.apply_remote(node, update) {
                    self.broadcast(&sync::encode_awareness(relay), None);
                }
            }
            Err(e) => {
                metrics::counter!("creo_bus_dropped_total", "reason" => "invalid_awareness")
                    .increment(1);
                tracing::warn!(parent: &self.span, error = %e, "invalid awareness from the bus");
            }
        }
    }

    /// A message another node published for this document.
    fn on_remote(
        &mut self,
        origin: Origin,
        seq: u64,
        message: DocMessage,
        ctx: &mut Context<Self>,
    ) {
        self.peers.insert(origin.node);
        if seq > 0 {
            let last = self.heard.insert(origin, seq);
            if last.is_some_and(|last| seq != last + 1) {
                metrics::counter!("creo_bus_gaps_total").increment(1);
                tracing::info!(parent: &self.span, node = format_args!("{:016x}", origin.node), expected = last.unwrap_or(0) + 1, got = seq, "bus gap; resyncing from the store");
                self.resync(ctx);
            }
        }
        match message {
            DocMessage::Updates(updates) => {
                let mut applied = Vec::with_capacity(updates.len());
                let mut invalid = false;
                {
                    self.encoded = None;
                    let mut txn = self.doc.transact_mut();
                    let limits = self.config.update_limits().trusted();
                    for raw in updates {
                        // Another node validated it, but a node is not trusted to the point of
                        // letting a bad message on the bus take this one down.
                        match update::decode_checked(&raw, &limits) {
                            Ok((shape, update)) => {
                                if let Err(e) = txn.apply_update(update) {
                                    tracing::warn!(parent: &self.span, error = %e, "update from the bus did not apply");
                                }
                                self.intake.learn_shape(&shape);
                                self.approx_bytes += raw.len() as u64;
                                applied.push(raw);
                            }
                            Err(e) => {
                                metrics::counter!("creo_bus_dropped_total", "reason" => "invalid_update")
                                    .increment(1);
                                tracing::warn!(parent: &self.span, error = %e, "invalid update from the bus; resyncing");
                                invalid = true;
                            }
                        }
                    }
                }
                let deliveries = self.deliver_batch(&applied, &vec![None; applied.len()]);
                metrics::counter!("creo_bus_updates_applied_total").increment(applied.len() as u64);
                metrics::counter!("creo_updates_out_total").increment(deliveries);
                self.take_ready(ctx);
                if invalid {
                    self.resync(ctx);
                }
            }
            DocMessage::Awareness(raw) => self.apply_remote_presence(origin.node, &raw),
            DocMessage::Hello { presence } => {
                if let Some(raw) = presence {
                    self.apply_remote_presence(origin.node, &raw);
                }
                let presence = self.local_presence();
                self.publish(DocMessage::Here { presence });
            }
            DocMessage::Here { presence } => {
                if let Some(raw) = presence {
                    self.apply_remote_presence(origin.node, &raw);
                }
            }
            DocMessage::Resync => self.resync(ctx),
            DocMessage::Event(json) => self.send_event(&json),
        }
    }

    /// Reloads the document from the store and shows this node's sessions whatever it lacked:
    /// the recovery for any message the bus may have lost (everything published was stored
    /// first).
    fn resync(&mut self, ctx: &mut Context<Self>) {
        if self.phase != Phase::Live {
            return;
        }
        if self.resyncing {
            self.resync_again = true;
            return;
        }
        self.resyncing = true;
        self.resync_again = false;
        metrics::counter!("creo_bus_resyncs_total").increment(1);
        let (store, id, bus) = (self.store.clone(), self.id.clone(), self.bus.clone());
        ctx.spawn(
            async move {
                let _permit = bus.resync_permit().await;
                match store.load(&id).await? {
                    None => Ok(None),
                    Some(stored) => tokio::task::spawn_blocking(move || stored.fold().map(Some))
                        .await
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?,
                }
            }
            .into_actor(self)
            .map(|result: Result<Option<Vec<u8>>, StoreError>, act, ctx| {
                act.resyncing = false;
                match result {
                    Ok(Some(state)) => {
                        act.merge_stored(&state);
                        act.take_ready(ctx);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(parent: &act.span, error = %e, "resync from the store failed; retrying");
                        act.resync_again = true;
                    }
                }
                if act.resync_again {
                    ctx.run_later(Duration::from_millis(200), |act, ctx| act.resync(ctx));
                }
            }),
        );
    }

    fn merge_stored(&mut self, state: &[u8]) {
        let limits = self.config.update_limits().trusted();
        let update = match update::decode_checked(state, &limits) {
            Ok((_, u)) => u,
            Err(e) => {
                tracing::error!(parent: &self.span, error = %e, "stored state does not decode");
                return;
            }
        };
        self.encoded = None;
        let news = {
            let mut txn = self.doc.transact_mut();
            if let Err(e) = txn.apply_update(update) {
                tracing::warn!(parent: &self.span, error = %e, "stored state did not apply");
            }
            let news = txn.encode_update_v1();
            self.intake.learn(&txn.state_vector());
            news
        };
        // An update that changes nothing encodes as two zero bytes (no structs, no deletions).
        if news.len() > 2 {
            metrics::counter!("creo_bus_resync_recovered_total").increment(1);
            tracing::info!(parent: &self.span, bytes = news.len(), "resync recovered updates the bus had lost");
            self.approx_bytes += news.len() as u64;
            let deliveries = self.broadcast(&sync::encode_update(&news), None);
            metrics::counter!("creo_updates_out_total").increment(deliveries);
        }
    }

    fn handle_client(&mut self, session: SessionId, msg: Inbound, ctx: &mut Context<Self>) {
        let Some(member) = self.sessions.get(&session) else {
            return; // evicted meanwhile; its socket is closing
        };
        match msg {
            Inbound::SyncStep1(sv) => {
                // One answer at a time: a queued one already covers a newer SyncStep1 (see
                // `Outbox::answer_queued`), so a client repeating it costs no more memory.
                if member.outbox.answer_queued() {
                    metrics::counter!("creo_sync_answers_coalesced_total").increment(1);
                    return;
                }
                let diff = self.doc.transact().encode_diff_v1(&sv);
                if let Err(full) = member.outbox.push_answer(sync::encode_sync_step2(diff)) {
                    self.fell_behind(session, full);
                }
            }
            Inbound::Update(update) => {
                // A SyncStep2 that brings nothing new (a reconnect echo) is neither refused nor
                // stored again; a live update always carries new operations.
                if update.kind == UpdateKind::SyncStep2
                    && !sync::update_changes(
                        &self.doc,
                        self.intake.known(),
                        &update.shape,
                        &update.update,
                    )
                {
                    return;
                }
                self.offer(session, update, ctx);
            }
            // Decided by the session, which does not decode a reader's updates.
            Inbound::ReadOnlyUpdate(_) => {}
            Inbound::Awareness(update) => {
                let (user, role) = (member.principal.user.clone(), member.principal.role);
                let applied = self.presence.apply(session, &user, role.as_str(), update);
                for (_, refusal) in &applied.refused {
                    metrics::counter!("creo_refused_messages_total", "reason" => refusal.metric_reason())
                        .increment(1);
                }
                if let Some(relay) = applied.relay {
                    self.publish(DocMessage::Awareness(relay.encode_v1().into()));
                    // Echoed to the sender too, as the reference server does: the official
                    // client treats a silent socket as dead after 30 s.
                    self.broadcast(&sync::encode_awareness(relay), None);
                }
            }
            Inbound::QueryAwareness => {
                if let Some(all) = self.presence.snapshot() {
                    self.send_to(session, sync::encode_awareness(all));
                }
            }
            Inbound::Auth => {}
        }
    }

    /// Offers a session's update to the intake once the write rules admit it: taken when what
    /// it builds on is here, parked until then (bounded: past the bound the session resyncs).
    fn offer(&mut self, session: SessionId, update: ClientUpdate, ctx: &mut Context<Self>) {
        let Some(principal) = self.sessions.get(&session).map(|m| m.principal.clone()) else {
            return;
        };
        match self.admit(&principal, &update.raw) {
            Ok(()) => {}
            Err(DocError::ReadOnly) => {
                return self.send_to(
                    session,
                    sync::encode_permission_denied("read-only: your role cannot edit"),
                )
            }
            Err(DocError::TooLarge) => {
                return self.evict(session, close::DOCUMENT_TOO_LARGE, "document_too_large")
            }
            Err(_) => return self.evict(session, close::TRY_AGAIN_LATER, "store_backlog"),
        }
        match self.intake.offer(session, update, Instant::now()) {
            Offer::Taken => self.take_ready(ctx),
            Offer::Parked => metrics::counter!("creo_updates_parked_total").increment(1),
            Offer::Resync => {
                metrics::counter!("creo_refused_messages_total", "reason" => "unresolved_update")
                    .increment(1);
                self.evict(session, close::RESYNC_NEEDED, "unresolved update");
            }
        }
    }

    /// Queues for the store whatever the intake took, in the order it took it.
    fn take_ready(&mut self, ctx: &mut Context<Self>) {
        for (session, update) in self.intake.ready() {
            let author = match self.sessions.get_mut(&session) {
                Some(m) => {
                    m.accepted += 1;
                    m.principal.user.clone()
                }
                // Taken in the same call that offered it, so the session is here; whatever
                // was taken must be stored, or the intake would count content never written.
                None => Arc::from(""),
            };
            self.enqueue(
                update.raw,
                update.update,
                Writer::Session(session),
                author,
                ctx,
            );
        }
    }

    /// The write rules shared by sockets and REST.
    fn admit(&self, principal: &Principal, raw: &[u8]) -> Result<(), DocError> {
        if !principal.role.can_write() {
            metrics::counter!("creo_refused_messages_total", "reason" => "read_only").increment(1);
            return Err(DocError::ReadOnly);
        }
        if self.approx_bytes + raw.len() as u64 > self.config.max_document_bytes {
            metrics::counter!("creo_refused_messages_total", "reason" => "document_too_large")
                .increment(1);
            return Err(DocError::TooLarge);
        }
        // Refused only when something is already waiting: a single update (at most
        // max_message_bytes) always gets through, or a large resync could never be admitted.
        if self.pending_bytes > 0 && self.pending_bytes + raw.len() > self.config.max_pending_bytes
        {
            metrics::counter!("creo_refused_messages_total", "reason" => "store_backlog")
                .increment(1);
            return Err(DocError::Backlogged);
        }
        Ok(())
    }

    fn enqueue(
        &mut self,
        raw: Bytes,
        update: Update,
        writer: Writer,
        author: Arc<str>,
        ctx: &mut Context<Self>,
    ) {
        metrics::counter!("creo_updates_in_total").increment(1);
        metrics::counter!("creo_bytes_in_total").increment(raw.len() as u64);
        self.pending_bytes += raw.len();
        self.approx_bytes += raw.len() as u64;
        self.pending.push(Pending {
            raw,
            update,
            writer,
            author,
        });
        self.commit(ctx);
    }

    /// Starts a group commit unless one is in flight: updates arriving meanwhile form the next
    /// batch, so under load each store write carries many updates.
    fn commit(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight || self.backing_off || self.pending.is_empty() {
            return;
        }
        let n = self.pending.len().min(self.config.commit_max_updates);
        let batch: Vec<Pending> = self.pending.drain(..n).collect();
        let raws: Vec<Bytes> = batch.iter().map(|p| p.raw.clone()).collect();
        self.in_flight = true;
        let store = self.store.clone();
        let id = self.id.clone();
        let started = Instant::now();
        let timeout = Duration::from_millis(self.config.store_write_timeout_ms);
        ctx.spawn(
            async move {
                match actix_rt::time::timeout(timeout, store.append(&id, raws)).await {
                    Ok(result) => result,
                    Err(_) => Err(StoreError::Unavailable(format!(
                        "store write timed out after {timeout:?}"
                    ))),
                }
            }
            .into_actor(self)
            .map(move |result, act, ctx| {
                metrics::histogram!("creo_commit_seconds").record(started.elapsed().as_secs_f64());
                act.committed(batch, result, ctx)
            }),
        );
    }

    fn committed(
        &mut self,
        batch: Vec<Pending>,
        result: Result<crate::store::Appended, StoreError>,
        ctx: &mut Context<Self>,
    ) {
        self.in_flight = false;
        let appended = match result {
            Ok(a) => a,
            Err(e) => {
                // Nothing was shown to anyone: put the batch back in front and retry with
                // backoff. New writes are refused once the backlog limit is reached.
                metrics::counter!("creo_store_errors_total").increment(1);
                if !self.write_failing {
                    self.write_failing = true;
                    self.health.write_failed();
                }
                tracing::warn!(parent: &self.span, error = %e, retry_in = ?self.retry_delay, "store write failed");
                self.pending.splice(0..0, batch);
                let delay = self.retry_delay;
                self.retry_delay = (self.retry_delay * 2).min(Duration::from_secs(5));
                self.backing_off = true;
                ctx.run_later(delay, |act, ctx| {
                    act.backing_off = false;
                    act.commit(ctx)
                });
                return;
            }
        };
        self.retry_delay = Duration::from_millis(50);
        if self.write_failing {
            self.write_failing = false;
            self.health.write_recovered();
            tracing::info!(parent: &self.span, "store writes recovered");
        }
        metrics::histogram!("creo_commit_batch_updates").record(batch.len() as f64);
        if appended.epoch > self.epoch {
            // Compacted meanwhile (here or by another node): the new epoch's log starts now.
            self.epoch = appended.epoch;
            self.log_len = 0;
            self.log_bytes = 0;
        }
        if appended.epoch == self.epoch {
            self.log_len += batch.len() as u64;
        }
        let mut durable = Vec::with_capacity(batch.len());
        self.encoded = None;
        {
            let mut txn = self.doc.transact_mut();
            for p in batch {
                self.log_bytes += p.raw.len() as u64;
                self.changed_by.insert(p.author);
                if let Err(e) = txn.apply_update(p.update) {
                    // Decoding validated it; yrs keeps updates with missing dependencies pending.
                    tracing::warn!(parent: &self.span, error = %e, "stored update did not apply");
                }
                durable.push((p.raw, p.writer));
            }
        }
        let mut acks: HashMap<SessionId, u64> = HashMap::new();
        let raws: Vec<Bytes> = durable.iter().map(|(raw, _)| raw.clone()).collect();
        if self.membership.as_ref().is_some_and(|m| m.clustered()) {
            self.publish(DocMessage::Updates(raws.clone()));
        }
        let mut authors: Vec<Option<SessionId>> = Vec::with_capacity(durable.len());
        for (raw, writer) in durable {
            self.pending_bytes -= raw.len();
            match writer {
                Writer::Session(sid) => {
                    *acks.entry(sid).or_default() += 1;
                    authors.push(Some(sid));
                }
                Writer::Rest(reply) => {
                    let _ = reply.send(Ok(()));
                    authors.push(None);
                }
            }
        }
        let deliveries = self.deliver_batch(&raws, &authors);
        metrics::counter!("creo_updates_out_total").increment(deliveries);
        if let Some(meta) = &self.meta {
            self.registry.document_changed(&self.id, &meta.account_id);
        }
        for (sid, n) in acks {
            let frame = match self.sessions.get_mut(&sid) {
                Some(m) => {
                    m.durable += n;
                    m.extensions.ack.then(|| sync::encode_ack(m.durable))
                }
                None => None,
            };
            if let Some(frame) = frame {
                self.send_to(sid, frame);
            }
        }
        self.compact_if_long(ctx);
        if self.pending.is_empty() {
            for w in self.flushed_waiters.drain(..) {
                let _ = w.send(());
            }
        } else {
            self.commit(ctx);
        }
    }

    fn compact_if_long(&mut self, ctx: &mut Context<Self>) {
        if self.log_len >= self.config.compact_after_updates
            || self.log_bytes >= self.config.compact_after_bytes
        {
            self.compact(ctx);
        }
    }

    /// Folds the log into a snapshot in the background (the store does the heavy work off the
    /// executor), so loading stays one snapshot plus a short tail however long the history.
    fn compact(&mut self, ctx: &mut Context<Self>) {
        if self.compacting {
            return;
        }
        self.compacting = true;
        let store = self.store.clone();
        let id = self.id.clone();
        ctx.spawn(
            async move { store.compact(&id).await }
                .into_actor(self)
                .map(|result, act, ctx| {
                    act.compacting = false;
                    match result {
                        Ok(Some(c)) => {
                            metrics::counter!("creo_compactions_total").increment(1);
                            tracing::debug!(parent: &act.span, epoch = c.epoch, bytes = c.snapshot_bytes, folded = c.folded_updates, "compacted");
                            act.approx_bytes = c.snapshot_bytes + act.pending_bytes as u64;
                            // Appends that already landed in the new epoch reported its length.
                            if c.epoch > act.epoch {
                                act.epoch = c.epoch;
                                act.log_len = 0;
                                act.log_bytes = 0;
                            }
                            // The log may have grown past the threshold while this ran.
                            act.compact_if_long(ctx);
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(parent: &act.span, error = %e, "compaction failed"),
                    }
                }),
        );
    }

    fn schedule_unload(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.idle_timer.take() {
            ctx.cancel_future(h);
        }
        if self.sessions.is_empty() {
            let grace = self.config.unload_grace();
            self.idle_timer = Some(ctx.run_later(grace, |act, ctx| act.unload(ctx)));
        }
    }

    /// Last session gone and the grace period over: flush, compact a long log, leave the
    /// registry, stop. Requests arriving meanwhile are answered `Unloading` and retried by the
    /// registry against a fresh actor that loads the flushed state.
    fn unload(&mut self, ctx: &mut Context<Self>) {
        self.idle_timer = None;
        if !self.sessions.is_empty() || self.phase != Phase::Live {
            return;
        }
        if self.in_flight || self.backing_off || self.compacting || !self.pending.is_empty() {
            // Let the running write finish (its completion needs this actor's context).
            self.idle_timer =
                Some(ctx.run_later(Duration::from_millis(20), |act, ctx| act.unload(ctx)));
            return;
        }
        self.phase = Phase::Closing;
        let store = self.store.clone();
        let id = self.id.clone();
        let compact = self.log_len >= 64;
        ctx.wait(
            async move {
                if compact {
                    let _ = store.compact(&id).await;
                }
            }
            .into_actor(self)
            .map(|_, act, ctx| {
                act.registry.remove_if(&act.id, &ctx.address());
                ctx.stop();
            }),
        );
    }
}

impl Actor for DocumentActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::gauge!("creo_live_documents").increment(1.0);
        // Nothing else is processed until the load finishes: no client is answered from an
        // empty document that is really just not loaded yet. The bus subscription comes first,
        // so an update stored after the load started cannot be missed.
        let store = self.store.clone();
        let id = self.id.clone();
        let bus = self.bus.clone();
        let actor = NEXT_ACTOR.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        ctx.wait(
            async move {
                let joined = bus.join(&id, actor).await;
                let stored = store.load(&id).await;
                let loaded = match stored {
                    Err(e) => Err(e),
                    Ok(None) => Ok(None),
                    Ok(Some(stored)) => tokio::task::spawn_blocking(move || {
                        let doc = stored.to_doc()?;
                        Ok::<(Doc, StoredDocument), StoreError>((doc, stored))
                    })
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))
                    .and_then(|built| built.map(Some)),
                };
                (joined, loaded)
            }
            .into_actor(self)
            .map(move |((membership, events), result), act, ctx| {
                metrics::histogram!("creo_document_load_seconds")
                    .record(started.elapsed().as_secs_f64());
                match result {
                    Ok(loaded) => {
                        if let Some((doc, stored)) = loaded {
                            act.approx_bytes = stored.stored_bytes();
                            act.log_len = stored.updates.len() as u64;
                            act.log_bytes = stored.updates.iter().map(|u| u.len() as u64).sum();
                            act.epoch = stored.meta.epoch;
                            act.meta = Some(stored.meta);
                            act.intake = Intake::new(
                                doc.transact().state_vector(),
                                act.config.max_parked_bytes,
                                act.config.parked_timeout(),
                            );
                            act.doc = doc;
                        }
                        act.phase = Phase::Live;
                        tracing::debug!(parent: &act.span, bytes = act.approx_bytes, log = act.log_len, "document loaded");
                        act.membership = Some(membership);
                        if let Some(events) = events {
                            ctx.add_stream(tokio_stream::wrappers::ReceiverStream::new(events));
                            // Meet the other nodes that have this document open.
                            act.publish(DocMessage::Hello { presence: None });
                            let timeout = act.config.awareness_timeout();
                            ctx.run_interval(timeout / 4, move |act, _| {
                                if let Some(gone) = act.presence.expire_remote(timeout) {
                                    act.broadcast(&sync::encode_awareness(gone), None);
                                }
                            });
                        }
                        act.compact_if_long(ctx);
                        act.schedule_unload(ctx);
                    }
                    Err(e) => {
                        // Never fall back to an empty document: it would overwrite stored content.
                        tracing::error!(parent: &act.span, error = %e, "document load failed");
                        metrics::counter!("creo_document_load_failures_total").increment(1);
                        act.phase = Phase::Failed;
                        act.load_error = Some(e.to_string());
                        act.registry.remove_if(&act.id, &ctx.address());
                        ctx.stop();
                    }
                }
            }),
        );
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics::gauge!("creo_live_documents").decrement(1.0);
        // Unsubscribes this node from the document's channel.
        self.membership = None;
        if self.write_failing {
            self.health.write_recovered();
        }
        for p in self.pending.drain(..) {
            if let Writer::Rest(reply) = p.writer {
                let _ = reply.send(Err(DocError::Unloading));
            }
        }
    }
}

impl StreamHandler<DocEvent> for DocumentActor {
    fn handle(&mut self, event: DocEvent, ctx: &mut Context<Self>) {
        if self.phase != Phase::Live {
            return;
        }
        match event {
            DocEvent::Remote {
                origin,
                seq,
                message,
            } => self.on_remote(origin, seq, message, ctx),
            DocEvent::Resync => {
                self.resync(ctx);
                // Presence may have been lost too: share ours and ask for theirs.
                let presence = self.local_presence();
                self.publish(DocMessage::Hello { presence });
            }
            DocEvent::NodeGone(node) => {
                if let Some(gone) = self.presence.remove_node(node) {
                    self.broadcast(&sync::encode_awareness(gone), None);
                }
                self.heard.retain(|origin, _| origin.node != node);
                if self.peers.remove(&node) {
                    self.resync(ctx);
                }
            }
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // The bus dropped this document's route (it is stopping); nothing to do.
    }
}

/// Closes `user`'s sessions in this document if it belongs to `account` (access revoked).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Revoke {
    pub account: String,
    pub user: String,
}

impl Handler<Revoke> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: Revoke, _: &mut Context<Self>) {
        if self
            .meta
            .as_ref()
            .is_none_or(|m| *m.account_id != *msg.account)
        {
            return;
        }
        let revoked: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, m)| *m.principal.user == *msg.user && *m.principal.account == *msg.account)
            .map(|(id, _)| *id)
            .collect();
        for id in revoked {
            self.evict(id, close::ACCESS_REVOKED, "access_revoked");
        }
    }
}

/// `user`'s role in `account` changed: their sessions here take the new role at once (a demoted
/// editor's next update is refused), or close with 4403 when they are no longer a member.
/// Sessions opened with a token minted for an app (no login session) can only lose rights: their
/// token's role stays the ceiling.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChangeRole {
    pub account: String,
    pub user: String,
    pub role: Option<Role>,
}

impl Handler<ChangeRole> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: ChangeRole, _: &mut Context<Self>) {
        let affected: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, m)| *m.principal.user == *msg.user && *m.principal.account == *msg.account)
            .map(|(id, _)| *id)
            .collect();
        for id in affected {
            let Some(role) = msg.role else {
                self.evict(id, close::ACCESS_REVOKED, "membership_removed");
                continue;
            };
            let Some(member) = self.sessions.get_mut(&id) else {
                continue;
            };
            let old = member.principal.role;
            let new = if member.principal.session.is_some() || role.rank() < old.rank() {
                role
            } else {
                old
            };
            if new != old {
                let mut principal = (*member.principal).clone();
                principal.role = new;
                member.principal = Arc::new(principal);
                member.can_write.store(new.can_write(), Ordering::Release);
                if old.can_write() && !new.can_write() {
                    self.send_to(
                        id,
                        sync::encode_permission_denied("read-only: your role was changed"),
                    );
                }
                tracing::info!(parent: &self.span, session = id, from = old.as_str(), to = new.as_str(), "role changed on an open session");
            }
        }
    }
}

/// A login session was revoked: close the sockets its tokens opened here (4403).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseSession {
    pub session: String,
}

impl Handler<CloseSession> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: CloseSession, _: &mut Context<Self>) {
        let closing: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, m)| m.principal.session.as_deref() == Some(msg.session.as_str()))
            .map(|(id, _)| *id)
            .collect();
        for id in closing {
            self.evict(id, close::ACCESS_REVOKED, "session_revoked");
        }
    }
}

/// A participant the server plays (the AI) shows or updates its presence here, as if from a
/// session of its own; `None` removes it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Participant {
    pub session: SessionId,
    pub user: Arc<str>,
    pub update: Option<yrs::sync::AwarenessUpdate>,
}

impl Handler<Participant> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: Participant, _: &mut Context<Self>) {
        let Some(update) = msg.update else {
            self.announce_departure(msg.session);
            return;
        };
        let applied = self
            .presence
            .apply(msg.session, &msg.user, Role::Editor.as_str(), update);
        if let Some(relay) = applied.relay {
            self.publish(DocMessage::Awareness(relay.encode_v1().into()));
            self.broadcast(&sync::encode_awareness(relay), None);
        }
    }
}

/// The durable state for a new version, and who wrote since the previous one (then forgotten).
#[derive(Message)]
#[rtype(result = "Result<(Vec<u8>, Vec<String>), DocError>")]
pub struct TakeVersion {
    pub principal: Arc<Principal>,
}

impl Handler<TakeVersion> for DocumentActor {
    type Result = Result<(Vec<u8>, Vec<String>), DocError>;

    fn handle(&mut self, msg: TakeVersion, _: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        self.check_owner(&msg.principal)?;
        let state = self.encoded_state().to_vec();
        let changed_by = std::mem::take(&mut self.changed_by)
            .into_iter()
            .map(|u| u.to_string())
            .collect();
        Ok((state, changed_by))
    }
}

/// A document event (a workflow transition) for the sessions that asked for events.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Event {
    pub json: String,
}

impl Handler<Event> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: Event, _: &mut Context<Self>) {
        self.send_event(&msg.json);
    }
}

impl DocumentActor {
    fn send_event(&mut self, json: &str) {
        let frame = sync::encode_event(json);
        let listening: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, m)| m.extensions.events)
            .map(|(id, _)| *id)
            .collect();
        for id in listening {
            self.send_to(id, frame.clone());
        }
    }
}

/// A session asks to receive this document's updates.
#[derive(Message)]
#[rtype(result = "Result<(), DocError>")]
pub struct Join {
    pub session: SessionId,
    pub principal: Arc<Principal>,
    pub outbox: Arc<Outbox>,
    pub can_write: Arc<AtomicBool>,
    pub control: Recipient<SessionCommand>,
    pub extensions: sync::Extensions,
}

impl Handler<Join> for DocumentActor {
    type Result = Result<(), DocError>;

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        self.check_owner(&msg.principal)?;
        if self.sessions.len() >= self.config.max_connections_per_document {
            return Err(DocError::TooManyConnections);
        }
        if let Some(h) = self.idle_timer.take() {
            ctx.cancel_future(h);
        }
        // The server's SyncStep1 pulls in whatever the client holds that we lack (offline
        // edits); current presence follows so the newcomer sees who is here.
        let sv = self.doc.transact().state_vector();
        let mut initial = vec![sync::encode_sync_step1(&sv)];
        if let Some(all) = self.presence.snapshot() {
            initial.push(sync::encode_awareness(all));
        }
        for frame in initial {
            // A fresh queue has room; failing means the session is already gone, and its
            // Leave will follow.
            let _ = msg.outbox.push(frame);
        }
        self.sessions.insert(
            msg.session,
            Member {
                principal: msg.principal,
                outbox: msg.outbox,
                can_write: msg.can_write,
                control: msg.control,
                extensions: msg.extensions,
                accepted: 0,
                durable: 0,
            },
        );
        Ok(())
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub session: SessionId,
}

impl Handler<Leave> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        if let Some(m) = self.remove_member(msg.session) {
            if m.accepted > m.durable {
                tracing::debug!(parent: &self.span, session = msg.session, waiting = m.accepted - m.durable, "session left with writes in flight; they are still committed");
            }
            self.announce_departure(msg.session);
        }
        self.schedule_unload(ctx);
    }
}

/// The decoded messages of one client frame, with the frame's share of the session's
/// in-flight budget (given back when this is handled or dropped).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FromClient {
    pub session: SessionId,
    pub messages: Vec<Inbound>,
    pub credit: Credit,
}

impl Handler<FromClient> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: FromClient, ctx: &mut Context<Self>) {
        if self.phase == Phase::Live {
            for m in msg.messages {
                self.handle_client(msg.session, m, ctx);
            }
        }
    }
}

/// Access check for a principal, creating the document for its account when `create` is set and
/// the document does not exist yet (a document belongs to the account that first opened it).
#[derive(Message)]
#[rtype(result = "Result<DocumentMeta, DocError>")]
pub struct Access {
    pub principal: Arc<Principal>,
    pub create: bool,
}

impl Handler<Access> for DocumentActor {
    type Result = AtomicResponse<Self, Result<DocumentMeta, DocError>>;

    fn handle(&mut self, msg: Access, _: &mut Context<Self>) -> Self::Result {
        let immediate = |r| AtomicResponse::new(Box::pin(fut::ready(r)));
        if let Err(e) = self.ready() {
            return immediate(Err(e));
        }
        if self.meta.is_some() || !msg.create {
            let r = self.check_owner(&msg.principal).cloned();
            let r = r.and_then(|m| {
                if msg.create && self.sessions.len() >= self.config.max_connections_per_document {
                    Err(DocError::TooManyConnections)
                } else {
                    Ok(m)
                }
            });
            return immediate(r);
        }
        let store = self.store.clone();
        let id = self.id.clone();
        let account = msg.principal.account.clone();
        // Atomic: no other message interleaves while the owner is being recorded.
        AtomicResponse::new(Box::pin(
            async move { store.claim(&id, &account).await }
                .into_actor(self)
                .map(move |result, act, _| {
                    let meta = result?;
                    act.meta = Some(meta);
                    act.check_owner(&msg.principal).cloned()
                }),
        ))
    }
}

/// A binary update from REST, validated and decoded by the handler: same rules as the socket,
/// except that an update that does not resolve is refused rather than parked. Answered once
/// durable.
#[derive(Message)]
#[rtype(result = "Result<oneshot::Receiver<Result<(), DocError>>, DocError>")]
pub struct ApplyUpdate {
    pub principal: Arc<Principal>,
    pub raw: Bytes,
    pub shape: UpdateShape,
    pub update: Update,
}

impl Handler<ApplyUpdate> for DocumentActor {
    type Result = Result<oneshot::Receiver<Result<(), DocError>>, DocError>;

    fn handle(&mut self, msg: ApplyUpdate, ctx: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        self.check_owner(&msg.principal)?;
        self.admit(&msg.principal, &msg.raw)?;
        let (tx, rx) = oneshot::channel();
        if !sync::update_changes(&self.doc, self.intake.known(), &msg.shape, &msg.update) {
            let _ = tx.send(Ok(()));
            return Ok(rx);
        }
        self.intake
            .take_now(&msg.shape)
            .map_err(|e| DocError::Unresolved(e.to_string()))?;
        self.enqueue(
            msg.raw,
            msg.update,
            Writer::Rest(tx),
            msg.principal.user.clone(),
            ctx,
        );
        self.take_ready(ctx);
        Ok(rx)
    }
}

/// The durable state as one binary Yjs update.
#[derive(Message)]
#[rtype(result = "Result<Bytes, DocError>")]
pub struct GetState {
    pub principal: Arc<Principal>,
}

impl Handler<GetState> for DocumentActor {
    type Result = Result<Bytes, DocError>;

    fn handle(&mut self, msg: GetState, _: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        self.check_owner(&msg.principal)?;
        Ok(self.encoded_state())
    }
}

#[derive(Message)]
#[rtype(result = "Result<DocInfo, DocError>")]
pub struct GetInfo {
    pub principal: Arc<Principal>,
}

impl Handler<GetInfo> for DocumentActor {
    type Result = Result<DocInfo, DocError>;

    fn handle(&mut self, msg: GetInfo, _: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        let meta = self.check_owner(&msg.principal)?.clone();
        Ok(DocInfo {
            meta,
            live_sessions: self.sessions.len(),
            presence_states: self.presence.live_states(),
            approx_bytes: self.approx_bytes,
            log_len: self.log_len,
        })
    }
}

/// Server shutdown: close every socket with "going away", then answer once every accepted
/// update is durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for DocumentActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) -> Self::Result {
        let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for id in ids {
            self.evict(id, close::GOING_AWAY, "shutdown");
        }
        if let Some(h) = self.idle_timer.take() {
            ctx.cancel_future(h);
        }
        if self.pending.is_empty() && !self.in_flight {
            return Box::pin(async {});
        }
        let (tx, rx) = oneshot::channel();
        self.flushed_waiters.push(tx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
