//! `SessionActor`: one per WebSocket. Decodes frames (`sync/`), enforces the per-session rate
//! limit and heartbeat, and relays messages to its `DocumentActor`.
//!
//! Outbound frames never pass through an unbounded buffer: the document pushes them into this
//! session's bounded queue, a writer task drains it into the socket, and a full queue gets the
//! session disconnected (it resyncs on reconnect) instead of growing.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{mpsc, oneshot};

use super::document::{DocError, DocumentActor, FromClient, Join, Leave};
use super::registry::DocumentRegistry;
use crate::auth::Principal;
use crate::bus::limits::{Lease, SharedLimits};
use crate::config::Config;
use crate::sync::awareness::SessionId;
use crate::sync::{self, close};

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// Commands a document (or the server) sends to a session.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub enum SessionCommand {
    Close { code: u16, reason: &'static str },
}

/// Control frames for the socket writer. Closing has its own channel so it can interrupt a
/// write stuck on a client that stopped reading.
enum Control {
    Ping,
    Pong(Bytes),
}

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

pub struct SessionActor {
    id: SessionId,
    doc_id: Arc<str>,
    principal: Arc<Principal>,
    registry: Arc<DocumentRegistry>,
    config: Arc<Config>,
    limits: Arc<SharedLimits>,
    doc: Option<Addr<DocumentActor>>,
    outbound: mpsc::Sender<Bytes>,
    control: mpsc::UnboundedSender<Control>,
    closer: Option<oneshot::Sender<CloseReason>>,
    limiter: DefaultDirectRateLimiter,
    last_seen: Instant,
    extensions: sync::Extensions,
    closing: bool,
    _slot: ConnectionSlot,
    /// Every event this session logs carries its session, document and user ids.
    span: tracing::Span,
}

impl SessionActor {
    /// Starts the session actor and its socket writer for an upgraded connection.
    #[allow(clippy::too_many_arguments)]
    pub fn spawn(
        doc_id: Arc<str>,
        principal: Arc<Principal>,
        registry: Arc<DocumentRegistry>,
        config: Arc<Config>,
        limits: Arc<SharedLimits>,
        socket: actix_ws::Session,
        stream: actix_ws::AggregatedMessageStream,
        extensions: sync::Extensions,
        slot: ConnectionSlot,
    ) -> Addr<SessionActor> {
        let (outbound, outbound_rx) = mpsc::channel(config.outbound_queue_frames.max(4));
        let (control, control_rx) = mpsc::unbounded_channel();
        let (closer, close_rx) = oneshot::channel();
        let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        actix_rt::spawn(write_socket(id, socket, outbound_rx, control_rx, close_rx));
        let rate = NonZeroU32::new(config.session_messages_per_second.max(1)).expect("nonzero");
        let burst = NonZeroU32::new(config.session_message_burst.max(1)).expect("nonzero");
        let limiter = RateLimiter::direct(Quota::per_second(rate).allow_burst(burst));
        let span =
            tracing::info_span!("session", session = id, doc = %doc_id, user = %principal.user);
        SessionActor::create(move |ctx| {
            ctx.add_stream(stream);
            SessionActor {
                span,
                id,
                doc_id,
                principal,
                registry,
                config,
                limits,
                doc: None,
                outbound,
                control,
                closer: Some(closer),
                limiter,
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
        if let Some(closer) = self.closer.take() {
            let _ = closer.send(CloseReason {
                code: CloseCode::from(code),
                description: Some(reason.to_string()),
            });
        }
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
        if self.limiter.check().is_err() {
            return self.refuse(
                close::RATE_LIMITED,
                "rate_limited",
                "rate limit exceeded",
                ctx,
            );
        }
        match self.limits.check_locally(&self.principal.user) {
            Some(true) => return self.relay(frame, ctx),
            Some(false) => {
                return self.refuse(
                    close::RATE_LIMITED,
                    "user_rate_limited",
                    "this user is sending messages too fast",
                    ctx,
                )
            }
            None => {}
        }
        // The user's limit spans all their sessions on every node: ask Redis. Waiting here keeps
        // this session's frames in order.
        let (limits, user) = (self.limits.clone(), self.principal.user.clone());
        ctx.wait(
            async move { limits.allow_message(&user).await }
                .into_actor(self)
                .map(move |allowed, act, ctx| {
                    if allowed {
                        act.relay(frame, ctx)
                    } else {
                        act.refuse(
                            close::RATE_LIMITED,
                            "user_rate_limited",
                            "this user is sending messages too fast",
                            ctx,
                        )
                    }
                }),
        );
    }

    fn relay(&mut self, frame: Bytes, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        let Some(doc) = &self.doc else { return };
        match sync::decode_frame(&frame) {
            Ok(messages) => {
                for msg in messages {
                    doc.do_send(FromClient {
                        session: self.id,
                        msg,
                    });
                }
            }
            Err(e) => {
                let detail = e.to_string();
                self.refuse(e.close_code(), e.metric_reason(), &detail, ctx)
            }
        }
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
        let _ = self.control.send(Control::Ping);
    }
}

fn join_close_code(e: &DocError) -> u16 {
    match e {
        DocError::Forbidden | DocError::NotFound => close::PROTOCOL_ERROR,
        _ => close::TRY_AGAIN_LATER,
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::gauge!("creo_live_sessions").increment(1.0);
        let registry = self.registry.clone();
        let doc_id = self.doc_id.clone();
        let (id, principal, outbound, extensions) = (
            self.id,
            self.principal.clone(),
            self.outbound.clone(),
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
                        outbound: outbound.clone(),
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
        if let Some(closer) = self.closer.take() {
            let _ = closer.send(CloseCode::Normal.into());
        }
    }
}

impl StreamHandler<Result<AggregatedMessage, ProtocolError>> for SessionActor {
    fn handle(&mut self, item: Result<AggregatedMessage, ProtocolError>, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.last_seen = Instant::now();
        match item {
            Ok(AggregatedMessage::Binary(frame)) => self.on_frame(frame, ctx),
            Ok(AggregatedMessage::Text(_)) => self.refuse(
                close::UNSUPPORTED_DATA,
                "text_frame",
                "the Yjs protocol uses binary frames",
                ctx,
            ),
            Ok(AggregatedMessage::Ping(payload)) => {
                let _ = self.control.send(Control::Pong(payload));
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => self.close(CloseCode::Normal.into(), "bye", ctx),
            Err(ProtocolError::Overflow) => self.refuse(
                close::MESSAGE_TOO_BIG,
                "oversized",
                "message exceeds max_message_bytes",
                ctx,
            ),
            Err(e) => {
                let detail = e.to_string();
                self.refuse(close::PROTOCOL_ERROR, "protocol_error", &detail, ctx)
            }
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

/// Drains a session's queues into its socket. Control frames overtake queued data, and a close
/// interrupts a write stuck on a client that stopped reading.
async fn write_socket(
    session: SessionId,
    mut socket: actix_ws::Session,
    mut frames: mpsc::Receiver<Bytes>,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut close: oneshot::Receiver<CloseReason>,
) {
    loop {
        tokio::select! {
            biased;
            reason = &mut close => return close_socket(socket, reason.ok()).await,
            cmd = control.recv() => {
                let sent = match cmd {
                    Some(Control::Ping) => socket.ping(b"").await,
                    Some(Control::Pong(p)) => socket.pong(&p).await,
                    None => break,
                };
                if sent.is_err() { break; }
            }
            frame = frames.recv() => {
                let Some(frame) = frame else { break };
                tokio::select! {
                    biased;
                    reason = &mut close => return close_socket(socket, reason.ok()).await,
                    sent = socket.binary(frame) => {
                        if sent.is_err() { break; }
                        metrics::counter!("creo_ws_frames_out_total").increment(1);
                    }
                }
            }
        }
    }
    tracing::trace!(session, "socket writer finished");
    close_socket(socket, None).await;
}

async fn close_socket(socket: actix_ws::Session, reason: Option<CloseReason>) {
    const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
    let _ = actix_rt::time::timeout(CLOSE_TIMEOUT, socket.close(reason)).await;
}
