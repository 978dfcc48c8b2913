//! Users: registration, lookup and erasure.

use async_trait::async_trait;
use creo_core::role::Role;

use super::account_rows::*;
use super::*;
use creo_store::accounts::{Account, AccountStore};
use creo_store::audit::AuditStore;
use creo_store::ledger::Posting;
use creo_store::members::{Member, MemberStore};
use creo_store::users::*;

#[async_trait]
impl UserStore for ScyllaStore {
    async fn register(
        &self,
        u: &User,
        a: &Account,
        grant: Option<Posting>,
    ) -> Result<bool, StoreError> {
        let st = self.acct();
        if !self.lwt(&st.claim_email, (&u.email, &u.user_id)).await? {
            return Ok(false);
        }
        self.exec(
            &st.insert_user,
            (
                &u.user_id,
                &u.email,
                &u.name,
                &u.password_hash,
                ts(u.created_at),
                u.email_verified_at.map(ts),
            ),
        )
        .await?;
        let owner = Member {
            account_id: a.account_id.clone(),
            user_id: u.user_id.clone(),
            role: Role::Owner,
            added_at: u.created_at,
        };
        self.create_account(a, &owner).await?;
        if let Some(g) = grant {
            self.post_one(&g).await?;
        }
        Ok(true)
    }

    async fn user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = self.first(&self.acct().user, (user_id,)).await?;
        Ok(row.map(user).filter(|u| !u.email.is_empty()))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let id: Option<(String,)> = self.first(&self.acct().user_id_by_email, (email,)).await?;
        match id {
            Some((id,)) => self.user(&id).await,
            None => Ok(None),
        }
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<bool, StoreError> {
        match self.user(user_id).await? {
            Some(u) if !u.email.is_empty() => {
                self.lwt(&self.acct().set_password, (hash, user_id)).await
            }
            _ => Ok(false),
        }
    }

    async fn set_email_verified(
        &self,
        user_id: &str,
        email: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        match self.user(user_id).await? {
            Some(u) if u.email == email && u.email_verified_at.is_some() => Ok(true),
            Some(u) if u.email == email => {
                self.lwt(&self.acct().set_email_verified, (ts(at), user_id, email))
                    .await
            }
            _ => Ok(false),
        }
    }

    async fn change_email(
        &self,
        user_id: &str,
        from: &str,
        to: &str,
        at: i64,
    ) -> Result<EmailChange, StoreError> {
        let st = self.acct();
        // Claim the new address first (IF NOT EXISTS), as sign-up does; a claim this user already
        // holds (a change retried after a failure) is theirs to use.
        if !self.lwt(&st.claim_email, (to, user_id)).await? {
            let holder: Option<(String,)> = self.first(&st.user_id_by_email, (to,)).await?;
            if holder.is_none_or(|(h,)| h != user_id) {
                return Ok(EmailChange::Taken);
            }
        }
        if !self
            .lwt(&st.move_email, (to, ts(at), user_id, from))
            .await?
        {
            // The user left `from` meanwhile: give the claim back unless it is their address.
            if self.user(user_id).await?.is_none_or(|u| u.email != to) {
                self.exec(&st.drop_email, (to,)).await?;
            }
            return Ok(EmailChange::Stale);
        }
        self.exec(&st.drop_email, (from,)).await?;
        Ok(EmailChange::Changed)
    }

    async fn erase_user(&self, user_id: &str) -> Result<bool, StoreError> {
        let st = self.acct();
        let Some(u) = self.user(user_id).await? else {
            return Ok(false);
        };
        self.exec(&st.drop_second_factor, (user_id,)).await?;
        self.exec(&st.drop_recovery_codes, (user_id,)).await?;
        self.exec(&self.notes.drop_inbox, (user_id,)).await?;
        self.exec(&self.notes.drop_settings, (user_id,)).await?;
        self.exec(&st.drop_email, (&u.email,)).await?;
        self.exec(&st.blank_user, (user_id,)).await?;
        self.exec(&st.drop_sessions, (user_id,)).await?;
        for m in self.memberships(user_id).await? {
            self.exec(&st.drop_member, (&m.account_id, user_id)).await?;
            self.exec(&st.drop_membership, (user_id, &m.account_id))
                .await?;
            // Ledger rows keep the money record, not the person.
            let rows: Vec<EntryRow> = self.all_rows(&st.entries_desc, (&m.account_id,)).await?;
            for r in rows.into_iter().filter(|r| r.6 == user_id) {
                self.exec(
                    &st.anonymise_entry,
                    (DELETED_USER, &m.account_id, entry_key(r.0)),
                )
                .await?;
            }
        }
        for e in self.audit_events_by(user_id).await? {
            self.exec(
                &st.anonymise_audit,
                (DELETED_USER, &e.account_id, ts(e.at), &e.event_id),
            )
            .await?;
        }
        self.exec(&st.drop_audit_by_actor, (user_id,)).await?;
        Ok(true)
    }
}
