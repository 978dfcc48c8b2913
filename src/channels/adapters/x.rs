//! X (API v2). Publishing is `POST /2/tweets` with `{"text": …}` and the user's OAuth 2.0
//! token (scope `tweet.write`); the answer is `201 {"data": {"id", "text"}}`. Rate limits come
//! back as 429 with `x-rate-limit-reset` (Unix seconds). Errors carry `detail` or `title`.
//! Who the token is: `GET /2/users/me` → `{"data": {"id", "username"}}`. How a post did:
//! `GET /2/tweets/:id?tweet.fields=public_metrics` → `impression_count`, and the likes,
//! reposts, replies, quotes and bookmarks that make up its engagements.
//!
//! Images go to X first: each fetched from its URL (at most 5 MB, X's limit) and sent to
//! `POST /2/media/upload` as `multipart/form-data` (`media`, `media_category=tweet_image`;
//! scope `media.write`), answered with `{"data": {"id"}}`; the post then names them in
//! `media.media_ids` (at most four). Videos are not uploaded to X yet: such a post is refused
//! rather than published without them.

use std::time::Duration;

use super::{failure, get, header, send, Answer, Publish};
use crate::outbound::Outbound;

/// X's limits on a post's images.
const MAX_IMAGES: usize = 4;
const MAX_IMAGE_BYTES: u64 = 5 << 20;
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/gif"];

pub async fn publish(p: Publish<'_>) -> Answer {
    let media_ids = match upload_images(&p).await {
        Ok(ids) => ids,
        Err(answer) => return answer,
    };
    let mut body = serde_json::json!({ "text": p.post.text });
    if !media_ids.is_empty() {
        body["media"] = serde_json::json!({ "media_ids": media_ids });
    }
    let request = p
        .outbound
        .post(&format!("{}/2/tweets", p.api_url))
        .map(|r| r.bearer_auth(p.token).json(&body));
    let reply = match send(request).await {
        Ok(reply) => reply,
        Err(answer) => return answer,
    };
    if reply.status == 201 || reply.status == 200 {
        return match reply.body["data"]["id"].as_str() {
            Some(id) => Answer::Published {
                post_id: id.to_string(),
                permalink: Some(format!("https://x.com/i/web/status/{id}")),
            },
            // It may be out: trying again could post it twice.
            None => Answer::Refused(
                "x accepted the post but gave no id; not sent again, check the account".into(),
            ),
        };
    }
    let message = reply.body["detail"]
        .as_str()
        .or_else(|| reply.body["title"].as_str());
    failure("x", &reply, message, reset(&reply))
}

/// Each of the post's images uploaded to X: their media ids, in order. An upload that is never
/// used costs nothing (X drops it within a day), so a retry simply uploads again.
async fn upload_images(p: &Publish<'_>) -> Result<Vec<String>, Answer> {
    let mut ids = Vec::new();
    for url in super::media_urls(p.post, "x", MAX_IMAGES)? {
        let image = super::fetch(p.outbound, url, MAX_IMAGE_BYTES, UPLOAD_TIMEOUT).await?;
        let kind = super::media_type(&image);
        if !IMAGE_TYPES.contains(&kind.as_str()) {
            return Err(Answer::Refused(format!(
                "creo uploads JPEG, PNG, WebP and GIF images to x, not {kind}"
            )));
        }
        let bytes = crate::outbound::Outbound::bounded_body(image, MAX_IMAGE_BYTES as usize)
            .await
            .map_err(|e| Answer::Retry {
                reason: format!("the image could not be read: {e}"),
                wait: None,
            })?;
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("image")
            .mime_str(&kind)
            .map_err(|e| Answer::Refused(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .text("media_category", "tweet_image")
            .part("media", part);
        let request = p
            .outbound
            .post(&format!("{}/2/media/upload", p.api_url))
            .map(|r| r.bearer_auth(p.token).multipart(form));
        let reply = send(request).await?;
        match reply.body["data"]["id"].as_str() {
            Some(id) if reply.status == 200 || reply.status == 201 => ids.push(id.to_string()),
            _ if reply.status == 200 || reply.status == 201 => {
                return Err(Answer::Retry {
                    reason: "x answered an upload without a media id".into(),
                    wait: None,
                })
            }
            _ => {
                let message = reply.body["detail"]
                    .as_str()
                    .or_else(|| reply.body["title"].as_str());
                return Err(failure("x", &reply, message, reset(&reply)));
            }
        }
    }
    Ok(ids)
}

/// How long fetching and sending one image may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// `x-rate-limit-reset`: when the window opens again, as a wait from now.
fn reset(reply: &super::Reply) -> Option<Duration> {
    let at: i64 = header(reply, "x-rate-limit-reset")?.trim().parse().ok()?;
    let wait = at - crate::store::now_ms() / 1000;
    Some(Duration::from_secs(wait.clamp(1, 3600) as u64))
}

pub async fn identify(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
) -> Result<(String, String), String> {
    let reply = get(outbound, &format!("{api_url}/2/users/me"), token)
        .await
        .map_err(|_| "x could not be asked who this is".to_string())?;
    let data = &reply.body["data"];
    match (data["id"].as_str(), data["username"].as_str()) {
        (Some(id), Some(name)) if reply.status == 200 => Ok((id.to_string(), format!("@{name}"))),
        _ => Err(format!("x answered {} to who this is", reply.status)),
    }
}

pub async fn metrics(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
    post_id: &str,
) -> Result<crate::analytics::Metrics, Answer> {
    if post_id.is_empty() || !post_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Answer::Refused(format!("{post_id:?} is not an X post id")));
    }
    let url = format!("{api_url}/2/tweets/{post_id}?tweet.fields=public_metrics");
    let reply = get(outbound, &url, token).await?;
    if reply.status != 200 {
        let message = reply.body["detail"].as_str();
        return Err(failure("x", &reply, message, reset(&reply)));
    }
    let m = &reply.body["data"]["public_metrics"];
    let count = |k: &str| m[k].as_u64().unwrap_or(0);
    Ok(crate::analytics::Metrics {
        impressions: count("impression_count"),
        engagements: [
            "like_count",
            "retweet_count",
            "reply_count",
            "quote_count",
            "bookmark_count",
        ]
        .iter()
        .map(|k| count(k))
        .sum(),
        ..Default::default()
    })
}
