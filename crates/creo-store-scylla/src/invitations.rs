//! Invitations to join an account.

use async_trait::async_trait;

use super::account_rows::*;
use super::*;
use creo_store::invitations::*;

#[async_trait]
impl InvitationStore for ScyllaStore {
    async fn create_invitation(&self, i: &Invitation, token_hash: &str) -> Result<(), StoreError> {
        let st = self.acct();
        self.exec(
            &st.insert_invitation,
            (
                token_hash,
                &i.invitation_id,
                &i.account_id,
                &i.email,
                i.role.as_str(),
                &i.invited_by,
                ts(i.created_at),
                ts(i.expires_at),
            ),
        )
        .await?;
        self.exec(
            &st.index_invitation,
            (&i.account_id, &i.invitation_id, token_hash),
        )
        .await?;
        self.exec(
            &st.index_invitation_by_email,
            (&i.email, &i.invitation_id, token_hash),
        )
        .await
    }

    async fn invitations_for(
        &self,
        email: &str,
        now: i64,
    ) -> Result<Vec<(Invitation, String)>, StoreError> {
        let hashes: Vec<(String,)> = self
            .all_rows(&self.acct().invitation_hashes_for, (email,))
            .await?;
        let mut out = Vec::new();
        for (h,) in hashes {
            if let Some(i) = self.invitation_by_token(&h).await? {
                if i.accepted_by.is_none() && i.expires_at > now {
                    out.push((i, h));
                }
            }
        }
        out.sort_by_key(|(i, _)| std::cmp::Reverse(i.created_at));
        Ok(out)
    }

    async fn invitations(&self, account_id: &str) -> Result<Vec<Invitation>, StoreError> {
        let hashes: Vec<(String,)> = self
            .all_rows(&self.acct().invitation_hashes, (account_id,))
            .await?;
        let mut out = Vec::new();
        for (h,) in hashes {
            if let Some(i) = self.invitation_by_token(&h).await? {
                out.push(i);
            }
        }
        out.sort_by_key(|i| i.created_at);
        Ok(out)
    }

    async fn invitation_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Invitation>, StoreError> {
        let row: Option<InvitationRow> = self.first(&self.acct().invitation, (token_hash,)).await?;
        row.map(invitation).transpose()
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<Invitation>, StoreError> {
        let Some(i) = self.invitation_by_token(token_hash).await? else {
            return Ok(None);
        };
        if i.expires_at <= now || i.accepted_by.is_some() {
            return Ok(None);
        }
        if !self
            .lwt(&self.acct().accept_invitation, (user_id, token_hash))
            .await?
        {
            return Ok(None);
        }
        Ok(Some(Invitation {
            accepted_by: Some(user_id.to_string()),
            ..i
        }))
    }
}
