//! An account's members and their roles.

use async_trait::async_trait;

use super::account_rows::*;
use super::*;
use creo_store::members::*;

#[async_trait]
impl MemberStore for ScyllaStore {
    async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError> {
        let rows: Vec<MemberRow> = self.all_rows(&self.acct().members, (account_id,)).await?;
        let mut out: Vec<Member> = rows.into_iter().map(member).collect::<Result<_, _>>()?;
        out.sort_by(|a, b| (a.added_at, &a.user_id).cmp(&(b.added_at, &b.user_id)));
        Ok(out)
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<Member>, StoreError> {
        let rows: Vec<MemberRow> = self.all_rows(&self.acct().memberships, (user_id,)).await?;
        let mut out: Vec<Member> = rows.into_iter().map(member).collect::<Result<_, _>>()?;
        out.sort_by(|a, b| (a.added_at, &a.account_id).cmp(&(b.added_at, &b.account_id)));
        Ok(out)
    }

    async fn put_member(&self, m: &Member, seats: Option<u32>) -> Result<bool, StoreError> {
        if let Some(seats) = seats {
            let members = self.members(&m.account_id).await?;
            let present = members.iter().any(|x| x.user_id == m.user_id);
            if !present && members.len() >= seats as usize {
                return Ok(false);
            }
        }
        let st = self.acct();
        let role = m.role.as_str();
        self.exec(
            &st.put_member,
            (&m.account_id, &m.user_id, role, ts(m.added_at)),
        )
        .await?;
        self.exec(
            &st.put_membership,
            (&m.user_id, &m.account_id, role, ts(m.added_at)),
        )
        .await?;
        Ok(true)
    }

    async fn remove_member(&self, account_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let st = self.acct();
        let removed = self.lwt(&st.drop_member, (account_id, user_id)).await?;
        self.exec(&st.drop_membership, (user_id, account_id))
            .await?;
        Ok(removed)
    }
}
