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
/// The most library media one post names (more are refused by the platform checks).
pub const MAX_NAMED: usize = 20;

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

/// The media a post names, as the platform checks see them: each one's stored size and a
/// signed link; a name the workspace's library does not hold is left out (the checks refuse
/// it). At most `MAX_NAMED` are looked up.
pub async fn library(
    stores: &Stores,
    sealer: &Arc<SecretBox>,
    public_url: &str,
    account_id: &str,
    named: &[String],
) -> Result<Library, StoreError> {
    let expires = now_ms() / 1000 + LINK_LIFETIME_SECS;
    let mut library = Library::new();
    let mut ids: Vec<&String> = named.iter().collect();
    ids.sort();
    ids.dedup();
    for id in ids.into_iter().take(MAX_NAMED) {
        if let Some(m) = stores.media.medium(account_id, id).await? {
            let url = link(sealer, public_url, account_id, &m.media_id, expires);
            library.insert(
                m.media_id.clone(),
                Media {
                    width: m.width as f64,
                    height: m.height as f64,
                    url: Some(url),
                    media_id: Some(m.media_id),
                },
            );
        }
    }
    Ok(library)
}
