//! An account's publishing calendar: its posts with a time (scheduled, published, failed) in
//! a window, optionally only those going to one channel. Any member reads it; moving a post on
//! it is the workflow's `reschedule` (or `schedule` for an approved post), so roles and the
//! approval rule apply as everywhere.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::AccountCaller;
use super::ApiError;
use crate::app::AppState;
use crate::http::Code;
use crate::workflow::State;

/// The widest window one request reads (a month view with the weeks around it fits).
const MAX_WINDOW_DAYS: i64 = 92;
/// The most posts one answer lists.
const MAX_ENTRIES: usize = 1_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Window {
    /// The window's start, RFC 3339 (`2026-12-01T00:00:00+01:00`), inclusive.
    pub from: String,
    /// Its end, RFC 3339, exclusive; at most 92 days after `from`.
    pub to: String,
    /// Only posts with a target on this channel.
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CalendarEntry {
    pub doc_id: String,
    pub title: String,
    pub state: State,
    /// Milliseconds since the epoch, and the zone it was scheduled in.
    pub scheduled_at: i64,
    pub timezone: Option<String>,
    pub targets: Vec<crate::platforms::Target>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Calendar {
    pub entries: Vec<CalendarEntry>,
    /// More posts fall in the window than one answer lists: ask for a narrower one.
    pub truncated: bool,
}

/// `[from, to)` read from two RFC 3339 instants (`2026-12-01T00:00:00+01:00`), `to` after
/// `from` by at most `max_days`: the window calendar and analytics requests name.
pub(super) fn window(from: &str, to: &str, max_days: i64) -> Result<(i64, i64), ApiError> {
    let instant = |name: &str, value: &str| {
        chrono::DateTime::parse_from_rfc3339(value)
            .map(|t| t.timestamp_millis())
            .map_err(|_| {
                ApiError::bad_request(
                    Code::InvalidTime,
                    format!("{name} is an RFC 3339 instant like 2026-12-01T00:00:00Z"),
                )
            })
    };
    let (from, to) = (instant("from", from)?, instant("to", to)?);
    if to <= from || to - from > max_days * 86_400_000 {
        return Err(ApiError::bad_request(
            Code::InvalidTime,
            format!("to comes after from, at most {max_days} days later"),
        ));
    }
    Ok((from, to))
}

/// The account's posts with a time in the window, by time.
#[utoipa::path(get, operation_id = "calendar_get", path = "/api/v1/accounts/{account_id}/calendar", params(("account_id" = String, Path, description = "the account (workspace) id"), Window),
    responses((status = 200, description = "the posts in the window", body = Calendar),
              (status = 400, description = "a bad or too wide window")))]
pub async fn get(
    AccountCaller {
        principal,
        account_id,
    }: AccountCaller,
    query: web::Query<Window>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = window(&query.from, &query.to, MAX_WINDOW_DAYS)?;
    let mut posts = state
        .stores
        .workflows
        .calendar(&account_id, from, to, MAX_ENTRIES + 1)
        .await?;
    let truncated = posts.len() > MAX_ENTRIES;
    posts.truncate(MAX_ENTRIES);
    if let Some(doc) = &principal.doc {
        posts.retain(|w| &w.doc_id == doc); // a token for one document sees only it
    }
    if let Some(channel) = &query.channel {
        posts.retain(|w| {
            w.targets
                .iter()
                .any(|t| t.channel_id.as_deref() == Some(channel))
        });
    }
    // Titles in one read of the account's documents, not one per post.
    let titles: std::collections::HashMap<String, String> = state
        .stores
        .documents
        .documents_of(&account_id, MAX_ENTRIES)
        .await?
        .into_iter()
        .map(|m| (m.doc_id, m.title))
        .collect();
    let entries = posts
        .into_iter()
        .filter_map(|w| {
            Some(CalendarEntry {
                title: titles.get(&w.doc_id).cloned().unwrap_or_default(),
                scheduled_at: w.scheduled_at?,
                doc_id: w.doc_id,
                state: w.state,
                timezone: w.timezone,
                targets: w.targets,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(Calendar { entries, truncated }))
}
