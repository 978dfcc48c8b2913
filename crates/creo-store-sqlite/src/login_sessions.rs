//! Login sessions and their single-use refresh tokens.

use async_trait::async_trait;
use rusqlite::params;

use super::account_rows::*;
use super::*;
use creo_store::login_sessions::*;

#[async_trait]
impl LoginSessionStore for EmbeddedStore {
    async fn create_session(
        &self,
        session: &AuthSession,
        refresh_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let (s, h) = (session.clone(), refresh_hash.to_string());
        self.transaction(move |c| {
            exec(
                c,
                &format!("INSERT INTO auth_sessions ({SESSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    s.session_id,
                    s.user_id,
                    s.account_id,
                    s.created_at,
                    s.last_used_at,
                    s.user_agent,
                    s.revoked
                ],
            )?;
            exec(
                c,
                "INSERT INTO refresh_tokens (token_hash, session_id, spent, expires_at) VALUES (?1, ?2, 0, ?3)",
                params![h, s.session_id, expires_at],
            )
            .map(|_| ())
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
        grace_ms: i64,
    ) -> Result<Refreshed, StoreError> {
        let (old, new) = (old_hash.to_string(), new_hash.to_string());
        self.transaction(move |c| {
            // `spent` is 0 for a current token, else when it was spent (ms; rows written before
            // the grace window hold 1, long past it).
            let Some((session_id, spent_at, token_expiry)) = one(
                c,
                "SELECT session_id, spent, expires_at FROM refresh_tokens WHERE token_hash = ?1",
                params![old],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
            )?
            else {
                return Ok(Refreshed::Invalid);
            };
            let Some(mut session) = one(
                c,
                &format!("SELECT {SESSION_COLS} FROM auth_sessions WHERE session_id = ?1"),
                params![session_id],
                session_row,
            )?
            else {
                return Ok(Refreshed::Invalid);
            };
            let spent = spent_at != 0;
            if spent && now - spent_at > grace_ms {
                exec(
                    c,
                    "UPDATE auth_sessions SET revoked = 1 WHERE session_id = ?1",
                    params![session_id],
                )?;
                session.revoked = true;
                return Ok(Refreshed::Reused(session));
            }
            if session.revoked || token_expiry <= now {
                return Ok(Refreshed::Invalid);
            }
            if !spent {
                exec(
                    c,
                    "UPDATE refresh_tokens SET spent = ?2 WHERE token_hash = ?1",
                    params![old, now.max(2)],
                )?;
            }
            exec(
                c,
                "INSERT INTO refresh_tokens (token_hash, session_id, spent, expires_at) VALUES (?1, ?2, 0, ?3)",
                params![new, session_id, expires_at],
            )?;
            exec(
                c,
                "UPDATE auth_sessions SET last_used_at = ?2 WHERE session_id = ?1",
                params![session_id, now],
            )?;
            session.last_used_at = now;
            Ok(Refreshed::Rotated(session))
        })
        .await
    }

    async fn sessions(&self, user_id: &str) -> Result<Vec<AuthSession>, StoreError> {
        let id = user_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {SESSION_COLS} FROM auth_sessions WHERE user_id = ?1 ORDER BY created_at"),
                params![id],
                session_row,
            )
        })
        .await
    }

    async fn session(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<AuthSession>, StoreError> {
        let (u, s) = (user_id.to_string(), session_id.to_string());
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {SESSION_COLS} FROM auth_sessions WHERE session_id = ?1 AND user_id = ?2"),
                params![s, u],
                session_row,
            )
        })
        .await
    }

    async fn revoke_session(&self, user_id: &str, session_id: &str) -> Result<bool, StoreError> {
        let (u, s) = (user_id.to_string(), session_id.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE auth_sessions SET revoked = 1 WHERE user_id = ?1 AND session_id = ?2 AND revoked = 0",
                params![u, s],
            )
            .map(|n| n > 0)
        })
        .await
    }
}
