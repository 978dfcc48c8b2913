//! Floods from one client: a frame packed with messages, SyncStep1 repeated by a client that
//! never reads, pings from a client that never reads, and presence churn.

use std::time::Duration;

use creo::auth::Role;

use super::*;
use crate::common::*;

/// The encoded state vector of an empty document: a SyncStep1 asking for everything.
const EMPTY_SV: &[u8] = &[0];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_packed_with_millions_of_messages_is_refused_whole() {
    let mut server = server(&[]);
    document_with(&server, "packed", "x;").await;
    let before = baseline(&server);
    let viewer = token("acme", "mallory", Role::Viewer);
    let mut s = raw_socket(&server.ws("packed", &viewer)).await;
    // 4 MiB of query-awareness messages (one byte each).
    send_frames(&mut s, [vec![3u8; 4 << 20]]).await;
    assert_eq!(close_code(&mut s, 10).await, Some(4400));
    assert!(
        server
            .metric("creo_refused_messages_total{reason=\"too_many_messages\"}")
            .await
            >= 1.0
    );
    still_serving(
        &mut server,
        "4 MiB of query-awareness",
        (&acme_editor(), "packed"),
        before,
        64,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_sync_step1_from_a_client_that_never_reads_costs_one_answer() {
    let mut server = server(&[]);
    document_with(&server, "big", &"0123456789abcdef".repeat(64 * 1024)).await; // 1 MiB
    let before = baseline(&server);
    let viewer = token("acme", "mallory", Role::Viewer);
    let mut s = raw_socket(&server.ws("big", &viewer)).await;
    let step1 = sync_message(0, EMPTY_SV);
    let frame: Vec<u8> = step1
        .iter()
        .copied()
        .cycle()
        .take(step1.len() * 16)
        .collect();
    // 32,000 requests for the whole 1 MiB document: 31 GB of answers if each were queued.
    let sent = send_frames(&mut s, std::iter::repeat_n(frame, 2_000)).await;
    assert_eq!(sent, 2_000);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(server.metric("creo_sync_answers_coalesced_total").await >= 1_000.0);
    still_serving(
        &mut server,
        "SyncStep1 x 32,000, never read",
        (&acme_editor(), "big"),
        before,
        96,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_from_a_client_that_never_reads_keeps_one_pong() {
    // A rate high enough not to slow the flood: what is checked is that pongs do not pile up.
    let mut server = server(&[
        ("CREO_SESSION_MESSAGES_PER_SECOND", "10000000"),
        ("CREO_SESSION_MESSAGE_BURST", "10000000"),
        ("CREO_USER_MESSAGES_PER_SECOND", "0"),
    ]);
    document_with(&server, "pings", "x;").await;
    let before = baseline(&server);
    let viewer = token("acme", "mallory", Role::Viewer);
    let mut s = raw_socket(&server.ws("pings", &viewer)).await;
    let payload = vec![0x55u8; 125];
    use futures_util::SinkExt;
    for i in 0..1_000_000u32 {
        if s.feed(WsMessage::Ping(payload.clone().into()))
            .await
            .is_err()
        {
            break;
        }
        if i % 1024 == 0 && s.flush().await.is_err() {
            break;
        }
    }
    let _ = s.flush().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    still_serving(
        &mut server,
        "1M pings, never read",
        (&acme_editor(), "pings"),
        before,
        64,
    )
    .await;
}

/// An awareness message (type 1) with `entries` of (client, clock, state).
fn awareness(entries: impl Iterator<Item = (u64, u32, &'static str)>) -> Vec<u8> {
    let entries: Vec<_> = entries.collect();
    let mut payload = Vec::new();
    write_var(&mut payload, entries.len() as u64);
    for (client, clock, json) in entries {
        write_var(&mut payload, client);
        write_var(&mut payload, clock as u64);
        write_var(&mut payload, json.len() as u64);
        payload.extend_from_slice(json.as_bytes());
    }
    let mut out = vec![1];
    write_var(&mut out, payload.len() as u64);
    out.extend_from_slice(&payload);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_churn_neither_grows_nor_stalls_the_document() {
    let mut server = server(&[]);
    document_with(&server, "crowd", "x;").await;
    let before = baseline(&server);
    let viewer = token("acme", "mallory", Role::Viewer);
    let mut s = raw_socket(&server.ws("crowd", &viewer)).await;
    // 300,000 removals of client ids nobody holds, 15,000 a message.
    let removals =
        (0..20u64).map(|m| awareness((m * 15_000..(m + 1) * 15_000).map(|c| (c, 1, "null"))));
    assert_eq!(send_frames(&mut s, removals).await, 20);
    // Then 10,000 states in one frame, for a session that may hold 8.
    let states = awareness((1_000_000..1_010_000).map(|c| (c, 1, r#"{"user":{"name":"m"}}"#)));
    assert_eq!(send_frames(&mut s, [states]).await, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let info = doc_info(&server, &token("acme", "ed", Role::Editor), "crowd").await;
    assert!(
        info["presence_states"].as_u64().unwrap() <= 8,
        "presence kept within the session's limit: {info}"
    );
    still_serving(
        &mut server,
        "300k removals then 10k states",
        (&acme_editor(), "crowd"),
        before,
        64,
    )
    .await;
}
