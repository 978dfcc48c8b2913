//! An account's webhook endpoints (owners and admins): register one for chosen events (its
//! signing secret is shown once), list, delete, and read an endpoint's delivery log.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::Manager;
use super::ApiError;
use crate::app::AppState;
use crate::http::Code;
use crate::store::now_ms;
use crate::webhooks::{validate_events, validate_url, Delivery, Endpoint};

/// Most endpoints per account.
const MAX_ENDPOINTS: usize = 20;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewEndpoint {
    /// `http://` or `https://`.
    pub url: String,
    /// Any of `document.updated`, `workflow.transitioned`, `comment.added`, `job.completed`.
    pub events: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub endpoint_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: i64,
    /// Only in the answer that created it: verify `Creo-Signature` with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl EndpointView {
    fn of(e: Endpoint, with_secret: bool) -> EndpointView {
        EndpointView {
            endpoint_id: e.endpoint_id,
            url: e.url,
            events: e.events,
            created_by: e.created_by,
            created_at: e.created_at,
            secret: with_secret.then_some(e.secret),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Newest first; at most this many (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// Registers an endpoint for some events.
#[utoipa::path(post, operation_id = "webhooks_create", path = "/api/v1/accounts/{account_id}/webhooks", params(("account_id" = String, Path, description = "the account (workspace) id")), request_body = NewEndpoint,
    responses((status = 201, description = "registered; the secret is shown this once", body = EndpointView),
              (status = 400, description = "bad URL or unknown event")))]
pub async fn create(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    body: web::Json<NewEndpoint>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    validate_url(&body.url, state.outbound.policy())
        .map_err(|e| ApiError::bad_request(Code::InvalidUrl, e))?;
    validate_events(&body.events).map_err(|e| ApiError::bad_request(Code::InvalidEvents, e))?;
    if state.stores.webhooks.webhooks(&account_id).await?.len() >= MAX_ENDPOINTS {
        return Err(ApiError::bad_request(
            Code::TooManyEndpoints,
            format!("an account has at most {MAX_ENDPOINTS} webhook endpoints"),
        ));
    }
    let mut events = body.events;
    events.sort();
    events.dedup();
    let endpoint = Endpoint {
        endpoint_id: format!("wh_{}", crate::auth::secret::id()),
        account_id: account_id.clone(),
        url: body.url,
        events,
        secret: crate::auth::secret::generate("whsec_"),
        created_by: by.actor(),
        created_at: now_ms(),
    };
    // Stored sealed; shown in the clear this once.
    let stored = Endpoint {
        secret: state.sealer.seal(&endpoint.secret, &endpoint.endpoint_id),
        ..endpoint.clone()
    };
    state.stores.webhooks.put_webhook(&stored).await?;
    let target = endpoint.endpoint_id.clone();
    super::audit(
        &state,
        &account_id,
        &by.actor(),
        "webhook_created",
        &target,
        &endpoint.url,
    )
    .await;
    Ok(HttpResponse::Created().json(EndpointView::of(endpoint, true)))
}

/// The account's endpoints (without secrets).
#[utoipa::path(get, operation_id = "webhooks_list", path = "/api/v1/accounts/{account_id}/webhooks", params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "endpoints", body = Vec<EndpointView>)))]
pub async fn list(
    Manager { account_id, .. }: Manager,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all: Vec<EndpointView> = state
        .stores
        .webhooks
        .webhooks(&account_id)
        .await?
        .into_iter()
        .map(|e| EndpointView::of(e, false))
        .collect();
    Ok(HttpResponse::Ok().json(all))
}

/// Deletes an endpoint: nothing more is delivered to it, queued deliveries included.
#[utoipa::path(delete, operation_id = "webhooks_delete", path = "/api/v1/accounts/{account_id}/webhooks/{endpoint_id}", params(("account_id" = String, Path, description = "the account (workspace) id"), ("endpoint_id" = String, Path, description = "the webhook endpoint's id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such endpoint")))]
pub async fn delete(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, endpoint_id) = path.into_inner();
    if !state
        .stores
        .webhooks
        .delete_webhook(&account_id, &endpoint_id)
        .await?
    {
        return Err(ApiError::not_found("no such webhook endpoint"));
    }
    super::audit(
        &state,
        &account_id,
        &by.actor(),
        "webhook_deleted",
        &endpoint_id,
        "",
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// The endpoint's delivery attempts, newest first, with status, error and duration.
#[utoipa::path(get, operation_id = "webhooks_deliveries", path = "/api/v1/accounts/{account_id}/webhooks/{endpoint_id}/deliveries",
    params(("account_id" = String, Path, description = "the account (workspace) id"), ("endpoint_id" = String, Path, description = "the webhook endpoint's id"), LogQuery),
    responses((status = 200, description = "attempts, newest first", body = Vec<Delivery>),
              (status = 404, description = "no such endpoint")))]
pub async fn deliveries(
    Manager { account_id, .. }: Manager,
    path: web::Path<(String, String)>,
    query: web::Query<LogQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, endpoint_id) = path.into_inner();
    let known = state
        .stores
        .webhooks
        .webhooks(&account_id)
        .await?
        .iter()
        .any(|e| e.endpoint_id == endpoint_id);
    if !known {
        return Err(ApiError::not_found("no such webhook endpoint"));
    }
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(HttpResponse::Ok().json(
        state
            .stores
            .webhooks
            .deliveries(&endpoint_id, limit)
            .await?,
    ))
}
