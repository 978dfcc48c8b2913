//! Credits that are never lost or double-counted: idempotent charges under concurrency, a balance
//! that cannot be overspent on one node or two, reservations, the payment webhook, tiers' rate
//! limits and quotas, and the ledger's listings.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::common::{http, Server};
use crate::rest::{self, balance, call, charge, get, post, register, webhook, WEBHOOK_SECRET};

#[tokio::test]
async fn fifty_concurrent_charges_with_one_key_charge_once() {
    let server = rest::start();
    let alice = register(&server, "alice@example.com").await;
    assert_eq!(balance(&server, &alice).await, 10_000, "sign-up grant");
    let attempts = (0..50).map(|_| charge(&server, &alice, "standard_generation", "gen-42"));
    let results = join_all(attempts).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let replayed = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((created, replayed), (1, 49), "{results:?}");
    let seqs: std::collections::HashSet<i64> = results
        .iter()
        .map(|(_, v)| v["entry"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 1, "every answer names the same ledger entry");
    assert_eq!(
        balance(&server, &alice).await,
        9_000,
        "charged exactly once"
    );
    // The same key for a different action is a conflict, not a second charge.
    let (s, v) = charge(&server, &alice, "hires_export", "gen-42").await;
    assert_eq!(s, 409, "{v}");
}

async fn overspend(servers: &[&Server], user: &rest::User) -> (usize, usize) {
    let attempts = (0..100).map(|i| {
        let server = servers[i % servers.len()];
        async move {
            charge(
                server,
                user,
                "standard_generation",
                &format!("distinct-{i}"),
            )
            .await
        }
    });
    let results = join_all(attempts).await;
    let ok = results.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s == 402).collect();
    for (_, body) in &refused {
        assert_eq!(body["error"]["code"], "insufficient_credits");
        assert_eq!(body["error"]["price_milli"], 1000);
        assert!(body["error"]["balance_milli"].as_i64().unwrap() < 1000);
    }
    (ok, refused.len())
}

#[tokio::test]
async fn a_balance_of_ten_credits_pays_for_exactly_ten_of_a_hundred_concurrent_charges() {
    let server = rest::start();
    let alice = register(&server, "alice@example.com").await;
    assert_eq!(overspend(&[&server], &alice).await, (10, 90));
    assert_eq!(balance(&server, &alice).await, 0);
}

#[tokio::test]
async fn two_processes_sharing_the_store_cannot_overspend_either() {
    let a = rest::start();
    let b = Server::start_sharing(&a, &rest::billing_env());
    let alice = register(&a, "alice@example.com").await;
    assert_eq!(overspend(&[&a, &b], &alice).await, (10, 90));
    assert_eq!(balance(&a, &alice).await, 0);
    assert_eq!(balance(&b, &alice).await, 0);
    let (_, ledger) = get(
        &b,
        &format!("/api/v1/accounts/{}/ledger?limit=500", alice.account_id),
        &alice.access,
    )
    .await;
    assert_eq!(
        ledger["entries"].as_array().unwrap().len(),
        11,
        "the grant and ten charges"
    );
}

#[tokio::test]
async fn reservations_capture_what_was_used_and_a_failure_costs_nothing() {
    let server = rest::start();
    let alice = register(&server, "alice@example.com").await;
    let base = format!("/api/v1/accounts/{}", alice.account_id);
    let reserve = |key: &'static str, quantity: i64| {
        let (server, alice, base) = (&server, &alice, &base);
        async move {
            let resp = http()
                .post(server.url(&format!("{base}/reservations")))
                .bearer_auth(&alice.access)
                .header("Idempotency-Key", key)
                .json(&json!({ "action": "sample_generation", "quantity": quantity }))
                .send()
                .await
                .unwrap();
            (
                resp.status().as_u16(),
                resp.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    // A failed job: reserved, then released whole.
    let (s, r) = reserve("job-1", 4).await;
    assert_eq!(s, 201, "{r}");
    let (_, bill) = get(&server, &format!("{base}/billing"), &alice.access).await;
    assert_eq!(
        (
            bill["balance_milli"].as_i64(),
            bill["available_milli"].as_i64()
        ),
        (Some(10_000), Some(9_000))
    );
    let id = r["reservation_id"].as_str().unwrap();
    let (s, v) = post(
        &server,
        &format!("{base}/reservations/{id}/release"),
        &alice.access,
        json!({}),
    )
    .await;
    assert_eq!(
        (s, v["reservation"]["status"].as_str()),
        (200, Some("released")),
        "{v}"
    );
    assert_eq!(
        balance(&server, &alice).await,
        10_000,
        "a failed generation costs nothing"
    );
    // A job where three of four samples succeeded: only those are paid.
    let (_, r) = reserve("job-2", 4).await;
    let id = r["reservation_id"].as_str().unwrap();
    let capture_path = format!("{base}/reservations/{id}/capture");
    let capture = || {
        post(
            &server,
            &capture_path,
            &alice.access,
            json!({ "quantity": 3 }),
        )
    };
    let (s, v) = capture().await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["entry"]["amount_milli"], -750);
    let (s, again) = capture().await;
    assert_eq!(
        (s, &again["entry"]["seq"]),
        (200, &v["entry"]["seq"]),
        "a repeated capture is the same capture"
    );
    let (s, _) = post(
        &server,
        &format!("{base}/reservations/{id}/release"),
        &alice.access,
        json!({}),
    )
    .await;
    assert_eq!(s, 409, "a captured reservation cannot be released");
    let (_, bill) = get(&server, &format!("{base}/billing"), &alice.access).await;
    assert_eq!(
        (
            bill["balance_milli"].as_i64(),
            bill["reserved_milli"].as_i64()
        ),
        (Some(9_250), Some(0))
    );
    // More than the balance cannot be reserved.
    let (s, v) = reserve("job-3", 40).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (402, Some("insufficient_credits")),
        "{v}"
    );
    assert_eq!(v["error"]["price_milli"], 10_000);
    assert_eq!(v["error"]["balance_milli"], 9_250);
}

#[tokio::test]
async fn signed_payment_events_apply_once_and_bad_ones_are_refused() {
    let server = rest::start();
    let alice = register(&server, "alice@example.com").await;
    let purchase = json!({ "id": "evt_1", "type": "credits.purchased",
        "data": { "account_id": alice.account_id, "credits_milli": 5000 } });
    assert_eq!(
        webhook(&server, purchase.clone(), "wrong-secret", 0)
            .await
            .0,
        400,
        "bad signature"
    );
    assert_eq!(
        webhook(&server, purchase.clone(), WEBHOOK_SECRET, 301)
            .await
            .0,
        400,
        "older than 5 minutes"
    );
    let unsigned = call(
        &server,
        Method::POST,
        "/api/v1/billing/webhook",
        None,
        Some(purchase.clone()),
    )
    .await;
    assert_eq!(unsigned.0, 400, "no signature");
    assert_eq!(
        balance(&server, &alice).await,
        10_000,
        "nothing refused was applied"
    );
    let results =
        join_all((0..5).map(|_| webhook(&server, purchase.clone(), WEBHOOK_SECRET, 0))).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    assert_eq!(
        balance(&server, &alice).await,
        15_000,
        "five deliveries of one event credit once"
    );
    assert!(
        server
            .metric("creo_webhooks_refused_total{reason=\"mismatch\"}")
            .await
            >= 1.0
    );

    let upgrade = json!({ "id": "evt_2", "type": "subscription.updated",
        "data": { "account_id": alice.account_id, "tier": "pro" } });
    assert_eq!(webhook(&server, upgrade, WEBHOOK_SECRET, 0).await.0, 200);
    let (_, bill) = get(
        &server,
        &format!("/api/v1/accounts/{}/billing", alice.account_id),
        &alice.access,
    )
    .await;
    assert_eq!(bill["tier"], "pro");
    assert_eq!(
        bill["limits"]["monthly_generations"],
        serde_json::Value::Null
    );

    let failed = json!({ "id": "evt_3", "type": "payment.failed", "data": { "account_id": alice.account_id } });
    assert_eq!(webhook(&server, failed, WEBHOOK_SECRET, 0).await.0, 200);
    let (s, v) = charge(&server, &alice, "standard_generation", "after-failure").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (402, Some("payment_failed")),
        "{v}"
    );
    let resolved = json!({ "id": "evt_4", "type": "payment.succeeded", "data": { "account_id": alice.account_id } });
    assert_eq!(webhook(&server, resolved, WEBHOOK_SECRET, 0).await.0, 200);
    assert_eq!(
        charge(&server, &alice, "standard_generation", "after-resolution")
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn tier_rate_limits_answer_429_with_retry_after() {
    let mut env = rest::billing_env();
    env.retain(|(k, _)| !k.contains("REQUESTS_PER_SECOND"));
    env.push(("CREO_TIERS__PRO__REQUESTS_PER_HOUR", "40"));
    let server = Server::start_with(&env);
    let alice = register(&server, "alice@example.com").await;
    let path = format!("/api/v1/accounts/{}", alice.account_id);
    let burst =
        join_all((0..30).map(|_| call(&server, Method::GET, &path, Some(&alice.access), None)))
            .await;
    let limited: Vec<_> = burst.iter().filter(|(s, _, _)| *s == 429).collect();
    let ok = burst.iter().filter(|(s, _, _)| *s == 200).count();
    assert!(
        (10..=12).contains(&ok),
        "the free tier allows a burst of 10 per second, got {ok}"
    );
    assert!(!limited.is_empty());
    for (_, body, headers) in &limited {
        assert_eq!(body["error"]["code"], "rate_limited");
        assert!(
            headers.get("retry-after").is_some(),
            "429 without Retry-After"
        );
    }
    // Pro allows 50 a second but only 40 an hour here: the hourly cap answers with a long wait.
    let upgrade = json!({ "id": "evt_pro", "type": "subscription.created",
        "data": { "account_id": alice.account_id, "tier": "pro" } });
    assert_eq!(webhook(&server, upgrade, WEBHOOK_SECRET, 0).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut capped = None;
    for _ in 0..60 {
        let (s, body, headers) = call(&server, Method::GET, &path, Some(&alice.access), None).await;
        if s == 429 {
            capped = Some((body, headers));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    let (body, headers) = capped.expect("the hourly cap was never reached");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("hour"),
        "{body}"
    );
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        wait > 1,
        "an hourly cap asks to wait more than a second, got {wait}"
    );
    assert!(
        server
            .metric("creo_rate_limited_total{window=\"second\"}")
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn the_free_tier_stops_at_its_monthly_generations() {
    let mut env = rest::billing_env();
    env.push(("CREO_TIERS__FREE__MONTHLY_GENERATIONS", "3"));
    let server = Server::start_with(&env);
    let alice = register(&server, "alice@example.com").await;
    for i in 0..3 {
        assert_eq!(
            charge(&server, &alice, "sample_generation", &format!("g{i}"))
                .await
                .0,
            201
        );
    }
    let (s, v) = charge(&server, &alice, "sample_generation", "g3").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (402, Some("monthly_quota_exceeded")),
        "{v}"
    );
    let (s, v) = charge(&server, &alice, "hires_export", "export-1").await;
    assert_eq!(s, 201, "exports are not generations");
    assert_eq!(v["watermarked"], true, "free tier exports are watermarked");
}

#[tokio::test]
async fn the_ledger_pages_and_usage_adds_up() {
    let server = rest::start();
    let alice = register(&server, "alice@example.com").await;
    for i in 0..5 {
        assert_eq!(
            charge(&server, &alice, "standard_generation", &format!("s{i}"))
                .await
                .0,
            201
        );
    }
    assert_eq!(charge(&server, &alice, "hires_export", "x1").await.0, 201);
    let base = format!("/api/v1/accounts/{}", alice.account_id);
    let mut seqs = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let q = before.map_or(String::new(), |b| format!("&before={b}"));
        let (s, page) = get(&server, &format!("{base}/ledger?limit=2{q}"), &alice.access).await;
        assert_eq!(s, 200);
        seqs.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        match page["next_before"].as_i64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(
        seqs,
        vec![7, 6, 5, 4, 3, 2, 1],
        "every entry once, newest first"
    );
    let (_, usage) = get(&server, &format!("{base}/usage"), &alice.access).await;
    let rows = usage.as_array().unwrap();
    let spent: i64 = rows
        .iter()
        .map(|r| r["spent_milli"].as_i64().unwrap())
        .sum();
    assert_eq!(spent, 7_000);
    assert!(rows
        .iter()
        .any(|r| r["action"] == "standard_generation" && r["count"] == 5));
    let (_, bill) = get(&server, &format!("{base}/billing"), &alice.access).await;
    assert_eq!(bill["month"]["generations"], 5);
    assert_eq!(bill["month"]["spent_milli"], 7_000);
    let csv = http()
        .get(server.url(&format!("{base}/ledger.csv")))
        .bearer_auth(&alice.access)
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "a header and seven entries:\n{text}");
    assert!(lines[0].starts_with("seq,created_at,kind,action"));
    assert!(lines[7].contains("hires_export") && lines[7].contains("-2000"));
}
