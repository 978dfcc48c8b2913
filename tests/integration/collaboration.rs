use creo::auth::Role;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_editors_converge() {
    let server = Server::start();
    let tok = token("acme", "u", Role::Editor);
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(YClient::connect(&server.ws("launch-post", &tok)).await);
    }
    for c in &clients {
        assert!(c.synced().await);
    }
    // Every editor types 20 keystrokes, interleaved with everyone else's.
    for round in 0..20 {
        for (i, c) in clients.iter().enumerate() {
            c.append(&format!("[{i}.{round}]"));
        }
        tokio::task::yield_now().await;
    }
    let expected_len: usize = (0..20)
        .flat_map(|i| (0..20).map(move |r| format!("[{i}.{r}]").len()))
        .sum();
    for c in &clients {
        assert!(
            c.wait(20, |c| c.text().len() == expected_len).await,
            "editor saw {} of {expected_len} chars",
            c.text().len()
        );
    }
    let first = clients[0].text();
    for c in &clients {
        assert_eq!(c.text(), first, "editors diverged");
    }
    for i in 0..20 {
        for r in 0..20 {
            assert!(first.contains(&format!("[{i}.{r}]")));
        }
    }
    assert_eq!(stored_text(&server, &tok, "launch-post").await, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edits_merge_on_reconnect() {
    let server = Server::start();
    let tok = token("acme", "u", Role::Editor);
    let a = YClient::connect(&server.ws("caption", &tok)).await;
    let b = YClient::connect(&server.ws("caption", &tok)).await;
    assert!(a.synced().await && b.synced().await);
    a.append("online;");
    assert!(b.wait(5, |b| b.text() == "online;").await);

    // A goes offline and keeps editing its local document; B edits meanwhile.
    a.close().await;
    let offline_doc = a.doc.lock().unwrap().clone();
    {
        use yrs::{Text, Transact};
        let text = offline_doc.get_or_insert_text(TEXT);
        let mut txn = offline_doc.transact_mut();
        text.insert(&mut txn, 0, "offline-edit;");
    }
    b.append("while-away;");

    // Reconnecting with the same document: the server's SyncStep1 pulls the offline edit in.
    let a2 = YClient::connect_doc(&server.ws("caption", &tok), offline_doc).await;
    assert!(a2.synced().await);
    for c in [&a2, &b] {
        assert!(
            c.wait(5, |c| {
                let t = c.text();
                t.contains("offline-edit;") && t.contains("while-away;") && t.contains("online;")
            })
            .await,
            "missing edits: {}",
            c.text()
        );
    }
    assert_eq!(a2.text(), b.text());
}

/// A document's sessions run on its thread: editors whose connections the kernel handed to the
/// other HTTP worker are moved there, and they edit and converge like the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_move_to_their_documents_thread_and_converge() {
    let server = Server::start_with(&[("CREO_WORKERS", "2")]);
    let mut editors = vec![];
    for i in 0..6 {
        let c =
            YClient::connect(&server.ws("placed", &token("acme", &format!("e{i}"), Role::Editor)))
                .await;
        assert!(c.synced().await);
        editors.push(c);
    }
    for (i, c) in editors.iter().enumerate() {
        c.append(&format!("<{i}>"));
    }
    for c in &editors {
        assert!(
            c.wait(10, |c| (0..6).all(|i| c.text().contains(&format!("<{i}>"))))
                .await,
            "{}",
            c.text()
        );
    }
    // Connections are accepted by the two workers in turn: some arrived on the other one.
    assert!(server.metric("creo_sessions_moved_total").await >= 1.0);
}

/// A cursor dragged fast: the other editor hears a bounded number of presence messages, the
/// last one carrying the final position, and the sender is not sent its own moves back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_relayed_at_a_bounded_rate_and_the_last_state_always_arrives() {
    let server = Server::start();
    let mut alice =
        YClient::connect(&server.ws("drag", &token("acme", "alice", Role::Editor))).await;
    let bob = YClient::connect(&server.ws("drag", &token("acme", "bob", Role::Editor))).await;
    assert!(alice.synced().await && bob.synced().await);
    let a_id = alice.client_id();
    // Whatever presence the join brought is counted before the drag starts.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (bob_before, alice_before) = (
        bob.seen.lock().unwrap().awareness_messages,
        alice.seen.lock().unwrap().awareness_messages,
    );
    for x in 1..=60 {
        alice.set_awareness(
            a_id,
            &format!(r#"{{"user":{{"name":"Alice"}},"cursor":{x}}}"#),
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(
        bob.wait(5, |c| c
            .seen
            .lock()
            .unwrap()
            .awareness
            .get(&a_id)
            .is_some_and(|s| s["cursor"] == 60))
            .await,
        "the last position arrives"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let relayed = bob.seen.lock().unwrap().awareness_messages - bob_before;
    // 60 moves over about 300 ms (more on a loaded machine) at one relay per 50 ms.
    assert!(relayed < 30, "{relayed} of 60 moves relayed");
    assert_eq!(
        alice.seen.lock().unwrap().awareness_messages,
        alice_before,
        "nothing echoed to a sender that heard from the server lately"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awareness_is_relayed_tagged_and_removed_on_disconnect() {
    let server = Server::start();
    let mut alice =
        YClient::connect(&server.ws("deck", &token("acme", "alice", Role::Editor))).await;
    let mut bob = YClient::connect(&server.ws("deck", &token("acme", "bob", Role::Viewer))).await;
    assert!(alice.synced().await && bob.synced().await);

    let (a_id, b_id) = (alice.client_id(), bob.client_id());
    alice.set_awareness(a_id, r#"{"user":{"name":"Alice"},"cursor":3}"#);
    bob.set_awareness(b_id, r#"{"user":{"name":"Bob"},"creo":{"userId":"alice"}}"#);
    assert!(
        alice
            .wait(5, |c| c.seen.lock().unwrap().awareness.contains_key(&b_id))
            .await
    );
    assert!(
        bob.wait(5, |c| c.seen.lock().unwrap().awareness.contains_key(&a_id))
            .await
    );
    // The server overwrote Bob's attempt to pass as Alice.
    let bob_state = alice.seen.lock().unwrap().awareness[&b_id].clone();
    assert_eq!(bob_state["creo"]["userId"], "bob");
    assert_eq!(bob_state["creo"]["role"], "viewer");
    assert_eq!(bob_state["user"]["name"], "Bob");

    // Bob cannot publish presence for Alice's client id.
    bob.set_awareness(a_id, r#"{"user":{"name":"Fake Alice"}}"#);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // Nobody is shown the forgery: Bob still sees Alice's own state, and Alice is not told of a
    // state for her client id that she did not set.
    assert_eq!(
        bob.seen.lock().unwrap().awareness[&a_id]["user"]["name"],
        "Alice"
    );
    assert!(alice
        .seen
        .lock()
        .unwrap()
        .awareness
        .get(&a_id)
        .is_none_or(|state| state["user"]["name"] == "Alice"));
    assert!(
        server
            .metric("creo_refused_messages_total{reason=\"awareness_foreign_client\"}")
            .await
            >= 1.0
    );

    // A newcomer receives the current presence on join.
    let carol = YClient::connect(&server.ws("deck", &token("acme", "carol", Role::Editor))).await;
    assert!(
        carol
            .wait(5, |c| c.seen.lock().unwrap().awareness.len() == 2)
            .await
    );

    // Bob leaves: his state is removed for everyone (no ghost cursor).
    bob.close().await;
    drop(bob);
    assert!(
        alice
            .wait(5, |c| !c.seen.lock().unwrap().awareness.contains_key(&b_id))
            .await
    );
    assert!(
        carol
            .wait(5, |c| !c.seen.lock().unwrap().awareness.contains_key(&b_id))
            .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_reads_and_writes_the_live_document() {
    let server = Server::start();
    let tok = token("acme", "u", Role::Editor);
    let http = http();

    let created = http
        .post(server.url("/api/v1/documents"))
        .bearer_auth(&tok)
        .json(&serde_json::json!({"id": "campaign-7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let again = http
        .post(server.url("/api/v1/documents"))
        .bearer_auth(&tok)
        .json(&serde_json::json!({"id": "campaign-7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let err: serde_json::Value = again.json().await.unwrap();
    assert_eq!(err["error"]["code"], "exists");

    let editor = YClient::connect(&server.ws("campaign-7", &tok)).await;
    assert!(editor.synced().await);

    // An update posted over REST reaches the connected editor live, and is durable.
    let resp = post_update(&server, &tok, "campaign-7", text_update("from REST")).await;
    assert_eq!(resp.status(), 200);
    assert!(editor.wait(5, |c| c.text() == "from REST").await);
    assert_eq!(stored_text(&server, &tok, "campaign-7").await, "from REST");

    let info = doc_info(&server, &tok, "campaign-7").await;
    assert_eq!(info["account_id"], "acme");
    assert_eq!(info["live_sessions"], 1);

    let garbage = post_update(&server, &tok, "campaign-7", vec![0xff, 0xff, 0xff]).await;
    assert_eq!(garbage.status(), 400);
    let missing = api_get(&server, &tok, "/api/v1/documents/never-made/state").await;
    assert_eq!(missing.status(), 404);

    let openapi: serde_json::Value = http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(openapi["paths"]["/api/v1/documents/{doc_id}/updates"].is_object());
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgements_count_durable_updates() {
    let server = Server::start();
    let tok = token("acme", "u", Role::Editor);
    let writer = YClient::connect(&format!("{}&ack=1", server.ws("acked", &tok))).await;
    assert!(writer.synced().await);
    for i in 0..25 {
        writer.append(&format!("{i},"));
    }
    assert!(writer.wait(5, |c| c.seen.lock().unwrap().acked == 25).await);
    // Clients that did not opt in never receive the extension message (the official client
    // would log an error for it).
    let plain = YClient::connect(&server.ws("acked", &tok)).await;
    assert!(plain.synced().await);
    plain.append("x");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(plain.seen.lock().unwrap().acked, 0);
}

/// A writer's burst (an import, an agent, an offline queue flushed at once) reaches a reader
/// as a few merged frames, not one per update: the reader keeps up, is never closed as fallen
/// behind, and ends with every update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_keeps_up_with_a_writers_burst() {
    let server = Server::start();
    let tok = token("acme", "u", Role::Editor);
    let writer = YClient::connect(&format!("{}&ack=1", server.ws("burst", &tok))).await;
    assert!(writer.synced().await);
    let reader = YClient::connect(&server.ws("burst", &token("acme", "r", Role::Viewer))).await;
    assert!(reader.synced().await && writer.synced().await);
    for _ in 0..20_000 {
        writer.append("x");
    }
    assert!(
        reader.wait(60, |c| c.text().len() == 20_000).await,
        "the reader has {} of 20,000",
        reader.text().len()
    );
    assert!(reader.seen.lock().unwrap().closed.is_none(), "never closed");
    let frames = reader.seen.lock().unwrap().updates;
    assert!(frames < 2_000, "{frames} frames for 20,000 updates");
}
