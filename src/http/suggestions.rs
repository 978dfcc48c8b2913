//! The AI as a collaborator in a document: a suggestion job shows the AI's presence to everyone
//! in the document, works, writes its result as an ordinary CRDT update from its own client id
//! (stored, then broadcast live like any editor's edit), and leaves. Any editor can undo it.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::AwarenessUpdate;

use super::ai::ai_user;
use super::extract::DocumentCaller;
use super::search::suggest_hashtags;
use super::ApiError;
use crate::actors::document::{GetState, Participant};
use crate::ai::collaborator::{self, Suggestion};
use crate::app::AppState;
use crate::auth::{Principal, Role};
use crate::http::Code;

/// Sessions the server plays for AI participants are numbered from here (real sessions count
/// up from 1 and never get this far).
const AI_SESSIONS: u64 = 1 << 62;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SuggestionRequest {
    /// `hashtags`: append the hashtags closest in meaning to the post.
    pub kind: String,
    /// The document's text field to write to (default `post`).
    #[serde(default = "default_field")]
    pub field: String,
    /// How many hashtags (default 3, at most 10).
    #[serde(default)]
    pub count: Option<usize>,
}

fn default_field() -> String {
    "post".into()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SuggestionResult {
    /// Pass to `…/suggestions/{suggestion_id}/undo` to take it back.
    pub suggestion_id: String,
    /// The AI participant's Yjs client id (its presence and its edits carry it).
    pub client_id: u64,
    pub inserted: String,
}

fn ai_principal(of: &Principal) -> Arc<Principal> {
    Arc::new(Principal {
        user: "creo-ai".into(),
        account: of.account.clone(),
        role: Role::Editor,
        doc: None,
        session: None,
        api_key: None,
    })
}

fn presence(client: u64, status: &str) -> AwarenessUpdate {
    let state = serde_json::json!({
        "user": { "name": "creo AI", "color": "#7c3aed" },
        "status": status,
    });
    AwarenessUpdate {
        clients: [(
            yrs::ClientID::new(client),
            AwarenessUpdateEntry {
                clock: 1,
                json: state.to_string().into(),
            },
        )]
        .into_iter()
        .collect(),
    }
}

/// Runs a suggestion job: the AI joins the document (its presence is visible), writes its
/// suggestion as a live edit, and leaves.
#[utoipa::path(post, operation_id = "suggestions_suggest", path = "/api/v1/documents/{doc_id}/ai/suggestions", params(("doc_id" = String, Path, description = "the document's id")), request_body = SuggestionRequest,
    responses((status = 201, description = "written into the document", body = SuggestionResult),
              (status = 402, description = "not enough credits"),
              (status = 503, description = "AI unavailable or busy")))]
pub async fn suggest(
    req: HttpRequest,
    DocumentCaller { principal, doc_id }: DocumentCaller,
    body: web::Json<SuggestionRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ai_user(&req, &state).await?;
    if !principal.role.can_write() {
        return Err(ApiError::forbidden(
            Code::ReadOnly,
            "your role may not change this document",
        ));
    }
    if body.kind != "hashtags" {
        return Err(ApiError::bad_request(Code::UnknownKind, "kinds: hashtags"));
    }
    let ai = ai_principal(&principal);
    let client = collaborator::new_client();
    let session = AI_SESSIONS | (client.get() & (AI_SESSIONS - 1));
    let show = |status: &'static str| Participant {
        session,
        user: ai.user.clone(),
        update: Some(presence(client.get(), status)),
    };
    let current = state
        .registry
        .ask(&doc_id, || GetState {
            principal: principal.clone(),
        })
        .await?;
    state.registry.notify(&doc_id, show("thinking"));
    let result = async {
        // One decode, in the blocking pool: the text to embed, and the document the AI then
        // writes on (as its own client).
        let field = body.field.clone();
        let (doc, before, text) = crate::snapshot::off_executor(move || {
            let (doc, before) = crate::snapshot::writable(&current, client)?;
            let text = crate::fields::read(&doc, &field).unwrap_or_default();
            Ok::<_, String>((doc, before, text))
        })
        .await
        .map_err(|e| ApiError::bad_request(Code::InvalidDocument, e))?;
        if text.trim().is_empty() {
            return Err(ApiError::bad_request(
                Code::EmptyDocument,
                format!("the field {} is empty", body.field),
            ));
        }
        let vector = super::search::embed_for(&state, &principal, text.clone()).await?;
        let tags =
            suggest_hashtags(&state, &text, &vector, body.count.unwrap_or(3).clamp(1, 10)).await?;
        if tags.is_empty() {
            return Err(ApiError::new(
                Code::NoSuggestion,
                "no hashtag is close enough to this post to suggest",
            ));
        }
        let inserted = format!(
            "\n{}",
            tags.iter()
                .map(|t| t.doc_id.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        state.registry.notify(&doc_id, show("writing"));
        let (field, text) = (body.field.clone(), inserted.clone());
        let (update, suggestion) = crate::snapshot::off_executor(move || {
            collaborator::append(&doc, &before, &field, &text)
        })
        .await;
        super::documents::write_trusted(&state, &doc_id, &ai, update).await?;
        Ok::<_, ApiError>((suggestion, inserted))
    }
    .await;
    state.registry.notify(
        &doc_id,
        Participant {
            session,
            user: ai.user.clone(),
            update: None,
        },
    );
    let (suggestion, inserted) = result?;
    metrics::counter!("creo_ai_suggestions_total").increment(1);
    Ok(HttpResponse::Created().json(SuggestionResult {
        suggestion_id: suggestion.id(),
        client_id: client.get(),
        inserted,
    }))
}

/// Takes a suggestion back: deletes exactly what the AI wrote, whatever editors did around it.
#[utoipa::path(post, operation_id = "suggestions_undo", path = "/api/v1/documents/{doc_id}/ai/suggestions/{suggestion_id}/undo", params(("doc_id" = String, Path, description = "the document's id"), ("suggestion_id" = String, Path, description = "the AI suggestion's id")),
    responses((status = 200, description = "undone"), (status = 400, description = "not a suggestion id")))]
pub async fn undo(
    DocumentCaller { principal, doc_id }: DocumentCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    if !principal.role.can_write() {
        return Err(ApiError::forbidden(
            Code::ReadOnly,
            "your role may not change this document",
        ));
    }
    let suggestion = Suggestion::parse(&id)
        .ok_or_else(|| ApiError::bad_request(Code::InvalidSuggestion, "not a suggestion id"))?;
    super::documents::write_trusted(&state, &doc_id, &principal, collaborator::undo(suggestion))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "undone": id })))
}
