//! Delivery to this node's sessions: one frame to one, to all, a merged batch to each reader; evicting a session that fell behind.

use super::*;
use crate::socket::WireFrame;

impl DocumentActor {
    pub(super) fn send_to(&mut self, session: SessionId, frame: Bytes) {
        let full = match self.sessions.get(&session) {
            Some(m) => m.outbox.push(frame).err(),
            None => None,
        };
        if let Some(full) = full {
            self.fell_behind(session, full);
        }
    }

    pub(super) fn fell_behind(&mut self, session: SessionId, full: crate::socket::Full) {
        metrics::counter!("creo_refused_messages_total", "reason" => full.metric_reason())
            .increment(1);
        self.evict(session, close::SLOW_CONSUMER, "fell behind");
    }

    /// Sends one encoded frame to every session (but `except`). A session whose queue is full is
    /// disconnected rather than buffered without bound or silently skipped: it resyncs on
    /// reconnect and loses nothing.
    pub(super) fn broadcast(&mut self, frame: &Bytes, except: Option<SessionId>) -> u64 {
        self.broadcast_where(frame, |s| Some(s) != except)
    }

    /// Sends one encoded frame to the sessions `to` picks (see `broadcast`).
    pub(super) fn broadcast_where(&mut self, frame: &Bytes, to: impl Fn(SessionId) -> bool) -> u64 {
        let mut lagging = Vec::new();
        let mut delivered = 0;
        // Encoded once, shared by every receiver's queue.
        let wire = WireFrame::binary(frame);
        for (id, m) in &self.sessions {
            if !to(*id) {
                continue;
            }
            match m.outbox.push(wire.clone()) {
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
    pub(super) fn deliver_batch(&mut self, raws: &[Bytes], authors: &[Option<SessionId>]) -> u64 {
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
    pub(super) fn evict(&mut self, session: SessionId, code: u16, reason: &'static str) {
        if let Some(m) = self.remove_subscriber(session) {
            metrics::counter!("creo_disconnects_total", "reason" => reason).increment(1);
            m.outbox.close(Some(CloseReason {
                code: CloseCode::from(code),
                description: Some(reason.to_string()),
            }));
            m.control.do_send(SessionCommand::Close { code, reason });
            self.announce_departure(session);
        }
    }

    /// Closes with 4403 every session whose principal `lost_access` picks (a revocation, an
    /// ended login session, a factor now required).
    pub(super) fn revoke_where(
        &mut self,
        lost_access: impl Fn(&crate::auth::Principal) -> bool,
        reason: &'static str,
    ) {
        let closing: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, m)| lost_access(&m.principal))
            .map(|(id, _)| *id)
            .collect();
        for id in closing {
            self.evict(id, close::ACCESS_REVOKED, reason);
        }
    }

    /// A session leaves the document; its parked updates were never acknowledged (its client
    /// still has them and sends them again in its next SyncStep2).
    pub(super) fn remove_subscriber(&mut self, session: SessionId) -> Option<Subscriber> {
        self.live.leave(session);
        self.sessions.remove(&session)
    }

    pub(super) fn announce_departure(&mut self, session: SessionId) {
        if let Some(removal) = self.live.presence_mut().remove_session(session) {
            self.show_presence_now(Source::Node, removal);
        }
    }
}
