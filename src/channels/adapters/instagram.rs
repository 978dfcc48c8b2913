//! Instagram (the Instagram API with Instagram Login, Graph API style). Publishing is two
//! steps: a media container (`POST /{ig-user-id}/media` with `image_url` and `caption`; for
//! several images one container per image with `is_carousel_item=true`, then a `CAROUSEL`
//! container naming them as `children`), then `POST /{ig-user-id}/media_publish` with
//! `creation_id`; the answer's `id` is the media id, whose `permalink` is read after. A
//! container still processing (`status_code` `IN_PROGRESS`) is waited for a few times.
//!
//! Tokens: the code exchange gives a short-lived token (an hour), swapped at once for a
//! long-lived one (`GET /access_token?grant_type=ig_exchange_token`, 60 days), which is
//! refreshed by itself (`GET /refresh_access_token?grant_type=ig_refresh_token`): Instagram
//! has no refresh tokens. Errors are the Graph API's (`graph`). How a post did:
//! `GET /{media-id}/insights?metric=views,reach,likes,comments,shares,saved` (Instagram
//! replaced impressions with views in 2025).

use std::time::Duration;

use super::{get, graph, media_urls, send, Answer, Publish, Reply};
use crate::channels::oauth::{OAuthError, Tokens};
use crate::outbound::Outbound;
use crate::store::now_ms;

/// Instagram's limit on a carousel's images.
const MAX_CAROUSEL: usize = 10;
/// How often a processing container is looked at before the try is given up for later.
const STATUS_CHECKS: u32 = 5;

async fn form(p: &Publish<'_>, path: &str, fields: &[(&str, &str)]) -> Result<Reply, Answer> {
    let url = format!("{}/{path}", p.api_url);
    graph::form("instagram", p.outbound, &url, p.token, fields).await
}

/// Waits until the container can be published.
async fn ready(p: &Publish<'_>, container: &str) -> Result<(), Answer> {
    for check in 0..STATUS_CHECKS {
        let reply = get(
            p.outbound,
            &format!("{}/{container}?fields=status_code", p.api_url),
            p.token,
        )
        .await?;
        if reply.status != 200 {
            return Err(graph::failure("instagram", &reply));
        }
        match reply.body["status_code"].as_str() {
            Some("FINISHED") | None => return Ok(()),
            Some("ERROR") | Some("EXPIRED") => {
                return Err(Answer::Refused(
                    "instagram could not process the media".into(),
                ))
            }
            _ => tokio::time::sleep(Duration::from_millis(500 * (check as u64 + 1))).await,
        }
    }
    Err(Answer::Retry {
        reason: "instagram is still processing the media".into(),
        wait: Some(Duration::from_secs(30)),
    })
}

pub async fn publish(p: Publish<'_>) -> Answer {
    match steps(&p).await {
        Ok(answer) | Err(answer) => answer,
    }
}

async fn steps(p: &Publish<'_>) -> Result<Answer, Answer> {
    let Some(user) = p.external_id else {
        return Err(Answer::Refused(
            "the channel does not know its Instagram account: reconnect it".into(),
        ));
    };
    let urls = media_urls(p.post, "instagram", MAX_CAROUSEL)?;
    if urls.is_empty() {
        return Err(Answer::Refused("an instagram post needs an image".into()));
    }
    let media = format!("{user}/media");
    let container = if let [only] = urls[..] {
        form(p, &media, &[("image_url", only), ("caption", &p.post.text)]).await?
    } else {
        let mut children = Vec::new();
        for url in &urls {
            let item = form(
                p,
                &media,
                &[("image_url", url), ("is_carousel_item", "true")],
            )
            .await?;
            children.push(item.body["id"].as_str().unwrap_or_default().to_string());
        }
        let children = children.join(",");
        form(
            p,
            &media,
            &[
                ("media_type", "CAROUSEL"),
                ("children", &children),
                ("caption", &p.post.text),
            ],
        )
        .await?
    };
    let Some(container) = container.body["id"].as_str().map(str::to_string) else {
        return Err(Answer::Retry {
            reason: "instagram answered without a container id".into(),
            wait: None,
        });
    };
    ready(p, &container).await?;
    let published = form(
        p,
        &format!("{user}/media_publish"),
        &[("creation_id", &container)],
    )
    .await?;
    let Some(id) = published.body["id"].as_str().map(str::to_string) else {
        // It may be out: trying again could post it twice.
        return Err(Answer::Refused(
            "instagram accepted the post but gave no id; not sent again, check the account".into(),
        ));
    };
    // Where people see it; the post is out either way.
    let permalink = get(
        p.outbound,
        &format!("{}/{id}?fields=permalink", p.api_url),
        p.token,
    )
    .await
    .ok()
    .and_then(|r| r.body["permalink"].as_str().map(str::to_string));
    Ok(Answer::Published {
        post_id: id,
        permalink,
    })
}

pub async fn identify(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
) -> Result<(String, String), String> {
    let reply = get(
        outbound,
        &format!("{api_url}/me?fields=user_id,username"),
        token,
    )
    .await
    .map_err(|_| "instagram could not be asked who this is".to_string())?;
    match (
        reply.body["user_id"].as_str(),
        reply.body["username"].as_str(),
    ) {
        (Some(id), Some(name)) if reply.status == 200 => Ok((id.to_string(), format!("@{name}"))),
        _ => Err(format!(
            "instagram answered {} to who this is",
            reply.status
        )),
    }
}

/// A token answer of Instagram's own token endpoints (`access_token`, `expires_in` seconds).
fn tokens(reply: Reply) -> Result<Tokens, OAuthError> {
    match (reply.status, reply.body["access_token"].as_str()) {
        (200, Some(access)) => Ok(Tokens {
            access: access.to_string(),
            refresh: None,
            expires_at: reply.body["expires_in"]
                .as_i64()
                .map(|s| now_ms() + s * 1000),
        }),
        (status, _) if status >= 500 || status == 429 => Err(OAuthError::Unavailable(format!(
            "instagram answered {status}"
        ))),
        (status, _) => Err(OAuthError::Refused(format!(
            "instagram answered {status}: {}",
            reply.body["error"]["message"]
                .as_str()
                .unwrap_or("no message")
        ))),
    }
}

async fn token_call(outbound: &Outbound, url: &str) -> Result<Tokens, OAuthError> {
    match send(outbound.request(reqwest::Method::GET, url)).await {
        Ok(reply) => tokens(reply),
        Err(answer) => Err(OAuthError::Unavailable(format!("{answer:?}"))),
    }
}

/// The code exchanged for a short-lived token. Instagram's answer is not RFC 6749's (no
/// `token_type`; sometimes wrapped in `data`), so this is not the `oauth2` crate's exchange.
/// The PKCE verifier is sent too; Instagram ignores it, and `state` still guards the flow.
async fn exchange(
    outbound: &Outbound,
    app: &crate::channels::apps::App,
    redirect: &str,
    code: &str,
    verifier: &str,
) -> Result<Tokens, OAuthError> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &app.client_id)
        .append_pair(
            "client_secret",
            app.client_secret.as_deref().unwrap_or_default(),
        )
        .append_pair("grant_type", "authorization_code")
        .append_pair("redirect_uri", redirect)
        .append_pair("code", code)
        .append_pair("code_verifier", verifier)
        .finish();
    let request = outbound.post(&app.token_url).map(|r| {
        r.header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    });
    let mut reply = send(request)
        .await
        .map_err(|answer| OAuthError::Unavailable(format!("{answer:?}")))?;
    if let Some(first) = reply.body["data"].get(0).cloned() {
        reply.body = first;
    }
    tokens(reply)
}

/// The code exchanged, and the hour's token it gives swapped at once for a long-lived one
/// (60 days, renewed by `refresh`).
pub async fn connect(
    outbound: &Outbound,
    app: &crate::channels::apps::App,
    redirect: &str,
    code: &str,
    verifier: &str,
) -> Result<Tokens, OAuthError> {
    let short = exchange(outbound, app, redirect, code, verifier).await?;
    let secret = app.client_secret.as_deref().unwrap_or_default();
    long_lived(outbound, &app.api_url, secret, &short).await
}

/// The short-lived token the code exchange gave, swapped for a long-lived one.
async fn long_lived(
    outbound: &Outbound,
    api_url: &str,
    client_secret: &str,
    short: &Tokens,
) -> Result<Tokens, OAuthError> {
    let mut url = reqwest::Url::parse(&format!("{api_url}/access_token"))
        .map_err(|e| OAuthError::Config(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("grant_type", "ig_exchange_token")
        .append_pair("client_secret", client_secret)
        .append_pair("access_token", &short.access);
    token_call(outbound, url.as_str()).await
}

/// A long-lived token refreshed (it must still be valid, and at least a day old).
pub async fn refresh(
    outbound: &Outbound,
    api_url: &str,
    access: &str,
) -> Result<Tokens, OAuthError> {
    let mut url = reqwest::Url::parse(&format!("{api_url}/refresh_access_token"))
        .map_err(|e| OAuthError::Config(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("grant_type", "ig_refresh_token")
        .append_pair("access_token", access);
    token_call(outbound, url.as_str()).await
}

pub async fn metrics(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
    media_id: &str,
) -> Result<crate::analytics::Metrics, Answer> {
    if !graph::is_id(media_id) {
        return Err(Answer::Refused(format!(
            "{media_id:?} is not an Instagram media id"
        )));
    }
    let m = graph::insights(
        "instagram",
        outbound,
        api_url,
        token,
        media_id,
        "views,reach,likes,comments,shares,saved",
    )
    .await?;
    let count = |k: &str| m.get(k).copied().unwrap_or(0);
    Ok(crate::analytics::Metrics {
        impressions: count("views"),
        reach: count("reach"),
        engagements: count("likes") + count("comments") + count("shares") + count("saved"),
        ..Default::default()
    })
}
