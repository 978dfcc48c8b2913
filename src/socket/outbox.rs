//! A session's outbound queue, bounded in frames and in bytes, drained straight into the HTTP
//! dispatcher's write buffer by the upgraded response's body ([`OutboxBody`]).
//!
//! There is no other buffer between the document and the socket: the dispatcher asks the body
//! for more only while its own write buffer is below its high-water mark, so frames wait here,
//! where they are counted, until the client reads. A client that stops reading fills this queue
//! and is disconnected (it resyncs on reconnect) instead of growing memory.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use actix_codec::Encoder;
use actix_http::ws::{CloseReason, Codec, Message};
use bytes::{Bytes, BytesMut};
use futures_util::task::AtomicWaker;

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Frames,
    Bytes,
}

impl Full {
    pub fn metric_reason(self) -> &'static str {
        match self {
            Full::Frames => "outbound_frames",
            Full::Bytes => "outbound_bytes",
        }
    }
}

struct Queued {
    frame: Bytes,
    /// The answer to a SyncStep1: as large as the document, so counted on its own, one at a time.
    answer: bool,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Queued>,
    /// Bytes of queued frames, answers aside.
    bytes: usize,
    answer_queued: bool,
    /// Only the latest ping needs its pong (RFC 6455 5.5.3).
    pong: Option<Bytes>,
    ping: bool,
    close: Option<Option<CloseReason>>,
    closed: bool,
}

pub struct Outbox {
    queue: Mutex<Queue>,
    waker: AtomicWaker,
    max_frames: usize,
    max_bytes: usize,
}

impl Outbox {
    pub fn new(max_frames: usize, max_bytes: usize) -> Arc<Outbox> {
        Arc::new(Outbox {
            queue: Mutex::new(Queue::default()),
            waker: AtomicWaker::new(),
            max_frames: max_frames.max(4),
            max_bytes,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Queue) -> T) -> T {
        let out = f(&mut self.queue.lock().expect("outbox lock"));
        self.waker.wake();
        out
    }

    /// Queues a frame. A frame larger than the byte bound still goes into an empty queue (a
    /// single update of up to `max_message_bytes` must always get through).
    pub fn push(&self, frame: Bytes) -> Result<(), Full> {
        self.with(|q| {
            if q.close.is_some() || q.closed {
                return Ok(()); // the session is closing; what it would have shown is moot
            }
            if q.frames.len() >= self.max_frames {
                return Err(Full::Frames);
            }
            if q.bytes > 0 && q.bytes + frame.len() > self.max_bytes {
                return Err(Full::Bytes);
            }
            q.bytes += frame.len();
            q.frames.push_back(Queued {
                frame,
                answer: false,
            });
            Ok(())
        })
    }

    /// Whether an answer to a SyncStep1 is still waiting to be written. A newer SyncStep1 needs
    /// no answer of its own then: the queued one was computed against an older (smaller) state
    /// vector of the same client, so it and the updates queued after it cover it.
    pub fn answer_queued(&self) -> bool {
        self.queue.lock().expect("outbox lock").answer_queued
    }

    /// Queues the answer to a SyncStep1 (see `answer_queued`).
    pub fn push_answer(&self, frame: Bytes) -> Result<(), Full> {
        self.with(|q| {
            if q.close.is_some() || q.closed {
                return Ok(());
            }
            if q.frames.len() >= self.max_frames {
                return Err(Full::Frames);
            }
            q.answer_queued = true;
            q.frames.push_back(Queued {
                frame,
                answer: true,
            });
            Ok(())
        })
    }

    pub fn ping(&self) {
        self.with(|q| q.ping = true)
    }

    pub fn pong(&self, payload: Bytes) {
        self.with(|q| q.pong = Some(payload))
    }

    /// Ends the session's output: what is queued is dropped, the close frame goes out next, then
    /// the response ends. Only the first close counts.
    pub fn close(&self, reason: Option<CloseReason>) {
        self.with(|q| {
            if q.close.is_none() && !q.closed {
                q.close = Some(reason);
                q.frames.clear();
                q.bytes = 0;
                q.answer_queued = false;
            }
        })
    }

    /// Bytes waiting, answers included (for tests and `/metrics`).
    pub fn queued_bytes(&self) -> usize {
        let q = self.queue.lock().expect("outbox lock");
        q.frames.iter().map(|f| f.frame.len()).sum()
    }
}

/// The body of the upgraded response: WebSocket frames encoded from the outbox, several per
/// chunk when they are small (one write for whatever queued up since the last one).
pub struct OutboxBody {
    outbox: Arc<Outbox>,
    codec: Codec,
    done: bool,
    /// Dropped with the body: the dispatcher drops the body when the connection is gone, which
    /// is how the reader learns of it (an upgraded connection's payload may never see its end).
    _gone: Option<tokio::sync::oneshot::Sender<()>>,
}

impl OutboxBody {
    pub fn new(outbox: Arc<Outbox>, gone: Option<tokio::sync::oneshot::Sender<()>>) -> OutboxBody {
        OutboxBody {
            outbox,
            codec: Codec::new(),
            done: false,
            _gone: gone,
        }
    }
}

/// A chunk stops growing past this size; a larger single frame still goes whole.
const CHUNK_BYTES: usize = 64 * 1024;

impl futures_util::Stream for OutboxBody {
    type Item = Result<Bytes, actix_http::ws::ProtocolError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        this.outbox.waker.register(cx.waker());
        let mut buf = BytesMut::new();
        let mut frames = 0u64;
        {
            let mut q = this.outbox.queue.lock().expect("outbox lock");
            if let Some(reason) = q.close.take() {
                q.closed = true;
                this.done = true;
                this.codec.encode(Message::Close(reason), &mut buf)?;
                return Poll::Ready(Some(Ok(buf.freeze())));
            }
            if let Some(payload) = q.pong.take() {
                this.codec.encode(Message::Pong(payload), &mut buf)?;
            }
            if std::mem::take(&mut q.ping) {
                this.codec.encode(Message::Ping(Bytes::new()), &mut buf)?;
            }
            while buf.len() < CHUNK_BYTES {
                let Some(next) = q.frames.pop_front() else {
                    break;
                };
                if next.answer {
                    q.answer_queued = false;
                } else {
                    q.bytes -= next.frame.len();
                }
                buf.reserve(next.frame.len() + 14);
                this.codec.encode(Message::Binary(next.frame), &mut buf)?;
                frames += 1;
            }
        }
        if buf.is_empty() {
            return Poll::Pending;
        }
        metrics::counter!("creo_ws_frames_out_total").increment(frames);
        metrics::counter!("creo_ws_writes_total").increment(1);
        Poll::Ready(Some(Ok(buf.freeze())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn frame(n: usize) -> Bytes {
        Bytes::from(vec![7u8; n])
    }

    #[test]
    fn bounded_in_frames_and_bytes_but_one_large_frame_fits_an_empty_queue() {
        let out = Outbox::new(4, 100);
        assert_eq!(out.push(frame(500)), Ok(()), "alone, over the byte bound");
        assert_eq!(out.push(frame(1)), Err(Full::Bytes));
        let out = Outbox::new(4, 100);
        for _ in 0..4 {
            out.push(frame(1)).unwrap();
        }
        assert_eq!(out.push(frame(1)), Err(Full::Frames));
    }

    #[test]
    fn one_sync_answer_at_a_time_outside_the_byte_bound() {
        let out = Outbox::new(8, 10);
        out.push(frame(10)).unwrap();
        assert!(!out.answer_queued());
        out.push_answer(frame(1_000)).unwrap();
        assert!(out.answer_queued());
        assert_eq!(out.queued_bytes(), 1_010);
    }

    #[actix_rt::test]
    async fn the_body_drains_frames_in_order_then_ends_with_the_close() {
        let out = Outbox::new(8, 1 << 20);
        out.push(Bytes::from_static(b"a")).unwrap();
        out.push_answer(Bytes::from_static(b"bb")).unwrap();
        out.pong(Bytes::from_static(b"p"));
        let mut body = OutboxBody::new(out.clone(), None);
        let chunk = body.next().await.unwrap().unwrap();
        // Pong first (control frames overtake data), then "a" and the answer.
        assert_eq!(
            &chunk[..],
            &[0x8a, 1, b'p', 0x82, 1, b'a', 0x82, 2, b'b', b'b']
        );
        assert!(!out.answer_queued());
        out.push(frame(3)).unwrap();
        out.close(None);
        assert_eq!(out.push(frame(3)), Ok(()), "ignored once closing");
        let chunk = body.next().await.unwrap().unwrap();
        assert_eq!(chunk[0], 0x88, "close frame, queued data dropped");
        assert!(body.next().await.is_none());
    }
}
