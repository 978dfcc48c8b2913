//! What nodes say to each other on the bus, and its wire format (postcard: compact, serde-derived,
//! no schema compiler). A version byte leads every message so a rolling upgrade can tell an
//! unknown format from a corrupt one.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A node's identity on the bus: random per process start, so a restarted node is a new node.
pub type NodeId = u64;

/// 2: `Revoke` became `Access` (revocations, role and account changes).
/// 3: `DocMessage::Event` (workflow, comment and job events for editors on every node).
const VERSION: u8 = 3;

/// One document actor's stream of messages: `(node, actor)` plus a sequence number that grows by
/// one per message, so a receiver notices a message that never arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    pub node: NodeId,
    pub actor: u64,
}

/// A change to who may do what, applied on every node at once: sockets close or lose write
/// access within the second, and cached account state is reloaded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AccessChange {
    /// A user's access was revoked: close their sessions (in one document, or in the whole
    /// account).
    Revoke(crate::access::Revocation),
    /// `user`'s role in `account` changed; `None`: no longer a member.
    Role {
        account: String,
        user: String,
        role: Option<crate::role::Role>,
    },
    /// A revocation of `user` in `account` was lifted: nodes read the account's revocations
    /// again (the user may open what they were barred from).
    Lift { account: String, user: String },
    /// The account's tier, payment state or members changed: reload its cached copy.
    Account { account: String },
    /// A login session was revoked (logout, revoked by its user, refresh-token reuse): its
    /// access tokens stop working and its sockets close.
    Session { session: String },
    /// `account` now requires a second factor and these members have none: the sockets they
    /// opened in it with a login session close (app tokens and API keys are not people).
    SecondFactorRequired { account: String, users: Vec<String> },
    /// The document was deleted: its sockets close (4404) and its actor stops, on every node.
    DocumentDeleted { doc: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Envelope {
    /// On a document's channel.
    Doc {
        origin: Origin,
        /// 0 for notices sent outside the actor's sequence (see `DocMessage::Resync`).
        seq: u64,
        message: DocMessage,
    },
    /// On the node channel: this node is alive (every `bus_heartbeat_ms`).
    Heartbeat { node: NodeId },
    /// On the node channel: this node is shutting down; drop its presence now.
    Bye { node: NodeId },
    /// On the node channel: an access change every node applies (see `AccessChange`).
    Access { node: NodeId, change: AccessChange },
    /// On the node channel: a message for one person's live inbox streams, wherever they are
    /// open (JSON).
    Inbox {
        node: NodeId,
        user: String,
        event: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DocMessage {
    /// Updates the origin made durable, in commit order.
    Updates(Vec<Bytes>),
    /// A Yjs awareness update (already stamped with the authenticated identity).
    Awareness(Bytes),
    /// The origin opened the document: answer with `Here`, so both know each other.
    Hello { presence: Option<Bytes> },
    /// Answer to `Hello`: the origin has the document open, with this presence.
    Here { presence: Option<Bytes> },
    /// The origin could not publish some of its messages: reload the document from the store.
    Resync,
    /// An event for the document's sessions that listen for events (JSON), sent outside any
    /// actor's sequence (by a REST handler or a job worker).
    Event(String),
}

impl Envelope {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        // Serialising plain enums, vectors and byte strings into a Vec cannot fail.
        out.extend(postcard::to_stdvec(self).expect("bus envelope encodes"));
        out
    }

    pub fn decode(raw: &[u8]) -> Result<Envelope, String> {
        match raw.split_first() {
            Some((&VERSION, rest)) => postcard::from_bytes(rest).map_err(|e| e.to_string()),
            Some((v, _)) => Err(format!("unknown bus message version {v}")),
            None => Err("empty bus message".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_unknown_versions() {
        let e = Envelope::Doc {
            origin: Origin { node: 7, actor: 3 },
            seq: 42,
            message: DocMessage::Updates(vec![Bytes::from_static(b"\x01\x02"), Bytes::new()]),
        };
        let raw = e.encode();
        assert_eq!(Envelope::decode(&raw).unwrap(), e);
        let mut wrong = raw.clone();
        wrong[0] = 9;
        assert!(Envelope::decode(&wrong).unwrap_err().contains("version 9"));
        assert!(Envelope::decode(&raw[..raw.len() - 1]).is_err());
        assert!(Envelope::decode(&[]).is_err());
    }
}
