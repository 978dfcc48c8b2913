//! Cross-node fan-out. With `redis_url` set, every durable update and presence change of a
//! document is published on the document's Redis channel, and every node that has the document
//! open applies it and broadcasts it to its own sessions (without storing or republishing it).
//! Without Redis the bus is in-process: nothing leaves the node, and revocations are delivered
//! to this node's documents only.
//!
//! Redis pub/sub loses messages when a subscriber reconnects or a publish fails, so the bus never
//! trusts it to be complete: every document actor numbers its messages, and a receiver that sees
//! a gap, a reconnect, a node that stopped heartbeating or a publisher's `Resync` notice reloads
//! the document from the store (where everything published was durable first).

pub use creo_core::envelope;
pub mod inbox;
pub mod limits;
pub mod redis;

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore, SemaphorePermit};

pub use envelope::{AccessChange, DocMessage, NodeId, Origin};

use crate::config::Config;

/// What a document actor receives from the bus.
#[derive(Debug)]
pub enum DocEvent {
    /// A message another node published for this document.
    Remote {
        origin: Origin,
        seq: u64,
        message: DocMessage,
    },
    /// Messages for this document may have been lost (bus reconnect, full queue): reload it from
    /// the store and tell the other nodes who is here.
    Resync,
    /// A node stopped (said goodbye, or missed its heartbeats): drop its presence, and reload if
    /// it had this document open (it may have stored an update it never published).
    NodeGone(NodeId),
}

pub struct Bus {
    node: NodeId,
    /// This node's live inbox streams.
    inboxes: Arc<inbox::Inboxes>,
    redis: Option<Arc<redis::RedisBus>>,
    access: mpsc::UnboundedSender<AccessChange>,
    /// Bounds how many documents reload from the store at once after a reconnect.
    resyncs: Semaphore,
}

impl Bus {
    /// Starts the bus (its Redis tasks run on the current arbiter) and returns it with the
    /// stream of access changes this node must apply, from itself or from other nodes.
    pub fn start(
        config: &Config,
    ) -> anyhow::Result<(Arc<Bus>, mpsc::UnboundedReceiver<AccessChange>)> {
        let node = rand::random::<u64>() | 1;
        let (access, rx) = mpsc::unbounded_channel();
        let inboxes = Arc::new(inbox::Inboxes::default());
        let redis = match &config.redis_url {
            Some(url) => Some(redis::RedisBus::start(
                node,
                url,
                config,
                access.clone(),
                inboxes.clone(),
            )?),
            None => None,
        };
        let bus = Arc::new(Bus {
            node,
            inboxes,
            redis,
            access,
            resyncs: Semaphore::new(config.bus_resync_concurrency.max(1)),
        });
        Ok((bus, rx))
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    /// `None` for a single node; otherwise whether this node currently hears the other nodes.
    pub fn connected(&self) -> Option<bool> {
        self.redis.as_ref().map(|r| r.connected())
    }

    /// Subscribes this node to a document's messages. Returns once the subscription is confirmed
    /// (so a load from the store that follows cannot miss an update), or when Redis is
    /// unreachable (the document then resyncs when it is back).
    pub async fn join(
        &self,
        doc: &Arc<str>,
        actor: u64,
    ) -> (Membership, Option<mpsc::Receiver<DocEvent>>) {
        let (route, events) = match &self.redis {
            None => (0, None),
            Some(r) => {
                let (route, rx) = r.join(doc).await;
                (route, Some(rx))
            }
        };
        let membership = Membership {
            redis: self.redis.clone(),
            doc: doc.clone(),
            origin: Origin {
                node: self.node,
                actor,
            },
            seq: 0,
            route,
        };
        (membership, events)
    }

    /// What a cache kept fresh by bus messages may be checked against: it changes when the bus
    /// reconnects (a message may have been lost), and is `None` while the bus is down (do not
    /// trust such a cache). Always `Some(0)` on a single node.
    pub fn generation(&self) -> Option<u64> {
        match &self.redis {
            None => Some(0),
            Some(r) => r.subscription(),
        }
    }

    /// Applies an access change on every node (this one at once, the others through Redis).
    pub fn announce(&self, change: AccessChange) {
        if let Some(r) = &self.redis {
            r.publish_access(&change);
        }
        let _ = self.access.send(change);
    }

    /// Sends an event to the sessions of `doc` on the other nodes (a no-op on a single node).
    pub fn publish_event(&self, doc: &str, json: &str) {
        if let Some(r) = &self.redis {
            let origin = Origin {
                node: self.node,
                actor: 0,
            };
            r.publish_doc(&doc.into(), origin, 0, DocMessage::Event(json.to_string()));
        }
    }

    /// Sends a message to `user`'s live inbox streams on every node.
    pub fn to_person(&self, user: &str, json: String) {
        if let Some(r) = &self.redis {
            r.publish_inbox(user, &json);
        }
        self.inboxes.deliver(user, &Arc::from(json));
    }

    /// Opens a live inbox stream for `user` on this node (`None`: they have `max` open).
    pub fn listen_as(&self, user: &str, max: usize) -> Option<inbox::Feed> {
        self.inboxes.subscribe(user, max)
    }

    /// Ends every inbox stream on this node (it is stopping).
    pub fn close_inboxes(&self) {
        self.inboxes.close_all();
    }

    pub async fn resync_permit(&self) -> SemaphorePermit<'_> {
        self.resyncs
            .acquire()
            .await
            .expect("resync semaphore is never closed")
    }

    /// Tells the other nodes this one is leaving (they drop its presence at once).
    pub async fn shutdown(&self) {
        if let Some(r) = &self.redis {
            r.say_goodbye().await;
        }
    }
}

/// A document actor's membership of its channel: publishes its messages in sequence, and
/// unsubscribes when dropped.
pub struct Membership {
    redis: Option<Arc<redis::RedisBus>>,
    doc: Arc<str>,
    origin: Origin,
    seq: u64,
    route: u64,
}

impl Membership {
    pub fn clustered(&self) -> bool {
        self.redis.is_some()
    }

    /// Publishes a message to the other nodes with this document open (a no-op on a single
    /// node). Never waits: a message that cannot be queued counts as lost and the receivers are
    /// told to resync.
    pub fn publish(&mut self, message: DocMessage) {
        if let Some(r) = &self.redis {
            self.seq += 1;
            r.publish_doc(&self.doc, self.origin, self.seq, message);
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        if let Some(r) = &self.redis {
            r.leave(&self.doc, self.route);
        }
    }
}
