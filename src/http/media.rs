//! The media library over REST: upload (editors and up; the body streams, see
//! `media::library`), list and search, one medium's details, its bytes (with `ETag` and
//! ranges), and its alt text and tags.

use actix_web::http::header::{self, ByteRangeSpec, Header, Range};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;

use super::extract::AccountCaller;
use super::ApiError;
use crate::app::AppState;
use crate::http::Code;
use crate::media::{Upload, UploadError};
use creo_core::media::{Medium, MAX_ALT_TEXT_CHARS, MAX_TAGS, MAX_TAG_CHARS};

/// The most media one listing answers.
const MAX_LISTED: usize = 1_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, for people and search (the content decides its type).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Words that must all appear in the file name, tags or alt text.
    #[serde(default)]
    pub q: Option<String>,
    /// At most this many, newest first (default and most 1,000).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MediumChange {
    /// What the medium shows, for people who cannot see it (at most 1,000 characters).
    #[serde(default)]
    pub alt_text: Option<String>,
    /// At most 20, each 1-50 characters.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// An upload refused, as an API error (counted by its code).
pub(super) fn refusal(e: UploadError) -> ApiError {
    let code = match &e {
        UploadError::TooLarge { .. } => Code::TooLarge,
        UploadError::Unsupported(_) => Code::UnsupportedMediaType,
        UploadError::Invalid(_) => Code::InvalidMedia,
        UploadError::StorageFull { .. } => Code::StorageQuotaExceeded,
        UploadError::Interrupted(_) => Code::InvalidInput,
        UploadError::Unavailable(_) => Code::StoreUnavailable,
        UploadError::Busy => Code::Busy,
    };
    metrics::counter!("creo_media_uploads_total", "outcome" => code.as_str()).increment(1);
    ApiError::new(code, e.to_string())
}

/// Uploads an image or a short video to the workspace's library.
#[utoipa::path(post, operation_id = "media_upload", path = "/api/v1/accounts/{account_id}/media",
    params(("account_id" = String, Path, description = "the account (workspace) id"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the file's bytes (PNG, JPEG, WebP, GIF, MP4, MOV, WebM), streamed"),
    responses((status = 201, description = "stored, with what creo measured", body = Medium),
              (status = 403, description = "viewers cannot upload"),
              (status = 402, description = "the workspace's storage quota is used up"),
              (status = 413, description = "larger than the tier's upload limit"),
              (status = 415, description = "its content is no image or video creo takes"),
              (status = 422, description = "it does not decode (truncated, a decompression bomb, too long)")))]
pub async fn upload(
    caller: AccountCaller,
    req: HttpRequest,
    query: web::Query<UploadQuery>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !caller.principal.role.can_write() {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "viewers cannot upload media",
        ));
    }
    let limits = super::account_limits(&state, &caller.account_id).await?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_upload_bytes) {
        return Err(refusal(UploadError::TooLarge {
            limit: limits.max_upload_bytes,
        }));
    }
    // A workspace whose quota cannot take what it declares is told before anything is read.
    if let (Some(declared), Some(quota)) = (declared, limits.media_storage_bytes) {
        let used = state.stores.media.storage_used(&caller.account_id).await?;
        if used.saturating_add(declared) > quota {
            return Err(refusal(UploadError::StorageFull { used, quota }));
        }
    }
    let up = Upload {
        account_id: caller.account_id.clone(),
        user_id: caller.principal.user.to_string(),
        file_name: query.into_inner().name.unwrap_or_default(),
        max_bytes: limits.max_upload_bytes,
        quota: limits.media_storage_bytes,
        watermark: limits.watermarked_exports,
    };
    let medium = state.media.upload(up, body).await.map_err(refusal)?;
    metrics::counter!("creo_media_uploads_total", "outcome" => "stored").increment(1);
    metrics::counter!("creo_media_bytes_total").increment(medium.bytes);
    Ok(HttpResponse::Created().json(medium))
}

/// The workspace's media, newest first; `q` searches file names, tags and alt text.
#[utoipa::path(get, operation_id = "media_list", path = "/api/v1/accounts/{account_id}/media",
    params(("account_id" = String, Path, description = "the account (workspace) id"), ListQuery),
    responses((status = 200, description = "the media", body = Vec<Medium>)))]
pub async fn list(
    caller: AccountCaller,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let ListQuery { q, limit } = query.into_inner();
    let limit = limit.unwrap_or(MAX_LISTED).clamp(1, MAX_LISTED);
    let words: Vec<String> = q
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .take(10)
        .map(str::to_string)
        .collect();
    let all = state
        .stores
        .media
        .media(&caller.account_id, MAX_LISTED)
        .await?;
    let found: Vec<Medium> = all
        .into_iter()
        .filter(|m| m.matches(&words))
        .take(limit)
        .collect();
    Ok(HttpResponse::Ok().json(found))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct MediaUsage {
    /// What the workspace's media take.
    pub used_bytes: u64,
    /// What its tier allows (absent: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
    /// The largest single upload its tier takes.
    pub max_upload_bytes: u64,
}

/// What the workspace's media take against its quota.
#[utoipa::path(get, operation_id = "media_usage", path = "/api/v1/accounts/{account_id}/media-usage",
    params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "used and allowed", body = MediaUsage)))]
pub async fn usage(
    caller: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limits = super::account_limits(&state, &caller.account_id).await?;
    Ok(HttpResponse::Ok().json(MediaUsage {
        used_bytes: state.stores.media.storage_used(&caller.account_id).await?,
        quota_bytes: limits.media_storage_bytes,
        max_upload_bytes: limits.max_upload_bytes,
    }))
}

async fn medium(state: &AppState, account: &str, id: &str) -> Result<Medium, ApiError> {
    state
        .stores
        .media
        .medium(account, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such medium"))
}

/// One medium's details.
#[utoipa::path(get, operation_id = "media_get", path = "/api/v1/accounts/{account_id}/media/{media_id}",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("media_id" = String, Path, description = "the medium")),
    responses((status = 200, description = "the medium", body = Medium),
              (status = 404, description = "no such medium in this workspace")))]
pub async fn get(
    caller: AccountCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    Ok(HttpResponse::Ok().json(medium(&state, &caller.account_id, &id).await?))
}

/// Sets a medium's alt text and tags.
#[utoipa::path(patch, operation_id = "media_update", path = "/api/v1/accounts/{account_id}/media/{media_id}",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("media_id" = String, Path, description = "the medium")),
    request_body = MediumChange,
    responses((status = 200, description = "changed", body = Medium),
              (status = 400, description = "alt text or tags too long"),
              (status = 403, description = "viewers cannot change media")))]
pub async fn update(
    caller: AccountCaller,
    path: web::Path<(String, String)>,
    body: web::Json<MediumChange>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !caller.principal.role.can_write() {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "viewers cannot change media",
        ));
    }
    let MediumChange { alt_text, tags } = body.into_inner();
    let bad = |m: String| ApiError::bad_request(Code::InvalidInput, m);
    if alt_text
        .as_ref()
        .is_some_and(|a| a.chars().count() > MAX_ALT_TEXT_CHARS)
    {
        return Err(bad(format!(
            "alt text is at most {MAX_ALT_TEXT_CHARS} characters"
        )));
    }
    if let Some(tags) = &tags {
        let fine = tags.len() <= MAX_TAGS
            && tags
                .iter()
                .all(|t| !t.trim().is_empty() && t.chars().count() <= MAX_TAG_CHARS);
        if !fine {
            return Err(bad(format!(
                "at most {MAX_TAGS} tags, each 1-{MAX_TAG_CHARS} characters"
            )));
        }
    }
    let (_, id) = path.into_inner();
    let alt_text = alt_text.map(|a| Some(a.trim().to_string()).filter(|a| !a.is_empty()));
    let tags = tags.map(|tags| {
        let mut tags: Vec<String> = tags.iter().map(|t| t.trim().to_lowercase()).collect();
        tags.sort();
        tags.dedup();
        tags
    });
    let change = Box::new(move |m: &mut Medium| {
        if let Some(alt) = &alt_text {
            m.alt_text = alt.clone();
        }
        if let Some(tags) = &tags {
            m.tags = tags.clone();
        }
    });
    let changed = state
        .stores
        .media
        .change_medium(&caller.account_id, &id, change)
        .await?
        .ok_or_else(|| ApiError::not_found("no such medium"))?;
    Ok(HttpResponse::Ok().json(changed))
}

/// A medium's bytes: `ETag` (its SHA-256), `If-None-Match`, and one `Range` of bytes.
#[utoipa::path(get, operation_id = "media_content", path = "/api/v1/accounts/{account_id}/media/{media_id}/content",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("media_id" = String, Path, description = "the medium"), ContentQuery),
    responses((status = 200, description = "the bytes", content_type = "application/octet-stream"),
              (status = 206, description = "the range asked for"),
              (status = 304, description = "unchanged since the ETag given"),
              (status = 416, description = "the range is outside the medium")))]
pub async fn content(
    caller: AccountCaller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<ContentQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let m = medium(&state, &caller.account_id, &id).await?;
    match query.into_inner().rendition.as_deref() {
        None => serve(&state, &req, Served::original(&m)).await,
        Some(name @ ("thumb" | "large" | "xlarge" | "export")) => {
            serve(&state, &req, Served::rendition(&m, name)).await
        }
        Some(other) => Err(ApiError::bad_request(
            Code::InvalidQuery,
            format!("no rendition {other:?} (thumb, large, xlarge, export)"),
        )),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentQuery {
    /// `thumb`, `large`, `xlarge` or `export`: that smaller copy (the original until it is made,
    /// or when the original is no larger).
    #[serde(default)]
    pub rendition: Option<String>,
}

/// A medium's bytes through a signed link (`media::links`): for platforms that fetch a post's
/// media themselves, without an account. A link that is not creo's, or has expired, is 404.
pub async fn linked(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: Option<web::Query<LinkQuery>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account, id) = path.into_inner();
    let refused = |reason: &'static str| {
        metrics::counter!("creo_media_links_refused_total", "reason" => reason).increment(1);
        ApiError::not_found("no such medium")
    };
    let Some(LinkQuery { expires, signature }) = query.map(web::Query::into_inner) else {
        return Err(refused("malformed"));
    };
    if expires < crate::store::now_ms() / 1000 {
        return Err(refused("expired"));
    }
    if !crate::media::links::valid(&state.sealer, &account, &id, expires, &signature) {
        return Err(refused("bad_signature"));
    }
    let m = medium(&state, &account, &id).await?;
    // What leaves creo carries the mark on tiers that watermark exports.
    let watermarked = super::account_limits(&state, &account)
        .await?
        .watermarked_exports;
    if watermarked && m.kind == creo_core::media::MediaKind::Image {
        if m.rendition("export").is_none() {
            state.media.render_later(&m, true).await;
            return Err(ApiError::new(Code::TryAgain, "the export is being made").retry_after(5));
        }
        return serve(&state, &req, Served::rendition(&m, "export")).await;
    }
    serve(&state, &req, Served::original(&m)).await
}

#[derive(Deserialize)]
pub struct LinkQuery {
    expires: i64,
    signature: String,
}

/// Removes a medium, unless a scheduled post names it (409 `media_in_use`, the posts named) or
/// the brand kit shows it as a logo.
#[utoipa::path(delete, operation_id = "media_delete", path = "/api/v1/accounts/{account_id}/media/{media_id}",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("media_id" = String, Path, description = "the medium")),
    responses((status = 204, description = "removed, and its bytes no longer counted"),
              (status = 403, description = "viewers cannot remove media"),
              (status = 409, description = "a scheduled post names it, or it is a brand kit logo")))]
pub async fn delete(
    caller: AccountCaller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !caller.principal.role.can_write() {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "viewers cannot remove media",
        ));
    }
    let (_, id) = path.into_inner();
    let account = &caller.account_id;
    let m = medium(&state, account, &id).await?;
    let mut scheduled = Vec::new();
    for doc in state.stores.media.uses(account, &id).await? {
        let workflow = state.stores.workflows.workflow(&doc).await?;
        if workflow.is_some_and(|w| {
            &w.account_id == account && w.state == crate::workflow::State::Scheduled
        }) {
            scheduled.push(doc);
        }
    }
    if let Some(kit) = state.stores.brand.brand_kit(account).await? {
        if kit.uses_logo(&id) {
            return Err(ApiError::new(
                Code::MediaInUse,
                "it is a logo of the brand kit: take it out of the kit first",
            )
            .with_details(serde_json::json!({ "documents": [], "brand_kit": true })));
        }
    }
    if !scheduled.is_empty() {
        return Err(ApiError::new(
            Code::MediaInUse,
            format!("scheduled posts use it: {}", scheduled.join(", ")),
        )
        .with_details(serde_json::json!({ "documents": scheduled })));
    }
    // The bytes first: a row left behind can be deleted again; bytes left behind could not.
    for key in m.renditions.iter().map(|r| &r.key).chain([&m.key]) {
        state
            .media
            .files
            .delete(key)
            .await
            .map_err(|e| ApiError::new(Code::StoreUnavailable, e.to_string()))?;
    }
    // Only the request that removed the row gives its bytes back (two at once count once).
    if state.stores.media.delete_medium(account, &id).await? {
        state.stores.media.release_storage(account, m.bytes).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// What is served: the original, one of its renditions, or a brand font.
pub(super) struct Served<'a> {
    pub(super) key: &'a str,
    pub(super) content_type: &'a str,
    pub(super) sha256: &'a str,
    pub(super) bytes: u64,
    /// Never changes: cached for a year. A rendition not made yet is answered with the
    /// original, which must not be cached in its place.
    pub(super) immutable: bool,
}

impl<'a> Served<'a> {
    fn original(m: &'a Medium) -> Served<'a> {
        Served {
            key: &m.key,
            content_type: &m.content_type,
            sha256: &m.sha256,
            bytes: m.bytes,
            immutable: true,
        }
    }

    /// `name`'s rendition, or the original while it is not made (or the original is smaller).
    fn rendition(m: &'a Medium, name: &str) -> Served<'a> {
        match m.rendition(name) {
            Some(r) => Served {
                key: &r.key,
                content_type: &r.content_type,
                sha256: &r.sha256,
                bytes: r.bytes,
                immutable: true,
            },
            None => Served {
                immutable: false,
                ..Served::original(m)
            },
        }
    }
}

pub(super) async fn serve(
    state: &AppState,
    req: &HttpRequest,
    m: Served<'_>,
) -> Result<HttpResponse, ApiError> {
    let etag = format!("\"{}\"", m.sha256);
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if unchanged {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let wanted = match Range::parse(req) {
        Ok(Range::Bytes(specs)) => match &specs[..] {
            [one] => match ByteRangeSpec::to_satisfiable_range(one, m.bytes) {
                Some((start, end)) => Some(start..end + 1),
                None => {
                    return Ok(HttpResponse::RangeNotSatisfiable()
                        .insert_header((header::CONTENT_RANGE, format!("bytes */{}", m.bytes)))
                        .finish())
                }
            },
            // Several ranges at once: the whole medium instead (RFC 9110 allows it).
            _ => None,
        },
        _ => None,
    };
    let read = state
        .media
        .files
        .read(m.key, wanted.clone())
        .await
        .map_err(|e| ApiError::new(Code::StoreUnavailable, e.to_string()))?;
    let mut answer = if wanted.is_some() {
        let mut partial = HttpResponse::PartialContent();
        partial.insert_header((
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                read.range.start,
                read.range.end.saturating_sub(1),
                read.size
            ),
        ));
        partial
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::CONTENT_TYPE, m.content_type.to_string()))
        .insert_header((header::ETAG, etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((
            header::CACHE_CONTROL,
            if m.immutable {
                "private, max-age=31536000, immutable"
            } else {
                "private, no-cache"
            },
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .no_chunking(read.range.end - read.range.start);
    Ok(answer.streaming(
        read.bytes.map(|chunk| {
            chunk.map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))
        }),
    ))
}
