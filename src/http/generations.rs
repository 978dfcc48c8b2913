//! AI generation over REST (rules in `creo_core::generations`, work in `jobs/generate.rs`): see the
//! price of four variations, request them (credits reserved, a job queued; the result arrives
//! on the editors' sockets as a `generation` event), read a generation, and select one of its
//! variations into the document as a live edit.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::ai::ai_user;
use super::extract::DocumentCaller;
use super::ApiError;
use crate::actors::account::Settle;
use crate::app::AppState;
use crate::billing::Action;
use crate::generations::{Generation, Status, VARIATIONS};
use crate::http::Code;
use crate::jobs::{Job, JobKind};
use crate::store::Settlement;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Quote {
    pub variations: usize,
    /// Milli-credits per variation (`prices.sample_generation`).
    pub price_milli_each: i64,
    /// What a generation holds; only succeeded variations are captured.
    pub total_milli: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct GenerationRequest {
    /// The text field to vary (default `post`).
    #[serde(default)]
    pub field: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Selection {
    /// The variation's index (0-3).
    pub index: usize,
    /// `true`: the server records the choice and answers with the edit as a binary Yjs update
    /// (`application/octet-stream`) for the editor to apply itself, so the change is the
    /// person's own and their Undo takes it back. Otherwise creo writes it into the document.
    #[serde(default)]
    pub client_applies: bool,
}

fn quote(state: &AppState) -> Quote {
    let each = state.config.prices.of(Action::SampleGeneration);
    Quote {
        variations: VARIATIONS,
        price_milli_each: each,
        total_milli: each * VARIATIONS as i64,
    }
}

/// What four variations cost, before asking for them.
#[utoipa::path(get, operation_id = "generations_price", path = "/api/v1/documents/{doc_id}/generations/quote", params(("doc_id" = String, Path, description = "the document's id")),
    responses((status = 200, description = "the price", body = Quote)))]
pub async fn price(
    _: DocumentCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(quote(&state)))
}

/// Asks for four variations of the document's post: credits are reserved now (402 when they
/// do not suffice), the variations arrive as a `generation` event on the editors' sockets.
#[utoipa::path(post, operation_id = "generations_create", path = "/api/v1/documents/{doc_id}/generations", params(("doc_id" = String, Path, description = "the document's id")), request_body = GenerationRequest,
    responses((status = 202, description = "queued", body = Generation),
              (status = 402, description = "not enough credits, or the month's generations are used up")))]
pub async fn create(
    req: HttpRequest,
    DocumentCaller { principal, doc_id }: DocumentCaller,
    body: web::Json<GenerationRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ai_user(&req, &state).await?;
    let account = super::owned_document(&state, &doc_id, &principal.account)
        .await?
        .account_id;
    let field = body.into_inner().field.unwrap_or_else(|| "post".into());
    if field.is_empty() || field.len() > 100 {
        return Err(ApiError::bad_request(
            Code::InvalidField,
            "field is 1-100 characters",
        ));
    }
    let price = quote(&state);
    let quantity = VARIATIONS as i64;
    let reservation_id = super::ai::hold(
        &state,
        &account,
        &principal,
        Action::SampleGeneration,
        quantity,
    )
    .await?
    .map(|held| held.reservation_id);
    let generation = crate::jobs::generate::pending(
        &doc_id,
        &account,
        &principal.actor(),
        &field,
        reservation_id.clone(),
        price.price_milli_each,
    );
    let job = Job {
        id: format!("generate-{}", generation.generation_id),
        kind: JobKind::Generate {
            doc_id: doc_id.clone(),
            generation_id: generation.generation_id.clone(),
        },
        not_before: 0,
        attempt: 0,
    };
    let queued = match state.stores.generations.put_generation(&generation).await {
        Ok(()) => state.jobs.enqueue(&job).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = queued {
        // Nothing will run: give the credits back at once.
        if let Some(r) = reservation_id {
            let release = Settle {
                reservation_id: r,
                how: Settlement::Release,
            };
            let _ = state.accounts.ask(&account, release).await;
        }
        tracing::error!(doc = %doc_id, error = %e, "a generation could not be queued");
        return Err(ApiError::new(
            Code::NotQueued,
            "the job queue did not take the generation; nothing was charged",
        )
        .retry_after(5));
    }
    metrics::counter!("creo_generations_requested_total").increment(1);
    Ok(HttpResponse::Accepted().json(generation))
}

async fn load(state: &AppState, doc_id: &str, generation_id: &str) -> Result<Generation, ApiError> {
    state
        .stores
        .generations
        .generation(doc_id, generation_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such generation"))
}

/// A generation: pending, or done with its variations and what was charged.
#[utoipa::path(get, operation_id = "generations_get", path = "/api/v1/documents/{doc_id}/generations/{generation_id}", params(("doc_id" = String, Path, description = "the document's id"), ("generation_id" = String, Path, description = "the generation's id")),
    responses((status = 200, description = "the generation", body = Generation)))]
pub async fn get(
    DocumentCaller { doc_id, .. }: DocumentCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, generation_id) = path.into_inner();
    Ok(HttpResponse::Ok().json(load(&state, &doc_id, &generation_id).await?))
}

/// Writes one variation into the document (replacing the field's text) as a live edit any
/// editor can undo, and keeps the content before it as a version.
#[utoipa::path(post, operation_id = "generations_select", path = "/api/v1/documents/{doc_id}/generations/{generation_id}/select", params(("doc_id" = String, Path, description = "the document's id"), ("generation_id" = String, Path, description = "the generation's id")), request_body = Selection,
    responses((status = 200, description = "written into the document (or, with client_applies, the edit as a Yjs update)", body = Generation),
              (status = 409, description = "the generation has no such successful variation")))]
pub async fn select(
    DocumentCaller { principal, doc_id }: DocumentCaller,
    path: web::Path<(String, String)>,
    body: web::Json<Selection>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, generation_id) = path.into_inner();
    if !principal.role.can_write() {
        return Err(ApiError::forbidden(
            Code::ReadOnly,
            "your role may not change this document",
        ));
    }
    let mut generation = load(&state, &doc_id, &generation_id).await?;
    let variation = generation
        .variations
        .get(body.index)
        .filter(|v| generation.status == Status::Done && v.succeeded())
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                Code::NotSelectable,
                "the generation has no successful variation with that index",
            )
        })?;
    // The version kept before the change is the current state: the edit is made against it.
    let before = super::versions::take(
        &state,
        &doc_id,
        &principal,
        &format!("Before the AI variation “{}”", variation.label()),
        true,
    )
    .await?;
    let (field, text) = (generation.field.clone(), variation.text.clone());
    let update = crate::snapshot::off_executor(move || {
        crate::versions::replace_text(
            &before.state,
            &field,
            &text,
            crate::ai::collaborator::new_client(),
        )
    })
    .await
    .map_err(|e| ApiError::bad_request(Code::InvalidDocument, e))?;
    if !body.client_applies {
        super::documents::write_trusted(&state, &doc_id, &principal, update.clone()).await?;
    }
    generation.selected = Some(body.index);
    state.stores.generations.put_generation(&generation).await?;
    let event = serde_json::json!({ "type": "generation", "generation": generation });
    state.events.to_editors(&doc_id, &event);
    if body.client_applies {
        return Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(update));
    }
    Ok(HttpResponse::Ok().json(generation))
}
