//! Updates crafted to hurt yrs: nesting that overflows a recursive decoder, and deletions of
//! content no document has (which yrs would keep pending and walk on every later edit).

use std::time::Duration;

use creo::auth::Role;

use super::*;
use crate::cluster::{cluster, Redis};
use crate::common::*;

/// An update of one struct whose `Any` value is an array nested `depth` deep (about 2 bytes a
/// level: ~16 KB at 8,000).
fn nested_update(depth: usize) -> Vec<u8> {
    let mut u = vec![1, 1, 7, 0, 8, 1, 1, b'a', 1];
    for _ in 0..depth {
        u.extend_from_slice(&[117, 1]);
    }
    u.push(126);
    u.push(0);
    u
}

/// A delete-only update for a client the document never saw, `bytes` long.
fn delete_only_update(bytes: usize) -> Vec<u8> {
    let ranges = bytes / 4;
    let mut u = vec![0, 1]; // no structs; one client in the delete set
    write_var(&mut u, 987_654_321);
    write_var(&mut u, ranges as u64);
    for i in 0..ranges as u64 {
        write_var(&mut u, 1_000 + i * 3); // clock
        write_var(&mut u, 1); // length
    }
    u
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_update_is_refused_before_it_is_decoded() {
    let mut server = server(&[]);
    document_with(&server, "nested", "before;").await;
    let before = baseline(&server);
    let bomb = nested_update(8_000);
    assert!(bomb.len() < 20_000);

    // A viewer: refused by role, without being decoded at all.
    let viewer = token("acme", "mallory", Role::Viewer);
    let v = YClient::connect(&server.ws("nested", &viewer)).await;
    assert!(v.synced().await);
    v.send(sync_message(2, &bomb));
    assert!(
        v.wait(5, |c| !c.seen.lock().unwrap().denied.is_empty())
            .await,
        "the viewer is told the document is read-only"
    );
    // An editor: refused as an invalid update, closing only that session.
    let editor = token("acme", "mallory", Role::Editor);
    let mut e = raw_socket(&server.ws("nested", &editor)).await;
    send_frames(&mut e, [sync_message(2, &bomb)]).await;
    assert_eq!(close_code(&mut e, 5).await, Some(4402));
    // Over REST, as a viewer and as an editor.
    let resp = post_update(&server, &viewer, "nested", bomb.clone()).await;
    assert_eq!(resp.status(), 403);
    let resp = post_update(&server, &editor, "nested", bomb.clone()).await;
    assert_eq!(resp.status(), 400);
    assert!(
        server
            .metric("creo_refused_messages_total{reason=\"update_too_deep\"}")
            .await
            >= 2.0
    );
    still_serving(
        &mut server,
        "nested update (socket, REST)",
        (&acme_editor(), "nested"),
        before,
        64,
    )
    .await;
    assert_eq!(
        stored_text(&server, &editor, "nested").await,
        "before;a normal edit;"
    );
}

/// The same bytes published on the Redis bus as if another node had stored them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_update_on_the_bus_does_not_crash_a_node() {
    use creo::bus::envelope::{Envelope, Origin};
    use creo::bus::DocMessage;
    let redis = Redis::start();
    let mut nodes = cluster(1, &redis, &[("CREO_MODELS", "/nonexistent")]);
    let node = &mut nodes[0];
    let tok = token("acme", "ed", Role::Editor);
    let c = YClient::connect(&node.ws("bus-nested", &tok)).await;
    assert!(c.synced().await);
    let before = baseline(node);
    let envelope = Envelope::Doc {
        origin: Origin {
            node: 0xbad,
            actor: 1,
        },
        seq: 1,
        message: DocMessage::Updates(vec![nested_update(8_000).into()]),
    };
    let client = ::redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let receivers: i64 = ::redis::cmd("PUBLISH")
        .arg("creo:doc:bus-nested")
        .arg(envelope.encode())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(receivers >= 1, "the node listens on the document's channel");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        node.metric("creo_bus_dropped_total{reason=\"invalid_update\"}")
            .await
            >= 1.0
    );
    still_serving(
        node,
        "nested update (bus)",
        (&acme_editor(), "bus-nested"),
        before,
        64,
    )
    .await;
}

/// An update stored before the server checked nesting would crash every load of its document:
/// it is left out (and counted), the rest loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_update_already_in_the_store_is_left_out_on_load() {
    use creo::store::embedded::EmbeddedStore;
    use creo::store::DocumentLog;
    let mut server = server(&[]);
    document_with(&server, "stored-bomb", "kept;").await;
    server.terminate();
    {
        let store = EmbeddedStore::open(&server.data, "full").unwrap();
        store
            .append("stored-bomb", vec![nested_update(8_000).into()])
            .await
            .unwrap();
    }
    server.restart();
    let before = baseline(&server);
    let tok = token("acme", "reader", Role::Editor);
    assert_eq!(stored_text(&server, &tok, "stored-bomb").await, "kept;");
    assert!(server.metric("creo_store_invalid_updates_total").await >= 1.0);
    still_serving(
        &mut server,
        "nested update (store)",
        (&acme_editor(), "stored-bomb"),
        before,
        64,
    )
    .await;
}

/// Deletions of content the document never had are not stored (they would stay pending for
/// ever): the sender waits for what they build on, then is closed to resync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_of_content_nobody_has_are_not_stored() {
    let mut server = server(&[]);
    let editor = token("acme", "mallory", Role::Editor);
    document_with(&server, "ghosts", "real text;").await;
    let info = |v: serde_json::Value| (v["log_len"].as_u64(), v["approx_bytes"].as_u64());
    let stored_before = info(doc_info(&server, &editor, "ghosts").await);
    let before = baseline(&server);
    let update = delete_only_update(2_800_000);
    let mut s = raw_socket(&server.ws("ghosts", &editor)).await;
    send_frames(&mut s, [sync_message(2, &update), sync_message(2, &update)]).await;
    assert_eq!(close_code(&mut s, 10).await, Some(4509), "closed to resync");
    // Over REST it is refused outright.
    let resp = post_update(&server, &editor, "ghosts", update).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(
        info(doc_info(&server, &editor, "ghosts").await),
        stored_before,
        "nothing was stored"
    );
    still_serving(
        &mut server,
        "deletions of unknown content",
        (&acme_editor(), "ghosts"),
        before,
        128,
    )
    .await;
}

/// XML elements nested `levels` deep in one update from client 77: each element's parent is
/// the one before it.
fn nested_elements(levels: u32) -> Vec<u8> {
    let mut u = vec![1];
    write_var(&mut u, levels as u64);
    write_var(&mut u, 77);
    u.push(0); // clock 0
    for clock in 0..levels {
        u.push(7); // a type, no origins: its parent follows
        if clock == 0 {
            u.extend_from_slice(&[1, 4]);
            u.extend_from_slice(b"post");
        } else {
            u.push(0);
            write_var(&mut u, 77);
            write_var(&mut u, (clock - 1) as u64);
        }
        u.extend_from_slice(&[3, 1, b'p']); // XML element "p"
    }
    u.push(0); // no deletions
    u
}

/// Elements nested 100,000 deep are valid Yjs; deleting them used to recurse once per level
/// inside yrs (and reading them, in creo's own walkers) until the stack overflowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_elements_are_stored_read_and_deleted_without_overflow() {
    let mut server = server(&[]);
    let editor = token("acme", "mallory", Role::Editor);
    let deep = nested_elements(100_000);
    assert!(deep.len() < 4 << 20);
    let resp = post_update(&server, &editor, "deep-xml", deep).await;
    assert_eq!(resp.status(), 200);
    let before = baseline(&server);
    // Versions walk the document: take two, compare them, restore one.
    let versions = "/api/v1/documents/deep-xml/versions";
    let mut ids = Vec::new();
    for name in ["a", "b"] {
        let (s, v) = crate::rest::post(
            &server,
            versions,
            &editor,
            serde_json::json!({ "name": name }),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["version_id"].as_str().unwrap().to_string());
    }
    let (s, cmp) = crate::rest::get(
        &server,
        &format!("{versions}/compare?from={}&to={}", ids[0], ids[1]),
        &editor,
    )
    .await;
    assert_eq!(s, 200, "{cmp}");
    // Delete the outermost element, and with it the 100,000 inside.
    let delete = vec![0, 1, 77, 1, 0, 1];
    let resp = post_update(&server, &editor, "deep-xml", delete).await;
    assert_eq!(resp.status(), 200);
    let (s, restored) = crate::rest::post(
        &server,
        &format!("{versions}/{}/restore", ids[0]),
        &editor,
        serde_json::json!({}),
    )
    .await;
    assert_eq!(s, 200, "{restored}");
    still_serving(
        &mut server,
        "100,000 nested elements",
        (&acme_editor(), "deep-xml"),
        before,
        512,
    )
    .await;
}
