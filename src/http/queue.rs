//! A channel's posting queue over REST (rules in `creo_core::slots`): owners and admins set its
//! weekly slots; any member reads the upcoming slots with the posts holding them; writers add a
//! post to the next free slot (the workflow's `schedule` with `queue`) and reorder the queue,
//! which gives the queued posts its slots in the order asked (each a `reschedule`).

use actix_web::{web, HttpResponse};
use chrono::TimeZone;
use serde::{Deserialize, Serialize};

use super::extract::{AccountCaller, Manager};
use super::ApiError;
use crate::app::AppState;
use crate::http::Code;
use crate::slots::{self, QueueSchedule};
use crate::store::now_ms;
use crate::workflow::{Action, State, Workflow};

/// Upcoming slots one answer lists.
const SHOWN_SLOTS: usize = 30;

#[derive(Serialize, utoipa::ToSchema)]
pub struct QueueView {
    pub schedule: Option<QueueSchedule>,
    /// The next slots, earliest first, each with the post holding it.
    pub slots: Vec<QueueSlot>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QueueSlot {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub doc_id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct QueueOrder {
    /// Every post now in the queue, in the order they should go out.
    pub doc_ids: Vec<String>,
}

async fn channel(
    state: &AppState,
    account_id: &str,
    channel_id: &str,
) -> Result<crate::channels::Channel, ApiError> {
    state
        .stores
        .channels
        .channel(account_id, channel_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such channel"))
}

/// The channel's upcoming scheduled posts, by time (one calendar read).
async fn queued(
    state: &AppState,
    account_id: &str,
    channel_id: &str,
) -> Result<Vec<Workflow>, ApiError> {
    let now = now_ms();
    let horizon = now + slots::HORIZON_DAYS * 86_400_000;
    let mut posts = state
        .stores
        .workflows
        .calendar(account_id, now, horizon, 1_000)
        .await?;
    posts.retain(|w| {
        w.state == State::Scheduled
            && w.targets
                .iter()
                .any(|t| t.channel_id.as_deref() == Some(channel_id))
    });
    Ok(posts)
}

/// The first upcoming slot of the channel's queue no post on it holds, and the queue's zone.
pub(super) async fn next_free_slot(
    state: &AppState,
    account_id: &str,
    channel_id: &str,
) -> Result<(i64, String), ApiError> {
    let channel = channel(state, account_id, channel_id).await?;
    let Some(schedule) = channel.queue else {
        return Err(ApiError::bad_request(
            Code::NoQueue,
            format!("{} has no posting schedule", channel.name),
        ));
    };
    let taken: Vec<i64> = queued(state, account_id, channel_id)
        .await?
        .iter()
        .filter_map(|w| w.scheduled_at)
        .collect();
    let slot = slots::next_free(&schedule, now_ms(), &taken).ok_or_else(|| {
        ApiError::new(
            Code::QueueFull,
            format!(
                "every slot of the next {} days is taken",
                slots::HORIZON_DAYS
            ),
        )
    })?;
    Ok((slot, schedule.timezone))
}

/// The upcoming slots and the posts holding them.
#[utoipa::path(get, operation_id = "queue_get", path = "/api/v1/accounts/{account_id}/channels/{channel_id}/queue", params(("account_id" = String, Path, description = "the account (workspace) id"), ("channel_id" = String, Path, description = "the channel's id")),
    responses((status = 200, description = "the queue", body = QueueView), (status = 404, description = "no such channel")))]
pub async fn get(
    AccountCaller { account_id, .. }: AccountCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, channel_id) = path.into_inner();
    Ok(HttpResponse::Ok().json(view(&state, &account_id, &channel_id).await?))
}

async fn view(state: &AppState, account_id: &str, channel_id: &str) -> Result<QueueView, ApiError> {
    let schedule = channel(state, account_id, channel_id).await?.queue;
    let posts = queued(state, account_id, channel_id).await?;
    let slots = schedule
        .as_ref()
        .map(|s| slots::upcoming(s, now_ms()))
        .unwrap_or_default()
        .into_iter()
        .take(SHOWN_SLOTS)
        .map(|at| QueueSlot {
            at,
            doc_id: posts
                .iter()
                .find(|w| w.scheduled_at == Some(at))
                .map(|w| w.doc_id.clone()),
        })
        .collect();
    Ok(QueueView { schedule, slots })
}

/// Sets the channel's weekly slots (owners and admins). Posts already scheduled keep their times.
#[utoipa::path(put, operation_id = "queue_set_schedule", path = "/api/v1/accounts/{account_id}/channels/{channel_id}/queue-schedule", params(("account_id" = String, Path, description = "the account (workspace) id"), ("channel_id" = String, Path, description = "the channel's id")), request_body = QueueSchedule,
    responses((status = 200, description = "stored; the queue as it is now", body = QueueView),
              (status = 400, description = "a bad zone, day or time"), (status = 404, description = "no such channel")))]
pub async fn set_schedule(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    path: web::Path<(String, String)>,
    body: web::Json<QueueSchedule>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, channel_id) = path.into_inner();
    let schedule = body.into_inner();
    slots::validate(&schedule).map_err(|e| ApiError::bad_request(Code::InvalidSettings, e))?;
    let mut c = channel(&state, &account_id, &channel_id).await?;
    let detail = format!("{} slots in {}", schedule.slots.len(), schedule.timezone);
    c.queue = Some(schedule);
    c.updated_at = now_ms();
    state.stores.channels.put_channel(&c).await?;
    super::audit(
        &state,
        &account_id,
        &by.actor(),
        "queue_schedule_set",
        &channel_id,
        &detail,
    )
    .await;
    Ok(HttpResponse::Ok().json(view(&state, &account_id, &channel_id).await?))
}

/// Reorders the queue: the posts in it take its upcoming slots in the order given (editors and
/// up; each move is a `reschedule`, recorded and announced like any).
#[utoipa::path(put, operation_id = "queue_reorder", path = "/api/v1/accounts/{account_id}/channels/{channel_id}/queue", params(("account_id" = String, Path, description = "the account (workspace) id"), ("channel_id" = String, Path, description = "the channel's id")), request_body = QueueOrder,
    responses((status = 200, description = "the queue in its new order", body = QueueView),
              (status = 400, description = "not exactly the posts in the queue"),
              (status = 403, description = "your role may not move posts")))]
pub async fn reorder(
    AccountCaller {
        principal,
        account_id,
    }: AccountCaller,
    path: web::Path<(String, String)>,
    body: web::Json<QueueOrder>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, channel_id) = path.into_inner();
    if !principal.role.can_write() {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "your role may not move posts",
        ));
    }
    let schedule = channel(&state, &account_id, &channel_id)
        .await?
        .queue
        .ok_or_else(|| {
            ApiError::bad_request(Code::NoQueue, "the channel has no posting schedule")
        })?;
    let posts = queued(&state, &account_id, &channel_id).await?;
    let (mut asked, mut have): (Vec<&str>, Vec<&str>) = (
        body.doc_ids.iter().map(String::as_str).collect(),
        posts.iter().map(|w| w.doc_id.as_str()).collect(),
    );
    asked.sort_unstable();
    have.sort_unstable();
    if asked != have {
        return Err(ApiError::bad_request(
            Code::InvalidInput,
            "doc_ids lists every post in the queue, each once",
        ));
    }
    // The times the queue holds now, earliest first, handed out in the new order.
    let mut times: Vec<i64> = posts.iter().filter_map(|w| w.scheduled_at).collect();
    times.sort_unstable();
    let zone: chrono_tz::Tz = schedule.timezone.parse().expect("validated when stored");
    let principal = std::sync::Arc::new(principal);
    for (doc_id, at) in body.doc_ids.iter().zip(times) {
        let post = posts
            .iter()
            .find(|w| &w.doc_id == doc_id)
            .expect("checked above");
        if post.scheduled_at == Some(at) {
            continue;
        }
        let local = zone
            .timestamp_millis_opt(at)
            .single()
            .expect("an instant has one local time")
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let step = super::workflow::Move {
            action: Action::Reschedule,
            note: "queue reordered".into(),
            queue: None,
            repeat: None,
            at: Some(local),
            timezone: Some(schedule.timezone.clone()),
            targets: Vec::new(),
        };
        super::workflow::apply_move(&state, &principal, doc_id, &account_id, step).await?;
    }
    Ok(HttpResponse::Ok().json(view(&state, &account_id, &channel_id).await?))
}
