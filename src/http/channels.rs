//! An account's publishing channels over REST. Any member lists them (an editor picks channels
//! when scheduling); owners and admins add a webhook channel (its signing secret shown once),
//! connect or reconnect a platform channel through OAuth 2.0, and remove channels.
//!
//! Connecting: `connect` answers the platform's authorization URL (PKCE S256, `state` a
//! single-use token of ours, ten minutes) and gives the browser a cookie; the platform sends
//! the person back to `callback`, which checks the state and that the same browser came back,
//! exchanges the code, asks the platform who this is, stores the channel with its tokens
//! sealed, and sends the person on to the editor.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::{AccountCaller, Manager};
use super::ApiError;
use crate::app::AppState;
use crate::auth::secret;
use crate::channels::{
    adapters, apps, oauth, tokens, Channel, ChannelStatus, MAX_CHANNELS, OAUTH_PLATFORMS,
};
use crate::http::Code;
use crate::store::{now_ms, OneTimeToken, Purpose};

/// How long a person has to finish connecting at the platform.
const CONNECT_TTL_MS: i64 = 10 * 60 * 1000;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewWebhookChannel {
    /// What people call it (1-100 characters).
    pub name: String,
    /// `http://` or `https://`; each post is POSTed here, signed (`Creo-Signature`).
    pub url: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Connect {
    /// `x`, `linkedin`, `instagram`, `facebook`, `tiktok`, `pinterest` or `youtube`.
    pub platform: String,
    /// To reconnect an existing channel (one that needs it, or to renew its grant).
    #[serde(default)]
    pub channel_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Authorization {
    /// Send the person here; the platform brings them back to creo.
    pub authorize_url: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Callback {
    pub state: String,
    #[serde(default)]
    pub code: Option<String>,
    /// Set by the platform when the person declined.
    #[serde(default)]
    pub error: Option<String>,
}

/// A channel as people see it: never its secrets.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    pub channel_id: String,
    /// `webhook`, `x`, `linkedin`.
    pub platform: String,
    pub name: String,
    pub status: ChannelStatus,
    pub status_reason: Option<String>,
    /// A webhook channel's URL.
    pub url: Option<String>,
    /// The platform's id of the connected account.
    pub external_id: Option<String>,
    pub token_expires_at: Option<i64>,
    /// Its posting schedule (weekly slots), when it has one.
    pub queue: Option<crate::slots::QueueSchedule>,
    pub created_by: String,
    pub created_at: i64,
    /// Only in the answer that created a webhook channel: verify `Creo-Signature` with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl ChannelView {
    fn of(c: Channel, secret: Option<String>) -> ChannelView {
        ChannelView {
            channel_id: c.channel_id,
            platform: c.platform,
            name: c.name,
            status: c.status,
            status_reason: c.status_reason,
            url: c.url,
            external_id: c.external_id,
            token_expires_at: c.token_expires_at,
            queue: c.queue,
            created_by: c.created_by,
            created_at: c.created_at,
            secret,
        }
    }
}

/// What a connection under way keeps between `connect` and `callback`.
#[derive(Serialize, Deserialize)]
struct Pending {
    account_id: String,
    platform: String,
    channel_id: Option<String>,
    /// The PKCE verifier, sealed to this state.
    verifier: String,
    /// The digest of the cookie `connect` gave the browser that started: only that browser
    /// finishes. Without it, a workspace owner could send someone the authorization link and
    /// collect their account's tokens as a channel of the owner's workspace.
    #[serde(default)]
    browser: String,
}

/// The cookie that ties a connection to the browser that started it.
const BROWSER_COOKIE: &str = "creo_oauth";

fn cookie<'a>(req: &'a actix_web::HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all("cookie")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn room_for_one(state: &AppState, account_id: &str) -> Result<(), ApiError> {
    if state.stores.channels.channels(account_id).await?.len() >= MAX_CHANNELS {
        return Err(ApiError::bad_request(
            Code::TooManyChannels,
            format!("an account has at most {MAX_CHANNELS} channels"),
        ));
    }
    Ok(())
}

/// The account's channels, for choosing where a post goes.
#[utoipa::path(get, operation_id = "channels_list", path = "/api/v1/accounts/{account_id}/channels", params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "channels", body = Vec<ChannelView>)))]
pub async fn list(
    AccountCaller { account_id, .. }: AccountCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let all: Vec<ChannelView> = state
        .stores
        .channels
        .channels(&account_id)
        .await?
        .into_iter()
        .map(|c| ChannelView::of(c, None))
        .collect();
    Ok(HttpResponse::Ok().json(all))
}

/// Adds a webhook channel: posts scheduled to it are POSTed to its URL, signed.
#[utoipa::path(post, operation_id = "channels_create_webhook", path = "/api/v1/accounts/{account_id}/channels", params(("account_id" = String, Path, description = "the account (workspace) id")), request_body = NewWebhookChannel,
    responses((status = 201, description = "added; the secret is shown this once", body = ChannelView),
              (status = 400, description = "bad name or URL, or too many channels")))]
pub async fn create_webhook(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    body: web::Json<NewWebhookChannel>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            Code::InvalidName,
            "a channel's name is 1-100 characters",
        ));
    }
    crate::webhooks::validate_url(&body.url, state.outbound.policy())
        .map_err(|e| ApiError::bad_request(Code::InvalidUrl, e))?;
    room_for_one(&state, &account_id).await?;
    let channel_id = format!("ch_{}", secret::id());
    let signing = secret::generate("whsec_");
    let now = now_ms();
    let channel = Channel {
        sealed_secret: tokens::seal(&state.sealer, &signing, &channel_id, "secret"),
        channel_id,
        account_id: account_id.clone(),
        platform: "webhook".into(),
        name,
        status: ChannelStatus::Active,
        status_reason: None,
        url: Some(body.url),
        external_id: None,
        sealed_refresh: None,
        token_expires_at: None,
        queue: None,
        created_by: by.actor(),
        created_at: now,
        updated_at: now,
    };
    state.stores.channels.put_channel(&channel).await?;
    let (id, url) = (
        channel.channel_id.clone(),
        channel.url.clone().unwrap_or_default(),
    );
    super::audit(&state, &account_id, &by.actor(), "channel_added", &id, &url).await;
    Ok(HttpResponse::Created().json(ChannelView::of(channel, Some(signing))))
}

/// Removes a channel. Posts scheduled to it fail with that reason when their time comes.
#[utoipa::path(delete, operation_id = "channels_delete", path = "/api/v1/accounts/{account_id}/channels/{channel_id}", params(("account_id" = String, Path, description = "the account (workspace) id"), ("channel_id" = String, Path, description = "the channel's id")),
    responses((status = 204, description = "removed"), (status = 404, description = "no such channel")))]
pub async fn delete(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (_, channel_id) = path.into_inner();
    if !state
        .stores
        .channels
        .delete_channel(&account_id, &channel_id)
        .await?
    {
        return Err(ApiError::not_found("no such channel"));
    }
    super::audit(
        &state,
        &account_id,
        &by.actor(),
        "channel_removed",
        &channel_id,
        "",
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Starts connecting (or reconnecting) a platform channel: where to send the person.
#[utoipa::path(post, operation_id = "channels_connect", path = "/api/v1/accounts/{account_id}/channels/connect", params(("account_id" = String, Path, description = "the account (workspace) id")), request_body = Connect,
    responses((status = 200, description = "the platform's authorization URL", body = Authorization),
              (status = 400, description = "a platform this server cannot connect"),
              (status = 404, description = "no such channel to reconnect")))]
pub async fn connect(
    Manager {
        principal: by,
        account_id,
        ..
    }: Manager,
    body: web::Json<Connect>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Connect {
        platform,
        channel_id,
    } = body.into_inner();
    if !OAUTH_PLATFORMS.contains(&platform.as_str()) {
        return Err(ApiError::bad_request(
            Code::UnknownPlatform,
            format!(
                "no such platform {platform:?} (platforms: {})",
                OAUTH_PLATFORMS.join(", ")
            ),
        ));
    }
    let app = apps::app(&state.config, &platform)
        .map_err(|e| ApiError::bad_request(Code::PlatformUnavailable, e))?;
    match &channel_id {
        Some(id) => match state.stores.channels.channel(&account_id, id).await? {
            Some(c) if c.platform == platform => {}
            _ => return Err(ApiError::not_found("no such channel on that platform")),
        },
        None => room_for_one(&state, &account_id).await?,
    }
    let token = secret::generate("oauth_");
    let hash = secret::digest(&token);
    let (authorize_url, verifier) = oauth::authorize(&app, &redirect_uri(&state), &token)
        .map_err(|e| ApiError::new(Code::PlatformUnavailable, e.to_string()))?;
    let browser = secret::generate("ob_");
    let pending = Pending {
        account_id,
        platform,
        channel_id,
        verifier: state.sealer.seal(&verifier, &hash),
        browser: secret::digest(&browser),
    };
    let now = now_ms();
    state
        .stores
        .one_time_tokens
        .create_token(
            &OneTimeToken {
                user_id: by.user.to_string(),
                purpose: Purpose::ChannelConnect,
                created_at: now,
                expires_at: now + CONNECT_TTL_MS,
                payload: Some(serde_json::to_string(&pending).expect("json")),
            },
            &hash,
        )
        .await?;
    let secure = if state.config.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            "Set-Cookie",
            format!(
                "{BROWSER_COOKIE}={browser}; Path=/api/v1/channels/oauth; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                CONNECT_TTL_MS / 1000
            ),
        ))
        .json(Authorization { authorize_url }))
}

/// Where platforms send people back; registered as the app's redirect URI.
fn redirect_uri(state: &AppState) -> String {
    format!(
        "{}/api/v1/channels/oauth/callback",
        state.config.public_url().trim_end_matches('/')
    )
}

/// The platform sends the person back here. Answers with a redirect to the editor:
/// `/?channel_connected=<id>`, or `/?channel_error=<why>`.
#[utoipa::path(get, operation_id = "channels_callback", path = "/api/v1/channels/oauth/callback", params(Callback),
    responses((status = 303, description = "on to the editor, with the new channel or why not"),
              (status = 400, description = "an unknown, used or expired state")))]
pub async fn callback(
    req: actix_web::HttpRequest,
    query: web::Query<Callback>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let hash = secret::digest(&query.state);
    let spent = state
        .stores
        .one_time_tokens
        .spend_token(&hash, Purpose::ChannelConnect, now_ms())
        .await?;
    let Some(token) = spent else {
        return Err(ApiError::bad_request(
            Code::InvalidLinkToken,
            "this connection link is unknown, used or expired: start again",
        ));
    };
    let pending: Pending = token
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .ok_or_else(|| ApiError::new(Code::Internal, "a connection kept no details"))?;
    let base = state.config.public_url().trim_end_matches('/').to_string();
    let to_editor = |query: String| {
        HttpResponse::SeeOther()
            .insert_header(("Location", format!("{base}/?{query}")))
            .finish()
    };
    let refused = |why: String| {
        metrics::counter!("creo_channel_connections_total", "outcome" => "refused").increment(1);
        to_editor(format!(
            "channel_error={}",
            url::form_urlencoded::byte_serialize(why.as_bytes()).collect::<String>()
        ))
    };
    let same_browser =
        cookie(&req, BROWSER_COOKIE).is_some_and(|c| secret::digest(c) == pending.browser);
    if !same_browser {
        return Ok(refused(
            "this connection was started in another browser: start it again from creo".into(),
        ));
    }
    if let Some(error) = query.error {
        return Ok(refused(format!(
            "{} said: {}",
            pending.platform,
            error.chars().take(100).collect::<String>()
        )));
    }
    let Some(code) = query.code.filter(|c| !c.is_empty() && c.len() <= 2048) else {
        return Ok(refused("the platform sent no code".into()));
    };
    match finish(&state, &token.user_id, &pending, &hash, &code).await {
        Ok(channel_id) => {
            metrics::counter!("creo_channel_connections_total", "outcome" => "connected")
                .increment(1);
            Ok(to_editor(format!("channel_connected={channel_id}")))
        }
        Err(why) => Ok(refused(why)),
    }
}

/// The rest of a connection once its state checked out: the person still manages the account,
/// the code exchanges for tokens, the platform says who they are; the channel stored.
async fn finish(
    state: &AppState,
    user_id: &str,
    pending: &Pending,
    hash: &str,
    code: &str,
) -> Result<String, String> {
    let store_error = |e: crate::store::StoreError| e.to_string();
    let manages = state
        .stores
        .members
        .members(&pending.account_id)
        .await
        .map_err(store_error)?
        .iter()
        .any(|m| m.user_id == user_id && m.role.can_manage());
    if !manages {
        return Err("only owners and admins connect channels".into());
    }
    let app = apps::app(&state.config, &pending.platform)?;
    let verifier = state
        .sealer
        .open(&pending.verifier, hash)
        .map_err(|e| e.to_string())?;
    let tokens = adapters::connect(&state.outbound, &app, &redirect_uri(state), code, &verifier)
        .await
        .map_err(|e| e.to_string())?;
    let (external_id, name) = adapters::identify(
        &pending.platform,
        &state.outbound,
        &app.api_url,
        &tokens.access,
    )
    .await?;
    let now = now_ms();
    let existing = match &pending.channel_id {
        Some(id) => {
            let c = state
                .stores
                .channels
                .channel(&pending.account_id, id)
                .await
                .map_err(store_error)?
                .ok_or("the channel was removed meanwhile")?;
            if c.external_id.as_deref() != Some(external_id.as_str()) {
                return Err(format!(
                    "that is {name}, not {}: reconnect with the same {} account",
                    c.name, pending.platform
                ));
            }
            Some(c)
        }
        None => {
            room_for_one(state, &pending.account_id)
                .await
                .map_err(|e| e.message)?;
            None
        }
    };
    let channel = existing.unwrap_or_else(|| Channel {
        channel_id: format!("ch_{}", secret::id()),
        account_id: pending.account_id.clone(),
        platform: pending.platform.clone(),
        name: name.clone(),
        status: ChannelStatus::Active,
        status_reason: None,
        url: None,
        external_id: Some(external_id),
        sealed_secret: String::new(),
        sealed_refresh: None,
        token_expires_at: None,
        queue: None,
        created_by: user_id.to_string(),
        created_at: now,
        updated_at: now,
    });
    let channel = Channel {
        name,
        ..tokens::with_tokens(&state.sealer, channel, &tokens)
    };
    state
        .stores
        .channels
        .put_channel(&channel)
        .await
        .map_err(store_error)?;
    let action = if pending.channel_id.is_some() {
        "channel_reconnected"
    } else {
        "channel_connected"
    };
    let detail = format!("{} {}", channel.platform, channel.name);
    super::audit(
        state,
        &pending.account_id,
        user_id,
        action,
        &channel.channel_id,
        &detail,
    )
    .await;
    Ok(channel.channel_id)
}
