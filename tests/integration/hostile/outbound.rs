//! Webhook endpoints pointed at the server's own network: refused at registration when the
//! address is written out, refused at connection time when a name resolves there, and never
//! reached through a redirect. The delivery log does not say why a connection failed.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::receiver::redirecting_receiver;
use crate::rest::{self, deliveries, post, register};

async fn register_endpoint(server: &Server, owner: &rest::User, url: &str) -> (u16, Value) {
    post(
        server,
        &format!("/api/v1/accounts/{}/webhooks", owner.account_id),
        &owner.access,
        json!({ "url": url, "events": ["comment.added"] }),
    )
    .await
}

/// A comment on a document of `owner`'s account: one `comment.added` event per endpoint.
async fn comment(server: &Server, owner: &rest::User) {
    let doc = format!("ssrf-{}", rand::random::<u32>());
    let (s, _) = post(
        server,
        "/api/v1/documents",
        &owner.access,
        json!({ "id": doc }),
    )
    .await;
    assert_eq!(s, 201);
    let (s, c) = post(
        server,
        &format!("/api/v1/documents/{doc}/comments"),
        &owner.access,
        json!({ "body": "hello" }),
    )
    .await;
    assert_eq!(s, 201, "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_cannot_reach_private_addresses() {
    // The default outbound policy: public addresses on ports 80 and 443 only.
    let mut server = server(&[("CREO_OUTBOUND_ALLOW", "")]);
    let before = baseline(&server);
    let owner = register(&server, "owner@example.com").await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:6379/",
        "http://localhost:5672/",
        "http://10.0.0.1/",
        "http://2130706433/",
        "http://[::ffff:127.0.0.1]/",
        "gopher://example.com/",
    ] {
        let (s, body) = register_endpoint(&server, &owner, url).await;
        assert_eq!(s, 400, "{url} was accepted: {body}");
        assert_eq!(body["error"]["code"], "invalid_url");
    }
    // A name that resolves to the loopback passes registration (names are checked when a
    // delivery connects) but is never connected to.
    let (s, ep) = register_endpoint(&server, &owner, "http://localhost/hook").await;
    assert_eq!(s, 201, "{ep}");
    let endpoint = ep["endpoint_id"].as_str().unwrap().to_string();
    comment(&server, &owner).await;
    let mut log = Vec::new();
    for _ in 0..100 {
        log = deliveries(&server, &owner, &endpoint).await;
        if !log.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = log.first().expect("a delivery attempt was logged");
    assert_eq!(first["status"], Value::Null);
    assert_eq!(
        first["error"], "the endpoint could not be reached",
        "the log names no reason a connection failed: {first}"
    );
    assert!(
        server
            .metric("creo_outbound_refused_total{reason=\"address\"}")
            .await
            >= 1.0
    );
    still_serving(
        &mut server,
        "SSRF registrations",
        (&acme_editor(), "ssrf-doc"),
        before,
        64,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    // The receiver is on the loopback, allow-listed as an operator would for an internal
    // service; it answers every request with a redirect (to itself, so following it shows).
    let hook = redirecting_receiver().await;
    let mut server = server(&[]);
    let before = baseline(&server);
    let owner = register(&server, "owner@example.com").await;
    let (s, ep) = register_endpoint(&server, &owner, &hook.url).await;
    assert_eq!(s, 201, "{ep}");
    let endpoint = ep["endpoint_id"].as_str().unwrap().to_string();
    comment(&server, &owner).await;
    let mut log = Vec::new();
    for _ in 0..100 {
        log = deliveries(&server, &owner, &endpoint).await;
        if log.iter().any(|d| d["outcome"] == "failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        log.iter()
            .any(|d| d["outcome"] == "failed" && d["status"] == 302),
        "a redirect fails the delivery: {log:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        hook.got.lock().unwrap().len(),
        1,
        "one request, no retry and no redirect followed"
    );
    still_serving(
        &mut server,
        "redirecting endpoint",
        (&acme_editor(), "ssrf-doc"),
        before,
        64,
    )
    .await;
}
