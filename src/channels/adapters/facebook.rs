//! Facebook Pages (Graph API). A channel is one Page, and posts are made with the Page's own
//! access token. Connecting: the code is exchanged for a user token (RFC 6749's exchange),
//! that is swapped for a long-lived one (`GET /oauth/access_token?grant_type=fb_exchange_token`),
//! and `GET /me/accounts` lists the Pages the person granted with a token for each: a Page
//! token got from a long-lived user token does not expire. The first Page the person may
//! create content on is the channel; the person picks which Pages to grant in Facebook's
//! dialog.
//!
//! Publishing: text alone is `POST /{page-id}/feed` with `message`; one image is
//! `POST /{page-id}/photos` with `url` and the text as `message`; several are each uploaded
//! unpublished (`published=false`) and attached to one feed post (`attached_media[i]`). The
//! answer's `post_id` (or `id` for a feed post) is `{page-id}_{post-id}`, which is also its
//! address on facebook.com. Errors are the Graph API's (`graph`).
//!
//! How a post did: `GET /{post-id}/insights?metric=post_impressions,post_impressions_unique,
//! post_clicks` for impressions, reach and clicks, and `GET /{post-id}?fields=shares,
//! reactions.summary(total_count),comments.summary(total_count)` for its engagements.

use super::{get, graph, media_urls, Answer, Publish};
use crate::channels::apps::App;
use crate::channels::oauth::{self, OAuthError, Tokens};
use crate::outbound::Outbound;

/// Most images one Page post carries here.
const MAX_IMAGES: usize = 10;

pub async fn publish(p: Publish<'_>) -> Answer {
    match steps(&p).await {
        Ok(answer) | Err(answer) => answer,
    }
}

async fn steps(p: &Publish<'_>) -> Result<Answer, Answer> {
    let Some(page) = p.external_id else {
        return Err(Answer::Refused(
            "the channel does not know its Facebook Page: reconnect it".into(),
        ));
    };
    let urls = media_urls(p.post, "facebook", MAX_IMAGES)?;
    let call = |path: &str, fields: Vec<(String, String)>| {
        let url = format!("{}/{page}/{path}", p.api_url);
        async move {
            let fields: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            graph::form("facebook", p.outbound, &url, p.token, &fields).await
        }
    };
    let text = p.post.text.clone();
    let reply = match urls[..] {
        [] => call("feed", vec![("message".into(), text)]).await?,
        [only] => {
            call(
                "photos",
                vec![("url".into(), only.into()), ("message".into(), text)],
            )
            .await?
        }
        _ => {
            let mut fields = vec![("message".to_string(), text)];
            for (i, url) in urls.iter().enumerate() {
                let photo = call(
                    "photos",
                    vec![
                        ("url".into(), url.to_string()),
                        ("published".into(), "false".into()),
                    ],
                )
                .await?;
                let Some(id) = photo.body["id"].as_str() else {
                    return Err(Answer::Retry {
                        reason: "facebook answered an upload without an id".into(),
                        wait: None,
                    });
                };
                fields.push((
                    format!("attached_media[{i}]"),
                    serde_json::json!({ "media_fbid": id }).to_string(),
                ));
            }
            call("feed", fields).await?
        }
    };
    let id = reply.body["post_id"]
        .as_str()
        .or_else(|| reply.body["id"].as_str());
    match id {
        Some(id) => Ok(Answer::Published {
            post_id: id.to_string(),
            permalink: Some(format!("https://www.facebook.com/{id}")),
        }),
        // It may be out: trying again could post it twice.
        None => Err(Answer::Refused(
            "facebook accepted the post but gave no id; not sent again, check the Page".into(),
        )),
    }
}

/// The Page a Page token is for (`/me` is the Page itself).
pub async fn identify(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
) -> Result<(String, String), String> {
    let reply = get(outbound, &format!("{api_url}/me?fields=id,name"), token)
        .await
        .map_err(|_| "facebook could not be asked which Page this is".to_string())?;
    match (reply.body["id"].as_str(), reply.body["name"].as_str()) {
        (Some(id), Some(name)) if reply.status == 200 => Ok((id.to_string(), name.to_string())),
        _ => Err(format!(
            "facebook answered {} to which Page this is",
            reply.status
        )),
    }
}

/// The code exchanged, the user token made long-lived, and the first Page it may post to:
/// that Page's token, which does not expire.
pub async fn connect(
    outbound: &Outbound,
    app: &App,
    redirect: &str,
    code: &str,
    verifier: &str,
) -> Result<Tokens, OAuthError> {
    let user = oauth::exchange(outbound, app, redirect, code, verifier).await?;
    let mut url = reqwest::Url::parse(&format!("{}/oauth/access_token", app.api_url))
        .map_err(|e| OAuthError::Config(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("grant_type", "fb_exchange_token")
        .append_pair("client_id", &app.client_id)
        .append_pair(
            "client_secret",
            app.client_secret.as_deref().unwrap_or_default(),
        )
        .append_pair("fb_exchange_token", &user.access);
    let unavailable = |a: Answer| OAuthError::Unavailable(format!("{a:?}"));
    let long = get(outbound, url.as_str(), &user.access)
        .await
        .map_err(unavailable)?;
    let Some(long) = long.body["access_token"]
        .as_str()
        .filter(|_| long.status == 200)
    else {
        return Err(refusal(&long));
    };
    let pages = get(
        outbound,
        &format!(
            "{}/me/accounts?fields=id,name,access_token,tasks",
            app.api_url
        ),
        long,
    )
    .await
    .map_err(unavailable)?;
    if pages.status != 200 {
        return Err(refusal(&pages));
    }
    let empty = Vec::new();
    let page = pages.body["data"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .find(|page| {
            // Without `tasks` (older answers) every granted Page counts.
            page["tasks"]
                .as_array()
                .is_none_or(|tasks| tasks.iter().any(|t| t == "CREATE_CONTENT" || t == "MANAGE"))
        });
    match page.and_then(|p| p["access_token"].as_str()) {
        Some(token) => Ok(Tokens {
            access: token.to_string(),
            refresh: None,
            expires_at: None,
        }),
        None => Err(OAuthError::Refused(
            "no Facebook Page was granted that creo may post to: grant one in Facebook's dialog"
                .into(),
        )),
    }
}

fn refusal(reply: &super::Reply) -> OAuthError {
    match graph::failure("facebook", reply) {
        Answer::Retry { reason, .. } => OAuthError::Unavailable(reason),
        other => OAuthError::Refused(format!("{other:?}")),
    }
}

pub async fn metrics(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
    post_id: &str,
) -> Result<crate::analytics::Metrics, Answer> {
    if !graph::is_id(post_id) {
        return Err(Answer::Refused(format!(
            "{post_id:?} is not a Facebook post id"
        )));
    }
    let seen = graph::insights(
        "facebook",
        outbound,
        api_url,
        token,
        post_id,
        "post_impressions,post_impressions_unique,post_clicks",
    )
    .await?;
    let url = format!(
        "{api_url}/{post_id}?fields=shares,reactions.summary(total_count).limit(0),\
         comments.summary(total_count).limit(0)"
    );
    let counts = get(outbound, &url, token).await?;
    if counts.status != 200 {
        return Err(graph::failure("facebook", &counts));
    }
    let b = &counts.body;
    let total = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let seen = |k: &str| seen.get(k).copied().unwrap_or(0);
    Ok(crate::analytics::Metrics {
        impressions: seen("post_impressions"),
        reach: seen("post_impressions_unique"),
        clicks: seen("post_clicks"),
        engagements: total(&b["reactions"]["summary"]["total_count"])
            + total(&b["comments"]["summary"]["total_count"])
            + total(&b["shares"]["count"]),
        ..Default::default()
    })
}
