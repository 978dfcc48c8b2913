//! `DocumentActor`: one per live document on this node. It wraps the document's `LiveDoc`
//! (`creo_core::live`: the CRDT, presence, intake and the batch waiting for the store, with the
//! rules that decide what happens to each update) and does what the rules cannot: it holds the
//! sessions' sockets, writes the store, talks to the bus, and keeps the timers.
//!
//! An update is applied and broadcast only after the store has it (group commit): no client ever
//! sees an edit that a crash could lose, and the sender's acknowledgement is truthful.
//!
//! This file holds the actor's state and lifecycle; its work is split by concern:
//! `intake` (a session's messages, checked and queued), `durability` (group commit, its
//! outcome, compaction, unloading), `fanout` (delivery to this node's sessions), `presence`
//! (presence going out, paced and riding with updates), `cluster` (the bus and resync) and `messages` (what the registry, sessions and REST ask of it).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use creo_core::live::{role_after_change, LiveDoc, Pending, Refusal, StoredSize};
use tokio::sync::oneshot;
use yrs::updates::encoder::Encode;
use yrs::{Doc, Update};

use crate::auth::{Principal, Role};
use crate::bus::{Bus, DocEvent, DocMessage, Membership, NodeId, Origin};
use crate::config::Config;
use crate::socket::inflight::Credit;
use crate::socket::{CloseCode, CloseReason, Outbox};
use crate::store::{DocumentLog, DocumentMeta, StoreError, StoreHealth, StoredDocument};
use crate::sync::awareness::SessionId;
use crate::sync::intake::Offer;
use crate::sync::relay::{PresenceRelay, Source};
use crate::sync::{self, close, ClientUpdate, Inbound, UpdateKind, UpdateShape};

mod cluster;
mod durability;
mod fanout;
mod intake;
mod messages;
mod presence;

pub use messages::*;

/// What a document tells whoever started it (the registry): that its content changed, and that
/// it is stopping. The document knows its home only through this, never the registry itself.
pub trait Home: Send + Sync + 'static {
    /// An update became durable (for search indexing and the `document.updated` event).
    fn changed(&self, doc_id: &Arc<str>, account_id: &str);
    /// This actor is stopping: forget it, unless a newer actor already took its place.
    fn stopped(&self, doc_id: &str, addr: &Addr<DocumentActor>);
}

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

impl From<Refusal> for DocError {
    fn from(r: Refusal) -> DocError {
        match r {
            Refusal::ReadOnly => DocError::ReadOnly,
            Refusal::TooLarge => DocError::TooLarge,
            Refusal::Backlogged => DocError::Backlogged,
        }
    }
}

/// Who gets told when an update is durable.
enum Writer {
    Session(SessionId),
    Rest(oneshot::Sender<Result<(), DocError>>),
}

/// A session subscribed to this document: its socket's outbox and what the document knows of it.
struct Subscriber {
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
    store: Arc<dyn DocumentLog>,
    config: Arc<Config>,
    home: Arc<dyn Home>,
    phase: Phase,
    load_error: Option<String>,
    /// The document and its rules.
    live: LiveDoc<Writer>,
    meta: Option<DocumentMeta>,
    sessions: HashMap<SessionId, Subscriber>,
    /// Presence changes waiting for the document's next relay.
    presence_out: PresenceRelay,
    /// This document's writes are failing (counted in `StoreHealth` for `/readyz`).
    write_failing: bool,
    health: Arc<StoreHealth>,
    /// After a failed write, no new write starts until the backoff delay has passed.
    backing_off: bool,
    retry_delay: Duration,
    compacting: bool,
    idle_timer: Option<SpawnHandle>,
    flushed_waiters: Vec<oneshot::Sender<()>>,
    /// Every event this actor logs carries the document id through this span.
    span: tracing::Span,
}

impl DocumentActor {
    pub fn new(
        id: Arc<str>,
        store: Arc<dyn DocumentLog>,
        config: Arc<Config>,
        health: Arc<StoreHealth>,
        home: Arc<dyn Home>,
        bus: Arc<Bus>,
    ) -> Self {
        let live = LiveDoc::new(creo_core::live::Limits {
            max_document_bytes: config.max_document_bytes,
            max_pending_bytes: config.max_pending_bytes,
            commit_max_updates: config.commit_max_updates,
            compact_after_updates: config.compact_after_updates,
            compact_after_bytes: config.compact_after_bytes,
            max_parked_bytes: config.max_parked_bytes,
            parked_timeout: config.parked_timeout(),
            awareness_clients_per_session: config.awareness_clients_per_session,
            awareness_timeout: config.awareness_timeout(),
        });
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
            home,
            phase: Phase::Loading,
            load_error: None,
            live,
            meta: None,
            sessions: HashMap::new(),
            presence_out: PresenceRelay::new(
                presence::PRESENCE_INTERVAL,
                presence::PRESENCE_LINGER,
            ),
            config,
            write_failing: false,
            health,
            backing_off: false,
            retry_delay: Duration::from_millis(50),
            compacting: false,
            idle_timer: None,
            flushed_waiters: Vec::new(),
        }
    }

    /// The whole durable state as one update (cached until the document changes): REST reads
    /// (state, comments, versions) cost one encode per change, not one per request.
    fn encoded_state(&mut self) -> Bytes {
        self.live.encoded_state()
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
                            let size = StoredSize {
                                bytes: stored.stored_bytes(),
                                epoch: stored.meta.epoch,
                                log_len: stored.updates.len() as u64,
                                log_bytes: stored.updates.iter().map(|u| u.len() as u64).sum(),
                            };
                            act.live.loaded(doc, size);
                            act.meta = Some(stored.meta);
                        }
                        act.phase = Phase::Live;
                        tracing::debug!(parent: &act.span, bytes = act.live.approx_bytes(), log = act.live.log_len(), "document loaded");
                        act.membership = Some(membership);
                        if let Some(events) = events {
                            ctx.add_stream(tokio_stream::wrappers::ReceiverStream::new(events));
                            // Meet the other nodes that have this document open.
                            act.publish(DocMessage::Hello { presence: None });
                            let timeout = act.config.awareness_timeout();
                            ctx.run_interval(timeout / 4, move |act, _| {
                                if let Some(gone) = act.live.presence_mut().expire_remote(timeout) {
                                    act.show_presence_now(Source::Remote, gone);
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
                        act.home.stopped(&act.id, &ctx.address());
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
        for writer in self.live.abandon() {
            if let Writer::Rest(reply) = writer {
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
                if let Some(gone) = self.live.presence_mut().remove_node(node) {
                    self.show_presence_now(Source::Remote, gone);
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
