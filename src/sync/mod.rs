//! The y-sync wire protocol spoken by the official `y-websocket` provider: frame decoding with
//! explicit limits, outbound message encoding, close codes. No I/O lives here, so every rule is
//! unit-tested without sockets.

pub mod awareness;

use bytes::Bytes;
use yrs::encoding::read::{Cursor, Read};
use yrs::sync::{AwarenessUpdate, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

/// Top-level message tags of y-protocols (y-websocket's `messageSync`, ...).
pub const MSG_SYNC: u64 = 0;
pub const MSG_AWARENESS: u64 = 1;
pub const MSG_AUTH: u64 = 2;
pub const MSG_QUERY_AWARENESS: u64 = 3;
/// creo extension: "your updates are durable". Sent only to clients that opted in with
/// `?ack=1`, because the official client logs an error for tags it does not know.
pub const MSG_ACK: u64 = 100;
/// creo's event message (type 101), sent to sessions that opened with `?events=1`.
pub const MSG_EVENT: u64 = 101;

const SYNC_STEP1: u64 = 0;
const SYNC_STEP2: u64 = 1;
const SYNC_UPDATE: u64 = 2;

/// WebSocket close codes creo uses. 1xxx are RFC 6455; 4xxx are creo's own, stable, and listed
/// in the README so clients can tell "reconnect" from "give up".
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const INTERNAL_ERROR: u16 = 1011;
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const MALFORMED_MESSAGE: u16 = 4400;
    pub const UNKNOWN_MESSAGE_TYPE: u16 = 4401;
    pub const INVALID_UPDATE: u16 = 4402;
    pub const DOCUMENT_TOO_LARGE: u16 = 4413;
    pub const RATE_LIMITED: u16 = 4429;
    /// The user's access to the document or account was revoked.
    pub const ACCESS_REVOKED: u16 = 4403;
    pub const SLOW_CONSUMER: u16 = 4408;
    pub const HEARTBEAT_TIMEOUT: u16 = 4410;
}

/// Where a document update came from within the sync protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    /// Reply to the server's SyncStep1: what the client has that the server lacks.
    SyncStep2,
    /// A live edit.
    Update,
}

/// One decoded client message. Updates are decoded (and so validated) here, on the session's
/// thread, so a document actor never sees a structurally invalid update.
#[derive(Debug)]
pub enum Inbound {
    SyncStep1(StateVector),
    Update {
        kind: UpdateKind,
        raw: Bytes,
        update: Update,
    },
    Awareness(AwarenessUpdate),
    QueryAwareness,
    /// Auth messages flow server to client only; one from a client is ignored.
    Auth,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("unknown message type {0}")]
    UnknownType(u64),
    #[error("invalid document update: {0}")]
    InvalidUpdate(String),
}

impl FrameError {
    pub fn close_code(&self) -> u16 {
        match self {
            FrameError::Malformed(_) => close::MALFORMED_MESSAGE,
            FrameError::UnknownType(_) => close::UNKNOWN_MESSAGE_TYPE,
            FrameError::InvalidUpdate(_) => close::INVALID_UPDATE,
        }
    }

    /// Label used in the `creo_refused_messages_total{reason}` metric.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            FrameError::Malformed(_) => "malformed",
            FrameError::UnknownType(_) => "unknown_type",
            FrameError::InvalidUpdate(_) => "invalid_update",
        }
    }
}

fn malformed(e: impl std::fmt::Display) -> FrameError {
    FrameError::Malformed(e.to_string())
}

/// Decodes one binary WebSocket frame. y-websocket sends one message per frame, but the
/// protocol allows several back to back; all must decode or the whole frame is refused, so a
/// truncated frame is an error rather than silently shortened.
pub fn decode_frame(frame: &[u8]) -> Result<Vec<Inbound>, FrameError> {
    if frame.is_empty() {
        return Err(FrameError::Malformed("empty frame".into()));
    }
    let mut cur = Cursor::new(frame);
    let mut out = Vec::with_capacity(1);
    while cur.next < cur.buf.len() {
        let tag: u64 = cur.read_var().map_err(malformed)?;
        let msg = match tag {
            MSG_SYNC => {
                let sub: u64 = cur.read_var().map_err(malformed)?;
                let payload = cur.read_buf().map_err(malformed)?;
                match sub {
                    SYNC_STEP1 => {
                        Inbound::SyncStep1(StateVector::decode_v1(payload).map_err(malformed)?)
                    }
                    SYNC_STEP2 | SYNC_UPDATE => {
                        let update = Update::decode_v1(payload)
                            .map_err(|e| FrameError::InvalidUpdate(e.to_string()))?;
                        let kind = if sub == SYNC_STEP2 {
                            UpdateKind::SyncStep2
                        } else {
                            UpdateKind::Update
                        };
                        Inbound::Update {
                            kind,
                            raw: Bytes::copy_from_slice(payload),
                            update,
                        }
                    }
                    other => return Err(malformed(format!("unknown sync message {other}"))),
                }
            }
            MSG_AWARENESS => {
                let payload = cur.read_buf().map_err(malformed)?;
                Inbound::Awareness(AwarenessUpdate::decode_v1(payload).map_err(malformed)?)
            }
            MSG_AUTH => {
                let permission: u64 = cur.read_var().map_err(malformed)?;
                if permission == 0 {
                    cur.read_string().map_err(malformed)?;
                }
                Inbound::Auth
            }
            MSG_QUERY_AWARENESS => Inbound::QueryAwareness,
            other => return Err(FrameError::UnknownType(other)),
        };
        out.push(msg);
    }
    Ok(out)
}

/// Outbound frames, encoded once and shared (`Bytes` is reference counted) by every recipient.
pub fn encode_update(update: &[u8]) -> Bytes {
    Message::Sync(SyncMessage::Update(update.to_vec()))
        .encode_v1()
        .into()
}

pub fn encode_sync_step1(sv: &StateVector) -> Bytes {
    Message::Sync(SyncMessage::SyncStep1(sv.clone()))
        .encode_v1()
        .into()
}

pub fn encode_sync_step2(update: Vec<u8>) -> Bytes {
    Message::Sync(SyncMessage::SyncStep2(update))
        .encode_v1()
        .into()
}

pub fn encode_awareness(update: AwarenessUpdate) -> Bytes {
    Message::Awareness(update).encode_v1().into()
}

/// y-protocols' auth message with "permission denied" and a reason, which the official
/// provider surfaces through its `permissionDeniedHandler`.
pub fn encode_permission_denied(reason: &str) -> Bytes {
    Message::Auth(Some(reason.to_string())).encode_v1().into()
}

/// creo's own messages a session opted in to (the official client logs unknown message types,
/// so none is sent unasked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extensions {
    /// Type 100: how many of this session's updates are durable.
    pub ack: bool,
    /// Type 101: document events as JSON (workflow transitions).
    pub events: bool,
}

/// creo's event message: type 101, then the event as a JSON string.
pub fn encode_event(json: &str) -> Bytes {
    let mut buf = Vec::with_capacity(json.len() + 8);
    write_var(&mut buf, MSG_EVENT);
    write_var(&mut buf, json.len() as u64);
    buf.extend_from_slice(json.as_bytes());
    buf.into()
}

/// creo's acknowledgement: the count of this session's updates that are durable so far.
pub fn encode_ack(durable_updates: u64) -> Bytes {
    let mut buf = Vec::with_capacity(8);
    write_var(&mut buf, MSG_ACK);
    write_var(&mut buf, durable_updates);
    buf.into()
}

fn write_var(buf: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        buf.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// Whether applying `update` to `doc` would change it: new insertions, or deletions the document
/// has not seen. Reconnecting clients answer the server's SyncStep1 with their whole delete set,
/// so this is what tells a harmless SyncStep2 from a real write (refused for read-only roles,
/// and not stored again for writers).
pub fn update_changes(doc: &Doc, update: &Update) -> bool {
    let txn = doc.transact();
    let sv = txn.state_vector();
    let inserts = update.insertions(true);
    for (client, ranges) in inserts.iter() {
        let known = sv.get(client);
        if ranges.iter().any(|r| r.end > known) {
            return true;
        }
    }
    let deletes = update.delete_set();
    !deletes.is_empty() && !deletes.diff(&txn.snapshot().delete_set).is_empty()
}

/// Document ids: 1-128 characters of `[A-Za-z0-9._-]`. Anything else is refused before any
/// actor or store sees it.
pub fn valid_doc_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, GetString, Text, Transact};

    fn text_update(s: &str) -> Vec<u8> {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("t");
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, s);
        txn.encode_update_v1()
    }

    #[test]
    fn decodes_the_messages_y_websocket_sends() {
        let update = text_update("hello");
        let frame = encode_update(&update);
        match decode_frame(&frame).unwrap().as_slice() {
            [Inbound::Update { kind, raw, .. }] => {
                assert_eq!(*kind, UpdateKind::Update);
                assert_eq!(raw.as_ref(), update.as_slice());
            }
            other => panic!("unexpected {other:?}"),
        }
        let step1 = encode_sync_step1(&StateVector::default());
        assert!(matches!(
            decode_frame(&step1).unwrap().as_slice(),
            [Inbound::SyncStep1(_)]
        ));
        let step2 = encode_sync_step2(update.clone());
        assert!(matches!(
            decode_frame(&step2).unwrap().as_slice(),
            [Inbound::Update {
                kind: UpdateKind::SyncStep2,
                ..
            }]
        ));
        assert!(matches!(
            decode_frame(&[3]).unwrap().as_slice(),
            [Inbound::QueryAwareness]
        ));
    }

    #[test]
    fn several_messages_in_one_frame_all_decode() {
        let mut frame = encode_update(&text_update("a")).to_vec();
        frame.extend_from_slice(&[3]);
        assert_eq!(decode_frame(&frame).unwrap().len(), 2);
    }

    #[test]
    fn refuses_bad_frames_with_specific_errors() {
        assert!(matches!(decode_frame(&[]), Err(FrameError::Malformed(_))));
        assert_eq!(
            decode_frame(&[7, 0]).unwrap_err(),
            FrameError::UnknownType(7)
        );
        // Sync update claiming 10 payload bytes but carrying 2: truncated.
        assert!(matches!(
            decode_frame(&[0, 2, 10, 1, 2]),
            Err(FrameError::Malformed(_))
        ));
        // Unknown sync sub-type.
        assert!(matches!(
            decode_frame(&[0, 9, 0]),
            Err(FrameError::Malformed(_))
        ));
        // Well-framed update whose payload is garbage.
        assert!(matches!(
            decode_frame(&[0, 2, 3, 0xff, 0xff, 0xff]),
            Err(FrameError::InvalidUpdate(_))
        ));
        // A valid message followed by a truncated one refuses the whole frame.
        let mut frame = encode_update(&text_update("a")).to_vec();
        frame.extend_from_slice(&[0, 2, 5]);
        assert!(decode_frame(&frame).is_err());
    }

    #[test]
    fn close_codes_are_specific() {
        assert_eq!(
            FrameError::UnknownType(9).close_code(),
            close::UNKNOWN_MESSAGE_TYPE
        );
        assert_eq!(
            FrameError::InvalidUpdate(String::new()).close_code(),
            close::INVALID_UPDATE
        );
    }

    #[test]
    fn an_update_round_trips_into_a_document() {
        let frame = encode_update(&text_update("round trip"));
        let Inbound::Update { update, .. } = decode_frame(&frame).unwrap().pop().unwrap() else {
            panic!("not an update")
        };
        let doc = Doc::new();
        let text = doc.get_or_insert_text("t");
        doc.transact_mut().apply_update(update).unwrap();
        assert_eq!(text.get_string(&doc.transact()), "round trip");
    }

    #[test]
    fn ack_and_permission_denied_encode_as_y_protocols_expects() {
        assert_eq!(encode_ack(300).as_ref(), &[100, 0xac, 0x02]);
        let denied = encode_permission_denied("read-only");
        assert_eq!(denied[0], 2); // auth
        assert_eq!(denied[1], 0); // permission denied
        assert_eq!(&denied[3..], b"read-only");
    }

    #[test]
    fn update_changes_tells_real_writes_from_echoes() {
        let server = Doc::new();
        let client = Doc::new();
        let text = client.get_or_insert_text("t");
        {
            let mut txn = client.transact_mut();
            text.insert(&mut txn, 0, "hello world");
        }
        {
            let mut txn = client.transact_mut();
            text.remove_range(&mut txn, 0, 6);
        }
        let full = client
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let decode = |b: &[u8]| Update::decode_v1(b).unwrap();
        assert!(update_changes(&server, &decode(&full)));
        server.transact_mut().apply_update(decode(&full)).unwrap();
        // What the client answers to the server's SyncStep1 once in sync: no insertions, but its
        // whole delete set. Not a change.
        let echo = client
            .transact()
            .encode_state_as_update_v1(&server.transact().state_vector());
        assert!(!decode(&echo).is_empty());
        assert!(!update_changes(&server, &decode(&echo)));
        // A new deletion is a change even without insertions.
        let sv = client.transact().state_vector();
        {
            let mut txn = client.transact_mut();
            text.remove_range(&mut txn, 0, 1);
        }
        let delete_only = client.transact().encode_state_as_update_v1(&sv);
        assert!(update_changes(&server, &decode(&delete_only)));
    }

    #[test]
    fn doc_ids() {
        assert!(valid_doc_id("post-1.draft_2"));
        assert!(valid_doc_id(&"a".repeat(128)));
        assert!(!valid_doc_id(""));
        assert!(!valid_doc_id(&"a".repeat(129)));
        assert!(!valid_doc_id("a/b"));
        assert!(!valid_doc_id("ünï"));
        assert!(!valid_doc_id("a b"));
    }
}
