//! `SessionActor`: one per WebSocket. Reads whole messages (`socket::FrameReader`), decodes
//! them (`sync/`), paces the client to its message rate and relays to its `DocumentActor`.
//!
//! Nothing a client sends can pile up: a session reads its socket only while its document keeps
//! up (a bounded number of bytes and frames in flight) and while the client is within its rate.
//! Otherwise it stops reading, so TCP pushes back on the client; nothing is refused and nothing
//! is lost. Outbound frames wait in the session's bounded `Outbox`, and a client that lets it
//! fill is disconnected with a transient code (it resyncs on reconnect).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::document::{DocError, DocumentActor, FromClient, Join, Leave, SessionCommand};
use super::registry::DocumentRegistry;
use crate::auth::Principal;
use crate::bus::limits::{Lease, SharedLimits};
use crate::config::Config;
use crate::socket::inflight::Inflight;
use crate::socket::{CloseCode, CloseReason, FrameReader, Incoming, Outbox, ReadError};
use crate::sync::awareness::SessionId;
use crate::sync::{self, close, FrameLimits, Inbound, UpdateKind};

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// Open sockets per user on this node, held by each session until it ends.
#[derive(Default)]
pub struct ConnectionSlots {
    per_user: Mutex<HashMap<Arc<str>, usize>>,
}

pub struct ConnectionSlot {
    slots: Arc<ConnectionSlots>,
    user: Arc<str>,
    /// This connection's place in the cluster-wide counts (with Redis).
    lease: Option<Lease>,
}

impl ConnectionSlot {
    pub fn hold(&mut self, lease: Option<Lease>) {
        self.lease = lease;
    }
}

impl ConnectionSlots {
    /// `user` is a `Principal::limit_key`.
    pub fn acquire(self: &Arc<Self>, user: &Arc<str>, max: usize) -> Option<ConnectionSlot> {
        let mut map = self.per_user.lock().expect("slots lock");
        let n = map.entry(user.clone()).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            slots: self.clone(),
            user: user.clone(),
            lease: None,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut map = self.slots.per_user.lock().expect("slots lock");
        if let Some(n) = map.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.user);
            }
        }
    }
}

/// Everything a session needs from the server, handed over at the upgrade.
pub struct SessionSetup {
    pub doc_id: Arc<str>,
    pub principal: Arc<Principal>,
    pub registry: Arc<DocumentRegistry>,
    pub config: Arc<Config>,
    pub limits: Arc<SharedLimits>,
    pub outbox: Arc<Outbox>,
    pub reader: FrameReader,
    pub extensions: sync::Extensions,
    pub slot: ConnectionSlot,
}

pub struct SessionActor {
    id: SessionId,
    doc_id: Arc<str>,
    principal: Arc<Principal>,
    /// `principal.limit_key()`, computed once.
    limit_key: Arc<str>,
    registry: Arc<DocumentRegistry>,
    config: Arc<Config>,
    frame_limits: FrameLimits,
    limits: Arc<SharedLimits>,
    doc: Option<Addr<DocumentActor>>,
    outbox: Arc<Outbox>,
    /// Whether the session's role may write now: set by the document when the role changes,
    /// read before any update is decoded.
    can_write: Arc<AtomicBool>,
    inflight: Arc<Inflight>,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// Since when every frame has had to wait for the rate (cleared by one that did not).
    throttled_since: Option<Instant>,
    last_seen: Instant,
    extensions: sync::Extensions,
    closing: bool,
    _slot: ConnectionSlot,
    /// Every event this session logs carries its session, document and user ids.
    span: tracing::Span,
}

impl SessionActor {
    /// Starts the session actor for an upgraded connection.
    pub fn spawn(setup: SessionSetup) -> Addr<SessionActor> {
        let SessionSetup {
            doc_id,
            principal,
            registry,
            config,
            limits,
            outbox,
            reader,
            extensions,
            slot,
        } = setup;
        let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        let rate = NonZeroU32::new(config.session_messages_per_second.max(1)).expect("nonzero");
        // A frame carries up to `max_messages_per_frame` messages and is counted whole, so the
        // burst must hold at least one frame's worth.
        let burst = config
            .session_message_burst
            .max(config.max_messages_per_frame as u32)
            .max(1);
        let burst = NonZeroU32::new(burst).expect("nonzero");
        let limiter = Arc::new(RateLimiter::direct(
            Quota::per_second(rate).allow_burst(burst),
        ));
        let span =
            tracing::info_span!("session", session = id, doc = %doc_id, user = %principal.user);
        SessionActor::create(move |ctx| {
            ctx.add_stream(reader);
            SessionActor {
                span,
                id,
                doc_id,
                limit_key: principal.limit_key(),
                can_write: Arc::new(AtomicBool::new(principal.role.can_write())),
                principal,
                registry,
                frame_limits: config.frame_limits(),
                config,
                limits,
                doc: None,
                outbox,
                inflight: Arc::default(),
                limiter,
                throttled_since: None,
                last_seen: Instant::now(),
                extensions,
                closing: false,
                _slot: slot,
            }
        })
    }

    fn close(&mut self, code: u16, reason: &str, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.closing = true;
        tracing::debug!(parent: &self.span, code, reason, "closing session");
        self.outbox.close(Some(CloseReason {
            code: CloseCode::from(code),
            description: Some(reason.to_string()),
        }));
        ctx.stop();
    }

    fn refuse(
        &mut self,
        code: u16,
        metric_reason: &'static str,
        detail: &str,
        ctx: &mut Context<Self>,
    ) {
        metrics::counter!("creo_refused_messages_total", "reason" => metric_reason).increment(1);
        tracing::info!(parent: &self.span, reason = metric_reason, detail, "refused client message");
        self.close(code, detail, ctx);
    }

    fn on_frame(&mut self, frame: Bytes, ctx: &mut Context<Self>) {
        metrics::counter!("creo_ws_frames_in_total").increment(1);
        let writer = self.can_write.load(Ordering::Acquire);
        let messages = match sync::decode_frame(&frame, writer, &self.frame_limits) {
            Ok(messages) => messages,
            Err(e) => {
                let detail = e.to_string();
                return self.refuse(e.close_code(), e.metric_reason(), &detail, ctx);
            }
        };
        let count = messages.len();
        let mut forward = Vec::with_capacity(count);
        for msg in messages {
            match msg {
                // A reader's answer to our SyncStep1: there is nothing of theirs to store.
                Inbound::ReadOnlyUpdate(UpdateKind::SyncStep2) => {}
                Inbound::ReadOnlyUpdate(UpdateKind::Update) => {
                    metrics::counter!("creo_refused_messages_total", "reason" => "read_only")
                        .increment(1);
                    let denied = sync::encode_permission_denied("read-only: your role cannot edit");
                    if self.outbox.push(denied).is_err() {
                        metrics::counter!("creo_disconnects_total", "reason" => "fell behind")
                            .increment(1);
                        return self.close(close::SLOW_CONSUMER, "fell behind", ctx);
                    }
                }
                other => forward.push(other),
            }
        }
        if !forward.is_empty() {
            self.relay(forward, frame.len(), ctx);
        }
        self.pace(count as u32, ctx);
    }

    /// Hands decoded messages to the document; stops reading while too much is in flight.
    fn relay(&mut self, messages: Vec<Inbound>, bytes: usize, ctx: &mut Context<Self>) {
        let Some(doc) = &self.doc else { return };
        doc.do_send(FromClient {
            session: self.id,
            messages,
            credit: self.inflight.take(bytes),
        });
        let (max_bytes, max_frames) = (
            self.config.inbound_inflight_bytes,
            self.config.inbound_inflight_frames,
        );
        if self.inflight.over(max_bytes, max_frames) {
            metrics::counter!("creo_session_paused_total", "reason" => "document_busy")
                .increment(1);
            let inflight = self.inflight.clone();
            ctx.wait(
                async move {
                    while inflight.over(max_bytes / 2, max_frames / 2) {
                        inflight.drained().await;
                    }
                }
                .into_actor(self),
            );
        }
    }

    /// Counts `n` messages against the session's and the user's rates. Over either, the session
    /// stops reading until the rate allows them (backpressure, not refusal); a client kept
    /// waiting for `rate_limit_close_after_ms` on end is closed with a transient code.
    fn pace(&mut self, n: u32, ctx: &mut Context<Self>) {
        let Some(n) = NonZeroU32::new(n) else { return };
        let session_ok = matches!(self.limiter.check_n(n), Ok(Ok(())));
        if session_ok
            && self.limits.message_wait_locally(&self.limit_key, n.get()) == Some(Duration::ZERO)
        {
            self.throttled_since = None;
            return;
        }
        let since = *self.throttled_since.get_or_insert_with(Instant::now);
        if since.elapsed() > Duration::from_millis(self.config.rate_limit_close_after_ms) {
            metrics::counter!("creo_disconnects_total", "reason" => "rate_limited").increment(1);
            return self.close(
                close::RATE_LIMITED,
                "message rate exceeded for too long",
                ctx,
            );
        }
        let (limiter, limits, key) = (
            self.limiter.clone(),
            self.limits.clone(),
            self.limit_key.clone(),
        );
        ctx.wait(
            async move {
                let mut reason = None;
                while !session_ok {
                    match limiter.check_n(n) {
                        Ok(Ok(())) => break,
                        Ok(Err(not_until)) => {
                            reason = Some("session_rate");
                            let wait = not_until.wait_time_from(DefaultClock::default().now());
                            actix_rt::time::sleep(wait).await;
                        }
                        Err(_) => break, // n is within the burst by construction
                    }
                }
                loop {
                    let wait = limits.message_wait(&key, n.get()).await;
                    if wait.is_zero() {
                        break;
                    }
                    reason = reason.or(Some("user_rate"));
                    actix_rt::time::sleep(wait).await;
                }
                reason
            }
            .into_actor(self)
            .map(|reason, act, _| match reason {
                Some(reason) => {
                    metrics::counter!("creo_session_paused_total", "reason" => reason).increment(1)
                }
                None => act.throttled_since = None,
            }),
        );
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        if self.last_seen.elapsed() > self.config.ping_timeout() {
            metrics::counter!("creo_disconnects_total", "reason" => "heartbeat_timeout")
                .increment(1);
            return self.close(close::HEARTBEAT_TIMEOUT, "heartbeat timeout", ctx);
        }
        if self.doc.as_ref().is_some_and(|d| !d.connected()) {
            return self.close(close::INTERNAL_ERROR, "document stopped", ctx);
        }
        self.outbox.ping();
    }
}

fn join_close_code(e: &DocError) -> u16 {
    match e {
        DocError::Forbidden | DocError::NotFound => close::NOT_FOUND,
        _ => close::TRY_AGAIN_LATER,
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::gauge!("creo_live_sessions").increment(1.0);
        let registry = self.registry.clone();
        let doc_id = self.doc_id.clone();
        let (id, principal, outbox, can_write, extensions) = (
            self.id,
            self.principal.clone(),
            self.outbox.clone(),
            self.can_write.clone(),
            self.extensions,
        );
        let control = ctx.address().recipient();
        // Frames are not read until the document is joined (and so loaded).
        ctx.wait(
            async move {
                registry
                    .ask_addr(&doc_id, || Join {
                        session: id,
                        principal: principal.clone(),
                        outbox: outbox.clone(),
                        can_write: can_write.clone(),
                        control: control.clone(),
                        extensions,
                    })
                    .await
            }
            .into_actor(self)
            .map(|result, act, ctx| match result {
                Ok(((), addr)) => act.doc = Some(addr),
                Err(e) => {
                    tracing::warn!(parent: &act.span, error = %e, "join failed");
                    let reason = e.to_string();
                    act.close(join_close_code(&e), &reason, ctx);
                }
            }),
        );
        let interval = self.config.ping_interval();
        ctx.run_interval(interval, |act, ctx| act.heartbeat(ctx));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics::gauge!("creo_live_sessions").decrement(1.0);
        if let Some(doc) = &self.doc {
            doc.do_send(Leave { session: self.id });
        }
        self.outbox.close(Some(CloseCode::Normal.into()));
    }
}

impl StreamHandler<Result<Incoming, ReadError>> for SessionActor {
    fn handle(&mut self, item: Result<Incoming, ReadError>, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.last_seen = Instant::now();
        match item {
            Ok(Incoming::Binary(frame)) => self.on_frame(frame, ctx),
            Ok(Incoming::Text) => self.refuse(
                close::TEXT_FRAME,
                "text_frame",
                "the Yjs protocol uses binary frames",
                ctx,
            ),
            Ok(Incoming::Ping(payload)) => {
                // Pings count against the rate like any message: a ping flood is paced too.
                self.outbox.pong(&payload);
                self.pace(1, ctx);
            }
            Ok(Incoming::Pong) => {}
            Ok(Incoming::Close(_)) => self.close(CloseCode::Normal.into(), "bye", ctx),
            Err(ReadError::TooBig) => self.refuse(
                close::MESSAGE_TOO_BIG,
                "oversized",
                "message exceeds max_message_bytes",
                ctx,
            ),
            Err(ReadError::Protocol(e)) => {
                let detail = e.to_string();
                self.refuse(close::PROTOCOL_ERROR, "protocol_error", &detail, ctx)
            }
            Err(ReadError::Connection(_)) => ctx.stop(),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // The client went away (TCP closed): leave the document, release presence.
        ctx.stop();
    }
}

impl Handler<SessionCommand> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: SessionCommand, ctx: &mut Context<Self>) {
        match msg {
            SessionCommand::Close { code, reason } => self.close(code, reason, ctx),
        }
    }
}
