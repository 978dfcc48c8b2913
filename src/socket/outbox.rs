//! A session's outbound queue, bounded in frames and in bytes, written straight to its socket
//! by the connection's writer (`writer.rs`) with one vectored write for everything queued.
//!
//! There is no other buffer between the document and the socket: frames wait here, encoded
//! once and shared between every receiver of a broadcast, until the kernel takes them. A client
//! that stops reading fills this queue and is disconnected (it resyncs on reconnect) instead of
//! growing memory.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_http::ws::CloseReason;
use bytes::Bytes;
use futures_util::task::AtomicWaker;

use super::wire::WireFrame;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Counted against the byte bound.
    Data,
    /// The answer to a SyncStep1: as large as the document, so counted on its own, one at a time.
    Answer,
    /// Ping and pong: tiny, never refused.
    Control,
    /// creo's acknowledgement: one at a time, the latest (its count is cumulative).
    Ack,
    /// The last frame of the connection.
    Close,
}

struct Queued {
    frame: WireFrame,
    kind: Kind,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Queued>,
    /// Bytes of queued data frames.
    bytes: usize,
    answer_queued: bool,
    /// How much of the front frame is already written: frames never interleave on the wire, so a
    /// control frame or the close waits for it.
    written: usize,
    /// Only the latest ping needs its pong (RFC 6455 5.5.3): a client pinging without reading
    /// holds one pong here, not one per ping.
    pong: Option<WireFrame>,
    ping: bool,
    /// The latest acknowledgement not yet written: it covers every earlier one.
    ack: Option<WireFrame>,
    /// Close requested; no more frames are taken.
    closing: bool,
    /// The close frame has been written.
    closed: bool,
    /// When the client was last sent a message (not a ping: a browser's WebSocket never sees
    /// those, and the official Yjs client counts only messages as signs of life).
    last_message: Option<Instant>,
}

impl Queue {
    /// Control frames overtake data, at a frame boundary.
    fn control_frames_first(&mut self) {
        if self.written > 0 {
            return;
        }
        if let Some(ack) = self.ack.take() {
            self.frames.push_front(Queued {
                frame: ack,
                kind: Kind::Ack,
            });
        }
        if let Some(pong) = self.pong.take() {
            self.frames.push_front(Queued {
                frame: pong,
                kind: Kind::Control,
            });
        }
        if std::mem::take(&mut self.ping) {
            self.frames.push_front(Queued {
                frame: WireFrame::ping(),
                kind: Kind::Control,
            });
        }
    }

    fn has_work(&self) -> bool {
        !self.frames.is_empty()
            || self.pong.is_some()
            || self.ping
            || self.ack.is_some()
            || self.closed
    }

    /// The front frame is written. Returns whether it was a message.
    fn pop(&mut self) -> bool {
        let mut message = false;
        if let Some(done) = self.frames.pop_front() {
            message = matches!(done.kind, Kind::Data | Kind::Answer | Kind::Ack);
            match done.kind {
                Kind::Data => self.bytes -= done.frame.len(),
                Kind::Answer => self.answer_queued = false,
                Kind::Control | Kind::Ack => {}
                Kind::Close => self.closed = true,
            }
        }
        self.written = 0;
        message
    }
}

pub struct Outbox {
    queue: Mutex<Queue>,
    waker: AtomicWaker,
    max_frames: usize,
    max_bytes: usize,
}

/// What a flush achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum Flushed {
    /// Everything queued is written.
    Empty,
    /// The socket would block with frames left.
    Blocked,
    /// The close frame is written: the connection is done.
    Closed,
}

/// At most this many frames, and about this many bytes, go into one vectored write.
const WRITE_FRAMES: usize = 64;
const WRITE_BYTES: usize = 256 * 1024;

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
    /// single update of up to `max_message_bytes` must always get through). A broadcast passes
    /// one `WireFrame` to every outbox, encoded once.
    pub fn push(&self, frame: impl Into<WireFrame>) -> Result<(), Full> {
        let frame = frame.into();
        self.with(|q| {
            if q.closing {
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
                kind: Kind::Data,
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
    pub fn push_answer(&self, frame: impl Into<WireFrame>) -> Result<(), Full> {
        let frame = frame.into();
        self.with(|q| {
            if q.closing {
                return Ok(());
            }
            if q.frames.len() >= self.max_frames {
                return Err(Full::Frames);
            }
            q.answer_queued = true;
            q.frames.push_back(Queued {
                frame,
                kind: Kind::Answer,
            });
            Ok(())
        })
    }

    /// Queues an acknowledgement, replacing one not written yet: acknowledgements carry a
    /// running count, so however fast updates become durable a client has one waiting at most.
    pub fn ack(&self, frame: Bytes) {
        self.with(|q| {
            if !q.closing {
                q.ack = Some(WireFrame::binary(&frame));
            }
        })
    }

    pub fn ping(&self) {
        self.with(|q| q.ping = !q.closing)
    }

    pub fn pong(&self, payload: &[u8]) {
        self.with(|q| {
            if !q.closing {
                q.pong = Some(WireFrame::pong(payload));
            }
        })
    }

    /// Ends the session's output: what is queued is dropped (but for a frame already partly
    /// written, which must be finished), the close frame goes out next, then the connection
    /// ends. Only the first close counts.
    pub fn close(&self, reason: Option<CloseReason>) {
        self.with(|q| {
            if q.closing {
                return;
            }
            q.closing = true;
            q.pong = None;
            q.ping = false;
            q.ack = None;
            let started = if q.written > 0 {
                q.frames.pop_front()
            } else {
                None
            };
            q.frames.clear();
            q.bytes = 0;
            q.answer_queued = false;
            if let Some(started) = started {
                if started.kind == Kind::Data {
                    q.bytes = started.frame.len();
                }
                q.frames.push_back(started);
            }
            q.frames.push_back(Queued {
                frame: WireFrame::close(reason),
                kind: Kind::Close,
            });
        })
    }

    /// Whether the session asked to close (the writer then stops waiting on a client that does
    /// not read after a grace period).
    pub fn closing(&self) -> bool {
        self.queue.lock().expect("outbox lock").closing
    }

    /// Whether the client has gone `quiet` without a message (nothing written, or the last
    /// message longer ago): presence echoes its own state back to it then, as a sign of life.
    pub fn quiet_for(&self, quiet: Duration) -> bool {
        let q = self.queue.lock().expect("outbox lock");
        q.frames.is_empty() && q.last_message.is_none_or(|at| at.elapsed() >= quiet)
    }

    /// Bytes waiting, answers included (for tests and `/metrics`).
    pub fn queued_bytes(&self) -> usize {
        let q = self.queue.lock().expect("outbox lock");
        q.frames.iter().map(|f| f.frame.len()).sum::<usize>() - q.written
    }

    /// Ready when there is something to write: registers the writer's waker first, so a frame
    /// queued meanwhile is never missed.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.waker.register(cx.waker());
        if self.queue.lock().expect("outbox lock").has_work() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Writes what is queued to `out` without blocking, as many frames per call as fit one
    /// vectored write, until it would block or the queue is empty.
    pub fn flush(&self, out: &mut impl VectoredWrite) -> io::Result<Flushed> {
        let mut q = self.queue.lock().expect("outbox lock");
        loop {
            if q.closed {
                return Ok(Flushed::Closed);
            }
            q.control_frames_first();
            if q.frames.is_empty() {
                return Ok(Flushed::Empty);
            }
            let mut slices = [IoSlice::new(&[]); WRITE_FRAMES];
            let (mut n, mut total) = (0, 0);
            for (i, f) in q.frames.iter().take(WRITE_FRAMES).enumerate() {
                let bytes = if i == 0 {
                    &f.frame.bytes()[q.written..]
                } else {
                    f.frame.bytes()
                };
                slices[n] = IoSlice::new(bytes);
                n += 1;
                total += bytes.len();
                if total >= WRITE_BYTES {
                    break;
                }
            }
            let mut written = match out.write_vectored(&slices[..n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => written,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                Err(e) => return Err(e),
            };
            metrics::counter!("creo_ws_writes_total").increment(1);
            let (mut frames, mut messages) = (0, false);
            while written > 0 {
                let left = q.frames[0].frame.len() - q.written;
                if written >= left {
                    written -= left;
                    messages |= q.pop();
                    frames += 1;
                } else {
                    q.written += written;
                    written = 0;
                }
            }
            if messages {
                q.last_message = Some(Instant::now());
            }
            metrics::counter!("creo_ws_frames_out_total").increment(frames);
        }
    }
}

/// A non-blocking vectored write: the socket, or a buffer in tests.
pub trait VectoredWrite {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
}

impl VectoredWrite for &tokio::net::TcpStream {
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.try_write_vectored(bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Bytes {
        Bytes::from(vec![7u8; n])
    }

    /// A socket that takes at most `room` bytes per write, then would block.
    struct Socket {
        written: Vec<u8>,
        room: usize,
    }

    impl Socket {
        fn with_room(room: usize) -> Socket {
            Socket {
                written: Vec::new(),
                room,
            }
        }
    }

    impl VectoredWrite for Socket {
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.room - n);
                self.written.extend_from_slice(&b[..take]);
                n += take;
                if n == self.room {
                    break;
                }
            }
            self.room -= n;
            Ok(n)
        }
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
        out.push(frame(8)).unwrap();
        assert!(!out.answer_queued());
        out.push_answer(frame(1_000)).unwrap();
        assert!(out.answer_queued());
        assert_eq!(out.queued_bytes(), 10 + 1_004);
    }

    #[test]
    fn frames_go_out_in_order_and_the_close_comes_last() {
        let out = Outbox::new(8, 1 << 20);
        out.push(Bytes::from_static(b"a")).unwrap();
        out.push_answer(Bytes::from_static(b"bb")).unwrap();
        out.pong(b"p");
        let mut socket = Socket::with_room(1 << 20);
        assert_eq!(out.flush(&mut socket).unwrap(), Flushed::Empty);
        // Pong first (control frames overtake data), then "a" and the answer.
        assert_eq!(
            socket.written,
            [0x8a, 1, b'p', 0x82, 1, b'a', 0x82, 2, b'b', b'b']
        );
        assert!(!out.answer_queued());
        out.push(frame(3)).unwrap();
        out.close(None);
        assert_eq!(out.push(frame(3)), Ok(()), "ignored once closing");
        socket.written.clear();
        assert_eq!(out.flush(&mut socket).unwrap(), Flushed::Closed);
        assert_eq!(
            socket.written,
            [0x88, 0],
            "close frame, queued data dropped"
        );
    }

    /// A frame cut by a short write is finished before anything else goes out, even a pong or
    /// the close: frames never interleave.
    #[test]
    fn a_partly_written_frame_is_finished_first() {
        let out = Outbox::new(8, 1 << 20);
        out.push(frame(10)).unwrap();
        out.push(frame(10)).unwrap();
        let mut socket = Socket::with_room(5);
        assert_eq!(out.flush(&mut socket).unwrap(), Flushed::Blocked);
        out.pong(b"p");
        out.close(None);
        socket.room = 1 << 20;
        assert_eq!(out.flush(&mut socket).unwrap(), Flushed::Closed);
        let mut expected = vec![0x82, 10];
        expected.extend([7u8; 10]);
        expected.extend([0x88, 0]);
        assert_eq!(socket.written, expected);
    }

    #[test]
    fn acknowledgements_not_yet_written_are_replaced_by_the_latest() {
        let out = Outbox::new(4, 1 << 20);
        for n in 1..=100u8 {
            out.ack(Bytes::from(vec![n]));
        }
        let mut socket = Socket::with_room(1 << 20);
        assert_eq!(out.flush(&mut socket).unwrap(), Flushed::Empty);
        assert_eq!(socket.written, [0x82, 1, 100]);
    }

    #[test]
    fn pings_never_read_leave_one_pong() {
        let out = Outbox::new(8, 1 << 20);
        for i in 0..10_000u32 {
            out.pong(&i.to_be_bytes());
        }
        let mut socket = Socket::with_room(1 << 20);
        assert_eq!(out.flush(&mut socket).unwrap(), Flushed::Empty);
        assert_eq!(
            socket.written,
            [0x8a, 4, 0, 0, 0x27, 0x0f],
            "the last ping's pong"
        );
    }

    #[test]
    fn a_broadcast_frame_is_encoded_once_and_shared() {
        let wire = WireFrame::binary(b"update");
        let (a, b) = (Outbox::new(8, 1 << 20), Outbox::new(8, 1 << 20));
        a.push(wire.clone()).unwrap();
        b.push(wire.clone()).unwrap();
        let front = |o: &Outbox| o.queue.lock().unwrap().frames[0].frame.bytes().as_ptr();
        assert_eq!(front(&a), front(&b));
    }
}
