//! Jobs as plain data: what to do later, as a small JSON message, and how a try ended. The
//! server carries them (RabbitMQ or its store queue) and runs them (its `jobs/`).

use serde::{Deserialize, Serialize};

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique per job; also the idempotency key of its external effects.
    pub id: String,
    pub kind: JobKind,
    /// Not to run before this (milliseconds since the Unix epoch).
    pub not_before: i64,
    /// Tries so far.
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    /// Publish a scheduled document, if it is still scheduled for this workflow version.
    Publish { doc_id: String, version: i64 },
    /// Produce a generation's variations, if it is still pending.
    Generate {
        doc_id: String,
        generation_id: String,
    },
    /// Deliver one event to one webhook endpoint.
    Deliver {
        endpoint_id: String,
        account_id: String,
        event: crate::webhooks::WebhookEvent,
    },
    /// Email one person.
    Mail { user_id: String, mail: Mail },
    /// Retention: a generation's variations nobody chose are dropped once it is old enough
    /// (the chosen one stays; it is in the document anyway).
    PruneGeneration {
        doc_id: String,
        generation_id: String,
    },
    /// Make a stored medium's renditions (thumbnail, sizes, the watermarked export).
    Renditions {
        account_id: String,
        media_id: String,
        watermark: bool,
    },
    /// Read a published post's counters from its channel's platform (round `round` of the
    /// polling schedule; each round queues the next).
    CollectMetrics {
        account_id: String,
        doc_id: String,
        channel_id: String,
        round: u32,
    },
}

/// Which email a mail job sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mail", rename_all = "snake_case")]
pub enum Mail {
    /// One notification, as it happened.
    Notification { notification_id: String },
    /// Everything emailed to the person made in `[from, to)`, in one message.
    Digest { from: i64, to: i64 },
    /// A link to choose a new password; the token sealed with the server's secrets key, so the
    /// queue never holds it in the clear.
    PasswordReset { sealed_token: String },
    /// A link proving the person receives mail at their address (sealed like the reset's).
    EmailVerification { sealed_token: String },
    /// A link moving the person to a new address, sent to that address (`to`), sealed likewise.
    EmailChange { sealed_token: String, to: String },
    /// Tells the person that their sign-in changed, so a change they did not make is noticed.
    /// An address change is told to the old address (`to`), which the thief does not read.
    SecurityNotice {
        event: SecurityEvent,
        #[serde(default)]
        to: Option<String>,
    },
}

/// A change to how a person signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityEvent {
    MfaEnabled,
    MfaDisabled,
    RecoveryCodesReplaced,
    EmailChanged,
}

impl Mail {
    pub fn label(&self) -> &'static str {
        match self {
            Mail::Notification { .. } => "notification",
            Mail::Digest { .. } => "digest",
            Mail::PasswordReset { .. } => "password_reset",
            Mail::EmailVerification { .. } => "email_verification",
            Mail::EmailChange { .. } => "email_change",
            Mail::SecurityNotice { .. } => "security_notice",
        }
    }
}

/// How a try ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// A passing failure (the destination did not answer): try again later.
    Retry(String),
    /// It can never succeed (a check failed): stop, and say why.
    Fail(String),
    /// Not now (the destination's circuit is open): run again after this many milliseconds,
    /// without counting a try.
    Defer(String, u64),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Retry(_) => "retry",
            Outcome::Fail(_) => "failed",
            Outcome::Defer(..) => "deferred",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_tagged_json() {
        let job = Job {
            id: "j1".into(),
            kind: JobKind::Publish {
                doc_id: "d".into(),
                version: 4,
            },
            not_before: 10,
            attempt: 0,
        };
        let text = serde_json::to_string(&job).unwrap();
        assert!(text.contains(r#""type":"publish""#), "{text}");
        assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), job);
    }
}
