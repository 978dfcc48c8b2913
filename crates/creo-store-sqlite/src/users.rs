//! Users: registration, lookup and erasure.

use async_trait::async_trait;
use creo_core::role::Role;
use rusqlite::params;

use super::account_rows::*;
use super::ledger::post_one;
use super::*;
use creo_store::accounts::Account;
use creo_store::ledger::Posting;
use creo_store::members::Member;
use creo_store::users::*;

#[async_trait]
impl UserStore for EmbeddedStore {
    async fn register(
        &self,
        user: &User,
        account: &Account,
        grant: Option<Posting>,
    ) -> Result<bool, StoreError> {
        let (user, account) = (user.clone(), account.clone());
        self.transaction(move |conn| {
            let taken = one(
                conn,
                "SELECT 1 FROM users WHERE email = ?1",
                params![user.email],
                |_| Ok(()),
            )?
            .is_some();
            if taken {
                return Ok(false);
            }
            exec(
                conn,
                &format!("INSERT INTO users ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    user.user_id,
                    user.email,
                    user.name,
                    user.password_hash,
                    user.created_at,
                    user.email_verified_at
                ],
            )?;
            insert_account(conn, &account)?;
            insert_member(
                conn,
                &Member {
                    account_id: account.account_id.clone(),
                    user_id: user.user_id.clone(),
                    role: Role::Owner,
                    added_at: user.created_at,
                },
            )?;
            if let Some(grant) = grant {
                post_one(conn, &grant)?;
            }
            Ok(true)
        })
        .await
    }

    async fn user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let id = user_id.to_string();
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {USER_COLS} FROM users WHERE user_id = ?1 AND email IS NOT NULL"),
                params![id],
                user_row,
            )
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let email = email.to_string();
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {USER_COLS} FROM users WHERE email = ?1"),
                params![email],
                user_row,
            )
        })
        .await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<bool, StoreError> {
        let (id, h) = (user_id.to_string(), hash.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE users SET password_hash = ?2 WHERE user_id = ?1 AND email IS NOT NULL",
                params![id, h],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn set_email_verified(
        &self,
        user_id: &str,
        email: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let (id, email) = (user_id.to_string(), email.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE users SET email_verified_at = COALESCE(email_verified_at, ?3)
                 WHERE user_id = ?1 AND email = ?2",
                params![id, email, at],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn change_email(
        &self,
        user_id: &str,
        from: &str,
        to: &str,
        at: i64,
    ) -> Result<EmailChange, StoreError> {
        let (id, from, to) = (user_id.to_string(), from.to_string(), to.to_string());
        self.transaction(move |c| {
            let taken = one(
                c,
                "SELECT 1 FROM users WHERE email = ?1 AND user_id <> ?2",
                params![to, id],
                |_| Ok(()),
            )?;
            if taken.is_some() {
                return Ok(EmailChange::Taken);
            }
            let n = exec(
                c,
                "UPDATE users SET email = ?3, email_verified_at = ?4 WHERE user_id = ?1 AND email = ?2",
                params![id, from, to, at],
            )?;
            Ok(if n > 0 {
                EmailChange::Changed
            } else {
                EmailChange::Stale
            })
        })
        .await
    }

    async fn erase_user(&self, user_id: &str) -> Result<bool, StoreError> {
        let id = user_id.to_string();
        self.transaction(move |c| {
            exec(c, "DELETE FROM notifications WHERE user_id = ?1", params![id])?;
            exec(c, "DELETE FROM second_factors WHERE user_id = ?1", params![id])?;
            exec(c, "DELETE FROM recovery_codes WHERE user_id = ?1", params![id])?;
            exec(c, "DELETE FROM one_time_tokens WHERE user_id = ?1", params![id])?;
            exec(
                c,
                "DELETE FROM notification_settings WHERE user_id = ?1",
                params![id],
            )?;
            let n = exec(
                c,
                "UPDATE users SET email = NULL, name = '', password_hash = '' WHERE user_id = ?1 AND email IS NOT NULL",
                params![id],
            )?;
            exec(
                c,
                "DELETE FROM refresh_tokens WHERE session_id IN (SELECT session_id FROM auth_sessions WHERE user_id = ?1)",
                params![id],
            )?;
            exec(c, "DELETE FROM auth_sessions WHERE user_id = ?1", params![id])?;
            exec(c, "DELETE FROM account_members WHERE user_id = ?1", params![id])?;
            exec(
                c,
                "UPDATE credit_ledger SET user_id = ?2 WHERE user_id = ?1",
                params![id, DELETED_USER],
            )?;
            exec(
                c,
                "UPDATE credit_reservations SET user_id = ?2 WHERE user_id = ?1",
                params![id, DELETED_USER],
            )?;
            exec(
                c,
                "UPDATE audit_events SET actor = ?2 WHERE actor = ?1",
                params![id, DELETED_USER],
            )?;
            exec(
                c,
                "UPDATE audit_events SET target = ?2 WHERE target = ?1",
                params![id, DELETED_USER],
            )?;
            Ok(n > 0)
        })
        .await
    }
}
