//! Versions over REST: take a named version, list them, compare two ("who changed what"), and
//! restore one as a new edit. Workflow transitions take automatic versions (`creo_core::workflow`).

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::DocumentCaller;
use super::ApiError;
use crate::actors::document::TakeVersion;
use crate::app::AppState;
use crate::auth::Principal;
use crate::http::Code;
use crate::store::now_ms;
use crate::versions::{self, Change, Version};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewVersion {
    pub name: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompareQuery {
    pub from: String,
    pub to: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Comparison {
    pub from: String,
    pub to: String,
    /// Per text field: what was removed and inserted between the two.
    pub changes: Vec<Change>,
    /// Who wrote between them.
    pub changed_by: Vec<String>,
}

fn writer(p: &Principal) -> Result<(), ApiError> {
    if p.role.can_write() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            Code::ReadOnly,
            "your role may not change this document",
        ))
    }
}

/// Takes a version of the document now (named, or automatic for workflow transitions).
pub async fn take(
    state: &AppState,
    doc_id: &str,
    principal: &Arc<Principal>,
    name: &str,
    automatic: bool,
) -> Result<Version, ApiError> {
    make_room(state, doc_id, &principal.account, automatic).await?;
    let (snapshot, changed_by) = state
        .registry
        .ask(doc_id, || TakeVersion {
            principal: principal.clone(),
        })
        .await?;
    let version = Version {
        version_id: format!("v_{}", uuid::Uuid::now_v7().simple()),
        doc_id: doc_id.to_string(),
        name: name.chars().take(200).collect(),
        automatic,
        created_by: principal.actor(),
        created_at: now_ms(),
        changed_by,
        state: snapshot,
    };
    state.stores.versions.put_version(&version).await?;
    metrics::counter!("creo_versions_total", "automatic" => automatic.to_string()).increment(1);
    Ok(version)
}

/// Keeps the document within its tier's version quota: a named version beyond it is refused;
/// an automatic one replaces the oldest automatic version (refused too when every version kept
/// is named).
async fn make_room(
    state: &AppState,
    doc_id: &str,
    account: &str,
    automatic: bool,
) -> Result<(), ApiError> {
    let Some(max) = super::account_limits(state, account)
        .await?
        .versions_per_document
    else {
        return Ok(());
    };
    let kept = state.stores.versions.versions(doc_id).await?;
    if kept.len() < max as usize {
        return Ok(());
    }
    let oldest_automatic = kept.iter().find(|v| v.automatic);
    match oldest_automatic {
        Some(v) if automatic && kept.len() == max as usize => {
            state
                .stores
                .versions
                .delete_version(doc_id, &v.version_id)
                .await?;
            metrics::counter!("creo_versions_pruned_total").increment(1);
            Ok(())
        }
        _ => {
            metrics::counter!("creo_refused_requests_total", "reason" => "version_quota")
                .increment(1);
            Err(ApiError::new(
                Code::VersionQuotaExceeded,
                format!("this document keeps at most {max} versions on its plan"),
            )
            .with_details(serde_json::json!({ "limit": max })))
        }
    }
}

/// Takes a named version.
#[utoipa::path(post, operation_id = "versions_create", path = "/api/v1/documents/{doc_id}/versions", params(("doc_id" = String, Path, description = "the document's id")), request_body = NewVersion,
    responses((status = 201, description = "taken", body = Version)))]
pub async fn create(
    DocumentCaller {
        principal: p,
        doc_id,
    }: DocumentCaller,
    body: web::Json<NewVersion>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    writer(&p)?;
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::bad_request(Code::InvalidName, "name the version"));
    }
    let version = take(&state, &doc_id, &p, name, false).await?;
    Ok(HttpResponse::Created().json(version))
}

/// The document's versions, oldest first.
#[utoipa::path(get, operation_id = "versions_list", path = "/api/v1/documents/{doc_id}/versions", params(("doc_id" = String, Path, description = "the document's id")),
    responses((status = 200, description = "versions", body = Vec<Version>)))]
pub async fn list(
    DocumentCaller {
        principal: p,
        doc_id,
    }: DocumentCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::owned_document(&state, &doc_id, &p.account).await?;
    Ok(HttpResponse::Ok().json(state.stores.versions.versions(&doc_id).await?))
}

async fn load(state: &AppState, doc_id: &str, id: &str) -> Result<Version, ApiError> {
    state
        .stores
        .versions
        .version(doc_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no version {id} of this document")))
}

/// What changed between two versions, and who wrote in between.
#[utoipa::path(get, operation_id = "versions_compare", path = "/api/v1/documents/{doc_id}/versions/compare", params(("doc_id" = String, Path, description = "the document's id"), CompareQuery),
    responses((status = 200, description = "the differences", body = Comparison)))]
pub async fn compare(
    DocumentCaller {
        principal: p,
        doc_id,
    }: DocumentCaller,
    query: web::Query<CompareQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::owned_document(&state, &doc_id, &p.account).await?;
    let (from, to) = (
        load(&state, &doc_id, &query.from).await?,
        load(&state, &doc_id, &query.to).await?,
    );
    let (from_state, to_state) = (from.state.clone(), to.state.clone());
    let changes = crate::snapshot::off_executor(move || versions::compare(&from_state, &to_state))
        .await
        .map_err(|e| ApiError::bad_request(Code::InvalidVersion, e))?;
    let (low, high) = if from.created_at <= to.created_at {
        (&from, &to)
    } else {
        (&to, &from)
    };
    let mut changed_by: Vec<String> = state
        .stores
        .versions
        .versions(&doc_id)
        .await?
        .into_iter()
        .filter(|v| v.created_at > low.created_at && v.created_at <= high.created_at)
        .flat_map(|v| v.changed_by)
        .collect();
    changed_by.sort();
    changed_by.dedup();
    Ok(HttpResponse::Ok().json(Comparison {
        from: from.version_id,
        to: to.version_id,
        changes,
        changed_by,
    }))
}

/// Restores a version as a new edit: the document's content becomes the version's, through an
/// ordinary update every editor receives live; the history in between stays.
#[utoipa::path(post, operation_id = "versions_restore", path = "/api/v1/documents/{doc_id}/versions/{version_id}/restore", params(("doc_id" = String, Path, description = "the document's id"), ("version_id" = String, Path, description = "the version's id")),
    responses((status = 200, description = "restored; the version taken just before is returned", body = Version)))]
pub async fn restore(
    DocumentCaller {
        principal: p,
        doc_id,
    }: DocumentCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, version_id) = path.into_inner();
    writer(&p)?;
    let target = load(&state, &doc_id, &version_id).await?;
    // What is there now is kept as a version of its own first: a restore never loses anything.
    let before = take(
        &state,
        &doc_id,
        &p,
        &format!("Before restoring “{}”", target.name),
        true,
    )
    .await?;
    let (current, version) = (before.state.clone(), target.state);
    let update = crate::snapshot::off_executor(move || {
        versions::restore(&current, &version, crate::ai::collaborator::new_client())
    })
    .await
    .map_err(|e| ApiError::bad_request(Code::InvalidVersion, e))?;
    super::documents::write_trusted(&state, &doc_id, &p, update).await?;
    Ok(HttpResponse::Ok().json(before))
}
