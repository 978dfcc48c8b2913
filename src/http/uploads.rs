//! Resumable uploads over REST, as the tus 1.0 protocol has them (core, creation,
//! termination, expiration), so that tus clients (tus-js-client, Uppy, TUSKit, tus-android)
//! upload to the media library unchanged: `POST …/uploads` with `Upload-Length` opens a
//! session, `PATCH` appends at `Upload-Offset`, `HEAD` tells the offset to resume from,
//! `DELETE` cancels. The request that completes an upload answers once the medium is stored,
//! naming it in `Creo-Media-Id`. The sessions themselves are `media::resumable`.

use actix_web::http::header::{self, HeaderMap, HeaderValue, HttpDate};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use base64::Engine;

use super::extract::AccountCaller;
use super::media::refusal;
use super::ApiError;
use crate::app::AppState;
use crate::http::Code;
use crate::media::resumable::{Append, SessionError, UploadSession};
use crate::media::Upload;

/// The only protocol version spoken.
const TUS_VERSION: &str = "1.0.0";
/// The longest `Upload-Metadata` read (tus clients send a name and a type).
const MAX_METADATA_BYTES: usize = 4_096;

/// An API error, with the headers a tus client reads on it.
#[derive(Debug)]
pub struct TusError {
    error: ApiError,
    /// Where the upload stands, on a request that started elsewhere.
    offset: Option<u64>,
}

impl From<ApiError> for TusError {
    fn from(error: ApiError) -> Self {
        TusError {
            error,
            offset: None,
        }
    }
}

impl std::fmt::Display for TusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for TusError {
    fn status_code(&self) -> StatusCode {
        self.error.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = self.error.error_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::HeaderName::from_static("tus-resumable"),
            HeaderValue::from_static(TUS_VERSION),
        );
        if self.error.status == StatusCode::PRECONDITION_FAILED {
            headers.insert(
                header::HeaderName::from_static("tus-version"),
                HeaderValue::from_static(TUS_VERSION),
            );
        }
        if let Some(offset) = self.offset {
            headers.insert(
                header::HeaderName::from_static("upload-offset"),
                HeaderValue::from(offset),
            );
        }
        resp
    }
}

impl From<SessionError> for TusError {
    fn from(e: SessionError) -> Self {
        let message = e.to_string();
        let (error, offset) = match e {
            SessionError::NotFound => (ApiError::not_found(message), None),
            SessionError::OffsetMismatch { offset } => (
                ApiError::bad_request(Code::UploadOffsetMismatch, message),
                Some(offset),
            ),
            SessionError::Locked => (ApiError::new(Code::UploadLocked, message), None),
            SessionError::TooManyOpen => {
                (ApiError::bad_request(Code::TooManyUploads, message), None)
            }
            SessionError::Upload(e) => (refusal(e), None),
        };
        TusError { error, offset }
    }
}

fn bad(message: impl Into<String>) -> TusError {
    ApiError::bad_request(Code::InvalidInput, message).into()
}

/// Refuses a request that does not speak tus 1.0.
fn speaks_tus(req: &HttpRequest) -> Result<(), TusError> {
    match req.headers().get("tus-resumable") {
        Some(v) if v == TUS_VERSION => Ok(()),
        _ => Err(ApiError::bad_request(
            Code::UnsupportedTusVersion,
            format!("send Tus-Resumable: {TUS_VERSION} (the only version creo speaks)"),
        )
        .into()),
    }
}

/// A header holding a whole number of bytes.
fn bytes_header(headers: &HeaderMap, name: &str) -> Result<Option<u64>, TusError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| bad(format!("{name} must be a number of bytes"))),
    }
}

/// The file name from `Upload-Metadata` (`filename` as tus-js-client sends it, or `name`):
/// comma-separated keys, each with its value in base64.
fn file_name(headers: &HeaderMap) -> Result<String, TusError> {
    let Some(raw) = headers.get("upload-metadata") else {
        return Ok(String::new());
    };
    if raw.len() > MAX_METADATA_BYTES {
        return Err(bad(format!(
            "Upload-Metadata is at most {MAX_METADATA_BYTES} bytes"
        )));
    }
    let raw = raw
        .to_str()
        .map_err(|_| bad("Upload-Metadata must be ASCII"))?;
    for pair in raw.split(',') {
        let mut parts = pair.trim().splitn(2, ' ');
        let key = parts.next().unwrap_or_default();
        if key != "filename" && key != "name" {
            continue;
        }
        let value = base64::engine::general_purpose::STANDARD
            .decode(parts.next().unwrap_or_default().trim())
            .map_err(|_| bad("an Upload-Metadata value must be base64"))?;
        return String::from_utf8(value).map_err(|_| bad("the file name must be UTF-8"));
    }
    Ok(String::new())
}

/// The uploader in the path's account, with the limits of its tier now.
async fn uploader(
    caller: &AccountCaller,
    state: &AppState,
    file_name: String,
) -> Result<Upload, TusError> {
    if !caller.principal.role.can_write() {
        return Err(ApiError::forbidden(Code::Forbidden, "viewers cannot upload media").into());
    }
    let limits = super::account_limits(state, &caller.account_id).await?;
    Ok(Upload {
        account_id: caller.account_id.clone(),
        user_id: caller.principal.user.to_string(),
        file_name,
        max_bytes: limits.max_upload_bytes,
        quota: limits.media_storage_bytes,
        watermark: limits.watermarked_exports,
    })
}

fn tus_response(status: StatusCode) -> actix_web::HttpResponseBuilder {
    let mut resp = HttpResponse::build(status);
    resp.insert_header(("Tus-Resumable", TUS_VERSION))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    resp
}

fn expires(session: &UploadSession) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(session.expires_at.max(0) as u64);
    HttpDate::from(at).to_string()
}

/// What creo's tus endpoint supports.
#[utoipa::path(options, operation_id = "uploads_options", path = "/api/v1/accounts/{account_id}/uploads",
    params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 204, description = "`Tus-Version`, `Tus-Extension`")))]
pub async fn options() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Tus-Resumable", TUS_VERSION))
        .insert_header(("Tus-Version", TUS_VERSION))
        .insert_header(("Tus-Extension", "creation,termination,expiration"))
        .finish()
}

/// Opens a resumable upload of `Upload-Length` bytes (tus creation). The file name comes from
/// `Upload-Metadata` (`filename`, base64); the content decides the type.
#[utoipa::path(post, operation_id = "uploads_create", path = "/api/v1/accounts/{account_id}/uploads",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("Tus-Resumable" = String, Header, description = "1.0.0"),
           ("Upload-Length" = u64, Header, description = "the upload's size in bytes"),
           ("Upload-Metadata" = Option<String>, Header, description = "`filename <base64>`")),
    responses((status = 201, description = "opened: `Location` is where its bytes go", body = UploadSession),
              (status = 402, description = "it does not fit in the storage quota with the uploads already open"),
              (status = 403, description = "viewers cannot upload"),
              (status = 412, description = "no `Tus-Resumable: 1.0.0`"),
              (status = 413, description = "larger than the tier's upload limit"),
              (status = 429, description = "too many uploads open in the workspace"),
              (status = 503, description = "this node holds as many upload bytes as it takes")))]
pub async fn create(
    caller: AccountCaller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TusError> {
    speaks_tus(&req)?;
    let headers = req.headers();
    let length = bytes_header(headers, "upload-length")?
        .ok_or_else(|| bad("send Upload-Length (creo does not defer lengths)"))?;
    if bytes_header(headers, "content-length")?.is_some_and(|n| n > 0) {
        return Err(bad(
            "send the bytes with PATCH requests, not with the creation",
        ));
    }
    let up = uploader(&caller, &state, file_name(headers)?).await?;
    let used = state
        .stores
        .media
        .storage_used(&caller.account_id)
        .await
        .map_err(ApiError::from)?;
    let session = state.media.resumable.create(&up, length, used).await?;
    let location = format!(
        "/api/v1/accounts/{}/uploads/{}",
        caller.account_id, session.upload_id
    );
    Ok(tus_response(StatusCode::CREATED)
        .insert_header((header::LOCATION, location))
        .insert_header(("Upload-Expires", expires(&session)))
        .insert_header(("Upload-Offset", "0"))
        .json(session))
}

/// Where a resumable upload stands: `Upload-Offset` is the byte to go on from.
#[utoipa::path(head, operation_id = "uploads_offset", path = "/api/v1/accounts/{account_id}/uploads/{upload_id}",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("upload_id" = String, Path, description = "the upload"),
           ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses((status = 200, description = "`Upload-Offset`, `Upload-Length`, `Upload-Expires`"),
              (status = 404, description = "no such upload of yours (expired, cancelled, or on another node)")))]
pub async fn offset(
    caller: AccountCaller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TusError> {
    speaks_tus(&req)?;
    let session = session(&caller, &path.into_inner().1, &state).await?;
    Ok(with_offset(tus_response(StatusCode::OK), &session)
        .insert_header(("Upload-Length", session.length.to_string()))
        .finish())
}

async fn session(
    caller: &AccountCaller,
    id: &str,
    state: &AppState,
) -> Result<UploadSession, TusError> {
    let user = caller.principal.user.to_string();
    Ok(state
        .media
        .resumable
        .get(id, &caller.account_id, &user)
        .await?)
}

fn with_offset(
    mut resp: actix_web::HttpResponseBuilder,
    session: &UploadSession,
) -> actix_web::HttpResponseBuilder {
    resp.insert_header(("Upload-Offset", session.offset.to_string()))
        .insert_header(("Upload-Expires", expires(session)));
    if let Some(id) = &session.media_id {
        resp.insert_header(("Creo-Media-Id", id.as_str()));
    }
    resp
}

/// A resumable upload as JSON: its offset and, once stored, its medium.
#[utoipa::path(get, operation_id = "uploads_get", path = "/api/v1/accounts/{account_id}/uploads/{upload_id}",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("upload_id" = String, Path, description = "the upload")),
    responses((status = 200, description = "the upload", body = UploadSession),
              (status = 404, description = "no such upload of yours")))]
pub async fn get(
    caller: AccountCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TusError> {
    let session = session(&caller, &path.into_inner().1, &state).await?;
    Ok(HttpResponse::Ok().json(session))
}

/// Appends bytes to a resumable upload at `Upload-Offset` (which must be where it stands).
/// A request cut off keeps what arrived. The one that completes the upload answers once the
/// medium is checked and stored, with `Creo-Media-Id`.
#[utoipa::path(patch, operation_id = "uploads_append", path = "/api/v1/accounts/{account_id}/uploads/{upload_id}",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("upload_id" = String, Path, description = "the upload"),
           ("Tus-Resumable" = String, Header, description = "1.0.0"),
           ("Upload-Offset" = u64, Header, description = "where these bytes start")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream",
        description = "the next bytes"),
    responses((status = 204, description = "taken: `Upload-Offset` is where the upload stands"),
              (status = 402, description = "complete, but the storage quota is used up"),
              (status = 404, description = "no such upload of yours"),
              (status = 409, description = "the upload is not at `Upload-Offset` (its offset is in the answer's)"),
              (status = 413, description = "more bytes than the upload's length, or an image larger than creo decodes"),
              (status = 415, description = "not `application/offset+octet-stream`, or the content is no image or video creo takes"),
              (status = 422, description = "complete, but it does not decode"),
              (status = 423, description = "another request is adding to it")))]
pub async fn append(
    caller: AccountCaller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TusError> {
    speaks_tus(&req)?;
    let headers = req.headers();
    if headers
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v != "application/offset+octet-stream")
    {
        return Err(ApiError::bad_request(
            Code::UnsupportedMediaType,
            "send the bytes as application/offset+octet-stream",
        )
        .into());
    }
    let offset = bytes_header(headers, "upload-offset")?
        .ok_or_else(|| bad("send Upload-Offset: where these bytes start"))?;
    let add = Append {
        upload_id: path.into_inner().1,
        offset,
        declared: bytes_header(headers, "content-length")?,
        up: uploader(&caller, &state, String::new()).await?,
    };
    let session = state.media.append(add, body).await?;
    Ok(with_offset(tus_response(StatusCode::NO_CONTENT), &session).finish())
}

/// Cancels a resumable upload (tus termination): its bytes go.
#[utoipa::path(delete, operation_id = "uploads_cancel", path = "/api/v1/accounts/{account_id}/uploads/{upload_id}",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("upload_id" = String, Path, description = "the upload"),
           ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses((status = 204, description = "cancelled"),
              (status = 404, description = "no such upload of yours"),
              (status = 423, description = "a request is adding to it, or it is being stored")))]
pub async fn cancel(
    caller: AccountCaller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TusError> {
    speaks_tus(&req)?;
    let user = caller.principal.user.to_string();
    state
        .media
        .resumable
        .cancel(&path.into_inner().1, &caller.account_id, &user)
        .await?;
    Ok(tus_response(StatusCode::NO_CONTENT).finish())
}
