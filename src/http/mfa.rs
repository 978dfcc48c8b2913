//! The second factor. Enrolment: a TOTP secret is made and shown once (as an `otpauth://` URI
//! and its QR code), kept sealed, and turned on when the person types a code made from it; ten
//! recovery codes come back then, once. Sign-in: a right password for an enrolled person answers
//! 202 with a short-lived challenge instead of tokens, and `POST /auth/login/mfa` trades it with
//! a code (or a recovery code, each usable once) for the token pair. Wrong codes slow the next
//! try for that person wherever it comes from; a code is accepted once. Disabling, or making
//! new recovery codes, takes the password and a code. Owners may require a second factor of
//! every member of an account: a member without one may then only enrol (403
//! `mfa_enrolment_required` for everything else). Each step is in the audit log of every account
//! the person belongs to.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::address::{self, Class};
use super::email::notify_security;
use super::extract::{AccountCaller, Manager};
use super::identity::{choose_account, end_sessions, open_session, reauthenticate, signed_in};
use super::{audit, audit_person, require_login, ApiError};
use crate::app::AppState;
use crate::auth::{secret, totp, Principal, Role};
use crate::bus::limits::Backoff;
use crate::bus::AccessChange;
use crate::http::Code;
use crate::store::{now_ms, OneTimeToken, Purpose, SecondFactor, User};
use creo_core::jobs::SecurityEvent;

/// The answer to a right password when a second factor is on.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MfaChallenge {
    pub mfa_required: bool,
    /// Spend it at `/api/v1/auth/login/mfa` with a code.
    pub challenge: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

/// A code from the authenticator app, or one recovery code.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SecondStep {
    pub challenge: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MfaStatus {
    pub enabled: bool,
    /// An enrolment was started and waits for its first code.
    pub pending: bool,
    pub recovery_codes_left: usize,
    /// Accounts of the person that require a second factor.
    pub required_by: Vec<String>,
}

/// Shown once, when an enrolment starts.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// Base32, for typing into an app by hand.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as a QR code (an SVG document).
    pub qr_svg: String,
}

/// The current password, asked again before a second factor is set up: whoever holds a session
/// alone cannot put their own authenticator on the account.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Password {
    pub password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Code6 {
    pub code: String,
}

/// Shown once; each works one time in place of a code.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// The password and a code (or a recovery code): what turning the factor off takes.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Proof {
    pub password: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecuritySettings {
    /// Every member must sign in with a second factor.
    pub require_mfa: bool,
}

/// What a sealed TOTP secret is bound to: its owner.
fn context(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// Wrong codes a person may give before each further try waits.
fn backoff(state: &AppState) -> Backoff {
    Backoff {
        free: state.config.mfa_free_failures,
        first: Duration::from_secs(1),
        longest: Duration::from_millis(state.config.login_backoff_max_ms),
        memory: Duration::from_secs(3600),
    }
}

fn invalid_code() -> ApiError {
    ApiError::new(
        Code::InvalidMfaCode,
        "that code is not right: try the current one",
    )
}

fn invalid_challenge() -> ApiError {
    ApiError::new(
        Code::InvalidMfaChallenge,
        "this sign-in expired or was used: enter your password again",
    )
}

async fn enabled_factor(state: &AppState, user_id: &str) -> Result<Option<SecondFactor>, ApiError> {
    Ok(state
        .stores
        .mfa
        .second_factor(user_id)
        .await?
        .filter(|f| f.enabled_at.is_some()))
}

/// Whether the person signs in with a second factor (what `authenticate` asks of accounts that
/// require one).
pub async fn enrolled(state: &AppState, user_id: &str) -> Result<bool, ApiError> {
    Ok(enabled_factor(state, user_id).await?.is_some())
}

/// Paths a member without a second factor may still use in an account that requires one: to
/// see who they are, enrol, fix their address, and leave.
pub fn open_without_factor(path: &str) -> bool {
    path == "/api/v1/users/me"
        || path.starts_with("/api/v1/users/me/mfa")
        || path.starts_with("/api/v1/users/me/email")
        || path == "/api/v1/auth/logout"
}

/// After a right password: a challenge if `user` has a second factor, else `None`.
pub(super) async fn challenge_for(
    state: &AppState,
    user: &User,
    account_id: &str,
) -> Result<Option<MfaChallenge>, ApiError> {
    if !enrolled(state, &user.user_id).await? {
        return Ok(None);
    }
    let token = secret::generate("mfa_");
    let now = now_ms();
    let ttl = state.config.mfa_challenge_ttl_secs.clamp(30, 86_400);
    state
        .stores
        .one_time_tokens
        .create_token(
            &OneTimeToken {
                user_id: user.user_id.clone(),
                purpose: Purpose::MfaLogin,
                created_at: now,
                expires_at: now + ttl as i64 * 1000,
                payload: Some(account_id.to_string()),
            },
            &secret::digest(&token),
        )
        .await?;
    Ok(Some(MfaChallenge {
        mfa_required: true,
        challenge: token,
        expires_in: ttl,
    }))
}

/// Checks a TOTP code or a recovery code of `factor`'s owner, spending what it uses. Returns
/// how it was proved (`totp` or `recovery_code`), or `None` for a wrong code.
async fn prove(
    state: &AppState,
    factor: &SecondFactor,
    code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<Option<&'static str>, ApiError> {
    let user = &factor.user_id;
    match (code, recovery_code) {
        (Some(code), _) if code.len() <= 16 => {
            let secret = state
                .sealer
                .open(&factor.sealed_secret, &context(user))
                .map_err(|_| ApiError::new(Code::Internal, "the second factor cannot be read"))?;
            match totp::verify_now(&secret, code) {
                Some(step) if state.stores.mfa.use_step(user, step).await? => Ok(Some("totp")),
                _ => Ok(None),
            }
        }
        (None, Some(rc)) => match totp::recovery_digest(rc) {
            Some(digest)
                if state
                    .stores
                    .mfa
                    .spend_recovery_code(user, &digest, now_ms())
                    .await? =>
            {
                Ok(Some("recovery_code"))
            }
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// One code tried by `user` (at sign-in or to confirm an enrolment), counted as wrong before it
/// is checked, so parallel guesses cannot all pass one wait. Answers the key and policy that a
/// right code clears.
async fn count_code_try(state: &AppState, user: &str) -> Result<(String, Backoff), ApiError> {
    let key = format!("mfa:{user}");
    let policy = backoff(state);
    super::attempt(
        state,
        &key,
        &policy,
        "too many wrong codes: wait before the next try",
    )
    .await
    .inspect_err(|_| {
        metrics::counter!("creo_mfa_checks_total", "result" => "throttled").increment(1);
    })?;
    Ok((key, policy))
}

/// Runs `prove` behind the person's backoff: a wrong code is counted, and once the free tries are
/// spent each further one waits (429).
async fn prove_limited(
    state: &AppState,
    factor: &SecondFactor,
    code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<&'static str, ApiError> {
    let (key, policy) = count_code_try(state, &factor.user_id).await?;
    match prove(state, factor, code, recovery_code).await? {
        Some(how) => {
            state.limits.backoff_clear(&key, &policy).await;
            metrics::counter!("creo_mfa_checks_total", "result" => how).increment(1);
            Ok(how)
        }
        None => {
            metrics::counter!("creo_mfa_checks_total", "result" => "wrong").increment(1);
            audit_person(state, &factor.user_id, "mfa_failed", "").await;
            Err(invalid_code())
        }
    }
}

/// The second step of a sign-in: the challenge and a code for the token pair.
#[utoipa::path(post, operation_id = "identity_login_mfa", path = "/api/v1/auth/login/mfa", request_body = SecondStep,
    responses((status = 200, description = "logged in", body = super::identity::Tokens),
              (status = 401, description = "wrong code, or an unknown, used or expired challenge"),
              (status = 429, description = "too many wrong codes")))]
pub async fn second_step(
    req: HttpRequest,
    body: web::Json<SecondStep>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    address::limit(&req, &state, Class::Auth).await?;
    let body = body.into_inner();
    if body.challenge.is_empty() || body.challenge.len() > 128 {
        return Err(invalid_challenge());
    }
    let hash = secret::digest(&body.challenge);
    let Some(challenge) = state
        .stores
        .one_time_tokens
        .token(&hash, Purpose::MfaLogin, now_ms())
        .await?
    else {
        return Err(invalid_challenge());
    };
    let user_id = challenge.user_id.clone();
    let Some(factor) = enabled_factor(&state, &user_id).await? else {
        return Err(invalid_challenge());
    };
    let how = prove_limited(
        &state,
        &factor,
        body.code.as_deref(),
        body.recovery_code.as_deref(),
    )
    .await?;
    // Spent only now, and once: two right codes for one challenge open one session.
    if state
        .stores
        .one_time_tokens
        .spend_token(&hash, Purpose::MfaLogin, now_ms())
        .await?
        .is_none()
    {
        return Err(invalid_challenge());
    }
    let user = state
        .stores
        .users
        .user(&user_id)
        .await?
        .ok_or_else(invalid_challenge)?;
    let (account_id, role) = choose_account(&state, &user_id, challenge.payload.as_deref()).await?;
    let tokens = open_session(&state, &req, &user, &account_id, role).await?;
    metrics::counter!("creo_logins_total", "result" => "ok").increment(1);
    audit(
        &state,
        &account_id,
        &user_id,
        "login",
        &tokens.session_id,
        &format!("mfa:{how}"),
    )
    .await;
    if how == "recovery_code" {
        let left = state.stores.mfa.recovery_codes_left(&user_id).await?;
        audit_person(
            &state,
            &user_id,
            "mfa_recovery_code_used",
            &format!("{left} left"),
        )
        .await;
    }
    Ok(HttpResponse::Ok().json(tokens))
}

/// The person's second factor, and which of their accounts require one.
#[utoipa::path(get, operation_id = "users_mfa", path = "/api/v1/users/me/mfa",
    responses((status = 200, description = "the second factor", body = MfaStatus)))]
pub async fn status(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (p, _) = signed_in(&req, &state).await?;
    let factor = state.stores.mfa.second_factor(&p.user).await?;
    let enabled = factor.as_ref().is_some_and(|f| f.enabled_at.is_some());
    let mut required_by = Vec::new();
    for m in state.stores.members.memberships(&p.user).await? {
        if let Some(view) = state.accounts.lookup(&m.account_id, None).await? {
            if view.account.require_mfa {
                required_by.push(m.account_id);
            }
        }
    }
    Ok(HttpResponse::Ok().json(MfaStatus {
        enabled,
        pending: factor.is_some() && !enabled,
        recovery_codes_left: if enabled {
            state.stores.mfa.recovery_codes_left(&p.user).await?
        } else {
            0
        },
        required_by,
    }))
}

/// Starts (or restarts) an enrolment, after the password: a new secret, shown once.
#[utoipa::path(post, operation_id = "users_mfa_enrol", path = "/api/v1/users/me/mfa/enrolment", request_body = Password,
    responses((status = 201, description = "add it to an authenticator app, then confirm with a code", body = Enrolment),
              (status = 401, description = "wrong password"),
              (status = 409, description = "a second factor is on already"),
              (status = 429, description = "too many wrong passwords")))]
pub async fn enrol(
    req: HttpRequest,
    body: web::Json<Password>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (p, user) = signed_in(&req, &state).await?;
    reauthenticate(&state, &user, body.into_inner().password).await?;
    let secret = totp::new_secret();
    let sealed = state.sealer.seal(&secret, &context(&p.user));
    if !state
        .stores
        .mfa
        .begin_enrolment(&p.user, &sealed, now_ms())
        .await?
    {
        return Err(ApiError::new(
            Code::MfaAlreadyEnabled,
            "a second factor is on already: turn it off first to change it",
        ));
    }
    let uri = totp::otpauth_uri(&secret, &user.email)
        .ok_or_else(|| ApiError::new(Code::Internal, "the secret makes no URI"))?;
    let qr_svg = totp::qr_svg(&uri).unwrap_or_default();
    Ok(HttpResponse::Created().json(Enrolment {
        secret,
        otpauth_uri: uri,
        qr_svg,
    }))
}

/// Turns the pending secret on with its first code, and answers the recovery codes (once). Every
/// other session of the person ends: they were opened without the second factor.
#[utoipa::path(post, operation_id = "users_mfa_confirm", path = "/api/v1/users/me/mfa/enrolment/confirm", request_body = Code6,
    responses((status = 200, description = "on; keep these codes", body = RecoveryCodes),
              (status = 401, description = "wrong code"),
              (status = 409, description = "no enrolment waits, or it is on already")))]
pub async fn confirm(
    req: HttpRequest,
    body: web::Json<Code6>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (p, user) = signed_in(&req, &state).await?;
    let Some(pending) = state
        .stores
        .mfa
        .second_factor(&p.user)
        .await?
        .filter(|f| f.enabled_at.is_none())
    else {
        return Err(ApiError::new(
            Code::MfaNotEnabled,
            "no enrolment waits for a code: start one first",
        ));
    };
    let secret = state
        .sealer
        .open(&pending.sealed_secret, &context(&p.user))
        .map_err(|_| ApiError::new(Code::Internal, "the second factor cannot be read"))?;
    // The same count as sign-in's codes: a session alone must not guess its way through a
    // pending enrolment.
    let (key, policy) = count_code_try(&state, &p.user).await?;
    let Some(step) = totp::verify_now(&secret, &body.code) else {
        return Err(invalid_code());
    };
    state.limits.backoff_clear(&key, &policy).await;
    let (codes, digests) = totp::recovery_codes_with_digests();
    if !state
        .stores
        .mfa
        .enable(&p.user, &pending.sealed_secret, step, &digests, now_ms())
        .await?
    {
        return Err(ApiError::new(
            Code::MfaNotEnabled,
            "the enrolment changed meanwhile: start again",
        ));
    }
    // On already: a failure to end the other sessions must not hide the recovery codes.
    if let Err(e) = end_sessions(&state, &p.user, p.session.as_deref()).await {
        tracing::warn!(error = ?e, "second factor on, but other sessions did not end");
    }
    audit_person(&state, &p.user, "mfa_enabled", "").await;
    notify_security(&state, &user, SecurityEvent::MfaEnabled, None).await;
    Ok(HttpResponse::Ok().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Checks the password and a code of the signed-in person's enabled factor.
async fn proven(
    state: &AppState,
    p: &Principal,
    user: &User,
    proof: Proof,
) -> Result<SecondFactor, ApiError> {
    let Some(factor) = enabled_factor(state, &p.user).await? else {
        return Err(ApiError::new(Code::MfaNotEnabled, "no second factor is on"));
    };
    reauthenticate(state, user, proof.password).await?;
    prove_limited(
        state,
        &factor,
        proof.code.as_deref(),
        proof.recovery_code.as_deref(),
    )
    .await?;
    Ok(factor)
}

/// Turns the second factor off (the password and a code).
#[utoipa::path(delete, operation_id = "users_mfa_disable", path = "/api/v1/users/me/mfa", request_body = Proof,
    responses((status = 204, description = "off"),
              (status = 401, description = "wrong password or code"),
              (status = 409, description = "no second factor is on")))]
pub async fn disable(
    req: HttpRequest,
    body: web::Json<Proof>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (p, user) = signed_in(&req, &state).await?;
    proven(&state, &p, &user, body.into_inner()).await?;
    state.stores.mfa.disable(&p.user).await?;
    audit_person(&state, &p.user, "mfa_disabled", "").await;
    notify_security(&state, &user, SecurityEvent::MfaDisabled, None).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the recovery codes (the password and a code); the old ones stop working.
#[utoipa::path(post, operation_id = "users_mfa_recovery_codes", path = "/api/v1/users/me/mfa/recovery-codes", request_body = Proof,
    responses((status = 200, description = "the new codes, shown once", body = RecoveryCodes),
              (status = 401, description = "wrong password or code"),
              (status = 409, description = "no second factor is on")))]
pub async fn new_recovery_codes(
    req: HttpRequest,
    body: web::Json<Proof>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (p, user) = signed_in(&req, &state).await?;
    proven(&state, &p, &user, body.into_inner()).await?;
    let (codes, digests) = totp::recovery_codes_with_digests();
    state
        .stores
        .mfa
        .replace_recovery_codes(&p.user, &digests)
        .await?;
    audit_person(&state, &p.user, "mfa_recovery_codes_replaced", "").await;
    notify_security(&state, &user, SecurityEvent::RecoveryCodesReplaced, None).await;
    Ok(HttpResponse::Ok().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

#[utoipa::path(get, operation_id = "accounts_security_settings", path = "/api/v1/accounts/{account_id}/security-settings", params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "the settings", body = SecuritySettings)))]
pub async fn security_settings(
    AccountCaller { account_id, .. }: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = state
        .stores
        .accounts
        .account(&account_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such account"))?;
    Ok(HttpResponse::Ok().json(SecuritySettings {
        require_mfa: account.require_mfa,
    }))
}

/// Owners only. Requiring a second factor takes the owner's own first, so nobody locks the
/// account's owners out; members without one may then only enrol.
#[utoipa::path(put, operation_id = "accounts_set_security_settings", path = "/api/v1/accounts/{account_id}/security-settings", params(("account_id" = String, Path, description = "the account (workspace) id")), request_body = SecuritySettings,
    responses((status = 200, description = "saved", body = SecuritySettings),
              (status = 403, description = "not an owner"),
              (status = 409, description = "the owner has no second factor yet")))]
pub async fn set_security_settings(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    body: web::Json<SecuritySettings>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_login(&by)?;
    if by.role != Role::Owner {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "only owners decide who must use a second factor",
        ));
    }
    if body.require_mfa && !enrolled(&state, &by.user).await? {
        return Err(ApiError::new(
            Code::MfaNotEnabled,
            "turn on your own second factor before requiring one of everyone",
        ));
    }
    if !state
        .stores
        .accounts
        .set_require_mfa(&account_id, body.require_mfa)
        .await?
    {
        return Err(ApiError::not_found("no such account"));
    }
    super::announce(
        &state,
        AccessChange::Account {
            account: account_id.clone(),
        },
    );
    audit(
        &state,
        &account_id,
        &by.actor(),
        "require_mfa_changed",
        &account_id,
        if body.require_mfa { "on" } else { "off" },
    )
    .await;
    if body.require_mfa {
        // Sockets opened before are not asked again: close those of members without a factor.
        // The setting is saved already; a failure here is logged, not answered.
        match unenrolled_members(&state, &account_id).await {
            Ok(users) if !users.is_empty() => super::announce(
                &state,
                AccessChange::SecondFactorRequired {
                    account: account_id.clone(),
                    users,
                },
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(account = %account_id, error = ?e, "open sockets of members without a second factor were not closed")
            }
        }
    }
    Ok(HttpResponse::Ok().json(SecuritySettings {
        require_mfa: body.require_mfa,
    }))
}

async fn unenrolled_members(state: &AppState, account_id: &str) -> Result<Vec<String>, ApiError> {
    let mut users = Vec::new();
    for m in state.stores.members.members(account_id).await? {
        if !enrolled(state, &m.user_id).await? {
            users.push(m.user_id);
        }
    }
    Ok(users)
}
