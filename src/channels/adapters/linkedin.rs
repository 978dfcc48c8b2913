//! LinkedIn (Posts API). Publishing is `POST /rest/posts` with `LinkedIn-Version` (YYYYMM) and
//! `X-Restli-Protocol-Version: 2.0.0`, the author's URN, the text as `commentary` in
//! LinkedIn's "little text format" (reserved characters escaped, hashtags as
//! `{hashtag|\#|tag}`), public visibility on the main feed; the answer is `201` with the new
//! post's URN in `x-restli-id`. Who the token is: `GET /v2/userinfo` (OpenID Connect) →
//! `sub` and `name`; the author is `urn:li:person:<sub>`.
//!
//! Images go through LinkedIn's upload API first; creo does not upload yet, so a post with
//! media is refused here rather than published without them.

use super::{failure, header, send, Answer, Publish};
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
    let request = outbound
        .request(reqwest::Method::GET, &format!("{api_url}/v2/userinfo"))
        .map(|r| r.bearer_auth(token));
    let reply = send(request)
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
