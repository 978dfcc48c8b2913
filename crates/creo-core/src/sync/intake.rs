//! The order in which a document takes its sessions' updates.
//!
//! An update is taken once everything it builds on is in the document or already taken
//! (`UpdateShape::resolve`): then yrs integrates it completely and keeps nothing pending. One
//! that builds on content not here yet (a client typing right after reconnecting, before its
//! SyncStep2 with the offline edits arrived) waits in its session's queue, in order, bounded in
//! bytes and time; past either the session must resync (its client still has the update and
//! sends it again in its next SyncStep2). Nothing here is acknowledged or stored: the document
//! does that with what `offer` and `ready` hand out.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use yrs::StateVector;

use super::update::UpdateShape;

/// What `Intake` needs of an update.
pub trait Shaped {
    fn shape(&self) -> &UpdateShape;
    /// Its size in bytes (what the per-session bound counts).
    fn bytes(&self) -> usize;
}

/// What became of an offered update.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// Taken, with every parked update it let through (in `Intake::ready`).
    Taken,
    /// Waiting for what it builds on.
    Parked,
    /// The session's queue is over its bound in bytes or time: close it so it resyncs (its
    /// parked updates are dropped; they were never acknowledged).
    Resync,
}

struct Queue<T> {
    updates: VecDeque<(T, Instant)>,
    bytes: usize,
}

pub struct Intake<S, T> {
    /// The document's state vector with everything taken counted in.
    known: StateVector,
    queues: HashMap<S, Queue<T>>,
    parked: usize,
    /// Taken updates not yet handed out (`ready`), in the order they were taken.
    taken: Vec<(S, T)>,
    max_bytes: usize,
    max_wait: Duration,
}

impl<S: Copy + Eq + Hash, T: Shaped> Intake<S, T> {
    /// `known`: the document's state vector; `max_bytes`, `max_wait`: one session's queue.
    pub fn new(known: StateVector, max_bytes: usize, max_wait: Duration) -> Self {
        Intake {
            known,
            queues: HashMap::new(),
            parked: 0,
            taken: Vec::new(),
            max_bytes,
            max_wait,
        }
    }

    /// What the document has, with what was taken.
    pub fn known(&self) -> &StateVector {
        &self.known
    }

    /// Updates waiting, over all sessions.
    pub fn parked(&self) -> usize {
        self.parked
    }

    /// Offers `session`'s update. A session's updates are taken in the order offered: one that
    /// resolves still waits behind a parked one.
    pub fn offer(&mut self, session: S, update: T, now: Instant) -> Offer {
        let queue = self.queues.entry(session).or_insert_with(|| Queue {
            updates: VecDeque::new(),
            bytes: 0,
        });
        if queue.updates.is_empty() && update.shape().resolve(&self.known).is_ok() {
            update.shape().advance(&mut self.known);
            self.taken.push((session, update));
            self.release();
            return Offer::Taken;
        }
        let expired = queue
            .updates
            .front()
            .is_some_and(|(_, since)| now.duration_since(*since) > self.max_wait);
        if expired || queue.bytes + update.bytes() > self.max_bytes {
            self.leave(session);
            return Offer::Resync;
        }
        queue.bytes += update.bytes();
        queue.updates.push_back((update, now));
        self.parked += 1;
        Offer::Parked
    }

    /// Takes content that arrived by another way (another node, the store): parked updates it
    /// completes are released.
    pub fn learn(&mut self, state: &StateVector) {
        for (client, clock) in state.iter() {
            self.known.set_max(*client, *clock);
        }
        self.release();
    }

    /// Takes an update that arrived by another way, by its shape.
    pub fn learn_shape(&mut self, shape: &UpdateShape) {
        shape.advance(&mut self.known);
        self.release();
    }

    /// Takes an update outside the sessions' queues (a REST write): only if it resolves.
    pub fn take_now(&mut self, shape: &UpdateShape) -> Result<(), super::update::Unresolved> {
        shape.resolve(&self.known)?;
        shape.advance(&mut self.known);
        self.release();
        Ok(())
    }

    /// The updates taken since the last call, in order.
    pub fn ready(&mut self) -> Vec<(S, T)> {
        std::mem::take(&mut self.taken)
    }

    /// The session is gone: its parked updates are dropped.
    pub fn leave(&mut self, session: S) {
        if let Some(q) = self.queues.remove(&session) {
            self.parked -= q.updates.len();
        }
    }

    /// Takes parked updates that now resolve, each session's in order, until none does.
    fn release(&mut self) {
        while self.parked > 0 {
            let mut progress = false;
            for (session, queue) in self.queues.iter_mut() {
                while let Some((update, _)) = queue.updates.front() {
                    if update.shape().resolve(&self.known).is_err() {
                        break;
                    }
                    let (update, _) = queue.updates.pop_front().expect("front exists");
                    queue.bytes -= update.bytes();
                    self.parked -= 1;
                    update.shape().advance(&mut self.known);
                    self.taken.push((*session, update));
                    progress = true;
                }
            }
            if !progress {
                return;
            }
        }
        self.queues.retain(|_, q| !q.updates.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::update::{validate, UpdateLimits};
    use yrs::{Doc, Text, Transact};

    struct U(UpdateShape, usize, &'static str);

    impl Shaped for U {
        fn shape(&self) -> &UpdateShape {
            &self.0
        }
        fn bytes(&self) -> usize {
            self.1
        }
    }

    fn shaped(bytes: &[u8], name: &'static str) -> U {
        U(
            validate(bytes, &UpdateLimits::default()).unwrap(),
            bytes.len(),
            name,
        )
    }

    /// A client's offline edit, and an edit typed after it.
    fn offline_then_live() -> (Vec<u8>, Vec<u8>) {
        let d = Doc::with_client_id(5);
        let t = d.get_or_insert_text("t");
        let a = {
            let mut txn = d.transact_mut();
            t.insert(&mut txn, 0, "offline");
            txn.encode_update_v1()
        };
        let b = {
            let mut txn = d.transact_mut();
            t.insert(&mut txn, 7, " live");
            txn.encode_update_v1()
        };
        (a, b)
    }

    #[test]
    fn an_update_waits_for_what_it_builds_on_then_both_are_taken_in_order() {
        let (offline, live) = offline_then_live();
        let mut intake: Intake<u64, U> =
            Intake::new(StateVector::default(), 1 << 20, Duration::from_secs(10));
        let now = Instant::now();
        assert_eq!(intake.offer(1, shaped(&live, "live"), now), Offer::Parked);
        assert!(intake.ready().is_empty());
        assert_eq!(
            intake.offer(1, shaped(&offline, "offline"), now),
            Offer::Parked
        );
        assert_eq!(
            intake.parked(),
            2,
            "behind the parked one, though it resolves"
        );
        // Another session brings the offline edit (as a SyncStep2 would).
        assert_eq!(intake.offer(2, shaped(&offline, "sync"), now), Offer::Taken);
        let order: Vec<&str> = intake.ready().iter().map(|(_, u)| u.2).collect();
        assert_eq!(order, ["sync", "live", "offline"]);
        assert_eq!(intake.parked(), 0);
    }

    #[test]
    fn a_queue_past_its_bytes_or_its_time_asks_for_a_resync() {
        let (_, live) = offline_then_live();
        let mut intake: Intake<u64, U> = Intake::new(
            StateVector::default(),
            live.len() * 2,
            Duration::from_secs(10),
        );
        let now = Instant::now();
        assert_eq!(intake.offer(1, shaped(&live, "a"), now), Offer::Parked);
        assert_eq!(intake.offer(1, shaped(&live, "b"), now), Offer::Parked);
        assert_eq!(intake.offer(1, shaped(&live, "c"), now), Offer::Resync);
        assert_eq!(intake.parked(), 0, "dropped with the session");
        assert_eq!(intake.offer(2, shaped(&live, "d"), now), Offer::Parked);
        let later = now + Duration::from_secs(11);
        assert_eq!(intake.offer(2, shaped(&live, "e"), later), Offer::Resync);
    }

    #[test]
    fn content_learned_another_way_releases_what_waited_for_it() {
        let (offline, live) = offline_then_live();
        let mut intake: Intake<u64, U> =
            Intake::new(StateVector::default(), 1 << 20, Duration::from_secs(10));
        assert_eq!(
            intake.offer(1, shaped(&live, "live"), Instant::now()),
            Offer::Parked
        );
        intake.learn_shape(&validate(&offline, &UpdateLimits::default()).unwrap());
        assert_eq!(intake.ready().len(), 1);
    }
}
