//! An account's members and their roles.

use async_trait::async_trait;
use rusqlite::params;

use super::account_rows::*;
use super::*;
use creo_store::members::*;

#[async_trait]
impl MemberStore for EmbeddedStore {
    async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {MEMBER_COLS} FROM account_members WHERE account_id = ?1 ORDER BY added_at, user_id"),
                params![id],
                member_row,
            )
        })
        .await
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<Member>, StoreError> {
        let id = user_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {MEMBER_COLS} FROM account_members WHERE user_id = ?1 ORDER BY added_at, account_id"),
                params![id],
                member_row,
            )
        })
        .await
    }

    async fn put_member(&self, member: &Member, seats: Option<u32>) -> Result<bool, StoreError> {
        let m = member.clone();
        self.transaction(move |c| {
            let existing = one(
                c,
                "SELECT 1 FROM account_members WHERE account_id = ?1 AND user_id = ?2",
                params![m.account_id, m.user_id],
                |_| Ok(()),
            )?;
            if existing.is_none() {
                if let Some(seats) = seats {
                    let count: i64 = one(
                        c,
                        "SELECT COUNT(*) FROM account_members WHERE account_id = ?1",
                        params![m.account_id],
                        |r| r.get(0),
                    )?
                    .unwrap_or(0);
                    if count >= i64::from(seats) {
                        return Ok(false);
                    }
                }
            }
            insert_member(c, &m)?;
            Ok(true)
        })
        .await
    }

    async fn remove_member(&self, account_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let (a, u) = (account_id.to_string(), user_id.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "DELETE FROM account_members WHERE account_id = ?1 AND user_id = ?2",
                params![a, u],
            )
            .map(|n| n > 0)
        })
        .await
    }
}
