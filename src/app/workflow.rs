//! Moving a document through its workflow: the one place a transition is decided, recorded and
//! announced, for people (REST) and for the system (the publish job's `Publish` step). The
//! rules are `creo_core::workflow`; this adds the conditional write, the retry when someone
//! moved the document in between, the publish job a schedule queues, and the events.

use creo_core::jobs::{Job, JobKind};
use creo_core::role::Role;
use creo_core::workflow::{Action, Refusal, State, Transition, Workflow};

use crate::events::Events;
use crate::queue::JobQueue;
use crate::store::{now_ms, StoreError, WorkflowStore};

/// What a person asks for.
pub struct Request<'a> {
    pub doc_id: &'a str,
    pub account_id: &'a str,
    /// Who, as recorded (`Principal::actor`), and with which role.
    pub actor: &'a str,
    pub role: Role,
    pub action: Action,
    pub note: &'a str,
    /// For `schedule`: when (ms since the epoch) and in which time zone.
    pub schedule: Option<(i64, String)>,
    pub targets: Vec<creo_core::platforms::Target>,
    /// For `schedule` and `publish_now`: the rule the post repeats by (none: it stops).
    pub repeat: Option<&'a str>,
    pub required_approvals: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("scheduled, but the job queue did not take it: unschedule and schedule again")]
    NotQueued,
    #[error("scheduled, but its repetition could not be kept: unschedule and schedule again")]
    RepeatNotKept,
    #[error("the document kept moving; try again")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Decides and records a person's transition, re-reading and re-deciding when someone else
/// moved the document in between (a few times, then `Busy`). A schedule queues its publish job.
/// The caller announces it (`announce`) once it has kept what it needs (a version).
pub async fn transition(
    workflows: &dyn WorkflowStore,
    jobs: &JobQueue,
    request: Request<'_>,
) -> Result<(Workflow, Transition), MoveError> {
    let Request {
        doc_id,
        account_id,
        actor,
        role,
        action,
        note,
        schedule,
        targets,
        repeat,
        required_approvals,
    } = request;
    for _ in 0..5 {
        let current = workflows
            .workflow(doc_id)
            .await?
            .unwrap_or_else(|| Workflow::new(doc_id, account_id, 0));
        let now = now_ms();
        let mut next = current.apply(
            action,
            actor,
            role,
            required_approvals,
            schedule.clone(),
            now,
        )?;
        if matches!(action, Action::Schedule | Action::PublishNow) {
            next.targets = targets.clone();
        }
        let record = Transition {
            doc_id: doc_id.to_string(),
            version: next.version,
            from: current.state,
            to: next.state,
            action,
            actor: actor.to_string(),
            at: now,
            note: note.chars().take(1_000).collect(),
        };
        if !record_transition(workflows, &next, &record).await? {
            continue;
        }
        // Before the job: a publish now's job may run at once, and looks for it when done.
        let kept = remember_repetition(workflows, &next, action, repeat).await;
        if let (State::Scheduled, Some(at)) = (next.state, next.scheduled_at) {
            let job = Job {
                id: format!("publish-{doc_id}-{}", next.version),
                kind: JobKind::Publish {
                    doc_id: doc_id.to_string(),
                    version: next.version,
                },
                not_before: at,
                attempt: 0,
            };
            if let Err(e) = jobs.enqueue(&job).await {
                tracing::error!(doc = %doc_id, error = %e, "a scheduled document could not be queued for publishing");
                return Err(MoveError::NotQueued);
            }
        }
        if let Err(e) = kept {
            tracing::error!(doc = %doc_id, error = %e, "a post's repetition could not be kept");
            return Err(MoveError::RepeatNotKept);
        }
        return Ok((next, record));
    }
    Err(MoveError::Busy)
}

/// A schedule or publish now with `repeat` keeps the rule from this first occurrence; one
/// without, an unschedule and a reopen stop the post repeating; a reschedule moves one
/// occurrence and leaves the rule.
async fn remember_repetition(
    workflows: &dyn WorkflowStore,
    next: &Workflow,
    action: Action,
    repeat: Option<&str>,
) -> Result<(), StoreError> {
    match (action, repeat, next.scheduled_at) {
        (Action::Schedule | Action::PublishNow, Some(rule), Some(first)) => {
            workflows
                .put_recurrence(&creo_core::recurrence::Recurrence {
                    doc_id: next.doc_id.clone(),
                    account_id: next.account_id.clone(),
                    rule: rule.to_string(),
                    timezone: next.timezone.clone().unwrap_or_else(|| "UTC".into()),
                    first,
                })
                .await
        }
        (Action::Schedule | Action::PublishNow | Action::Unschedule | Action::Reopen, ..) => {
            workflows.delete_recurrence(&next.doc_id).await
        }
        _ => Ok(()),
    }
}

/// The system's last step of a scheduled post: published, or failed with the reason; the
/// workflow as it is now. `None` when someone moved the document meanwhile (their transition
/// is the news).
pub async fn finish_publishing(
    workflows: &dyn WorkflowStore,
    events: &Events,
    from: &Workflow,
    to: State,
    note: &str,
) -> Result<Option<Workflow>, StoreError> {
    let now = now_ms();
    let next = Workflow {
        state: to,
        version: from.version + 1,
        updated_at: now,
        ..from.clone()
    };
    let record = Transition {
        doc_id: from.doc_id.clone(),
        version: next.version,
        from: from.state,
        to,
        action: Action::Publish,
        actor: "system".into(),
        at: now,
        note: note.to_string(),
    };
    if !record_transition(workflows, &next, &record).await? {
        return Ok(None);
    }
    announce(events, &next, &record).await;
    Ok(Some(next))
}

/// A repeating post just went out (or failed): scheduled again for its next occurrence, with
/// the same targets, its job queued. Nothing when the rule has ended or someone moved it.
pub async fn repeat(
    workflows: &dyn WorkflowStore,
    jobs: &JobQueue,
    events: &Events,
    done: &Workflow,
) -> Result<(), StoreError> {
    let Some(recurrence) = workflows.recurrence(&done.doc_id).await? else {
        return Ok(());
    };
    let (Ok(rule), Ok(zone)) = (
        creo_core::recurrence::parse(&recurrence.rule),
        recurrence.timezone.parse::<chrono_tz::Tz>(),
    ) else {
        return Ok(()); // checked when it was stored
    };
    let now = now_ms();
    // After the occurrence just done, and never in the past (a node that was down skips what
    // it missed rather than posting it late).
    let after = done.scheduled_at.unwrap_or(now).max(now);
    let Some((index, at)) = creo_core::recurrence::next_after(&rule, zone, recurrence.first, after)
    else {
        workflows.delete_recurrence(&done.doc_id).await?;
        return Ok(());
    };
    let next = Workflow {
        state: State::Scheduled,
        scheduled_at: Some(at),
        version: done.version + 1,
        updated_at: now,
        approvals: done.approvals.clone(),
        ..done.clone()
    };
    let record = Transition {
        doc_id: done.doc_id.clone(),
        version: next.version,
        from: done.state,
        to: State::Scheduled,
        action: Action::Repeat,
        actor: "system".into(),
        at: now,
        note: format!("occurrence {} of {}", index + 1, recurrence.rule),
    };
    if !record_transition(workflows, &next, &record).await? {
        return Ok(());
    }
    let job = Job {
        id: format!("publish-{}-{}", next.doc_id, next.version),
        kind: JobKind::Publish {
            doc_id: next.doc_id.clone(),
            version: next.version,
        },
        not_before: at,
        attempt: 0,
    };
    if let Err(e) = jobs.enqueue(&job).await {
        tracing::error!(doc = %next.doc_id, error = %e, "the next occurrence could not be queued");
    }
    announce(events, &next, &record).await;
    Ok(())
}

/// Writes `next` if the workflow is still at the version before it. `false`: someone else
/// moved it first.
async fn record_transition(
    workflows: &dyn WorkflowStore,
    next: &Workflow,
    record: &Transition,
) -> Result<bool, StoreError> {
    let moved = workflows.transition(next, record).await?;
    if moved {
        metrics::counter!("creo_workflow_transitions_total", "to" => next.state.as_str())
            .increment(1);
    }
    Ok(moved)
}

/// Tells the document's editors (every node), the people it concerns (approvers of a
/// submission, the author of an outcome) and the account's webhooks about a transition.
pub async fn announce(events: &Events, next: &Workflow, record: &Transition) {
    let event = serde_json::json!({ "type": "workflow", "workflow": next, "transition": record });
    events.to_editors(&next.doc_id, &event);
    events.people().workflow_moved(next, record).await;
    events
        .to_webhooks(
            &next.account_id,
            Some(&next.doc_id),
            "workflow.transitioned",
            event,
        )
        .await;
}
