//! API keys for server-to-server use (created, listed by prefix, scoped, revoked; stored as a
//! hash), and the token minting an embedding app uses to let its own users into a document.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::Manager;
use super::{audit, authenticate, require_login, ApiError};
use crate::app::AppState;
use crate::auth::{secret, Role, SCOPES};
use crate::http::Code;
use crate::store::now_ms;
use crate::store::ApiKey;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewApiKey {
    pub name: String,
    /// Any of `documents:read`, `documents:write`, `tokens:mint`, `billing:read`,
    /// `billing:charge`.
    pub scopes: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The whole key, shown this once: send it as `Authorization: Bearer <key>`.
    pub secret: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MintToken {
    /// The app's own id for its user.
    pub user_id: String,
    /// `editor`, `commenter` or `viewer`.
    pub role: Role,
    /// Scope the token to one document (recommended).
    #[serde(default)]
    pub doc_id: Option<String>,
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MintedToken {
    pub token: String,
    pub expires_in: u64,
}

/// Creates a key (owners and admins, logged in).
#[utoipa::path(post, operation_id = "api_keys_create", path = "/api/v1/accounts/{account_id}/api-keys", params(("account_id" = String, Path, description = "the account (workspace) id")), request_body = NewApiKey,
    responses((status = 201, description = "created; the secret is in the answer only", body = CreatedApiKey),
              (status = 400, description = "unknown scope")))]
pub async fn create(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    body: web::Json<NewApiKey>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_login(&by)?;
    // A key spends as nobody's allowance: only a verified manager may make one.
    super::email::require_verified(&state, &by).await?;
    let body = body.into_inner();
    if let Some(bad) = body.scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(ApiError::bad_request(
            Code::UnknownScope,
            format!("unknown scope {bad:?}; scopes are {}", SCOPES.join(", ")),
        ));
    }
    let key_id = secret::id()[..16].to_string();
    let full = secret::generate(&format!("ck_{key_id}_"));
    let key = ApiKey {
        key_id: key_id.clone(),
        account_id: account_id.clone(),
        name: body.name.trim().chars().take(200).collect(),
        prefix: format!("ck_{key_id}"),
        secret_hash: secret::digest(&full),
        scopes: body.scopes,
        created_by: by.user.to_string(),
        created_at: now_ms(),
        revoked_at: None,
    };
    state.stores.api_keys.create_api_key(&key).await?;
    audit(
        &state,
        &account_id,
        &by.actor(),
        "api_key_created",
        &key_id,
        &key.scopes.join(" "),
    )
    .await;
    Ok(HttpResponse::Created().json(CreatedApiKey { key, secret: full }))
}

/// The account's keys, by prefix (never the secret).
#[utoipa::path(get, operation_id = "api_keys_list", path = "/api/v1/accounts/{account_id}/api-keys", params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "keys", body = Vec<ApiKey>)))]
pub async fn list(
    Manager { account_id, .. }: Manager,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.stores.api_keys.api_keys(&account_id).await?))
}

/// Revokes a key: it stops working at once on every node.
#[utoipa::path(delete, operation_id = "api_keys_revoke", path = "/api/v1/accounts/{account_id}/api-keys/{key_id}", params(("account_id" = String, Path, description = "the account (workspace) id"), ("key_id" = String, Path, description = "the API key's id")),
    responses((status = 204, description = "revoked"), (status = 404, description = "no such active key")))]
pub async fn revoke(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, key_id) = path.into_inner();
    if !state
        .stores
        .api_keys
        .revoke_api_key(&account_id, &key_id, now_ms())
        .await?
    {
        return Err(ApiError::not_found("no such active key in this account"));
    }
    audit(
        &state,
        &account_id,
        &by.actor(),
        "api_key_revoked",
        &key_id,
        "",
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// An API key with `tokens:mint` mints a token for one of the app's users: at most an editor,
/// for the key's account, optionally for one document, for at most `app_token_max_ttl_secs`.
#[utoipa::path(post, operation_id = "api_keys_mint", path = "/api/v1/tokens", request_body = MintToken,
    responses((status = 201, description = "minted", body = MintedToken),
              (status = 403, description = "not an API key with tokens:mint, or role above editor")))]
pub async fn mint(
    req: HttpRequest,
    body: web::Json<MintToken>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let by = authenticate(&req, &state, None).await?;
    if by.api_key.is_none() || !by.has_scope("tokens:mint") {
        return Err(ApiError::forbidden(
            Code::MissingScope,
            "minting needs an API key with the tokens:mint scope",
        ));
    }
    if body.role.rank() > Role::Editor.rank() {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "app tokens are at most editors",
        ));
    }
    // An app's users live in their own namespace: `app:<id>` can never be a registered user
    // (`u_…`), an API key or the AI, so an app cannot act, or spend limits, as any of them.
    let id = body.user_id.trim();
    let valid = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if !valid {
        return Err(ApiError::bad_request(
            Code::InvalidUser,
            "user ids are 1-128 characters of letters, digits and . _ - @",
        ));
    }
    let user = format!("app:{id}");
    let user = user.as_str();
    if let Some(doc) = &body.doc_id {
        super::document_id(doc, &by)?;
    }
    let ttl = body
        .ttl_secs
        .unwrap_or(3600)
        .clamp(1, state.config.app_token_max_ttl_secs);
    let token = state
        .keys
        .mint(
            user,
            &by.account,
            body.role,
            body.doc_id.clone(),
            Duration::from_secs(ttl),
        )
        .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    metrics::counter!("creo_app_tokens_minted_total").increment(1);
    Ok(HttpResponse::Created().json(MintedToken {
        token,
        expires_in: ttl,
    }))
}
