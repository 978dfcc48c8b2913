//! A webhook channel: the post as JSON, POSTed to the team's own URL and signed with the
//! channel's secret (`Creo-Signature`, as every creo webhook), with `Idempotency-Key` the same
//! on every retry. A 2xx is published, under the idempotency key as its post id.

use super::{Answer, Publish};
use crate::jobs::deliver::{post_signed, Sent};

pub async fn publish(p: Publish<'_>) -> Answer {
    let mut body = p.context.clone();
    body["post"] = serde_json::to_value(p.post).expect("json");
    body["text"] = p.post.text.clone().into();
    let body = serde_json::to_vec(&body).expect("json");
    match post_signed(
        p.outbound,
        p.api_url,
        p.token,
        body,
        &[("Idempotency-Key", p.idempotency_key)],
    )
    .await
    {
        Sent::Delivered(_) => Answer::Published {
            post_id: p.idempotency_key.to_string(),
            permalink: None,
        },
        Sent::Refused(_, reason) => Answer::Refused(reason),
        Sent::Failed(_, reason) => Answer::Retry { reason, wait: None },
    }
}
