//! Second-factor abuse: someone who has the password guessing six-digit codes, and codes and
//! challenges far larger than any real one. The guesses stop being free after a few (for that
//! person, wherever they come from, counted in /metrics), the right code then waits too, and
//! normal editors are served throughout.

use reqwest::Method;
use serde_json::{json, Value};

use super::*;
use crate::mfa::{enrol, password, step_now, totp};
use crate::rest::{call, register};

async fn answer(server: &Server, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    call(
        server,
        Method::POST,
        "/api/v1/auth/login/mfa",
        None,
        Some(body),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_with_a_leaked_password_is_slowed_for_that_person() {
    let mut server = server(&[("CREO_MFA_FREE_FAILURES", "5")]);
    let before = baseline(&server);
    let ann = register(&server, "ann@example.com").await;
    let (secret, _) = enrol(&server, &ann).await;
    let (s, challenge) = password(&server, "ann@example.com").await;
    assert_eq!(s, 202);
    let right = totp(&secret, step_now() + 1);
    let guesses = (0..1_000_000u32).map(|n| format!("{n:06}")).filter(|g| {
        *g != right && *g != totp(&secret, step_now()) && *g != totp(&secret, step_now() - 1)
    });
    let mut refused = Vec::new();
    for guess in guesses.take(8) {
        let (s, v, headers) = answer(
            &server,
            json!({ "challenge": challenge["challenge"], "code": guess }),
        )
        .await;
        refused.push((s, v["error"]["code"].as_str().unwrap_or("").to_string()));
        if s == 429 {
            assert!(headers.contains_key("retry-after"));
        }
    }
    let wrong = refused
        .iter()
        .filter(|(s, c)| *s == 401 && c == "invalid_mfa_code")
        .count();
    let throttled = refused
        .iter()
        .filter(|(s, c)| *s == 429 && c == "too_many_attempts")
        .count();
    // Five free failures; the sixth wrong code starts the wait (the same rule as passwords').
    assert_eq!((wrong, throttled), (6, 2), "{refused:?}");
    // While it waits, the right code waits too: nothing is learnt by trying faster.
    let (s, v, _) = answer(
        &server,
        json!({ "challenge": challenge["challenge"], "code": right }),
    )
    .await;
    assert_eq!(s, 429, "{v}");
    assert!(
        server
            .metric("creo_mfa_checks_total{result=\"throttled\"}")
            .await
            >= 3.0
    );
    assert!(
        server
            .metric("creo_mfa_checks_total{result=\"wrong\"}")
            .await
            >= 6.0
    );
    still_serving(
        &mut server,
        "second-factor guessing",
        (&acme_editor(), "mfa-guess"),
        before,
        64,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_codes_and_challenges_are_refused_without_work() {
    let mut server = server(&[]);
    let before = baseline(&server);
    let bo = register(&server, "bo@example.com").await;
    enrol(&server, &bo).await;
    let (_, challenge) = password(&server, "bo@example.com").await;
    let huge = "9".repeat(16 * 1024);
    for body in [
        json!({ "challenge": huge, "code": "123456" }),
        json!({ "challenge": challenge["challenge"], "code": huge }),
        json!({ "challenge": challenge["challenge"], "recovery_code": huge }),
        json!({ "challenge": challenge["challenge"] }),
    ] {
        let (s, v, _) = answer(&server, body).await;
        assert_eq!(s, 401, "{v}");
    }
    // A body past the JSON limit never reaches the handler.
    let (s, _, _) = answer(
        &server,
        json!({ "challenge": "x".repeat(4 << 20), "code": "1" }),
    )
    .await;
    assert!(s == 413 || s == 400, "{s}");
    still_serving(
        &mut server,
        "oversized second-factor input",
        (&acme_editor(), "mfa-big"),
        before,
        64,
    )
    .await;
}
