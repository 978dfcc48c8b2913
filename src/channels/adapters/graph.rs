//! What Meta's Graph API (Facebook Pages and Instagram) has in common: form-encoded POSTs with
//! the bearer token, insights (`GET /{id}/insights?metric=…`), and errors as `{"error": {"message", "code", "is_transient"}}`, where code
//! 190 is the token and 4, 17, 32, 613 and 80001 are rate limits (app, user, page, custom and
//! page-level business use) that lift within the hour.

use std::time::Duration;

use std::collections::HashMap;

use super::{get, send, Answer, Reply};
use crate::outbound::Outbound;

/// What an error answer of `platform` means.
pub(super) fn failure(platform: &str, reply: &Reply) -> Answer {
    let e = &reply.body["error"];
    let message = e["message"].as_str().unwrap_or("no message");
    let reason = format!(
        "{platform} answered {}: {}",
        reply.status,
        message.chars().take(300).collect::<String>()
    );
    match e["code"].as_i64() {
        Some(190) => Answer::Unauthorized(reason),
        Some(4 | 17 | 32 | 613 | 80001) => Answer::Retry {
            reason,
            wait: Some(Duration::from_secs(60)),
        },
        _ if e["is_transient"].as_bool() == Some(true)
            || reply.status >= 500
            || reply.status == 429 =>
        {
            Answer::Retry { reason, wait: None }
        }
        _ => Answer::Refused(reason),
    }
}

/// `POST {api_url}/{path}` with `fields` form-encoded; a non-200 answer read by `failure`.
pub(super) async fn form(
    platform: &str,
    outbound: &Outbound,
    url: &str,
    token: &str,
    fields: &[(&str, &str)],
) -> Result<Reply, Answer> {
    let request = outbound.post(url).map(|r| {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        r.bearer_auth(token)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    });
    let reply = send(request).await?;
    if reply.status == 200 {
        Ok(reply)
    } else {
        Err(failure(platform, &reply))
    }
}

/// A Graph object id: digits, with `_` between a Page's id and its post's.
pub(super) fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// `GET {api_url}/{id}/insights?metric=…`: each metric's lifetime value, by name. Graph answers
/// `{"data": [{"name", "values": [{"value"}]}]}`, or `total_value.value` for metrics asked
/// as totals.
pub(super) async fn insights(
    platform: &str,
    outbound: &Outbound,
    api_url: &str,
    token: &str,
    id: &str,
    metrics: &str,
) -> Result<HashMap<String, u64>, Answer> {
    let url = format!("{api_url}/{id}/insights?metric={metrics}");
    let reply = get(outbound, &url, token).await?;
    if reply.status != 200 {
        return Err(failure(platform, &reply));
    }
    let empty = Vec::new();
    Ok(reply.body["data"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(|m| {
            let value = m["values"][0]["value"]
                .as_u64()
                .or_else(|| m["total_value"]["value"].as_u64())?;
            Some((m["name"].as_str()?.to_string(), value))
        })
        .collect())
}
