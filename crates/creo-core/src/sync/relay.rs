//! Presence on its way out of a document. Changes wait here, the latest state of each client
//! winning, and leave together as one awareness frame for every session:
//!
//! - a document relays at most once per `interval`, so a cursor dragged at 60 Hz costs each
//!   other editor 1 / `interval` frames a second, however many clients move;
//! - a relay that may go rides with the next durable update if one goes out within `linger`
//!   (the same socket write carries both), else it goes alone when its timer fires;
//! - the first change after a quiet interval goes at once, so a lone cursor move is not delayed.
//!
//! Nothing waiting is dropped: the latest state of every client goes out. Pure logic; the
//! document actor keeps the timer and does the sending.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::AwarenessUpdate;
use yrs::ClientID;

use super::awareness::SessionId;

/// Where a change came from, which decides who hears it back and whether other nodes are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// One of this node's sessions: published to the other nodes; the session itself needs
    /// none of it back.
    Session(SessionId),
    /// This node (a departure, the AI participant): published to the other nodes.
    Node,
    /// Another node, which published it itself: shown to this node's sessions only.
    Remote,
}

/// One relay, ready to send.
#[derive(Debug)]
pub struct Relay {
    /// For this node's sessions.
    pub update: AwarenessUpdate,
    /// For the other nodes: what this node's sessions and the node itself changed (none when
    /// every change came from another node).
    pub publish: Option<AwarenessUpdate>,
    /// Every change came from this one session.
    pub only_from: Option<SessionId>,
}

/// What the caller does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Send now: call `take`.
    Send,
    /// Call `due` after this long (set a timer).
    WakeIn(Duration),
    /// Nothing to do (a timer is set already, or nothing waits).
    Nothing,
}

#[derive(Debug)]
pub struct PresenceRelay {
    interval: Duration,
    linger: Duration,
    waiting: HashMap<ClientID, (AwarenessUpdateEntry, Source)>,
    last_sent: Option<Instant>,
    timer_set: bool,
}

impl PresenceRelay {
    pub fn new(interval: Duration, linger: Duration) -> PresenceRelay {
        PresenceRelay {
            interval,
            linger,
            waiting: HashMap::new(),
            last_sent: None,
            timer_set: false,
        }
    }

    /// Holds the changes in `update` (already accepted by `Presence`, so each is newer than
    /// what waits for its client).
    pub fn hold(&mut self, from: Source, update: AwarenessUpdate, now: Instant) -> Next {
        let was_empty = self.waiting.is_empty();
        for (client, entry) in update.clients {
            self.waiting.insert(client, (entry, from));
        }
        if self.timer_set || self.waiting.is_empty() {
            return Next::Nothing;
        }
        if was_empty && self.may_send(now) {
            return Next::Send;
        }
        self.set_timer(now)
    }

    /// A durable update goes out now: what waits rides with it, if it may go.
    pub fn ride(&mut self, now: Instant) -> Option<Relay> {
        if self.waiting.is_empty() || !self.may_send(now) {
            return None;
        }
        self.take(now)
    }

    /// The timer `hold` asked for fired.
    pub fn due(&mut self, now: Instant) -> Next {
        self.timer_set = false;
        if self.waiting.is_empty() {
            return Next::Nothing;
        }
        if self.may_send(now) {
            return Next::Send;
        }
        // What waits arrived after a relay that rode with an update: wait for the next slot.
        self.set_timer(now)
    }

    /// Everything waiting and `update`, at once, whatever the slot: for a departure, whose ghost
    /// cursor must not linger (and which is rare: each costs its session a whole connection).
    pub fn send_with(&mut self, from: Source, update: AwarenessUpdate, now: Instant) -> Relay {
        for (client, entry) in update.clients {
            self.waiting.insert(client, (entry, from));
        }
        self.take(now).expect("a removal holds at least one client")
    }

    /// Everything waiting, as one relay.
    pub fn take(&mut self, now: Instant) -> Option<Relay> {
        if self.waiting.is_empty() {
            return None;
        }
        self.last_sent = Some(now);
        let mut sources = self.waiting.values().map(|(_, from)| *from);
        let first = sources.next();
        let only_from = match first {
            Some(Source::Session(s)) if sources.all(|f| f == Source::Session(s)) => Some(s),
            _ => None,
        };
        let mut update = HashMap::with_capacity(self.waiting.len());
        let mut publish = HashMap::new();
        for (client, (entry, from)) in self.waiting.drain() {
            if from != Source::Remote {
                publish.insert(client, entry.clone());
            }
            update.insert(client, entry);
        }
        Some(Relay {
            update: AwarenessUpdate { clients: update },
            publish: (!publish.is_empty()).then_some(AwarenessUpdate { clients: publish }),
            only_from,
        })
    }

    /// Client ids waiting (bounded by the document's presence entries).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    fn next_slot(&self) -> Option<Instant> {
        self.last_sent.map(|at| at + self.interval)
    }

    fn may_send(&self, now: Instant) -> bool {
        self.next_slot().is_none_or(|slot| slot <= now)
    }

    /// The latest the waiting relay goes: `linger` after its slot opens.
    fn set_timer(&mut self, now: Instant) -> Next {
        self.timer_set = true;
        let slot = self.next_slot().map_or(now, |slot| slot.max(now));
        Next::WakeIn(slot + self.linger - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const INTERVAL: Duration = Duration::from_millis(50);
    const LINGER: Duration = Duration::from_millis(25);

    fn change(client: u64, clock: u32) -> AwarenessUpdate {
        let entry = AwarenessUpdateEntry {
            clock,
            json: Arc::from(format!(r#"{{"cursor":{clock}}}"#)),
        };
        AwarenessUpdate {
            clients: HashMap::from([(ClientID::new(client), entry)]),
        }
    }

    fn clock_of(relay: &Relay, client: u64) -> u32 {
        relay.update.clients[&ClientID::new(client)].clock
    }

    #[test]
    fn a_lone_change_after_quiet_goes_at_once() {
        let mut r = PresenceRelay::new(INTERVAL, LINGER);
        let t = Instant::now();
        assert_eq!(r.hold(Source::Session(1), change(10, 1), t), Next::Send);
        let relay = r.take(t).unwrap();
        assert_eq!(relay.only_from, Some(1));
        assert!(relay.publish.is_some());
        // Quiet for a whole interval: the next lone change goes at once too.
        let later = t + INTERVAL;
        assert_eq!(r.hold(Source::Session(1), change(10, 2), later), Next::Send);
    }

    #[test]
    fn changes_within_the_interval_wait_and_the_latest_state_of_each_client_wins() {
        let mut r = PresenceRelay::new(INTERVAL, LINGER);
        let t = Instant::now();
        assert_eq!(r.hold(Source::Session(1), change(10, 1), t), Next::Send);
        r.take(t).unwrap();
        // Within the interval: a timer for the slot plus the linger, set once.
        let t1 = t + Duration::from_millis(5);
        assert_eq!(
            r.hold(Source::Session(1), change(10, 2), t1),
            Next::WakeIn(INTERVAL + LINGER - Duration::from_millis(5))
        );
        for clock in 3..60 {
            assert_eq!(
                r.hold(Source::Session(1), change(10, clock), t1),
                Next::Nothing
            );
        }
        assert_eq!(r.hold(Source::Session(2), change(20, 7), t1), Next::Nothing);
        // The timer fires: one relay carries the last state of both clients.
        let fired = t + INTERVAL + LINGER;
        assert_eq!(r.due(fired), Next::Send);
        let relay = r.take(fired).unwrap();
        assert_eq!(relay.update.clients.len(), 2);
        assert_eq!(clock_of(&relay, 10), 59);
        assert_eq!(clock_of(&relay, 20), 7);
        assert_eq!(
            relay.only_from, None,
            "two sessions' changes go to everyone"
        );
        assert_eq!(r.waiting(), 0);
    }

    #[test]
    fn a_waiting_relay_rides_with_an_update_once_its_slot_opens() {
        let mut r = PresenceRelay::new(INTERVAL, LINGER);
        let t = Instant::now();
        r.hold(Source::Session(1), change(10, 1), t);
        r.take(t);
        r.hold(
            Source::Session(2),
            change(20, 1),
            t + Duration::from_millis(10),
        );
        // Too early: the document relayed less than an interval ago.
        assert!(r.ride(t + Duration::from_millis(30)).is_none());
        // Past the slot, an update carries it, before the timer.
        let relay = r.ride(t + INTERVAL + Duration::from_millis(2)).unwrap();
        assert_eq!(clock_of(&relay, 20), 1);
        // The timer then finds nothing to do.
        assert_eq!(r.due(t + INTERVAL + LINGER), Next::Nothing);
    }

    #[test]
    fn what_arrives_after_a_ride_waits_for_the_next_slot() {
        let mut r = PresenceRelay::new(INTERVAL, LINGER);
        let t = Instant::now();
        r.hold(Source::Session(1), change(10, 1), t);
        r.take(t);
        r.hold(
            Source::Session(1),
            change(10, 2),
            t + Duration::from_millis(1),
        );
        let rode = t + INTERVAL;
        r.ride(rode).unwrap();
        r.hold(
            Source::Session(1),
            change(10, 3),
            rode + Duration::from_millis(1),
        );
        // The first timer fires within the new interval: it is set again, not sent.
        let fired = t + INTERVAL + LINGER;
        assert_eq!(r.due(fired), Next::WakeIn(rode + INTERVAL + LINGER - fired));
        assert_eq!(r.due(rode + INTERVAL + LINGER), Next::Send);
        assert_eq!(clock_of(&r.take(rode + INTERVAL + LINGER).unwrap(), 10), 3);
    }

    #[test]
    fn a_departure_goes_at_once_with_whatever_waits() {
        let mut r = PresenceRelay::new(INTERVAL, LINGER);
        let t = Instant::now();
        r.hold(Source::Session(1), change(10, 1), t);
        r.take(t);
        let t1 = t + Duration::from_millis(1);
        assert!(matches!(
            r.hold(Source::Session(2), change(20, 4), t1),
            Next::WakeIn(_)
        ));
        let relay = r.send_with(Source::Node, change(10, 2), t1);
        assert_eq!((clock_of(&relay, 10), clock_of(&relay, 20)), (2, 4));
        assert_eq!(relay.publish.unwrap().clients.len(), 2);
        // The timer set before finds nothing left.
        assert_eq!(r.due(t + INTERVAL + LINGER), Next::Nothing);
    }

    #[test]
    fn what_other_nodes_published_is_not_published_again() {
        let mut r = PresenceRelay::new(INTERVAL, LINGER);
        let t = Instant::now();
        r.hold(Source::Remote, change(30, 1), t);
        let relay = r.take(t).unwrap();
        assert!(relay.publish.is_none());
        assert_eq!(relay.only_from, None);
        r.hold(Source::Remote, change(30, 2), t + INTERVAL);
        r.hold(Source::Node, change(40, 1), t + INTERVAL);
        let relay = r.take(t + INTERVAL).unwrap();
        let published = relay.publish.unwrap();
        assert_eq!(published.clients.len(), 1);
        assert!(published.clients.contains_key(&ClientID::new(40)));
    }
}
