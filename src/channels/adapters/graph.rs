//! What Meta's Graph API (Facebook Pages and Instagram) has in common: form-encoded POSTs with
//! the bearer token, and errors as `{"error": {"message", "code", "is_transient"}}`, where code
//! 190 is the token and 4, 17, 32, 613 and 80001 are rate limits (app, user, page, custom and
//! page-level business use) that lift within the hour.

use std::time::Duration;

use super::{send, Answer, Reply};
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
