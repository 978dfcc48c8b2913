//! Facebook Pages, Pinterest, TikTok and YouTube against the local platform (`platform.rs`):
//! each connected through its own OAuth flavour, each post sent as the platform documents it
//! (a Page photo or an album, a pin on a board, a video TikTok pulls from its URL, a video
//! uploaded whole to YouTube), errors mapped to retry or failure, and metrics read back from
//! LinkedIn, Pinterest and YouTube.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::channels::{
    approved, approved_with_media, authorize, connect, delivery, env, param, publish_now, settled,
};
use crate::common::Server;
use crate::platform::{clip, Canned, Platform, BOARD, CLIENT_ID, FB_PAGE};
use crate::rest::{get, register, User};

/// A server that polls metrics 200 ms after a post went out (then 1.2 s, …).
pub(crate) fn polling(platform: &Platform) -> Server {
    let mut env = env(platform);
    env.push(("CREO_METRICS_POLL_FIRST_MS".into(), "200".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start_with(&env)
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The first metrics polled for `doc` on `channel` (waits up to 10 s).
pub(crate) async fn polled(server: &Server, owner: &User, doc: &str, channel: &str) -> Value {
    for _ in 0..200 {
        let (_, analytics) = get(
            server,
            &format!("/api/v1/documents/{doc}/analytics"),
            &owner.access,
        )
        .await;
        let on = analytics["channels"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["channel_id"] == channel).cloned());
        if let Some(on) = on.filter(|c| !c["metrics"].is_null()) {
            return on["metrics"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no metrics for {doc} on {channel}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_square_image_goes_to_a_facebook_page_and_a_pinterest_board_and_comes_back_measured() {
    let platform = Platform::start();
    let server = polling(&platform);
    let owner = register(&server, "owner@example.com").await;

    let (query, _) = authorize(&server, &owner, json!({ "platform": "pinterest" })).await;
    assert_eq!(
        param(&query, "scope"),
        "boards:read,pins:read,pins:write,user_accounts:read",
        "Pinterest separates scopes with commas"
    );
    let facebook = connect(
        &server,
        &owner,
        &platform,
        json!({ "platform": "facebook" }),
    )
    .await;
    let pinterest = connect(
        &server,
        &owner,
        &platform,
        json!({ "platform": "pinterest" }),
    )
    .await;
    let (_, listed) = get(
        &server,
        &format!("/api/v1/accounts/{}/channels", owner.account_id),
        &owner.access,
    )
    .await;
    let named = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["channel_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            named(&facebook)["name"].clone(),
            named(&facebook)["external_id"].clone()
        ),
        (json!("Creo Studio"), json!(FB_PAGE)),
        "the Page the person may post to, not the read-only one"
    );
    assert_eq!(named(&pinterest)["name"], "creostudio / Launches");
    assert_eq!(named(&pinterest)["external_id"], BOARD);

    let text = "Spring collection\nNew colours, same studio #spring";
    approved_with_media(
        &server,
        &owner,
        "square",
        text,
        &[(1200.0, 1200.0, "https://cdn.example.com/spring.jpg")],
    )
    .await;
    let (s, v) = publish_now(&server, &owner, "square", &[&facebook, &pinterest]).await;
    assert_eq!(s, 200, "{v}");
    let done = settled(&server, &owner, "square").await;
    assert_eq!(done["workflow"]["state"], "published", "{done}");

    let on_facebook = delivery(&done, &facebook);
    let post_id = on_facebook["post_id"].as_str().unwrap();
    assert!(post_id.starts_with(&format!("{FB_PAGE}_")), "{on_facebook}");
    assert_eq!(
        on_facebook["permalink"],
        format!("https://www.facebook.com/{post_id}")
    );
    let photos = platform.requests(&format!("/facebook/{FB_PAGE}/photos"));
    assert_eq!(photos.len(), 1);
    let sent = form(&photos[0].body);
    assert_eq!(sent["url"], "https://cdn.example.com/spring.jpg");
    assert_eq!(sent["message"], text);
    assert_eq!(
        photos[0].headers["authorization"], "Bearer page_studio",
        "posted with the Page's own token"
    );

    let on_pinterest = delivery(&done, &pinterest);
    let pin = on_pinterest["post_id"].as_str().unwrap();
    assert_eq!(
        on_pinterest["permalink"],
        format!("https://www.pinterest.com/pin/{pin}/")
    );
    let pins = platform.requests("/pinterest/v5/pins");
    assert_eq!(
        pins[0].json(),
        json!({
            "board_id": BOARD,
            "title": "Spring collection",
            "description": text,
            "media_source": { "source_type": "image_url", "url": "https://cdn.example.com/spring.jpg" },
        })
    );

    // Both are read back: Pinterest's pin analytics, Facebook's insights and counts.
    let metrics = polled(&server, &owner, "square", &pinterest).await;
    assert_eq!(metrics["impressions"], 500, "{metrics}");
    assert_eq!(metrics["engagements"], 3 + 7 + 2, "saves and clicks");
    assert_eq!(metrics["clicks"], 2, "clicks out to the link");
    let metrics = polled(&server, &owner, "square", &facebook).await;
    assert_eq!(
        (
            &metrics["impressions"],
            &metrics["reach"],
            &metrics["clicks"]
        ),
        (&json!(700), &json!(450), &json!(12)),
        "{metrics}"
    );
    assert_eq!(
        metrics["engagements"],
        25 + 4 + 3,
        "reactions, comments, shares"
    );

    // Two images make an album: each uploaded unpublished, then one post. A transient Graph
    // error on the first upload is tried again.
    platform.queue(Canned {
        status: 500,
        headers: vec![],
        body: json!({ "error": { "message": "Service temporarily unavailable", "code": 2, "is_transient": true } }),
    });
    approved_with_media(
        &server,
        &owner,
        "pair",
        "Before and after",
        &[
            (1080.0, 1080.0, "https://cdn.example.com/before.jpg"),
            (1080.0, 1080.0, "https://cdn.example.com/after.jpg"),
        ],
    )
    .await;
    assert_eq!(
        publish_now(&server, &owner, "pair", &[&facebook]).await.0,
        200
    );
    let done = settled(&server, &owner, "pair").await;
    assert_eq!(done["workflow"]["state"], "published", "{done}");
    let uploads: Vec<HashMap<String, String>> = platform
        .requests(&format!("/facebook/{FB_PAGE}/photos"))
        .iter()
        .skip(1)
        .map(|r| form(&r.body))
        .collect();
    assert_eq!(
        uploads.len(),
        3,
        "the refused upload, then both: {uploads:?}"
    );
    assert!(uploads[1..].iter().all(|u| u["published"] == "false"));
    let feed = platform.requests(&format!("/facebook/{FB_PAGE}/feed"));
    let album = form(&feed[0].body);
    assert_eq!(album["message"], "Before and after");
    let attached: Value = serde_json::from_str(&album["attached_media[1]"]).unwrap();
    assert!(attached["media_fbid"]
        .as_str()
        .unwrap()
        .starts_with("photo_"));

    // A pin Pinterest refuses fails with Pinterest's words, and is not sent again.
    platform.queue(Canned {
        status: 404,
        headers: vec![],
        body: json!({ "code": 2, "message": "Board not found." }),
    });
    approved_with_media(
        &server,
        &owner,
        "lost",
        "Nowhere to go",
        &[(1000.0, 1500.0, "https://cdn.example.com/tall.jpg")],
    )
    .await;
    assert_eq!(
        publish_now(&server, &owner, "lost", &[&pinterest]).await.0,
        200
    );
    let done = settled(&server, &owner, "lost").await;
    let on_pinterest = delivery(&done, &pinterest);
    assert_eq!(on_pinterest["state"], "failed", "{done}");
    assert!(
        on_pinterest["reason"]
            .as_str()
            .unwrap()
            .contains("Board not found."),
        "{on_pinterest}"
    );
    assert_eq!(platform.requests("/pinterest/v5/pins").len(), 2);

    // LinkedIn's numbers come from its Member Post Analytics API, one metric type a call.
    let linkedin = connect(
        &server,
        &owner,
        &platform,
        json!({ "platform": "linkedin" }),
    )
    .await;
    approved(&server, &owner, "note", "A note for LinkedIn").await;
    assert_eq!(
        publish_now(&server, &owner, "note", &[&linkedin]).await.0,
        200
    );
    assert_eq!(
        settled(&server, &owner, "note").await["workflow"]["state"],
        "published"
    );
    let metrics = polled(&server, &owner, "note", &linkedin).await;
    assert_eq!(
        (
            &metrics["impressions"],
            &metrics["reach"],
            &metrics["engagements"]
        ),
        (&json!(900), &json!(600), &json!(30 + 4 + 2)),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vertical_video_is_pulled_by_tiktok_and_uploaded_whole_to_youtube() {
    let platform = Platform::start();
    // Tokens that expire within the refresh margin: each is renewed before the post goes out.
    platform.state.lock().unwrap().expires_in = 60;
    let server = polling(&platform);
    let owner = register(&server, "owner@example.com").await;

    let (query, _) = authorize(&server, &owner, json!({ "platform": "tiktok" })).await;
    assert_eq!(
        param(&query, "client_key"),
        CLIENT_ID,
        "TikTok's name for the client"
    );
    assert_eq!(
        param(&query, "scope"),
        "user.info.basic,video.publish,video.list"
    );
    let (query, _) = authorize(&server, &owner, json!({ "platform": "youtube" })).await;
    assert_eq!(
        param(&query, "access_type"),
        "offline",
        "or Google sends no refresh token"
    );
    let tiktok = connect(&server, &owner, &platform, json!({ "platform": "tiktok" })).await;
    let youtube = connect(&server, &owner, &platform, json!({ "platform": "youtube" })).await;

    let video = format!("{}/media/clip.mp4", platform.url);
    let text = "Behind the scenes\nHow we shoot a launch #bts";
    approved_with_media(&server, &owner, "clip", text, &[(1080.0, 1920.0, &video)]).await;
    let (s, v) = publish_now(&server, &owner, "clip", &[&tiktok, &youtube]).await;
    assert_eq!(s, 200, "{v}");
    let done = settled(&server, &owner, "clip").await;
    assert_eq!(done["workflow"]["state"], "published", "{done}");

    let on_tiktok = delivery(&done, &tiktok);
    assert_eq!(on_tiktok["post_id"], "7390000000000000000", "{on_tiktok}");
    assert_eq!(
        on_tiktok["permalink"],
        "https://www.tiktok.com/@creo.studio/video/7390000000000000000"
    );
    let init = platform.requests("/tiktok/v2/post/publish/video/init/");
    assert_eq!(init.len(), 1);
    let sent = init[0].json();
    assert_eq!(
        sent["source_info"],
        json!({ "source": "PULL_FROM_URL", "video_url": video })
    );
    assert_eq!(sent["post_info"]["title"], text);
    assert_eq!(sent["post_info"]["privacy_level"], "PUBLIC_TO_EVERYONE");

    let on_youtube = delivery(&done, &youtube);
    let id = on_youtube["post_id"].as_str().unwrap();
    assert_eq!(
        on_youtube["permalink"],
        format!("https://www.youtube.com/watch?v={id}")
    );
    let started = platform.requests("/youtube/upload/youtube/v3/videos");
    assert_eq!(started[0].json()["snippet"]["title"], "Behind the scenes");
    assert_eq!(started[0].json()["snippet"]["description"], text);
    assert_eq!(started[0].headers["x-upload-content-type"], "video/mp4");
    assert_eq!(
        started[0].headers["x-upload-content-length"],
        clip().len().to_string()
    );
    let seen = platform.state.lock().unwrap().seen.clone();
    let put: Vec<_> = seen.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(put.len(), 1);
    assert!(
        put[0].body == clip(),
        "the video's bytes, whole and unchanged"
    );

    // Both tokens were renewed first: TikTok's through its own refresh (client_key).
    let refreshed = |path: &str, client: &str| {
        seen.iter()
            .filter(|r| r.path == path)
            .map(|r| form(&r.body))
            .filter(|f| f.get("grant_type").map(String::as_str) == Some("refresh_token"))
            .filter(|f| client.is_empty() || f.get(client).map(String::as_str) == Some(CLIENT_ID))
            .count()
    };
    assert!(refreshed("/tiktok/v2/oauth/token/", "client_key") >= 1);
    assert!(refreshed("/youtube/token", "client_id") >= 1);

    let metrics = polled(&server, &owner, "clip", &youtube).await;
    assert_eq!(metrics["impressions"], 1200, "views: {metrics}");
    assert_eq!(metrics["engagements"], 40 + 5, "likes and comments");
    let metrics = polled(&server, &owner, "clip", &tiktok).await;
    assert_eq!(metrics["impressions"], 5000, "views: {metrics}");
    assert_eq!(
        metrics["engagements"],
        300 + 20 + 10,
        "likes, comments, shares"
    );

    // Two videos are no TikTok post: refused before TikTok is asked anything.
    approved_with_media(
        &server,
        &owner,
        "two",
        "Two clips",
        &[(1080.0, 1920.0, &video), (1080.0, 1920.0, &video)],
    )
    .await;
    assert_eq!(publish_now(&server, &owner, "two", &[&tiktok]).await.0, 200);
    let done = settled(&server, &owner, "two").await;
    let on_tiktok = delivery(&done, &tiktok);
    assert_eq!(on_tiktok["state"], "failed", "{done}");
    assert!(on_tiktok["reason"].as_str().unwrap().contains("one video"));
    assert_eq!(
        platform
            .requests("/tiktok/v2/post/publish/video/init/")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_uploaded_to_x_and_linkedin_before_the_post_names_them() {
    let platform = Platform::start();
    let server = crate::channels::start(&platform);
    let owner = register(&server, "owner@example.com").await;
    let x = connect(&server, &owner, &platform, json!({ "platform": "x" })).await;
    let linkedin = connect(
        &server,
        &owner,
        &platform,
        json!({ "platform": "linkedin" }),
    )
    .await;

    let image = format!("{}/media/photo.jpg", platform.url);
    approved_with_media(
        &server,
        &owner,
        "pair",
        "Two looks #studio",
        &[(1200.0, 1200.0, &image), (1200.0, 1200.0, &image)],
    )
    .await;
    assert_eq!(
        publish_now(&server, &owner, "pair", &[&x, &linkedin])
            .await
            .0,
        200
    );
    let done = settled(&server, &owner, "pair").await;
    assert_eq!(done["workflow"]["state"], "published", "{done}");
    assert_eq!(delivery(&done, &x)["state"], "published");
    assert_eq!(delivery(&done, &linkedin)["state"], "published");

    let uploads = platform.requests("/x/2/media/upload");
    assert_eq!(uploads.len(), 2, "one upload per image");
    let tweet = platform.requests("/x/2/tweets").pop().unwrap().json();
    let ids = tweet["media"]["media_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 2, "{tweet}");
    assert_eq!(tweet["text"], "Two looks #studio");

    let started = platform.requests("/linkedin/rest/images");
    assert_eq!(started.len(), 2);
    let seen = platform.state.lock().unwrap().seen.clone();
    let puts: Vec<_> = seen
        .iter()
        .filter(|r| r.method == "PUT" && r.path.starts_with("/linkedin/dms-uploads/"))
        .collect();
    assert_eq!(puts.len(), 2);
    assert!(
        puts.iter().all(|p| p.body == crate::platform::photo()),
        "the image's bytes"
    );
    let share = platform
        .requests("/linkedin/rest/posts")
        .pop()
        .unwrap()
        .json();
    let images = share["content"]["multiImage"]["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{share}");
    assert!(images[0]["id"]
        .as_str()
        .unwrap()
        .starts_with("urn:li:image:"));

    // A medium at an internal address is never fetched: the post fails there, nothing is sent.
    approved_with_media(
        &server,
        &owner,
        "inside",
        "Look inside",
        &[(
            1200.0,
            1200.0,
            "http://169.254.169.254/latest/meta-data/photo.jpg",
        )],
    )
    .await;
    assert_eq!(publish_now(&server, &owner, "inside", &[&x]).await.0, 200);
    let done = settled(&server, &owner, "inside").await;
    let on_x = delivery(&done, &x);
    assert_eq!(on_x["state"], "failed", "{done}");
    assert!(
        on_x["reason"].as_str().unwrap().contains("not allowed"),
        "{on_x}"
    );
    assert_eq!(platform.requests("/x/2/media/upload").len(), 2);
    assert_eq!(platform.requests("/x/2/tweets").len(), 1);

    // X takes images from creo, not videos: refused before anything is uploaded.
    let video = format!("{}/media/clip.mp4", platform.url);
    approved_with_media(
        &server,
        &owner,
        "moving",
        "In motion",
        &[(1200.0, 1200.0, &video)],
    )
    .await;
    assert_eq!(publish_now(&server, &owner, "moving", &[&x]).await.0, 200);
    let done = settled(&server, &owner, "moving").await;
    let on_x = delivery(&done, &x);
    assert_eq!(on_x["state"], "failed", "{done}");
    assert!(
        on_x["reason"].as_str().unwrap().contains("video/mp4"),
        "{on_x}"
    );
    assert_eq!(platform.requests("/x/2/media/upload").len(), 2);
}
