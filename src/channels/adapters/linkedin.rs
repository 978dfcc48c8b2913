//! LinkedIn (Posts API). Publishing is `POST /rest/posts` with `LinkedIn-Version` (YYYYMM) and
//! `X-Restli-Protocol-Version: 2.0.0`, the author's URN, the text as `commentary` in
//! LinkedIn's "little text format" (reserved characters escaped, hashtags as
//! `{hashtag|\#|tag}`), public visibility on the main feed; the answer is `201` with the new
//! post's URN in `x-restli-id`. Who the token is: `GET /v2/userinfo` (OpenID Connect) →
//! `sub` and `name`; the author is `urn:li:person:<sub>`. How a post did: the Member Post
//! Analytics API, `GET /rest/memberCreatorPostAnalytics?q=entity&entity=(share:<urn>)` with
//! `aggregation=TOTAL`, one `queryType` at a time (impressions, members reached, reactions,
//! comments, reshares; scope `r_member_postAnalytics`), each answered as `elements[].count`.
//!
//! Images go through LinkedIn's Images API first: `POST /rest/images?action=initializeUpload`
//! `{"initializeUploadRequest": {"owner": <author>}}` answers an `uploadUrl` and the image's
//! URN; the bytes are streamed there from the medium's URL (`PUT`, at most 20 MB); the post
//! then carries `content.media.id` (one image) or `content.multiImage.images` (2 to 20).
//! Videos are not uploaded to LinkedIn yet: such a post is refused rather than published
//! without them.

use super::{failure, get, header, send, Answer, Publish};
use crate::outbound::Outbound;

/// The API version creo's requests follow.
pub const VERSION: &str = "202510";

/// LinkedIn's limits on a post's images, and how much creo sends of one.
const MAX_IMAGES: usize = 20;
const MAX_IMAGE_BYTES: u64 = 20 << 20;
const UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// A request to LinkedIn's versioned REST API.
fn rest(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> Result<reqwest::RequestBuilder, crate::outbound::Refused> {
    outbound
        .request(method, &format!("{api_url}/rest/{path}"))
        .map(|r| {
            r.bearer_auth(token)
                .header("LinkedIn-Version", VERSION)
                .header("X-Restli-Protocol-Version", "2.0.0")
        })
}

/// Each of the post's images uploaded: their URNs, in order.
async fn upload_images(p: &Publish<'_>, author: &str) -> Result<Vec<String>, Answer> {
    let mut urns = Vec::new();
    for url in super::media_urls(p.post, "linkedin", MAX_IMAGES)? {
        let image = super::fetch(p.outbound, url, MAX_IMAGE_BYTES, UPLOAD_TIMEOUT).await?;
        let kind = super::media_type(&image);
        if !kind.starts_with("image/") {
            return Err(Answer::Refused(format!(
                "creo uploads images to linkedin, not {kind}"
            )));
        }
        let length = image.content_length().unwrap_or_default();
        let start = rest(
            p.outbound,
            p.api_url,
            p.token,
            reqwest::Method::POST,
            "images?action=initializeUpload",
        )
        .map(|r| r.json(&serde_json::json!({ "initializeUploadRequest": { "owner": author } })));
        let started = send(start).await?;
        let value = &started.body["value"];
        let (Some(upload), Some(urn)) = (value["uploadUrl"].as_str(), value["image"].as_str())
        else {
            return Err(if started.status == 200 {
                Answer::Retry {
                    reason: "linkedin gave no upload address".into(),
                    wait: None,
                }
            } else {
                failure("linkedin", &started, started.body["message"].as_str(), None)
            });
        };
        let put = p.outbound.request(reqwest::Method::PUT, upload).map(|r| {
            r.bearer_auth(p.token)
                .timeout(UPLOAD_TIMEOUT)
                .header(reqwest::header::CONTENT_TYPE, &kind)
                .header(reqwest::header::CONTENT_LENGTH, length)
                .body(super::streamed(image))
        });
        let uploaded = send(put).await?;
        if !(200..300).contains(&uploaded.status) {
            return Err(failure(
                "linkedin",
                &uploaded,
                uploaded.body["message"].as_str(),
                None,
            ));
        }
        urns.push(urn.to_string());
    }
    Ok(urns)
}

pub async fn publish(p: Publish<'_>) -> Answer {
    let Some(author) = p.external_id else {
        return Answer::Refused(
            "the channel does not know its LinkedIn author: reconnect it".into(),
        );
    };
    let images = match upload_images(&p, author).await {
        Ok(images) => images,
        Err(answer) => return answer,
    };
    let mut body = serde_json::json!({
        "author": author,
        "commentary": commentary(&p.post.text),
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false,
    });
    match &images[..] {
        [] => {}
        [only] => body["content"] = serde_json::json!({ "media": { "id": only } }),
        all => {
            let images: Vec<_> = all
                .iter()
                .map(|id| serde_json::json!({ "id": id }))
                .collect();
            body["content"] = serde_json::json!({ "multiImage": { "images": images } });
        }
    }
    let request = rest(
        p.outbound,
        p.api_url,
        p.token,
        reqwest::Method::POST,
        "posts",
    )
    .map(|r| r.json(&body));
    let reply = match send(request).await {
        Ok(reply) => reply,
        Err(answer) => return answer,
    };
    if reply.status == 201 {
        return match header(&reply, "x-restli-id") {
            Some(urn) if !urn.is_empty() => Answer::Published {
                post_id: urn.to_string(),
                permalink: Some(format!("https://www.linkedin.com/feed/update/{urn}/")),
            },
            // It may be out: trying again could post it twice.
            _ => Answer::Refused(
                "linkedin accepted the post but gave no id; not sent again, check the account"
                    .into(),
            ),
        };
    }
    failure("linkedin", &reply, reply.body["message"].as_str(), None)
}

/// `text` in the little text format: every reserved character escaped, so LinkedIn shows it
/// as written instead of cutting the post at the first one, and `#tag` as a hashtag.
pub fn commentary(text: &str) -> String {
    const RESERVED: &str = "\\|{}@[]()<>#*_~";
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at_word_start = i == 0 || text[..i].ends_with(char::is_whitespace);
        if c == '#' && at_word_start {
            let tag: String = text[i + 1..]
                .chars()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            if !tag.is_empty() {
                out.push_str(&format!("{{hashtag|\\#|{tag}}}"));
                for _ in 0..tag.chars().count() {
                    chars.next();
                }
                continue;
            }
        }
        if RESERVED.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub async fn identify(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
) -> Result<(String, String), String> {
    let reply = get(outbound, &format!("{api_url}/v2/userinfo"), token)
        .await
        .map_err(|_| "linkedin could not be asked who this is".to_string())?;
    match (reply.body["sub"].as_str(), reply.body["name"].as_str()) {
        (Some(sub), name) if reply.status == 200 => Ok((
            format!("urn:li:person:{sub}"),
            name.unwrap_or("LinkedIn member").to_string(),
        )),
        _ => Err(format!("linkedin answered {} to who this is", reply.status)),
    }
}

/// What each of LinkedIn's metric types adds to.
const METRICS: [&str; 5] = [
    "IMPRESSION",
    "MEMBERS_REACHED",
    "REACTION",
    "COMMENT",
    "RESHARE",
];

pub async fn metrics(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
    post_urn: &str,
) -> Result<crate::analytics::Metrics, Answer> {
    let entity = if let Some(id) = post_urn.strip_prefix("urn:li:share:") {
        ("share", id)
    } else if let Some(id) = post_urn.strip_prefix("urn:li:ugcPost:") {
        ("ugc", id)
    } else {
        return Err(Answer::Refused(format!(
            "{post_urn:?} is not a LinkedIn post"
        )));
    };
    if entity.1.is_empty() || !entity.1.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Answer::Refused(format!(
            "{post_urn:?} is not a LinkedIn post"
        )));
    }
    // Rest.li wants the URN inside the tuple percent-encoded.
    let urn: String = url::form_urlencoded::byte_serialize(post_urn.as_bytes()).collect();
    let mut counts = [0u64; METRICS.len()];
    for (count, kind) in counts.iter_mut().zip(METRICS) {
        let path = format!(
            "memberCreatorPostAnalytics?q=entity&entity=({}:{urn})\
             &queryType={kind}&aggregation=TOTAL",
            entity.0
        );
        let request = rest(outbound, api_url, token, reqwest::Method::GET, &path);
        let reply = send(request).await?;
        if reply.status != 200 {
            return Err(failure(
                "linkedin",
                &reply,
                reply.body["message"].as_str(),
                None,
            ));
        }
        *count = reply.body["elements"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["count"].as_u64()).sum())
            .unwrap_or(0);
    }
    let [impressions, reach, reactions, comments, reshares] = counts;
    Ok(crate::analytics::Metrics {
        impressions,
        reach,
        engagements: reactions + comments + reshares,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::commentary;

    #[test]
    fn reserved_characters_are_escaped_and_hashtags_tagged() {
        assert_eq!(
            commentary("Launch (today) #news @team"),
            "Launch \\(today\\) {hashtag|\\#|news} \\@team"
        );
        assert_eq!(commentary("a#b # x_y"), "a\\#b \\# x\\_y");
        assert_eq!(commentary("#über"), "{hashtag|\\#|über}");
    }
}
