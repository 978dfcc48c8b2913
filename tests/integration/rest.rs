//! A small JSON REST client for the account and billing tests: registered users with their
//! token pairs, and calls that return the status with the parsed body.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{http, Server};

pub const WEBHOOK_SECRET: &str = "whsec_integration_test";

/// Settings for servers in these tests: cheap password hashing, the webhook on, no tier
/// request limit unless a test is about it, and the loopback allow-listed for outgoing requests
/// (the test receivers listen there; the outbound policy refuses it by default).
pub fn billing_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CREO_OUTBOUND_ALLOW", "127.0.0.0/8"),
        // Every test user signs up from the loopback.
        ("CREO_SIGNUPS_PER_HOUR", "0"),
        ("CREO_ARGON2_MEMORY_KIB", "256"),
        ("CREO_ARGON2_ITERATIONS", "1"),
        ("CREO_BILLING_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("CREO_TIERS__FREE__REQUESTS_PER_SECOND", "0"),
        ("CREO_TIERS__PRO__REQUESTS_PER_SECOND", "0"),
    ]
}

pub fn start() -> Server {
    Server::start_with(&billing_env())
}

/// A logged-in user.
#[derive(Clone, Debug)]
pub struct User {
    pub email: String,
    pub user_id: String,
    pub account_id: String,
    pub access: String,
    pub refresh: String,
    pub session_id: String,
}

impl User {
    fn from_tokens(email: &str, v: &Value) -> User {
        User {
            email: email.to_string(),
            user_id: v["user_id"].as_str().unwrap().to_string(),
            account_id: v["account_id"].as_str().unwrap().to_string(),
            access: v["access_token"].as_str().unwrap().to_string(),
            refresh: v["refresh_token"].as_str().unwrap().to_string(),
            session_id: v["session_id"].as_str().unwrap().to_string(),
        }
    }
}

pub async fn call(
    server: &Server,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = http().request(method, server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value, headers)
}

pub async fn get(server: &Server, path: &str, token: &str) -> (u16, Value) {
    let (s, v, _) = call(server, Method::GET, path, Some(token), None).await;
    (s, v)
}

pub async fn post(server: &Server, path: &str, token: &str, body: Value) -> (u16, Value) {
    let (s, v, _) = call(server, Method::POST, path, Some(token), Some(body)).await;
    (s, v)
}

/// Signs up (the answer is the same for a new and a taken email) and signs in.
pub async fn register(server: &Server, email: &str) -> User {
    let (status, v, _) = call(
        server,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(json!({ "email": email, "password": "correct horse battery", "name": email })),
    )
    .await;
    assert_eq!(status, 202, "register {email}: {v}");
    login(server, email, None).await
}

pub async fn login(server: &Server, email: &str, account: Option<&str>) -> User {
    let (status, v, _) = call(
        server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": email, "password": "correct horse battery", "account_id": account })),
    )
    .await;
    assert_eq!(status, 200, "login {email}: {v}");
    User::from_tokens(email, &v)
}

/// `owner` invites `who` into their account with `role`; `who` accepts and logs in to it.
pub async fn join(server: &Server, owner: &User, who: &User, role: &str) -> User {
    let (s, inv) = post(
        server,
        &format!("/api/v1/accounts/{}/invitations", owner.account_id),
        &owner.access,
        json!({ "email": who.email, "role": role }),
    )
    .await;
    assert_eq!(s, 201, "invite: {inv}");
    let (s, m) = post(
        server,
        "/api/v1/invitations/accept",
        &who.access,
        json!({ "token": inv["token"] }),
    )
    .await;
    assert_eq!(s, 200, "accept: {m}");
    login(server, &who.email, Some(&owner.account_id)).await
}

/// A new user, registered and joined to `owner`'s account with `role`.
pub async fn member(server: &Server, owner: &User, email: &str, role: &str) -> User {
    let user = register(server, email).await;
    join(server, owner, &user, role).await
}

/// A charge with an idempotency key: (status, body).
pub async fn charge(server: &Server, user: &User, action: &str, key: &str) -> (u16, Value) {
    let resp = http()
        .post(server.url(&format!("/api/v1/accounts/{}/charges", user.account_id)))
        .bearer_auth(&user.access)
        .header("Idempotency-Key", key)
        .json(&json!({ "action": action }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn balance(server: &Server, user: &User) -> i64 {
    let (s, v) = get(
        server,
        &format!("/api/v1/accounts/{}/billing", user.account_id),
        &user.access,
    )
    .await;
    assert_eq!(s, 200, "billing: {v}");
    v["balance_milli"].as_i64().unwrap()
}

/// Sends a signed payment-provider event; `age_secs` back-dates the signature.
/// The delivery log of one of `owner`'s webhook endpoints.
pub async fn deliveries(server: &Server, owner: &User, endpoint: &str) -> Vec<Value> {
    let (s, log) = get(
        server,
        &format!(
            "/api/v1/accounts/{}/webhooks/{endpoint}/deliveries",
            owner.account_id
        ),
        &owner.access,
    )
    .await;
    assert_eq!(s, 200, "{log}");
    log.as_array().cloned().unwrap_or_default()
}

pub async fn webhook(server: &Server, event: Value, secret: &str, age_secs: i64) -> (u16, Value) {
    let body = serde_json::to_vec(&event).unwrap();
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - age_secs;
    let resp = http()
        .post(server.url("/api/v1/billing/webhook"))
        .header(
            "Creo-Signature",
            creo::billing::webhook::sign(secret.as_bytes(), t, &body),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}
