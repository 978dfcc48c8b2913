//! A person's email address. Verification: a link mailed at sign-up (and again on request,
//! throttled) proves the address is theirs; until then they can edit, but spend at most
//! `unverified_allowance_milli` of any account's credits, and neither invite people, create API
//! keys nor accept an invitation from their own list. Change: a link mailed to the new address
//! moves the account there, verified. Tokens are single-use, expire after
//! `email_verification_ttl_secs`, and are stored only as their SHA-256.
//!
//! With email off (no `smtp_url`) nothing can be verified, so nobody is held to any of this.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::identity::{normalise_email, reauthenticate, signed_in, validate_email};
use super::{audit_person, ApiError};
use crate::actors::allowance::Spender;
use crate::app::AppState;
use crate::auth::{secret, Principal};
use crate::bus::limits::Backoff;
use crate::http::Code;
use crate::jobs::mail::{CHANGE_TOKEN_CONTEXT, VERIFY_TOKEN_CONTEXT};
use crate::store::{now_ms, EmailChange, OneTimeToken, Purpose, StoreError, User};
use creo_core::jobs::{Job, JobKind, Mail, SecurityEvent};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LinkToken {
    /// The token from the emailed link.
    pub token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewEmail {
    pub email: String,
    /// The current password: whoever holds a session alone cannot move the account away.
    pub password: String,
}

/// Whether people are held to verifying their address (only when mail can reach them).
pub fn verification_required(state: &AppState) -> bool {
    state.events.people().mail_enabled()
}

/// Whether the person behind `principal` pays as verified. API keys and app tokens are not
/// people: their keys were made by verified managers.
pub async fn spender(state: &AppState, principal: &Principal) -> Result<Spender, ApiError> {
    if principal.session.is_none() || !verification_required(state) {
        return Ok(Spender::Trusted);
    }
    let verified = state
        .stores
        .users
        .user(&principal.user)
        .await?
        .is_some_and(|u| u.email_verified_at.is_some());
    Ok(if verified {
        Spender::Trusted
    } else {
        Spender::Unverified
    })
}

/// Refuses a person whose address is unverified (403 `email_unverified`), while it matters.
pub async fn require_verified(state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    if spender(state, principal).await? == Spender::Unverified {
        return Err(ApiError::forbidden(
            Code::EmailUnverified,
            "confirm your email address first: follow the link we mailed you (or ask for a new one)",
        ));
    }
    Ok(())
}

/// Three mails a person may ask for (a resend, a change of address) before the next waits (429):
/// ten minutes, doubling up to an hour.
fn resends() -> Backoff {
    Backoff {
        free: 2,
        first: Duration::from_secs(600),
        longest: Duration::from_secs(3_600),
        memory: Duration::from_secs(3_600),
    }
}

/// Mails `user` a link that verifies their current address.
pub async fn send_verification(state: &AppState, user: &User) -> Result<(), StoreError> {
    let token = secret::generate("ev_");
    create_token(state, user, Purpose::EmailVerification, &user.email, &token).await?;
    let mail = Mail::EmailVerification {
        sealed_token: state.sealer.seal(&token, VERIFY_TOKEN_CONTEXT),
    };
    queue(state, user, "verify", mail).await;
    metrics::counter!("creo_email_verifications_total", "result" => "mailed").increment(1);
    Ok(())
}

/// Mails `user` that how they sign in changed (to `to` instead of their address when given),
/// while mail is on.
pub(super) async fn notify_security(
    state: &AppState,
    user: &User,
    event: SecurityEvent,
    to: Option<String>,
) {
    if verification_required(state) {
        queue(state, user, "security", Mail::SecurityNotice { event, to }).await;
    }
}

async fn create_token(
    state: &AppState,
    user: &User,
    purpose: Purpose,
    payload: &str,
    token: &str,
) -> Result<(), StoreError> {
    let now = now_ms();
    let ttl_ms = state.config.email_verification_ttl_secs.min(86_400) as i64 * 1000;
    state
        .stores
        .one_time_tokens
        .create_token(
            &OneTimeToken {
                user_id: user.user_id.clone(),
                purpose,
                created_at: now,
                expires_at: now + ttl_ms,
                payload: Some(payload.to_string()),
            },
            &secret::digest(token),
        )
        .await
}

async fn queue(state: &AppState, user: &User, what: &str, mail: Mail) {
    let job = Job {
        id: format!("mail-{what}-{}", secret::id()),
        kind: JobKind::Mail {
            user_id: user.user_id.clone(),
            mail,
        },
        not_before: 0,
        attempt: 0,
    };
    state.events.people().queue(&job).await;
}

fn invalid_link() -> ApiError {
    ApiError::bad_request(
        Code::InvalidLinkToken,
        "this link is unknown, used or expired: ask for a new one",
    )
}

fn token_of(body: &LinkToken) -> Result<String, ApiError> {
    if body.token.is_empty() || body.token.len() > 128 {
        return Err(invalid_link());
    }
    Ok(secret::digest(&body.token))
}

/// Follows a verification link: the address it was mailed to is the person's.
#[utoipa::path(post, operation_id = "identity_verify_email", path = "/api/v1/auth/email/verify", request_body = LinkToken,
    responses((status = 204, description = "the address is verified"),
              (status = 400, description = "unknown, used or expired link, or the address changed since")))]
pub async fn verify(
    req: HttpRequest,
    body: web::Json<LinkToken>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::address::limit(&req, &state, super::address::Class::Auth).await?;
    let hash = token_of(&body)?;
    let Some(spent) = state
        .stores
        .one_time_tokens
        .spend_token(&hash, Purpose::EmailVerification, now_ms())
        .await?
    else {
        metrics::counter!("creo_email_verifications_total", "result" => "invalid").increment(1);
        return Err(invalid_link());
    };
    let email = spent.payload.unwrap_or_default();
    if !state
        .stores
        .users
        .set_email_verified(&spent.user_id, &email, now_ms())
        .await?
    {
        return Err(invalid_link());
    }
    metrics::counter!("creo_email_verifications_total", "result" => "verified").increment(1);
    audit_person(&state, &spent.user_id, "email_verified", "").await;
    Ok(HttpResponse::NoContent().finish())
}

/// Mails the signed-in person a new verification link (three an hour, then 429).
#[utoipa::path(post, operation_id = "users_resend_verification", path = "/api/v1/users/me/email/verification",
    responses((status = 202, description = "a link is on its way"),
              (status = 409, description = "the address is verified already"),
              (status = 429, description = "asked too often: wait"),
              (status = 503, description = "email is off on this server")))]
pub async fn resend(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, user) = signed_in(&req, &state).await?;
    if !verification_required(&state) {
        return Err(ApiError::new(
            Code::EmailOff,
            "email is off on this server: addresses cannot be verified, and need not be",
        ));
    }
    if user.email_verified_at.is_some() {
        return Err(ApiError::new(
            Code::Exists,
            "your address is verified already",
        ));
    }
    let key = format!("verify:{}", user.user_id);
    let policy = resends();
    super::attempt(
        &state,
        &key,
        &policy,
        "a link was sent a moment ago: look for it, or ask again later",
    )
    .await?;
    send_verification(&state, &user).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "status": "accepted",
        "message": format!("a link to confirm {} is on its way", user.email),
    })))
}

/// Asks to move the signed-in person to another address: a link goes to the new address, and
/// nothing changes until it is followed. The answer is the same whether or not the address is
/// free (no mail goes to a taken one), so this does not tell who has an account.
#[utoipa::path(put, operation_id = "users_change_email", path = "/api/v1/users/me/email", request_body = NewEmail,
    responses((status = 202, description = "a link is on its way to the new address"),
              (status = 400, description = "not a valid address"),
              (status = 401, description = "wrong password"),
              (status = 503, description = "email is off on this server")))]
pub async fn change(
    req: HttpRequest,
    body: web::Json<NewEmail>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, user) = signed_in(&req, &state).await?;
    let body = body.into_inner();
    let to = validate_email(&body.email)?;
    if !verification_required(&state) {
        return Err(ApiError::new(
            Code::EmailOff,
            "email is off on this server, so a new address cannot be confirmed: ask an operator",
        ));
    }
    reauthenticate(&state, &user, body.password).await?;
    let key = format!("email-change:{}", user.user_id);
    let policy = resends();
    super::attempt(
        &state,
        &key,
        &policy,
        "several changes were asked for a moment ago: wait before asking again",
    )
    .await?;
    audit_person(&state, &user.user_id, "email_change_requested", "").await;
    // Whether the address is free is learnt, and the link made, off the request path: the answer
    // comes as fast for a taken address as for a free one.
    let state = state.into_inner();
    let asked = to.clone();
    actix_web::rt::spawn(async move {
        if let Err(e) = mail_change_link(&state, &user, &asked).await {
            tracing::warn!(error = %e, "the email-change link was not sent; the person can ask again");
        }
    });
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "status": "accepted",
        "message": format!("if {to} is free, a link to confirm it is on its way there"),
    })))
}

/// Mails `to` a link that moves `user` there, unless it is their address already or someone
/// else's (then nothing goes out).
async fn mail_change_link(state: &AppState, user: &User, to: &str) -> Result<(), StoreError> {
    if to == user.email || state.stores.users.user_by_email(to).await?.is_some() {
        return Ok(());
    }
    let token = secret::generate("ec_");
    let payload = serde_json::json!({ "from": user.email, "to": to }).to_string();
    create_token(state, user, Purpose::EmailChange, &payload, &token).await?;
    let mail = Mail::EmailChange {
        sealed_token: state.sealer.seal(&token, CHANGE_TOKEN_CONTEXT),
        to: to.to_string(),
    };
    queue(state, user, "email-change", mail).await;
    Ok(())
}

/// Follows an email-change link: the person's address becomes the new one, verified.
#[utoipa::path(post, operation_id = "identity_confirm_email_change", path = "/api/v1/auth/email/change", request_body = LinkToken,
    responses((status = 204, description = "the address is changed"),
              (status = 400, description = "unknown, used or expired link, or the address changed since"),
              (status = 409, description = "someone took the new address meanwhile")))]
pub async fn confirm_change(
    req: HttpRequest,
    body: web::Json<LinkToken>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::address::limit(&req, &state, super::address::Class::Auth).await?;
    let hash = token_of(&body)?;
    let Some(spent) = state
        .stores
        .one_time_tokens
        .spend_token(&hash, Purpose::EmailChange, now_ms())
        .await?
    else {
        return Err(invalid_link());
    };
    let moved: serde_json::Value =
        serde_json::from_str(spent.payload.as_deref().unwrap_or("")).unwrap_or_default();
    let (Some(from), Some(to)) = (moved["from"].as_str(), moved["to"].as_str()) else {
        return Err(invalid_link());
    };
    let to = normalise_email(to)?;
    match state
        .stores
        .users
        .change_email(&spent.user_id, from, &to, now_ms())
        .await?
    {
        EmailChange::Changed => {
            audit_person(&state, &spent.user_id, "email_changed", "").await;
            if let Some(user) = state.stores.users.user(&spent.user_id).await? {
                notify_security(
                    &state,
                    &user,
                    SecurityEvent::EmailChanged,
                    Some(from.to_string()),
                )
                .await;
            }
            Ok(HttpResponse::NoContent().finish())
        }
        EmailChange::Stale => Err(invalid_link()),
        EmailChange::Taken => Err(ApiError::new(
            Code::Exists,
            "another account took that address meanwhile",
        )),
    }
}
