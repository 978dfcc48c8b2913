//! Invitations to join an account.

use async_trait::async_trait;
use rusqlite::params;

use super::account_rows::*;
use super::*;
use creo_store::invitations::*;

#[async_trait]
impl InvitationStore for EmbeddedStore {
    async fn create_invitation(
        &self,
        inv: &Invitation,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        let (i, h) = (inv.clone(), token_hash.to_string());
        self.transaction(move |c| {
            exec(
                c,
                &format!("INSERT INTO invitations ({INVITATION_COLS}, token_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    i.invitation_id,
                    i.account_id,
                    i.email,
                    i.role.as_str(),
                    i.invited_by,
                    i.created_at,
                    i.expires_at,
                    i.accepted_by,
                    h
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn invitations(&self, account_id: &str) -> Result<Vec<Invitation>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {INVITATION_COLS} FROM invitations WHERE account_id = ?1 ORDER BY created_at"),
                params![id],
                invitation_row,
            )
        })
        .await
    }

    async fn invitation_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Invitation>, StoreError> {
        let h = token_hash.to_string();
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {INVITATION_COLS} FROM invitations WHERE token_hash = ?1"),
                params![h],
                invitation_row,
            )
        })
        .await
    }

    async fn invitations_for(
        &self,
        email: &str,
        now: i64,
    ) -> Result<Vec<(Invitation, String)>, StoreError> {
        let email = email.to_string();
        self.read(move |c| {
            all(
                c,
                &format!(
                    "SELECT {INVITATION_COLS}, token_hash FROM invitations
                     WHERE email = ?1 AND accepted_by IS NULL AND expires_at > ?2
                     ORDER BY created_at DESC"
                ),
                params![email, now],
                |r| Ok((invitation_row(r)?, r.get(8)?)),
            )
        })
        .await
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<Invitation>, StoreError> {
        let (h, u) = (token_hash.to_string(), user_id.to_string());
        self.transaction(move |c| {
            let n = exec(
                c,
                "UPDATE invitations SET accepted_by = ?2
                 WHERE token_hash = ?1 AND accepted_by IS NULL AND expires_at > ?3",
                params![h, u, now],
            )?;
            if n == 0 {
                return Ok(None);
            }
            one(
                c,
                &format!("SELECT {INVITATION_COLS} FROM invitations WHERE token_hash = ?1"),
                params![h],
                invitation_row,
            )
        })
        .await
    }
}
