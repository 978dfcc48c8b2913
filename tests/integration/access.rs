use std::time::Duration;

use creo::auth::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::common::*;

async fn editor_with_text(server: &Server, doc: &str, text: &str) -> YClient {
    let e = YClient::connect(&server.ws(doc, &token("acme", "ed", Role::Editor))).await;
    assert!(e.synced().await);
    e.append(text);
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_and_commenter_writes_are_refused_everywhere() {
    let server = Server::start();
    let editor = editor_with_text(&server, "post", "original;").await;
    for role in [Role::Viewer, Role::Commenter] {
        let user = format!("{role:?}");
        let tok = token("acme", &user, role);
        let reader = YClient::connect(&server.ws("post", &tok)).await;
        assert!(reader.synced().await);
        assert!(
            reader.wait(5, |c| c.text() == "original;").await,
            "{role:?} reads"
        );
        reader.append("VANDALISM;");
        assert!(
            reader
                .wait(5, |c| !c.seen.lock().unwrap().denied.is_empty())
                .await,
            "{role:?} told permission denied"
        );
        // REST follows the same rule.
        let state = encoded_state(&reader.doc.lock().unwrap());
        let resp = post_update(&server, &tok, "post", state).await;
        assert_eq!(resp.status(), 403, "{role:?} REST write");
        // Presence is still allowed for readers.
        let mut reader = reader;
        let id = reader.client_id();
        reader.set_awareness(id, r#"{"user":{"name":"reader"}}"#);
        assert!(
            editor
                .wait(5, |c| c.seen.lock().unwrap().awareness.contains_key(&id))
                .await
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        editor.text(),
        "original;",
        "refused edits reached an editor"
    );
    let stored = stored_text(&server, &token("acme", "ed", Role::Editor), "post").await;
    assert_eq!(stored, "original;", "refused edits were stored");
    assert!(
        server
            .metric("creo_refused_messages_total{reason=\"read_only\"}")
            .await
            >= 4.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_belong_to_the_account_that_opened_them() {
    let server = Server::start();
    let _owner = editor_with_text(&server, "acme-post", "secret plans").await;
    // Another account's document answers exactly like an id nobody uses, so ids cannot be
    // probed across accounts.
    let other = token("globex", "spy", Role::Owner);
    assert_eq!(upgrade_status(&server.ws("acme-post", &other)).await, 404);
    let viewer = token("globex", "spy", Role::Viewer);
    assert_eq!(upgrade_status(&server.ws("acme-post", &viewer)).await, 404);
    assert_eq!(
        upgrade_status(&server.ws("nobody-uses-this", &viewer)).await,
        404
    );
    for path in ["acme-post", "nobody-uses-this"] {
        let resp = api_get(&server, &other, &format!("/api/v1/documents/{path}/state")).await;
        assert_eq!(resp.status(), 404, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "not_found", "message": "document not found"}}),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doc_scoped_tokens_open_only_their_document() {
    let server = Server::start();
    let scoped = doc_token("acme", "embed-user", Role::Editor, "allowed");
    let ok = YClient::connect(&server.ws("allowed", &scoped)).await;
    assert!(ok.synced().await);
    assert_eq!(upgrade_status(&server.ws("other", &scoped)).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_unsigned_tokens_are_refused_and_counted() {
    let server = Server::start();
    let claims =
        |exp: u64| serde_json::json!({"sub": "u", "acct": "acme", "role": "owner", "exp": exp});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(now + 600),
        &EncodingKey::from_secret(b"not-the-server-secret-at-all"),
    )
    .unwrap();
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(now - 600),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let wrong_alg = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &claims(now + 600),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    // alg "none": header {"alg":"none"}, valid claims, empty signature.
    let b64 = |v: &serde_json::Value| {
        use base64_url_encode as enc;
        enc(v.to_string().as_bytes())
    };
    let none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(now + 600))
    );
    for (name, t) in [
        ("forged", forged),
        ("expired", expired),
        ("wrong_alg", wrong_alg),
        ("alg_none", none),
        ("garbage", "not.a.jwt".to_string()),
    ] {
        assert_eq!(upgrade_status(&server.ws("d", &t)).await, 401, "{name}");
    }
    let missing = format!("{}/ws/d", server.base.replace("http://", "ws://"));
    assert_eq!(upgrade_status(&missing).await, 401);
    assert!(
        server
            .metric("creo_auth_failures_total{reason=\"expired\"}")
            .await
            >= 1.0
    );
    assert!(
        server
            .metric("creo_auth_failures_total{reason=\"wrong_algorithm\"}")
            .await
            >= 1.0
    );
    assert!(
        server
            .metric("creo_auth_failures_total{reason=\"invalid\"}")
            .await
            >= 3.0
    );
    assert!(
        server
            .metric("creo_auth_failures_total{reason=\"missing\"}")
            .await
            >= 1.0
    );
}

fn base64_url_encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Tokens signed by an identity provider's Ed25519 key, verified with its public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_key_verification_accepts_eddsa_and_refuses_hs256() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("ed25519.pem");
    let public = dir.path().join("ed25519.pub.pem");
    let ok = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&private)
        .status()
        .unwrap()
        .success()
        && std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&private)
            .arg("-out")
            .arg(&public)
            .status()
            .unwrap()
            .success();
    assert!(ok, "openssl could not make an Ed25519 key pair");
    let server = Server::start_with(&[
        ("CREO_JWT_PUBLIC_KEY", public.to_str().unwrap()),
        ("CREO_JWT_ALGORITHM", "EdDSA"),
    ]);
    let pem = std::fs::read(&private).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = jsonwebtoken::encode(
        &Header::new(Algorithm::EdDSA),
        &serde_json::json!({"sub": "u", "acct": "acme", "role": "editor", "exp": now + 600}),
        &EncodingKey::from_ed_pem(&pem).unwrap(),
    )
    .unwrap();
    let c = YClient::connect(&server.ws("idp-doc", &signed)).await;
    assert!(c.synced().await);
    // An HS256 token made with the (public) key bytes as secret is the classic confusion attack.
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"sub": "u", "acct": "acme", "role": "owner", "exp": now + 600}),
        &EncodingKey::from_secret(&std::fs::read(&public).unwrap()),
    )
    .unwrap();
    assert_eq!(upgrade_status(&server.ws("idp-doc", &confused)).await, 401);
    assert_eq!(
        upgrade_status(&server.ws("idp-doc", &token("acme", "u", Role::Owner))).await,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_over_their_message_rate_is_slowed_across_their_sockets_and_loses_nothing() {
    let server = Server::start_with(&[
        ("CREO_USER_MESSAGES_PER_SECOND", "20"),
        ("CREO_USER_MESSAGE_BURST", "20"),
    ]);
    let t = token("acme", "chatty", Role::Editor);
    let a = YClient::connect(&format!("{}&ack=1", server.ws("rate-a", &t))).await;
    let b = YClient::connect(&format!("{}&ack=1", server.ws("rate-b", &t))).await;
    assert!(a.synced().await && b.synced().await);
    // Each socket alone stays under the per-session limit; together they exceed the user's:
    // 60 updates at 20 a second after a burst of 20 take about two seconds to be read.
    let started = std::time::Instant::now();
    for i in 0..30 {
        a.append(&format!("a{i},"));
        b.append(&format!("b{i},"));
    }
    let all = |c: &YClient| c.seen.lock().unwrap().acked == 30;
    assert!(
        a.wait(20, all).await && b.wait(20, all).await,
        "every update acknowledged"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "the user's rate did not slow them ({:?})",
        started.elapsed()
    );
    assert!(a.seen.lock().unwrap().closed.is_none() && b.seen.lock().unwrap().closed.is_none());
    assert!(
        server
            .metric("creo_session_paused_total{reason=\"user_rate\"}")
            .await
            >= 1.0
    );
    let ed = token("acme", "chatty", Role::Editor);
    let stored = stored_text(&server, &ed, "rate-a").await;
    assert_eq!(stored.matches(',').count(), 30, "{stored}");
    // Another user is not affected.
    let other = YClient::connect(&server.ws("rate-a", &token("acme", "calm", Role::Editor))).await;
    assert!(other.synced().await);
}
