//! Requests that made an HTTP worker do whole-document work once per item, stalling every other
//! request it serves.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_comments_on_a_large_document_does_not_stall_the_worker() {
    // One HTTP worker: anything that blocks it also blocks /healthz.
    let mut server = server(&[("CREO_WORKERS", "1")]);
    let tok = token("acme", "ed", creo::auth::Role::Editor);
    // 1.4 MB in 25,000 separate items, as long editing leaves a post.
    let doc = yrs::Doc::with_client_id(42);
    let post = doc.get_or_insert_text(TEXT);
    {
        use yrs::Text;
        let mut txn = yrs::Transact::transact_mut(&doc);
        for i in 0..25_000 {
            post.insert(
                &mut txn,
                0,
                &format!("{i:>5} spring launch copy for everyone, ready to go out;"),
            );
        }
    }
    let resp = post_update(&server, &tok, "long-post", encoded_state(&doc)).await;
    assert_eq!(resp.status(), 200);
    for i in 0..100u32 {
        let (status, body) = crate::rest::post(
            &server,
            "/api/v1/documents/long-post/comments",
            &tok,
            json!({ "body": format!("note {i}"), "anchor": { "field": "post", "index": i * 1_000, "length": 6 } }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let before = baseline(&server);
    let listing = tokio::spawn({
        let url = server.url("/api/v1/documents/long-post/comments");
        let tok = tok.clone();
        async move {
            let started = Instant::now();
            let resp = http().get(url).bearer_auth(tok).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let threads: serde_json::Value = resp.json().await.unwrap();
            (started.elapsed(), threads)
        }
    });
    // While it runs, the worker still answers.
    let mut worst = Duration::ZERO;
    while !listing.is_finished() {
        let started = Instant::now();
        let health = http().get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        worst = worst.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (took, threads) = listing.await.unwrap();
    let threads = threads.as_array().unwrap();
    assert_eq!(threads.len(), 100);
    assert!(
        threads
            .iter()
            .all(|t| t["comments"][0]["span"]["length"] == 6),
        "every anchor placed"
    );
    eprintln!("hostile comments: listed in {took:?}; /healthz worst {worst:?} meanwhile");
    assert!(
        worst < Duration::from_secs(1),
        "/healthz waited {worst:?} behind the listing"
    );
    still_serving(
        &mut server,
        "comments on a 1.4 MB document",
        (&acme_editor(), "long-post"),
        before,
        128,
    )
    .await;
}
