//! The WebSocket after the upgrade, on actix-http's frame codec: a reader that yields whole
//! messages (continuations joined, up to `max_message_bytes`), and the outbound queue the
//! response body drains (`outbox`). Owning both ends, rather than going through a session
//! helper with its own channels, keeps every byte the server holds for a connection in one
//! counted place and lets a session stop reading when it must (TCP then pushes back on the
//! client).

pub mod inflight;
pub mod outbox;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::{Future, Stream};

pub use actix_http::ws::{CloseCode, CloseReason};
pub use outbox::{Full, Outbox, OutboxBody};

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

/// Reads frames from the request's payload. Nothing is read from the socket while nobody polls
/// this stream.
pub struct FrameReader {
    payload: web::Payload,
    buf: BytesMut,
    codec: Codec,
    max_message: usize,
    /// A message arriving in continuation frames: whether it is text, and what came so far.
    partial: Option<(bool, BytesMut)>,
    /// Resolves (or fails) once the response body is dropped: the connection is gone.
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

/// Keep at most this much read buffer while idle (a large message leaves a large buffer).
const IDLE_READ_BUFFER: usize = 8 * 1024;

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
                    Ok(Some(msg)) => {
                        if this.buf.is_empty() && this.buf.capacity() > IDLE_READ_BUFFER {
                            this.buf = BytesMut::new();
                        }
                        return Poll::Ready(Some(Ok(msg)));
                    }
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
            match Pin::new(&mut this.payload).poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => this.buf.extend_from_slice(&bytes),
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(ReadError::Connection(e.to_string()))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Answers the upgrade: the 101 response whose body drains `outbox`, and the reader of what
/// the client sends.
pub fn upgrade(
    req: &HttpRequest,
    payload: web::Payload,
    outbox: Arc<Outbox>,
    max_message: usize,
) -> Result<(HttpResponse, FrameReader), actix_web::Error> {
    let (gone_tx, gone) = tokio::sync::oneshot::channel();
    let body = OutboxBody::new(outbox, Some(gone_tx));
    let response = actix_http::ws::handshake(req.head())
        .map_err(|e| actix_web::error::ErrorBadRequest(e.to_string()))?
        .message_body(actix_web::body::BodyStream::new(body))?;
    let reader = FrameReader {
        payload,
        buf: BytesMut::new(),
        codec: Codec::new().max_size(max_message),
        max_message,
        partial: None,
        gone,
        done: false,
    };
    Ok((HttpResponse::from(response).map_into_boxed_body(), reader))
}
