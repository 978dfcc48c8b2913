//! Revoking a user's access to a document or to a whole account (owners and admins): stored so
//! new connections and requests are refused, and announced on the bus so the user's open
//! sockets close on every node.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{authenticate, document_id, require_manager, ApiError, TokenQuery};
use crate::app::AppState;
use crate::auth::Principal;
use crate::bus;
use crate::http::Code;
use crate::store::{now_ms, Revocation};

/// The caller, an owner or admin of `account_id` with an account-wide token.
async fn account_admin(
    req: &HttpRequest,
    state: &AppState,
    query: &TokenQuery,
    account_id: &str,
) -> Result<Principal, ApiError> {
    let principal = authenticate(req, state, query.token.as_deref()).await?;
    if *principal.account != *account_id || principal.doc.is_some() {
        return Err(ApiError::forbidden(
            Code::WrongAccount,
            "this token does not manage that account",
        ));
    }
    require_manager(&principal, None)?;
    Ok(principal)
}

/// The caller, an owner or admin of the account that owns `doc_id`.
async fn document_admin(
    req: &HttpRequest,
    state: &AppState,
    query: &TokenQuery,
    doc_id: &str,
) -> Result<Principal, ApiError> {
    let principal = authenticate(req, state, query.token.as_deref()).await?;
    document_id(doc_id, &principal)?;
    require_manager(&principal, None)?;
    super::owned_document(state, doc_id, &principal.account).await?;
    Ok(principal)
}

async fn revoke(
    state: &AppState,
    admin: &Principal,
    user_id: String,
    doc_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let revocation = Revocation {
        account_id: admin.account.to_string(),
        user_id,
        doc_id,
        revoked_by: admin.user.to_string(),
        revoked_at: now_ms(),
    };
    state.stores.revocations.revoke(&revocation).await?;
    tracing::info!(account = %revocation.account_id, user = %revocation.user_id, doc = ?revocation.doc_id, by = %revocation.revoked_by, "access revoked");
    metrics::counter!("creo_revocations_total").increment(1);
    let scope = revocation.doc_id.as_deref().unwrap_or("account");
    super::audit(
        state,
        &admin.account,
        &admin.actor(),
        "access_revoked",
        &revocation.user_id,
        scope,
    )
    .await;
    state
        .bus
        .announce(bus::AccessChange::Revoke(revocation.clone()));
    Ok(HttpResponse::Ok().json(revocation))
}

async fn lift(
    state: &AppState,
    admin: &Principal,
    user_id: &str,
    doc_id: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let lifted = state
        .stores
        .revocations
        .lift_revocation(&admin.account, user_id, doc_id)
        .await?;
    if lifted {
        super::announce(
            state,
            crate::bus::AccessChange::Lift {
                account: admin.account.to_string(),
                user: user_id.to_string(),
            },
        );
        let scope = doc_id.unwrap_or("account");
        super::audit(
            state,
            &admin.account,
            &admin.actor(),
            "revocation_lifted",
            user_id,
            scope,
        )
        .await;
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::new(Code::NotFound, "no such revocation"))
    }
}

/// Revokes a user's access to one document; their sockets on it close (code 4403) on every node.
#[utoipa::path(put, operation_id = "revocations_revoke_document", path = "/api/v1/documents/{doc_id}/revocations/{user_id}", params(("doc_id" = String, Path, description = "the document's id"), ("user_id" = String, Path, description = "a user's id")),
    responses((status = 200, description = "revoked", body = Revocation),
              (status = 403, description = "not an owner or admin of the document's account"),
              (status = 404, description = "no such document")))]
pub async fn revoke_document(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (doc_id, user_id) = path.into_inner();
    let admin = document_admin(&req, &state, &query, &doc_id).await?;
    revoke(&state, &admin, user_id, Some(doc_id)).await
}

/// Lifts a document revocation.
#[utoipa::path(delete, operation_id = "revocations_lift_document", path = "/api/v1/documents/{doc_id}/revocations/{user_id}", params(("doc_id" = String, Path, description = "the document's id"), ("user_id" = String, Path, description = "a user's id")),
    responses((status = 204, description = "lifted"), (status = 404, description = "none to lift")))]
pub async fn lift_document(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (doc_id, user_id) = path.into_inner();
    let admin = document_admin(&req, &state, &query, &doc_id).await?;
    lift(&state, &admin, &user_id, Some(&doc_id)).await
}

/// Revokes a user's access to every document of the account; their sockets close on every node.
#[utoipa::path(put, operation_id = "revocations_revoke_account", path = "/api/v1/accounts/{account_id}/revocations/{user_id}", params(("account_id" = String, Path, description = "the account (workspace) id"), ("user_id" = String, Path, description = "a user's id")),
    responses((status = 200, description = "revoked", body = Revocation),
              (status = 403, description = "not an owner or admin of this account")))]
pub async fn revoke_account(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account_id, user_id) = path.into_inner();
    let admin = account_admin(&req, &state, &query, &account_id).await?;
    revoke(&state, &admin, user_id, None).await
}

/// Lifts an account-wide revocation.
#[utoipa::path(delete, operation_id = "revocations_lift_account", path = "/api/v1/accounts/{account_id}/revocations/{user_id}", params(("account_id" = String, Path, description = "the account (workspace) id"), ("user_id" = String, Path, description = "a user's id")),
    responses((status = 204, description = "lifted"), (status = 404, description = "none to lift")))]
pub async fn lift_account(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account_id, user_id) = path.into_inner();
    let admin = account_admin(&req, &state, &query, &account_id).await?;
    lift(&state, &admin, &user_id, None).await
}

/// The account's standing revocations.
#[utoipa::path(get, operation_id = "revocations_list", path = "/api/v1/accounts/{account_id}/revocations", params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "revocations", body = Vec<Revocation>),
              (status = 403, description = "not an owner or admin of this account")))]
pub async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account_id = path.into_inner();
    account_admin(&req, &state, &query, &account_id).await?;
    let all = state.stores.revocations.revocations(&account_id).await?;
    Ok(HttpResponse::Ok().json(all))
}
