//! A channel's posting queue over the real server: weekly slots in a time zone, "add to queue"
//! taking the next free slot, reordering the queue, and who may do what. Daylight-saving
//! changes are covered where the slots are computed (`creo_core::slots`).

use std::time::Duration;

use chrono::{Datelike, TimeZone, Timelike};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{Server, YClient};
use crate::receiver::receiver;
use crate::rest::{self, call, get, post, register, User};

async fn approved(server: &Server, owner: &User, id: &str) {
    let (s, v) = post(
        server,
        "/api/v1/documents",
        &owner.access,
        json!({ "id": id, "title": id }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let c = YClient::connect(&server.ws(id, &owner.access)).await;
    assert!(c.synced().await);
    c.append(&format!("Post {id}"));
    assert!(c.wait(5, |_| true).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
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

async fn put(server: &Server, path: &str, who: &User, body: Value) -> (u16, Value) {
    let (s, v, _) = call(server, Method::PUT, path, Some(&who.access), Some(body)).await;
    (s, v)
}

fn scheduled_at(view: &Value) -> i64 {
    view["workflow"]["scheduled_at"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_added_to_a_queue_take_its_next_free_slots_and_reordering_swaps_them() {
    let dest = receiver(|_| (200, Duration::ZERO)).await;
    let server = rest::start();
    let owner = register(&server, "owner@example.com").await;
    let editor = rest::member(&server, &owner, "editor@example.com", "editor").await;
    let viewer = rest::member(&server, &owner, "viewer@example.com", "viewer").await;
    let (s, ch) = post(
        &server,
        &format!("/api/v1/accounts/{}/channels", owner.account_id),
        &owner.access,
        json!({ "name": "Blog", "url": dest.url }),
    )
    .await;
    assert_eq!(s, 201, "{ch}");
    let channel = ch["channel_id"].as_str().unwrap().to_string();
    let base = format!("/api/v1/accounts/{}/channels/{channel}", owner.account_id);

    approved(&server, &owner, "p1").await;
    let (s, v) = post(
        &server,
        "/api/v1/documents/p1/workflow",
        &editor.access,
        json!({ "action": "schedule", "queue": channel }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("no_queue")),
        "no slots yet: {v}"
    );

    let schedule = json!({ "timezone": "Europe/Paris", "slots": [
        { "day": "tue", "time": "09:00" }, { "day": "thu", "time": "17:30" } ] });
    let (s, _) = put(
        &server,
        &format!("{base}/queue-schedule"),
        &editor,
        schedule.clone(),
    )
    .await;
    assert_eq!(s, 403, "editors use the queue, managers set it");
    let (s, v) = put(
        &server,
        &format!("{base}/queue-schedule"),
        &owner,
        json!({ "timezone": "Europe/Paris", "slots": [{ "day": "tue", "time": "25:00" }] }),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, q) = put(&server, &format!("{base}/queue-schedule"), &owner, schedule).await;
    assert_eq!(s, 200, "{q}");
    let paris = chrono_tz::Europe::Paris;
    for slot in q["slots"].as_array().unwrap().iter().take(6) {
        let local = paris
            .timestamp_millis_opt(slot["at"].as_i64().unwrap())
            .unwrap();
        let (day, hm) = (local.weekday(), (local.hour(), local.minute()));
        assert!(
            (day == chrono::Weekday::Tue && hm == (9, 0))
                || (day == chrono::Weekday::Thu && hm == (17, 30)),
            "every slot is on its local wall clock: {local}"
        );
    }

    // Added one after another, they take the slots in turn.
    approved(&server, &owner, "p2").await;
    approved(&server, &owner, "p3").await;
    let mut times = Vec::new();
    for id in ["p1", "p2", "p3"] {
        let (s, v) = post(
            &server,
            &format!("/api/v1/documents/{id}/workflow"),
            &editor.access,
            json!({ "action": "schedule", "queue": channel }),
        )
        .await;
        assert_eq!(s, 200, "{id}: {v}");
        assert_eq!(v["workflow"]["targets"][0]["channel_id"], channel.as_str());
        times.push(scheduled_at(&v));
    }
    let (_, q) = get(&server, &format!("{base}/queue"), &viewer.access).await;
    let slots = q["slots"].as_array().unwrap();
    let held: Vec<(i64, &str)> = slots[..3]
        .iter()
        .map(|s| {
            (
                s["at"].as_i64().unwrap(),
                s["doc_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        held,
        [(times[0], "p1"), (times[1], "p2"), (times[2], "p3")],
        "{q}"
    );
    assert!(slots[3]["doc_id"].is_null(), "the fourth slot is free");

    // Reordered: p3 first, then p1, then p2, in the same three slots.
    let (s, _) = put(
        &server,
        &format!("{base}/queue"),
        &viewer,
        json!({ "doc_ids": ["p3", "p1", "p2"] }),
    )
    .await;
    assert_eq!(s, 403, "viewers move nothing");
    let (s, v) = put(
        &server,
        &format!("{base}/queue"),
        &editor,
        json!({ "doc_ids": ["p3", "p1"] }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "all of them or none: {v}"
    );
    let (s, q) = put(
        &server,
        &format!("{base}/queue"),
        &editor,
        json!({ "doc_ids": ["p3", "p1", "p2"] }),
    )
    .await;
    assert_eq!(s, 200, "{q}");
    let order: Vec<&str> = q["slots"].as_array().unwrap()[..3]
        .iter()
        .map(|s| s["doc_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["p3", "p1", "p2"]);
    for (id, at) in [("p3", times[0]), ("p1", times[1]), ("p2", times[2])] {
        let (_, v) = get(
            &server,
            &format!("/api/v1/documents/{id}/workflow"),
            &owner.access,
        )
        .await;
        assert_eq!(scheduled_at(&v), at, "{id}");
        assert_eq!(v["workflow"]["state"], "scheduled");
    }
    let (_, v) = get(&server, "/api/v1/documents/p3/workflow", &owner.access).await;
    let last = v["transitions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["note"].as_str()),
        (Some("reschedule"), Some("queue reordered"))
    );

    // Taken out of the queue, its slot is free for the next post added.
    assert_eq!(
        post(
            &server,
            "/api/v1/documents/p1/workflow",
            &owner.access,
            json!({ "action": "unschedule" })
        )
        .await
        .0,
        200
    );
    approved(&server, &owner, "p4").await;
    let (s, v) = post(
        &server,
        "/api/v1/documents/p4/workflow",
        &editor.access,
        json!({ "action": "schedule", "queue": channel }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(scheduled_at(&v), times[1], "the slot p1 left");
}
