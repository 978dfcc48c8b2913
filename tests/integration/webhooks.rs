//! Outgoing webhooks through a real RabbitMQ to a local HTTP receiver: each subscribed event is
//! delivered signed, retried through failures with the same event id, and logged attempt by
//! attempt; edits arrive as one debounced `document.updated`; a receiver that keeps failing
//! opens its circuit, and nothing is sent to it until the circuit lets a trial through.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{post_update, text_update, Server};
use crate::jobs::{clean_up, prefix, AMQP};
use crate::receiver::{receiver, Received};
use crate::rest::{self, call, deliveries, get, member, post, register, User};

fn server(prefix: &str, extra: &[(&str, &str)]) -> Server {
    let mut env = rest::billing_env();
    env.extend([
        ("CREO_AMQP_URL", AMQP),
        ("CREO_AMQP_PREFIX", prefix),
        ("CREO_JOB_RETRY_BASE_MS", "100"),
        ("CREO_WEBHOOK_DEBOUNCE_MS", "300"),
    ]);
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

async fn endpoint(server: &Server, owner: &User, url: &str, events: Value) -> (String, String) {
    let (s, v) = post(
        server,
        &format!("/api/v1/accounts/{}/webhooks", owner.account_id),
        &owner.access,
        json!({ "url": url, "events": events }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let secret = v["secret"].as_str().expect("the secret is shown once");
    (
        v["endpoint_id"].as_str().unwrap().to_string(),
        secret.to_string(),
    )
}

async fn comment(server: &Server, user: &User, doc: &str, body: &str) {
    let (s, v) = post(
        server,
        &format!("/api/v1/documents/{doc}/comments"),
        &user.access,
        json!({ "body": body }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

async fn until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    cond()
}

/// The signature a receiver checks: HMAC-SHA256 of `t.body` with the endpoint's secret.
fn signed_by(r: &Received, secret: &str) -> bool {
    let t: i64 = r
        .signature()
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    r.signature() == creo::billing::webhook::sign(secret.as_bytes(), t, &r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_events_are_signed_retried_and_logged() {
    let p = prefix();
    // The first two tries fail: the third gets through.
    let dest = receiver(|n| (if n <= 2 { 500 } else { 200 }, Duration::ZERO)).await;
    let server = server(&p, &[]);
    let owner = register(&server, "owner@example.com").await;
    let editor = member(&server, &owner, "editor@example.com", "editor").await;
    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &owner.access,
            json!({ "id": "hooked" })
        )
        .await
        .0,
        201
    );
    let url = format!("/api/v1/accounts/{}/webhooks", owner.account_id);
    let (s, v) = post(
        &server,
        &url,
        &editor.access,
        json!({ "url": dest.url, "events": ["comment.added"] }),
    )
    .await;
    assert_eq!(s, 403, "only owners and admins manage webhooks: {v}");
    for (body, code) in [
        (
            json!({ "url": "ftp://x", "events": ["comment.added"] }),
            "invalid_url",
        ),
        (
            json!({ "url": dest.url, "events": ["document.deleted"] }),
            "invalid_events",
        ),
    ] {
        let (s, v) = post(&server, &url, &owner.access, body).await;
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some(code)), "{v}");
    }
    let events = json!(["comment.added", "workflow.transitioned", "document.updated"]);
    let (id, secret) = endpoint(&server, &owner, &dest.url, events).await;
    let (_, listed) = get(&server, &url, &owner.access).await;
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is never shown again"
    );

    comment(&server, &editor, "hooked", "Looks good").await;
    assert!(
        until(10, || dest.got.lock().unwrap().len() >= 3).await,
        "delivered after two failures"
    );
    let got = dest.got.lock().unwrap().clone();
    let first = got[0].json();
    assert_eq!(first["type"], "comment.added");
    assert_eq!(first["data"]["comment"]["body"], "Looks good");
    assert_eq!(first["doc_id"], "hooked");
    for r in &got[..3] {
        assert!(signed_by(r, &secret), "signed with the endpoint's secret");
        assert_eq!(r.header("creo-event"), "comment.added");
        assert_eq!(
            r.idempotency_key(),
            first["event_id"],
            "every retry carries the same event id"
        );
        assert_eq!(r.body, got[0].body, "and the same body");
    }
    assert!(!signed_by(&got[0], "another secret"));
    // The receiver answered the third attempt before the server logged it: wait for the log.
    let mut log = Vec::new();
    for _ in 0..100 {
        log = deliveries(&server, &owner, &id).await;
        if log.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let outcomes: Vec<(&str, u64)> = log
        .iter()
        .map(|d| {
            (
                d["outcome"].as_str().unwrap(),
                d["status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("delivered", 200), ("retrying", 500), ("retrying", 500)],
        "newest first"
    );
    assert_eq!(
        log.iter()
            .map(|d| d["attempt"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [2, 1, 0]
    );

    // A workflow transition, then a burst of edits: the edits arrive as one event with the text.
    let (s, _) = post(
        &server,
        "/api/v1/documents/hooked/workflow",
        &editor.access,
        json!({ "action": "submit" }),
    )
    .await;
    assert_eq!(s, 200);
    for word in ["Autumn ", "menu ", "is ", "here"] {
        let r = post_update(&server, &editor.access, "hooked", text_update(word)).await;
        assert!(r.status().is_success());
    }
    let types = |got: &[Received]| -> Vec<String> {
        got.iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        until(10, || types(&dest.got.lock().unwrap())
            .contains(&"document.updated".to_string()))
        .await,
        "edits reported"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    let got = dest.got.lock().unwrap().clone();
    let all = types(&got);
    assert_eq!(
        all.iter().filter(|t| *t == "workflow.transitioned").count(),
        1
    );
    assert_eq!(
        all.iter().filter(|t| *t == "document.updated").count(),
        1,
        "four edits in a burst: one event ({all:?})"
    );
    let updated = got
        .iter()
        .find(|r| r.json()["type"] == "document.updated")
        .unwrap()
        .json();
    for word in ["Autumn", "menu", "here"] {
        assert!(
            updated["data"]["text"].as_str().unwrap().contains(word),
            "{updated}"
        );
    }
    let transitioned = got
        .iter()
        .find(|r| r.json()["type"] == "workflow.transitioned")
        .unwrap()
        .json();
    assert_eq!(transitioned["data"]["workflow"]["state"], "in_review");

    // Deleted: nothing more arrives, and its log is gone.
    let (s, _, _) = call(
        &server,
        Method::DELETE,
        &format!("{url}/{id}"),
        Some(&owner.access),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let before = dest.got.lock().unwrap().len();
    comment(&server, &editor, "hooked", "After deletion").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dest.got.lock().unwrap().len(), before);
    let (s, _) = get(&server, &format!("{url}/{id}/deliveries"), &owner.access).await;
    assert_eq!(s, 404);
    clean_up(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_opens_its_circuit_until_a_trial_succeeds() {
    let p = prefix();
    let healthy = Arc::new(AtomicBool::new(false));
    let up = healthy.clone();
    let dest = receiver(move |_| {
        let status = if up.load(Ordering::SeqCst) { 200 } else { 503 };
        (status, Duration::ZERO)
    })
    .await;
    let server = server(
        &p,
        &[
            ("CREO_BREAKER_FAILURES", "2"),
            ("CREO_BREAKER_OPEN_MS", "1500"),
            ("CREO_JOB_MAX_ATTEMPTS", "20"),
            ("CREO_JOB_RETRY_BASE_MS", "50"),
        ],
    );
    let owner = register(&server, "owner@example.com").await;
    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &owner.access,
            json!({ "id": "cb" })
        )
        .await
        .0,
        201
    );
    let (id, _) = endpoint(&server, &owner, &dest.url, json!(["comment.added"])).await;
    comment(&server, &owner, "cb", "one").await;
    assert!(
        until(10, || dest.got.lock().unwrap().len() >= 2).await,
        "two failures"
    );
    // The circuit is open: a new event is held, and the receiver hears nothing for a while.
    comment(&server, &owner, "cb", "two").await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        dest.got.lock().unwrap().len(),
        2,
        "nothing is sent while the circuit is open"
    );
    let log = deliveries(&server, &owner, &id).await;
    assert!(
        log.iter().any(
            |d| d["outcome"] == "held" && d["error"].as_str().unwrap().contains("circuit open")
        ),
        "the log says why: {log:?}"
    );
    // The receiver recovers: the trial succeeds, the circuit closes, both events arrive.
    healthy.store(true, Ordering::SeqCst);
    let delivered = |got: &[Received]| {
        let mut bodies: Vec<String> = got
            .iter()
            .skip(2)
            .map(|r| {
                r.json()["data"]["comment"]["body"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        bodies.sort();
        bodies.dedup();
        bodies
    };
    assert!(
        until(10, || delivered(&dest.got.lock().unwrap())
            == ["one", "two"])
        .await,
        "both delivered once the circuit closed: {:?}",
        delivered(&dest.got.lock().unwrap())
    );
    let log = deliveries(&server, &owner, &id).await;
    assert_eq!(
        log.iter().filter(|d| d["outcome"] == "delivered").count(),
        2,
        "{log:?}"
    );
    clean_up(&p).await;
}
