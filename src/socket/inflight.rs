//! Flow control from a socket to its document: what a session has handed to the document's
//! mailbox and the document has not handled yet, counted in bytes and frames. The session stops
//! reading its socket while too much is in flight (TCP then pushes back on the client); each
//! message carries a `Credit` that gives its share back when the document drops it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// What a session has sent its document that the document has not handled yet. Its mailbox
/// takes anything; this is what keeps one session's share of it bounded.
#[derive(Default)]
pub struct Inflight {
    bytes: AtomicUsize,
    frames: AtomicUsize,
    drained: Notify,
}

impl Inflight {
    pub fn take(self: &Arc<Self>, bytes: usize) -> Credit {
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
        self.frames.fetch_add(1, Ordering::AcqRel);
        Credit {
            inflight: self.clone(),
            bytes,
        }
    }

    pub fn over(&self, max_bytes: usize, max_frames: usize) -> bool {
        self.bytes.load(Ordering::Acquire) > max_bytes
            || self.frames.load(Ordering::Acquire) > max_frames
    }

    /// Resolves when some credit has been given back.
    pub async fn drained(&self) {
        self.drained.notified().await
    }
}

/// One frame's share of `Inflight`, given back when the document has handled (or dropped) the
/// message carrying it.
pub struct Credit {
    inflight: Arc<Inflight>,
    bytes: usize,
}

impl Drop for Credit {
    fn drop(&mut self) {
        self.inflight.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
        self.inflight.frames.fetch_sub(1, Ordering::AcqRel);
        self.inflight.drained.notify_one();
    }
}
