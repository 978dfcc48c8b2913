//! Every error code the REST API answers with, in one table: its name on the wire and its HTTP
//! status (in the style of meilisearch's `make_error_codes!`). A code is spelled nowhere else:
//! handlers name a `Code` and the status follows from it. The OpenAPI document lists them all
//! (`components.schemas.Code`).

use actix_web::http::StatusCode;

macro_rules! error_codes {
    ($( $variant:ident = $code:literal, $status:ident; )*) => {
        /// An error's `code` field in `{"error": {"code", "message"}}`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
        pub enum Code {
            $( #[schema(rename = $code)] $variant, )*
        }

        impl Code {
            /// Every code, for the OpenAPI document and the table's test.
            pub const ALL: &'static [Code] = &[$( Code::$variant ),*];

            /// The code as it is written on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            /// The HTTP status every answer with this code carries.
            pub fn status(self) -> StatusCode {
                match self { $( Code::$variant => StatusCode::$status, )* }
            }
        }
    };
}

error_codes! {
    AccessRevoked = "access_revoked", FORBIDDEN;
    AiUnavailable = "ai_unavailable", SERVICE_UNAVAILABLE;
    AlreadySettled = "already_settled", CONFLICT;
    BadTitle = "bad_title", BAD_REQUEST;
    BrandKitChanged = "brand_kit_changed", PRECONDITION_FAILED;
    Busy = "busy", SERVICE_UNAVAILABLE;
    ChannelUnavailable = "channel_unavailable", CONFLICT;
    CommentQuotaExceeded = "comment_quota_exceeded", PAYMENT_REQUIRED;
    DeadlineExceeded = "deadline_exceeded", GATEWAY_TIMEOUT;
    DocumentBusy = "document_busy", CONFLICT;
    DocumentTooLarge = "document_too_large", PAYLOAD_TOO_LARGE;
    EmailOff = "email_off", SERVICE_UNAVAILABLE;
    EmailUnverified = "email_unverified", FORBIDDEN;
    EmptyDocument = "empty_document", BAD_REQUEST;
    Exists = "exists", CONFLICT;
    Forbidden = "forbidden", FORBIDDEN;
    IdempotencyKeyRequired = "idempotency_key_required", BAD_REQUEST;
    IdempotencyKeyReused = "idempotency_key_reused", CONFLICT;
    InsufficientCredits = "insufficient_credits", PAYMENT_REQUIRED;
    Internal = "internal", INTERNAL_SERVER_ERROR;
    InvalidAnchor = "invalid_anchor", BAD_REQUEST;
    InvalidBrandKit = "invalid_brand_kit", BAD_REQUEST;
    InvalidComment = "invalid_comment", BAD_REQUEST;
    InvalidCredentials = "invalid_credentials", UNAUTHORIZED;
    InvalidDocument = "invalid_document", BAD_REQUEST;
    InvalidDocumentId = "invalid_document_id", BAD_REQUEST;
    InvalidEmail = "invalid_email", BAD_REQUEST;
    InvalidEvent = "invalid_event", BAD_REQUEST;
    InvalidEvents = "invalid_events", BAD_REQUEST;
    InvalidExamples = "invalid_examples", BAD_REQUEST;
    InvalidField = "invalid_field", BAD_REQUEST;
    InvalidFont = "invalid_font", UNPROCESSABLE_ENTITY;
    InvalidInput = "invalid_input", BAD_REQUEST;
    InvalidLinkToken = "invalid_link_token", BAD_REQUEST;
    InvalidMedia = "invalid_media", UNPROCESSABLE_ENTITY;
    InvalidMfaChallenge = "invalid_mfa_challenge", UNAUTHORIZED;
    InvalidMfaCode = "invalid_mfa_code", UNAUTHORIZED;
    InvalidName = "invalid_name", BAD_REQUEST;
    InvalidQuantity = "invalid_quantity", BAD_REQUEST;
    InvalidQuery = "invalid_query", BAD_REQUEST;
    InvalidRefreshToken = "invalid_refresh_token", UNAUTHORIZED;
    InvalidRepeat = "invalid_repeat", BAD_REQUEST;
    InvalidResetToken = "invalid_reset_token", BAD_REQUEST;
    InvalidSettings = "invalid_settings", BAD_REQUEST;
    InvalidSignature = "invalid_signature", BAD_REQUEST;
    InvalidSuggestion = "invalid_suggestion", BAD_REQUEST;
    InvalidTargets = "invalid_targets", BAD_REQUEST;
    InvalidTime = "invalid_time", BAD_REQUEST;
    InvalidTimezone = "invalid_timezone", BAD_REQUEST;
    InvalidTransition = "invalid_transition", CONFLICT;
    InvalidUpdate = "invalid_update", BAD_REQUEST;
    InvalidUrl = "invalid_url", BAD_REQUEST;
    InvalidUser = "invalid_user", BAD_REQUEST;
    InvalidVersion = "invalid_version", BAD_REQUEST;
    LastOwner = "last_owner", CONFLICT;
    LoginRequired = "login_required", FORBIDDEN;
    MediaInUse = "media_in_use", CONFLICT;
    MfaAlreadyEnabled = "mfa_already_enabled", CONFLICT;
    MfaEnrolmentRequired = "mfa_enrolment_required", FORBIDDEN;
    MfaNotEnabled = "mfa_not_enabled", CONFLICT;
    MissingScope = "missing_scope", FORBIDDEN;
    MonthlyQuotaExceeded = "monthly_quota_exceeded", PAYMENT_REQUIRED;
    NoQueue = "no_queue", BAD_REQUEST;
    NoSuchAccount = "no_such_account", FORBIDDEN;
    NoSuggestion = "no_suggestion", UNPROCESSABLE_ENTITY;
    NotAMember = "not_a_member", FORBIDDEN;
    NotFound = "not_found", NOT_FOUND;
    NotQueued = "not_queued", SERVICE_UNAVAILABLE;
    NotSelectable = "not_selectable", CONFLICT;
    PaymentFailed = "payment_failed", PAYMENT_REQUIRED;
    PlatformChecks = "platform_checks", UNPROCESSABLE_ENTITY;
    PlatformUnavailable = "platform_unavailable", BAD_REQUEST;
    QueueFull = "queue_full", CONFLICT;
    RateLimited = "rate_limited", TOO_MANY_REQUESTS;
    ReadOnly = "read_only", FORBIDDEN;
    RefreshTokenReused = "refresh_token_reused", UNAUTHORIZED;
    SeatLimitReached = "seat_limit_reached", PAYMENT_REQUIRED;
    SessionRevoked = "session_revoked", UNAUTHORIZED;
    ShuttingDown = "shutting_down", SERVICE_UNAVAILABLE;
    SoleOwner = "sole_owner", CONFLICT;
    StorageQuotaExceeded = "storage_quota_exceeded", PAYMENT_REQUIRED;
    StoreUnavailable = "store_unavailable", SERVICE_UNAVAILABLE;
    TooLarge = "too_large", PAYLOAD_TOO_LARGE;
    TooManyAttempts = "too_many_attempts", TOO_MANY_REQUESTS;
    TooManyChannels = "too_many_channels", BAD_REQUEST;
    TooManyConnections = "too_many_connections", TOO_MANY_REQUESTS;
    TooManyEndpoints = "too_many_endpoints", BAD_REQUEST;
    TooManyFonts = "too_many_fonts", CONFLICT;
    TooManyRequests = "too_many_requests", TOO_MANY_REQUESTS;
    TooManyUploads = "too_many_uploads", TOO_MANY_REQUESTS;
    TryAgain = "try_again", SERVICE_UNAVAILABLE;
    Unauthorized = "unauthorized", UNAUTHORIZED;
    UnknownAccount = "unknown_account", BAD_REQUEST;
    UnknownKind = "unknown_kind", BAD_REQUEST;
    UnknownPlatform = "unknown_platform", BAD_REQUEST;
    UnknownScope = "unknown_scope", BAD_REQUEST;
    UnresolvedUpdate = "unresolved_update", UNPROCESSABLE_ENTITY;
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
    UnsupportedTusVersion = "unsupported_tus_version", PRECONDITION_FAILED;
    UploadLocked = "upload_locked", LOCKED;
    UploadOffsetMismatch = "upload_offset_mismatch", CONFLICT;
    VersionQuotaExceeded = "version_quota_exceeded", PAYMENT_REQUIRED;
    WeakPassword = "weak_password", BAD_REQUEST;
    WebsocketHandshake = "websocket_handshake", BAD_REQUEST;
    WorkerRestarted = "worker_restarted", SERVICE_UNAVAILABLE;
    WrongAccount = "wrong_account", FORBIDDEN;
    WrongDocument = "wrong_document", FORBIDDEN;
    WrongInvitee = "wrong_invitee", FORBIDDEN;
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_written_once_in_snake_case_with_an_error_status() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} appears twice");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            assert!(code.status().as_u16() >= 400, "{name}");
        }
    }
}
