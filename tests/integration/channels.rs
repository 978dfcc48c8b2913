//! Publishing to an account's own channels, against the local platform (`platform.rs`): OAuth
//! 2.0 connection with PKCE, a post to three channels where one fails, a rate limit waited
//! out, tokens refreshed before they expire, a revoked refresh marking the channel for
//! reconnection (and telling its managers), and accounts that never see each other's channels.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{Server, YClient};
use crate::platform::{Canned, Platform, CLIENT_ID, CLIENT_SECRET, IG_USER};
use crate::receiver::receiver;
use crate::rest::{self, call, get, post, register, User};

pub(crate) fn env(platform: &Platform) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = rest::billing_env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (name, auth, token) in [
        ("X", "/x/i/oauth2/authorize", "/x/oauth2/token"),
        (
            "INSTAGRAM",
            "/instagram/oauth/authorize",
            "/instagram/oauth/access_token",
        ),
        (
            "LINKEDIN",
            "/linkedin/oauth/v2/authorization",
            "/linkedin/oauth/v2/accessToken",
        ),
        (
            "FACEBOOK",
            "/facebook/dialog/oauth",
            "/facebook/oauth/access_token",
        ),
        (
            "PINTEREST",
            "/pinterest/oauth/",
            "/pinterest/v5/oauth/token",
        ),
        (
            "TIKTOK",
            "/tiktok/v2/auth/authorize/",
            "/tiktok/v2/oauth/token/",
        ),
        ("YOUTUBE", "/youtube/o/oauth2/v2/auth", "/youtube/token"),
    ] {
        let base = format!("CREO_PLATFORMS__{name}__");
        let api = format!("{}/{}", platform.url, name.to_lowercase());
        env.extend([
            (format!("{base}CLIENT_ID"), CLIENT_ID.to_string()),
            (format!("{base}CLIENT_SECRET"), CLIENT_SECRET.to_string()),
            (format!("{base}AUTH_URL"), format!("{}{auth}", platform.url)),
            (
                format!("{base}TOKEN_URL"),
                format!("{}{token}", platform.url),
            ),
            (format!("{base}API_URL"), api),
        ]);
    }
    env.extend([
        ("CREO_JOB_RETRY_BASE_MS".into(), "100".into()),
        ("CREO_JOB_MAX_ATTEMPTS".into(), "3".into()),
    ]);
    env
}

pub(crate) fn start(platform: &Platform) -> Server {
    let env = env(platform);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start_with(&env)
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Starts connecting `platform`: the authorization URL's query, and the cookie the browser
/// got (`name=value`).
pub(crate) async fn authorize(
    server: &Server,
    owner: &User,
    body: Value,
) -> (Vec<(String, String)>, String) {
    let (s, v, headers) = call(
        server,
        Method::POST,
        &format!("/api/v1/accounts/{}/channels/connect", owner.account_id),
        Some(&owner.access),
        Some(body),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let set = headers["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let url = reqwest::Url::parse(v["authorize_url"].as_str().unwrap()).unwrap();
    (url.query_pairs().into_owned().collect(), cookie)
}

pub(crate) fn param<'a>(query: &'a [(String, String)], name: &str) -> &'a str {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} missing from {query:?}"))
}

/// The platform's answer to the person: back to creo's callback, in the browser holding
/// `cookie`; where creo sends them on.
pub(crate) async fn come_back(server: &Server, query: &str, cookie: &str) -> (u16, String) {
    let r = no_redirects()
        .get(server.url(&format!("/api/v1/channels/oauth/callback?{query}")))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status().as_u16(), location)
}

/// Connects `platform` all the way: the new (or reconnected) channel's id.
pub(crate) async fn connect(
    server: &Server,
    owner: &User,
    platform: &Platform,
    body: Value,
) -> String {
    let (query, cookie) = authorize(server, owner, body).await;
    assert_eq!(param(&query, "response_type"), "code");
    assert_eq!(param(&query, "client_id"), CLIENT_ID);
    assert_eq!(param(&query, "code_challenge_method"), "S256");
    assert!(param(&query, "redirect_uri").ends_with("/api/v1/channels/oauth/callback"));
    let code = platform.approve(param(&query, "code_challenge"));
    let state = param(&query, "state");
    let (status, location) =
        come_back(server, &format!("state={state}&code={code}"), &cookie).await;
    assert_eq!(status, 303, "{location}");
    let id = location
        .split("channel_connected=")
        .nth(1)
        .unwrap_or_else(|| panic!("not connected: {location}"));
    // The state is spent.
    let (again, _) = come_back(server, &format!("state={state}&code={code}"), &cookie).await;
    assert_eq!(again, 400, "a state works once");
    id.to_string()
}

pub(crate) async fn channels(server: &Server, user: &User) -> Vec<Value> {
    let (s, v) = get(
        server,
        &format!("/api/v1/accounts/{}/channels", user.account_id),
        &user.access,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v.as_array().unwrap().clone()
}

/// An approved document `id` with `text`.
pub(crate) async fn approved(server: &Server, owner: &User, id: &str, text: &str) {
    let (s, v) = post(
        server,
        "/api/v1/documents",
        &owner.access,
        json!({ "id": id }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let c = YClient::connect(&server.ws(id, &owner.access)).await;
    assert!(c.synced().await);
    c.append(text);
    assert!(c.wait(5, |_| true).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    submit_and_approve(server, owner, id).await;
}

/// `id` submitted for review and approved by `owner`.
async fn submit_and_approve(server: &Server, owner: &User, id: &str) {
    for action in ["submit", "approve"] {
        let (s, v) = post(
            server,
            &format!("/api/v1/documents/{id}/workflow"),
            &owner.access,
            json!({ "action": action }),
        )
        .await;
        assert_eq!(s, 200, "{action}: {v}");
    }
}

/// An approved document `id` with `text` and `media` (width, height, url), as the editor's
/// media list holds them.
pub(crate) async fn approved_with_media(
    server: &Server,
    owner: &User,
    id: &str,
    text: &str,
    media: &[(f64, f64, &str)],
) {
    let entries = media
        .iter()
        .map(|(width, height, url)| {
            [
                ("width".to_string(), yrs::Any::from(*width)),
                ("height".to_string(), yrs::Any::from(*height)),
                ("url".to_string(), yrs::Any::from(*url)),
            ]
            .into()
        })
        .collect();
    approved_with_entries(server, owner, id, text, entries).await;
}

/// An approved document `id` with `text` and these entries in its root array `media`.
pub(crate) async fn approved_with_entries(
    server: &Server,
    owner: &User,
    id: &str,
    text: &str,
    entries: Vec<std::collections::HashMap<String, yrs::Any>>,
) {
    let (s, v) = post(
        server,
        "/api/v1/documents",
        &owner.access,
        json!({ "id": id }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let update = {
        use yrs::{Array, Text, Transact};
        let doc = yrs::Doc::new();
        let post = doc.get_or_insert_text("post");
        let list = doc.get_or_insert_array("media");
        let mut txn = doc.transact_mut();
        post.insert(&mut txn, 0, text);
        for entry in entries {
            list.push_back(&mut txn, yrs::Any::from(entry));
        }
        txn.encode_update_v1()
    };
    let r = crate::common::http()
        .post(server.url(&format!("/api/v1/documents/{id}/updates")))
        .bearer_auth(&owner.access)
        .header("Content-Type", "application/octet-stream")
        .body(update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    submit_and_approve(server, owner, id).await;
}

pub(crate) async fn publish_now(
    server: &Server,
    owner: &User,
    id: &str,
    channels: &[&str],
) -> (u16, Value) {
    let targets: Vec<Value> = channels
        .iter()
        .map(|c| json!({ "channel_id": c }))
        .collect();
    post(
        server,
        &format!("/api/v1/documents/{id}/workflow"),
        &owner.access,
        json!({ "action": "publish_now", "targets": targets }),
    )
    .await
}

/// The workflow once it left `scheduled` (or after 15 s).
pub(crate) async fn settled(server: &Server, owner: &User, id: &str) -> Value {
    let mut v = Value::Null;
    for _ in 0..300 {
        v = get(
            server,
            &format!("/api/v1/documents/{id}/workflow"),
            &owner.access,
        )
        .await
        .1;
        if v["workflow"]["state"] != "scheduled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    v
}

pub(crate) fn delivery<'a>(workflow: &'a Value, channel: &str) -> &'a Value {
    workflow["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel_id"] == channel)
        .unwrap_or_else(|| panic!("no delivery to {channel}: {workflow}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_to_three_channels_where_one_refuses_is_published_on_the_other_two() {
    let platform = Platform::start();
    let server = start(&platform);
    let owner = register(&server, "owner@example.com").await;
    let x = connect(&server, &owner, &platform, json!({ "platform": "x" })).await;
    let linkedin = connect(
        &server,
        &owner,
        &platform,
        json!({ "platform": "linkedin" }),
    )
    .await;
    let refusing = receiver(|_| (422, Duration::ZERO)).await;
    let (s, hook) = post(
        &server,
        &format!("/api/v1/accounts/{}/channels", owner.account_id),
        &owner.access,
        json!({ "name": "Our CMS", "url": refusing.url }),
    )
    .await;
    assert_eq!(s, 201, "{hook}");
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    let webhook = hook["channel_id"].as_str().unwrap().to_string();

    let listed = channels(&server, &owner).await;
    let names: Vec<&str> = listed.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 3);
    assert!(
        names.contains(&"@creo_team") && names.contains(&"Ada Lovelace"),
        "{names:?}"
    );
    let shown = serde_json::to_string(&listed).unwrap();
    assert!(
        !shown.contains("at_") && !shown.contains("rt_") && !shown.contains("whsec_"),
        "tokens and secrets are never shown: {shown}"
    );

    approved(&server, &owner, "launch", "Launch (today) #news").await;
    let (s, v) = publish_now(&server, &owner, "launch", &[&x, &linkedin, &webhook]).await;
    assert_eq!(s, 200, "{v}");
    let done = settled(&server, &owner, "launch").await;
    assert_eq!(
        done["workflow"]["state"], "published",
        "two of three went out: {done}"
    );

    let on_x = delivery(&done, &x);
    assert_eq!(on_x["state"], "published", "{on_x}");
    let id = on_x["post_id"].as_str().unwrap();
    assert_eq!(
        on_x["permalink"],
        format!("https://x.com/i/web/status/{id}")
    );
    let tweets = platform.requests("/x/2/tweets");
    assert_eq!(tweets.len(), 1);
    assert_eq!(tweets[0].json(), json!({ "text": "Launch (today) #news" }));
    assert!(tweets[0].headers["authorization"].starts_with("Bearer at_"));

    let on_linkedin = delivery(&done, &linkedin);
    assert_eq!(on_linkedin["state"], "published", "{on_linkedin}");
    assert!(on_linkedin["post_id"]
        .as_str()
        .unwrap()
        .starts_with("urn:li:share:"));
    let shares = platform.requests("/linkedin/rest/posts");
    assert_eq!(
        shares[0].json()["commentary"],
        "Launch \\(today\\) {hashtag|\\#|news}",
        "little text format"
    );

    let on_webhook = delivery(&done, &webhook);
    assert_eq!(on_webhook["state"], "failed");
    assert!(
        on_webhook["reason"].as_str().unwrap().contains("422"),
        "{on_webhook}"
    );
    assert_eq!(
        refusing.got.lock().unwrap().len(),
        1,
        "a refusal is not retried"
    );
    let note = done["transitions"].as_array().unwrap().last().unwrap()["note"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        note.contains("x: published at https://x.com/") && note.contains("422"),
        "{note}"
    );

    // Another account sees none of it, and cannot post to it.
    let other = register(&server, "other@example.com").await;
    assert!(channels(&server, &other).await.is_empty());
    let (s, _) = get(
        &server,
        &format!("/api/v1/accounts/{}/channels", owner.account_id),
        &other.access,
    )
    .await;
    assert_eq!(s, 403);
    approved(&server, &other, "theirs", "Not yours").await;
    let (s, v) = publish_now(&server, &other, "theirs", &[&x]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_targets")),
        "{v}"
    );
    assert_eq!(
        platform.requests("/x/2/tweets").len(),
        1,
        "nothing went out for them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_waited_out_and_a_server_error_retried_until_the_post_is_out() {
    let platform = Platform::start();
    let server = start(&platform);
    let owner = register(&server, "owner@example.com").await;
    let x = connect(&server, &owner, &platform, json!({ "platform": "x" })).await;
    let reset = chrono::Utc::now().timestamp() + 1;
    platform.queue(Canned {
        status: 429,
        headers: vec![("x-rate-limit-reset", reset.to_string())],
        body: json!({ "title": "Too Many Requests", "detail": "Too Many Requests" }),
    });
    platform.queue(Canned {
        status: 503,
        headers: vec![],
        body: json!({ "title": "Service Unavailable" }),
    });
    approved(&server, &owner, "launch", "Third time lucky").await;
    let (s, v) = publish_now(&server, &owner, "launch", &[&x]).await;
    assert_eq!(s, 200, "{v}");
    // While it is going out it cannot be taken back or moved (X might already have it).
    let mut retrying = false;
    for _ in 0..200 {
        let (_, w) = get(&server, "/api/v1/documents/launch/workflow", &owner.access).await;
        if w["deliveries"][0]["state"] == "retrying" {
            retrying = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(retrying, "the rate limit is being waited out");
    let (s, v) = post(
        &server,
        "/api/v1/documents/launch/workflow",
        &owner.access,
        json!({ "action": "unschedule" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("invalid_transition")),
        "{v}"
    );
    let done = settled(&server, &owner, "launch").await;
    assert_eq!(done["workflow"]["state"], "published", "{done}");
    let on_x = delivery(&done, &x);
    assert_eq!(
        (on_x["state"].as_str(), on_x["attempts"].as_u64()),
        (Some("published"), Some(3))
    );
    let tweets = platform.requests("/x/2/tweets");
    assert_eq!(tweets.len(), 3, "429, 503, then the post");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_before_they_expire_and_a_revoked_refresh_asks_for_reconnection() {
    let platform = Platform::start();
    // Tokens that expire within creo's refresh margin: refreshed before every use.
    platform.state.lock().unwrap().expires_in = 60;
    let server = start(&platform);
    let owner = register(&server, "owner@example.com").await;
    let x = connect(&server, &owner, &platform, json!({ "platform": "x" })).await;
    approved(&server, &owner, "first", "Fresh token").await;
    assert_eq!(publish_now(&server, &owner, "first", &[&x]).await.0, 200);
    let done = settled(&server, &owner, "first").await;
    assert_eq!(done["workflow"]["state"], "published", "{done}");
    let refreshes: Vec<_> = platform
        .requests("/x/oauth2/token")
        .into_iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("grant_type=refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 1, "refreshed once, before publishing");
    let tweet = platform.requests("/x/2/tweets").pop().unwrap();
    assert_ne!(
        tweet.headers["authorization"], "Bearer at_2",
        "published with the refreshed token"
    );

    // The person revokes creo at X: tokens and refresh both refused.
    platform.expire_access_tokens();
    platform.state.lock().unwrap().refresh_refused = true;
    approved(&server, &owner, "second", "After revocation").await;
    assert_eq!(publish_now(&server, &owner, "second", &[&x]).await.0, 200);
    let failed = settled(&server, &owner, "second").await;
    assert_eq!(failed["workflow"]["state"], "failed", "{failed}");
    let reason = delivery(&failed, &x)["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("reconnect"), "{reason}");
    let channel = channels(&server, &owner).await.pop().unwrap();
    assert_eq!(channel["status"], "needs_reconnect", "{channel}");
    let (_, inbox) = get(&server, "/api/v1/users/me/notifications", &owner.access).await;
    let kinds: Vec<&str> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"channel_needs_reconnect"), "{inbox}");

    // Nothing more is scheduled to it until it is reconnected.
    approved(&server, &owner, "third", "After reconnecting").await;
    let (s, v) = publish_now(&server, &owner, "third", &[&x]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("channel_unavailable")),
        "{v}"
    );
    platform.state.lock().unwrap().refresh_refused = false;
    let again = connect(
        &server,
        &owner,
        &platform,
        json!({ "platform": "x", "channel_id": x }),
    )
    .await;
    assert_eq!(again, x, "the same channel, reconnected");
    assert_eq!(channels(&server, &owner).await[0]["status"], "active");
    assert_eq!(publish_now(&server, &owner, "third", &[&x]).await.0, 200);
    assert_eq!(
        settled(&server, &owner, "third").await["workflow"]["state"],
        "published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_managers_connect_and_a_bad_or_declined_callback_connects_nothing() {
    let platform = Platform::start();
    // This server has no YouTube app.
    let env: Vec<(String, String)> = env(&platform)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("CREO_PLATFORMS__YOUTUBE__"))
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&env);
    let owner = register(&server, "owner@example.com").await;
    let editor = rest::member(&server, &owner, "editor@example.com", "editor").await;
    let (s, _) = post(
        &server,
        &format!("/api/v1/accounts/{}/channels/connect", owner.account_id),
        &editor.access,
        json!({ "platform": "x" }),
    )
    .await;
    assert_eq!(s, 403, "editors pick channels, they do not connect them");
    let (s, _) = post(
        &server,
        &format!("/api/v1/accounts/{}/channels", owner.account_id),
        &editor.access,
        json!({ "name": "CMS", "url": "http://127.0.0.1:9/x" }),
    )
    .await;
    assert_eq!(s, 403);
    let (s, v) = post(
        &server,
        &format!("/api/v1/accounts/{}/channels/connect", owner.account_id),
        &owner.access,
        json!({ "platform": "youtube" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("platform_unavailable")),
        "{v}"
    );

    let (s, _) = come_back(&server, "state=oauth_forged&code=code_1", "").await;
    assert_eq!(s, 400, "an unknown state");
    let (query, cookie) = authorize(&server, &owner, json!({ "platform": "x" })).await;
    let state = param(&query, "state").to_string();
    let (s, location) = come_back(
        &server,
        &format!("state={state}&error=access_denied"),
        &cookie,
    )
    .await;
    assert_eq!(s, 303);
    assert!(location.contains("channel_error="), "{location}");
    // A code the platform never issued (or one for another PKCE challenge) connects nothing.
    let (query, cookie) = authorize(&server, &owner, json!({ "platform": "x" })).await;
    let other = platform.approve("not-this-challenge");
    let (s, location) = come_back(
        &server,
        &format!("state={}&code={other}", param(&query, "state")),
        &cookie,
    )
    .await;
    assert_eq!(s, 303);
    assert!(location.contains("channel_error="), "{location}");
    // The owner sends the authorization link to someone else, who approves with their own
    // account: it comes back in another browser, without the cookie, and connects nothing.
    let (query, _owners_cookie) = authorize(&server, &owner, json!({ "platform": "x" })).await;
    let code = platform.approve(param(&query, "code_challenge"));
    let (s, location) = come_back(
        &server,
        &format!("state={}&code={code}", param(&query, "state")),
        "creo_oauth=ob_someone_elses",
    )
    .await;
    assert_eq!(s, 303);
    assert!(location.contains("another+browser"), "{location}");
    assert!(
        channels(&server, &editor).await.is_empty(),
        "nothing was connected"
    );

    // The editor sees the channels the owner connects, without their secrets.
    connect(&server, &owner, &platform, json!({ "platform": "x" })).await;
    let seen = channels(&server, &editor).await;
    assert_eq!(seen.len(), 1);
    assert!(seen[0].get("sealed_secret").is_none());
    let (s, _, _) = call(
        &server,
        Method::DELETE,
        &format!(
            "/api/v1/accounts/{}/channels/{}",
            owner.account_id,
            seen[0]["channel_id"].as_str().unwrap()
        ),
        Some(&editor.access),
        None,
    )
    .await;
    assert_eq!(s, 403, "only managers remove channels");
}

/// A post's metrics: X's counters polled after it went out, a webhook channel's reported by
/// the team's service (signed), both in the post's and the account's analytics; best times
/// from the account's own history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_polled_from_x_and_reported_by_webhook_and_add_up_per_account() {
    let platform = Platform::start();
    let mut env = env(&platform);
    env.push(("CREO_METRICS_POLL_FIRST_MS".into(), "200".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&env);
    let owner = register(&server, "owner@example.com").await;
    let x = connect(&server, &owner, &platform, json!({ "platform": "x" })).await;
    let site = receiver(|_| (200, Duration::ZERO)).await;
    let (_, hook) = post(
        &server,
        &format!("/api/v1/accounts/{}/channels", owner.account_id),
        &owner.access,
        json!({ "name": "Site", "url": site.url }),
    )
    .await;
    let (webhook, secret) = (
        hook["channel_id"].as_str().unwrap().to_string(),
        hook["secret"].as_str().unwrap().to_string(),
    );
    approved(&server, &owner, "launch", "Measured launch").await;
    assert_eq!(
        publish_now(&server, &owner, "launch", &[&x, &webhook])
            .await
            .0,
        200
    );
    assert_eq!(
        settled(&server, &owner, "launch").await["workflow"]["state"],
        "published"
    );

    // X is polled by itself (here 200 ms after publication, then 1.2 s…).
    let mut analytics = Value::Null;
    for _ in 0..100 {
        analytics = get(&server, "/api/v1/documents/launch/analytics", &owner.access)
            .await
            .1;
        let on_x = analytics["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["channel_id"] == x.as_str())
            .cloned();
        if on_x.is_some_and(|c| !c["metrics"].is_null()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_x = analytics["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel_id"] == x.as_str())
        .unwrap()
        .clone();
    assert_eq!(on_x["metrics"]["impressions"], 1000, "{analytics}");
    assert_eq!(
        on_x["metrics"]["engagements"],
        1 + 1 + 10 + 2,
        "likes, reposts, replies, bookmarks"
    );
    let polled = platform
        .state
        .lock()
        .unwrap()
        .seen
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/x/2/tweets/"))
        .count();
    assert!(polled >= 1);

    // The site reports its own numbers, signed with the channel's secret.
    let report = serde_json::to_vec(&json!({ "doc_id": "launch", "metrics": { "impressions": 500, "engagements": 50, "clicks": 20 } })).unwrap();
    let path = format!(
        "/api/v1/accounts/{}/channels/{webhook}/metrics",
        owner.account_id
    );
    let send = |signature: String| {
        crate::common::http()
            .post(server.url(&path))
            .header("Creo-Signature", signature)
            .header("Content-Type", "application/json")
            .body(report.clone())
            .send()
    };
    let now = chrono::Utc::now().timestamp();
    let forged = send(creo::billing::webhook::sign(
        b"not-the-secret",
        now,
        &report,
    ))
    .await
    .unwrap();
    assert_eq!(
        forged.status(),
        400,
        "a report not signed with the channel's secret"
    );
    let signed = send(creo::billing::webhook::sign(
        secret.as_bytes(),
        now,
        &report,
    ))
    .await
    .unwrap();
    assert_eq!(signed.status(), 202);
    let (_, analytics) = get(&server, "/api/v1/documents/launch/analytics", &owner.access).await;
    let on_site = analytics["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel_id"] == webhook.as_str())
        .unwrap()
        .clone();
    assert_eq!(on_site["metrics"]["clicks"], 20, "{analytics}");
    assert!(analytics["series"].as_array().unwrap().len() >= 2);

    let today = chrono::Utc::now();
    let window = format!(
        "from={}&to={}",
        (today - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        (today + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let (s, account) = get(
        &server,
        &format!("/api/v1/accounts/{}/analytics?{window}", owner.account_id),
        &owner.access,
    )
    .await;
    assert_eq!(s, 200, "{account}");
    assert_eq!(account["posts"], 1, "one post, on two channels");
    let impressions = account["totals"]["impressions"].as_u64().unwrap();
    assert!(impressions >= 1500, "X's and the site's: {account}");
    assert_eq!(account["by_channel"].as_array().unwrap().len(), 2);
    let (_, only_site) = get(
        &server,
        &format!(
            "/api/v1/accounts/{}/analytics?{window}&channel={webhook}",
            owner.account_id
        ),
        &owner.access,
    )
    .await;
    assert_eq!(only_site["totals"]["impressions"], 500);
    let other = register(&server, "other@example.com").await;
    let (_, theirs) = get(
        &server,
        &format!("/api/v1/accounts/{}/analytics?{window}", other.account_id),
        &other.access,
    )
    .await;
    assert_eq!(
        theirs["posts"], 0,
        "another account's analytics hold none of it"
    );
    assert_eq!(
        get(&server, "/api/v1/documents/launch/analytics", &other.access)
            .await
            .0,
        404
    );

    // Best times: the account's own history, seeded in its store (three Tuesdays at 09:00
    // Paris doing well, three Fridays at 17:00 doing badly).
    let store = creo::store::embedded::EmbeddedStore::open(&server.data, "normal").unwrap();
    use creo::store::MetricsStore;
    for (i, (at, engagements)) in [
        ("2026-11-10T08:00:00Z", 90),
        ("2026-11-17T08:10:00Z", 80),
        ("2026-11-24T08:20:00Z", 85),
        ("2026-11-13T16:00:00Z", 10),
        ("2026-11-20T16:00:00Z", 12),
        ("2026-11-27T16:00:00Z", 8),
    ]
    .into_iter()
    .enumerate()
    {
        let published_at = chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .timestamp_millis();
        store
            .put_sample(&creo::analytics::Sample {
                doc_id: format!("old-{i}"),
                account_id: owner.account_id.clone(),
                channel_id: webhook.clone(),
                platform: "webhook".into(),
                published_at,
                at: published_at + 86_400_000,
                metrics: creo::analytics::Metrics {
                    impressions: 1000,
                    engagements,
                    ..Default::default()
                },
                source: "webhook".into(),
            })
            .await
            .unwrap();
    }
    let (s, best) = get(
        &server,
        &format!(
            "/api/v1/accounts/{}/best-times?timezone=Europe/Paris",
            owner.account_id
        ),
        &owner.access,
    )
    .await;
    assert_eq!(s, 200, "{best}");
    let times = best["times"].as_array().unwrap();
    assert_eq!(times.len(), 1, "{best}");
    assert_eq!(
        (times[0]["day"].as_str(), times[0]["hour"].as_u64()),
        (Some("tue"), Some(9))
    );
    assert_eq!(times[0]["confidence"], "low", "three posts");
    assert!(best["method"]
        .as_str()
        .unwrap()
        .contains("engagements per impression"));
    let (s, _) = get(
        &server,
        &format!(
            "/api/v1/accounts/{}/best-times?timezone=Mars/Base",
            owner.account_id
        ),
        &owner.access,
    )
    .await;
    assert_eq!(s, 400);
}

/// Instagram's two steps: a media container for the image (waited for while it processes),
/// then media_publish; the short-lived token from the code swapped for a long-lived one first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instagram_post_goes_out_as_a_container_then_published_with_its_permalink() {
    let platform = Platform::start();
    let server = crate::channel_platforms::polling(&platform);
    let owner = register(&server, "owner@example.com").await;
    let ig = connect(
        &server,
        &owner,
        &platform,
        json!({ "platform": "instagram" }),
    )
    .await;
    let listed = channels(&server, &owner).await;
    assert_eq!(listed[0]["name"], "@creo.studio");
    assert_eq!(listed[0]["external_id"], IG_USER);

    // A post with an image at a public URL, as the editor's media list holds it.
    approved_with_media(
        &server,
        &owner,
        "photo",
        "Our new studio #design",
        &[(1080.0, 1080.0, "https://cdn.example.com/studio.jpg")],
    )
    .await;
    let (s, v) = publish_now(&server, &owner, "photo", &[&ig]).await;
    assert_eq!(s, 200, "{v}");
    let done = settled(&server, &owner, "photo").await;
    assert_eq!(done["workflow"]["state"], "published", "{done}");
    let on_ig = delivery(&done, &ig);
    assert!(
        on_ig["post_id"].as_str().unwrap().starts_with("1790000"),
        "{on_ig}"
    );
    assert_eq!(on_ig["permalink"], "https://www.instagram.com/p/C0ffee/");

    let containers = platform.requests(&format!("/instagram/{IG_USER}/media"));
    assert_eq!(containers.len(), 1);
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&containers[0].body)
            .into_owned()
            .collect();
    assert_eq!(form["image_url"], "https://cdn.example.com/studio.jpg");
    assert_eq!(form["caption"], "Our new studio #design");
    assert!(
        containers[0].headers["authorization"].starts_with("Bearer long_"),
        "the long-lived token"
    );
    let published = platform.requests(&format!("/instagram/{IG_USER}/media_publish"));
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&published[0].body)
            .into_owned()
            .collect();
    assert!(
        form["creation_id"].starts_with("c_"),
        "the container it made: {form:?}"
    );
    let metrics = crate::channel_platforms::polled(&server, &owner, "photo", &ig).await;
    assert_eq!(
        (
            &metrics["impressions"],
            &metrics["reach"],
            &metrics["engagements"]
        ),
        (&json!(800), &json!(500), &json!(40 + 3 + 2 + 5)),
        "views, reach, likes + comments + shares + saves: {metrics}"
    );

    // Text alone is no Instagram feed post: refused when it is scheduled, not when it fails.
    approved(&server, &owner, "words", "Only words").await;
    let (s, v) = publish_now(&server, &owner, "words", &[&ig]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("platform_checks")),
        "{v}"
    );
}
