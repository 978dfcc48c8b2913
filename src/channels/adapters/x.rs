//! X (API v2). Publishing is `POST /2/tweets` with `{"text": …}` and the user's OAuth 2.0
//! token (scope `tweet.write`); the answer is `201 {"data": {"id", "text"}}`. Rate limits come
//! back as 429 with `x-rate-limit-reset` (Unix seconds). Errors carry `detail` or `title`.
//! Who the token is: `GET /2/users/me` → `{"data": {"id", "username"}}`. How a post did:
//! `GET /2/tweets/:id?tweet.fields=public_metrics` → `impression_count`, and the likes,
//! reposts, replies, quotes and bookmarks that make up its engagements.
//!
//! Media go to X through its own upload endpoint first; creo does not upload yet, so a post
//! with media is refused here rather than published without them.

use std::time::Duration;

use super::{failure, get, header, send, Answer, Publish};
use crate::outbound::Outbound;

pub async fn publish(p: Publish<'_>) -> Answer {
    if !p.post.media.is_empty() {
        return Answer::Refused(
            "creo does not upload media to x yet: post it without media".into(),
        );
    }
    let request = p
        .outbound
        .post(&format!("{}/2/tweets", p.api_url))
        .map(|r| {
            r.bearer_auth(p.token)
                .json(&serde_json::json!({ "text": p.post.text }))
        });
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
