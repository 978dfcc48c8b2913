//! The caller's inbox: list (newest first, cursor pagination, unread filter), unread count,
//! mark read / unread / all read, delete; their notification settings; and the live stream of
//! their inbox. Only people (tokens of a user, not API keys) have an inbox. What a list or a
//! count shows is checked against the caller's memberships when it is read: a member removed
//! from an account sees nothing of it any more.
//!
//! The live stream is Server-Sent Events on the person's own channel, not a message on a
//! document socket: the bell must ring on the documents page too, where no document is open,
//! and one stream per tab is cheaper than a socket per document. It carries `notification`
//! (a new one) and `changed` (the count moved some other way) events, a comment every
//! `inbox_heartbeat_ms` so proxies keep it open and a dead client is noticed, and it ends when the
//! access token could have expired, so the editor reconnects with a fresh one.

use std::collections::HashSet;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::{authenticate, ApiError};
use crate::app::AppState;
use crate::auth::Principal;
use crate::http::Code;
use crate::notify::Live;
use crate::store::{now_ms, InboxQuery};
use creo_core::notifications::{Notification, Settings};

/// Longest page of an inbox.
const MAX_PAGE: u32 = 100;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// Only notifications older than this one (the previous page's `next_cursor`).
    pub cursor: Option<String>,
    /// Only unread ones.
    #[serde(default)]
    pub unread: bool,
    /// Page size, 1-100 (default 30).
    pub limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InboxPage {
    pub items: Vec<Notification>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
    pub unread: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UnreadCount {
    pub unread: u64,
}

/// A person, not an API key: only people have an inbox.
async fn person(req: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    let principal = authenticate(req, state, None).await?;
    if principal.api_key.is_some() {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "API keys have no inbox: use a person's token",
        ));
    }
    Ok(principal)
}

async fn visible_accounts(state: &AppState, user: &str) -> Result<HashSet<String>, ApiError> {
    Ok(crate::notify::visible_accounts(&state.stores, user).await?)
}

async fn unread(state: &AppState, user: &str, accounts: &HashSet<String>) -> Result<u64, ApiError> {
    let accounts: Vec<String> = accounts.iter().cloned().collect();
    let counted = state
        .stores
        .notifications
        .unread_count(user, &accounts)
        .await?;
    Ok(counted)
}

/// The caller's notifications, newest first.
#[utoipa::path(get, operation_id = "notifications_list", path = "/api/v1/users/me/notifications", params(InboxParams),
    responses((status = 200, description = "a page of the inbox", body = InboxPage)))]
pub async fn list(
    req: HttpRequest,
    params: web::Query<InboxParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = person(&req, &state).await?;
    let limit = params.limit.unwrap_or(30);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            Code::InvalidQuery,
            format!("limit is 1-{MAX_PAGE}"),
        ));
    }
    if params.cursor.as_ref().is_some_and(|c| c.len() > 64) {
        return Err(ApiError::bad_request(Code::InvalidQuery, "bad cursor"));
    }
    let accounts = visible_accounts(&state, &p.user).await?;
    let query = InboxQuery {
        before: params.cursor.clone(),
        unread_only: params.unread,
        limit: limit + 1,
    };
    let mut items = state
        .stores
        .notifications
        .notifications(&p.user, &query)
        .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = more
        .then(|| items.last().map(|n| n.notification_id.clone()))
        .flatten();
    items.retain(|n| accounts.contains(&n.account_id));
    Ok(HttpResponse::Ok().json(InboxPage {
        items,
        next_cursor,
        unread: unread(&state, &p.user, &accounts).await?,
    }))
}

/// How many of the caller's notifications are unread.
#[utoipa::path(get, operation_id = "notifications_unread", path = "/api/v1/users/me/notifications/unread-count",
    responses((status = 200, description = "the count", body = UnreadCount)))]
pub async fn unread_count(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = person(&req, &state).await?;
    let accounts = visible_accounts(&state, &p.user).await?;
    Ok(HttpResponse::Ok().json(UnreadCount {
        unread: unread(&state, &p.user, &accounts).await?,
    }))
}

/// Tells the person's open streams that the count moved, and answers with it.
async fn changed(state: &AppState, user: &str) -> Result<HttpResponse, ApiError> {
    state.events.people().tell(user, &Live::Changed);
    let accounts = visible_accounts(state, user).await?;
    Ok(HttpResponse::Ok().json(UnreadCount {
        unread: unread(state, user, &accounts).await?,
    }))
}

async fn set_read(
    req: HttpRequest,
    id: String,
    read: bool,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    let p = person(&req, state).await?;
    let at = read.then(now_ms);
    if !state
        .stores
        .notifications
        .set_read(&p.user, &id, at)
        .await?
    {
        return Err(ApiError::not_found("no such notification"));
    }
    changed(state, &p.user).await
}

/// Marks one notification read.
#[utoipa::path(post, operation_id = "notifications_read", path = "/api/v1/users/me/notifications/{notification_id}/read", params(("notification_id" = String, Path, description = "the notification's id")),
    responses((status = 200, description = "read; the new unread count", body = UnreadCount), (status = 404, description = "not yours")))]
pub async fn read(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    set_read(req, path.into_inner(), true, &state).await
}

/// Marks one notification unread.
#[utoipa::path(post, operation_id = "notifications_unread_one", path = "/api/v1/users/me/notifications/{notification_id}/unread", params(("notification_id" = String, Path, description = "the notification's id")),
    responses((status = 200, description = "unread; the new unread count", body = UnreadCount), (status = 404, description = "not yours")))]
pub async fn mark_unread(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    set_read(req, path.into_inner(), false, &state).await
}

/// Marks every notification read.
#[utoipa::path(post, operation_id = "notifications_read_all", path = "/api/v1/users/me/notifications/read-all",
    responses((status = 200, description = "all read", body = UnreadCount)))]
pub async fn read_all(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = person(&req, &state).await?;
    state
        .stores
        .notifications
        .mark_all_read(&p.user, now_ms())
        .await?;
    changed(&state, &p.user).await
}

/// Deletes one notification.
#[utoipa::path(delete, operation_id = "notifications_delete", path = "/api/v1/users/me/notifications/{notification_id}", params(("notification_id" = String, Path, description = "the notification's id")),
    responses((status = 200, description = "deleted; the new unread count", body = UnreadCount), (status = 404, description = "not yours")))]
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = person(&req, &state).await?;
    if !state
        .stores
        .notifications
        .delete_notification(&p.user, &path.into_inner())
        .await?
    {
        return Err(ApiError::not_found("no such notification"));
    }
    changed(&state, &p.user).await
}

/// The caller's notification settings, every kind listed.
#[utoipa::path(get, operation_id = "notifications_settings", path = "/api/v1/users/me/notification-settings",
    responses((status = 200, description = "settings", body = Settings)))]
pub async fn settings(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = person(&req, &state).await?;
    let stored = crate::notify::settings_of(&state.stores, &p.user).await?;
    Ok(HttpResponse::Ok().json(stored.complete()))
}

/// Replaces the caller's notification settings (kinds left out keep their defaults).
#[utoipa::path(put, operation_id = "notifications_set_settings", path = "/api/v1/users/me/notification-settings", request_body = Settings,
    responses((status = 200, description = "saved", body = Settings), (status = 400, description = "unknown kind or digest")))]
pub async fn set_settings(
    req: HttpRequest,
    body: web::Json<Settings>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = person(&req, &state).await?;
    let settings = body.into_inner();
    state
        .stores
        .notifications
        .put_notification_settings(&p.user, &settings)
        .await?;
    Ok(HttpResponse::Ok().json(settings.complete()))
}

/// The caller's inbox as it changes: Server-Sent Events (`notification`, `changed`) until the
/// access token may have expired.
#[utoipa::path(get, operation_id = "notifications_stream", path = "/api/v1/users/me/notifications/stream",
    responses((status = 200, description = "text/event-stream of the inbox's changes"),
              (status = 429, description = "too many streams open for this person")))]
pub async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = person(&req, &state).await?;
    let Some(feed) = state
        .bus
        .listen_as(&p.user, state.config.inbox_streams_per_user.max(1))
    else {
        metrics::counter!("creo_refused_requests_total", "reason" => "inbox_streams").increment(1);
        return Err(ApiError::new(
            Code::TooManyConnections,
            "too many inbox streams open: close a tab",
        ));
    };
    let ends = tokio::time::Instant::now()
        + Duration::from_secs(state.config.access_token_ttl_secs.max(1));
    let heartbeat = Duration::from_millis(state.config.inbox_heartbeat_ms.max(100));
    // The stream owns the subscription: when the client goes, actix drops the stream and the
    // subscription with it. The first event says the stream is live.
    let ready = Bytes::from_static(b"event: ready\ndata: {}\n\n");
    let events = futures_util::stream::unfold(feed, move |mut feed| async move {
        let wake = ends.min(tokio::time::Instant::now() + heartbeat);
        let chunk = match tokio::time::timeout_at(wake, feed.messages.recv()).await {
            Ok(Some(json)) => Bytes::from(format!("data: {json}\n\n")),
            // Dropped as too slow, or the node is stopping: the editor reconnects.
            Ok(None) => return None,
            Err(_) if tokio::time::Instant::now() >= ends => return None,
            Err(_) => Bytes::from_static(b": keep-alive\n\n"),
        };
        Some((chunk, feed))
    });
    let body = futures_util::stream::once(async { ready })
        .chain(events)
        .map(Ok::<_, actix_web::Error>);
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/event-stream"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
