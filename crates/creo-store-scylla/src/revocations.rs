//! Access revocations: who may no longer open an account's documents.

use super::*;
use creo_store::revocations::*;

#[async_trait]
impl RevocationStore for ScyllaStore {
    async fn revoke(&self, r: &Revocation) -> Result<(), StoreError> {
        let scope = revocation_scope(r.doc_id.as_deref());
        self.session
            .execute_unpaged(
                &self.st.revoke,
                (
                    &r.account_id,
                    &r.user_id,
                    scope,
                    &r.revoked_by,
                    CqlTimestamp(r.revoked_at),
                ),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn lift_revocation(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let result = self
            .session
            .execute_unpaged(
                &self.st.lift_revocation,
                (account_id, user_id, revocation_scope(doc_id)),
            )
            .await
            .map_err(unavailable)?;
        Self::applied(result)
    }

    async fn revocations(&self, account_id: &str) -> Result<Vec<Revocation>, StoreError> {
        let rows: Vec<(String, String, String, CqlTimestamp)> =
            self.all_rows(&self.st.revocations, (account_id,)).await?;
        Ok(rows
            .into_iter()
            .map(|(user_id, scope, revoked_by, at)| Revocation {
                account_id: account_id.to_string(),
                user_id,
                doc_id: (scope != WHOLE_ACCOUNT).then_some(scope),
                revoked_by,
                revoked_at: at.0,
            })
            .collect())
    }

    async fn is_revoked(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: &str,
    ) -> Result<bool, StoreError> {
        let rows: Vec<(String,)> = self
            .all_rows(
                &self.st.is_revoked,
                (account_id, user_id, doc_id, WHOLE_ACCOUNT),
            )
            .await?;
        Ok(!rows.is_empty())
    }
}
