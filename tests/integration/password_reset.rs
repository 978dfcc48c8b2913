//! Password reset by email, through a real SMTP server: the link works once and not after it
//! expires, the new password signs in and the old one does not, every session of the person
//! ends, and asking for an unknown email looks the same as for a known one.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::Server;
use crate::rest::{self, call, get, login, register};
use crate::smtp::Smtp;

fn start(smtp: &Smtp, ttl_secs: &'static str) -> Server {
    let url = smtp.url();
    let mut env = rest::billing_env();
    env.push(("CREO_SMTP_URL", &url));
    env.push(("CREO_MAIL_FROM", "creo <noreply@creo.test>"));
    env.push(("CREO_PASSWORD_RESET_TTL_SECS", ttl_secs));
    env.push(("CREO_PUBLIC_URL", "https://creo.test"));
    Server::start_with(&env)
}

async fn forgot(server: &Server, email: &str) -> (u16, Value) {
    let (s, v, _) = call(
        server,
        Method::POST,
        "/api/v1/auth/password/forgot",
        None,
        Some(json!({ "email": email })),
    )
    .await;
    (s, v)
}

async fn reset(server: &Server, token: &str, password: &str) -> (u16, Value) {
    let (s, v, _) = call(
        server,
        Method::POST,
        "/api/v1/auth/password/reset",
        None,
        Some(json!({ "token": token, "password": password })),
    )
    .await;
    (s, v)
}

/// The token in the `n`th reset email to `to`.
async fn emailed_token(smtp: &Smtp, to: &str, n: usize) -> String {
    let mails = smtp.wait_for(to, "Reset your creo password", n, 10).await;
    assert_eq!(mails.len(), n, "reset emails to {to}");
    assert!(mails[n - 1].text.contains("https://creo.test/#/reset/"));
    smtp.link_token(to, "Reset your creo password", "reset", n)
        .await
}

async fn password_login(server: &Server, email: &str, password: &str) -> u16 {
    call(
        server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": email, "password": password })),
    )
    .await
    .0
}

#[tokio::test]
async fn a_reset_link_works_once_and_ends_every_session() {
    let smtp = Smtp::start();
    let server = start(&smtp, "3600");
    let bob = register(&server, "bob@example.com").await;
    let laptop = login(&server, "bob@example.com", None).await;

    let (s, known) = forgot(&server, "Bob@Example.com").await;
    assert_eq!(s, 202);
    let (s, unknown) = forgot(&server, "nobody@example.com").await;
    assert_eq!(
        (s, &unknown),
        (202, &known),
        "the same answer for an unknown email"
    );
    let token = emailed_token(&smtp, "bob@example.com", 1).await;
    assert!(token.starts_with("pr_"), "{token}");
    assert!(smtp
        .wait_for("nobody@example.com", "", 1, 1)
        .await
        .is_empty());

    let (s, v) = reset(&server, &token, "short").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("weak_password"))
    );
    let (s, _) = reset(&server, &token, "a brand new passphrase").await;
    assert_eq!(s, 204);
    let (s, v) = reset(&server, &token, "another new passphrase").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_reset_token")),
        "single use"
    );

    for old in [&bob, &laptop] {
        let (s, v) = get(&server, "/api/v1/users/me", &old.access).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (401, Some("session_revoked")),
            "{v}"
        );
        let (s, _, _) = call(
            &server,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": old.refresh })),
        )
        .await;
        assert_eq!(s, 401, "its refresh token is dead too");
    }
    assert_eq!(
        password_login(&server, "bob@example.com", "correct horse battery").await,
        401
    );
    assert_eq!(
        password_login(&server, "bob@example.com", "a brand new passphrase").await,
        200
    );
}

#[tokio::test]
async fn a_reset_link_expires() {
    let smtp = Smtp::start();
    let server = start(&smtp, "1");
    register(&server, "carol@example.com").await;
    assert_eq!(forgot(&server, "carol@example.com").await.0, 202);
    let token = emailed_token(&smtp, "carol@example.com", 1).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (s, v) = reset(&server, &token, "a brand new passphrase").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_reset_token"))
    );
    assert_eq!(
        password_login(&server, "carol@example.com", "correct horse battery").await,
        200,
        "the old password still works"
    );
}

#[tokio::test]
async fn without_smtp_a_reset_is_refused_plainly() {
    let server = rest::start();
    let (s, v) = forgot(&server, "dave@example.com").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (503, Some("email_off")),
        "{v}"
    );
}
