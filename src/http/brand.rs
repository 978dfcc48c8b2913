//! The brand kit over REST (rules in `creo_core::brand`): every member reads it; owners and
//! admins change it, with `If-Match` on its revision so two managers never silently undo each
//! other; they upload font files (checked by `creo_media::fonts` before anything is kept) and
//! remove them. Voice examples changed here become the brand voice that the score and
//! generation compare with.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::extract::{AccountCaller, Manager};
use super::media::{serve, Served};
use super::ApiError;
use crate::app::AppState;
use crate::auth::Principal;
use crate::http::Code;
use crate::media::fonts::{self, MAX_FONT_BYTES};
use crate::store::now_ms;
use creo_core::brand::{BrandFont, BrandKit, KitChange, MAX_FONTS};
use creo_core::media::{clean_file_name, MediaKind};

/// How often a change without `If-Match` is tried again when another lands first.
const ATTEMPTS: usize = 5;

/// The kit with its fonts, as the editor shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BrandKitView {
    #[serde(flatten)]
    pub kit: BrandKit,
    pub fonts: Vec<BrandFont>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FontQuery {
    /// The file's name, for people (the content decides what it is).
    #[serde(default)]
    pub name: Option<String>,
}

fn etag(revision: u64) -> String {
    format!("\"{revision}\"")
}

async fn view(state: &AppState, account_id: &str) -> Result<HttpResponse, ApiError> {
    let kit = state
        .stores
        .brand
        .brand_kit(account_id)
        .await?
        .unwrap_or_else(|| BrandKit::empty(account_id));
    let fonts = state.stores.brand.fonts(account_id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(kit.revision)))
        .json(BrandKitView { kit, fonts }))
}

/// The workspace's brand kit (an empty one before its first change); `ETag` is its revision.
#[utoipa::path(get, operation_id = "brand_kit_get", path = "/api/v1/accounts/{account_id}/brand-kit",
    params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "the kit and its fonts", body = BrandKitView)))]
pub async fn get(
    caller: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    view(&state, &caller.account_id).await
}

/// Changes the brand kit: each part sent replaces that part. `If-Match` with the `ETag` read
/// makes it refuse (412) when someone else changed the kit since.
#[utoipa::path(put, operation_id = "brand_kit_change", path = "/api/v1/accounts/{account_id}/brand-kit",
    params(("account_id" = String, Path, description = "the account (workspace) id")),
    request_body = KitChange,
    responses((status = 200, description = "the kit as changed", body = BrandKitView),
              (status = 400, description = "a part is not valid (the message says which)"),
              (status = 403, description = "owners and admins only"),
              (status = 412, description = "the kit changed since the revision in If-Match")))]
pub async fn change_kit(
    Manager {
        principal,
        account_id,
        ..
    }: Manager,
    req: HttpRequest,
    body: web::Json<KitChange>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let expected = match req.headers().get(header::IF_MATCH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().trim_matches('"').parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(Code::InvalidInput, "If-Match is the kit's ETag")
                })?,
        ),
    };
    change(&state, &principal, &account_id, body.into_inner(), expected).await?;
    view(&state, &account_id).await
}

/// Applies `change` to the account's kit, at revision `expected` when given (otherwise to
/// whatever is current, tried again when another change lands first). New voice examples are
/// embedded once (charged as embeddings), and become the brand voice when the kit is stored.
pub(super) async fn change(
    state: &AppState,
    principal: &Principal,
    account_id: &str,
    change: KitChange,
    expected: Option<u64>,
) -> Result<BrandKit, ApiError> {
    let invalid = |why: String| ApiError::bad_request(Code::InvalidBrandKit, why);
    if let Some(logos) = &change.logos {
        // Validated in shape first (a thousand ids are refused before a thousand reads).
        change
            .clone()
            .apply(&BrandKit::empty(account_id))
            .map_err(invalid)?;
        for logo in logos {
            let medium = state
                .stores
                .media
                .medium(account_id, &logo.media_id)
                .await?;
            if !medium.is_some_and(|m| m.kind == MediaKind::Image) {
                return Err(invalid(format!(
                    "{} is no image of this workspace's media library",
                    logo.media_id
                )));
            }
        }
    }
    // The examples embedded so far and their centroid: a retry does not pay for them again.
    let mut embedded: Option<(Vec<String>, Option<Vec<f32>>)> = None;
    for _ in 0..ATTEMPTS {
        let now = state
            .stores
            .brand
            .brand_kit(account_id)
            .await?
            .unwrap_or_else(|| BrandKit::empty(account_id));
        if expected.is_some_and(|e| e != now.revision) {
            return Err(changed_meanwhile());
        }
        let mut next = change.clone().apply(&now).map_err(invalid)?;
        let voice = if next.voice_examples == now.voice_examples {
            None
        } else {
            match &embedded {
                Some((examples, centroid)) if *examples == next.voice_examples => {
                    Some(centroid.clone())
                }
                _ => {
                    let examples = next.voice_examples.clone();
                    let centroid =
                        super::search::voice_centroid(state, principal, examples.clone()).await?;
                    embedded = Some((examples, centroid.clone()));
                    Some(centroid)
                }
            }
        };
        next.revision = now.revision + 1;
        next.updated_at = now_ms();
        next.updated_by = principal.actor();
        if state
            .stores
            .brand
            .put_brand_kit(&next, now.revision)
            .await?
        {
            // The voice follows the kit that was stored, never one refused.
            if let Some(centroid) = voice {
                super::search::put_voice(state, account_id, centroid).await?;
            }
            return Ok(next);
        }
        if expected.is_some() {
            return Err(changed_meanwhile());
        }
    }
    Err(ApiError::new(Code::TryAgain, "the brand kit kept changing: try again").retry_after(1))
}

fn changed_meanwhile() -> ApiError {
    ApiError::new(
        Code::BrandKitChanged,
        "the brand kit changed since you read it: read it again and redo your change",
    )
}

fn font_refusal(e: fonts::Refused) -> ApiError {
    let code = match &e {
        fonts::Refused::Unsupported(_) => Code::UnsupportedMediaType,
        fonts::Refused::Invalid(_) | fonts::Refused::Restricted => Code::InvalidFont,
    };
    metrics::counter!("creo_brand_fonts_total", "outcome" => code.as_str()).increment(1);
    ApiError::new(code, e.to_string())
}

/// Uploads a font file (TrueType or OpenType) to the brand kit.
#[utoipa::path(post, operation_id = "brand_font_upload", path = "/api/v1/accounts/{account_id}/brand-kit/fonts",
    params(("account_id" = String, Path, description = "the account (workspace) id"), FontQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the .ttf or .otf file"),
    responses((status = 201, description = "kept, with what creo read from it", body = BrandFont),
              (status = 402, description = "the workspace's storage quota is used up"),
              (status = 403, description = "owners and admins only"),
              (status = 409, description = "the kit has its 20 fonts"),
              (status = 413, description = "larger than 32 MB"),
              (status = 415, description = "no TrueType or OpenType font (a collection, a WOFF)"),
              (status = 422, description = "it does not parse, draws no letters, or its licence forbids embedding")))]
pub async fn upload_font(
    Manager {
        principal,
        account_id,
        ..
    }: Manager,
    req: HttpRequest,
    query: web::Query<FontQuery>,
    mut body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let too_large = || {
        metrics::counter!("creo_brand_fonts_total", "outcome" => "too_large").increment(1);
        ApiError::new(
            Code::TooLarge,
            format!("a font file is at most {} MB", MAX_FONT_BYTES >> 20),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_FONT_BYTES) {
        return Err(too_large());
    }
    if state.stores.brand.fonts(&account_id).await?.len() >= MAX_FONTS {
        return Err(ApiError::new(
            Code::TooManyFonts,
            format!("the brand kit has its {MAX_FONTS} fonts: remove one first"),
        ));
    }
    let limits = super::account_limits(&state, &account_id).await?;
    // Fonts are small: held in memory, never past the cap, then parsed on the blocking pool.
    let mut data = Vec::with_capacity(declared.unwrap_or(0).min(MAX_FONT_BYTES));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(Code::InvalidInput, e.to_string()))?;
        if data.len() + chunk.len() > MAX_FONT_BYTES {
            return Err(too_large());
        }
        data.extend_from_slice(&chunk);
    }
    let (checked, data) = tokio::task::spawn_blocking(move || (fonts::check(&data), data))
        .await
        .map_err(|e| ApiError::new(Code::StoreUnavailable, e.to_string()))?;
    let checked = checked.map_err(font_refusal)?;
    let font_id = format!("fnt_{}", crate::auth::secret::id());
    let font = BrandFont {
        key: format!("{account_id}/fonts/{font_id}"),
        font_id,
        account_id: account_id.clone(),
        family: checked.family,
        style: checked.style,
        weight: checked.weight,
        italic: checked.italic,
        content_type: checked.content_type.to_string(),
        glyphs: checked.glyphs,
        file_name: clean_file_name(&query.into_inner().name.unwrap_or_default()),
        bytes: data.len() as u64,
        sha256: hex::encode(Sha256::digest(&data)),
        uploaded_by: principal.user.to_string(),
        created_at: now_ms(),
    };
    // Counted against the media quota like any file the workspace keeps.
    let media = &state.stores.media;
    if !media
        .reserve_storage(&account_id, font.bytes, limits.media_storage_bytes)
        .await?
    {
        return Err(ApiError::new(
            Code::StorageQuotaExceeded,
            "the workspace's storage quota has no room for this font",
        ));
    }
    let kept = match state.media.files.put_bytes(&font.key, data).await {
        Ok(()) => state
            .stores
            .brand
            .put_font(&font)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(ApiError::new(Code::StoreUnavailable, e.to_string())),
    };
    if let Err(e) = kept {
        let _ = state.media.files.delete(&font.key).await;
        let _ = media.release_storage(&account_id, font.bytes).await;
        return Err(e);
    }
    metrics::counter!("creo_brand_fonts_total", "outcome" => "stored").increment(1);
    Ok(HttpResponse::Created().json(font))
}

async fn font(state: &AppState, account_id: &str, font_id: &str) -> Result<BrandFont, ApiError> {
    state
        .stores
        .brand
        .font(account_id, font_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such font"))
}

/// A brand font's bytes (for the editor's `@font-face`), with `ETag` and ranges.
#[utoipa::path(get, operation_id = "brand_font_content", path = "/api/v1/accounts/{account_id}/brand-kit/fonts/{font_id}",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("font_id" = String, Path, description = "the font")),
    responses((status = 200, description = "the font file", content_type = "font/ttf"),
              (status = 404, description = "no such font")))]
pub async fn font_content(
    caller: AccountCaller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let f = font(&state, &caller.account_id, &path.into_inner().1).await?;
    let served = Served {
        key: &f.key,
        content_type: &f.content_type,
        sha256: &f.sha256,
        bytes: f.bytes,
        immutable: true,
    };
    serve(&state, &req, served).await
}

/// Removes a font from the brand kit, and its bytes from the quota.
#[utoipa::path(delete, operation_id = "brand_font_delete", path = "/api/v1/accounts/{account_id}/brand-kit/fonts/{font_id}",
    params(("account_id" = String, Path, description = "the account (workspace) id"),
           ("font_id" = String, Path, description = "the font")),
    responses((status = 204, description = "removed"),
              (status = 403, description = "owners and admins only")))]
pub async fn delete_font(
    Manager { account_id, .. }: Manager,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let f = font(&state, &account_id, &path.into_inner().1).await?;
    state
        .media
        .files
        .delete(&f.key)
        .await
        .map_err(|e| ApiError::new(Code::StoreUnavailable, e.to_string()))?;
    // Only the request that removed the row gives its bytes back.
    if state
        .stores
        .brand
        .delete_font(&account_id, &f.font_id)
        .await?
    {
        state
            .stores
            .media
            .release_storage(&account_id, f.bytes)
            .await?;
    }
    Ok(HttpResponse::NoContent().finish())
}
