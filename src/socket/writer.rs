//! The connection's writer: one task per socket that waits for its outbox and flushes it with
//! one vectored write per wake-up, however many frames the document queued meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use super::outbox::{Flushed, Outbox};

/// How long a closing connection waits for a client that does not read its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Writers still running: shutdown waits for them, so close frames reach the clients.
static OPEN: AtomicUsize = AtomicUsize::new(0);

pub fn open_connections() -> usize {
    OPEN.load(Ordering::Acquire)
}

/// Writes `outbox` to `io` until the close frame is written or the socket fails. Dropping
/// `gone` at the end tells the reader the connection is over.
pub async fn run(io: Arc<TcpStream>, outbox: Arc<Outbox>, gone: tokio::sync::oneshot::Sender<()>) {
    OPEN.fetch_add(1, Ordering::AcqRel);
    metrics::gauge!("creo_ws_connections").increment(1.0);
    let _ = write_until_closed(&io, &outbox).await;
    metrics::gauge!("creo_ws_connections").decrement(1.0);
    OPEN.fetch_sub(1, Ordering::AcqRel);
    drop(gone);
}

async fn write_until_closed(io: &TcpStream, outbox: &Outbox) -> std::io::Result<()> {
    loop {
        match outbox.flush(&mut &*io)? {
            Flushed::Closed => {
                // The close frame is out; the client closes its end, and dropping ours after it
                // ends the TCP connection.
                return Ok(());
            }
            Flushed::Empty => futures_util::future::poll_fn(|cx| outbox.poll_ready(cx)).await,
            Flushed::Blocked => match tokio::time::timeout(CLOSE_GRACE, io.writable()).await {
                Ok(ready) => ready?,
                // A client that reads nothing for that long after we asked to close is dropped.
                Err(_) if outbox.closing() => return Err(std::io::ErrorKind::TimedOut.into()),
                Err(_) => {}
            },
        }
    }
}
