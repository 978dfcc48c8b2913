//! AI over REST, through the inference pool, paid in the account's credits: each input costs an
//! `inference` (`prices.inference`). Credits are reserved before the model runs and captured only
//! when it answered; a request that fails (a full queue, a deadline, a worker that crashed) is
//! released and costs nothing.

use std::future::Future;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::{authenticate, ApiError};
use crate::actors::account::{Reserve, Settle};
use crate::app::AppState;
use crate::auth::Principal;
use crate::billing::Action;
use crate::gpu::{InferError, Input, ModelStatus};
use crate::http::Code;
use crate::store::now_ms;
use crate::store::{Reservation, ReservationStatus, Settlement};

/// Most inputs in one request.
pub const MAX_INPUTS: usize = 256;

impl From<InferError> for ApiError {
    fn from(e: InferError) -> Self {
        let msg = e.to_string();
        metrics::counter!("creo_ai_errors_total", "reason" => match &e {
            InferError::Unavailable(_) => "unavailable",
            InferError::UnknownModel(_) => "unknown_model",
            InferError::Busy => "busy",
            InferError::Deadline => "deadline",
            InferError::WorkerCrashed => "worker_crashed",
            InferError::BadInput(_) => "bad_input",
        })
        .increment(1);
        match e {
            InferError::Unavailable(_) => ApiError::new(Code::AiUnavailable, msg).retry_after(30),
            InferError::UnknownModel(_) => ApiError::not_found(msg),
            InferError::Busy => ApiError::new(Code::Busy, msg).retry_after(1),
            InferError::Deadline => ApiError::new(Code::DeadlineExceeded, msg),
            InferError::WorkerCrashed => ApiError::new(Code::WorkerRestarted, msg).retry_after(1),
            InferError::BadInput(_) => ApiError::bad_request(Code::InvalidInput, msg),
        }
    }
}

/// Runs `work` paid with `quantity` inferences from the principal's account: reserved first,
/// captured if it succeeds, released if it fails. Accounts not registered here (tokens from
/// `creo token`) are not billed.
pub async fn metered<T, F>(
    state: &AppState,
    principal: &Principal,
    quantity: usize,
    work: F,
) -> Result<T, ApiError>
where
    F: Future<Output = Result<T, ApiError>>,
{
    let account = principal.account.to_string();
    let quantity = quantity.max(1) as i64;
    let Some(held) = hold(state, &account, principal, Action::Inference, quantity).await? else {
        return work.await;
    };
    let result = work.await;
    let how = match &result {
        Ok(_) => Settlement::Capture { quantity },
        Err(_) => Settlement::Release,
    };
    let settle = Settle {
        reservation_id: held.reservation_id.clone(),
        how,
    };
    if let Err(e) = state.accounts.ask(&account, settle).await {
        // The hold expires and is released by itself after reservation_ttl_ms.
        tracing::warn!(error = %e, reservation = %held.reservation_id, "settling an AI reservation failed");
    }
    result
}

/// Holds the credits for `quantity` of `action` in `account` (402 when they do not suffice);
/// `None` for accounts not registered here (tokens from `creo token`), which are not billed.
pub async fn hold(
    state: &AppState,
    account: &str,
    principal: &Principal,
    action: Action,
    quantity: i64,
) -> Result<Option<Reservation>, ApiError> {
    if state.accounts.lookup(account, None).await?.is_none() {
        return Ok(None);
    }
    let now = now_ms();
    let reservation = Reservation {
        reservation_id: format!("r_{}", crate::auth::secret::id()),
        account_id: account.to_string(),
        action,
        quantity,
        amount_milli: state.config.prices.of(action) * quantity,
        status: ReservationStatus::Held,
        user_id: principal.actor(),
        idempotency_key: format!("{}:{}", action.as_str(), crate::auth::secret::id()),
        created_at: now,
        expires_at: now + state.config.reservation_ttl_ms as i64,
        entry_seq: None,
    };
    let payer = super::email::spender(state, principal).await?;
    let (held, _) = state
        .accounts
        .ask(account, Reserve(reservation, payer))
        .await?;
    Ok(Some(held))
}

/// Who may run models: editors and above (they spend the account's credits), or API keys with
/// `billing:charge`.
pub async fn ai_user(req: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    let p = authenticate(req, state, None).await?;
    let allowed = match &p.api_key {
        Some(_) => p.has_scope("billing:charge"),
        None => p.role.can_write(),
    };
    if allowed {
        Ok(p)
    } else {
        Err(ApiError::forbidden(
            Code::Forbidden,
            "your role may not spend the account's credits on AI",
        ))
    }
}

pub fn timeout(state: &AppState) -> Duration {
    Duration::from_millis(state.config.inference_timeout_ms)
}

/// The loaded models and versions: task, device, traffic weight, health, queue, restarts.
#[utoipa::path(get, operation_id = "ai_models", path = "/api/v1/ai/models",
    responses((status = 200, description = "models", body = Vec<serde_json::Value>),
              (status = 503, description = "no ONNX Runtime on this node")))]
pub async fn models(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authenticate(&req, &state, None).await?;
    if let Some(reason) = state.pool.unavailable() {
        return Err(InferError::Unavailable(reason).into());
    }
    let all: Vec<ModelStatus> = state.pool.status();
    Ok(HttpResponse::Ok().json(all))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct InferRequest {
    /// For models that take text.
    #[serde(default)]
    pub texts: Vec<String>,
    /// For models that take rows of numbers.
    #[serde(default)]
    pub rows: Vec<Vec<f32>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InferResponse {
    pub model: String,
    pub version: u32,
    pub outputs: Vec<Vec<f32>>,
}

fn inputs(body: InferRequest) -> Result<Vec<Input>, ApiError> {
    let inputs: Vec<Input> = if body.rows.is_empty() {
        body.texts.into_iter().map(Input::Text).collect()
    } else if body.texts.is_empty() {
        body.rows.into_iter().map(Input::Row).collect()
    } else {
        return Err(ApiError::bad_request(
            Code::InvalidInput,
            "send texts or rows, not both",
        ));
    };
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(ApiError::bad_request(
            Code::InvalidInput,
            format!("send 1 to {MAX_INPUTS} inputs"),
        ));
    }
    Ok(inputs)
}

/// Runs any loaded model on a batch of inputs (each queued as its own request and batched with
/// everyone else's).
#[utoipa::path(post, operation_id = "ai_infer", path = "/api/v1/ai/infer/{model}", params(("model" = String, Path, description = "the model's name")), request_body = InferRequest,
    responses((status = 200, description = "one output per input", body = InferResponse),
              (status = 402, description = "not enough credits"),
              (status = 503, description = "queue full, worker restarting, or AI unavailable (Retry-After)"),
              (status = 504, description = "deadline passed")))]
pub async fn infer(
    req: HttpRequest,
    model: web::Path<String>,
    body: web::Json<InferRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = ai_user(&req, &state).await?;
    let model = model.into_inner();
    let inputs = inputs(body.into_inner())?;
    let n = inputs.len();
    let outputs = metered(&state, &principal, n, async {
        Ok(state.pool.infer(&model, inputs, timeout(&state)).await?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(InferResponse {
        model,
        version: outputs.first().map_or(0, |o| o.version),
        outputs: outputs.into_iter().map(|o| o.vector).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EmbedRequest {
    pub texts: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EmbedResponse {
    pub model: String,
    pub version: u32,
    pub dimensions: usize,
    /// Unit vectors, one per text: their dot product is the cosine similarity.
    pub vectors: Vec<Vec<f32>>,
}

/// Texts → sentence embeddings (the configured embedding model, all-MiniLM-L6-v2 by default).
#[utoipa::path(post, operation_id = "ai_embed", path = "/api/v1/ai/embed", request_body = EmbedRequest,
    responses((status = 200, description = "one vector per text", body = EmbedResponse),
              (status = 402, description = "not enough credits"),
              (status = 503, description = "queue full, worker restarting, or AI unavailable (Retry-After)")))]
pub async fn embed(
    req: HttpRequest,
    body: web::Json<EmbedRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = ai_user(&req, &state).await?;
    let inputs = inputs(InferRequest {
        texts: body.into_inner().texts,
        rows: Vec::new(),
    })?;
    let model = state.config.embedding_model.clone();
    let n = inputs.len();
    let outputs = metered(&state, &principal, n, async {
        Ok(state.pool.infer(&model, inputs, timeout(&state)).await?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(EmbedResponse {
        model,
        version: outputs.first().map_or(0, |o| o.version),
        dimensions: outputs.first().map_or(0, |o| o.vector.len()),
        vectors: outputs.into_iter().map(|o| o.vector).collect(),
    }))
}
