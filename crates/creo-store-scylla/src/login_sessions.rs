//! Login sessions and their single-use refresh tokens.

use async_trait::async_trait;
use scylla::value::CqlTimestamp;

use super::account_rows::*;
use super::*;
use creo_store::login_sessions::*;

#[async_trait]
impl LoginSessionStore for ScyllaStore {
    async fn create_session(
        &self,
        s: &AuthSession,
        refresh_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let st = self.acct();
        self.exec(
            &st.insert_session,
            (
                &s.user_id,
                &s.session_id,
                &s.account_id,
                ts(s.created_at),
                ts(s.last_used_at),
                &s.user_agent,
            ),
        )
        .await?;
        let ttl = ((expires_at - now_ms()) / 1000).clamp(1, i32::MAX as i64) as i32;
        self.exec(
            &st.insert_refresh,
            (refresh_hash, &s.session_id, &s.user_id, ts(expires_at), ttl),
        )
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
        let st = self.acct();
        let row: Option<(
            String,
            String,
            Option<bool>,
            Option<CqlTimestamp>,
            CqlTimestamp,
        )> = self.first(&st.refresh, (old_hash,)).await?;
        let Some((session_id, user_id, spent, spent_at, token_expiry)) = row else {
            return Ok(Refreshed::Invalid);
        };
        let row: Option<SessionRow> = self.first(&st.session, (&user_id, &session_id)).await?;
        let Some(mut s) = row.map(session) else {
            return Ok(Refreshed::Invalid);
        };
        let reuse = |mut s: AuthSession| async move {
            self.lwt(&st.revoke_session, (&s.user_id, &s.session_id))
                .await?;
            s.revoked = true;
            Ok::<_, StoreError>(Refreshed::Reused(s))
        };
        // Spent longer ago than the grace window (or before spent_at was recorded): a replay.
        let within_grace = |at: Option<CqlTimestamp>| at.is_some_and(|at| now - at.0 <= grace_ms);
        if spent.unwrap_or(false) && !within_grace(spent_at) {
            return reuse(s).await;
        }
        if s.revoked || token_expiry.0 <= now {
            return Ok(Refreshed::Invalid);
        }
        if !spent.unwrap_or(false)
            && !self.lwt(&st.spend_refresh, (ts(now), old_hash)).await?
            && grace_ms <= 0
        {
            // Spent this instant by a concurrent request with the same token: within any grace
            // window that is two tabs refreshing at once; without one it is reuse.
            return reuse(s).await;
        }
        let ttl = ((expires_at - now) / 1000).clamp(1, i32::MAX as i64) as i32;
        self.exec(
            &st.insert_refresh,
            (new_hash, &session_id, &user_id, ts(expires_at), ttl),
        )
        .await?;
        self.exec(&st.touch_session, (ts(now), &user_id, &session_id))
            .await?;
        s.last_used_at = now;
        Ok(Refreshed::Rotated(s))
    }

    async fn sessions(&self, user_id: &str) -> Result<Vec<AuthSession>, StoreError> {
        let rows: Vec<SessionRow> = self.all_rows(&self.acct().sessions, (user_id,)).await?;
        let mut out: Vec<AuthSession> = rows.into_iter().map(session).collect();
        out.sort_by_key(|s| s.created_at);
        Ok(out)
    }

    async fn session(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<AuthSession>, StoreError> {
        let row: Option<SessionRow> = self
            .first(&self.acct().session, (user_id, session_id))
            .await?;
        Ok(row.map(session))
    }

    async fn revoke_session(&self, user_id: &str, session_id: &str) -> Result<bool, StoreError> {
        self.lwt(&self.acct().revoke_session, (user_id, session_id))
            .await
    }
}
