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
//! Images go through LinkedIn's upload API first; creo does not upload yet, so a post with
//! media is refused here rather than published without them.

use super::{failure, get, header, send, Answer, Publish};
use crate::outbound::Outbound;

/// The API version creo's requests follow.
pub const VERSION: &str = "202510";

pub async fn publish(p: Publish<'_>) -> Answer {
    if !p.post.media.is_empty() {
        return Answer::Refused(
            "creo does not upload media to linkedin yet: post it without media".into(),
        );
    }
    let Some(author) = p.external_id else {
        return Answer::Refused(
            "the channel does not know its LinkedIn author: reconnect it".into(),
        );
    };
    let body = serde_json::json!({
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
    let request = p
        .outbound
        .post(&format!("{}/rest/posts", p.api_url))
        .map(|r| {
            r.bearer_auth(p.token)
                .header("LinkedIn-Version", VERSION)
                .header("X-Restli-Protocol-Version", "2.0.0")
                .json(&body)
        });
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
        let url = format!(
            "{api_url}/rest/memberCreatorPostAnalytics?q=entity&entity=({}:{urn})\
             &queryType={kind}&aggregation=TOTAL",
            entity.0
        );
        let request = outbound.request(reqwest::Method::GET, &url).map(|r| {
            r.bearer_auth(token)
                .header("LinkedIn-Version", VERSION)
                .header("X-Restli-Protocol-Version", "2.0.0")
        });
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
