//! Comments and threads anchored to the document's text (`creo_core::comments`): create, reply, mention,
//! resolve, reopen. A new comment notifies the members it mentions and the thread's earlier
//! participants (`notify::recipients`). Commenters and up may comment (they still cannot edit the text); every role
//! may read. Anchors are resolved against the current durable text on every read, and each
//! change is sent live to the editors listening for events.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::DocumentCaller;
use super::ApiError;
use crate::actors::document::GetState;
use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::comments::{self, Comment, Span};
use crate::http::Code;
use crate::snapshot;
use crate::store::now_ms;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AnchorAt {
    /// The text field (default `post`).
    #[serde(default = "default_field")]
    pub field: String,
    /// Start and length in UTF-16 code units, as JavaScript counts them.
    pub index: u32,
    pub length: u32,
}

fn default_field() -> String {
    "post".into()
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewComment {
    pub body: String,
    /// Where in the text (new threads only).
    #[serde(default)]
    pub anchor: Option<AnchorAt>,
    /// Reply in this comment's thread.
    #[serde(default)]
    pub reply_to: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PlacedComment {
    #[serde(flatten)]
    pub comment: Comment,
    /// Where the anchor is in the current text; absent if its words were deleted.
    pub span: Option<Span>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Thread {
    pub thread_id: String,
    pub resolved: bool,
    pub comments: Vec<PlacedComment>,
}

fn may_comment(p: &Principal) -> Result<(), ApiError> {
    if p.role == Role::Viewer {
        Err(ApiError::forbidden(
            Code::ReadOnly,
            "viewers may read comments, not write them",
        ))
    } else {
        Ok(())
    }
}

async fn current_state(
    state: &AppState,
    doc_id: &str,
    p: &Arc<Principal>,
) -> Result<bytes::Bytes, ApiError> {
    Ok(state
        .registry
        .ask(doc_id, || GetState {
            principal: p.clone(),
        })
        .await?)
}

/// Tells the document's editors (and, for a new comment, the account's webhooks).
async fn announce(state: &AppState, account: &str, doc_id: &str, action: &str, comment: &Comment) {
    let event = serde_json::json!({ "type": "comment", "action": action, "comment": comment });
    state.events.to_editors(doc_id, &event);
    if action == "added" {
        state
            .events
            .to_webhooks(account, Some(doc_id), "comment.added", event)
            .await;
    }
    metrics::counter!("creo_comments_total", "action" => action.to_string()).increment(1);
}

/// The document's threads, oldest first, with each anchor placed in the current text.
#[utoipa::path(get, operation_id = "comments_list", path = "/api/v1/documents/{doc_id}/comments", params(("doc_id" = String, Path, description = "the document's id")),
    responses((status = 200, description = "threads", body = Vec<Thread>)))]
pub async fn list(
    DocumentCaller {
        principal: p,
        doc_id,
    }: DocumentCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let current = current_state(&state, &doc_id, &p).await?;
    let all = state.stores.comments.comments(&doc_id).await?;
    // One decode for the whole list, in the blocking pool; each field laid out once.
    let placed = snapshot::off_executor(move || {
        let doc = comments::document(&current)?;
        let spans = comments::resolve_all(&doc, all.iter().map(|c| c.anchor.as_ref()));
        Ok::<_, String>(
            all.into_iter()
                .zip(spans)
                .map(|(comment, span)| PlacedComment { comment, span })
                .collect::<Vec<_>>(),
        )
    })
    .await
    .map_err(|e| ApiError::bad_request(Code::InvalidDocument, e))?;
    let mut threads: Vec<Thread> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for placed in placed {
        match index.get(&placed.comment.thread_id) {
            Some(&i) => threads[i].comments.push(placed),
            None => {
                index.insert(placed.comment.thread_id.clone(), threads.len());
                threads.push(Thread {
                    thread_id: placed.comment.thread_id.clone(),
                    resolved: placed.comment.resolved_at.is_some(),
                    comments: vec![placed],
                });
            }
        }
    }
    Ok(HttpResponse::Ok().json(threads))
}

/// A new thread (optionally anchored to text) or a reply.
#[utoipa::path(post, operation_id = "comments_create", path = "/api/v1/documents/{doc_id}/comments", params(("doc_id" = String, Path, description = "the document's id")), request_body = NewComment,
    responses((status = 201, description = "created", body = PlacedComment),
              (status = 403, description = "viewers do not comment")))]
pub async fn create(
    DocumentCaller {
        principal: p,
        doc_id,
    }: DocumentCaller,
    body: web::Json<NewComment>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    may_comment(&p)?;
    let body = body.into_inner();
    let text = body.body.trim();
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(ApiError::bad_request(
            Code::InvalidComment,
            "comments are 1-10,000 characters",
        ));
    }
    let existing = state.stores.comments.comments(&doc_id).await?;
    if let Some(max) = super::account_limits(&state, &p.account)
        .await?
        .comments_per_document
    {
        if existing.len() >= max as usize {
            metrics::counter!("creo_refused_requests_total", "reason" => "comment_quota")
                .increment(1);
            return Err(ApiError::new(
                Code::CommentQuotaExceeded,
                format!("this document holds at most {max} comments on its plan"),
            )
            .with_details(serde_json::json!({ "limit": max })));
        }
    }
    let comment_id = format!("c_{}", uuid::Uuid::now_v7().simple());
    let thread_id = match &body.reply_to {
        Some(parent) => existing
            .iter()
            .find(|c| &c.comment_id == parent)
            .map(|c| c.thread_id.clone())
            .ok_or_else(|| ApiError::not_found("no such comment in this document"))?,
        None => comment_id.clone(),
    };
    // Only an anchored thread needs the document: one decode, in the blocking pool, for the
    // anchor and where it lies now.
    let (anchor, span) = match (&body.anchor, &body.reply_to) {
        (Some(a), None) => {
            let current = current_state(&state, &doc_id, &p).await?;
            let (field, index, length) = (a.field.clone(), a.index, a.length);
            let (anchor, span) = snapshot::off_executor(move || {
                let doc = comments::document(&current)?;
                let anchor = comments::anchor(&doc, &field, index, length)?;
                let span = comments::resolve(&doc, &anchor);
                Ok::<_, String>((anchor, span))
            })
            .await
            .map_err(|e| ApiError::bad_request(Code::InvalidAnchor, e))?;
            (Some(anchor), span)
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                Code::InvalidAnchor,
                "replies share their thread's anchor",
            ))
        }
        _ => (None, None),
    };
    let mut mentions = comments::mentions(text);
    // In a registered account only its members can be mentioned.
    if state.accounts.lookup(&p.account, None).await?.is_some() {
        let members = state.stores.members.members(&p.account).await?;
        mentions.retain(|m| members.iter().any(|x| &x.user_id == m));
    }
    let comment = Comment {
        comment_id,
        doc_id: doc_id.clone(),
        thread_id,
        author: p.actor(),
        body: text.to_string(),
        mentions,
        anchor,
        created_at: now_ms(),
        resolved_at: None,
        resolved_by: None,
    };
    state.stores.comments.put_comment(&comment).await?;
    announce(&state, &p.account, &doc_id, "added", &comment).await;
    state
        .events
        .people()
        .comment_added(&p.account, &comment, &existing)
        .await;
    Ok(HttpResponse::Created().json(PlacedComment { comment, span }))
}

async fn set_resolved(
    DocumentCaller {
        principal: p,
        doc_id,
    }: DocumentCaller,
    thread_id: String,
    resolved: bool,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    may_comment(&p)?;
    let mut first = state
        .stores
        .comments
        .comments(&doc_id)
        .await?
        .into_iter()
        .find(|c| c.comment_id == thread_id && c.thread_id == thread_id)
        .ok_or_else(|| ApiError::not_found("no such thread in this document"))?;
    if resolved {
        first.resolved_at = Some(now_ms());
        first.resolved_by = Some(p.actor());
    } else {
        first.resolved_at = None;
        first.resolved_by = None;
    }
    state.stores.comments.put_comment(&first).await?;
    let action = if resolved { "resolved" } else { "reopened" };
    announce(state, &p.account, &doc_id, action, &first).await;
    Ok(HttpResponse::Ok().json(first))
}

/// Resolves a thread (by its first comment's id).
#[utoipa::path(post, operation_id = "comments_resolve", path = "/api/v1/documents/{doc_id}/comments/{thread_id}/resolve", params(("doc_id" = String, Path, description = "the document's id"), ("thread_id" = String, Path, description = "the comment thread's id")),
    responses((status = 200, description = "resolved", body = Comment)))]
pub async fn resolve(
    caller: DocumentCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, thread_id) = path.into_inner();
    set_resolved(caller, thread_id, true, &state).await
}

/// Reopens a resolved thread.
#[utoipa::path(post, operation_id = "comments_reopen", path = "/api/v1/documents/{doc_id}/comments/{thread_id}/reopen", params(("doc_id" = String, Path, description = "the document's id"), ("thread_id" = String, Path, description = "the comment thread's id")),
    responses((status = 200, description = "reopened", body = Comment)))]
pub async fn reopen(
    caller: DocumentCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, thread_id) = path.into_inner();
    set_resolved(caller, thread_id, false, &state).await
}
