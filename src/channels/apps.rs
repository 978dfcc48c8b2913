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
    /// How the client authenticates at the token endpoint: X takes HTTP Basic, LinkedIn the
    /// credentials in the form body.
    pub auth_type: AuthType,
}

/// A platform's published endpoints and the scopes publishing needs (2026).
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
            scopes: "tweet.read tweet.write users.read offline.access",
            auth_type: AuthType::BasicAuth,
        },
        "linkedin" => Defaults {
            auth_url: "https://www.linkedin.com/oauth/v2/authorization",
            token_url: "https://www.linkedin.com/oauth/v2/accessToken",
            api_url: "https://api.linkedin.com",
            scopes: "openid profile w_member_social",
            auth_type: AuthType::RequestBody,
        },
        "instagram" => Defaults {
            auth_url: "https://www.instagram.com/oauth/authorize",
            token_url: "https://api.instagram.com/oauth/access_token",
            api_url: "https://graph.instagram.com",
            scopes: "instagram_business_basic instagram_business_content_publish",
            auth_type: AuthType::RequestBody,
        },
        _ => return None,
    })
}

/// The app `platform` connects through, or why it cannot be connected here.
pub fn app(config: &Config, platform: &str) -> Result<App, String> {
    if !super::adapters::PUBLISHES.contains(&platform) {
        return Err(format!(
            "creo cannot publish to {platform} yet (it can to: webhook, {})",
            super::adapters::PUBLISHES.join(", ")
        ));
    }
    let defaults = defaults(platform).expect("every platform with an adapter has defaults");
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
    })
}
