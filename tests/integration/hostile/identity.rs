//! Identity abuse: an app's token posing as another account's member to spend her limits,
//! password guessing that locked the owner out, sign-up that told which emails exist.

use serde_json::{json, Value};

use super::*;
use crate::rest::{post, register};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_token_with_a_members_user_id_spends_none_of_her_limits() {
    let mut server = server(&[("CREO_MAX_CONNECTIONS_PER_USER", "3")]);
    let before = baseline(&server);
    let victim = register(&server, "victim@example.com").await;
    let attacker = register(&server, "attacker@example.com").await;
    // The attacker's own API key mints tokens for "app users" of the attacker's account.
    let (s, key) = post(
        &server,
        &format!("/api/v1/accounts/{}/api-keys", attacker.account_id),
        &attacker.access,
        json!({ "name": "app", "scopes": ["tokens:mint"] }),
    )
    .await;
    assert_eq!(s, 201, "{key}");
    let key = key["secret"].as_str().unwrap().to_string();
    let (s, minted) = post(
        &server,
        "/api/v1/tokens",
        &key,
        json!({ "user_id": victim.user_id, "role": "editor" }),
    )
    .await;
    assert_eq!(s, 201, "{minted}");
    let posing = minted["token"].as_str().unwrap();
    let mut held = Vec::new();
    for i in 0..3 {
        let c = YClient::connect(&server.ws(&format!("attack-{i}"), posing)).await;
        assert!(c.synced().await);
        held.push(c);
    }
    // The victim's own connections are untouched by them.
    let mine = YClient::connect(&format!(
        "{}&ack=1",
        server.ws("victims-post", &victim.access)
    ))
    .await;
    assert!(
        mine.synced().await,
        "the victim connects to her own document"
    );
    mine.append("mine;");
    assert!(mine.wait(5, |c| c.seen.lock().unwrap().acked == 1).await);
    still_serving(
        &mut server,
        "app token posing as a member",
        (&victim.access, "victims-post"),
        before,
        64,
    )
    .await;
}

/// A request from `client` (through the trusted proxy on the loopback).
async fn from(
    server: &Server,
    client: &str,
    path: &str,
    body: Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let resp = http()
        .post(server.url(path))
        .header("X-Forwarded-For", client)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_her_password_never_locks_the_owner_out() {
    let mut server = server(&[("CREO_TRUSTED_PROXIES", "127.0.0.1")]);
    let before = baseline(&server);
    register(&server, "owner@example.com").await;
    let attacker = "198.51.100.66";
    let mut throttled = 0;
    for _ in 0..100 {
        let (s, _, headers) = from(
            &server,
            attacker,
            "/api/v1/auth/login",
            json!({ "email": "owner@example.com", "password": "wrong guess 123" }),
        )
        .await;
        match s {
            401 => {}
            429 => {
                assert!(headers.contains_key("retry-after"));
                throttled += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        throttled >= 90,
        "the guesser was slowed: {throttled} of 100 refused"
    );
    // The owner, from her own address, signs in at once.
    let (s, tokens, _) = from(
        &server,
        "203.0.113.10",
        "/api/v1/auth/login",
        json!({ "email": "owner@example.com", "password": "correct horse battery" }),
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    still_serving(
        &mut server,
        "password guessing",
        (&acme_editor(), "login-doc"),
        before,
        64,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_does_not_tell_which_emails_exist_and_is_limited_per_address() {
    let mut server = server(&[
        ("CREO_TRUSTED_PROXIES", "127.0.0.1"),
        ("CREO_SIGNUPS_PER_HOUR", "5"),
    ]);
    let before = baseline(&server);
    let signup =
        |email: &str| json!({ "email": email, "password": "correct horse battery", "name": "x" });
    let new = from(
        &server,
        "192.0.2.1",
        "/api/v1/auth/register",
        signup("a@example.com"),
    )
    .await;
    let taken = from(
        &server,
        "192.0.2.2",
        "/api/v1/auth/register",
        signup("a@example.com"),
    )
    .await;
    assert_eq!((new.0, &new.1), (taken.0, &taken.1), "the same answer");
    assert_eq!(new.0, 202);
    // Five sign-ups an hour from one address; the sixth waits. Another address is unaffected.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (s, _, _) = from(
            &server,
            "192.0.2.9",
            "/api/v1/auth/register",
            signup(&format!("bulk{i}@example.com")),
        )
        .await;
        statuses.push(s);
    }
    assert_eq!(statuses, [202, 202, 202, 202, 202, 429]);
    let (s, _, _) = from(
        &server,
        "192.0.2.10",
        "/api/v1/auth/register",
        signup("b@example.com"),
    )
    .await;
    assert_eq!(s, 202);
    // Addresses a mail provider would never issue are refused.
    for bad in [
        "a@b@example.com",
        "a b@example.com",
        "x@.com",
        "x@example",
        ".x@example.com",
    ] {
        let (s, body, _) = from(&server, "192.0.2.11", "/api/v1/auth/register", signup(bad)).await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
    still_serving(
        &mut server,
        "sign-up enumeration and bulk",
        (&acme_editor(), "signup-doc"),
        before,
        64,
    )
    .await;
}
