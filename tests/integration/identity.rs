//! Identity and access: logins and refresh-token rotation, the role matrix over REST and
//! WebSocket (with role changes reaching open sockets), IDOR attempts, API keys and the tokens
//! they mint, the audit log, and GDPR export and erasure.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::common::{http, post_update, stored_text, text_update, Server, YClient};
use crate::rest::{self, call, charge, get, login, member, post, register};

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_its_session() {
    // A short grace window, so the replay below can come after it without a long wait.
    let mut env = rest::billing_env();
    env.push(("CREO_REFRESH_GRACE_MS", "300"));
    let server = Server::start_with(&env);
    let alice = register(&server, "alice@example.com").await;
    let (s, v, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": "alice@example.com", "password": "wrong password!" })),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let (s, _, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": "nobody@example.com", "password": "wrong password!" })),
    )
    .await;
    assert_eq!(
        s, 401,
        "an unknown email looks the same as a wrong password"
    );

    let refresh = |token: String| {
        let server = &server;
        async move {
            call(
                server,
                Method::POST,
                "/api/v1/auth/refresh",
                None,
                Some(json!({ "refresh_token": token })),
            )
            .await
        }
    };
    let (s, second, _) = refresh(alice.refresh.clone()).await;
    assert_eq!(s, 200, "{second}");
    assert_ne!(second["refresh_token"], alice.refresh.as_str(), "rotated");
    let (s, _) = get(
        &server,
        &format!("/api/v1/accounts/{}", alice.account_id),
        second["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(s, 200, "the new access token works");

    // The first token again, after the grace window: someone else holds a copy. The whole
    // session is revoked.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s, v, _) = refresh(alice.refresh.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("refresh_token_reused")),
        "{v}"
    );
    let (s, v, _) = refresh(second["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("invalid_refresh_token")),
        "the family is revoked: {v}"
    );
    let second_access = second["access_token"].as_str().unwrap();
    let (s, v) = get(
        &server,
        &format!("/api/v1/accounts/{}", alice.account_id),
        second_access,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("session_revoked")),
        "its access tokens stop at once: {v}"
    );

    let other = login(&server, "alice@example.com", None).await;
    let (_, sessions) = get(&server, "/api/v1/auth/sessions", &other.access).await;
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["revoked"] == true).count(), 1);
    let (s, _, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/logout",
        Some(&other.access),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, _) = refresh(other.refresh.clone()).await;
    assert_eq!(s, 401, "logged out sessions do not refresh");

    let (_, audit) = get(
        &server,
        &format!("/api/v1/accounts/{}/audit", alice.account_id),
        &login(&server, "alice@example.com", None).await.access,
    )
    .await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "login_failed",
        "login",
        "refresh_token_reused",
        "logout",
        "registered",
    ] {
        assert!(
            actions.contains(&expected),
            "audit log lacks {expected}: {actions:?}"
        );
    }
}

#[tokio::test]
async fn revoking_a_lost_devices_session_ends_its_tokens_and_sockets_at_once() {
    let server = rest::start();
    register(&server, "alice@example.com").await;
    let phone = login(&server, "alice@example.com", None).await;
    let laptop = login(&server, "alice@example.com", None).await;
    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &laptop.access,
            json!({ "id": "draft" })
        )
        .await
        .0,
        201
    );
    let on_phone = YClient::connect(&server.ws("draft", &phone.access)).await;
    let on_laptop = YClient::connect(&server.ws("draft", &laptop.access)).await;
    assert!(on_phone.synced().await && on_laptop.synced().await);

    let revoke = format!("/api/v1/auth/sessions/{}", phone.session_id);
    let (s, _, _) = call(&server, Method::DELETE, &revoke, Some(&laptop.access), None).await;
    assert_eq!(s, 204);
    assert_eq!(
        on_phone.closed_with(2).await,
        Some(4403),
        "the phone's socket closes"
    );
    assert_eq!(
        get(&server, "/api/v1/auth/sessions", &phone.access).await.0,
        401,
        "its access token stops"
    );
    let body = json!({ "refresh_token": phone.refresh });
    let (s, _, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(body),
    )
    .await;
    assert_eq!(s, 401, "and its refresh token");
    on_laptop.append("still here");
    assert!(on_laptop.wait(3, |c| c.text() == "still here").await);
    assert_eq!(
        get(&server, "/api/v1/auth/sessions", &laptop.access)
            .await
            .0,
        200,
        "the other session lives on"
    );
}

#[tokio::test]
async fn the_role_matrix_holds_over_rest_and_websocket_and_role_changes_reach_open_sockets() {
    let server = rest::start();
    let owner = register(&server, "owner@example.com").await;
    let bob = member(&server, &owner, "bob@example.com", "editor").await;
    let carol = member(&server, &owner, "carol@example.com", "viewer").await;
    let acct = format!("/api/v1/accounts/{}", owner.account_id);

    // Who may do what over REST.
    let (_, members) = get(&server, &format!("{acct}/members"), &carol.access).await;
    assert_eq!(
        members.as_array().unwrap().len(),
        3,
        "every member sees the members"
    );
    for who in [&bob, &carol] {
        assert_eq!(
            get(&server, &format!("{acct}/billing"), &who.access)
                .await
                .0,
            403,
            "billing is for owners and admins"
        );
        assert_eq!(
            get(&server, &format!("{acct}/audit"), &who.access).await.0,
            403
        );
        let (s, _, _) = call(
            &server,
            Method::PUT,
            &format!("{acct}/members/{}", who.user_id),
            Some(&who.access),
            Some(json!({ "role": "owner" })),
        )
        .await;
        assert_eq!(s, 403, "members cannot promote themselves");
    }
    assert_eq!(
        charge(&server, &bob, "sample_generation", "bob-1").await.0,
        201,
        "editors spend credits"
    );
    assert_eq!(
        charge(&server, &carol, "sample_generation", "carol-1")
            .await
            .0,
        403,
        "viewers do not"
    );
    let (s, _, _) = call(
        &server,
        Method::DELETE,
        &format!("{acct}/members/{}", owner.user_id),
        Some(&owner.access),
        None,
    )
    .await;
    assert_eq!(s, 409, "the last owner stays");

    // Over WebSocket: the editor writes, the viewer cannot.
    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &owner.access,
            json!({ "id": "post-1" })
        )
        .await
        .0,
        201
    );
    let bob_ws = YClient::connect(&server.ws("post-1", &bob.access)).await;
    let carol_ws = YClient::connect(&server.ws("post-1", &carol.access)).await;
    assert!(bob_ws.synced().await && carol_ws.synced().await);
    bob_ws.append("hello");
    assert!(
        carol_ws.wait(5, |c| c.text() == "hello").await,
        "the viewer sees the editor's text"
    );
    carol_ws.append(" from carol");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stored_text(&server, &owner.access, "post-1").await,
        "hello",
        "the viewer's write was refused"
    );
    assert_eq!(
        post_update(&server, &carol.access, "post-1", text_update("x"))
            .await
            .status(),
        403
    );

    // Demote the editor: their open socket loses write access within a second.
    let demoted_at = Instant::now();
    let (s, v, _) = call(
        &server,
        Method::PUT,
        &format!("{acct}/members/{}", bob.user_id),
        Some(&owner.access),
        Some(json!({ "role": "viewer" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    bob_ws.append(" again");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(demoted_at.elapsed() < Duration::from_secs(1) + Duration::from_millis(500));
    assert_eq!(
        stored_text(&server, &owner.access, "post-1").await,
        "hello",
        "a demoted editor cannot write on an open socket"
    );
    assert_eq!(
        post_update(&server, &bob.access, "post-1", text_update("y"))
            .await
            .status(),
        403,
        "nor over REST with the same token"
    );

    // Removing a member closes their socket with 4403.
    let (s, _, _) = call(
        &server,
        Method::DELETE,
        &format!("{acct}/members/{}", carol.user_id),
        Some(&owner.access),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(carol_ws.closed_with(2).await, Some(4403));
    assert_eq!(
        get(&server, &acct, &carol.access).await.0,
        403,
        "a removed member's token opens nothing"
    );

    let (_, audit) = get(&server, &format!("{acct}/audit"), &owner.access).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"role_changed") && actions.contains(&"member_removed"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn ids_from_another_account_are_refused() {
    let server = rest::start();
    let alice = register(&server, "alice@example.com").await;
    let mallory = register(&server, "mallory@example.com").await;
    let theirs = format!("/api/v1/accounts/{}", alice.account_id);
    for path in [
        "",
        "/billing",
        "/ledger",
        "/ledger.csv",
        "/usage",
        "/members",
        "/audit",
        "/api-keys",
        "/invitations",
        "/revocations",
    ] {
        let (s, v) = get(&server, &format!("{theirs}{path}"), &mallory.access).await;
        assert_eq!(s, 403, "GET {path}: {v}");
    }
    let resp = http()
        .post(server.url(&format!("{theirs}/charges")))
        .bearer_auth(&mallory.access)
        .header("Idempotency-Key", "steal")
        .json(&json!({ "action": "hires_export" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "no charging another account");
    // A reservation of Alice's, named through Mallory's own account, is not found.
    let resp = http()
        .post(server.url(&format!("{theirs}/reservations")))
        .bearer_auth(&alice.access)
        .header("Idempotency-Key", "r1")
        .json(&json!({ "action": "sample_generation" }))
        .send()
        .await
        .unwrap();
    let reservation: serde_json::Value = resp.json().await.unwrap();
    let id = reservation["reservation_id"].as_str().unwrap();
    let (s, _) = get(
        &server,
        &format!("/api/v1/accounts/{}/reservations/{id}", mallory.account_id),
        &mallory.access,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = post(
        &server,
        &format!(
            "/api/v1/accounts/{}/reservations/{id}/capture",
            mallory.account_id
        ),
        &mallory.access,
        json!({}),
    )
    .await;
    assert_eq!(s, 404);
    // Documents of another account.
    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &alice.access,
            json!({ "id": "alices" })
        )
        .await
        .0,
        201
    );
    // Another account's document answers as one that does not exist.
    assert_eq!(
        get(&server, "/api/v1/documents/alices", &mallory.access)
            .await
            .0,
        404
    );
    let (s, _, _) = call(
        &server,
        Method::PUT,
        &format!("{theirs}/members/{}", mallory.user_id),
        Some(&mallory.access),
        Some(json!({ "role": "owner" })),
    )
    .await;
    assert_eq!(s, 403);
    // Logging in to an account one is not a member of.
    let (s, _, _) = call(&server, Method::POST, "/api/v1/auth/login", None,
        Some(json!({ "email": "mallory@example.com", "password": "correct horse battery", "account_id": alice.account_id }))).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn api_keys_are_scoped_hashed_revocable_and_mint_document_tokens() {
    let server = rest::start();
    let alice = register(&server, "alice@example.com").await;
    let keys = format!("/api/v1/accounts/{}/api-keys", alice.account_id);
    let (s, v) = post(
        &server,
        &keys,
        &alice.access,
        json!({ "name": "cms", "scopes": ["tokens:mint", "billing:read"] }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let key = v["secret"].as_str().unwrap().to_string();
    assert!(key.starts_with(v["prefix"].as_str().unwrap()));
    assert_eq!(
        post(
            &server,
            &keys,
            &alice.access,
            json!({ "name": "x", "scopes": ["root"] })
        )
        .await
        .0,
        400
    );
    let (_, listed) = get(&server, &keys, &alice.access).await;
    let listed = serde_json::to_string(&listed).unwrap();
    assert!(
        listed.contains(v["prefix"].as_str().unwrap()) && !listed.contains(&key[20..]),
        "listed by prefix, never the secret"
    );

    // The key reads billing but cannot charge or manage keys.
    assert_eq!(
        get(
            &server,
            &format!("/api/v1/accounts/{}/billing", alice.account_id),
            &key
        )
        .await
        .0,
        200
    );
    let as_key = rest::User {
        access: key.clone(),
        ..alice.clone()
    };
    assert_eq!(
        charge(&server, &as_key, "sample_generation", "k1").await.0,
        403
    );
    assert_eq!(get(&server, &keys, &key).await.0, 403);

    // It mints a document-scoped token for an app user, who can then edit that document only.
    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &alice.access,
            json!({ "id": "embedded" })
        )
        .await
        .0,
        201
    );
    assert_eq!(
        post(
            &server,
            "/api/v1/tokens",
            &key,
            json!({ "user_id": "app-user-7", "role": "admin" })
        )
        .await
        .0,
        403
    );
    let (s, minted) = post(
        &server,
        "/api/v1/tokens",
        &key,
        json!({ "user_id": "app-user-7", "role": "editor", "doc_id": "embedded" }),
    )
    .await;
    assert_eq!(s, 201, "{minted}");
    let token = minted["token"].as_str().unwrap();
    let client = YClient::connect(&server.ws("embedded", token)).await;
    assert!(client.synced().await);
    client.append("from the app");
    assert!(client.wait(5, |_| true).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stored_text(&server, &alice.access, "embedded").await,
        "from the app"
    );
    assert_eq!(
        get(&server, "/api/v1/documents/other", token).await.0,
        403,
        "scoped to its document"
    );
    assert_eq!(
        post(
            &server,
            "/api/v1/tokens",
            &alice.access,
            json!({ "user_id": "u", "role": "viewer" })
        )
        .await
        .0,
        403,
        "only keys mint"
    );

    // Revoked, it stops working at once.
    let (s, _, _) = call(
        &server,
        Method::DELETE,
        &format!("{keys}/{}", v["key_id"].as_str().unwrap()),
        Some(&alice.access),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        get(
            &server,
            &format!("/api/v1/accounts/{}/billing", alice.account_id),
            &key
        )
        .await
        .0,
        401
    );
    let (_, audit) = get(
        &server,
        &format!("/api/v1/accounts/{}/audit", alice.account_id),
        &alice.access,
    )
    .await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"api_key_created") && actions.contains(&"api_key_revoked"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_user_exports_their_data_and_erasure_keeps_the_ledger_anonymised() {
    let server = rest::start();
    let owner = register(&server, "owner@example.com").await;
    let bob = member(&server, &owner, "bob@example.com", "editor").await;
    assert_eq!(
        charge(&server, &bob, "standard_generation", "bob-gen")
            .await
            .0,
        201
    );

    let (s, export) = get(&server, "/api/v1/users/me/export", &bob.access).await;
    assert_eq!(s, 200);
    assert_eq!(export["user"]["email"], "bob@example.com");
    assert!(
        export["user"].get("password_hash").is_none(),
        "never the password hash"
    );
    assert_eq!(export["memberships"].as_array().unwrap().len(), 2);
    assert_eq!(
        export["ledger_entries"].as_array().unwrap().len(),
        2,
        "his sign-up grant and his charge"
    );
    assert!(!export["audit_events"].as_array().unwrap().is_empty());

    let (s, v, _) = call(
        &server,
        Method::DELETE,
        "/api/v1/users/me",
        Some(&owner.access),
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("sole_owner")),
        "the owner of a shared account must hand it over first"
    );
    let (s, _, _) = call(
        &server,
        Method::DELETE,
        "/api/v1/users/me",
        Some(&bob.access),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": "bob@example.com", "password": "correct horse battery" })),
    )
    .await;
    assert_eq!(s, 401, "the erased user cannot log in");
    let (_, ledger) = get(
        &server,
        &format!("/api/v1/accounts/{}/ledger", owner.account_id),
        &owner.access,
    )
    .await;
    let charge = ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["idempotency_key"] == "bob-gen")
        .unwrap()
        .clone();
    assert_eq!(
        charge["user_id"], "deleted-user",
        "the money record stays, without the person"
    );
    assert_eq!(charge["amount_milli"], -1000);
    let (_, members) = get(
        &server,
        &format!("/api/v1/accounts/{}/members", owner.account_id),
        &owner.access,
    )
    .await;
    assert_eq!(members.as_array().unwrap().len(), 1);
    // The email is free again.
    register(&server, "bob@example.com").await;
}

/// Two tabs of one browser refresh the same token at the same moment: both stay signed in, and
/// each gets a working pair. The window is short: the same token a minute later would be reuse.
#[tokio::test]
async fn two_tabs_refreshing_one_token_at_once_both_stay_signed_in() {
    let server = rest::start();
    let alice = register(&server, "alice@example.com").await;
    let refresh = || {
        call(
            &server,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": alice.refresh })),
        )
    };
    let ((s1, first, _), (s2, second, _)) = tokio::join!(refresh(), refresh());
    assert_eq!((s1, s2), (200, 200), "{first} {second}");
    assert_ne!(first["refresh_token"], second["refresh_token"]);
    for tab in [&first, &second] {
        let (s, v) = get(
            &server,
            &format!("/api/v1/accounts/{}", alice.account_id),
            tab["access_token"].as_str().unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let (s, v, _) = call(
            &server,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": tab["refresh_token"] })),
        )
        .await;
        assert_eq!(s, 200, "each tab's own token refreshes later: {v}");
    }
}
