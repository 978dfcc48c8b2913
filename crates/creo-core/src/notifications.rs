//! Notifications as data: what happened (`Kind`), to whom, about which document; each person's
//! settings (which kinds reach them in the app and by email, and how email is batched); who
//! hears about a comment; and how a digest groups what it carries. The server decides when to
//! notify (its `notify/`), stores the notifications and mails them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Someone mentioned you in a comment.
    Mention,
    /// Someone replied in a thread you wrote in.
    Reply,
    /// A document you can approve was submitted for review.
    ReviewRequested,
    /// Your document was approved.
    Approved,
    /// Changes were requested on your document.
    ChangesRequested,
    /// Your document was published.
    Published,
    /// Your document failed to publish.
    PublishFailed,
    /// A generation you started finished.
    GenerationFinished,
    /// A generation you started failed.
    GenerationFailed,
    /// You were added to an account.
    Invited,
    /// Your role in an account changed.
    RoleChanged,
    /// The account you own runs low on credits.
    LowCredits,
    /// A publishing channel of an account you manage must be connected again.
    ChannelNeedsReconnect,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Mention,
        Kind::Reply,
        Kind::ReviewRequested,
        Kind::Approved,
        Kind::ChangesRequested,
        Kind::Published,
        Kind::PublishFailed,
        Kind::GenerationFinished,
        Kind::GenerationFailed,
        Kind::Invited,
        Kind::RoleChanged,
        Kind::LowCredits,
        Kind::ChannelNeedsReconnect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mention => "mention",
            Kind::Reply => "reply",
            Kind::ReviewRequested => "review_requested",
            Kind::Approved => "approved",
            Kind::ChangesRequested => "changes_requested",
            Kind::Published => "published",
            Kind::PublishFailed => "publish_failed",
            Kind::GenerationFinished => "generation_finished",
            Kind::GenerationFailed => "generation_failed",
            Kind::Invited => "invited",
            Kind::RoleChanged => "role_changed",
            Kind::LowCredits => "low_credits",
            Kind::ChannelNeedsReconnect => "channel_needs_reconnect",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether it is emailed unless the person says otherwise: what asks them to act or tells
    /// them something went wrong; news they can read in the app when they are back is not.
    fn emailed_by_default(self) -> bool {
        !matches!(
            self,
            Kind::Published | Kind::GenerationFinished | Kind::RoleChanged
        )
    }
}

/// One notification in one person's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    /// Time-ordered (UUIDv7): the inbox's order and its cursor.
    pub notification_id: String,
    pub user_id: String,
    /// The account it happened in: a member removed from it no longer sees it. Empty for the
    /// person's own news that belongs to no account (an invitation, before they are a member).
    pub account_id: String,
    pub kind: Kind,
    /// Who did it: a user id, `system`, or `apikey:<id>`.
    pub actor: String,
    /// How to show who did it (the user's name when they have one).
    pub actor_name: String,
    pub doc_id: Option<String>,
    /// The document's title when it was sent.
    pub doc_title: String,
    /// What happened, one line (a comment's first words, a failure's reason).
    pub text: String,
    /// Where the editor opens it, relative to the editor's origin.
    pub link: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
    /// Shown in the inbox (the person's in-app setting for its kind when it was sent); an
    /// email-only notification is kept for its email and never listed.
    #[serde(skip)]
    pub in_app: bool,
    /// Emailed with the person's digest, not on its own (their setting when it was filed).
    #[serde(skip)]
    pub by_digest: bool,
}

/// Where one kind reaches a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Channels {
    pub in_app: bool,
    pub email: bool,
}

/// How a person's email notifications are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Digest {
    /// One email per notification, at once.
    #[default]
    Immediately,
    /// One email an hour with everything of that hour.
    Hourly,
    /// One email a day.
    Daily,
    /// No email at all.
    Never,
}

/// A person's notification settings. Kinds they never set keep their defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = NotificationSettings))]
pub struct Settings {
    #[serde(default)]
    pub digest: Digest,
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Channels>,
}

impl Settings {
    /// Where `kind` reaches this person.
    pub fn channels(&self, kind: Kind) -> Channels {
        self.kinds.get(&kind).copied().unwrap_or(Channels {
            in_app: true,
            email: kind.emailed_by_default(),
        })
    }

    /// Whether `kind` is emailed at all.
    pub fn emails(&self, kind: Kind) -> bool {
        self.digest != Digest::Never && self.channels(kind).email
    }

    /// Every kind with its channels, defaults filled in: what a settings page shows.
    pub fn complete(&self) -> Settings {
        Settings {
            digest: self.digest,
            kinds: Kind::ALL.iter().map(|&k| (k, self.channels(k))).collect(),
        }
    }
}

/// When the digest that carries a notification made at `created_at` goes out: the end of its
/// hour or day (windows of `hour_ms` / `day_ms`, aligned to the epoch, so every notification of
/// one window shares one digest). `None` for `Immediately` and `Never`.
pub fn digest_due(digest: Digest, created_at: i64, hour_ms: i64, day_ms: i64) -> Option<i64> {
    let window = match digest {
        Digest::Hourly => hour_ms,
        Digest::Daily => day_ms,
        Digest::Immediately | Digest::Never => return None,
    }
    .max(1);
    Some((created_at.div_euclid(window) + 1) * window)
}

/// Who hears about a new comment, each once: the mentioned members (a mention) and the
/// thread's earlier authors and mentioned members (a reply), never its author. A person both
/// mentioned and in the thread gets the mention.
pub fn comment_recipients<'a>(
    author: &str,
    mentions: &'a [String],
    thread_earlier: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Vec<(String, Kind)> {
    let mut out: Vec<(String, Kind)> = Vec::new();
    let mut add = |who: &str, kind: Kind| {
        if who != author && !out.iter().any(|(w, _)| w == who) {
            out.push((who.to_string(), kind));
        }
    };
    for m in mentions {
        add(m, Kind::Mention);
    }
    for (earlier_author, earlier_mentions) in thread_earlier {
        add(earlier_author, Kind::Reply);
        for m in earlier_mentions {
            add(m, Kind::Reply);
        }
    }
    out
}

/// One document's part of a digest: its notifications in the order they came.
#[derive(Debug, Clone, PartialEq)]
pub struct Group<'a> {
    pub doc_id: Option<&'a str>,
    pub doc_title: &'a str,
    pub items: Vec<&'a Notification>,
}

/// Notifications grouped per document (account-wide ones, without a document, together), the
/// groups in the order of their first notification.
pub fn group_by_document(items: &[Notification]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for n in items {
        match groups.iter_mut().find(|g| g.doc_id == n.doc_id.as_deref()) {
            Some(g) => g.items.push(n),
            None => groups.push(Group {
                doc_id: n.doc_id.as_deref(),
                doc_title: &n.doc_title,
                items: vec![n],
            }),
        }
    }
    groups
}

/// The first `max` characters of `text` on one line, with an ellipsis when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        line
    } else {
        let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(id: &str, doc: Option<&str>) -> Notification {
        Notification {
            notification_id: id.into(),
            user_id: "u".into(),
            account_id: "a".into(),
            kind: Kind::Mention,
            actor: "v".into(),
            actor_name: "V".into(),
            doc_id: doc.map(str::to_string),
            doc_title: doc.unwrap_or("").to_string(),
            text: String::new(),
            link: String::new(),
            created_at: 0,
            read_at: None,
            in_app: true,
            by_digest: false,
        }
    }

    #[test]
    fn a_person_mentioned_in_a_reply_to_their_thread_hears_once_as_mentioned() {
        let thread_mentions = vec!["carol".to_string()];
        let mentions = vec!["bob".to_string(), "alice".to_string(), "bob".to_string()];
        let got = comment_recipients(
            "alice",
            &mentions,
            [("bob", &[][..]), ("dave", &thread_mentions[..])],
        );
        assert_eq!(
            got,
            vec![
                ("bob".to_string(), Kind::Mention),
                ("dave".to_string(), Kind::Reply),
                ("carol".to_string(), Kind::Reply),
            ],
            "the author never, everyone else once"
        );
    }

    #[test]
    fn settings_default_per_kind_and_never_turns_email_off() {
        let mut s = Settings::default();
        assert!(s.emails(Kind::Mention));
        assert!(!s.emails(Kind::Published), "news waits for the app");
        assert!(s.channels(Kind::Published).in_app);
        s.kinds.insert(
            Kind::Mention,
            Channels {
                in_app: false,
                email: true,
            },
        );
        assert!(!s.channels(Kind::Mention).in_app);
        s.digest = Digest::Never;
        assert!(!s.emails(Kind::Mention));
        assert_eq!(s.complete().kinds.len(), Kind::ALL.len());
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Settings>(&json).unwrap(), s);
        assert!(serde_json::from_str::<Settings>(
            r#"{"kinds":{"nope":{"in_app":true,"email":true}}}"#
        )
        .is_err());
    }

    #[test]
    fn a_digest_window_ends_on_its_boundary_and_shares_one_due_time() {
        let hour = 3_600_000;
        assert_eq!(digest_due(Digest::Hourly, 1, hour, 24 * hour), Some(hour));
        assert_eq!(
            digest_due(Digest::Hourly, hour - 1, hour, 24 * hour),
            Some(hour)
        );
        assert_eq!(
            digest_due(Digest::Hourly, hour, hour, 24 * hour),
            Some(2 * hour)
        );
        assert_eq!(
            digest_due(Digest::Daily, 5 * hour, hour, 24 * hour),
            Some(24 * hour)
        );
        assert_eq!(digest_due(Digest::Immediately, 5, hour, 24 * hour), None);
        assert_eq!(digest_due(Digest::Never, 5, hour, 24 * hour), None);
    }

    #[test]
    fn a_digest_groups_per_document_in_arrival_order() {
        let items = vec![
            note("1", Some("d1")),
            note("2", Some("d2")),
            note("3", Some("d1")),
            note("4", None),
        ];
        let groups = group_by_document(&items);
        let shape: Vec<(Option<&str>, Vec<&str>)> = groups
            .iter()
            .map(|g| {
                (
                    g.doc_id,
                    g.items.iter().map(|n| n.notification_id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (Some("d1"), vec!["1", "3"]),
                (Some("d2"), vec!["2"]),
                (None, vec!["4"])
            ]
        );
    }

    #[test]
    fn excerpts_are_one_line_and_cut_on_characters() {
        assert_eq!(excerpt("a\n  b", 10), "a b");
        assert_eq!(excerpt("ééééé", 3), "éé…");
    }
}
