//! The document lifecycle: draft → in review → changes requested / approved → scheduled →
//! published (or failed), who may move a document between states, and how many approvals an
//! account requires. Pure rules, no I/O: `http/workflow.rs` applies them with a conditional
//! write in the store, so two people acting at once cannot both move the same state.

use serde::{Deserialize, Serialize};

use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum State {
    Draft,
    InReview,
    ChangesRequested,
    Approved,
    Scheduled,
    Published,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::InReview => "in_review",
            State::ChangesRequested => "changes_requested",
            State::Approved => "approved",
            State::Scheduled => "scheduled",
            State::Published => "published",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "draft" => State::Draft,
            "in_review" => State::InReview,
            "changes_requested" => State::ChangesRequested,
            "approved" => State::Approved,
            "scheduled" => State::Scheduled,
            "published" => State::Published,
            "failed" => State::Failed,
            _ => return None,
        })
    }
}

/// What a person asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// draft or changes requested → in review (editors).
    Submit,
    /// in review: one approval; the document is approved once it has the account's required
    /// number of approvals from different people (owners and admins).
    Approve,
    /// in review → changes requested (owners and admins).
    RequestChanges,
    /// approved → scheduled, with a time (editors).
    Schedule,
    /// approved → scheduled for now: the publishing job takes it at once, skipping any wait
    /// (editors).
    PublishNow,
    /// scheduled → scheduled at another time, to the same targets (editors): the earlier
    /// publishing job does nothing when its time comes (the version moved on).
    Reschedule,
    /// scheduled → approved (editors).
    Unschedule,
    /// any state → draft (owners and admins), approvals cleared.
    Reopen,
    /// scheduled → published or failed: the publishing job only, never a person.
    Publish,
    /// published or failed → scheduled for a repeating post's next occurrence: the publishing
    /// job only.
    Repeat,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::Approve => "approve",
            Action::RequestChanges => "request_changes",
            Action::Schedule => "schedule",
            Action::PublishNow => "publish_now",
            Action::Reschedule => "reschedule",
            Action::Unschedule => "unschedule",
            Action::Reopen => "reopen",
            Action::Publish => "publish",
            Action::Repeat => "repeat",
        }
    }

    /// The name of the version kept when this move is made, as a person reads it in the list.
    pub fn version_name(self, to: State) -> &'static str {
        match self {
            Action::Submit => "Submitted for review",
            Action::Approve if to == State::Approved => "Approved",
            Action::Approve => "Approval given",
            Action::RequestChanges => "Changes requested",
            Action::Schedule => "Scheduled",
            Action::PublishNow => "Sent to publish",
            Action::Reschedule => "Rescheduled",
            Action::Unschedule => "Unscheduled",
            Action::Reopen => "Reopened as draft",
            Action::Publish => "Published",
            Action::Repeat => "Scheduled again",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("your role may not {0} documents")]
    Role(&'static str),
    #[error("cannot {action} a document that is {state}")]
    State {
        action: &'static str,
        state: &'static str,
    },
    #[error("you already approved this version")]
    AlreadyApproved,
    #[error("scheduling needs a time in the future")]
    NeedsTime,
}

/// The workflow side of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workflow {
    pub doc_id: String,
    pub account_id: String,
    pub state: State,
    /// Who approved since it was last submitted.
    pub approvals: Vec<String>,
    /// Milliseconds since the Unix epoch, and the time zone it was given in.
    pub scheduled_at: Option<i64>,
    pub timezone: Option<String>,
    /// Where it goes out when scheduled (none: the configured destination's generic limits).
    pub targets: Vec<crate::platforms::Target>,
    /// Grows by one per transition: the store's condition for the next one.
    pub version: i64,
    pub updated_at: i64,
}

impl Workflow {
    pub fn new(doc_id: &str, account_id: &str, now: i64) -> Workflow {
        Workflow {
            doc_id: doc_id.to_string(),
            account_id: account_id.to_string(),
            state: State::Draft,
            approvals: Vec::new(),
            scheduled_at: None,
            timezone: None,
            targets: Vec::new(),
            version: 0,
            updated_at: now,
        }
    }

    /// The workflow after `actor` (with `role`) does `action`, or why not.
    pub fn apply(
        &self,
        action: Action,
        actor: &str,
        role: Role,
        required_approvals: u32,
        schedule: Option<(i64, String)>,
        now: i64,
    ) -> Result<Workflow, Refusal> {
        let wrong_state = || Refusal::State {
            action: action.as_str(),
            state: self.state.as_str(),
        };
        let mut next = self.clone();
        next.version += 1;
        next.updated_at = now;
        match action {
            Action::Submit => {
                if !role.can_write() {
                    return Err(Refusal::Role("submit"));
                }
                if !matches!(self.state, State::Draft | State::ChangesRequested) {
                    return Err(wrong_state());
                }
                next.state = State::InReview;
                next.approvals.clear();
            }
            Action::Approve | Action::RequestChanges => {
                if !role.can_manage() {
                    return Err(Refusal::Role(action.as_str()));
                }
                if self.state != State::InReview {
                    return Err(wrong_state());
                }
                if action == Action::RequestChanges {
                    next.state = State::ChangesRequested;
                    next.approvals.clear();
                } else {
                    if self.approvals.iter().any(|a| a == actor) {
                        return Err(Refusal::AlreadyApproved);
                    }
                    next.approvals.push(actor.to_string());
                    if next.approvals.len() as u32 >= required_approvals.max(1) {
                        next.state = State::Approved;
                    }
                }
            }
            Action::Schedule | Action::PublishNow => {
                let now_only = action == Action::PublishNow;
                if !role.can_write() {
                    return Err(Refusal::Role(if now_only { "publish" } else { "schedule" }));
                }
                if self.state != State::Approved {
                    return Err(wrong_state());
                }
                let (at, zone) = if now_only {
                    (
                        now,
                        schedule.map_or_else(|| "UTC".to_string(), |(_, zone)| zone),
                    )
                } else {
                    schedule
                        .filter(|(at, _)| *at > now)
                        .ok_or(Refusal::NeedsTime)?
                };
                next.state = State::Scheduled;
                next.scheduled_at = Some(at);
                next.timezone = Some(zone);
            }
            Action::Reschedule => {
                if !role.can_write() {
                    return Err(Refusal::Role("reschedule"));
                }
                if self.state != State::Scheduled {
                    return Err(wrong_state());
                }
                let (at, zone) = schedule
                    .filter(|(at, _)| *at > now)
                    .ok_or(Refusal::NeedsTime)?;
                next.scheduled_at = Some(at);
                next.timezone = Some(zone);
            }
            Action::Unschedule => {
                if !role.can_write() {
                    return Err(Refusal::Role("unschedule"));
                }
                if self.state != State::Scheduled {
                    return Err(wrong_state());
                }
                next.state = State::Approved;
                next.scheduled_at = None;
                next.timezone = None;
                next.targets.clear();
            }
            Action::Publish => return Err(Refusal::Role("publish")),
            Action::Repeat => return Err(Refusal::Role("repeat")),
            Action::Reopen => {
                if !role.can_manage() {
                    return Err(Refusal::Role("reopen"));
                }
                if self.state == State::Draft {
                    return Err(wrong_state());
                }
                next = Workflow {
                    version: next.version,
                    updated_at: now,
                    ..Workflow::new(&self.doc_id, &self.account_id, now)
                };
            }
        }
        Ok(next)
    }
}

/// One recorded move, with who made it and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transition {
    pub doc_id: String,
    pub version: i64,
    pub from: State,
    pub to: State,
    pub action: Action,
    pub actor: String,
    pub at: i64,
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000;

    #[test]
    fn a_document_goes_through_review_with_two_approvals_to_scheduled() {
        let w = Workflow::new("d", "a", 0);
        let w = w
            .apply(Action::Submit, "ed", Role::Editor, 2, None, NOW)
            .unwrap();
        assert_eq!(w.state, State::InReview);
        assert_eq!(
            w.apply(Action::Approve, "ed", Role::Editor, 2, None, NOW),
            Err(Refusal::Role("approve"))
        );
        let w = w
            .apply(Action::Approve, "boss", Role::Admin, 2, None, NOW)
            .unwrap();
        assert_eq!(w.state, State::InReview, "one of two approvals");
        assert_eq!(
            w.apply(Action::Approve, "boss", Role::Admin, 2, None, NOW),
            Err(Refusal::AlreadyApproved)
        );
        let w = w
            .apply(Action::Approve, "owner", Role::Owner, 2, None, NOW)
            .unwrap();
        assert_eq!(w.state, State::Approved);
        assert_eq!(
            w.apply(
                Action::Schedule,
                "ed",
                Role::Editor,
                2,
                Some((NOW - 1, "UTC".into())),
                NOW
            ),
            Err(Refusal::NeedsTime)
        );
        let w = w
            .apply(
                Action::Schedule,
                "ed",
                Role::Editor,
                2,
                Some((NOW + 60, "Europe/Paris".into())),
                NOW,
            )
            .unwrap();
        assert_eq!(
            (w.state, w.scheduled_at),
            (State::Scheduled, Some(NOW + 60))
        );
        assert_eq!(
            w.version, 4,
            "one version per transition, none for refusals"
        );
    }

    #[test]
    fn publish_now_schedules_an_approved_post_for_this_instant_only() {
        let draft = Workflow::new("d", "a", 0);
        assert!(matches!(
            draft.apply(Action::PublishNow, "ed", Role::Editor, 1, None, NOW),
            Err(Refusal::State { .. })
        ));
        let approved = draft
            .apply(Action::Submit, "ed", Role::Editor, 1, None, NOW)
            .unwrap()
            .apply(Action::Approve, "boss", Role::Admin, 1, None, NOW)
            .unwrap();
        assert_eq!(
            approved.apply(Action::PublishNow, "c", Role::Commenter, 1, None, NOW),
            Err(Refusal::Role("publish"))
        );
        let now = approved
            .apply(Action::PublishNow, "ed", Role::Editor, 1, None, NOW)
            .unwrap();
        assert_eq!(
            (now.state, now.scheduled_at, now.timezone.as_deref()),
            (State::Scheduled, Some(NOW), Some("UTC"))
        );
        assert!(matches!(
            now.apply(Action::PublishNow, "ed", Role::Editor, 1, None, NOW),
            Err(Refusal::State { .. })
        ));
    }

    #[test]
    fn a_scheduled_post_moves_to_another_time_with_its_targets_and_only_forward() {
        let scheduled = Workflow::new("d", "a", 0)
            .apply(Action::Submit, "ed", Role::Editor, 1, None, NOW)
            .unwrap()
            .apply(Action::Approve, "boss", Role::Admin, 1, None, NOW)
            .unwrap()
            .apply(
                Action::Schedule,
                "ed",
                Role::Editor,
                1,
                Some((NOW + 60, "UTC".into())),
                NOW,
            )
            .unwrap();
        let moved = scheduled
            .apply(
                Action::Reschedule,
                "ed",
                Role::Editor,
                1,
                Some((NOW + 600, "Europe/Paris".into())),
                NOW,
            )
            .unwrap();
        assert_eq!(
            (moved.state, moved.scheduled_at, moved.timezone.as_deref()),
            (State::Scheduled, Some(NOW + 600), Some("Europe/Paris"))
        );
        assert_eq!(
            moved.version,
            scheduled.version + 1,
            "the old job's version is stale"
        );
        assert_eq!(
            scheduled.apply(
                Action::Reschedule,
                "ed",
                Role::Editor,
                1,
                Some((NOW - 1, "UTC".into())),
                NOW
            ),
            Err(Refusal::NeedsTime)
        );
        assert_eq!(
            scheduled.apply(
                Action::Reschedule,
                "v",
                Role::Viewer,
                1,
                Some((NOW + 9, "UTC".into())),
                NOW
            ),
            Err(Refusal::Role("reschedule"))
        );
        let approved = scheduled
            .apply(Action::Unschedule, "ed", Role::Editor, 1, None, NOW)
            .unwrap();
        assert!(matches!(
            approved.apply(
                Action::Reschedule,
                "ed",
                Role::Editor,
                1,
                Some((NOW + 9, "UTC".into())),
                NOW
            ),
            Err(Refusal::State { .. })
        ));
    }

    #[test]
    fn changes_requested_go_back_to_review_and_viewers_move_nothing() {
        let w = Workflow::new("d", "a", 0)
            .apply(Action::Submit, "ed", Role::Editor, 1, None, NOW)
            .unwrap();
        let w = w
            .apply(Action::RequestChanges, "boss", Role::Admin, 1, None, NOW)
            .unwrap();
        assert_eq!(w.state, State::ChangesRequested);
        for role in [Role::Viewer, Role::Commenter] {
            assert!(w.apply(Action::Submit, "v", role, 1, None, NOW).is_err());
        }
        let w = w
            .apply(Action::Submit, "ed", Role::Editor, 1, None, NOW)
            .unwrap();
        assert_eq!(
            w.apply(
                Action::Schedule,
                "ed",
                Role::Editor,
                1,
                Some((NOW + 1, "UTC".into())),
                NOW
            ),
            Err(Refusal::State {
                action: "schedule",
                state: "in_review"
            })
        );
        let w = w
            .apply(Action::Reopen, "boss", Role::Owner, 1, None, NOW)
            .unwrap();
        assert_eq!((w.state, w.approvals.len()), (State::Draft, 0));
    }
}
