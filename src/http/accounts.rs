//! Accounts (workspaces): the caller's accounts, creating one, members and their roles,
//! invitations, and the audit log. Role changes are announced on the bus so open sockets on
//! every node take the new role at once.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::{AccountCaller, Manager};
use super::identity::{owner, signed_in};
use super::{audit, authenticate, require_login, ApiError};
use crate::app::AppState;
use crate::auth::{secret, Principal, Role};
use crate::billing::Tier;
use crate::bus::AccessChange;
use crate::http::Code;
use crate::store::now_ms;
use crate::store::{Account, AuditEvent, Invitation, Member, User};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewAccount {
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountWithRole {
    #[serde(flatten)]
    pub account: Account,
    pub role: Role,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RoleChange {
    pub role: Role,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewInvitation {
    pub email: String,
    pub role: Role,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    /// Give it to the invitee (shown once); they accept at `/api/v1/invitations/accept`.
    pub token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AcceptInvitation {
    pub token: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Only items older than this (a `seq` for the ledger, milliseconds for the audit log).
    pub before: Option<i64>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<usize>,
}

impl Page {
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(50).clamp(1, 500)
    }
}

/// The accounts the logged-in user belongs to, with their role in each.
#[utoipa::path(get, operation_id = "accounts_mine", path = "/api/v1/accounts",
    responses((status = 200, description = "accounts", body = Vec<AccountWithRole>)))]
pub async fn mine(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, &state, None).await?;
    require_login(&principal)?;
    let mut out = Vec::new();
    for m in state.stores.members.memberships(&principal.user).await? {
        if let Some(account) = state.stores.accounts.account(&m.account_id).await? {
            out.push(AccountWithRole {
                account,
                role: m.role,
            });
        }
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Creates a workspace owned by the logged-in user (log in or refresh with its id to act in it).
#[utoipa::path(post, operation_id = "accounts_create", path = "/api/v1/accounts", request_body = NewAccount,
    responses((status = 201, description = "created", body = Account)))]
pub async fn create(
    req: HttpRequest,
    body: web::Json<NewAccount>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, &state, None).await?;
    require_login(&principal)?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::bad_request(
            Code::InvalidName,
            "names are 1-200 characters",
        ));
    }
    let now = now_ms();
    let account = Account {
        account_id: format!("a_{}", secret::id()),
        name: name.to_string(),
        tier: Tier::Free,
        payment_failed: false,
        custom_limits: None,
        created_at: now,
        require_mfa: false,
    };
    state
        .stores
        .accounts
        .create_account(&account, &owner(&account.account_id, &principal.user, now))
        .await?;
    audit(
        &state,
        &account.account_id,
        &principal.user,
        "account_created",
        &account.account_id,
        "",
    )
    .await;
    Ok(HttpResponse::Created().json(account))
}

/// The account, for any of its members.
#[utoipa::path(get, operation_id = "accounts_get", path = "/api/v1/accounts/{account_id}", params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "the account", body = Account),
              (status = 403, description = "another account")))]
pub async fn get(
    AccountCaller { account_id, .. }: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = state
        .stores
        .accounts
        .account(&account_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such account"))?;
    Ok(HttpResponse::Ok().json(account))
}

/// A member as the people of the account see them: by name. Emails are for owners and admins
/// (who invite and manage) and for the member themself.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberView {
    #[serde(flatten)]
    pub member: Member,
    pub name: String,
    pub email: Option<String>,
}

/// The account's members, their names and roles (any member may read it: the editor names
/// comment authors, editors and approvers by it).
#[utoipa::path(get, operation_id = "accounts_members", path = "/api/v1/accounts/{account_id}/members", params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "members", body = Vec<MemberView>)))]
pub async fn members(
    AccountCaller {
        principal,
        account_id,
    }: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let manager = matches!(principal.role, Role::Owner | Role::Admin);
    let members = state.stores.members.members(&account_id).await?;
    let users = futures_util::future::try_join_all(
        members.iter().map(|m| state.stores.users.user(&m.user_id)),
    )
    .await?;
    let view: Vec<MemberView> = members
        .into_iter()
        .zip(users)
        .map(|(member, user)| {
            let (name, email) = user.map(|u| (u.name, u.email)).unwrap_or_default();
            let email = (manager || *member.user_id == *principal.user).then_some(email);
            MemberView {
                member,
                name,
                email,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(view))
}

/// What an invitation link shows before its holder signs in: who invites them, to which
/// workspace, as what. The token is the secret; nothing here names other members.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InvitationPreview {
    pub account_id: String,
    pub account_name: String,
    pub inviter_name: String,
    pub role: Role,
    /// The address it was sent to: only that person can accept it.
    pub email: String,
    pub expires_at: i64,
}

/// The invitation a link's token names, with the token's hash, while it can still be accepted.
async fn pending_invitation(
    state: &AppState,
    token: &str,
) -> Result<(Invitation, String), ApiError> {
    let hash = secret::digest(token);
    let pending = state.stores.invitations.invitation_by_token(&hash).await?;
    match pending.filter(|i| i.accepted_by.is_none() && i.expires_at > now_ms()) {
        Some(inv) => Ok((inv, hash)),
        None => Err(ApiError::not_found(
            "unknown, expired or already used invitation",
        )),
    }
}

#[utoipa::path(get, operation_id = "accounts_preview", path = "/api/v1/invitations/{token}", params(("token" = String, Path, description = "the invitation token from the link")),
    responses((status = 200, description = "the invitation", body = InvitationPreview),
              (status = 404, description = "unknown, expired or already used")))]
pub async fn preview(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // Rate limited like sign-in: a guessed token is 256 bits, but each try costs a read.
    super::address::limit(&req, &state, super::address::Class::Auth).await?;
    let (inv, _) = pending_invitation(&state, &path.into_inner()).await?;
    let account = state
        .stores
        .accounts
        .account(&inv.account_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the account no longer exists"))?;
    let inviter = state.stores.users.user(&inv.invited_by).await?;
    Ok(HttpResponse::Ok().json(InvitationPreview {
        account_id: inv.account_id,
        account_name: account.name,
        inviter_name: inviter.map(|u| u.name).unwrap_or_default(),
        role: inv.role,
        email: inv.email,
        expires_at: inv.expires_at,
    }))
}

/// May `by` change (or remove) `target`, currently `current`, to `new`? Admins manage everyone
/// but owners, and cannot make owners; the last owner cannot be demoted or removed.
async fn check_change(
    state: &AppState,
    by: &Principal,
    account_id: &str,
    current: Role,
    new: Option<Role>,
) -> Result<(), ApiError> {
    let touches_owner = current == Role::Owner || new == Some(Role::Owner);
    if touches_owner && by.role != Role::Owner {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "only owners manage owners",
        ));
    }
    if current == Role::Owner && new != Some(Role::Owner) {
        let owners = state
            .stores
            .members
            .members(account_id)
            .await?
            .iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        if owners <= 1 {
            return Err(ApiError::new(
                Code::LastOwner,
                "an account keeps at least one owner",
            ));
        }
    }
    Ok(())
}

async fn member(state: &AppState, account_id: &str, user_id: &str) -> Result<Member, ApiError> {
    state
        .stores
        .members
        .members(account_id)
        .await?
        .into_iter()
        .find(|m| m.user_id == user_id)
        .ok_or_else(|| ApiError::not_found("no such member"))
}

/// Changes a member's role; their open sockets on every node take it within the second.
#[utoipa::path(put, operation_id = "accounts_change_role", path = "/api/v1/accounts/{account_id}/members/{user_id}", params(("account_id" = String, Path, description = "the account (workspace) id"), ("user_id" = String, Path, description = "a user's id")), request_body = RoleChange,
    responses((status = 200, description = "changed", body = Member),
              (status = 403, description = "not an owner or admin"),
              (status = 409, description = "would leave no owner")))]
pub async fn change_role(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    path: web::Path<(String, String)>,
    body: web::Json<RoleChange>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, user_id) = path.into_inner();
    let mut m = member(&state, &account_id, &user_id).await?;
    check_change(&state, &by, &account_id, m.role, Some(body.role)).await?;
    let from = m.role;
    m.role = body.role;
    state.stores.members.put_member(&m, None).await?;
    super::announce(
        &state,
        AccessChange::Role {
            account: account_id.clone(),
            user: user_id.clone(),
            role: Some(m.role),
        },
    );
    let detail = format!("{} -> {}", from.as_str(), m.role.as_str());
    audit(
        &state,
        &account_id,
        &by.actor(),
        "role_changed",
        &user_id,
        &detail,
    )
    .await;
    if from != m.role {
        state
            .events
            .people()
            .role_changed(&account_id, &user_id, m.role, &by.actor())
            .await;
    }
    Ok(HttpResponse::Ok().json(m))
}

/// Removes a member; their open sockets close with 4403 on every node.
#[utoipa::path(delete, operation_id = "accounts_remove_member", path = "/api/v1/accounts/{account_id}/members/{user_id}", params(("account_id" = String, Path, description = "the account (workspace) id"), ("user_id" = String, Path, description = "a user's id")),
    responses((status = 204, description = "removed"), (status = 404, description = "not a member")))]
pub async fn remove_member(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, user_id) = path.into_inner();
    let m = member(&state, &account_id, &user_id).await?;
    check_change(&state, &by, &account_id, m.role, None).await?;
    state
        .stores
        .members
        .remove_member(&account_id, &user_id)
        .await?;
    super::announce(
        &state,
        AccessChange::Role {
            account: account_id.clone(),
            user: user_id.clone(),
            role: None,
        },
    );
    audit(
        &state,
        &account_id,
        &by.actor(),
        "member_removed",
        &user_id,
        m.role.as_str(),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Invites someone by email with a role.
#[utoipa::path(post, operation_id = "accounts_invite", path = "/api/v1/accounts/{account_id}/invitations", params(("account_id" = String, Path, description = "the account (workspace) id")), request_body = NewInvitation,
    responses((status = 201, description = "invited", body = CreatedInvitation)))]
pub async fn invite(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    body: web::Json<NewInvitation>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_login(&by)?;
    super::email::require_verified(&state, &by).await?;
    if body.role == Role::Owner && by.role != Role::Owner {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "only owners invite owners",
        ));
    }
    let email = super::identity::validate_email(&body.email)?;
    let now = now_ms();
    let token = secret::generate("inv_");
    let invitation = Invitation {
        invitation_id: secret::id(),
        account_id: account_id.clone(),
        email,
        role: body.role,
        invited_by: by.user.to_string(),
        created_at: now,
        expires_at: now + state.config.invitation_ttl_secs as i64 * 1000,
        accepted_by: None,
    };
    state
        .stores
        .invitations
        .create_invitation(&invitation, &secret::digest(&token))
        .await?;
    audit(
        &state,
        &account_id,
        &by.actor(),
        "member_invited",
        &invitation.email,
        body.role.as_str(),
    )
    .await;
    state
        .events
        .people()
        .invited(&account_id, &invitation.email, body.role, &by.actor())
        .await;
    Ok(HttpResponse::Created().json(CreatedInvitation { invitation, token }))
}

#[utoipa::path(get, operation_id = "accounts_invitations", path = "/api/v1/accounts/{account_id}/invitations", params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "invitations", body = Vec<Invitation>)))]
pub async fn invitations(
    Manager { account_id, .. }: Manager,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.stores.invitations.invitations(&account_id).await?))
}

/// Accepts an invitation addressed to the logged-in user's email, if the account has a seat.
#[utoipa::path(post, operation_id = "accounts_accept", path = "/api/v1/invitations/accept", request_body = AcceptInvitation,
    responses((status = 200, description = "joined", body = Member),
              (status = 402, description = "the account's tier has no seat left"),
              (status = 404, description = "unknown, expired or used invitation")))]
pub async fn accept(
    req: HttpRequest,
    body: web::Json<AcceptInvitation>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::address::limit(&req, &state, super::address::Class::Auth).await?;
    let (_, user) = signed_in(&req, &state).await?;
    let (inv, hash) = pending_invitation(&state, &body.token).await?;
    let m = join(&state, &user, &inv, &hash).await?;
    Ok(HttpResponse::Ok().json(m))
}

/// Makes `user` a member as `inv` says, if the account has a seat and nobody accepted the
/// invitation first.
async fn join(
    state: &AppState,
    user: &User,
    inv: &Invitation,
    hash: &str,
) -> Result<Member, ApiError> {
    if inv.email != user.email {
        return Err(ApiError::forbidden(
            Code::WrongInvitee,
            "this invitation is for another email",
        ));
    }
    let view = state
        .accounts
        .lookup(&inv.account_id, None)
        .await?
        .ok_or_else(|| ApiError::not_found("the account no longer exists"))?;
    let m = Member {
        account_id: inv.account_id.clone(),
        user_id: user.user_id.clone(),
        role: inv.role,
        added_at: now_ms(),
    };
    if !state
        .stores
        .members
        .put_member(&m, view.limits.seats)
        .await?
    {
        return Err(ApiError::new(
            Code::SeatLimitReached,
            "the account's tier has no seat left; upgrade to add members",
        ));
    }
    if state
        .stores
        .invitations
        .accept_invitation(hash, &user.user_id, now_ms())
        .await?
        .is_none()
    {
        // Accepted by someone else meanwhile: undo this membership.
        state
            .stores
            .members
            .remove_member(&m.account_id, &m.user_id)
            .await?;
        return Err(ApiError::not_found(
            "unknown, expired or already used invitation",
        ));
    }
    super::announce(
        state,
        AccessChange::Account {
            account: m.account_id.clone(),
        },
    );
    audit(
        state,
        &m.account_id,
        &user.user_id,
        "invitation_accepted",
        &inv.invitation_id,
        m.role.as_str(),
    )
    .await;
    Ok(m)
}

/// An invitation addressed to the signed-in person, as their own list shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MyInvitation {
    pub invitation_id: String,
    #[serde(flatten)]
    pub preview: InvitationPreview,
}

/// The invitations addressed to the signed-in person's email that wait for them, newest first.
/// Where the inbox's invitation notices lead.
#[utoipa::path(get, operation_id = "users_invitations", path = "/api/v1/users/me/invitations",
    responses((status = 200, description = "pending invitations", body = Vec<MyInvitation>)))]
pub async fn my_invitations(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, user) = signed_in(&req, &state).await?;
    let mut out = Vec::new();
    // An unproved address may be someone else's: their invitations stay theirs until then.
    if super::email::verification_required(&state) && user.email_verified_at.is_none() {
        return Ok(HttpResponse::Ok().json(out));
    }
    for (inv, _) in state
        .stores
        .invitations
        .invitations_for(&user.email, now_ms())
        .await?
    {
        let Some(account) = state.stores.accounts.account(&inv.account_id).await? else {
            continue;
        };
        let inviter = state.stores.users.user(&inv.invited_by).await?;
        out.push(MyInvitation {
            invitation_id: inv.invitation_id,
            preview: InvitationPreview {
                account_id: inv.account_id,
                account_name: account.name,
                inviter_name: inviter.map(|u| u.name).unwrap_or_default(),
                role: inv.role,
                email: inv.email,
                expires_at: inv.expires_at,
            },
        });
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Accepts one of the signed-in person's own invitations. Only a verified address proves the
/// invitation is theirs here (there is no token from a link), so an unverified one is refused.
#[utoipa::path(post, operation_id = "users_accept_invitation", path = "/api/v1/users/me/invitations/{invitation_id}/accept", params(("invitation_id" = String, Path, description = "the invitation id")),
    responses((status = 200, description = "joined", body = Member),
              (status = 402, description = "the account's tier has no seat left"),
              (status = 403, description = "the email address is not verified"),
              (status = 404, description = "no such pending invitation for this address")))]
pub async fn accept_mine(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, user) = signed_in(&req, &state).await?;
    if user.email_verified_at.is_none() {
        // With email off nobody can verify; the link from the inviter still works then.
        let why = if super::email::verification_required(&state) {
            "confirm your email address first: follow the link we mailed you"
        } else {
            "this server cannot verify addresses (email is off): use the link you were sent"
        };
        return Err(ApiError::forbidden(Code::EmailUnverified, why));
    }
    let id = path.into_inner();
    let pending = state
        .stores
        .invitations
        .invitations_for(&user.email, now_ms())
        .await?
        .into_iter()
        .find(|(inv, _)| inv.invitation_id == id);
    let Some((inv, hash)) = pending else {
        return Err(ApiError::not_found(
            "no such pending invitation for your address",
        ));
    };
    let m = join(&state, &user, &inv, &hash).await?;
    Ok(HttpResponse::Ok().json(m))
}

/// Security events, newest first (owners and admins).
#[utoipa::path(get, operation_id = "accounts_audit_log", path = "/api/v1/accounts/{account_id}/audit", params(("account_id" = String, Path, description = "the account (workspace) id"), Page),
    responses((status = 200, description = "events", body = Vec<AuditEvent>)))]
pub async fn audit_log(
    Manager { account_id, .. }: Manager,
    page: web::Query<Page>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let events = state
        .stores
        .audit
        .audit_events(&account_id, page.before, page.limit())
        .await?;
    Ok(HttpResponse::Ok().json(events))
}
