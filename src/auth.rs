//! Access tokens: JWT verification (HS256 secret, or an RS256/ES256/EdDSA public key), minting
//! for `creo token`, roles, and the development secret kept under the data directory.
//! Passwords and opaque secrets (refresh tokens, API keys) live in the submodules.

pub mod password;
pub mod sealed;
pub mod secret;
pub mod sessions;
pub mod totp;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{Config, Mode};

pub use creo_core::role::Role;

/// The token contract (docs/accounts.md): `sub`, `acct`, `role`, `exp`, optional `doc`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub acct: String,
    pub role: Role,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// The login session (refresh-token family) a token was issued for. Such tokens take the
    /// user's current membership role, not the role they were minted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Who is asking, once the token is verified.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: Arc<str>,
    pub account: Arc<str>,
    pub role: Role,
    /// Set when the token opens one document only.
    pub doc: Option<String>,
    /// Set for a person logged in with a password (see `Claims::sid`).
    pub session: Option<Arc<str>>,
    /// Set when the request authenticated with an API key.
    pub api_key: Option<Arc<KeyGrant>>,
}

/// What an API key may do.
#[derive(Debug, Clone)]
pub struct KeyGrant {
    pub key_id: String,
    pub scopes: Vec<String>,
}

/// The scopes an API key can be given.
pub const SCOPES: [&str; 5] = [
    "documents:read",
    "documents:write",
    "tokens:mint",
    "billing:read",
    "billing:charge",
];

impl Principal {
    pub fn may_open(&self, doc_id: &str) -> bool {
        self.doc.as_deref().is_none_or(|d| d == doc_id)
    }

    /// A person (or app token) is limited by role alone; an API key also by its scopes.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.api_key
            .as_ref()
            .is_none_or(|k| k.scopes.iter().any(|s| s == scope))
    }

    /// The key of every per-user limit (connections, message rate): the account and the user
    /// together, so a user id that another account also uses (an app's own user ids, minted by
    /// its API key) never shares a budget across accounts. Length-prefixed: unambiguous
    /// whatever either id contains.
    pub fn limit_key(&self) -> Arc<str> {
        format!("{}:{}:{}", self.account.len(), self.account, self.user).into()
    }

    /// How the actor appears in the audit log and the ledger.
    pub fn actor(&self) -> String {
        match &self.api_key {
            Some(k) => format!("apikey:{}", k.key_id),
            None => self.user.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing access token")]
    Missing,
    #[error("access token expired")]
    Expired,
    #[error("access token signed with a refused algorithm")]
    WrongAlgorithm,
    #[error("invalid access token: {0}")]
    Invalid(String),
}

impl AuthError {
    pub fn metric_reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Expired => "expired",
            AuthError::WrongAlgorithm => "wrong_algorithm",
            AuthError::Invalid(_) => "invalid",
        }
    }
}

pub struct TokenKeys {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
}

impl TokenKeys {
    pub fn from_config(config: &Config) -> anyhow::Result<TokenKeys> {
        let (algorithm, decoding, encoding) = if let Some(public) = &config.jwt_public_key {
            let name = config.jwt_algorithm.as_deref().unwrap_or("RS256");
            let algorithm: Algorithm = name
                .parse()
                .with_context(|| format!("unknown jwt_algorithm {name}"))?;
            let pem = std::fs::read(public)
                .with_context(|| format!("reading public key {}", public.display()))?;
            let private = match &config.jwt_private_key {
                Some(path) => Some(
                    std::fs::read(path)
                        .with_context(|| format!("reading private key {}", path.display()))?,
                ),
                None => None,
            };
            let (decoding, encoding) = match algorithm {
                Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => (
                    DecodingKey::from_rsa_pem(&pem)?,
                    private.map(|p| EncodingKey::from_rsa_pem(&p)).transpose()?,
                ),
                Algorithm::ES256 | Algorithm::ES384 => (
                    DecodingKey::from_ec_pem(&pem)?,
                    private.map(|p| EncodingKey::from_ec_pem(&p)).transpose()?,
                ),
                Algorithm::EdDSA => (
                    DecodingKey::from_ed_pem(&pem)?,
                    private.map(|p| EncodingKey::from_ed_pem(&p)).transpose()?,
                ),
                other => bail!("jwt_algorithm {other:?} needs a secret, not a public key"),
            };
            (algorithm, decoding, encoding)
        } else {
            let secret = match &config.jwt_secret {
                Some(s) if s.len() >= 16 => s.clone().into_bytes(),
                Some(_) => bail!("CREO_JWT_SECRET must be at least 16 bytes"),
                None if config.mode == Mode::Dev => {
                    crate::private_files::dev_key(&config.data, "jwt_secret")?
                }
                None => bail!("production mode needs CREO_JWT_SECRET or CREO_JWT_PUBLIC_KEY"),
            };
            (
                Algorithm::HS256,
                DecodingKey::from_secret(&secret),
                Some(EncodingKey::from_secret(&secret)),
            )
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(TokenKeys {
            algorithm,
            decoding,
            encoding,
            validation,
        })
    }

    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidAlgorithm => AuthError::WrongAlgorithm,
                _ => AuthError::Invalid(e.to_string()),
            })?;
        let c = data.claims;
        if c.sub.is_empty() || c.acct.is_empty() {
            return Err(AuthError::Invalid("empty sub or acct".into()));
        }
        Ok(Principal {
            user: c.sub.into(),
            account: c.acct.into(),
            role: c.role,
            doc: c.doc,
            session: c.sid.map(Into::into),
            api_key: None,
        })
    }

    pub fn mint(
        &self,
        user: &str,
        account: &str,
        role: Role,
        doc: Option<String>,
        ttl: Duration,
    ) -> anyhow::Result<String> {
        self.mint_for_session(user, account, role, doc, None, ttl)
    }

    /// `mint`, for a login session when `sid` is set.
    pub fn mint_for_session(
        &self,
        user: &str,
        account: &str,
        role: Role,
        doc: Option<String>,
        sid: Option<String>,
        ttl: Duration,
    ) -> anyhow::Result<String> {
        let Some(key) = &self.encoding else {
            bail!("minting needs a private key (jwt_private_key) or a secret");
        };
        let now = now_secs();
        let claims = Claims {
            sub: user.into(),
            acct: account.into(),
            role,
            iat: now,
            exp: now + ttl.as_secs(),
            doc,
            sid,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(self.algorithm),
            &claims,
            key,
        )?)
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        let config = Config {
            jwt_secret: Some(secret.into()),
            ..Config::default()
        };
        TokenKeys::from_config(&config).unwrap()
    }

    #[test]
    fn minted_tokens_verify_and_carry_their_claims() {
        let k = keys("0123456789abcdef0123");
        let t = k
            .mint(
                "u1",
                "acme",
                Role::Viewer,
                Some("d1".into()),
                Duration::from_secs(60),
            )
            .unwrap();
        let p = k.verify(&t).unwrap();
        assert_eq!(
            (&*p.user, &*p.account, p.role),
            ("u1", "acme", Role::Viewer)
        );
        assert!(p.may_open("d1") && !p.may_open("d2"));
    }

    #[test]
    fn forged_and_expired_tokens_are_refused() {
        let t = keys("another-secret-entirely")
            .mint("u1", "acme", Role::Owner, None, Duration::from_secs(60))
            .unwrap();
        assert!(matches!(
            keys("0123456789abcdef0123").verify(&t),
            Err(AuthError::Invalid(_))
        ));
        let k = keys("0123456789abcdef0123");
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                sub: "u".into(),
                acct: "a".into(),
                role: Role::Editor,
                iat: 0,
                exp: now_secs() - 600,
                doc: None,
                sid: None,
            },
            &EncodingKey::from_secret(b"0123456789abcdef0123"),
        )
        .unwrap();
        assert!(matches!(k.verify(&expired), Err(AuthError::Expired)));
    }

    #[test]
    fn unsigned_alg_none_tokens_are_refused() {
        // {"alg":"none","typ":"JWT"} . {"sub":"u","acct":"a","role":"owner","exp":9999999999} .
        let t = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1IiwiYWNjdCI6ImEiLCJyb2xlIjoib3duZXIiLCJleHAiOjk5OTk5OTk5OTl9.";
        assert!(keys("0123456789abcdef0123").verify(t).is_err());
    }

    #[test]
    fn short_secrets_are_refused_at_start() {
        let config = Config {
            jwt_secret: Some("short".into()),
            ..Config::default()
        };
        assert!(TokenKeys::from_config(&config).is_err());
    }
}
