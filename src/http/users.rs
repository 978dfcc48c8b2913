//! The user's own data (GDPR): export everything creo holds about the logged-in user as JSON,
//! or erase it. Erasure removes the profile, email, password, sessions and memberships, closes
//! their sockets everywhere, and keeps their ledger entries anonymised (money records stay).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::{audit, authenticate, require_login, ApiError};
use crate::app::AppState;
use crate::auth::Role;
use crate::bus::AccessChange;
use crate::http::Code;
use crate::store::{ApiKey, AuditEvent, AuthSession, LedgerEntry, Member, User};

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserExport {
    pub user: User,
    pub memberships: Vec<Member>,
    pub sessions: Vec<AuthSession>,
    pub api_keys_created: Vec<ApiKey>,
    pub ledger_entries: Vec<LedgerEntry>,
    pub audit_events: Vec<AuditEvent>,
}

/// Who is signed in: the name shown to others, the email, and where their identity stands.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    /// Whether this server holds unverified addresses to limits (it does while email is on).
    pub verification_required: bool,
    pub mfa_enabled: bool,
}

#[utoipa::path(get, operation_id = "users_me", path = "/api/v1/users/me",
    responses((status = 200, description = "the signed-in user", body = Me)))]
pub async fn me(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (_, user) = super::identity::signed_in(&req, &state).await?;
    let mfa_enabled = super::mfa::enrolled(&state, &user.user_id).await?;
    Ok(HttpResponse::Ok().json(Me {
        user_id: user.user_id,
        email: user.email,
        name: user.name,
        email_verified: user.email_verified_at.is_some(),
        verification_required: super::email::verification_required(&state),
        mfa_enabled,
    }))
}

/// Everything about the logged-in user, as JSON.
#[utoipa::path(get, operation_id = "users_export", path = "/api/v1/users/me/export",
    responses((status = 200, description = "the user's data", body = UserExport)))]
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (p, user) = super::identity::signed_in(&req, &state).await?;
    let store = &state.stores;
    let memberships = store.members.memberships(&p.user).await?;
    let mut api_keys_created = Vec::new();
    let mut ledger_entries = Vec::new();
    for m in &memberships {
        api_keys_created.extend(
            store
                .api_keys
                .api_keys(&m.account_id)
                .await?
                .into_iter()
                .filter(|k| k.created_by == user.user_id),
        );
        ledger_entries.extend(
            store
                .ledger
                .ledger_since(&m.account_id, 0)
                .await?
                .into_iter()
                .filter(|e| e.user_id == user.user_id),
        );
    }
    let export = UserExport {
        sessions: store.logins.sessions(&p.user).await?,
        audit_events: store.audit.audit_events_by(&p.user).await?,
        user,
        memberships,
        api_keys_created,
        ledger_entries,
    };
    audit(&state, &p.account, &p.user, "data_exported", &p.user, "").await;
    Ok(HttpResponse::Ok()
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"creo-export.json\"",
        ))
        .json(export))
}

/// Erases the logged-in user. Refused while they are the only owner of an account that has
/// other members (transfer ownership first).
#[utoipa::path(delete, operation_id = "users_erase", path = "/api/v1/users/me",
    responses((status = 204, description = "erased"),
              (status = 409, description = "sole owner of a shared account")))]
pub async fn erase(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let p = authenticate(&req, &state, None).await?;
    require_login(&p)?;
    let store = &state.stores;
    let memberships = store.members.memberships(&p.user).await?;
    for m in memberships.iter().filter(|m| m.role == Role::Owner) {
        let members = store.members.members(&m.account_id).await?;
        let owners = members.iter().filter(|x| x.role == Role::Owner).count();
        if owners == 1 && members.len() > 1 {
            return Err(ApiError::new(
                Code::SoleOwner,
                format!(
                    "you are the only owner of {}; transfer ownership first",
                    m.account_id
                ),
            ));
        }
    }
    store.users.erase_user(&p.user).await?;
    for m in &memberships {
        super::announce(
            &state,
            AccessChange::Role {
                account: m.account_id.clone(),
                user: p.user.to_string(),
                role: None,
            },
        );
        audit(
            &state,
            &m.account_id,
            crate::store::DELETED_USER,
            "user_erased",
            crate::store::DELETED_USER,
            "",
        )
        .await;
    }
    metrics::counter!("creo_users_erased_total").increment(1);
    Ok(HttpResponse::NoContent().finish())
}
