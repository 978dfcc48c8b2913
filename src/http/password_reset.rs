//! Password reset by email: `forgot` mails a single-use link (the token is stored only as its
//! SHA-256 and expires after `password_reset_ttl_secs`); `reset` spends it, sets the new
//! password and ends every session of the person, on every node. `forgot` answers the same,
//! at once, whether or not the email has an account: the work happens after the answer.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::address::{self, Class};
use super::identity::{hash_password, normalise_email, MAX_PASSWORD, MIN_PASSWORD};
use super::{audit_person, ApiError};
use crate::app::AppState;
use crate::auth::secret;
use crate::bus::limits::Backoff;
use crate::http::Code;
use crate::jobs::mail::RESET_TOKEN_CONTEXT;
use crate::store::{now_ms, OneTimeToken, Purpose};
use creo_core::jobs::{Job, JobKind, Mail};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Forgot {
    pub email: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Reset {
    /// The token from the emailed link.
    pub token: String,
    pub password: String,
}

/// Reset emails one address may be sent per hour before more are silently dropped.
fn per_email() -> Backoff {
    Backoff {
        free: 3,
        first: Duration::from_secs(3_600),
        longest: Duration::from_secs(3_600),
        memory: Duration::from_secs(3_600),
    }
}

/// Mails a password-reset link if the email has an account. The same answer either way.
#[utoipa::path(post, operation_id = "identity_forgot_password", path = "/api/v1/auth/password/forgot", request_body = Forgot,
    responses((status = 202, description = "if the email has an account, a link is on its way"),
              (status = 429, description = "too many requests from this address"),
              (status = 503, description = "email is off on this server")))]
pub async fn forgot(
    req: HttpRequest,
    body: web::Json<Forgot>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let email = normalise_email(&body.email)?;
    address::limit(&req, &state, Class::Auth).await?;
    if !state.events.people().mail_enabled() {
        return Err(ApiError::new(
            Code::EmailOff,
            "email is off on this server, so passwords cannot be reset by email: ask an operator",
        ));
    }
    let state = state.into_inner();
    actix_rt::spawn(async move {
        if let Err(e) = send_link(&state, &email).await {
            tracing::warn!(error = %e, "a password-reset link was not sent");
        }
    });
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "status": "accepted",
        "message": "if this email has an account, a link to reset its password is on its way",
    })))
}

async fn send_link(state: &AppState, email: &str) -> Result<(), crate::store::StoreError> {
    let Some(user) = state.stores.users.user_by_email(email).await? else {
        return Ok(());
    };
    let key = format!("reset:{}", &secret::digest(email)[..32]);
    let policy = per_email();
    if !state.limits.backoff_attempt(&key, &policy).await.is_zero() {
        metrics::counter!("creo_password_resets_total", "result" => "throttled").increment(1);
        return Ok(());
    }
    let token = secret::generate("pr_");
    let now = now_ms();
    let ttl_ms = state.config.password_reset_ttl_secs as i64 * 1000;
    state
        .stores
        .one_time_tokens
        .create_token(
            &OneTimeToken {
                user_id: user.user_id.clone(),
                purpose: Purpose::PasswordReset,
                created_at: now,
                expires_at: now + ttl_ms,
                payload: None,
            },
            &secret::digest(&token),
        )
        .await?;
    let job = Job {
        id: format!("mail-reset-{}", secret::id()),
        kind: JobKind::Mail {
            user_id: user.user_id.clone(),
            mail: Mail::PasswordReset {
                sealed_token: state.sealer.seal(&token, RESET_TOKEN_CONTEXT),
            },
        },
        not_before: 0,
        attempt: 0,
    };
    state.events.people().queue(&job).await;
    metrics::counter!("creo_password_resets_total", "result" => "mailed").increment(1);
    Ok(())
}

/// Spends a reset token: sets the new password and ends every session of the person.
#[utoipa::path(post, operation_id = "identity_reset_password", path = "/api/v1/auth/password/reset", request_body = Reset,
    responses((status = 204, description = "the password is changed; sign in with it"),
              (status = 400, description = "unknown, used or expired token, or a weak password")))]
pub async fn reset(
    req: HttpRequest,
    body: web::Json<Reset>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    address::limit(&req, &state, Class::Auth).await?;
    let body = body.into_inner();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&body.password.chars().count()) {
        return Err(ApiError::bad_request(
            Code::WeakPassword,
            format!("passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        ));
    }
    if body.token.len() > 128 {
        return Err(invalid_token());
    }
    // Hashed before the token is spent: a slow hash must not leave a spent token and an old
    // password behind if it fails.
    let hash = hash_password(&state, body.password).await?;
    let Some(spent) = state
        .stores
        .one_time_tokens
        .spend_token(
            &secret::digest(&body.token),
            Purpose::PasswordReset,
            now_ms(),
        )
        .await?
    else {
        metrics::counter!("creo_password_resets_total", "result" => "invalid").increment(1);
        return Err(invalid_token());
    };
    let user_id = spent.user_id;
    if !state
        .stores
        .users
        .set_password_hash(&user_id, &hash)
        .await?
    {
        return Err(invalid_token());
    }
    super::identity::end_sessions(&state, &user_id, None).await?;
    audit_person(&state, &user_id, "password_reset", "").await;
    metrics::counter!("creo_password_resets_total", "result" => "reset").increment(1);
    Ok(HttpResponse::NoContent().finish())
}

fn invalid_token() -> ApiError {
    ApiError::bad_request(
        Code::InvalidResetToken,
        "this reset link is unknown, used or expired: ask for a new one",
    )
}
