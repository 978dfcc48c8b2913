//! The OAuth apps an operator registered, with each platform's published endpoints filled in
//! where the configuration leaves them out.

use oauth2::AuthType;

use crate::config::{Config, PlatformApp};

/// One platform's app, every endpoint known.
#[derive(Debug, Clone)]
pub struct App {
    pub platform: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub auth_url: String,
    pub token_url: String,
    pub api_url: String,
    pub scopes: Vec<String>,
    /// How the client authenticates at the token endpoint: X and Pinterest take HTTP Basic,
    /// the others the credentials in the form body.
    pub auth_type: AuthType,
    /// What the authorization URL carries besides RFC 6749's parameters: Google's
    /// `access_type=offline` (or no refresh token comes back), TikTok's `client_key`.
    pub authorize_extra: Vec<(&'static str, String)>,
}

/// A platform's published endpoints and the scopes publishing needs (2026). Platforms that
/// separate scopes with commas (Facebook, Pinterest, TikTok) have them as one word.
struct Defaults {
    auth_url: &'static str,
    token_url: &'static str,
    api_url: &'static str,
    scopes: &'static str,
    auth_type: AuthType,
}

fn defaults(platform: &str) -> Option<Defaults> {
    Some(match platform {
        "x" => Defaults {
            auth_url: "https://x.com/i/oauth2/authorize",
            token_url: "https://api.x.com/2/oauth2/token",
            api_url: "https://api.x.com",
            scopes: "tweet.read tweet.write users.read offline.access media.write",
            auth_type: AuthType::BasicAuth,
        },
        "linkedin" => Defaults {
            auth_url: "https://www.linkedin.com/oauth/v2/authorization",
            token_url: "https://www.linkedin.com/oauth/v2/accessToken",
            api_url: "https://api.linkedin.com",
            scopes: "openid profile w_member_social r_member_postAnalytics",
            auth_type: AuthType::RequestBody,
        },
        "instagram" => Defaults {
            auth_url: "https://www.instagram.com/oauth/authorize",
            token_url: "https://api.instagram.com/oauth/access_token",
            api_url: "https://graph.instagram.com",
            scopes: "instagram_business_basic instagram_business_content_publish",
            auth_type: AuthType::RequestBody,
        },
        "facebook" => Defaults {
            auth_url: "https://www.facebook.com/v23.0/dialog/oauth",
            token_url: "https://graph.facebook.com/v23.0/oauth/access_token",
            api_url: "https://graph.facebook.com/v23.0",
            scopes: "pages_show_list,pages_manage_posts,pages_read_engagement,read_insights",
            auth_type: AuthType::RequestBody,
        },
        "pinterest" => Defaults {
            auth_url: "https://www.pinterest.com/oauth/",
            token_url: "https://api.pinterest.com/v5/oauth/token",
            api_url: "https://api.pinterest.com",
            scopes: "boards:read,pins:read,pins:write,user_accounts:read",
            auth_type: AuthType::BasicAuth,
        },
        "tiktok" => Defaults {
            auth_url: "https://www.tiktok.com/v2/auth/authorize/",
            token_url: "https://open.tiktokapis.com/v2/oauth/token/",
            api_url: "https://open.tiktokapis.com",
            scopes: "user.info.basic,video.publish,video.list",
            auth_type: AuthType::RequestBody,
        },
        "youtube" => Defaults {
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth",
            token_url: "https://oauth2.googleapis.com/token",
            api_url: "https://www.googleapis.com",
            scopes: "https://www.googleapis.com/auth/youtube.upload \
                     https://www.googleapis.com/auth/youtube.readonly",
            auth_type: AuthType::RequestBody,
        },
        _ => return None,
    })
}

/// The app `platform` connects through, or why it cannot be connected here.
pub fn app(config: &Config, platform: &str) -> Result<App, String> {
    let Some(defaults) = defaults(platform) else {
        return Err(format!("creo cannot publish to {platform}"));
    };
    let Some(configured) = config.platforms.get(platform) else {
        return Err(format!(
            "this server has no {platform} app configured (CREO_PLATFORMS__{}__CLIENT_ID)",
            platform.to_uppercase()
        ));
    };
    let PlatformApp {
        client_id,
        client_secret,
        auth_url,
        token_url,
        api_url,
        scopes,
    } = configured.clone();
    let authorize_extra = match platform {
        // TikTok names the client `client_key`.
        "tiktok" => vec![("client_key", client_id.clone())],
        // A refresh token, and again on a reconnection (Google sends one only at consent).
        "youtube" => vec![
            ("access_type", "offline".to_string()),
            ("prompt", "consent".to_string()),
        ],
        _ => Vec::new(),
    };
    Ok(App {
        platform: platform.to_string(),
        client_id,
        client_secret,
        auth_url: auth_url.unwrap_or_else(|| defaults.auth_url.into()),
        token_url: token_url.unwrap_or_else(|| defaults.token_url.into()),
        api_url: api_url
            .unwrap_or_else(|| defaults.api_url.into())
            .trim_end_matches('/')
            .to_string(),
        scopes: scopes
            .as_deref()
            .unwrap_or(defaults.scopes)
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        auth_type: defaults.auth_type,
        authorize_extra,
    })
}
