//! The document lifecycle over REST (rules in `creo_core::workflow`): read a document's state and
//! history, move it, and set how many approvals an account requires. Every transition is a
//! conditional write in the store, recorded with who and when, and sent live to the document's
//! editors that listen for events (`?events=1`, message type 101).

use actix_web::{web, HttpResponse};
use chrono::TimeZone;
use serde::{Deserialize, Serialize};

use super::extract::{AccountCaller, DocumentCaller, Manager};
use super::ApiError;
use crate::app::workflow::MoveError;
use crate::app::AppState;
use crate::http::Code;
use crate::workflow::{Action, Refusal, Transition, Workflow};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Move {
    pub action: Action,
    #[serde(default)]
    pub note: String,
    /// For `schedule` and `publish_now`: repeat the post, an RRULE subset
    /// (`FREQ=DAILY|WEEKLY|MONTHLY`, `INTERVAL`, `BYDAY` for weekly, `COUNT` or `UNTIL`), its
    /// times following the first in its time zone. A schedule without it stops repeating.
    #[serde(default)]
    pub repeat: Option<String>,
    /// For `schedule`, in place of `at` and `timezone`: the next free slot of this channel's
    /// queue (the post goes to that channel, and to `targets` if given, which must name it).
    #[serde(default)]
    pub queue: Option<String>,
    /// For `schedule` and `reschedule`: local date and time, e.g. `2026-12-01T09:00:00`...
    #[serde(default)]
    pub at: Option<String>,
    /// ...in this IANA time zone, e.g. `Europe/Paris` (daylight saving applied).
    #[serde(default)]
    pub timezone: Option<String>,
    /// For `schedule` and `publish_now`: the platforms (and formats) it goes out to; their limits are checked now
    /// and again at publishing time. None: the destination's generic limits.
    #[serde(default)]
    pub targets: Vec<crate::platforms::Target>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WorkflowView {
    pub workflow: Workflow,
    pub required_approvals: u32,
    pub transitions: Vec<Transition>,
    /// Where each channel target of the current scheduling stands (empty before it is
    /// scheduled, or when it goes to the server-wide destination).
    pub deliveries: Vec<crate::channels::TargetDelivery>,
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct WorkflowSettings {
    /// Distinct approvals (from owners or admins) before a document is approved.
    pub required_approvals: u32,
}

async fn required(state: &AppState, account_id: &str) -> Result<u32, ApiError> {
    Ok(state
        .stores
        .workflows
        .required_approvals(account_id)
        .await?
        .unwrap_or(state.config.workflow_required_approvals)
        .max(1))
}

/// `at` in `timezone` → milliseconds since the Unix epoch.
fn schedule_time(at: &str, timezone: &str) -> Result<i64, ApiError> {
    let zone: chrono_tz::Tz = timezone.parse().map_err(|_| {
        ApiError::bad_request(
            Code::InvalidTimezone,
            format!("unknown time zone {timezone:?}"),
        )
    })?;
    let local = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            ApiError::bad_request(
                Code::InvalidTime,
                "at is a local time like 2026-12-01T09:00:00",
            )
        })?;
    // A time skipped by a daylight-saving change does not exist; an ambiguous one takes the
    // earlier instant.
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| {
            ApiError::bad_request(
                Code::InvalidTime,
                format!("{at} does not exist in {timezone}"),
            )
        })
}

/// A post whose channels are being published to cannot be moved or taken back: a new schedule
/// would send again to the channels already done.
async fn refuse_while_going_out(state: &AppState, doc_id: &str) -> Result<(), ApiError> {
    let Some(current) = state.stores.workflows.workflow(doc_id).await? else {
        return Ok(());
    };
    let started = state
        .stores
        .channels
        .targets(&current.doc_id)
        .await?
        .into_iter()
        .any(|t| t.version == current.version && t.state != crate::channels::TargetState::Queued);
    if started {
        return Err(ApiError::new(
            Code::InvalidTransition,
            "the post is going out on its channels: wait until it is published or failed",
        ));
    }
    Ok(())
}

/// A post just scheduled (or rescheduled) for a later time shows each of its channels as
/// queued until its publishing job takes them. (Not for publish now: its job may already be
/// writing these records.)
async fn queue_targets(state: &AppState, next: &Workflow) -> Result<(), ApiError> {
    if next.state != crate::workflow::State::Scheduled {
        return Ok(());
    }
    for target in &next.targets {
        let Some(channel_id) = &target.channel_id else {
            continue;
        };
        let queued = crate::channels::TargetDelivery {
            doc_id: next.doc_id.clone(),
            version: next.version,
            channel_id: channel_id.clone(),
            platform: target.platform.clone(),
            state: crate::channels::TargetState::Queued,
            attempts: 0,
            updated_at: crate::store::now_ms(),
        };
        state.stores.channels.put_target(&queued).await?;
    }
    Ok(())
}

/// `targets` with each channel target's platform taken from its channel, after checking that
/// every channel is the account's and can publish; all targets name a channel, or none does.
async fn on_channels(
    state: &AppState,
    account_id: &str,
    mut targets: Vec<crate::platforms::Target>,
) -> Result<Vec<crate::platforms::Target>, ApiError> {
    let on_channels = targets.iter().filter(|t| t.channel_id.is_some()).count();
    if on_channels == 0 {
        return Ok(targets);
    }
    if on_channels != targets.len() {
        return Err(ApiError::bad_request(
            Code::InvalidTargets,
            "a post goes to channels or to the server's destination, not both: give every target a channel_id",
        ));
    }
    let channels = state.stores.channels.channels(account_id).await?;
    for target in &mut targets {
        let id = target.channel_id.as_deref().unwrap_or_default();
        let Some(channel) = channels.iter().find(|c| c.channel_id == id) else {
            return Err(ApiError::bad_request(
                Code::InvalidTargets,
                format!("no channel {id} in this account"),
            ));
        };
        if channel.status == crate::channels::ChannelStatus::NeedsReconnect {
            return Err(ApiError::new(
                Code::ChannelUnavailable,
                format!("{} needs reconnecting before it can publish", channel.name),
            ));
        }
        if channel.platform != "webhook" {
            target.platform = channel.platform.clone();
        } else if target.platform.is_empty() {
            target.platform = "generic".into();
        }
    }
    Ok(targets)
}

async fn view(state: &AppState, doc_id: &str, account_id: &str) -> Result<WorkflowView, ApiError> {
    let workflow = state
        .stores
        .workflows
        .workflow(doc_id)
        .await?
        .unwrap_or_else(|| Workflow::new(doc_id, account_id, 0));
    let mut deliveries = state.stores.channels.targets(doc_id).await?;
    deliveries.retain(|d| {
        d.version == workflow.version
            || (workflow.state != crate::workflow::State::Scheduled
                && d.version + 1 == workflow.version)
    });
    Ok(WorkflowView {
        workflow,
        required_approvals: required(state, account_id).await?,
        transitions: state.stores.workflows.transitions(doc_id).await?,
        deliveries,
    })
}

/// The document's state, its approvals, and every transition so far.
#[utoipa::path(get, operation_id = "workflow_get", path = "/api/v1/documents/{doc_id}/workflow", params(("doc_id" = String, Path, description = "the document's id")),
    responses((status = 200, description = "the workflow", body = WorkflowView)))]
pub async fn get(
    DocumentCaller { principal, doc_id }: DocumentCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let meta = super::owned_document(&state, &doc_id, &principal.account)
        .await?
        .account_id;
    Ok(HttpResponse::Ok().json(view(&state, &doc_id, &meta).await?))
}

/// Moves the document: submit, approve, request_changes, schedule, publish_now, reschedule,
/// unschedule, reopen.
#[utoipa::path(post, operation_id = "workflow_transition", path = "/api/v1/documents/{doc_id}/workflow", params(("doc_id" = String, Path, description = "the document's id")), request_body = Move,
    responses((status = 200, description = "moved", body = WorkflowView),
              (status = 403, description = "your role may not do this"),
              (status = 409, description = "not possible in the document's state")))]
pub async fn transition(
    DocumentCaller { principal, doc_id }: DocumentCaller,
    body: web::Json<Move>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = super::owned_document(&state, &doc_id, &principal.account)
        .await?
        .account_id;
    let view = apply_move(&state, &principal, &doc_id, &account, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// One person's move of one document of `account`, checked, recorded, kept as a version and
/// announced: the transition endpoint's work, and each step of reordering a queue.
pub(super) async fn apply_move(
    state: &AppState,
    principal: &std::sync::Arc<crate::auth::Principal>,
    doc_id: &str,
    account: &str,
    body: Move,
) -> Result<WorkflowView, ApiError> {
    let (state, doc_id, account) = (state, doc_id.to_string(), account.to_string());
    let mut body = body;
    let schedule = match (&body.queue, &body.at, &body.timezone) {
        (Some(channel), None, None) if body.action == Action::Schedule => {
            if !principal.role.can_write() {
                return Err(ApiError::forbidden(
                    Code::Forbidden,
                    "your role may not schedule documents",
                ));
            }
            let (slot, zone) = super::queue::next_free_slot(state, &account, channel).await?;
            if body.targets.is_empty() {
                body.targets = vec![crate::platforms::Target {
                    platform: String::new(),
                    format: None,
                    channel_id: Some(channel.clone()),
                }];
            }
            if !body
                .targets
                .iter()
                .any(|t| t.channel_id.as_ref() == Some(channel))
            {
                return Err(ApiError::bad_request(
                    Code::InvalidTargets,
                    "a post added to a channel's queue goes to that channel",
                ));
            }
            Some((slot, zone))
        }
        (Some(_), _, _) => {
            return Err(ApiError::bad_request(
                Code::InvalidTime,
                "queue is for schedule, in place of at and timezone",
            ))
        }
        (None, Some(at), Some(zone)) => Some((schedule_time(at, zone)?, zone.clone())),
        // Publish now in a zone: a repeating post's later times follow it there.
        (None, None, Some(zone)) if body.action == Action::PublishNow => {
            zone.parse::<chrono_tz::Tz>().map_err(|_| {
                ApiError::bad_request(Code::InvalidTimezone, format!("unknown time zone {zone:?}"))
            })?;
            Some((crate::store::now_ms(), zone.clone()))
        }
        (None, Some(_), None) => {
            return Err(ApiError::bad_request(
                Code::InvalidTimezone,
                "at needs a timezone",
            ))
        }
        _ => None,
    };
    if let Some(rule) = &body.repeat {
        if !matches!(body.action, Action::Schedule | Action::PublishNow) {
            return Err(ApiError::bad_request(
                Code::InvalidRepeat,
                "repeat goes with schedule or publish_now",
            ));
        }
        creo_core::recurrence::parse(rule)
            .map_err(|e| ApiError::bad_request(Code::InvalidRepeat, e))?;
    }
    if matches!(body.action, Action::Schedule | Action::PublishNow) {
        body.targets = on_channels(&state, &account, body.targets).await?;
        crate::platforms::validate(&body.targets)
            .map_err(|e| ApiError::bad_request(Code::InvalidTargets, e))?;
        // The post as it is now must fit (it is checked again when it goes out).
        let by = principal.clone();
        let state_now = state
            .registry
            .ask(&doc_id, || crate::actors::document::GetState {
                principal: by.clone(),
            })
            .await?;
        let (targets, chars, hashtags) = (
            body.targets.clone(),
            state.config.publish_max_chars,
            state.config.publish_max_hashtags,
        );
        let (doc, named) = crate::snapshot::off_executor(move || {
            let doc = crate::snapshot::decode(&state_now, yrs::OffsetKind::Bytes)?;
            let named = crate::platforms::media_ids(&doc);
            Ok::<_, String>((doc, named))
        })
        .await
        .map_err(|problems| ApiError::new(Code::PlatformChecks, problems))?;
        // Named library media count with their stored size, not the client's numbers.
        let library = crate::media::links::library(
            &state.stores,
            &state.sealer,
            &state.config.public_url(),
            &account,
            &named,
        )
        .await?;
        crate::snapshot::off_executor(move || {
            crate::platforms::posts(&doc, &targets, chars, hashtags, &library).map(|_| ())
        })
        .await
        .map_err(|problems| ApiError::new(Code::PlatformChecks, problems))?;
        // Before the move: a medium a scheduled post names is never deleted under it.
        state
            .stores
            .media
            .record_uses(&account, &doc_id, &named)
            .await?;
    }
    if matches!(body.action, Action::Reschedule | Action::Unschedule) {
        refuse_while_going_out(state, &doc_id).await?;
    }
    let request = crate::app::workflow::Request {
        doc_id: &doc_id,
        account_id: &account,
        actor: &principal.actor(),
        role: principal.role,
        action: body.action,
        note: &body.note,
        schedule,
        targets: body.targets.clone(),
        repeat: body.repeat.as_deref(),
        required_approvals: required(state, &account).await?,
    };
    let (next, record) =
        crate::app::workflow::transition(&*state.stores.workflows, &state.jobs, request)
            .await
            .map_err(|e| match e {
                MoveError::Refused(refusal @ Refusal::Role(_)) => {
                    ApiError::forbidden(Code::Forbidden, refusal.to_string())
                }
                MoveError::Refused(refusal @ Refusal::NeedsTime) => {
                    ApiError::bad_request(Code::InvalidTime, refusal.to_string())
                }
                MoveError::Refused(refusal) => {
                    ApiError::new(Code::InvalidTransition, refusal.to_string())
                }
                MoveError::NotQueued | MoveError::RepeatNotKept => {
                    ApiError::new(Code::NotQueued, e.to_string())
                }
                MoveError::Busy => ApiError::new(Code::DocumentBusy, e.to_string()),
                MoveError::Store(e) => e.into(),
            })?;
    if matches!(body.action, Action::Schedule | Action::Reschedule) {
        queue_targets(state, &next).await?;
    }
    // Every state change keeps the content it was decided on.
    let name = body.action.version_name(next.state);
    super::versions::take(state, &doc_id, principal, name, true).await?;
    crate::app::workflow::announce(&state.events, &next, &record).await;
    view(state, &doc_id, &account).await
}

/// How many approvals the account requires (any member may read it).
#[utoipa::path(get, operation_id = "workflow_settings", path = "/api/v1/accounts/{account_id}/workflow-settings", params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "settings", body = WorkflowSettings)))]
pub async fn settings(
    AccountCaller { account_id, .. }: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(WorkflowSettings {
        required_approvals: required(&state, &account_id).await?,
    }))
}

/// Sets how many approvals the account requires (owners and admins).
#[utoipa::path(put, operation_id = "workflow_set_settings", path = "/api/v1/accounts/{account_id}/workflow-settings", params(("account_id" = String, Path, description = "the account (workspace) id")), request_body = WorkflowSettings,
    responses((status = 200, description = "stored", body = WorkflowSettings)))]
pub async fn set_settings(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    body: web::Json<WorkflowSettings>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !(1..=10).contains(&body.required_approvals) {
        return Err(ApiError::bad_request(
            Code::InvalidSettings,
            "required_approvals is 1-10",
        ));
    }
    state
        .stores
        .workflows
        .set_required_approvals(&account_id, body.required_approvals)
        .await?;
    let detail = body.required_approvals.to_string();
    super::audit(
        &state,
        &account_id,
        &by.actor(),
        "workflow_settings_changed",
        "required_approvals",
        &detail,
    )
    .await;
    Ok(HttpResponse::Ok().json(body.into_inner()))
}
