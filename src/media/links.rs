//! Links to library media that platforms fetch without an account: `{public_url}/media/
//! {account}/{media}?expires=<unix seconds>&signature=<hex>`, signed with a key derived from
//! `secrets_key` and good for `LINK_LIFETIME`. Instagram and TikTok pull a post's media from
//! its URL, and creo's own uploads to X, LinkedIn and YouTube read them the same way.

use std::sync::Arc;

use crate::auth::sealed::SecretBox;
use crate::platforms::{Library, Media};
use crate::store::{now_ms, StoreError, Stores};

/// How long a link works: long enough for a platform that pulls media late (TikTok), short
/// enough that a leaked one dies.
pub const LINK_LIFETIME_SECS: i64 = 7 * 86_400;
/// The most media a workspace's posts may name.
const MAX_LIBRARY: usize = 10_000;

fn message(account_id: &str, media_id: &str, expires: i64) -> String {
    format!("media:{account_id}:{media_id}:{expires}")
}

/// A signed link to `media_id`, working until `expires` (unix seconds).
pub fn link(
    sealer: &SecretBox,
    public_url: &str,
    account_id: &str,
    media_id: &str,
    expires: i64,
) -> String {
    let signature = sealer.sign_link(&message(account_id, media_id, expires));
    format!(
        "{}/media/{account_id}/{media_id}?expires={expires}&signature={signature}",
        public_url.trim_end_matches('/')
    )
}

/// Whether a link's parts are creo's and still good.
pub fn valid(
    sealer: &SecretBox,
    account_id: &str,
    media_id: &str,
    expires: i64,
    signature: &str,
) -> bool {
    expires >= now_ms() / 1000
        && sealer.link_signed(&message(account_id, media_id, expires), signature)
}

/// The workspace's library as posts see it: each medium's stored size, and a signed link.
/// One read of the library per request.
pub async fn library(
    stores: &Stores,
    sealer: &Arc<SecretBox>,
    public_url: &str,
    account_id: &str,
) -> Result<Library, StoreError> {
    let expires = now_ms() / 1000 + LINK_LIFETIME_SECS;
    Ok(stores
        .media
        .media(account_id, MAX_LIBRARY)
        .await?
        .into_iter()
        .map(|m| {
            let url = link(sealer, public_url, account_id, &m.media_id, expires);
            let media = Media {
                width: m.width as f64,
                height: m.height as f64,
                url: Some(url),
                media_id: Some(m.media_id.clone()),
            };
            (m.media_id, media)
        })
        .collect())
}
