//! Single-use tokens mailed to people: spent with a lightweight transaction (`IF spent_at =
//! null`), so of two requests with one token exactly one wins.

use scylla::value::CqlTimestamp;

use super::account_rows::ts;
use super::*;
use creo_store::one_time_tokens::*;

#[async_trait]
impl OneTimeTokenStore for ScyllaStore {
    async fn create_token(&self, token: &OneTimeToken, hash: &str) -> Result<(), StoreError> {
        self.exec(
            &self.notes.create_token,
            (
                hash,
                &token.user_id,
                token.purpose.as_str(),
                ts(token.created_at),
                ts(token.expires_at),
                &token.payload,
            ),
        )
        .await
    }

    async fn token(
        &self,
        hash: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        self.read_token(hash, purpose, now).await
    }

    async fn spend_token(
        &self,
        hash: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        let Some(token) = self.read_token(hash, purpose, now).await? else {
            return Ok(None);
        };
        if !self.lwt(&self.notes.spend_token, (ts(now), hash)).await? {
            return Ok(None);
        }
        Ok(Some(token))
    }
}

impl ScyllaStore {
    /// The token if it serves `purpose`, is unspent and unexpired at `now`.
    async fn read_token(
        &self,
        hash: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        type TokenRow = (
            String,
            String,
            CqlTimestamp,
            CqlTimestamp,
            Option<CqlTimestamp>,
            Option<String>,
        );
        let row: Option<TokenRow> = self.first(&self.notes.token, (hash,)).await?;
        let Some((user_id, stored_purpose, created, expires, spent, payload)) = row else {
            return Ok(None);
        };
        if stored_purpose != purpose.as_str() || spent.is_some() || expires.0 <= now {
            return Ok(None);
        }
        Ok(Some(OneTimeToken {
            user_id,
            purpose,
            created_at: created.0,
            expires_at: expires.0,
            payload,
        }))
    }
}
