//! Secrets the server must be able to use again later (a webhook endpoint's signing secret) are
//! stored sealed: AES-256-GCM under a key from the configuration (`secrets_key`; in development
//! one generated under the data directory), bound to the row they belong to, so a copy of the
//! store alone reveals none of them and a sealed value moved to another row does not open.
//!
//! Stored as `sealed:v1:<hex of nonce, ciphertext and tag>`; a value without the prefix (written
//! before sealing existed) is read as it is and sealed the next time it is written.

use anyhow::{bail, Context};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use rand::RngCore;

use crate::config::{Config, Mode};

const PREFIX: &str = "sealed:v1:";

pub struct SecretBox {
    key: LessSafeKey,
    /// Signs the links creo hands out (media for platforms to fetch): derived from the same
    /// key, so no second secret to configure, and never the sealing key itself.
    links: aws_lc_rs::hmac::Key,
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed secret does not open with the configured secrets_key")]
pub struct Unsealable;

impl SecretBox {
    pub fn new(key: &[u8]) -> anyhow::Result<SecretBox> {
        let sealing = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| anyhow::anyhow!("secrets_key must be 32 bytes (64 hex characters)"))?;
        let master = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
        let derived = aws_lc_rs::hmac::sign(&master, b"creo links v1");
        Ok(SecretBox {
            key: LessSafeKey::new(sealing),
            links: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, derived.as_ref()),
        })
    }

    /// `secrets_key` (hex), or in development mode the key kept in `DATA/secrets_key`.
    pub fn from_config(config: &Config) -> anyhow::Result<SecretBox> {
        let key = match &config.secrets_key {
            Some(hex_key) => hex::decode(hex_key.trim()).context("secrets_key is not hex")?,
            None if config.mode == Mode::Dev => {
                crate::private_files::dev_key(&config.data, "secrets_key")?
            }
            None => bail!("production mode needs CREO_SECRETS_KEY (32 bytes, hex)"),
        };
        SecretBox::new(&key)
    }

    /// A link's signature over `message` (hex).
    pub fn sign_link(&self, message: &str) -> String {
        hex::encode(aws_lc_rs::hmac::sign(&self.links, message.as_bytes()))
    }

    /// Whether `signature` is `sign_link(message)`, compared in constant time.
    pub fn link_signed(&self, message: &str, signature: &str) -> bool {
        hex::decode(signature)
            .is_ok_and(|tag| aws_lc_rs::hmac::verify(&self.links, message.as_bytes(), &tag).is_ok())
    }

    /// Seals `secret` for the row named `context`.
    pub fn seal(&self, secret: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut sealed = secret.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .expect("AES-GCM seals any length a secret has");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", hex::encode(out))
    }

    /// The secret a stored value holds (a value from before sealing is returned as it is).
    pub fn open(&self, stored: &str, context: &str) -> Result<String, Unsealable> {
        let Some(hex_value) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let bytes = hex::decode(hex_value).map_err(|_| Unsealable)?;
        if bytes.len() < NONCE_LEN {
            return Err(Unsealable);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut sealed)
            .map_err(|_| Unsealable)?;
        String::from_utf8(plain.to_vec()).map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_its_row() {
        let b = SecretBox::new(&[7u8; 32]).unwrap();
        let sealed = b.seal("whsec_abc", "wh_1");
        assert!(sealed.starts_with(PREFIX));
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(b.open(&sealed, "wh_1").unwrap(), "whsec_abc");
        assert!(b.open(&sealed, "wh_2").is_err(), "moved to another row");
        let other = SecretBox::new(&[8u8; 32]).unwrap();
        assert!(other.open(&sealed, "wh_1").is_err());
        assert_ne!(
            b.seal("whsec_abc", "wh_1"),
            sealed,
            "a fresh nonce each time"
        );
        assert_eq!(b.open("whsec_legacy", "wh_1").unwrap(), "whsec_legacy");
        assert!(SecretBox::new(&[1u8; 16]).is_err());
    }
}
