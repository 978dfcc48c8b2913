//! OAuth 2.0 against a platform: the authorization code flow with PKCE (RFC 7636, S256) and
//! a `state` that is a single-use token of ours, the code exchange, and refresh. The `oauth2`
//! crate builds and reads the requests; they are sent through `Outbound`, so a token endpoint
//! is held to the same address policy as every outgoing request.

use std::future::Future;
use std::pin::Pin;

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    StandardErrorResponse, TokenResponse, TokenUrl,
};

use super::apps::App;
use crate::outbound::Outbound;
use crate::store::now_ms;

/// The most of a token endpoint's answer that is read.
const MAX_TOKEN_ANSWER: usize = 64 * 1024;

/// Tokens as a platform granted them.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
    /// Milliseconds since the epoch.
    pub expires_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The platform refused the grant (`invalid_grant` and the like): the code was used or
    /// the refresh token revoked. Only reconnecting helps.
    #[error("the platform refused: {0}")]
    Refused(String),
    /// No usable answer (unreachable, 5xx, garbled): worth trying again.
    #[error("the platform's token endpoint failed: {0}")]
    Unavailable(String),
    #[error("the platform app is misconfigured: {0}")]
    Config(String),
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn client(app: &App, redirect: &str) -> Result<Client, OAuthError> {
    let bad = |e: oauth2::url::ParseError| OAuthError::Config(e.to_string());
    let mut client = BasicClient::new(ClientId::new(app.client_id.clone()))
        .set_auth_uri(AuthUrl::new(app.auth_url.clone()).map_err(bad)?)
        .set_token_uri(TokenUrl::new(app.token_url.clone()).map_err(bad)?)
        .set_redirect_uri(RedirectUrl::new(redirect.to_string()).map_err(bad)?)
        .set_auth_type(app.auth_type.clone());
    if let Some(secret) = &app.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.clone()));
    }
    Ok(client)
}

/// Where to send the person, and the PKCE verifier to keep until they come back with `state`.
pub fn authorize(app: &App, redirect: &str, state: &str) -> Result<(String, String), OAuthError> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = state.to_string();
    let client = client(app, redirect)?;
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(app.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    for (name, value) in &app.authorize_extra {
        request = request.add_extra_param(*name, value);
    }
    let (url, _) = request.url();
    Ok((url.to_string(), verifier.secret().clone()))
}

/// Exchanges the code the person came back with.
pub async fn exchange(
    outbound: &Outbound,
    app: &App,
    redirect: &str,
    code: &str,
    verifier: &str,
) -> Result<Tokens, OAuthError> {
    let http = sender(outbound);
    let answer = client(app, redirect)?
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
        .request_async(&http)
        .await;
    tokens(answer, None)
}

/// New tokens for a refresh token. A platform that rotates refresh tokens sends a new one;
/// one that does not leaves the old one in use.
pub async fn refresh(outbound: &Outbound, app: &App, refresh: &str) -> Result<Tokens, OAuthError> {
    let http = sender(outbound);
    // The redirect is not part of a refresh; any valid URL satisfies the builder.
    let answer = client(app, "http://localhost/")?
        .exchange_refresh_token(&RefreshToken::new(refresh.to_string()))
        .request_async(&http)
        .await;
    tokens(answer, Some(refresh))
}

type Answer = Result<
    oauth2::basic::BasicTokenResponse,
    RequestTokenError<HttpFailure, StandardErrorResponse<BasicErrorResponseType>>,
>;

fn tokens(answer: Answer, old_refresh: Option<&str>) -> Result<Tokens, OAuthError> {
    match answer {
        Ok(t) => Ok(Tokens {
            access: t.access_token().secret().clone(),
            refresh: t
                .refresh_token()
                .map(|r| r.secret().clone())
                .or_else(|| old_refresh.map(str::to_string)),
            expires_at: t
                .expires_in()
                .map(|d| now_ms() + d.as_millis().min(i64::MAX as u128) as i64),
        }),
        Err(RequestTokenError::ServerResponse(e)) => {
            let mut reason = e.error().to_string();
            if let Some(d) = e.error_description() {
                reason = format!("{reason}: {}", d.chars().take(200).collect::<String>());
            }
            Err(match e.error() {
                // RFC 6749 §4.1.2.1: the server's trouble, not the grant's.
                BasicErrorResponseType::Extension(x)
                    if x == "temporarily_unavailable" || x == "server_error" =>
                {
                    OAuthError::Unavailable(reason)
                }
                // The operator's app, not the person's connection: reconnecting cannot help.
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => OAuthError::Config(reason),
                _ => OAuthError::Refused(reason),
            })
        }
        Err(RequestTokenError::Request(e)) => Err(OAuthError::Unavailable(e.to_string())),
        Err(RequestTokenError::Parse(e, _)) => Err(OAuthError::Unavailable(format!(
            "unreadable answer: {}",
            e.path()
        ))),
        Err(RequestTokenError::Other(e)) => Err(OAuthError::Unavailable(e)),
    }
}

/// Why a request `oauth2` asked for got no answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpFailure(String);

type Sent = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpFailure>> + Send>>;

/// `oauth2`'s HTTP client: its request, sent through `Outbound`, its answer read up to
/// `MAX_TOKEN_ANSWER`.
fn sender(outbound: &Outbound) -> impl Fn(oauth2::HttpRequest) -> Sent {
    let outbound = outbound.clone();
    move |request: oauth2::HttpRequest| {
        let outbound = outbound.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let sent = outbound
                .request(parts.method, &parts.uri.to_string())
                .map_err(|e| HttpFailure(format!("the token endpoint is not allowed: {e}")))?
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| {
                    HttpFailure(if e.is_timeout() {
                        "no answer in time".into()
                    } else {
                        "unreachable".into()
                    })
                })?;
            let (status, headers) = (sent.status(), sent.headers().clone());
            let body = Outbound::bounded_body(sent, MAX_TOKEN_ANSWER)
                .await
                .map_err(HttpFailure)?;
            let mut answer = http::Response::new(body);
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        }) as Sent
    }
}
