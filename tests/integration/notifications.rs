//! Notifications, end to end: the inbox over REST, live streams (on one node and across two
//! with Redis), and email through a real SMTP server (`smtp.rs`): one email per mention, review
//! requests to approvers only, digests, an SMTP server that is down and comes back, and a
//! removed member who stops hearing.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::cluster::{cluster, Redis};
use crate::common::{http, Server};
use crate::rest::{self, call, get, member, post, register, User};
use crate::smtp::{verified, Smtp};

/// The REST tests' settings with email through `smtp`, and quick retries.
fn mail_env(smtp: &str, extra: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = rest::billing_env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("CREO_SMTP_URL".into(), smtp.to_string()));
    env.push(("CREO_MAIL_FROM".into(), "creo <noreply@creo.test>".into()));
    env.push(("CREO_JOB_RETRY_BASE_MS".into(), "200".into()));
    env.push(("CREO_BREAKER_OPEN_MS".into(), "500".into()));
    env.push(("CREO_BREAKER_FAILURES".into(), "3".into()));
    env.push(("CREO_SMTP_TIMEOUT_MS".into(), "2000".into()));
    for (k, v) in extra {
        env.push((k.to_string(), v.to_string()));
    }
    env
}

fn start(env: &[(String, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start_with(&env)
}

async fn inbox(server: &Server, user: &User, query: &str) -> Value {
    let (s, v) = get(
        server,
        &format!("/api/v1/users/me/notifications{query}"),
        &user.access,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v
}

/// The inbox's items of `kind` once there are `n` (or what there is after `secs`). Members
/// joined by invitation also hold their `invited` notification, which tests about other kinds
/// leave aside.
async fn inbox_with(server: &Server, user: &User, kind: &str, n: usize, secs: u64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let items: Vec<Value> = inbox(server, user, "").await["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == kind)
            .cloned()
            .collect();
        if items.len() >= n || Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn new_document(server: &Server, user: &User, title: &str) -> String {
    let (s, v) = post(
        server,
        "/api/v1/documents",
        &user.access,
        json!({ "title": title }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["doc_id"].as_str().unwrap().to_string()
}

async fn comment(server: &Server, user: &User, doc: &str, body: Value) -> Value {
    let (s, v) = post(
        server,
        &format!("/api/v1/documents/{doc}/comments"),
        &user.access,
        body,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v
}

/// Upgrades an account to the team tier (more seats than the free tier's three).
async fn team(server: &Server, owner: &User) {
    let event = json!({ "id": format!("evt_{}", owner.account_id), "type": "subscription.created",
        "data": { "account_id": owner.account_id, "tier": "team" } });
    assert_eq!(
        rest::webhook(server, event, rest::WEBHOOK_SECRET, 0)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_mention_is_one_inbox_item_and_one_email_and_a_reply_reaches_the_thread() {
    let smtp = Smtp::start();
    let server = start(&mail_env(&smtp.url(), &[]));
    let alice = verified(&server, &smtp, "alice@example.com").await;
    // Verified before he is invited: an unproved address hears of no invitation.
    let bob = verified(&server, &smtp, "bob@example.com").await;
    let bob = rest::join(&server, &alice, &bob, "editor").await;
    let doc = new_document(&server, &alice, "Spring launch").await;

    let first = comment(
        &server,
        &alice,
        &doc,
        json!({ "body": format!("@{} can you check the caption?", bob.user_id) }),
    )
    .await;
    let items = inbox_with(&server, &bob, "mention", 1, 5).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let n = &items[0];
    assert_eq!(n["actor"], alice.user_id.as_str());
    assert_eq!(n["doc_id"], doc.as_str());
    assert_eq!(n["doc_title"], "Spring launch");
    assert!(n["text"].as_str().unwrap().contains("check the caption"));
    assert_eq!(
        n["link"],
        format!("/#/w/{}/doc/{doc}", alice.account_id).as_str()
    );
    assert_eq!(inbox_with(&server, &bob, "invited", 1, 0).await.len(), 1);
    assert_eq!(
        inbox(&server, &bob, "").await["unread"],
        2,
        "the invitation and the mention"
    );
    assert_eq!(
        inbox(&server, &alice, "").await["items"],
        json!([]),
        "the author hears nothing of her own comment"
    );

    let mails = smtp.wait_for("bob@example.com", "mentioned", 1, 10).await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].subject.contains("mentioned you in") && mails[0].subject.contains("Spring launch"),
        "{:?}",
        mails[0].subject
    );
    assert!(
        mails[0].text.contains("check the caption"),
        "{}",
        mails[0].text
    );
    assert!(mails[0]
        .text
        .contains(&format!("/#/w/{}/doc/{doc}", alice.account_id)));
    assert!(mails[0].html.contains("<a href="), "an HTML part too");
    assert!(
        mails[0]
            .message_id
            .contains(n["notification_id"].as_str().unwrap()),
        "one Message-ID per notification, the same on every try: {}",
        mails[0].message_id
    );
    // Nothing more comes: one notification, one email.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        smtp.wait_for("bob@example.com", "mentioned", 2, 0)
            .await
            .len(),
        1
    );
    assert_eq!(inbox_with(&server, &bob, "mention", 2, 0).await.len(), 1);

    // Bob replies in the thread: Alice hears, as a reply.
    comment(
        &server,
        &bob,
        &doc,
        json!({ "body": "Done.", "reply_to": first["comment_id"] }),
    )
    .await;
    let alices = inbox_with(&server, &alice, "reply", 1, 5).await;
    assert_eq!(alices.len(), 1);
    assert_eq!(
        inbox(&server, &alice, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "a reply, nothing else"
    );

    // Read, unread, all read, delete.
    let id = n["notification_id"].as_str().unwrap();
    let path = |what: &str| format!("/api/v1/users/me/notifications/{id}{what}");
    let (s, v) = post(&server, &path("/read"), &bob.access, json!({})).await;
    assert_eq!((s, &v["unread"]), (200, &json!(1)), "{v}");
    let unread = inbox(&server, &bob, "?unread=true").await;
    assert_eq!(unread["items"][0]["kind"], "invited", "{unread}");
    let (s, v) = post(&server, &path("/unread"), &bob.access, json!({})).await;
    assert_eq!((s, &v["unread"]), (200, &json!(2)));
    let (s, v) = post(
        &server,
        "/api/v1/users/me/notifications/read-all",
        &bob.access,
        json!({}),
    )
    .await;
    assert_eq!((s, &v["unread"]), (200, &json!(0)));
    let (s, _, _) = call(
        &server,
        Method::POST,
        &path("/read"),
        Some(&alice.access),
        None,
    )
    .await;
    assert_eq!(s, 404, "someone else's notification is not found");
    let (s, _, _) = call(&server, Method::DELETE, &path(""), Some(&bob.access), None).await;
    assert_eq!(s, 200);
    let (s, _, _) = call(&server, Method::DELETE, &path(""), Some(&bob.access), None).await;
    assert_eq!(s, 404);
    assert!(inbox_with(&server, &bob, "mention", 1, 0).await.is_empty());
}

#[tokio::test]
async fn a_review_request_reaches_approvers_only_and_the_outcome_reaches_the_author() {
    let smtp = Smtp::start();
    let server = start(&mail_env(&smtp.url(), &[]));
    let owner = verified(&server, &smtp, "owner@example.com").await;
    team(&server, &owner).await;
    let admin = member(&server, &owner, "admin@example.com", "admin").await;
    let editor = member(&server, &owner, "editor@example.com", "editor").await;
    let viewer = member(&server, &owner, "viewer@example.com", "viewer").await;
    let doc = new_document(&server, &editor, "Summer sale").await;

    let workflow = format!("/api/v1/documents/{doc}/workflow");
    let (s, v) = post(
        &server,
        &workflow,
        &editor.access,
        json!({ "action": "submit" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    for approver in [&owner, &admin] {
        let items = inbox_with(&server, approver, "review_requested", 1, 5).await;
        assert_eq!(items.len(), 1, "{}: {items:?}", approver.email);
        assert_eq!(items[0]["actor"], editor.user_id.as_str());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for bystander in [&editor, &viewer] {
        assert!(
            inbox_with(&server, bystander, "review_requested", 1, 0)
                .await
                .is_empty(),
            "{} cannot approve",
            bystander.email
        );
    }
    let review = "asks you to review";
    assert_eq!(
        smtp.wait_for("owner@example.com", review, 1, 10)
            .await
            .len(),
        1
    );
    assert_eq!(
        smtp.wait_for("admin@example.com", review, 1, 10)
            .await
            .len(),
        1
    );
    assert!(smtp
        .wait_for("viewer@example.com", review, 1, 0)
        .await
        .is_empty());

    let (s, v) = post(
        &server,
        &workflow,
        &admin.access,
        json!({ "action": "approve" }),
    )
    .await;
    assert_eq!(
        (s, &v["workflow"]["state"]),
        (200, &json!("approved")),
        "{v}"
    );
    let items = inbox_with(&server, &editor, "approved", 1, 5).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["actor"], admin.user_id.as_str());
}

#[tokio::test]
async fn a_digest_sends_a_windows_notifications_in_one_email_grouped_by_document() {
    let smtp = Smtp::start();
    let server = start(&mail_env(&smtp.url(), &[("CREO_DIGEST_HOUR_MS", "4000")]));
    let alice = verified(&server, &smtp, "alice@example.com").await;
    let bob = member(&server, &alice, "bob@example.com", "editor").await;
    let (s, v, _) = call(
        &server,
        Method::PUT,
        "/api/v1/users/me/notification-settings",
        Some(&bob.access),
        Some(json!({ "digest": "hourly" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["kinds"]["mention"],
        json!({ "in_app": true, "email": true })
    );
    let launch = new_document(&server, &alice, "Launch").await;
    let recap = new_document(&server, &alice, "Recap").await;
    // Start just after a window opens (windows are aligned to the epoch), so the three land in
    // one window.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    tokio::time::sleep(Duration::from_millis(4_000 - now % 4_000 + 100)).await;
    for (doc, text) in [(&launch, "one"), (&recap, "two"), (&launch, "three")] {
        comment(
            &server,
            &alice,
            doc,
            json!({ "body": format!("@{} {text}", bob.user_id) }),
        )
        .await;
    }
    assert_eq!(
        inbox_with(&server, &bob, "mention", 3, 5).await.len(),
        3,
        "in-app at once"
    );
    assert!(
        smtp.wait_for("bob@example.com", "mentioned", 1, 1)
            .await
            .is_empty(),
        "no email per mention"
    );
    let digest = "3 new notifications in creo";
    let mails = smtp.wait_for("bob@example.com", digest, 1, 15).await;
    assert_eq!(
        mails.len(),
        1,
        "one digest; all mail: {:?}",
        smtp.messages()
    );
    let text = &mails[0].text;
    assert_eq!(text.matches("Launch\n").count(), 1, "{text}");
    assert_eq!(text.matches("Recap\n").count(), 1, "{text}");
    assert!(text.find("Launch\n") < text.find("Recap\n"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        smtp.wait_for("bob@example.com", "notification", 2, 0)
            .await
            .len(),
        1,
        "and only one"
    );
}

#[tokio::test]
async fn mail_waits_while_the_smtp_server_is_down_and_is_delivered_once_it_is_back() {
    let mut smtp = Smtp::start();
    let server = start(&mail_env(&smtp.url(), &[]));
    let alice = verified(&server, &smtp, "alice@example.com").await;
    let bob = member(&server, &alice, "bob@example.com", "editor").await;
    // The server goes down before anyone is mentioned.
    smtp.kill();
    let doc = new_document(&server, &alice, "Outage").await;
    comment(
        &server,
        &alice,
        &doc,
        json!({ "body": format!("@{} ping", bob.user_id) }),
    )
    .await;
    assert_eq!(inbox_with(&server, &bob, "mention", 1, 5).await.len(), 1);
    // Tries fail, the breaker opens and holds the job back.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .metric("creo_mail_failures_total{kind=\"transient\"}")
        .await
        < 2.0
    {
        assert!(Instant::now() < deadline, "the mail job never tried");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    smtp.spawn();
    let mails = smtp.wait_for("bob@example.com", "mentioned", 1, 30).await;
    assert_eq!(mails.len(), 1, "delivered once the server is back");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        smtp.wait_for("bob@example.com", "mentioned", 2, 0)
            .await
            .len(),
        1,
        "exactly once"
    );
}

#[tokio::test]
async fn a_removed_member_sees_nothing_of_the_account_any_more() {
    let server = rest::start();
    let alice = register(&server, "alice@example.com").await;
    let bob = member(&server, &alice, "bob@example.com", "editor").await;
    let doc = new_document(&server, &alice, "Secret plans").await;
    comment(
        &server,
        &alice,
        &doc,
        json!({ "body": format!("@{} look", bob.user_id) }),
    )
    .await;
    assert_eq!(inbox_with(&server, &bob, "mention", 1, 5).await.len(), 1);
    let (s, _, _) = call(
        &server,
        Method::DELETE,
        &format!(
            "/api/v1/accounts/{}/members/{}",
            alice.account_id, bob.user_id
        ),
        Some(&alice.access),
        None,
    )
    .await;
    assert_eq!(s, 204);
    // Bob signs in to his own workspace: nothing of Alice's shows, nor counts.
    // Bob signs in to his own workspace: nothing of Alice's shows, nor counts, except the
    // invitation he once had (which is about joining).
    let bob = rest::login(&server, "bob@example.com", None).await;
    let v = inbox(&server, &bob, "").await;
    let kinds: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["invited"], "{v}");
    assert_eq!(
        v["unread"], 1,
        "the removed account's mention does not count"
    );
    comment(
        &server,
        &alice,
        &doc,
        json!({ "body": format!("@{} again", bob.user_id) }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(inbox_with(&server, &bob, "mention", 1, 0).await.is_empty());
}

/// Reads Server-Sent Events from the inbox stream into a channel of JSON `data` payloads.
async fn listen(server: &Server, user: &User) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let resp = http()
        .get(server.url("/api/v1/users/me/notifications/stream"))
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut body = resp.bytes_stream();
    tokio::spawn(async move {
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                for line in event.lines() {
                    if let Some(data) = line.strip_prefix("data: ") {
                        let _ = tx.send(serde_json::from_str(data).unwrap());
                    }
                }
            }
        }
    });
    rx
}

#[tokio::test]
async fn a_stream_on_another_node_hears_a_mention_at_once() {
    let redis = Redis::start();
    let env = rest::billing_env();
    let nodes = cluster(2, &redis, &env);
    let alice = register(&nodes[0], "alice@example.com").await;
    let bob = member(&nodes[0], &alice, "bob@example.com", "editor").await;
    let doc = new_document(&nodes[0], &alice, "Across nodes").await;
    let mut events = listen(&nodes[1], &bob).await;
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap(),
        json!({}),
        "the stream opens with its ready event"
    );
    let sent = Instant::now();
    comment(
        &nodes[0],
        &alice,
        &doc,
        json!({ "body": format!("@{} over here", bob.user_id) }),
    )
    .await;
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("the mention reached the other node's stream")
        .unwrap();
    println!("mention to bell across nodes: {:?}", sent.elapsed());
    assert_eq!(event["type"], "notification");
    assert_eq!(event["notification"]["kind"], "mention");
    assert_eq!(event["notification"]["user_id"], bob.user_id.as_str());
    // Reading it elsewhere tells the stream the count changed.
    let id = event["notification"]["notification_id"]
        .as_str()
        .unwrap()
        .to_string();
    post(
        &nodes[0],
        &format!("/api/v1/users/me/notifications/{id}/read"),
        &bob.access,
        json!({}),
    )
    .await;
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event["type"], "changed");
}
