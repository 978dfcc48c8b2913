//! The document lifecycle: the approval role matrix, required approvals per account, scheduling
//! in a time zone, transitions recorded with actor and time, editors told live, and two people
//! acting at once.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::YClient;
use crate::rest::{self, call, get, member, post, register};

async fn act(server: &crate::common::Server, token: &str, doc: &str, body: Value) -> (u16, Value) {
    post(
        server,
        &format!("/api/v1/documents/{doc}/workflow"),
        token,
        body,
    )
    .await
}

#[tokio::test]
async fn a_post_goes_from_draft_through_two_approvals_to_scheduled() {
    let server = rest::start();
    let owner = register(&server, "owner@example.com").await;
    // Four members need more seats than the free tier's three.
    let team = json!({ "id": "evt_team", "type": "subscription.created",
        "data": { "account_id": owner.account_id, "tier": "team" } });
    assert_eq!(
        rest::webhook(&server, team, rest::WEBHOOK_SECRET, 0)
            .await
            .0,
        200
    );
    let admin = member(&server, &owner, "admin@example.com", "admin").await;
    let editor = member(&server, &owner, "ed@example.com", "editor").await;
    let viewer = member(&server, &owner, "vi@example.com", "viewer").await;
    let settings = format!("/api/v1/accounts/{}/workflow-settings", owner.account_id);
    let (s, _, _) = call(
        &server,
        Method::PUT,
        &settings,
        Some(&editor.access),
        Some(json!({ "required_approvals": 2 })),
    )
    .await;
    assert_eq!(s, 403, "editors do not set the rules");
    let (s, _, _) = call(
        &server,
        Method::PUT,
        &settings,
        Some(&owner.access),
        Some(json!({ "required_approvals": 2 })),
    )
    .await;
    assert_eq!(s, 200);

    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &editor.access,
            json!({ "id": "launch" })
        )
        .await
        .0,
        201
    );
    let watcher_url = format!("{}&events=1", server.ws("launch", &viewer.access));
    let watcher = YClient::connect(&watcher_url).await;
    assert!(watcher.synced().await);

    assert_eq!(
        act(
            &server,
            &viewer.access,
            "launch",
            json!({ "action": "submit" })
        )
        .await
        .0,
        403,
        "viewers move nothing"
    );
    let (s, v) = act(
        &server,
        &editor.access,
        "launch",
        json!({ "action": "submit", "note": "ready" }),
    )
    .await;
    assert_eq!(
        (s, v["workflow"]["state"].as_str()),
        (200, Some("in_review")),
        "{v}"
    );
    assert_eq!(
        act(
            &server,
            &editor.access,
            "launch",
            json!({ "action": "approve" })
        )
        .await
        .0,
        403,
        "editors do not approve"
    );
    let (_, v) = act(
        &server,
        &admin.access,
        "launch",
        json!({ "action": "approve" }),
    )
    .await;
    assert_eq!(v["workflow"]["state"], "in_review", "one of two approvals");
    let (s, v) = act(
        &server,
        &admin.access,
        "launch",
        json!({ "action": "approve" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("invalid_transition")),
        "the same approver twice: {v}"
    );
    let (_, v) = act(
        &server,
        &owner.access,
        "launch",
        json!({ "action": "approve" }),
    )
    .await;
    assert_eq!(v["workflow"]["state"], "approved");

    // An empty post cannot be scheduled; nor can one too long for X, or an Instagram story
    // without a picture: each platform's limits are checked at once.
    let at =
        json!({ "action": "schedule", "at": "2030-12-01T09:00:00", "timezone": "Europe/Paris" });
    let with = |targets: Value| {
        let mut body = at.clone();
        body["targets"] = targets;
        body
    };
    let (s, v) = act(&server, &editor.access, "launch", at.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("platform_checks")),
        "{v}"
    );
    let long = "A launch post that says a lot. ".repeat(10);
    let update = crate::common::text_update(&format!("{long}#launch #news"));
    let written = crate::common::post_update(&server, &editor.access, "launch", update).await;
    assert!(written.status().is_success());
    for (targets, problem) in [
        (
            json!([{ "platform": "x" }]),
            "x: the post has 323 characters; the limit is 280",
        ),
        (
            json!([{ "platform": "instagram", "format": "story" }]),
            "instagram story: needs an image or a video",
        ),
        (json!([{ "platform": "myspace" }]), "unknown platform"),
    ] {
        let (s, v) = act(&server, &editor.access, "launch", with(targets)).await;
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            (s == 422 || s == 400) && message.contains(problem),
            "{s} {v}"
        );
    }
    // 09:00 in Paris on 1 December 2030 is 08:00 UTC (winter time).
    let targets = json!([{ "platform": "linkedin" }, { "platform": "facebook", "format": "feed" }]);
    let (s, v) = act(&server, &editor.access, "launch", with(targets.clone())).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["workflow"]["targets"][1]["platform"], "facebook");
    assert_eq!(v["workflow"]["state"], "scheduled");
    assert_eq!(
        v["workflow"]["scheduled_at"].as_i64(),
        Some(1_922_342_400_000)
    );
    let (s, v) = act(
        &server,
        &editor.access,
        "launch",
        json!({ "action": "schedule", "at": "2030-12-01T09:00:00", "timezone": "Mars/Olympus" }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_timezone"))
    );

    let (_, v) = get(&server, "/api/v1/documents/launch/workflow", &viewer.access).await;
    let history: Vec<(String, String)> = v["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["to"].as_str().unwrap().to_string(),
                t["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![
            ("in_review".into(), editor.user_id.clone()),
            ("in_review".into(), admin.user_id.clone()),
            ("approved".into(), owner.user_id.clone()),
            ("scheduled".into(), editor.user_id.clone()),
        ]
    );
    assert!(v["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["at"].as_i64().unwrap() > 0));
    assert!(
        watcher
            .wait(5, |c| c.seen.lock().unwrap().events.len() == 4)
            .await,
        "every transition reached the socket live"
    );
    let last = watcher.seen.lock().unwrap().events.last().cloned().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["workflow"]["state"].as_str()),
        (Some("workflow"), Some("scheduled"))
    );

    // Another account's token sees none of it.
    let stranger = register(&server, "x@example.com").await;
    assert_eq!(
        get(
            &server,
            "/api/v1/documents/launch/workflow",
            &stranger.access
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn two_approvers_at_once_move_the_document_once() {
    let server = rest::start();
    let owner = register(&server, "owner@example.com").await;
    let admins = [
        member(&server, &owner, "a1@example.com", "admin").await,
        member(&server, &owner, "a2@example.com", "admin").await,
    ];
    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &owner.access,
            json!({ "id": "race" })
        )
        .await
        .0,
        201
    );
    assert_eq!(
        act(
            &server,
            &owner.access,
            "race",
            json!({ "action": "submit" })
        )
        .await
        .0,
        200
    );
    // Required approvals is 1: one approves, the other finds it approved already; and a
    // simultaneous request for changes either comes first or finds it approved.
    let answers = join_all([
        act(
            &server,
            &admins[0].access,
            "race",
            json!({ "action": "approve" }),
        ),
        act(
            &server,
            &admins[1].access,
            "race",
            json!({ "action": "request_changes" }),
        ),
    ])
    .await;
    let ok: Vec<_> = answers.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(ok.len(), 1, "exactly one of them moved it: {answers:?}");
    let (_, v) = get(&server, "/api/v1/documents/race/workflow", &owner.access).await;
    assert_eq!(v["transitions"].as_array().unwrap().len(), 2);
}

/// A repeating post: published now, then scheduled again by creo for its next occurrence at
/// the same local time, with the same targets; a rule that has run out stops; rules outside
/// the subset are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeating_post_is_scheduled_again_after_it_goes_out_until_its_rule_ends() {
    let dest = crate::receiver::receiver(|_| (200, std::time::Duration::ZERO)).await;
    let mut env = rest::billing_env();
    env.push(("CREO_PUBLISH_WEBHOOK_URL", &dest.url));
    let server = crate::common::Server::start_with(&env);
    let owner = register(&server, "owner@example.com").await;
    for (id, rule) in [
        ("daily", "FREQ=DAILY;COUNT=3"),
        ("once", "FREQ=WEEKLY;COUNT=1"),
    ] {
        let (s, v) = post(
            &server,
            "/api/v1/documents",
            &owner.access,
            json!({ "id": id }),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let c = YClient::connect(&server.ws(id, &owner.access)).await;
        assert!(c.synced().await);
        c.append("Good morning, every morning");
        assert!(c.wait(5, |_| true).await);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        for action in ["submit", "approve"] {
            assert_eq!(
                act(&server, &owner.access, id, json!({ "action": action }))
                    .await
                    .0,
                200
            );
        }
        let (s, v) = act(
            &server,
            &owner.access,
            id,
            json!({ "action": "publish_now", "repeat": "FREQ=HOURLY" }),
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("invalid_repeat")),
            "{v}"
        );
        let asked = creo::store::now_ms();
        let (s, v) = act(
            &server,
            &owner.access,
            id,
            json!({ "action": "publish_now", "timezone": "Europe/Paris", "repeat": rule }),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let mut w = Value::Null;
        for _ in 0..200 {
            w = get(
                &server,
                &format!("/api/v1/documents/{id}/workflow"),
                &owner.access,
            )
            .await
            .1;
            let actions: Vec<&str> = w["transitions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["action"].as_str().unwrap())
                .collect();
            if actions.contains(&"publish") && (id == "once" || actions.contains(&"repeat")) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let actions: Vec<&str> = w["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["action"].as_str().unwrap())
            .collect();
        if id == "daily" {
            assert_eq!(
                actions,
                ["submit", "approve", "publish_now", "publish", "repeat"],
                "{w}"
            );
            assert_eq!(w["workflow"]["state"], "scheduled", "{w}");
            let next = w["workflow"]["scheduled_at"].as_i64().unwrap();
            let day = 86_400_000;
            assert!(
                (next - asked - day).abs() < 5_000,
                "a day after the first: {}",
                next - asked
            );
            assert_eq!(w["workflow"]["timezone"], "Europe/Paris");
            let note = w["transitions"].as_array().unwrap().last().unwrap()["note"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(
                note.contains("occurrence 2 of FREQ=DAILY;COUNT=3"),
                "{note}"
            );
        } else {
            assert_eq!(
                actions,
                ["submit", "approve", "publish_now", "publish"],
                "COUNT=1: once only: {w}"
            );
            assert_eq!(w["workflow"]["state"], "published");
        }
    }
    assert_eq!(dest.got.lock().unwrap().len(), 2, "each went out once, now");

    // A viewer's refused schedule with a rule starts no repetition of a post scheduled once.
    let viewer = member(&server, &owner, "viewer@example.com", "viewer").await;
    let (s, _) = post(
        &server,
        "/api/v1/documents",
        &owner.access,
        json!({ "id": "single" }),
    )
    .await;
    assert_eq!(s, 201);
    let c = YClient::connect(&server.ws("single", &owner.access)).await;
    assert!(c.synced().await);
    c.append("Just once");
    assert!(c.wait(5, |_| true).await);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for action in ["submit", "approve"] {
        assert_eq!(
            act(
                &server,
                &owner.access,
                "single",
                json!({ "action": action })
            )
            .await
            .0,
            200
        );
    }
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let once = json!({ "action": "schedule", "at": at, "timezone": "UTC" });
    assert_eq!(act(&server, &owner.access, "single", once).await.0, 200);
    let sneaky =
        json!({ "action": "schedule", "at": at, "timezone": "UTC", "repeat": "FREQ=DAILY" });
    assert_eq!(act(&server, &viewer.access, "single", sneaky).await.0, 403);
    for _ in 0..100 {
        let (_, w) = get(&server, "/api/v1/documents/single/workflow", &owner.access).await;
        if w["workflow"]["state"] == "published" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, w) = get(&server, "/api/v1/documents/single/workflow", &owner.access).await;
    assert_eq!(w["workflow"]["state"], "published", "not repeated: {w}");
}
