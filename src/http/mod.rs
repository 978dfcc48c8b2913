//! actix-web handlers: thin shells that authenticate, parse, ask an actor and map the reply.

mod accounts;
pub mod address;
pub mod ai;
pub mod analytics;
pub mod api_keys;
pub mod billing;
pub mod brand;
pub mod calendar;
pub mod channels;
pub mod codes;
pub mod comments;
pub mod documents;
pub mod email;
pub mod extract;
pub mod frontend;
pub mod generations;
pub mod identity;
pub mod imports;
pub mod media;
pub mod mfa;
pub mod notifications;
pub mod ops;
pub mod password_reset;
pub mod queue;
pub mod revocations;
pub mod search;
pub mod suggestions;
pub mod uploads;
pub mod users;
pub mod versions;
pub mod webhooks;
pub mod workflow;
pub mod ws;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::actors::account::AccountError;
use crate::actors::document::DocError;
use crate::app::AppState;
use crate::auth::{AuthError, KeyGrant, Principal, Role};
pub use codes::Code;

/// Every REST route: (method, path under `/api/v1`). `routes` registers exactly these, and a
/// test checks the OpenAPI document describes each of them.
macro_rules! api_routes {
    ($m:ident) => {
        $m! {
            get "/openapi.json" => ops::openapi,
            post "/auth/register" => identity::register,
            post "/auth/login" => identity::login,
            post "/auth/login/mfa" => mfa::second_step,
            post "/auth/refresh" => identity::refresh,
            post "/auth/logout" => identity::logout,
            get "/auth/sessions" => identity::sessions,
            delete "/auth/sessions/{session_id}" => identity::revoke_session,
            post "/auth/password/forgot" => password_reset::forgot,
            post "/auth/password/reset" => password_reset::reset,
            post "/auth/email/verify" => email::verify,
            post "/auth/email/change" => email::confirm_change,
            get "/users/me" => users::me,
            get "/users/me/export" => users::export,
            delete "/users/me" => users::erase,
            post "/users/me/email/verification" => email::resend,
            put "/users/me/email" => email::change,
            get "/users/me/mfa" => mfa::status,
            delete "/users/me/mfa" => mfa::disable,
            post "/users/me/mfa/enrolment" => mfa::enrol,
            post "/users/me/mfa/enrolment/confirm" => mfa::confirm,
            post "/users/me/mfa/recovery-codes" => mfa::new_recovery_codes,
            get "/users/me/invitations" => accounts::my_invitations,
            post "/users/me/invitations/{invitation_id}/accept" => accounts::accept_mine,
            get "/users/me/notifications" => notifications::list,
            get "/users/me/notifications/unread-count" => notifications::unread_count,
            get "/users/me/notifications/stream" => notifications::stream,
            post "/users/me/notifications/read-all" => notifications::read_all,
            post "/users/me/notifications/{notification_id}/read" => notifications::read,
            post "/users/me/notifications/{notification_id}/unread" => notifications::mark_unread,
            delete "/users/me/notifications/{notification_id}" => notifications::delete,
            get "/users/me/notification-settings" => notifications::settings,
            put "/users/me/notification-settings" => notifications::set_settings,
            get "/accounts" => accounts::mine,
            post "/accounts" => accounts::create,
            get "/accounts/{account_id}" => accounts::get,
            get "/accounts/{account_id}/members" => accounts::members,
            put "/accounts/{account_id}/members/{user_id}" => accounts::change_role,
            delete "/accounts/{account_id}/members/{user_id}" => accounts::remove_member,
            post "/accounts/{account_id}/invitations" => accounts::invite,
            get "/accounts/{account_id}/invitations" => accounts::invitations,
            post "/invitations/accept" => accounts::accept,
            get "/invitations/{token}" => accounts::preview,
            get "/accounts/{account_id}/audit" => accounts::audit_log,
            get "/accounts/{account_id}/security-settings" => mfa::security_settings,
            put "/accounts/{account_id}/security-settings" => mfa::set_security_settings,
            post "/accounts/{account_id}/api-keys" => api_keys::create,
            get "/accounts/{account_id}/api-keys" => api_keys::list,
            delete "/accounts/{account_id}/api-keys/{key_id}" => api_keys::revoke,
            post "/tokens" => api_keys::mint,
            get "/accounts/{account_id}/billing" => billing::summary,
            get "/accounts/{account_id}/ledger" => billing::ledger,
            get "/accounts/{account_id}/ledger.csv" => billing::ledger_csv,
            get "/accounts/{account_id}/usage" => billing::usage,
            post "/accounts/{account_id}/charges" => billing::charge,
            post "/accounts/{account_id}/reservations" => billing::reserve,
            get "/accounts/{account_id}/reservations/{reservation_id}" => billing::get_reservation,
            post "/accounts/{account_id}/reservations/{reservation_id}/capture" => billing::capture,
            post "/accounts/{account_id}/reservations/{reservation_id}/release" => billing::release,
            post "/billing/webhook" => billing::webhook,
            get "/ai/models" => ai::models,
            post "/ai/infer/{model}" => ai::infer,
            post "/ai/embed" => ai::embed,
            get "/search" => search::search,
            get "/documents/{doc_id}/similar" => search::similar,
            get "/documents/{doc_id}/hashtags" => search::hashtags,
            put "/accounts/{account_id}/brand-voice" => search::set_brand_voice,
            post "/ai/brand-voice/score" => search::score_brand_voice,
            get "/documents/{doc_id}/comments" => comments::list,
            post "/documents/{doc_id}/comments" => comments::create,
            post "/documents/{doc_id}/comments/{thread_id}/resolve" => comments::resolve,
            post "/documents/{doc_id}/comments/{thread_id}/reopen" => comments::reopen,
            get "/documents/{doc_id}/versions" => versions::list,
            post "/documents/{doc_id}/versions" => versions::create,
            get "/documents/{doc_id}/versions/compare" => versions::compare,
            post "/documents/{doc_id}/versions/{version_id}/restore" => versions::restore,
            get "/documents/{doc_id}/workflow" => workflow::get,
            post "/documents/{doc_id}/workflow" => workflow::transition,
            get "/accounts/{account_id}/workflow-settings" => workflow::settings,
            put "/accounts/{account_id}/workflow-settings" => workflow::set_settings,
            get "/documents/{doc_id}/generations/quote" => generations::price,
            post "/documents/{doc_id}/generations" => generations::create,
            get "/documents/{doc_id}/generations/{generation_id}" => generations::get,
            post "/documents/{doc_id}/generations/{generation_id}/select" => generations::select,
            post "/accounts/{account_id}/webhooks" => webhooks::create,
            get "/accounts/{account_id}/webhooks" => webhooks::list,
            delete "/accounts/{account_id}/webhooks/{endpoint_id}" => webhooks::delete,
            get "/accounts/{account_id}/webhooks/{endpoint_id}/deliveries" => webhooks::deliveries,
            get "/accounts/{account_id}/channels" => channels::list,
            get "/accounts/{account_id}/calendar" => calendar::get,
            post "/accounts/{account_id}/imports" => imports::create,
            post "/accounts/{account_id}/media" => media::upload,
            get "/accounts/{account_id}/media" => media::list,
            get "/accounts/{account_id}/media-usage" => media::usage,
            get "/accounts/{account_id}/media/{media_id}" => media::get,
            patch "/accounts/{account_id}/media/{media_id}" => media::update,
            get "/accounts/{account_id}/media/{media_id}/content" => media::content,
            delete "/accounts/{account_id}/media/{media_id}" => media::delete,
            options "/accounts/{account_id}/uploads" => uploads::options,
            post "/accounts/{account_id}/uploads" => uploads::create,
            head "/accounts/{account_id}/uploads/{upload_id}" => uploads::offset,
            get "/accounts/{account_id}/uploads/{upload_id}" => uploads::get,
            patch "/accounts/{account_id}/uploads/{upload_id}" => uploads::append,
            delete "/accounts/{account_id}/uploads/{upload_id}" => uploads::cancel,
            get "/accounts/{account_id}/brand-kit" => brand::get,
            put "/accounts/{account_id}/brand-kit" => brand::change_kit,
            post "/accounts/{account_id}/brand-kit/fonts" => brand::upload_font,
            get "/accounts/{account_id}/brand-kit/fonts/{font_id}" => brand::font_content,
            delete "/accounts/{account_id}/brand-kit/fonts/{font_id}" => brand::delete_font,
            get "/accounts/{account_id}/analytics" => analytics::account,
            get "/accounts/{account_id}/best-times" => analytics::best_times,
            post "/accounts/{account_id}/channels/{channel_id}/metrics" => analytics::report,
            get "/documents/{doc_id}/analytics" => analytics::document,
            post "/accounts/{account_id}/channels" => channels::create_webhook,
            post "/accounts/{account_id}/channels/connect" => channels::connect,
            delete "/accounts/{account_id}/channels/{channel_id}" => channels::delete,
            get "/accounts/{account_id}/channels/{channel_id}/queue" => queue::get,
            put "/accounts/{account_id}/channels/{channel_id}/queue" => queue::reorder,
            put "/accounts/{account_id}/channels/{channel_id}/queue-schedule" => queue::set_schedule,
            get "/channels/oauth/callback" => channels::callback,
            post "/documents/{doc_id}/ai/suggestions" => suggestions::suggest,
            post "/documents/{doc_id}/ai/suggestions/{suggestion_id}/undo" => suggestions::undo,
            post "/documents" => documents::create,
            get "/documents" => documents::list,
            get "/documents/{doc_id}" => documents::info,
            delete "/documents/{doc_id}" => documents::delete,
            put "/documents/{doc_id}/title" => documents::retitle,
            post "/documents/{doc_id}/duplicate" => documents::duplicate,
            get "/documents/{doc_id}/state" => documents::state,
            post "/documents/{doc_id}/updates" => documents::apply_update,
            put "/documents/{doc_id}/revocations/{user_id}" => revocations::revoke_document,
            delete "/documents/{doc_id}/revocations/{user_id}" => revocations::lift_document,
            get "/accounts/{account_id}/revocations" => revocations::list,
            put "/accounts/{account_id}/revocations/{user_id}" => revocations::revoke_account,
            delete "/accounts/{account_id}/revocations/{user_id}" => revocations::lift_account,
        }
    };
}

/// `(method, path)` of every REST route, for the OpenAPI completeness test.
pub fn api_route_table() -> Vec<(&'static str, &'static str)> {
    macro_rules! table {
        ($($method:ident $path:literal => $handler:path,)*) => {
            vec![$((stringify!($method), $path)),*]
        };
    }
    api_routes!(table)
}

/// A route for `method`, named as in `api_routes` (`get`, `options`, …).
fn route(method: &str) -> actix_web::Route {
    let method = actix_web::http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .expect("api_routes names HTTP methods");
    web::method(method)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    macro_rules! register {
        ($($method:ident $path:literal => $handler:path,)*) => {
            web::scope("/api/v1")$(.route($path, route(stringify!($method)).to($handler)))*
        };
    }
    cfg.route("/ws/{doc_id}", web::get().to(ws::not_upgraded))
        .route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics))
        // Signed links to library media, for platforms that fetch a post's media themselves.
        .route(
            "/media/{account_id}/{media_id}",
            web::get().to(media::linked),
        )
        .route("/debug/store-faults", web::get().to(ops::get_store_faults))
        .route("/debug/store-faults", web::put().to(ops::put_store_faults))
        .route(
            "/debug/inference-faults/{model}",
            web::put().to(ops::put_inference_faults),
        )
        .service(api_routes!(register));
}

/// Errors as `{"error": {"code", "message"}}` with the right status, as the API contract says (docs/api.md).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    pub retry_after: Option<u32>,
    /// Extra fields of the error object (a 402's balance and price).
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            status: code.status(),
            code,
            message: message.into(),
            retry_after: None,
            details: None,
        }
    }

    /// A refusal of who is asking (counted as an authorisation failure).
    pub fn forbidden(code: Code, message: impl Into<String>) -> Self {
        metrics::counter!("creo_auth_failures_total", "reason" => code.as_str()).increment(1);
        ApiError::new(code, message)
    }

    /// A refusal of what was sent (counted as a bad request).
    pub fn bad_request(code: Code, message: impl Into<String>) -> Self {
        metrics::counter!("creo_bad_requests_total", "reason" => code.as_str()).increment(1);
        ApiError::new(code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(Code::NotFound, message)
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 429 `too_many_attempts`: a backoff says to wait `wait` (told in whole seconds, 1 to 3,600).
    pub fn too_many_attempts(message: impl Into<String>, wait: std::time::Duration) -> Self {
        ApiError::new(Code::TooManyAttempts, message)
            .retry_after(wait.as_secs().clamp(1, 3600) as u32)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            resp.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        let mut error = serde_json::json!({ "code": self.code, "message": self.message });
        if let (Some(serde_json::Value::Object(extra)), Some(obj)) =
            (&self.details, error.as_object_mut())
        {
            obj.extend(extra.clone());
        }
        resp.json(serde_json::json!({ "error": error }))
    }
}

impl From<DocError> for ApiError {
    fn from(e: DocError) -> Self {
        let msg = e.to_string();
        match e {
            // Another account's document answers exactly like one that does not exist, so ids
            // cannot be probed across accounts.
            DocError::NotFound | DocError::Forbidden => {
                ApiError::new(Code::NotFound, DocError::NotFound.to_string())
            }
            DocError::ReadOnly => ApiError::new(Code::ReadOnly, msg),
            DocError::TooManyConnections => {
                ApiError::new(Code::TooManyConnections, msg).retry_after(5)
            }
            DocError::InvalidUpdate(_) => ApiError::new(Code::InvalidUpdate, msg),
            DocError::Unresolved(_) => ApiError::new(Code::UnresolvedUpdate, msg),
            DocError::TooLarge => ApiError::new(Code::DocumentTooLarge, msg),
            DocError::Backlogged | DocError::Unloading => {
                ApiError::new(Code::TryAgain, msg).retry_after(1)
            }
            DocError::LoadFailed(_) | DocError::Store(_) => {
                ApiError::new(Code::StoreUnavailable, msg).retry_after(1)
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        DocError::Store(e).into()
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        let msg = e.to_string();
        match e {
            AccountError::NotFound => ApiError::not_found(msg),
            AccountError::PaymentFailed => ApiError::new(Code::PaymentFailed, msg),
            AccountError::QuotaExceeded { used, limit } => {
                ApiError::new(Code::MonthlyQuotaExceeded, msg)
                    .with_details(serde_json::json!({ "used": used, "limit": limit }))
            }
            AccountError::Insufficient { available, price } => {
                ApiError::new(Code::InsufficientCredits, msg).with_details(
                    serde_json::json!({ "balance_milli": available, "price_milli": price }),
                )
            }
            AccountError::KeyConflict => ApiError::new(Code::IdempotencyKeyReused, msg),
            AccountError::ReservationNotFound => ApiError::not_found(msg),
            AccountError::AlreadySettled => ApiError::new(Code::AlreadySettled, msg),
            AccountError::Unverified { left } => ApiError::new(Code::EmailUnverified, msg)
                .with_details(serde_json::json!({ "allowance_left_milli": left })),
            AccountError::Store(e) => e.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        metrics::counter!("creo_auth_failures_total", "reason" => e.metric_reason()).increment(1);
        ApiError::new(Code::Unauthorized, e.to_string())
    }
}

/// What `account`'s plan allows (an account nobody registered, known only from tokens, gets the
/// free tier's limits).
pub async fn account_limits(
    state: &AppState,
    account: &str,
) -> Result<crate::billing::TierLimits, ApiError> {
    Ok(state
        .accounts
        .lookup(account, None)
        .await?
        .map(|v| v.limits)
        .unwrap_or_else(|| state.config.tiers.free.clone()))
}

/// What the request-level checks (credentials, client address) read: the request head. Both a
/// routed request and an upgrade handed over before routing (`ws.rs`) have one.
pub trait Head {
    fn request_head(&self) -> &actix_web::dev::RequestHead;
}

impl Head for HttpRequest {
    fn request_head(&self) -> &actix_web::dev::RequestHead {
        self.head()
    }
}

impl Head for actix_web::dev::RequestHead {
    fn request_head(&self) -> &actix_web::dev::RequestHead {
        self
    }
}

/// The bearer credential from `Authorization: Bearer` or, for browsers' WebSockets, `?token=`.
pub fn bearer<'a>(req: &'a impl Head, query_token: Option<&'a str>) -> Option<&'a str> {
    req.request_head()
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or(query_token)
        .map(str::trim)
}

/// Who is asking: a JWT (from login, an API key's minting, or `creo token`) or an API key.
/// For an account registered here it also applies the account's state: a logged-in user acts
/// with their current membership role (removed members are refused), and every request counts
/// against the account's tier rate limits (429 with Retry-After when exhausted). Accounts
/// nobody registered (tokens from `creo token`) are neither billed nor tier-limited.
pub async fn authenticate(
    req: &impl Head,
    state: &AppState,
    query_token: Option<&str>,
) -> Result<Principal, ApiError> {
    let token = bearer(req, query_token).ok_or(AuthError::Missing)?;
    let mut principal = match crate::auth::secret::api_key_id(token) {
        Some(key_id) => api_key_principal(state, key_id, token).await?,
        None => state.keys.verify(token)?,
    };
    if let Some(session) = &principal.session {
        if !state.logins.is_live(&principal.user, session).await? {
            metrics::counter!("creo_auth_failures_total", "reason" => "session_revoked")
                .increment(1);
            return Err(ApiError::new(
                Code::SessionRevoked,
                "this login session was ended; log in again",
            ));
        }
    }
    let person = principal.session.clone().map(|_| principal.user.clone());
    let view = state
        .accounts
        .lookup(&principal.account, person.clone())
        .await?;
    match view {
        Some(view) => {
            if person.is_some() {
                principal.role = view.member_role.ok_or_else(|| {
                    ApiError::forbidden(
                        Code::NotAMember,
                        "you are no longer a member of this account",
                    )
                })?;
                if view.account.require_mfa
                    && !mfa::open_without_factor(req.request_head().uri.path())
                    && !mfa::enrolled(state, &principal.user).await?
                {
                    metrics::counter!("creo_auth_failures_total", "reason" => "mfa_enrolment_required")
                        .increment(1);
                    return Err(ApiError::forbidden(
                        Code::MfaEnrolmentRequired,
                        "this workspace requires a second factor: set one up under your account's security",
                    ));
                }
            }
            if let Err(limited) = state
                .request_limits
                .check(&principal.account, &view.limits)
                .await
            {
                return Err(ApiError::new(
                    Code::RateLimited,
                    format!(
                        "the account's {} tier allows no more requests this {}",
                        view.account.tier.as_str(),
                        limited.window
                    ),
                )
                .retry_after(limited.retry_after.as_secs_f64().ceil().max(1.0) as u32));
            }
        }
        // A login session or API key always belongs to a registered account; one that is gone
        // (or a forged account id) opens nothing.
        None if principal.session.is_some() || principal.api_key.is_some() => {
            return Err(ApiError::forbidden(
                Code::NoSuchAccount,
                "the account does not exist",
            ));
        }
        None => {}
    }
    Ok(principal)
}

async fn api_key_principal(
    state: &AppState,
    key_id: &str,
    key: &str,
) -> Result<Principal, ApiError> {
    let stored = state.stores.api_keys.api_key(key_id).await?;
    let valid = stored
        .filter(|k| k.revoked_at.is_none() && crate::auth::secret::digest(key) == k.secret_hash);
    let Some(k) = valid else {
        return Err(AuthError::Invalid("unknown or revoked API key".into()).into());
    };
    let role = if k.scopes.iter().any(|s| s == "documents:write") {
        Role::Editor
    } else {
        Role::Viewer
    };
    Ok(Principal {
        user: format!("apikey:{}", k.key_id).into(),
        account: k.account_id.into(),
        role,
        doc: None,
        session: None,
        api_key: Some(std::sync::Arc::new(KeyGrant {
            key_id: k.key_id,
            scopes: k.scopes,
        })),
    })
}

/// The caller, acting on `account_id`: refused (403, never 404, so ids cannot be probed) when
/// the credential belongs to another account or is scoped to one document.
pub async fn for_account(
    req: &HttpRequest,
    state: &AppState,
    account_id: &str,
) -> Result<Principal, ApiError> {
    let principal = authenticate(req, state, None).await?;
    if *principal.account != *account_id || principal.doc.is_some() {
        return Err(ApiError::forbidden(
            Code::WrongAccount,
            "this credential does not act for that account",
        ));
    }
    Ok(principal)
}

/// `for_account`, for owners and admins only (and API keys with `scope`, where one may).
pub async fn for_manager(
    req: &HttpRequest,
    state: &AppState,
    account_id: &str,
    scope: Option<&str>,
) -> Result<Principal, ApiError> {
    let principal = for_account(req, state, account_id).await?;
    require_manager(&principal, scope)?;
    Ok(principal)
}

/// Refuses callers who are not owners or admins (API keys need `scope`, where one may).
pub fn require_manager(principal: &Principal, scope: Option<&str>) -> Result<(), ApiError> {
    let allowed = match (&principal.api_key, scope) {
        (Some(_), Some(scope)) => principal.has_scope(scope),
        (Some(_), None) => false,
        (None, _) => principal.role.can_manage(),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            Code::Forbidden,
            "only the account's owners and admins may do this",
        ))
    }
}

/// Refuses credentials that are not a person's login (API keys, app tokens).
pub fn require_login(principal: &Principal) -> Result<(), ApiError> {
    if principal.session.is_some() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            Code::LoginRequired,
            "this needs a token from a password login",
        ))
    }
}

/// Validates a document id from the path and that the principal's token may open it.
pub fn document_id(raw: &str, principal: &Principal) -> Result<(), ApiError> {
    if !crate::sync::valid_doc_id(raw) {
        metrics::counter!("creo_refused_messages_total", "reason" => "invalid_document_id")
            .increment(1);
        return Err(ApiError::new(
            Code::InvalidDocumentId,
            "document ids are 1-128 characters of [A-Za-z0-9._-]",
        ));
    }
    if !principal.may_open(raw) {
        metrics::counter!("creo_auth_failures_total", "reason" => "wrong_document").increment(1);
        return Err(ApiError::new(
            Code::WrongDocument,
            "this token is scoped to another document",
        ));
    }
    Ok(())
}

/// Authenticates a request for one document: a valid token, scoped to it if scoped at all, for a
/// user whose access to it (or to its account) has not been revoked.
pub async fn admit_to_document(
    req: &impl Head,
    state: &AppState,
    query_token: Option<&str>,
    doc_id: &str,
) -> Result<Principal, ApiError> {
    let principal = authenticate(req, state, query_token).await?;
    if !(principal.has_scope("documents:read") || principal.has_scope("documents:write")) {
        return Err(ApiError::forbidden(
            Code::MissingScope,
            "this API key has no documents scope",
        ));
    }
    document_id(doc_id, &principal)?;
    let revoked = state
        .revocations
        .is_revoked(&principal.account, &principal.user, doc_id)
        .await?;
    if revoked {
        metrics::counter!("creo_auth_failures_total", "reason" => "revoked").increment(1);
        return Err(ApiError::new(
            Code::AccessRevoked,
            "your access to this document has been revoked",
        ));
    }
    Ok(principal)
}

/// The document's metadata, if it belongs to `account`: the ownership check of routes that read
/// the store without the document's actor. Another account's document answers exactly like one
/// that does not exist (404), so ids cannot be probed across accounts.
pub async fn owned_document(
    state: &AppState,
    doc_id: &str,
    account: &str,
) -> Result<crate::store::DocumentMeta, ApiError> {
    match state.stores.documents.meta(doc_id).await? {
        Some(m) if m.account_id == account => Ok(m),
        _ => Err(DocError::NotFound.into()),
    }
}

/// Applies an access change: on this node before the answer goes out (so the caller's next
/// request already sees it), and on every node through the bus (which also closes or demotes
/// open sockets).
pub fn announce(state: &AppState, change: crate::bus::AccessChange) {
    use crate::bus::AccessChange;
    match &change {
        AccessChange::Session { session } => state.logins.revoked(session),
        AccessChange::Role { account, .. } | AccessChange::Account { account } => {
            state.accounts.refresh(account)
        }
        // Sent after `Account`, which reloads the account.
        AccessChange::SecondFactorRequired { .. } => {}
        AccessChange::DocumentDeleted { doc } => state.registry.deleted(doc),
        AccessChange::Revoke(r) => state.revocations.forget(&r.account_id),
        AccessChange::Lift { account, .. } => state.revocations.forget(account),
    }
    state.bus.announce(change);
}

/// One try at `key` behind `policy`'s backoff, counted as a failure before the caller checks
/// anything (`SharedLimits::backoff_attempt`); 429 `too_many_attempts` saying `message` while
/// it must wait.
pub async fn attempt(
    state: &AppState,
    key: &str,
    policy: &crate::bus::limits::Backoff,
    message: &str,
) -> Result<(), ApiError> {
    let wait = state.limits.backoff_attempt(key, policy).await;
    if wait.is_zero() {
        Ok(())
    } else {
        Err(ApiError::too_many_attempts(message.to_string(), wait))
    }
}

/// Records a security event in the account's audit log. A failure to record is logged and
/// counted, not turned into a failure of the action it describes.
pub async fn audit(
    state: &AppState,
    account_id: &str,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) {
    let event = crate::store::AuditEvent {
        account_id: account_id.to_string(),
        event_id: uuid::Uuid::now_v7().simple().to_string(),
        at: crate::store::now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        detail: detail.to_string(),
    };
    metrics::counter!("creo_audit_events_total", "action" => action.to_string()).increment(1);
    if let Err(e) = state.stores.audit.audit(&event).await {
        metrics::counter!("creo_audit_failures_total").increment(1);
        tracing::error!(error = %e, account = account_id, action, "recording an audit event failed");
    }
}

/// Records an event about a person (their own sign-in, second factor, address) in the audit log
/// of every account they belong to, with them as actor and target.
pub async fn audit_person(state: &AppState, user_id: &str, action: &str, detail: &str) {
    match state.stores.members.memberships(user_id).await {
        Ok(memberships) => {
            for m in memberships {
                audit(state, &m.account_id, user_id, action, user_id, detail).await;
            }
        }
        Err(e) => {
            metrics::counter!("creo_audit_failures_total").increment(1);
            tracing::error!(error = %e, action, "recording an audit event failed");
        }
    }
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}
