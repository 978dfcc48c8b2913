//! Document REST: metadata, current state, applying an update, creating a document. The same
//! auth and role rules as the socket, enforced by the same `DocumentActor`.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use yrs::updates::decoder::Decode;
use yrs::Update;

use super::extract::DocumentCaller;
use super::{admit_to_document, authenticate, ApiError, TokenQuery};
use crate::actors::document::{ApplyUpdate, DocError, GetInfo, GetState};
use crate::app::AppState;
use crate::http::Code;
use crate::sync::update;

async fn principal_for(
    req: &HttpRequest,
    state: &AppState,
    query: &TokenQuery,
    doc_id: &str,
) -> Result<Arc<crate::auth::Principal>, ApiError> {
    admit_to_document(req, state, query.token.as_deref(), doc_id)
        .await
        .map(Arc::new)
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct CreateDocument {
    /// What people call it: any Unicode, 1-200 characters, duplicates allowed ("Untitled" when
    /// absent).
    pub title: Option<String>,
    /// An id of the caller's choosing (1-128 characters of `[A-Za-z0-9._-]`), for API clients
    /// that name their documents; absent, the server makes one.
    pub id: Option<String>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct Retitle {
    /// The new title: any Unicode, 1-200 characters.
    pub title: String,
}

/// A title as people typed it, trimmed; refused when empty, too long or holding control
/// characters (they would break every list that shows it).
fn valid_title(title: &str) -> Result<String, ApiError> {
    const MAX_CHARS: usize = 200;
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_CHARS || title.chars().any(char::is_control)
    {
        return Err(ApiError::new(
            Code::BadTitle,
            "a title is 1-200 characters with no control characters",
        ));
    }
    Ok(title.to_string())
}

/// Creates a document owned by the caller's account, with a server-made id unless the caller
/// names one.
#[utoipa::path(post, operation_id = "documents_create", path = "/api/v1/documents", request_body = CreateDocument,
    responses((status = 201, description = "created, with its id and title"), (status = 409, description = "that id exists"),
              (status = 400, description = "bad title or id"),
              (status = 401, description = "bad token"), (status = 403, description = "read-only role")))]
pub async fn create(
    req: HttpRequest,
    body: web::Json<CreateDocument>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let title = valid_title(body.title.as_deref().unwrap_or("Untitled"))?;
    let named = body.id.is_some();
    let doc_id = body
        .id
        .unwrap_or_else(|| format!("d_{}", crate::auth::secret::id()));
    let principal = principal_for(&req, &state, &query, &doc_id).await?;
    if !principal.role.can_write() {
        return Err(DocError::ReadOnly.into());
    }
    if named {
        match state.registry.access(&doc_id, &principal, false).await {
            Err(DocError::NotFound) => {}
            Ok(_) | Err(DocError::Forbidden) => {
                return Err(ApiError::new(
                    Code::Exists,
                    "a document with this id already exists",
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut meta = state.registry.access(&doc_id, &principal, true).await?;
    state.stores.documents.set_title(&doc_id, &title).await?;
    meta.title = title;
    Ok(HttpResponse::Created().json(meta))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct Duplicate {
    /// The copy's title ("Copy of …" the original's when absent).
    #[serde(default)]
    pub title: Option<String>,
}

/// Makes a new document in the same account holding this one's content as it is now (text,
/// formatting, platform variants). Comments, versions and the workflow stay with the original:
/// the copy starts as a draft.
#[utoipa::path(post, operation_id = "documents_duplicate", path = "/api/v1/documents/{doc_id}/duplicate", params(("doc_id" = String, Path, description = "the document to copy")), request_body = Duplicate,
    responses((status = 201, description = "the copy, with its id and title"), (status = 400, description = "bad title"),
              (status = 403, description = "read-only role, or a token for one document"), (status = 404, description = "no such document")))]
pub async fn duplicate(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Duplicate>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let source = path.into_inner();
    let principal = principal_for(&req, &state, &query, &source).await?;
    // The owner check (another account's document is a 404) comes before the role check.
    state.registry.access(&source, &principal, false).await?;
    if !principal.role.can_write() {
        return Err(DocError::ReadOnly.into());
    }
    if principal.doc.is_some() {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "a token for one document cannot make another",
        ));
    }
    let title = match &body.title {
        Some(t) => valid_title(t)?,
        None => {
            let original = state
                .stores
                .documents
                .meta(&source)
                .await?
                .map(|m| m.title)
                .unwrap_or_default();
            let copy: String = format!("Copy of {original}").chars().take(200).collect();
            valid_title(&copy)?
        }
    };
    let content = state
        .registry
        .ask(&source, || GetState {
            principal: principal.clone(),
        })
        .await?;
    let copy_id = format!("d_{}", crate::auth::secret::id());
    let mut copy = state.registry.access(&copy_id, &principal, true).await?;
    state.stores.documents.set_title(&copy_id, &title).await?;
    write_trusted(&state, &copy_id, &principal, content).await?;
    copy.title = title;
    Ok(HttpResponse::Created().json(copy))
}

/// Deletes the document everywhere (owners and admins): its content, comments, versions,
/// workflow and history, calendar entry, generations, publishing targets and embedding, in
/// the store; its open sockets close with 4404 on every node. A publishing job still queued
/// for it finds no workflow and does nothing.
#[utoipa::path(delete, operation_id = "documents_delete", path = "/api/v1/documents/{doc_id}", params(("doc_id" = String, Path, description = "the document's id")),
    responses((status = 204, description = "deleted"), (status = 403, description = "only owners and admins delete documents"),
              (status = 404, description = "no such document")))]
pub async fn delete(
    DocumentCaller { principal, doc_id }: DocumentCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let meta = super::owned_document(&state, &doc_id, &principal.account).await?;
    if !principal.role.can_manage() {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "only owners and admins delete documents",
        ));
    }
    let gone = || crate::bus::AccessChange::DocumentDeleted {
        doc: doc_id.clone(),
    };
    // Closed first, so nothing is written to it while it goes; and again after, for an editor
    // who opened it in between.
    super::announce(&state, gone());
    if !state.stores.documents.delete(&doc_id).await? {
        return Err(ApiError::not_found("no such document"));
    }
    super::announce(&state, gone());
    state.search.forget(&meta.account_id, &doc_id).await?;
    metrics::counter!("creo_documents_deleted_total").increment(1);
    super::audit(
        &state,
        &meta.account_id,
        &principal.actor(),
        "document_deleted",
        &doc_id,
        &meta.title,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Renames a document; its open editors hear the new title at once (event `title`).
#[utoipa::path(put, operation_id = "documents_retitle", path = "/api/v1/documents/{doc_id}/title", params(("doc_id" = String, Path, description = "the document's id")), request_body = Retitle,
    responses((status = 200, description = "renamed"), (status = 400, description = "bad title"),
              (status = 403, description = "read-only role"), (status = 404, description = "no such document")))]
pub async fn retitle(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Retitle>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let doc_id = path.into_inner();
    let principal = principal_for(&req, &state, &query, &doc_id).await?;
    // The owner check (another account's document is a 404) comes before the role check.
    state.registry.access(&doc_id, &principal, false).await?;
    if !principal.role.can_write() {
        return Err(DocError::ReadOnly.into());
    }
    let title = valid_title(&body.title)?;
    if !state.stores.documents.set_title(&doc_id, &title).await? {
        return Err(DocError::NotFound.into());
    }
    state.events.to_editors(
        &doc_id,
        &serde_json::json!({ "type": "title", "title": title, "by": principal.user }),
    );
    Ok(HttpResponse::Ok().json(serde_json::json!({ "doc_id": doc_id, "title": title })))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// At most this many (1-500, default 100).
    pub limit: Option<usize>,
}

/// One document of the list, with where it is in its workflow.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Listed {
    pub doc_id: String,
    pub title: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub workflow_state: crate::workflow::State,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DocumentList {
    pub documents: Vec<Listed>,
}

/// The caller's account's documents, most recently changed first, each with its workflow state
/// (a document-scoped token sees only its document).
#[utoipa::path(get, operation_id = "documents_list", path = "/api/v1/documents", params(ListQuery),
    responses((status = 200, description = "most recently changed first", body = DocumentList),
              (status = 401, description = "bad token")))]
pub async fn list(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, &state, None).await?;
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let mut metas = state
        .stores
        .documents
        .documents_of(&principal.account, limit)
        .await?;
    if let Some(doc) = &principal.doc {
        metas.retain(|m| &m.doc_id == doc);
    }
    let workflows = futures_util::future::try_join_all(
        metas
            .iter()
            .map(|m| state.stores.workflows.workflow(&m.doc_id)),
    )
    .await?;
    let documents = metas
        .into_iter()
        .zip(workflows)
        .map(|(m, w)| Listed {
            doc_id: m.doc_id,
            title: m.title,
            created_at_ms: m.created_at_ms,
            updated_at_ms: m.updated_at_ms,
            workflow_state: w.map_or(crate::workflow::State::Draft, |w| w.state),
        })
        .collect();
    Ok(HttpResponse::Ok().json(DocumentList { documents }))
}

/// Document metadata: owner account, timestamps, live sessions, size.
#[utoipa::path(get, operation_id = "documents_info", path = "/api/v1/documents/{doc_id}", params(("doc_id" = String, Path, description = "the document's id")),
    responses((status = 200, description = "metadata"), (status = 404, description = "no such document")))]
pub async fn info(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let doc_id = path.into_inner();
    let principal = principal_for(&req, &state, &query, &doc_id).await?;
    let mut info = state
        .registry
        .ask(&doc_id, || GetInfo {
            principal: principal.clone(),
        })
        .await?;
    // The live actor's copy of the title dates from its load; renames go to the store.
    if let Some(stored) = state.stores.documents.meta(&doc_id).await? {
        info.meta.title = stored.title;
    }
    Ok(HttpResponse::Ok().json(info))
}

/// The current durable state as one binary Yjs update (`application/octet-stream`).
#[utoipa::path(get, operation_id = "documents_state", path = "/api/v1/documents/{doc_id}/state", params(("doc_id" = String, Path, description = "the document's id")),
    responses((status = 200, description = "Yjs update v1", content_type = "application/octet-stream")))]
pub async fn state(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let doc_id = path.into_inner();
    let principal = principal_for(&req, &state, &query, &doc_id).await?;
    let bytes = state
        .registry
        .ask(&doc_id, || GetState {
            principal: principal.clone(),
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(bytes))
}

/// Applies a binary Yjs update (v1). Answers once it is durable; connected editors receive it
/// live.
#[utoipa::path(post, operation_id = "documents_apply_update", path = "/api/v1/documents/{doc_id}/updates", params(("doc_id" = String, Path, description = "the document's id")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "durable"), (status = 400, description = "invalid update"),
              (status = 403, description = "read-only role or another account")))]
pub async fn apply_update(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<TokenQuery>,
    body: Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let doc_id = path.into_inner();
    let principal = principal_for(&req, &state, &query, &doc_id).await?;
    if body.len() > state.config.max_message_bytes {
        metrics::counter!("creo_refused_messages_total", "reason" => "oversized").increment(1);
        return Err(ApiError::new(
            Code::TooLarge,
            "update exceeds max_message_bytes",
        ));
    }
    // The role first: a reader's body is neither validated nor decoded.
    if !principal.role.can_write() {
        metrics::counter!("creo_refused_messages_total", "reason" => "read_only").increment(1);
        return Err(DocError::ReadOnly.into());
    }
    let wait = state.limits.message_wait(&principal.limit_key(), 1).await;
    if !wait.is_zero() {
        metrics::counter!("creo_refused_messages_total", "reason" => "user_rate_limited")
            .increment(1);
        return Err(
            ApiError::new(Code::RateLimited, "this user is sending messages too fast")
                .retry_after(wait.as_secs().clamp(1, 3600) as u32),
        );
    }
    // Validated before yrs sees it, and decoded here, off the document's thread.
    let limits = state.config.update_limits();
    let (shape, decoded) = update::decode_checked(&body, &limits).map_err(|e| {
        metrics::counter!("creo_refused_messages_total", "reason" => e.metric_reason())
            .increment(1);
        ApiError::new(Code::InvalidUpdate, e.to_string())
    })?;
    state.registry.access(&doc_id, &principal, true).await?;
    write_checked(&state, &doc_id, &principal, body, shape, decoded).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "durable": true })))
}

/// Applies `made` (an update the server made from a document: a suggestion, a restore, a copy) as
/// `by`, and returns once it is durable. It may be a whole document, so it is decoded in the
/// blocking pool, never on an HTTP worker.
pub(super) async fn write_trusted(
    state: &AppState,
    doc_id: &str,
    by: &Arc<crate::auth::Principal>,
    made: impl Into<Bytes>,
) -> Result<(), ApiError> {
    let raw: Bytes = made.into();
    let limits = state.config.update_limits().trusted();
    let (shape, decoded) = crate::snapshot::off_executor({
        let raw = raw.clone();
        move || update::decode_checked(&raw, &limits)
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    write_checked(state, doc_id, by, raw, shape, decoded).await
}

/// Writes an update already validated and decoded (`update::decode_checked`) as `principal`,
/// and returns once it is durable: the one path of REST writes, the AI's and restores.
pub(super) async fn write_checked(
    state: &AppState,
    doc_id: &str,
    principal: &Arc<crate::auth::Principal>,
    raw: Bytes,
    shape: crate::sync::UpdateShape,
    decoded: Update,
) -> Result<(), ApiError> {
    let decoded = std::sync::Mutex::new(Some(decoded));
    let durable = state
        .registry
        .ask(doc_id, || ApplyUpdate {
            principal: principal.clone(),
            raw: raw.clone(),
            shape: shape.clone(),
            // Decoded again only if the document was unloading and the request is retried.
            update: decoded
                .lock()
                .expect("decoded lock")
                .take()
                .unwrap_or_else(|| {
                    Update::decode_v1(&raw).expect("validated and decoded once already")
                }),
        })
        .await?;
    match durable.await {
        Ok(result) => Ok(result?),
        Err(_) => Err(ApiError::new(Code::TryAgain, "the document closed").retry_after(1)),
    }
}
