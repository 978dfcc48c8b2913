//! YouTube (Data API v3). Google's OAuth is RFC 6749's, asked for `access_type=offline` so a
//! refresh token comes back. Who the token is: `GET /youtube/v3/channels?part=snippet&mine=true`.
//!
//! Publishing uploads the video itself, YouTube's resumable upload: `POST
//! /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status` with the metadata (the
//! text's first line as title, the text as description, public) and the video's type and
//! length, answered with the upload's address in `Location`; then one `PUT` of the bytes
//! there, answered with the video (`id`). The bytes are streamed from the media's URL as they
//! come, never held whole, and at most `MAX_VIDEO`; the source must say its length. How a
//! video did: `GET /youtube/v3/videos?part=statistics` (views, likes, comments; YouTube's Data
//! API has no impressions, so views are counted as impressions).
//!
//! Errors are `{"error": {"code", "message", "errors": [{"reason"}]}}`; a 403 for quota
//! (`quotaExceeded`, `uploadLimitExceeded`, `rateLimitExceeded`) waits an hour: the daily
//! quota comes back at midnight Pacific time.

use std::time::Duration;

use super::{failure, first_line, get, send, Answer, Publish, Reply};
use crate::outbound::Outbound;

/// The largest video creo sends (YouTube itself takes up to 256 GB).
const MAX_VIDEO: u64 = 4 << 30;
/// How long fetching and sending one video may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(3600);
/// YouTube's limits on a title and a description (bytes).
const MAX_TITLE: usize = 100;
const MAX_DESCRIPTION: usize = 5_000;

fn refused(reply: &Reply) -> Answer {
    let e = &reply.body["error"];
    let reason = e["errors"][0]["reason"].as_str().unwrap_or_default();
    if reply.status == 403
        && matches!(
            reason,
            "quotaExceeded" | "uploadLimitExceeded" | "rateLimitExceeded"
        )
    {
        return Answer::Retry {
            reason: format!("youtube answered 403 {reason}"),
            wait: Some(Duration::from_secs(3600)),
        };
    }
    failure("youtube", reply, e["message"].as_str(), None)
}

pub async fn publish(p: Publish<'_>) -> Answer {
    match steps(&p).await {
        Ok(answer) | Err(answer) => answer,
    }
}

async fn steps(p: &Publish<'_>) -> Result<Answer, Answer> {
    let source = super::one_video(p.post, "youtube")?;
    let text = &p.post.text;
    if text.contains(['<', '>']) {
        return Err(Answer::Refused(
            "youtube takes no < or > in a title or description".into(),
        ));
    }
    if text.len() > MAX_DESCRIPTION {
        return Err(Answer::Refused(format!(
            "a YouTube description holds at most {MAX_DESCRIPTION} bytes"
        )));
    }
    let title = match first_line(text, MAX_TITLE) {
        t if t.is_empty() => "Video".to_string(),
        t => t,
    };

    let video = super::fetch(p.outbound, source, MAX_VIDEO, UPLOAD_TIMEOUT).await?;
    let length = video.content_length().unwrap_or_default();
    let kind = match super::media_type(&video) {
        t if t.starts_with("video/") => t,
        _ => "video/*".to_string(),
    };

    let metadata = serde_json::json!({
        "snippet": { "title": title, "description": text, "categoryId": "22" },
        "status": { "privacyStatus": "public", "selfDeclaredMadeForKids": false },
    });
    let start = p
        .outbound
        .post(&format!(
            "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
            p.api_url
        ))
        .map(|r| {
            r.bearer_auth(p.token)
                .header("X-Upload-Content-Type", &kind)
                .header("X-Upload-Content-Length", length)
                .json(&metadata)
        });
    let session = send(start).await?;
    if session.status != 200 {
        return Err(refused(&session));
    }
    let Some(upload) = super::header(&session, "location").map(str::to_string) else {
        return Err(Answer::Retry {
            reason: "youtube gave no upload address".into(),
            wait: None,
        });
    };

    let put = p.outbound.request(reqwest::Method::PUT, &upload).map(|r| {
        r.bearer_auth(p.token)
            .timeout(UPLOAD_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, &kind)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(super::streamed(video))
    });
    // An upload that fails part-way made no video: trying again starts a new one.
    let uploaded = send(put).await?;
    if uploaded.status != 200 && uploaded.status != 201 {
        return Err(refused(&uploaded));
    }
    match uploaded.body["id"].as_str() {
        Some(id) => Ok(Answer::Published {
            post_id: id.to_string(),
            permalink: Some(if p.post.format == "short" {
                format!("https://www.youtube.com/shorts/{id}")
            } else {
                format!("https://www.youtube.com/watch?v={id}")
            }),
        }),
        None => Err(Answer::Refused(
            "youtube took the upload but gave no id; not sent again, check the channel".into(),
        )),
    }
}

pub async fn identify(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
) -> Result<(String, String), String> {
    let reply = get(
        outbound,
        &format!("{api_url}/youtube/v3/channels?part=snippet&mine=true"),
        token,
    )
    .await
    .map_err(|_| "youtube could not be asked who this is".to_string())?;
    let channel = &reply.body["items"][0];
    match (channel["id"].as_str(), channel["snippet"]["title"].as_str()) {
        (Some(id), Some(name)) if reply.status == 200 => Ok((id.to_string(), name.to_string())),
        _ if reply.status == 200 => Err("this Google account has no YouTube channel".into()),
        _ => Err(format!("youtube answered {} to who this is", reply.status)),
    }
}

pub async fn metrics(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
    video_id: &str,
) -> Result<crate::analytics::Metrics, Answer> {
    let well_formed = !video_id.is_empty()
        && video_id.len() <= 64
        && video_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(Answer::Refused(format!("{video_id:?} is not a video id")));
    }
    let reply = get(
        outbound,
        &format!("{api_url}/youtube/v3/videos?part=statistics&id={video_id}"),
        token,
    )
    .await?;
    if reply.status != 200 {
        return Err(refused(&reply));
    }
    let stats = &reply.body["items"][0]["statistics"];
    // The counts are strings.
    let count = |k: &str| {
        stats[k]
            .as_str()
            .and_then(|n| n.parse().ok())
            .or_else(|| stats[k].as_u64())
            .unwrap_or(0)
    };
    Ok(crate::analytics::Metrics {
        impressions: count("viewCount"),
        engagements: count("likeCount") + count("commentCount"),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Answer, Reply};
    use std::time::Duration;

    fn reply(status: u16, reason: &str) -> Reply {
        Reply {
            status,
            headers: Default::default(),
            body: serde_json::json!({ "error": { "code": status, "message": reason,
                "errors": [{ "reason": reason, "domain": "youtube" }] } }),
        }
    }

    #[test]
    fn spent_quota_waits_an_hour_and_other_refusals_are_final() {
        assert_eq!(
            super::refused(&reply(403, "quotaExceeded")),
            Answer::Retry {
                reason: "youtube answered 403 quotaExceeded".into(),
                wait: Some(Duration::from_secs(3600)),
            }
        );
        assert!(matches!(
            super::refused(&reply(403, "forbidden")),
            Answer::Refused(_)
        ));
        assert!(matches!(
            super::refused(&reply(400, "invalidTitle")),
            Answer::Refused(_)
        ));
        assert!(matches!(
            super::refused(&reply(401, "authError")),
            Answer::Unauthorized(_)
        ));
        assert!(matches!(
            super::refused(&reply(503, "backendError")),
            Answer::Retry { wait: None, .. }
        ));
    }
}
