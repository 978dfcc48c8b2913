//! Single-use tokens mailed to people.

use rusqlite::params;

use super::account_rows::*;
use super::*;
use creo_store::one_time_tokens::*;

#[async_trait]
impl OneTimeTokenStore for EmbeddedStore {
    async fn create_token(&self, token: &OneTimeToken, hash: &str) -> Result<(), StoreError> {
        let (t, h) = (token.clone(), hash.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "INSERT INTO one_time_tokens (token_hash, user_id, purpose, created_at, expires_at, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![h, t.user_id, t.purpose.as_str(), t.created_at, t.expires_at, t.payload],
            )
            .map(|_| ())
        })
        .await
    }

    async fn spend_token(
        &self,
        hash: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        let h = hash.to_string();
        self.transaction(move |c| {
            let spent = exec(
                c,
                "UPDATE one_time_tokens SET spent_at = ?3
                 WHERE token_hash = ?1 AND purpose = ?2 AND spent_at IS NULL AND expires_at > ?3",
                params![h, purpose.as_str(), now],
            )?;
            if spent == 0 {
                return Ok(None);
            }
            one(
                c,
                "SELECT user_id, created_at, expires_at, payload FROM one_time_tokens WHERE token_hash = ?1",
                params![h],
                |r| token_row(r, purpose),
            )
        })
        .await
    }

    async fn token(
        &self,
        hash: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        let h = hash.to_string();
        self.read(move |c| {
            one(
                c,
                "SELECT user_id, created_at, expires_at, payload FROM one_time_tokens
                 WHERE token_hash = ?1 AND purpose = ?2 AND spent_at IS NULL AND expires_at > ?3",
                params![h, purpose.as_str(), now],
                |r| token_row(r, purpose),
            )
        })
        .await
    }
}

fn token_row(r: &rusqlite::Row, purpose: Purpose) -> rusqlite::Result<OneTimeToken> {
    Ok(OneTimeToken {
        user_id: r.get(0)?,
        purpose,
        created_at: r.get(1)?,
        expires_at: r.get(2)?,
        payload: r.get(3)?,
    })
}
