//! Email verification and change through a real SMTP server (`smtp.rs`): the sign-up link
//! verifies once; until then a person spends only the allowance (exactly, under concurrent
//! charges), invites nobody and makes no API keys; resending is throttled; a change of address
//! is confirmed from the new one; invitations wait in the invitee's own list, accepted from it
//! once the address is verified.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::Server;
use crate::rest::{self, call, charge, get, post, register, User};
use crate::smtp::{verified, Smtp};

fn start(smtp: &Smtp, extra: &[(&str, &str)]) -> Server {
    let url = smtp.url();
    let mut env = rest::billing_env();
    env.push(("CREO_SMTP_URL", url.as_str()));
    env.push(("CREO_MAIL_FROM", "creo <noreply@creo.test>"));
    env.push(("CREO_PUBLIC_URL", "https://creo.test"));
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn follow(server: &Server, path: &str, token: &str) -> (u16, Value) {
    let (s, v, _) = call(
        server,
        Method::POST,
        path,
        None,
        Some(json!({ "token": token })),
    )
    .await;
    (s, v)
}

async fn me(server: &Server, user: &User) -> Value {
    let (s, v) = get(server, "/api/v1/users/me", &user.access).await;
    assert_eq!(s, 200, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_up_link_verifies_the_address_once() {
    let smtp = Smtp::start();
    let server = start(&smtp, &[]);
    let ann = register(&server, "ann@example.com").await;
    let v = me(&server, &ann).await;
    assert_eq!(
        (
            v["email_verified"].as_bool(),
            v["verification_required"].as_bool()
        ),
        (Some(false), Some(true))
    );
    let token = smtp
        .link_token("ann@example.com", "Confirm your email", "verify", 1)
        .await;
    assert!(token.starts_with("ev_"), "{token}");
    let mails = smtp
        .wait_for("ann@example.com", "Confirm your email", 1, 0)
        .await;
    assert!(
        mails[0].html.contains("https://creo.test/#/verify/"),
        "{}",
        mails[0].html
    );
    let (s, _) = follow(&server, "/api/v1/auth/email/verify", &token).await;
    assert_eq!(s, 204);
    let (s, v) = follow(&server, "/api/v1/auth/email/verify", &token).await;
    assert_eq!(
        (s, code(&v)),
        (400, "invalid_link_token"),
        "single use: {v}"
    );
    let (s, v) = follow(&server, "/api/v1/auth/email/verify", "ev_forged").await;
    assert_eq!((s, code(&v)), (400, "invalid_link_token"), "{v}");
    assert_eq!(me(&server, &ann).await["email_verified"], true);
    let (_, log) = get(
        &server,
        &format!("/api/v1/accounts/{}/audit", ann.account_id),
        &ann.access,
    )
    .await;
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "email_verified"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_person_spends_only_the_allowance_and_invites_nobody() {
    let smtp = Smtp::start();
    // 2 credits: eight sample generations at 0.25 each.
    let server = start(&smtp, &[("CREO_UNVERIFIED_ALLOWANCE_MILLI", "2000")]);
    let ann = register(&server, "ann@example.com").await;
    let before = rest::balance(&server, &ann).await;
    // Twenty at once: exactly eight land, whatever the order.
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let charges = keys
        .iter()
        .map(|k| charge(&server, &ann, "sample_generation", k));
    let results = futures_util::future::join_all(charges).await;
    let landed = results.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 403)
        .map(|(_, v)| v)
        .collect();
    assert_eq!((landed, refused.len()), (8, 12), "{results:?}");
    assert!(
        refused.iter().all(|v| code(v) == "email_unverified"),
        "{refused:?}"
    );
    assert_eq!(rest::balance(&server, &ann).await, before - 2000);

    let (s, v) = post(
        &server,
        &format!("/api/v1/accounts/{}/invitations", ann.account_id),
        &ann.access,
        json!({ "email": "bob@example.com", "role": "editor" }),
    )
    .await;
    assert_eq!((s, code(&v)), (403, "email_unverified"), "{v}");
    let (s, v) = post(
        &server,
        &format!("/api/v1/accounts/{}/api-keys", ann.account_id),
        &ann.access,
        json!({ "name": "ci", "scopes": ["billing:charge"] }),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (403, "email_unverified"),
        "no key spends around it: {v}"
    );

    let token = smtp
        .link_token("ann@example.com", "Confirm your email", "verify", 1)
        .await;
    assert_eq!(
        follow(&server, "/api/v1/auth/email/verify", &token).await.0,
        204
    );
    let (s, v) = charge(&server, &ann, "sample_generation", "after").await;
    assert_eq!(s, 201, "verified: no allowance any more: {v}");
    let (s, v) = post(
        &server,
        &format!("/api/v1/accounts/{}/invitations", ann.account_id),
        &ann.access,
        json!({ "email": "bob@example.com", "role": "editor" }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_the_link_again_is_throttled() {
    let smtp = Smtp::start();
    let server = start(&smtp, &[]);
    let ann = register(&server, "ann@example.com").await;
    for _ in 0..3 {
        let (s, v) = post(
            &server,
            "/api/v1/users/me/email/verification",
            &ann.access,
            json!({}),
        )
        .await;
        assert_eq!(s, 202, "{v}");
    }
    let (s, v, headers) = call(
        &server,
        Method::POST,
        "/api/v1/users/me/email/verification",
        Some(&ann.access),
        Some(json!({})),
    )
    .await;
    assert_eq!((s, code(&v)), (429, "too_many_attempts"), "{v}");
    assert!(headers.contains_key("retry-after"));
    // The sign-up mail and three more; the fourth ask sent nothing.
    assert_eq!(
        smtp.wait_for("ann@example.com", "Confirm your email", 4, 10)
            .await
            .len(),
        4
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        smtp.wait_for("ann@example.com", "Confirm your email", 5, 0)
            .await
            .len(),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_address_is_confirmed_from_the_new_one() {
    let smtp = Smtp::start();
    let server = start(&smtp, &[]);
    let ann = verified(&server, &smtp, "ann@example.com").await;
    register(&server, "taken@example.com").await;
    let change = |email: &str, password: &str| {
        call(
            &server,
            Method::PUT,
            "/api/v1/users/me/email",
            Some(&ann.access),
            Some(json!({ "email": email, "password": password })),
        )
    };
    let (s, v, _) = change("new@example.com", "wrong password").await;
    assert_eq!((s, code(&v)), (401, "invalid_credentials"), "{v}");
    let (s, taken, _) = change("taken@example.com", "correct horse battery").await;
    assert_eq!(s, 202, "{taken}");
    let (s, free, _) = change("new@example.com", "correct horse battery").await;
    assert_eq!(s, 202, "{free}");
    let token = smtp
        .link_token(
            "new@example.com",
            "Confirm your new email",
            "email-change",
            1,
        )
        .await;
    assert!(
        smtp.wait_for("taken@example.com", "Confirm your new email", 1, 1)
            .await
            .is_empty(),
        "nothing goes to an address someone has"
    );
    // Nothing changed yet: the old address still signs in.
    rest::login(&server, "ann@example.com", None).await;
    let (s, _) = follow(&server, "/api/v1/auth/email/change", &token).await;
    assert_eq!(s, 204);
    // The old address is told, so someone who moved the account away cannot do it unseen.
    let told = smtp
        .wait_for("ann@example.com", "moved to another email address", 1, 10)
        .await;
    assert_eq!(told.len(), 1, "a notice to the old address");
    let v = me(&server, &ann).await;
    assert_eq!(
        (v["email"].as_str(), v["email_verified"].as_bool()),
        (Some("new@example.com"), Some(true))
    );
    rest::login(&server, "new@example.com", None).await;
    let (s, _, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": "ann@example.com", "password": "correct horse battery" })),
    )
    .await;
    assert_eq!(s, 401, "the old address is gone");
    let (s, v) = follow(&server, "/api/v1/auth/email/change", &token).await;
    assert_eq!((s, code(&v)), (400, "invalid_link_token"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_wait_in_the_invitees_list_and_a_verified_address_accepts_them() {
    let smtp = Smtp::start();
    let server = start(&smtp, &[]);
    let owner = verified(&server, &smtp, "owner@example.com").await;
    let bob = verified(&server, &smtp, "bob@example.com").await;
    let carol = register(&server, "carol@example.com").await;
    for who in ["bob@example.com", "carol@example.com"] {
        let (s, v) = post(
            &server,
            &format!("/api/v1/accounts/{}/invitations", owner.account_id),
            &owner.access,
            json!({ "email": who, "role": "editor" }),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    // Bob hears in his inbox, and it leads to his own list.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let notice = loop {
        let (_, inbox) = get(&server, "/api/v1/users/me/notifications", &bob.access).await;
        if let Some(n) = inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["kind"] == "invited")
        {
            break n.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no invitation notice: {inbox}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(notice["link"], "/#/invitations", "{notice}");
    let (s, list) = get(&server, "/api/v1/users/me/invitations", &bob.access).await;
    assert_eq!(s, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "only his own: {list:?}");
    assert_eq!(list[0]["account_id"], owner.account_id.as_str());
    let id = list[0]["invitation_id"].as_str().unwrap();
    let (s, m) = post(
        &server,
        &format!("/api/v1/users/me/invitations/{id}/accept"),
        &bob.access,
        json!({}),
    )
    .await;
    assert_eq!((s, m["role"].as_str()), (200, Some("editor")), "{m}");
    let (_, left) = get(&server, "/api/v1/users/me/invitations", &bob.access).await;
    assert!(
        left.as_array().unwrap().is_empty(),
        "accepted: gone from the list"
    );

    // Carol's address is unverified, so it may not be hers: she is not told of the invitation,
    // her list is empty, and accepting it by id is refused.
    let (_, list) = get(&server, "/api/v1/users/me/invitations", &carol.access).await;
    assert_eq!(list, json!([]), "nothing shown to an unproved address");
    let (_, inbox) = get(&server, "/api/v1/users/me/notifications", &carol.access).await;
    assert!(
        !inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "invited"),
        "no notice to an unproved address: {inbox}"
    );
    let (_, pending) = get(
        &server,
        &format!("/api/v1/accounts/{}/invitations", owner.account_id),
        &owner.access,
    )
    .await;
    let id = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "carol@example.com")
        .unwrap_or_else(|| panic!("carol's invitation is pending: {pending}"))["invitation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = id.as_str();
    let (s, v) = post(
        &server,
        &format!("/api/v1/users/me/invitations/{id}/accept"),
        &carol.access,
        json!({}),
    )
    .await;
    assert_eq!((s, code(&v)), (403, "email_unverified"), "{v}");
    let (s, v) = post(
        &server,
        &format!("/api/v1/users/me/invitations/{id}/accept"),
        &bob.access,
        json!({}),
    )
    .await;
    assert_eq!(s, 404, "not Bob's to take: {v}");
}

/// Turning two-step sign-in on or off is mailed to the person, so a change they did not make
/// (someone with their password and a session) does not go unseen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_to_two_step_sign_in_are_mailed_to_the_person() {
    let smtp = Smtp::start();
    let server = start(&smtp, &[]);
    let ann = verified(&server, &smtp, "ann@example.com").await;
    let (secret, _) = crate::mfa::enrol(&server, &ann).await;
    let on = smtp
        .wait_for("ann@example.com", "Two-step sign-in is on", 1, 10)
        .await;
    assert_eq!(on.len(), 1, "told it is on");
    let (s, v, _) = call(
        &server,
        Method::DELETE,
        "/api/v1/users/me/mfa",
        Some(&ann.access),
        Some(json!({
            "password": "correct horse battery",
            "code": crate::mfa::totp(&secret, crate::mfa::step_now() + 1),
        })),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let off = smtp
        .wait_for("ann@example.com", "Two-step sign-in is off", 1, 10)
        .await;
    assert_eq!(off.len(), 1, "told it is off");
}
