//! Opaque secrets: refresh tokens, API keys and invitation tokens. Each is 32 random bytes shown
//! once to its holder; only its SHA-256 is stored. (A fast hash is right here: unlike passwords
//! these secrets have 256 bits of entropy, so there is nothing to brute-force.)

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh secret with a readable prefix, e.g. `rt_…` or `ck_<key id>_…`.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// What the store keeps of a secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A short random id (128 bits, hex).
pub fn id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// API keys read `ck_<key id>_<secret>`: the id finds the stored key, the whole string is hashed.
pub fn api_key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("ck_")?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && secret.len() == 64).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_carry_their_id_and_hash_stably() {
        let key = generate("ck_abc123_");
        assert_eq!(api_key_id(&key), Some("abc123"));
        assert_eq!(api_key_id("ck_abc123_short"), None);
        assert_eq!(api_key_id("rt_whatever"), None);
        assert_eq!(digest(&key), digest(&key));
        assert_ne!(digest(&key), digest(&generate("ck_abc123_")));
    }
}
