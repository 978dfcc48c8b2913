//! Inbox abuse: streams hoarded by one person, malformed inbox queries and settings, forged
//! reset tokens, and one comment that mentions a member a thousand times.

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::rest::{call, get, member, post, register};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_streams_are_bounded_per_person_and_bad_queries_are_refused() {
    let mut server = server(&[
        ("CREO_INBOX_STREAMS_PER_USER", "4"),
        ("CREO_INBOX_HEARTBEAT_MS", "300"),
    ]);
    let before = baseline(&server);
    let mallory = register(&server, "mallory@example.com").await;
    let stream = || {
        http()
            .get(server.url("/api/v1/users/me/notifications/stream"))
            .bearer_auth(&mallory.access)
            .send()
    };
    let mut held = Vec::new();
    for _ in 0..4 {
        let r = stream().await.unwrap();
        assert_eq!(r.status(), 200);
        held.push(r);
    }
    let refused = stream().await.unwrap();
    assert_eq!(refused.status(), 429, "a fifth stream for one person");
    assert_eq!(
        server
            .metric("creo_refused_requests_total{reason=\"inbox_streams\"}")
            .await,
        1.0
    );
    // A closed stream gives its place back (noticed at its next heartbeat).
    drop(held.pop());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = stream().await.unwrap();
        if r.status() == 200 {
            held.push(r);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let inbox = |q: &str| format!("/api/v1/users/me/notifications{q}");
    for q in [
        "?limit=0",
        "?limit=101",
        &format!("?cursor={}", "f".repeat(65)),
    ] {
        let (s, v) = get(&server, &inbox(q), &mallory.access).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("invalid_query")),
            "{q}: {v}"
        );
    }
    for settings in [
        json!({ "kinds": { "everything": { "in_app": true, "email": true } } }),
        json!({ "digest": "sometimes" }),
        json!({ "kinds": { "mention": { "in_app": "yes" } } }),
    ] {
        let (s, v, _) = call(
            &server,
            Method::PUT,
            "/api/v1/users/me/notification-settings",
            Some(&mallory.access),
            Some(settings.clone()),
        )
        .await;
        assert_eq!(s, 400, "{settings}: {v}");
    }
    let (s, key) = post(
        &server,
        &format!("/api/v1/accounts/{}/api-keys", mallory.account_id),
        &mallory.access,
        json!({ "name": "k", "scopes": ["documents:read"] }),
    )
    .await;
    assert_eq!(s, 201, "{key}");
    let (s, v) = get(&server, &inbox(""), key["secret"].as_str().unwrap()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "API keys have no inbox"
    );
    for token in ["pr_forged".to_string(), "x".repeat(4_000)] {
        let (s, v, _) = call(
            &server,
            Method::POST,
            "/api/v1/auth/password/reset",
            None,
            Some(json!({ "token": token, "password": "a long enough password" })),
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("invalid_reset_token")),
            "{v}"
        );
    }
    still_serving(
        &mut server,
        "inbox streams and bad inbox input",
        (&mallory.access, "mallorys-post"),
        before,
        64,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_mentions_of_one_member_file_one_notification() {
    let mut server = server(&[]);
    let before = baseline(&server);
    let alice = register(&server, "alice@example.com").await;
    let bob = member(&server, &alice, "bob@example.com", "editor").await;
    let (s, doc) = post(
        &server,
        "/api/v1/documents",
        &alice.access,
        json!({ "title": "x" }),
    )
    .await;
    assert_eq!(s, 201);
    let doc = doc["doc_id"].as_str().unwrap();
    let body = format!("@{} ", bob.user_id).repeat(250);
    let (s, v) = post(
        &server,
        &format!("/api/v1/documents/{doc}/comments"),
        &alice.access,
        json!({ "body": body }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (_, inbox) = get(&server, "/api/v1/users/me/notifications", &bob.access).await;
    let mentions = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "mention")
        .count();
    assert_eq!(mentions, 1, "{inbox}");
    still_serving(
        &mut server,
        "a comment repeating one mention",
        (&bob.access, "bobs-post"),
        before,
        64,
    )
    .await;
}
