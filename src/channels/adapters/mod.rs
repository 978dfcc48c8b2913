//! One adapter per platform: the publish request its API documents, built from a post (its
//! variant's text and its media), and what its answer means (published with an id and a
//! permalink, worth another try, refused, or a token it no longer takes). Each also says who a
//! new connection is (`identify`), for the channel's name and the id posts are made as, and
//! where a platform departs from RFC 6749 (Instagram's and Facebook's long-lived tokens,
//! TikTok's `client_key`), how its tokens are won (`connect`) and renewed (`renew`).

pub mod facebook;
mod graph;
pub mod instagram;
pub mod linkedin;
pub mod pinterest;
pub mod tiktok;
pub mod webhook;
pub mod x;
pub mod youtube;

use std::time::Duration;

use super::apps::App;
use super::oauth::{self, OAuthError, Tokens};
use crate::outbound::Outbound;
use crate::platforms::Post;

/// The most of a platform's answer that is read.
const MAX_ANSWER: usize = 256 * 1024;

/// What a platform said to one publish request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Published {
        post_id: String,
        permalink: Option<String>,
    },
    /// Worth another try (a 5xx, a rate limit, no answer), not before `wait` when the platform
    /// said how long.
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
    /// Refused for good: the post as it is will never go out there.
    Refused(String),
    /// The token was refused: refresh it, or the channel needs reconnecting.
    Unauthorized(String),
}

/// One post to send through one channel.
pub struct Publish<'a> {
    pub outbound: &'a Outbound,
    /// Where the platform's API is (the app's `api_url`), or the webhook's URL.
    pub api_url: &'a str,
    /// The access token, or the webhook's signing secret.
    pub token: &'a str,
    /// The platform's id of the account posts are made as.
    pub external_id: Option<&'a str>,
    pub post: &'a Post,
    /// The same on every retry of this target (webhooks send it as `Idempotency-Key`).
    pub idempotency_key: &'a str,
    /// What a webhook channel's body carries besides the post.
    pub context: &'a serde_json::Value,
}

pub async fn publish(platform: &str, p: Publish<'_>) -> Answer {
    match platform {
        "webhook" => webhook::publish(p).await,
        "x" => x::publish(p).await,
        "linkedin" => linkedin::publish(p).await,
        "instagram" => instagram::publish(p).await,
        "facebook" => facebook::publish(p).await,
        "tiktok" => tiktok::publish(p).await,
        "pinterest" => pinterest::publish(p).await,
        "youtube" => youtube::publish(p).await,
        other => Answer::Refused(format!("creo cannot publish to {other} yet")),
    }
}

/// A published post's counters as the platform reports them now; `None` for a webhook channel
/// (its service reports them through the metrics webhook).
pub async fn metrics(
    platform: &str,
    outbound: &Outbound,
    api_url: &str,
    token: &str,
    post_id: &str,
) -> Option<Result<crate::analytics::Metrics, Answer>> {
    match platform {
        "x" => Some(x::metrics(outbound, api_url, token, post_id).await),
        "linkedin" => Some(linkedin::metrics(outbound, api_url, token, post_id).await),
        "pinterest" => Some(pinterest::metrics(outbound, api_url, token, post_id).await),
        "youtube" => Some(youtube::metrics(outbound, api_url, token, post_id).await),
        "instagram" => Some(instagram::metrics(outbound, api_url, token, post_id).await),
        "facebook" => Some(facebook::metrics(outbound, api_url, token, post_id).await),
        "tiktok" => Some(tiktok::metrics(outbound, api_url, token, post_id).await),
        _ => None,
    }
}

/// Who a new connection is: the platform's id for it and a name people recognise.
pub async fn identify(
    platform: &str,
    outbound: &Outbound,
    api_url: &str,
    token: &str,
) -> Result<(String, String), String> {
    match platform {
        "x" => x::identify(outbound, api_url, token).await,
        "linkedin" => linkedin::identify(outbound, api_url, token).await,
        "instagram" => instagram::identify(outbound, api_url, token).await,
        "facebook" => facebook::identify(outbound, api_url, token).await,
        "tiktok" => tiktok::identify(outbound, api_url, token).await,
        "pinterest" => pinterest::identify(outbound, api_url, token).await,
        "youtube" => youtube::identify(outbound, api_url, token).await,
        other => Err(format!("creo cannot connect {other} yet")),
    }
}

/// The tokens a connection's code is worth: RFC 6749's exchange, or the platform's own steps.
pub async fn connect(
    outbound: &Outbound,
    app: &App,
    redirect: &str,
    code: &str,
    verifier: &str,
) -> Result<Tokens, OAuthError> {
    match app.platform.as_str() {
        "instagram" => instagram::connect(outbound, app, redirect, code, verifier).await,
        "facebook" => facebook::connect(outbound, app, redirect, code, verifier).await,
        "tiktok" => tiktok::exchange(outbound, app, redirect, code, verifier).await,
        _ => oauth::exchange(outbound, app, redirect, code, verifier).await,
    }
}

/// Whether `platform` renews its access token with that token alone (it has no refresh tokens).
pub fn renews_access_itself(platform: &str) -> bool {
    platform == "instagram"
}

/// New tokens for a channel's: with its refresh token, or (`renews_access_itself`) its access
/// token.
pub async fn renew(
    outbound: &Outbound,
    app: &App,
    access: &str,
    refresh: Option<&str>,
) -> Result<Tokens, OAuthError> {
    let missing = || OAuthError::Refused("the platform gave no refresh token".into());
    match app.platform.as_str() {
        "instagram" => instagram::refresh(outbound, &app.api_url, access).await,
        "tiktok" => tiktok::refresh(outbound, app, refresh.ok_or_else(missing)?).await,
        _ => oauth::refresh(outbound, app, refresh.ok_or_else(missing)?).await,
    }
}

/// A sent request's answer: its status, headers and JSON body (`Null` when it had none or
/// it was not JSON), or the `Answer` for no answer at all.
pub(super) struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: serde_json::Value,
}

async fn send(
    request: Result<reqwest::RequestBuilder, crate::outbound::Refused>,
) -> Result<Reply, Answer> {
    let request = request
        .map_err(|e| Answer::Refused(format!("the platform's address is not allowed: {e}")))?;
    let response = request.send().await.map_err(|e| Answer::Retry {
        reason: if e.is_timeout() {
            "the platform did not answer in time".into()
        } else {
            "the platform could not be reached".into()
        },
        wait: None,
    })?;
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = match Outbound::bounded_body(response, MAX_ANSWER).await {
        Ok(body) => serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        Err(e) => {
            return Err(Answer::Retry {
                reason: format!("the platform's answer could not be read: {e}"),
                wait: None,
            })
        }
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// What a failed answer means, the same on every platform: 401 is the token, 408/429/5xx are
/// worth waiting for (as long as `Retry-After` or the platform's own reset header says), other
/// 4xx are the post, refused with the platform's own words.
fn failure(
    platform: &str,
    reply: &Reply,
    message: Option<&str>,
    reset: Option<Duration>,
) -> Answer {
    let said = message
        .map(|m| format!(": {}", m.chars().take(300).collect::<String>()))
        .unwrap_or_default();
    let reason = format!("{platform} answered {}{said}", reply.status);
    match reply.status {
        401 => Answer::Unauthorized(reason),
        408 | 429 | 500..=599 => Answer::Retry {
            reason,
            wait: retry_after(&reply.headers).or(reset),
        },
        _ => Answer::Refused(reason),
    }
}

/// `Retry-After` in seconds (the form platforms use), at most an hour.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

/// The URLs of `post`'s media, for a platform that takes at most `max` of them: every medium
/// must have one (creo hands platforms URLs, or fetches from them).
fn media_urls<'a>(post: &'a Post, platform: &str, max: usize) -> Result<Vec<&'a str>, Answer> {
    if post.media.len() > max {
        return Err(Answer::Refused(format!(
            "a {platform} post holds at most {max} media"
        )));
    }
    post.media
        .iter()
        .map(|m| m.url.as_deref())
        .collect::<Option<Vec<&str>>>()
        .ok_or_else(|| {
            Answer::Refused(format!(
                "{platform} takes media from their URLs: each media needs a url"
            ))
        })
}

/// The one video of a post on a platform that takes exactly one.
fn one_video<'a>(post: &'a Post, platform: &str) -> Result<&'a str, Answer> {
    if post.media.len() != 1 {
        return Err(Answer::Refused(format!(
            "a {platform} post is one video (the media holds exactly one)"
        )));
    }
    Ok(media_urls(post, platform, 1)?[0])
}

/// A post's medium at `url`, its body not read yet: refused unless its server says a length
/// within `max` (uploads are told the length first, and nothing past it is read). Fetched
/// through `Outbound`, so a post cannot point creo at an internal address.
async fn fetch(
    outbound: &Outbound,
    url: &str,
    max: u64,
    timeout: Duration,
) -> Result<reqwest::Response, Answer> {
    let request = outbound
        .request(reqwest::Method::GET, url)
        .map_err(|e| Answer::Refused(format!("the medium's address is not allowed: {e}")))?;
    let medium = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|_| Answer::Retry {
            reason: "the medium could not be fetched from its URL".into(),
            wait: None,
        })?;
    let status = medium.status().as_u16();
    if status >= 500 || status == 429 {
        return Err(Answer::Retry {
            reason: format!("the medium's server answered {status}"),
            wait: None,
        });
    }
    if status != 200 {
        return Err(Answer::Refused(format!(
            "the medium's server answered {status}"
        )));
    }
    match medium.content_length() {
        Some(0) | None => Err(Answer::Refused(
            "the medium's server does not say how large it is".into(),
        )),
        Some(n) if n > max => Err(Answer::Refused(format!(
            "the medium is larger than the {max} bytes this platform takes from creo"
        ))),
        Some(_) => Ok(medium),
    }
}

/// A fetched medium's body, passed on chunk by chunk as it arrives: never held whole.
fn streamed(medium: reqwest::Response) -> reqwest::Body {
    use futures_util::TryStreamExt;
    reqwest::Body::wrap_stream(
        medium
            .bytes_stream()
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
    )
}

/// The media type a fetched medium says it has (`application/octet-stream` when none).
fn media_type(medium: &reqwest::Response) -> String {
    medium
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "application/octet-stream".into())
}

/// `GET url` with the bearer token, whatever it answers.
async fn get(outbound: &Outbound, url: &str, token: &str) -> Result<Reply, Answer> {
    send(
        outbound
            .request(reqwest::Method::GET, url)
            .map(|r| r.bearer_auth(token)),
    )
    .await
}

/// The first line of `text` with words on it, cut at `max` characters: a title.
fn first_line(text: &str, max: usize) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .chars()
        .take(max)
        .collect()
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_title_is_the_first_line_with_words() {
        assert_eq!(
            super::first_line("\n  Spring sale  \nall week", 100),
            "Spring sale"
        );
        assert_eq!(super::first_line("ééé", 2), "éé");
        assert_eq!(super::first_line("", 100), "");
    }
}
