//! Server-side presence (Yjs awareness) for one document: who owns which awareness client id,
//! clock ordering, and the authenticated user attached to every state. Pure logic, no I/O.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::AwarenessUpdate;
use yrs::ClientID;

/// Identifies one WebSocket session on this node.
pub type SessionId = u64;

/// Who published a state: a session on this node, or another node (which vouched for its
/// identity when its own session published it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Session(SessionId),
    Node(u64),
}

/// Key under which the server attaches the authenticated identity to each awareness state.
/// Whatever a client puts there itself is overwritten, so presence cannot claim another user.
pub const IDENTITY_KEY: &str = "creo";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client id is held by a session of another user.
    ForeignClient,
    /// The session already holds the maximum number of client ids.
    TooManyClients,
    /// The state is not a JSON object (or not JSON at all), so no identity can be attached.
    InvalidState,
}

impl Refusal {
    pub fn metric_reason(self) -> &'static str {
        match self {
            Refusal::ForeignClient => "awareness_foreign_client",
            Refusal::TooManyClients => "awareness_too_many_clients",
            Refusal::InvalidState => "awareness_invalid_state",
        }
    }
}

#[derive(Debug)]
struct Entry {
    clock: u32,
    /// `None` once removed: the clock is kept so a late stale update cannot resurrect it.
    json: Option<Arc<str>>,
    owner: Owner,
    user: Arc<str>,
    /// When another node last renewed it (its states expire without renewal).
    renewed: Instant,
}

impl Entry {
    /// y-protocols: a newer clock wins; an equal clock counts only as a removal.
    fn superseded_by(&self, clock: u32, is_removal: bool) -> bool {
        self.clock < clock || (self.clock == clock && is_removal && self.json.is_some())
    }
}

#[derive(Debug, Default)]
pub struct Applied {
    /// What to relay to the document's sessions (empty when nothing changed).
    pub relay: Option<AwarenessUpdate>,
    pub refused: Vec<(ClientID, Refusal)>,
}

/// Removed states are remembered (their clock refuses a late, stale update) for this long at
/// most, and no more of them than this per document: a client that adds and removes states in
/// a loop cannot grow the table.
pub const MAX_TOMBSTONES: usize = 10_000;

#[derive(Debug)]
pub struct Presence {
    entries: HashMap<ClientID, Entry>,
    /// Live states per session, so the per-session limit costs one lookup, not a scan.
    held: HashMap<SessionId, usize>,
    /// Removals in the order they happened, to forget them after `tombstone_ttl`.
    tombstones: VecDeque<(Instant, ClientID)>,
    tombstone_ttl: Duration,
    max_clients_per_session: usize,
}

impl Presence {
    pub fn new(max_clients_per_session: usize, tombstone_ttl: Duration) -> Self {
        Presence {
            entries: HashMap::new(),
            held: HashMap::new(),
            tombstones: VecDeque::new(),
            tombstone_ttl,
            max_clients_per_session,
        }
    }

    /// Sets a client's entry, keeping the per-session counts and the removal order.
    fn put(&mut self, client: ClientID, entry: Entry) {
        let live_owner = entry.json.is_some().then_some(entry.owner);
        if entry.json.is_none() {
            self.tombstones.push_back((entry.renewed, client));
        }
        if let Some(old) = self.entries.insert(client, entry) {
            if old.json.is_some() {
                self.unhold(old.owner);
            }
        }
        if let Some(Owner::Session(s)) = live_owner {
            *self.held.entry(s).or_default() += 1;
        }
        self.forget_tombstones();
    }

    fn unhold(&mut self, owner: Owner) {
        if let Owner::Session(s) = owner {
            if let Some(n) = self.held.get_mut(&s) {
                *n -= 1;
                if *n == 0 {
                    self.held.remove(&s);
                }
            }
        }
    }

    /// Drops removals older than the TTL, and the oldest beyond `MAX_TOMBSTONES`.
    fn forget_tombstones(&mut self) {
        let now = Instant::now();
        while let Some(&(at, client)) = self.tombstones.front() {
            let expired = now.duration_since(at) > self.tombstone_ttl;
            if !expired && self.tombstones.len() <= MAX_TOMBSTONES {
                break;
            }
            self.tombstones.pop_front();
            // Still that removal (not revived or removed again since)?
            if self
                .entries
                .get(&client)
                .is_some_and(|e| e.json.is_none() && e.renewed <= at)
            {
                self.entries.remove(&client);
            }
        }
    }

    /// Applies an awareness update sent by `session`, authenticated as `user`.
    ///
    /// A session may publish for a client id nobody holds, for one it holds, or for one held by
    /// another session of the same user (a reconnecting tab whose old socket is not yet gone).
    pub fn apply(
        &mut self,
        session: SessionId,
        user: &Arc<str>,
        role: &str,
        update: AwarenessUpdate,
    ) -> Applied {
        let mut applied = Applied::default();
        let mut relay = HashMap::new();
        for (client, entry) in update.clients {
            let is_removal = &*entry.json == "null";
            match self.entries.get(&client) {
                Some(existing) => {
                    let live = existing.json.is_some();
                    if live && existing.owner != Owner::Session(session) && existing.user != *user {
                        applied.refused.push((client, Refusal::ForeignClient));
                        continue;
                    }
                }
                // Removing a state nobody has announces nothing and is not remembered.
                None if is_removal => continue,
                None => {}
            }
            if !is_removal
                && !self.holds(session, client)
                && self.held_by(session) >= self.max_clients_per_session
            {
                applied.refused.push((client, Refusal::TooManyClients));
                continue;
            }
            let newer = self
                .entries
                .get(&client)
                .is_none_or(|cur| cur.superseded_by(entry.clock, is_removal));
            if !newer {
                continue;
            }
            let json = if is_removal {
                None
            } else {
                match with_identity(&entry.json, user, role) {
                    Some(json) => Some(json),
                    None => {
                        applied.refused.push((client, Refusal::InvalidState));
                        continue;
                    }
                }
            };
            relay.insert(
                client,
                AwarenessUpdateEntry {
                    clock: entry.clock,
                    json: json.clone().unwrap_or_else(|| Arc::from("null")),
                },
            );
            self.put(
                client,
                Entry {
                    clock: entry.clock,
                    json,
                    owner: Owner::Session(session),
                    user: user.clone(),
                    renewed: Instant::now(),
                },
            );
        }
        if !relay.is_empty() {
            applied.relay = Some(AwarenessUpdate { clients: relay });
        }
        applied
    }

    /// Removes every state a session published (it disconnected) and returns the removal to
    /// announce, so no ghost cursor stays behind.
    pub fn remove_session(&mut self, session: SessionId) -> Option<AwarenessUpdate> {
        self.remove_where(|e| e.owner == Owner::Session(session))
    }

    /// Removes every state another node relayed (it stopped), returning the removal to announce.
    pub fn remove_node(&mut self, node: u64) -> Option<AwarenessUpdate> {
        self.remove_where(|e| e.owner == Owner::Node(node))
    }

    /// Removes other nodes' states not renewed within `timeout` (a crashed node's editors).
    pub fn expire_remote(&mut self, timeout: Duration) -> Option<AwarenessUpdate> {
        let now = Instant::now();
        self.remove_where(|e| {
            matches!(e.owner, Owner::Node(_)) && now.duration_since(e.renewed) > timeout
        })
    }

    /// Applies states another node relayed. They carry the identity that node attached, and
    /// follow the same clock rules; what changed is returned for this node's sessions.
    pub fn apply_remote(&mut self, node: u64, update: AwarenessUpdate) -> Option<AwarenessUpdate> {
        let mut relay = HashMap::new();
        for (client, entry) in update.clients {
            let is_removal = &*entry.json == "null";
            // Removing a state this node never saw has nothing to announce.
            let newer = match self.entries.get(&client) {
                None => !is_removal,
                Some(cur) => cur.superseded_by(entry.clock, is_removal),
            };
            if !newer {
                continue;
            }
            let user = identity_of(&entry.json).unwrap_or_else(|| Arc::from(""));
            relay.insert(client, entry.clone());
            self.put(
                client,
                Entry {
                    clock: entry.clock,
                    json: (!is_removal).then_some(entry.json),
                    owner: Owner::Node(node),
                    user,
                    renewed: Instant::now(),
                },
            );
        }
        (!relay.is_empty()).then_some(AwarenessUpdate { clients: relay })
    }

    /// The states this node's own sessions published, to share with another node.
    pub fn local_snapshot(&self) -> Option<AwarenessUpdate> {
        self.snapshot_where(|e| matches!(e.owner, Owner::Session(_)))
    }

    /// Removes the matching entries outright (no tombstone: their owner is gone) and returns the
    /// removal of the live ones to announce.
    fn remove_where(&mut self, remove: impl Fn(&Entry) -> bool) -> Option<AwarenessUpdate> {
        let mut clients = HashMap::new();
        let mut unheld = Vec::new();
        self.entries.retain(|client, e| {
            if !remove(e) {
                return true;
            }
            if e.json.is_some() {
                unheld.push(e.owner);
                clients.insert(
                    *client,
                    AwarenessUpdateEntry {
                        clock: e.clock.saturating_add(1),
                        json: Arc::from("null"),
                    },
                );
            }
            false
        });
        for owner in unheld {
            self.unhold(owner);
        }
        (!clients.is_empty()).then_some(AwarenessUpdate { clients })
    }

    /// Every live state, for a joining session or a query-awareness message.
    pub fn snapshot(&self) -> Option<AwarenessUpdate> {
        self.snapshot_where(|_| true)
    }

    fn snapshot_where(&self, include: impl Fn(&Entry) -> bool) -> Option<AwarenessUpdate> {
        let clients: HashMap<_, _> = self
            .entries
            .iter()
            .filter(|(_, e)| include(e))
            .filter_map(|(client, e)| {
                e.json.as_ref().map(|json| {
                    (
                        *client,
                        AwarenessUpdateEntry {
                            clock: e.clock,
                            json: json.clone(),
                        },
                    )
                })
            })
            .collect();
        (!clients.is_empty()).then_some(AwarenessUpdate { clients })
    }

    pub fn live_states(&self) -> usize {
        self.entries.values().filter(|e| e.json.is_some()).count()
    }

    fn holds(&self, session: SessionId, client: ClientID) -> bool {
        self.entries
            .get(&client)
            .is_some_and(|e| e.owner == Owner::Session(session))
    }

    fn held_by(&self, session: SessionId) -> usize {
        self.held.get(&session).copied().unwrap_or(0)
    }

    /// Entries kept, live or removed (bounded: see `MAX_TOMBSTONES`).
    pub fn entries(&self) -> usize {
        self.entries.len()
    }
}

/// The user id this server attached to a state (see `with_identity`).
fn identity_of(json: &str) -> Option<Arc<str>> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    Some(Arc::from(value.get(IDENTITY_KEY)?.get("userId")?.as_str()?))
}

fn with_identity(json: &str, user: &str, role: &str) -> Option<Arc<str>> {
    let mut value: serde_json::Value = serde_json::from_str(json).ok()?;
    let obj = value.as_object_mut()?;
    obj.insert(
        IDENTITY_KEY.to_string(),
        serde_json::json!({ "userId": user, "role": role }),
    );
    Some(Arc::from(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(entries: &[(u64, u32, &str)]) -> AwarenessUpdate {
        AwarenessUpdate {
            clients: entries
                .iter()
                .map(|(c, clock, json)| {
                    (
                        ClientID::new(*c),
                        AwarenessUpdateEntry {
                            clock: *clock,
                            json: Arc::from(*json),
                        },
                    )
                })
                .collect(),
        }
    }

    fn user(u: &str) -> Arc<str> {
        Arc::from(u)
    }

    #[test]
    fn attaches_the_authenticated_user_and_overrides_spoofed_identity() {
        let mut p = Presence::new(4, Duration::from_secs(30));
        let a = p.apply(
            1,
            &user("alice"),
            "editor",
            update(&[(10, 1, r#"{"name":"A","creo":{"userId":"mallory"}}"#)]),
        );
        let relay = a.relay.unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&relay.clients[&ClientID::new(10)].json).unwrap();
        assert_eq!(json["creo"]["userId"], "alice");
        assert_eq!(json["name"], "A");
    }

    #[test]
    fn another_user_cannot_publish_for_a_held_client_id() {
        let mut p = Presence::new(4, Duration::from_secs(30));
        p.apply(1, &user("alice"), "editor", update(&[(10, 1, "{}")]));
        let b = p.apply(2, &user("bob"), "editor", update(&[(10, 5, r#"{"x":1}"#)]));
        assert!(b.relay.is_none());
        assert_eq!(b.refused, vec![(ClientID::new(10), Refusal::ForeignClient)]);
        // The same user reconnecting from a new session may take its id over.
        let a2 = p.apply(3, &user("alice"), "editor", update(&[(10, 2, "{}")]));
        assert!(a2.relay.is_some());
    }

    #[test]
    fn stale_clocks_are_ignored_and_removal_needs_equal_or_newer_clock() {
        let mut p = Presence::new(4, Duration::from_secs(30));
        p.apply(1, &user("a"), "editor", update(&[(10, 5, "{}")]));
        assert!(p
            .apply(1, &user("a"), "editor", update(&[(10, 4, "{}")]))
            .relay
            .is_none());
        assert!(p
            .apply(1, &user("a"), "editor", update(&[(10, 5, "{}")]))
            .relay
            .is_none());
        assert!(p
            .apply(1, &user("a"), "editor", update(&[(10, 5, "null")]))
            .relay
            .is_some());
        assert_eq!(p.live_states(), 0);
    }

    #[test]
    fn a_session_holds_a_bounded_number_of_client_ids() {
        let mut p = Presence::new(2, Duration::from_secs(30));
        let a = p.apply(
            1,
            &user("a"),
            "editor",
            update(&[(1, 1, "{}"), (2, 1, "{}"), (3, 1, "{}")]),
        );
        assert_eq!(a.refused.len(), 1);
        assert_eq!(p.live_states(), 2);
    }

    #[test]
    fn disconnect_removes_and_announces_only_that_sessions_states() {
        let mut p = Presence::new(4, Duration::from_secs(30));
        p.apply(1, &user("a"), "editor", update(&[(10, 3, "{}")]));
        p.apply(2, &user("b"), "viewer", update(&[(20, 1, "{}")]));
        let removal = p.remove_session(1).unwrap();
        assert_eq!(removal.clients[&ClientID::new(10)].clock, 4);
        assert_eq!(&*removal.clients[&ClientID::new(10)].json, "null");
        assert_eq!(p.live_states(), 1);
        assert!(p.remove_session(1).is_none());
        let snap = p.snapshot().unwrap();
        assert!(snap.clients.contains_key(&ClientID::new(20)));
    }

    #[test]
    fn remote_states_are_shown_expire_and_go_with_their_node() {
        let mut p = Presence::new(4, Duration::from_secs(30));
        p.apply(1, &user("a"), "editor", update(&[(10, 1, "{}")]));
        let alice = p.local_snapshot().unwrap().clients[&ClientID::new(10)]
            .json
            .clone();
        let mut remote = Presence::new(4, Duration::from_secs(30));
        let relay = remote
            .apply_remote(
                7,
                update(&[(10, 1, &alice), (11, 2, r#"{"creo":{"userId":"b"}}"#)]),
            )
            .unwrap();
        assert_eq!(relay.clients.len(), 2);
        assert_eq!(remote.snapshot().unwrap().clients.len(), 2);
        assert!(
            remote.local_snapshot().is_none(),
            "relayed states are not re-shared"
        );
        // Another user on this node may not take over a relayed client id.
        let b = remote.apply(5, &user("mallory"), "editor", update(&[(10, 9, "{}")]));
        assert_eq!(b.refused, vec![(ClientID::new(10), Refusal::ForeignClient)]);
        assert!(remote.expire_remote(Duration::from_secs(60)).is_none());
        let gone = remote.expire_remote(Duration::ZERO).unwrap();
        assert_eq!(gone.clients.len(), 2);
        assert_eq!(remote.live_states(), 0);
        remote.apply_remote(7, update(&[(12, 1, "{}")]));
        assert_eq!(remote.remove_node(7).unwrap().clients.len(), 1);
        assert!(remote.remove_node(7).is_none());
    }

    #[test]
    fn non_object_states_are_refused() {
        let mut p = Presence::new(4, Duration::from_secs(30));
        let a = p.apply(
            1,
            &user("a"),
            "editor",
            update(&[(1, 1, "42"), (2, 1, "not json")]),
        );
        assert_eq!(a.refused.len(), 2);
        assert!(a.relay.is_none());
    }

    #[test]
    fn removals_for_unknown_clients_leave_nothing_behind() {
        let mut p = Presence::new(8, Duration::from_secs(30));
        let removals: Vec<(u64, u32, &str)> = (0..300_000).map(|c| (c, 1, "null")).collect();
        let a = p.apply(1, &user("a"), "editor", update(&removals));
        assert!(a.relay.is_none());
        assert_eq!(p.entries(), 0);
    }

    #[test]
    fn a_frame_of_many_states_costs_one_lookup_each_and_keeps_the_session_limit() {
        let mut p = Presence::new(8, Duration::from_secs(30));
        let states: Vec<(u64, u32, &str)> = (0..10_000).map(|c| (c, 1, "{}")).collect();
        let started = Instant::now();
        let a = p.apply(1, &user("a"), "editor", update(&states));
        assert_eq!(p.live_states(), 8);
        assert_eq!(a.refused.len(), 10_000 - 8);
        // Not a timing assertion: a scan per entry made this take most of a minute.
        assert!(started.elapsed() < Duration::from_secs(5));
        // Freed by removal, the slots can be taken again.
        let held: Vec<u64> = a.relay.unwrap().clients.keys().map(|c| c.get()).collect();
        let removal: Vec<(u64, u32, &str)> = held.iter().map(|c| (*c, 2, "null")).collect();
        p.apply(1, &user("a"), "editor", update(&removal));
        assert_eq!(p.live_states(), 0);
        assert!(p
            .apply(1, &user("a"), "editor", update(&[(99_999, 1, "{}")]))
            .relay
            .is_some());
    }

    #[test]
    fn removed_states_are_forgotten_after_the_ttl_and_beyond_the_cap() {
        let mut p = Presence::new(8, Duration::ZERO);
        p.apply(1, &user("a"), "editor", update(&[(1, 1, "{}")]));
        p.apply(1, &user("a"), "editor", update(&[(1, 2, "null")]));
        std::thread::sleep(Duration::from_millis(2));
        p.apply(1, &user("a"), "editor", update(&[(2, 1, "{}")]));
        assert_eq!(p.entries(), 1, "the old removal is forgotten");
        let mut p = Presence::new(8, Duration::from_secs(3600));
        for c in 0..(MAX_TOMBSTONES as u64 + 500) {
            p.apply(1, &user("a"), "editor", update(&[(c, 1, "{}")]));
            p.apply(1, &user("a"), "editor", update(&[(c, 2, "null")]));
        }
        assert!(p.entries() <= MAX_TOMBSTONES);
    }

    #[test]
    fn a_removal_after_the_last_clock_does_not_overflow() {
        let mut p = Presence::new(4, Duration::from_secs(30));
        p.apply(1, &user("a"), "editor", update(&[(10, u32::MAX, "{}")]));
        let removal = p.remove_session(1).unwrap();
        assert_eq!(removal.clients[&ClientID::new(10)].clock, u32::MAX);
    }
}
