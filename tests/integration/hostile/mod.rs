//! Hostile input, one attack per test, each against the real server: a viewer's deeply nested
//! update, frames packed with messages, clients that never read, presence floods, updates for
//! content nobody has, whole-document work per item, SSRF, identity, inbox and data-at-rest
//! abuse.
//!
//! Each test checks what a user would notice afterwards: the process is alive, `/healthz`
//! answers, a normal editor on the attacked document and on another one gets an edit
//! acknowledged within a bound, and memory grew by less than a stated bound. Figures are
//! printed (`cargo test -- --nocapture hostile`) for the notes.

mod data;
mod floods;
mod identity;
mod inbox;
mod mfa;
mod outbound;
mod requests;
mod updates;

use std::time::{Duration, Instant};

use creo::auth::Role;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::*;

/// A server for an attack: the REST tests' settings (cheap password hashing...), no models (a
/// model loading in the background would blur the memory figures), and `extra`.
pub fn server(extra: &[(&'static str, &'static str)]) -> Server {
    let mut env = crate::rest::billing_env();
    env.push(("CREO_MODELS", "/nonexistent"));
    env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

/// A normal editor (`tok`) opens `doc`, types, and is acknowledged (`?ack=1`) within `bound`.
pub async fn editor_served(server: &Server, tok: &str, doc: &str, bound: Duration) -> Duration {
    let c = YClient::connect(&format!("{}&ack=1", server.ws(doc, tok))).await;
    assert!(c.synced().await, "a normal editor could not sync {doc}");
    let started = Instant::now();
    c.append("a normal edit;");
    let acked = c
        .wait(bound.as_secs().max(1), |c| {
            c.seen.lock().unwrap().acked >= 1
        })
        .await;
    let took = started.elapsed();
    c.close().await;
    assert!(
        acked && took <= bound,
        "a normal editor on {doc} was not acknowledged within {bound:?} ({took:?})"
    );
    took
}

/// Memory before an attack.
pub struct Baseline {
    rss_kib: u64,
}

pub fn baseline(server: &Server) -> Baseline {
    server.reset_peak_rss();
    Baseline {
        rss_kib: server.rss_kib().0,
    }
}

/// An editor of the account the tests' documents belong to ("acme").
pub fn acme_editor() -> String {
    token("acme", "normal-editor", Role::Editor)
}

/// After an attack: the process is alive, `/healthz` answers, normal editors (`editor`, a
/// token of the account `doc` belongs to) on `doc` and on another document are served within
/// 5 s, and the peak resident memory grew by less than `max_growth_mib` over `before`.
pub async fn still_serving(
    server: &mut Server,
    attack: &str,
    (editor, doc): (&str, &str),
    before: Baseline,
    max_growth_mib: u64,
) {
    assert!(server.alive(), "{attack}: the server process died");
    let health = http().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "{attack}: /healthz");
    let bound = Duration::from_secs(5);
    let same = editor_served(server, editor, doc, bound).await;
    let other = editor_served(server, editor, "an-unrelated-document", bound).await;
    let (_, peak) = server.rss_kib();
    let growth_mib = peak.saturating_sub(before.rss_kib) / 1024;
    eprintln!(
        "hostile {attack}: peak RSS growth {growth_mib} MiB; normal editor acked in {same:?} \
         (same document), {other:?} (another)"
    );
    assert!(
        growth_mib < max_growth_mib,
        "{attack}: peak RSS grew by {growth_mib} MiB (bound {max_growth_mib} MiB)"
    );
}

type RawSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A client that writes what it likes and never reads.
pub async fn raw_socket(url: &str) -> RawSocket {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Sends binary frames until one fails (the server closed); how many went out.
pub async fn send_frames(ws: &mut RawSocket, frames: impl IntoIterator<Item = Vec<u8>>) -> usize {
    let mut sent = 0;
    for frame in frames {
        if ws.feed(WsMessage::Binary(frame.into())).await.is_err() {
            return sent;
        }
        sent += 1;
        if sent % 64 == 0 && ws.flush().await.is_err() {
            return sent;
        }
    }
    let _ = ws.flush().await;
    sent
}

/// The first close code a socket receives within `secs` (reading until then).
pub async fn close_code(ws: &mut RawSocket, secs: u64) -> Option<u16> {
    use futures_util::StreamExt;
    let read = async {
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(WsMessage::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(secs), read)
        .await
        .ok()
        .flatten()
}

/// A y-protocols sync message: type 0, sub-type, then the payload with its length.
pub fn sync_message(sub: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, sub];
    write_var(&mut out, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

pub fn write_var(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// An editor writes `text` to `doc` (creating it), and is acknowledged.
pub async fn document_with(server: &Server, doc: &str, text: &str) {
    let tok = token("acme", "author", Role::Editor);
    let resp = post_update(server, &tok, doc, text_update(text)).await;
    assert_eq!(resp.status(), 200, "writing {doc}");
}
