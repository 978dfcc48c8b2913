//! Jobs through a real RabbitMQ (127.0.0.1:5672, as scripts/test.sh ensures; a missing broker
//! fails these tests): a scheduled post is published within a second of its time as a signed
//! webhook; a destination that keeps failing dead-letters the job with the reason visible; a
//! worker killed mid-job has its job redelivered and published once.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::common::{Server, YClient};
use crate::receiver::{receiver, Received, Receiver};
use crate::rest::{self, get, post, register};

pub const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const SECRET: &str = "publish-secret-for-tests";

fn env<'a>(prefix: &'a str, url: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = rest::billing_env();
    env.extend([
        ("CREO_AMQP_URL", AMQP),
        ("CREO_AMQP_PREFIX", prefix),
        ("CREO_PUBLISH_WEBHOOK_URL", url),
        ("CREO_PUBLISH_WEBHOOK_SECRET", SECRET),
    ]);
    env.extend_from_slice(extra);
    env
}

pub fn prefix() -> String {
    format!("creo-test-{}", rand::random::<u32>())
}

/// A document with text, approved and scheduled `secs_ahead` from now (UTC); its scheduled
/// instant in ms.
async fn scheduled(server: &Server, secs_ahead: u64) -> (rest::User, i64) {
    let owner = register(server, "owner@example.com").await;
    assert_eq!(
        post(
            server,
            "/api/v1/documents",
            &owner.access,
            json!({ "id": "launch" })
        )
        .await
        .0,
        201
    );
    let c = YClient::connect(&server.ws("launch", &owner.access)).await;
    assert!(c.synced().await);
    c.append("Launching today! #launch");
    assert!(c.wait(5, |_| true).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for action in ["submit", "approve"] {
        let (s, v) = post(
            server,
            "/api/v1/documents/launch/workflow",
            &owner.access,
            json!({ "action": action }),
        )
        .await;
        assert_eq!(s, 200, "{action}: {v}");
    }
    // Whole seconds, rounded up: at least `secs_ahead` away however late in its second this runs
    // (rounding down once left a 1-second schedule in the past by the time it was sent).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .div_ceil(1000) as u64
        + secs_ahead;
    let at = chrono::DateTime::from_timestamp(now as i64, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let (s, v) = post(
        server,
        "/api/v1/documents/launch/workflow",
        &owner.access,
        json!({ "action": "schedule", "at": at, "timezone": "UTC" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    (owner, now as i64 * 1000)
}

async fn state_of(server: &Server, token: &str) -> Value {
    get(server, "/api/v1/documents/launch/workflow", token)
        .await
        .1
}

/// The workflow once it reached `wanted` (or as it is after 10 s).
async fn wait_for_state(server: &Server, token: &str, wanted: &str) -> Value {
    let mut v = Value::Null;
    for _ in 0..200 {
        v = state_of(server, token).await;
        if v["workflow"]["state"] == wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    v
}

/// Waits (up to 10 s) until the destination received its first request.
async fn first_delivery(dest: &Receiver) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while dest.got.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn owned(env: Vec<(&str, &str)>) -> Vec<(String, String)> {
    env.into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Removes a test's queues from the shared broker once its servers are gone.
pub async fn clean_up(prefix: &str) {
    let queue = creo::queue::rabbit::RabbitQueue::connect(AMQP, prefix)
        .await
        .unwrap();
    queue.delete_queues().await.unwrap();
}

/// A post delivered within a second of its time.
fn assert_on_time(got: &[Received], at: i64) {
    assert_eq!(got.len(), 1, "delivered once");
    let arrived = got[0].at.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    println!("published {} ms after its scheduled time", arrived - at);
    assert!(
        (at..at + 1_000).contains(&arrived),
        "arrived {} ms from its time",
        arrived - at
    );
}

/// The worker delivering a post is killed mid-delivery (the destination holds the first
/// request); a second server on the same store (and broker) publishes it, exactly once.
async fn a_killed_worker_publishes_once(settings: impl Fn(&str) -> Vec<(String, String)>) {
    let dest = receiver(|n| {
        let hang = if n == 1 {
            Duration::from_secs(30)
        } else {
            Duration::ZERO
        };
        (200, hang)
    })
    .await;
    let env = settings(&dest.url);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut first = Server::start_with(&env);
    let (owner, _) = scheduled(&first, 1).await;
    first_delivery(&dest).await;
    assert_eq!(
        dest.got.lock().unwrap().len(),
        1,
        "the first worker is delivering"
    );
    first.kill();
    let second = Server::start_sharing(&first, &env);
    let v = wait_for_state(&second, &owner.access, "published").await;
    assert_eq!(v["workflow"]["state"], "published", "{v}");
    let transitions = v["transitions"].as_array().unwrap();
    let publishes = transitions
        .iter()
        .filter(|t| t["action"] == "publish")
        .count();
    assert_eq!(publishes, 1, "one effect");
    let got = dest.got.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        2,
        "delivered again after the kill (at least once)"
    );
    assert_eq!(
        got[0].idempotency_key(),
        got[1].idempotency_key(),
        "with the same idempotency key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_post_is_published_within_a_second_of_its_time() {
    let dest = receiver(|_| (200, Duration::ZERO)).await;
    let p = prefix();
    let server = Server::start_with(&env(&p, &dest.url, &[]));
    let (owner, at) = scheduled(&server, 3).await;
    // An editor's socket and a webhook endpoint hear how the job ended.
    let watcher =
        YClient::connect(&format!("{}&events=1", server.ws("launch", &owner.access))).await;
    assert!(watcher.synced().await);
    let hook = receiver(|_| (200, Duration::ZERO)).await;
    let (s, v) = post(
        &server,
        &format!("/api/v1/accounts/{}/webhooks", owner.account_id),
        &owner.access,
        json!({ "url": hook.url, "events": ["job.completed"] }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    first_delivery(&dest).await;
    let got = dest.got.lock().unwrap().clone();
    assert_on_time(&got, at);
    // Signed like every creo webhook, over the body it carries.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    creo::billing::webhook::verify(
        SECRET.as_bytes(),
        Some(got[0].signature()),
        &got[0].body,
        now,
        300,
    )
    .expect("valid signature");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["text"], "Launching today! #launch");
    let published = wait_for_state(&server, &owner.access, "published").await;
    assert_eq!(published["workflow"]["state"], "published");
    let last = published["transitions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["action"].as_str(), last["actor"].as_str()),
        (Some("publish"), Some("system"))
    );
    let published_live = |c: &YClient| {
        c.seen
            .lock()
            .unwrap()
            .events
            .iter()
            .any(|e| e["workflow"]["state"] == "published")
    };
    assert!(
        watcher.wait(5, published_live).await,
        "the editor sees it published live"
    );
    first_delivery(&hook).await;
    let completed = hook.got.lock().unwrap()[0].json();
    assert_eq!(
        (
            completed["type"].as_str(),
            completed["data"]["outcome"].as_str()
        ),
        (Some("job.completed"), Some("published")),
        "{completed}"
    );
    drop(server);
    clean_up(&p).await;
}

/// "Publish now" skips the wait: an approved post goes out at once, to the targets asked for,
/// and ends published, with the person's move and the system's both in the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_published_now_goes_out_at_once() {
    let dest = receiver(|_| (200, Duration::ZERO)).await;
    let p = prefix();
    let server = Server::start_with(&env(&p, &dest.url, &[]));
    let owner = register(&server, "owner@example.com").await;
    let (s, _) = post(
        &server,
        "/api/v1/documents",
        &owner.access,
        json!({ "id": "launch" }),
    )
    .await;
    assert_eq!(s, 201);
    let c = YClient::connect(&server.ws("launch", &owner.access)).await;
    assert!(c.synced().await);
    c.append("Out the door now #launch");
    assert!(c.wait(5, |_| true).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let act = |body: Value| {
        post(
            &server,
            "/api/v1/documents/launch/workflow",
            &owner.access,
            body,
        )
    };
    let (s, v) = act(json!({ "action": "publish_now" })).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("invalid_transition")),
        "a draft: {v}"
    );
    for action in ["submit", "approve"] {
        assert_eq!(act(json!({ "action": action })).await.0, 200);
    }
    let asked = Instant::now();
    let (s, v) =
        act(json!({ "action": "publish_now", "targets": [{ "platform": "x", "format": "feed" }] }))
            .await;
    assert_eq!(s, 200, "{v}");
    first_delivery(&dest).await;
    let took = asked.elapsed();
    let got = dest.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "sent once");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["text"], "Out the door now #launch");
    assert_eq!(body["posts"][0]["platform"], "x", "{body}");
    assert!(took < Duration::from_secs(5), "went out at once: {took:?}");
    let published = wait_for_state(&server, &owner.access, "published").await;
    let actions: Vec<&str> = published["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["submit", "approve", "publish_now", "publish"],
        "{published}"
    );
    drop(server);
    clean_up(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_keeps_failing_dead_letters_the_job_with_the_reason() {
    let dest = receiver(|_| (503, Duration::ZERO)).await;
    let p = prefix();
    let server = Server::start_with(&env(
        &p,
        &dest.url,
        &[
            ("CREO_JOB_MAX_ATTEMPTS", "3"),
            ("CREO_JOB_RETRY_BASE_MS", "100"),
        ],
    ));
    let (owner, _) = scheduled(&server, 1).await;
    let v = wait_for_state(&server, &owner.access, "failed").await;
    assert_eq!(v["workflow"]["state"], "failed", "{v}");
    let note = v["transitions"].as_array().unwrap().last().unwrap()["note"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        note.contains("gave up after 3 tries") && note.contains("503"),
        "{note}"
    );
    let got = dest.got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "tried three times");
    assert!(
        got.iter()
            .all(|r| r.idempotency_key() == got[0].idempotency_key()),
        "one idempotency key for every try"
    );
    let queue = creo::queue::rabbit::RabbitQueue::connect(AMQP, &p)
        .await
        .unwrap();
    assert_eq!(
        queue.dead_letters().await.unwrap(),
        1,
        "the job is in the dead-letter queue"
    );
    drop(server);
    clean_up(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_worker_is_killed_mid_delivery_is_redelivered_and_publishes_once() {
    let p = prefix();
    a_killed_worker_publishes_once(|url| owned(env(&p, url, &[]))).await;
    clean_up(&p).await;
}

/// The same settings without a broker: jobs go through the store's queue.
fn local_env<'a>(url: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = rest::billing_env();
    env.extend([
        ("CREO_PUBLISH_WEBHOOK_URL", url),
        ("CREO_PUBLISH_WEBHOOK_SECRET", SECRET),
    ]);
    env.extend_from_slice(extra);
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_the_store_queue_publishes_on_time() {
    let dest = receiver(|_| (200, Duration::ZERO)).await;
    let server = Server::start_with(&local_env(&dest.url, &[]));
    let (owner, at) = scheduled(&server, 2).await;
    let v = wait_for_state(&server, &owner.access, "published").await;
    assert_eq!(v["workflow"]["state"], "published", "{v}");
    assert_on_time(&dest.got.lock().unwrap().clone(), at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_a_killed_workers_job_is_taken_again_after_its_lease() {
    a_killed_worker_publishes_once(|url| owned(local_env(url, &[("CREO_JOB_LEASE_MS", "1500")])))
        .await;
}
