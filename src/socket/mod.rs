//! The WebSocket after the upgrade, owned outright: the HTTP dispatcher hands the TCP stream
//! over (`http::ws`) and keeps nothing of the connection. A reader yields whole messages
//! (actix-http's frame codec, continuations joined, up to `max_message_bytes`); a writer task
//! flushes the outbound queue (`outbox`) with one vectored write per wake-up. Owning both ends
//! keeps every byte the server holds for a connection in one counted place, lets a session stop
//! reading when it must (TCP then pushes back on the client), and lets an idle connection hold
//! no buffer at all.

pub mod inflight;
pub mod outbox;
pub mod wire;
pub mod writer;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use bytes::{Bytes, BytesMut};
use futures_util::{Future, Stream};
use tokio::net::TcpStream;

pub use actix_http::ws::{CloseCode, CloseReason};
pub use outbox::{Full, Outbox};
pub use wire::WireFrame;

/// One whole message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Binary(Bytes),
    /// Text messages are not part of the Yjs protocol; their content is not kept.
    Text,
    Ping(Bytes),
    Pong,
    Close(Option<CloseReason>),
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("message exceeds max_message_bytes")]
    TooBig,
    #[error("{0}")]
    Protocol(ProtocolError),
    #[error("connection error: {0}")]
    Connection(String),
}

/// Reads frames from the socket. Nothing is read while nobody polls this stream.
pub struct FrameReader {
    io: Arc<TcpStream>,
    /// What arrived and is not a whole frame yet; no allocation at all while idle.
    buf: BytesMut,
    codec: Codec,
    max_message: usize,
    /// A message arriving in continuation frames: whether it is text, and what came so far.
    partial: Option<(bool, BytesMut)>,
    /// Fails once the writer has ended: the connection is gone.
    gone: tokio::sync::oneshot::Receiver<()>,
    done: bool,
}

impl FrameReader {
    fn frame(&mut self, frame: Frame) -> Result<Option<Incoming>, ReadError> {
        Ok(Some(match frame {
            Frame::Binary(b) => Incoming::Binary(b),
            Frame::Text(_) => Incoming::Text,
            Frame::Ping(p) => Incoming::Ping(p),
            Frame::Pong(_) => Incoming::Pong,
            Frame::Close(r) => Incoming::Close(r),
            Frame::Continuation(item) => {
                let (first, last, chunk) = match item {
                    Item::FirstBinary(b) => (Some(false), false, b),
                    Item::FirstText(b) => (Some(true), false, b),
                    Item::Continue(b) => (None, false, b),
                    Item::Last(b) => (None, true, b),
                };
                if let Some(text) = first {
                    self.partial = Some((text, BytesMut::new()));
                }
                let Some((text, joined)) = self.partial.as_mut() else {
                    return Err(ReadError::Protocol(ProtocolError::ContinuationNotStarted));
                };
                if joined.len() + chunk.len() > self.max_message {
                    return Err(ReadError::TooBig);
                }
                if !*text {
                    joined.extend_from_slice(&chunk);
                }
                if !last {
                    return Ok(None);
                }
                let (text, joined) = self.partial.take().expect("partial message");
                if text {
                    Incoming::Text
                } else {
                    Incoming::Binary(joined.freeze())
                }
            }
        }))
    }
}

/// Read this much at a time (a larger message grows the buffer as it arrives).
const READ_CHUNK: usize = 4 * 1024;

impl Stream for FrameReader {
    type Item = Result<Incoming, ReadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.done && Pin::new(&mut this.gone).poll(cx).is_ready() {
            this.done = true;
        }
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.codec.decode(&mut this.buf) {
                Ok(Some(frame)) => match this.frame(frame) {
                    Ok(Some(msg)) => return Poll::Ready(Some(Ok(msg))),
                    Ok(None) => continue,
                    Err(e) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                Ok(None) => {}
                Err(ProtocolError::Overflow) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(ReadError::TooBig)));
                }
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(ReadError::Protocol(e))));
                }
            }
            match this.io.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(ReadError::Connection(e.to_string()))));
                }
                Poll::Pending => {
                    if this.buf.is_empty() {
                        // Going idle: give the buffer back rather than keep 4 KiB per quiet
                        // connection.
                        this.buf = BytesMut::new();
                    }
                    return Poll::Pending;
                }
            }
            this.buf.reserve(READ_CHUNK);
            match this.io.try_read_buf(&mut this.buf) {
                Ok(0) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Ok(_) => {}
                // Readiness was stale; polling it again registers for the next.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(ReadError::Connection(e.to_string()))));
                }
            }
        }
    }
}

/// Takes over an upgraded connection: starts its writer on this thread and returns the reader
/// of what the client sends. `received` is what the HTTP layer read past the upgrade request
/// (a client may send its first frames without waiting for the 101).
pub fn take_over(
    io: TcpStream,
    received: BytesMut,
    outbox: Arc<Outbox>,
    max_message: usize,
) -> FrameReader {
    let io = Arc::new(io);
    let (gone_tx, gone) = tokio::sync::oneshot::channel();
    actix_rt::spawn(writer::run(io.clone(), outbox, gone_tx));
    FrameReader {
        io,
        // Copied out of the HTTP layer's larger read buffer, which is then freed.
        buf: BytesMut::from(&received[..]),
        codec: Codec::new().max_size(max_message),
        max_message,
        partial: None,
        gone,
        done: false,
    }
}
