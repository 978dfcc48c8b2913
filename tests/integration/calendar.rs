//! The publishing calendar over the real server: what a window holds (scheduled, published and
//! failed posts, by time, with titles), the channel filter, a post rescheduled into another
//! month, roles on moving, and accounts that never see each other's posts.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{Server, YClient};
use crate::receiver::receiver;
use crate::rest::{self, get, post, register, User};

async fn post_ready(server: &Server, owner: &User, id: &str, title: &str) {
    let (s, v) = post(
        server,
        "/api/v1/documents",
        &owner.access,
        json!({ "id": id, "title": title }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let c = YClient::connect(&server.ws(id, &owner.access)).await;
    assert!(c.synced().await);
    c.append(&format!("{title}: details inside."));
    assert!(c.wait(5, |_| true).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for action in ["submit", "approve"] {
        let (s, v) = act(server, owner, id, json!({ "action": action })).await;
        assert_eq!(s, 200, "{action}: {v}");
    }
}

async fn act(server: &Server, who: &User, id: &str, body: Value) -> (u16, Value) {
    post(
        server,
        &format!("/api/v1/documents/{id}/workflow"),
        &who.access,
        body,
    )
    .await
}

async fn webhook_channel(server: &Server, owner: &User, name: &str, url: &str) -> String {
    let (s, v) = post(
        server,
        &format!("/api/v1/accounts/{}/channels", owner.account_id),
        &owner.access,
        json!({ "name": name, "url": url }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["channel_id"].as_str().unwrap().to_string()
}

async fn calendar(server: &Server, who: &User, query: &str) -> (u16, Value) {
    get(
        server,
        &format!("/api/v1/accounts/{}/calendar?{query}", who.account_id),
        &who.access,
    )
    .await
}

fn ids(calendar: &Value) -> Vec<&str> {
    calendar["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["doc_id"].as_str().unwrap())
        .collect()
}

const DECEMBER: &str = "from=2030-12-01T00:00:00%2B01:00&to=2031-01-01T00:00:00%2B01:00";
const JANUARY: &str = "from=2031-01-01T00:00:00%2B01:00&to=2031-02-01T00:00:00%2B01:00";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_shows_an_accounts_posts_by_time_and_follows_a_reschedule() {
    let dest = receiver(|_| (200, Duration::ZERO)).await;
    let server = rest::start();
    let owner = register(&server, "owner@example.com").await;
    let (a, b) = (
        webhook_channel(&server, &owner, "Site", &dest.url).await,
        webhook_channel(&server, &owner, "Shop", &dest.url).await,
    );
    for (id, title, at, channel) in [
        ("dec20", "Winter sale", "2030-12-20T09:00:00", &b),
        ("dec5", "Advent", "2030-12-05T09:00:00", &a),
        ("jan3", "New year", "2031-01-03T09:00:00", &a),
    ] {
        post_ready(&server, &owner, id, title).await;
        let (s, v) = act(
            &server,
            &owner,
            id,
            json!({ "action": "schedule", "at": at, "timezone": "Europe/Paris", "targets": [{ "channel_id": channel }] }),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, w) = get(&server, "/api/v1/documents/dec5/workflow", &owner.access).await;
    assert_eq!(
        (
            w["deliveries"][0]["channel_id"].as_str(),
            w["deliveries"][0]["state"].as_str()
        ),
        (Some(a.as_str()), Some("queued")),
        "each channel shows as queued until its time: {w}"
    );
    let (s, december) = calendar(&server, &owner, DECEMBER).await;
    assert_eq!(s, 200, "{december}");
    assert_eq!(ids(&december), ["dec5", "dec20"], "by time: {december}");
    let first = &december["entries"][0];
    assert_eq!(
        (
            first["title"].as_str(),
            first["state"].as_str(),
            first["timezone"].as_str()
        ),
        (Some("Advent"), Some("scheduled"), Some("Europe/Paris"))
    );
    assert_eq!(
        first["scheduled_at"], 1_922_688_000_000_i64,
        "09:00 in Paris is 08:00 UTC"
    );
    let (_, on_shop) = calendar(&server, &owner, &format!("{DECEMBER}&channel={b}")).await;
    assert_eq!(ids(&on_shop), ["dec20"]);

    // Moved into January: it leaves December's calendar and joins January's.
    let editor = rest::member(&server, &owner, "editor@example.com", "editor").await;
    let viewer = rest::member(&server, &owner, "viewer@example.com", "viewer").await;
    let later =
        json!({ "action": "reschedule", "at": "2031-01-10T18:30:00", "timezone": "Europe/Paris" });
    let (s, _) = act(&server, &viewer, "dec20", later.clone()).await;
    assert_eq!(s, 403, "viewers move nothing");
    let (s, v) = act(&server, &editor, "dec20", later).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["workflow"]["targets"][0]["channel_id"], b,
        "its channels go with it"
    );
    assert_eq!(ids(&calendar(&server, &owner, DECEMBER).await.1), ["dec5"]);
    assert_eq!(
        ids(&calendar(&server, &viewer, JANUARY).await.1),
        ["jan3", "dec20"]
    );

    // Unscheduled: off the calendar. Published: on it at its time.
    assert_eq!(
        act(&server, &owner, "jan3", json!({ "action": "unschedule" }))
            .await
            .0,
        200
    );
    assert_eq!(ids(&calendar(&server, &owner, JANUARY).await.1), ["dec20"]);
    post_ready(&server, &owner, "now", "Right now").await;
    let (s, v) = act(
        &server,
        &owner,
        "now",
        json!({ "action": "publish_now", "targets": [{ "channel_id": a }] }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let today = chrono::Utc::now();
    let window = format!(
        "from={}&to={}",
        (today - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        (today + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ")
    );
    let mut published = Value::Null;
    for _ in 0..100 {
        published = calendar(&server, &owner, &window).await.1;
        if published["entries"][0]["state"] == "published" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ids(&published), ["now"]);
    assert_eq!(published["entries"][0]["state"], "published", "{published}");

    // Another account: its own calendar is empty, and this one is not theirs to read.
    let other = register(&server, "other@example.com").await;
    assert!(ids(&calendar(&server, &other, DECEMBER).await.1).is_empty());
    let (s, _) = get(
        &server,
        &format!("/api/v1/accounts/{}/calendar?{DECEMBER}", owner.account_id),
        &other.access,
    )
    .await;
    assert_eq!(s, 403);
    let (s, v) = calendar(
        &server,
        &owner,
        "from=2030-01-01T00:00:00Z&to=2031-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_time")),
        "a year at once: {v}"
    );
    let (s, _) = calendar(&server, &owner, "from=yesterday&to=today").await;
    assert_eq!(s, 400);
}
