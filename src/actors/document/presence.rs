//! Presence out of this document: every change (a session's, this node's, another node's) waits
//! in the document's `PresenceRelay` and leaves with the next relay, one frame for every
//! session, at most once per `PRESENCE_INTERVAL`, riding in the same socket write as a durable
//! update when one goes out (see `creo_core::sync::relay`).

use super::*;
use crate::sync::relay::{Next, Relay};

/// A document relays presence at most this often: a cursor dragged at 60 Hz costs every other
/// editor 20 frames a second, not 60, however many clients move at once.
pub(super) const PRESENCE_INTERVAL: Duration = Duration::from_millis(50);
/// How long a relay whose slot has come waits for a durable update to ride with.
pub(super) const PRESENCE_LINGER: Duration = Duration::from_millis(25);
/// How long a client may go without any message before its own presence is echoed to it.
const PRESENCE_ECHO_AFTER: Duration = Duration::from_secs(10);

impl DocumentActor {
    /// Shows a presence change to this node's sessions (and, unless it came from another node,
    /// to the other nodes) with the document's next relay.
    pub(super) fn show_presence(
        &mut self,
        from: Source,
        update: yrs::sync::AwarenessUpdate,
        ctx: &mut Context<Self>,
    ) {
        let next = self.presence_out.hold(from, update, Instant::now());
        self.follow(next, ctx);
    }

    /// Shows a removal at once, with whatever waits: a departed editor's cursor must not linger.
    pub(super) fn show_presence_now(&mut self, from: Source, update: yrs::sync::AwarenessUpdate) {
        let relay = self.presence_out.send_with(from, update, Instant::now());
        self.relay(relay, "alone");
    }

    /// A durable batch just went into the outboxes: waiting presence rides in the same writes.
    pub(super) fn presence_rides(&mut self) {
        if let Some(relay) = self.presence_out.ride(Instant::now()) {
            self.relay(relay, "with_update");
        }
    }

    fn follow(&mut self, next: Next, ctx: &mut Context<Self>) {
        match next {
            Next::Send => {
                if let Some(relay) = self.presence_out.take(Instant::now()) {
                    self.relay(relay, "alone");
                }
            }
            Next::WakeIn(after) => {
                metrics::counter!("creo_presence_held_total").increment(1);
                ctx.run_later(after, |act, ctx| {
                    let next = act.presence_out.due(Instant::now());
                    act.follow(next, ctx);
                });
            }
            Next::Nothing => {}
        }
    }

    /// To the other nodes, and to this node's sessions. A relay of one session's changes alone
    /// skips that session, which knows its own state, unless it has heard nothing for a while:
    /// the official client treats a socket silent for 30 s as dead (its own state renews every
    /// 15 s).
    fn relay(&mut self, relay: Relay, carried: &'static str) {
        metrics::counter!("creo_presence_relays_total", "carried" => carried).increment(1);
        if let Some(publish) = relay.publish {
            self.publish(DocMessage::Awareness(publish.encode_v1().into()));
        }
        let except = relay.only_from.filter(|s| {
            !self
                .sessions
                .get(s)
                .is_some_and(|m| m.outbox.quiet_for(PRESENCE_ECHO_AFTER))
        });
        self.broadcast(&sync::encode_awareness(relay.update), except);
    }
}
