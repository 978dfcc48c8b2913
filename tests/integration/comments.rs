//! Comments anchored to text: the anchor stays on its words through concurrent edits,
//! commenters comment but cannot edit, viewers only read, threads resolve and reopen, and every
//! change reaches listening editors live.

use serde_json::json;

use crate::common::{post_update, text_update, YClient};
use crate::rest::{self, get, member, post, register};

#[tokio::test]
async fn an_anchored_thread_survives_concurrent_edits_and_resolves() {
    let server = rest::start();
    let owner = register(&server, "owner@example.com").await;
    let commenter = member(&server, &owner, "cc@example.com", "commenter").await;
    let viewer = member(&server, &owner, "vv@example.com", "viewer").await;
    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &owner.access,
            json!({ "id": "post-c" })
        )
        .await
        .0,
        201
    );
    let a = YClient::connect(&server.ws("post-c", &owner.access)).await;
    let b = YClient::connect(&server.ws("post-c", &owner.access)).await;
    let watcher =
        YClient::connect(&format!("{}&events=1", server.ws("post-c", &viewer.access))).await;
    assert!(a.synced().await && b.synced().await && watcher.synced().await);
    a.append("hello world");
    assert!(b.wait(5, |c| c.text() == "hello world").await);

    let mention = format!("Is this the right word, @{}?", owner.user_id);
    let (s, c) = post(
        &server,
        "/api/v1/documents/post-c/comments",
        &commenter.access,
        json!({ "body": mention, "anchor": { "index": 6, "length": 5 } }),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["anchor"]["quoted"], "world");
    assert_eq!(c["span"], json!({ "index": 6, "length": 5 }));
    assert_eq!(c["mentions"], json!([owner.user_id]));
    let thread = c["comment_id"].as_str().unwrap().to_string();
    assert_eq!(
        post_update(&server, &commenter.access, "post-c", text_update("x"))
            .await
            .status(),
        403,
        "commenters do not edit"
    );
    let (s, _) = post(
        &server,
        "/api/v1/documents/post-c/comments",
        &viewer.access,
        json!({ "body": "hi" }),
    )
    .await;
    assert_eq!(s, 403, "viewers do not comment");

    // Two editors edit at once, before and after the anchored word.
    a.append(" !!!");
    b.send(text_insert_at_start(&b, "Big news: "));
    let done =
        |c: &YClient| c.text().starts_with("Big news: hello world") && c.text().ends_with("!!!");
    assert!(
        a.wait(5, done).await && b.wait(5, done).await,
        "{} / {}",
        a.text(),
        b.text()
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, threads) = get(&server, "/api/v1/documents/post-c/comments", &viewer.access).await;
    let span = &threads[0]["comments"][0]["span"];
    let (index, length) = (
        span["index"].as_u64().unwrap() as usize,
        span["length"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        &a.text()[index..index + length],
        "world",
        "the anchor stayed on its word"
    );

    let (s, reply) = post(
        &server,
        "/api/v1/documents/post-c/comments",
        &owner.access,
        json!({ "body": "yes, keep it", "reply_to": thread }),
    )
    .await;
    assert_eq!(
        (s, reply["thread_id"].as_str()),
        (201, Some(thread.as_str()))
    );
    let (s, r) = post(
        &server,
        &format!("/api/v1/documents/post-c/comments/{thread}/resolve"),
        &commenter.access,
        json!({}),
    )
    .await;
    assert_eq!(
        (s, r["resolved_by"].as_str()),
        (200, Some(commenter.user_id.as_str()))
    );
    let (_, threads) = get(&server, "/api/v1/documents/post-c/comments", &owner.access).await;
    assert_eq!(
        (
            threads[0]["resolved"].as_bool(),
            threads[0]["comments"].as_array().unwrap().len()
        ),
        (Some(true), 2)
    );
    assert_eq!(
        post(
            &server,
            &format!("/api/v1/documents/post-c/comments/{thread}/reopen"),
            &owner.access,
            json!({})
        )
        .await
        .0,
        200
    );
    let (_, threads) = get(&server, "/api/v1/documents/post-c/comments", &owner.access).await;
    assert_eq!(threads[0]["resolved"], false);

    let actions = || -> Vec<String> {
        watcher
            .seen
            .lock()
            .unwrap()
            .events
            .iter()
            .map(|e| e["action"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert!(
        watcher.wait(5, |_| actions().len() == 4).await,
        "{:?}",
        actions()
    );
    assert_eq!(actions(), ["added", "added", "resolved", "reopened"]);
}

/// An update inserting `s` at the start of the client's text (sent as the client's own edit).
fn text_insert_at_start(client: &YClient, s: &str) -> Vec<u8> {
    use yrs::updates::encoder::Encode;
    use yrs::{Text, Transact};
    let doc = client.doc.lock().unwrap();
    let text = doc.get_or_insert_text(crate::common::TEXT);
    let mut txn = doc.transact_mut();
    text.insert(&mut txn, 0, s);
    let update = txn.encode_update_v1();
    yrs::sync::Message::Sync(yrs::sync::SyncMessage::Update(update)).encode_v1()
}
