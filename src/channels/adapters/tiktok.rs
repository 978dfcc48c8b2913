//! TikTok (Content Posting API, direct post). TikTok's OAuth names the client `client_key`
//! rather than `client_id`, so its code exchange and refresh are written here:
//! `POST /v2/oauth/token/` with `client_key` and `client_secret` in the form; the answer has
//! `access_token` (a day), `refresh_token` (a year, rotated) and `open_id`, or `error`.
//!
//! Publishing a video is three calls: `POST /v2/post/publish/creator_info/query/` (which
//! privacy levels this creator may post with; an app TikTok has not audited may post only
//! `SELF_ONLY`), `POST /v2/post/publish/video/init/` with the caption as `title` and
//! `source_info` `PULL_FROM_URL` (TikTok downloads the video from its URL, whose domain the
//! app must have verified with TikTok), then `POST /v2/post/publish/status/fetch/` until the
//! post is `PUBLISH_COMPLETE`. The post id is TikTok's public one when it gives it (public
//! posts), the `publish_id` otherwise. Every answer carries `error.code`, `ok` on success.
//!
//! How a post did: `POST /v2/video/query/?fields=id,view_count,like_count,comment_count,
//! share_count` with `{"filters": {"video_ids": [id]}}` (scope `video.list`); a post known only
//! by its `publish_id` cannot be read.

use std::time::Duration;

use serde_json::{json, Value};

use super::{send, Answer, Publish, Reply};
use crate::channels::apps::App;
use crate::channels::oauth::{OAuthError, Tokens};
use crate::outbound::Outbound;
use crate::store::now_ms;

/// How often a post being processed is looked at before the try ends (it is out by then, or
/// TikTok is still downloading: the post is recorded under its `publish_id`).
const STATUS_CHECKS: u32 = 6;
/// A caption's length on TikTok.
const MAX_TITLE: usize = 2_200;

/// What an answer with an error means.
fn failure(reply: &Reply) -> Answer {
    let code = reply.body["error"]["code"].as_str().unwrap_or_default();
    let message = reply.body["error"]["message"]
        .as_str()
        .unwrap_or("no message");
    let reason = format!(
        "tiktok answered {} {code}: {}",
        reply.status,
        message.chars().take(300).collect::<String>()
    );
    match code {
        "access_token_invalid"
        | "scope_not_authorized"
        | "token_not_authorized_for_specified_purpose" => Answer::Unauthorized(reason),
        "rate_limit_exceeded" => Answer::Retry {
            reason,
            wait: Some(Duration::from_secs(60)),
        },
        // The creator's daily posting cap: tomorrow it may go.
        "spam_risk_too_many_posts" => Answer::Retry {
            reason,
            wait: Some(Duration::from_secs(3600)),
        },
        _ if reply.status == 401 => Answer::Unauthorized(reason),
        _ if reply.status == 429 || reply.status >= 500 => Answer::Retry { reason, wait: None },
        _ => Answer::Refused(reason),
    }
}

/// `POST {api_url}/{path}` with a JSON body; `Ok` only when `error.code` is `ok`.
async fn call(p: &Publish<'_>, path: &str, body: Value) -> Result<Reply, Answer> {
    let request = p
        .outbound
        .post(&format!("{}/{path}", p.api_url))
        .map(|r| r.bearer_auth(p.token).json(&body));
    let reply = send(request).await?;
    if reply.status == 200 && reply.body["error"]["code"] == "ok" {
        Ok(reply)
    } else {
        Err(failure(&reply))
    }
}

pub async fn publish(p: Publish<'_>) -> Answer {
    match steps(&p).await {
        Ok(answer) | Err(answer) => answer,
    }
}

async fn steps(p: &Publish<'_>) -> Result<Answer, Answer> {
    let video = super::one_video(p.post, "tiktok")?;
    let creator = call(p, "v2/post/publish/creator_info/query/", json!({})).await?;
    let options = creator.body["data"]["privacy_level_options"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let privacy = if options.iter().any(|o| o == "PUBLIC_TO_EVERYONE") {
        "PUBLIC_TO_EVERYONE"
    } else if let Some(first) = options.first().and_then(Value::as_str) {
        // An app TikTok has not audited posts only privately.
        first
    } else {
        return Err(Answer::Refused(
            "tiktok offers this creator no way to post".into(),
        ));
    };
    let privacy = privacy.to_string();
    let username = creator.body["data"]["creator_username"]
        .as_str()
        .map(str::to_string);
    let init = call(
        p,
        "v2/post/publish/video/init/",
        json!({
            "post_info": {
                "title": p.post.text.chars().take(MAX_TITLE).collect::<String>(),
                "privacy_level": privacy,
                "disable_duet": false,
                "disable_comment": false,
                "disable_stitch": false,
            },
            "source_info": { "source": "PULL_FROM_URL", "video_url": video },
        }),
    )
    .await?;
    let Some(publish_id) = init.body["data"]["publish_id"].as_str().map(str::to_string) else {
        return Err(Answer::Retry {
            reason: "tiktok answered without a publish_id".into(),
            wait: None,
        });
    };
    // From here the post is TikTok's to finish: no error below sends it again.
    let out = |post_id: String, permalink: Option<String>| Answer::Published { post_id, permalink };
    for check in 0..STATUS_CHECKS {
        tokio::time::sleep(Duration::from_millis(300 * (check as u64 + 1))).await;
        let status = match call(
            p,
            "v2/post/publish/status/fetch/",
            json!({ "publish_id": publish_id }),
        )
        .await
        {
            Ok(status) => status,
            Err(_) => continue,
        };
        let data = &status.body["data"];
        match data["status"].as_str() {
            Some("PUBLISH_COMPLETE") => {
                // TikTok's spelling.
                let public = data["publicaly_available_post_id"][0]
                    .as_u64()
                    .map(|id| id.to_string())
                    .or_else(|| {
                        data["publicaly_available_post_id"][0]
                            .as_str()
                            .map(str::to_string)
                    });
                return Ok(match (public, &username) {
                    (Some(id), Some(user)) => {
                        let link = format!("https://www.tiktok.com/@{user}/video/{id}");
                        out(id, Some(link))
                    }
                    (Some(id), None) => out(id, None),
                    (None, _) => out(publish_id, None),
                });
            }
            Some("FAILED") => {
                return Err(Answer::Refused(format!(
                    "tiktok could not post the video: {}",
                    data["fail_reason"].as_str().unwrap_or("no reason given")
                )))
            }
            _ => {}
        }
    }
    Ok(out(publish_id, None))
}

pub async fn identify(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
) -> Result<(String, String), String> {
    let reply = super::get(
        outbound,
        &format!("{api_url}/v2/user/info/?fields=open_id,display_name"),
        token,
    )
    .await
    .map_err(|_| "tiktok could not be asked who this is".to_string())?;
    let user = &reply.body["data"]["user"];
    match (user["open_id"].as_str(), user["display_name"].as_str()) {
        (Some(id), name) if reply.status == 200 => {
            Ok((id.to_string(), name.unwrap_or("TikTok creator").to_string()))
        }
        _ => Err(format!("tiktok answered {} to who this is", reply.status)),
    }
}

/// A token answer of TikTok's token endpoint.
async fn token_call(
    outbound: &Outbound,
    app: &App,
    fields: &[(&str, &str)],
) -> Result<Tokens, OAuthError> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_key", &app.client_id)
        .append_pair(
            "client_secret",
            app.client_secret.as_deref().unwrap_or_default(),
        )
        .extend_pairs(fields)
        .finish();
    let request = outbound.post(&app.token_url).map(|r| {
        r.header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    });
    let reply = send(request)
        .await
        .map_err(|answer| OAuthError::Unavailable(format!("{answer:?}")))?;
    let b = &reply.body;
    match (reply.status, b["access_token"].as_str()) {
        (200, Some(access)) => Ok(Tokens {
            access: access.to_string(),
            refresh: b["refresh_token"].as_str().map(str::to_string),
            expires_at: b["expires_in"].as_i64().map(|s| now_ms() + s * 1000),
        }),
        (status, _) if status >= 500 || status == 429 => {
            Err(OAuthError::Unavailable(format!("tiktok answered {status}")))
        }
        (status, _) => {
            let error = b["error"].as_str().unwrap_or("no error code");
            let said = b["error_description"].as_str().unwrap_or_default();
            let reason = format!("tiktok answered {status} {error}: {said}");
            Err(match error {
                "invalid_client" => OAuthError::Config(reason),
                _ => OAuthError::Refused(reason),
            })
        }
    }
}

pub async fn exchange(
    outbound: &Outbound,
    app: &App,
    redirect: &str,
    code: &str,
    verifier: &str,
) -> Result<Tokens, OAuthError> {
    token_call(
        outbound,
        app,
        &[
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn refresh(outbound: &Outbound, app: &App, refresh: &str) -> Result<Tokens, OAuthError> {
    let mut tokens = token_call(
        outbound,
        app,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await?;
    // TikTok rotates refresh tokens; should an answer carry none, the old one still holds.
    tokens.refresh = tokens.refresh.or_else(|| Some(refresh.to_string()));
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::super::{Answer, Reply};
    use std::time::Duration;

    fn reply(status: u16, code: &str) -> Reply {
        Reply {
            status,
            headers: Default::default(),
            body: serde_json::json!({ "error": { "code": code, "message": code, "log_id": "1" } }),
        }
    }

    #[test]
    fn the_daily_cap_waits_a_token_refusal_refreshes_and_bad_params_fail() {
        assert!(matches!(
            super::failure(&reply(403, "spam_risk_too_many_posts")),
            Answer::Retry { wait: Some(w), .. } if w == Duration::from_secs(3600)
        ));
        assert!(matches!(
            super::failure(&reply(401, "access_token_invalid")),
            Answer::Unauthorized(_)
        ));
        assert!(matches!(
            super::failure(&reply(429, "rate_limit_exceeded")),
            Answer::Retry { wait: Some(_), .. }
        ));
        assert!(matches!(
            super::failure(&reply(400, "url_ownership_unverified")),
            Answer::Refused(_)
        ));
    }
}

pub async fn metrics(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
    video_id: &str,
) -> Result<crate::analytics::Metrics, Answer> {
    if video_id.is_empty() || !video_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Answer::Refused(format!(
            "{video_id:?} is no public TikTok video id (a private post cannot be read)"
        )));
    }
    let request = outbound
        .post(&format!(
            "{api_url}/v2/video/query/?fields=id,view_count,like_count,comment_count,share_count"
        ))
        .map(|r| {
            r.bearer_auth(token)
                .json(&json!({ "filters": { "video_ids": [video_id] } }))
        });
    let reply = send(request).await?;
    if reply.status != 200 || reply.body["error"]["code"] != "ok" {
        return Err(failure(&reply));
    }
    let video = &reply.body["data"]["videos"][0];
    let count = |k: &str| video[k].as_u64().unwrap_or(0);
    Ok(crate::analytics::Metrics {
        impressions: count("view_count"),
        engagements: count("like_count") + count("comment_count") + count("share_count"),
        ..Default::default()
    })
}
