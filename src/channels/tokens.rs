//! A channel's credentials when a post goes out: a webhook's signing secret, or a platform's
//! access token, refreshed first when it expires within `REFRESH_AHEAD` or the platform just
//! refused it. Refreshing is one at a time per channel on a node, and re-reads the channel
//! first: platforms that rotate refresh tokens (X does) take each one once, so two refreshes
//! racing would leave the loser holding a dead token. A refusal marks the channel
//! `needs_reconnect`.
//!
//! Across nodes two refreshes can still race; the loser re-reads the channel before it gives
//! up, and uses the winner's tokens when they changed meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::adapters;
use super::oauth::{OAuthError, Tokens};
use super::{apps, Channel, ChannelStatus};
use crate::auth::sealed::SecretBox;
use crate::config::Config;
use crate::outbound::Outbound;
use crate::store::{now_ms, ChannelStore, StoreError};

/// Tokens expiring sooner than this are refreshed before use.
pub const REFRESH_AHEAD_MS: i64 = 5 * 60 * 1000;
/// Instagram's long-lived tokens (60 days) renew only while valid and at least a day old:
/// they are renewed at the first use in their last 50 days, so a channel used at least every
/// 50 days never lapses.
pub const INSTAGRAM_REFRESH_AHEAD_MS: i64 = 50 * 86_400_000;

/// What sending through a channel takes now.
#[derive(Debug)]
pub struct Ready {
    /// The platform's API, or the webhook's URL.
    pub api_url: String,
    /// The access token, or the webhook's secret.
    pub token: String,
    /// The channel as stored now (with refreshed tokens).
    pub channel: Channel,
}

#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// The channel was marked `needs_reconnect` just now (`true`) or already was.
    #[error("the channel needs reconnecting: {reason}")]
    Reconnect { reason: String, just_now: bool },
    #[error("{0}")]
    Retry(String),
    #[error("{0}")]
    Fail(String),
}

impl From<StoreError> for NotReady {
    fn from(e: StoreError) -> NotReady {
        NotReady::Retry(e.to_string())
    }
}

/// Seals `secret` for `channel_id`'s field `what` (`secret`, `access`, `refresh`), bound to
/// that row and field.
pub fn seal(sealer: &SecretBox, secret: &str, channel_id: &str, what: &str) -> String {
    sealer.seal(secret, &format!("{channel_id}:{what}"))
}

/// What `seal` sealed for `channel_id`'s field `what`.
pub fn open(
    sealer: &SecretBox,
    sealed: &str,
    channel_id: &str,
    what: &str,
) -> Result<String, crate::auth::sealed::Unsealable> {
    sealer.open(sealed, &format!("{channel_id}:{what}"))
}

/// `channel` holding `tokens` (sealed), active again.
pub fn with_tokens(sealer: &SecretBox, mut channel: Channel, tokens: &Tokens) -> Channel {
    channel.sealed_secret = seal(sealer, &tokens.access, &channel.channel_id, "access");
    channel.sealed_refresh = tokens
        .refresh
        .as_deref()
        .map(|r| seal(sealer, r, &channel.channel_id, "refresh"));
    channel.token_expires_at = tokens.expires_at;
    channel.status = ChannelStatus::Active;
    channel.status_reason = None;
    channel.updated_at = now_ms();
    channel
}

pub struct Credentials {
    store: Arc<dyn ChannelStore>,
    sealer: Arc<SecretBox>,
    outbound: Outbound,
    config: Arc<Config>,
    refreshing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Credentials {
    pub fn new(
        store: Arc<dyn ChannelStore>,
        sealer: Arc<SecretBox>,
        outbound: Outbound,
        config: Arc<Config>,
    ) -> Credentials {
        Credentials {
            store,
            sealer,
            outbound,
            config,
            refreshing: Mutex::new(HashMap::new()),
        }
    }

    fn open(&self, sealed: &str, channel_id: &str, what: &str) -> Result<String, NotReady> {
        open(&self.sealer, sealed, channel_id, what).map_err(|e| NotReady::Fail(e.to_string()))
    }

    /// The credentials to send through `channel` with; `refused` when the platform just
    /// refused its access token (refresh it even if it looks fresh).
    pub async fn ready(&self, channel: &Channel, refused: bool) -> Result<Ready, NotReady> {
        if channel.status == ChannelStatus::NeedsReconnect {
            return Err(NotReady::Reconnect {
                reason: channel.status_reason.clone().unwrap_or_default(),
                just_now: false,
            });
        }
        if channel.platform == "webhook" {
            return Ok(Ready {
                api_url: channel.url.clone().unwrap_or_default(),
                token: self.open(&channel.sealed_secret, &channel.channel_id, "secret")?,
                channel: channel.clone(),
            });
        }
        let app = apps::app(&self.config, &channel.platform).map_err(NotReady::Fail)?;
        let ahead = if channel.platform == "instagram" {
            INSTAGRAM_REFRESH_AHEAD_MS
        } else {
            REFRESH_AHEAD_MS
        };
        let expiring = |c: &Channel| c.token_expires_at.is_some_and(|at| at - now_ms() < ahead);
        let channel = if refused || expiring(channel) {
            self.refresh(&app, channel, refused, expiring).await?
        } else {
            channel.clone()
        };
        Ok(Ready {
            api_url: app.api_url,
            token: self.open(&channel.sealed_secret, &channel.channel_id, "access")?,
            channel,
        })
    }

    async fn refresh(
        &self,
        app: &apps::App,
        seen: &Channel,
        refused: bool,
        expiring: impl Fn(&Channel) -> bool,
    ) -> Result<Channel, NotReady> {
        let lock = self
            .refreshing
            .lock()
            .expect("refresh locks")
            .entry(seen.channel_id.clone())
            .or_default()
            .clone();
        let _one_at_a_time = lock.lock().await;
        let Some(current) = self
            .store
            .channel(&seen.account_id, &seen.channel_id)
            .await?
        else {
            return Err(NotReady::Fail("the channel was removed".into()));
        };
        // Someone refreshed while this waited: theirs are the tokens to use.
        if current.sealed_secret != seen.sealed_secret && !expiring(&current) {
            return Ok(current);
        }
        if current.status == ChannelStatus::NeedsReconnect {
            return Err(NotReady::Reconnect {
                reason: current.status_reason.clone().unwrap_or_default(),
                just_now: false,
            });
        }
        let access = self.open(&current.sealed_secret, &current.channel_id, "access")?;
        let refresh = match &current.sealed_refresh {
            Some(sealed) => Some(self.open(sealed, &current.channel_id, "refresh")?),
            None if adapters::renews_access_itself(&current.platform) => None,
            None => {
                let reason = if refused {
                    format!("{} refused the access token", current.platform)
                } else {
                    "the access token expires and the platform gave no refresh token".to_string()
                };
                return Err(self.needs_reconnect(current, reason).await);
            }
        };
        let renewal = adapters::renew(&self.outbound, app, &access, refresh.as_deref()).await;
        match renewal {
            Ok(tokens) => {
                // Removed while the platform answered: it stays removed.
                if self
                    .store
                    .channel(&seen.account_id, &seen.channel_id)
                    .await?
                    .is_none()
                {
                    return Err(NotReady::Fail("the channel was removed".into()));
                }
                let renewed = with_tokens(&self.sealer, current, &tokens);
                self.store.put_channel(&renewed).await?;
                metrics::counter!("creo_channel_refreshes_total", "outcome" => "renewed")
                    .increment(1);
                Ok(renewed)
            }
            Err(OAuthError::Refused(reason)) => {
                metrics::counter!("creo_channel_refreshes_total", "outcome" => "refused")
                    .increment(1);
                // Another node may have spent this refresh token a moment ago.
                if let Some(now) = self
                    .store
                    .channel(&seen.account_id, &seen.channel_id)
                    .await?
                {
                    if now.sealed_refresh != current.sealed_refresh {
                        return Ok(now);
                    }
                }
                Err(self
                    .needs_reconnect(current, format!("refreshing the token failed: {reason}"))
                    .await)
            }
            Err(OAuthError::Unavailable(reason)) => {
                metrics::counter!("creo_channel_refreshes_total", "outcome" => "unavailable")
                    .increment(1);
                Err(NotReady::Retry(reason))
            }
            Err(e @ OAuthError::Config(_)) => Err(NotReady::Fail(e.to_string())),
        }
    }

    /// Marks `channel` as needing reconnecting, for `reason`.
    pub async fn needs_reconnect(&self, mut channel: Channel, reason: String) -> NotReady {
        channel.status = ChannelStatus::NeedsReconnect;
        channel.status_reason = Some(reason.clone());
        channel.updated_at = now_ms();
        if let Err(e) = self.store.put_channel(&channel).await {
            return NotReady::Retry(e.to_string());
        }
        tracing::warn!(channel = %channel.channel_id, %reason, "a channel needs reconnecting");
        NotReady::Reconnect {
            reason,
            just_now: true,
        }
    }
}
