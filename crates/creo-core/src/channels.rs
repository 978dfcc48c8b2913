//! An account's publishing channels as data: where a scheduled post goes (a signed webhook the
//! team runs, or one of its own social accounts connected through OAuth 2.0), and how each
//! target of a post is doing. The server connects, refreshes and publishes
//! (`src/channels/`, `src/jobs/publish.rs`).
//!
//! A post goes out to each of its targets on its own: one channel failing undoes nothing on
//! another, and a retry of the publish job only tries again the targets that are not done.

use serde::{Deserialize, Serialize};

/// The platforms a channel may connect through OAuth 2.0, besides `webhook`.
pub const OAUTH_PLATFORMS: [&str; 7] = [
    "x",
    "linkedin",
    "instagram",
    "facebook",
    "tiktok",
    "pinterest",
    "youtube",
];

/// Most channels per account.
pub const MAX_CHANNELS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    /// Publishes.
    Active,
    /// Its tokens were refused or could not be refreshed: an owner or admin must connect it
    /// again. Posts to it fail with that reason until then.
    NeedsReconnect,
}

/// One connected destination of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub channel_id: String,
    pub account_id: String,
    /// `webhook`, or one of `OAUTH_PLATFORMS`.
    pub platform: String,
    /// What people call it: the handle or page name the platform gave, or the name chosen for
    /// a webhook.
    pub name: String,
    pub status: ChannelStatus,
    /// Why it needs reconnecting.
    #[serde(default)]
    pub status_reason: Option<String>,
    /// `webhook`: where posts are POSTed.
    #[serde(default)]
    pub url: Option<String>,
    /// The platform's id of the connected account, page or author (a LinkedIn URN, a page id):
    /// where its posts are made.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Sealed by the server before it is stored: a webhook's signing secret, or the OAuth access
    /// token.
    pub sealed_secret: String,
    /// Sealed OAuth refresh token, when the platform gave one.
    #[serde(default)]
    pub sealed_refresh: Option<String>,
    /// When the access token expires (ms since the epoch); `None`: the platform did not say.
    #[serde(default)]
    pub token_expires_at: Option<i64>,
    /// Its posting schedule, when it has one: "add to queue" takes the next free slot.
    #[serde(default)]
    pub queue: Option<crate::slots::QueueSchedule>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where one target of a scheduled post stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TargetState {
    /// Waiting for its scheduled instant.
    Queued,
    /// Its request is on the way. A target left here by a crash is tried again (at least once:
    /// most platforms take no idempotency key).
    Publishing,
    /// Out, with the platform's id for it and where people see it.
    Published {
        post_id: String,
        #[serde(default)]
        permalink: Option<String>,
    },
    /// Failed for now; the job tries again.
    Retrying { reason: String },
    /// Will not go out: the platform refused it, the channel needs reconnecting, or the tries
    /// ran out.
    Failed { reason: String },
}

impl TargetState {
    /// Published or failed for good: a retry leaves it alone.
    pub fn is_done(&self) -> bool {
        matches!(
            self,
            TargetState::Published { .. } | TargetState::Failed { .. }
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            TargetState::Queued => "queued",
            TargetState::Publishing => "publishing",
            TargetState::Published { .. } => "published",
            TargetState::Retrying { .. } => "retrying",
            TargetState::Failed { .. } => "failed",
        }
    }
}

/// One channel target of one scheduling of a document (`version` is the workflow version the
/// schedule made; a new schedule starts every target again at `Queued`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetDelivery {
    pub doc_id: String,
    pub version: i64,
    pub channel_id: String,
    pub platform: String,
    #[serde(flatten)]
    pub state: TargetState,
    /// Requests made for it so far.
    pub attempts: u32,
    pub updated_at: i64,
}

/// How a whole post ends once every target is done: published when any target went out (the
/// others' reasons stay on their targets), failed when none did. `None` while some target is
/// not done.
pub fn outcome(targets: &[TargetDelivery]) -> Option<Result<String, String>> {
    if targets.is_empty() || !targets.iter().all(|t| t.state.is_done()) {
        return None;
    }
    let summary = |t: &TargetDelivery| match &t.state {
        TargetState::Published {
            permalink: Some(link),
            ..
        } => format!("{}: published at {link}", t.platform),
        TargetState::Published { .. } => format!("{}: published", t.platform),
        TargetState::Failed { reason } => format!("{}: {reason}", t.platform),
        _ => unreachable!("all done"),
    };
    let note = targets.iter().map(summary).collect::<Vec<_>>().join("; ");
    if targets
        .iter()
        .any(|t| matches!(t.state, TargetState::Published { .. }))
    {
        Some(Ok(note))
    } else {
        Some(Err(note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(channel: &str, state: TargetState) -> TargetDelivery {
        TargetDelivery {
            doc_id: "d".into(),
            version: 1,
            channel_id: channel.into(),
            platform: "x".into(),
            state,
            attempts: 1,
            updated_at: 0,
        }
    }

    #[test]
    fn one_failed_target_does_not_fail_a_post_another_target_published() {
        let published = TargetState::Published {
            post_id: "1".into(),
            permalink: None,
        };
        let failed = TargetState::Failed {
            reason: "refused".into(),
        };
        let retrying = TargetState::Retrying {
            reason: "503".into(),
        };
        assert_eq!(
            outcome(&[target("a", published.clone()), target("b", retrying)]),
            None
        );
        assert!(matches!(
            outcome(&[target("a", published), target("b", failed.clone())]),
            Some(Ok(note)) if note.contains("refused") && note.contains("x: published")
        ));
        assert!(matches!(
            outcome(&[target("a", failed.clone()), target("b", failed)]),
            Some(Err(_))
        ));
    }

    #[test]
    fn a_target_reads_back_as_it_was_written() {
        let t = target(
            "a",
            TargetState::Published {
                post_id: "1".into(),
                permalink: Some("https://x.com/i/web/status/1".into()),
            },
        );
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["state"], "published");
        assert_eq!(json["post_id"], "1");
        assert_eq!(serde_json::from_value::<TargetDelivery>(json).unwrap(), t);
    }
}
