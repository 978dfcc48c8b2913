//! Semantic search across the caller's account, similar content, hashtag suggestions and the
//! brand-voice score: the embedding model plus the node's search index (`ai/`).

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::ai::{ai_user, metered, timeout};
use super::extract::{BillingCharge, DocumentCaller, Manager};
use super::{authenticate, ApiError};
use crate::actors::document::GetState;
use crate::ai::index::{dot, Hit};
use crate::app::AppState;
use crate::auth::Principal;
use crate::gpu::Input;
use crate::http::Code;
use crate::store::{now_ms, DocumentEmbedding};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for, in plain words.
    pub q: String,
    /// At most this many (default 10, at most 100).
    pub limit: Option<usize>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Limit {
    pub limit: Option<usize>,
}

fn limit(l: Option<usize>) -> usize {
    l.unwrap_or(10).clamp(1, 100)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    /// Documents in the account's index.
    pub indexed: usize,
}

/// One text's unit vector from the embedding model, paid as one inference.
pub async fn embed_for(
    state: &AppState,
    principal: &Principal,
    text: String,
) -> Result<Vec<f32>, ApiError> {
    let model = state.config.embedding_model.clone();
    metered(state, principal, 1, async {
        let mut out = state
            .pool
            .infer(&model, vec![Input::Text(text)], timeout(state))
            .await?;
        Ok(out.pop().map(|o| o.vector).unwrap_or_default())
    })
    .await
}

/// The documents of the caller's account closest in meaning to `q`. Documents are re-embedded
/// once their edits settle (`search_settle_ms`).
#[utoipa::path(get, operation_id = "search_search", path = "/api/v1/search", params(SearchQuery),
    responses((status = 200, description = "best first", body = SearchResults),
              (status = 503, description = "AI unavailable or busy (Retry-After)")))]
pub async fn search(
    req: HttpRequest,
    query: web::Query<SearchQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, &state, None).await?;
    let q = query.q.trim();
    if q.is_empty() || q.len() > 1_000 {
        return Err(ApiError::bad_request(
            Code::InvalidQuery,
            "q is 1-1000 characters",
        ));
    }
    let vector = embed_for(&state, &principal, q.to_string()).await?;
    let index = state.search.account(&principal.account).await?;
    let index = index.read().await;
    let started = std::time::Instant::now();
    let mut hits = index.search(&vector, limit(query.limit), None);
    metrics::histogram!("creo_search_seconds").record(started.elapsed().as_secs_f64());
    // A document-scoped token only ever sees its own document.
    if let Some(doc) = &principal.doc {
        hits.retain(|h| &h.doc_id == doc);
    }
    Ok(HttpResponse::Ok().json(SearchResults {
        hits,
        indexed: index.len(),
    }))
}

/// The document's current text: its live state, decoded off the executor.
pub async fn document_text(
    state: &AppState,
    principal: &Arc<Principal>,
    doc_id: &str,
) -> Result<String, ApiError> {
    let current = state
        .registry
        .ask(doc_id, || GetState {
            principal: principal.clone(),
        })
        .await?;
    let text = crate::snapshot::off_executor(move || {
        crate::snapshot::decode(&current, yrs::OffsetKind::Bytes)
            .map(|d| crate::text::document_text(&d))
    })
    .await
    .map_err(|e| ApiError::bad_request(Code::InvalidDocument, e))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            Code::EmptyDocument,
            "the document has no text yet",
        ));
    }
    Ok(text)
}

/// The document's vector in the index, or `text` (its current text) embedded now when it has
/// none yet.
async fn document_vector(
    state: &AppState,
    principal: &Arc<Principal>,
    doc_id: &str,
    text: Option<&str>,
) -> Result<Vec<f32>, ApiError> {
    let index = state.search.account(&principal.account).await?;
    if let Some(v) = index.read().await.vector(doc_id) {
        return Ok(v.to_vec());
    }
    let text = match text {
        Some(t) => t.to_string(),
        None => document_text(state, principal, doc_id).await?,
    };
    embed_for(state, principal, text.chars().take(4_000).collect()).await
}

/// The account's documents most like this one.
#[utoipa::path(get, operation_id = "search_similar", path = "/api/v1/documents/{doc_id}/similar", params(("doc_id" = String, Path, description = "the document's id"), Limit),
    responses((status = 200, description = "best first", body = Vec<Hit>)))]
pub async fn similar(
    DocumentCaller { principal, doc_id }: DocumentCaller,
    query: web::Query<Limit>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::owned_document(&state, &doc_id, &principal.account).await?;
    let vector = document_vector(&state, &principal, &doc_id, None).await?;
    let index = state.search.account(&principal.account).await?;
    let hits = index
        .read()
        .await
        .search(&vector, limit(query.limit), Some(&doc_id));
    Ok(HttpResponse::Ok().json(hits))
}

/// Hashtags whose meaning is closest to the document's text (from a vocabulary embedded once).
#[utoipa::path(get, operation_id = "search_hashtags", path = "/api/v1/documents/{doc_id}/hashtags", params(("doc_id" = String, Path, description = "the document's id"), Limit),
    responses((status = 200, description = "best first", body = Vec<Hit>)))]
pub async fn hashtags(
    DocumentCaller { principal, doc_id }: DocumentCaller,
    query: web::Query<Limit>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::owned_document(&state, &doc_id, &principal.account).await?;
    let text = document_text(&state, &principal, &doc_id).await?;
    let vector = document_vector(&state, &principal, &doc_id, Some(&text)).await?;
    let tags = suggest_hashtags(&state, &text, &vector, limit(query.limit).min(20)).await?;
    Ok(HttpResponse::Ok().json(tags))
}

/// Hashtags for the post `text` (embedded as `vector`), by the vocabulary's rules.
pub async fn suggest_hashtags(
    state: &AppState,
    text: &str,
    vector: &[f32],
    k: usize,
) -> Result<Vec<Hit>, ApiError> {
    let model = state.config.embedding_model.clone();
    Ok(state
        .hashtags
        .suggest(
            &state.pool,
            &model,
            text,
            vector,
            k,
            state.config.hashtag_min_score,
            timeout(state),
        )
        .await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BrandVoice {
    /// Reference posts in the account's voice (1-50).
    pub examples: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Draft {
    pub text: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VoiceScore {
    /// Cosine similarity of the draft to the examples' centroid (-1 to 1).
    pub similarity: f32,
    /// The same as 0-100.
    pub score: u32,
}

fn voice_key(state: &AppState) -> String {
    format!("{}#brand-voice", state.config.embedding_model)
}

/// Sets the account's brand voice from reference examples (owners and admins): the brand
/// kit's voice examples, replaced (`http/brand.rs`).
#[utoipa::path(put, operation_id = "search_set_brand_voice", path = "/api/v1/accounts/{account_id}/brand-voice", params(("account_id" = String, Path, description = "the account (workspace) id")), request_body = BrandVoice,
    responses((status = 204, description = "stored")))]
pub async fn set_brand_voice(
    Manager {
        principal,
        account_id,
        ..
    }: Manager<BillingCharge>,
    body: web::Json<BrandVoice>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let examples = body.into_inner().examples;
    if examples.is_empty() || examples.len() > creo_core::brand::MAX_VOICE_EXAMPLES {
        return Err(ApiError::bad_request(
            Code::InvalidExamples,
            "send 1 to 50 examples",
        ));
    }
    let change = creo_core::brand::KitChange {
        voice_examples: Some(examples),
        ..Default::default()
    };
    super::brand::change(&state, &principal, &account_id, change, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The centroid of `examples` (charged to `principal` as embeddings): the brand voice they
/// make; `None` for no examples.
pub(super) async fn voice_centroid(
    state: &AppState,
    principal: &Principal,
    examples: Vec<String>,
) -> Result<Option<Vec<f32>>, ApiError> {
    if examples.is_empty() {
        return Ok(None);
    }
    let model = state.config.embedding_model.clone();
    let n = examples.len();
    let vectors = metered(state, principal, n, async {
        let inputs = examples.into_iter().map(Input::Text).collect();
        Ok(state.pool.infer(&model, inputs, timeout(state)).await?)
    })
    .await?;
    let dims = vectors.first().map_or(0, |v| v.vector.len());
    let mut centroid = vec![0f32; dims];
    for v in &vectors {
        centroid
            .iter_mut()
            .zip(&v.vector)
            .for_each(|(c, x)| *c += x);
    }
    let norm = dot(&centroid, &centroid).sqrt().max(1e-12);
    centroid.iter_mut().for_each(|c| *c /= norm);
    Ok(Some(centroid))
}

/// Keeps `centroid` as the account's brand voice; `None` removes it.
pub(super) async fn put_voice(
    state: &AppState,
    account_id: &str,
    centroid: Option<Vec<f32>>,
) -> Result<(), ApiError> {
    let embeddings = &state.stores.embeddings;
    match centroid {
        None => {
            embeddings
                .delete_embedding(account_id, &voice_key(state), "centroid")
                .await?
        }
        Some(vector) => {
            embeddings
                .put_embedding(&DocumentEmbedding {
                    account_id: account_id.to_string(),
                    doc_id: "centroid".into(),
                    model: voice_key(state),
                    vector,
                    text_hash: String::new(),
                    updated_at: now_ms(),
                })
                .await?
        }
    }
    Ok(())
}

/// How close a draft is to the account's brand voice.
#[utoipa::path(post, operation_id = "search_score_brand_voice", path = "/api/v1/ai/brand-voice/score", request_body = Draft,
    responses((status = 200, description = "the score", body = VoiceScore),
              (status = 404, description = "no brand voice set for the account")))]
pub async fn score_brand_voice(
    req: HttpRequest,
    body: web::Json<Draft>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = ai_user(&req, &state).await?;
    let stored = state
        .stores
        .embeddings
        .embeddings(&principal.account, &voice_key(&state))
        .await?;
    let Some(centroid) = stored.into_iter().next() else {
        return Err(ApiError::not_found(
            "no brand voice set: PUT /api/v1/accounts/{id}/brand-voice",
        ));
    };
    let text = body.into_inner().text;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            Code::InvalidInput,
            "the draft is empty",
        ));
    }
    let vector = embed_for(&state, &principal, text).await?;
    let similarity = dot(&vector, &centroid.vector);
    Ok(HttpResponse::Ok().json(VoiceScore {
        similarity,
        score: (similarity.max(0.0) * 100.0).round() as u32,
    }))
}
