//! Who hears about each event, and what they read: the rules of issue-level behaviour ("a
//! review request reaches approvers only") in one place, each answering with a `Draft` and its
//! recipients for `Notifier::notify`.

use creo_core::comments::Comment;
use creo_core::generations::Generation;
use creo_core::notifications::{comment_recipients, excerpt, Kind};
use creo_core::role::Role;
use creo_core::workflow::{Action, State, Transition, Workflow};

use super::{Draft, Notifier};
use crate::store::LedgerEntry;

/// Longest one-line text a notification carries.
const TEXT_MAX: usize = 280;

impl Notifier {
    /// A new comment: its mentioned members, and for a reply the thread's earlier authors and
    /// mentioned members; each once, never its author.
    pub async fn comment_added(&self, account_id: &str, comment: &Comment, thread: &[Comment]) {
        let earlier = thread
            .iter()
            .filter(|c| c.thread_id == comment.thread_id && c.comment_id != comment.comment_id)
            .map(|c| (c.author.as_str(), c.mentions.as_slice()));
        let recipients = comment_recipients(&comment.author, &comment.mentions, earlier);
        let draft = Draft {
            account_id: account_id.to_string(),
            actor: comment.author.clone(),
            doc_id: Some(comment.doc_id.clone()),
            text: self
                .named_mentions(&excerpt(&comment.body, TEXT_MAX), &comment.mentions)
                .await,
            link: None,
        };
        self.notify(&draft, recipients).await;
    }

    /// A workflow transition: a submission reaches those who can approve; approval (once the
    /// document is approved), a request for changes, publication and its failure reach the
    /// person who submitted it and the person who scheduled it.
    pub async fn workflow_moved(&self, workflow: &Workflow, t: &Transition) {
        let kind = match (t.action, t.to) {
            (Action::Submit, _) => Kind::ReviewRequested,
            (Action::Approve, State::Approved) => Kind::Approved,
            (Action::RequestChanges, _) => Kind::ChangesRequested,
            (Action::Publish, State::Published) => Kind::Published,
            (Action::Publish, State::Failed) => Kind::PublishFailed,
            _ => return,
        };
        let recipients: Vec<String> = if kind == Kind::ReviewRequested {
            match self.stores.members.members(&workflow.account_id).await {
                Ok(members) => members
                    .into_iter()
                    .filter(|m| m.role.can_manage())
                    .map(|m| m.user_id)
                    .collect(),
                Err(e) => {
                    tracing::warn!(doc = %t.doc_id, error = %e, "approvers unknown: review request not notified");
                    return;
                }
            }
        } else {
            match self.stores.workflows.transitions(&t.doc_id).await {
                Ok(history) => authors_of(&history),
                Err(e) => {
                    tracing::warn!(doc = %t.doc_id, error = %e, "workflow history unreadable: not notified");
                    return;
                }
            }
        };
        let draft = Draft {
            account_id: workflow.account_id.clone(),
            actor: t.actor.clone(),
            doc_id: Some(t.doc_id.clone()),
            text: excerpt(&t.note, TEXT_MAX),
            link: None,
        };
        self.notify(&draft, recipients.into_iter().map(|r| (r, kind)).collect())
            .await;
    }

    /// A generation ended with `succeeded` variations: the person who started it hears.
    pub async fn generation_ended(&self, g: &Generation, succeeded: i64) {
        let (kind, text) = if succeeded > 0 {
            (
                Kind::GenerationFinished,
                format!("{succeeded} variations are ready to choose from"),
            )
        } else {
            let reason = g.error.as_deref().unwrap_or("no variation could be made");
            (Kind::GenerationFailed, excerpt(reason, TEXT_MAX))
        };
        let draft = Draft {
            account_id: g.account_id.clone(),
            actor: "system".into(),
            doc_id: Some(g.doc_id.clone()),
            text,
            link: None,
        };
        self.notify(&draft, vec![(g.requested_by.clone(), kind)])
            .await;
    }

    /// `user`'s role in the account changed.
    pub async fn role_changed(&self, account_id: &str, user: &str, role: Role, by: &str) {
        let name = self.account_name(account_id).await;
        let draft = Draft {
            account_id: account_id.to_string(),
            actor: by.to_string(),
            doc_id: None,
            text: format!("You are now {} in {name}", an(role)),
            link: None,
        };
        self.notify(&draft, vec![(user.to_string(), Kind::RoleChanged)])
            .await;
    }

    /// An invitation to an email that already has an account: they hear in their inbox, with a
    /// link to their own list of invitations, where they accept it once their address is
    /// verified (the invitation's token is never stored here). Someone who signed up with that
    /// address but never proved it is not told: it may not be theirs.
    pub async fn invited(&self, account_id: &str, email: &str, role: Role, by: &str) {
        let Ok(Some(user)) = self.stores.users.user_by_email(email).await else {
            return;
        };
        if self.mail_enabled() && user.email_verified_at.is_none() {
            return;
        }
        let name = self.account_name(account_id).await;
        let draft = Draft {
            account_id: account_id.to_string(),
            actor: by.to_string(),
            doc_id: None,
            text: format!("You are invited to {name} as {}", an(role)),
            link: Some("/#/invitations".to_string()),
        };
        self.notify(&draft, vec![(user.user_id, Kind::Invited)])
            .await;
    }

    /// After a charge: when it took the balance from at or above `line` to below it, the
    /// account's owners hear (once per crossing, however many charges follow).
    pub async fn charged(&self, entry: &LedgerEntry, line: i64) {
        let after = entry.balance_after_milli;
        let before = after - entry.amount_milli;
        if before >= line && after < line {
            self.low_credits(&entry.account_id, after).await;
        }
    }

    async fn low_credits(&self, account_id: &str, available_milli: i64) {
        let owners: Vec<(String, Kind)> = match self.stores.members.members(account_id).await {
            Ok(members) => members
                .into_iter()
                .filter(|m| m.role == Role::Owner)
                .map(|m| (m.user_id, Kind::LowCredits))
                .collect(),
            Err(_) => return,
        };
        let name = self.account_name(account_id).await;
        let draft = Draft {
            account_id: account_id.to_string(),
            actor: "system".into(),
            doc_id: None,
            text: format!("{name} has {} credits left", credits(available_milli)),
            link: None,
        };
        self.notify(&draft, owners).await;
    }

    /// A channel's tokens stopped working: its account's owners and admins hear, since only
    /// they can connect it again.
    pub async fn channel_needs_reconnect(&self, channel: &crate::channels::Channel, reason: &str) {
        let managers: Vec<(String, Kind)> =
            match self.stores.members.members(&channel.account_id).await {
                Ok(members) => members
                    .into_iter()
                    .filter(|m| m.role.can_manage())
                    .map(|m| (m.user_id, Kind::ChannelNeedsReconnect))
                    .collect(),
                Err(_) => return,
            };
        let draft = Draft {
            account_id: channel.account_id.clone(),
            actor: "system".into(),
            doc_id: None,
            text: format!(
                "{} ({}) needs reconnecting: {}",
                channel.name,
                channel.platform,
                reason.chars().take(200).collect::<String>()
            ),
            link: None,
        };
        self.notify(&draft, managers).await;
    }

    /// `text` with each `@user_id` of `mentions` it holds written as `@Name`, as people read
    /// comments in the editor. Only what fits in one excerpt is looked up (a few names).
    async fn named_mentions(&self, text: &str, mentions: &[String]) -> String {
        let mut out = text.to_string();
        let mut seen = std::collections::HashSet::new();
        let named = mentions
            .iter()
            .filter(|m| seen.insert(m.as_str()) && text.contains(&format!("@{m}")));
        for id in named {
            if let Ok(Some(user)) = self.stores.users.user(id).await {
                if !user.name.trim().is_empty() {
                    out = out.replace(&format!("@{id}"), &format!("@{}", user.name.trim()));
                }
            }
        }
        out
    }

    async fn account_name(&self, account_id: &str) -> String {
        match self.stores.accounts.account(account_id).await {
            Ok(Some(a)) => a.name,
            _ => "a workspace".into(),
        }
    }
}

/// Milli-credits as credits: 4500 → "4.5".
fn credits(milli: i64) -> String {
    let whole = format!("{}.{:03}", milli / 1000, (milli % 1000).abs());
    whole
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// "an owner", "an editor", "a viewer".
fn an(role: Role) -> String {
    let name = role.as_str();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// Who a document's outcome concerns: whoever submitted it for review last, and whoever
/// scheduled it last.
fn authors_of(history: &[Transition]) -> Vec<String> {
    let last = |action: Action| {
        history
            .iter()
            .rev()
            .find(|t| t.action == action)
            .map(|t| t.actor.clone())
    };
    let mut out: Vec<String> = [last(Action::Submit), last(Action::Schedule)]
        .into_iter()
        .flatten()
        .collect();
    out.dedup();
    out
}
