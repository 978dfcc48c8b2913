//! Two-step sign-in against the real server: enrolment, a sign-in with a TOTP code computed here
//! independently of the server (RFC 6238 over HMAC-SHA1, written out below), a code accepted
//! once, recovery codes spent once, turning it off, and an owner requiring it of every member.

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::rest::{self, call, get, member, post, register, User};

/// RFC 4648 base32, as authenticator apps read the secret.
pub fn base32(secret: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in secret.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .unwrap() as u32;
        value = (value << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

/// RFC 6238 with RFC 4226's dynamic truncation: the six-digit code of time step `step`.
pub fn totp(secret: &str, step: u64) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&base32(secret)).unwrap();
    mac.update(&step.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[19] & 0x0f) as usize;
    let n = u32::from_be_bytes([
        hash[offset],
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]) & 0x7fff_ffff;
    format!("{:06}", n % 1_000_000)
}

pub fn step_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30
}

/// Enrols `user`: the secret the server showed, and the recovery codes it answered with.
pub async fn enrol(server: &Server, user: &User) -> (String, Vec<String>) {
    let (s, e) = post(
        server,
        "/api/v1/users/me/mfa/enrolment",
        &user.access,
        json!({ "password": "correct horse battery" }),
    )
    .await;
    assert_eq!(s, 201, "{e}");
    let secret = e["secret"].as_str().unwrap().to_string();
    assert!(e["otpauth_uri"].as_str().unwrap().contains(&secret));
    assert!(e["qr_svg"].as_str().unwrap().contains("<svg"));
    let (s, v) = post(
        server,
        "/api/v1/users/me/mfa/enrolment/confirm",
        &user.access,
        json!({ "code": totp(&secret, step_now()) }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let codes = v["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

pub async fn password(server: &Server, email: &str) -> (u16, Value) {
    let (s, v, _) = call(
        server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": email, "password": "correct horse battery" })),
    )
    .await;
    (s, v)
}

/// The password, then `proof` for the challenge: (status, body).
async fn two_steps(server: &Server, email: &str, proof: Value) -> (u16, Value) {
    let (s, challenge) = password(server, email).await;
    assert_eq!(s, 202, "{challenge}");
    assert_eq!(challenge["mfa_required"], true);
    let mut body = proof;
    body["challenge"] = challenge["challenge"].clone();
    let (s, v, _) = call(
        server,
        Method::POST,
        "/api/v1/auth/login/mfa",
        None,
        Some(body),
    )
    .await;
    (s, v)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_factor_signs_in_with_a_code_once_and_a_recovery_code_once() {
    let server = rest::start();
    let ann = register(&server, "ann@example.com").await;
    let laptop = rest::login(&server, "ann@example.com", None).await;
    let (secret, codes) = enrol(&server, &ann).await;
    assert_eq!(codes.len(), 10);
    let (_, me) = get(&server, "/api/v1/users/me", &ann.access).await;
    assert_eq!(me["mfa_enabled"], true, "{me}");
    // The session that turned it on stays; the one opened with the password alone ends.
    let (s, v) = get(&server, "/api/v1/users/me", &laptop.access).await;
    assert_eq!((s, code(&v)), (401, "session_revoked"), "{v}");

    // A wrong code is refused and the challenge stays usable for the right one.
    let (s, challenge) = password(&server, "ann@example.com").await;
    assert_eq!(s, 202);
    let wrong = if totp(&secret, step_now() + 1) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let answer = |c: &str| json!({ "challenge": challenge["challenge"], "code": c });
    let (s, v, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login/mfa",
        None,
        Some(answer(wrong)),
    )
    .await;
    assert_eq!((s, code(&v)), (401, "invalid_mfa_code"), "{v}");
    // The enrolment used this step's code; the next step's is valid now too (one step of skew).
    let next = totp(&secret, step_now() + 1);
    let (s, tokens, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login/mfa",
        None,
        Some(answer(&next)),
    )
    .await;
    assert_eq!(s, 200, "{tokens}");
    let (s, _) = get(
        &server,
        "/api/v1/users/me",
        tokens["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    // The challenge was spent, and the code counts once.
    let (s, v, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login/mfa",
        None,
        Some(answer(&next)),
    )
    .await;
    assert_eq!((s, code(&v)), (401, "invalid_mfa_challenge"), "{v}");
    let (s, v) = two_steps(&server, "ann@example.com", json!({ "code": next })).await;
    assert_eq!(
        (s, code(&v)),
        (401, "invalid_mfa_code"),
        "a code seen once is replayed: {v}"
    );

    // A recovery code works once, however it is typed.
    let typed = codes[0].to_uppercase();
    let (s, v) = two_steps(
        &server,
        "ann@example.com",
        json!({ "recovery_code": typed }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = two_steps(
        &server,
        "ann@example.com",
        json!({ "recovery_code": codes[0] }),
    )
    .await;
    assert_eq!((s, code(&v)), (401, "invalid_mfa_code"), "{v}");
    let (_, status) = get(&server, "/api/v1/users/me/mfa", &ann.access).await;
    assert_eq!(status["recovery_codes_left"], 9, "{status}");

    let (_, log) = get(
        &server,
        &format!("/api/v1/accounts/{}/audit", ann.account_id),
        &ann.access,
    )
    .await;
    let actions: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["detail"].as_str().unwrap()))
        .collect();
    for expected in [
        ("mfa_enabled", ""),
        ("mfa_failed", ""),
        ("login", "mfa:totp"),
        ("login", "mfa:recovery_code"),
        ("mfa_recovery_code_used", "9 left"),
    ] {
        assert!(actions.contains(&expected), "{expected:?} in {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_it_off_takes_the_password_and_a_code() {
    let server = rest::start();
    let bo = register(&server, "bo@example.com").await;
    let (secret, codes) = enrol(&server, &bo).await;
    let (s, v) = post(
        &server,
        "/api/v1/users/me/mfa/enrolment",
        &bo.access,
        json!({ "password": "correct horse battery" }),
    )
    .await;
    assert_eq!((s, code(&v)), (409, "mfa_already_enabled"));
    let off = |password: &str, proof: Value| {
        let mut body = proof;
        body["password"] = json!(password);
        call(
            &server,
            Method::DELETE,
            "/api/v1/users/me/mfa",
            Some(&bo.access),
            Some(body),
        )
    };
    let (s, v, _) = off(
        "wrong password",
        json!({ "code": totp(&secret, step_now() + 1) }),
    )
    .await;
    assert_eq!((s, code(&v)), (401, "invalid_credentials"), "{v}");
    let (s, v, _) = off("correct horse battery", json!({ "code": "123456" })).await;
    assert_eq!((s, code(&v)), (401, "invalid_mfa_code"), "{v}");
    let (s, _, _) = off(
        "correct horse battery",
        json!({ "recovery_code": codes[3] }),
    )
    .await;
    assert_eq!(s, 204);
    let (s, v) = password(&server, "bo@example.com").await;
    assert_eq!(s, 200, "a password alone signs in again: {v}");
    let (_, log) = get(
        &server,
        &format!("/api/v1/accounts/{}/audit", bo.account_id),
        &bo.access,
    )
    .await;
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "mfa_disabled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_requires_a_second_factor_and_members_without_one_may_only_enrol() {
    let server = rest::start();
    let owner = register(&server, "owner@example.com").await;
    let admin = member(&server, &owner, "admin@example.com", "admin").await;
    let editor = member(&server, &owner, "editor@example.com", "editor").await;
    let settings = format!("/api/v1/accounts/{}/security-settings", owner.account_id);
    let require = |who: &User, on: bool| {
        let access = who.access.clone();
        let (server, settings) = (&server, &settings);
        async move {
            call(
                server,
                Method::PUT,
                settings,
                Some(&access),
                Some(json!({ "require_mfa": on })),
            )
            .await
        }
    };
    let (s, v, _) = require(&admin, true).await;
    assert_eq!((s, code(&v)), (403, "forbidden"), "only owners: {v}");
    let (s, v, _) = require(&owner, true).await;
    assert_eq!(
        (s, code(&v)),
        (409, "mfa_not_enabled"),
        "the owner's own first: {v}"
    );
    enrol(&server, &owner).await;
    let open = YClient::connect(&server.ws("plan", &editor.access)).await;
    assert!(open.synced().await);
    let (s, v, _) = require(&owner, true).await;
    assert_eq!((s, v["require_mfa"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(
        open.closed_with(5).await,
        Some(4403),
        "the editor's open socket closes: it was opened without a second factor"
    );

    // The editor may still see who they are and enrol; nothing else, REST or socket.
    let (s, v) = get(&server, "/api/v1/documents", &editor.access).await;
    assert_eq!((s, code(&v)), (403, "mfa_enrolment_required"), "{v}");
    assert_eq!(
        upgrade_status(&server.ws("plan", &editor.access)).await,
        403,
        "the socket too"
    );
    let (s, _) = get(&server, "/api/v1/users/me", &editor.access).await;
    assert_eq!(s, 200);
    let (_, status) = get(&server, "/api/v1/users/me/mfa", &editor.access).await;
    assert_eq!(status["required_by"], json!([owner.account_id]), "{status}");
    enrol(&server, &editor).await;
    let (s, v) = get(&server, "/api/v1/documents", &editor.access).await;
    assert_eq!(s, 200, "enrolled: served again: {v}");
    let c = YClient::connect(&server.ws("plan", &editor.access)).await;
    assert!(c.synced().await);

    let (_, log) = get(
        &server,
        &format!("/api/v1/accounts/{}/audit", owner.account_id),
        &owner.access,
    )
    .await;
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "require_mfa_changed" && e["detail"] == "on"));
}

/// A lost phone and every recovery code: a password reset leaves the second factor on, and an
/// operator turns it off with `creo reset-mfa` on the store while the server runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_turns_off_a_lost_second_factor() {
    let server = rest::start();
    let cy = register(&server, "cy@example.com").await;
    enrol(&server, &cy).await;
    assert_eq!(password(&server, "cy@example.com").await.0, 202);
    let reset = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_creo"))
            .args(["reset-mfa", "--email", "CY@example.com"])
            .env("CREO_DATA", &server.data)
            .output()
            .unwrap()
    };
    let out = reset();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, tokens) = password(&server, "cy@example.com").await;
    assert_eq!(s, 200, "the password alone signs in again: {tokens}");
    let (_, log) = get(
        &server,
        &format!("/api/v1/accounts/{}/audit", cy.account_id),
        tokens["access_token"].as_str().unwrap(),
    )
    .await;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "mfa_reset_by_operator" && e["actor"] == "operator"),
        "{log}"
    );
    let again = reset();
    assert!(!again.status.success(), "nothing left to turn off");
    assert!(String::from_utf8_lossy(&again.stderr).contains("has no second factor"));
}
