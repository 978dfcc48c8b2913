//! Pinterest (API v5). A channel is one board: connecting asks who the person is
//! (`GET /v5/user_account`) and takes their first board (`GET /v5/boards`), so the person
//! should connect while the board they post to is their first, or make one for creo. Tokens
//! are RFC 6749's (HTTP Basic at the token endpoint); they last 30 days and refresh.
//!
//! Publishing: `POST /v5/pins` with `board_id`, a `title` (the text's first line, at most 100
//! characters), the text as `description`, and the image(s) by URL: `media_source` of
//! `image_url`, or `multiple_image_urls` with up to five `items` (a carousel). The answer is
//! `201 {"id"}`. How a pin did: `GET /v5/pins/{id}/analytics` over the 90 days Pinterest
//! keeps, summed: impressions, saves and clicks.

use super::{failure, first_line, get, media_urls, send, Answer, Publish, Reply};
use crate::outbound::Outbound;

/// Pinterest's limit on a carousel's images.
const MAX_IMAGES: usize = 5;
/// A pin's title.
const MAX_TITLE: usize = 100;

fn refused(reply: &Reply) -> Answer {
    failure("pinterest", reply, reply.body["message"].as_str(), None)
}

pub async fn publish(p: Publish<'_>) -> Answer {
    let Some(board) = p.external_id else {
        return Answer::Refused("the channel does not know its board: reconnect it".into());
    };
    let urls = match media_urls(p.post, "pinterest", MAX_IMAGES) {
        Ok(urls) if urls.is_empty() => return Answer::Refused("a pin needs an image".into()),
        Ok(urls) => urls,
        Err(answer) => return answer,
    };
    let media_source = match urls[..] {
        [only] => serde_json::json!({ "source_type": "image_url", "url": only }),
        _ => serde_json::json!({
            "source_type": "multiple_image_urls",
            "items": urls.iter().map(|u| serde_json::json!({ "url": u })).collect::<Vec<_>>(),
        }),
    };
    let body = serde_json::json!({
        "board_id": board,
        "title": first_line(&p.post.text, MAX_TITLE),
        "description": p.post.text,
        "media_source": media_source,
    });
    let request = p
        .outbound
        .post(&format!("{}/v5/pins", p.api_url))
        .map(|r| r.bearer_auth(p.token).json(&body));
    let reply = match send(request).await {
        Ok(reply) => reply,
        Err(answer) => return answer,
    };
    if reply.status != 201 && reply.status != 200 {
        return refused(&reply);
    }
    match reply.body["id"].as_str() {
        Some(id) => Answer::Published {
            post_id: id.to_string(),
            permalink: Some(format!("https://www.pinterest.com/pin/{id}/")),
        },
        // It may be out: trying again could pin it twice.
        None => Answer::Refused(
            "pinterest accepted the pin but gave no id; not sent again, check the board".into(),
        ),
    }
}

/// Who the token is, and their first board: the board's id, and "user / board".
pub async fn identify(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
) -> Result<(String, String), String> {
    let unreachable = |_| "pinterest could not be asked who this is".to_string();
    let user = get(outbound, &format!("{api_url}/v5/user_account"), token)
        .await
        .map_err(unreachable)?;
    let Some(username) = user.body["username"]
        .as_str()
        .filter(|_| user.status == 200)
    else {
        return Err(format!("pinterest answered {} to who this is", user.status));
    };
    let boards = get(
        outbound,
        &format!("{api_url}/v5/boards?page_size=25"),
        token,
    )
    .await
    .map_err(unreachable)?;
    let first = &boards.body["items"][0];
    match (first["id"].as_str(), first["name"].as_str()) {
        (Some(id), Some(name)) if boards.status == 200 => {
            Ok((id.to_string(), format!("{username} / {name}")))
        }
        _ if boards.status == 200 => Err(format!(
            "{username} has no board on Pinterest yet: make one, then connect again"
        )),
        _ => Err(format!(
            "pinterest answered {} to the boards",
            boards.status
        )),
    }
}

pub async fn metrics(
    outbound: &Outbound,
    api_url: &str,
    token: &str,
    pin_id: &str,
) -> Result<crate::analytics::Metrics, Answer> {
    if pin_id.is_empty() || !pin_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Answer::Refused(format!("{pin_id:?} is not a pin id")));
    }
    // Pinterest answers at most 90 days back; a pin is read within its first week or so.
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Days::new(89);
    let url = format!(
        "{api_url}/v5/pins/{pin_id}/analytics?start_date={from}&end_date={today}\
         &metric_types=IMPRESSION,SAVE,PIN_CLICK,OUTBOUND_CLICK"
    );
    let reply = get(outbound, &url, token).await?;
    if reply.status != 200 {
        return Err(refused(&reply));
    }
    let summary = &reply.body["all"]["summary_metrics"];
    let count = |k: &str| summary[k].as_f64().unwrap_or(0.0).max(0.0) as u64;
    Ok(crate::analytics::Metrics {
        impressions: count("IMPRESSION"),
        engagements: count("SAVE") + count("PIN_CLICK") + count("OUTBOUND_CLICK"),
        clicks: count("OUTBOUND_CLICK"),
        ..Default::default()
    })
}
