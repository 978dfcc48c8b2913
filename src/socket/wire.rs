//! WebSocket frames as they go on the wire. A server's frames are never masked, so one encoded
//! frame is the same bytes for every receiver: a broadcast encodes once and every outbox holds
//! a reference to the same buffer.

use actix_http::ws::{CloseReason, OpCode, Parser};
use bytes::{Bytes, BytesMut};

/// One whole encoded frame, header and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireFrame(Bytes);

impl WireFrame {
    pub fn binary(payload: &[u8]) -> WireFrame {
        WireFrame::encode(payload, OpCode::Binary)
    }

    pub fn ping() -> WireFrame {
        WireFrame::encode(&[], OpCode::Ping)
    }

    pub fn pong(payload: &[u8]) -> WireFrame {
        WireFrame::encode(payload, OpCode::Pong)
    }

    pub fn close(reason: Option<CloseReason>) -> WireFrame {
        let mut out = BytesMut::new();
        Parser::write_close(&mut out, reason, false);
        WireFrame(out.freeze())
    }

    fn encode(payload: &[u8], op: OpCode) -> WireFrame {
        let mut out = BytesMut::with_capacity(payload.len() + 10);
        Parser::write_message(&mut out, payload, op, true, false);
        WireFrame(out.freeze())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A message payload becomes one binary frame.
impl From<Bytes> for WireFrame {
    fn from(payload: Bytes) -> WireFrame {
        WireFrame::binary(&payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_codec::Decoder;
    use actix_http::ws::{Codec, Frame};

    /// What a client's decoder reads back is the payload, at each length encoding (7-bit,
    /// 16-bit and 64-bit lengths).
    #[test]
    fn a_client_decodes_every_length_class() {
        for n in [0, 125, 126, 65_535, 65_536, 200_000] {
            let payload: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let wire = WireFrame::binary(&payload);
            let mut buf = BytesMut::from(wire.bytes());
            let mut client = Codec::new().client_mode().max_size(1 << 20);
            match client.decode(&mut buf).unwrap() {
                Some(Frame::Binary(b)) => assert_eq!(&b[..], &payload[..], "length {n}"),
                other => panic!("length {n}: {other:?}"),
            }
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn control_frames() {
        assert_eq!(WireFrame::ping().bytes(), &[0x89, 0]);
        assert_eq!(WireFrame::pong(b"p").bytes(), &[0x8a, 1, b'p']);
        let close = WireFrame::close(Some(actix_http::ws::CloseCode::Away.into()));
        assert_eq!(close.bytes(), &[0x88, 2, 0x03, 0xe9]);
    }
}
