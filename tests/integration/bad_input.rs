use std::time::Duration;

use creo::auth::Role;

use crate::common::*;

/// Each bad frame closes only its own session with a specific code; the document and every
/// other session carry on, and the refusal is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_their_session_with_specific_codes() {
    let server = Server::start_with(&[("CREO_MAX_MESSAGE_BYTES", "65536")]);
    let tok = token("acme", "u", Role::Editor);
    let bystander = YClient::connect(&server.ws("shared", &tok)).await;
    assert!(bystander.synced().await);
    bystander.append("before;");

    let cases: Vec<(&str, Box<dyn Fn(&YClient)>, u16, &str)> = vec![
        (
            "truncated",
            Box::new(|c: &YClient| c.send(vec![0, 2, 10, 1, 2])),
            4400,
            "malformed",
        ),
        (
            "unknown type",
            Box::new(|c: &YClient| c.send(vec![42, 0])),
            4401,
            "unknown_type",
        ),
        (
            "invalid update",
            Box::new(|c: &YClient| c.send(vec![0, 2, 4, 0xff, 0xff, 0xff, 0xff])),
            4402,
            "invalid_update",
        ),
        (
            "oversized",
            Box::new(|c: &YClient| c.send(vec![0u8; 70_000])),
            4414,
            "oversized",
        ),
        (
            "text frame",
            Box::new(|c: &YClient| c.send_text_frame("hello")),
            4415,
            "text_frame",
        ),
    ];
    for (name, send, code, reason) in cases {
        let bad = YClient::connect(&server.ws("shared", &tok)).await;
        assert!(bad.synced().await);
        send(&bad);
        assert_eq!(bad.closed_with(5).await, Some(code), "{name}");
        let metric = format!("creo_refused_messages_total{{reason=\"{reason}\"}}");
        assert!(server.metric(&metric).await >= 1.0, "{name} not counted");
    }
    // The bystander and the document are untouched.
    assert!(bystander.seen.lock().unwrap().closed.is_none());
    let late = YClient::connect(&server.ws("shared", &tok)).await;
    assert!(late.synced().await);
    bystander.append("after;");
    assert!(
        late.wait(5, |c| c.text() == "before;after;").await,
        "{}",
        late.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_document_ids_are_refused() {
    let server = Server::start();
    let tok = token("acme", "u", Role::Editor);
    let long = "x".repeat(129);
    for bad in ["has%20space", "semi;colon", long.as_str(), "%C3%BC"] {
        assert_eq!(upgrade_status(&server.ws(bad, &tok)).await, 400, "{bad}");
    }
    assert_eq!(
        upgrade_status(&server.ws(&"x".repeat(128), &tok)).await,
        101
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_and_rate_limits_hold() {
    let server = Server::start_with(&[
        ("CREO_MAX_CONNECTIONS_PER_USER", "3"),
        ("CREO_MAX_CONNECTIONS_PER_DOCUMENT", "4"),
        ("CREO_SESSION_MESSAGES_PER_SECOND", "20"),
        ("CREO_SESSION_MESSAGE_BURST", "40"),
    ]);
    let tok = token("acme", "busy", Role::Editor);
    let mut held = Vec::new();
    for _ in 0..3 {
        let c = YClient::connect(&server.ws("limits", &tok)).await;
        assert!(c.synced().await);
        held.push(c);
    }
    assert_eq!(
        upgrade_status(&server.ws("limits", &tok)).await,
        429,
        "per-user limit"
    );
    let other = YClient::connect(&server.ws("limits", &token("acme", "o", Role::Editor))).await;
    assert!(other.synced().await);
    assert_eq!(
        upgrade_status(&server.ws("limits", &token("acme", "p", Role::Editor))).await,
        429,
        "per-document limit"
    );
    // A flood beyond burst + rate is slowed, not refused: the session stops reading until the
    // rate allows more, and every update arrives.
    for i in 0..100 {
        held[0].append(&format!("{i},"));
    }
    assert!(
        held[1]
            .wait(20, |c| c.text().matches(',').count() == 100)
            .await,
        "{}",
        held[1].text()
    );
    assert!(held[0].seen.lock().unwrap().closed.is_none(), "not cut off");
    assert!(
        server
            .metric("creo_session_paused_total{reason=\"session_rate\"}")
            .await
            >= 1.0
    );
    // A slot is released once its connection is gone.
    held.remove(0).close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = YClient::connect(&server.ws("limits", &tok)).await;
    assert!(again.synced().await);
}

/// A client that stops reading is disconnected once its bounded queue fills, instead of the
/// server buffering for it without bound; other editors are not slowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_falls_behind_is_disconnected() {
    let server = Server::start_with(&[
        ("CREO_OUTBOUND_QUEUE_FRAMES", "64"),
        // Room for the firehose below, so only the stalled reader's limit is exercised.
        ("CREO_MAX_PENDING_BYTES", "134217728"),
        ("CREO_MAX_DOCUMENT_BYTES", "268435456"),
        ("CREO_COMPACT_AFTER_BYTES", "1073741824"),
        ("CREO_SESSION_MESSAGES_PER_SECOND", "10000"),
        ("CREO_SESSION_MESSAGE_BURST", "10000"),
    ]);
    let tok = token("acme", "u", Role::Editor);
    // A raw socket that never reads after the handshake.
    let (stalled, _) = tokio_tungstenite::connect_async(server.ws("firehose", &tok))
        .await
        .unwrap();
    let writer = YClient::connect(&format!("{}&ack=1", server.ws("firehose", &tok))).await;
    assert!(writer.synced().await);
    // ~40 MB: more than loopback socket buffers hold for a reader that never reads.
    let chunk = "x".repeat(64 * 1024);
    for _ in 0..600 {
        writer.append(&chunk);
        tokio::task::yield_now().await;
    }
    assert!(
        writer
            .wait(60, |c| c.seen.lock().unwrap().acked == 600)
            .await,
        "writer acked {} of 600",
        writer.seen.lock().unwrap().acked
    );
    assert!(
        server
            .metric("creo_disconnects_total{reason=\"fell behind\"}")
            .await
            >= 1.0,
        "stalled reader was not disconnected"
    );
    assert!(writer.seen.lock().unwrap().closed.is_none());
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_time_out() {
    let server = Server::start_with(&[
        ("CREO_PING_INTERVAL_MS", "100"),
        ("CREO_PING_TIMEOUT_MS", "400"),
    ]);
    let tok = token("acme", "u", Role::Editor);
    // A socket that neither reads nor answers pings.
    let (mut silent, _) = tokio_tungstenite::connect_async(server.ws("quiet", &tok))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        server
            .metric("creo_disconnects_total{reason=\"heartbeat_timeout\"}")
            .await
            >= 1.0,
        "silent client was not timed out"
    );
    // The server dropped the connection: reading ends (a close frame or a reset, depending on
    // what TCP does with a peer that never read).
    use futures_util::StreamExt;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = silent.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "connection still open");
}
