//! actix-web handlers: thin shells that authenticate, parse, ask an actor and map the reply.

pub mod documents;
pub mod ops;
pub mod revocations;
pub mod ws;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::actors::document::DocError;
use crate::auth::{AuthError, Principal};
use crate::server::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws/{doc_id}", web::get().to(ws::connect))
        .route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics))
        .route("/debug/store-faults", web::get().to(ops::get_store_faults))
        .route("/debug/store-faults", web::put().to(ops::put_store_faults))
        .service(
            web::scope("/api/v1")
                .route("/openapi.json", web::get().to(ops::openapi))
                .route("/documents", web::post().to(documents::create))
                .route("/documents/{doc_id}", web::get().to(documents::info))
                .route("/documents/{doc_id}/state", web::get().to(documents::state))
                .route(
                    "/documents/{doc_id}/updates",
                    web::post().to(documents::apply_update),
                )
                .route(
                    "/documents/{doc_id}/revocations/{user_id}",
                    web::put().to(revocations::revoke_document),
                )
                .route(
                    "/documents/{doc_id}/revocations/{user_id}",
                    web::delete().to(revocations::lift_document),
                )
                .route(
                    "/accounts/{account_id}/revocations",
                    web::get().to(revocations::list),
                )
                .route(
                    "/accounts/{account_id}/revocations/{user_id}",
                    web::put().to(revocations::revoke_account),
                )
                .route(
                    "/accounts/{account_id}/revocations/{user_id}",
                    web::delete().to(revocations::lift_account),
                ),
        );
}

/// Errors as `{"error": {"code", "message"}}` with the right status, per DESIGN.md.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            resp.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        resp.json(serde_json::json!({
            "error": { "code": self.code, "message": self.message }
        }))
    }
}

impl From<DocError> for ApiError {
    fn from(e: DocError) -> Self {
        let msg = e.to_string();
        match e {
            DocError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", msg),
            DocError::Forbidden => ApiError::new(StatusCode::FORBIDDEN, "forbidden", msg),
            DocError::ReadOnly => ApiError::new(StatusCode::FORBIDDEN, "read_only", msg),
            DocError::TooManyConnections => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_connections", msg)
                    .retry_after(5)
            }
            DocError::InvalidUpdate(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_update", msg)
            }
            DocError::TooLarge => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "document_too_large", msg)
            }
            DocError::Backlogged | DocError::Unloading => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "try_again", msg).retry_after(1)
            }
            DocError::LoadFailed(_) | DocError::Store(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", msg)
                    .retry_after(1)
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        DocError::Store(e).into()
    }
}

impl From<actix_web::Error> for ApiError {
    fn from(e: actix_web::Error) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "websocket_handshake",
            e.to_string(),
        )
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        metrics::counter!("creo_auth_failures_total", "reason" => e.metric_reason()).increment(1);
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string())
    }
}

/// The access token from `Authorization: Bearer` or, for browsers' WebSockets, `?token=`.
pub fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    query_token: Option<&str>,
) -> Result<Principal, ApiError> {
    let header_token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token = header_token.or(query_token).ok_or(AuthError::Missing)?;
    Ok(state.keys.verify(token.trim())?)
}

/// Validates a document id from the path and that the principal's token may open it.
pub fn document_id(raw: &str, principal: &Principal) -> Result<(), ApiError> {
    if !crate::sync::valid_doc_id(raw) {
        metrics::counter!("creo_refused_messages_total", "reason" => "invalid_document_id")
            .increment(1);
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_document_id",
            "document ids are 1-128 characters of [A-Za-z0-9._-]",
        ));
    }
    if !principal.may_open(raw) {
        metrics::counter!("creo_auth_failures_total", "reason" => "wrong_document").increment(1);
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_document",
            "this token is scoped to another document",
        ));
    }
    Ok(())
}

/// Authenticates a request for one document: a valid token, scoped to it if scoped at all, for a
/// user whose access to it (or to its account) has not been revoked.
pub async fn admit_to_document(
    req: &HttpRequest,
    state: &AppState,
    query_token: Option<&str>,
    doc_id: &str,
) -> Result<Principal, ApiError> {
    let principal = authenticate(req, state, query_token)?;
    document_id(doc_id, &principal)?;
    let revoked = state
        .store
        .is_revoked(&principal.account, &principal.user, doc_id)
        .await?;
    if revoked {
        metrics::counter!("creo_auth_failures_total", "reason" => "revoked").increment(1);
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "access_revoked",
            "your access to this document has been revoked",
        ));
    }
    Ok(principal)
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}
