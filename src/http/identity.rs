//! Identity: register, log in, refresh (rotating refresh tokens with reuse detection), log out,
//! list and revoke one's sessions. Passwords are argon2id, hashed on the blocking pool with a
//! bound on how many hash at once.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::address::{self, Class};
use super::{audit, authenticate, require_login, ApiError};
use crate::app::AppState;
use crate::auth::{password, secret, Role};
use crate::billing::{EntryKind, Tier};
use crate::bus::limits::Backoff;
use crate::bus::AccessChange;
use crate::http::Code;
use crate::store::now_ms;
use crate::store::{Account, AuthSession, Member, Posting, Refreshed, User};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Register {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub name: String,
    /// Name of the personal account created with the user.
    #[serde(default)]
    pub account_name: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    pub email: String,
    pub password: String,
    /// Which of the user's accounts to act for (default: the first they joined).
    #[serde(default)]
    pub account_id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Refresh {
    pub refresh_token: String,
    /// Switch to another of the user's accounts.
    #[serde(default)]
    pub account_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; spend it once at `/api/v1/auth/refresh` for a new pair.
    pub refresh_token: String,
    pub session_id: String,
    pub user_id: String,
    pub account_id: String,
    pub role: Role,
}

pub(super) const MIN_PASSWORD: usize = 10;
pub(super) const MAX_PASSWORD: usize = 256;

fn invalid_email() -> ApiError {
    ApiError::bad_request(Code::InvalidEmail, "a valid email address is required")
}

/// An email as sign-in looks it up: trimmed and lowercased (older accounts may hold addresses
/// `validate_email` would refuse today; they can still sign in).
pub(super) fn normalise_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 || !email.contains('@') {
        return Err(invalid_email());
    }
    Ok(email)
}

/// An email a new account or an invitation may use: one `@`; a local part of 1-64 printable
/// ASCII characters without spaces, quotes or brackets, and no leading, trailing or doubled
/// dot; a domain of at least two labels of letters, digits and inner hyphens, ending in a
/// letter label. Stricter than RFC 5322 on purpose: what it refuses no mail provider issues.
pub(super) fn validate_email(raw: &str) -> Result<String, ApiError> {
    let email = normalise_email(raw)?;
    let (local, domain) = email.split_once('@').ok_or_else(invalid_email)?;
    let local_ok = (1..=64).contains(&local.len())
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| label_ok(l))
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err(invalid_email())
    }
}

pub(super) async fn hash_password(state: &AppState, password: String) -> Result<String, ApiError> {
    let _permit = state
        .password_hashing
        .acquire()
        .await
        .expect("never closed");
    let cost = crate::auth::password::Cost::of(&state.config);
    tokio::task::spawn_blocking(move || password::hash(&password, cost))
        .await
        .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?
        .map_err(|e| ApiError::new(Code::Internal, e.to_string()))
}

pub(super) async fn verify_password(state: &AppState, password: String, stored: String) -> bool {
    let _permit = state
        .password_hashing
        .acquire()
        .await
        .expect("never closed");
    tokio::task::spawn_blocking(move || password::verify(&password, &stored))
        .await
        .unwrap_or(false)
}

/// The person behind a login session (not an API key or app token), and their profile.
pub(super) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(crate::auth::Principal, crate::store::User), ApiError> {
    let principal = super::authenticate(req, state, None).await?;
    super::require_login(&principal)?;
    let user = state
        .stores
        .users
        .user(&principal.user)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    Ok((principal, user))
}

/// Asks the signed-in person for their password again before a change a stolen session must not
/// make alone (moving the address, turning a second factor on or off). Wrong ones slow the next
/// try for that person, wherever it comes from, so such a session cannot guess it either.
pub(super) async fn reauthenticate(
    state: &AppState,
    user: &crate::store::User,
    password: String,
) -> Result<(), ApiError> {
    let key = format!("reauth:{}", user.user_id);
    let (policy, _) = login_backoff(&state.config);
    super::attempt(
        state,
        &key,
        &policy,
        "too many wrong passwords: wait before the next try",
    )
    .await?;
    if !verify_password(state, password, user.password_hash.clone()).await {
        return Err(ApiError::new(Code::InvalidCredentials, "wrong password"));
    }
    state.limits.backoff_clear(&key, &policy).await;
    Ok(())
}

fn user_agent(req: &HttpRequest) -> String {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// A new session for `user` acting in `account` as `role`.
pub(super) async fn open_session(
    state: &AppState,
    req: &HttpRequest,
    user: &User,
    account_id: &str,
    role: Role,
) -> Result<Tokens, ApiError> {
    let now = now_ms();
    let session = AuthSession {
        session_id: secret::id(),
        user_id: user.user_id.clone(),
        account_id: account_id.to_string(),
        created_at: now,
        last_used_at: now,
        user_agent: user_agent(req),
        revoked: false,
    };
    let refresh = secret::generate("rt_");
    let expires = now + state.config.refresh_token_ttl_secs as i64 * 1000;
    state
        .stores
        .logins
        .create_session(&session, &secret::digest(&refresh), expires)
        .await?;
    issue(
        state,
        user.user_id.clone(),
        account_id,
        role,
        session.session_id,
        refresh,
    )
}

fn issue(
    state: &AppState,
    user_id: String,
    account_id: &str,
    role: Role,
    session_id: String,
    refresh_token: String,
) -> Result<Tokens, ApiError> {
    let ttl = state.config.access_token_ttl_secs;
    let access_token = state
        .keys
        .mint_for_session(
            &user_id,
            account_id,
            role,
            None,
            Some(session_id.clone()),
            Duration::from_secs(ttl),
        )
        .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    Ok(Tokens {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token,
        session_id,
        user_id,
        account_id: account_id.to_string(),
        role,
    })
}

/// The user's role in `account_id` (default: their first account).
pub(super) async fn choose_account(
    state: &AppState,
    user_id: &str,
    account_id: Option<&str>,
) -> Result<(String, Role), ApiError> {
    let memberships = state.stores.members.memberships(user_id).await?;
    let chosen = match account_id {
        Some(id) => memberships.into_iter().find(|m| m.account_id == id),
        None => memberships.into_iter().next(),
    };
    chosen.map(|m| (m.account_id, m.role)).ok_or_else(|| {
        ApiError::forbidden(Code::NotAMember, "you are not a member of that account")
    })
}

/// Ends every session of the person but `keep`, on every node.
pub(super) async fn end_sessions(
    state: &AppState,
    user_id: &str,
    keep: Option<&str>,
) -> Result<(), ApiError> {
    for session in state.stores.logins.sessions(user_id).await? {
        if session.revoked || Some(session.session_id.as_str()) == keep {
            continue;
        }
        state
            .stores
            .logins
            .revoke_session(user_id, &session.session_id)
            .await?;
        super::announce(
            state,
            AccessChange::Session {
                session: session.session_id,
            },
        );
    }
    Ok(())
}

/// Creates a user with a personal account they own (and the sign-up credit grant), if the email
/// has none yet. The answer is the same either way (and takes as long: the password is hashed
/// either way), so sign-up does not tell anyone which emails have accounts; the new user then
/// signs in. Counted per client address (`signups_per_hour`).
#[utoipa::path(post, operation_id = "identity_register", path = "/api/v1/auth/register", request_body = Register,
    responses((status = 202, description = "the account exists now if the email had none: sign in"),
              (status = 400, description = "invalid email or password"),
              (status = 429, description = "too many sign-ups from this address")))]
pub async fn register(
    req: HttpRequest,
    body: web::Json<Register>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let email = validate_email(&body.email)?;
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&body.password.chars().count()) {
        return Err(ApiError::bad_request(
            Code::WeakPassword,
            format!("passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        ));
    }
    address::limit(&req, &state, Class::Signup).await?;
    let now = now_ms();
    let user = User {
        user_id: format!("u_{}", secret::id()),
        email: email.clone(),
        name: body.name.trim().chars().take(200).collect(),
        password_hash: hash_password(&state, body.password).await?,
        created_at: now,
        email_verified_at: None,
    };
    let account = Account {
        account_id: format!("a_{}", secret::id()),
        name: body
            .account_name
            .unwrap_or_else(|| {
                let name = body.name.trim();
                let who = if name.is_empty() {
                    email.split('@').next().unwrap_or("")
                } else {
                    name
                };
                format!("{who}'s workspace")
            })
            .chars()
            .take(200)
            .collect(),
        tier: Tier::Free,
        payment_failed: false,
        custom_limits: None,
        created_at: now,
        require_mfa: false,
    };
    let grant = (state.config.signup_credits_milli > 0).then(|| Posting {
        account_id: account.account_id.clone(),
        idempotency_key: "signup-grant".into(),
        kind: EntryKind::Grant,
        action: None,
        quantity: 0,
        amount_milli: state.config.signup_credits_milli,
        user_id: user.user_id.clone(),
    });
    let created = state.stores.users.register(&user, &account, grant).await?;
    let result = if created { "created" } else { "email_taken" };
    metrics::counter!("creo_registrations_total", "result" => result).increment(1);
    if created {
        // Off the request path: a new address must answer as fast as a taken one.
        let state = state.clone();
        actix_web::rt::spawn(async move {
            audit(
                &state,
                &account.account_id,
                &user.user_id,
                "registered",
                &user.user_id,
                "",
            )
            .await;
            if super::email::verification_required(&state) {
                if let Err(e) = super::email::send_verification(&state, &user).await {
                    tracing::warn!(error = %e, "the verification link was not sent; the person can ask again");
                }
            }
        });
    }
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "status": "accepted",
        "message": "if this email had no account, it has one now: sign in with it",
    })))
}

/// Email and password for a token pair, or, for a person with a second factor, a challenge to
/// answer with a code at `/api/v1/auth/login/mfa`. Failures are audited in the user's accounts,
/// and attempts per email are rate-limited.
#[utoipa::path(post, operation_id = "identity_login", path = "/api/v1/auth/login", request_body = Login,
    responses((status = 200, description = "logged in", body = Tokens),
              (status = 202, description = "the password is right; a second factor is needed", body = super::mfa::MfaChallenge),
              (status = 401, description = "wrong email or password"),
              (status = 429, description = "too many attempts")))]
pub async fn login(
    req: HttpRequest,
    body: web::Json<Login>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let email = normalise_email(&body.email)?;
    let ip = address::limit(&req, &state, Class::Auth).await?;
    // Wrong passwords slow down the next try for that email from that address, and for that
    // address whatever the email: someone guessing from elsewhere never locks the owner out.
    let from = address::address_key(ip);
    let pair = format!("login:{}:{from}", &secret::digest(&email)[..32]);
    let sprayer = format!("login:address:{from}");
    let (pair_policy, sprayer_policy) = login_backoff(&state.config);
    // Each try counts as wrong until the password proves right, so parallel guesses cannot all
    // pass one wait; a right one takes its count back.
    let mut wait = state.limits.backoff_attempt(&pair, &pair_policy).await;
    if wait.is_zero() {
        wait = state
            .limits
            .backoff_attempt(&sprayer, &sprayer_policy)
            .await;
        if !wait.is_zero() {
            state.limits.backoff_refund(&pair, &pair_policy).await;
        }
    }
    if !wait.is_zero() {
        metrics::counter!("creo_logins_total", "result" => "throttled").increment(1);
        return Err(ApiError::too_many_attempts(
            "too many wrong passwords from here: try again later",
            wait,
        ));
    }
    let user = state.stores.users.user_by_email(&email).await?;
    let stored = user
        .as_ref()
        .map_or_else(|| state.decoy_hash.to_string(), |u| u.password_hash.clone());
    let valid = verify_password(&state, body.password, stored).await && user.is_some();
    let Some(user) = user.filter(|_| valid) else {
        metrics::counter!("creo_logins_total", "result" => "failed").increment(1);
        if let Some(u) = state.stores.users.user_by_email(&email).await? {
            for m in state.stores.members.memberships(&u.user_id).await? {
                audit(
                    &state,
                    &m.account_id,
                    &u.user_id,
                    "login_failed",
                    &u.user_id,
                    "",
                )
                .await;
            }
        }
        return Err(ApiError::new(
            Code::InvalidCredentials,
            "wrong email or password",
        ));
    };
    // The password was right, whatever happens next.
    state.limits.backoff_clear(&pair, &pair_policy).await;
    state.limits.backoff_refund(&sprayer, &sprayer_policy).await;
    let (account_id, role) =
        choose_account(&state, &user.user_id, body.account_id.as_deref()).await?;
    if let Some(challenge) = super::mfa::challenge_for(&state, &user, &account_id).await? {
        metrics::counter!("creo_logins_total", "result" => "second_factor").increment(1);
        return Ok(HttpResponse::Accepted().json(challenge));
    }
    metrics::counter!("creo_logins_total", "result" => "ok").increment(1);
    let tokens = open_session(&state, &req, &user, &account_id, role).await?;
    audit(
        &state,
        &account_id,
        &user.user_id,
        "login",
        &tokens.session_id,
        "",
    )
    .await;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Backoff for wrong passwords: per email and address, and per address.
fn login_backoff(config: &crate::config::Config) -> (Backoff, Backoff) {
    let backoff = |free| Backoff {
        free,
        first: Duration::from_secs(1),
        longest: Duration::from_millis(config.login_backoff_max_ms),
        memory: Duration::from_secs(3600),
    };
    (
        backoff(config.login_free_failures),
        backoff(config.login_free_failures_per_address),
    )
}

/// Spends a refresh token for a new pair. A token spent twice means it leaked: the whole
/// session is revoked and both holders must log in again.
#[utoipa::path(post, operation_id = "identity_refresh", path = "/api/v1/auth/refresh", request_body = Refresh,
    responses((status = 200, description = "rotated", body = Tokens),
              (status = 401, description = "unknown, expired, revoked or reused refresh token")))]
pub async fn refresh(
    req: HttpRequest,
    body: web::Json<Refresh>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    address::limit(&req, &state, Class::Auth).await?;
    let body = body.into_inner();
    let next = secret::generate("rt_");
    let now = now_ms();
    let expires = now + state.config.refresh_token_ttl_secs as i64 * 1000;
    let outcome = state
        .stores
        .logins
        .rotate_refresh(
            &secret::digest(&body.refresh_token),
            &secret::digest(&next),
            now,
            expires,
            state.config.refresh_grace_ms as i64,
        )
        .await?;
    let session = match outcome {
        Refreshed::Rotated(s) => s,
        Refreshed::Reused(s) => {
            metrics::counter!("creo_refresh_reuse_total").increment(1);
            tracing::warn!(user = %s.user_id, session = %s.session_id, "refresh token reused: session revoked");
            super::announce(
                &state,
                AccessChange::Session {
                    session: s.session_id.clone(),
                },
            );
            audit(
                &state,
                &s.account_id,
                &s.user_id,
                "refresh_token_reused",
                &s.session_id,
                "session revoked",
            )
            .await;
            return Err(ApiError::new(
                Code::RefreshTokenReused,
                "this refresh token was already used; the session is revoked, log in again",
            ));
        }
        Refreshed::Invalid => {
            return Err(ApiError::new(
                Code::InvalidRefreshToken,
                "unknown, expired or revoked refresh token",
            ))
        }
    };
    let wanted = body.account_id.as_deref().unwrap_or(&session.account_id);
    let (account_id, role) = choose_account(&state, &session.user_id, Some(wanted)).await?;
    let tokens = issue(
        &state,
        session.user_id,
        &account_id,
        role,
        session.session_id,
        next,
    )?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Ends the caller's login session: its refresh token stops working.
#[utoipa::path(post, operation_id = "identity_logout", path = "/api/v1/auth/logout",
    responses((status = 204, description = "logged out"), (status = 401, description = "bad token")))]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, &state, None).await?;
    require_login(&principal)?;
    let session = principal.session.as_deref().unwrap_or_default();
    state
        .stores
        .logins
        .revoke_session(&principal.user, session)
        .await?;
    super::announce(
        &state,
        AccessChange::Session {
            session: session.to_string(),
        },
    );
    audit(
        &state,
        &principal.account,
        &principal.user,
        "logout",
        session,
        "",
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's login sessions.
#[utoipa::path(get, operation_id = "identity_sessions", path = "/api/v1/auth/sessions",
    responses((status = 200, description = "sessions", body = Vec<AuthSession>)))]
pub async fn sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, &state, None).await?;
    require_login(&principal)?;
    let all = state.stores.logins.sessions(&principal.user).await?;
    Ok(HttpResponse::Ok().json(all))
}

/// Revokes one of the caller's sessions (a lost device).
#[utoipa::path(delete, operation_id = "identity_revoke_session", path = "/api/v1/auth/sessions/{session_id}", params(("session_id" = String, Path, description = "the login session's id")),
    responses((status = 204, description = "revoked"), (status = 404, description = "no such session")))]
pub async fn revoke_session(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authenticate(&req, &state, None).await?;
    require_login(&principal)?;
    let session_id = path.into_inner();
    if !state
        .stores
        .logins
        .revoke_session(&principal.user, &session_id)
        .await?
    {
        return Err(ApiError::not_found("no such active session"));
    }
    super::announce(
        &state,
        AccessChange::Session {
            session: session_id.clone(),
        },
    );
    audit(
        &state,
        &principal.account,
        &principal.user,
        "session_revoked",
        &session_id,
        "",
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// The membership a new account's creator gets.
pub fn owner(account_id: &str, user_id: &str, now: i64) -> Member {
    Member {
        account_id: account_id.to_string(),
        user_id: user_id.to_string(),
        role: Role::Owner,
        added_at: now,
    }
}
