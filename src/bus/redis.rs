//! The Redis bus: one pub/sub channel per document (`{prefix}:doc:{id}`) and one for the nodes
//! (`{prefix}:nodes`: heartbeats, goodbyes, access changes, messages to one person's inbox
//! streams).
//!
//! Three tasks per node, none of which ever waits on a document:
//! - the subscriber reads the node's pub/sub connection and hands each message to its
//!   document's bounded queue with `try_send` (a full queue drops the message and tells the
//!   document to resync, so one slow document never delays the others); it also subscribes and
//!   unsubscribes channels as documents open and close, and reconnects when the connection
//!   drops or its own heartbeats stop coming back, resubscribing and resyncing every document;
//! - the publisher drains an outgoing queue into pipelined PUBLISH commands, remembers which
//!   documents lost a message when Redis failed, and sends them a `Resync` notice once it works
//!   again;
//! - the heartbeat publishes this node's liveness; other nodes declare it gone when it is silent
//!   for `bus_node_timeout_ms`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink};
use ::redis::{Client, Msg};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::envelope::{DocMessage, Envelope, NodeId, Origin};
use super::inbox::Inboxes;
use super::{AccessChange, DocEvent};
use crate::config::Config;

/// Most PUBLISH commands sent in one pipeline.
const PUBLISH_BATCH: usize = 512;
/// Most channels in one SUBSCRIBE (a resubscription after reconnect is chunked).
const SUBSCRIBE_CHUNK: usize = 1_000;

struct Route {
    id: u64,
    events: mpsc::Sender<DocEvent>,
    /// Set while a `Resync` is on its way after this route's queue overflowed.
    overflowed: Arc<AtomicBool>,
}

/// A request to bring the Redis subscription of a document in line with `routes`.
struct SubscriptionChange {
    doc: Arc<str>,
    confirmed: Option<oneshot::Sender<()>>,
}

struct Outgoing {
    channel: String,
    payload: Vec<u8>,
    /// The document it belongs to: if it is lost, that document's receivers must resync.
    doc: Option<Arc<str>>,
}

/// A reconnecting, multiplexed connection for commands, connected on first use (a node starts
/// even while Redis is down). Commands fail after `timeout` instead of queueing behind an
/// outage.
pub(crate) fn commands_connection(
    client: &Client,
    timeout: Duration,
) -> ::redis::RedisResult<ConnectionManager> {
    ConnectionManager::new_lazy_with_config(
        client.clone(),
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500)),
    )
}

pub struct RedisBus {
    node: NodeId,
    prefix: String,
    routes: Mutex<HashMap<Arc<str>, Route>>,
    changes: mpsc::UnboundedSender<SubscriptionChange>,
    outgoing: mpsc::Sender<Outgoing>,
    /// Documents that lost an outgoing message; they get a `Resync` notice once Redis answers.
    lost: Mutex<HashSet<Arc<str>>>,
    subscribed: AtomicBool,
    /// How many times the subscriber has (re)subscribed: what a cache built on bus messages
    /// checks (a message may have been lost between two subscriptions).
    subscriptions: AtomicU64,
    publishing: AtomicBool,
    next_route: AtomicU64,
    queue_per_document: usize,
    timeout: Duration,
    /// This node's live inbox streams, for messages other nodes publish to a person.
    inboxes: Arc<Inboxes>,
}

impl RedisBus {
    pub fn start(
        node: NodeId,
        url: &str,
        config: &Config,
        access: mpsc::UnboundedSender<AccessChange>,
        inboxes: Arc<Inboxes>,
    ) -> anyhow::Result<Arc<RedisBus>> {
        let client = Client::open(url)?;
        let timeout = Duration::from_millis(config.redis_timeout_ms);
        let manager = commands_connection(&client, timeout)?;
        let (changes, changes_rx) = mpsc::unbounded_channel();
        let (outgoing, outgoing_rx) = mpsc::channel(config.bus_publish_queue.max(16));
        let bus = Arc::new(RedisBus {
            node,
            prefix: config.bus_prefix.clone(),
            routes: Mutex::new(HashMap::new()),
            changes,
            outgoing,
            lost: Mutex::new(HashSet::new()),
            subscribed: AtomicBool::new(false),
            subscriptions: AtomicU64::new(0),
            publishing: AtomicBool::new(true),
            next_route: AtomicU64::new(1),
            queue_per_document: config.bus_queue_per_document.max(16),
            timeout,
            inboxes,
        });
        let heartbeat = Duration::from_millis(config.bus_heartbeat_ms.max(10));
        let node_timeout = Duration::from_millis(config.bus_node_timeout_ms.max(30));
        actix_rt::spawn(bus.clone().subscribe_loop(
            client,
            changes_rx,
            access,
            heartbeat,
            node_timeout,
        ));
        actix_rt::spawn(bus.clone().publish_loop(manager, outgoing_rx));
        actix_rt::spawn(bus.clone().heartbeat_loop(heartbeat));
        tracing::info!(node = format_args!("{node:016x}"), prefix = %config.bus_prefix, "cluster bus on Redis");
        Ok(bus)
    }

    /// The current subscription's number while subscribed; `None` while not (messages may be
    /// getting lost).
    pub fn subscription(&self) -> Option<u64> {
        self.subscribed
            .load(Ordering::Acquire)
            .then(|| self.subscriptions.load(Ordering::Acquire))
    }

    /// Both directions work: this node hears the others and can be heard.
    pub fn connected(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed) && self.publishing.load(Ordering::Relaxed)
    }

    fn node_channel(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    fn doc_channel(&self, doc: &str) -> String {
        format!("{}:doc:{doc}", self.prefix)
    }

    pub async fn join(&self, doc: &Arc<str>) -> (u64, mpsc::Receiver<DocEvent>) {
        let (tx, rx) = mpsc::channel(self.queue_per_document);
        let id = self.next_route.fetch_add(1, Ordering::Relaxed);
        self.routes.lock().expect("routes lock").insert(
            doc.clone(),
            Route {
                id,
                events: tx,
                overflowed: Arc::new(AtomicBool::new(false)),
            },
        );
        let (confirmed, done) = oneshot::channel();
        let _ = self.changes.send(SubscriptionChange {
            doc: doc.clone(),
            confirmed: Some(confirmed),
        });
        if self.subscribed.load(Ordering::Relaxed) {
            // If this times out the subscriber gives the document a `Resync` once subscribed.
            if actix_rt::time::timeout(self.timeout, done).await.is_err() {
                tracing::warn!(doc = %doc, "bus subscription not confirmed in time; the document resyncs once it is");
            }
        }
        (id, rx)
    }

    pub fn leave(&self, doc: &Arc<str>, route: u64) {
        let mut routes = self.routes.lock().expect("routes lock");
        // A newer actor of the same document may have joined already; its route stays.
        if routes.get(doc).is_some_and(|r| r.id == route) {
            routes.remove(doc);
            let _ = self.changes.send(SubscriptionChange {
                doc: doc.clone(),
                confirmed: None,
            });
        }
    }

    pub fn publish_doc(&self, doc: &Arc<str>, origin: Origin, seq: u64, message: DocMessage) {
        let payload = Envelope::Doc {
            origin,
            seq,
            message,
        }
        .encode();
        self.enqueue(Outgoing {
            channel: self.doc_channel(doc),
            payload,
            doc: Some(doc.clone()),
        });
    }

    pub fn publish_access(&self, change: &AccessChange) {
        let payload = Envelope::Access {
            node: self.node,
            change: change.clone(),
        }
        .encode();
        self.enqueue(Outgoing {
            channel: self.node_channel(),
            payload,
            doc: None,
        });
    }

    /// Publishes a message for one person's inbox streams on the other nodes.
    pub fn publish_inbox(&self, user: &str, event: &str) {
        let payload = Envelope::Inbox {
            node: self.node,
            user: user.to_string(),
            event: event.to_string(),
        }
        .encode();
        self.enqueue(Outgoing {
            channel: self.node_channel(),
            payload,
            doc: None,
        });
    }

    pub async fn say_goodbye(&self) {
        let payload = Envelope::Bye { node: self.node }.encode();
        let channel = self.node_channel();
        let _ = actix_rt::time::timeout(
            self.timeout,
            self.outgoing.send(Outgoing {
                channel,
                payload,
                doc: None,
            }),
        )
        .await;
        // Give the publisher a moment to send it before the process exits.
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }

    fn enqueue(&self, out: Outgoing) {
        metrics::counter!("creo_bus_published_total").increment(1);
        if let Err(e) = self.outgoing.try_send(out) {
            let out = match e {
                mpsc::error::TrySendError::Full(o) | mpsc::error::TrySendError::Closed(o) => o,
            };
            metrics::counter!("creo_bus_publish_dropped_total").increment(1);
            if let Some(doc) = out.doc {
                self.lost.lock().expect("lost lock").insert(doc);
            }
        }
    }

    /// Hands an event to a document's queue without ever waiting for it.
    fn deliver(&self, doc: &str, event: DocEvent) {
        let routes = self.routes.lock().expect("routes lock");
        let Some(route) = routes.get(doc) else {
            return; // closed meanwhile
        };
        match route.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("creo_bus_dropped_total", "reason" => "document_queue_full")
                    .increment(1);
                if !route.overflowed.swap(true, Ordering::AcqRel) {
                    let (events, flag) = (route.events.clone(), route.overflowed.clone());
                    actix_rt::spawn(async move {
                        let _ = events.send(DocEvent::Resync).await;
                        flag.store(false, Ordering::Release);
                    });
                }
            }
        }
    }

    fn deliver_all(&self, make: impl Fn() -> DocEvent) {
        let docs: Vec<Arc<str>> = self
            .routes
            .lock()
            .expect("routes lock")
            .keys()
            .cloned()
            .collect();
        for doc in docs {
            self.deliver(&doc, make());
        }
    }

    async fn subscribe_loop(
        self: Arc<Self>,
        client: Client,
        mut changes: mpsc::UnboundedReceiver<SubscriptionChange>,
        access: mpsc::UnboundedSender<AccessChange>,
        heartbeat: Duration,
        node_timeout: Duration,
    ) {
        let mut backoff = Duration::from_millis(100);
        let mut first = true;
        loop {
            let connected = actix_rt::time::timeout(self.timeout, client.get_async_pubsub()).await;
            let pubsub = match connected {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "cannot reach Redis for the bus");
                    actix_rt::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
                Err(_) => {
                    tracing::warn!(retry_in = ?backoff, "Redis did not answer in time");
                    actix_rt::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            let (mut sink, mut stream) = pubsub.split();
            if let Err(e) = self.resubscribe(&mut sink).await {
                tracing::warn!(error = %e, "bus resubscription failed");
                continue;
            }
            self.subscriptions.fetch_add(1, Ordering::AcqRel);
            self.subscribed.store(true, Ordering::Release);
            metrics::gauge!("creo_bus_connected").set(1.0);
            if !first {
                metrics::counter!("creo_bus_reconnects_total").increment(1);
                tracing::info!("bus reconnected: every open document resyncs from the store");
            }
            first = false;
            // Anything published while we were not subscribed is gone from pub/sub but not from
            // the store.
            self.deliver_all(|| DocEvent::Resync);
            let reason = self
                .serve(
                    &mut sink,
                    &mut stream,
                    &mut changes,
                    &access,
                    heartbeat,
                    node_timeout,
                )
                .await;
            self.subscribed.store(false, Ordering::Relaxed);
            metrics::gauge!("creo_bus_connected").set(0.0);
            tracing::warn!(reason, "bus subscription lost; reconnecting");
        }
    }

    async fn resubscribe(&self, sink: &mut PubSubSink) -> ::redis::RedisResult<()> {
        sink.subscribe(self.node_channel()).await?;
        let channels: Vec<String> = self
            .routes
            .lock()
            .expect("routes lock")
            .keys()
            .map(|d| self.doc_channel(d))
            .collect();
        for chunk in channels.chunks(SUBSCRIBE_CHUNK) {
            sink.subscribe(chunk).await?;
        }
        Ok(())
    }

    /// Reads one connection until it fails; returns why.
    async fn serve(
        &self,
        sink: &mut PubSubSink,
        stream: &mut ::redis::aio::PubSubStream,
        changes: &mut mpsc::UnboundedReceiver<SubscriptionChange>,
        access: &mpsc::UnboundedSender<AccessChange>,
        heartbeat: Duration,
        node_timeout: Duration,
    ) -> &'static str {
        let mut nodes: HashMap<NodeId, Instant> = HashMap::new();
        let mut own_heartbeat = Instant::now();
        let mut tick = actix_rt::time::interval(heartbeat);
        loop {
            tokio::select! {
                msg = stream.next() => {
                    let Some(msg) = msg else { return "connection closed" };
                    self.dispatch(&msg, &mut nodes, &mut own_heartbeat, access);
                }
                change = changes.recv() => {
                    let Some(change) = change else { return "bus stopped" };
                    let mut batch = vec![change];
                    while let Ok(more) = changes.try_recv() {
                        batch.push(more);
                    }
                    if let Err(e) = self.apply_changes(sink, batch).await {
                        tracing::warn!(error = %e, "bus (un)subscribe failed");
                        return "subscribe failed";
                    }
                }
                _ = tick.tick() => {
                    if own_heartbeat.elapsed() > node_timeout {
                        // Our own heartbeats stopped coming back: this connection is deaf.
                        return "own heartbeats stopped arriving";
                    }
                    let now = Instant::now();
                    let gone: Vec<NodeId> = nodes
                        .iter()
                        .filter(|(_, seen)| now.duration_since(**seen) > node_timeout)
                        .map(|(n, _)| *n)
                        .collect();
                    for node in gone {
                        nodes.remove(&node);
                        tracing::warn!(node = format_args!("{node:016x}"), "node stopped heartbeating; dropping its presence");
                        metrics::counter!("creo_bus_nodes_lost_total").increment(1);
                        self.deliver_all(|| DocEvent::NodeGone(node));
                    }
                    metrics::gauge!("creo_bus_nodes").set(nodes.len() as f64);
                }
            }
        }
    }

    /// Subscribes or unsubscribes each changed document so Redis matches `routes` as they are
    /// now: whatever order joins and leaves raced in, the last decision wins.
    async fn apply_changes(
        &self,
        sink: &mut PubSubSink,
        batch: Vec<SubscriptionChange>,
    ) -> ::redis::RedisResult<()> {
        let (mut subscribe, mut unsubscribe) = (Vec::new(), Vec::new());
        {
            let routes = self.routes.lock().expect("routes lock");
            let docs: HashSet<&Arc<str>> = batch.iter().map(|c| &c.doc).collect();
            for doc in docs {
                if routes.contains_key(doc) {
                    subscribe.push(self.doc_channel(doc));
                } else {
                    unsubscribe.push(self.doc_channel(doc));
                }
            }
        }
        for chunk in subscribe.chunks(SUBSCRIBE_CHUNK) {
            sink.subscribe(chunk).await?;
        }
        for chunk in unsubscribe.chunks(SUBSCRIBE_CHUNK) {
            sink.unsubscribe(chunk).await?;
        }
        for change in batch {
            if let Some(confirmed) = change.confirmed {
                if confirmed.send(()).is_err() {
                    // The joiner stopped waiting and may have loaded before this subscription.
                    self.deliver(&change.doc, DocEvent::Resync);
                }
            }
        }
        Ok(())
    }

    fn dispatch(
        &self,
        msg: &Msg,
        nodes: &mut HashMap<NodeId, Instant>,
        own_heartbeat: &mut Instant,
        access: &mpsc::UnboundedSender<AccessChange>,
    ) {
        metrics::counter!("creo_bus_received_total").increment(1);
        let envelope = match Envelope::decode(msg.get_payload_bytes()) {
            Ok(e) => e,
            Err(e) => {
                metrics::counter!("creo_bus_dropped_total", "reason" => "malformed").increment(1);
                tracing::warn!(channel = msg.get_channel_name(), error = %e, "malformed bus message");
                return;
            }
        };
        match envelope {
            Envelope::Doc {
                origin,
                seq,
                message,
            } => {
                if origin.node == self.node {
                    return; // our own publication, echoed back by Redis
                }
                let doc = msg
                    .get_channel_name()
                    .strip_prefix(&self.prefix)
                    .and_then(|c| c.strip_prefix(":doc:"));
                if let Some(doc) = doc {
                    self.deliver(
                        doc,
                        DocEvent::Remote {
                            origin,
                            seq,
                            message,
                        },
                    );
                }
            }
            Envelope::Heartbeat { node } => {
                if node == self.node {
                    *own_heartbeat = Instant::now();
                } else if nodes.insert(node, Instant::now()).is_none() {
                    tracing::info!(
                        node = format_args!("{node:016x}"),
                        "node joined the cluster"
                    );
                }
            }
            Envelope::Bye { node } => {
                if node != self.node && nodes.remove(&node).is_some() {
                    tracing::info!(node = format_args!("{node:016x}"), "node left the cluster");
                    self.deliver_all(|| DocEvent::NodeGone(node));
                }
            }
            Envelope::Access { node, change } => {
                if node != self.node {
                    let _ = access.send(change);
                }
            }
            Envelope::Inbox { node, user, event } => {
                if node != self.node {
                    self.inboxes.deliver(&user, &Arc::from(event));
                }
            }
        }
    }

    async fn publish_loop(
        self: Arc<Self>,
        mut conn: ConnectionManager,
        mut outgoing: mpsc::Receiver<Outgoing>,
    ) {
        let notice = Envelope::Doc {
            origin: Origin {
                node: self.node,
                actor: 0,
            },
            seq: 0,
            message: DocMessage::Resync,
        }
        .encode();
        let mut batch = Vec::with_capacity(PUBLISH_BATCH);
        // The heartbeat keeps batches coming, so notices never wait long for one.
        while outgoing.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
            // Documents that lost messages get their notice ahead of newer messages; if this
            // batch fails too, they are put back.
            let notices: Vec<Arc<str>> = self.lost.lock().expect("lost lock").drain().collect();
            let mut pipe = ::redis::pipe();
            for doc in &notices {
                pipe.publish(self.doc_channel(doc), &notice).ignore();
            }
            for out in &batch {
                pipe.publish(&out.channel, &out.payload).ignore();
            }
            let started = Instant::now();
            let sent =
                actix_rt::time::timeout(self.timeout, pipe.query_async::<()>(&mut conn)).await;
            metrics::histogram!("creo_bus_publish_seconds").record(started.elapsed().as_secs_f64());
            match sent {
                Ok(Ok(())) => {
                    if !self.publishing.swap(true, Ordering::Relaxed) {
                        tracing::info!("bus publishing recovered");
                    }
                }
                failed => {
                    let error = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".to_string(),
                    };
                    if self.publishing.swap(false, Ordering::Relaxed) {
                        tracing::warn!(
                            error,
                            "bus publish failed; documents will resync when Redis is back"
                        );
                    }
                    metrics::counter!("creo_bus_publish_failures_total").increment(1);
                    let mut lost = self.lost.lock().expect("lost lock");
                    lost.extend(notices);
                    lost.extend(batch.iter().filter_map(|o| o.doc.clone()));
                }
            }
            batch.clear();
        }
    }

    async fn heartbeat_loop(self: Arc<Self>, every: Duration) {
        let mut tick = actix_rt::time::interval(every);
        loop {
            tick.tick().await;
            let _ = self.outgoing.try_send(Outgoing {
                channel: self.node_channel(),
                payload: Envelope::Heartbeat { node: self.node }.encode(),
                doc: None,
            });
        }
    }
}
