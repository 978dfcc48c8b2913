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

/// Thirty wrong codes sent at once, on one node and on a node whose counts live in Redis (the
/// Lua script): each guess is counted before it is checked, so no more get through than one
/// after another would: the five free ones and the one that starts the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_are_counted_before_they_are_checked() {
    let redis = crate::cluster::Redis::start();
    let url: &'static str = Box::leak(redis.url().into_boxed_str());
    for extra in [vec![], vec![("CREO_REDIS_URL", url)]] {
        let mut env = vec![
            ("CREO_MFA_FREE_FAILURES", "5"),
            ("CREO_AUTH_REQUESTS_PER_MINUTE", "100000"),
        ];
        env.extend(extra.iter().copied());
        let mut server = server(&env);
        let before = baseline(&server);
        let ann = register(&server, "ann@example.com").await;
        let (secret, _) = enrol(&server, &ann).await;
        let (s, challenge) = password(&server, "ann@example.com").await;
        assert_eq!(s, 202);
        let valid: Vec<String> = (0..3).map(|d| totp(&secret, step_now() + d - 1)).collect();
        let guesses: Vec<String> = (0..1_000_000u32)
            .map(|n| format!("{n:06}"))
            .filter(|g| !valid.contains(g))
            .take(30)
            .collect();
        let answers = futures_util::future::join_all(guesses.iter().map(|g| {
            answer(
                &server,
                json!({ "challenge": challenge["challenge"], "code": g }),
            )
        }))
        .await;
        let wrong = answers
            .iter()
            .filter(|(s, v, _)| *s == 401 && v["error"]["code"] == "invalid_mfa_code")
            .count();
        let throttled = answers.iter().filter(|(s, _, _)| *s == 429).count();
        assert_eq!(
            (wrong, throttled),
            (6, 24),
            "with {extra:?}: {:?}",
            answers.iter().map(|a| a.0).collect::<Vec<_>>()
        );
        still_serving(
            &mut server,
            "parallel second-factor guessing",
            (&acme_editor(), "mfa-parallel"),
            before,
            64,
        )
        .await;
    }
}

/// Someone holding only a session (a laptop left open) cannot put their own authenticator on
/// the account: enrolment asks for the password, and guessing it is slowed like a sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_without_the_password_cannot_enrol() {
    let mut server = server(&[("CREO_LOGIN_FREE_FAILURES", "3")]);
    let before = baseline(&server);
    let ann = register(&server, "ann@example.com").await;
    let mut seen = Vec::new();
    for guess in ["hunter2", "password1", "letmein", "qwerty", "123456"] {
        let (s, v) = crate::rest::post(
            &server,
            "/api/v1/users/me/mfa/enrolment",
            &ann.access,
            json!({ "password": guess }),
        )
        .await;
        seen.push((s, v["error"]["code"].as_str().unwrap_or("").to_string()));
    }
    assert_eq!(
        seen.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![401, 401, 401, 401, 429],
        "{seen:?}"
    );
    let (_, status) = crate::rest::get(&server, "/api/v1/users/me/mfa", &ann.access).await;
    assert_eq!(
        (status["enabled"].clone(), status["pending"].clone()),
        (json!(false), json!(false)),
        "nothing was started: {status}"
    );
    still_serving(
        &mut server,
        "enrolment without the password",
        (&acme_editor(), "mfa-reauth"),
        before,
        64,
    )
    .await;
}
