//! The y-sync wire protocol spoken by the official `y-websocket` provider: frame decoding with
//! explicit limits, outbound message encoding, close codes. No I/O lives here, so every rule is
//! unit-tested without sockets.

pub mod awareness;
pub mod intake;
pub mod relay;
pub mod update;

pub use update::{UpdateError, UpdateLimits, UpdateShape};

use bytes::Bytes;
use yrs::encoding::read::{Cursor, Read};
use yrs::sync::awareness::AwarenessUpdateEntry;
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

/// WebSocket close codes creo uses, split the way the official y-websocket client (3.x) reads
/// them: it gives up for good on 4400-4499 and reconnects on anything else. So a condition that
/// reconnecting cures (falling behind, a heartbeat timeout, the rate ceiling, a busy store,
/// shutdown) never uses 4400-4499, and only a decision reconnecting cannot change does.
pub mod close {
    /// Transient, standard: reconnect (to another node on shutdown).
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    /// A WebSocket framing error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const INTERNAL_ERROR: u16 = 1011;
    /// Try again later: the store is backlogged or the document is unloading.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// Final: the client sent something it must not send again.
    pub const MALFORMED_MESSAGE: u16 = 4400;
    pub const UNKNOWN_MESSAGE_TYPE: u16 = 4401;
    pub const INVALID_UPDATE: u16 = 4402;
    /// Final: access to the document was revoked (or was never there).
    pub const ACCESS_REVOKED: u16 = 4403;
    /// Final: the document does not exist for this account.
    pub const NOT_FOUND: u16 = 4404;
    /// Final: the document would exceed `max_document_bytes`; stop writing.
    pub const DOCUMENT_TOO_LARGE: u16 = 4413;
    /// Final: a message larger than `max_message_bytes`.
    pub const MESSAGE_TOO_BIG: u16 = 4414;
    /// Final: a text frame (the protocol is binary).
    pub const TEXT_FRAME: u16 = 4415;
    /// Transient: the client fell behind (its outbound queue filled); it resyncs on reconnect.
    pub const SLOW_CONSUMER: u16 = 4508;
    /// Transient: updates that build on content the server never received waited too long;
    /// reconnecting sends that content in the SyncStep2.
    pub const RESYNC_NEEDED: u16 = 4509;
    /// Transient: nothing heard from the client within `ping_timeout_ms`.
    pub const HEARTBEAT_TIMEOUT: u16 = 4510;
    /// Transient: the client stayed over its message rate for `rate_limit_close_after_ms`
    /// although its socket was no longer read.
    pub const RATE_LIMITED: u16 = 4529;

    /// Whether y-websocket 3.x reconnects after this code.
    pub fn retried_by_y_websocket(code: u16) -> bool {
        !(4400..4500).contains(&code)
    }
}

/// Where a document update came from within the sync protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    /// Reply to the server's SyncStep1: what the client has that the server lacks.
    SyncStep2,
    /// A live edit.
    Update,
}

/// A client's document update, validated (`update::validate`) and then decoded on the
/// session's thread, so a document actor never sees a structurally invalid update.
#[derive(Debug)]
pub struct ClientUpdate {
    pub kind: UpdateKind,
    /// The update's bytes, sharing the frame's buffer.
    pub raw: Bytes,
    pub shape: UpdateShape,
    pub update: Update,
}

impl intake::Shaped for ClientUpdate {
    fn shape(&self) -> &UpdateShape {
        &self.shape
    }
    fn bytes(&self) -> usize {
        self.raw.len()
    }
}

/// One decoded client message.
#[derive(Debug)]
pub enum Inbound {
    SyncStep1(StateVector),
    Update(ClientUpdate),
    /// An update from a session whose role cannot write: neither validated nor decoded (the
    /// role is checked before any costly work).
    ReadOnlyUpdate(UpdateKind),
    Awareness(AwarenessUpdate),
    QueryAwareness,
    /// Auth messages flow server to client only; one from a client is ignored.
    Auth,
}

/// Limits on one client frame, from the configuration (`Config::frame_limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// y-protocols messages in one WebSocket frame (y-websocket sends one).
    pub max_messages: usize,
    pub update: UpdateLimits,
    /// Client ids in one awareness message, and bytes of one client's state.
    pub max_awareness_entries: usize,
    pub max_awareness_state_bytes: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_messages: 16,
            update: UpdateLimits::default(),
            max_awareness_entries: 16_384,
            max_awareness_state_bytes: 16 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("unknown message type {0}")]
    UnknownType(u64),
    #[error("invalid document update: {0}")]
    InvalidUpdate(UpdateError),
    #[error("more than {0} messages in one frame")]
    TooManyMessages(usize),
}

impl FrameError {
    pub fn close_code(&self) -> u16 {
        match self {
            FrameError::Malformed(_) | FrameError::TooManyMessages(_) => close::MALFORMED_MESSAGE,
            FrameError::UnknownType(_) => close::UNKNOWN_MESSAGE_TYPE,
            FrameError::InvalidUpdate(_) => close::INVALID_UPDATE,
        }
    }

    /// Label used in the `creo_refused_messages_total{reason}` metric.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            FrameError::Malformed(_) => "malformed",
            FrameError::UnknownType(_) => "unknown_type",
            FrameError::InvalidUpdate(e) => e.metric_reason(),
            FrameError::TooManyMessages(_) => "too_many_messages",
        }
    }
}

fn malformed(e: impl std::fmt::Display) -> FrameError {
    FrameError::Malformed(e.to_string())
}

/// Decodes one binary WebSocket frame. y-websocket sends one message per frame, but the
/// protocol allows several back to back (at most `limits.max_messages`); all must decode or the
/// whole frame is refused, so a truncated frame is an error rather than silently shortened.
/// Updates from a session that cannot write (`writer` false) are not even validated.
pub fn decode_frame(
    frame: &Bytes,
    writer: bool,
    limits: &FrameLimits,
) -> Result<Vec<Inbound>, FrameError> {
    if frame.is_empty() {
        return Err(FrameError::Malformed("empty frame".into()));
    }
    let mut cur = Cursor::new(frame);
    let mut out = Vec::with_capacity(1);
    while cur.next < cur.buf.len() {
        if out.len() == limits.max_messages {
            return Err(FrameError::TooManyMessages(limits.max_messages));
        }
        let tag: u64 = cur.read_var().map_err(malformed)?;
        let msg = match tag {
            MSG_SYNC => {
                let sub: u64 = cur.read_var().map_err(malformed)?;
                let payload = cur.read_buf().map_err(malformed)?;
                let kind = match sub {
                    SYNC_STEP1 => {
                        let sv = decode_state_vector(payload, limits.update.max_clients)?;
                        out.push(Inbound::SyncStep1(sv));
                        continue;
                    }
                    SYNC_STEP2 => UpdateKind::SyncStep2,
                    SYNC_UPDATE => UpdateKind::Update,
                    other => return Err(malformed(format!("unknown sync message {other}"))),
                };
                if !writer {
                    Inbound::ReadOnlyUpdate(kind)
                } else {
                    let shape = update::validate(payload, &limits.update)
                        .map_err(FrameError::InvalidUpdate)?;
                    let update = Update::decode_v1(payload)
                        .map_err(|_| FrameError::InvalidUpdate(UpdateError::Malformed("yrs")))?;
                    Inbound::Update(ClientUpdate {
                        kind,
                        raw: frame.slice_ref(payload),
                        shape,
                        update,
                    })
                }
            }
            MSG_AWARENESS => {
                let payload = cur.read_buf().map_err(malformed)?;
                Inbound::Awareness(decode_awareness(payload, limits)?)
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

/// A state vector, its declared count checked against the bytes (and `max_clients`) before
/// anything is reserved for it, and each client id checked (yrs asserts 53 bits).
fn decode_state_vector(payload: &[u8], max_clients: usize) -> Result<StateVector, FrameError> {
    let mut cur = Cursor::new(payload);
    let n: u64 = cur.read_var().map_err(malformed)?;
    // Each entry is a client and a clock: two bytes at least.
    if n > (payload.len() as u64) / 2 || n > max_clients as u64 {
        return Err(malformed("state vector count"));
    }
    let mut entries = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let client = update::read_client(&mut cur).map_err(malformed)?;
        let clock: u32 = cur.read_var().map_err(malformed)?;
        entries.push((yrs::ClientID::new(client), clock));
    }
    Ok(StateVector::from_iter(entries))
}

/// An awareness update (y-protocols): a count, then per client its id, clock and JSON state.
/// The count and each state's size are checked before anything is kept.
pub fn decode_awareness(
    payload: &[u8],
    limits: &FrameLimits,
) -> Result<AwarenessUpdate, FrameError> {
    let mut cur = Cursor::new(payload);
    let n: u64 = cur.read_var().map_err(malformed)?;
    // Client, clock and state length: three bytes each at least.
    if n > (payload.len() as u64) / 3 || n > limits.max_awareness_entries as u64 {
        return Err(malformed("awareness count"));
    }
    let mut clients = std::collections::HashMap::with_capacity(n as usize);
    for _ in 0..n {
        let client = update::read_client(&mut cur).map_err(malformed)?;
        let clock: u32 = cur.read_var().map_err(malformed)?;
        let json = cur.read_string().map_err(malformed)?;
        if json.len() > limits.max_awareness_state_bytes {
            return Err(malformed("awareness state too large"));
        }
        clients.insert(
            yrs::ClientID::new(client),
            AwarenessUpdateEntry {
                clock,
                json: json.into(),
            },
        );
    }
    Ok(AwarenessUpdate { clients })
}

/// Outbound frames, encoded once and shared (`Bytes` is reference counted) by every recipient.
pub fn encode_update(update: &[u8]) -> Bytes {
    Message::Sync(SyncMessage::Update(update.to_vec()))
        .encode_v1()
        .into()
}

/// The frames that carry `updates` (in order) to a client: one update merged from all of them
/// when there are several (a burst of keystrokes becomes one frame, not one per keystroke; the
/// merged update is also smaller), or one frame each if they cannot be merged.
pub fn encode_updates(updates: &[Bytes]) -> Vec<Bytes> {
    match updates {
        [] => Vec::new(),
        [one] => vec![encode_update(one)],
        many => match yrs::merge_updates_v1(many.iter().map(|u| u.as_ref())) {
            Ok(merged) => vec![encode_update(&merged)],
            Err(_) => many.iter().map(|u| encode_update(u)).collect(),
        },
    }
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

/// Whether applying `update` would change a document whose content is `doc` and whose state,
/// with what is still waiting for the store, is `known`: new insertions, or deletions the
/// document has not seen. Reconnecting clients answer the server's SyncStep1 with their whole
/// delete set, so this is what tells a harmless SyncStep2 from a real write (not stored again).
/// Only an update without new insertions but with deletions costs a look at the document.
pub fn update_changes(
    doc: &Doc,
    known: &StateVector,
    shape: &UpdateShape,
    update: &Update,
) -> bool {
    if shape.inserts_beyond(known) {
        return true;
    }
    if !shape.deletes() {
        return false;
    }
    let txn = doc.transact();
    !update
        .delete_set()
        .diff(&txn.snapshot().delete_set)
        .is_empty()
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

    fn decode(frame: &[u8]) -> Result<Vec<Inbound>, FrameError> {
        decode_frame(
            &Bytes::copy_from_slice(frame),
            true,
            &FrameLimits::default(),
        )
    }

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
        match decode(&frame).unwrap().as_slice() {
            [Inbound::Update(ClientUpdate { kind, raw, .. })] => {
                assert_eq!(*kind, UpdateKind::Update);
                assert_eq!(raw.as_ref(), update.as_slice());
            }
            other => panic!("unexpected {other:?}"),
        }
        let step1 = encode_sync_step1(&StateVector::default());
        assert!(matches!(
            decode(&step1).unwrap().as_slice(),
            [Inbound::SyncStep1(_)]
        ));
        let step2 = encode_sync_step2(update.clone());
        assert!(matches!(
            decode(&step2).unwrap().as_slice(),
            [Inbound::Update(ClientUpdate {
                kind: UpdateKind::SyncStep2,
                ..
            })]
        ));
        assert!(matches!(
            decode(&[3]).unwrap().as_slice(),
            [Inbound::QueryAwareness]
        ));
        // A reader's updates are passed on undecoded, garbage or not.
        let reader = decode_frame(
            &Bytes::from_static(&[0, 2, 2, 0xff, 0xff]),
            false,
            &FrameLimits::default(),
        );
        assert!(matches!(
            reader.unwrap().as_slice(),
            [Inbound::ReadOnlyUpdate(UpdateKind::Update)]
        ));
    }

    #[test]
    fn a_frame_holds_a_bounded_number_of_messages() {
        let limits = FrameLimits::default();
        let frame = Bytes::from(vec![3u8; limits.max_messages]);
        assert_eq!(
            decode_frame(&frame, true, &limits).unwrap().len(),
            limits.max_messages
        );
        let frame = Bytes::from(vec![3u8; limits.max_messages + 1]);
        assert_eq!(
            decode_frame(&frame, true, &limits).unwrap_err(),
            FrameError::TooManyMessages(limits.max_messages)
        );
    }

    #[test]
    fn client_ids_past_53_bits_are_refused_before_yrs_sees_them() {
        let wide = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]; // 2^53
        let mut step1 = vec![0, 0, 10, 1];
        step1.extend(wide);
        step1.push(0);
        assert!(matches!(decode(&step1), Err(FrameError::Malformed(_))));
        let mut awareness = vec![1, 12, 1];
        awareness.extend(wide);
        awareness.extend([1, 2, b'{', b'}']);
        assert!(matches!(decode(&awareness), Err(FrameError::Malformed(_))));
    }

    #[test]
    fn declared_counts_are_checked_against_the_bytes() {
        // SyncStep1 whose state vector claims 2^28 clients in four bytes.
        assert!(matches!(
            decode(&[0, 0, 4, 0x80, 0x80, 0x80, 0x01]),
            Err(FrameError::Malformed(_))
        ));
        // Awareness claiming a million entries.
        assert!(matches!(
            decode(&[1, 3, 0xc0, 0x84, 0x3d]),
            Err(FrameError::Malformed(_))
        ));
        let limits = FrameLimits {
            max_awareness_state_bytes: 4,
            ..FrameLimits::default()
        };
        let big = AwarenessUpdate {
            clients: [(
                yrs::ClientID::new(1),
                AwarenessUpdateEntry {
                    clock: 1,
                    json: "{\"a\":1}".into(),
                },
            )]
            .into(),
        };
        let frame = encode_awareness(big);
        assert!(decode_frame(&frame, true, &FrameLimits::default()).is_ok());
        assert!(decode_frame(&frame, true, &limits).is_err());
    }

    #[test]
    fn a_burst_of_updates_goes_out_as_one_merged_frame() {
        let writer = Doc::with_client_id(3);
        let text = writer.get_or_insert_text("t");
        let updates: Vec<Bytes> = (0..1000)
            .map(|_| {
                let mut txn = writer.transact_mut();
                let end = text.len(&txn);
                text.insert(&mut txn, end, "x");
                Bytes::from(txn.encode_update_v1())
            })
            .collect();
        let frames = encode_updates(&updates);
        assert_eq!(frames.len(), 1);
        let reader = Doc::new();
        for f in &frames {
            let Inbound::Update(ClientUpdate { update, .. }) = decode(f).unwrap().pop().unwrap()
            else {
                panic!("not an update")
            };
            reader.transact_mut().apply_update(update).unwrap();
        }
        let read = reader.get_or_insert_text("t");
        assert_eq!(read.get_string(&reader.transact()), "x".repeat(1000));
        let one: usize = frames.iter().map(|f| f.len()).sum();
        let each: usize = updates.iter().map(|u| encode_update(u).len()).sum();
        assert!(one < each, "merged {one} bytes, separately {each}");
    }

    #[test]
    fn several_messages_in_one_frame_all_decode() {
        let mut frame = encode_update(&text_update("a")).to_vec();
        frame.extend_from_slice(&[3]);
        assert_eq!(decode(&frame).unwrap().len(), 2);
    }

    #[test]
    fn refuses_bad_frames_with_specific_errors() {
        assert!(matches!(decode(&[]), Err(FrameError::Malformed(_))));
        assert_eq!(decode(&[7, 0]).unwrap_err(), FrameError::UnknownType(7));
        // Sync update claiming 10 payload bytes but carrying 2: truncated.
        assert!(matches!(
            decode(&[0, 2, 10, 1, 2]),
            Err(FrameError::Malformed(_))
        ));
        // Unknown sync sub-type.
        assert!(matches!(decode(&[0, 9, 0]), Err(FrameError::Malformed(_))));
        // Well-framed update whose payload is garbage.
        assert!(matches!(
            decode(&[0, 2, 3, 0xff, 0xff, 0xff]),
            Err(FrameError::InvalidUpdate(_))
        ));
        // A valid message followed by a truncated one refuses the whole frame.
        let mut frame = encode_update(&text_update("a")).to_vec();
        frame.extend_from_slice(&[0, 2, 5]);
        assert!(decode(&frame).is_err());
    }

    #[test]
    fn close_codes_are_specific() {
        assert_eq!(
            FrameError::UnknownType(9).close_code(),
            close::UNKNOWN_MESSAGE_TYPE
        );
        assert_eq!(
            FrameError::InvalidUpdate(UpdateError::ClockOverflow).close_code(),
            close::INVALID_UPDATE
        );
    }

    #[test]
    fn an_update_round_trips_into_a_document() {
        let frame = encode_update(&text_update("round trip"));
        let Inbound::Update(ClientUpdate { update, .. }) = decode(&frame).unwrap().pop().unwrap()
        else {
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
        let changes = |server: &Doc, b: &[u8]| {
            let shape = update::validate(b, &UpdateLimits::default()).unwrap();
            let known = server.transact().state_vector();
            update_changes(server, &known, &shape, &Update::decode_v1(b).unwrap())
        };
        let decode = |b: &[u8]| Update::decode_v1(b).unwrap();
        assert!(changes(&server, &full));
        server.transact_mut().apply_update(decode(&full)).unwrap();
        // What the client answers to the server's SyncStep1 once in sync: no insertions, but its
        // whole delete set. Not a change.
        let echo = client
            .transact()
            .encode_state_as_update_v1(&server.transact().state_vector());
        assert!(!decode(&echo).is_empty());
        assert!(!changes(&server, &echo));
        // A new deletion is a change even without insertions.
        let sv = client.transact().state_vector();
        {
            let mut txn = client.transact_mut();
            text.remove_range(&mut txn, 0, 1);
        }
        let delete_only = client.transact().encode_state_as_update_v1(&sv);
        assert!(changes(&server, &delete_only));
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
